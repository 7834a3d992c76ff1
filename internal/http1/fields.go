package http1

import "bytes"

// Header is one field line. Name and Value are subslices of the parsed
// buffer (capped so that appending to them cannot overwrite it); Value is
// trimmed of leading and trailing OWS.
type Header struct {
	Name, Value []byte
}

// Limits bounds what a head may occupy, so that a caller never buffers
// without bound. A zero field, or a nil *Limits, means the default.
type Limits struct {
	// MaxRequestLine bounds the request line including its line
	// terminator and any empty lines before it; longer is answered 414.
	// nginx bounds it by large_client_header_buffers' size, 8192 by
	// default. ParseResponse applies MaxHeaderLine to the status line
	// instead.
	MaxRequestLine int
	// MaxHeaderLine bounds one field line including its terminator;
	// longer is answered 400 "Request Header Or Cookie Too Large" (502
	// for a response). The default, 8192, is nginx's buffer size.
	MaxHeaderLine int
	// MaxHeaderBytes bounds the whole head, from the first byte up to
	// and including the empty line that ends it. The default, 32768, is
	// nginx's 4 buffers of 8192 bytes.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of field lines. nginx has no such
	// limit (the byte limits bound it implicitly, at about 8000 tiny
	// fields); the default, 1000, is far above what real clients send
	// and keeps the caller's header slice small.
	MaxHeaders int
	// KeepInvalidNames is nginx's "ignore_invalid_headers off": a
	// request's field whose name is a token but has bytes other than
	// letters, digits and '-' is kept. By default (nginx's "on") such a
	// field, and one whose name has bytes that are neither a token's
	// nor whitespace or control bytes, is left out of Headers and
	// listed in Request.Invalid. ParseResponse does not look at it.
	KeepInvalidNames bool
	// Underscores is nginx's "underscores_in_headers on": '_' counts as
	// a valid byte of a request's field name.
	Underscores bool
	// AnyValueBytes lets a request's field value hold any byte but NUL,
	// CR and LF, as HTTP/2 lets it (RFC 9113 8.2.1) and nginx passes
	// such values on; otherwise values are RFC 9110's field-vchars.
	AnyValueBytes bool
}

// Default limits, matching nginx's defaults where nginx has one.
const (
	DefaultMaxRequestLine = 8192
	DefaultMaxHeaderLine  = 8192
	DefaultMaxHeaderBytes = 4 * 8192
	DefaultMaxHeaders     = 1000
)

