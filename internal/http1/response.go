package http1

// Response is a parsed response head from an upstream. Every byte slice
// points into the buffer given to ParseResponse.
type Response struct {
	Major, Minor int
	Status       int
	// Reason is the reason phrase, possibly empty.
	Reason []byte
	// Headers holds the field lines in order; ParseResponse appends to
	// Headers[:0].
	Headers []Header
	// ContentLength is the parsed Content-Length, or -1 when absent.
	ContentLength int64
	// Chunked is set when Transfer-Encoding is "chunked".
	Chunked bool
	// KeepAlive is the server's intent to keep the connection: HTTP/1.1
	// without "close", HTTP/1.0 with "keep-alive". A body delimited by
	// the close of the connection overrides it (see ResponseFraming).
	KeepAlive bool
	// ConnectionHeader is the value of the first Connection field line.
	ConnectionHeader []byte
	// HeadLen is the length of the head including the empty line that
	// ends it.
	HeadLen int
}

// EachConnectionToken calls fn for every token of every Connection field
// line of the response.
func (r *Response) EachConnectionToken(fn func(tok []byte)) {
	eachConnectionToken(r.Headers, fn)
}

// ParseResponse parses an upstream's response head from buf into resp and
// returns its length. It returns ErrNeedMore while the head is incomplete
// and within limits, and an *Error with Status 502 when the head is
// malformed or too large, as nginx answers the client when its upstream
// misbehaves. The status line is bounded by Limits.MaxHeaderLine.
//
// 1xx responses other than 101 are complete heads of their own: the caller
// forwards or drops them and parses the next head from the bytes after
// them. Unlike nginx, which passes an HTTP/0.9-style reply through as the
// body of a 200, a response that does not start with a valid status line
// is an error.
func ParseResponse(buf []byte, resp *Response, lim *Limits) (int, error) {
	l := lim.withDefaults()
	*resp = Response{Headers: resp.Headers[:0], ContentLength: -1}

	bound, _ := lineBound(0, l.MaxHeaderLine, l.MaxHeaderBytes)
	b := buf
	if len(b) > bound {
		b = b[:bound]
	}
	pos, err := parseStatusLine(b, resp)
	if err == ErrNeedMore && len(b) == bound {
		return 0, ErrResponseTooBig
	}
	if err != nil {
		return 0, err
	}

	var (
		conn           connFlags
		clSeen, teSeen bool
		hs             = resp.Headers
	)
	for {
		bound, _ = lineBound(pos, l.MaxHeaderLine, l.MaxHeaderBytes)
		b = buf
		if len(b) > bound {
			b = b[:bound]
		}
		name, value, next, r := scanFieldLine(b, pos, namesToken, false)
		switch r {
		case scanField:
		case scanEnd:
			pos = next
			goto done
		case scanShort:
			resp.Headers = hs
			if len(b) == bound {
				return 0, ErrResponseTooBig
			}
			return 0, ErrNeedMore
		default:
			resp.Headers = hs
			return 0, errUpstreamHeader
		}
		if len(hs) >= l.MaxHeaders {
			resp.Headers = hs
			return 0, ErrResponseTooBig
		}
		hs = append(hs, Header{Name: name, Value: value})
		pos = next

		var e *Error
		switch len(name) {
		case 10:
			if EqualFold(name, "connection") {
				conn.add(value)
			}
		case 14:
			if EqualFold(name, "content-length") {
				if clSeen {
					e = errUpstreamDuplicate
				} else if n, ok := parseContentLength(value); ok {
					resp.ContentLength = n
				} else {
					e = errUpstreamCL
				}
				clSeen = true
			}
		case 17:
			if EqualFold(name, "transfer-encoding") {
				switch {
				case teSeen:
					e = errUpstreamDuplicate
				case !EqualFold(value, "chunked"):
					e = errUpstreamTE
				}
				teSeen = true
			}
		}
		if e != nil {
			resp.Headers = hs
			return 0, e
		}
	}

done:
	resp.Headers = hs
	resp.HeadLen = pos
	if teSeen {
		// RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message
		// means faulty framing, and together with Content-Length it
		// "ought to be handled as an error" because it is the shape
		// of response splitting.
		if resp.Minor == 0 {
			return 0, errUpstreamTE10
		}
		if clSeen {
			return 0, errUpstreamCLandTE
		}
		resp.Chunked = true
	}
	resp.ConnectionHeader = conn.first
	resp.KeepAlive = conn.persistent(resp.Minor)
	return pos, nil
}

// parseStatusLine parses HTTP-version SP 3DIGIT [SP reason] EOL. The
// reason phrase may be absent along with the space before it, which
// RFC 9112 4 does not allow but servers send and nginx accepts.
func parseStatusLine(b []byte, resp *Response) (int, error) {
	i := 0
	for k := 0; k < len("HTTP/1."); k++ {
		if i >= len(b) {
			return 0, ErrNeedMore
		}
		if b[i] != "HTTP/1."[k] {
			return 0, errUpstreamStatus
		}
		i++
	}
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	if charClass[b[i]]&cDigit == 0 {
		return 0, errUpstreamStatus
	}
	resp.Major, resp.Minor = 1, int(b[i]-'0')
	i++
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	if b[i] != ' ' {
		return 0, errUpstreamStatus
	}
	i++
	status := 0
	for k := 0; k < 3; k++ {
		if i >= len(b) {
			return 0, ErrNeedMore
		}
		if charClass[b[i]]&cDigit == 0 {
			return 0, errUpstreamStatus
		}
		status = status*10 + int(b[i]-'0')
		i++
	}
	// RFC 9110 15: status codes are 100 to 599.
	if status < 100 || status > 599 {
		return 0, errUpstreamStatus
	}
	resp.Status = status
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	if b[i] == ' ' {
		i++
		rs := i
		for i < len(b) && charClass[b[i]]&cValue != 0 {
			i++
		}
		resp.Reason = b[rs:i:i]
	} else {
		resp.Reason = b[i:i:i]
	}
	return lineEnd(b, i, errUpstreamStatus, errUpstreamStatus)
}
