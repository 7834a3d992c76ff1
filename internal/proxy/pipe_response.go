package proxy

import (
	"time"

	"headroom/internal/engine"
	"headroom/internal/http1"
)

// This file is the response side of the body pipe: the upstream's body
// relayed to the client, through the spool (memory buffers, then a
// temporary file) when the client reads slower than the upstream sends.

// relayResponse moves the response body from the upstream to the client.
// What the upstream sent is framed for the client into out, so that a
// small response leaves in one write with its head. While the client
// keeps up, the upstream is read again only when out was written, so a
// response costs one buffer. When the client falls behind and the
// response is buffered (proxy_buffering), the upstream is read on into
// the response's spool (memory, then a temporary file; see spool.go), so
// that the upstream connection is released as soon as the response is
// in; without buffering, or with the spool full, the upstream waits for
// the client.
func (cc *clientConn) relayResponse() {
	r := cc.r
	for {
		stalled := r.body != nil && r.body.stalled()
		if stalled {
			// An SSI include's answer takes the command's place: what it
			// wrote is framed as the client has room, the upstream's
			// bytes read so far wait in the SSI stage, and no more are
			// read until it ends (it wakes the answer).
			if r.spool.empty() && len(cc.out)+chunkOverhead < cap(cc.out) && !cc.consumeFiltered(&cc.out) {
				return
			}
		} else if !r.respDone && (r.upPos < r.upInLen || r.framing == http1.FramingNone || r.framing == http1.FramingLength && r.respLeft == 0 ||
			r.body != nil && (r.body.pending() || r.upDone)) {
			// Upstream bytes go to out while nothing waits in the spool
			// before them and out has room; else to the spool.
			if r.spool.empty() && len(cc.out)+chunkOverhead < cap(cc.out) {
				if !cc.consumeResponse(&cc.out) {
					return
				}
				continue
			}
			if r.spooling && r.spool.room(r.lc) > chunkOverhead {
				if !cc.spoolResponse() {
					return
				}
				continue
			}
		}
		blocked := false
		if cc.outOff < len(cc.out) && (r.body == nil || !r.body.holdsHead()) && !cc.flush() {
			if cc.state == connClosed {
				return
			}
			blocked = true
		}
		if !blocked && !r.spool.empty() {
			if !cc.refillOut() {
				return
			}
			continue
		}
		if stalled && !blocked && r.body.outOff < len(r.body.out) {
			// More of what an include wrote waits for room in out.
			continue
		}
		if r.respDone {
			switch {
			case r.cache.fill:
				cc.fillDone()
			case blocked:
			case r.cutShort:
				cc.abort()
			default:
				cc.finish()
			}
			return
		}
		if r.upDone {
			// The upstream's part is over; compressed bytes still wait
			// for room in out or the spool.
			if blocked || stalled {
				return
			}
			continue
		}
		uc := r.up
		if stalled {
			if !r.upRateDelayed {
				uc.c.StopTimer()
			}
			return
		}
		if blocked && (!r.spooling || r.spool.room(r.lc) <= chunkOverhead) {
			// The client holds the response back: the upstream waits
			// (its timer stays if it is proxy_limit_rate's pause).
			if !r.upRateDelayed {
				uc.c.StopTimer()
			}
			return
		}
		if r.upPos < r.upInLen {
			continue
		}
		room := r.upIn
		if r.spooling && r.lc.ProxyLimitRate > 0 {
			if r.upRateDelayed {
				return
			}
			allowed := cc.upRateAllowance()
			if allowed <= 0 {
				cc.upRateDelay(time.Duration(-allowed*1000/r.lc.ProxyLimitRate+1) * time.Millisecond)
				return
			}
			room = room[:min(int64(len(room)), allowed)]
		}
		if !uc.tr.Readable() {
			uc.c.SetTimer(r.lc.ProxyReadTimeout)
			return
		}
		n, err := uc.tr.Read(room)
		if n > 0 {
			uc.recv += int64(n)
			r.upPos, r.upInLen = 0, n
			if r.spooling && r.lc.ProxyLimitRate > 0 {
				r.upRead += int64(n)
				if d := time.Duration(int64(n)*1000/r.lc.ProxyLimitRate) * time.Millisecond; d > 0 {
					cc.upRateDelay(d)
				}
			}
			continue
		}
		if err == engine.ErrAgain {
			continue
		}
		if r.framing == http1.FramingClose {
			r.upPos, r.upInLen = 0, 0
			if r.spool.empty() {
				if !cc.endResponse(&cc.out, false) {
					return
				}
			} else if !cc.spoolEnd() {
				return
			}
			continue
		}
		cc.logError("upstream prematurely closed connection while reading upstream")
		if cc.fillFailed(502) {
			return
		}
		cc.upLogAppend(r.peer.Conf.Addr, r.status)
		if !r.spool.empty() {
			// What was read waits in the spool for a slow client: it
			// is written first, as nginx writes what it read, and the
			// connection closes after it (cutShort) with no end of
			// its own, so the client still learns of the truncation.
			r.up.release(false)
			r.upDone, r.respDone, r.cutShort, r.keepAlive = true, true, true, false
			cc.w.dropBuf(&r.upIn)
			r.upInLen, r.upPos = 0, 0
			continue
		}
		// What was relayed stays relayed; the client learns of the
		// truncation from the closed connection.
		cc.flushAndAbort()
		return
	}
}

