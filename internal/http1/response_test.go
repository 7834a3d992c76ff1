package http1

import (
	"errors"
	"strings"
	"testing"
)

func TestParseResponseValid(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		head      bool // request was HEAD
		status    int
		reason    string
		minor     int
		cl        int64
		chunked   bool
		keepAlive bool
		framing   Framing
		nheaders  int
		headLen   int // 0: the whole input
	}{
		{"ok with length", "HTTP/1.1 200 OK|Content-Length: 5||hello", false, 200, "OK", 1, 5, false, true, FramingLength, 1, len(crlf("HTTP/1.1 200 OK|Content-Length: 5||"))},
		{"zero length", "HTTP/1.1 200 OK|Content-Length: 0||", false, 200, "OK", 1, 0, false, true, FramingLength, 1, 0},
		{"no reason no space", "HTTP/1.1 404|Content-Length: 0||", false, 404, "", 1, 0, false, true, FramingLength, 1, 0},
		{"empty reason", "HTTP/1.1 404 |Content-Length: 0||", false, 404, "", 1, 0, false, true, FramingLength, 1, 0},
		{"reason with spaces and obs-text", "HTTP/1.1 500 Internal \xa0Server\tError|Content-Length: 0||", false, 500, "Internal \xa0Server\tError", 1, 0, false, true, FramingLength, 1, 0},
		{"chunked", "HTTP/1.1 200 OK|Transfer-Encoding: Chunked||", false, 200, "OK", 1, -1, true, true, FramingChunked, 1, 0},
		{"close delimited 1.1", "HTTP/1.1 200 OK|Connection: close||", false, 200, "OK", 1, -1, false, false, FramingClose, 1, 0},
		{"close delimited 1.0", "HTTP/1.0 200 OK||", false, 200, "OK", 0, -1, false, false, FramingClose, 0, 0},
		{"1.0 keep-alive", "HTTP/1.0 200 OK|Connection: keep-alive|Content-Length: 2||", false, 200, "OK", 0, 2, false, true, FramingLength, 2, 0},
		{"head response", "HTTP/1.1 200 OK|Content-Length: 1234||", true, 200, "OK", 1, 1234, false, true, FramingNone, 1, 0},
		{"head response chunked", "HTTP/1.1 200 OK|Transfer-Encoding: chunked||", true, 200, "OK", 1, -1, true, true, FramingNone, 1, 0},
		{"100 continue", "HTTP/1.1 100 Continue||HTTP/1.1 200 OK||", false, 100, "Continue", 1, -1, false, true, FramingNone, 0, len(crlf("HTTP/1.1 100 Continue||"))},
		{"101 switching", "HTTP/1.1 101 Switching Protocols|Connection: Upgrade|Upgrade: websocket||", false, 101, "Switching Protocols", 1, -1, false, true, FramingNone, 2, 0},
		{"103 early hints", "HTTP/1.1 103 Early Hints|Link: </s.css>; rel=preload||", false, 103, "Early Hints", 1, -1, false, true, FramingNone, 1, 0},
		{"204 with length", "HTTP/1.1 204 No Content|Content-Length: 10||", false, 204, "No Content", 1, 10, false, true, FramingNone, 1, 0},
		{"304 with length", "HTTP/1.1 304 Not Modified|Content-Length: 10||", false, 304, "Not Modified", 1, 10, false, true, FramingNone, 1, 0},
		{"304 chunked", "HTTP/1.1 304 Not Modified|Transfer-Encoding: chunked||", false, 304, "Not Modified", 1, -1, true, true, FramingNone, 1, 0},
		{"599", "HTTP/1.1 599 X|Content-Length: 0||", false, 599, "X", 1, 0, false, true, FramingLength, 1, 0},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", false, 200, "OK", 1, 0, false, true, FramingLength, 1, 0},
	}
	var resp Response
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := crlf(tc.in)
			n, err := ParseResponse([]byte(in), &resp, nil)
			if err != nil {
				t.Fatalf("ParseResponse(%q): %v", in, err)
			}
			want := tc.headLen
			if want == 0 {
				want = len(in)
			}
			if n != want || resp.HeadLen != want {
				t.Errorf("length %d/%d, want %d", n, resp.HeadLen, want)
			}
			if resp.Major != 1 || resp.Minor != tc.minor || resp.Status != tc.status || string(resp.Reason) != tc.reason {
				t.Errorf("status line %d.%d %d %q", resp.Major, resp.Minor, resp.Status, resp.Reason)
			}
			if resp.ContentLength != tc.cl || resp.Chunked != tc.chunked || resp.KeepAlive != tc.keepAlive {
				t.Errorf("CL %d chunked %v keepalive %v", resp.ContentLength, resp.Chunked, resp.KeepAlive)
			}
			if f := ResponseFraming(tc.head, &resp); f != tc.framing {
				t.Errorf("framing %v, want %v", f, tc.framing)
			}
			if len(resp.Headers) != tc.nheaders {
				t.Errorf("%d headers, want %d", len(resp.Headers), tc.nheaders)
			}
		})
	}
}

