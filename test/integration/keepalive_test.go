package integration

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClientKeepAlive checks persistent client connections: several
// requests on one connection, the keepalive_requests limit, HTTP/1.0
// persistence rules, "Connection: close" from the client, and
// keepalive_timeout 0.
func TestClientKeepAlive(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        keepalive_requests 3;
        location / { proxy_pass http://%s; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        location / { proxy_pass http://%s; }
    }
    server {
        listen 127.0.0.1:{{PORT2}};
        keepalive_timeout 0;
        location / { return 200 "nka"; }
    }`, up.addr, up.addr))
		port1 := fmt.Sprintf("127.0.0.1:%d", p.ports[1])
		port2 := fmt.Sprintf("127.0.0.1:%d", p.ports[2])

		t.Run("keepalive_requests", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			for i := 1; i <= 3; i++ {
				resp := rc.roundTrip(fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i))
				if resp.Status != 200 || string(resp.Body) != fmt.Sprintf("up GET /r%d\n", i) {
					t.Fatalf("request %d: got\n%s", i, resp)
				}
				want := "keep-alive"
				if i == 3 {
					want = "close"
				}
				if got := resp.header("Connection"); got != want {
					t.Errorf("request %d: Connection %q, want %q", i, got, want)
				}
			}
			rc.expectClosed(3 * time.Second)
		})

		t.Run("many requests", func(t *testing.T) {
			rc := dialRaw(t, port1)
			for i := 1; i <= 10; i++ {
				resp := rc.roundTrip(fmt.Sprintf("GET /k%d HTTP/1.1\r\nHost: h\r\n\r\n", i))
				if resp.Status != 200 || resp.header("Connection") != "keep-alive" {
					t.Fatalf("request %d: got\n%s", i, resp)
				}
			}
			rc.expectOpen(100 * time.Millisecond)
		})

		t.Run("client Connection close", func(t *testing.T) {
			resp, closed := sendRawClose(t, port1, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if resp.Status != 200 || resp.header("Connection") != "close" || !closed {
				t.Errorf("got closed=%v\n%s", closed, resp)
			}
		})

		t.Run("HTTP/1.0", func(t *testing.T) {
			// The status line stays HTTP/1.1 for an HTTP/1.0 client.
			resp, closed := sendRawClose(t, port1, "GET /old HTTP/1.0\r\nHost: h\r\n\r\n")
			if resp.StatusLine != "HTTP/1.1 200 OK" || resp.header("Connection") != "close" || !closed {
				t.Errorf("got closed=%v\n%s", closed, resp)
			}
			if string(resp.Body) != "up GET /old\n" {
				t.Errorf("body %q", resp.Body)
			}
		})

		t.Run("HTTP/1.0 keep-alive", func(t *testing.T) {
			rc := dialRaw(t, port1)
			for i := 1; i <= 2; i++ {
				resp := rc.roundTrip("GET /old HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
				if resp.Status != 200 || resp.header("Connection") != "keep-alive" {
					t.Fatalf("request %d: got\n%s", i, resp)
				}
			}
			// Without the keep-alive token the connection ends.
			resp := rc.roundTrip("GET /old HTTP/1.0\r\nHost: h\r\n\r\n")
			if resp.header("Connection") != "close" {
				t.Errorf("last request: Connection %q, want close", resp.header("Connection"))
			}
			rc.expectClosed(3 * time.Second)
		})

		t.Run("keepalive_timeout 0", func(t *testing.T) {
			resp, closed := sendRawClose(t, port2, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.Status != 200 || resp.header("Connection") != "close" || !closed {
				t.Errorf("got closed=%v\n%s", closed, resp)
			}
		})
	})
}

// TestClientKeepAliveTimeout checks that an idle client connection is
// closed after keepalive_timeout.
func TestClientKeepAliveTimeout(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        keepalive_timeout 1s;
        location / { return 200 "ok"; }
    }`)
		rc := dialRaw(t, p.addr)
		// The timer starts after the response is sent, so the time
		// from the request to the close is at least keepalive_timeout,
		// however late this goroutine runs.
		sent := time.Now()
		resp := rc.roundTrip("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.header("Connection") != "keep-alive" {
			t.Fatalf("got\n%s", resp)
		}
		if err := rc.waitClosed(5 * time.Second); err != nil {
			t.Fatalf("idle connection not closed within 5s of the response: %v", err)
		}
		if d := time.Since(sent); d < 950*time.Millisecond {
			t.Errorf("closed %v after the request, before keepalive_timeout 1s", d)
		}
	})
}

