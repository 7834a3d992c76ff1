package proxy

import (
	"bytes"
	"errors"
	"strconv"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/http1"
)

// This file is fastcgi_pass: the request as FastCGI records, and the
// application's answer read back as the HTTP/1.1 answer the rest of the
// upstream attempt expects. nginx's FastCGI module is a second upstream
// protocol beside HTTP; here it is a transport over the upstream socket
// (fcgiTransport), so that buffering, retries, error pages, the cache of
// kept connections and the $upstream_* variables are the proxy's own.

// FastCGI record types and roles (the FastCGI 1.0 specification).
const (
	fcgiVersion      = 1
	fcgiBeginRequest = 1
	fcgiEndRequest   = 3
	fcgiParams       = 4
	fcgiStdin        = 5
	fcgiStdout       = 6
	fcgiStderr       = 7
	fcgiResponder    = 1
	fcgiKeepConn     = 1
	// fcgiRequestID is the only request on a connection, as in nginx.
	fcgiRequestID = 1
	// fcgiMaxContent bounds a record's content.
	fcgiMaxContent = 65535
	// fcgiStdinPiece is how much of the body one STDIN record carries.
	fcgiStdinPiece = 32 << 10
)

// appendRecordHeader appends a record's header, without padding.
func appendRecordHeader(b []byte, typ byte, n int) []byte {
	return append(b, fcgiVersion, typ, 0, fcgiRequestID, byte(n>>8), byte(n), 0, 0)
}

