package integration

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestExpectContinueByResponse checks which answers nginx precedes with
// "100 Continue" for a request with "Expect: 100-continue": every answer
// with content of its own ("return" with a text or a URL, "return 200"
// and "return 204" without, a proxied request) gets one, whether or not
// the request has a body; nginx's special responses (an error page for
// "return 404", a denied request, a URI no location matches, a too large
// body, the redirect to a location's slash) get none.
func TestExpectContinueByResponse(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location = /r404 { return 404; }
        location = /r404text { return 404 "nf\n"; }
        location = /r200 { return 200; }
        location = /r200text { return 200 "ok\n"; }
        location = /r301 { return 301 /x; }
        location = /r204 { return 204; }
        location = /deny { deny all; proxy_pass http://%[1]s; }
        location = /small { client_max_body_size 1; proxy_pass http://%[1]s; }
        location /dir/ { proxy_pass http://%[1]s; }
        location /p/ { proxy_pass http://%[1]s; }
    }`, up.addr))
		cases := []struct {
			path         string
			body         string
			wantContinue bool
			status       int
		}{
			{"/r404", "Content-Length: 5", false, 404},
			{"/r404text", "Content-Length: 5", true, 404},
			{"/r200", "Content-Length: 5", true, 200},
			{"/r200text", "Content-Length: 0", true, 200},
			{"/r200text", "", true, 200},
			{"/r301", "Content-Length: 5", true, 301},
			{"/r204", "Content-Length: 5", true, 204},
			{"/deny", "Content-Length: 5", false, 403},
			{"/nowhere", "Content-Length: 5", false, 404},
			{"/small", "Content-Length: 5", false, 413},
			{"/dir", "Content-Length: 5", false, 301},
			{"/p/x", "Content-Length: 0", true, 200},
		}
		for _, c := range cases {
			t.Run(strings.TrimPrefix(c.path, "/")+" "+c.body, func(t *testing.T) {
				rc := dialRaw(t, p.addr)
				defer rc.c.Close()
				req := "POST " + c.path + " HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				if c.body != "" {
					req += c.body + "\r\n"
				}
				rc.write(req + "\r\n")
				first := rc.read("POST")
				got := first.Status == 100
				final := first
				if got {
					final = rc.read("POST")
				}
				if got != c.wantContinue {
					t.Errorf("100 Continue sent: %v, want %v", got, c.wantContinue)
				}
				if final.Status != c.status {
					t.Errorf("final status %d, want %d", final.Status, c.status)
				}
			})
		}
	})
}

// TestUpstreamRequestFieldOrder checks the order of the fields of the
// request sent upstream, which nginx fixes: the configured
// proxy_set_header fields, then the defaults not configured (Host,
// Connection), then the body's framing (Content-Length, or
// Transfer-Encoding for a chunked body passed on to an HTTP/1.1
// upstream), then the client's own fields in their order.
func TestUpstreamRequestFieldOrder(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /plain/ { proxy_pass http://%[1]s; }
        location /set/ { proxy_pass http://%[1]s; proxy_set_header X-A 1; }
        location /host/ { proxy_pass http://%[1]s; proxy_set_header Host foo; proxy_set_header X-A 1; }
        location /keep/ {
            proxy_pass http://%[1]s;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
        }
    }`, up.addr))
		cases := []struct {
			path, framing string
			// later sends the body after a pause, so that it is not
			// there when the request goes upstream.
			later bool
			want  string
		}{
			{"/plain/", "Content-Length: 5", false, "Host Connection Content-Length X-B X-C"},
			{"/set/", "Content-Length: 5", false, "X-A Host Connection Content-Length X-B X-C"},
			{"/host/", "Content-Length: 5", false, "Host X-A Connection Content-Length X-B X-C"},
			{"/keep/", "Content-Length: 5", true, "Host Content-Length X-B X-C"},
			// A chunked body streamed to the upstream keeps chunked
			// framing; one that came whole with the head is sent with
			// its length, as nginx does.
			{"/keep/", "Transfer-Encoding: chunked", true, "Host Transfer-Encoding X-B X-C"},
			{"/keep/", "Transfer-Encoding: chunked", false, "Host Content-Length X-B X-C"},
			{"/plain/", "Transfer-Encoding: chunked", true, "Host Connection Content-Length X-B X-C"},
			{"/plain/", "", false, "Host Connection X-B X-C"},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s %s later=%v", strings.Trim(c.path, "/"), c.framing, c.later), func(t *testing.T) {
				head := "POST " + c.path + "x HTTP/1.1\r\nHost: h\r\nX-B: 2\r\n"
				if c.framing != "" {
					head += c.framing + "\r\n"
				}
				head += "X-C: 3\r\nConnection: close\r\n\r\n"
				body := ""
				switch {
				case strings.HasPrefix(c.framing, "Content-Length"):
					body = "hello"
				case c.framing != "":
					body = "5\r\nhello\r\n0\r\n\r\n"
				}
				before := len(up.requests())
				rc := dialRaw(t, p.addr)
				defer rc.c.Close()
				if c.later {
					rc.write(head)
					time.Sleep(50 * time.Millisecond)
					rc.write(body)
				} else {
					rc.write(head + body)
				}
				resp := rc.read("POST")
				if resp.Status != 200 {
					t.Fatalf("status %d", resp.Status)
				}
				deadline := time.Now().Add(2 * time.Second)
				for len(up.requests()) == before && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				var names []string
				for _, f := range up.lastRequest().Headers {
					names = append(names, f.Name)
				}
				if got := strings.Join(names, " "); got != c.want {
					t.Errorf("upstream fields: %s\nwant:            %s", got, c.want)
				}
			})
		}
	})
}

