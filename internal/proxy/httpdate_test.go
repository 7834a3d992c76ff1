package proxy

import (
	"testing"
	"time"
)

// TestParseHTTPDate checks the three formats RFC 9110 allows, the
// allocation-free path for the preferred one, and what is refused.
func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		in string
		ok bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},
		{"  Sun, 06 Nov 1994 08:49:37 GMT ", true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", true},
		{"Sun Nov  6 08:49:37 1994", true},
		{"Sun, 31 Feb 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 24:49:37 GMT", false},
		{"Sun, 06 Nox 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08:49:3x GMT", false},
		{"", false},
	}
	for _, tc := range tests {
		got, ok := parseHTTPDate([]byte(tc.in))
		if ok != tc.ok || ok && !got.Equal(want) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want ok %v", tc.in, got, ok, tc.ok)
		}
	}
	v := []byte("Sun, 06 Nov 1994 08:49:37 GMT")
	if n := testing.AllocsPerRun(100, func() { parseHTTPDate(v) }); n != 0 {
		t.Errorf("%v allocations per preferred-format date, want none", n)
	}
}
