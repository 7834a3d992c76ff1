package integration

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLimitConn checks limit_conn against nginx: with "limit_conn addr 1"
// a second request from the same address while the first is in progress
// gets limit_conn_status (503 by default, or the configured one), the
// error log says "limiting connections by zone", and the count ends with
// the request; in dry-run mode nothing is limited.
func TestLimitConn(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "slow", func(c *upConn, r *upRequest) {
			c.sleep(400 * time.Millisecond)
			c.respond(200, "ok")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    limit_conn_zone $binary_remote_addr zone=addr:1m;
    server {
        listen 127.0.0.1:{{PORT}};
        location /one/ { limit_conn addr 1; proxy_pass http://%[1]s; }
        location /status/ { limit_conn addr 1; limit_conn_status 429; proxy_pass http://%[1]s; }
        location /dry/ { limit_conn addr 1; limit_conn_dry_run on; proxy_pass http://%[1]s; }
        location /free/ { proxy_pass http://%[1]s; }
    }`, up.addr))
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		// pair sends two requests for path, the second once the first is
		// with the upstream (which holds it 400 ms), so that they overlap
		// however slowly the machine runs.
		pair := func(path string) []int {
			codes := make([]int, 2)
			var wg sync.WaitGroup
			before := len(up.requests())
			for i := range codes {
				if i == 1 {
					for deadline := time.Now().Add(5 * time.Second); len(up.requests()) == before && time.Now().Before(deadline); {
						time.Sleep(5 * time.Millisecond)
					}
				}
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					resp, err := client.Get(p.url(path))
					if err != nil {
						t.Errorf("%s: %v", path, err)
						return
					}
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}(i)
			}
			wg.Wait()
			return codes
		}
		for _, tc := range []struct {
			path string
			want [2]int
		}{
			{"/one/a", [2]int{200, 503}},
			{"/status/a", [2]int{200, 429}},
			{"/dry/a", [2]int{200, 200}},
			{"/free/a", [2]int{200, 200}},
			// The first pair's count ended with its requests.
			{"/one/b", [2]int{200, 503}},
		} {
			if got := pair(tc.path); got[0] != tc.want[0] || got[1] != tc.want[1] {
				t.Errorf("%s: statuses %v, want %v", tc.path, got, tc.want)
			}
		}
		p.stop()
		log := p.readLog("error.log")
		for _, want := range []string{`limiting connections by zone "addr"`, `limiting connections, dry run, by zone "addr"`} {
			if !strings.Contains(log, want) {
				t.Errorf("error log lacks %q", want)
			}
		}
		// The request was stopped before it reached its upstream, so the
		// line names none, as nginx's does.
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "limiting connections") && strings.Contains(line, "upstream:") {
				t.Errorf("a limited request's line names an upstream: %s", line)
			}
		}
	})
}
