package proxy

import (
	"bytes"
	"headroom/internal/conf"
	"headroom/internal/http1"
)

// This file turns the upstream's response head into the client's: hidden
// and passed fields, redirects rewritten, framing.

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
	if r.cache.status == cacheExpired && cc.cacheOnStatus(resp, statusCondition(resp.Status)) {
		return
	}
	if cc.accelRedirect(resp) {
		return
	}
	if r.lc.ProxyInterceptErrors && resp.Status >= 300 && r.lc.FindErrorPage(resp.Status) != nil {
		// proxy_intercept_errors: the upstream's answer is dropped and
		// the error page sent instead; a 401 keeps the upstream's
		// (first) WWW-Authenticate, as nginx 1.22 keeps it.
		if v := headerValue(resp.Headers, "WWW-Authenticate"); resp.Status == 401 && v != nil {
			kept := append([]byte("WWW-Authenticate"), v...)
			r.carried = append(r.carried[:0], http1.Header{Name: kept[:16], Value: kept[16:]})
		}
		cc.cacheErrorAnswer(resp)
		cc.upLogAppend(r.peer.Conf.Addr, resp.Status)
		r.up.closeConn()
		r.upInLen, r.upPos = 0, 0
		cc.respondError(resp.Status)
		return
	}
	r.respHead = true
	r.spooling = resp.Status != 101 && responseBuffered(r.lc, resp)
	if r.cache.cacheable {
		cc.cacheStore(resp)
	}
	fill := r.cache.fill
	if fill {
		// The answer goes to the cache file first; the client gets it
		// from there (cache.go).
		r.spooling = false
	}
	r.upReadStart = now
	cc.startRateLimit(responseLimitRate(r.lc, resp, cc.limitRateFor()))
	r.status = resp.Status
	// An answer to HEAD has no body, whether the client or proxy_method
	// asked for it; but a HEAD sent as GET to be stored reads the body
	// into the cache.
	upstreamHead := r.upHead || isHead(&r.head) && !r.cache.getHead && r.lc.ProxyMethod == nil
	r.framing = http1.ResponseFraming(upstreamHead || isHead(&r.head) && !fill, resp)
	if r.cache.getHead && !fill && (resp.Chunked || resp.ContentLength != 0) {
		// The GET's body is left unread.
		resp.KeepAlive = false
	}
	if r.framing == http1.FramingChunked {
		r.respDec.Reset()
	}
	r.respLeft = resp.ContentLength
	// A 101 switches protocols only for a client's own request that
	// asked to upgrade; otherwise, as in nginx, it is passed on as an
	// answer without a body, and the upstream connection is not kept.
	upgrade := resp.Status == 101 && r.head.Upgrade && cc.sub == nil
	if resp.Status == 101 && !upgrade {
		resp.KeepAlive = false
	}
	if r.head.Minor == 0 && (r.framing == http1.FramingChunked || r.framing == http1.FramingClose) {
		r.keepAlive = false
	}
	r.chunkOut = !fill && cc.chunkable() && (r.framing == http1.FramingClose || r.framing == http1.FramingChunked)
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
	r.up.c.StopTimer()
	if fill {
		// Nothing of the body goes into out, but the relay takes the
		// body through it. A HEAD request gets the upstream's head now.
		cc.outBuf()
		if r.cache.headFirst {
			cc.writeHead(cc.responseHead(resp, false))
		}
		cc.relayResponse()
		return
	}
	h := cc.responseHead(resp, upgrade)
	if r.cache.cacheable && resp.Status == 200 && r.cache.w == nil && cc.cacheConditional(h) {
		return
	}
	cc.writeHead(h)
	if upgrade {
		cc.startTunnel()
		return
	}
	cc.relayResponse()
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

// rewriteRedirect applies proxy_redirect to an upstream's Location (or
// the URL of its Refresh): the first rule that matches replaces its part;
// without rules (and not off) nginx's default: a value that starts with
// the proxy_pass URL has that part replaced by the location's name (by
// "/" when proxy_pass has no URI part). The result, when local, is
// written absolute as nginx writes its own redirects (see writeHead). ok
// is false when no rule matches.
func (cc *clientConn) rewriteRedirect(v []byte) ([]byte, bool) {
	r := cc.r
	lc := r.lc
	if lc.ProxyRedirectOff {
		return nil, false
	}
	if len(lc.ProxyRedirects) > 0 {
		for i := range lc.ProxyRedirects {
			if out, ok := cc.rewriteCookieValue(nil, v, &lc.ProxyRedirects[i], false); ok {
				return out, true
			}
		}
		return nil, false
	}
	pp := lc.ProxyPass
	if pp == nil || pp.URL != nil {
		// "proxy_redirect default" does nothing for a proxy_pass with
		// variables, as in nginx.
		return nil, false
	}
	pattern, replacement := "http://"+pp.Host+"/", "/"
	if pp.HasURI && r.loc != nil && r.loc.Match != conf.MatchRegex && r.loc.Match != conf.MatchRegexCaseless {
		pattern, replacement = "http://"+pp.Host+pp.URI, r.loc.Path
	}
	if !hasPrefix(v, pattern) {
		return nil, false
	}
	return append([]byte(replacement), v[len(pattern):]...), true
}

