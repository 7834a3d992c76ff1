package integration

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLimitReq checks limit_req against nginx: a request over the rate
// with no burst left is refused with limit_req_status, burst lets that
// many more through (at once with nodelay), and without nodelay the
// excess requests are held back until the rate allows them; refusals and
// delays are logged in nginx's words.
func TestLimitReq(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "fast", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
    limit_req_zone $binary_remote_addr zone=two:1m rate=1r/s;
    limit_req_zone $binary_remote_addr zone=three:1m rate=2r/s;
    server {
        listen 127.0.0.1:{{PORT}};
        location /nodelay/ { limit_req zone=one nodelay; limit_req_status 429; proxy_pass http://%[1]s; }
        location /burst/ { limit_req zone=two burst=1 nodelay; proxy_pass http://%[1]s; }
        location /delay/ { limit_req zone=three burst=2; proxy_pass http://%[1]s; }
    }`, up.addr))
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(path string) int {
			resp, err := client.Get(p.url(path))
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if a, b := get("/nodelay/1"), get("/nodelay/2"); a != 200 || b != 429 {
			t.Errorf("rate 1r/s, no burst: %d then %d, want 200 then 429", a, b)
		}
		if a, b, c := get("/burst/1"), get("/burst/2"), get("/burst/3"); a != 200 || b != 200 || c != 503 {
			t.Errorf("burst=1 nodelay: %d, %d, %d; want 200, 200, 503", a, b, c)
		}
		// Three at once at 2r/s with burst=2: all served, the last about
		// a second later than the first.
		start := time.Now()
		var wg sync.WaitGroup
		codes := make([]int, 3)
		took := make([]time.Duration, 3)
		for i := range codes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				time.Sleep(time.Duration(i) * 20 * time.Millisecond)
				codes[i] = get(fmt.Sprintf("/delay/%d", i))
				took[i] = time.Since(start)
			}(i)
		}
		wg.Wait()
		for i, c := range codes {
			if c != 200 {
				t.Errorf("delayed request %d: %d, want 200", i, c)
			}
		}
		slowest := max(took[0], took[1], took[2])
		if slowest < 800*time.Millisecond {
			t.Errorf("three requests at 2r/s with burst=2 all done after %v; the third should wait about 1 s", slowest)
		}
		p.stop()
		log := p.readLog("error.log")
		for _, want := range []string{`limiting requests, excess: `, `by zone "one"`, `delaying request, excess: `, `by zone "three"`} {
			if !strings.Contains(log, want) {
				t.Errorf("error log lacks %q", want)
			}
		}
		// The request was stopped before it reached its upstream, so the
		// line names none, as nginx's does.
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "limiting requests") && strings.Contains(line, "upstream:") {
				t.Errorf("a limited request's line names an upstream: %s", line)
			}
		}
	})
}
