package integration

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestMalformedRequests sends invalid or unusual requests and checks the
// status nginx answers with, that an error response closes the
// connection, that an accepted one keeps it, and that rejected requests
// never reach the upstream.
func TestMalformedRequests(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
    }`, up.addr))

		long := strings.Repeat("a", 9000)
		// stricter holds headroom's status for the cases where it is
		// deliberately stricter than nginx (see README, differences).
		stricter := map[string]int{"header without colon": 400}
		for _, tc := range []struct {
			name   string
			req    string
			status int
			// line is the expected status line when it matters.
			line string
			// upstream is the request line the upstream must see when
			// the request is accepted.
			upstream string
		}{
			{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "HTTP/1.1 400 Bad Request", ""},
			{"unknown TE", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "HTTP/1.1 501 Not Implemented", ""},
			// Only a lone "chunked" is accepted, not a list.
			{"TE list", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "", ""},
			{"TE case-insensitive", "POST /te HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200, "", "POST /te HTTP/1.0"},
			{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "", ""},
			{"bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "", ""},
			// Even identical duplicates are refused.
			{"duplicate CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, "", ""},
			{"negative CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, "", ""},
			{"non-numeric CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400, "", ""},
			{"NUL in header value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", 400, "", ""},
			{"NUL in URI", "GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			{"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400, "", ""},
			{"CR in name", "GET / HTTP/1.1\r\nHost: h\r\nX-A\r: a\r\n\r\n", 400, "", ""},
			{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400, "", ""},
			{"space before colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : a\r\n\r\n", 400, "", ""},
			{"empty header name", "GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n", 400, "", ""},
			{"URI too long", "GET /" + long + " HTTP/1.1\r\nHost: h\r\n\r\n", 414, "HTTP/1.1 414 Request-URI Too Large", ""},
			// Internally 494; sent as 400 with its own page.
			{"header too large", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + long + "\r\n\r\n", 400, "HTTP/1.1 400 Bad Request", ""},
			{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, "", ""},
			{"duplicate Host", "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400, "", ""},
			{"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400, "", ""},
			{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "", ""},
			{"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "", ""},
			{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/1.1 505 HTTP Version Not Supported", ""},
			{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505, "", ""},
			// A higher minor version is served as HTTP/1.1.
			{"HTTP/1.2", "GET /v12 HTTP/1.2\r\nHost: h\r\n\r\n", 200, "HTTP/1.1 200 OK", "GET /v12 HTTP/1.0"},
			{"HTTP/0.9 line", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 400, "", ""},
			{"HTTPS/1.1", "GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			{"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "", ""},
			{"lower-case method", "get / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			{"bad method char", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			{"relative URI", "GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			{"above root", "GET /../x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			{"bad percent", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400, "", ""},
			// Accepted oddities.
			{"unknown method", "FOO /x?y HTTP/1.1\r\nHost: h\r\n\r\n", 200, "", "FOO /x?y HTTP/1.0"},
			{"PURGE", "PURGE /p HTTP/1.1\r\nHost: h\r\n\r\n", 200, "", "PURGE /p HTTP/1.0"},
			// nginx drops a field line without a colon and goes on;
			// headroom refuses the request, as a line it cannot parse may
			// be read differently by another hop.
			{"header without colon", "GET /nc HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 200, "", "GET /nc HTTP/1.0"},
			{"double space", "GET  /ds HTTP/1.1\r\nHost: h\r\n\r\n", 200, "", "GET /ds HTTP/1.0"},
			{"trailing space", "GET /ts HTTP/1.1 \r\nHost: h\r\n\r\n", 200, "", "GET /ts HTTP/1.0"},
			{"bare LF", "GET /lf HTTP/1.1\nHost: h\n\n", 200, "", "GET /lf HTTP/1.0"},
			{"leading empty lines", "\r\n\r\nGET /le HTTP/1.1\r\nHost: h\r\n\r\n", 200, "", "GET /le HTTP/1.0"},
			// The absolute form's host wins over the Host header; the
			// upstream gets the path only.
			{"absolute form", "GET http://other.test/abs?q HTTP/1.1\r\nHost: h\r\n\r\n", 200, "", "GET /abs?q HTTP/1.0"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(up.requests())
				rc := dialRaw(t, p.addr)
				rc.write(tc.req)
				method, _, _ := strings.Cut(strings.TrimLeft(tc.req, "\r\n"), " ")
				resp := rc.read(method)
				if st, ok := stricter[tc.name]; ok && tg.isHeadroom() {
					tc.status, tc.upstream = st, ""
				}
				if resp.Status != tc.status {
					t.Fatalf("status %d, want %d\n%s", resp.Status, tc.status, resp)
				}
				if tc.line != "" && resp.StatusLine != tc.line {
					t.Errorf("status line %q, want %q", resp.StatusLine, tc.line)
				}
				reqs := up.requests()
				if tc.status >= 400 {
					if resp.header("Connection") != "close" {
						t.Errorf("Connection %q, want close", resp.header("Connection"))
					}
					if err := rc.waitClosed(3 * time.Second); err != nil {
						t.Error(err)
					}
					if len(reqs) != before {
						t.Errorf("rejected request reached the upstream: %s", reqs[len(reqs)-1])
					}
					return
				}
				if len(reqs) == before {
					t.Fatal("the upstream received nothing")
				}
				if got := reqs[len(reqs)-1].Line; got != tc.upstream {
					t.Errorf("upstream request line %q, want %q", got, tc.upstream)
				}
				if resp.header("Connection") != "keep-alive" {
					t.Errorf("Connection %q, want keep-alive", resp.header("Connection"))
				}
			})
		}

		t.Run("header too large page", func(t *testing.T) {
			resp := sendRaw(t, p.addr, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: "+long+"\r\n\r\n")
			if !strings.Contains(string(resp.Body), "Request Header Or Cookie Too Large") {
				t.Errorf("body %q", resp.Body)
			}
		})

		t.Run("absolute form Host", func(t *testing.T) {
			// $host comes from the request line.
			p2 := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "$host"; }
    }`)
			resp := sendRaw(t, p2.addr, "GET http://Other.Test:81/x HTTP/1.1\r\nHost: h\r\n\r\n")
			if string(resp.Body) != "other.test" {
				t.Errorf("$host %q, want other.test", resp.Body)
			}
		})

		t.Run("HTTP/0.9", func(t *testing.T) {
			// A request line without a version is HTTP/0.9: nginx
			// answers with the bare body, then closes. headroom does
			// not speak HTTP/0.9 and answers 400 (see README).
			p2 := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "bare body"; }
    }`)
			rc := dialRaw(t, p2.addr)
			rc.write("GET /\r\n")
			rc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
			got, err := io.ReadAll(rc.br)
			if tg.isHeadroom() {
				if !strings.HasPrefix(string(got), "HTTP/1.1 400 Bad Request\r\n") || err != nil {
					t.Errorf("got %q (%v), want a 400 and EOF", got, err)
				}
				return
			}
			if string(got) != "bare body" || err != nil {
				t.Errorf("got %q (%v), want \"bare body\" and EOF", got, err)
			}
		})
	})
}
