package proxy

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

// This file is nginx's autoindex module: a request for a directory whose
// index files are all missing gets a listing of the directory, in HTML,
// JSON, JSONP or XML, laid out byte for byte as nginx 1.22 lays it out.
//
// Reading the directory (open, getdents and a stat of each entry) blocks
// the worker on the disk, as opening and examining a file does for the
// static handler and as nginx's own module does: on a local file system
// whose metadata is cached it is quick, though it grows with the number
// of entries. The listing is made in memory and sent at once, without a
// Content-Length, as nginx sends it: chunked for HTTP/1.1, ended by
// closing the connection for HTTP/1.0.

// listEntry is one name in a directory listing.
type listEntry struct {
	name string
	// dir and file say what the entry is, after symbolic links: a
	// directory, a regular file, or neither ("other").
	dir, file bool
	// mtime is its modification time in seconds, size its size.
	mtime int64
	size  int64
}

// Widths of the HTML listing.
const (
	// listNameWidth is the column a name is padded to; a longer name is
	// cut and ends in "..>".
	listNameWidth = 50
	// listCutLength is how much of a longer name is shown.
	listCutLength = listNameWidth - 3
	// maxCallbackLength bounds the jsonp callback's name.
	maxCallbackLength = 128
)

// serveAutoindex answers a GET or HEAD for a directory that has no index
// file with its listing (dir is the directory's path, ending in "/"). It
// is nginx's autoindex handler: a jsonp callback that is not a plain
// name is refused with 400, a directory that cannot be opened is 404,
// 403 or 500 by the error, and the answer goes through the not-modified
// checks as one without Last-Modified or ETag.
func (cc *clientConn) serveAutoindex(dir []byte) {
	r := cc.r
	format := r.lc.Autoindex.Format
	var callback []byte
	if format == conf.AutoindexJSONP {
		cb, ok := cc.jsonpCallback()
		if !ok {
			cc.respondError(400)
			return
		}
		if len(cb) == 0 {
			format = conf.AutoindexJSON
		}
		callback = cb
	}
	cc.expectContinue()
	if !cc.discardPreread() {
		return
	}
	path := dir
	if n := len(path); n > 1 && path[n-1] == '/' {
		path = path[:n-1]
	}
	fd, ok := cc.openDirectoryOrAnswer(path)
	if !ok {
		return
	}

	h := &r.outHead
	h.reset()
	h.status = 200
	h.server, h.date = true, true
	h.contentType = listingType(format)
	if r.errStatus == 200 {
		// An error page sent as 200 is an ordinary answer.
		r.errStatus = 0
	}
	if r.errStatus == 0 {
		switch cc.notModified(h) {
		case 412:
			unix.Close(fd)
			cc.respondError(412)
			return
		case 304:
			unix.Close(fd)
			h.status = 304
			h.contentType = ""
			cc.sendListing(h, nil)
			return
		}
	}
	if isHead(&r.head) {
		// The head is all that is sent: the directory is not read.
		unix.Close(fd)
		cc.sendListing(h, nil)
		return
	}
	entries, ok := cc.readDirectory(fd, path)
	if !ok {
		return
	}
	slices.SortFunc(entries, compareEntries)

	// The header filters run before the listing is made: the HTML
	// listing counts a name's characters rather than its bytes when the
	// charset the answer names is UTF-8.
	cc.filterHead(h)
	var body []byte
	switch format {
	case conf.AutoindexJSON:
		body = appendJSONListing(nil, entries, nil)
	case conf.AutoindexJSONP:
		body = appendJSONListing(nil, entries, callback)
	case conf.AutoindexXML:
		body = appendXMLListing(nil, entries)
	default:
		var offset int64
		if r.lc.Autoindex.Localtime {
			// As nginx, the zone's offset now, for every entry.
			_, off := cc.w.loop.Now().Local().Zone()
			offset = int64(off)
		}
		body = appendHTMLListing(nil, r.uri, entries, htmlListingOptions{
			utf8:      namesUTF8(h),
			exactSize: r.lc.Autoindex.ExactSize,
			offset:    offset,
		})
	}
	cc.sendListing(h, body)
}

// jsonpCallback returns the "callback" argument of a jsonp listing's
// request (empty when there is none), or false for one nginx refuses:
// longer than 128 bytes, or with anything but letters, digits, "_" and
// ".".
func (cc *clientConn) jsonpCallback() ([]byte, bool) {
	cb, _ := queryArg(cc.r.head.Query, "callback")
	if len(cb) > maxCallbackLength {
		cc.logAt(logs.Info, "client sent too long callback name: \""+string(cb)+"\"")
		return nil, false
	}
	for _, c := range cb {
		lower := c | 0x20
		if 'a' <= lower && lower <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' {
			continue
		}
		cc.logAt(logs.Info, "client sent invalid callback name: \""+string(cb)+"\"")
		return nil, false
	}
	return cb, true
}

