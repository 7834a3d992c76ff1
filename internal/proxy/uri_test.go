package proxy

import "testing"

// The expected $uri values below are what nginx 1.22 reports for the same
// request targets (merge_slashes on); the rejected ones are answered 400.
func TestNormalizePath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// dst is passed as the buffer to reuse; its old content must not
		// leak into the result.
		dst    string
		want   string
		wantOK bool
	}{
		{name: "root", in: "/", want: "/", wantOK: true},
		{name: "plain path unchanged", in: "/a/b.html", want: "/a/b.html", wantOK: true},
		{name: "trailing slash kept", in: "/a/", want: "/a/", wantOK: true},
		{name: "slashes merged", in: "//a//b/", want: "/a/b/", wantOK: true},
		{name: "percent escapes decoded", in: "/%41%42", want: "/AB", wantOK: true},
		{name: "lower-case hex decoded", in: "/%7e", want: "/~", wantOK: true},
		{name: "UTF-8 bytes decoded", in: "/%C3%A9", want: "/\xc3\xa9", wantOK: true},
		{name: "escaped space decoded", in: "/a%20b", want: "/a b", wantOK: true},
		{name: "escaped question mark is part of the path", in: "/%3F", want: "/?", wantOK: true},
		{name: "escaped percent decoded once", in: "/%25", want: "/%", wantOK: true},
		{name: "escaped hash decoded", in: "/a%23b", want: "/a#b", wantOK: true},
		{name: "escaped slash is a slash", in: "/a%2Fb", want: "/a/b", wantOK: true},
		{name: "escaped leading slash merges", in: "/%2F", want: "/", wantOK: true},
		{name: "escaped slash after root", in: "/%2fa", want: "/a", wantOK: true},
		{name: "dot segment dropped", in: "/a/./b", want: "/a/b", wantOK: true},
		{name: "escaped dot segment dropped", in: "/a/%2e/b", want: "/a/b", wantOK: true},
		{name: "escaped dot segment at end keeps slash", in: "/a/%2E/", want: "/a/", wantOK: true},
		{name: "root dot", in: "/.", want: "/", wantOK: true},
		{name: "trailing dot leaves directory", in: "/a/.", want: "/a/", wantOK: true},
		{name: "dot then slash", in: "/a/./", want: "/a/", wantOK: true},
		{name: "dot-dot at end climbs to root", in: "/a/..", want: "/", wantOK: true},
		{name: "dot-dot at end leaves parent directory", in: "/a/b/..", want: "/a/", wantOK: true},
		{name: "dot-dot in the middle", in: "/a/b/../../c", want: "/c", wantOK: true},
		{name: "escaped dot-dot at end", in: "/a/%2e%2e", want: "/", wantOK: true},
		{name: "half-escaped dot-dot", in: "/a/.%2e/b", want: "/b", wantOK: true},
		{name: "escaped slashes around dot-dot", in: "/a%2F..%2Fb", want: "/b", wantOK: true},
		{name: "escaped slash before escaped dot-dot", in: "/a/b%2F%2E%2E", want: "/a/", wantOK: true},
		{name: "dot-dot then escaped slash", in: "/a/..%2Fc", want: "/c", wantOK: true},
		{name: "dot and dot-dot", in: "/a/./..", want: "/", wantOK: true},
		{name: "double slash before dot-dot", in: "/a//..", want: "/", wantOK: true},
		{name: "leading double slash before dot-dot climbs above root", in: "//..", wantOK: false},
		{name: "double slash before dot-dot then name", in: "/a/b//../c", want: "/a/c", wantOK: true},
		{name: "dot-dot then double slash", in: "/a/b/..//c", want: "/a/c", wantOK: true},
		{name: "dot-dot back to root exactly", in: "/a/b/c/../../..", want: "/", wantOK: true},
		{name: "decoded percent is not an escape again", in: "/%25/../x", want: "/x", wantOK: true},
		{name: "three dots are a name", in: "/a/...", want: "/a/...", wantOK: true},
		{name: "three dots then dot-dot", in: "/a/.../..", want: "/a/", wantOK: true},
		{name: "dot-dot prefix is a name", in: "/a/..b", want: "/a/..b", wantOK: true},
		{name: "dot prefix is a name", in: "/a/.b/", want: "/a/.b/", wantOK: true},
		{name: "reused buffer does not leak", in: "/x", dst: "/previous/long/uri", want: "/x", wantOK: true},
		{name: "dot-dot above root", in: "/..", wantOK: false},
		{name: "escaped dot-dot above root", in: "/%2e%2e/x", wantOK: false},
		{name: "upper-case escaped dot-dot above root", in: "/%2E%2E", wantOK: false},
		{name: "second dot-dot above root", in: "/a/../..", wantOK: false},
		{name: "escaped climb above root", in: "/a/%2e%2e%2f%2e%2e", wantOK: false},
		{name: "one dot-dot too many", in: "/a/b/c/../../../..", wantOK: false},
		{name: "escaped NUL", in: "/%00", wantOK: false},
		{name: "escaped NUL after name", in: "/a%00b", wantOK: false},
		{name: "bad hex digits", in: "/a%zz", wantOK: false},
		{name: "bad second hex digit", in: "/a%2g", wantOK: false},
		{name: "escape cut after one digit", in: "/a%4", wantOK: false},
		{name: "escape cut after percent", in: "/a%", wantOK: false},
		{name: "empty path", in: "", wantOK: false},
		{name: "relative path", in: "a/b", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := normalizePath([]byte(tc.dst), []byte(tc.in), true)
			if ok != tc.wantOK {
				t.Fatalf("normalizePath(%q) ok = %v (%q), want %v", tc.in, ok, got, tc.wantOK)
			}
			if ok && string(got) != tc.want {
				t.Errorf("normalizePath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestNormalizePathWithoutMergingSlashes checks merge_slashes off: empty
// segments stay, and ".." removes an empty segment as it removes any
// other. The expected values are what nginx 1.22 reports.
func TestNormalizePathWithoutMergingSlashes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/foo//../bar", "/foo/bar"},
		{"/foo///../bar", "/foo//bar"},
		{"//a//b/", "//a//b/"},
		{"/%2F%2Fa", "///a"},
		{"//..", "/"},
		{"/a//.", "/a//"},
		{"//", "//"},
		{"/a/.//b", "/a//b"},
		{"/a//b/..", "/a//"},
		{"/a//b//..", "/a//b/"},
		{"/a/%2F/../b", "/a//b"},
		{"//../x", "/x"},
		{"/a/..//b", "//b"},
	} {
		got, ok := normalizePath(nil, []byte(tc.in), false)
		if !ok || string(got) != tc.want {
			t.Errorf("normalizePath(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range []string{"/..", "/a/../..", "/%2e%2e"} {
		if got, ok := normalizePath(nil, []byte(in), false); ok {
			t.Errorf("normalizePath(%q) = %q, want a refusal", in, got)
		}
	}
}

func TestAppendEscapedURI(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		in     string
		want   string
	}{
		{name: "safe bytes unchanged", in: "/a/b-c_d.e~f!$&'()*+,;=:@", want: "/a/b-c_d.e~f!$&'()*+,;=:@"},
		{name: "appends to what is there", prefix: "GET ", in: "/x", want: "GET /x"},
		{name: "space", in: "/a b", want: "/a%20b"},
		{name: "hash", in: "/a#b", want: "/a%23b"},
		{name: "percent", in: "/100%", want: "/100%25"},
		{name: "question mark", in: "/a?b", want: "/a%3Fb"},
		{name: "control bytes", in: "/\x01\t\n\x1f", want: "/%01%09%0A%1F"},
		{name: "DEL", in: "/\x7f", want: "/%7F"},
		{name: "bytes above ASCII with upper-case hex", in: "/\xc3\xa9", want: "/%C3%A9"},
		{name: "empty path appends nothing", prefix: "x", in: "", want: "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := appendEscapedURI([]byte(tc.prefix), []byte(tc.in)); string(got) != tc.want {
				t.Errorf("appendEscapedURI(%q, %q) = %q, want %q", tc.prefix, tc.in, got, tc.want)
			}
		})
	}
}