// appendParamLen appends a name's or value's length as FastCGI encodes
// it: one byte below 128, else four with the high bit set.
func appendParamLen(b []byte, n int) []byte {
	if n < 128 {
		return append(b, byte(n))
	}
	return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// buildFastCGIRequest appends the request's BEGIN_REQUEST and PARAMS
// records: fastcgi_param's parameters in order (those with if_not_empty
// only when not empty), then, unless fastcgi_pass_request_headers is off,
// the client's fields as HTTP_NAME (upper case, "-" as "_"), except
// those an HTTP_ parameter replaces; and, for a request without a body
// to send, the empty STDIN record that ends it. The body's own records
// are made by the transport as it goes out.
func (cc *clientConn) buildFastCGIRequest(b []byte) []byte {
	r := cc.r
	lc := r.lc
	flags := byte(0)
	if lc.FastCGI.KeepConn {
		flags = fcgiKeepConn
	}
	b = appendRecordHeader(b, fcgiBeginRequest, 8)
	b = append(b, 0, fcgiResponder, flags, 0, 0, 0, 0, 0)

	// The pairs are made in a buffer of their own and cut into records.
	pairs := cc.appendGatewayParams(cc.w.getBuf()[:0], lc.FastCGI.Params, conf.ProtoFastCGI)
	for rest := pairs; len(rest) > 0; {
		n := min(len(rest), fcgiMaxContent)
		b = appendRecordHeader(b, fcgiParams, n)
		b = append(b, rest[:n]...)
		rest = rest[n:]
	}
	cc.w.putBuf(pairs)
	b = appendRecordHeader(b, fcgiParams, 0)
	if r.fcgiBodyLen() == 0 {
		b = appendRecordHeader(b, fcgiStdin, 0)
	}
	return b
}

// appendPair encodes a name-value pair as the gateway's protocol holds
// it: FastCGI's PARAMS (each length in one byte below 128, else four),
// SCGI's netstring of headers (each string ended by a NUL), uwsgi's
// packet (each string after its length in two bytes, little-endian). The
// name is a string or bytes, so that neither a configured name nor a
// client's field is copied to be written.
func appendPair[N string | []byte](b []byte, proto conf.Protocol, name N, value []byte) []byte {
	switch proto {
	case conf.ProtoFastCGI:
		b = appendParamLen(b, len(name))
		b = appendParamLen(b, len(value))
		b = append(b, name...)
		return append(b, value...)
	case conf.ProtoSCGI:
		b = append(b, name...)
		b = append(b, 0)
		b = append(b, value...)
		return append(b, 0)
	}
	b = append(b, byte(len(name)), byte(len(name)>>8))
	b = append(b, name...)
	b = append(b, byte(len(value)), byte(len(value)>>8))
	return append(b, value...)
}

// appendGatewayParams appends a gateway's parameters, each pair as its
// protocol encodes it: the module's X_param list in order (those with if_not_empty
// only when not empty), then, unless its pass_request_headers is off, the
// client's fields as HTTP_NAME (upper case, "-" as "_") in the client's
// order, repeated ones as they came, except those an HTTP_ parameter
// replaces.
func (cc *clientConn) appendGatewayParams(b []byte, params []conf.GatewayParam, proto conf.Protocol) []byte {
	r := cc.r
	val := cc.w.getBuf()[:0]
	for i := range params {
		p := &params[i]
		val = cc.eval(val[:0], p.Value)
		if len(val) == 0 && p.IfNotEmpty {
			continue
		}
		b = appendPair(b, proto, p.Name, val)
	}
	if r.lc.ProxyPassRequestHeaders {
		h := &r.head
		for i := range h.Headers {
			f := &h.Headers[i]
			name := append(val[:0], "HTTP_"...)
			for _, c := range f.Name {
				switch {
				case c >= 'a' && c <= 'z':
					c -= 'a' - 'A'
				case c == '-':
					c = '_'
				}
				name = append(name, c)
			}
			val = name
			if paramReplaces(params, name) {
				continue
			}
			b = appendPair(b, proto, name, f.Value)
		}
	}
	cc.w.putBuf(val)
	return b
}

// paramReplaces reports whether the parameter list sets the parameter,
// which then replaces the client's field of that name.
func paramReplaces(params []conf.GatewayParam, name []byte) bool {
	for i := range params {
		if params[i].Name == string(name) {
			return true
		}
	}
	return false
}

// fcgiBodyLen is how many body bytes go to the application as STDIN:
// the request's, none with fastcgi_pass_request_body off, -1 for a body
// that streams in chunks (fastcgi_request_buffering off), whose length
// is known at its end.
func (r *request) fcgiBodyLen() int64 {
	switch {
	case !r.lc.ProxyPassRequestBody:
		return 0
	case r.head.Chunked:
		return -1
	case r.head.ContentLength < 0:
		return 0
	}
	return r.head.ContentLength
}

// fastcgiSplit finds $fastcgi_script_name and $fastcgi_path_info for the
// request once, as nginx keeps them for the request from their first
// use: fastcgi_split_path_info's two captures of $uri, or $uri and
// nothing.
func (cc *clientConn) fastcgiSplit() (script, pathInfo []byte) {
	r := cc.r
	if !r.fcgiSplit {
		r.fcgiSplit = true
		r.fcgiScript, r.fcgiPathInfo = append(r.fcgiScript[:0], r.uri...), r.fcgiPathInfo[:0]
		if r.lc != nil && r.lc.FastCGI.Split != nil {
			if m := r.lc.FastCGI.Split.FindSubmatchIndex(r.uri); m != nil {
				r.fcgiScript = append(r.fcgiScript[:0], subMatch(r.uri, m, 1)...)
				r.fcgiPathInfo = append(r.fcgiPathInfo[:0], subMatch(r.uri, m, 2)...)
			}
		}
	}
	return r.fcgiScript, r.fcgiPathInfo
}

// subMatch is group i of a match, empty when it took no part.
func subMatch(s []byte, m []int, i int) []byte {
	if m[2*i] < 0 {
		return nil
	}
	return s[m[2*i]:m[2*i+1]]
}

// appendFastCGIScriptName appends $fastcgi_script_name: the script's
// name, with fastcgi_index after it when it ends with "/".
func (cc *clientConn) appendFastCGIScriptName(b []byte) []byte {
	script, _ := cc.fastcgiSplit()
	b = append(b, script...)
	if len(script) > 0 && script[len(script)-1] == '/' && cc.r.lc != nil {
		b = append(b, cc.r.lc.FastCGI.Index...)
	}
	return b
}

// useTransport readies an upstream connection for the request's
// protocol before it is written to: FastCGI records for fastcgi_pass, a
// CGI answer read back for scgi_pass and uwsgi_pass, the socket's bytes
// as they are for proxy_pass (a kept connection may have served any).
func (cc *clientConn) useTransport(uc *upConn) {
	r := cc.r
	pp := r.proxyPass()
	switch {
	case pp == nil || !pp.Protocol.Gateway():
		if uc.fcgi != nil || uc.cgi != nil {
			uc.tr = &uc.sock
		}
	case pp.Protocol == conf.ProtoFastCGI:
		if uc.fcgi == nil {
			uc.fcgi = &fcgiTransport{inner: &uc.sock}
		}
		uc.fcgi.begin(cc, r.fcgiHeadLen, r.fcgiBodyLen())
		uc.tr = uc.fcgi
	default:
		if uc.cgi == nil {
			uc.cgi = &cgiTransport{inner: &uc.sock}
		}
		uc.cgi.reset(r.lc.ProxyBufferSize)
		uc.tr = uc.cgi
	}
}

// fcgiTransport carries one request at a time over an upstream socket
// as FastCGI. Written bytes are the records buildFastCGIRequest made,
// passed as they are, then the body, which goes out in STDIN records
// ended by an empty one. Read bytes are the application's records: its
// STDOUT becomes an HTTP/1.1 answer (the CGI head's Status as the status
// line, the body chunked unless the head gave a Content-Length), its
// STDERR is logged, and END_REQUEST ends the answer.
type fcgiTransport struct {
	inner transport
	cc    *clientConn

	// Writing: rawLeft bytes of the request's own records are still to
	// come, then bodyLeft bytes of body. pend holds framed bytes the
	// socket has not taken yet; nothing more is taken until it has.
	rawLeft  int
	bodyLeft int64
	pend     []byte
	pendOff  int
	// chunks decodes a body that streams in chunked framing
	// (bodyLeft -1 until its last chunk).
	chunks http1.ChunkedDecoder

	// Reading: in holds bytes read from the socket and not decoded;
	// recType, recLeft and padLeft are the record being read.
	in      []byte
	inOff   int
	recType byte
	recLeft int
	padLeft int
	hdrBuf  [8]byte
	hdrHave int
	// head collects the CGI head until its empty line; out holds the
	// translated answer not yet read.
	head     []byte
	headDone bool
	out      []byte
	outOff   int
	chunked  bool
	noBody   bool
	keepConn bool
	// lengthLeft is what the head's Content-Length still promises (-1
	// without one); ended is set by END_REQUEST.
	lengthLeft int64
	ended      bool
	stderr     []byte
	failed     error
	failMsg    string
	// catch is fastcgi_catch_stderr's strings.
	catch     []string
	headLimit int
}

// begin readies the transport for a request whose own records are
// headLen bytes and whose body is bodyLen bytes.
func (t *fcgiTransport) begin(cc *clientConn, headLen int, bodyLen int64) {
	lc := cc.r.lc
	t.reset(headLen, bodyLen, lc.FastCGI.KeepConn, isHead(&cc.r.head), lc.FastCGI.CatchStderr, lc.ProxyBufferSize)
	t.cc = cc
}

// reset readies the transport for a request, keeping its buffers. The
// answer's head must fit in headLimit bytes (fastcgi_buffer_size).
func (t *fcgiTransport) reset(headLen int, bodyLen int64, keepConn, noBody bool, catch []string, headLimit int) {
	*t = fcgiTransport{inner: t.inner, rawLeft: headLen, bodyLeft: bodyLen, lengthLeft: -1,
		pend: t.pend[:0], in: t.in[:0], head: t.head[:0], out: t.out[:0], stderr: t.stderr[:0],
		keepConn: keepConn, noBody: noBody, catch: catch, headLimit: headLimit}
}

// Write takes the next piece of the request: the request's own records
// as they are, body bytes as STDIN records (with the empty one after the
// last), up to a piece's worth, and sends them with one write, so that
// the head and the body that came with it leave together. It takes
// nothing while bytes of an earlier piece wait for the socket; Flush
// sends those.
func (t *fcgiTransport) Write(p []byte) (int, error) {
	if done, err := t.Flush(); !done {
		if err == nil {
			err = engine.ErrAgain
		}
		return 0, err
	}
	t.pend, t.pendOff = t.pend[:0], 0
	taken := 0
	for taken < len(p) && len(t.pend) < fcgiStdinPiece {
		rest := p[taken:]
		switch {
		case t.rawLeft > 0:
			n := min(len(rest), t.rawLeft)
			t.rawLeft -= n
			t.pend = append(t.pend, rest[:n]...)
			taken += n
		case t.bodyLeft > 0:
			n := int(min(int64(len(rest)), t.bodyLeft, int64(fcgiStdinPiece-len(t.pend))))
			t.bodyLeft -= int64(n)
			t.pend = appendRecordHeader(t.pend, fcgiStdin, n)
			t.pend = append(t.pend, rest[:n]...)
			if t.bodyLeft == 0 {
				t.pend = appendRecordHeader(t.pend, fcgiStdin, 0)
			}
			taken += n
		case t.bodyLeft < 0:
			n, err := t.dechunk(rest)
			if err != nil {
				return 0, err
			}
			if n == 0 {
				return taken + n, t.flushTaken()
			}
			taken += n
		default:
			// Bytes beyond the request: nothing the application
			// expects.
			taken = len(p)
		}
	}
	return taken, t.flushTaken()
}

// flushTaken starts sending what Write took: what the socket cannot
// take now waits for Flush.
func (t *fcgiTransport) flushTaken() error {
	_, err := t.Flush()
	return err
}

// dechunk takes a streamed body's chunked framing off and puts its data
// in STDIN records, up to a piece's worth; the last chunk ends the body
// with the empty record.
func (t *fcgiTransport) dechunk(p []byte) (int, error) {
	taken := 0
	for taken < len(p) && len(t.pend) < fcgiStdinPiece {
		consumed, data, done, err := t.chunks.Next(p[taken:])
		if err != nil {
			return 0, err
		}
		if room := fcgiStdinPiece - len(t.pend); len(data) > room {
			t.chunks.Unread(len(data) - room)
			consumed -= len(data) - room
			data = data[:room]
		}
		taken += consumed
		if len(data) > 0 {
			t.pend = appendRecordHeader(t.pend, fcgiStdin, len(data))
			t.pend = append(t.pend, data...)
		}
		if done {
			t.bodyLeft = 0
			t.pend = appendRecordHeader(t.pend, fcgiStdin, 0)
			break
		}
		if consumed == 0 && data == nil {
			break
		}
	}
	return taken, nil
}

// Flush writes what waits of the pieces taken.
func (t *fcgiTransport) Flush() (bool, error) {
	for t.pendOff < len(t.pend) {
		n, err := t.inner.Write(t.pend[t.pendOff:])
		if n > 0 {
			t.pendOff += n
			continue
		}
		if err == engine.ErrAgain {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Read returns the translated answer's next bytes, reading and decoding
// records as needed: 0 and nil once the application ended the answer
// without a keep-alive connection, or the socket closed first.
func (t *fcgiTransport) Read(p []byte) (int, error) {
	for {
		if t.outOff < len(t.out) {
			n := copy(p, t.out[t.outOff:])
			t.outOff += n
			if t.outOff == len(t.out) {
				t.out, t.outOff = t.out[:0], 0
			}
			return n, nil
		}
		if t.failed != nil {
			return 0, t.failed
		}
		if t.ended {
			if t.keepConn && t.headDone && t.lengthLeft <= 0 {
				return 0, engine.ErrAgain
			}
			return 0, nil
		}
		if t.inOff < len(t.in) {
			t.decode()
			continue
		}
		if cap(t.in) == 0 {
			t.in = make([]byte, 0, 16<<10)
		}
		n, err := t.inner.Read(t.in[:cap(t.in)])
		if n == 0 {
			return 0, err
		}
		t.in, t.inOff = t.in[:n], 0
	}
}

// decode handles the bytes in t.in: record headers, padding, and the
// content of STDOUT, STDERR and END_REQUEST records.
func (t *fcgiTransport) decode() {
	for t.inOff < len(t.in) && !t.ended && t.failed == nil {
		avail := t.in[t.inOff:]
		switch {
		case t.recLeft > 0:
			n := min(len(avail), t.recLeft)
			t.content(avail[:n])
			t.recLeft -= n
			t.inOff += n
			if t.recLeft == 0 {
				t.recordEnd()
			}
		case t.padLeft > 0:
			n := min(len(avail), t.padLeft)
			t.padLeft -= n
			t.inOff += n
		default:
			n := copy(t.hdrBuf[t.hdrHave:], avail)
			t.hdrHave += n
			t.inOff += n
			if t.hdrHave < 8 {
				return
			}
			t.hdrHave = 0
			h := t.hdrBuf
			if h[0] != fcgiVersion {
				t.fail("upstream sent unsupported FastCGI protocol version: " + strconv.Itoa(int(h[0])))
				return
			}
			t.recType = h[1]
			t.recLeft = int(h[4])<<8 | int(h[5])
			t.padLeft = int(h[6])
			switch t.recType {
			case fcgiStdout, fcgiStderr, fcgiEndRequest:
			default:
				t.fail("upstream sent unexpected FastCGI record: " + strconv.Itoa(int(t.recType)))
				return
			}
			if t.recLeft == 0 {
				t.recordEnd()
			}
		}
	}
}

// fail ends the answer: the upstream attempt reports it as an invalid
// answer, with nginx's words for what was wrong.
func (t *fcgiTransport) fail(msg string) {
	t.failMsg = msg
	t.failed = errGatewayInvalid
}

// errGatewayInvalid is an answer that breaks its protocol (FastCGI,
// SCGI, uwsgi), read as an invalid header.
var errGatewayInvalid = errors.New("invalid gateway answer")

// content takes part of a record's content.
func (t *fcgiTransport) content(b []byte) {
	switch t.recType {
	case fcgiStdout:
		t.stdout(b)
	case fcgiStderr:
		t.stderr = append(t.stderr, b...)
	}
}

// recordEnd finishes a record: STDERR is logged as nginx logs it, and
// END_REQUEST ends the answer.
func (t *fcgiTransport) recordEnd() {
	switch t.recType {
	case fcgiStderr:
		msg := bytes.TrimRight(t.stderr, "\r\n. ")
		if len(msg) > 0 && t.cc != nil {
			while := " while reading response header from upstream"
			if t.headDone {
				while = " while reading upstream"
			}
			t.cc.logError("FastCGI sent in stderr: \"" + string(msg) + "\"" + while)
		}
		if !t.headDone {
			for _, s := range t.catch {
				if bytes.Contains(t.stderr, []byte(s)) {
					t.fail("")
					break
				}
			}
		}
		t.stderr = t.stderr[:0]
	case fcgiEndRequest:
		t.ended = true
		if !t.headDone {
			t.fail("upstream prematurely closed FastCGI stdout")
			return
		}
		if t.headDone && t.chunked && !t.noBody {
			t.out = append(t.out, "0\r\n\r\n"...)
		}
	}
}

// stdout takes STDOUT bytes: the CGI head until its empty line, then the
// body.
func (t *fcgiTransport) stdout(b []byte) {
	if !t.headDone {
		start := max(0, len(t.head)-3)
		t.head = append(t.head, b...)
		end, bodyAt := cgiHeadEnd(t.head, start)
		if end < 0 {
			if len(t.head) > t.headLimit {
				t.fail("upstream sent too big header")
			}
			return
		}
		body := t.head[bodyAt:]
		t.translateHead(t.head[:end])
		if t.failed != nil {
			return
		}
		t.headDone = true
		if len(body) > 0 {
			t.body(body)
		}
		return
	}
	t.body(b)
}

// cgiHeadEnd finds the empty line that ends a CGI head, searching from
// start: end is where the head's last line ends, bodyAt where the body
// starts; -1 when it has not come yet. Lines end with LF or CRLF.
func cgiHeadEnd(b []byte, start int) (end, bodyAt int) {
	for i := start; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 1, i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 1, i + 3
		}
	}
	// A head that is only its empty line.
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return 0, 2
	}
	if bytes.HasPrefix(b, []byte("\n")) {
		return 0, 1
	}
	return -1, 0
}

// body passes body bytes on, as chunks when the length is not known.
func (t *fcgiTransport) body(b []byte) {
	if t.noBody {
		return
	}
	if t.lengthLeft >= 0 {
		// Bytes beyond the promised length are dropped.
		n := int(min(int64(len(b)), t.lengthLeft))
		t.out = append(t.out, b[:n]...)
		t.lengthLeft -= int64(n)
		return
	}
	t.out = strconv.AppendInt(t.out, int64(len(b)), 16)
	t.out = append(t.out, "\r\n"...)
	t.out = append(t.out, b...)
	t.out = append(t.out, "\r\n"...)
}

// translateHead writes the CGI head as an HTTP/1.1 head, followed by
// the framing of what follows: chunks unless the application gave a
// length, and the connection's end unless it is kept.
func (t *fcgiTransport) translateHead(head []byte) {
	var h cgiHead
	t.out, h = appendCGIHead(t.out, head, "HTTP/1.1 ")
	if h.failMsg != "" {
		t.out = t.out[:0]
		t.fail(h.failMsg)
		return
	}
	t.lengthLeft = h.length
	t.noBody = t.noBody || h.noBody
	if t.lengthLeft < 0 {
		t.chunked = true
		t.out = append(t.out, "Transfer-Encoding: chunked\r\n"...)
	}
	if !t.keepConn {
		t.out = append(t.out, "Connection: close\r\n"...)
	}
	t.out = append(t.out, "\r\n"...)
}

// cgiHead is what appendCGIHead found in a CGI head: the Content-Length
// (-1 without one), whether the status has no body, and why the head is
// refused.
type cgiHead struct {
	length  int64
	noBody  bool
	failMsg string
}

// appendCGIHead appends a CGI head (FastCGI's, SCGI's, uwsgi's) as an
// HTTP head after the version given, without its final empty line: the
// Status field's code and text as the status line (the first Status,
// as it came; 302 for a Location without one, else 200, as nginx), the
// fields as they are, less the framing fields of the application's,
// which the caller sets.
func appendCGIHead(out, head []byte, version string) ([]byte, cgiHead) {
	h := cgiHead{length: -1}
	// The first pass finds what makes the status line, the second
	// copies the fields after it.
	var status []byte
	hasLocation := false
	for rest := head; len(rest) > 0; {
		var name, value []byte
		name, value, rest = nextCGIField(rest)
		switch {
		case asciiEqualFold(name, "Status"):
			// The first one counts, as in nginx.
			if status == nil {
				status = value
			}
		case asciiEqualFold(name, "Location"):
			hasLocation = true
		}
	}
	start := len(out)
	out = append(out, version...)
	switch {
	case status != nil:
		// nginx reads the code from the first three characters and
		// sends the rest as it is: "404" alone has no reason phrase.
		code := -1
		if len(status) >= 3 {
			code, _ = strconv.Atoi(string(status[:3]))
		}
		if code < 0 || status[0] < '0' || status[0] > '9' {
			h.failMsg = "upstream sent invalid status \"" + string(status) + "\""
			return out[:start], h
		}
		out = append(out, status[:3]...)
		out = append(out, ' ')
		out = append(out, bytes.TrimLeft(status[3:], " ")...)
		h.noBody = code < 200 || code == 204 || code == 304
	case hasLocation:
		out = append(out, "302 Moved Temporarily"...)
	default:
		out = append(out, "200 OK"...)
	}
	out = append(out, "\r\n"...)
	for rest := head; len(rest) > 0; {
		var name, value, line []byte
		line = rest
		name, value, rest = nextCGIField(rest)
		if name == nil {
			continue
		}
		switch {
		case asciiEqualFold(name, "Transfer-Encoding"), asciiEqualFold(name, "Connection"):
			// The framing is the caller's.
			continue
		case asciiEqualFold(name, "Content-Length"):
			if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 {
				h.length = n
			}
		}
		// The line as it came, without its CR or LF. The field stays
		// among the others: the uwsgi module passes it on, the others
		// hide it (responseHead).
		line = bytes.TrimSuffix(line[:len(line)-len(rest)], []byte("\n"))
		out = append(out, bytes.TrimSuffix(line, []byte("\r"))...)
		out = append(out, "\r\n"...)
	}
	return out, h
}

// nextCGIField reads one line of a CGI head (ending with LF or CRLF):
// its field's name and value (leading blanks off), and the lines after
// it. An empty line has a nil name.
func nextCGIField(head []byte) (name, value, rest []byte) {
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line, rest = head[:i], head[i+1:]
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return nil, nil, rest
	}
	name, value, _ = bytes.Cut(line, []byte(":"))
	return name, bytes.TrimLeft(value, " \t"), rest
}

// asciiEqualFold compares a field name with a lower- or mixed-case name.
func asciiEqualFold(b []byte, s string) bool {
	return len(b) == len(s) && bytes.EqualFold(b, []byte(s))
}

// Readable reports whether Read has something without an event.
func (t *fcgiTransport) Readable() bool {
	return t.outOff < len(t.out) || t.inOff < len(t.in) || t.failed != nil ||
		t.ended && !t.keepConn || t.inner.Readable()
}

// PeerClosed reports whether the application closed its side.
func (t *fcgiTransport) PeerClosed() bool { return t.inner.PeerClosed() }

// CloseWrite ends the socket's write side.
func (t *fcgiTransport) CloseWrite() { t.inner.CloseWrite() }

// Close drops the request's state.
func (t *fcgiTransport) Close() { t.cc = nil }
