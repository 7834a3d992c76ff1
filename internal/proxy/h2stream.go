package proxy

import (
	"bytes"
	"strconv"
	"time"

	"headroom/internal/engine"
	"headroom/internal/h2"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

// This file is an HTTP/2 stream: one request, served by the request code
// that serves HTTP/1 on a clientConn of its own, in a slot of its own
// (unpolled: its connection's socket is the HTTP/2 connection's). The
// stream is that clientConn's transport. Its request head is the stream's
// header block written as an HTTP/1.1 head, which the HTTP/1 parser then
// judges with every limit and rule it applies to any head; the request
// body is the stream's DATA; and what the request code writes — an
// HTTP/1.1 response, as to any client — is read back here: the head
// becomes a HEADERS frame, the body DATA frames within the stream's and
// the connection's windows, de-chunked where the request code chunked it,
// and its end the stream's END_STREAM. So every phase, filter, variable
// and upstream rule holds for HTTP/2 as written once, and a stream's
// slot makes it count in the client budget: each stream in progress
// keeps an upstream slot secured as each HTTP/1 client does.

// h2Stream is a stream's state and its request's transport.
type h2Stream struct {
	id uint32
	hc *h2Conn
	cc *clientConn

	// The request body: bytes received and not yet read (recv from
	// recvOff), whether the stream's END_STREAM came (recvEnd) and
	// whether its end was given to the reader (endGiven, for a body
	// passed on in chunked framing), what the stream may still send
	// (recvWindow) and what was read since the window was last opened
	// (consumed). declared is the content-length (-1 without), got the
	// bytes received.
	recv       []byte
	recvOff    int
	recvEnd    bool
	endGiven   bool
	chunked    bool
	recvWindow int64
	consumed   int64
	declared   int64
	got        int64

	// The response: what part of the HTTP/1 response the request code
	// writes now, the head while it is incomplete, the body bytes left
	// of a content-length, and the decoder of a chunked body.
	resp       respPart
	head       []byte
	left       int64
	chunks     http1.ChunkedDecoder
	headReq    bool
	scratch    []byte
	endSent    bool
	rstSent    bool
	reset      bool
	waiting    bool
	blocked    bool
	sendWindow int64
	// discard is set while the rest of a body no response needs is
	// dropped (see Close); timedOut while the request's timer runs its
	// handler.
	discard  bool
	timedOut bool
	// bad is set once the body broke its content-length and was
	// answered 400; what more comes is dropped. rstLate is set while a
	// discarding stream's RST_STREAM NO_ERROR waits for the round's end.
	bad     bool
	rstLate bool
	// headLen is the header block's length, the head's part of
	// $request_length as nginx counts it for a stream. readPending is
	// set while the stream waits in its connection's readers.
	headLen     int
	readPending bool
}

// respPart is the part of the response being translated.
type respPart uint8

const (
	respHead respPart = iota
	respLength
	respChunked
	respUntilClose
	respDone
)

// openStream starts the request of a stream whose header block is in.
func (hc *h2Conn) openStream(id uint32) {
	w := hc.w
	lc := hc.cc.ln.vhosts.def.Loc
	if len(hc.streams)-hc.discarding >= lc.HTTP2MaxConcurrentStreams {
		hc.logf(logs.Info, "concurrent streams exceeded %d", len(hc.streams)-hc.discarding)
		hc.streamError(id, h2.RefusedStream)
		return
	}
	if hc.newStreams >= 2*lc.HTTP2MaxConcurrentStreams {
		// Streams opened and reset faster than they are served (rapid
		// reset): refused, as nginx refuses them.
		hc.logf(logs.Info, "client sent too many streams at once")
		hc.streamError(id, h2.RefusedStream)
		return
	}
	hc.newStreams++
	head := w.getBuf()[:0]
	head, declared, chunked, verdict := hc.requestHead(head)
	if verdict == headMalformed {
		w.putBuf(head)
		hc.streamError(id, h2.ProtocolError)
		return
	}
	if w.loop.InUse(engine.KindClient) >= w.clientBudget || w.loop.Free() < 2 {
		w.putBuf(head)
		hc.refuse(id)
		return
	}
	cc := w.getClient()
	c, err := w.loop.AddUnpolled(engine.KindClient, cc)
	if err != nil {
		w.putClient(cc)
		w.putBuf(head)
		hc.refuse(id)
		return
	}
	st := &h2Stream{id: id, hc: hc, cc: cc, declared: declared, chunked: chunked, headLen: hc.hdrLen,
		recvEnd: hc.hdrEnd, recvWindow: int64(lc.HTTP2BodyPrereadSize), sendWindow: hc.peerWindow}
	if v, ok := hc.headerValue(":method"); ok && string(v) == "HEAD" {
		st.headReq = true
	}
	if hc.streams == nil {
		hc.streams = make(map[uint32]*h2Stream, 1)
	}
	hc.streams[id] = st
	hc.served++
	hc.idleSince = time.Time{}
	parent := hc.cc
	cc.c = c
	cc.tr = st
	cc.h2 = st
	cc.ln = parent.ln
	cc.id = parent.id
	cc.remote = parent.remote
	cc.local = parent.local
	cc.accepted = parent.accepted
	cc.pp = parent.pp
	cc.requests = hc.served - 1
	cc.scanned = 0
	cc.state = connClosed
	cc.setState(connIdle)
	c.OnRead = onClientRead
	c.OnWrite = onClientWrite
	c.OnTimer = onClientTimer
	cc.in = head[:cap(head)]
	cc.inPos, cc.inLen = 0, len(head)
	// keepalive_requests and keepalive_time end the connection after
	// this stream, as they end an HTTP/1 one after its request.
	if hc.served >= lc.KeepaliveRequests || w.loop.Now().Sub(parent.accepted) > lc.KeepaliveTime {
		hc.goAway()
	}
	if verdict == headBad {
		cc.badHead(400)
		return
	}
	cc.readHead()
}

// headVerdict is what requestHead made of a header block.
type headVerdict uint8

const (
	headOK headVerdict = iota
	// headMalformed: a stream error (RST_STREAM PROTOCOL_ERROR).
	headMalformed
	// headBad: answered 400, as nginx answers a request without
	// :scheme, with an empty :authority or a :path it cannot use.
	headBad
)

// refuse answers a stream for which no slot is left with 503 and
// Retry-After, as an HTTP/1 request that waited its time for one is
// answered: the request was not started, so the client may send it again.
func (hc *h2Conn) refuse(id uint32) {
	hc.w.stats.Rejected.Inc()
	hc.logf(logs.Warn, "no connection slot for a new stream, answered 503")
	block := h2.AppendStatus(hc.block[:0], 503)
	block, _ = h2.AppendField(block, []byte("retry-after"), []byte("1"), nil)
	block, _ = h2.AppendField(block, []byte("content-length"), []byte("0"), nil)
	hc.block = block
	hc.ensureOut()
	hc.out = hc.appendHeaders(hc.out, id, block, true)
	hc.schedule()
}

// appendHeaders appends a header block as HEADERS and CONTINUATION frames
// of at most the peer's frame size.
func (hc *h2Conn) appendHeaders(dst []byte, id uint32, block []byte, end bool) []byte {
	t := h2.TypeHeaders
	var flags uint8
	if end {
		flags = h2.FlagEndStream
	}
	for {
		n := min(len(block), hc.peerFrame)
		f := flags
		if n == len(block) {
			f |= h2.FlagEndHeaders
		}
		dst = h2.AppendHeader(dst, n, t, f, id)
		dst = append(dst, block[:n]...)
		block = block[n:]
		if len(block) == 0 {
			return dst
		}
		t, flags = h2.TypeContinuation, 0
	}
}

// requestHead writes the decoded header block as an HTTP/1.1 request
// head. It reports the content-length (-1 without), whether the body is
// passed on chunked (it comes and has no length), and whether the block
// is malformed (RFC 9113 8.1.1: a stream error) or a bad request nginx
// answers with 400.
func (hc *h2Conn) requestHead(dst []byte) ([]byte, int64, bool, headVerdict) {
	var method, path, scheme, authority []byte
	var haveMethod, havePath, haveScheme, haveAuthority bool
	regular, bad := false, false
	declared := int64(-1)
	for _, f := range hc.fields {
		name, value := hc.fieldName(f), hc.fieldValue(f)
		if len(name) > 0 && name[0] == ':' {
			// Pseudo-header fields lead the block (RFC 9113 8.3); nginx
			// takes :authority after regular fields too, and clients
			// that know it send it so.
			if regular && string(name) != ":authority" {
				hc.logf(logs.Info, "client sent pseudo-header after regular header")
				return dst, 0, false, headMalformed
			}
			var seen *bool
			switch string(name) {
			case ":method":
				method, seen = value, &haveMethod
			case ":path":
				path, seen = value, &havePath
			case ":scheme":
				scheme, seen = value, &haveScheme
			case ":authority":
				authority, seen = value, &haveAuthority
			default:
				hc.logf(logs.Info, "client sent unknown pseudo-header \"%s\"", name)
				return dst, 0, false, headMalformed
			}
			if *seen {
				hc.logf(logs.Info, "client sent duplicate %s header", name)
				return dst, 0, false, headMalformed
			}
			*seen = true
			continue
		}
		regular = true
		if !validH2Name(name) || !validH2Value(value) {
			hc.logf(logs.Info, "client sent invalid header: \"%s\"", name)
			return dst, 0, false, headMalformed
		}
		switch string(name) {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			hc.logf(logs.Info, "client sent invalid header: \"%s\"", name)
			return dst, 0, false, headMalformed
		case "te":
			if string(value) != "trailers" {
				hc.logf(logs.Info, "client sent invalid header: \"te: %s\"", value)
				return dst, 0, false, headMalformed
			}
		case "content-length":
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				// nginx's header handler answers it 400.
				hc.logf(logs.Info, "client sent invalid \"Content-Length\" header")
				bad = true
				continue
			}
			declared = n
		}
	}
	// A :method that is there but unusable is answered 400, as nginx
	// answers it; a request without :method or :path is malformed
	// (RFC 9113 8.3.1) and its stream reset.
	if haveMethod && (len(method) == 0 || !validToken(method)) {
		hc.logf(logs.Info, "client sent invalid :method header: \"%s\"", method)
		return dst, -1, false, headBad
	}
	if !haveMethod || !havePath || len(path) == 0 {
		hc.logf(logs.Info, "client sent no :method or :path header")
		return dst, 0, false, headMalformed
	}
	switch {
	case !haveScheme:
		hc.logf(logs.Info, "client sent no :scheme header")
		return dst, -1, false, headBad
	case haveAuthority && len(authority) == 0, !validTarget(authority):
		hc.logf(logs.Info, "client sent invalid :authority header")
		return dst, -1, false, headBad
	case !validTarget(path) || !validTarget(scheme) ||
		(path[0] != '/' && !(string(path) == "*" && string(method) == "OPTIONS")):
		hc.logf(logs.Info, "client sent invalid :path header: \"%s\"", path)
		return dst, -1, false, headBad
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	if haveAuthority {
		dst = append(dst, "Host: "...)
		dst = append(dst, authority...)
		dst = append(dst, "\r\n"...)
	}
	cookies := false
	for _, f := range hc.fields {
		name, value := hc.fieldName(f), hc.fieldValue(f)
		if name[0] == ':' || (haveAuthority && string(name) == "host") {
			continue
		}
		if string(name) == "cookie" {
			// Cookies may come as separate fields; HTTP/1 has them in
			// one, joined by "; " (RFC 9113 8.2.3).
			if !cookies {
				cookies = true
				dst = append(dst, "cookie: "...)
				first := true
				for _, g := range hc.fields {
					if string(hc.fieldName(g)) == "cookie" {
						if !first {
							dst = append(dst, "; "...)
						}
						first = false
						dst = append(dst, hc.fieldValue(g)...)
					}
				}
				dst = append(dst, "\r\n"...)
			}
			continue
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, value...)
		dst = append(dst, "\r\n"...)
	}
	if bad || hc.hdrEnd && declared > 0 {
		if !bad {
			// A body announced and none sent: nginx's 400.
			hc.logf(logs.Info, "client prematurely closed stream")
		}
		return dst, -1, false, headBad
	}
	chunked := false
	if !hc.hdrEnd && declared < 0 {
		// A body of unknown length: the HTTP/1 code reads it chunked,
		// as nginx reads such a body until the stream ends.
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
		chunked = true
	}
	dst = append(dst, "\r\n"...)
	return dst, declared, chunked, headOK
}

// validH2Name reports whether a field name is lower-case token bytes, as
// HTTP/2 requires (RFC 9113 8.2.1).
func validH2Name(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == ':' || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// validH2Value reports whether a field value has no NUL, CR or LF and no
// leading or trailing whitespace.
func validH2Value(b []byte) bool {
	if bytes.ContainsAny(b, "\x00\r\n") {
		return false
	}
	return len(b) == 0 || (b[0] != ' ' && b[0] != '\t' && b[len(b)-1] != ' ' && b[len(b)-1] != '\t')
}

// validToken reports whether b is a method's token.
func validToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte("\"(),/:;<=>?@[\\]{}"), c) >= 0 {
			return false
		}
	}
	return true
}

