package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// unixUpstream serves on a unix domain socket: it answers each request
// with its request line and Host field, and records the peer address
// form the proxy used.
type unixUpstream struct {
	path string
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newUnixUpstream(t *testing.T, dir string) *unixUpstream {
	t.Helper()
	path := filepath.Join(dir, "up.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// nginx's workers may run as another user.
	os.Chmod(path, 0o777)
	u := &unixUpstream{path: path, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				line, _ := br.ReadString('\n')
				h, _ := readHeaderLines(br)
				got := strings.TrimSpace(line) + " host=" + h.get("Host")
				u.mu.Lock()
				u.seen = append(u.seen, got)
				u.mu.Unlock()
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(got), got)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return u
}

// TestUpstreamUnixSocket checks upstream servers on unix domain sockets,
// named in an upstream block and in proxy_pass itself: the request goes
// there with Host "localhost" for the proxy_pass form (nginx's
// $proxy_host for a unix socket), $upstream_addr is "unix:PATH", and a
// URI part after the path replaces the location's prefix.
func TestUpstreamUnixSocket(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := makePrefix(t)
		up := newUnixUpstream(t, dir)
		p := startProxy(t, tg, fmt.Sprintf(`
    log_format u "$upstream_addr|$proxy_host|$proxy_port|";
    upstream g { server unix:%[1]s; }
    server {
        listen 127.0.0.1:{{PORT}};
        access_log {{PREFIX}}/logs/u.log u;
        location /a/ { proxy_pass http://unix:%[1]s:/x/; }
        location /b/ { proxy_pass http://g; }
        location /c/ { proxy_pass http://unix:%[1]s; }
    }`, up.path))
		cases := []struct{ path, want string }{
			{"/a/q?z=1", "GET /x/q?z=1 HTTP/1.0 host=localhost"},
			{"/b/r", "GET /b/r HTTP/1.0 host=g"},
			{"/c/s", "GET /c/s HTTP/1.0 host=localhost"},
		}
		for _, c := range cases {
			st, body := get1(t, p, "GET", c.path)
			if st != 200 || body != c.want {
				t.Errorf("%s: %d %q, want 200 %q", c.path, st, body, c.want)
			}
		}
		deadline := time.Now().Add(3 * time.Second)
		var lines []string
		for time.Now().Before(deadline) {
			lines = logLines(p.readLog("u.log"))
			if len(lines) >= 3 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		want := []string{
			"unix:" + up.path + "|localhost||",
			"unix:" + up.path + "|g|80|",
			"unix:" + up.path + "|localhost||",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("access log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestProxyBindAndNextUpstreamTimeout checks proxy_bind (the upstream
// sees connections from the bound loopback address) and
// proxy_next_upstream_timeout (no next server once the time since the
// first try has passed: the client gets the first failure's 504).
func TestProxyBindAndNextUpstreamTimeout(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		var mu sync.Mutex
		var remote string
		good := newUpstream(t, "good", func(c *upConn, r *upRequest) {
			mu.Lock()
			remote, _, _ = net.SplitHostPort(c.RemoteAddr().String())
			mu.Unlock()
			c.respond(200, "good")
		})
		// Answers nothing: the first try times out.
		silent := newUpstream(t, "silent", func(c *upConn, r *upRequest) { c.sleep(3 * time.Second) })
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream slowfirst {
        server %[2]s max_fails=0;
        server %[1]s max_fails=0;
    }
    upstream slowfirst2 {
        server %[2]s max_fails=0;
        server %[1]s max_fails=0;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /bind/ { proxy_pass http://%[1]s; proxy_bind 127.0.0.2; }
        location /retry/ { proxy_pass http://slowfirst; proxy_read_timeout 300ms; }
        location /limited/ { proxy_pass http://slowfirst2; proxy_read_timeout 300ms; proxy_next_upstream_timeout 200ms; }
    }`, good.addr, silent.addr))

		if st, body := get1(t, p, "GET", "/bind/x"); st != 200 || body != "good" {
			t.Fatalf("bind: %d %q", st, body)
		}
		mu.Lock()
		if remote != "127.0.0.2" {
			t.Errorf("the upstream saw a connection from %s, want 127.0.0.2", remote)
		}
		mu.Unlock()

		// Round robin starts with the silent server in each group.
		if st, body := get1(t, p, "GET", "/retry/x"); st != 200 || body != "good" {
			t.Errorf("without proxy_next_upstream_timeout: %d %q, want 200 from the second server", st, body)
		}
		if st, _ := get1(t, p, "GET", "/limited/x"); st != 504 {
			t.Errorf("with proxy_next_upstream_timeout 200ms after a 300ms timeout: %d, want 504", st)
		}
	})
}