// withDefaults returns the effective limits.
func (l *Limits) withDefaults() Limits {
	var e Limits
	if l != nil {
		e = *l
	}
	if e.MaxRequestLine <= 0 {
		e.MaxRequestLine = DefaultMaxRequestLine
	}
	if e.MaxHeaderLine <= 0 {
		e.MaxHeaderLine = DefaultMaxHeaderLine
	}
	if e.MaxHeaderBytes <= 0 {
		e.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if e.MaxHeaders <= 0 {
		e.MaxHeaders = DefaultMaxHeaders
	}
	return e
}

// lineBound returns the offset that a line starting at s must end by
// (exclusive), given the per-line maximum and the head total, and whether
// that bound comes from the per-line maximum. It never overflows.
func lineBound(s, lineMax, total int) (bound int, byLine bool) {
	if s <= total-lineMax {
		return s + lineMax, true
	}
	if total < s {
		return s, false
	}
	return total, false
}

// scanResult classifies the outcome of scanning one line.
type scanResult uint8

const (
	scanField       scanResult = iota // a field line was read
	scanEnd                           // the empty line that ends the head was read
	scanShort                         // the input ended before the line did
	scanBadName                       // empty name, non-token byte, or whitespace before ':'
	scanObsFold                       // the line starts with SP or HTAB
	scanBadValue                      // a control byte in the value
	scanBareCR                        // CR not followed by LF
	scanInvalidName                   // a field line whose name nginx ignores
)

// nameRule tells scanFieldLine which field names it accepts.
type nameRule uint8

const (
	// namesToken accepts tokens (RFC 9110 5.1) and refuses the rest.
	namesToken nameRule = iota
	// namesValid and namesValidUnderscore read names as nginx's
	// ngx_http_parse_header_line does with ignore_invalid_headers:
	// letters, digits and '-' (and '_' for the latter) make a valid
	// name; any other byte but whitespace, control bytes and DEL makes
	// the line one to ignore (scanInvalidName).
	namesValid
	namesValidUnderscore
)

// scanFieldLine reads the line starting at b[s:]. The caller cuts b to
// the furthest byte the line may reach, so running off the end of b means
// either that more input is needed or that a limit is exceeded, which the
// caller tells apart. Bytes are examined strictly in order and every
// decision depends only on the bytes before it, which is what makes the
// parsers prefix-consistent.
func scanFieldLine(b []byte, s int, rule nameRule, anyValue bool) (name, value []byte, next int, r scanResult) {
	if s >= len(b) {
		return nil, nil, s, scanShort
	}
	switch b[s] {
	case '\n':
		return nil, nil, s + 1, scanEnd
	case '\r':
		if s+1 >= len(b) {
			return nil, nil, s, scanShort
		}
		if b[s+1] != '\n' {
			return nil, nil, s, scanBareCR
		}
		return nil, nil, s + 2, scanEnd
	case ' ', '\t':
		// obs-fold, or whitespace between the start line and the
		// first field: RFC 9112 5.2 and 2.2 allow rejecting both.
		return nil, nil, s, scanObsFold
	}
	i := s
	invalid := false
	if rule == namesToken {
		for i < len(b) && charClass[b[i]]&cTchar != 0 {
			i++
		}
	} else {
		for {
			for i < len(b) && charClass[b[i]]&cName != 0 {
				i++
			}
			if i >= len(b) {
				break
			}
			c := b[i]
			if c <= ' ' || c == 0x7f || c == ':' {
				break
			}
			if c != '_' || rule != namesValidUnderscore {
				invalid = true
			}
			i++
		}
	}
	if i >= len(b) {
		return nil, nil, s, scanShort
	}
	if b[i] != ':' || i == s {
		return nil, nil, s, scanBadName
	}
	name = b[s:i:i]
	i++
	for i < len(b) && isOWS(b[i]) {
		i++
	}
	vs := i
	i = skipValue(b, i)
	for i < len(b) && (charClass[b[i]]&cValue != 0 || anyValue && b[i] != '\r' && b[i] != '\n' && b[i] != 0) {
		i++
	}
	if i >= len(b) {
		return nil, nil, s, scanShort
	}
	ve := i
	switch b[i] {
	case '\n':
		next = i + 1
	case '\r':
		if i+1 >= len(b) {
			return nil, nil, s, scanShort
		}
		if b[i+1] != '\n' {
			return nil, nil, s, scanBareCR
		}
		next = i + 2
	default:
		return nil, nil, s, scanBadValue
	}
	for ve > vs && isOWS(b[ve-1]) {
		ve--
	}
	if invalid {
		// The whole line up to the end of its value, for the log.
		return b[s:ve:ve], nil, next, scanInvalidName
	}
	return name, b[vs:ve:ve], next, scanField
}

// connFlags collects what the Connection field lines say.
type connFlags struct {
	first                  []byte
	close, keepAlive, upgr bool
	seen                   bool
}

func (f *connFlags) add(v []byte) {
	if !f.seen {
		f.first = v
		f.seen = true
	}
	for len(v) > 0 {
		var tok []byte
		tok, v = nextToken(v)
		switch len(tok) {
		case 5:
			if EqualFold(tok, "close") {
				f.close = true
			}
		case 7:
			if EqualFold(tok, "upgrade") {
				f.upgr = true
			}
		case 10:
			if EqualFold(tok, "keep-alive") {
				f.keepAlive = true
			}
		}
	}
}

// persistent decides persistence as RFC 9112 9.3 does: HTTP/1.1 and later
// persist unless "close" is listed; HTTP/1.0 persists only when
// "keep-alive" is listed and "close" is not.
func (f *connFlags) persistent(minor int) bool {
	if f.close {
		return false
	}
	return minor >= 1 || f.keepAlive
}

// MayCompleteHead reports whether the bytes appended to buf since it held
// prev bytes could have completed a head, that is whether buf[prev-2:]
// contains an LF followed by LF or by CRLF: the empty line that ends a
// head ends with a byte at or after prev, so it is found there. Parsing is
// stateless, so a caller that re-parsed after every read of a slowly
// arriving head would do quadratic work; a caller
// that got ErrNeedMore for buf[:prev] can skip parsing until this reports
// true or the buffer reaches the MaxHeaderBytes limit, because until then
// the parse can only yield ErrNeedMore or an error that the later parse
// will still report. It scans only the new bytes.
func MayCompleteHead(buf []byte, prev int) bool {
	from := prev - 2
	if from < 0 {
		from = 0
	}
	if from > len(buf) {
		return false
	}
	b := buf[from:]
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[i+1:]
		if len(b) == 0 {
			return false
		}
		if b[0] == '\n' || len(b) > 1 && b[0] == '\r' && b[1] == '\n' {
			return true
		}
	}
}
