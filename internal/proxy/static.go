package proxy

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/logs"
)

// This file is the content handler for locations without proxy_pass, as
// nginx's static, index and try_files handlers: a URI is mapped to a path
// under root (or alias), a file is sent with its validators (Last-Modified,
// ETag) and answered 304 or 412 by its conditions, a directory gets its
// index file through an internal redirect, or the redirect to its slash.
//
// Opening and examining a file (open, fstat) block the worker on the
// disk, as they do in nginx without aio: on a local file system whose
// metadata is cached they take microseconds. The file's bytes go out with
// sendfile(2) when the transport is a socket and sendfile is on,
// otherwise through the output buffer with pread; neither waits for the
// client, whose slowness is handled as for any response (send_timeout,
// send_min_rate).

// staticFile is the file a response is being sent from.
type staticFile struct {
	fd int
	// slot holds the descriptor's place among the worker's slots.
	slot *engine.Conn
	// off is the next byte to send, end the byte after the last; base
	// is where the answer's body starts in the file (a cached answer's
	// head comes before it), which ranges count from.
	off, end, base int64
	// With trailers the file is one chunk: chunked is set once its
	// chunk header was decided (inChunk when one was written), trailed
	// once the last chunk followed.
	chunked, inChunk, trailed bool
	// multi is a multipart/byteranges answer's state; off and end are
	// then the current part's (ranges.go).
	multi *multipartBody
	// entry is the open_file_cache entry that owns fd (nil when the
	// request owns it), given back to cache when the file is closed.
	entry   *cachedFile
	cache   *fileCache
	minUses int
}

// open reports whether a file is being sent.
func (f *staticFile) open() bool { return f.slot != nil }

// closeFile closes the request's file (or gives it back to
// open_file_cache) and frees its slot.
func (r *request) closeFile() {
	if r.file.slot != nil {
		if e := r.file.entry; e != nil {
			r.file.cache.release(e, r.file.minUses)
		}
		r.file.slot.Close()
		r.file = staticFile{}
	}
}

// serveStatic is the content phase of a location without proxy_pass:
// try_files, else a random file or the index of a directory URI, else
// the file.
func (cc *clientConn) serveStatic() {
	r := cc.r
	st := &r.lc.Static
	if len(st.TryFiles) > 0 && !r.triedFiles {
		cc.tryFiles()
		return
	}
	if n := len(r.uri); n > 0 && r.uri[n-1] == '/' {
		// random_index runs before index, as nginx orders their
		// content handlers, and declines a directory without a file.
		if st.RandomIndex && cc.serveRandomIndex() {
			return
		}
		cc.serveIndex()
		return
	}
	cc.serveFile()
}

// mapURI appends the path of uri's file: root followed by the URI, or
// alias in place of the location's prefix, as nginx's
// ngx_http_map_uri_to_path does. A root with variables is evaluated for
// the request and, when relative, taken from the prefix.
func (cc *clientConn) mapURI(b, uri []byte) []byte {
	st := &cc.r.lc.Static
	b = cc.appendRoot(b)
	if st.AliasRegex {
		if !cc.r.addURIToAlias {
			return b
		}
		return append(b, uri...)
	}
	if st.Alias {
		if st.AliasLen <= len(uri) {
			uri = uri[st.AliasLen:]
		} else {
			uri = nil
		}
	}
	return append(b, uri...)
}

// appendRoot appends the request's root or alias path ($document_root):
// one with variables is evaluated for the request and, when relative,
// taken from the prefix.
func (cc *clientConn) appendRoot(b []byte) []byte {
	st := &cc.r.lc.Static
	start := len(b)
	b = cc.eval(b, st.Root)
	if !st.Root.IsLiteral() && (len(b) == start || b[start] != '/') {
		rel := append([]byte(nil), b[start:]...)
		b = append(b[:start], cc.w.srv.cfg.Prefix...)
		if len(b) > start && b[len(b)-1] != '/' {
			b = append(b, '/')
		}
		b = append(b, rel...)
	}
	return b
}

