package proxy

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/vars"
)

// This file is the request side of the body pipe: the body streamed to the
// upstream as it arrives (proxy_request_buffering off), or read whole
// first into memory and then a temporary file, and sent from there,
// again from the start on a retry.

// pumpBody moves the request head and body to the upstream: it writes
// what is pending, then takes more body bytes from the client, until the
// body is complete or one side would block.
func (cc *clientConn) pumpBody() {
	r := cc.r
	for {
		if r.up == nil || r.up.connecting {
			return
		}
		if r.upOutOff < len(r.upOut) {
			// Body bytes that came with the head leave in the same
			// write as the head, as nginx sends them: an upstream that
			// reads once finds both.
			if !r.sent && !r.bodyDone && cc.inPos < cc.inLen && bufSize-len(r.upOut)-chunkOverhead > 0 {
				if !cc.consumeBody() {
					return
				}
			}
			if !cc.flushUp() {
				return
			}
		}
		if r.fileLeft() {
			if !cc.nextFilePiece() {
				return
			}
			continue
		}
		if r.bodyDone {
			// A transport that frames the body (FastCGI) may hold its
			// last record.
			if done, err := r.up.tr.Flush(); !done {
				if err != nil {
					cc.upstreamFailed(failError, err, "writev() failed (%s) while sending request to upstream")
					return
				}
				r.up.c.SetTimer(r.lc.ProxySendTimeout)
				return
			}
			if !r.bodyTimerOff {
				// client_body_timeout ends with the body, once: later
				// calls (each time the upstream can take more) must not
				// stop the timer the response has armed since
				// (send_timeout, limit_rate's pause).
				r.bodyTimerOff = true
				if !r.rateDelayed && r.sendWaitFrom.IsZero() {
					cc.c.StopTimer()
				}
			}
			if !r.respHead {
				r.up.c.SetTimer(r.lc.ProxyReadTimeout)
			}
			return
		}
		// Everything so far was sent. More of the body is appended to
		// the request while it fits, so that a request that fits in the
		// buffer can still be sent again whole; once it does not, the
		// sent bytes make room and the request can no longer be resent.
		if bufSize-len(r.upOut)-chunkOverhead <= 0 {
			r.upOut = r.upOut[:0]
			r.upOutOff = 0
			r.upWhole = false
		}
		if cc.inPos < cc.inLen {
			if !cc.consumeBody() {
				return
			}
			continue
		}
		if !cc.readBody(r.bodyLeft) {
			return
		}
	}
}

// readBody reads more request body bytes after those buffered; body bytes
// are kept after the head, which stays in place for the log. limit, when
// positive, caps the read so that it never takes bytes past a body of
// known length: they belong to the next request. It returns false when
// the caller must stop: the socket would block (the body timer is armed)
// or the request was ended.
func (cc *clientConn) readBody(limit int64) bool {
	r := cc.r
	if cc.inPos > r.headLen {
		n := copy(cc.in[r.headLen:], cc.in[cc.inPos:cc.inLen])
		cc.inPos, cc.inLen = r.headLen, r.headLen+n
	}
	if limit > 0 {
		limit -= int64(cc.inLen - cc.inPos)
	}
	for {
		if !cc.tr.Readable() {
			cc.c.SetTimer(r.lc.ClientBodyTimeout)
			return false
		}
		room := cc.in[cc.inLen:]
		if len(room) > bufSize/2 {
			room = room[:bufSize/2]
		}
		if limit > 0 && int64(len(room)) > limit {
			room = room[:limit]
		}
		if len(room) == 0 {
			// A chunk header longer than the buffer: not a request nginx
			// would take either.
			cc.failBody(400)
			return false
		}
		n, err := cc.tr.Read(room)
		if n > 0 {
			cc.inLen += n
			return true
		}
		if err != engine.ErrAgain {
			// The client closed before sending its whole body; nginx logs
			// such a request with 400.
			cc.logError("client prematurely closed connection")
			r.status = 400
			cc.abort()
			return false
		}
	}
}

