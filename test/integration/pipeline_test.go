package integration

import (
	"fmt"
	"testing"
	"time"
)

// TestPipelining sends several requests in one write and checks that the
// responses come back complete and in order.
func TestPipelining(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			// Answer the first request slowly, so that a proxy
			// handling pipelined requests concurrently would reorder.
			if r.Target == "/slow" {
				time.Sleep(100 * time.Millisecond)
			}
			c.respond(200, r.Method+" "+r.Target+" "+string(r.Body))
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
        location /local/ { return 200 "local $uri"; }
    }`, up.addr))

		t.Run("proxied", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			rc.write("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n" +
				"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
				"HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n" +
				"GET /c HTTP/1.1\r\nHost: h\r\n\r\n")
			for _, want := range []struct{ method, body string }{
				{"GET", "GET /slow "},
				{"POST", "POST /b abc"},
				{"HEAD", ""},
				{"GET", "GET /c "},
			} {
				resp := rc.read(want.method)
				if resp.Status != 200 || string(resp.Body) != want.body {
					t.Fatalf("want %q, got\n%s", want.body, resp)
				}
			}
			rc.expectOpen(100 * time.Millisecond)
		})

		t.Run("local", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			rc.write("GET /local/1 HTTP/1.1\r\nHost: h\r\n\r\nGET /local/2 HTTP/1.1\r\nHost: h\r\n\r\nGET /local/3 HTTP/1.1\r\nHost: h\r\n\r\n")
			for i := 1; i <= 3; i++ {
				if resp := rc.read("GET"); string(resp.Body) != fmt.Sprintf("local /local/%d", i) {
					t.Fatalf("response %d: got\n%s", i, resp)
				}
			}
		})

		t.Run("after close", func(t *testing.T) {
			// Requests pipelined after "Connection: close" are not
			// answered.
			rc := dialRaw(t, p.addr)
			rc.write("GET /local/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /local/b HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp := rc.read("GET"); string(resp.Body) != "local /local/a" || resp.header("Connection") != "close" {
				t.Fatalf("got\n%s", resp)
			}
			rc.expectClosed(3 * time.Second)
		})
	})
}
