package integration

import (
	"bufio"
	"io"
	"testing"
	"time"
)

// TestClientHeaderTimeoutFromAccept checks that client_header_timeout
// counts the first request's whole head from the accept, as nginx's
// does, not from its first byte: a client that waits 1.5 s, then sends a
// line every half second, has not finished its head when the 2 s run
// out and gets no answer, although its head would have been complete
// within 2 s of its first byte.
func TestClientHeaderTimeoutFromAccept(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    client_header_timeout 2s;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "ok"; }
    }`)
		rc := dialRaw(t, p.addr)
		defer rc.c.Close()
		time.Sleep(1500 * time.Millisecond)
		lines := []string{"GET / HTTP/1.1\r\n", "Host: h\r\n", "A: b\r\n", "C: d\r\n", "\r\n"}
		for i, l := range lines {
			if i > 0 {
				time.Sleep(450 * time.Millisecond)
			}
			if _, err := io.WriteString(rc.c, l); err != nil {
				// Closed by the server: no answer, as wanted.
				return
			}
		}
		rc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := readResponse(bufio.NewReader(rc.c), "GET")
		if err == nil && resp.Status == 200 {
			t.Errorf("the head finished 3.3 s after the accept and was answered 200; client_header_timeout 2s counts from the accept")
		}
	})
}
