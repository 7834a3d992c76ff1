package h2

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// decodeBlock decodes a header block with golang.org/x/net's decoder, as
// a client would, and fails the test if it is not a valid block.
func decodeBlock(t *testing.T, block []byte) []hpack.HeaderField {
	t.Helper()
	dec := hpack.NewDecoder(4096, nil)
	fields, err := dec.DecodeFull(block)
	if err != nil {
		t.Fatalf("block % x does not decode: %v", block, err)
	}
	return fields
}

// TestAppendStatus checks that every status decodes to its three digits,
// whether the static table holds it whole (a one-byte indexed field) or
// not (a literal with the name :status).
func TestAppendStatus(t *testing.T) {
	static := map[int]bool{200: true, 204: true, 206: true, 304: true, 400: true, 404: true, 500: true}
	for _, status := range []int{100, 101, 103, 200, 201, 204, 206, 301, 302, 304, 307, 400, 403, 404, 413, 444, 499, 500, 502, 503, 504, 599} {
		block := AppendStatus(nil, status)
		fields := decodeBlock(t, block)
		want := hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)}
		if len(fields) != 1 || fields[0] != want {
			t.Errorf("status %d: decoded %v, want %v", status, fields, want)
			continue
		}
		if static[status] != (len(block) == 1) {
			t.Errorf("status %d: a %d-byte block; in the static table: %v", status, len(block), static[status])
		}
		if !static[status] && block[0]&0xf0 != 0 {
			// A literal without indexing starts with four zero bits
			// (RFC 7541 6.2.2); one with indexing would change the
			// client's table.
			t.Errorf("status %d: first byte %#x is not a literal without indexing", status, block[0])
		}
	}
}

// TestAppendField checks that fields decode to their lower-cased names
// and their values unchanged, with names from the static table or
// literal, and values long enough that their length takes more than one
// byte.
func TestAppendField(t *testing.T) {
	long := strings.Repeat("v", 127)
	longer := strings.Repeat("0123456789abcdef", 1000)
	tests := []struct {
		name, value string
		wantName    string
	}{
		{"Content-Type", "text/html", "content-type"},
		{"content-length", "5", "content-length"},
		{"Server", "headroom", "server"},
		{"WWW-Authenticate", `Basic realm="x"`, "www-authenticate"},
		{"Set-Cookie", "a=b; Path=/", "set-cookie"},
		{"X-Custom-Header", "value", "x-custom-header"},
		{"x-empty", "", "x-empty"},
		{"ETag", `"abc"`, "etag"},
		{"Location", long, "location"},
		{"X-Long-Value", long + "w", "x-long-value"},
		{"X-Longer", longer, "x-longer"},
		{strings.Repeat("N", 200), "name longer than 127", strings.Repeat("n", 200)},
		{"Cache-Control", strings.Repeat("c", 128+16384), "cache-control"},
	}
	var block, scratch []byte
	block = AppendStatus(block, 200)
	for _, tc := range tests {
		one, s := AppendField(nil, []byte(tc.name), []byte(tc.value), scratch)
		scratch = s
		if string(scratch) != tc.wantName {
			t.Errorf("%s: scratch holds %q, want the lowered name", tc.name, scratch)
		}
		fields := decodeBlock(t, one)
		want := hpack.HeaderField{Name: tc.wantName, Value: tc.value}
		if len(fields) != 1 || fields[0] != want {
			t.Errorf("%s: decoded %v, want %v", tc.name, fields, want)
		}
		if one[0]&0xf0 != 0 {
			t.Errorf("%s: first byte %#x is not a literal without indexing", tc.name, one[0])
		}
		block, scratch = AppendField(block, []byte(tc.name), []byte(tc.value), scratch)
	}
	// The fields in one block, after a status, decode in order.
	fields := decodeBlock(t, block)
	if len(fields) != len(tests)+1 {
		t.Fatalf("a block of %d fields decoded to %d", len(tests)+1, len(fields))
	}
	if fields[0] != (hpack.HeaderField{Name: ":status", Value: "200"}) {
		t.Errorf("first field %v", fields[0])
	}
	for i, tc := range tests {
		if f := fields[i+1]; f.Name != tc.wantName || f.Value != tc.value {
			t.Errorf("field %d of the block: %q: %.40q, want %q: %.40q", i+1, f.Name, f.Value, tc.wantName, tc.value)
		}
	}
}

// TestAppendFieldStaticName checks that a name the static table holds is
// written as its index in a literal without indexing, and one it does not
// hold as a literal name; the value decodes whichever way it is coded.
func TestAppendFieldStaticName(t *testing.T) {
	tests := []struct {
		name, value string
		prefix      []byte
	}{
		// Index 28 in a four-bit prefix: 0x0f, then 28-15.
		{"Content-Length", "12", []byte{0x0f, 13}},
		{"Age", "1", []byte{0x0f, 6}},
		{":authority", "h", []byte{0x01}},
		{"Server", "headroom", []byte{0x0f, 54 - 15}},
		// Index 0: the name follows as a string.
		{"X-A", "1", []byte{0x00}},
	}
	for _, tc := range tests {
		b, _ := AppendField(nil, []byte(tc.name), []byte(tc.value), nil)
		if !bytes.HasPrefix(b, tc.prefix) {
			t.Errorf("%s: % x does not start with % x", tc.name, b, tc.prefix)
		}
		fields := decodeBlock(t, b)
		want := hpack.HeaderField{Name: strings.ToLower(tc.name), Value: tc.value}
		if len(fields) != 1 || fields[0] != want {
			t.Errorf("%s: decoded %v, want %v", tc.name, fields, want)
		}
	}
}

// TestAppendIntBoundaries checks HPACK integers around the ends of their
// prefixes against the decoder, through string lengths.
func TestAppendIntBoundaries(t *testing.T) {
	for _, n := range []int{0, 1, 126, 127, 128, 254, 255, 256, 127 + 128, 127 + 128*128 - 1, 127 + 128*128, 70000} {
		v := strings.Repeat("a", n)
		b, _ := AppendField(nil, []byte("x"), []byte(v), nil)
		fields := decodeBlock(t, b)
		if len(fields) != 1 || fields[0].Name != "x" || fields[0].Value != v {
			t.Errorf("a value of %d bytes did not decode to itself (%d fields)", n, len(fields))
		}
	}
}
