package proxy

import (
	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

// This file is X-Accel-Redirect: an upstream that answers with it hands
// the request to another URI of this server (the way Django, Rails and
// PHP applications let nginx send a protected file), as nginx's upstream
// module does: the upstream's answer is dropped but for the fields nginx
// carries over (Content-Type, Set-Cookie, Content-Disposition,
// Cache-Control, Expires, Accept-Ranges) and its X-Accel-Limit-Rate, and
// the request goes on as a GET (HEAD stays HEAD) by an internal redirect,
// or with its own method in a named location.

// carriedFields are the upstream fields an X-Accel-Redirect keeps, as
// nginx's headers with the redirect flag.
var carriedFields = []string{"Set-Cookie", "Content-Disposition", "Cache-Control", "Expires", "Accept-Ranges"}

// accelRedirect handles an upstream response with X-Accel-Redirect; it
// reports false when the response has none (or proxy_ignore_headers
// ignores it) and goes on as usual.
func (cc *clientConn) accelRedirect(resp *http1.Response) bool {
	r := cc.r
	if r.lc.ProxyIgnoreHeaders&conf.IgnoreXAccelRedirect != 0 {
		return false
	}
	target := headerValue(resp.Headers, "X-Accel-Redirect")
	if target == nil {
		return false
	}
	// What the redirected answer keeps, copied out of the buffer that is
	// about to be released.
	var keep []byte
	r.carried = r.carried[:0]
	if v := headerValue(resp.Headers, "Content-Type"); v != nil {
		r.carriedType = append(r.carriedType[:0], v...)
	}
	for i := range resp.Headers {
		f := &resp.Headers[i]
		for _, name := range carriedFields {
			if http1.EqualFold(f.Name, name) {
				start := len(keep)
				keep = append(keep, f.Name...)
				keep = append(keep, f.Value...)
				r.carried = append(r.carried, http1.Header{Name: keep[start : start+len(f.Name)], Value: keep[start+len(f.Name) : len(keep)]})
			}
		}
	}
	if rate := responseLimitRate(r.lc, resp, -1); rate != -1 {
		r.accelRate, r.accelRateSet = rate, true
	}
	uri := append([]byte(nil), target...)
	cc.upLogAppend(r.peer.Conf.Addr, resp.Status)
	if upHeadsWanted() {
		// $upstream_http_* still read the answer after the redirect,
		// as nginx's do (an if at the server level, the new location).
		cc.keepUpstreamHeads()
		r.headsKept = true
	}
	r.up.closeConn()
	r.upInLen, r.upPos = 0, 0
	if len(uri) > 0 && uri[0] == '@' {
		// A named location keeps the request's method, as in nginx.
		cc.dropBodyForRedirect()
		cc.namedRedirect(uri)
		return true
	}
	// Escapes in the path are decoded, and a path that reaches above
	// the root or holds a NUL is refused, as nginx's
	// ngx_http_parse_unsafe_uri does.
	path, args, ok := unsafeURI(nil, uri)
	if !ok || len(path) == 0 {
		cc.respondError(404)
		return true
	}
	if !isHead(&r.head) {
		r.head.Method = methodGET
	}
	cc.dropBodyForRedirect()
	cc.logAt(logs.Info, "X-Accel-Redirect to \""+string(uri)+"\"")
	cc.internalRedirect(path, args)
	return true
}

// applyCarried puts what an X-Accel-Redirect carried over into the
// redirected answer's head: the upstream's Content-Type over the
// handler's, and its carried fields.
func (cc *clientConn) applyCarried(h *outHead) {
	r := cc.r
	if r.carriedType != nil {
		h.contentType, h.fieldType = "", r.carriedType
	}
	h.fields = append(h.fields, r.carried...)
}

// limitRateFor is the limit_rate of an answer: what "set $limit_rate" or
// an upstream's X-Accel-Limit-Rate before an X-Accel-Redirect gave it,
// else the location's, evaluated when it has variables.
func (cc *clientConn) limitRateFor() int64 {
	r := cc.r
	if r.accelRateSet {
		return r.accelRate
	}
	if t := r.lc.LimitRateVar; t != nil {
		n, _ := conf.ParseSize(string(cc.eval(nil, t)))
		return n
	}
	return r.lc.LimitRate
}