// listingType is the Content-Type of a listing's format. The XML one
// names its charset itself, so that the charset filter leaves it.
func listingType(f conf.AutoindexFormat) string {
	switch f {
	case conf.AutoindexJSON:
		return "application/json"
	case conf.AutoindexJSONP:
		return "application/javascript"
	case conf.AutoindexXML:
		return "text/xml; charset=utf-8"
	}
	return "text/html"
}

// namesUTF8 reports whether the filtered head names the charset UTF-8
// ("; charset=utf-8" in any case), which makes the HTML listing measure
// names in characters.
func namesUTF8(h *outHead) bool {
	ctype := h.fieldType
	if ctype == nil {
		ctype = []byte(h.contentType)
	}
	_, cs, ok := bytes.Cut(ctype, []byte("; charset="))
	return ok && http1.EqualFold(cs, "utf-8")
}

// openDirectoryOrAnswer opens a directory for autoindex or random_index,
// or answers as nginx does when it cannot: 404 for a path that is not
// there, 403 without permission, 500 otherwise, with opendir()'s line.
func (cc *clientConn) openDirectoryOrAnswer(path []byte) (int, bool) {
	fd, err := openDirectory(path)
	if err == nil {
		return fd, true
	}
	status, level := 500, logs.Crit
	switch err {
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		status, level = 404, logs.Error
	case unix.EACCES:
		status, level = 403, logs.Error
	}
	cc.logAt(level, "opendir() \""+string(path)+"\" failed ("+logs.SysError(err)+")")
	cc.respondError(status)
	return -1, false
}

