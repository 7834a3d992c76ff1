package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestProxyMethods proxies GET, POST, PUT, DELETE and HEAD with the default
// settings and checks the response and what the upstream received: nginx
// speaks HTTP/1.0 to the upstream, sets Host to $proxy_host and sends
// "Connection: close".
func TestProxyMethods(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
    }`, up.addr))

		for _, tc := range []struct {
			method, body string
		}{
			{"GET", ""},
			{"POST", "post-body=1"},
			{"PUT", "put body bytes"},
			{"DELETE", ""},
			{"HEAD", ""},
		} {
			path := "/m/" + strings.ToLower(tc.method) + "?q=1&r=%20x"
			req := tc.method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: it-test\r\n"
			if tc.body != "" {
				req += fmt.Sprintf("Content-Length: %d\r\n", len(tc.body))
			}
			req += "\r\n" + tc.body
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip(req)

			wantBody := "up " + tc.method + " " + path + "\n"
			if resp.Status != 200 {
				t.Errorf("%s: status %d, want 200\n%s", tc.method, resp.Status, resp)
				continue
			}
			if tc.method == "HEAD" {
				if len(resp.Body) != 0 {
					t.Errorf("HEAD: response has a body %q", resp.Body)
				}
				// The upstream's Content-Length describes the GET body.
				if got := resp.header("Content-Length"); got != fmt.Sprint(len(wantBody)) {
					t.Errorf("HEAD: Content-Length %q, want %d", got, len(wantBody))
				}
				rc.expectOpen(200 * time.Millisecond)
			} else if string(resp.Body) != wantBody {
				t.Errorf("%s: body %q, want %q", tc.method, resp.Body, wantBody)
			}

			ur := up.lastRequest()
			if want := tc.method + " " + path + " HTTP/1.0"; ur.Line != want {
				t.Errorf("%s: upstream request line %q, want %q", tc.method, ur.Line, want)
			}
			if got, want := ur.Headers.values("Host"), []string{up.addr}; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%s: upstream Host %q, want %q", tc.method, got, want)
			}
			if got := ur.Headers.values("Connection"); strings.Join(got, "|") != "close" {
				t.Errorf("%s: upstream Connection %q, want close", tc.method, got)
			}
			if got := ur.Headers.get("User-Agent"); got != "it-test" {
				t.Errorf("%s: upstream User-Agent %q, want it-test", tc.method, got)
			}
			if string(ur.Body) != tc.body {
				t.Errorf("%s: upstream body %q, want %q", tc.method, ur.Body, tc.body)
			}
			if tc.body != "" {
				if got := ur.Headers.get("Content-Length"); got != fmt.Sprint(len(tc.body)) {
					t.Errorf("%s: upstream Content-Length %q, want %d", tc.method, got, len(tc.body))
				}
			} else if ur.Headers.has("Content-Length") || ur.Headers.has("Transfer-Encoding") {
				t.Errorf("%s: upstream got body framing for a bodiless request:\n%s", tc.method, ur)
			}
		}
		if n := up.connCount(); n != 5 {
			t.Errorf("upstream saw %d connections for 5 requests, want one per request", n)
		}
	})
}

// TestProxyRequestHeaders checks which client headers reach the upstream.
// nginx replaces Connection, drops Keep-Alive, TE, Expect and Upgrade (its
// built-in proxy_set_header defaults set them to ""), but passes
// Proxy-Connection and headers that Connection names (headroom drops
// those), and adds no X-Forwarded-For of its own.
func TestProxyRequestHeaders(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
        location /fwd/ {
            proxy_pass http://%s;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header Host $host;
            proxy_set_header Cookie "";
        }
    }`, up.addr, up.addr))

		rc := dialRaw(t, p.addr)
		resp := rc.roundTrip("GET /plain HTTP/1.1\r\n" +
			"Host: Example.COM:8080\r\n" +
			"Connection: keep-alive, X-Hop\r\n" +
			"Keep-Alive: timeout=5\r\n" +
			"TE: trailers\r\n" +
			"Upgrade: websocket\r\n" +
			"Proxy-Connection: keep-alive\r\n" +
			"X-Hop: hop\r\n" +
			"X-Custom: a\r\n" +
			"X-Custom: b\r\n" +
			"Accept: */*\r\n" +
			"Cookie: c=1\r\n" +
			"X_Under: u\r\n" +
			"\r\n")
		if resp.Status != 200 {
			t.Fatalf("status %d\n%s", resp.Status, resp)
		}
		ur := up.lastRequest()
		// A header name with an underscore is ignored as invalid
		// (underscores_in_headers off).
		for _, name := range []string{"Keep-Alive", "TE", "Upgrade", "X-Forwarded-For", "X-Real-IP", "X_Under"} {
			if ur.Headers.has(name) {
				t.Errorf("upstream received %s: %q", name, ur.Headers.get(name))
			}
		}
		if got := ur.Headers.values("Connection"); strings.Join(got, "|") != "close" {
			t.Errorf("upstream Connection %q, want exactly close", got)
		}
		if got := ur.Headers.get("Host"); got != up.addr {
			t.Errorf("upstream Host %q, want $proxy_host %q", got, up.addr)
		}
		// nginx does not treat Proxy-Connection, nor the fields listed in
		// Connection, as hop-by-hop; headroom does (RFC 9110 7.6.1) and
		// drops them.
		passed := map[string]string{"Accept": "*/*", "Cookie": "c=1"}
		if tg.isNginx() {
			passed["Proxy-Connection"] = "keep-alive"
			passed["X-Hop"] = "hop"
		} else {
			for _, name := range []string{"Proxy-Connection", "X-Hop"} {
				if got := ur.Headers.values(name); len(got) != 0 {
					t.Errorf("upstream received hop-by-hop %s: %q", name, got)
				}
			}
		}
		for name, want := range passed {
			if got := ur.Headers.get(name); got != want {
				t.Errorf("upstream %s %q, want %q", name, got, want)
			}
		}
		if got := strings.Join(ur.Headers.values("X-Custom"), ","); got != "a,b" {
			t.Errorf("upstream X-Custom values %q, want a,b (both lines, in order)", got)
		}

		// With the usual forwarding headers.
		resp = rc.roundTrip("GET /fwd/x HTTP/1.1\r\nHost: Example.COM:8080\r\nCookie: c=1\r\n\r\n")
		if resp.Status != 200 {
			t.Fatalf("status %d\n%s", resp.Status, resp)
		}
		ur = up.lastRequest()
		check := func(name, want string) {
			t.Helper()
			if got := ur.Headers.values(name); len(got) != 1 || got[0] != want {
				t.Errorf("upstream %s %q, want exactly %q", name, got, want)
			}
		}
		// $host is the Host header without port, lower-cased.
		check("Host", "example.com")
		check("X-Forwarded-For", "127.0.0.1")
		check("X-Real-IP", "127.0.0.1")
		// An empty proxy_set_header value removes the header.
		if ur.Headers.has("Cookie") {
			t.Errorf("upstream received Cookie %q despite proxy_set_header Cookie \"\"", ur.Headers.get("Cookie"))
		}

		resp = rc.roundTrip("GET /fwd/y HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 203.0.113.7\r\nX-Real-IP: 1.2.3.4\r\n\r\n")
		if resp.Status != 200 {
			t.Fatalf("status %d\n%s", resp.Status, resp)
		}
		ur = up.lastRequest()
		check("Host", "a.example")
		check("X-Forwarded-For", "203.0.113.7, 127.0.0.1")
		check("X-Real-IP", "127.0.0.1")
	})
}

