package proxy

import (
	"headroom/internal/engine"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

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
			cc.c.StopTimer()
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
		cc.inPos += len(avail)
		r.bodyLeft -= int64(len(avail))
		r.bodyRead += int64(len(avail))
		r.bodyDone = r.bodyLeft == 0
		return true
	}
	_, data, done, ok := cc.decodeBody(avail)
	if !ok {
		return false
	}
	// The body is framed again rather than passed on as it came, so that
	// the upstream sees canonical chunks whatever line endings or
	// extensions the client used: two parsers cannot disagree on where
	// the body ends.
	r.upOut = http1.AppendChunk(r.upOut, data)
	if done {
		r.upOut = http1.AppendLastChunk(r.upOut)
	}
	return true
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
		cc.w.srv.log.Logf(logs.Error, cc.w.id, "client intended to send too large chunked body: %d bytes, client: %s", r.bodyRead, cc.remote.Addr())
		cc.failBody(413)
		return 0, nil, false, false
	}
	cc.inPos += consumed
	r.bodyDone = done
	return consumed, data, done, true
}
