package proxy

import (
	"bytes"

	"headroom/internal/http1"
)

// This file is what nginx's special responses do for Internet Explorer
// and Chrome (msie_padding, msie_refresh). Both browsers show a page of
// their own instead of an error page shorter than about 512 bytes, so
// nginx pads its pages with a comment; and old Internet Explorers
// mishandled redirects, so nginx can send them a page that refreshes to
// the Location instead.

// msiePadding is the comment nginx adds to its error pages of status 400
// and above for those browsers.
const msiePadding = "" +
	"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n" +
	"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n" +
	"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n" +
	"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n" +
	"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n" +
	"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"

// The page msie_refresh sends around the escaped Location.
const (
	refreshHead = `<html><head><meta http-equiv="Refresh" content="0; URL=`
	refreshTail = "\"></head><body></body></html>\r\n"
)

// userAgent is the request's User-Agent as nginx reads it: the first
// field of the name.
func userAgent(h *http1.Request) []byte {
	return headerValue(h.Headers, "User-Agent")
}

// isMSIE is nginx's test for Internet Explorer (headers_in.msie): "MSIE "
// followed by at least three more bytes, and no "Opera" anywhere (Opera
// once called itself MSIE).
func isMSIE(ua []byte) bool {
	i := bytes.Index(ua, []byte("MSIE "))
	return i >= 0 && i+7 < len(ua) && !bytes.Contains(ua, []byte("Opera"))
}

// isChrome is nginx's test for Chrome (headers_in.chrome): "Chrome/" in
// a User-Agent that is neither Internet Explorer nor Opera and has no
// "Gecko/" (Chrome's own says "like Gecko)", without the slash).
func isChrome(ua []byte) bool {
	return !isMSIE(ua) && !bytes.Contains(ua, []byte("Opera")) &&
		!bytes.Contains(ua, []byte("Gecko/")) && bytes.Contains(ua, []byte("Chrome/"))
}

// msiePaddingApplies reports whether an error page of status code gets
// msie_padding's comment: a status of 400 or above, msie_padding on, and
// a client nginx takes for Internet Explorer or Chrome.
func (cc *clientConn) msiePaddingApplies(code int) bool {
	r := cc.r
	if code < 400 || r.lc == nil || !r.lc.MSIE.Padding {
		return false
	}
	ua := userAgent(&r.head)
	return ua != nil && (isMSIE(ua) || isChrome(ua))
}

// msieRefreshApplies reports whether a redirect is sent as msie_refresh's
// page: msie_refresh on and a client nginx takes for Internet Explorer.
func (cc *clientConn) msieRefreshApplies() bool {
	r := cc.r
	if r.lc == nil || !r.lc.MSIE.Refresh {
		return false
	}
	ua := userAgent(&r.head)
	return ua != nil && isMSIE(ua)
}

// sendRefresh answers a redirect with msie_refresh's page, as nginx's
// ngx_http_send_refresh does: status 200, text/html, no Location, and a
// meta refresh to the Location as the redirect gave it (a path stays a
// path), escaped for the attribute.
func (cc *clientConn) sendRefresh() {
	r := cc.r
	loc := r.location
	body := make([]byte, 0, len(refreshHead)+3*len(loc)+len(refreshTail))
	body = append(body, refreshHead...)
	body = appendRefreshEscaped(body, loc)
	body = append(body, refreshTail...)
	r.location = nil
	r.errStatus = 0
	cc.writeResponse(200, 200, "text/html", body)
}

// appendRefreshEscaped appends p with the bytes nginx escapes in a
// refresh URL (NGX_ESCAPE_REFRESH) as %XX: controls, space, double and
// single quotes, DEL and every byte above it. A percent sign is kept, so
// an escaped Location stays as it was.
func appendRefreshEscaped(b, p []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range p {
		if c <= ' ' || c == '"' || c == '\'' || c >= 0x7f {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}
