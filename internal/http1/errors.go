package http1

import "errors"

// Error is a parse error together with the HTTP status nginx answers for
// it, so that the proxy can reply without a second classification step.
// Reason is the text nginx logs for the same condition (for the
// header-size errors it is the title of nginx's error page). Errors
// returned by this package are shared values: compare them, do not modify
// them.
type Error struct {
	Status int
	Reason string
}

// Error returns Reason.
func (e *Error) Error() string { return e.Reason }

// ErrNeedMore reports that the input holds no complete head yet and no
// limit has been exceeded: the caller should read more and call again with
// the longer buffer. It is not an *Error because it is not a failure.
var ErrNeedMore = errors.New("http1: need more data")

// Errors answered to clients. They are preallocated so that rejecting a
// request costs no allocation either, which matters when the rejected
// traffic is an attack.
var (
	// ErrHeaderTooLarge is returned when one header line, the whole
	// head, or the number of field lines exceeds its limit. nginx
	// answers these with 400 and the page "Request Header Or Cookie Too
	// Large".
	ErrHeaderTooLarge = &Error{400, "Request Header Or Cookie Too Large"}
	// ErrURITooLong is returned when the request line exceeds
	// Limits.MaxRequestLine.
	ErrURITooLong = &Error{414, "client sent too long URI"}

	errInvalidMethod  = &Error{400, "client sent invalid method"}
	errInvalidRequest = &Error{400, "client sent invalid request"}
	errInvalidTarget  = &Error{400, "client sent invalid request target"}
	errHTTP09         = &Error{400, "client sent HTTP/0.9 request"}
	errInvalidVersion = &Error{505, "client sent unsupported HTTP version"}
	errInvalidHeader  = &Error{400, "client sent invalid header line"}
	errObsFold        = &Error{400, "client sent folded header line"}
	errBareCR         = &Error{400, "client sent CR not followed by LF"}
	errDuplicateHdr   = &Error{400, "client sent duplicate header line"}
	errDuplicateHost  = &Error{400, "client sent duplicate host header"}
	errInvalidHost    = &Error{400, "client sent invalid host header"}
	errNoHost         = &Error{400, `client sent HTTP/1.1 request without "Host" header`}
	errInvalidCL      = &Error{400, `client sent invalid "Content-Length" header`}
	errTEinHTTP10     = &Error{400, `client sent HTTP/1.0 request with "Transfer-Encoding" header`}
	errUnknownTE      = &Error{501, `client sent unknown "Transfer-Encoding"`}
	errCLandTE        = &Error{400, `client sent "Content-Length" and "Transfer-Encoding" headers at the same time`}
	errConnect        = &Error{405, "client sent CONNECT method"}
	errTrace          = &Error{405, "client sent TRACE method"}

	errUpstreamStatus = &Error{502, "upstream sent no valid HTTP/1.0 header"}
	errUpstreamHeader = &Error{502, "upstream sent invalid header"}
	// ErrResponseTooBig is a response head with a line longer than the
	// limit, which nginx logs as too big rather than invalid.
	ErrResponseTooBig    = &Error{502, "upstream sent too big header"}
	errUpstreamDuplicate = &Error{502, "upstream sent duplicate header line"}
	errUpstreamCL        = &Error{502, `upstream sent invalid "Content-Length" header`}
	errUpstreamTE        = &Error{502, `upstream sent unknown "Transfer-Encoding"`}
	errUpstreamTE10      = &Error{502, `upstream sent HTTP/1.0 response with "Transfer-Encoding" header`}
	errUpstreamCLandTE   = &Error{502, `upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time`}

	errChunked = &Error{400, "invalid chunked body"}
)
