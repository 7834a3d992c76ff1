package proxy

import (
	"strconv"
	"time"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// This file is the response head on its way to the client. A content
// handler fills an outHead (an upstream's head after the proxy's own
// processing, or an answer of headroom's own); the header filters change
// it in nginx's order; one encoder writes it. Until then it is a value,
// not bytes, so that a filter can set or drop a field wherever the
// handler put it.

// outHead is a response head before it is written, as nginx's
// r->headers_out: the fields the encoder writes in places of their own,
// and the rest in order.
type outHead struct {
	// status is the status sent; reason the upstream's reason phrase,
	// nil for nginx's own.
	status int
	reason []byte
	// server and date ask for headroom's Server and Date fields at the
	// top of the head; an upstream's pass as ordinary fields instead when
	// proxy_pass_header lets them through.
	server, date bool
	// contentType (headroom's own) or fieldType (an upstream's) is
	// written after Date when set.
	contentType string
	fieldType   []byte
	// overrideCharset is an upstream's X-Accel-Charset: the charset the
	// charset filter converts the answer to, whatever charset says.
	overrideCharset []byte
	// contentLength is written after Content-Type; -1 for none.
	contentLength int64
	// lastModified is written after Content-Length when set.
	lastModified time.Time
	// location is a redirect to a path of this server, written absolute
	// before Connection as nginx's header filter writes one; a Location
	// that is already absolute is an ordinary field.
	location []byte
	// chunked adds "Transfer-Encoding: chunked".
	chunked bool
	// upgrade makes the connection field "Connection: upgrade" (101).
	upgrade bool
	// filtered is set once the header filters ran (filterHead).
	filtered bool
	// vary adds "Vary: Accept-Encoding" after the connection fields
	// (gzip_vary).
	vary bool
	// gzipEncoded is set, for gunzip, when the content handler gave the
	// answer "Content-Encoding: gzip"; the same field from add_header
	// does not count, as in nginx.
	gzipEncoded bool
	// lengthLost is set when a body filter made the length unknown
	// (gunzip, a conversion into or out of UTF-8): the answer then has
	// no ranges, as nginx's range filter needs a length. Chunking for
	// trailers comes after the range filter and does not count.
	lengthLost bool
	// fields are the other fields, in the order they are written.
	fields []http1.Header
	// scratch holds the values that filters and the proxy computed for
	// fields; fields point into it.
	scratch []byte
}

// reset empties the head for the next response, keeping its buffers.
func (h *outHead) reset() {
	*h = outHead{fields: h.fields[:0], scratch: h.scratch[:0], contentLength: -1}
}

// add appends a field; the name and value must stay valid until the head
// is written.
func (h *outHead) add(name, value []byte) {
	h.fields = append(h.fields, http1.Header{Name: name, Value: value})
}

// kept returns the scratch bytes from start as a value for a field,
// capped so that later appends to scratch cannot change it.
func (h *outHead) kept(start int) []byte {
	return h.scratch[start:len(h.scratch):len(h.scratch)]
}

// Names of fields headroom adds, made once.
var (
	nameLocation     = []byte("Location")
	nameRetryAfter   = []byte("Retry-After")
	nameCacheControl = []byte("Cache-Control")
	nameExpires      = []byte("Expires")
	valueOne         = []byte("1")
	valueNoStore     = []byte("no-store")
)

// headerFilter changes a response head before it is written. The filters
// run in the order of headerFilters, which is nginx's order of header
// filter modules for those headroom has.
type headerFilter func(cc *clientConn, h *outHead)

// headerFilters are the header filters in the order they run.
var headerFilters = []headerFilter{
	expiresFilter,
	addHeadersFilter,
	gunzipFilter,
	additionFilter,
	subFilter,
	charsetFilter,
	ssiFilter,
	gzipFilter,
	trailersFilter,
}

// trailersFilter readies an answer for add_trailer's fields, as nginx's
// chunked filter does when trailers are expected: an answer with a body
// to an HTTP/1.1 request (chunked_transfer_encoding on) is chunked, its
// Content-Length gone, so that the fields can follow the body.
func trailersFilter(cc *clientConn, h *outHead) {
	r := cc.r
	lc := r.lc
	if lc == nil || len(lc.AddTrailers) == 0 || h.status < 200 || h.status == 204 || h.status == 304 || isHead(&r.head) || !cc.chunkable() {
		return
	}
	safe := safeStatus(h.status)
	for _, t := range lc.AddTrailers {
		if safe || t.Always {
			r.trailers, r.chunkOut = true, true
			h.chunked, h.contentLength = true, -1
			return
		}
	}
}

// safeStatus reports whether add_header and add_trailer fields without
// "always" go on an answer of the status.
func safeStatus(status int) bool {
	switch status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		return true
	}
	return false
}

