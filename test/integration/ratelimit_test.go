package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLimitRate checks limit_rate, limit_rate_after, an upstream's
// X-Accel-Limit-Rate and proxy_limit_rate. Only lower bounds on time are
// asserted: a rate limit can only make a response slower, and a slow
// machine only adds to the time, so the test cannot fail for being on a
// busy machine. 100 KB at 20 KB/s is sent in about 4 s (nginx lets the
// first second's worth go at once); with limit_rate_after 40k, in about
// 2 s.
func TestLimitRate(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		body := strings.Repeat("r", 100000)
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			var extra []string
			if strings.Contains(r.Target, "accel") {
				extra = append(extra, "X-Accel-Limit-Rate: 20000")
			}
			c.respond(200, body, extra...)
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    log_format rate "$request_uri $limit_rate";
    server {
        listen 127.0.0.1:{{PORT}};
        access_log {{PREFIX}}/logs/rate.log rate;
        location /free/ { proxy_pass http://%[1]s; }
        location /limited/ { proxy_pass http://%[1]s; limit_rate 20k; }
        location /after/ { proxy_pass http://%[1]s; limit_rate 20k; limit_rate_after 40k; }
        location /accel/ { proxy_pass http://%[1]s; }
        location /upstream/ { proxy_pass http://%[1]s; proxy_limit_rate 20k; }
    }`, up.addr))
		fetch := func(path string) time.Duration {
			t.Helper()
			start := time.Now()
			resp := sendRaw(t, p.addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if resp.Status != 200 || string(resp.Body) != body {
				t.Errorf("%s: %d with %d body bytes", path, resp.Status, len(resp.Body))
			}
			return time.Since(start)
		}
		if d := fetch("/limited/x"); d < 3*time.Second {
			t.Errorf("limit_rate 20k: 100 KB in %v, want at least 3 s", d)
		}
		if d := fetch("/after/x"); d < 1*time.Second {
			t.Errorf("limit_rate 20k after 40k: 100 KB in %v, want at least 1 s", d)
		}
		if d := fetch("/accel/x"); d < 3*time.Second {
			t.Errorf("X-Accel-Limit-Rate 20000: 100 KB in %v, want at least 3 s", d)
		}
		// The client cannot get the response faster than the proxy reads
		// it (the upstream's own write ends as soon as the kernel's
		// buffers take it).
		if d := fetch("/upstream/x"); d < 3*time.Second {
			t.Errorf("proxy_limit_rate 20k: 100 KB in %v, want at least 3 s", d)
		}
		fetch("/free/x")
		var lines []string
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if lines = logLines(p.readLog("rate.log")); len(lines) >= 5 {
				break
			}
		}
		want := "/limited/x 20480\n/after/x 20480\n/accel/x 20000\n/upstream/x 0\n/free/x 0"
		if got := strings.Join(lines, "\n"); got != want {
			t.Errorf("$limit_rate in the access log:\n%s\nwant:\n%s", got, want)
		}
	})
}
