package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stubStatus is stub_status's page, parsed.
type stubStatus struct {
	active, accepts, handled, requests, reading, writing, waiting int
}

// stubStatusPage is nginx's exact layout, including the space before each
// line end.
var stubStatusPage = regexp.MustCompile(`^Active connections: (\d+) \nserver accepts handled requests\n (\d+) (\d+) (\d+) \nReading: (\d+) Writing: (\d+) Waiting: (\d+) \n$`)

// readStubStatus fetches the page on a connection of its own, which it
// closes before returning.
func readStubStatus(t *testing.T, p *proxy, path string) (stubStatus, http.Header) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get(p.url(path))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stub_status answered %d", resp.StatusCode)
	}
	m := stubStatusPage.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("not stub_status's format: %q", body)
	}
	n := make([]int, 7)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	// Let the closed connection leave the server's counts before the
	// next reading.
	time.Sleep(50 * time.Millisecond)
	return stubStatus{n[0], n[1], n[2], n[3], n[4], n[5], n[6]}, resp.Header
}

// TestStubStatus checks stub_status against nginx: the page's exact
// format and content type, and how its figures move with an idle
// keep-alive client and a proxied request in progress.
func TestStubStatus(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		release := make(chan struct{})
		up := newUpstream(t, "held", func(c *upConn, r *upRequest) {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			c.respond(200, "done")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location = /basic_status { stub_status; }
        location /held/ { proxy_pass http://%s; }
    }`, up.addr))

		s0, h := readStubStatus(t, p, "/basic_status")
		if ct := h.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("Content-Type %q, want text/plain", ct)
		}
		if s0.reading != 0 || s0.writing < 1 || s0.active < 1 {
			t.Errorf("first reading %+v: want the status request itself writing, none reading", s0)
		}

		// An idle keep-alive client: one more connection, waiting.
		idle, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		fmt.Fprintf(idle, "GET /basic_status HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(idle)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond)

		s1, _ := readStubStatus(t, p, "/basic_status")
		want := stubStatus{active: s0.active + 1, accepts: s0.accepts + 2, handled: s0.handled + 2, requests: s0.requests + 2,
			reading: 0, writing: s0.writing, waiting: s0.waiting + 1}
		if s1 != want {
			t.Errorf("with an idle client: got %+v, want %+v (first reading %+v)", s1, want, s0)
		}

		// A proxied request in progress: one more connection, writing.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, _ := get(t, p.url("/held/x"))
			if st != 200 {
				t.Errorf("held request: %d", st)
			}
		}()
		up.waitForRequest()
		s2, _ := readStubStatus(t, p, "/basic_status")
		want = stubStatus{active: s1.active + 1, accepts: s1.accepts + 2, handled: s1.handled + 2, requests: s1.requests + 2,
			reading: 0, writing: s1.writing + 1, waiting: s1.waiting}
		if s2 != want {
			t.Errorf("with a request in progress: got %+v, want %+v", s2, want)
		}
		close(release)
		wg.Wait()

		// Only GET and HEAD.
		presp, err := http.Post(p.url("/basic_status"), "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		presp.Body.Close()
		if presp.StatusCode != 405 {
			t.Errorf("POST: %d, want 405", presp.StatusCode)
		}
	})
}

// scrape reads the metrics location and returns each sample line's value
// by its name and labels as written.
func scrape(t *testing.T, p *proxy, path string) map[string]float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(p.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want Prometheus text format 0.0.4", ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Errorf("bad sample %q", line)
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetrics checks the metrics location: requests and responses, the
// upstream servers' requests, failures and response times, the slot
// budget, and the pressure counters moving when a request is turned away
// for lack of capacity. nginx has no such location.
func TestMetrics(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			up := newUpstream(t, "metrics", func(c *upConn, r *upRequest) {
				if strings.HasPrefix(r.Target, "/slow") {
					c.sleep(500 * time.Millisecond)
				}
				c.respond(200, "ok")
			})
			down := refusedAddr(t)
			p := startProxy(t, tg, fmt.Sprintf(`
    upstream backend { server %[1]s; keepalive 4; }
    upstream one { server %[1]s max_conns=1; }
    upstream broken { server %[2]s; }
    server {
        listen 127.0.0.1:{{PORT}};
        location = /metrics { metrics; }
        location /b/ { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
        location /slow { proxy_pass http://one; }
        location /broken/ { proxy_pass http://broken; }
    }`, up.addr, down))

			for i := 0; i < 5; i++ {
				if st, _, _ := get(t, p.url("/b/x")); st != 200 {
					t.Fatalf("request %d: %d", i, st)
				}
			}
			if st, _, _ := get(t, p.url("/broken/x")); st != 502 {
				t.Fatalf("broken upstream: %d, want 502", st)
			}
			// Two at once at a server with max_conns=1 and no queue: one
			// is answered 503, the last step of the response to pressure.
			// The second goes once the first is with the upstream (which
			// holds it 500 ms), so that they overlap however slowly the
			// machine runs.
			var wg sync.WaitGroup
			codes := make([]int, 2)
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
					codes[i], _, _ = get(t, p.url("/slow"))
				}(i)
			}
			wg.Wait()
			if codes[0] != 200 || codes[1] != 503 {
				t.Fatalf("max_conns=1 pair: %v, want [200 503]", codes)
			}

			m := scrape(t, p, "/metrics")
			srv := fmt.Sprintf(`upstream="backend",server="%s"`, up.addr)
			for _, c := range []struct {
				sample string
				want   float64
			}{
				{`headroom_worker_slots{worker="0"}`, 256},
				{`headroom_worker_client_budget{worker="0"}`, 127},
				{`headroom_upstream_server_requests_total{` + srv + `}`, 5},
				{`headroom_upstream_server_failures_total{` + srv + `}`, 0},
				{`headroom_upstream_server_response_seconds_count{` + srv + `}`, 5},
				{`headroom_upstream_server_response_seconds_bucket{` + srv + `,le="+Inf"}`, 5},
				{fmt.Sprintf(`headroom_upstream_server_failures_total{upstream="broken",server="%s"}`, down), 1},
				{fmt.Sprintf(`headroom_upstream_server_up{upstream="broken",server="%s"}`, down), 0},
				{`headroom_responses_total{class="2xx"}`, 6},
				{`headroom_responses_total{class="5xx"}`, 2},
				{`headroom_pressure_total{step="rejected"}`, 1},
				// The scrape itself is a request in progress.
				{`headroom_requests_total`, 9},
			} {
				got, ok := m[c.sample]
				if !ok {
					t.Errorf("no sample %s", c.sample)
					continue
				}
				if got != c.want {
					t.Errorf("%s = %v, want %v", c.sample, got, c.want)
				}
			}
			if n := m[`headroom_worker_slots_in_use{worker="0",kind="upstream_idle"}`]; n != 1 {
				t.Errorf("idle upstream connections %v, want 1 (keepalive to backend)", n)
			}
		})
	}
}

// TestStubStatusAcrossReload checks that stub_status's counters carry on
// across a reload, as nginx's do (its counters live in shared memory):
// every connection and request made before, during and after the reload
// is counted once.
func TestStubStatusAcrossReload(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		conf := func(gen int) string {
			return fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location = /basic_status { stub_status; }
        location /gen { return 200 "%d"; }
    }`, gen)
		}
		p := startProxy(t, tg, conf(1))
		s0, _ := readStubStatus(t, p, "/basic_status")
		made := 0
		for i := 0; i < 3; i++ {
			get(t, p.url("/gen"))
			made++
		}
		text := p.expand(renderConfig(p.prefix, proxyConfig{http: conf(2)}))
		if err := os.WriteFile(p.conf, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
		p.cmd.Process.Signal(syscall.SIGHUP)
		reloaded := false
		for deadline := time.Now().Add(5 * time.Second); !reloaded && time.Now().Before(deadline); {
			_, _, body := get(t, p.url("/gen"))
			made++
			reloaded = body == "2"
			if !reloaded {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if !reloaded {
			t.Fatal("the new configuration does not answer 5 s after SIGHUP")
		}
		// Let the old workers finish.
		time.Sleep(500 * time.Millisecond)
		s1, _ := readStubStatus(t, p, "/basic_status")
		// Each request above had a connection of its own, and so had the
		// first reading of the page; the second reading counts itself.
		want := stubStatus{active: 1, accepts: s0.accepts + made + 1, handled: s0.handled + made + 1,
			requests: s0.requests + made + 1, reading: 0, writing: 1, waiting: 0}
		if s1 != want {
			t.Errorf("after the reload: got %+v, want %+v (before: %+v)", s1, want, s0)
		}
	})
}

// TestMetricsLimitZones checks that a request refused by a limit_req zone
// is counted against that zone in the metrics, and that a zone that
// refused nothing shows 0.
func TestMetricsLimitZones(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			up := newUpstream(t, "zones", func(c *upConn, r *upRequest) { c.respond(200, "ok") })
			p := startProxy(t, tg, fmt.Sprintf(`
    limit_req_zone $binary_remote_addr zone=slow:1m rate=1r/m;
    limit_conn_zone $binary_remote_addr zone=addr:1m;
    server {
        listen 127.0.0.1:{{PORT}};
        location = /metrics { metrics; }
        location / { limit_req zone=slow; limit_conn addr 10; proxy_pass http://%s; }
    }`, up.addr))
			for i, want := range []int{200, 503} {
				if st, _, _ := get(t, p.url("/x")); st != want {
					t.Fatalf("request %d: %d, want %d", i, st, want)
				}
			}
			m := scrape(t, p, "/metrics")
			for sample, want := range map[string]float64{
				`headroom_limit_rejected_total{zone="slow",kind="limit_req"}`:  1,
				`headroom_limit_rejected_total{zone="addr",kind="limit_conn"}`: 0,
				`headroom_limit_delayed_total{zone="slow"}`:                    0,
			} {
				if got, ok := m[sample]; !ok || got != want {
					t.Errorf("%s = %v (present %v), want %v", sample, got, ok, want)
				}
			}
		})
	}
}