// fileInfo is what a static response needs to know of a file; ino is
// how an open_file_cache entry tells that its path names another file.
type fileInfo struct {
	isDir, isFile, isExec bool
	size                  int64
	mtime                 time.Time
	ino                   uint64
}

// openFailed answers a file that could not be opened as nginx's static
// handler does: 404 for one that is not there (logged unless
// log_not_found is off), 403 for one that may not be read or whose path
// disable_symlinks refuses, 500 otherwise.
func (cc *clientConn) openFailed(of *openedFile, path []byte) {
	if of.err == nil {
		cc.respondError(500)
		return
	}
	status, level := 500, logs.Crit
	switch of.err {
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		status, level = 404, logs.Error
	case unix.EACCES, unix.EPERM, unix.EMLINK, unix.ELOOP:
		status, level = 403, logs.Error
	}
	if status != 404 || cc.r.lc.Static.LogNotFound {
		cc.logAt(level, of.failed+" \""+string(path)+"\" failed ("+logs.SysError(of.err)+")")
	}
	cc.respondError(status)
}

// serveFile sends the file of a URI that does not end in "/": nginx's
// static handler.
func (cc *clientConn) serveFile() {
	r := cc.r
	method := string(r.head.Method)
	if method != "GET" && method != "HEAD" && method != "POST" {
		cc.respondError(405)
		return
	}
	path := cc.mapURI(cc.w.fileName[:0], r.uri)
	cc.w.fileName = path
	if r.lc.Gzip.Static != conf.GzipStaticOff && method != "POST" {
		if done := cc.serveGzipStatic(path); done {
			return
		}
	}
	of := cc.openPath(path, false, false)
	if !of.ok {
		cc.openFailed(&of, path)
		return
	}
	if of.fi.isDir {
		// A directory named without its slash is redirected to it.
		// The URI is escaped again for the Location, as nginx's
		// static module writes it.
		loc := append(appendEscapedURI(nil, r.uri), '/')
		if q := r.head.Query; q != nil {
			loc = append(append(loc, '?'), q...)
		}
		cc.redirectTo(301, loc)
		return
	}
	if !of.fi.isFile {
		cc.w.closeOpened(&of)
		cc.logAt(logs.Crit, "\""+string(path)+"\" is not a regular file")
		cc.respondError(404)
		return
	}
	if method == "POST" {
		cc.w.closeOpened(&of)
		cc.respondError(405)
		return
	}
	cc.sendStatic(&of)
}

// serveGzipStatic is nginx's gzip_static handler: when the client
// accepts gzip (or always) and the file has a ".gz" neighbour, that is
// sent, with the original's type and Content-Encoding gzip. It reports
// whether it answered; otherwise the file itself is served. With
// gzip_static on, a ".gz" file that exists sets Vary (with gzip_vary)
// whoever asked. A ".gz"
// file that cannot be opened is logged and the file itself is served,
// as nginx 1.22 does.
func (cc *clientConn) serveGzipStatic(path []byte) bool {
	r := cc.r
	g := &r.lc.Gzip
	ok := g.Static == conf.GzipStaticAlways
	if !ok {
		h := &r.outHead
		h.reset()
		ok = cc.gzipAccepted(h, g)
	}
	if !ok && !g.Vary {
		return false
	}
	gz := append(append([]byte(nil), path...), ".gz"...)
	of := cc.openPath(gz, false, false)
	if !of.ok {
		level := logs.Crit
		switch of.err {
		case nil:
			cc.respondError(500)
			return true
		case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
			return false
		case unix.EACCES, unix.EMLINK, unix.ELOOP:
			level = logs.Error
		}
		cc.logAt(level, of.failed+" \""+string(gz)+"\" failed ("+logs.SysError(of.err)+")")
		return false
	}
	if g.Static == conf.GzipStaticOn {
		// Vary says the answer depends on Accept-Encoding, which
		// gzip_static always does not look at.
		r.gzipVary = true
	}
	if !ok || of.fi.isDir {
		cc.w.closeOpened(&of)
		return false
	}
	if !of.fi.isFile {
		cc.w.closeOpened(&of)
		cc.logAt(logs.Crit, "\""+string(gz)+"\" is not a regular file")
		cc.respondError(404)
		return true
	}
	r.staticGzip = true
	cc.sendStatic(&of)
	return true
}

