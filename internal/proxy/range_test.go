package proxy

import (
	"fmt"
	"math"
	"testing"
)

// TestParseRanges checks nginx's reading of a "bytes=" Range value for a
// file of 100 bytes (0 for the empty-file cases), against what nginx
// 1.22 answers for the same values.
func TestParseRanges(t *testing.T) {
	const unlimited = 1<<31 - 1
	tests := []struct {
		spec    string
		size    int64
		max     int
		verdict int
		spans   string // the ranges found, for rangeOK
	}{
		{"0-9", 100, unlimited, rangeOK, "[{0 10}]"},
		{"90-", 100, unlimited, rangeOK, "[{90 100}]"},
		{"-10", 100, unlimited, rangeOK, "[{90 100}]"},
		{"-200", 100, unlimited, rangeOK, "[{0 100}]"},
		{"95-200", 100, unlimited, rangeOK, "[{95 100}]"},
		{" 1 - 2 ", 100, unlimited, rangeOK, "[{1 3}]"},
		{"0-0", 100, unlimited, rangeOK, "[{0 1}]"},
		{"200-300,0-9", 100, unlimited, rangeOK, "[{0 10}]"},
		{"5-4,0-1", 100, unlimited, rangeOK, "[{0 2}]"},
		{"-0,1-2", 100, unlimited, rangeOK, "[{1 3}]"},
		// Several ranges are kept in the order asked for, overlapping
		// or not, with spaces around the comma.
		{"0-1,5-6", 100, unlimited, rangeOK, "[{0 2} {5 7}]"},
		{"0-9, -10, 10-19", 100, unlimited, rangeOK, "[{0 10} {90 100} {10 20}]"},
		{"0-9, -10, 100000-, 10-19", 100, unlimited, rangeOK, "[{0 10} {90 100} {10 20}]"},
		{"0-0,0-0", 100, unlimited, rangeOK, "[{0 1} {0 1}]"},
		{" 0 - 1 , 3 - 4 ", 100, unlimited, rangeOK, "[{0 2} {3 5}]"},
		{"0-49,50-", 100, unlimited, rangeOK, "[{0 50} {50 100}]"},
		// Unsatisfiable: nothing left, or malformed.
		{"100-", 100, unlimited, rangeUnsatisfiable, ""},
		{"100-200", 100, unlimited, rangeUnsatisfiable, ""},
		{"5-4", 100, unlimited, rangeUnsatisfiable, ""},
		{"-0", 100, unlimited, rangeUnsatisfiable, ""},
		{"x", 100, unlimited, rangeUnsatisfiable, ""},
		{"alpha", 100, unlimited, rangeUnsatisfiable, ""},
		{"10-alpha", 100, unlimited, rangeUnsatisfiable, ""},
		{"10", 100, unlimited, rangeUnsatisfiable, ""},
		{"10-11 12-", 100, unlimited, rangeUnsatisfiable, ""},
		{"1-2x", 100, unlimited, rangeUnsatisfiable, ""},
		{"-", 100, unlimited, rangeUnsatisfiable, ""},
		{"- 5", 100, unlimited, rangeUnsatisfiable, ""},
		{"0-1,", 100, unlimited, rangeUnsatisfiable, ""},
		{"0-1,,2-3", 100, unlimited, rangeUnsatisfiable, ""},
		{"0-1,x", 100, unlimited, rangeUnsatisfiable, ""},
		{"0-1\t", 100, unlimited, rangeUnsatisfiable, ""},
		{"99999999999999999999-", 100, unlimited, rangeUnsatisfiable, ""},
		{"9223372036854775807-", 100, unlimited, rangeUnsatisfiable, ""},
		{"9223372036854775808-", 100, unlimited, rangeUnsatisfiable, ""},
		{"0-9223372036854775808", 100, unlimited, rangeUnsatisfiable, ""},
		// The whole answer: together longer than the file, a range from
		// 0 of an empty file, more than max_ranges.
		{"0-99,0-99", 100, unlimited, rangeWhole, ""},
		{"0-,0-", 100, unlimited, rangeWhole, ""},
		{"0-50,50-", 100, unlimited, rangeWhole, ""},
		{"0-9223372036854775807,0-1", 100, unlimited, rangeWhole, ""},
		{"0-", 0, unlimited, rangeWhole, ""},
		{"-5", 0, unlimited, rangeWhole, ""},
		{"0-9,-10", 100, 2, rangeOK, "[{0 10} {90 100}]"},
		{"0-9,-10,10000-", 100, 2, rangeOK, "[{0 10} {90 100}]"},
		{"0-9,-10,10-19", 100, 2, rangeWhole, ""},
		{"0-9,-10", 100, 1, rangeWhole, ""},
		{"0-9", 100, 1, rangeOK, "[{0 10}]"},
	}
	for _, tc := range tests {
		spans, verdict := parseRanges(nil, []byte(tc.spec), tc.size, tc.max)
		if verdict != tc.verdict || verdict == rangeOK && fmt.Sprint(spans) != tc.spans {
			t.Errorf("parseRanges(%q, %d, %d) = %v, %d; want %s, %d", tc.spec, tc.size, tc.max, spans, verdict, tc.spans, tc.verdict)
		}
	}
}

