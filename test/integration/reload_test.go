package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadConfig is the http{} content of generation gen: the generation is
// sent back in a response header, so that clients see which configuration
// answered them.
func reloadConfig(upstream string, gen int) string {
	return fmt.Sprintf(`
    upstream backend { server %s; keepalive 8; }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Generation %d always;
        }
    }`, upstream, gen)
}

// loadResult counts what clients saw during a load.
type loadResult struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errors     []string
	lastGen    atomic.Value
}

func (r *loadResult) fail(format string, args ...any) {
	r.failed.Add(1)
	r.mu.Lock()
	if len(r.errors) < 10 {
		r.errors = append(r.errors, fmt.Sprintf(format, args...))
	}
	r.mu.Unlock()
}

// steadyLoad runs clients until stop is closed: keep-alive clients sending
// POSTs (which Go's client never retries, so a connection closed under a
// request shows as an error) and clients opening a connection per GET.
func steadyLoad(p *proxy, stop <-chan struct{}, res *loadResult) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		keepAlive := i < 4
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var resp *http.Response
				var err error
				if keepAlive {
					resp, err = client.Post(p.url("/post"), "text/plain", strings.NewReader("payload"))
				} else {
					resp, err = client.Get(p.url("/get"))
				}
				if err != nil {
					res.fail("%v", err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
					res.fail("%d %q %v", resp.StatusCode, body, err)
					continue
				}
				res.ok.Add(1)
				res.lastGen.Store(resp.Header.Get("X-Generation"))
			}
		}()
	}
	return &wg
}

// TestReloadUnderLoad reloads the configuration ten times (SIGHUP) while
// clients send requests without pause, with one broken configuration in
// between. Each good configuration is taken up, the broken one is logged
// and the running one keeps serving, and — for headroom — not one request
// fails and no connection is reset: the listening sockets stay open across
// reloads and the old workers finish what they have. nginx runs the same
// load and its failures, if any, are reported for comparison.
func TestReloadUnderLoad(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "reload", func(c *upConn, r *upRequest) {
			c.respond(200, "ok")
		})
		p := startProxy(t, tg, reloadConfig(up.addr, 0))
		writeConfig := func(http string) {
			text := p.expand(renderConfig(p.prefix, proxyConfig{http: http}))
			if err := os.WriteFile(p.conf, []byte(text), 0o666); err != nil {
				t.Fatal(err)
			}
		}
		var res loadResult
		stop := make(chan struct{})
		wg := steadyLoad(p, stop, &res)
		time.Sleep(300 * time.Millisecond)
		gen := 0
		for i := 1; i <= 10; i++ {
			if i == 5 {
				// A broken configuration: logged, and the running one
				// keeps serving.
				writeConfig(reloadConfig(up.addr, 99) + "\n    no_such_directive on;")
				p.cmd.Process.Signal(syscall.SIGHUP)
				time.Sleep(400 * time.Millisecond)
				if g, _ := res.lastGen.Load().(string); g != fmt.Sprint(gen) {
					t.Errorf("after a broken configuration the answers come from generation %q, want %d", g, gen)
				}
			}
			gen = i
			writeConfig(reloadConfig(up.addr, gen))
			p.cmd.Process.Signal(syscall.SIGHUP)
			time.Sleep(400 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if g, _ := res.lastGen.Load().(string); g != fmt.Sprint(gen) {
			t.Errorf("last answers came from generation %q, want %d", g, gen)
		}
		if !strings.Contains(p.readLog("error.log"), `unknown directive "no_such_directive"`) {
			t.Errorf("the broken configuration's error is not in the error log")
		}
		if p.exited() {
			t.Fatal("the server exited")
		}
		t.Logf("%s: %d requests answered, %d failed during 10 reloads", tg.name, res.ok.Load(), res.failed.Load())
		if res.ok.Load() < 100 {
			t.Errorf("only %d requests answered; the load did not run", res.ok.Load())
		}
		if tg.isHeadroom() && res.failed.Load() > 0 {
			t.Errorf("%d requests failed during reloads, e.g. %q", res.failed.Load(), res.errors)
		}
	})
}