// failBody ends a request whose body is bad or too large: with an answer
// when nothing of it reached an upstream yet, else by closing.
func (cc *clientConn) failBody(status int) {
	r := cc.r
	if cc.state == connDiscard {
		// The answer went out already; the body being dropped is bad.
		cc.close()
		return
	}
	if r.respHead {
		// The client already has part of a response.
		r.status = status
		cc.abort()
		return
	}
	if r.up != nil {
		// The upstream got part of a body that will not be completed.
		r.up.closeConn()
	}
	r.keepAlive = false
	cc.respondError(status)
}

// consumeBody moves buffered body bytes into the upstream buffer. It
// returns false when the caller must stop.
func (cc *clientConn) consumeBody() bool {
	r := cc.r
	avail := cc.in[cc.inPos:cc.inLen]
	// A chunk frame adds at most chunkOverhead bytes to the data.
	if room := bufSize - len(r.upOut) - chunkOverhead; len(avail) > room {
		avail = avail[:max(room, 0)]
	}
	if !r.bodyChunked {
		if int64(len(avail)) > r.bodyLeft {
			avail = avail[:r.bodyLeft]
		}
		r.upOut = append(r.upOut, avail...)
		cc.keepStreamedBody(avail)
		cc.inPos += len(avail)
		r.bodyLeft -= int64(len(avail))
		r.bodyRead += int64(len(avail))
		r.bodyDone = r.bodyLeft == 0
		return true
	}
	// The body is framed again rather than passed on as it came, so that
	// the upstream sees canonical chunks whatever line endings or
	// extensions the client used: two parsers cannot disagree on where
	// the body ends. What arrived together goes as one chunk, as nginx
	// sends it.
	n, data, done, ok := cc.decodeBody(avail)
	if !ok {
		return false
	}
	if n < len(avail) && !done {
		merged := append(r.chunkScratch[:0], data...)
		for rest := avail[n:]; len(rest) > 0 && !done; {
			k, more, end, ok := cc.decodeBody(rest)
			if !ok {
				return false
			}
			if k == 0 {
				break
			}
			merged = append(merged, more...)
			rest, done = rest[k:], end
		}
		r.chunkScratch, data = merged, merged
	}
	r.upOut = http1.AppendChunk(r.upOut, data)
	cc.keepStreamedBody(data)
	if done {
		r.upOut = http1.AppendLastChunk(r.upOut)
	}
	return true
}

// keepStreamedBody keeps a copy of a streamed body (proxy_request_buffering
// off) for $request_body while it fits in the memory nginx would hold it
// in (the head's buffer and one client_body_buffer_size buffer), when the
// configuration reads the variable; a longer body has none, as its
// first bytes would be gone from nginx's buffers.
func (cc *clientConn) keepStreamedBody(data []byte) {
	r := cc.r
	if !vars.Referenced(vars.RequestBody) || r.streamedOver || len(data) == 0 {
		return
	}
	if r.streamedLimit == 0 {
		r.streamedLimit = cc.bodyMemLimit()
	}
	if len(r.streamedBody)+len(data) > r.streamedLimit {
		r.streamedOver, r.streamedBody = true, r.streamedBody[:0]
		return
	}
	r.streamedBody = append(r.streamedBody, data...)
}

// chunkOverhead bounds what one chunk frame adds to its data: a 16-digit
// hex size and two CRLFs, with the last chunk.
const chunkOverhead = 32

// decodeBody runs the chunked decoder over buffered bytes, enforcing
// client_max_body_size. ok is false when the request was ended.
func (cc *clientConn) decodeBody(avail []byte) (consumed int, data []byte, done, ok bool) {
	r := cc.r
	consumed, data, done, err := r.bodyDec.Next(avail)
	if err != nil {
		cc.failBody(400)
		return 0, nil, false, false
	}
	r.bodyRead += int64(len(data))
	if limit := r.lc.ClientMaxBodySize; limit > 0 && r.bodyRead > limit {
		cc.logError("client intended to send too large chunked body: " + strconv.FormatInt(r.bodyRead, 10) + " bytes")
		cc.failBody(413)
		return 0, nil, false, false
	}
	cc.inPos += consumed
	r.bodyDone = done
	return consumed, data, done, true
}