// TestUpstreamKeepAlive checks the upstream connection cache: with
// "keepalive" in the upstream block, HTTP/1.1 and an empty Connection
// header, sequential requests reuse upstream connections; without it, every
// request gets its own connection.
func TestUpstreamKeepAlive(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		cached := newUpstream(t, "cached", nil)
		plain := newUpstream(t, "plain", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream cached {
        server %s;
        keepalive 8;
    }
    upstream plain {
        server %s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /cached/ {
            proxy_pass http://cached;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /plain/ {
            proxy_pass http://plain;
            proxy_http_version 1.1;
        }
    }`, cached.addr, plain.addr))

		const n = 12
		for _, prefix := range []string{"/cached/", "/plain/"} {
			for i := 0; i < n; i++ {
				// A fresh client connection every time: the reuse
				// must come from the upstream cache.
				resp := sendRaw(t, p.addr, fmt.Sprintf("GET %s%d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", prefix, i))
				if resp.Status != 200 {
					t.Fatalf("%s%d: got\n%s", prefix, i, resp)
				}
			}
		}

		reqs := cached.requests()
		if len(reqs) != n {
			t.Fatalf("cached upstream got %d requests, want %d", len(reqs), n)
		}
		// Sequential requests through one worker need one connection.
		if c := cached.connCount(); c != 1 {
			t.Errorf("cached upstream: %d connections for %d sequential requests, want reuse", c, n)
		}
		maxSeq := 0
		for _, r := range reqs {
			if !strings.HasPrefix(r.Line, "GET /cached/") || !strings.HasSuffix(r.Line, " HTTP/1.1") {
				t.Errorf("cached upstream request line %q", r.Line)
			}
			if r.Headers.has("Connection") {
				t.Errorf("cached upstream got Connection %q, want none", r.Headers.get("Connection"))
			}
			if r.Seq > maxSeq {
				maxSeq = r.Seq
			}
		}
		if maxSeq < n/2 {
			t.Errorf("at most %d requests on one upstream connection, want reuse", maxSeq)
		}

		if c := plain.connCount(); c != n {
			t.Errorf("plain upstream: %d connections for %d requests, want one each", c, n)
		}
		for _, r := range plain.requests() {
			if !strings.HasSuffix(r.Line, " HTTP/1.1") || r.Headers.get("Connection") != "close" || r.Seq != 1 {
				t.Errorf("plain upstream request: %s (seq %d)", r, r.Seq)
			}
		}
	})
}

// startKeepaliveProxy starts a proxy to one upstream server through a
// keep-alive cache of n connections.
func startKeepaliveProxy(t *testing.T, tg *target, addr string, n int) *proxy {
	return startProxy(t, tg, fmt.Sprintf(`
    upstream u {
        server %s;
        keepalive %d;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }`, addr, n))
}

// TestUpstreamKeepAliveLimit checks that the upstream connection cache
// keeps at most "keepalive" idle connections: after a burst of concurrent
// requests, which needs more connections than that, the surplus is
// closed and exactly "keepalive" stay open.
func TestUpstreamKeepAliveLimit(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startKeepaliveProxy(t, tg, up.addr, 2)
		const clients, each = 16, 10
		var wg sync.WaitGroup
		errs := make(chan string, clients)
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Not dialRaw: a helper that fails the test must
				// run on the test's goroutine.
				nc, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
				if err != nil {
					errs <- err.Error()
					return
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(15 * time.Second))
				br := bufio.NewReader(nc)
				for i := 0; i < each; i++ {
					fmt.Fprintf(nc, "GET /c%d/%d HTTP/1.1\r\nHost: h\r\n\r\n", c, i)
					resp, err := readResponse(br, "GET")
					if err != nil || resp.Status != 200 {
						errs <- fmt.Sprintf("client %d request %d: %v %v", c, i, resp, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
		if n := up.connCount(); n <= 2 {
			t.Fatalf("%d upstream connections for %d concurrent clients: the burst did not need more than the cache", n, clients)
		}
		deadline := time.Now().Add(3 * time.Second)
		for up.openCount() > 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		if n := up.openCount(); n != 2 {
			t.Errorf("%d upstream connections open after the burst, want keepalive's 2", n)
		}
	})
}

// TestUpstreamKeepAliveClosed checks that a cached upstream connection the
// upstream has closed is not used for the next request: the request is
// sent on a new connection and succeeds.
func TestUpstreamKeepAliveClosed(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.respond(200, "ok "+r.Target)
			if r.Target == "/close-after" {
				// Close without saying so, after the response.
				time.AfterFunc(50*time.Millisecond, func() { c.Close() })
			}
		})
		p := startKeepaliveProxy(t, tg, up.addr, 4)
		rc := dialRaw(t, p.addr)
		if resp := rc.roundTrip("GET /close-after HTTP/1.1\r\nHost: h\r\n\r\n"); resp.Status != 200 {
			t.Fatalf("first: %s", resp)
		}
		time.Sleep(300 * time.Millisecond)
		resp := rc.roundTrip("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.Status != 200 || string(resp.Body) != "ok /next" {
			t.Fatalf("after the upstream closed its idle connection: got\n%s", resp)
		}
		if c := up.connCount(); c != 2 {
			t.Errorf("upstream connections %d, want 2", c)
		}
	})
}