func TestParseResponseConnection(t *testing.T) {
	var resp Response
	in := crlf("HTTP/1.1 200 OK|Connection: close, X-Hop|connection: Y-Hop|Content-Length: 0||")
	if _, err := ParseResponse([]byte(in), &resp, nil); err != nil {
		t.Fatal(err)
	}
	if resp.KeepAlive || string(resp.ConnectionHeader) != "close, X-Hop" {
		t.Errorf("KeepAlive %v ConnectionHeader %q", resp.KeepAlive, resp.ConnectionHeader)
	}
	var got []string
	resp.EachConnectionToken(func(tok []byte) { got = append(got, string(tok)) })
	if strings.Join(got, ",") != "close,X-Hop,Y-Hop" {
		t.Errorf("tokens %q", got)
	}
}

func TestParseResponseInvalid(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want *Error
	}{
		{"http/0.9 body", "<html>hello</html>", errUpstreamStatus},
		{"ICY", "ICY 200 OK||", errUpstreamStatus},
		{"lowercase", "http/1.1 200 OK||", errUpstreamStatus},
		{"HTTP/2.0", "HTTP/2.0 200 OK||", errUpstreamStatus},
		{"HTTP/1.10", "HTTP/1.10 200 OK||", errUpstreamStatus},
		{"HTTP/0.9", "HTTP/0.9 200 OK||", errUpstreamStatus},
		{"two digits", "HTTP/1.1 20 OK||", errUpstreamStatus},
		{"four digits", "HTTP/1.1 2000 OK||", errUpstreamStatus},
		{"status below 100", "HTTP/1.1 099 X||", errUpstreamStatus},
		{"status above 599", "HTTP/1.1 600 X||", errUpstreamStatus},
		{"status sign", "HTTP/1.1 +20 X||", errUpstreamStatus},
		{"double space", "HTTP/1.1  200 OK||", errUpstreamStatus},
		{"tab separator", "HTTP/1.1\t200 OK||", errUpstreamStatus},
		{"control in reason", "HTTP/1.1 200 O\x01K||", errUpstreamStatus},
		{"bare CR status line", "HTTP/1.1 200 OK\rX: y\r\n\r\n", errUpstreamStatus},
		{"leading empty line", "|HTTP/1.1 200 OK||", errUpstreamStatus},
		{"bad header name", "HTTP/1.1 200 OK|Bad Header: x||", errUpstreamHeader},
		{"space before colon", "HTTP/1.1 200 OK|Content-Length : 5||", errUpstreamHeader},
		{"obs-fold", "HTTP/1.1 200 OK|X: a| b||", errUpstreamHeader},
		{"NUL in value", "HTTP/1.1 200 OK|X: a\x00||", errUpstreamHeader},
		{"bare CR in value", "HTTP/1.1 200 OK|X: a\rb||", errUpstreamHeader},
		{"empty name", "HTTP/1.1 200 OK|: x||", errUpstreamHeader},
		{"CL and TE", "HTTP/1.1 200 OK|Content-Length: 5|Transfer-Encoding: chunked||", errUpstreamCLandTE},
		{"duplicate CL", "HTTP/1.1 200 OK|Content-Length: 5|Content-Length: 5||", errUpstreamDuplicate},
		{"duplicate TE", "HTTP/1.1 200 OK|Transfer-Encoding: chunked|Transfer-Encoding: chunked||", errUpstreamDuplicate},
		{"bad CL", "HTTP/1.1 200 OK|Content-Length: 5, 5||", errUpstreamCL},
		{"negative CL", "HTTP/1.1 200 OK|Content-Length: -1||", errUpstreamCL},
		{"unknown TE", "HTTP/1.1 200 OK|Transfer-Encoding: gzip, chunked||", errUpstreamTE},
		{"TE in 1.0", "HTTP/1.0 200 OK|Transfer-Encoding: chunked||", errUpstreamTE10},
		{"too big line", "HTTP/1.1 200 OK|X: " + strings.Repeat("a", DefaultMaxHeaderLine) + "||", ErrResponseTooBig},
		{"too big status line", "HTTP/1.1 200 " + strings.Repeat("a", DefaultMaxHeaderLine), ErrResponseTooBig},
	}
	var resp Response
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := crlf(tc.in)
			_, err := ParseResponse([]byte(in), &resp, nil)
			if err != tc.want {
				t.Fatalf("ParseResponse(%q) = %v, want %v", in, err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != 502 {
				t.Fatalf("status %v, want 502", err)
			}
		})
	}
}

func TestParseResponseNeedMore(t *testing.T) {
	full := crlf("HTTP/1.1 200 OK|Content-Type: text/plain|Content-Length: 2||hi")
	head := len(full) - 2
	var resp Response
	for i := 0; i < head; i++ {
		if _, err := ParseResponse([]byte(full[:i]), &resp, nil); err != ErrNeedMore {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	if n, err := ParseResponse([]byte(full), &resp, nil); err != nil || n != head {
		t.Fatalf("whole: %d %v", n, err)
	}
}
