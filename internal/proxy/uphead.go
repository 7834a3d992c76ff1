package proxy

import (
	"strconv"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// This file builds the request head sent upstream.

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
	if lc.ProxyPass != nil && lc.ProxyPass.Protocol.Gateway() {
		switch lc.ProxyPass.Protocol {
		case conf.ProtoFastCGI:
			b = cc.buildFastCGIRequest(b)
		case conf.ProtoSCGI:
			b = cc.buildSCGIRequest(b)
		case conf.ProtoUWSGI:
			if b = cc.buildUWSGIRequest(b); b == nil {
				return nil
			}
		}
		r.fcgiHeadLen = len(b)
		return b
	}
	setHeaders := lc.ProxySetHeaders
	if r.cache.cacheable && lc.ProxySetHeadersCache != nil {
		setHeaders = lc.ProxySetHeadersCache
	}
	switch {
	case r.cache.getHead:
		// proxy_cache_convert_head, over proxy_method as in nginx.
		b = append(b, "GET"...)
	case lc.ProxyMethod == nil:
		b = append(b, h.Method...)
	default:
		b = cc.appendProxyMethod(b)
	}
	b = append(b, ' ')
	b = appendUpstreamURI(b, r)
	b = append(b, " HTTP/"...)
	b = append(b, lc.ProxyHTTPVersion...)
	b = append(b, "\r\n"...)
	for _, ph := range setHeaders {
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
			if skipClientHeader(f.Name, setHeaders, h.ConnectionHeader) {
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
func skipClientHeader(name []byte, setHeaders []conf.HeaderTemplate, connection []byte) bool {
	for i := range setHeaders {
		if http1.EqualFold(name, setHeaders[i].Name) {
			return true
		}
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
