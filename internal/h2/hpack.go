package h2

import (
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// This file writes header blocks (RFC 7541) the way nginx's HTTP/2 module
// does: every field a literal that is not indexed, its name taken from
// the static table when it is there, strings Huffman-coded when that is
// shorter, and no dynamic table. Such a block costs nothing to keep per connection and nothing
// to decode for the peer's table; reading blocks, which must follow the
// peer's table, is left to golang.org/x/net/http2/hpack.

// staticNames maps the names of the static table (RFC 7541 Appendix A)
// that responses use to their first index.
var staticNames = map[string]uint8{
	":authority": 1, ":method": 2, ":path": 4, ":scheme": 6, ":status": 8,
	"accept-charset": 15, "accept-encoding": 16, "accept-language": 17,
	"accept-ranges": 18, "accept": 19, "access-control-allow-origin": 20,
	"age": 21, "allow": 22, "authorization": 23, "cache-control": 24,
	"content-disposition": 25, "content-encoding": 26, "content-language": 27,
	"content-length": 28, "content-location": 29, "content-range": 30,
	"content-type": 31, "cookie": 32, "date": 33, "etag": 34, "expect": 35,
	"expires": 36, "from": 37, "host": 38, "if-match": 39,
	"if-modified-since": 40, "if-none-match": 41, "if-range": 42,
	"if-unmodified-since": 43, "last-modified": 44, "link": 45,
	"location": 46, "max-forwards": 47, "proxy-authenticate": 48,
	"proxy-authorization": 49, "range": 50, "referer": 51, "refresh": 52,
	"retry-after": 53, "server": 54, "set-cookie": 55,
	"strict-transport-security": 56, "transfer-encoding": 57,
	"user-agent": 58, "vary": 59, "via": 60, "www-authenticate": 61,
}

// statusIndex maps the statuses the static table holds whole.
var statusIndex = map[int]uint8{200: 8, 204: 9, 206: 10, 304: 11, 400: 12, 404: 13, 500: 14}

// appendInt appends an HPACK integer with an n-bit prefix whose other
// bits are first's (RFC 7541 5.1).
func appendInt(dst []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendString appends a string literal, Huffman-coded when that is
// shorter, as nginx writes them.
func appendString(dst []byte, s []byte) []byte {
	if len(s) > 0 {
		str := unsafe.String(&s[0], len(s))
		if n := hpack.HuffmanEncodeLength(str); n < uint64(len(s)) {
			dst = appendInt(dst, 0x80, 7, n)
			return hpack.AppendHuffmanString(dst, str)
		}
	}
	dst = appendInt(dst, 0, 7, uint64(len(s)))
	return append(dst, s...)
}

// AppendStatus appends the :status field.
func AppendStatus(dst []byte, status int) []byte {
	if i, ok := statusIndex[status]; ok {
		return appendInt(dst, 0x80, 7, uint64(i))
	}
	var b [3]byte
	b[0] = byte('0' + status/100%10)
	b[1] = byte('0' + status/10%10)
	b[2] = byte('0' + status%10)
	dst = appendInt(dst, 0, 4, 8)
	return appendString(dst, b[:])
}

// AppendField appends a field as a literal without indexing. The name is
// written in lower case, as HTTP/2 requires; scratch is room to lower it
// in, returned for reuse.
func AppendField(dst, name, value, scratch []byte) ([]byte, []byte) {
	lower := scratch[:0]
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	if i, ok := staticNames[string(lower)]; ok {
		dst = appendInt(dst, 0, 4, uint64(i))
	} else {
		dst = append(dst, 0)
		dst = appendString(dst, lower)
	}
	return appendString(dst, value), lower
}
