package http1

import (
	"bytes"
	"encoding/binary"
)

// Character classes used by the scanners. A single table lookup per byte
// keeps the hot loops branch-light.
const (
	cTchar  uint16 = 1 << iota // token character (RFC 9110 5.6.2)
	cValue                     // field-vchar, SP or HTAB (RFC 9110 5.5)
	cTarget                    // byte allowed in a request-target
	cHex                       // hexadecimal digit
	cHost                      // unreserved or sub-delims (RFC 3986), allowed in reg-name
	cQdtext                    // qdtext of a quoted-string (RFC 9110 5.6.4)
	cDigit                     // decimal digit
	cMethod                    // byte of a method as nginx takes it: A-Z, '_', '-'
	cName                      // byte of a field name nginx calls valid: letters, digits, '-'
)

var charClass = buildCharClass()

func buildCharClass() (t [256]uint16) {
	const tokenPunct = "!#$%&'*+-.^_`|~"
	const hostPunct = "-._~!$&'()*+,;="
	for i := 0; i < 256; i++ {
		c := byte(i)
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		digit := '0' <= c && c <= '9'
		var m uint16
		if alpha || digit || bytes.IndexByte([]byte(tokenPunct), c) >= 0 {
			m |= cTchar
		}
		vchar := 0x21 <= c && c <= 0x7e
		obsText := c >= 0x80
		if vchar || obsText || c == ' ' || c == '\t' {
			m |= cValue
		}
		// The request-target accepts every visible byte. A '#' should
		// never be sent (RFC 9110 4.2.4), but nginx accepts it and ends
		// the path or the arguments there; splitTarget does the same.
		// Raw obs-text is accepted because clients do send unescaped
		// UTF-8 and nginx accepts it.
		if vchar || obsText {
			m |= cTarget
		}
		if digit || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			m |= cHex
		}
		if alpha || digit || bytes.IndexByte([]byte(hostPunct), c) >= 0 {
			m |= cHost
		}
		if c == '\t' || c == ' ' || c == 0x21 || 0x23 <= c && c <= 0x5b || 0x5d <= c && c <= 0x7e || obsText {
			m |= cQdtext
		}
		if digit {
			m |= cDigit
		}
		if 'A' <= c && c <= 'Z' || c == '_' || c == '-' {
			m |= cMethod
		}
		if alpha || digit || c == '-' {
			m |= cName
		}
		t[i] = m
	}
	return t
}

func isTchar(c byte) bool { return charClass[c]&cTchar != 0 }

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes optional whitespace (SP and HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// AppendLower appends b lower-cased in ASCII to dst. Given a buffer on
// the caller's stack as dst, a short value is lower-cased without an
// allocation (host names, map keys); other bytes are copied as they are.
func AppendLower(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, lower(c))
	}
	return dst
}

// EqualFold reports whether a and b are equal under ASCII case folding.
// Field names and most protocol tokens are case-insensitive ASCII, so the
// Unicode folding of bytes.EqualFold is both slower and wrong for them;
// this version compares bytes directly and never allocates.
func EqualFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if x, y := a[i], b[i]; x != y && lower(x) != lower(y) {
			return false
		}
	}
	return true
}

// nextToken splits the first element off a comma-separated list and
// returns it trimmed of OWS, together with the rest of the list.
func nextToken(list []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return trimOWS(list[:i]), list[i+1:]
	}
	return trimOWS(list), nil
}

// HasToken reports whether the comma-separated list contains token,
// compared case-insensitively. Empty list elements are ignored, as RFC 9110
// 5.6.1 requires. It is meant for token lists such as Connection; it does
// not understand quoted strings or parameters.
func HasToken(list []byte, token string) bool {
	for len(list) > 0 {
		var tok []byte
		tok, list = nextToken(list)
		if EqualFold(tok, token) {
			return true
		}
	}
	return false
}

// ForEachToken calls fn for every non-empty element of a comma-separated
// list, trimmed of OWS. The proxy uses it to drop the hop-by-hop fields a
// Connection header names. Like HasToken it does not understand quoted
// strings. fn receives a subslice of list.
func ForEachToken(list []byte, fn func(tok []byte)) {
	for len(list) > 0 {
		var tok []byte
		tok, list = nextToken(list)
		if len(tok) > 0 {
			fn(tok)
		}
	}
}

// parseContentLength parses a Content-Length value: one or more decimal
// digits and nothing else (no sign, no list, no whitespace; the caller has
// already trimmed OWS). It reports false for an empty value or one that
// does not fit in an int64.
func parseContentLength(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	const max = 1<<63 - 1
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// validHost reports whether b is an acceptable Host value or authority:
// uri-host [ ":" port ] from RFC 3986, without userinfo. An empty host, a
// ".." sequence, '/', '\\', '@', whitespace and controls are refused, as
// nginx refuses them, because a host that differs between the proxy and
// the upstream enables cache poisoning and routing confusion. For the same
// reason percent-encoding, which RFC 3986 allows in a reg-name but no DNS
// name uses, is refused: "%2e" or "%00" would mean different hosts to
// parsers that decode it and to those that do not.
func validHost(b []byte) bool { return validHostPort(b, false) }

// validHostField is validHost for the Host field, where nginx also takes
// more than one port ("host:9000:80", its "double port hack") and uses
// the host before the first colon. Only digits and colons may follow it,
// so the field still names one host to every parser.
func validHostField(b []byte) bool { return validHostPort(b, true) }

func validHostPort(b []byte, ports bool) bool {
	if len(b) == 0 {
		return false
	}
	i := 0
	if b[0] == '[' {
		// IP-literal: IPv6address or IPvFuture. Checked loosely for
		// the character set only; the literal itself is not routed on.
		i = 1
		for i < len(b) && b[i] != ']' {
			if c := b[i]; charClass[c]&cHost == 0 && c != ':' {
				return false
			}
			i++
		}
		if i == 1 || i == len(b) {
			return false
		}
		i++
	} else {
		for i < len(b) && b[i] != ':' {
			c := b[i]
			switch {
			case c == '.':
				if i > 0 && b[i-1] == '.' {
					return false
				}
			case charClass[c]&cHost == 0:
				return false
			}
			i++
		}
		if i == 0 {
			return false
		}
	}
	if i == len(b) {
		return true
	}
	if b[i] != ':' {
		return false
	}
	for i++; i < len(b); i++ {
		if charClass[b[i]]&cDigit == 0 && !(ports && b[i] == ':') {
			return false
		}
	}
	return true
}

// Word-at-a-time helpers. Long values (cookies, user agents) and long
// targets make up most of a head, and checking eight bytes per step for
// the bytes that end or invalidate them is several times faster than a
// table lookup per byte. A hit only sends the scan back to the exact
// byte loop, so the helpers need not be exact, only never miss.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasLess reports whether some byte of w is less than n (n <= 128).
func hasLess(w uint64, n byte) bool { return (w-lsb*uint64(n))&^w&msb != 0 }

// hasByte reports whether some byte of w equals c.
func hasByte(w uint64, c byte) bool {
	x := w ^ lsb*uint64(c)
	return (x-lsb)&^x&msb != 0
}

// skipValue returns the first index at or after i where b[i] may not be
// a plain field-vchar or SP: a control byte (HTAB included, which the
// caller's byte loop then accepts), DEL, or the end of b.
func skipValue(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if hasLess(w, 0x20) || hasByte(w, 0x7f) {
			break
		}
	}
	return i
}

// skipTarget is skipValue for a request-target, which also ends at SP.
func skipTarget(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if hasLess(w, 0x21) || hasByte(w, 0x7f) {
			break
		}
	}
	return i
}