// validTarget reports whether b has no whitespace or control bytes, which
// would end it in the HTTP/1 head it is written into.
func validTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// onData takes body bytes, and the stream's end.
func (st *h2Stream) onData(data []byte, end bool) {
	st.got += int64(len(data))
	if st.bad {
		st.consumed += int64(len(data))
		st.recvEnd = st.recvEnd || end
		return
	}
	if st.declared >= 0 && (st.got > st.declared || end && st.got < st.declared) {
		if st.got > st.declared {
			st.hc.logf(logs.Info, "client intended to send body data larger than declared")
		} else {
			st.hc.logf(logs.Info, "client prematurely closed stream: only %d out of %d bytes of request body received", st.got, st.declared)
		}
		st.badBody(end)
		return
	}
	if st.cc == nil {
		// The response is complete: the rest of the body is read and
		// dropped, as HTTP/1 discards a body its answer did not need.
		st.consumed += int64(len(data))
		if end {
			st.recvEnd = true
			st.hc.endStream(st)
			return
		}
		st.openWindow()
		return
	}
	if len(data) > 0 {
		if st.recvOff == len(st.recv) {
			st.recv, st.recvOff = st.recv[:0], 0
		}
		st.recv = append(st.recv, data...)
	}
	if end {
		st.recvEnd = true
	}
	st.readLater()
}

