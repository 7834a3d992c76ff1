package proxy

import (
	"bytes"
	"strconv"
	"time"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/http1"
)

// buildUpstreamRequest appends the request as sent upstream: the request
// line with proxy_http_version (and proxy_method's method), the
// proxy_set_header fields, the body framing, then the client's fields
// (unless proxy_pass_request_headers is off) except those the proxy sets
// itself and the hop-by-hop ones, in nginx's order; and proxy_set_body's
// body.
func (cc *clientConn) buildUpstreamRequest(b []byte) []byte {
	r := cc.r
	h := &r.head
	lc := r.lc
	if lc.ProxyMethod == nil {
		b = append(b, h.Method...)
	} else {
		b = cc.appendProxyMethod(b)
	}
	b = append(b, ' ')
	b = appendUpstreamURI(b, r)
	b = append(b, " HTTP/"...)
	b = append(b, lc.ProxyHTTPVersion...)
	b = append(b, "\r\n"...)
	for _, ph := range lc.ProxySetHeaders {
		start := len(b)
		b = append(b, ph.Name...)
		b = append(b, ": "...)
		vstart := len(b)
		b = cc.eval(b, ph.Value)
		if len(b) == vstart {
			b = b[:start]
			continue
		}
		b = append(b, "\r\n"...)
	}
	// The body's framing comes where nginx's default list puts it, after
	// Host and Connection: the defaults after it (TE, Keep-Alive, Expect,
	// Upgrade) are empty unless configured, and configured fields come
	// first. A configured Content-Length or Transfer-Encoding replaces
	// it, as it replaces nginx's default.
	var body []byte
	switch {
	case lc.ProxySetBody != nil:
		body = cc.eval(cc.w.getBuf()[:0], lc.ProxySetBody)
		if !lc.ProxySetContentLength {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, int64(len(body)), 10)
			b = append(b, "\r\n"...)
		}
	case h.Chunked:
		if !lc.ProxySetTransferEncoding {
			b = append(b, "Transfer-Encoding: chunked\r\n"...)
		}
	case h.ContentLength >= 0:
		if !lc.ProxySetContentLength {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, h.ContentLength, 10)
			b = append(b, "\r\n"...)
		}
	}
	if lc.ProxyPassRequestHeaders {
		for i := range h.Headers {
			f := &h.Headers[i]
			if skipClientHeader(f.Name, lc, h.ConnectionHeader) {
				continue
			}
			b = append(b, f.Name...)
			b = append(b, ": "...)
			b = append(b, f.Value...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)
	if body != nil {
		b = append(b, body...)
		cc.w.putBuf(body)
	}
	return b
}

// skipClientHeader reports whether a client field is not passed upstream:
// it is set by proxy_set_header (including nginx's defaults, where an
// empty value drops it), it frames the body (re-sent by headroom), or it
// is hop-by-hop (RFC 9110 7.6.1).
func skipClientHeader(name []byte, lc *conf.LocConf, connection []byte) bool {
	for i := range lc.ProxySetHeaders {
		if http1.EqualFold(name, lc.ProxySetHeaders[i].Name) {
			return true
		}
	}
	if bytes.IndexByte(name, '_') >= 0 {
		// nginx ignores fields with underscores (underscores_in_headers
		// off), so they never reach the upstream.
		return true
	}
	if isHopByHop(name) || http1.EqualFold(name, "Content-Length") {
		return true
	}
	if len(name) > 6 && http1.EqualFold(name[:6], "Proxy-") && !http1.EqualFold(name, "Proxy-Authorization") {
		return true
	}
	return len(connection) > 0 && http1.HasToken(connection, string(name))
}

// isHopByHop reports the fields that describe one connection, not the
// message (RFC 9110 7.6.1, RFC 9112 6.1 and 7).
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return http1.EqualFold(name, "TE")
	case 7:
		return http1.EqualFold(name, "Trailer") || http1.EqualFold(name, "Upgrade")
	case 10:
		return http1.EqualFold(name, "Connection") || http1.EqualFold(name, "Keep-Alive")
	case 17:
		return http1.EqualFold(name, "Transfer-Encoding")
	}
	return false
}

