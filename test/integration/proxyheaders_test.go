package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProxyHideAndPassHeader checks proxy_hide_header and
// proxy_pass_header: on top of nginx's hidden fields (Date and Server,
// replaced by the proxy's own, X-Pad and five X-Accel fields; other
// X-Accel fields pass), proxy_hide_header hides more and
// proxy_pass_header passes hidden ones, a passed Server or Date replacing
// the proxy's own, or leaving none when the upstream sends none. Each
// list is inherited on its own, only by a level without one; names
// compare case-insensitively.
func TestProxyHideAndPassHeader(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			if strings.Contains(r.Target, "bare") {
				c.respond(200, "bare\n")
				return
			}
			c.respond(200, "full\n",
				"Server: upstream-server",
				"Date: Mon, 01 Jan 2001 00:00:00 GMT",
				"X-Pad: pad",
				"X-Accel-Buffering: yes",
				"X-Accel-Other: other",
				"X-Custom: custom",
				"X-Other: other",
				"Content-Type: text/plain")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    proxy_hide_header x-custom;
    server {
        listen 127.0.0.1:{{PORT}};
        location /default/ { proxy_pass http://%[1]s; }
        location /pass/ {
            proxy_pass http://%[1]s;
            proxy_pass_header server;
            proxy_pass_header Date;
            proxy_pass_header X-Accel-Buffering;
        }
        location /own/ {
            proxy_pass http://%[1]s;
            proxy_hide_header X-Other;
            proxy_hide_header Content-Type;
        }
    }`, up.addr))
		get := func(t *testing.T, path string) *response {
			t.Helper()
			resp := sendRaw(t, p.addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if resp.Status != 200 {
				t.Fatalf("status %d\n%s", resp.Status, resp)
			}
			return resp
		}
		want := func(t *testing.T, resp *response, name string, values ...string) {
			t.Helper()
			if got := resp.Headers.values(name); strings.Join(got, "|") != strings.Join(values, "|") {
				t.Errorf("%s %q, want %q\n%s", name, got, values, resp)
			}
		}
		ownServerDate := func(t *testing.T, resp *response) {
			t.Helper()
			if got := resp.Headers.values("Server"); len(got) != 1 || got[0] == "upstream-server" {
				t.Errorf("Server %q, want the proxy's own", got)
			}
			if got := resp.Headers.values("Date"); len(got) != 1 || strings.Contains(got[0], "2001") {
				t.Errorf("Date %q, want the proxy's own", got)
			}
		}

		t.Run("defaults and an inherited hide", func(t *testing.T) {
			resp := get(t, "/default/")
			ownServerDate(t, resp)
			want(t, resp, "X-Pad")
			want(t, resp, "X-Accel-Buffering")
			want(t, resp, "X-Custom")
			want(t, resp, "X-Accel-Other", "other")
			want(t, resp, "X-Other", "other")
			want(t, resp, "Content-Type", "text/plain")
		})
		t.Run("passed fields", func(t *testing.T) {
			resp := get(t, "/pass/")
			want(t, resp, "Server", "upstream-server")
			want(t, resp, "Date", "Mon, 01 Jan 2001 00:00:00 GMT")
			want(t, resp, "X-Accel-Buffering", "yes")
			want(t, resp, "X-Pad")
			// The location passes fields but hides none of its own: the
			// http level's hidden field stays hidden.
			want(t, resp, "X-Custom")
		})
		t.Run("passed Server and Date the upstream does not send", func(t *testing.T) {
			resp := get(t, "/pass/bare")
			want(t, resp, "Server")
			want(t, resp, "Date")
			if string(resp.Body) != "bare\n" {
				t.Errorf("body %q", resp.Body)
			}
		})
		t.Run("own hidden fields replace the inherited ones", func(t *testing.T) {
			resp := get(t, "/own/")
			ownServerDate(t, resp)
			want(t, resp, "X-Other")
			want(t, resp, "Content-Type")
			want(t, resp, "X-Custom", "custom")
			want(t, resp, "X-Pad")
		})
	})
}

// TestProxyMethod checks proxy_method: the upstream gets the configured
// method, variables evaluated, while the request stays the client's. An
// answer to HEAD sent for another method has no body (its Content-Length
// is passed on as nginx passes it), and the body of an answer to another
// method sent for the client's HEAD is not passed, nor is its upstream
// connection used again.
func TestProxyMethod(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		var up *upstream
		up = newUpstream(t, "up", func(c *upConn, r *upRequest) {
			switch {
			case strings.HasPrefix(r.Target, "/head/nolength"):
				// An answer to HEAD without a Content-Length.
				c.writeString("HTTP/1.1 200 OK\r\nX-Up: yes\r\n\r\n")
			case strings.HasPrefix(r.Target, "/get/"):
				// The body comes after the head, so that a proxy that
				// does not read it cannot have it by chance.
				body := "up " + r.Method + " " + r.Target + "\n"
				c.writeString(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body)))
				c.sleep(100 * time.Millisecond)
				if r.Method != "HEAD" {
					c.writeString(body)
				}
			default:
				up.defaultHandler(c, r)
			}
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream kept {
        server %[1]s;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /var/ { proxy_pass http://%[1]s; proxy_method $arg_m; }
        location /head/ { proxy_pass http://%[1]s; proxy_method HEAD; }
        location /get/ {
            proxy_pass http://kept;
            proxy_method GET;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }`, up.addr))

		t.Run("from a variable", func(t *testing.T) {
			resp := sendRaw(t, p.addr, "GET /var/x?m=PUT HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if resp.Status != 200 {
				t.Fatalf("status %d", resp.Status)
			}
			if ur := up.lastRequest(); ur.Method != "PUT" || ur.Target != "/var/x?m=PUT" {
				t.Errorf("upstream got %q", ur.Line)
			}
			if want := "up PUT /var/x?m=PUT\n"; string(resp.Body) != want {
				t.Errorf("body %q, want %q", resp.Body, want)
			}
		})
		t.Run("HEAD for a POST", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			rc.write("POST /head/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
			// The answer keeps the upstream's Content-Length but has no
			// body: read its head only.
			resp := rc.read("HEAD")
			if resp.Status != 200 || resp.header("Content-Length") != "16" {
				t.Errorf("got %d, Content-Length %q\n%s", resp.Status, resp.header("Content-Length"), resp)
			}
			rc.expectClosed(3 * time.Second)
			if ur := up.lastRequest(); ur.Method != "HEAD" || string(ur.Body) != "hi" {
				t.Errorf("upstream got %q with body %q", ur.Line, ur.Body)
			}
		})
		t.Run("HEAD without a length for a GET", func(t *testing.T) {
			// nginx answers with an empty chunked body.
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip("GET /head/nolength HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.Status != 200 || !resp.Chunked || len(resp.Body) != 0 || resp.header("X-Up") != "yes" {
				t.Errorf("got %d chunked=%v body %q\n%s", resp.Status, resp.Chunked, resp.Body, resp)
			}
			if resp = rc.roundTrip("GET /var/y?m=GET HTTP/1.1\r\nHost: h\r\n\r\n"); resp.Status != 200 {
				t.Errorf("next request: status %d", resp.Status)
			}
		})
		t.Run("GET for a HEAD", func(t *testing.T) {
			conns := up.connCount()
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip("HEAD /get/a HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.Status != 200 || resp.header("Content-Length") != "14" {
				t.Errorf("got %d, Content-Length %q", resp.Status, resp.header("Content-Length"))
			}
			if ur := up.lastRequest(); ur.Method != "GET" {
				t.Errorf("upstream got %q", ur.Line)
			}
			// The client's connection carries the next request, and the
			// upstream's unread body is not taken for its answer.
			resp = rc.roundTrip("GET /get/b HTTP/1.1\r\nHost: h\r\n\r\n")
			if want := "up GET /get/b\n"; resp.Status != 200 || string(resp.Body) != want {
				t.Errorf("second request: %d %q, want %q", resp.Status, resp.Body, want)
			}
			if n := up.connCount() - conns; n != 2 {
				t.Errorf("%d upstream connections, want 2: the first, with a body left unread, is not kept", n)
			}
		})
	})
}

