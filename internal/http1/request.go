package http1

import "bytes"

// Request is a parsed request head. Every byte slice points into the
// buffer given to ParseRequest, so it is valid only as long as that buffer
// is left untouched.
type Request struct {
	Method []byte
	// Target is the raw request-target as sent.
	Target []byte
	// Path and Query split Target at the first '?'; Query excludes the
	// '?' and is nil when there is none. A fragment ('#' and what
	// follows), which clients should not send, ends either, as in nginx. For an absolute-form target,
	// Path starts after the authority and is "/" when the target has no
	// path, as origin-form requires.
	Path, Query []byte
	// Major and Minor are the protocol version: 1.0, or 1.1 and later
	// minor versions, which are treated as 1.1 (RFC 9110 2.5).
	Major, Minor int
	// Headers holds the field lines in order. ParseRequest appends to
	// Headers[:0], so a caller that keeps the same Request across
	// requests stops allocating once the slice is large enough.
	Headers []Header
	// Host is the host the request is for: the authority of an
	// absolute-form target (RFC 9112 3.2.2), otherwise the Host field,
	// or nil for an HTTP/1.0 request without one.
	Host []byte
	// ContentLength is the parsed Content-Length, or -1 when absent.
	ContentLength int64
	// Chunked is set when Transfer-Encoding is "chunked".
	Chunked bool
	// KeepAlive tells whether the client wants the connection kept open
	// after this request: by default for HTTP/1.1 unless Connection
	// lists "close"; for HTTP/1.0 only when it lists "keep-alive".
	KeepAlive bool
	// ExpectContinue is set for "Expect: 100-continue" in HTTP/1.1 and
	// later; RFC 9110 10.1.1 says HTTP/1.0 expectations are ignored.
	ExpectContinue bool
	// Upgrade is set for an HTTP/1.1 request whose Connection lists
	// "upgrade" and that has an Upgrade field.
	Upgrade bool
	// ConnectionHeader is the value of the first Connection field line.
	// Use EachConnectionToken to see the tokens of all of them.
	ConnectionHeader []byte
	// HeadLen is the length of the head, including any empty lines
	// before the request line and the empty line that ends the head.
	HeadLen int
	// Invalid holds the field lines left out of Headers because nginx's
	// ignore_invalid_headers ignores their names (see
	// Limits.KeepInvalidNames), each up to the end of its value, for the
	// log. Like Headers it is reused across requests.
	Invalid [][]byte
}

// EachConnectionToken calls fn for every token of every Connection field
// line, so that the proxy can remove the hop-by-hop fields they name even
// when a client splits Connection over several lines.
func (r *Request) EachConnectionToken(fn func(tok []byte)) {
	eachConnectionToken(r.Headers, fn)
}

func eachConnectionToken(hs []Header, fn func(tok []byte)) {
	for i := range hs {
		if EqualFold(hs[i].Name, "connection") {
			ForEachToken(hs[i].Value, fn)
		}
	}
}

// slash is the Path of an absolute-form target that has no path. Its
// capacity is its length, so appending to it copies.
var slash = []byte("/")[:1:1]

