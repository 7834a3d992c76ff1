package integration

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// This file holds behaviour that nginx's own test suite checks (see
// /work/shared/conformance), each test run against nginx and headroom.

// TestUpstreamAndBodyVariables checks $upstream_response_length,
// $upstream_bytes_received, $upstream_bytes_sent (one figure per try,
// joined with ", ": a refused try counts nothing; the length is of the
// body as read, chunk framing included), $upstream_http_NAME,
// $upstream_cookie_NAME (nginx's Set-Cookie parsing: name, spaces, '=',
// spaces, value to ';'), $request_body (a body held in memory) and
// $request_body_file (a body in a temporary file), in add_header and in
// the access log.
func TestUpstreamAndBodyVariables(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		mu := make(chan struct{}, 1)
		mu <- struct{}{}
		received := map[string]int{}
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			// The head's length as sent by the proxy: line, fields, CRLFs.
			n := len(r.Line) + 2 + 2
			for _, h := range r.Headers {
				n += len(h.Name) + 2 + len(h.Value) + 2
			}
			n += len(r.Body)
			var resp string
			switch {
			case strings.HasPrefix(r.Target, "/chunked"):
				resp = "HTTP/1.1 200 OK\r\nX-Len: " + strconv.Itoa(n) + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
			default:
				resp = "HTTP/1.1 200 OK\r\nX-Len: " + strconv.Itoa(n) +
					"\r\nSet-Cookie: other=1\r\nSet-Cookie: tc = v 1 ; Path=/\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
			}
			<-mu
			received[r.Target] = len(resp)
			mu <- struct{}{}
			c.writeString(resp)
			c.closeNow()
		})
		dead := refusedAddr(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    log_format v '$uri|$upstream_response_length|$upstream_bytes_received|$upstream_bytes_sent|$upstream_http_x_len|$upstream_cookie_tc|$upstream_cookie_nx|$request_body|$request_body_file';
    upstream failover {
        server %[2]s;
        server %[1]s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        access_log {{PREFIX}}/logs/v.log v;
        client_body_buffer_size 1k;
        location / {
            proxy_pass http://%[1]s;
            add_header X-Cookie $upstream_cookie_tc;
            add_header X-Up-Len $upstream_http_x_len;
            add_header X-Body $request_body;
            add_header X-Body-File $request_body_file;
        }
        location /failover { proxy_pass http://failover; }
    }`, up.addr, dead))

		get := func(path, body string) *response {
			t.Helper()
			req := "GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
			if body != "" {
				req = fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
			}
			resp, _ := sendRawLinger(t, p.addr, req)
			if resp.Status != 200 {
				t.Fatalf("%s: status %d\n%s", path, resp.Status, resp)
			}
			return resp
		}
		r := get("/plain", "")
		if got := r.Headers.get("X-Cookie"); got != "v 1" {
			t.Errorf("X-Cookie %q, want %q", got, "v 1")
		}
		upLen := r.Headers.get("X-Up-Len")
		if upLen == "" {
			t.Errorf("no X-Up-Len\n%s", r)
		}
		if got := r.Headers.values("X-Body"); len(got) != 0 {
			t.Errorf("X-Body %q without a body", got)
		}
		r = get("/small", "0123456789")
		if got := r.Headers.get("X-Body"); got != "0123456789" {
			t.Errorf("X-Body %q, want the body", got)
		}
		if got := r.Headers.values("X-Body-File"); len(got) != 0 {
			t.Errorf("X-Body-File %q for a body in memory", got)
		}
		big := strings.Repeat("0123456789", 1000)
		r = get("/big", big)
		if got := r.Headers.values("X-Body"); len(got) != 0 {
			t.Errorf("X-Body for a body in a file")
		}
		if got := r.Headers.get("X-Body-File"); got == "" {
			t.Errorf("no X-Body-File for a body in a file\n%s", r)
		}
		get("/chunked", "")
		get("/failover", "")
		p.stopSignal(syscall.SIGQUIT)

		lines := logLines(p.readLog("v.log"))
		<-mu
		recv := func(path string) string { return strconv.Itoa(received[path]) }
		want := []string{
			`^/plain\|5\|` + recv("/plain") + `\|` + upLen + `\|` + upLen + `\|v 1 \|-\|-\|-$`,
			`^/small\|5\|` + recv("/small") + `\|(\d+)\|\d+\|v 1 \|-\|0123456789\|-$`,
			`^/big\|5\|` + recv("/big") + `\|(\d+)\|\d+\|v 1 \|-\|-\|/.+$`,
			`^/chunked\|15\|` + recv("/chunked") + `\|(\d+)\|\d+\|-\|-\|-\|-$`,
			`^/failover\|0, 5\|0, ` + recv("/failover") + `\|0, \d+\|\d+\|v 1 \|-\|-\|-$`,
		}
		checkLines(t, "v.log", lines, want)
		// The bytes sent are what the upstream received.
		for _, l := range lines {
			f := strings.Split(l, "|")
			if len(f) > 4 && !strings.HasPrefix(f[0], "/failover") && f[3] != f[4] {
				t.Errorf("%s: $upstream_bytes_sent %s, upstream received %s", f[0], f[3], f[4])
			}
		}
	})
}
