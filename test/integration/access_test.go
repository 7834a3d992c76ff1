package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestAccessRules checks allow and deny against nginx: rules are checked
// in order and the first that matches the client (127.0.0.1 here)
// decides, a level without rules inherits its parent's, "return" runs
// before them, and a denied request is answered 403 and logged as
// "access forbidden by rule".
func TestAccessRules(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "access", func(c *upConn, r *upRequest) { c.respond(200, "ok") })
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /deny-all/ { deny all; proxy_pass http://%[1]s; }
        location /allow-local/ { allow 127.0.0.1; deny all; proxy_pass http://%[1]s; }
        location /deny-local-net/ { deny 127.0.0.0/8; allow all; proxy_pass http://%[1]s; }
        location /other-net/ { allow 10.0.0.0/8; deny all; proxy_pass http://%[1]s; }
        location /v6-only/ { allow ::1; deny all; proxy_pass http://%[1]s; }
        location /no-match/ { deny 192.0.2.0/24; proxy_pass http://%[1]s; }
        location /return/ { deny all; return 200 "returned\n"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        deny 127.0.0.1;
        location /inherit/ { proxy_pass http://%[1]s; }
        location /override/ { allow all; proxy_pass http://%[1]s; }
    }`, up.addr))
		other := fmt.Sprintf("http://127.0.0.1:%d", p.ports[1])
		for _, c := range []struct {
			url  string
			want int
		}{
			{p.url("/deny-all/x"), 403},
			{p.url("/allow-local/x"), 200},
			{p.url("/deny-local-net/x"), 403},
			{p.url("/other-net/x"), 403},
			{p.url("/v6-only/x"), 403},
			{p.url("/no-match/x"), 200},
			{p.url("/return/x"), 200},
			{other + "/inherit/x", 403},
			{other + "/override/x", 200},
		} {
			if st, _, _ := get(t, c.url); st != c.want {
				t.Errorf("%s: %d, want %d", c.url, st, c.want)
			}
		}
		p.stop()
		if n := strings.Count(p.readLog("error.log"), "access forbidden by rule, client: 127.0.0.1"); n != 5 {
			t.Errorf("%d lines \"access forbidden by rule\" in the error log, want 5", n)
		}
	})
}

// TestUnixListen checks "listen unix:path" against nginx: a request
// proxied to the server's own unix socket is answered there, where its
// client is "unix:" with no port, $server_addr names the socket,
// "allow unix:" and "deny unix:" decide, set_real_ip_from unix: trusts
// it, and the socket's file is gone once the server stops.
func TestUnixListen(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        listen unix:{{PREFIX}}/s.sock;
        location /via/ {
            proxy_pass http://unix:{{PREFIX}}/s.sock:/;
            proxy_set_header X-Real-IP 192.0.2.7;
        }
        location /vars { return 200 "[$remote_addr] [$remote_port] [$server_addr] [$server_port]\n"; }
        location /allow-unix { allow unix:; deny all; }
        location /deny-unix { deny unix:; }
        location /realip { set_real_ip_from unix:; add_header X-IP "$remote_addr $realip_remote_addr"; }
    }`)
		for _, name := range []string{"allow-unix", "deny-unix", "realip"} {
			writeHTML(t, p, name, "in\n")
		}
		sock := p.prefix + "/s.sock"
		for _, c := range []struct {
			path string
			want int
			body string
		}{
			{"/via/vars", 200, "[unix:] [] [unix:" + sock + "] []\n"},
			{"/via/allow-unix", 200, "in\n"},
			{"/allow-unix", 403, ""},
			{"/via/deny-unix", 403, ""},
			{"/deny-unix", 200, "in\n"},
			{"/via/realip", 200, "in\n"},
		} {
			st, _, body := get(t, p.url(c.path))
			if st != c.want || c.body != "" && string(body) != c.body {
				t.Errorf("%s: %d %q, want %d %q", c.path, st, body, c.want, c.body)
			}
		}
		if _, h, _ := get(t, p.url("/via/realip")); h.Get("X-IP") != "192.0.2.7 unix:" {
			t.Errorf("/via/realip: X-IP %q, want %q", h.Get("X-IP"), "192.0.2.7 unix:")
		}
		p.stop()
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("the socket file is still there after the stop (%v)", err)
		}
	})
}