// sendStatic answers with an open regular file: its head after the
// not-modified checks, then its bytes. The file is the request's from
// now on (closeFile gives it back).
func (cc *clientConn) sendStatic(of *openedFile) {
	r := cc.r
	w := cc.w
	st := &r.lc.Static
	cc.expectContinue()
	if !cc.discardPreread() {
		w.closeOpened(of)
		return
	}
	// A descriptor the cache owns is not the slot's to close; the slot
	// still counts the request's second half, as for any file.
	fd := of.fd
	if of.entry != nil {
		fd = -1
	}
	slot, err := w.fileSlot(fd)
	if err != nil {
		w.closeOpened(of)
		cc.noFileSlot()
		return
	}
	fi := of.fi
	r.file = staticFile{fd: of.fd, slot: slot, end: fi.size, entry: of.entry, cache: of.cache, minUses: of.minUses}
	h := &r.outHead
	h.reset()
	h.status = 200
	h.server, h.date = true, true
	h.contentType = contentType(st, r.uri)
	h.contentLength = fi.size
	h.lastModified = fi.mtime
	if r.gzipVary {
		h.vary = r.lc.Gzip.Vary
	}

	if st.Etag {
		start := len(h.scratch)
		h.scratch = appendETag(h.scratch, fi)
		h.add(nameETag, h.kept(start))
	}
	if r.staticGzip {
		h.add([]byte("Content-Encoding"), []byte("gzip"))
	}
	if r.errStatus == 200 {
		// An error page sent as 200 (error_page ... =200) is an ordinary
		// answer for nginx's range and not-modified filters.
		r.errStatus = 0
	}
	verdict := 0
	if r.errStatus != 0 {
		// An error page's file goes with the error's status, which is
		// what nginx's filters see: no range, no not-modified answer,
		// and no Last-Modified, which its header filter sends only with
		// 200, 206 and 304.
		h.lastModified = time.Time{}
		verdict = -1
	} else {
		verdict = cc.notModified(h)
	}
	cc.sendFileAnswer(h, verdict, fi.size, true)
}

// sendFileAnswer finishes the answer from a file (a static one or a
// stored proxy_cache answer) once the not-modified filter's verdict is
// known (-1 when it does not apply): 304 without a body and without the
// fields nginx's filter clears, 412 through its error page, else the
// headers filter, then the range filter when ranges may apply; then the
// head and the file's bytes.
func (cc *clientConn) sendFileAnswer(h *outHead, verdict int, size int64, ranges bool) {
	r := cc.r
	switch verdict {
	case -1:
	case 304:
		h.status, h.reason = 304, nil
		h.contentType, h.fieldType, h.contentLength = "", nil, -1
		h.del(nameContentEncoding)
		r.closeFile()
	case 412:
		r.closeFile()
		cc.respondError(412)
		return
	default:
		// nginx's range filter runs after the headers filter: If-Range
		// is compared with what add_header made of Last-Modified and
		// ETag.
		cc.filterHead(h)
		if ranges && !cc.byteRange(h, size) {
			return
		}
	}
	r.status = h.status
	cc.startRateLimit(cc.limitRateFor())
	cc.setPhase(phaseFile)
	cc.writeHead(h)
	if isHead(&r.head) || h.status == 304 || h.status == 204 {
		r.closeFile()
	}
	cc.sendFileBody()
}

// noFileSlot answers a request whose file found no slot: 503 with
// Retry-After, as for any lack of capacity.
func (cc *clientConn) noFileSlot() {
	r := cc.r
	w := cc.w
	w.warnf(logs.Warn, "worker %d out of connection slots for a file: %s", w.id, w.slotReport())
	w.stats.Rejected.Inc()
	r.retryAfter = true
	r.keepAlive = false
	cc.respondError(503)
}