// readLater has the request read its body once the frames of this read
// are handled.
func (st *h2Stream) readLater() {
	if !st.readPending {
		st.readPending = true
		st.hc.readers = append(st.hc.readers, st)
	}
}

// onTrailers ends the body of a stream whose trailers came; they are not
// passed on (nginx 1.22 drops a request's trailers too).
func (st *h2Stream) onTrailers() {
	st.recvEnd = true
	if st.bad {
		return
	}
	if st.declared >= 0 && st.got < st.declared {
		st.badBody(true)
		return
	}
	if st.cc == nil {
		st.hc.endStream(st)
		return
	}
	st.readLater()
}

// badBody handles a body whose length is not the content-length it
// declared: a request still reading it is answered 400, as nginx answers
// it; otherwise the stream is reset with PROTOCOL_ERROR (RFC 9113
// 8.1.1).
func (st *h2Stream) badBody(end bool) {
	cc := st.cc
	if cc == nil || cc.state != connRequest || cc.r.respHead || cc.r.phase != phaseProxy || st.resp != respHead {
		st.fail(h2.ProtocolError)
		return
	}
	st.bad = true
	st.recvEnd = st.recvEnd || end
	st.recv, st.recvOff = st.recv[:0], 0
	cc.failBody(400)
}

// notifyRead runs the request's read handler, as an event on a socket
// would.
func (st *h2Stream) notifyRead() {
	if st.cc == nil {
		return
	}
	if c := st.cc.c; c != nil && c.Data == st.cc {
		c.OnRead(c)
	}
}

