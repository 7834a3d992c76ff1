package proxy

import (
	"bytes"
	"strconv"
	"time"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// productName is what the Server field and error pages show with
// server_tokens off; with it on, the version follows (Server.tokens).
const productName = "headroom"

// serverTokens is the request's Server field value and error page
// signature, as server_tokens chooses.
func (cc *clientConn) serverTokens() string {
	if lc := cc.r.lc; lc == nil || lc.ServerTokens {
		return cc.w.srv.tokens
	}
	return productName
}

var reasons = map[int]string{
	100: "Continue", 101: "Switching Protocols",
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
	301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other", 304: "Not Modified",
	307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Not Allowed", 406: "Not Acceptable", 408: "Request Time-out",
	409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Request Entity Too Large", 414: "Request-URI Too Large", 415: "Unsupported Media Type",
	416: "Requested Range Not Satisfiable", 421: "Misdirected Request", 429: "Too Many Requests",
	494: "Request Header Or Cookie Too Large",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Temporarily Unavailable", 504: "Gateway Time-out", 505: "HTTP Version Not Supported",
	507: "Insufficient Storage",
}

// statusText returns nginx's status line text for a code, such as
// "404 Not Found"; a code without a known reason phrase keeps the space
// that RFC 9112 4 requires before the (empty) phrase.
func statusText(code int) string {
	return string(appendStatusText(nil, code))
}

// appendStatusText appends statusText's text without making a string.
func appendStatusText(b []byte, code int) []byte {
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	return append(b, reasons[code]...)
}

// errorPage is nginx's built-in error page for a status. nginx's internal
// 494 is answered as 400 with the reason on a line of its own.
func errorPage(code int, tokens string) string {
	if !hasErrorPage(code) {
		return ""
	}
	title, detail := statusText(code), ""
	if code == 302 {
		// nginx's status line says "Moved Temporarily", its page "Found".
		title = "302 Found"
	}
	h1 := title
	if reason, ok := badRequestReasons[code]; ok {
		title, detail = "400 "+reason, "\r\n<center>"+reason+"</center>"
		h1 = "400 Bad Request"
	}
	return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + h1 +
		"</h1></center>" + detail + "\r\n<hr><center>" + tokens + "</center>\r\n</body>\r\n</html>\r\n"
}

// badRequestReasons are nginx's own codes sent as 400 with a reason of
// their own on the page.
var badRequestReasons = map[int]string{
	494: "Request Header Or Cookie Too Large",
	495: "The SSL certificate error",
	496: "No required SSL certificate was sent",
	497: "The plain HTTP request was sent to HTTPS port",
}

// hasErrorPage reports whether nginx has a built-in page for a status
// its special response handler sends; the others go with no body and no
// Content-Type.
func hasErrorPage(code int) bool {
	switch {
	case code >= 301 && code <= 303, code == 307, code == 308:
		return true
	case code >= 400 && code <= 416 && code != 407, code == 421, code == 429:
		return true
	case code >= 494 && code <= 497, code >= 500 && code <= 505, code == 507:
		return true
	}
	return false
}

// closesConnection lists the statuses after which nginx always closes the
// client connection, because the request's end cannot be trusted.
func closesConnection(code int) bool {
	switch code {
	case 400, 408, 411, 413, 414, 494, 495, 496, 497, 500, 501, 505:
		return true
	}
	return false
}

// respondError answers with nginx's error page for code; nginx's 444
// (from "return 444", limit_req_status or limit_conn_status), 408 and
// 499 close the connection without any answer, as nginx does.
func (cc *clientConn) respondError(code int) {
	r := cc.r
	if code == 444 || code == 408 || code == 499 {
		r.status = code
		// nginx counts a 444 as timed out, for reset_timedout_connection.
		cc.timedOut = code == 444
		cc.abort()
		return
	}
	if s := cc.sub; s != nil && s.stubBody != nil && !s.stubSent {
		// An include's stub takes the place of the subrequest's own
		// error or redirect, as the subrequest's answer: nginx sends it
		// before any error_page, through the subrequest's filters.
		s.stubSent = true
		cc.respond(code, code, s.stubType, s.stubBody)
		return
	}
	wire := code
	if _, ok := badRequestReasons[code]; ok {
		// Sent and logged as 400, with a page of its own.
		wire = 400
	}
	// As nginx's special response handler, every error or redirect
	// becomes the status the request is answered with, whatever an
	// earlier error page chose.
	r.errStatus = wire
	if !r.errorPageDone && r.lc != nil && len(r.lc.ErrorPages) > 0 && r.redirects < maxInternalRedirects {
		// As nginx, with recursive_error_pages off the first error at
		// a level with error_page entries is the last they answer,
		// whether one of them matched it or not.
		if !r.lc.RecursiveErrorPages {
			r.errorPageDone = true
		}
		if ep := r.lc.FindErrorPage(code); ep != nil {
			cc.sendErrorPage(ep, code)
			return
		}
	}
	if closesConnection(code) {
		r.keepAlive = false
	}
	if (code == 301 || code == 302) && cc.msieRefreshApplies() {
		cc.sendRefresh()
		return
	}
	page := errorPage(code, cc.serverTokens())
	if page != "" && cc.msiePaddingApplies(wire) {
		page += msiePadding
	}
	cc.respondSpecial(wire, wire, page)
}

// redirectTo answers with a redirect (rewrite's redirect and permanent
// flags, the redirect to a location's or a directory's slash), as nginx
// does: the Location replaces any the request had, and the status is a
// special response, which an error_page for it may take over.
func (cc *clientConn) redirectTo(status int, location []byte) {
	cc.setLocation(location)
	cc.respondError(status)
}

// setLocation gives the request's answer a Location, replacing the one it
// had. Like nginx's headers_out.location it stays through internal
// redirects, so that the answer of an error page still has it.
func (cc *clientConn) setLocation(v []byte) {
	// An empty one is written too, as "Location: " (return 302;).
	cc.r.location = append(make([]byte, 0, len(v)), v...)
}

// sendErrorPage answers an error with its error_page: a URI of this
// server by an internal redirect made a GET (HEAD stays HEAD), anything
// else by a redirect sent to the client, as nginx's
// ngx_http_send_error_page does.
func (cc *clientConn) sendErrorPage(ep *conf.ErrorPage, code int) {
	r := cc.r
	r.errStatus = code
	if ep.Overwrite >= 0 {
		r.errStatus = ep.Overwrite
	}
	uri := cc.eval(nil, ep.URI)
	if len(uri) > 0 && uri[0] == '/' {
		var args []byte
		if ep.HasArgs {
			args = []byte(ep.Args)
		} else if !ep.URI.IsLiteral() {
			if path, query, ok := bytes.Cut(uri, []byte("?")); ok {
				uri, args = path, query
			}
		}
		if !isHead(&r.head) {
			r.head.Method = methodGET
		}
		cc.dropBodyForRedirect()
		cc.internalRedirect(uri, args)
		return
	}
	if len(uri) > 0 && uri[0] == '@' {
		// A named location keeps the request's method, as in nginx.
		cc.dropBodyForRedirect()
		cc.namedRedirect(uri)
		return
	}
	status := 302
	switch ep.Overwrite {
	case 301, 302, 303, 307, 308:
		status = ep.Overwrite
	}
	r.errStatus = 0
	cc.setLocation(uri)
	if cc.msieRefreshApplies() {
		// Whatever the status, as nginx's error_page sends it.
		cc.sendRefresh()
		return
	}
	cc.respondSpecial(status, status, errorPage(status, cc.serverTokens()))
}

// methodGET is the method an error page is asked for with.
var methodGET = []byte("GET")

// dropBodyForRedirect makes a request that goes to an error page one
// without a body: what was read of it stays for $request_body, what has
// not come yet is not waited for, and the connection then closes rather
// than read it, as the page's answer may come before it.
func (cc *clientConn) dropBodyForRedirect() {
	r := cc.r
	if !r.bodyDone {
		r.keepAlive = false
		r.bodyDone, r.bodyLeft = true, 0
	}
	r.head.ContentLength, r.head.Chunked = 0, false
	r.bufferBody = false
}

// respondReturn answers a "return" directive as nginx's return code
// does. A code below 400, or any code with a text, is an answer of its
// own (for 301, 302, 303, 307 and 308 the text is the Location and the
// answer is the special response for the code); other codes are answered
// with their error page, or the error_page for them.
func (cc *clientConn) respondReturn(ret *conf.Return) {
	code := ret.Code
	hasText := ret.Text != nil && len(ret.Text.Parts) > 0
	if code >= 400 && !hasText {
		cc.respondError(code)
		return
	}
	// The text is made in a buffer the request keeps, so that a return
	// allocates nothing.
	text := cc.r.script.text[:0]
	if ret.Text != nil {
		text = cc.eval(text, ret.Text)
	}
	cc.r.script.text = text
	// nginx's ngx_http_send_response discards the body first, which
	// answers "Expect: 100-continue".
	cc.expectContinue()
	if !cc.discardPreread() {
		return
	}
	switch code {
	case 301, 302, 303, 307, 308:
		cc.redirectTo(code, text)
		return
	}
	cc.writeResponse(code, code, contentType(&cc.r.lc.Static, cc.r.uri), text)
}

// appendAbsoluteURL appends a local redirect made absolute as nginx makes
// it with absolute_redirect on: scheme, the request's host (lower-cased,
// without its port; the server's name with server_name_in_redirect) or
// else the local address, and the port unless it is the scheme's default
// or port_in_redirect is off. With absolute_redirect off the path stays
// as it is.
func (cc *clientConn) appendAbsoluteURL(u, path []byte) []byte {
	lc := cc.r.lc
	if lc != nil && !lc.AbsoluteRedirect {
		return append(u, path...)
	}
	tls := cc.tlsOpen()
	if tls {
		u = append(u, "https://"...)
	} else {
		u = append(u, "http://"...)
	}
	if lc != nil && lc.ServerNameInRedirect {
		u = append(u, serverName(cc.r.srv)...)
	} else if host, ok := normalizeHost(cc.r.head.Host); ok && host != "" {
		u = append(u, host...)
	} else {
		u = cc.appendServerAddr(u)
	}
	// A unix socket has no port to name; the scheme's own port is not
	// named either.
	defPort := uint16(80)
	if tls {
		defPort = 443
	}
	if p := cc.localAddrPort().Port(); p != defPort && p != 0 && (lc == nil || lc.PortInRedirect) {
		u = append(u, ':')
		u = strconv.AppendInt(u, int64(p), 10)
	}
	return append(u, path...)
}

// contentType is the type nginx gives an answer it makes from a URI, as
// ngx_http_set_content_type does: the location's types for the URI's
// extension, else its default_type (nginx's built-in html, gif and jpg,
// and text/plain, when the configuration names none).
func contentType(st *conf.Static, uri []byte) string {
	return st.TypeOf(extension(uri))
}

// respond writes a complete response generated by headroom with content
// of its own ("return" with a text or a URL, a status view). The request
// body is read and dropped after it (see discardBody), and a client that
// asked for "100 Continue" gets one first, whether or not it has a body
// to send, as nginx's discarding of the body sends it.
func (cc *clientConn) respond(status, wire int, ctype string, body []byte) {
	cc.expectContinue()
	if !cc.discardPreread() {
		return
	}
	cc.writeResponse(status, wire, ctype, body)
}

// discardPreread drops the body bytes that came with the head before the
// answer, as nginx's discarding of the body does: a chunked body found
// bad there is answered 400 instead (reported false). What is still to
// come is dropped after the answer (discardBody).
func (cc *clientConn) discardPreread() bool {
	r := cc.r
	for !r.bodyDone && cc.inPos < cc.inLen {
		avail := cc.in[cc.inPos:cc.inLen]
		if r.bodyChunked {
			// Discarded, so client_max_body_size does not apply.
			consumed, data, done, err := r.bodyDec.Next(avail)
			if err != nil {
				r.keepAlive = false
				cc.respondError(400)
				return false
			}
			cc.inPos += consumed
			r.bodyDone = done
			if consumed == 0 && data == nil {
				break
			}
			continue
		}
		n := min(int64(len(avail)), r.bodyLeft)
		cc.inPos += int(n)
		r.bodyLeft -= n
		r.bodyDone = r.bodyLeft == 0
	}
	return true
}

// respondSpecial writes one of nginx's special responses: an error page,
// or a redirect headroom makes itself. nginx marks the expectation as
// tested before it discards the body of such a request, so no
// "100 Continue" goes before it: a client that waits for one sends no
// body for an answer that does not need it.
func (cc *clientConn) respondSpecial(status, wire int, page string) {
	if page == "" {
		// A status nginx has no page for.
		cc.writeResponse(status, wire, "", []byte{})
		return
	}
	cc.writeResponse(status, wire, "text/html", []byte(page))
}

// writeResponse writes a complete generated response. status is what is
// logged; wire is what is sent (they differ for nginx's internal 494),
// unless an error page's status replaces it. An answer sent as 204 (or
// 304) has no Content-Type, Content-Length or body, as nginx's header
// filter decides on the status finally sent.
func (cc *clientConn) writeResponse(status, wire int, ctype string, body []byte) {
	r := cc.r
	r.status = status
	cc.startRateLimit(cc.limitRateFor())
	cc.setPhase(phaseRespond)
	h := &r.outHead
	h.reset()
	h.status = wire
	h.server, h.date = true, true
	final := wire
	if r.errStatus != 0 {
		final = r.errStatus
	}
	if final == 204 {
		ctype = ""
	}
	h.contentType = ctype
	if final != 204 && final != 304 {
		h.contentLength = int64(len(body))
	}
	if r.retryAfter {
		h.add(nameRetryAfter, valueOne)
	}
	if r.unsatisfied && wire == 416 {
		at := len(h.scratch)
		h.scratch = append(h.scratch, "bytes */"...)
		h.scratch = strconv.AppendInt(h.scratch, r.fileSize, 10)
		h.add(nameContentRange, h.kept(at))
	}
	if r.noStore {
		h.add(nameCacheControl, valueNoStore)
	}
	if !r.answerModified.IsZero() && wire == 200 && r.errStatus == 0 {
		// An answer with a date (empty_gif) goes through the
		// not-modified checks, as nginx's send_response does.
		h.lastModified = r.answerModified
		switch cc.notModified(h) {
		case 304:
			h.status, r.status, final = 304, 304, 304
			h.contentType, h.contentLength = "", -1
		case 412:
			cc.respondError(412)
			return
		}
	}
	cc.writeHead(h)
	cc.sendOwnBody(body, !isHead(&r.head) && final != 204 && final != 304)
}

// sendOwnBody sends the body of an answer of headroom's own after its
// head and finishes the request. SSI may make it wait for includes: the
// body then goes through the chain as the client takes it (sendChain).
func (cc *clientConn) sendOwnBody(body []byte, hasBody bool) {
	r := cc.r
	if hasBody {
		if f := r.body; f != nil && f.async() {
			f.whole = true
			f.write(body)
			f.finished = true
			f.finish()
			cc.sendChain()
			return
		}
		start := len(cc.out)
		cc.out = cc.appendWholeBody(cc.out, body)
		r.bodySent = int64(len(cc.out) - start)
	}
	r.finishing = true
	if cc.flush() {
		cc.finish()
	}
}

// sendChain sends what the chain makes of an answer of headroom's own
// whose body is in it, as the client takes it and the chain's includes
// end; then the request finishes.
func (cc *clientConn) sendChain() {
	r := cc.r
	f := r.body
	for {
		if cc.outOff < len(cc.out) && !f.holdsHead() && !cc.flush() {
			return
		}
		if r.finishing {
			cc.finish()
			return
		}
		cc.outBuf()
		drained := cc.drainBody(&cc.out)
		if cc.bodyFailed() {
			return
		}
		if !drained {
			if f.stalled() && !cc.flushIncluded(f) {
				return
			}
			continue
		}
		cc.endClientResponse(&cc.out)
		r.finishing = true
	}
}

// isHead reports whether the request's method is HEAD (methods are
// case-sensitive).
func isHead(h *http1.Request) bool { return string(h.Method) == "HEAD" }

// emptyGIF is nginx's empty_gif answer: a 1×1 transparent GIF.
var emptyGIF = []byte{
	'G', 'I', 'F', '8', '9', 'a', // header
	0x01, 0x00, 0x01, 0x00, // 1×1
	0x80, 0x01, 0x00, // a global colour table of two colours
	0x00, 0x00, 0x00, 0xff, 0xff, 0xff, // black and white
	0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x01, 0x00, // colour 1 transparent
	0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, // the image
	0x02, 0x02, 0x4c, 0x01, 0x00, // its one pixel, LZW-coded
	0x3b, // trailer
}

// emptyGIFModified is the Last-Modified nginx gives it.
var emptyGIFModified = time.Unix(23349600, 0)

// respondEmptyGIF answers with the empty GIF (GET and HEAD only).
func (cc *clientConn) respondEmptyGIF() {
	r := cc.r
	if m := string(r.head.Method); m != "GET" && m != "HEAD" {
		cc.respondError(405)
		return
	}
	r.answerModified = emptyGIFModified
	cc.respond(200, 200, "image/gif", emptyGIF)
}
