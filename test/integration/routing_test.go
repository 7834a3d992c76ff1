package integration

import (
	"fmt"
	"strings"
	"testing"
)

// TestProxyPassURI checks how the request URI is rewritten by proxy_pass
// with and without a URI part, and $proxy_host for named upstreams.
func TestProxyPassURI(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		// fragment is what reaches the upstream of a target with a
		// fragment passed on unchanged: nginx sends it whole, headroom
		// without the fragment (README, differences).
		fragment := func(target, frag string) string {
			if tg.isNginx() {
				return target + frag
			}
			return target
		}
		up := newUpstream(t, "up", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream backend {
        server %s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /api/ { proxy_pass http://backend/v1/; }
        location /plain/ { proxy_pass http://backend; }
        location /root/ { proxy_pass http://%s/; }
        location = /exact { proxy_pass http://backend/other; }
        location /noslash { proxy_pass http://backend/x; }
    }`, up.addr, up.addr))

		for _, tc := range []struct {
			target, wantTarget, wantHost string
		}{
			{"/api/x?y=1", "/v1/x?y=1", "backend"},
			{"/api/", "/v1/", "backend"},
			{"/api/a/b/c", "/v1/a/b/c", "backend"},
			// With a URI part the normalised, decoded URI is re-escaped:
			// dot segments are resolved, %41 becomes A, a space stays %20.
			{"/api/./q/../r", "/v1/r", "backend"},
			{"/api/%41%20b", "/v1/A%20b", "backend"},
			// Without a URI part the client's URI passes unchanged.
			{"/plain/a%20b?z", "/plain/a%20b?z", "backend"},
			{"/plain/%41/./x", "/plain/%41/./x", "backend"},
			// A fragment chose the location with the path before it
			// and is cut from what passes on unchanged (nginx passes
			// it on, see fragment below); with a URI part only the URI
			// and the arguments go.
			{"/plain/a#/../../admin", fragment("/plain/a", "#/../../admin"), "backend"},
			{"/plain/a?k#f", fragment("/plain/a?k", "#f"), "backend"},
			{"/api/b?k#f", "/v1/b?k", "backend"},
			{"/root/deep/path?k=v", "/deep/path?k=v", up.addr},
			{"/exact?q=2", "/other?q=2", "backend"},
			{"/noslash-more", "/x-more", "backend"},
			{"/noslash/abc", "/x/abc", "backend"},
		} {
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip("GET " + tc.target + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if resp.Status != 200 {
				t.Errorf("%s: status %d\n%s", tc.target, resp.Status, resp)
				continue
			}
			ur := up.lastRequest()
			if ur.Target != tc.wantTarget {
				t.Errorf("%s: upstream got %q, want %q", tc.target, ur.Target, tc.wantTarget)
			}
			if got := ur.Headers.get("Host"); got != tc.wantHost {
				t.Errorf("%s: upstream Host %q, want %q", tc.target, got, tc.wantHost)
			}
		}
	})
}

// TestLocationMatching checks nginx's location selection: exact match,
// then the longest prefix, where ^~ stops the regex search; otherwise the
// first matching regex in configuration order wins, and nested locations
// are searched inside the selected prefix.
func TestLocationMatching(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location = / { return 200 "exact-root"; }
        location / { return 200 "prefix-root"; }
        location /images/ { return 200 "prefix-images"; }
        location ^~ /static/ { return 200 "noregex-static"; }
        location ~ \.(gif|jpg)$ { return 200 "regex-img"; }
        location ~* \.PNG$ { return 200 "regex-png-caseless"; }
        location /docs/ {
            location ~ \.md$ { return 200 "nested-md"; }
            return 200 "docs";
        }
        location /docs/api/ { return 200 "docs-api"; }
        location ~ ^/re/a { return 200 "regex-first"; }
        location ~ ^/re/ab { return 200 "regex-second"; }
        location = /exact { return 200 "exact"; }
        location /exact { return 200 "prefix-exact"; }
    }`)
		for _, tc := range []struct{ path, want string }{
			{"/", "exact-root"},
			{"/index.html", "prefix-root"},
			{"/?a=b", "exact-root"},
			{"/images/a.txt", "prefix-images"},
			{"/images/a.gif", "regex-img"},
			{"/static/a.gif", "noregex-static"},
			{"/x/a.png", "regex-png-caseless"},
			{"/x/a.PnG", "regex-png-caseless"},
			{"/x/a.GIF", "prefix-root"},
			{"/docs/readme.md", "nested-md"},
			{"/docs/x", "docs"},
			{"/docs/api/x", "docs-api"},
			// The longest prefix /docs/api/ has no nested regex; the
			// nested one of /docs/ is not consulted.
			{"/docs/api/x.md", "docs-api"},
			{"/docs/api/x.gif", "regex-img"},
			{"/re/abc", "regex-first"},
			{"/exact", "exact"},
			{"/exact/", "prefix-exact"},
			{"/exactly", "prefix-exact"},
			// Matching uses the decoded, normalised URI.
			{"/%64ocs/x", "docs"},
			{"/images/../static/a.gif", "noregex-static"},
			{"/a//docs/../images/x", "prefix-root"},
		} {
			st, h, body := get(t, p.url(tc.path))
			if st != 200 || body != tc.want {
				t.Errorf("%s: got %d %q, want 200 %q", tc.path, st, body, tc.want)
			}
			if ct, want := h.Get("Content-Type"), builtinType(tc.path); ct != want {
				t.Errorf("%s: Content-Type %q, want %q", tc.path, ct, want)
			}
		}
	})
}

// builtinType is the Content-Type nginx gives a "return" text answer
// without a types{} block: its built-in map covers html, gif and jpg (by
// case-insensitive extension), everything else gets default_type text/plain.
func builtinType(path string) string {
	path, _, _ = strings.Cut(path, "?")
	ext := strings.ToLower(path[strings.LastIndexByte(path, '.')+1:])
	switch {
	case !strings.Contains(path, "."):
		return "text/plain"
	case ext == "html":
		return "text/html"
	case ext == "gif":
		return "image/gif"
	case ext == "jpg":
		return "image/jpeg"
	}
	return "text/plain"
}

// TestServerNames checks virtual server selection by Host: exact name,
// then the longest wildcard starting with "*", then the longest wildcard
// ending with "*", then the first matching regex, else the default server
// of the listen socket.
func TestServerNames(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		var conf strings.Builder
		for _, s := range []struct{ names, listen, answer string }{
			{"first.test", "", "first"},
			{"www.example.com", "", "exact"},
			{"*.example.com", "", "wild-prefix"},
			{"*.sub.example.com", "", "wild-prefix-longer"},
			{"www.example.*", "", "wild-suffix"},
			{`~^api\d+\.example\.(com|org)$`, "", "regex"},
			{`~^api`, "", "regex-later"},
			{".example.net", "", "dot"},
			{"*.test.org", "", "prefix2"},
			{"www.test.*", "", "suffix2"},
			{"explicit-default.test", " default_server", "default"},
		} {
			fmt.Fprintf(&conf, `
    server {
        listen 127.0.0.1:{{PORT}}%s;
        server_name %s;
        location / { return 200 "%s"; }
    }`, s.listen, s.names, s.answer)
		}
		// A second port whose first server is its default.
		conf.WriteString(`
    server {
        listen 127.0.0.1:{{PORT1}};
        server_name one.test;
        location / { return 200 "port1-first"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        server_name two.test;
        location / { return 200 "port1-second"; }
    }`)
		p := startProxy(t, tg, conf.String())
		port1 := fmt.Sprintf("127.0.0.1:%d", p.ports[1])

		for _, tc := range []struct{ host, want string }{
			{"www.example.com", "exact"},
			{"WWW.Example.COM", "exact"},
			{"www.example.com:1234", "exact"},
			{"www.example.com.", "exact"},
			{"foo.example.com", "wild-prefix"},
			{"a.b.example.com", "wild-prefix"},
			{"x.sub.example.com", "wild-prefix-longer"},
			{"www.example.org", "wild-suffix"},
			{"api12.example.org", "regex"},
			// A wildcard beats a regex.
			{"api1.example.com", "wild-prefix"},
			{"api-x", "regex-later"},
			{"example.net", "dot"},
			{"x.example.net", "dot"},
			// A leading-* wildcard beats a trailing-* one.
			{"www.test.org", "prefix2"},
			{"www.test.net", "suffix2"},
			{"first.test", "first"},
			{"unknown.test", "default"},
			{"127.0.0.1", "default"},
		} {
			resp := sendRaw(t, p.addr, "GET / HTTP/1.1\r\nHost: "+tc.host+"\r\nConnection: close\r\n\r\n")
			if resp.Status != 200 || string(resp.Body) != tc.want {
				t.Errorf("Host %s: got %d %q, want 200 %q", tc.host, resp.Status, resp.Body, tc.want)
			}
		}
		// HTTP/1.0 without Host goes to the default server.
		resp := sendRaw(t, p.addr, "GET / HTTP/1.0\r\n\r\n")
		if string(resp.Body) != "default" {
			t.Errorf("HTTP/1.0 without Host: got %q, want default", resp.Body)
		}
		for _, tc := range []struct{ host, want string }{
			{"two.test", "port1-second"},
			{"www.example.com", "port1-first"},
		} {
			resp := sendRaw(t, port1, "GET / HTTP/1.1\r\nHost: "+tc.host+"\r\nConnection: close\r\n\r\n")
			if string(resp.Body) != tc.want {
				t.Errorf("port1 Host %s: got %q, want %q", tc.host, resp.Body, tc.want)
			}
		}
	})
}

// TestReturnRedirect checks "return" with redirect codes: a relative
// Location is made absolute from the Host header (or the local address when
// there is none) and the listen port, as nginx does with absolute_redirect
// on and server_name_in_redirect off.
func TestReturnRedirect(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        server_name redirect.test;
        location /rel { return 301 /x; }
        location /abs { return 302 http://other.example/abs; }
        location /tmp { return 307 /t?a=1; }
        location /text { return 404 "not here\n"; }
        location /bare { return 204; }
    }`)
		port := p.port
		for _, tc := range []struct {
			req        string
			status     int
			statusLine string
			location   string
		}{
			{"GET /rel HTTP/1.1\r\nHost: localhost\r\n\r\n", 301, "HTTP/1.1 301 Moved Permanently", fmt.Sprintf("http://localhost:%d/x", port)},
			{"GET /rel HTTP/1.1\r\nHost: Example.ORG:9999\r\n\r\n", 301, "", fmt.Sprintf("http://example.org:%d/x", port)},
			{"GET /rel HTTP/1.0\r\n\r\n", 301, "", fmt.Sprintf("http://127.0.0.1:%d/x", port)},
			{"GET /abs HTTP/1.1\r\nHost: localhost\r\n\r\n", 302, "HTTP/1.1 302 Moved Temporarily", "http://other.example/abs"},
			{"GET /tmp HTTP/1.1\r\nHost: h\r\n\r\n", 307, "HTTP/1.1 307 Temporary Redirect", fmt.Sprintf("http://h:%d/t?a=1", port)},
		} {
			resp := sendRaw(t, p.addr, tc.req)
			if resp.Status != tc.status {
				t.Errorf("%q: status %d, want %d", tc.req, resp.Status, tc.status)
			}
			if tc.statusLine != "" && resp.StatusLine != tc.statusLine {
				t.Errorf("%q: status line %q, want %q", tc.req, resp.StatusLine, tc.statusLine)
			}
			if got := resp.header("Location"); got != tc.location {
				t.Errorf("%q: Location %q, want %q", tc.req, got, tc.location)
			}
			if ct := resp.header("Content-Type"); ct != "text/html" {
				t.Errorf("%q: Content-Type %q, want text/html (the built-in page)", tc.req, ct)
			}
			if !strings.Contains(string(resp.Body), fmt.Sprintf("<title>%d ", tc.status)) {
				t.Errorf("%q: body %q lacks the built-in page", tc.req, resp.Body)
			}
		}
		resp := sendRaw(t, p.addr, "GET /text HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.Status != 404 || string(resp.Body) != "not here\n" || resp.header("Content-Type") != "text/plain" {
			t.Errorf("return 404 text: got\n%s", resp)
		}
		resp = sendRaw(t, p.addr, "GET /bare HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.Status != 204 || resp.Headers.has("Content-Length") || resp.Headers.has("Transfer-Encoding") {
			t.Errorf("return 204: got\n%s", resp)
		}
	})
}

// TestAddHeader checks add_header: without "always" only on 200, 201, 204,
// 206, 301, 302, 303, 304, 307 and 308; with "always" on every status; and
// a level with its own add_header does not inherit the outer ones.
func TestAddHeader(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			switch r.Target {
			case "/px/500":
				c.respond(500, "boom")
			case "/px/302":
				c.respond(302, "", "Location: http://elsewhere/")
			default:
				c.respond(200, "fine")
			}
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        add_header X-Server s;
        location /ok { add_header X-A a; add_header X-B b always; return 200 "ok"; }
        location /nf { add_header X-A a; add_header X-B b always; return 404 "nf"; }
        location /mv { add_header X-A a; add_header X-B b always; return 301 /elsewhere; }
        location /px/ { add_header X-A a; add_header X-B b always; proxy_pass http://%s; }
        location /inherit { return 200 "inherit"; }
        location /inherit404 { return 404; }
    }`, up.addr))
		for _, tc := range []struct {
			path      string
			status    int
			want, not []string
		}{
			{"/ok", 200, []string{"X-A", "X-B"}, []string{"X-Server"}},
			{"/nf", 404, []string{"X-B"}, []string{"X-A", "X-Server"}},
			{"/mv", 301, []string{"X-A", "X-B"}, []string{"X-Server"}},
			{"/px/200", 200, []string{"X-A", "X-B"}, []string{"X-Server"}},
			{"/px/500", 500, []string{"X-B"}, []string{"X-A"}},
			{"/px/302", 302, []string{"X-A", "X-B"}, nil},
			{"/inherit", 200, []string{"X-Server"}, []string{"X-A", "X-B"}},
			{"/inherit404", 404, nil, []string{"X-Server"}},
		} {
			resp := sendRaw(t, p.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if resp.Status != tc.status {
				t.Errorf("%s: status %d, want %d", tc.path, resp.Status, tc.status)
			}
			for _, h := range tc.want {
				if !resp.Headers.has(h) {
					t.Errorf("%s: missing %s\n%s", tc.path, h, resp.Headers)
				}
			}
			for _, h := range tc.not {
				if resp.Headers.has(h) {
					t.Errorf("%s: unexpected %s\n%s", tc.path, h, resp.Headers)
				}
			}
		}
	})
}
