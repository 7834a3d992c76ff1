package http1

// Framing is how a message body is delimited (RFC 9112 6.3).
type Framing int

const (
	// FramingNone: the message has no body.
	FramingNone Framing = iota
	// FramingLength: the body is ContentLength bytes (possibly zero).
	FramingLength
	// FramingChunked: the body is chunked; decode it with ChunkedDecoder.
	FramingChunked
	// FramingClose: the body runs until the upstream closes the
	// connection, which therefore cannot be reused.
	FramingClose
)

func (f Framing) String() string {
	switch f {
	case FramingNone:
		return "none"
	case FramingLength:
		return "length"
	case FramingChunked:
		return "chunked"
	case FramingClose:
		return "close"
	}
	return "invalid"
}

// ResponseFraming tells how the body of resp is delimited given whether
// the request was HEAD (RFC 9112 6.3): responses to HEAD and 1xx, 204 and
// 304 responses have no body whatever their fields say; otherwise chunked
// coding, then Content-Length, then the close of the connection delimit
// it. ParseResponse has already refused Content-Length together with
// Transfer-Encoding.
func ResponseFraming(reqMethodIsHead bool, resp *Response) Framing {
	switch {
	case reqMethodIsHead, resp.Status < 200, resp.Status == 204, resp.Status == 304:
		return FramingNone
	case resp.Chunked:
		return FramingChunked
	case resp.ContentLength >= 0:
		return FramingLength
	}
	return FramingClose
}