// ParseRequest parses the first request head in buf into req. It returns
// the head length (also stored in req.HeadLen); the bytes after it belong
// to the body or to the next pipelined request. It returns ErrNeedMore
// when buf holds no complete head yet but could still become a valid one,
// and an *Error as soon as the bytes present prove the request invalid or
// over a limit; once len(buf) reaches the MaxHeaderBytes limit the answer
// is never ErrNeedMore. On error the fields of req other than Headers'
// capacity are unspecified.
func ParseRequest(buf []byte, req *Request, lim *Limits) (int, error) {
	l := lim.withDefaults()
	*req = Request{Headers: req.Headers[:0], Invalid: req.Invalid[:0], ContentLength: -1}
	rule := namesToken
	if !l.KeepInvalidNames {
		rule = namesValid
		if l.Underscores {
			rule = namesValidUnderscore
		}
	}

	// The request line, with any empty lines before it (RFC 9112 2.2
	// asks servers to skip at least one), must end by bound.
	bound, byLine := lineBound(0, l.MaxRequestLine, l.MaxHeaderBytes)
	b := buf
	if len(b) > bound {
		b = b[:bound]
	}
	pos, err := parseRequestLine(b, req)
	if err == ErrNeedMore && len(b) == bound {
		if byLine {
			return 0, ErrURITooLong
		}
		return 0, ErrHeaderTooLarge
	}
	if err != nil {
		return 0, err
	}

	var (
		conn                     connFlags
		hostSeen, clSeen, teSeen bool
		upgradeSeen, expectSeen  bool
		te, host                 []byte
		hs                       = req.Headers
	)
	// unique holds the fields seen that nginx allows once (uniqueField).
	var unique uint16
	for {
		bound, _ = lineBound(pos, l.MaxHeaderLine, l.MaxHeaderBytes)
		b = buf
		if len(b) > bound {
			b = b[:bound]
		}
		name, value, next, r := scanFieldLine(b, pos, rule, l.AnyValueBytes)
		switch r {
		case scanField:
		case scanEnd:
			pos = next
			goto done
		case scanShort:
			req.Headers = hs
			if len(b) == bound {
				return 0, ErrHeaderTooLarge
			}
			return 0, ErrNeedMore
		case scanObsFold:
			req.Headers = hs
			return 0, errObsFold
		case scanBareCR:
			req.Headers = hs
			return 0, errBareCR
		case scanInvalidName:
			// nginx goes on with the next line; the field is not
			// looked at.
			req.Invalid = append(req.Invalid, name)
			pos = next
			continue
		default:
			req.Headers = hs
			return 0, errInvalidHeader
		}
		if len(hs) >= l.MaxHeaders {
			req.Headers = hs
			return 0, ErrHeaderTooLarge
		}
		hs = append(hs, Header{Name: name, Value: value})
		pos = next

		var e *Error
		switch len(name) {
		case 4:
			if EqualFold(name, "host") {
				if hostSeen {
					e = errDuplicateHost
				} else if !validHostField(value) {
					e = errInvalidHost
				}
				hostSeen, host = true, value
			}
		case 6:
			if EqualFold(name, "expect") {
				expectSeen = expectSeen || EqualFold(value, "100-continue")
			}
		case 7:
			if EqualFold(name, "upgrade") {
				upgradeSeen = true
			}
		case 10:
			if EqualFold(name, "connection") {
				conn.add(value)
			}
		case 14:
			if EqualFold(name, "content-length") {
				if clSeen {
					e = errDuplicateHdr
				} else if n, ok := parseContentLength(value); ok {
					req.ContentLength = n
				} else {
					e = errInvalidCL
				}
				clSeen = true
			}
		case 17:
			if EqualFold(name, "transfer-encoding") {
				if teSeen {
					e = errDuplicateHdr
				}
				teSeen, te = true, value
			}
		}
		if bit := uniqueField(name); bit != 0 && e == nil {
			if unique&bit != 0 {
				e = errDuplicateHdr
			}
			unique |= bit
		}
		if e != nil {
			req.Headers = hs
			return 0, e
		}
	}

done:
	req.Headers = hs
	req.HeadLen = pos
	// The checks below follow the order nginx applies them in
	// ngx_http_process_request_header, so that a request with several
	// faults gets the status nginx would give it.
	if !hostSeen && req.Minor >= 1 {
		return 0, errNoHost
	}
	if req.Host == nil {
		req.Host = host
	}
	if teSeen {
		if req.Minor == 0 {
			return 0, errTEinHTTP10
		}
		// nginx accepts exactly "chunked" and answers 501 to
		// anything else, including lists such as "gzip, chunked":
		// the proxy cannot forward a coding it does not frame.
		if !EqualFold(te, "chunked") {
			return 0, errUnknownTE
		}
		if clSeen {
			return 0, errCLandTE
		}
		req.Chunked = true
	}
	if string(req.Method) == "CONNECT" {
		return 0, errConnect
	}
	if string(req.Method) == "TRACE" {
		return 0, errTrace
	}
	req.ConnectionHeader = conn.first
	req.KeepAlive = conn.persistent(req.Minor)
	if req.Minor >= 1 {
		req.ExpectContinue = expectSeen
		req.Upgrade = conn.upgr && upgradeSeen
	}
	return pos, nil
}