// TestProxyPassRequestHeaders checks proxy_pass_request_headers off: the
// upstream gets the proxy_set_header fields (whose variables still see
// the client's fields) and the body's framing, none of the client's own.
func TestProxyPassRequestHeaders(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        proxy_pass_request_headers off;
        location / { proxy_pass http://%[1]s; proxy_set_header X-From $http_x_b; }
        location /on/ { proxy_pass http://%[1]s; proxy_pass_request_headers on; }
    }`, up.addr))
		for _, c := range []struct{ path, want string }{
			{"/off", "X-From Host Connection Content-Length"},
			{"/on/", "Host Connection Content-Length X-B User-Agent Cookie"},
		} {
			resp := sendRaw(t, p.addr, "POST "+c.path+" HTTP/1.1\r\nHost: h\r\nX-B: bee\r\nUser-Agent: ua\r\nCookie: a=1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
			if resp.Status != 200 {
				t.Fatalf("%s: status %d", c.path, resp.Status)
			}
			ur := up.lastRequest()
			var names []string
			for _, f := range ur.Headers {
				names = append(names, f.Name)
			}
			if got := strings.Join(names, " "); got != c.want {
				t.Errorf("%s: upstream fields %s, want %s", c.path, got, c.want)
			}
			if c.path == "/off" && ur.Headers.get("X-From") != "bee" {
				t.Errorf("X-From %q, want bee", ur.Headers.get("X-From"))
			}
			if string(ur.Body) != "hello" {
				t.Errorf("%s: body %q", c.path, ur.Body)
			}
		}
	})
}

// headUpstream is an upstream that records the bytes of each request as
// they come: the head, and whatever follows it within a moment, so that
// a body that is announced but not sent shows as missing instead of
// holding the server up.
type headUpstream struct {
	addr string
	mu   sync.Mutex
	reqs []headRequest
}

type headRequest struct {
	head headers
	line string
	// rest is what came after the head within 300 ms.
	rest string
}

func newHeadUpstream(t *testing.T) *headUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &headUpstream{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				h, err := readHeaderLines(br)
				if err != nil {
					return
				}
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				rest, _ := io.ReadAll(br)
				u.mu.Lock()
				u.reqs = append(u.reqs, headRequest{head: h, line: strings.TrimRight(line, "\r\n"), rest: string(rest)})
				u.mu.Unlock()
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
			}()
		}
	}()
	return u
}

func (u *headUpstream) last(t *testing.T) headRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// TestProxyRequestBody checks proxy_pass_request_body off and
// proxy_set_body. With the body off, the client's body is read and none
// is sent, but nginx still sends the client's Content-Length (its
// default "Content-Length $proxy_internal_body_length"), unless
// proxy_set_header sets the field; proxy_set_body's value is the body,
// with its length, whatever the client sent, even for a GET.
func TestProxyRequestBody(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newHeadUpstream(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        client_body_buffer_size 1k;
        client_body_temp_path {{PREFIX}}/body;
        location /off/ { proxy_pass http://%[1]s; proxy_pass_request_body off; }
        location /nolength/ {
            proxy_pass http://%[1]s;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location /streamed/ { proxy_pass http://%[1]s; proxy_pass_request_body off; proxy_request_buffering off; }
        location /set/ { proxy_pass http://%[1]s; proxy_set_body "m=$request_method&a=$arg_a"; }
        location /empty/ { proxy_pass http://%[1]s; proxy_set_body $arg_none; }
    }`, up.addr))
		big := strings.Repeat("x", 5000)
		cases := []struct {
			name, req       string
			length, body    string
			noLength, chunk bool
		}{
			{name: "body off keeps the length", req: "POST /off/a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", length: "5"},
			{name: "body off, chunked", req: "POST /off/b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", length: "7"},
			{name: "body off, through a temporary file", req: "POST /off/c HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n" + big, length: "5000"},
			{name: "body off without a body", req: "GET /off/d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", noLength: true},
			{name: "body off, Content-Length set empty", req: "POST /nolength/e HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", noLength: true},
			{name: "body off with buffering off", req: "POST /streamed/f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", length: "5"},
			{name: "set body replaces the client's", req: "POST /set/g?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", length: "10", body: "m=POST&a=1"},
			{name: "set body for a GET", req: "GET /set/h?a=2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", length: "9", body: "m=GET&a=2"},
			{name: "set body, chunked client body", req: "PUT /set/i HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", length: "8", body: "m=PUT&a="},
			{name: "empty set body", req: "POST /empty/j HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", length: "0"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp := sendRaw(t, p.addr, c.req)
				if resp.Status != 200 || string(resp.Body) != "ok\n" {
					t.Fatalf("got %d %q", resp.Status, resp.Body)
				}
				ur := up.last(t)
				if want := strings.SplitN(c.req, " HTTP/", 2)[0]; !strings.HasPrefix(ur.line, want) {
					t.Fatalf("upstream got %q, want %q", ur.line, want)
				}
				if got, has := ur.head.get("Content-Length"), ur.head.has("Content-Length"); has == c.noLength || got != c.length {
					t.Errorf("Content-Length %q (present %v), want %q\n%s", got, has, c.length, ur.head)
				}
				if ur.head.has("Transfer-Encoding") {
					t.Errorf("Transfer-Encoding %q", ur.head.get("Transfer-Encoding"))
				}
				if ur.rest != c.body {
					t.Errorf("body %q, want %q", truncate([]byte(ur.rest), 100), c.body)
				}
			})
		}
	})
}

