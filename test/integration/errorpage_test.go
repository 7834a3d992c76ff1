package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestErrorPages checks error_page and proxy_intercept_errors against
// nginx: a page of this server served by an internal redirect with the
// error's status (or the one =code names, or the page's own with =), as
// a GET, with the arguments the directive gives; a page elsewhere sent as
// a 302 (or =301 ...); upstream answers intercepted only when asked; one
// error page per request.
func TestErrorPages(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.respond(404, "upstream 404\n")
		})
		dead := refusedAddr(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        error_page 404 /nf.html;
        location = /nf.html { return 200 "not found page\n"; }
        location = /found { return 200 "found\n"; }
        location = /echo { return 200 "$args $request_method\n"; }
        location /eq/ { error_page 404 = /found; return 404; }
        location /code/ { error_page 404 =410 /nf.html; return 404; }
        location /ext/ { error_page 404 http://example.com/x; return 404; }
        location /ext301/ { error_page 404 =301 http://example.com/x; return 404; }
        location /args/ { error_page 404 /echo?from=404; return 404; }
        location /post/ { error_page 404 /echo; return 404; }
        location /server/ { return 404; }
        location /proxied/ { proxy_pass http://%[1]s; proxy_intercept_errors on; }
        location /passed/ { proxy_pass http://%[1]s; }
        location /upfail/ { proxy_pass http://%[2]s; error_page 502 /nf.html; }
        location /twice/ { error_page 404 /missing; return 404; }
        location = /missing { return 404; }
        location /deny/ { deny all; error_page 403 /nf.html; }
        location /head/ { error_page 404 /echo; return 404; }
    }`, up.addr, dead))
		cases := []struct {
			req      string
			status   int
			body     string // contained in the body
			location string
		}{
			{"GET /server/x", 404, "not found page", ""},
			{"GET /eq/x", 200, "found", ""},
			{"GET /code/x", 410, "not found page", ""},
			{"GET /ext/x", 302, "", "http://example.com/x"},
			{"GET /ext301/x", 301, "", "http://example.com/x"},
			{"GET /args/x?a=b", 404, "from=404 GET", ""},
			{"POST /post/x", 404, " GET", ""},
			{"GET /proxied/x", 404, "not found page", ""},
			{"GET /passed/x", 404, "upstream 404", ""},
			{"GET /upfail/x", 502, "not found page", ""},
			{"GET /twice/x", 404, "<h1>404 Not Found</h1>", ""},
			{"GET /deny/x", 403, "not found page", ""},
			{"HEAD /head/x", 404, "", ""},
		}
		for _, c := range cases {
			t.Run(c.req, func(t *testing.T) {
				req := c.req + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
				if strings.HasPrefix(c.req, "POST") {
					req += "Content-Length: 3\r\n\r\nabc"
				} else {
					req += "\r\n"
				}
				resp, _ := sendRawLinger(t, p.addr, req)
				if resp.Status != c.status {
					t.Fatalf("status %d, want %d\n%s", resp.Status, c.status, resp)
				}
				if !strings.Contains(string(resp.Body), c.body) {
					t.Errorf("body %q lacks %q", resp.Body, c.body)
				}
				if c.location != "" && resp.header("Location") != c.location {
					t.Errorf("Location %q, want %q", resp.header("Location"), c.location)
				}
				if strings.HasPrefix(c.req, "HEAD") && len(resp.Body) != 0 {
					t.Errorf("a body for HEAD: %q", resp.Body)
				}
			})
		}
	})
}

// TestErrorLogLevels checks error_log at the http, server and location
// levels against nginx: messages about a request go to the error log of
// its location (inherited whole from the level above when it sets none),
// not to the main one, each destination with its own level.
func TestErrorLogLevels(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    error_log {{PREFIX}}/logs/http.log error;
    server {
        listen 127.0.0.1:{{PORT}};
        location /own/ { error_log {{PREFIX}}/logs/own.log info; deny all; }
        location /quiet/ { error_log {{PREFIX}}/logs/quiet.log crit; deny all; }
        location / { deny all; }
    }`)
		for _, path := range []string{"/own/x", "/quiet/x", "/y"} {
			resp, _ := sendRawLinger(t, p.addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if resp.Status != 403 {
				t.Fatalf("%s: status %d", path, resp.Status)
			}
		}
		want := map[string]string{"own.log": "/own/x", "http.log": "/y"}
		for file, path := range want {
			if log := p.readLog(file); !strings.Contains(log, `access forbidden by rule, client: 127.0.0.1, server: , request: "GET `+path) {
				t.Errorf("%s lacks the denial of %s:\n%s", file, path, log)
			}
		}
		if log := p.readLog("quiet.log"); strings.Contains(log, "forbidden") {
			t.Errorf("quiet.log (crit) has an error line:\n%s", log)
		}
		if log := p.readLog("error.log"); strings.Contains(log, "forbidden") {
			t.Errorf("the main error log has a request's line:\n%s", log)
		}
	})
}

// TestErrorPageToAnotherUpstream checks that an error page proxied to
// another upstream group gets that group's servers, whatever the failed
// request had tried before.
func TestErrorPageToAnotherUpstream(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "fallback", nil)
		dead := refusedAddr(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream failing { server %[2]s; }
    upstream fallback { server %[1]s; }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://failing; error_page 502 = /fb; }
        location = /fb { proxy_pass http://fallback; }
    }`, up.addr, dead))
		resp, _ := sendRawLinger(t, p.addr, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if resp.Status != 200 || !strings.Contains(string(resp.Body), "fallback GET /fb") {
			t.Fatalf("status %d, body %q; want the fallback upstream's answer", resp.Status, resp.Body)
		}
	})
}

// TestPostAction checks post_action against nginx: once the answer is
// sent, the request goes on to the post action's URI or named location,
// whose answer (a file, a return, an upstream's) never reaches the
// client; the upstream it reaches sees the request's method; the access
// log has one line, written after the post action, with its URI, the
// bytes of the first answer, and the post action's status unless the
// first answer was an error and the post action's was not.
func TestPostAction(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		seen := make(chan string, 10)
		up := newUpstream(t, "post", func(c *upConn, r *upRequest) {
			seen <- r.Method + " " + r.Target
			c.respond(200, "HIDDEN-UPSTREAM\n")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    log_format pa "$request|$uri|$status|$body_bytes_sent";
    server {
        listen 127.0.0.1:{{PORT}};
        access_log {{PREFIX}}/logs/pa.log pa;
        location /file/ { post_action /done; alias {{PREFIX}}/html/; }
        location /done { return 204; }
        location /named/ { post_action @up; alias {{PREFIX}}/html/; }
        location @up { rewrite ^ /notify break; proxy_pass http://%s; }
        location /hidden/ { post_action /hidden.html; alias {{PREFIX}}/html/; }
    }`, up.addr))
		writeHTML(t, p, "index.html", "SEE-THIS\n")
		writeHTML(t, p, "hidden.html", "HIDDEN\n")
		rc := dialRaw(t, p.addr)
		var sizes []int
		for _, c := range []struct{ req, want string }{
			{"GET /file/ HTTP/1.1\r\nHost: x\r\n\r\n", "SEE-THIS\n"},
			{"GET /hidden/ HTTP/1.1\r\nHost: x\r\n\r\n", "SEE-THIS\n"},
			{"POST /named/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "405"},
			{"GET /named/ HTTP/1.1\r\nHost: x\r\n\r\n", "SEE-THIS\n"},
		} {
			// Each answer on the kept-alive connection is the request's
			// own, with nothing of the post action's after it.
			rc.write(c.req)
			method, _, _ := strings.Cut(c.req, " ")
			resp := rc.read(method)
			sizes = append(sizes, len(resp.Body))
			if body := string(resp.Body); !strings.Contains(body, c.want) || strings.Contains(body, "HIDDEN") {
				t.Errorf("%q: %d %q, want %q", strings.SplitN(c.req, "\r\n", 2)[0], resp.Status, body, c.want)
			}
		}
		for _, want := range []string{"POST /notify", "GET /notify"} {
			select {
			case got := <-seen:
				if got != want {
					t.Errorf("the upstream saw %q, want %q", got, want)
				}
			case <-time.After(3 * time.Second):
				t.Fatalf("the upstream saw no %q", want)
			}
		}
		// The upstream saw the last post action's request before its
		// answer reached the proxy, and the line is written when that
		// answer has: wait for it before stopping the proxy, which
		// would cut the post action short.
		for deadline := time.Now().Add(3 * time.Second); len(logLines(p.readLog("pa.log"))) < 4 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		p.stop()
		got := logLines(p.readLog("pa.log"))
		// The 405 page names the server, so its size is read from the
		// answer.
		want := []string{
			"GET /file/ HTTP/1.1|/done|204|9",
			"GET /hidden/ HTTP/1.1|/hidden.html|200|9",
			fmt.Sprintf("POST /named/ HTTP/1.1|/notify|405|%d", sizes[2]),
			"GET /named/ HTTP/1.1|/notify|200|9",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("access log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestRecursiveErrorPages checks recursive_error_pages against nginx:
// off, an error while serving an error page is answered with the plain
// page; on, its own error_page answers it (here with its status, =).
func TestRecursiveErrorPages(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location /off/ { error_page 404 /missing-page; }
        location /on/ { recursive_error_pages on; error_page 404 /on/missing-page; }
        location /on/missing-page { recursive_error_pages on; error_page 404 = /final; }
        location /final { return 200 "final\n"; }
    }`)
		for _, c := range []struct {
			path string
			want int
			body string
		}{
			{"/off/x", 404, "404 Not Found"},
			{"/on/x", 200, "final\n"},
		} {
			st, _, body := get(t, p.url(c.path))
			if st != c.want || !strings.Contains(string(body), c.body) {
				t.Errorf("%s: %d %q, want %d with %q", c.path, st, body, c.want, c.body)
			}
		}
	})
}
