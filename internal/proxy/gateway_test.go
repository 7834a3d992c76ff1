package proxy

import (
	"strings"
	"testing"

	"headroom/internal/conf"
)

// readCGIAnswer reads what the SCGI and uwsgi transport makes of a
// server's answer given to its socket piece bytes at a time, until the
// socket's end.
func readCGIAnswer(t *testing.T, answer string, piece int) (string, error) {
	t.Helper()
	in := &memTransport{room: -1}
	ct := &cgiTransport{inner: in}
	ct.reset(4096)
	return readThrough(t, ct, in, answer, piece, true)
}

// TestCGIAnswer checks the answers of SCGI and uwsgi servers as the
// upstream attempt reads them: an HTTP status line passes as it is, a
// CGI head becomes an HTTP/1.0 head (so that the body ends with the
// connection unless a Content-Length frames it; its Status field stays,
// for the uwsgi module passes it on), and the heads nginx refuses are
// refused, whatever pieces the socket gives them in.
func TestCGIAnswer(t *testing.T) {
	for _, tt := range []struct {
		name, answer, want, failMsg string
	}{
		{"an HTTP status line passes", "HTTP/1.1 201 Created\r\nX-A: b\r\n\r\nbody", "HTTP/1.1 201 Created\r\nX-A: b\r\n\r\nbody", ""},
		{"a CGI head with Status", "Status: 404 Not Found\r\nX-A: b\r\n\r\nbody", "HTTP/1.0 404 Not Found\r\nStatus: 404 Not Found\r\nX-A: b\r\n\r\nbody", ""},
		{"a CGI head without Status, LF lines", "Content-Type: text/plain\nContent-Length: 4\n\nbody", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody", ""},
		{"a Location alone", "Location: /x\r\n\r\n", "HTTP/1.0 302 Moved Temporarily\r\nLocation: /x\r\n\r\n", ""},
		{"an invalid status", "Status: xyz\r\n\r\n", "", `upstream sent invalid status "xyz"`},
		{"a head too big", "X-A: " + strings.Repeat("a", 5000), "", "upstream sent too big header"},
	} {
		for _, piece := range []int{1, 2, 7, 1 << 20} {
			got, err := readCGIAnswer(t, tt.answer, piece)
			if tt.failMsg != "" {
				if err != errGatewayInvalid {
					t.Errorf("%s, pieces of %d: got %q (%v), want it refused", tt.name, piece, got, err)
				}
				continue
			}
			if err != nil || got != tt.want {
				t.Errorf("%s, pieces of %d:\n got %q (%v)\nwant %q", tt.name, piece, got, err, tt.want)
			}
		}
	}
	// The socket's end before the head is the upstream's early close.
	if got, err := readCGIAnswer(t, "Status: 200", 3); got != "" || err != nil {
		t.Errorf("an early end: %q, %v", got, err)
	}
}

// TestGatewayPairs checks how FastCGI, SCGI and uwsgi lay out a name and
// its value.
func TestGatewayPairs(t *testing.T) {
	if got := string(appendPair(nil, conf.ProtoSCGI, "A", []byte("bc"))); got != "A\x00bc\x00" {
		t.Errorf("SCGI: %q", got)
	}
	long := strings.Repeat("v", 300)
	if got := string(appendPair(nil, conf.ProtoUWSGI, []byte("AB"), []byte(long))); got != "\x02\x00AB\x2c\x01"+long {
		t.Errorf("uwsgi: %q", got[:8])
	}
	if got := string(appendPair(nil, conf.ProtoFastCGI, "AB", []byte(long))); got != "\x02\x80\x00\x01\x2cAB"+long {
		t.Errorf("FastCGI: %q", got[:8])
	}
}