// peerReset ends the stream from the client's side (RST_STREAM, or the
// connection gone): the request sees its client gone.
func (st *h2Stream) peerReset() {
	if st.reset {
		return
	}
	st.reset = true
	st.rstSent = true
	if st.cc == nil {
		st.hc.endStream(st)
		return
	}
	st.endRequest()
}

// endRequest ends the request of a stream that was reset: its read
// handler sees the client gone, and a request that goes on regardless
// (one whose answer waits for a window, or is being relayed) ends as a
// request whose client went away (499 unless it has a status).
func (st *h2Stream) endRequest() {
	cc := st.cc
	st.notifyRead()
	if st.cc == cc && cc.c != nil && cc.c.Data == cc && cc.state != connClosed {
		cc.clientGone()
	}
}

// fail resets the stream for an error of the client's (a stream error)
// and ends its request.
func (st *h2Stream) fail(code h2.ErrCode) {
	st.rstLate = false
	if !st.rstSent || st.discard {
		st.rstSent = true
		st.hc.streamError(st.id, code)
	}
	st.reset = true
	if st.cc == nil {
		st.hc.endStream(st)
		return
	}
	st.endRequest()
}

// writable lets the request write again.
func (st *h2Stream) writable() {
	if st.cc == nil {
		return
	}
	if c := st.cc.c; c != nil && c.Data == st.cc {
		c.OnWrite(c)
	}
}