// TestProxyResponseHeaders checks which upstream response headers reach the
// client: nginx hides the upstream's Date, Server and X-Accel-* headers
// (sending its own Date and Server) and the hop-by-hop Connection,
// Keep-Alive and Transfer-Encoding, and passes the rest in order.
func TestProxyResponseHeaders(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.writeString("HTTP/1.1 201 Created\r\n" +
				"Server: upstream-server\r\n" +
				"Date: Mon, 01 Jan 2001 00:00:00 GMT\r\n" +
				"Connection: keep-alive\r\n" +
				"Keep-Alive: timeout=30\r\n" +
				"X-Accel-Buffering: no\r\n" +
				"X-Pad: avoid browser bug\r\n" +
				"Set-Cookie: a=1\r\n" +
				"Set-Cookie: b=2\r\n" +
				"X-Up: yes\r\n" +
				"Content-Type: application/x-test\r\n" +
				"Content-Length: 5\r\n" +
				"\r\nhello")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
    }`, up.addr))
		rc := dialRaw(t, p.addr)
		resp := rc.roundTrip("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if resp.Status != 201 || string(resp.Body) != "hello" {
			t.Fatalf("got %d %q, want 201 hello\n%s", resp.Status, resp.Body, resp)
		}
		if resp.StatusLine != "HTTP/1.1 201 Created" {
			t.Errorf("status line %q", resp.StatusLine)
		}
		if got := resp.header("Server"); got == "upstream-server" || got == "" {
			t.Errorf("Server %q: want the proxy's own", got)
		}
		if got := resp.Headers.values("Date"); len(got) != 1 || strings.Contains(got[0], "2001") {
			t.Errorf("Date %q: want exactly the proxy's own", got)
		}
		for _, h := range []string{"X-Accel-Buffering", "X-Pad", "Keep-Alive"} {
			if resp.Headers.has(h) {
				t.Errorf("client received %s: %q", h, resp.header(h))
			}
		}
		if got := resp.Headers.values("Connection"); strings.Join(got, "|") != "keep-alive" {
			t.Errorf("Connection %q: want only the proxy's keep-alive", got)
		}
		if got := strings.Join(resp.Headers.values("Set-Cookie"), "|"); got != "a=1|b=2" {
			t.Errorf("Set-Cookie %q, want a=1|b=2", got)
		}
		if got := resp.header("X-Up"); got != "yes" {
			t.Errorf("X-Up %q", got)
		}
		if got := resp.header("Content-Type"); got != "application/x-test" {
			t.Errorf("Content-Type %q", got)
		}
		if got := resp.Headers.values("Content-Length"); strings.Join(got, "|") != "5" {
			t.Errorf("Content-Length %q, want 5", got)
		}
		// The response is complete, so the client connection stays usable.
		resp = rc.roundTrip("GET /again HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if resp.Status != 201 {
			t.Errorf("second request: status %d", resp.Status)
		}
	})
}