// fileSlot takes a slot for a file's descriptor, reclaiming an idle
// connection's if need be, so that every descriptor a request holds is
// counted in the worker's slots. fd is -1 for a descriptor that
// open_file_cache owns: the slot then counts it without closing it.
func (w *worker) fileSlot(fd int) (*engine.Conn, error) {
	if w.loop.Free() == 0 {
		w.reclaimSlots(1)
	}
	c, err := w.loop.AddUnpolled(engine.KindFile, nil)
	if err != nil {
		return nil, err
	}
	c.Fd = fd
	return c, nil
}

// sendFileBody sends what is left of the file, after the head in out; at
// the end the request finishes. It returns when the client can take no
// more (the write handler goes on) or the request ended.
func (cc *clientConn) sendFileBody() {
	r := cc.r
	if r.body != nil {
		cc.sendFileFiltered()
		return
	}
	fs, sendfile := cc.tr.(fileSender)
	sendfile = sendfile && r.lc.Static.Sendfile
	for {
		// What waits in out (the head, file bytes read so far) is
		// written before sendfile, when out is full or when the file is
		// done: a small file leaves with its head in one write, as
		// nginx's writev sends them.
		if cc.outOff < len(cc.out) && (sendfile || len(cc.out) == cap(cc.out) || !r.file.open() || r.file.off >= r.file.end) {
			// The file's first bytes join the head's last packet: a
			// small file leaves in one segment with its head, where
			// nginx sends two unless tcp_nopush corks them. Under
			// limit_rate a pause may come between the head and the
			// file, so there only tcp_nopush asks for it, as before.
			cc.sock.more = sendfile && r.file.open() && r.file.off < r.file.end && (r.limitRate == 0 || r.lc.Static.TCPNopush)
			flushed := cc.flush()
			cc.sock.more = false
			if !flushed {
				return
			}
		}
		if r.trailers && r.file.open() && !r.file.chunked {
			// With trailers the file goes as one chunk, then the last
			// chunk with the fields.
			r.file.chunked = true
			cc.outBuf()
			size := r.file.end - r.file.off
			if m := r.file.multi; m != nil {
				size = m.total
			}
			if size > 0 {
				cc.out = strconv.AppendInt(cc.out, size, 16)
				cc.out = append(cc.out, "\r\n"...)
				r.file.inChunk = true
			}
			continue
		}
		if m := r.file.multi; m != nil && r.file.open() && m.due(&r.file) {
			// A multipart answer's part head or closing boundary goes
			// into out, as much as fits; a full out is written first.
			if len(m.pending) == 0 {
				m.advance(&r.file)
			}
			cc.outBuf()
			k := copy(cc.out[len(cc.out):cap(cc.out)], m.pending)
			cc.out = cc.out[:len(cc.out)+k]
			m.pending = m.pending[k:]
			r.bodySent += int64(k)
			continue
		}
		if !r.file.open() || r.file.off >= r.file.end {
			if r.trailers && !r.file.trailed {
				r.file.trailed = true
				cc.outBuf()
				if r.file.inChunk {
					cc.out = append(cc.out, "\r\n"...)
				}
				cc.out = cc.appendLastChunk(cc.out)
				continue
			}
			r.closeFile()
			cc.finish()
			return
		}
		n := r.file.end - r.file.off
		if max := r.lc.Static.SendfileMaxChunk; max > 0 && n > max {
			n = max
		}
		if r.limitRate > 0 {
			allowed := cc.rateAllowance()
			if allowed <= 0 {
				cc.rateDelay(time.Duration(-allowed*1000/r.limitRate+1) * time.Millisecond)
				return
			}
			n = min(n, allowed)
		}
		if sendfile {
			sent, err := fs.SendFile(r.file.fd, &r.file.off, int(n))
			if sent > 0 {
				if !r.sendWaitFrom.IsZero() {
					// The client keeps up again.
					r.sendWaitFrom = time.Time{}
					cc.c.StopTimer()
				}
				before := r.bytesSent
				r.bytesSent += int64(sent)
				r.bodySent += int64(sent)
				if d := cc.rateDelayAfter(before); d > 0 {
					cc.rateDelay(d)
					return
				}
				continue
			}
			if err == engine.ErrAgain {
				cc.waitForClient()
				return
			}
			if err == nil {
				// The file is shorter than when it was opened.
				cc.logAt(logs.Alert, "file was truncated while it was sent")
			}
			r.closeFile()
			cc.abort()
			return
		}
		// Through the output buffer: as much of the file as fits.
		cc.outBuf()
		room := cc.out[len(cc.out):cap(cc.out)]
		if int64(len(room)) > n {
			room = room[:n]
		}
		k, ok := cc.readFilePiece(room)
		if !ok {
			return
		}
		r.bodySent += int64(k)
		cc.out = cc.out[:len(cc.out)+k]
	}
}

