package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// These tests run the same auth_request configurations against nginx and
// headroom (each location proxies, since return would answer before the
// access phase): the subrequest's status deciding (2xx, 401 with its
// WWW-Authenticate, 403, anything else), auth_request_set's variables in
// the answer and in what goes upstream, satisfy with the allow and deny
// rules, error_page over the refusal, and a request body that reaches the
// upstream whole while the subrequest gets none.

// authUpstream answers /check with the status the client's X-Want field
// asks for (its subrequest has the client's fields), naming a user on a
// 2xx and asking for credentials twice on a 401; /echo answers the body
// and the X-User field it was sent.
func authUpstream(t *testing.T) *upstream {
	return newUpstream(t, "auth", func(c *upConn, r *upRequest) {
		switch {
		case strings.HasPrefix(r.Target, "/check"):
			code, _ := strconv.Atoi(r.Headers.get("X-Want"))
			if code == 0 {
				code = 200
			}
			var extra []string
			switch {
			case code < 300:
				extra = append(extra, "X-User: alice")
			case code == 401:
				extra = append(extra, `WWW-Authenticate: Basic realm="first"`, `WWW-Authenticate: Basic realm="second"`)
			}
			c.respond(code, "decision body\n", extra...)
		case strings.HasPrefix(r.Target, "/echo"):
			c.respond(200, fmt.Sprintf("user=%s body=%s", r.Headers.get("X-User"), r.Body))
		default:
			c.respond(404, "")
		}
	})
}

func TestAuthRequestAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := authUpstream(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location = /auth {
            internal;
            proxy_pass http://%[1]s/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location = /auth-down {
            internal;
            proxy_pass http://127.0.0.1:{{PORT1}}/check;
        }
        location /p/ {
            auth_request /auth;
            auth_request_set $user $upstream_http_x_user;
            auth_request_set $st "s$upstream_status";
            add_header X-User $user always;
            add_header X-St $st always;
            proxy_pass http://%[1]s/echo;
        }
        location /down/ { auth_request /auth-down; proxy_pass http://%[1]s/echo; }
        location /any/ { satisfy any; allow 127.0.0.1; deny all; auth_request /auth; proxy_pass http://%[1]s/echo; }
        location /anydeny/ { satisfy any; deny all; auth_request /auth; proxy_pass http://%[1]s/echo; }
        location /alldeny/ { deny all; auth_request /auth; proxy_pass http://%[1]s/echo; }
        location /ep/ { auth_request /auth; error_page 401 = @login; proxy_pass http://%[1]s/echo; }
        location @login { return 302 /login; }
        location /up/ {
            auth_request /auth;
            auth_request_set $user $upstream_http_x_user;
            proxy_set_header X-User $user;
            proxy_pass http://%[1]s/echo;
        }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        return 444;
    }`, up.addr))
		for _, tc := range []struct {
			name, path, want        string
			status                  int
			body, header, headerVal string
		}{
			{"200 lets it through, with the variables", "/p/x", "200", 200, "user= body=", "X-User", "alice"},
			{"204 lets it through", "/p/x", "204", 200, "user= body=", "X-St", "s204"},
			{"401 with the first WWW-Authenticate", "/p/x", "401", 401, "", "WWW-Authenticate", `Basic realm="first"`},
			{"401 sets the variables too", "/p/x", "401", 401, "", "X-St", "s401"},
			{"403", "/p/x", "403", 403, "", "X-St", "s403"},
			{"another status is 500", "/p/x", "404", 500, "", "X-St", "s404"},
			{"a subrequest that fails is 500", "/down/x", "200", 500, "", "", ""},
			{"satisfy any: an allow rule is enough", "/any/x", "403", 200, "user= body=", "", ""},
			{"satisfy any: a deny rule, then the subrequest lets it", "/anydeny/x", "200", 200, "user= body=", "", ""},
			{"satisfy any: both refuse, 401 wins", "/anydeny/x", "401", 401, "", "WWW-Authenticate", `Basic realm="first"`},
			{"satisfy any: both refuse with 403", "/anydeny/x", "403", 403, "", "", ""},
			{"satisfy all: a deny rule answers first", "/alldeny/x", "200", 403, "", "", ""},
			{"error_page over the 401", "/ep/x", "401", 302, "", "Location", "/login"},
			{"a variable of the subrequest goes upstream", "/up/x", "200", 200, "user=alice body=", "", ""},
		} {
			r := sendRaw(t, p.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: h\r\nX-Want: "+tc.want+"\r\nConnection: close\r\n\r\n")
			bad := r.Status != tc.status || (tc.body != "" && string(r.Body) != tc.body) ||
				(tc.header != "" && !strings.HasSuffix(r.header(tc.header), tc.headerVal))
			if bad {
				t.Errorf("%s: got\n%s", tc.name, r)
			}
		}

		// The body reaches the upstream whole; the subrequest gets none.
		before := len(up.requests())
		r := sendRaw(t, p.addr, "POST /up/x HTTP/1.1\r\nHost: h\r\nX-Want: 200\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
		if r.Status != 200 || string(r.Body) != "user=alice body=hello" {
			t.Errorf("POST through auth_request: got\n%s", r)
		}
		reqs := up.requests()[before:]
		if len(reqs) != 2 || !strings.HasPrefix(reqs[0].Target, "/check") || reqs[0].Method != "GET" || len(reqs[0].Body) != 0 {
			t.Errorf("the upstream saw %d requests, want the subrequest (a GET without a body) then the POST: %v", len(reqs), reqs)
		}

		// satisfy all with a deny rule asks nobody.
		before = len(up.requests())
		sendRaw(t, p.addr, "GET /alldeny/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if n := len(up.requests()) - before; n != 0 {
			t.Errorf("a request the rules deny made %d subrequests", n)
		}
		if !strings.Contains(p.readLog("error.log"), "auth request unexpected status: 404") {
			t.Errorf("no \"auth request unexpected status: 404\" in the error log")
		}
	})
}