// openDirectory opens path (NUL-free) as a directory for reading.
func openDirectory(path []byte) (int, error) {
	if bytes.IndexByte(path, 0) >= 0 {
		return -1, unix.ENOENT
	}
	for {
		fd, err := unix.Open(string(path), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readDirectory reads the entries of the open directory fd (path is its
// name, for the entries' paths and the log) and closes it. Hidden names
// (starting with ".") are left out; each other entry is examined with
// stat(2), so that a symbolic link shows what it points to, or with
// lstat(2) when it points nowhere or in a loop. An entry that may not be
// examined is logged and left out. Any other failure is logged and
// answered 500, and it returns false.
func (cc *clientConn) readDirectory(fd int, path []byte) ([]listEntry, bool) {
	buf := cc.w.getBuf()
	defer cc.w.putBuf(buf)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			cc.logAt(logs.Crit, "readdir() \""+string(path)+"\" failed ("+logs.SysError(err)+")")
			cc.respondError(500)
			return nil, false
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	unix.Close(fd)

	entries := make([]listEntry, 0, len(names))
	full := append(append(make([]byte, 0, len(path)+64), path...), '/')
	base := len(full)
	for _, name := range names {
		if name[0] == '.' {
			continue
		}
		full = append(full[:base], name...)
		file := string(full)
		var st unix.Stat_t
		if err := unix.Stat(file, &st); err != nil {
			if err != unix.ENOENT && err != unix.ELOOP {
				cc.logAt(logs.Crit, "stat() \""+file+"\" failed ("+logs.SysError(err)+")")
				if err == unix.EACCES {
					continue
				}
				cc.respondError(500)
				return nil, false
			}
			if err := unix.Lstat(file, &st); err != nil {
				cc.logAt(logs.Crit, "lstat() \""+file+"\" failed ("+logs.SysError(err)+")")
				cc.respondError(500)
				return nil, false
			}
		}
		entries = append(entries, listEntry{
			name:  name,
			dir:   st.Mode&unix.S_IFMT == unix.S_IFDIR,
			file:  st.Mode&unix.S_IFMT == unix.S_IFREG,
			mtime: st.Mtim.Sec,
			size:  st.Size,
		})
	}
	return entries, true
}

// compareEntries orders a listing as nginx 1.22 does: directories first,
// then names by their bytes.
func compareEntries(a, b listEntry) int {
	if a.dir != b.dir {
		if a.dir {
			return -1
		}
		return 1
	}
	return strings.Compare(a.name, b.name)
}

// sendListing writes a listing's head and body (nil for a head alone):
// with no Content-Length, so the body is chunked for HTTP/1.1, or ends
// with the connection for HTTP/1.0, unless the gzip filter compresses
// it, which frames it the same way.
func (cc *clientConn) sendListing(h *outHead, body []byte) {
	r := cc.r
	if !h.filtered {
		cc.filterHead(h)
	}
	hasBody := !isHead(&r.head) && h.status != 304 && h.status != 204
	if hasBody && r.gz == nil {
		r.chunkOut = cc.chunkable()
		h.chunked = r.chunkOut
		if !r.chunkOut {
			r.keepAlive = false
		}
	}
	r.status = h.status
	cc.startRateLimit(cc.limitRateFor())
	cc.setPhase(phaseRespond)
	cc.writeHead(h)
	cc.sendOwnBody(body, hasBody)
}

// htmlListingOptions are what the HTML listing depends on besides the
// entries.
type htmlListingOptions struct {
	// utf8 measures names in UTF-8 characters (the answer's charset is
	// UTF-8); otherwise in bytes.
	utf8 bool
	// exactSize shows sizes in bytes, otherwise rounded with K, M or G.
	exactSize bool
	// offset is added to the times, in seconds (autoindex_localtime).
	offset int64
}

// listingMonths are the month names of the HTML listing's dates.
var listingMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// appendHTMLListing appends nginx's HTML listing of a directory: a title
// and heading with the URI (HTML-escaped), a "../" link, then a line per
// entry: the link (its name escaped as a URI component, "/" after a
// directory), the name (HTML-escaped, cut to 47 characters and "..>"
// past 50, padded to 50), the date and the size.
func appendHTMLListing(b, uri []byte, entries []listEntry, o htmlListingOptions) []byte {
	b = append(b, "<html>\r\n<head><title>Index of "...)
	b = appendEscapedHTML(b, uri)
	b = append(b, "</title></head>\r\n<body>\r\n<h1>Index of "...)
	b = appendEscapedHTML(b, uri)
	b = append(b, "</h1><hr><pre><a href=\"../\">../</a>\r\n"...)
	for i := range entries {
		e := &entries[i]
		name := []byte(e.name)
		b = append(b, "<a href=\""...)
		b = appendEscaped(b, name, &escapeURIComponent)
		if e.dir {
			b = append(b, '/')
		}
		b = append(b, "\">"...)

		length := len(name)
		if o.utf8 {
			length = utf8Length(name)
		}
		shown := length
		if length > listNameWidth {
			shown = listCutLength
		}
		if length != len(name) {
			// Multibyte characters: the first ones, by character.
			b = appendEscapedHTML(b, name[:utf8Prefix(name, shown)])
		} else {
			b = appendEscapedHTML(b, name[:shown])
		}
		if length > listNameWidth {
			b = append(b, "..&gt;</a>"...)
		} else {
			if e.dir && length < listNameWidth {
				b = append(b, '/')
				length++
			}
			b = append(b, "</a>"...)
			b = appendSpaces(b, listNameWidth-length)
		}
		b = append(b, ' ')

		t := time.Unix(max(e.mtime+o.offset, 0), 0).UTC()
		b = appendPadded(b, int64(t.Day()), 2, '0')
		b = append(b, '-')
		b = append(b, listingMonths[t.Month()-1]...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(t.Year()), 10)
		b = append(b, ' ')
		b = appendPadded(b, int64(t.Hour()), 2, '0')
		b = append(b, ':')
		b = appendPadded(b, int64(t.Minute()), 2, '0')
		b = append(b, ' ')
		b = appendListingSize(b, e, o.exactSize)
		b = append(b, "\r\n"...)
	}
	return append(b, "</pre><hr></body>\r\n</html>\r\n"...)
}

// appendListingSize appends an HTML listing's size column: a directory's
// "-", else the size in bytes in 19 columns, or (not exact) in 7: bytes
// up to 9999, then kilobytes, megabytes or gigabytes, rounded to the
// nearest, with their letter.
func appendListingSize(b []byte, e *listEntry, exact bool) []byte {
	if exact {
		if e.dir {
			return append(b, "                  -"...)
		}
		return appendPadded(b, e.size, 19, ' ')
	}
	if e.dir {
		return append(b, "      -"...)
	}
	const (
		kilo = 1024
		mega = 1024 * kilo
		giga = 1024 * mega
	)
	n, unit, scale := e.size, int64(0), byte(0)
	switch {
	case n >= giga:
		unit, scale = giga, 'G'
	case n >= mega:
		unit, scale = mega, 'M'
	case n > 9999:
		unit, scale = kilo, 'K'
	}
	if scale == 0 {
		b = append(b, ' ')
		return appendPadded(b, n, 6, ' ')
	}
	v := n / unit
	if n%unit >= unit/2 {
		v++
	}
	b = appendPadded(b, v, 6, ' ')
	return append(b, scale)
}

// appendJSONListing appends nginx's JSON listing: an array with an
// object per entry (name, type, mtime as an HTTP date, and size for a
// file), each on a line of its own; with a callback, the array is the
// argument of a call of it after a "/* callback */" line.
func appendJSONListing(b []byte, entries []listEntry, callback []byte) []byte {
	if callback != nil {
		b = append(b, "/* callback */\r\n"...)
		b = append(b, callback...)
		b = append(b, '(')
	}
	b = append(b, '[')
	for i := range entries {
		e := &entries[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\r\n{ \"name\":\""...)
		b = appendEscapedJSON(b, e.name)
		b = append(b, "\", \"type\":\""...)
		b = append(b, entryType(e)...)
		b = append(b, "\", \"mtime\":\""...)
		b = time.Unix(max(e.mtime, 0), 0).UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
		if e.file {
			b = append(b, "\", \"size\":"...)
			b = strconv.AppendInt(b, e.size, 10)
		} else {
			b = append(b, '"')
		}
		b = append(b, " }"...)
	}
	b = append(b, "\r\n]"...)
	if callback != nil {
		b = append(b, ");"...)
	}
	return b
}

// appendXMLListing appends nginx's XML listing: a list element with an
// element per entry, named by its type, with its mtime (and a file's
// size) as attributes and its name (HTML-escaped) as content.
func appendXMLListing(b []byte, entries []listEntry) []byte {
	b = append(b, "<?xml version=\"1.0\"?>\r\n<list>\r\n"...)
	for i := range entries {
		e := &entries[i]
		kind := entryType(e)
		b = append(b, '<')
		b = append(b, kind...)
		b = append(b, " mtime=\""...)
		b = time.Unix(max(e.mtime, 0), 0).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
		if e.file {
			b = append(b, "\" size=\""...)
			b = strconv.AppendInt(b, e.size, 10)
		}
		b = append(b, "\">"...)
		b = appendEscapedHTML(b, []byte(e.name))
		b = append(b, "</"...)
		b = append(b, kind...)
		b = append(b, ">\r\n"...)
	}
	return append(b, "</list>\r\n"...)
}

// entryType is an entry's type in the JSON and XML listings.
func entryType(e *listEntry) string {
	switch {
	case e.dir:
		return "directory"
	case e.file:
		return "file"
	}
	return "other"
}

// escapeURIComponent is nginx's NGX_ESCAPE_URI_COMPONENT table (bit c&31
// of word c>>5 set for each byte escaped): everything but letters,
// digits and "-", ".", "_", "~".
var escapeURIComponent = [8]uint32{0xffffffff, 0xfc009fff, 0x78000001, 0xb8000001, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}

// appendEscapedHTML appends p with "<", ">", "&" and '"' written as
// entities, as nginx's ngx_escape_html does.
func appendEscapedHTML(b, p []byte) []byte {
	for _, c := range p {
		switch c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendEscapedJSON appends s escaped for a JSON string as nginx's
// ngx_escape_json does: '"' and '\' with a backslash, control characters
// as \n, \r, \t, \b, \f or \u00XX; other bytes, UTF-8 or not, as they
// are.
func appendEscapedJSON(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendPadded appends v in decimal, right-aligned in width columns
// filled with pad.
func appendPadded(b []byte, v int64, width int, pad byte) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], v, 10)
	for i := len(d); i < width; i++ {
		b = append(b, pad)
	}
	return append(b, d...)
}

// appendSpaces appends n spaces.
func appendSpaces(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

// utf8Next decodes the character at the start of p as nginx's
// ngx_utf8_decode does and returns its length, or 0 when p does not
// start with one: a lead byte below 0xC2, a sequence cut short, a
// continuation byte below 0x80, an overlong form, or a value past
// U+10FFFF. (Like nginx it takes any byte from 0x80 as a continuation,
// and surrogates as characters.)
func utf8Next(p []byte) int {
	u := uint32(p[0])
	var n int
	var least uint32
	switch {
	case u >= 0xf0:
		u, n, least = u&0x07, 3, 0x10000
	case u >= 0xe0:
		u, n, least = u&0x0f, 2, 0x800
	case u >= 0xc2:
		u, n, least = u&0x1f, 1, 0x80
	default:
		return 0
	}
	if len(p)-1 < n {
		return 0
	}
	for i := 1; i <= n; i++ {
		c := uint32(p[i])
		if c < 0x80 {
			return 0
		}
		u = u<<6 | c&0x3f
	}
	if u < least || u > 0x10ffff {
		return 0
	}
	return n + 1
}

// utf8Length counts the characters of p as nginx's ngx_utf8_length
// does: a name that is not valid UTF-8 counts its bytes.
func utf8Length(p []byte) int {
	n := 0
	for i := 0; i < len(p); n++ {
		if p[i] < 0x80 {
			i++
			continue
		}
		k := utf8Next(p[i:])
		if k == 0 {
			return len(p)
		}
		i += k
	}
	return n
}

// utf8Prefix returns the length in bytes of the first chars characters
// of p, which is valid UTF-8 (utf8Length counted it).
func utf8Prefix(p []byte, chars int) int {
	i := 0
	for ; chars > 0 && i < len(p); chars-- {
		if p[i] < 0x80 {
			i++
			continue
		}
		k := utf8Next(p[i:])
		if k == 0 {
			break
		}
		i += k
	}
	return i
}
