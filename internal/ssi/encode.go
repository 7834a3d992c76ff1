package ssi

// Encoding is how "echo" writes a value, chosen by its encoding parameter.
type Encoding uint8

const (
	// EncodingEntity escapes the HTML special characters; it is the
	// encoding a response starts with.
	EncodingEntity Encoding = iota
	// EncodingNone writes the value as it is.
	EncodingNone
	// EncodingURL percent-escapes the value.
	EncodingURL
)

// ParseEncoding returns the encoding named by s, "none", "url" or
// "entity", compared case-sensitively. For any other name it returns false;
// nginx then logs `unknown encoding "..." in the "echo" command` and keeps
// the encoding it had. The encoding chosen by one echo stays in force for
// the following ones, which the caller keeps track of.
func ParseEncoding(s []byte) (Encoding, bool) {
	switch string(s) {
	case "entity":
		return EncodingEntity, true
	case "none":
		return EncodingNone, true
	case "url":
		return EncodingURL, true
	}
	return EncodingEntity, false
}

// urlEscape has a bit set for each byte EncodingURL writes as "%XX": the
// control bytes, space, " # % ' < > \ ^ ` { | }, DEL and every byte from
// 0x80 on. The other bytes, "&", "+", "?", "/" and "=" among them, are
// written as they are.
var urlEscape = [8]uint32{
	0xffffffff, // 0x00-0x1f
	0x500000ad, // space " # % ' < >
	0x50000000, // \ ^
	0xb8000001, // ` { | } DEL
	0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
}

const upperHex = "0123456789ABCDEF"

// AppendEncoded appends v to dst written in encoding e and returns the
// extended buffer. EncodingEntity replaces < > & " by &lt; &gt; &amp;
// &quot; and leaves every other byte, "'" included, as it is.
// EncodingURL writes the bytes listed at urlEscape as "%" and two
// upper-case hex digits.
func AppendEncoded(dst, v []byte, e Encoding) []byte {
	switch e {
	case EncodingURL:
		for _, c := range v {
			if urlEscape[c>>5]&(1<<(c&0x1f)) != 0 {
				dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
		return dst
	case EncodingEntity:
		start := 0
		for i, c := range v {
			var r string
			switch c {
			case '<':
				r = "&lt;"
			case '>':
				r = "&gt;"
			case '&':
				r = "&amp;"
			case '"':
				r = "&quot;"
			default:
				continue
			}
			dst = append(dst, v[start:i]...)
			dst = append(dst, r...)
			start = i + 1
		}
		return append(dst, v[start:]...)
	}
	return append(dst, v...)
}