// parseRequestLine parses the request line in b, skipping empty lines
// before it, and returns the offset just past it. It returns ErrNeedMore
// when b ends first; the caller decides whether that is a limit error.
func parseRequestLine(b []byte, req *Request) (int, error) {
	i := 0
	for i < len(b) {
		if b[i] == '\n' {
			i++
			continue
		}
		if b[i] != '\r' {
			break
		}
		if i+1 >= len(b) {
			return 0, ErrNeedMore
		}
		if b[i+1] != '\n' {
			return 0, errBareCR
		}
		i += 2
	}

	// A method is upper-case letters, '_' and '-', as nginx requires; and
	// as in nginx, words of the request line may be separated by more
	// than one space (RFC 9112 3 allows parsing on whitespace-delimited
	// word boundaries).
	ms := i
	for i < len(b) && charClass[b[i]]&cMethod != 0 {
		i++
	}
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	if b[i] != ' ' || i == ms {
		return 0, errInvalidMethod
	}
	req.Method = b[ms:i:i]
	for i < len(b) && b[i] == ' ' {
		i++
	}

	ts := i
	i = skipTarget(b, i)
	for i < len(b) && charClass[b[i]]&cTarget != 0 {
		i++
	}
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	if b[i] != ' ' || i == ts {
		if i > ts && (b[i] == '\r' || b[i] == '\n') {
			// "GET /path" with no version is an HTTP/0.9
			// simple request, which is not served here.
			return 0, errHTTP09
		}
		return 0, errInvalidTarget
	}
	req.Target = b[ts:i:i]
	if err := splitTarget(req); err != nil {
		return 0, err
	}
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		return 0, errHTTP09
	}

	for k := 0; k < len("HTTP/"); k++ {
		if i >= len(b) {
			return 0, ErrNeedMore
		}
		if b[i] != "HTTP/"[k] {
			return 0, errInvalidRequest
		}
		i++
	}
	// HTTP-version = "HTTP/" DIGIT "." DIGIT. As in nginx, a major
	// version of 0 is malformed (400) and one above 1, including
	// multi-digit ones, is unsupported (505).
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	switch c := b[i]; {
	case c == '1':
	case '2' <= c && c <= '9':
		return 0, errInvalidVersion
	default:
		return 0, errInvalidRequest
	}
	i++
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	if charClass[b[i]]&cDigit != 0 {
		return 0, errInvalidVersion
	}
	if b[i] != '.' {
		return 0, errInvalidRequest
	}
	i++
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	if charClass[b[i]]&cDigit == 0 {
		return 0, errInvalidRequest
	}
	req.Major, req.Minor = 1, int(b[i]-'0')
	i++
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return lineEnd(b, i, errInvalidRequest, errBareCR)
}

// lineEnd expects a line terminator (CRLF, or a bare LF, which RFC 9112
// 2.2 allows a recipient to accept and nginx accepts) at b[i] and returns
// the offset after it, or bad (badCR for a CR without LF) for anything else.
func lineEnd(b []byte, i int, bad, badCR error) (int, error) {
	if i >= len(b) {
		return 0, ErrNeedMore
	}
	switch b[i] {
	case '\n':
		return i + 1, nil
	case '\r':
		if i+1 >= len(b) {
			return 0, ErrNeedMore
		}
		if b[i+1] == '\n' {
			return i + 2, nil
		}
		return 0, badCR
	}
	return 0, bad
}