// consumeResponse moves buffered upstream bytes into *dst with the
// client's framing, no more than *dst has room for. It returns false when
// the request ended.
func (cc *clientConn) consumeResponse(dst *[]byte) bool {
	r := cc.r
	if r.body != nil {
		return cc.consumeFiltered(dst)
	}
	avail := r.upIn[r.upPos:r.upInLen]
	if room := cap(*dst) - len(*dst) - chunkOverhead; len(avail) > room {
		avail = avail[:max(room, 0)]
	}
	switch r.framing {
	case http1.FramingNone:
		cc.endResponse(dst, r.upPos == r.upInLen)
	case http1.FramingLength:
		if int64(len(avail)) > r.respLeft {
			avail = avail[:r.respLeft]
		}
		cc.cacheWrite(avail)
		switch {
		case r.cache.fill:
		case r.chunkOut:
			// Chunked for trailers although its length is known.
			if len(avail) > 0 {
				*dst = http1.AppendChunk(*dst, avail)
			}
		default:
			*dst = append(*dst, avail...)
		}
		r.upPos += len(avail)
		r.respLeft -= int64(len(avail))
		r.bodySent += int64(len(avail))
		if r.respLeft == 0 {
			cc.endResponse(dst, r.upPos == r.upInLen)
		}
	case http1.FramingChunked:
		// The decoder keeps its state between calls, so a chunk header
		// split across reads needs nothing special here.
		consumed, data, done, err := r.respDec.Next(avail)
		if err != nil {
			cc.logError("upstream sent invalid chunked response while reading upstream")
			if cc.fillFailed(502) {
				return false
			}
			cc.flushAndAbort()
			return false
		}
		r.upPos += consumed
		r.bodySent += int64(len(data))
		cc.cacheWrite(data)
		switch {
		case r.cache.fill:
		case r.chunkOut:
			*dst = http1.AppendChunk(*dst, data)
		default:
			*dst = append(*dst, data...)
		}
		if done {
			cc.endResponse(dst, r.upPos == r.upInLen)
		}
	case http1.FramingClose:
		cc.cacheWrite(avail)
		switch {
		case r.cache.fill:
		case r.chunkOut:
			*dst = http1.AppendChunk(*dst, avail)
		default:
			*dst = append(*dst, avail...)
		}
		r.bodySent += int64(len(avail))
		r.upPos += len(avail)
	}
	return true
}