// readResponse reads and handles the upstream's response head.
func (cc *clientConn) readResponse() {
	r := cc.r
	if r.respHead {
		cc.relayResponse()
		return
	}
	uc := r.up
	// The head must fit in proxy_buffer_size, as in nginx.
	hs := r.lc.ProxyBufferSize
	limits := http1.Limits{MaxRequestLine: hs, MaxHeaderLine: hs, MaxHeaderBytes: hs, MaxHeaders: 1000}
	for {
		if r.upIn == nil {
			if hs > bufSize {
				r.upIn = make([]byte, hs)
			} else {
				r.upIn = cc.w.getBuf()
			}
			r.upInLen, r.upPos = 0, 0
		}
		if r.upInLen > r.upPos {
			n, err := http1.ParseResponse(r.upIn[r.upPos:r.upInLen], &r.resp, &limits)
			if err == nil {
				if r.resp.Status >= 100 && r.resp.Status < 200 && r.resp.Status != 101 {
					// Interim responses are dropped; the client got its
					// own 100 Continue.
					r.upPos += n
					continue
				}
				r.upPos += n
				cc.startResponse()
				return
			}
			if err != http1.ErrNeedMore {
				cc.upstreamFailed(failInvalidHeader, nil, "upstream sent invalid header while reading response header from upstream")
				return
			}
			if r.upInLen == len(r.upIn) {
				if r.upPos > 0 {
					n := copy(r.upIn, r.upIn[r.upPos:r.upInLen])
					r.upInLen, r.upPos = n, 0
				} else {
					cc.upstreamFailed(failInvalidHeader, nil, "upstream sent too big header while reading response header from upstream")
					return
				}
			}
		}
		if !uc.tr.Readable() {
			return
		}
		n, err := uc.tr.Read(r.upIn[r.upInLen:])
		if n > 0 {
			uc.recv += int64(n)
			r.upInLen += n
			continue
		}
		if err == engine.ErrAgain {
			return
		}
		if err == nil {
			cc.upstreamFailed(failError, nil, "upstream prematurely closed connection while reading response header from upstream")
		} else {
			cc.upstreamFailed(failError, err, "recv() failed (%s) while reading response header from upstream")
		}
		return
	}
}