// readFilePiece reads the file's next bytes into buf and advances its
// offset; a file that ends early or cannot be read ends the request, as
// nginx ends it, and ok is false.
func (cc *clientConn) readFilePiece(buf []byte) (n int, ok bool) {
	r := cc.r
	k, err := engine.Pread(r.file.fd, buf, r.file.off)
	if k <= 0 {
		if err == nil {
			cc.logAt(logs.Alert, "file was truncated while it was sent")
		} else {
			cc.logAt(logs.Crit, "pread() failed ("+logs.SysError(err)+")")
		}
		r.closeFile()
		cc.abort()
		return 0, false
	}
	r.file.off += int64(k)
	return k, true
}

// sendFileFiltered sends a file through its body filters (the charset
// filter's conversion, gunzip for a ".gz" file, gzip): pieces read into
// a buffer, passed through the filters, framed into out as it has room,
// the filters' end (gzip's trailer) after the file's.
func (cc *clientConn) sendFileFiltered() {
	r := cc.r
	f := r.body
	for {
		// out is written when it is full or the answer is whole (or the
		// chain waits, below): a small file leaves with its head and its
		// end in one write.
		if cc.outOff < len(cc.out) && (r.respDone || len(cc.out)+chunkOverhead >= cap(cc.out)) && !f.holdsHead() && !cc.flush() {
			return
		}
		if r.respDone {
			r.closeFile()
			cc.finish()
			return
		}
		cc.outBuf()
		drained := cc.drainBody(&cc.out)
		if cc.bodyFailed() {
			return
		}
		if !drained {
			// While an SSI include runs the file is not read further.
			if f.stalled() && !cc.flushIncluded(f) {
				return
			}
			continue
		}
		if m := r.file.multi; m != nil && r.file.open() && m.due(&r.file) {
			// A multipart answer's part heads pass through the filters
			// too, as nginx's range filter comes before them.
			m.advance(&r.file)
			f.write(m.pending)
			m.pending = nil
			continue
		}
		if !r.file.open() || r.file.off >= r.file.end {
			if f.finished {
				cc.endClientResponse(&cc.out)
				continue
			}
			f.finished = true
			f.finish()
			continue
		}
		if r.spoolScratch == nil {
			r.spoolScratch = cc.w.getBuf()[:0]
		}
		buf := r.spoolScratch[:cap(r.spoolScratch)]
		if n := r.file.end - r.file.off; int64(len(buf)) > n {
			buf = buf[:n]
		}
		k, ok := cc.readFilePiece(buf)
		if !ok {
			return
		}
		f.write(buf[:k])
	}
}

// waitForClient notes that the client cannot take more now: send_timeout
// runs, and how long it has been behind feeds send_min_rate.
func (cc *clientConn) waitForClient() {
	r := cc.r
	if r.sendWaitFrom.IsZero() {
		r.sendWaitFrom = cc.w.loop.Now()
		r.sendWaitBase = r.bytesSent
	}
	cc.c.SetTimer(r.lc.SendTimeout)
}