// bufferBody reads the whole request body, then sends the request
// upstream with a Content-Length, whatever framing the client used, as
// nginx does once it holds the body.
func (cc *clientConn) bufferBody() {
	r := cc.r
	if r.tempWait {
		return
	}
	for !r.bodyDone {
		if cc.inPos < cc.inLen {
			if cc.bodyNeedsFile(cc.inLen-cc.inPos) && !cc.w.tempAvailable() {
				cc.waitForTempFile()
				return
			}
			if !cc.takeBufferedBody() {
				return
			}
			continue
		}
		if !cc.readBody(r.bodyLeft) {
			return
		}
	}
	if r.lc.ClientBodyInFileOnly != conf.BodyFileOff && r.bodyFile == nil {
		// client_body_in_file_only writes even an empty body to a file.
		if !cc.w.tempAvailable() {
			cc.waitForTempFile()
			return
		}
		if !cc.spillBody() {
			return
		}
	}
	cc.c.StopTimer()
	r.bufferBody = false
	r.head.Chunked = false
	r.head.ContentLength = r.bodyRead
	r.upOut = cc.buildUpstreamRequest(cc.w.getBuf()[:0])
	if r.upOut == nil {
		cc.respondError(500)
		return
	}
	// $request_body finds a body held in memory until the request ends,
	// as in nginx, when a configuration names it.
	keep := vars.Referenced(vars.RequestBody)
	if !r.lc.ProxyPassRequestBody || r.lc.ProxySetBody != nil {
		// proxy_pass_request_body off or proxy_set_body: the body was
		// read, as nginx reads it, only to be dropped (one in memory
		// is kept for $request_body; a file is not, as it would be sent).
		if !keep || r.bodyFile != nil {
			r.dropRequestBody(cc.w)
		}
		r.upWhole = true
	} else if r.bodyFile == nil {
		r.upOut = append(r.upOut, r.bodyMem...)
		if !keep {
			cc.w.dropBuf(&r.bodyMem)
		}
		r.upWhole = true
	} else {
		r.upHeadLen = len(r.upOut)
		r.fileOff = 0
	}
	cc.connectNext()
}

// chunkedBodyArrived reports whether the whole chunked body is already in
// the client's buffer, by running a copy of the decoder over it.
func (cc *clientConn) chunkedBodyArrived() bool {
	dec := cc.r.bodyDec
	avail := cc.in[cc.inPos:cc.inLen]
	for {
		consumed, data, done, err := dec.Next(avail)
		if err != nil {
			return false
		}
		if done {
			return true
		}
		if consumed == 0 && data == nil {
			return false
		}
		avail = avail[consumed:]
	}
}

// takeBufferedBody moves the body bytes in the client's buffer to the
// body's store. It returns false when the request was ended.
func (cc *clientConn) takeBufferedBody() bool {
	r := cc.r
	avail := cc.in[cc.inPos:cc.inLen]
	if !r.bodyChunked {
		n := min(int64(len(avail)), r.bodyLeft)
		data := avail[:n]
		cc.inPos += int(n)
		r.bodyLeft -= n
		r.bodyRead += n
		r.bodyDone = r.bodyLeft == 0
		return cc.storeBody(data)
	}
	for cc.inPos < cc.inLen {
		consumed, data, _, ok := cc.decodeBody(cc.in[cc.inPos:cc.inLen])
		if !ok {
			return false
		}
		if !cc.storeBody(data) {
			return false
		}
		if consumed == 0 || r.bodyDone {
			break
		}
	}
	return true
}

