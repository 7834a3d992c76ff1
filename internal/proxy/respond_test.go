package proxy

import (
	"strings"
	"testing"

	"headroom/internal/conf"
)

// The types below are what nginx 1.22 sends for "return 200 text" with
// its built-in types (no mime.types included) and default_type text/plain.
func TestContentType(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		want string
	}{
		{"html", "/x.html", "text/html"},
		{"extension case is ignored", "/x.HTML", "text/html"},
		{"gif", "/x.gif", "image/gif"},
		{"upper-case gif", "/x.GIF", "image/gif"},
		{"jpg", "/x.jpg", "image/jpeg"},
		{"last extension counts", "/x.tar.gif", "image/gif"},
		{"two dots before the extension", "/a..html", "text/html"},
		// A name that starts with a dot has no extension, as in nginx.
		{"hidden file", "/.html", "text/plain"},
		{"hidden file in a directory", "/a/.jpg", "text/plain"},
		{"jpeg is not a built-in type", "/x.jpeg", "text/plain"},
		{"htm is not a built-in type", "/x.htm", "text/plain"},
		{"other extension", "/x.txt", "text/plain"},
		{"dot in a directory name", "/a.html/b", "text/plain"},
		{"empty extension", "/a/b.", "text/plain"},
		{"no extension", "/a/b", "text/plain"},
		{"root", "/", "text/plain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := contentType(&conf.Static{DefaultType: "text/plain"}, []byte(tc.uri)); got != tc.want {
				t.Errorf("contentType(%q) = %q, want %q", tc.uri, got, tc.want)
			}
		})
	}
}

// The reason phrases are nginx's, which differ from RFC 9110's in places
// ("Moved Temporarily", "Request Time-out").
func TestStatusText(t *testing.T) {
	tests := []struct {
		name string
		code int
		want string
	}{
		{"switching protocols", 101, "101 Switching Protocols"},
		{"ok", 200, "200 OK"},
		// RFC 9112 4: the space before an empty reason phrase stays.
		{"unknown code keeps the space", 299, "299 "},
		{"no content", 204, "204 No Content"},
		{"moved permanently", 301, "301 Moved Permanently"},
		{"found is moved temporarily", 302, "302 Moved Temporarily"},
		{"not modified", 304, "304 Not Modified"},
		{"bad request", 400, "400 Bad Request"},
		{"not found", 404, "404 Not Found"},
		{"method not allowed is not allowed", 405, "405 Not Allowed"},
		{"request timeout", 408, "408 Request Time-out"},
		{"content too large", 413, "413 Request Entity Too Large"},
		{"uri too long", 414, "414 Request-URI Too Large"},
		{"nginx's internal 494", 494, "494 Request Header Or Cookie Too Large"},
		{"bad gateway", 502, "502 Bad Gateway"},
		{"service unavailable", 503, "503 Service Temporarily Unavailable"},
		{"gateway timeout", 504, "504 Gateway Time-out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusText(tc.code); got != tc.want {
				t.Errorf("statusText(%d) = %q, want %q", tc.code, got, tc.want)
			}
		})
	}
}

// The pages are nginx's, byte for byte, with "headroom" where nginx
// names itself.
func TestErrorPage(t *testing.T) {
	tests := []struct {
		name string
		code int
		// want is the whole page; when empty, contains lists parts of it.
		want     string
		contains []string
		// absent lists text the page must not have.
		absent []string
	}{
		{
			name: "not found",
			code: 404,
			want: "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n" +
				"<center><h1>404 Not Found</h1></center>\r\n<hr><center>headroom</center>\r\n</body>\r\n</html>\r\n",
		},
		{
			name: "bad gateway",
			code: 502,
			want: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
				"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>headroom</center>\r\n</body>\r\n</html>\r\n",
		},
		{
			name: "redirect",
			code: 301,
			want: "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n" +
				"<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>headroom</center>\r\n</body>\r\n</html>\r\n",
		},
		{
			name: "494 is titled as the 400 it is sent as",
			code: 494,
			contains: []string{
				"<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n",
				"<hr><center>headroom</center>\r\n</body>\r\n</html>\r\n",
			},
			absent: []string{"494"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := errorPage(tc.code, productName)
			if tc.want != "" && got != tc.want {
				t.Errorf("errorPage(%d) =\n%q\nwant\n%q", tc.code, got, tc.want)
			}
			for _, s := range tc.contains {
				if !strings.Contains(got, s) {
					t.Errorf("errorPage(%d) = %q, want it to contain %q", tc.code, got, s)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(got, s) {
					t.Errorf("errorPage(%d) = %q, want no %q in it", tc.code, got, s)
				}
			}
		})
	}
}

func TestErrorPage494(t *testing.T) {
	got := errorPage(494, productName)
	for _, want := range []string{
		"<title>400 Request Header Or Cookie Too Large</title>",
		"<center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n<hr>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errorPage(494) = %q, lacks %q", got, want)
		}
	}
}
