package proxy

import (
	"bytes"
	"slices"
	"strconv"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// This file is scgi_pass and uwsgi_pass: the request's own head in the
// protocol's framing, the body after it as it is (read whole first, so
// that its length is known), and the answer, an HTTP status line or a
// CGI head, read until the server closes the connection.

// buildSCGIRequest appends the SCGI request head: a netstring of
// CONTENT_LENGTH (the body's length, first as the protocol asks), the
// scgi_param parameters and the client's fields, as nginx makes it.
func (cc *clientConn) buildSCGIRequest(b []byte) []byte {
	r := cc.r
	// The body's length, even with scgi_pass_request_body off (nginx
	// counts the body it read).
	n := max(r.head.ContentLength, 0)
	var num [20]byte
	pairs := appendPair(cc.w.getBuf()[:0], conf.ProtoSCGI, "CONTENT_LENGTH", strconv.AppendInt(num[:0], n, 10))
	pairs = cc.appendGatewayParams(pairs, r.lc.SCGI.Params, conf.ProtoSCGI)
	b = strconv.AppendInt(b, int64(len(pairs)), 10)
	b = append(b, ':')
	b = append(b, pairs...)
	b = append(b, ',')
	cc.w.putBuf(pairs)
	return b
}

// buildUWSGIRequest appends the uwsgi packet: modifier1, the size of what
// follows in two bytes (little-endian), modifier2, the uwsgi_param
// parameters and the client's fields, and uwsgi_string. A packet larger
// than its size field can say is refused, as nginx refuses it: nil, and
// the request is answered 500.
func (cc *clientConn) buildUWSGIRequest(b []byte) []byte {
	r := cc.r
	u := &r.lc.UWSGI
	vars := cc.appendGatewayParams(cc.w.getBuf()[:0], u.Params, conf.ProtoUWSGI)
	vars = append(vars, u.String...)
	n := len(vars)
	if n > 65535 {
		// nginx finds it before choosing a server: its line names none.
		g := r.group
		r.group = nil
		cc.logAt(logs.Alert, "uwsgi request is too big: "+strconv.Itoa(n))
		r.group = g
		cc.w.putBuf(vars)
		return nil
	}
	b = append(b, byte(u.Modifier1), byte(n), byte(n>>8), byte(u.Modifier2))
	b = append(b, vars...)
	cc.w.putBuf(vars)
	return b
}

// cgiTransport reads an SCGI or uwsgi server's answer over the upstream
// socket: one that starts with an HTTP status line passes as it is, a
// CGI head (with Status) becomes an HTTP/1.0 one, so that the body that
// follows ends with the connection unless a Content-Length says
// otherwise, as the answers of both protocols end. Writes pass as they
// are.
type cgiTransport struct {
	inner transport
	// head collects the answer's first bytes until it is known which
	// it is, then the CGI head until its empty line; out is the
	// translated head and the body bytes that came with it.
	head      []byte
	decided   bool
	out       []byte
	outOff    int
	headLimit int
	failMsg   string
}

// reset readies the transport for a request: the answer's head must fit
// in headLimit bytes (the module's buffer_size).
func (t *cgiTransport) reset(headLimit int) {
	*t = cgiTransport{inner: t.inner, head: t.head[:0], out: t.out[:0], headLimit: headLimit}
}

// Read returns the answer's bytes, translated until its head is out.
func (t *cgiTransport) Read(p []byte) (int, error) {
	for {
		if t.outOff < len(t.out) {
			n := copy(p, t.out[t.outOff:])
			t.outOff += n
			return n, nil
		}
		if t.failMsg != "" {
			return 0, errGatewayInvalid
		}
		if t.decided {
			return t.inner.Read(p)
		}
		start := max(0, len(t.head)-3)
		t.head = slices.Grow(t.head, 4096)
		n, err := t.inner.Read(t.head[len(t.head):cap(t.head)])
		if n == 0 {
			return 0, err
		}
		t.head = t.head[:len(t.head)+n]
		t.decide(start)
	}
}

// decide looks at the head collected so far: an HTTP status line passes
// at once; a CGI head is translated once its empty line has come.
func (t *cgiTransport) decide(start int) {
	if len(t.head) < 5 && bytes.HasPrefix([]byte("HTTP/"), t.head) {
		return
	}
	if bytes.HasPrefix(t.head, []byte("HTTP/")) {
		t.decided = true
		t.out = append(t.out[:0], t.head...)
		t.outOff = 0
		return
	}
	end, bodyAt := cgiHeadEnd(t.head, start)
	if end < 0 {
		if len(t.head) > t.headLimit {
			t.failMsg = "upstream sent too big header"
		}
		return
	}
	var h cgiHead
	t.out, h = appendCGIHead(t.out[:0], t.head[:end], "HTTP/1.0 ")
	if h.failMsg != "" {
		t.failMsg = h.failMsg
		return
	}
	t.out = append(t.out, "\r\n"...)
	t.out = append(t.out, t.head[bodyAt:]...)
	t.outOff = 0
	t.decided = true
}

// Write passes the request on.
func (t *cgiTransport) Write(p []byte) (int, error) { return t.inner.Write(p) }

// Flush has nothing of its own to write.
func (t *cgiTransport) Flush() (bool, error) { return t.inner.Flush() }

// Readable reports whether Read has something without an event.
func (t *cgiTransport) Readable() bool {
	return t.outOff < len(t.out) || t.failMsg != "" || t.inner.Readable()
}

// PeerClosed reports whether the server closed its side.
func (t *cgiTransport) PeerClosed() bool { return t.inner.PeerClosed() }

// CloseWrite ends the socket's write side.
func (t *cgiTransport) CloseWrite() { t.inner.CloseWrite() }

// Close has nothing to release.
func (t *cgiTransport) Close() {}