// startResponse sends the response head to the client and starts
// relaying the body.
func (cc *clientConn) startResponse() {
	r := cc.r
	resp := &r.resp
	w := cc.w
	now := w.loop.Now()
	r.upHeader = now.Sub(r.upStart)
	if uc := r.up; uc != nil {
		// What follows the head in the buffer is body.
		uc.headBytes = uc.recv - int64(r.upInLen-r.upPos)
	}
	r.group.stats[r.peer.Server].Response.Observe(r.upHeader)
	// proxy_next_upstream on status: only before anything went to the
	// client, which is always the case here.
	if cond := statusCondition(resp.Status); cond != 0 {
		if cc.canRetry(cond, false) {
			cc.upLogAppend(r.peer.Conf.Addr, resp.Status)
			if cond&(conf.NextHTTP500|conf.NextHTTP502|conf.NextHTTP503|conf.NextHTTP504|conf.NextHTTP429) != 0 && cond != conf.NextHTTP403 {
				r.group.fail(r.peer, now)
			}
			r.up.closeConn()
			r.upInLen, r.upPos = 0, 0
			cc.connectNext()
			return
		}
	}
	r.respHead = true
	r.spooling = resp.Status != 101 && responseBuffered(r.lc, resp)
	r.upReadStart = now
	r.limitRate = responseLimitRate(r.lc, resp)
	r.status = resp.Status
	// An answer to HEAD has no body, whether the client or proxy_method
	// asked for it.
	r.framing = http1.ResponseFraming(isHead(&r.head) || r.upHead, resp)
	if r.framing == http1.FramingChunked {
		r.respDec.Reset()
	}
	r.respLeft = resp.ContentLength
	upgrade := resp.Status == 101
	if upgrade && !r.head.Upgrade {
		cc.upstreamFailed(failInvalidHeader, nil, "upstream sent unexpected 101 response while reading response header from upstream")
		return
	}
	if r.head.Minor == 0 && (r.framing == http1.FramingChunked || r.framing == http1.FramingClose) {
		r.keepAlive = false
	}
	r.chunkOut = r.head.Minor >= 1 && (r.framing == http1.FramingClose || r.framing == http1.FramingChunked)
	if r.framing == http1.FramingClose && !r.chunkOut {
		r.keepAlive = false
	}
	if r.lc.ProxyMethod != nil {
		cc.proxyMethodFraming()
	}
	if upgrade || !r.bodyDone {
		// After an upgrade the connection is the tunnel's; and a
		// response that came before the whole request body leaves the
		// rest of the body unread, so the connection cannot carry
		// another request.
		r.keepAlive = false
	}
	cc.outBuf()
	b := cc.out
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(resp.Status), 10)
	b = append(b, ' ')
	if len(resp.Reason) > 0 {
		b = append(b, resp.Reason...)
	} else if reason, ok := reasons[resp.Status]; ok {
		b = append(b, reason...)
	}
	// headroom's Server and Date, unless proxy_pass_header passes the
	// upstream's.
	hidden := r.lc.ProxyHideHeaders
	if hidden == nil {
		b = append(b, "\r\nServer: "+serverHeader+"\r\nDate: "...)
		b = append(b, w.httpDate()...)
	} else {
		b = cc.appendOwnServerDate(b, hidden)
	}
	cookies := r.lc.ProxyCookieDomains != nil || r.lc.ProxyCookiePaths != nil || r.lc.ProxyCookieFlags != nil
	for i := range resp.Headers {
		f := &resp.Headers[i]
		if hideResponseHeader(f.Name, resp.ConnectionHeader, r.framing, hidden) {
			continue
		}
		if cookies && http1.EqualFold(f.Name, "Set-Cookie") {
			b = append(b, "\r\n"...)
			b = append(b, f.Name...)
			b = append(b, ": "...)
			b = cc.appendSetCookie(b, f.Value)
			continue
		}
		if http1.EqualFold(f.Name, "Location") {
			if loc, ok := cc.rewriteRedirect(f.Value); ok {
				b = append(b, "\r\nLocation: "...)
				b = append(b, loc...)
				continue
			}
		}
		b = append(b, "\r\n"...)
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
	}
	switch {
	case upgrade:
		b = append(b, "\r\nUpgrade: "...)
		b = append(b, headerValue(resp.Headers, "Upgrade")...)
		b = append(b, "\r\nConnection: upgrade"...)
	case r.chunkOut:
		b = append(b, "\r\nTransfer-Encoding: chunked"...)
		b = cc.appendConnection(b)
	default:
		b = cc.appendConnection(b)
	}
	b = cc.appendAddHeaders(b, resp.Status)
	b = append(b, "\r\n\r\n"...)
	cc.out = b
	r.up.c.StopTimer()
	if upgrade {
		cc.startTunnel()
		return
	}
	cc.relayResponse()
}

// statusCondition maps a status to its proxy_next_upstream condition.
func statusCondition(status int) conf.NextUpstream {
	switch status {
	case 500:
		return conf.NextHTTP500
	case 502:
		return conf.NextHTTP502
	case 503:
		return conf.NextHTTP503
	case 504:
		return conf.NextHTTP504
	case 403:
		return conf.NextHTTP403
	case 404:
		return conf.NextHTTP404
	case 429:
		return conf.NextHTTP429
	}
	return 0
}

func headerValue(hs []http1.Header, name string) []byte {
	for i := range hs {
		if http1.EqualFold(hs[i].Name, name) {
			return hs[i].Value
		}
	}
	return nil
}