// fileSender is a transport that can send a file's bytes itself, without
// copying them through the process: sendfile(2) on a socket.
type fileSender interface {
	// SendFile sends up to n bytes of the file fd from *off, advancing
	// it; engine.ErrAgain when the peer can take none now, (0, nil) at
	// the end of the file.
	SendFile(fd int, off *int64, n int) (int, error)
}

// SendFile sends from a file with sendfile(2).
func (t *socketTransport) SendFile(fd int, off *int64, n int) (int, error) {
	for {
		k, err := engine.Sendfile(t.c.Fd, fd, off, n)
		switch {
		case k > 0:
			return k, nil
		case k == 0:
			return 0, nil
		case err == unix.EAGAIN:
			t.c.WriteReady = false
			return 0, engine.ErrAgain
		case err == unix.EINTR:
			continue
		}
		return 0, err
	}
}

// extension returns the part of a URI's last segment after its last dot,
// nil when the segment has none or starts with it, as nginx's exten.
func extension(uri []byte) []byte {
	for i := len(uri) - 1; i >= 0; i-- {
		switch uri[i] {
		case '.':
			if i > 0 && uri[i-1] != '/' {
				return uri[i+1:]
			}
			return nil
		case '/':
			return nil
		}
	}
	return nil
}

// appendETag appends nginx's entity tag of a file: its modification time
// and size in hexadecimal, quoted.
func appendETag(b []byte, fi fileInfo) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, fi.mtime.Unix(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.size, 16)
	return append(b, '"')
}

// notModified applies the conditional request fields to a file's
// response, as nginx's not_modified filter does: 412 when If-Unmodified-
// Since or If-Match fails, 304 when If-Modified-Since and If-None-Match
// (those present) say the client's copy is current, else 0.
func (cc *clientConn) notModified(h *outHead) int {
	r := cc.r
	if cc.sub != nil {
		// The conditions are the main request's, for its own answer.
		return 0
	}
	hs := r.head.Headers
	mtime := h.lastModified
	etag := headerValue(h.fields, "ETag")
	if v := headerValue(hs, "If-Unmodified-Since"); v != nil {
		// An answer without a date, or a date that cannot be read,
		// fails the condition, as in nginx.
		if t, ok := parseHTTPDate(v); mtime.IsZero() || !ok || mtime.After(t) {
			return 412
		}
	}
	if v := headerValue(hs, "If-Match"); v != nil && !etagMatches(v, etag, false) {
		return 412
	}
	ims := headerValue(hs, "If-Modified-Since")
	inm := headerValue(hs, "If-None-Match")
	if ims == nil && inm == nil {
		return 0
	}
	if ims != nil {
		if mtime.IsZero() {
			// An answer without a date is always modified.
			return 0
		}
		switch r.lc.Static.IfModifiedSince {
		case conf.IMSOff:
			return 0
		case conf.IMSExact:
			if t, ok := parseHTTPDate(ims); !ok || !t.Equal(mtime) {
				return 0
			}
		case conf.IMSBefore:
			if t, ok := parseHTTPDate(ims); !ok || t.Before(mtime) {
				return 0
			}
		}
	}
	if inm != nil && !etagMatches(inm, etag, true) {
		return 0
	}
	return 304
}

// etagMatches reports whether a list of entity tags (If-Match,
// If-None-Match) names etag; "*" names any, even an answer without one,
// as in nginx. weak compares without the W/ prefix, as If-None-Match
// does.
func etagMatches(list, etag []byte, weak bool) bool {
	list = bytes.TrimSpace(list)
	if string(list) == "*" {
		return true
	}
	if etag == nil {
		return false
	}
	if weak {
		etag = bytes.TrimPrefix(etag, []byte("W/"))
	}
	for len(list) > 0 {
		list = bytes.TrimLeft(list, " \t,")
		if len(list) == 0 {
			break
		}
		end := bytes.IndexByte(list, ',')
		if end < 0 {
			end = len(list)
		}
		tag := bytes.TrimSpace(list[:end])
		if weak {
			tag = bytes.TrimPrefix(tag, []byte("W/"))
		}
		if bytes.Equal(tag, etag) {
			return true
		}
		list = list[end:]
	}
	return false
}