// TestResponseFieldOrder checks the order of the fields of the response
// sent to the client, which nginx's header filter fixes: status line,
// Server, Date, Content-Type, Content-Length, a redirect to a path made
// absolute, Transfer-Encoding, Connection and Keep-Alive; then the other
// fields in the order the upstream sent them, then headroom's or nginx's
// own (add_header). A Location that is already absolute stays among the
// other fields.
func TestResponseFieldOrder(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		up.handler = func(c *upConn, r *upRequest) {
			c.hijack()
			var raw string
			switch {
			case strings.HasSuffix(r.Target, "/plain"):
				raw = "HTTP/1.1 200 OK\r\nX-First: 1\r\nLast-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\nSet-Cookie: a=b\r\n" +
					"Content-Length: 5\r\nX-Mid: 2\r\nContent-Type: text/x-test\r\nLocation: /relative\r\nETag: \"abc\"\r\nX-Last: 3\r\n" +
					"Server: upstream\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\nhello"
			case strings.HasSuffix(r.Target, "/redirect"):
				raw = "HTTP/1.1 302 Found\r\nX-A: 1\r\nLocation: http://" + up.addr + "/there\r\nContent-Length: 0\r\nX-B: 2\r\n\r\n"
			case strings.HasSuffix(r.Target, "/stream"):
				raw = "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Type: text/x\r\nX-B: 2\r\nConnection: close\r\n\r\nstreamed"
			case strings.HasSuffix(r.Target, "/ws"):
				raw = "HTTP/1.1 101 Switching Protocols\r\nX-A: 1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
					"Sec-WebSocket-Accept: abc\r\nContent-Type: x/y\r\n\r\n"
			}
			io.WriteString(c, raw)
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /p/ {
            proxy_pass http://%[1]s;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $http_connection;
            add_header X-Added yes;
        }
        location = /abs { return 301 http://example.com/x; }
        location = /rel { return 302 /there; }
        location = /text { add_header X-A 1; return 200 "t"; }
        location = /page { add_header X-A 1; return 404; }
        location = /always { add_header X-A 1 always; return 404; }
    }`, up.addr))
		cases := []struct {
			path, extra, want string
		}{
			{"/p/plain", "", "Server Date Content-Type Content-Length Connection X-First Last-Modified Set-Cookie X-Mid Location ETag X-Last X-Added"},
			{"/p/redirect", "", "Server Date Content-Length Location Connection X-A X-B X-Added"},
			{"/p/stream", "", "Server Date Content-Type Transfer-Encoding Connection X-A X-B X-Added"},
			{"/p/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n", "Server Date Content-Type Connection X-A Upgrade Sec-WebSocket-Accept"},
			{"/abs", "", "Server Date Content-Type Content-Length Connection Location"},
			{"/rel", "", "Server Date Content-Type Content-Length Location Connection"},
			{"/text", "", "Server Date Content-Type Content-Length Connection X-A"},
			{"/page", "", "Server Date Content-Type Content-Length Connection"},
			{"/always", "", "Server Date Content-Type Content-Length Connection X-A"},
		}
		for _, c := range cases {
			t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
				rc := dialRaw(t, p.addr)
				defer rc.c.Close()
				rc.write("GET " + c.path + " HTTP/1.1\r\nHost: h\r\n" + c.extra + "\r\n")
				resp := rc.read("GET")
				var names []string
				for _, f := range resp.Headers {
					names = append(names, f.Name)
				}
				if got := strings.Join(names, " "); got != c.want {
					t.Errorf("response fields: %s\nwant:            %s", got, c.want)
				}
			})
		}
	})
}
