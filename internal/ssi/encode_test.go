package ssi

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseEncoding(t *testing.T) {
	tests := []struct {
		in   string
		want Encoding
		ok   bool
	}{
		{"entity", EncodingEntity, true},
		{"none", EncodingNone, true},
		{"url", EncodingURL, true},
		{"URL", EncodingEntity, false},
		{"", EncodingEntity, false},
		{"html", EncodingEntity, false},
	}
	for _, tc := range tests {
		got, ok := ParseEncoding([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseEncoding(%q) = %v, %v", tc.in, got, ok)
		}
	}
}

func TestAppendEncoded(t *testing.T) {
	tests := []struct {
		in   string
		e    Encoding
		want string
	}{
		{`<a href="x">&'`, EncodingEntity, `&lt;a href=&quot;x&quot;&gt;&amp;'`},
		{`plain`, EncodingEntity, `plain`},
		{"", EncodingEntity, ""},
		{`<a href="x">&'`, EncodingNone, `<a href="x">&'`},
		{`a b?c=d&e/f+g;h`, EncodingURL, `a%20b?c=d&e/f+g;h`},
		{"é\x00\x7f~", EncodingURL, `%C3%A9%00%7F~`},
	}
	for _, tc := range tests {
		got := AppendEncoded([]byte("pre:"), []byte(tc.in), tc.e)
		if string(got) != "pre:"+tc.want {
			t.Errorf("AppendEncoded(%q, %v) = %q, want %q", tc.in, tc.e, got, tc.want)
		}
	}
}

// TestAppendEncodedURLSet checks every byte against the list of bytes
// written as %XX.
func TestAppendEncodedURLSet(t *testing.T) {
	const special = " \"#%'<>\\^`{|}"
	for c := 0; c < 256; c++ {
		escaped := c <= 0x20 || c >= 0x7f || strings.IndexByte(special, byte(c)) >= 0
		want := string(rune(c))
		if escaped {
			want = fmt.Sprintf("%%%02X", c)
		}
		if got := string(AppendEncoded(nil, []byte{byte(c)}, EncodingURL)); got != want {
			t.Errorf("byte %#x: %q, want %q", c, got, want)
		}
	}
}