// Read gives the request the body bytes received, in chunked framing when
// the body has no length.
func (st *h2Stream) Read(p []byte) (int, error) {
	if st.reset {
		return 0, errStreamReset
	}
	avail := st.recv[st.recvOff:]
	if len(avail) == 0 {
		if st.chunked && st.recvEnd && !st.endGiven && len(p) >= 5 {
			st.endGiven = true
			return copy(p, "0\r\n\r\n"), nil
		}
		return 0, engine.ErrAgain
	}
	var n int
	if st.chunked {
		// Room for the size line and the CRLF after the data.
		max := len(p) - 12
		if max <= 0 {
			return 0, engine.ErrAgain
		}
		k := min(len(avail), max)
		b := strconv.AppendInt(p[:0], int64(k), 16)
		b = append(b, "\r\n"...)
		b = append(b, avail[:k]...)
		b = append(b, "\r\n"...)
		n = len(b)
		st.recvOff += k
		st.consumed += int64(k)
	} else {
		n = copy(p, avail)
		st.recvOff += n
		st.consumed += int64(n)
	}
	if st.recvOff == len(st.recv) {
		st.recv, st.recvOff = st.recv[:0], 0
	}
	st.openWindow()
	return n, nil
}

// openWindow lets the client send more once the stream's window was
// read.
func (st *h2Stream) openWindow() {
	if st.recvEnd || st.reset || st.discard || st.bad {
		return
	}
	// The window is opened again once the client has used it up and
	// it was read, by all of it at once, as nginx opens it: fewer
	// WINDOW_UPDATE frames, and a body buffered as fast as it comes.
	full := int64(st.hc.cc.ln.vhosts.def.Loc.HTTP2BodyPrereadSize)
	if st.consumed >= full || st.recvWindow == 0 && st.consumed > 0 && st.recvOff == len(st.recv) {
		st.hc.ensureOut()
		st.hc.out = h2.AppendWindowUpdate(st.hc.out, st.id, uint32(st.consumed))
		st.recvWindow += st.consumed
		st.consumed = 0
		st.hc.schedule()
	}
}

// Readable reports whether body bytes, the body's end or the stream's
// reset wait for the request.
func (st *h2Stream) Readable() bool {
	return st.reset || st.recvOff < len(st.recv) || (st.chunked && st.recvEnd && !st.endGiven)
}

// PeerClosed reports whether the client reset the stream or the
// connection went: the end of the request body is not a close.
func (st *h2Stream) PeerClosed() bool { return st.reset }

// Flush has nothing to do: what was written is in the connection's
// frames.
func (st *h2Stream) Flush() (bool, error) { return true, nil }

// Write takes the HTTP/1 response the request code writes and sends it as
// the stream's frames, as far as the windows and the connection's output
// let it.
func (st *h2Stream) Write(p []byte) (int, error) {
	if st.reset {
		return 0, errStreamReset
	}
	hc := st.hc
	hc.ensureOut()
	n := 0
	for n < len(p) {
		switch st.resp {
		case respHead:
			k, ok := st.takeHead(p[n:])
			n += k
			if !ok {
				return n, errStreamReset
			}
		case respLength:
			k := st.data(p[n : n+int(min(int64(len(p)-n), st.left))])
			st.left -= int64(k)
			n += k
			if st.left == 0 {
				st.end()
			} else if k == 0 {
				return st.wrote(n)
			}
		case respChunked:
			in := p[n:]
			// The last chunk carries no data: it needs no window.
			last := bytes.HasPrefix(in, []byte("\r\n0\r\n")) || bytes.HasPrefix(in, []byte("0\r\n"))
			if room := st.sendable(); len(in) > room && !last {
				in = in[:room]
			}
			if len(in) == 0 {
				return st.wrote(n)
			}
			consumed, data, done, err := st.chunks.Next(in)
			if err != nil {
				return n, errStreamReset
			}
			if len(data) > 0 {
				// The windows let data go, but the output may have
				// room for less: what it does not take goes back to
				// the decoder and waits for the stream's next write.
				if k := st.data(data); k < len(data) {
					st.chunks.Unread(len(data) - k)
					consumed -= len(data) - k
				}
				st.head = st.head[:0]
			} else {
				// Framing, and at the end the trailer section: kept
				// until the next data, for the trailers.
				st.head = append(st.head, in[:consumed]...)
			}
			n += consumed
			if done {
				st.endWithTrailers()
				n = len(p)
			} else if consumed == 0 {
				return st.wrote(n)
			}
		case respUntilClose:
			k := st.data(p[n:])
			n += k
			if k == 0 {
				return st.wrote(n)
			}
		case respDone:
			// Nothing follows a response's end.
			n = len(p)
		}
	}
	hc.schedule()
	return n, nil
}

