package proxy

// normalizePath turns a request path into nginx's $uri: percent-escapes
// decoded, runs of '/' merged when merge is set (merge_slashes on), "."
// segments dropped and ".." segments resolved. Without merging, the empty
// segments between slashes are kept and ".." removes one of them as it
// removes any other segment, as nginx's ngx_http_parse_complex_uri does
// ("/a//../b" is "/a/b"). Locations are matched against the result, so
// "/a/../b" and "/%62" reach the same location as "/b". It returns false
// for a path that climbs above the root or decodes to a NUL byte, which
// nginx answers with 400. dst is reused for the result.
func normalizePath(dst, path []byte, merge bool) ([]byte, bool) {
	out := dst[:0]
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' {
			if i+2 >= len(path) {
				return nil, false
			}
			hi, ok1 := unhex(path[i+1])
			lo, ok2 := unhex(path[i+2])
			if !ok1 || !ok2 {
				return nil, false
			}
			c = hi<<4 | lo
			if c == 0 {
				return nil, false
			}
			i += 2
		}
		out = append(out, c)
	}
	if len(out) == 0 || out[0] != '/' {
		return nil, false
	}
	// Resolve segments in place: w is the write position.
	w := 0
	for r := 0; r < len(out); {
		// out[r] is '/'.
		for merge && r+1 < len(out) && out[r+1] == '/' {
			r++
		}
		end := r + 1
		for end < len(out) && out[end] != '/' {
			end++
		}
		seg := out[r+1 : end]
		switch {
		case len(seg) == 1 && seg[0] == '.':
			if end == len(out) {
				out[w] = '/'
				w++
			}
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			if w == 0 {
				return nil, false
			}
			for w--; w > 0 && out[w] != '/'; w-- {
			}
			if end == len(out) {
				out[w] = '/'
				w++
			}
		default:
			out[w] = '/'
			w++
			w += copy(out[w:], seg)
		}
		r = end
	}
	if w == 0 {
		out[0] = '/'
		w = 1
	}
	return out[:w], true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendEscapedURI appends a decoded path escaped as nginx escapes a URI
// it sends upstream (NGX_ESCAPE_URI): space, '"', '#', '%', '<', '>',
// '?', '\', '^', '`', '{', '|', '}', control bytes and bytes above 0x7e
// become %XX.
func appendEscapedURI(b, p []byte) []byte { return appendEscaped(b, p, &escapeURI) }

// escapeURI is nginx's NGX_ESCAPE_URI table: bit c&31 of word c>>5 is
// set for each byte c that is escaped.
var escapeURI = [8]uint32{0xffffffff, 0xd000002d, 0x50000000, 0xb8000001, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}

// appendEscaped appends p with the bytes the table marks written as %XX
// (upper-case hex), as nginx's ngx_escape_uri does.
func appendEscaped(b, p []byte, table *[8]uint32) []byte {
	const hexDigits = "0123456789ABCDEF"
	for _, c := range p {
		if table[c>>5]&(1<<(c&31)) != 0 {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