// TestProxyIgnoreClientAbort checks proxy_ignore_client_abort: without
// it a client that closes its connection before the response ends the
// request at once (logged 499, the upstream connection closed); with it
// the request completes, its response is written to the connection (a
// client that only shut its sending side reads it whole) and it is
// logged with the upstream's status.
func TestProxyIgnoreClientAbort(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		var mu sync.Mutex
		// closedEarly records, per request target, whether the proxy
		// closed the upstream connection before the answer.
		closedEarly := map[string]bool{}
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.sleep(500 * time.Millisecond)
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, err := c.br.ReadByte()
			var ne net.Error
			early := err != nil && !(errors.As(err, &ne) && ne.Timeout())
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			mu.Lock()
			closedEarly[r.Target] = early
			mu.Unlock()
			c.respond(200, "done\n")
			c.closeNow()
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%[1]s; }
        location /ignore/ { proxy_pass http://%[1]s; proxy_ignore_client_abort on; }
    }`, up.addr))
		seen := func(path string) (early, ok bool) {
			mu.Lock()
			defer mu.Unlock()
			early, ok = closedEarly[path]
			return early, ok
		}

		// A client that sends its request and shuts its sending side at
		// once.
		halfClose := func(path string) *response {
			rc := dialRaw(t, p.addr)
			rc.write("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			rc.closeWrite()
			r, err := readResponse(rc.br, "GET")
			if err != nil {
				return nil
			}
			return r
		}
		if resp := halfClose("/ignore/half"); resp == nil || resp.Status != 200 || string(resp.Body) != "done\n" {
			t.Errorf("ignored abort, half-closed client: got %v, want the whole response", resp)
		}
		if resp := halfClose("/half"); resp != nil {
			t.Errorf("abort, half-closed client: got a response\n%s", resp)
		}
		// A pipelined request is taken after the client shut its side:
		// it goes upstream all the same.
		rc := dialRaw(t, p.addr)
		rc.write("GET /ignore/first HTTP/1.1\r\nHost: h\r\n\r\nGET /ignore/second HTTP/1.1\r\nHost: h\r\n\r\n")
		rc.closeWrite()
		for i := 0; i < 2; i++ {
			if resp, err := readResponse(rc.br, "GET"); err != nil || resp.Status != 200 {
				t.Errorf("ignored abort, pipelined request %d: %v %v", i+1, resp, err)
			}
		}

		// A client that closes its connection while the upstream works on
		// its request.
		for _, path := range []string{"/ignore/late", "/late"} {
			rc := dialRaw(t, p.addr)
			rc.write("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if ur := up.requests(); len(ur) > 0 && ur[len(ur)-1].Target == path {
					break
				}
			}
			rc.c.Close()
		}
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			_, ok1 := seen("/ignore/late")
			_, ok2 := seen("/late")
			if ok1 && ok2 {
				break
			}
		}
		for path, want := range map[string]bool{"/ignore/half": false, "/ignore/late": false, "/late": true} {
			if got, ok := seen(path); !ok || got != want {
				t.Errorf("%s: upstream connection closed before the answer: %v (request seen %v), want %v", path, got, ok, want)
			}
		}
		time.Sleep(100 * time.Millisecond)
		p.stop()
		log := p.readLog("access.log")
		for path, status := range map[string]string{"/ignore/half": "200", "/half": "499", "/ignore/late": "200", "/late": "499"} {
			if !strings.Contains(log, "\"GET "+path+" HTTP/1.1\" "+status+" ") {
				t.Errorf("%s: no access log line with %s in\n%s", path, status, log)
			}
		}
	})
}

// TestProxyCookieRewrite checks proxy_cookie_domain and
// proxy_cookie_path: a domain equal to the pattern (case-insensitively,
// a leading dot kept) and a path starting with one are rewritten, the
// attributes then written again "key=value; key=value"; a regex rule
// replaces the whole value, with its captures ($1) and variables; the
// first matching rule applies; a nested location's "off" stops the
// inherited rules; fields nothing matches pass as they came.
func TestProxyCookieRewrite(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.respond(200, "cookies\n",
				"Set-Cookie: a=1; Domain=.Example.com; Path=/one/two",
				"Set-Cookie: b=2;path=/one ;  domain = example.com;secure",
				"Set-Cookie: c",
				"Set-Cookie: d=4 ;  Domain=other.com;Path=/",
				"Set-Cookie: e=5; Domain=backend.test; Path=/one/")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /plain/ {
            proxy_pass http://%[1]s;
            proxy_cookie_domain example.com new.org;
            proxy_cookie_domain backend.test $host;
            proxy_cookie_path /one/ /x/;
            proxy_cookie_path / /never/;
            location /plain/off/ { proxy_pass http://%[1]s; proxy_cookie_domain off; }
        }
        location /regex/ {
            proxy_pass http://%[1]s;
            proxy_cookie_domain ~^\.?(ex)ample\.com$ $1.net;
            proxy_cookie_path ~*^/ONE(.*)$ /z$1;
        }
    }`, up.addr))
		cases := []struct {
			path string
			want []string
		}{
			{"/plain/", []string{
				"a=1; Domain=.new.org; Path=/x/two",
				"b=2; path=/never/one; domain=new.org; secure",
				"c",
				"d=4; Domain=other.com; Path=/never/",
				"e=5; Domain=front.test; Path=/x/"}},
			{"/plain/off/", []string{
				"a=1; Domain=.Example.com; Path=/x/two",
				"b=2; path=/never/one; domain=example.com; secure",
				"c",
				"d=4; Domain=other.com; Path=/never/",
				"e=5; Domain=backend.test; Path=/x/"}},
			{"/regex/", []string{
				"a=1; Domain=Ex.net; Path=/z/two",
				"b=2; path=/z; domain=ex.net; secure",
				"c",
				"d=4 ;  Domain=other.com;Path=/",
				"e=5; Domain=backend.test; Path=/z/"}},
		}
		for _, c := range cases {
			resp := sendRaw(t, p.addr, "GET "+c.path+" HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n")
			if resp.Status != 200 {
				t.Fatalf("%s: status %d", c.path, resp.Status)
			}
			got := resp.Headers.values("Set-Cookie")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("%s: Set-Cookie\n%s\nwant\n%s", c.path, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		}
	})
}