// wrote ends a Write that could not take everything: ErrAgain when it
// took nothing, and the request's write handler runs once it can.
func (st *h2Stream) wrote(n int) (int, error) {
	st.hc.schedule()
	if n == 0 {
		return 0, engine.ErrAgain
	}
	return n, nil
}

// window is how many body bytes the stream's and the connection's
// windows let go out now; a stream that finds none waits for a
// WINDOW_UPDATE.
func (st *h2Stream) window() int {
	win := min(st.sendWindow, st.hc.sendWindow)
	if win <= 0 {
		st.blocked = true
		return 0
	}
	return int(win)
}

// sendable is how many body bytes may go out now: the windows, and room
// in the connection's output for a new frame. A stream that finds none
// waits for what it lacks.
func (st *h2Stream) sendable() int {
	win := st.window()
	if win == 0 {
		return 0
	}
	if _, ok := st.hc.openData(st.id); !ok && st.hc.room() <= 0 {
		st.hc.waitRoom(st)
		return 0
	}
	return win
}

// data sends as much of b as may go now, in DATA frames of at most
// http2_chunk_size and the peer's frame size; it returns how much.
// Bytes the request writes in pieces (a filter's output, a file a
// buffer at a time) go on in the stream's last DATA frame while it is
// still the newest in the output and below the chunk size, so that
// frames are cut by the windows and the chunk size only, as nginx cuts
// them; a new frame needs room in the output, and may take it past its
// room by up to its own size.
func (st *h2Stream) data(b []byte) int {
	hc := st.hc
	chunk := min(hc.peerFrame, st.cc.chunkSize())
	sent := 0
	for sent < len(b) {
		win := st.window()
		if win == 0 {
			break
		}
		if f, ok := hc.openData(st.id); ok && f < chunk {
			k := min(len(b)-sent, win, chunk-f)
			hc.growData(k)
			hc.out = append(hc.out, b[sent:sent+k]...)
			st.account(k, sent+k)
			sent += k
			continue
		}
		if hc.room() <= 0 {
			hc.waitRoom(st)
			break
		}
		k := min(len(b)-sent, win, chunk)
		hc.dataAt = len(hc.out)
		hc.dataStream = st.id
		hc.out = h2.AppendHeader(hc.out, k, h2.TypeData, 0, st.id)
		hc.out = append(hc.out, b[sent:sent+k]...)
		st.account(k, sent+k)
		sent += k
	}
	return sent
}

// account counts k body bytes sent against the windows; the frame that
// carries the last byte of a content-length ends the stream.
func (st *h2Stream) account(k, upTo int) {
	hc := st.hc
	st.sendWindow -= int64(k)
	hc.sendWindow -= int64(k)
	hc.dataEnd = len(hc.out)
	if st.resp == respLength && int64(upTo) == st.left {
		hc.out[hc.dataAt+4] |= h2.FlagEndStream
		st.endSent = true
	}
}

// end ends the stream's response: on its last DATA frame while that can
// still be changed, or with an empty one.
func (st *h2Stream) end() {
	st.resp = respDone
	if st.endSent {
		return
	}
	st.endSent = true
	hc := st.hc
	if _, ok := hc.openData(st.id); ok {
		hc.out[hc.dataAt+4] |= h2.FlagEndStream
		return
	}
	hc.out = h2.AppendHeader(hc.out, 0, h2.TypeData, h2.FlagEndStream, st.id)
}