// rewriteRefresh applies proxy_redirect to the URL of a Refresh field,
// the part after its "url=".
func (cc *clientConn) rewriteRefresh(v []byte) ([]byte, bool) {
	i := bytes.Index(bytes.ToLower(v), []byte("url="))
	if i < 0 {
		return nil, false
	}
	out, ok := cc.rewriteRedirect(v[i+4:])
	if !ok {
		return nil, false
	}
	return append(append([]byte(nil), v[:i+4]...), out...), true
}

// responseHead makes the client's response head from the upstream's, as
// nginx's upstream module copies it into headers_out: hidden fields
// dropped, Set-Cookie and Location rewritten, Content-Type and
// Content-Length taken out to be written where nginx writes them, the
// rest in order.
func (cc *clientConn) responseHead(resp *http1.Response, upgrade bool) *outHead {
	r := cc.r
	h := &r.outHead
	h.reset()
	h.status = resp.Status
	if pp := r.proxyPass(); len(resp.Reason) > 0 || pp != nil && pp.Protocol.Gateway() {
		// An application's Status is sent as it came, even without a
		// reason phrase.
		h.reason = resp.Reason
	}
	// headroom's Server and Date, unless proxy_pass_header passes the
	// upstream's.
	hidden := r.lc.ProxyHideHeaders
	h.server = hidden == nil || listedField(hidden, []byte("Server"))
	h.date = hidden == nil || listedField(hidden, []byte("Date"))
	// An application's Date, Server and X-Pad pass by default, as the
	// FastCGI, SCGI and uwsgi modules of nginx hide none of them;
	// headroom's own Date and Server go out only where the application
	// sent none.
	proto := conf.ProtoHTTP
	if pp := r.proxyPass(); pp != nil {
		proto = pp.Protocol
	}
	fcgiDefaults := hidden == nil && proto.Gateway()
	// The FastCGI and SCGI modules hide an application's Status field
	// whatever X_hide_header lists; nginx's uwsgi module passes it on.
	hideStatus := proto == conf.ProtoFastCGI || proto == conf.ProtoSCGI
	if fcgiDefaults {
		h.server = headerValue(resp.Headers, "Server") == nil
		h.date = headerValue(resp.Headers, "Date") == nil
	}
	cookies := r.lc.ProxyCookieDomains != nil || r.lc.ProxyCookiePaths != nil || r.lc.ProxyCookieFlags != nil
	for i := range resp.Headers {
		f := &resp.Headers[i]
		if upgrade && http1.EqualFold(f.Name, "Upgrade") {
			// The protocol switched to is passed where the upstream put
			// it, though hop-by-hop.
			h.add(f.Name, f.Value)
			continue
		}
		if len(f.Value) > 0 && r.lc.ProxyIgnoreHeaders&conf.IgnoreXAccelCharset == 0 && http1.EqualFold(f.Name, "X-Accel-Charset") {
			h.overrideCharset = f.Value
		}
		if hideStatus && http1.EqualFold(f.Name, "Status") {
			continue
		}
		if fcgiDefaults && (http1.EqualFold(f.Name, "Date") || http1.EqualFold(f.Name, "Server") || http1.EqualFold(f.Name, "X-Pad")) {
			h.add(f.Name, f.Value)
			continue
		}
		if hideResponseHeader(f.Name, resp.ConnectionHeader, r.framing, hidden) {
			continue
		}
		switch {
		case http1.EqualFold(f.Name, "Content-Type"):
			h.fieldType = f.Value
			continue
		case http1.EqualFold(f.Name, "Content-Length"):
			h.contentLength = resp.ContentLength
			continue
		case cookies && http1.EqualFold(f.Name, "Set-Cookie"):
			start := len(h.scratch)
			h.scratch = cc.appendSetCookie(h.scratch, f.Value)
			h.add(f.Name, h.kept(start))
			continue
		case http1.EqualFold(f.Name, "Refresh"):
			if v, ok := cc.rewriteRefresh(f.Value); ok {
				h.add(f.Name, v)
				continue
			}
		case http1.EqualFold(f.Name, "Location"):
			if loc, ok := cc.rewriteRedirect(f.Value); ok {
				if len(loc) > 0 && loc[0] == '/' {
					h.location = loc
				} else {
					h.add(f.Name, loc)
				}
				continue
			}
		}
		h.add(f.Name, f.Value)
	}
	h.upgrade = upgrade
	h.chunked = r.chunkOut && !upgrade
	return h
}