// bodyMemLimit is how much of the request's body is kept in memory, as
// nginx keeps it: over HTTP/1 as bodyMemLimit says; an HTTP/2 stream's
// body is read into a buffer of client_body_buffer_size, or of its own
// length when it is known and no larger, and goes to a file once that
// is full, as nginx's HTTP/2 reads it.
func (cc *clientConn) bodyMemLimit() int {
	r := cc.r
	if cc.h2 == nil {
		return bodyMemLimit(r.lc, &r.head, r.headLen, cc.inLen-cc.inPos)
	}
	size := r.lc.ClientBodyBufferSize
	if h := &r.head; !h.Chunked && h.ContentLength >= 0 && h.ContentLength <= int64(size) {
		return int(h.ContentLength)
	}
	return size
}

// bodyMemLimit is how much of an HTTP/1 body is kept in memory, as nginx
// keeps it. nginx reads a head into a buffer of client_header_buffer_size (a
// large header buffer when the head is longer), and the body bytes that
// came into it with the head stay there; the rest is read into a buffer of
// client_body_buffer_size, or of the rest's own size when a known length
// is under a quarter more than that. A body that outgrows its buffers
// goes to a file. headroom reads more at once, so it counts as preread
// only what nginx's header buffer would have held.
func bodyMemLimit(lc *conf.LocConf, h *http1.Request, headLen, avail int) int {
	hdrBuf := lc.ClientHeaderBufferSize
	if headLen > hdrBuf {
		hdrBuf = lc.LargeClientHeaderBuffersSize
	}
	preread := min(avail, max(hdrBuf-headLen, 0))
	size := lc.ClientBodyBufferSize
	if h.Chunked || h.ContentLength < 0 {
		return preread + size
	}
	preread = int(min(int64(preread), h.ContentLength))
	if rest := h.ContentLength - int64(preread); rest < int64(size+size/4) {
		return int(h.ContentLength)
	}
	return preread + size
}

// storeBody keeps body bytes in memory while the body fits in
// bodyMemLimit, and in a temporary file from the first byte that does
// not.
func (cc *clientConn) storeBody(data []byte) bool {
	r := cc.r
	if len(data) == 0 {
		return true
	}
	lc := r.lc
	if r.bodyFile == nil && lc.ClientBodyInFileOnly == conf.BodyFileOff && len(r.bodyMem)+len(data) <= r.bodyMemLimit {
		if r.bodyMem == nil {
			if r.bodyMemLimit <= bufSize {
				r.bodyMem = cc.w.getBuf()[:0]
			} else {
				r.bodyMem = make([]byte, 0, r.bodyMemLimit)
			}
		}
		r.bodyMem = append(r.bodyMem, data...)
		return true
	}
	if r.bodyFile == nil && !cc.spillBody() {
		return false
	}
	return cc.writeBodyFile(data)
}

// spillBody creates the body's temporary file and moves what was held in
// memory into it.
func (cc *clientConn) spillBody() bool {
	r := cc.r
	tf, err := cc.w.openTemp(&r.lc.ClientBodyTempPath)
	if err == errTempBudget {
		// Callers wait for a file before they take bytes that need one;
		// reaching here would lose those bytes, so the request ends.
		cc.failBody(503)
		return false
	}
	if err != nil {
		cc.logAt(logs.Crit, fmt.Sprintf("open() \"%s\" failed (%s)", tf.path, logs.SysError(err)))
		cc.failBody(tempFailStatus(err))
		return false
	}
	tf.keep = r.lc.ClientBodyInFileOnly == conf.BodyFileKeep
	r.bodyFile = tf
	cc.w.stats.BodiesToFile.Inc()
	if r.lc.ClientBodyInFileOnly == conf.BodyFileOff {
		cc.logAt(logs.Warn, "a client request body is buffered to a temporary file "+tf.path)
	}
	mem := r.bodyMem
	r.bodyMem = nil
	ok := cc.writeBodyFile(mem)
	if cap(mem) == bufSize {
		cc.w.putBuf(mem)
	}
	return ok
}

