package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// These tests run the bench's worker out of connection slots and shut it
// down, and check headroom's documented answers (README, "Differences
// from nginx"; docs/architecture.md): a request that finds no slot for
// its upstream connection waits for one and gets 503 with Retry-After
// only after proxy_connect_timeout; idle upstream connections give their
// slots first; clients without a complete head lose theirs while others
// wait in the listen backlog; a graceful shutdown lets requests finish
// and closes their connections, within worker_shutdown_timeout.
//
// The bench's worker has 64 slots; its listener takes one.

// fillSlots connects n clients that send nothing and returns them.
func fillSlots(b *bench, n int) []*memConn {
	conns := make([]*memConn, n)
	for i := range conns {
		conns[i] = b.connect()
	}
	return conns
}

func TestBenchRequestWaitsForASlot(t *testing.T) {
	up, _ := countingUpstream(t)
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /short/ { proxy_pass http://%[1]s; proxy_connect_timeout 50ms; }
		location /long/ { proxy_pass http://%[1]s; }
	}`, up))
	// 61 clients that send nothing and two with requests take the 63
	// slots left: no slot remains for an upstream connection.
	idle := fillSlots(b, 61)
	first, second := b.connect(), b.connect()

	// A request that waits its full proxy_connect_timeout gets 503 and
	// Retry-After.
	resp, _ := first.roundTrip(httpGet("/short/x"))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || connField(resp) != "close" {
		t.Errorf("%d Retry-After %q Connection %q, want 503 1 close", resp.StatusCode, resp.Header.Get("Retry-After"), connField(resp))
	}
	b.waitErrorLog("worker 0 out of connection slots: 64 of 64 slots in use (63 client, 0 upstream")

	// One that finds a slot freed within its time is served.
	second.send(httpGet("/long/y"))
	if out, _ := second.state(); len(out) != 0 {
		t.Fatalf("answered %q with no slot free", out)
	}
	idle[0].shutWrite()
	idle[0].waitClosed()
	resp = second.response("GET")
	if body := respBody(resp); resp.StatusCode != 200 || body != "up /long/y" {
		t.Errorf("%d %q after a slot freed", resp.StatusCode, body)
	}
	p := b.srv.Snapshot().Pressure
	if p.Queued != 2 || p.Rejected != 1 {
		t.Errorf("pressure %+v, want 2 queued and 1 rejected", p)
	}
}

func TestBenchIdleUpstreamGivesItsSlot(t *testing.T) {
	kept, accepts := keepAliveUpstream(t, nil)
	other, _ := countingUpstream(t)
	b := newBench(t, fmt.Sprintf(`upstream kept { server %s; keepalive 2; }
		server {
			listen 127.0.0.1:0;
			location /kept/ { proxy_pass http://kept; proxy_http_version 1.1; proxy_set_header Connection ""; }
			location /other/ { proxy_pass http://%s; }
		}`, kept, other))
	m := b.connect()
	if resp, _ := m.roundTrip(httpGet("/kept/1")); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The kept upstream connection, this client and 61 others fill the
	// worker.
	fillSlots(b, 61)
	// Another upstream's request takes the idle connection's slot rather
	// than wait.
	if resp, body := m.roundTrip(httpGet("/other/2")); resp.StatusCode != 200 || body != "up /other/2" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if p := b.srv.Snapshot().Pressure; p.IdleUpstreamsClosed != 1 || p.Queued != 0 {
		t.Errorf("pressure %+v, want one idle upstream connection closed and nothing queued", p)
	}
	b.waitErrorLog("64 worker_connections are not enough, reusing connections")
	if n := accepts.Load(); n != 1 {
		t.Errorf("the kept upstream got %d connections, want 1", n)
	}
}

func TestBenchClientsWithoutAHeadGiveWayToWaitingClients(t *testing.T) {
	b := newBench(t, `server { listen 127.0.0.1:0; location / { return 200 "in"; } }`)
	// The worker's client budget is half its slots after the listener:
	// 31 clients. These send nothing.
	idle := fillSlots(b, 31)
	// A client over the budget waits in the listen backlog.
	c, err := net.Dial("tcp", b.addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// Once the idle clients have sent no head for 250 ms, the oldest
	// gives its slot to the one waiting, which is then served.
	if _, err := io.WriteString(c, httpGet("/", "Connection: close\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the waiting client: %v", err)
	}
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "in" {
		t.Errorf("the waiting client got %d %q", resp.StatusCode, body)
	}
	idle[0].waitClosed()
	for _, m := range idle[1:] {
		if _, closed := m.state(); closed {
			t.Error("more clients were closed than waited")
			break
		}
	}
	p := b.srv.Snapshot().Pressure
	if p.SlowHeadsClosed != 1 || p.AcceptPaused < 1 {
		t.Errorf("pressure %+v, want one client closed for its head and accept paused", p)
	}
	log := b.errorLog()
	for _, want := range []string{
		"worker 0 out of connection slots, accept paused until connections close",
		"worker 0 closed 1 connections that had sent no complete request head for 250ms, to let waiting clients in",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("error log lacks %q:\n%s", want, log)
		}
	}
}

func TestBenchGracefulShutdown(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "done")
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	for _, tc := range []struct {
		name    string
		timeout time.Duration
	}{
		{"requests finish", 0},
		{"worker_shutdown_timeout", 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
			m := b.connect()
			m.send(httpGet("/slow"))
			recvWithin(t, arrived, "the request at the upstream")
			done := b.srv.Drain(tc.timeout, true)
			// The worker begins the shutdown in its next round; this
			// waits for it, so that the upstream's answer comes after.
			b.do(func() {})
			if tc.timeout == 0 {
				// The request in progress finishes, on a connection that
				// closes after it.
				release <- struct{}{}
				resp := m.response("GET")
				if body := respBody(resp); resp.StatusCode != 200 || body != "done" || connField(resp) != "close" {
					t.Errorf("%d %q Connection %q, want 200 done close", resp.StatusCode, body, connField(resp))
				}
				m.shutWrite()
				b.wake()
			}
			recvWithin(t, done, "the server to end")
			// The loop has ended: the log is read from its file.
			log, _ := os.ReadFile(b.logPath)
			want := []string{"gracefully shutting down", "exiting"}
			if tc.timeout > 0 {
				want = append(want, "worker_shutdown_timeout: 1 connections closed")
			}
			for _, w := range want {
				if !strings.Contains(string(log), w) {
					t.Errorf("error log lacks %q:\n%s", w, log)
				}
			}
			// The listening socket is closed: new clients are refused.
			if c, err := net.DialTimeout("tcp", b.addrs[0], time.Second); err == nil {
				c.Close()
				t.Error("the listening socket still accepts after the shutdown")
			}
		})
	}
}