// TestGracefulShutdown checks SIGQUIT: a request in progress is finished
// and answered, new connections are refused at once rather than left
// waiting, and the process exits once the request is done.
func TestGracefulShutdown(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p, up := slowProxy(t, tg, proxyConfig{}, 700*time.Millisecond, "finished")
		type answer struct {
			status int
			body   string
			err    error
		}
		got := make(chan answer, 1)
		go func() {
			resp, err := httpClient().Get(p.url("/slow"))
			if err != nil {
				got <- answer{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- answer{resp.StatusCode, string(b), err}
		}()
		up.waitForRequest()
		p.cmd.Process.Signal(syscall.SIGQUIT)
		time.Sleep(200 * time.Millisecond)
		if p.exited() {
			t.Fatal("exited with a request in progress")
		}
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			t.Errorf("a new connection was accepted during a graceful shutdown")
		}
		a := <-got
		if a.err != nil || a.status != 200 || a.body != "finished" {
			t.Errorf("request in progress: %d %q %v, want 200 \"finished\"", a.status, a.body, a.err)
		}
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			t.Errorf("still running 3 s after its last request ended")
		}
	})
}

// TestReloadKeepsMaxConns reloads while a server is at its max_conns with
// requests in progress under the old configuration: the new workers count
// those connections too (the upstream's shared state is kept when the
// group is unchanged), so the server never sees more than max_conns, and
// the requests that wait are all served.
func TestReloadKeepsMaxConns(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			var inFlight, peak, seen atomic.Int32
			up := newUpstream(t, "limited", func(c *upConn, r *upRequest) {
				n := inFlight.Add(1)
				seen.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				c.sleep(600 * time.Millisecond)
				inFlight.Add(-1)
				c.respond(200, "ok")
			})
			p := startProxy(t, tg, fmt.Sprintf(`
    upstream limited { server %s max_conns=2; queue 10 timeout=5s; }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://limited; }
    }`, up.addr))
			var wg sync.WaitGroup
			fire := func(n int) {
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if st, _, _ := get(t, p.url("/")); st != 200 {
							t.Errorf("status %d, want 200", st)
						}
					}()
				}
			}
			fire(2)
			deadline := time.Now().Add(3 * time.Second)
			for seen.Load() < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			p.cmd.Process.Signal(syscall.SIGHUP)
			deadline = time.Now().Add(3 * time.Second)
			for !strings.Contains(p.readLog("error.log"), "configuration reloaded") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			fire(2)
			wg.Wait()
			if pk := peak.Load(); pk > 2 {
				t.Errorf("%d requests at the server at once across the reload, max_conns=2", pk)
			}
			if n := seen.Load(); n != 4 {
				t.Errorf("the server saw %d requests, want 4", n)
			}
		})
	}
}

// TestWorkerShutdownTimeout checks that worker_shutdown_timeout bounds a
// graceful shutdown: a request still in progress when it runs out is cut
// and the process exits, well before the slow upstream would answer.
func TestWorkerShutdownTimeout(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p, up := slowProxy(t, tg, proxyConfig{main: "worker_shutdown_timeout 500ms;"}, 4*time.Second, "late")
		got := make(chan error, 1)
		go func() {
			resp, err := httpClient().Get(p.url("/stuck"))
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					err = fmt.Errorf("answered %d", resp.StatusCode)
				}
			}
			got <- err
		}()
		up.waitForRequest()
		start := time.Now()
		p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			t.Fatalf("still running 3 s after SIGQUIT with worker_shutdown_timeout 500ms")
		}
		took := time.Since(start)
		if took < 400*time.Millisecond {
			t.Errorf("exited %v after SIGQUIT, before worker_shutdown_timeout", took)
		}
		if err := <-got; err == nil {
			t.Errorf("the request in progress was answered; it should have been cut")
		}
	})
}

// TestQuitThenTerminate checks that SIGTERM during a graceful shutdown
// turns it into a fast one, as with nginx: the process exits at once
// instead of waiting for the request in progress.
func TestQuitThenTerminate(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p, up := slowProxy(t, tg, proxyConfig{}, 4*time.Second, "late")
		go func() {
			if resp, err := httpClient().Get(p.url("/stuck")); err == nil {
				io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}()
		up.waitForRequest()
		p.cmd.Process.Signal(syscall.SIGQUIT)
		time.Sleep(300 * time.Millisecond)
		if p.exited() {
			t.Fatal("exited on SIGQUIT with a request in progress")
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			t.Errorf("still running 2 s after SIGTERM during a graceful shutdown")
		}
	})
}