// TestParseRangesOverflow checks the sum of the ranges' lengths against
// the largest offset before it is added (CVE-2017-7529): ranges of a
// file as large as an offset can be, each valid, would overflow it.
func TestParseRangesOverflow(t *testing.T) {
	const huge = math.MaxInt64
	if _, v := parseRanges(nil, []byte("0-,0-"), huge, 1<<31-1); v != rangeUnsatisfiable {
		t.Errorf("two whole ranges of a file of %d bytes: verdict %d, want %d (unsatisfiable)", int64(huge), v, rangeUnsatisfiable)
	}
	if _, v := parseRanges(nil, []byte("-1,0-"), huge, 1<<31-1); v != rangeUnsatisfiable {
		t.Errorf("a suffix and a whole range: verdict %d, want %d", v, rangeUnsatisfiable)
	}
}

// TestMultipartLength checks the length computed before a multipart
// answer is sent against the bytes nginx 1.22 sends for the same ranges
// of a 1000-byte text/html file (316 and 220 in its answers).
func TestMultipartLength(t *testing.T) {
	tests := []struct {
		spans []byteSpan
		ctype string
		want  int64
	}{
		{[]byteSpan{{0, 10}, {990, 1000}, {10, 20}}, "text/html", 316},
		{[]byteSpan{{0, 10}, {990, 1000}}, "text/html", 220},
		{[]byteSpan{{0, 10}, {990, 1000}}, "text/html; charset=A", 242},
	}
	for _, tc := range tests {
		var h outHead
		h.reset()
		h.contentType = tc.ctype
		m := newMultipart(&h, tc.spans, 1000)
		// The bytes the answer is made of add up to the length.
		var f staticFile
		var n int64
		for !m.closed {
			m.advance(&f)
			n += int64(len(m.pending))
			if !m.closed {
				n += f.end - f.off
			}
		}
		if m.total != tc.want || n != tc.want {
			t.Errorf("%v %s: length %d, made of %d bytes; want %d", tc.spans, tc.ctype, m.total, n, tc.want)
		}
	}
}

// TestIsMSIE checks nginx's browser tests on User-Agent values.
func TestIsMSIE(t *testing.T) {
	tests := []struct {
		ua           string
		msie, chrome bool
	}{
		{"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)", true, false},
		{"MSIE foo", true, false},
		{"MSIE 8.", false, false},
		{"MSIE 8.0 Opera", false, false},
		{"Opera/9.80 (Windows NT 6.1; U; MSIE 8.0)", false, false},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", false, true},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", false, false},
		{"Chrome/1", false, true},
		{"msie 8.0", false, false},
	}
	for _, tc := range tests {
		if got := isMSIE([]byte(tc.ua)); got != tc.msie {
			t.Errorf("isMSIE(%q) = %v, want %v", tc.ua, got, tc.msie)
		}
		if got := isChrome([]byte(tc.ua)); got != tc.chrome {
			t.Errorf("isChrome(%q) = %v, want %v", tc.ua, got, tc.chrome)
		}
	}
}

// TestRefreshEscape checks msie_refresh's escaping against nginx's.
func TestRefreshEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"text", "text"},
		{"space ", "space%20"},
		{`/a b'c"d%e`, "/a%20b%27c%22d%e"},
		{"/\x01\x7f\xc3\xa9", "/%01%7F%C3%A9"},
		{"http://x/?a=1&b=<2>", "http://x/?a=1&b=<2>"},
	}
	for _, tc := range tests {
		if got := string(appendRefreshEscaped(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendRefreshEscaped(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