// parseHTTPDate reads an HTTP date in any of the three formats RFC 9110
// accepts.
func parseHTTPDate(v []byte) (time.Time, bool) {
	v = bytes.TrimSpace(v)
	if t, ok := parseIMFFixdate(v); ok {
		return t, true
	}
	s := string(v)
	for _, layout := range []string{time.RFC1123, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseIMFFixdate reads the preferred format, "Sun, 06 Nov 1994
// 08:49:37 GMT", without allocating (time.Parse makes a zone for "GMT"
// each time): the format of nearly every date a client or an upstream
// sends. ok is false for anything else, which parseHTTPDate then tries
// the other formats on.
func parseIMFFixdate(v []byte) (time.Time, bool) {
	if len(v) != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
		v[19] != ':' || v[22] != ':' || v[25] != ' ' || string(v[26:]) != "GMT" {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	month := 0
	for i, m := range [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		if string(v[8:11]) == m {
			month = i + 1
			break
		}
	}
	day, year, hour, min, sec := num(v[5:7]), num(v[12:16]), num(v[17:19]), num(v[20:22]), num(v[23:25])
	if month == 0 || day < 1 || day > 31 || year < 0 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	if t.Day() != day {
		// A day the month does not have (time.Date would roll it over).
		return time.Time{}, false
	}
	return t, true
}

// serveIndex answers a URI that ends in "/" as nginx's index module
// does: the first index file that can be opened (whatever it is) gets the
// request by an internal redirect; the directory is tested once an index
// file is missing, so that a missing directory is 404; a directory
// without one gets its listing (autoindex, for GET and HEAD) or is
// forbidden. A path disable_symlinks refuses is 403.
func (cc *clientConn) serveIndex() {
	r := cc.r
	method := string(r.head.Method)
	if method != "GET" && method != "HEAD" && method != "POST" {
		cc.respondError(405)
		return
	}
	st := &r.lc.Static
	dir := cc.mapURI(nil, r.uri)
	dirTested := false
	var name, path []byte
	for _, t := range st.Index {
		name = cc.eval(name[:0], t)
		if len(name) > 0 && name[0] == '/' {
			// The last index may be an absolute URI, redirected to
			// whether or not it exists.
			cc.internalRedirect(name, nil)
			return
		}
		path = append(append(path[:0], dir...), name...)
		of := cc.testPath(path, false)
		if of.ok {
			uri := append(append([]byte(nil), r.uri...), name...)
			cc.internalRedirect(uri, nil)
			return
		}
		switch of.err {
		case nil:
			cc.respondError(500)
			return
		case unix.ELOOP, unix.EMLINK:
			cc.respondError(403)
			return
		case unix.ENOTDIR, unix.ENAMETOOLONG, unix.EACCES:
			cc.indexError(path, of.err)
			return
		}
		if !dirTested {
			if !cc.indexTestDir(dir, path) {
				return
			}
			dirTested = true
		}
		if of.err == unix.ENOENT {
			continue
		}
		cc.logAt(logs.Crit, of.failed+" \""+string(path)+"\" failed ("+logs.SysError(of.err)+")")
		cc.respondError(500)
		return
	}
	// No index file in a directory that exists.
	if r.lc.Autoindex.On && method != "POST" {
		// A listing answers GET and HEAD; a POST stays forbidden, as in
		// nginx.
		cc.serveAutoindex(dir)
		return
	}
	cc.logAt(logs.Error, "directory index of \""+string(dir)+"\" is forbidden")
	cc.respondError(403)
}

// indexTestDir tests the directory of index files once one is missing,
// as nginx's ngx_http_index_test_dir: it reports whether the request goes
// on, having answered otherwise. A directory that may not be searched
// goes on, since its index file's error said it may be; errors name the
// index file, as nginx's do.
func (cc *clientConn) indexTestDir(dir, path []byte) bool {
	if len(dir) > 1 && dir[len(dir)-1] == '/' {
		dir = dir[:len(dir)-1]
	}
	of := cc.testPath(dir, true)
	if !of.ok {
		switch of.err {
		case nil:
			cc.respondError(500)
		case unix.ELOOP, unix.EMLINK:
			cc.respondError(403)
		case unix.ENOENT:
			cc.indexError(path, of.err)
		case unix.EACCES:
			return true
		default:
			cc.logAt(logs.Crit, of.failed+" \""+string(dir)+"\" failed ("+logs.SysError(of.err)+")")
			cc.respondError(500)
		}
		return false
	}
	if !of.fi.isDir {
		cc.logAt(logs.Alert, "\""+string(dir)+"\" is not a directory")
		cc.respondError(500)
		return false
	}
	return true
}

// indexError answers an index file that cannot be tested: 403 when it
// may not be, else 404 (logged unless log_not_found is off).
func (cc *clientConn) indexError(path []byte, err error) {
	if err == unix.EACCES {
		cc.logAt(logs.Error, "\""+string(path)+"\" is forbidden ("+logs.SysError(err)+")")
		cc.respondError(403)
		return
	}
	if cc.r.lc.Static.LogNotFound {
		cc.logAt(logs.Error, "\""+string(path)+"\" is not found ("+logs.SysError(err)+")")
	}
	cc.respondError(404)
}

// tryFiles runs try_files: the first entry whose file (or directory, for
// one ending in "/") exists is served as the request's URI; without one,
// the last entry is a status (=code), or a URI the request is redirected
// to internally. An entry that cannot be tested is passed over, logged
// unless it is simply missing, as nginx does.
func (cc *clientConn) tryFiles() {
	r := cc.r
	st := &r.lc.Static
	n := len(st.TryFiles)
	var name []byte
	for _, t := range st.TryFiles[:n-1] {
		name = cc.eval(name[:0], t)
		// An entry written with a final slash tests for a directory
		// named without that slash, which is also the URI it gives, as
		// in nginx: a directory named without its own slash is then
		// redirected to it.
		dir := strings.HasSuffix(t.Source, "/")
		if dir {
			name = name[:len(name)-1]
		}
		r.addURIToAlias = r.lc.Static.AliasRegex
		path := cc.mapURI(nil, name)
		r.addURIToAlias = false
		of := cc.testPath(path, dir)
		if !of.ok {
			switch of.err {
			case nil:
				cc.respondError(500)
				return
			case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
			default:
				cc.logAt(logs.Crit, of.failed+" \""+string(path)+"\" failed ("+logs.SysError(of.err)+")")
			}
			continue
		}
		if of.fi.isDir != dir {
			continue
		}
		// The file is served as the request's URI, in this location.
		// With alias in a regex location the file is the alias
		// followed by the URI from now on, as nginx's
		// add_uri_to_alias makes it.
		r.addURIToAlias = r.lc.Static.AliasRegex && !dir
		r.uri = append(r.uri[:0], name...)
		r.triedFiles = true
		cc.runContent()
		return
	}
	last := cc.eval(nil, st.TryFiles[n-1])
	if len(last) > 1 && last[0] == '=' {
		code, _ := strconv.Atoi(string(last[1:]))
		cc.respondError(code)
		return
	}
	if len(last) > 0 && last[0] == '@' {
		cc.namedRedirect(last)
		return
	}
	uri, args, _ := bytes.Cut(last, []byte("?"))
	if bytes.IndexByte(last, '?') < 0 {
		args = nil
	}
	cc.internalRedirect(uri, args)
}

// Names and values of fields the static handler adds.
var (
	nameETag         = []byte("ETag")
	nameAcceptRanges = []byte("Accept-Ranges")
	nameContentRange = []byte("Content-Range")
	valueBytes       = []byte("bytes")
)