// splitTarget classifies req.Target and fills Path, Query and, for the
// absolute form, Host. Accepted are origin-form and absolute-form; the
// authority-form of CONNECT is let through here because CONNECT itself is
// refused with 405 once the head is complete, as nginx does; the
// asterisk-form is refused with 400, as nginx does.
func splitTarget(req *Request) error {
	t := req.Target
	if t[0] != '/' {
		if string(req.Method) == "CONNECT" {
			return nil
		}
		rest, ok := splitAbsolute(req, t)
		if !ok {
			return errInvalidTarget
		}
		if len(rest) == 0 || rest[0] == '?' {
			req.Path = slash
			if len(rest) > 0 {
				req.Query = rest[1:]
				if i := bytes.IndexByte(req.Query, '#'); i >= 0 {
					req.Query = req.Query[:i:i]
				}
			}
			return nil
		}
		t = rest
	}
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i:i]
	}
	path := t
	for i, c := range t {
		if c == '?' {
			path, req.Query = t[:i:i], t[i+1:]
			break
		}
	}
	// nginx decodes the path and refuses a malformed escape; so does
	// this parser, so that the proxy and the upstream cannot decode the
	// path differently. The query is not decoded and not checked.
	for i := 0; i < len(path); i++ {
		if path[i] == '%' {
			if i+2 >= len(path) || charClass[path[i+1]]&cHex == 0 || charClass[path[i+2]]&cHex == 0 {
				return errInvalidTarget
			}
			i += 2
		}
	}
	req.Path = path
	return nil
}

// splitAbsolute parses scheme "://" authority at the start of an
// absolute-form target, stores the authority in req.Host and returns what
// follows it (path and query).
func splitAbsolute(req *Request, t []byte) ([]byte, bool) {
	i := 0
	for i < len(t) {
		c := t[i]
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !alpha && (i == 0 || charClass[c]&cDigit == 0 && c != '+' && c != '-' && c != '.') {
			break
		}
		i++
	}
	if i == 0 || len(t)-i < 3 || t[i] != ':' || t[i+1] != '/' || t[i+2] != '/' {
		return nil, false
	}
	i += 3
	as := i
	for i < len(t) && t[i] != '/' && t[i] != '?' {
		i++
	}
	if !validHost(t[as:i]) {
		return nil, false
	}
	req.Host = t[as:i:i]
	return t[i:], true
}

// RequestFraming tells how the request body is delimited (RFC 9112 6.3):
// chunked, by Content-Length, or absent. A request never extends to the
// close of the connection.
func RequestFraming(req *Request) Framing {
	switch {
	case req.Chunked:
		return FramingChunked
	case req.ContentLength >= 0:
		return FramingLength
	}
	return FramingNone
}

// uniqueField returns the bit of a field nginx 1.22 allows once in a
// request (ngx_http_process_unique_header_line; Host, Content-Length and
// Transfer-Encoding are checked apart), 0 for any other: a second one is
// answered 400.
func uniqueField(name []byte) uint16 {
	switch len(name) {
	case 6:
		if EqualFold(name, "expect") {
			return 1 << 0
		}
	case 8:
		switch {
		case EqualFold(name, "if-match"):
			return 1 << 1
		case EqualFold(name, "if-range"):
			return 1 << 2
		}
	case 13:
		switch {
		case EqualFold(name, "if-none-match"):
			return 1 << 3
		case EqualFold(name, "content-range"):
			return 1 << 4
		case EqualFold(name, "authorization"):
			return 1 << 5
		}
	case 17:
		if EqualFold(name, "if-modified-since") {
			return 1 << 6
		}
	case 19:
		if EqualFold(name, "if-unmodified-since") {
			return 1 << 7
		}
	}
	return 0
}