// hideResponseHeader reports whether an upstream field is not passed to
// the client: the hidden ones (nil hidden: those nginx hides by default,
// Date and Server, replaced by its own, X-Pad and five X-Accel fields;
// else the list proxy_hide_header and proxy_pass_header made),
// hop-by-hop ones, and the body framing, which headroom sets for the
// client's connection.
func hideResponseHeader(name, connection []byte, framing http1.Framing, hidden []string) bool {
	if isHopByHop(name) {
		return true
	}
	// Content-Length stays when it frames the body, and for HEAD, 204 and
	// 304 answers, where it describes the body not sent; as in nginx,
	// hiding it changes nothing.
	if http1.EqualFold(name, "Content-Length") {
		return framing == http1.FramingChunked || framing == http1.FramingClose
	}
	if hidden == nil {
		if hiddenByDefault(name) {
			return true
		}
	} else if listedField(hidden, name) {
		return true
	}
	if len(name) > 6 && http1.EqualFold(name[:6], "Proxy-") {
		return true
	}
	return len(connection) > 0 && http1.HasToken(connection, string(name))
}

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
		if !r.respDone && (r.upPos < r.upInLen || r.framing == http1.FramingNone) {
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
		if cc.outOff < len(cc.out) && !cc.flush() {
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
		if r.respDone {
			if !blocked {
				cc.finish()
			}
			return
		}
		uc := r.up
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
				cc.endResponse(&cc.out, false)
			} else if !cc.spoolEnd() {
				return
			}
			continue
		}
		cc.logError("upstream prematurely closed connection while reading upstream")
		cc.upLogAppend(r.peer.Conf.Addr, r.status)
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
		*dst = append(*dst, avail...)
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
			cc.flushAndAbort()
			return false
		}
		r.upPos += consumed
		r.bodySent += int64(len(data))
		if r.chunkOut {
			*dst = http1.AppendChunk(*dst, data)
		} else {
			*dst = append(*dst, data...)
		}
		if done {
			cc.endResponse(dst, r.upPos == r.upInLen)
		}
	case http1.FramingClose:
		if r.chunkOut {
			*dst = http1.AppendChunk(*dst, avail)
		} else {
			*dst = append(*dst, avail...)
		}
		r.bodySent += int64(len(avail))
		r.upPos += len(avail)
	}
	return true
}

// endResponse completes the response from the upstream's side: the last
// chunk for a chunked client goes to *dst, the upstream connection back
// to its pool (when nothing extra was sent and the server keeps it open)
// and the attempt to the log record. With a buffered response the client
// may still be reading; the upstream is free already.
func (cc *clientConn) endResponse(dst *[]byte, clean bool) {
	r := cc.r
	r.respDone = true
	if r.chunkOut {
		*dst = http1.AppendLastChunk(*dst)
	}
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

// rewriteRedirect applies nginx's "proxy_redirect default" to an
// upstream's Location: a value that starts with the proxy_pass URL has
// that part replaced by the location's name (by "/" when proxy_pass has no
// URI part), and the result, now local, is made absolute as nginx makes
// its own redirects. ok is false when the value does not match.
func (cc *clientConn) rewriteRedirect(v []byte) ([]byte, bool) {
	r := cc.r
	pp := r.lc.ProxyPass
	if pp == nil {
		return nil, false
	}
	pattern, replacement := "http://"+pp.Host+"/", "/"
	if pp.HasURI && r.loc != nil && r.loc.Match != conf.MatchRegex && r.loc.Match != conf.MatchRegexCaseless {
		pattern, replacement = "http://"+pp.Host+pp.URI, r.loc.Path
	}
	if !hasPrefix(v, pattern) {
		return nil, false
	}
	local := append([]byte(replacement), v[len(pattern):]...)
	if len(local) > 0 && local[0] == '/' {
		return cc.absoluteURL(local), true
	}
	return local, true
}
