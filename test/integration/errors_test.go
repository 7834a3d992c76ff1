package integration

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestUpstreamErrors checks the statuses produced when the upstream fails:
// 502 for refused connections, early closes and invalid headers, 504 for
// proxy_read_timeout, and what the client sees when a response breaks off
// after its header was sent.
func TestUpstreamErrors(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			switch r.Target {
			case "/slow":
				c.sleep(10 * time.Second)
				c.respond(200, "too late")
			case "/close-before-headers":
				c.closeNow()
			case "/partial-headers":
				c.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/pl")
				c.closeNow()
			case "/bad-status":
				c.writeString("HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nhi")
				c.closeNow()
			case "/garbage":
				c.writeString("NOT HTTP AT ALL\r\n\r\n")
				c.closeNow()
			case "/bad-header":
				c.writeString("HTTP/1.1 200 OK\r\nBad Header Line\r\nContent-Length: 2\r\n\r\nhi")
				c.closeNow()
			case "/huge-header":
				c.writeString("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 10000) + "\r\nContent-Length: 2\r\n\r\nhi")
				c.closeNow()
			case "/truncated":
				c.writeString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
				c.closeNow()
			case "/truncated-chunked":
				c.writeString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
				c.closeNow()
			default:
				c.respond(200, "ok")
			}
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; proxy_read_timeout 1s; proxy_http_version 1.1; }
        location /refused { proxy_pass http://%s; }
    }`, up.addr, refusedAddr(t)))

		errorPage := func(t *testing.T, resp *response, status int, line string) {
			t.Helper()
			if resp.StatusLine != line {
				t.Errorf("status line %q, want %q", resp.StatusLine, line)
			}
			if ct := resp.header("Content-Type"); ct != "text/html" {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			if !strings.Contains(string(resp.Body), fmt.Sprintf("<title>%d ", status)) {
				t.Errorf("body %q is not the built-in error page", resp.Body)
			}
		}

		t.Run("refused", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip("GET /refused HTTP/1.1\r\nHost: h\r\n\r\n")
			errorPage(t, resp, 502, "HTTP/1.1 502 Bad Gateway")
			// A 502 keeps the client connection.
			if resp.header("Connection") != "keep-alive" {
				t.Errorf("Connection %q, want keep-alive", resp.header("Connection"))
			}
			if resp := rc.roundTrip("GET /fine HTTP/1.1\r\nHost: h\r\n\r\n"); resp.Status != 200 {
				t.Errorf("next request: %s", resp)
			}
		})

		t.Run("read timeout", func(t *testing.T) {
			start := time.Now()
			resp := sendRaw(t, p.addr, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
			d := time.Since(start)
			// nginx spells it "Time-out".
			errorPage(t, resp, 504, "HTTP/1.1 504 Gateway Time-out")
			// Only the lower bound is exact: a loaded machine delays
			// the answer, never hastens it.
			if d < 950*time.Millisecond || d > 6*time.Second {
				t.Errorf("504 after %v, want about 1s (proxy_read_timeout)", d)
			}
		})

		for _, path := range []string{"/close-before-headers", "/partial-headers", "/bad-header", "/huge-header"} {
			t.Run(path[1:], func(t *testing.T) {
				resp := sendRaw(t, p.addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\n\r\n")
				errorPage(t, resp, 502, "HTTP/1.1 502 Bad Gateway")
			})
		}

		// nginx does not answer 502 to a response whose status line is
		// not HTTP/1.x: it takes it for an HTTP/0.9 response and relays
		// the upstream's bytes verbatim, without a status line of its
		// own, and keeps the client connection open (its access log
		// shows status "009").
		for _, tc := range []struct{ path, raw string }{
			{"/bad-status", "HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nhi"},
			{"/garbage", "NOT HTTP AT ALL\r\n\r\n"},
		} {
			t.Run(tc.path[1:], func(t *testing.T) {
				if tg.isHeadroom() {
					// headroom does not relay what is not an HTTP/1.x
					// response: the client gets a 502 (see README).
					resp := sendRaw(t, p.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: h\r\n\r\n")
					errorPage(t, resp, 502, "HTTP/1.1 502 Bad Gateway")
					return
				}
				rc := dialRaw(t, p.addr)
				rc.write("GET " + tc.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
				got := make([]byte, len(tc.raw))
				n, err := io.ReadFull(rc.br, got)
				if string(got[:n]) != tc.raw {
					t.Errorf("got %q (%v), want the upstream's bytes %q", got[:n], err, tc.raw)
				}
				rc.expectOpen(200 * time.Millisecond)
			})
		}

		t.Run("truncated body", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			rc.write("GET /truncated HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, err := readResponse(rc.br, "GET")
			if resp == nil || resp.Status != 200 || resp.header("Content-Length") != "1000" {
				t.Fatalf("want the 200 header with Content-Length 1000, got %v (%v)", resp, err)
			}
			if err == nil || string(resp.Body) != "0123456789" {
				t.Errorf("want 10 bytes and then the connection closed, got %q (%v)", resp.Body, err)
			}
		})

		t.Run("truncated chunked", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			rc.write("GET /truncated-chunked HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, err := readResponse(rc.br, "GET")
			if resp == nil || resp.Status != 200 || !resp.Chunked {
				t.Fatalf("want a chunked 200, got %v (%v)", resp, err)
			}
			// No last chunk: the client can tell the body is incomplete.
			if err == nil || string(resp.Body) != "0123456789" {
				t.Errorf("want 10 bytes without the last chunk, got %q (%v)", resp.Body, err)
			}
		})
	})
}
