package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestUpstreamQueue checks max_conns with the queue directive of upstream
// blocks (nginx Plus syntax, which Debian's nginx does not have): at most
// max_conns requests at the server at once, waiting requests served in
// arrival order, and 503 with Retry-After only for requests beyond the
// queue's size or past its timeout.
func TestUpstreamQueue(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		for _, sc := range []struct {
			name            string
			maxConns, queue int
			timeout, delay  time.Duration
			clients         int
			want200         int
			// checkOrder checks that the server saw the requests in
			// arrival order; only meaningful with max_conns=1, where
			// requests reach the server one after the other, so that the
			// test server's own scheduling cannot reorder them.
			checkOrder bool
		}{
			// Everyone fits in the queue and its time: all served.
			{"all served", 10, 100, 5 * time.Second, 600 * time.Millisecond, 40, 40, false},
			// One at a time: the queue hands the server over in arrival order.
			{"served in order", 1, 100, 5 * time.Second, 60 * time.Millisecond, 20, 20, true},
			// 2 at the server, 5 waiting: the rest are turned away at once.
			{"overflow", 2, 5, 10 * time.Second, time.Second, 12, 7, false},
			// One at a time, and the others wait longer than allowed.
			{"timeout", 1, 100, 300 * time.Millisecond, 900 * time.Millisecond, 5, 1, false},
		} {
			t.Run(tg.name+"/"+sc.name, func(t *testing.T) {
				tg.require(t)
				var inFlight, peak atomic.Int32
				var mu sync.Mutex
				var order []int
				up := newUpstream(t, "limited", func(c *upConn, r *upRequest) {
					n := inFlight.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					seq, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(r.Target, "?", 2)[0], "/q/"))
					mu.Lock()
					order = append(order, seq)
					mu.Unlock()
					c.sleep(sc.delay)
					inFlight.Add(-1)
					c.respond(200, "ok")
				})
				p := startProxyConfig(t, tg, proxyConfig{workerConnections: 1024, http: fmt.Sprintf(`
    upstream limited {
        server %s max_conns=%d;
        queue %d timeout=%dms;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://limited; }
    }`, up.addr, sc.maxConns, sc.queue, sc.timeout.Milliseconds())})

				var ok, rejected atomic.Int32
				var wg sync.WaitGroup
				for i := 0; i < sc.clients; i++ {
					// Each request is written before the next one starts,
					// so that they arrive in a known order even when the
					// machine is busy; the answers are read concurrently.
					conn, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					fmt.Fprintf(conn, "GET /q/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", i)
					wg.Add(1)
					go func(i int, conn net.Conn) {
						defer wg.Done()
						defer conn.Close()
						conn.SetDeadline(time.Now().Add(20 * time.Second))
						resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
						if err != nil {
							t.Errorf("request %d: %v", i, err)
							return
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						switch {
						case resp.StatusCode == 200 && string(body) == "ok":
							ok.Add(1)
						case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
							rejected.Add(1)
						default:
							t.Errorf("request %d: %s %q", i, resp.Status, body)
						}
					}(i, conn)
					// Far enough apart that a busy machine's scheduling
					// does not reorder them on the way to the server.
					time.Sleep(30 * time.Millisecond)
				}
				wg.Wait()
				if pk := int(peak.Load()); pk > sc.maxConns {
					t.Errorf("%d requests at the server at once, max_conns=%d", pk, sc.maxConns)
				}
				if got := int(ok.Load()); got != sc.want200 {
					t.Errorf("%d × 200, want %d", got, sc.want200)
				}
				if got := int(rejected.Load()); got != sc.clients-sc.want200 {
					t.Errorf("%d × 503 with Retry-After, want %d", got, sc.clients-sc.want200)
				}
				// Requests that waited reach the server in arrival order.
				mu.Lock()
				for i := 1; sc.checkOrder && i < len(order); i++ {
					if order[i] < order[i-1] {
						t.Errorf("server saw requests in the order %v, not in arrival order", order)
						break
					}
				}
				mu.Unlock()
				t.Logf("%d × 200, %d × 503, peak %d at the server", ok.Load(), rejected.Load(), peak.Load())
				if t.Failed() {
					p.dumpLogs()
				}
			})
		}
	}
}