// chunkable reports whether an answer of unknown length may be chunked:
// the request is HTTP/1.1 and chunked_transfer_encoding is on. Otherwise
// it ends with the connection, as a subrequest's always does (its end
// is its request's).
func (cc *clientConn) chunkable() bool {
	r := cc.r
	return r.head.Minor >= 1 && (r.lc == nil || r.lc.ChunkedTransferEncoding) && cc.sub == nil
}

// appendLastChunk ends a chunked body: the last chunk, with add_trailer's
// fields evaluated now that the body is over (an empty value adds none),
// which $sent_trailer_* then read.
func (cc *clientConn) appendLastChunk(b []byte) []byte {
	r := cc.r
	if !r.trailers {
		return http1.AppendLastChunk(b)
	}
	b = append(b, "0\r\n"...)
	safe := safeStatus(r.outHead.status)
	r.sentTrailers = r.sentTrailers[:0]
	for _, t := range r.lc.AddTrailers {
		if !safe && !t.Always {
			continue
		}
		start := len(r.trailerScratch)
		r.trailerScratch = cc.eval(r.trailerScratch, t.Value)
		v := r.trailerScratch[start:len(r.trailerScratch):len(r.trailerScratch)]
		if len(v) == 0 {
			continue
		}
		r.sentTrailers = append(r.sentTrailers, http1.Header{Name: []byte(t.Name), Value: v})
		b = append(append(append(append(b, t.Name...), ": "...), v...), "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendWholeBody appends a body that is all in memory (headroom's own
// answers) framed as the head said: compressed when gzip applies,
// chunked (with trailers) or as it is.
func (cc *clientConn) appendWholeBody(b, body []byte) []byte {
	r := cc.r
	if f := r.body; f != nil {
		// Nothing leaves before the whole body is made: a body of
		// headroom's own is small.
		f.whole = true
		f.write(body)
		f.finish()
		body = f.out[f.outOff:]
		f.out, f.outOff = f.out[:0], 0
		if f.failed {
			body = nil
		}
	}
	if !r.chunkOut {
		return append(b, body...)
	}
	if len(body) > 0 {
		b = http1.AppendChunk(b, body)
	}
	return cc.appendLastChunk(b)
}

// expiresFilter sets Expires and Cache-Control as nginx's expires
// directive does, on 200, 201, 204, 206, 301, 302, 303, 304, 307 and 308
// answers: an upstream's Expires is replaced, and its Cache-Control
// fields become one.
func expiresFilter(cc *clientConn, h *outHead) {
	lc := cc.r.lc
	if lc == nil || lc.Expires == nil {
		return
	}
	switch h.status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
	default:
		return
	}
	e := *lc.Expires
	if e.Var != nil {
		if msg := conf.ParseExpires(string(cc.eval(nil, e.Var)), &e); msg != "" {
			cc.logError("invalid \"expires\" value")
			return
		}
	}
	var expires, control []byte
	switch e.Kind {
	case conf.ExpiresOff:
		return
	case conf.ExpiresEpoch:
		expires, control = []byte("Thu, 01 Jan 1970 00:00:01 GMT"), []byte("no-cache")
	case conf.ExpiresMax:
		expires, control = []byte("Thu, 31 Dec 2037 23:55:55 GMT"), []byte("max-age=315360000")
	default:
		now := cc.w.loop.Now()
		var at time.Time
		lastModified, known := h.lastModified, !h.lastModified.IsZero()
		if !known {
			if v := headerValue(h.fields, "Last-Modified"); v != nil {
				lastModified, known = parseHTTPDate(v)
			}
		}
		switch {
		case e.Kind == conf.ExpiresDaily:
			at = nextTimeOfDay(now, e.Seconds)
		case e.Kind == conf.ExpiresAccess || !known:
			at = now.Add(time.Duration(e.Seconds) * time.Second)
		default:
			at = lastModified.Add(time.Duration(e.Seconds) * time.Second)
		}
		maxAge := at.Unix() - now.Unix()
		if e.Kind == conf.ExpiresAccess || e.Kind != conf.ExpiresDaily && !known {
			maxAge = e.Seconds
		}
		start := len(h.scratch)
		h.scratch = at.UTC().AppendFormat(h.scratch, "Mon, 02 Jan 2006 15:04:05 GMT")
		expires = h.kept(start)
		if e.Seconds < 0 || maxAge < 0 {
			control = []byte("no-cache")
		} else {
			start = len(h.scratch)
			h.scratch = strconv.AppendInt(append(h.scratch, "max-age="...), maxAge, 10)
			control = h.kept(start)
		}
	}
	h.set(nameExpires, expires)
	h.set(nameCacheControl, control)
}

// del drops every field of the name.
func (h *outHead) del(name []byte) {
	out := h.fields[:0]
	for _, f := range h.fields {
		if !http1.EqualFold(f.Name, string(name)) {
			out = append(out, f)
		}
	}
	h.fields = out
}

// set gives the first field of the name the value, drops the others of
// that name, and adds one at the end when there is none.
func (h *outHead) set(name, value []byte) {
	found := false
	out := h.fields[:0]
	for _, f := range h.fields {
		if http1.EqualFold(f.Name, string(name)) {
			if found {
				continue
			}
			found = true
			f.Value = value
		}
		out = append(out, f)
	}
	h.fields = out
	if !found {
		h.add(name, value)
	}
}

// nextTimeOfDay is the next moment after now, in local time, that is
// secs seconds after a midnight, as nginx's ngx_next_time finds it.
func nextTimeOfDay(now time.Time, secs int64) time.Time {
	local := now.Local()
	y, m, d := local.Date()
	at := time.Date(y, m, d, int(secs/3600), int(secs%3600/60), int(secs%60), 0, time.Local)
	if at.After(now) {
		return at
	}
	return time.Date(y, m, d+1, int(secs/3600), int(secs%3600/60), int(secs%60), 0, time.Local)
}

// addHeadersFilter adds the add_header fields that apply to the status:
// without "always" only to 200, 201, 204, 206, 301, 302, 303, 304, 307
// and 308, as nginx's headers filter does.
func addHeadersFilter(cc *clientConn, h *outHead) {
	lc := cc.r.lc
	if lc == nil || len(lc.AddHeaders) == 0 {
		return
	}
	ok := false
	switch h.status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		ok = true
	}
	for _, ah := range lc.AddHeaders {
		if !ok && !ah.Always {
			continue
		}
		nameStart := len(h.scratch)
		h.scratch = append(h.scratch, ah.Name...)
		name := h.kept(nameStart)
		valueStart := len(h.scratch)
		h.scratch = cc.eval(h.scratch, ah.Value)
		value := h.kept(valueStart)
		// Last-Modified and ETag are the response's own, which
		// add_header replaces (an empty value removes them), as
		// nginx's headers filter sets them.
		replaces := http1.EqualFold(name, "ETag") || http1.EqualFold(name, "Last-Modified")
		if replaces {
			h.del(name)
			if http1.EqualFold(name, "Last-Modified") {
				h.lastModified = time.Time{}
			}
		}
		if len(value) == 0 {
			// An empty value means the field is not added.
			h.scratch = h.scratch[:nameStart]
			continue
		}
		h.add(name, value)
	}
}

// applyLocation puts the request's Location into the head, as nginx's
// header filter writes headers_out.location: a path of this server made
// absolute in its own place (with absolute_redirect on), anything else as
// it is, first of the fields; a head whose handler gave a Location keeps
// it too.
func applyLocation(h *outHead, loc []byte, absolute bool) {
	if len(loc) > 0 && loc[0] == '/' && absolute && h.location == nil {
		h.location = loc
		return
	}
	h.fields = append(h.fields, http1.Header{})
	copy(h.fields[1:], h.fields)
	h.fields[0] = http1.Header{Name: nameLocation, Value: loc}
}

// filterHead readies the head for writing: an error page's status,
// what an X-Accel-Redirect carried, the request's Location, then the
// header filters in nginx's order. A handler that needs the head as the
// filters leave it (the range filter, which nginx runs after them) calls
// it first; writeHead otherwise does.
func (cc *clientConn) filterHead(h *outHead) {
	h.filtered = true
	if r := cc.r; r.errStatus != 0 {
		// An error page is sent with the status of the error, or the
		// one its error_page names.
		h.status, h.reason = r.errStatus, nil
		r.status = r.errStatus
	}
	if r := cc.r; r.carriedType != nil || len(r.carried) > 0 {
		cc.applyCarried(h)
	}
	if r := cc.r; r.location != nil {
		applyLocation(h, r.location, r.lc == nil || r.lc.AbsoluteRedirect)
	}
	if lc := cc.r.lc; lc != nil && lc.Gzip.Gunzip {
		h.gzipEncoded = isGzipCoding(headerValue(h.fields, "Content-Encoding"))
	}
	for _, f := range headerFilters {
		f(cc, h)
	}
}

// weakenETag makes the answer's entity tag weak once a filter changed
// its body, as nginx's ngx_http_weak_etag does: a strong tag gets "W/",
// a weak one stays, and a value that is neither goes.
func (h *outHead) weakenETag() {
	for i := range h.fields {
		f := &h.fields[i]
		if !http1.EqualFold(f.Name, "ETag") {
			continue
		}
		v := f.Value
		if len(v) > 2 && v[0] == 'W' && v[1] == '/' {
			return
		}
		if len(v) < 1 || v[0] != '"' {
			h.del(nameETag)
			return
		}
		start := len(h.scratch)
		h.scratch = append(append(h.scratch, "W/"...), v...)
		f.Value = h.kept(start)
		return
	}
}

// writeHead runs the header filters over the head and appends it to the
// client's output, in the order nginx's header filter writes a head:
// status line, Server, Date, Content-Type, Content-Length, a Location
// made absolute, Transfer-Encoding, Connection and Keep-Alive, then the
// other fields in order.
func (cc *clientConn) writeHead(h *outHead) {
	if !h.filtered {
		cc.filterHead(h)
	}
	if s := cc.sub; s != nil {
		// Nobody reads a subrequest's head: its status and length are
		// all its transport needs, as nginx writes none.
		s.headOf(h)
		// The body is framed into out all the same.
		cc.outBuf()
		return
	}
	cc.outBuf()
	b := cc.out
	b = append(b, "HTTP/1.1 "...)
	if h.reason != nil {
		b = strconv.AppendInt(b, int64(h.status), 10)
		if len(h.reason) > 0 {
			b = append(b, ' ')
			b = append(b, h.reason...)
		}
	} else {
		b = appendStatusText(b, h.status)
	}
	if h.server {
		b = append(b, "\r\nServer: "...)
		b = append(b, cc.serverTokens()...)
	}
	if h.date {
		b = append(b, "\r\nDate: "...)
		b = append(b, cc.w.httpDate()...)
	}
	if h.contentType != "" || h.fieldType != nil {
		b = append(b, "\r\nContent-Type: "...)
		b = append(b, h.contentType...)
		b = append(b, h.fieldType...)
	}
	if h.contentLength >= 0 {
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, h.contentLength, 10)
	}
	if !h.lastModified.IsZero() {
		b = append(b, "\r\nLast-Modified: "...)
		b = h.lastModified.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
	}
	if h.location != nil {
		b = append(b, "\r\nLocation: "...)
		b = cc.appendAbsoluteURL(b, h.location)
	}
	if h.chunked {
		b = append(b, "\r\nTransfer-Encoding: chunked"...)
	}
	if h.upgrade {
		b = append(b, "\r\nConnection: upgrade"...)
	} else {
		b = cc.appendConnection(b)
	}
	if h.vary {
		b = append(b, "\r\nVary: Accept-Encoding"...)
	}
	for i := range h.fields {
		f := &h.fields[i]
		b = append(b, "\r\n"...)
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
	}
	b = append(b, "\r\n\r\n"...)
	cc.out = b
}

