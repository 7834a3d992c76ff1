package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOutOfSlots runs headroom with far fewer connection slots than
// clients, in front of a slow upstream, and checks the promise nginx
// breaks in the same situation ("worker_connections are not enough":
// connections closed without an answer, or 500): every request gets a
// complete answer from the upstream, never more requests reach the
// upstream than the slots allow, and clients take turns. nginx is not a
// target here because its answer is the failure being removed.
func TestOutOfSlots(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		for _, sc := range []struct {
			name string
			// delay is the upstream's time per request; wait is
			// proxy_connect_timeout, the longest a request waits for a
			// slot.
			delay, wait time.Duration
		}{
			{"short upstream", 100 * time.Millisecond, time.Second},
			// A request waits longer for its upstream than the longest
			// wait for a slot: clients beyond the budget must wait in
			// the listen backlog, never time out inside.
			{"slow upstream", 400 * time.Millisecond, 200 * time.Millisecond},
		} {
			t.Run(tg.name+"/"+sc.name, func(t *testing.T) {
				outOfSlots(t, tg, sc.delay, sc.wait)
			})
		}
	}
}

// outOfSlots is one TestOutOfSlots scenario.
func outOfSlots(t *testing.T, tg *target, delay, wait time.Duration) {
	tg.require(t)
	var inFlight, peak atomic.Int32
	up := newUpstream(t, "slow", func(c *upConn, r *upRequest) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		c.sleep(delay)
		inFlight.Add(-1)
		c.respond(200, "ok")
	})
	// 12 slots: the listener takes one, so at most 5 requests can
	// be proxied at once (a client and an upstream slot each).
	p := startProxyConfig(t, tg, proxyConfig{workerConnections: 12, http: fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; proxy_connect_timeout %dms; }
    }`, up.addr, wait.Milliseconds())})

	const clients, perClient = 24, 4
	var ok, unavailable, rotated atomic.Int32
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var nc net.Conn
			var br *bufio.Reader
			for k := 0; k < perClient; k++ {
				if nc == nil {
					c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
					if err != nil {
						fail("client %d: connect: %v", i, err)
						return
					}
					nc, br = c, bufio.NewReader(c)
				}
				nc.SetDeadline(time.Now().Add(15 * time.Second))
				if _, err := io.WriteString(nc, "GET /r HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
					fail("client %d request %d: write: %v", i, k, err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					fail("client %d request %d: no answer: %v", i, k, err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					fail("client %d request %d: truncated body: %v", i, k, err)
					return
				}
				switch {
				case resp.StatusCode == 200 && string(body) == "ok":
					ok.Add(1)
				case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
					unavailable.Add(1)
				default:
					fail("client %d request %d: %s %q (Retry-After %q)", i, k, resp.Status, body, resp.Header.Get("Retry-After"))
				}
				if resp.Close {
					rotated.Add(1)
					nc.Close()
					nc = nil
				}
			}
			if nc != nil {
				nc.Close()
			}
		}(i)
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if got := ok.Load() + unavailable.Load(); got != clients*perClient {
		t.Errorf("%d answered requests, want %d", got, clients*perClient)
	}
	if ok.Load() == 0 {
		t.Errorf("no request was served")
	}
	// Clients wait for a slot in the listen backlog, where no timer
	// runs, and the ones inside are asked to close after each answer so
	// that those waiting get their turn.
	if unavailable.Load() != 0 {
		t.Errorf("%d requests answered 503; clients beyond the budget should wait in the backlog", unavailable.Load())
	}
	// While more clients wait than the worker has room for, every
	// answer makes room, also when several end in the same round: the
	// 5 requests in progress end together (the upstream's delay is the
	// same for all), and when only the first of each such batch made
	// room the others' clients kept their slots (33-50 of 96 answers
	// closed instead of 91).
	if r := rotated.Load(); r < clients*perClient*2/3 {
		t.Errorf("%d of %d answers carried Connection: close while clients waited; want at least two thirds", r, clients*perClient)
	}
	if pk := peak.Load(); pk > 5 {
		t.Errorf("%d requests at the upstream at once; 12 slots allow 5", pk)
	}
	t.Logf("%d × 200, %d × 503 with Retry-After, %d answers with Connection: close, peak %d at the upstream", ok.Load(), unavailable.Load(), rotated.Load(), peak.Load())
	if t.Failed() {
		p.dumpLogs()
	}
}

// TestNoSlotForAnotherServer fills a worker's last slot with idle
// keep-alive connections to some servers of a group, then sends a request
// that round-robin gives to a server with no idle connection, with
// proxy_next_upstream off so that a failed attempt would show as a 502.
// An idle connection to another server is closed to make room, and every
// request is answered 200 by the server it was meant for.
func TestNoSlotForAnotherServer(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			var ups []*upstream
			for _, name := range []string{"a", "b", "c"} {
				body := name
				ups = append(ups, newUpstream(t, name, func(c *upConn, r *upRequest) { c.respond(200, body) }))
			}
			// 4 slots: the listener, the client, and two upstream
			// connections. The third server's connection needs a slot
			// held by an idle connection to the first.
			p := startProxyConfig(t, tg, proxyConfig{workerConnections: 4, http: fmt.Sprintf(`
    upstream three { server %s; server %s; server %s; keepalive 8; }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://three;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream off;
        }
    }`, ups[0].addr, ups[1].addr, ups[2].addr)})
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			var got []string
			for i := 0; i < 6; i++ {
				fmt.Fprintf(conn, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("request %d: %d %q", i, resp.StatusCode, b)
				}
				got = append(got, string(b))
			}
			if want := []string{"a", "b", "c", "a", "b", "c"}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("servers answered %v, want %v", got, want)
			}
			if strings.Contains(p.readLog("error.log"), "no free connection slot") {
				t.Errorf("an attempt failed for lack of a slot:\n%s", p.readLog("error.log"))
			}
		})
	}
}

// TestOutOfDescriptors lowers headroom's open file limit under it (as an
// operator's prlimit, or descriptors taken by something else, would) so
// that the socket for an upstream connection cannot be opened: the
// request waits instead of failing with 502, is served once a descriptor
// is free again, and is answered 503 with Retry-After only when none
// frees within proxy_connect_timeout.
func TestOutOfDescriptors(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			up := newUpstream(t, "fds", func(c *upConn, r *upRequest) { c.respond(200, "ok") })
			p := startProxyConfig(t, tg, proxyConfig{workerConnections: 64, http: fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        proxy_connect_timeout 1s;
        location / { proxy_pass http://%s; }
    }`, up.addr)})
			pid := p.cmd.Process.Pid
			var old unix.Rlimit
			if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
				t.Skipf("prlimit not permitted here: %v", err)
			}
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			// Wait until the connection is accepted, then leave no
			// descriptor free.
			time.Sleep(100 * time.Millisecond)
			entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
			if err != nil {
				t.Fatal(err)
			}
			// The limit bounds descriptor numbers: the lowest free number
			// is the one the next socket would get.
			open := map[int]bool{}
			for _, e := range entries {
				n, _ := strconv.Atoi(e.Name())
				open[n] = true
			}
			free := 0
			for open[free] {
				free++
			}
			lowered := unix.Rlimit{Cur: uint64(free), Max: old.Max}
			if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lowered, nil); err != nil {
				t.Skipf("prlimit not permitted here: %v", err)
			}
			restore := func() { unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil) }
			defer restore()

			read := func() (*http.Response, error) {
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(br, nil)
				if err == nil {
					io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				return resp, err
			}
			// First: no descriptor for 300 ms, then one frees.
			fmt.Fprintf(conn, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
			time.Sleep(300 * time.Millisecond)
			if len(up.requests()) != 0 {
				t.Fatalf("the upstream got the request although no descriptor was free")
			}
			restore()
			resp, err := read()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("after a descriptor freed: %v %v, want 200", resp, err)
			}
			// Then: none frees within proxy_connect_timeout.
			if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lowered, nil); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			fmt.Fprintf(conn, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err = read()
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("got %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if took := time.Since(start); took < 900*time.Millisecond {
				t.Errorf("answered after %v, before proxy_connect_timeout", took)
			}
			restore()
			if log := p.readLog("error.log"); !strings.Contains(log, "the request waits for a descriptor") {
				t.Errorf("the error log does not say what ran out:\n%s", log)
			}
		})
	}
}
