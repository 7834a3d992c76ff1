package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slowWorkerConnections gives a client budget of 7: (16 - 1 listener - 1)
// / 2, so that 7 slow clients fill it.
const slowWorkerConnections = 16

// slowConn opens a connection and writes s, leaving the request
// unfinished.
func slowConn(t *testing.T, addr, s string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(network, address string, c syscall.RawConn) error {
			c.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return nil
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
	return c
}

// closedByServer reports whether the server closed c: a read finds EOF
// or a reset (after a response, when one was written) within d.
func closedByServer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64<<10)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		return true
	}
}

// ordinaryClients sends n GETs of path in parallel, each on its own
// connection with a 10 s deadline, and returns the statuses or errors.
func ordinaryClients(t *testing.T, addr, path string, n int) []string {
	t.Helper()
	out := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				out[i] = err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			rc := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
			if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
				out[i] = err.Error()
				return
			}
			resp, err := readResponse(rc.br, "GET")
			if err != nil {
				out[i] = err.Error()
				return
			}
			out[i] = fmt.Sprint(resp.Status)
		}()
	}
	wg.Wait()
	return out
}

func allOK(statuses []string) bool {
	for _, s := range statuses {
		if s != "200" {
			return false
		}
	}
	return true
}

// TestSlowClientsUnderPressure fills headroom's client budget with slow
// clients that stay inside every timeout, then sends ordinary clients:
// they are served within seconds because the slow clients lose their
// slots, worst first, while clients wait in the backlog — slow heads after
// a second, slow bodies and slow readers below their minimum rate after
// its grace. Without clients waiting, a slow client keeps its slot.
func TestSlowClientsUnderPressure(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			t.Parallel()
			big := strings.Repeat("x", 8<<20)
			up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
				if strings.HasPrefix(r.Target, "/big") {
					c.respond(200, big)
					return
				}
				c.respond(200, "ok")
			})
			p := startProxyConfig(t, tg, proxyConfig{workerConnections: slowWorkerConnections, http: fmt.Sprintf(`
    client_body_min_rate 240 1s;
    send_min_rate 240 1s;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
    }`, up.addr)})
			budget := (slowWorkerConnections - 2) / 2

			t.Run("no pressure, slow heads stay", func(t *testing.T) {
				var slow []net.Conn
				for i := 0; i < 3; i++ {
					slow = append(slow, slowConn(t, p.addr, "GET /a HTTP/1.1\r\nHost: h\r\n", 0))
				}
				time.Sleep(2 * time.Second)
				for i, c := range slow {
					io.WriteString(c, "\r\n")
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					resp, err := readResponse(bufio.NewReader(c), "GET")
					if err != nil || resp.Status != 200 {
						t.Errorf("slow client %d, no one waiting: %v %v", i, resp, err)
					}
					c.Close()
				}
			})

			// Each kind of slow client fills the budget, then ordinary
			// clients come: they are served, and slow ones were closed,
			// with the kind's log line.
			for _, kind := range []struct {
				name, request string
				rcvbuf        int
				// wait lets the kind's grace pass; readWait is how long a
				// closed connection may take to show it (a reader has its
				// answer's start to read first).
				wait, readWait time.Duration
				logLine        string
			}{
				{"slow heads", "GET /a HTTP/1.1\r\nHost: h\r\n", 0, 1200 * time.Millisecond, 100 * time.Millisecond,
					"connections that had sent no complete request head"},
				{"slow bodies", "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n0123456789", 0, 1500 * time.Millisecond, 100 * time.Millisecond,
					"slower than client_body_min_rate"},
				{"slow readers", "GET /big HTTP/1.1\r\nHost: h\r\n\r\n", 4096, 1500 * time.Millisecond, time.Second,
					"slower than send_min_rate"},
			} {
				t.Run(kind.name, func(t *testing.T) {
					var slow []net.Conn
					for i := 0; i < budget; i++ {
						slow = append(slow, slowConn(t, p.addr, kind.request, kind.rcvbuf))
					}
					time.Sleep(kind.wait)
					start := time.Now()
					if got := ordinaryClients(t, p.addr, "/ordinary", 4); !allOK(got) {
						t.Errorf("ordinary clients: %v", got)
					}
					t.Logf("4 ordinary clients served in %v", time.Since(start).Round(time.Millisecond))
					closed := 0
					for _, c := range slow {
						if closedByServer(c, kind.readWait) {
							closed++
						}
					}
					if closed == 0 {
						t.Errorf("none of the %s was closed", kind.name)
					}
					if !strings.Contains(p.readLog("error.log"), kind.logLine) {
						t.Errorf("no log line %q", kind.logLine)
					}
				})
			}
		})
	}
}