// writeBodyFile appends data to the body's temporary file; a failed write
// (no space left, an I/O error) is logged and answered as nginx answers
// it, never passed on as a shorter body.
func (cc *clientConn) writeBodyFile(data []byte) bool {
	r := cc.r
	tf := r.bodyFile
	for len(data) > 0 {
		n, err := unix.Pwrite(tf.fd, data, tf.size)
		if n > 0 {
			tf.size += int64(n)
			data = data[n:]
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			err = unix.EIO
		}
		cc.logAt(logs.Crit, fmt.Sprintf("pwrite() \"%s\" failed (%s)", tf.path, logs.SysError(err)))
		cc.failBody(500)
		return false
	}
	return true
}

// nextFilePiece reads the next part of a body held in a file into upOut,
// after the request head, which stays at its start so that the request
// can be sent again. It returns false when the request was ended.
func (cc *clientConn) nextFilePiece() bool {
	r := cc.r
	tf := r.bodyFile
	if cap(r.upOut)-r.upHeadLen < bufSize/2 {
		b := make([]byte, r.upHeadLen, r.upHeadLen+bufSize)
		copy(b, r.upOut[:r.upHeadLen])
		cc.w.dropBuf(&r.upOut)
		r.upOut = b
	}
	buf := r.upOut[r.upHeadLen:cap(r.upOut)]
	if rest := tf.size - r.fileOff; int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	n, err := engine.Pread(tf.fd, buf, r.fileOff)
	if n <= 0 {
		if err == nil {
			err = unix.EIO
		}
		cc.logAt(logs.Crit, fmt.Sprintf("pread() \"%s\" failed (%s)", tf.path, logs.SysError(err)))
		if r.up != nil {
			r.up.closeConn()
		}
		r.keepAlive = false
		cc.respondError(500)
		return false
	}
	r.upOut = r.upOut[:r.upHeadLen+n]
	r.upOutOff = r.upHeadLen
	r.fileOff += int64(n)
	return true
}

// fileLeft reports whether part of a body held in a file is still to be
// sent to the current upstream.
func (r *request) fileLeft() bool {
	return r.bodyFile != nil && r.fileOff < r.bodyFile.size
}

// rewind makes the request ready to be sent from its first byte to
// another server.
func (r *request) rewind() {
	r.upOutOff = 0
	if r.bodyFile != nil {
		r.upOut = r.upOut[:r.upHeadLen]
		r.fileOff = 0
	}
}

// canResend reports whether the whole request can be sent again: it has
// all been read from the client, and upOut holds it from its first byte
// or holds its head with the body in a file. This is recorded as the
// request is built and sent, never guessed from what a buffer contains.
func (r *request) canResend() bool {
	return r.bodyDone && (r.upWhole || r.bodyFile != nil)
}

// dropRequestBody releases a body read whole: its memory buffer and its
// temporary file (kept with client_body_in_file_only on, as nginx keeps
// it). A body that is not passed upstream is dropped as soon as it is in.
func (r *request) dropRequestBody(w *worker) {
	w.dropBuf(&r.bodyMem)
	if tf := r.bodyFile; tf != nil {
		w.closeTemp(tf)
		r.bodyFile = nil
	}
}

// dropBody releases what a request buffered: its body's memory buffer to
// the pool and temporary file closed and, unless it is to be kept,
// removed; and its response's spool.
func (r *request) dropBody(w *worker) {
	r.closeFile()
	r.cache.release(w)
	r.dropRequestBody(w)
	w.dropBuf(&r.spoolScratch)
	r.spool.release(w)
}

// bodyNeedsFile reports whether taking up to avail more buffered bytes of
// the body needs a temporary file that the request does not have yet: a
// file is asked for (client_body_in_file_only), or the bytes would not fit
// in memory. For a chunked body avail counts its framing too, so the
// answer errs towards a file.
func (cc *clientConn) bodyNeedsFile(avail int) bool {
	r := cc.r
	if r.bodyFile != nil {
		return false
	}
	if r.lc.ClientBodyInFileOnly != conf.BodyFileOff {
		return true
	}
	n := int64(avail)
	if !r.bodyChunked {
		n = min(n, r.bodyLeft)
	}
	return int64(len(r.bodyMem))+n > int64(r.bodyMemLimit)
}