// consumeFiltered is consumeResponse for an answer whose body filters
// change it (bodyfilter.go): what the filters made goes out first; then
// the upstream's body bytes (their framing taken off) go through the
// filters; at the body's end the filters finish (gzip's trailer). It
// returns false when the request ended.
func (cc *clientConn) consumeFiltered(dst *[]byte) bool {
	r := cc.r
	f := r.body
	if !cc.drainBody(dst) {
		if cc.bodyFailed() {
			return false
		}
		if !f.stalled() || r.upPos == r.upInLen || r.upDone {
			return true
		}
		// An include runs: the bytes read so far are held by SSI below.
	} else {
		if cc.bodyFailed() {
			return false
		}
		if r.upDone {
			cc.endClientResponse(dst)
			return true
		}
	}
	avail := r.upIn[r.upPos:r.upInLen]
	if room := cap(*dst) - len(*dst) - chunkOverhead; len(avail) > room {
		avail = avail[:max(room, 0)]
	}
	var data []byte
	done := false
	switch r.framing {
	case http1.FramingLength:
		if int64(len(avail)) > r.respLeft {
			avail = avail[:r.respLeft]
		}
		data = avail
		r.upPos += len(avail)
		r.respLeft -= int64(len(avail))
		done = r.respLeft == 0
	case http1.FramingChunked:
		consumed, d, end, err := r.respDec.Next(avail)
		if err != nil {
			cc.logError("upstream sent invalid chunked response while reading upstream")
			if cc.fillFailed(502) {
				return false
			}
			cc.flushAndAbort()
			return false
		}
		r.upPos += consumed
		data, done = d, end
	case http1.FramingClose:
		data = avail
		r.upPos += len(avail)
	default:
		done = true
	}
	cc.cacheWrite(data)
	f.write(data)
	if cc.bodyFailed() {
		return false
	}
	if done {
		return cc.endResponse(dst, r.upPos == r.upInLen)
	}
	cc.drainBody(dst)
	return !cc.bodyFailed()
}

// endResponse completes the response from the upstream's side: the
// upstream connection goes back to its pool (when nothing extra was sent
// and the server keeps it open) and the attempt to the log record; then
// the client's side ends (endClientResponse), at once unless compressed
// bytes still wait for room. With a buffered response the client may
// still be reading; the upstream is free already.
func (cc *clientConn) endResponse(dst *[]byte, clean bool) bool {
	r := cc.r
	r.upDone = true
	if r.cache.w != nil && !r.cache.fill {
		// The answer is whole: it is stored now, whatever the client
		// still has to read.
		cc.cacheCommit()
	}
	if f := r.body; f != nil {
		f.finish()
		drained := cc.drainBody(dst)
		if f.failed {
			// The upstream's part went well; the answer cannot end.
			cc.releaseUpstream(clean)
			cc.bodyFailed()
			return false
		}
		if !drained {
			cc.releaseUpstream(clean)
			return true
		}
	}
	// The try is recorded first: trailers may read $upstream_*.
	cc.releaseUpstream(clean)
	cc.endClientResponse(dst)
	return true
}

// endClientResponse ends the response as the client sees it: the last
// chunk for a chunked client goes to *dst.
func (cc *clientConn) endClientResponse(dst *[]byte) {
	r := cc.r
	r.respDone = true
	if r.chunkOut {
		*dst = cc.appendLastChunk(*dst)
	}
}

// releaseUpstream is the upstream's side of the response's end.
func (cc *clientConn) releaseUpstream(clean bool) {
	r := cc.r
	cc.upLogAppend(r.peer.Conf.Addr, r.resp.Status)
	if r.up != nil {
		reusable := clean && r.framing != http1.FramingClose && r.resp.KeepAlive && r.bodyDone && r.upOutOff == len(r.upOut) && !r.fileLeft()
		r.group.Success(r.peer, cc.w.loop.Now())
		r.up.release(reusable)
	}
	if upHeadsWanted() {
		cc.keepUpstreamHeads()
	}
	cc.w.dropBuf(&r.upIn)
	r.upInLen, r.upPos = 0, 0
}