// endWithTrailers ends a chunked response: with a HEADERS frame of its
// trailer fields (add_trailer's) when the last chunk had any, as nginx
// sends trailers over HTTP/2, or as end does.
func (st *h2Stream) endWithTrailers() {
	framing := st.head
	st.head = st.head[:0]
	i := bytes.Index(framing, []byte("0\r\n"))
	if i < 0 || st.endSent {
		st.end()
		return
	}
	fields := framing[i+3:]
	hc := st.hc
	block := hc.block[:0]
	for len(fields) > 0 {
		var line []byte
		line, fields, _ = bytes.Cut(fields, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		block, st.scratch = h2.AppendField(block, name, bytes.TrimLeft(value, " \t"), st.scratch)
	}
	hc.block = block
	if len(block) == 0 {
		st.end()
		return
	}
	st.resp = respDone
	st.endSent = true
	hc.out = hc.appendHeaders(hc.out, st.id, block, true)
}

// chunkSize is http2_chunk_size of the request's location.
func (cc *clientConn) chunkSize() int {
	if cc.r != nil && cc.r.lc != nil {
		return cc.r.lc.HTTP2ChunkSize
	}
	return cc.ln.vhosts.def.Loc.HTTP2ChunkSize
}

// takeHead gathers a response head and sends it as HEADERS once whole.
// The head is headroom's own (written by the request code, every field
// on a line of its own), so it is read by splitting lines rather than by
// the HTTP/1 parser, which would judge bytes that HTTP/2 carries as they
// are (a field value may hold any byte but NUL, CR and LF).
func (st *h2Stream) takeHead(p []byte) (int, bool) {
	buf := p
	if len(st.head) > 0 {
		st.head = append(st.head, p...)
		buf = st.head
	}
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if len(st.head) == 0 {
			st.head = append(st.head, p...)
		}
		return len(p), true
	}
	headLen := end + 4
	used := headLen - (len(buf) - len(p))
	head := buf[:end]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || line[8] != ' ' {
		return len(p), false
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return len(p), false
	}
	hc := st.hc
	block := h2.AppendStatus(hc.block[:0], status)
	length := int64(-1)
	chunked := false
	for len(rest) > 0 {
		var field []byte
		field, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(field, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimLeft(value, " \t")
		switch {
		case http1.EqualFold(name, "content-length"):
			if n, err := strconv.ParseInt(string(value), 10, 64); err == nil {
				length = n
			}
		case http1.EqualFold(name, "transfer-encoding"):
			chunked = http1.EqualFold(value, "chunked")
			continue
		case http1.EqualFold(name, "connection"), http1.EqualFold(name, "keep-alive"),
			http1.EqualFold(name, "proxy-connection"), http1.EqualFold(name, "upgrade"):
			continue
		}
		block, st.scratch = h2.AppendField(block, name, value, st.scratch)
	}
	st.head = st.head[:0]
	hc.block = block
	interim := status >= 100 && status < 200
	noBody := st.headReq || status == 204 || status == 304 || length == 0
	last := !interim && noBody
	hc.out = hc.appendHeaders(hc.out, st.id, block, last)
	switch {
	case interim:
		st.resp = respHead
	case last:
		st.endSent = true
		st.resp = respDone
	case chunked:
		st.chunks.Reset()
		st.resp = respChunked
	case length > 0:
		st.left = length
		st.resp = respLength
	default:
		st.resp = respUntilClose
	}
	return used, true
}

// CloseWrite ends a response whose body ran until the close.
func (st *h2Stream) CloseWrite() {
	if st.reset || st.endSent {
		return
	}
	if st.resp == respUntilClose {
		st.end()
		st.hc.schedule()
	}
}

// Close ends the stream as its request ends: a response that did not
// reach its end resets the stream. When the response is complete and the
// client still sends a body, the stream stays, without its slot, and
// what comes is read and dropped until the body ends, as HTTP/1 discards
// a body its answer did not need: the client's request completes without
// an error, and the stream still counts against
// http2_max_concurrent_streams until then.
func (st *h2Stream) Close() {
	hc := st.hc
	st.cc = nil
	st.recv = nil
	if !hc.closed && !st.rstSent {
		if !st.endSent {
			hc.ensureOut()
			st.rstSent = true
			code := h2.InternalError
			if st.timedOut {
				code = h2.ProtocolError
			}
			hc.streamError(st.id, code)
		} else if !st.recvEnd && !st.reset {
			// nginx asks the client to stop with NO_ERROR; what still
			// comes is judged (its length, the windows) and dropped.
			// The RST_STREAM goes out with the round's frames, after
			// what the client sent with the request was judged.
			st.rstLate = true
			hc.keepDiscarding(st)
			hc.schedule()
			return
		}
	}
	st.reset = true
	hc.endStream(st)
}
