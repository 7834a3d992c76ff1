package integration

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ssLines runs ss with args and returns its lines without header; the
// test is skipped where ss is missing.
func ssLines(t *testing.T, args ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed: socket states not checked")
	}
	out, err := exec.Command("ss", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ss %v: %v\n%s", args, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestListenDeferred checks listen's deferred (TCP_DEFER_ACCEPT), as
// nginx has it: a connection that has sent nothing stays with the kernel
// (its server side still in SYN-RECV, holding no slot of the server),
// and one whose request comes in pieces, the first of which made the
// kernel hand it over, is still read to its end and kept alive.
func TestListenDeferred(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}} deferred;
        location / { return 200 "deferred $request_uri\n"; }
    }`)
		silent := dialRaw(t, p.addr)
		time.Sleep(200 * time.Millisecond)
		filter := fmt.Sprintf("sport = :%d", p.port)
		if n := len(ssLines(t, "-tnH", "state", "syn-recv", filter)); n != 1 {
			t.Errorf("%d connections of the server in SYN-RECV while a client sends nothing, want 1 (deferred)", n)
		}
		if n := len(ssLines(t, "-tnH", "state", "established", filter)); n != 0 {
			t.Errorf("%d server-side connections established before any data came, want 0", n)
		}
		if r := silent.roundTrip("GET /late HTTP/1.1\r\nHost: x\r\n\r\n"); r.Status != 200 || string(r.Body) != "deferred /late\n" {
			t.Errorf("request after a silent start: %d %q", r.Status, r.Body)
		}

		rc := dialRaw(t, p.addr)
		rc.write("GET /split HTTP/1.1\r\n")
		time.Sleep(100 * time.Millisecond)
		rc.write("Host: x\r\n\r\n")
		if r := rc.read("GET"); r.Status != 200 || string(r.Body) != "deferred /split\n" {
			t.Errorf("request in two pieces: %d %q", r.Status, r.Body)
		}
		if r := rc.roundTrip("GET /again HTTP/1.1\r\nHost: x\r\n\r\n"); r.Status != 200 || string(r.Body) != "deferred /again\n" {
			t.Errorf("second request on the connection: %d %q", r.Status, r.Body)
		}
		rc.write("GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if r := rc.read("GET"); r.Status != 200 {
			t.Errorf("closing request: %d", r.Status)
		}
		rc.expectClosed(2 * time.Second)
	})
}

// keepaliveTimer matches the keep-alive timer ss -o shows for a socket
// with SO_KEEPALIVE: "timer:(keepalive,29min,0)".
var keepaliveTimer = regexp.MustCompile(`timer:\(keepalive,(\d+)min`)

// TestListenSoKeepalive checks listen's so_keepalive=30m::10: the
// accepted connection keeps the listener's SO_KEEPALIVE with its
// TCP_KEEPIDLE of 30 minutes (the system's default is two hours), and a
// listen without it has no keep-alive timer.
func TestListenSoKeepalive(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}} so_keepalive=30m::10;
        location / { return 200; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        location / { return 200; }
    }`)
		for _, c := range []struct {
			port int
			want bool
		}{{p.port, true}, {p.ports[1], false}} {
			rc := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", c.port))
			if r := rc.roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); r.Status != 200 {
				t.Fatalf("port %d: status %d", c.port, r.Status)
			}
			lines := ssLines(t, "-tnoH", "state", "established", fmt.Sprintf("sport = :%d", c.port))
			if len(lines) != 1 {
				t.Fatalf("port %d: %d server-side connections, want 1: %q", c.port, len(lines), lines)
			}
			m := keepaliveTimer.FindStringSubmatch(lines[0])
			switch {
			case !c.want && m != nil:
				t.Errorf("port %d without so_keepalive has a keep-alive timer: %s", c.port, lines[0])
			case c.want && m == nil:
				t.Errorf("port %d with so_keepalive=30m::10 has no keep-alive timer: %s", c.port, lines[0])
			case c.want:
				if min, _ := strconv.Atoi(m[1]); min < 25 || min > 30 {
					t.Errorf("keep-alive timer at %s minutes, want about 30 (TCP_KEEPIDLE)", m[1])
				}
			}
		}
	})
}
