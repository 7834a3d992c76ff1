package integration

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"
)

// readEnd reads until the connection ends and says how: "eof" for an
// orderly close, "reset" for a reset, or the error.
func readEnd(rc *rawConn, within time.Duration) string {
	rc.c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, rc.br)
	switch {
	case err == nil:
		return "eof"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return err.Error()
}

// TestResetTimedoutConnection checks reset_timedout_connection: with it a
// connection that a 444 ends, or that times out reading the request head
// (client_header_timeout), closes with a reset; without it, and for a
// keep-alive connection that times out, with a FIN.
func TestResetTimedoutConnection(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    client_header_timeout 1s;
    keepalive_timeout 1s;
    server {
        listen 127.0.0.1:{{PORT}};
        reset_timedout_connection on;
        location / { return 200; }
        location /drop { return 444; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        location /drop { return 444; }
    }`)
		cases := []struct {
			name, addr, send string
			want             string
		}{
			{"444 with reset", p.addr, "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n", "reset"},
			{"444 without", p.expand("127.0.0.1:{{PORT1}}"), "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n", "eof"},
			{"head timeout with reset", p.addr, "GET / HTTP/1.1\r\n", "reset"},
		}
		for _, c := range cases {
			rc := dialRaw(t, c.addr)
			rc.write(c.send)
			if got := readEnd(rc, 5*time.Second); got != c.want {
				t.Errorf("%s: connection ended with %s, want %s", c.name, got, c.want)
			}
		}
		// A kept-alive connection that times out closes normally.
		rc := dialRaw(t, p.addr)
		if r := rc.roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		if got := readEnd(rc, 5*time.Second); got != "eof" {
			t.Errorf("keep-alive timeout: connection ended with %s, want eof", got)
		}
	})
}
