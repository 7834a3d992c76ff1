package http1

import (
	"strings"
	"testing"
)

func TestEqualFold(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "Content-Length", true},
		{"", "", true},
		{"a", "", false},
		{"host", "hosts", false},
		{"[", "{", false}, // 0x5b and 0x7b differ only in bit 0x20
		{"@", "`", false},
		{"\xc4", "\xe4", false}, // not ASCII letters
		{"K", "\u212a", false},  // no Unicode folding
	}
	for _, tc := range cases {
		if got := EqualFold([]byte(tc.a), tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestHasToken(t *testing.T) {
	cases := []struct {
		list, tok string
		want      bool
	}{
		{"keep-alive, Upgrade", "upgrade", true},
		{"keep-alive, Upgrade", "keep-alive", true},
		{"keep-alive,Upgrade", "upgrade", true},
		{" , ,close ,", "close", true},
		{"closed", "close", false},
		{"x-close", "close", false},
		{"", "close", false},
		{"clo se", "close", false},
		{"\tclose\t", "close", true},
	}
	for _, tc := range cases {
		if got := HasToken([]byte(tc.list), tc.tok); got != tc.want {
			t.Errorf("HasToken(%q, %q) = %v", tc.list, tc.tok, got)
		}
	}
}

func TestForEachToken(t *testing.T) {
	var got []string
	ForEachToken([]byte(" a ,b,, \tc\t,"), func(tok []byte) { got = append(got, string(tok)) })
	if strings.Join(got, "|") != "a|b|c" {
		t.Errorf("got %q", got)
	}
	ForEachToken(nil, func([]byte) { t.Error("called for empty list") })
}

func TestParseContentLength(t *testing.T) {
	cases := []struct {
		in   string
		n    int64
		okay bool
	}{
		{"0", 0, true},
		{"123", 123, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"18446744073709551616", 0, false},
		{"", 0, false},
		{"1a", 0, false},
		{" 1", 0, false},
	}
	for _, tc := range cases {
		n, ok := parseContentLength([]byte(tc.in))
		if n != tc.n || ok != tc.okay {
			t.Errorf("parseContentLength(%q) = %d, %v", tc.in, n, ok)
		}
	}
}

func TestValidHost(t *testing.T) {
	good := []string{"a", "example.com", "example.com:8080", "EXAMPLE.com.", "127.0.0.1", "[::1]", "[::1]:80",
		"[v1.fe80::a+en1]", "xn--bcher-kva.example", "a_b", "a-b~c", "a:", "sub.delims!$&'()*+,;="}
	bad := []string{"", ":80", "a/b", "a\\b", "a b", "a..b", "u@h", "a:b", "a:8x", "[::1", "[]", "[::1]x",
		"[::1]:x", "[a b]", "a\x00", "a\x7f", "a%4", "a%zz", "a%41", "0%00", "a%2e%2e", "\xc3\xa9", "a\"b", "a<b", "a:80:80"}
	for _, h := range good {
		if !validHost([]byte(h)) {
			t.Errorf("validHost(%q) = false", h)
		}
	}
	for _, h := range bad {
		if validHost([]byte(h)) {
			t.Errorf("validHost(%q) = true", h)
		}
	}
	// The Host field also takes nginx's "host:port:port", nothing else.
	for _, h := range []string{"a:80:80", "1.2.3.4:9000:80", "a::", "[::1]:80:80"} {
		if !validHostField([]byte(h)) {
			t.Errorf("validHostField(%q) = false", h)
		}
	}
	for _, h := range []string{"a:80:b", "a:80/", ":80:80", "a..b:80:80"} {
		if validHostField([]byte(h)) {
			t.Errorf("validHostField(%q) = true", h)
		}
	}
}
