package integration

import (
	"fmt"
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