// tlsRotateAfter is how long a TLS client keeps its slot before it may
// be closed to let a waiting client in. Each such turn costs the next
// client and the worker a full handshake, several times what its
// requests cost: after a second of use, a slot's handshakes stay a small
// part of what it serves, and waiting clients still get their turn.
const tlsRotateAfter = time.Second

// mayRotate reports whether the connection may give its slot to a
// waiting client after this answer: a plain one at once, a TLS one once
// it has held it for tlsRotateAfter.
func (cc *clientConn) mayRotate() bool {
	if _, ok := cc.tr.(*tlsTransport); !ok {
		return true
	}
	return cc.w.loop.Now().Sub(cc.accepted) >= tlsRotateAfter
}

// appendConnection adds the Connection field nginx sends: keep-alive
// when the connection stays open, close otherwise.
func (cc *clientConn) appendConnection(b []byte) []byte {
	if cc.w.draining {
		// A worker shutting down keeps no connection.
		cc.r.keepAlive = false
	}
	if cc.r.keepAlive && cc.w.slowLeft == 0 && cc.mayRotate() && cc.w.clientsWaiting() {
		// Clients wait in the listen backlog because this worker has no
		// room to accept them: closing after this answer lets them in
		// turn, so that slots rotate fairly among all clients instead of
		// staying with those already connected. While slow clients hold
		// slots, those go first instead (shed.go).
		cc.r.keepAlive = false
		cc.w.stats.Rotated.Inc()
	}
	if cc.r.keepAlive {
		b = append(b, "\r\nConnection: keep-alive"...)
		if t := cc.r.lc.KeepaliveHeaderTimeout; t > 0 {
			// keepalive_timeout's second argument.
			b = append(b, "\r\nKeep-Alive: timeout="...)
			b = strconv.AppendInt(b, int64(t/time.Second), 10)
		}
		return b
	}
	return append(b, "\r\nConnection: close"...)
}