// TestProxyCookieFlags checks proxy_cookie_flags as nginx-tests'
// proxy_cookie_flags.t does, and the edits nginx makes in place: a flag
// already there is kept as written, a SameSite with another value is
// rewritten whole, each "no" flag removes every such attribute, the first
// rule whose cookie matches applies, and a rule whose flags are all empty
// or unknown leaves the field as it came.
func TestProxyCookieFlags(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			var fields []string
			for _, v := range r.Headers.values("X-C") {
				fields = append(fields, "Set-Cookie: "+v)
			}
			c.respond(200, "cookies\n", fields...)
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://%[1]s;
            proxy_cookie_flags a secure httponly samesite=none;
            proxy_cookie_flags b secure httponly samesite=lax;
            proxy_cookie_flags d nosecure nohttponly nosamesite;
            proxy_cookie_flags $arg_complex secure;
            proxy_cookie_flags ~BAR httponly;
            proxy_cookie_flags g samesite=strict samesite=lax nosamesite;
            proxy_cookie_flags h bogus;
            proxy_cookie_flags i nohttponly httponly;
            proxy_cookie_flags secure nosecure;
            proxy_cookie_flags A samesite=strict;
            proxy_cookie_domain x.org y.org;
            location /off/ { proxy_pass http://%[1]s; proxy_cookie_flags off; }
        }
        location /var/ {
            proxy_pass http://%[1]s;
            proxy_cookie_flags $arg_v $arg_f1 $arg_f2 $arg_f3;
        }
    }`, up.addr))
		cases := []struct {
			path    string
			cookies []string
			want    []string
		}{
			{"/", []string{
				"a=1",
				"A=1;SameSite=lax;secure",
				"b=1;Secure;HttpOnly;SameSite=LAX",
				"d=1;secure;httponly;samesite=lax;Path=/",
				"nx=1;samesite=none",
				"foobarbaz=1",
				"g=1; samesite=none",
				"g=1;samesite;samesite;samesite",
				"h=1;Secure",
				"i=1;httponly;httponly",
				"secure=1;Secure;path=/",
				"zz=1; Domain=x.org;secure",
				"a=1;",
				"a=1; Domain=.x.org",
				"c",
			}, []string{
				"a=1; Secure; HttpOnly; SameSite=None",
				"A=1; SameSite=None; secure; HttpOnly",
				"b=1; Secure; HttpOnly; SameSite=LAX",
				"d=1; Path=/",
				"nx=1;samesite=none",
				"foobarbaz=1; HttpOnly",
				"g=1; SameSite=Strict; SameSite=Lax",
				"g=1; SameSite=Strict; SameSite=Lax",
				"h=1;Secure",
				"i=1; httponly",
				"secure=1; path=/",
				"zz=1; Domain=y.org; secure",
				"a=1; ; Secure; HttpOnly; SameSite=None",
				"a=1; Domain=.y.org; Secure; HttpOnly; SameSite=None",
				"c",
			}},
			{"/?complex=V", []string{"v=1", "v=2;SECURE"}, []string{"v=1; Secure", "v=2; SECURE"}},
			{"/off/", []string{"a=1;secure", "a=1;Domain=x.org"}, []string{"a=1;secure", "a=1; Domain=y.org"}},
			{"/var/?v=v&f1=secure&f2=httponly&f3=samesite=none", []string{"v=1;SameSite=Lax", "w=1"},
				[]string{"v=1; SameSite=None; Secure; HttpOnly", "w=1"}},
			{"/var/?v=V&f1=NOsecure&f2=&f3=bogus", []string{"v=1;secure;httponly"}, []string{"v=1; httponly"}},
			{"/var/?v=v&f1=&f2=&f3=", []string{"v=1;secure"}, []string{"v=1;secure"}},
		}
		for _, c := range cases {
			req := "GET " + c.path + " HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n"
			for _, v := range c.cookies {
				req += "X-C: " + v + "\r\n"
			}
			resp := sendRaw(t, p.addr, req+"\r\n")
			if resp.Status != 200 {
				t.Fatalf("%s: status %d", c.path, resp.Status)
			}
			got := resp.Headers.values("Set-Cookie")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("%s: Set-Cookie\n%s\nwant\n%s", c.path, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		}
	})
}
