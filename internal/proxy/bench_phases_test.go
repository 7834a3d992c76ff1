package proxy

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"headroom/internal/observe"
)

// These tests follow a request through its phases as nginx orders them:
// the server block and location it is routed to, "return" (rewrite
// phase, before anything else), limit_req and limit_conn (preaccess),
// allow and deny (access), client_max_body_size, the answer to
// "Expect: 100-continue" and nginx's own error pages and redirects.

// countingUpstream starts an upstream that answers "up PATH" and counts
// the requests it gets.
func countingUpstream(t *testing.T) (addr string, count *atomic.Int64) {
	count = new(atomic.Int64)
	addr = goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		count.Add(1)
		fmt.Fprintf(w, "up %s", r.URL.RequestURI())
	})
	return addr, count
}

// recvWithin waits for a value from ch, failing the test after 10 s rather
// than hanging it.
func recvWithin[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10 s for %s", what)
		panic("unreachable")
	}
}

func TestBenchServerBlockByHost(t *testing.T) {
	addr := freeAddr(t)
	b := newBench(t, strings.ReplaceAll(`
		server { listen ADDR; server_name first.test; return 200 "first"; }
		server { listen ADDR default_server; server_name marked.test; return 200 "default"; }
		server { listen ADDR; server_name exact.test www.exact.test; return 200 "exact"; }
		server { listen ADDR; server_name *.exact.test; return 200 "wildcard of exact"; }
		server { listen ADDR; server_name *.wild.test; return 200 "leading wildcard"; }
		server { listen ADDR; server_name www.suffix.*; return 200 "trailing wildcard"; }
		server { listen ADDR; server_name ~^api\d+\.test$; return 200 "regex"; }
	`, "ADDR", addr))
	for _, tc := range []struct{ name, req, want string }{
		{"exact", httpGet("/"), "default"},
		{"exact name", "GET / HTTP/1.1\r\nHost: exact.test\r\n\r\n", "exact"},
		{"second exact name", "GET / HTTP/1.1\r\nHost: www.exact.test\r\n\r\n", "exact"},
		{"case, port and trailing dot", "GET / HTTP/1.1\r\nHost: EXACT.Test.:8080\r\n\r\n", "exact"},
		{"leading wildcard", "GET / HTTP/1.1\r\nHost: a.exact.test\r\n\r\n", "wildcard of exact"},
		{"leading wildcard, two labels", "GET / HTTP/1.1\r\nHost: a.b.wild.test\r\n\r\n", "leading wildcard"},
		{"leading wildcard needs a label", "GET / HTTP/1.1\r\nHost: wild.test\r\n\r\n", "default"},
		{"trailing wildcard", "GET / HTTP/1.1\r\nHost: www.suffix.org\r\n\r\n", "trailing wildcard"},
		{"regex", "GET / HTTP/1.1\r\nHost: api12.test\r\n\r\n", "regex"},
		{"regex not matching", "GET / HTTP/1.1\r\nHost: apix.test\r\n\r\n", "default"},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", "default"},
		{"absolute target wins over Host", "GET http://exact.test/x HTTP/1.1\r\nHost: other.test\r\n\r\n", "exact"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			resp, body := b.connect().roundTrip(tc.req)
			if resp.StatusCode != 200 || body != tc.want {
				t.Errorf("%d %q, want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

func TestBenchLocationChoice(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /exact { return 200 "exact"; }
		location / { return 200 "root"; }
		location /pre/ { return 200 "prefix"; }
		location /pre/longer/ { return 200 "longer prefix"; }
		location ^~ /stop/ { return 200 "no regex"; }
		location ~ \.php$ { return 200 "regex"; }
		location ~* \.jpg$ { return 200 "caseless regex"; }
		location /outer/ { location /outer/inner/ { return 200 "nested"; } }
	}`)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/exact", 200, "exact"},
		{"/exact/more", 200, "root"},
		{"/pre/a", 200, "prefix"},
		{"/pre/longer/a", 200, "longer prefix"},
		{"/pre/a.php", 200, "regex"},
		{"/stop/a.php", 200, "no regex"},
		{"/x.JPG", 200, "caseless regex"},
		{"/x.PHP", 200, "root"},
		{"/outer/inner/a", 200, "nested"},
		{"/outer/inner/a.php", 200, "regex"},
		// A location without proxy_pass or return, for a path with no
		// file behind it: 404, as nginx answers.
		{"/outer/a", 404, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			resp, body := b.connect().roundTrip(httpGet(tc.path))
			if resp.StatusCode != tc.status || (tc.want != "" && body != tc.want) {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
}

func TestBenchReturnForms(t *testing.T) {
	b := newBench(t, `log_format st '$request_uri $status';
		server {
		listen 127.0.0.1:0;
		access_log logs/access.log st;
		location = /text { return 200 "text $uri\n"; }
		location = /page.html { return 200 "<p>"; }
		location = /empty { return 200; }
		location = /nocontent { return 204; }
		location = /moved { return 301 /new?a=1; }
		location = /found { return 302 http://other.test/x; }
		location = /url { return http://other.test/y; }
		location = /see { return 303 "/s"; }
		location = /gone { return 410; }
		location = /notfoundtext { return 404 "nf\n"; }
	}`)
	port := b.addrs[0][strings.LastIndex(b.addrs[0], ":")+1:]
	for _, tc := range []struct {
		path, method string
		status       int
		ctype, body  string
		// location is the Location header wanted, page the error page
		// title wanted in the body.
		location, page string
	}{
		{"/text", "GET", 200, "text/plain", "text /text\n", "", ""},
		{"/text", "HEAD", 200, "text/plain", "", "", ""},
		{"/page.html", "GET", 200, "text/html", "<p>", "", ""},
		{"/empty", "GET", 200, "text/plain", "", "", ""},
		{"/nocontent", "GET", 204, "", "", "", ""},
		{"/moved", "GET", 301, "text/html", "", "http://h:" + port + "/new?a=1", "301 Moved Permanently"},
		{"/found", "GET", 302, "text/html", "", "http://other.test/x", "302 Found"},
		{"/url", "GET", 302, "text/html", "", "http://other.test/y", "302 Found"},
		{"/see", "GET", 303, "text/html", "", "http://h:" + port + "/s", "303 See Other"},
		{"/gone", "GET", 410, "text/html", "", "", "410 Gone"},
		{"/notfoundtext", "GET", 404, "text/plain", "nf\n", "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			resp, body := m.roundTrip(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if tc.page != "" {
				if !strings.Contains(body, "<title>"+tc.page+"</title>") || !strings.Contains(body, "<hr><center>headroom/test</center>") {
					t.Errorf("body %q is not the error page %q", body, tc.page)
				}
			} else if body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if tc.status == 204 {
				if _, ok := resp.Header["Content-Length"]; ok {
					t.Error("a 204 has a Content-Length")
				}
			}
			if connField(resp) != "keep-alive" {
				t.Errorf("Connection %q, want keep-alive", connField(resp))
			}
		})
	}
}

func TestBenchReturn444ClosesWithoutAnswer(t *testing.T) {
	b := newBench(t, `log_format st '$request_uri $status';
		server {
		listen 127.0.0.1:0;
		access_log logs/access.log st;
		location = /drop { return 444; }
		location = /text { return 444 "text"; }
	}`)
	for _, req := range []string{
		httpGet("/drop"),
		// Not even "100 Continue" goes before the close.
		"POST /drop HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
	} {
		m := b.connect()
		m.send(req)
		if out := m.waitClosed(); len(out) != 0 {
			t.Errorf("return 444 sent %q", out)
		}
	}
	// With a text, 444 is an ordinary answer with an empty reason.
	m := b.connect()
	m.send(httpGet("/text", "Connection: close\r\n"))
	out := string(m.waitEnded())
	if !strings.HasPrefix(out, "HTTP/1.1 444 \r\n") || !strings.HasSuffix(out, "\r\n\r\ntext") {
		t.Errorf("return 444 \"text\" sent %q", out)
	}
	if got := strings.Join(b.accessLines(3), "\n"); got != "/drop 444\n/drop 444\n/text 444" {
		t.Errorf("access log:\n%s", got)
	}
}

func TestBenchAddHeader(t *testing.T) {
	up, _ := countingUpstream(t)
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		add_header X-A "a";
		add_header X-B "b" always;
		add_header X-Empty "$http_x_none";
		location / { return 200 "ok"; }
		location /nf { return 404; }
		location /up/ { proxy_pass http://`+up+`; }
		location /own/ { add_header X-Own "own $uri"; return 200 "ok"; }
	}`)
	for _, tc := range []struct {
		path   string
		status int
		want   map[string]string
	}{
		// Without "always" only successful and redirect answers get
		// the field; an empty value adds none.
		{"/", 200, map[string]string{"X-A": "a", "X-B": "b", "X-Empty": ""}},
		{"/nf", 404, map[string]string{"X-A": "", "X-B": "b"}},
		{"/up/x", 200, map[string]string{"X-A": "a", "X-B": "b"}},
		// A level with add_header of its own inherits none.
		{"/own/x", 200, map[string]string{"X-A": "", "X-B": "", "X-Own": "own /own/x"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			resp, _ := b.connect().roundTrip(httpGet(tc.path))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			for name, want := range tc.want {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestBenchRedirectToLocationSlash(t *testing.T) {
	up, count := countingUpstream(t)
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location /api/ { proxy_pass http://`+up+`; }
		location = /docs { return 200 "exact docs"; }
		location /docs/ { proxy_pass http://`+up+`; }
	}`)
	port := b.addrs[0][strings.LastIndex(b.addrs[0], ":")+1:]
	resp, body := b.connect().roundTrip(httpGet("/api?x=1"))
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "http://h:"+port+"/api/?x=1" || !strings.Contains(body, "301 Moved Permanently") {
		t.Errorf("/api: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// An exact location for the path itself comes first.
	if resp, body := b.connect().roundTrip(httpGet("/docs")); resp.StatusCode != 200 || body != "exact docs" {
		t.Errorf("/docs: %d %q", resp.StatusCode, body)
	}
	if resp, body := b.connect().roundTrip(httpGet("/api/")); resp.StatusCode != 200 || body != "up /api/" {
		t.Errorf("/api/: %d %q", resp.StatusCode, body)
	}
	if n := count.Load(); n != 1 {
		t.Errorf("the upstream got %d requests, want 1", n)
	}
}

func TestBenchExactLocationBeforeSlashRedirectInAnyOrder(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location /docs/ { proxy_pass http://127.0.0.1:9; }
		location = /docs { return 200 "exact docs"; }
	}`)
	// nginx finds locations in a tree by name, not in configuration
	// order: the exact "/docs" is found whether it comes before or after
	// "/docs/", and its match ends the search.
	resp, body := b.connect().roundTrip(httpGet("/docs"))
	if resp.StatusCode == 301 {
		t.Fatal(`differs from nginx: "location = /docs" after "location /docs/ { proxy_pass ...; }" does not take "/docs", which gets the 301 to "/docs/"; nginx serves it from the exact location in either order`)
	}
	if resp.StatusCode != 200 || body != "exact docs" {
		t.Errorf("%d %q, want the exact location's answer", resp.StatusCode, body)
	}
}

func TestBenchNotFoundWithoutHandler(t *testing.T) {
	b := newBench(t, `server { listen 127.0.0.1:0; location /only/ { return 200 "ok"; } }`)
	m := b.connect()
	// No location matches and nothing serves the path: nginx's 404 page,
	// on a connection kept.
	for _, path := range []string{"/elsewhere", "/other/x.html"} {
		resp, body := m.roundTrip(httpGet(path))
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "text/html" ||
			!strings.Contains(body, "<title>404 Not Found</title>") || connField(resp) != "keep-alive" {
			t.Errorf("%s: %d %q %q Connection %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body, connField(resp))
		}
	}
}

func TestBenchClientMaxBodySize(t *testing.T) {
	up, count := countingUpstream(t)
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		client_max_body_size 10;
		location / { proxy_pass http://`+up+`; }
		location /free/ { client_max_body_size 0; proxy_pass http://`+up+`; }
	}`)
	for _, tc := range []struct {
		name, req string
		status    int
		logged    string
	}{
		{"length at the limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", 200, ""},
		{"length over the limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890", 413,
			"client intended to send too large body: 11 bytes"},
		{"chunks over the limit", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n", 413,
			"client intended to send too large chunked body"},
		{"no limit", "POST /free/ HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			before := count.Load()
			m := b.connect()
			resp, body := m.roundTrip(tc.req)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %q, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status != 413 {
				if count.Load() != before+1 {
					t.Error("the request did not reach the upstream")
				}
				return
			}
			if !strings.Contains(body, "<title>413 Request Entity Too Large</title>") || connField(resp) != "close" {
				t.Errorf("body %q Connection %q, want the 413 page and close", body, connField(resp))
			}
			m.waitEnded()
			if count.Load() != before {
				t.Error("a body over client_max_body_size reached the upstream")
			}
			b.waitErrorLog(tc.logged)
		})
	}
}

func TestBenchTooLargeBodyLogContext(t *testing.T) {
	b := newBench(t, `server { listen 127.0.0.1:0; client_max_body_size 10; location / { proxy_pass http://127.0.0.1:9; } }`)
	b.connect().roundTrip("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n")
	log := b.waitErrorLog("client intended to send too large body: 11 bytes")
	// nginx writes the line through the request's log, whose handler
	// adds the server, the request line and the host.
	want := `client intended to send too large body: 11 bytes, client: 127.0.0.1, server: , request: "POST /big HTTP/1.1", host: "h"`
	if !strings.Contains(log, want) {
		if strings.Contains(log, "client intended to send too large body: 11 bytes, client: 127.0.0.1\n") {
			t.Fatal("differs from nginx: the client_max_body_size error line ends after the client address; nginx adds server, request and host")
		}
		t.Errorf("error log:\n%s\nwant a line with %q", log, want)
	}
}

func TestBenchAllowDeny(t *testing.T) {
	up, count := countingUpstream(t)
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /deny-all/ { deny all; proxy_pass http://%[1]s; }
		location /allow-local/ { allow 127.0.0.1; deny all; proxy_pass http://%[1]s; }
		location /deny-local-net/ { deny 127.0.0.0/8; allow all; proxy_pass http://%[1]s; }
		location /other-net/ { allow 10.0.0.0/8; deny all; proxy_pass http://%[1]s; }
		location /v6-only/ { allow ::1; deny all; proxy_pass http://%[1]s; }
		location /no-match/ { deny 192.0.2.0/24; proxy_pass http://%[1]s; }
		location /return/ { deny all; return 200 "returned"; }
		location /no-handler/ { deny all; }
	}`, up))
	denied := 0
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/deny-all/x", 403},
		{"/allow-local/x", 200},
		{"/deny-local-net/x", 403},
		{"/other-net/x", 403},
		{"/v6-only/x", 403},
		{"/no-match/x", 200},
		// return runs in the rewrite phase, before access.
		{"/return/x", 200},
		// Access comes before the content handler (or its absence).
		{"/no-handler/x", 403},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			before := count.Load()
			resp, body := b.connect().roundTrip(httpGet(tc.path))
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 403 {
				denied++
				if !strings.Contains(body, "<title>403 Forbidden</title>") || connField(resp) != "keep-alive" {
					t.Errorf("body %q Connection %q", body, connField(resp))
				}
				if count.Load() != before {
					t.Error("a denied request reached the upstream")
				}
			}
		})
	}
	log := b.errorLog()
	if n := strings.Count(log, "access forbidden by rule, client: 127.0.0.1, server: , request: \"GET "); n != denied {
		t.Errorf("%d lines \"access forbidden by rule\", want %d:\n%s", n, denied, log)
	}
}

func TestBenchLimitReq(t *testing.T) {
	up, _ := countingUpstream(t)
	b := newBench(t, fmt.Sprintf(`
		limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
		limit_req_zone $binary_remote_addr zone=st:1m rate=1r/s;
		limit_req_zone $binary_remote_addr zone=burst:1m rate=1r/s;
		limit_req_zone $binary_remote_addr zone=dry:1m rate=1r/s;
		limit_req_zone $binary_remote_addr zone=fast:1m rate=5r/s;
		server {
			listen 127.0.0.1:0;
			location /one/ { limit_req zone=one; proxy_pass http://%[1]s; }
			location /status/ { limit_req zone=st; limit_req_status 429; proxy_pass http://%[1]s; }
			location /burst/ { limit_req zone=burst burst=1 nodelay; proxy_pass http://%[1]s; }
			location /dry/ { limit_req zone=dry; limit_req_dry_run on; proxy_pass http://%[1]s; }
			location /delay/ { limit_req zone=fast burst=5; proxy_pass http://%[1]s; }
			location /return/ { limit_req zone=one; return 200 "returned"; }
		}`, up))
	for _, tc := range []struct {
		path  string
		codes []int
	}{
		{"/one/", []int{200, 503}},
		{"/status/", []int{200, 429}},
		{"/burst/", []int{200, 200, 503}},
		{"/dry/", []int{200, 200, 200}},
		// The second request comes within the rate's 200 ms: it is
		// held back, then served.
		{"/delay/", []int{200, 200}},
		// return answers before limit_req's phase.
		{"/return/", []int{200, 200}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			// Every request is in before the first answer is read, so
			// that they come well within the rate however slowly the
			// upstream answers.
			conns := make([]*memConn, len(tc.codes))
			for i := range conns {
				conns[i] = b.connect()
				conns[i].send(httpGet(tc.path + "x"))
			}
			for i, want := range tc.codes {
				if resp := conns[i].response("GET"); resp.StatusCode != want {
					t.Errorf("request %d: %d, want %d", i+1, resp.StatusCode, want)
				}
			}
		})
	}
	log := b.errorLog()
	for _, want := range []string{
		`limiting requests, excess: `, `by zone "one"`, `by zone "st"`, `by zone "burst"`,
		`limiting requests, dry run, excess: `, `by zone "dry"`,
		`delaying request, excess: `, `by zone "fast"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("error log lacks %q", want)
		}
	}
	// The request was stopped before its upstream: the line names none.
	for _, line := range nonEmptyLines(log) {
		if strings.Contains(line, "limiting requests") && strings.Contains(line, "upstream:") {
			t.Errorf("a limited request's line names an upstream: %s", line)
		}
	}
	zones := map[string]observe.ZoneSnapshot{}
	for _, z := range b.srv.Snapshot().Zones {
		zones[z.Name] = z
	}
	if zones["one"].Rejected != 1 || zones["burst"].Rejected != 1 || zones["dry"].Rejected != 0 || zones["fast"].Delayed != 1 {
		t.Errorf("zone figures %+v", zones)
	}
}

func TestBenchLimitReqDelayedClientGoesAway(t *testing.T) {
	up, count := countingUpstream(t)
	b := newBench(t, `log_format st '$request_uri $status';
		limit_req_zone $binary_remote_addr zone=slow:1m rate=1r/m;
		server {
			listen 127.0.0.1:0;
			access_log logs/access.log st;
			location / { limit_req zone=slow burst=5; proxy_pass http://`+up+`; }
		}`)
	if resp, _ := b.connect().roundTrip(httpGet("/first")); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	// The second is held back for a minute; its client gives up.
	m := b.connect()
	m.send(httpGet("/second"))
	// The excess is one request, less what drained since the first.
	b.waitErrorLog(`, by zone "slow"`)
	if log := b.errorLog(); !regexp.MustCompile(`delaying request, excess: (1\.000|0\.9\d\d), by zone "slow"`).MatchString(log) {
		t.Errorf("error log:\n%s", log)
	}
	m.shutWrite()
	if out := m.waitClosed(); len(out) != 0 {
		t.Errorf("the client that went away got %q", out)
	}
	if lines := b.accessLines(2); lines[1] != "/second 499" {
		t.Errorf("access log %q, want the second request with 499", lines)
	}
	if n := count.Load(); n != 1 {
		t.Errorf("the upstream got %d requests, want 1", n)
	}
}

func TestBenchLimitConn(t *testing.T) {
	arrived := make(chan string, 10)
	release := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/hold") {
			arrived <- r.URL.Path
			<-release
		}
		io.WriteString(w, "ok")
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	b := newBench(t, fmt.Sprintf(`
		limit_conn_zone $binary_remote_addr zone=addr:1m;
		limit_conn_zone $binary_remote_addr zone=st:1m;
		limit_conn_zone $binary_remote_addr zone=dry:1m;
		server {
			listen 127.0.0.1:0;
			location /one/ { limit_conn addr 1; proxy_pass http://%[1]s; }
			location /status/ { limit_conn st 1; limit_conn_status 429; proxy_pass http://%[1]s; }
			location /dry/ { limit_conn dry 1; limit_conn_dry_run on; proxy_pass http://%[1]s; }
		}`, up))
	// Each location's first request is held by the upstream while a
	// second comes from the same address.
	holders := map[string]*memConn{}
	for _, tc := range []struct {
		prefix string
		second int
	}{
		{"/one/", 503},
		{"/status/", 429},
		{"/dry/", 200},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			holder := b.connect()
			holder.send(httpGet(tc.prefix + "hold"))
			recvWithin(t, arrived, "the held request at the upstream")
			holders[tc.prefix] = holder
			resp, _ := b.connect().roundTrip(httpGet(tc.prefix + "x"))
			if resp.StatusCode != tc.second {
				t.Errorf("second request: %d, want %d", resp.StatusCode, tc.second)
			}
		})
	}
	close(release)
	for prefix, holder := range holders {
		if resp := holder.response("GET"); resp.StatusCode != 200 {
			t.Errorf("%shold: %d", prefix, resp.StatusCode)
		}
	}
	// The counts ended with the requests.
	if resp, _ := b.connect().roundTrip(httpGet("/one/x")); resp.StatusCode != 200 {
		t.Errorf("after the held request ended: %d, want 200", resp.StatusCode)
	}
	log := b.errorLog()
	for _, want := range []string{`limiting connections by zone "addr"`, `limiting connections by zone "st"`, `limiting connections, dry run, by zone "dry"`} {
		if !strings.Contains(log, want) {
			t.Errorf("error log lacks %q", want)
		}
	}
	for _, z := range b.srv.Snapshot().Zones {
		if want := map[string]uint64{"addr": 1, "st": 1, "dry": 0}[z.Name]; z.Rejected != want {
			t.Errorf("zone %s rejected %d, want %d", z.Name, z.Rejected, want)
		}
	}
}

func TestBenchExpectContinue(t *testing.T) {
	up, _ := countingUpstream(t)
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location = /r404 { return 404; }
		location = /r404text { return 404 "nf\n"; }
		location = /r200 { return 200; }
		location = /r200text { return 200 "ok\n"; }
		location = /r301 { return 301 /x; }
		location = /r204 { return 204; }
		location = /deny { deny all; proxy_pass http://%[1]s; }
		location = /small { client_max_body_size 1; proxy_pass http://%[1]s; }
		location /dir/ { proxy_pass http://%[1]s; }
		location /p/ { proxy_pass http://%[1]s; }
	}`, up))
	// Answers with content of their own get "100 Continue" first, as
	// nginx's discarding of the body sends it; nginx's special
	// responses (error pages, its own redirects) get none.
	for _, tc := range []struct {
		path, body   string
		wantContinue bool
		status       int
	}{
		{"/r404", "Content-Length: 5", false, 404},
		{"/r404text", "Content-Length: 5", true, 404},
		{"/r200", "Content-Length: 5", true, 200},
		{"/r200text", "Content-Length: 0", true, 200},
		{"/r200text", "", true, 200},
		{"/r301", "Content-Length: 5", true, 301},
		{"/r204", "Content-Length: 5", true, 204},
		{"/deny", "Content-Length: 5", false, 403},
		{"/nowhere", "Content-Length: 5", false, 404},
		{"/small", "Content-Length: 5", false, 413},
		{"/dir", "Content-Length: 5", false, 301},
		{"/p/x", "Content-Length: 0", true, 200},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/")+" "+tc.body, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			req := "POST " + tc.path + " HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
			if tc.body != "" {
				req += tc.body + "\r\n"
			}
			m.send(req + "\r\n")
			resp := m.response("POST")
			out, _ := m.state()
			got := strings.HasPrefix(string(out), "HTTP/1.1 100 Continue\r\n\r\n")
			if got != tc.wantContinue {
				t.Errorf("100 Continue sent: %v, want %v", got, tc.wantContinue)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("final status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestBenchExpectContinueProxied(t *testing.T) {
	var expect atomic.Value
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		expect.Store(r.Header.Get("Expect"))
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", body)
	})
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	m := b.connect()
	m.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
	// The interim answer is a bare status line; then the body comes.
	b.eventually("100 Continue", func() bool { return len(m.unread()) > 0 })
	if got := string(m.unread()); got != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatalf("interim answer %q", got)
	}
	m.send("hello world")
	resp := m.response("POST")
	if body := respBody(resp); resp.StatusCode != 200 || body != "got hello world" {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	if got := expect.Load(); got != "" {
		t.Errorf("the upstream got Expect %q", got)
	}
	// An HTTP/1.0 client is sent no "100 Continue".
	m = b.connect()
	m.send("POST /old HTTP/1.0\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi")
	resp = m.response("POST")
	out, _ := m.state()
	if body := respBody(resp); body != "got hi" || strings.HasPrefix(string(out), "HTTP/1.1 100") {
		t.Errorf("HTTP/1.0 with Expect: %q, the client has %q", body, out)
	}
}

func TestBenchStatusViews(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /basic_status { stub_status; }
		location = /metrics { metrics; }
		location /status { status_page; }
	}`)
	m := b.connect()
	// The first request on the first connection: it counts as one being
	// written, as nginx counts it.
	resp, body := m.roundTrip(httpGet("/basic_status"))
	want := "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n"
	if resp.StatusCode != 200 || body != want || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("stub_status: %d %q %q, want %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
	}
	// Only GET and HEAD, as nginx's stub_status.
	if resp, _ := m.roundTrip("POST /basic_status HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"); resp.StatusCode != 405 {
		t.Errorf("POST to stub_status: %d, want 405", resp.StatusCode)
	}
	resp, body = m.roundTrip(httpGet("/metrics"))
	if resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(body, "headroom_requests_total") {
		t.Errorf("metrics: %q %q %.200q", resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), body)
	}
	resp, body = m.roundTrip(httpGet("/status?format=json"))
	var snap struct {
		Connections struct {
			Requests uint64 `json:"requests"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(body), &snap); err != nil || resp.Header.Get("Content-Type") != "application/json" || snap.Connections.Requests != 4 {
		t.Errorf("status JSON: %q %v %+v", resp.Header.Get("Content-Type"), err, snap)
	}
	if resp, _ := m.roundTrip(httpGet("/status")); resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("status page: %q", resp.Header.Get("Content-Type"))
	}
}

// TestBenchServerTokens checks server_tokens: the version follows the
// name in the Server field and the error page signature unless it is
// off at the request's level.
func TestBenchServerTokens(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location / { return 404; }
			location /off { server_tokens off; return 404; }
			location /build { server_tokens build; return 200 "ok"; }
		}`)
	for _, tc := range []struct{ path, want string }{
		{"/", "headroom/test"},
		{"/off", "headroom"},
		{"/build", "headroom/test"},
	} {
		resp, body := b.connect().roundTrip(httpGet(tc.path))
		if got := resp.Header.Get("Server"); got != tc.want {
			t.Errorf("%s: Server %q, want %q", tc.path, got, tc.want)
		}
		if resp.StatusCode == 404 && !strings.Contains(body, "<hr><center>"+tc.want+"</center>") {
			t.Errorf("%s: error page %q lacks the signature %q", tc.path, body, tc.want)
		}
	}
}

// TestBenchCharset checks that charset names itself in the Content-Type
// of answers of charset_types that name no charset, from a variable
// too, and leaves other types and an upstream's charset alone.
func TestBenchCharset(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
		io.WriteString(w, "y")
	})
	b := newBench(t, `
		types { text/html html; application/json json; }
		server {
			listen 127.0.0.1:0;
			charset utf-8;
			location /r { return 200 "x"; }
			location /e { return 404; }
			location /json { default_type application/json; return 200 "{}"; }
			location /json-too { charset_types application/json; default_type application/json; return 200 "{}"; }
			location /up { proxy_pass http://`+up+`; }
			location /var { set $cs koi8-r; charset $cs; return 200 "x"; }
			location /off { charset off; return 200 "x"; }
		}`)
	for _, tc := range []struct{ path, want string }{
		{"/r", "text/plain; charset=utf-8"},
		{"/e", "text/html; charset=utf-8"},
		{"/json", "application/json"},
		{"/json-too", "application/json; charset=utf-8"},
		{"/up", "text/plain; charset=iso-8859-1"},
		{"/var", "text/plain; charset=koi8-r"},
		{"/off", "text/plain"},
	} {
		resp, _ := b.connect().roundTrip(httpGet(tc.path))
		if got := resp.Header.Get("Content-Type"); got != tc.want {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestBenchAliasInRegexLocation checks alias in a regex location: the
// alias, with the regex's captures, is the whole file name; try_files
// appends its entries to it and the chosen file keeps the URI after the
// alias.
func TestBenchAliasInRegexLocation(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location ~ ^/files/(?<name>[a-z]+)\.txt$ { alias html/data/$name.txt; }
			location ~ ^/num/(\d+)$ { alias html/data/$1.txt; }
			location ~ /tried\.txt$ { alias html/data; try_files $uri =404; }
		}`)
	dir := filepath.Join(b.dir, "html", "data")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "abc.txt"), []byte("abc"), 0o644)
	os.WriteFile(filepath.Join(dir, "42.txt"), []byte("forty-two"), 0o644)
	os.WriteFile(filepath.Join(dir, "tried.txt"), []byte("tried"), 0o644)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/files/abc.txt", 200, "abc"},
		{"/files/nope.txt", 404, ""},
		{"/num/42", 200, "forty-two"},
		{"/tried.txt", 200, "tried"},
	} {
		resp, body := b.connect().roundTrip(httpGet(tc.path))
		if resp.StatusCode != tc.status || tc.status == 200 && body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

// TestBenchLimitExcept checks limit_except: requests with a method the
// block does not name (GET naming HEAD too) use its rules.
func TestBenchLimitExcept(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location / {
				limit_except GET { deny all; }
				return 200 "ok";
			}
		}`)
	for _, tc := range []struct {
		method string
		status int
	}{{"GET", 200}, {"HEAD", 200}, {"POST", 403}, {"DELETE", 403}} {
		resp, _ := b.connect().roundTrip(tc.method + " / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.method, resp.StatusCode, tc.status)
		}
	}
}

// TestBenchEmptyGIF checks empty_gif: nginx's 43-byte GIF with its date,
// 304 for a matching If-Modified-Since, 405 for other methods.
func TestBenchEmptyGIF(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location = /pixel.gif { empty_gif; }
		}`)
	resp, body := b.connect().roundTrip(httpGet("/pixel.gif"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" || len(body) != 43 || !strings.HasPrefix(body, "GIF89a") ||
		resp.Header.Get("Last-Modified") != "Mon, 28 Sep 1970 06:00:00 GMT" {
		t.Errorf("GET: %d %v %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	resp, _ = b.connect().roundTrip("GET /pixel.gif HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Mon, 28 Sep 1970 06:00:00 GMT\r\n\r\n")
	if resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d, want 304", resp.StatusCode)
	}
	resp, _ = b.connect().roundTrip("POST /pixel.gif HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

// TestBenchTrailers checks add_trailer: an HTTP/1.1 answer with a body
// is chunked and ends with the fields (evaluated at its end, so that
// $upstream_* and $sent_trailer_* have their values), only on the safe
// statuses without always; HTTP/1.0, HEAD and chunked_transfer_encoding
// off get none.
func TestBenchTrailers(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "8")
		io.WriteString(w, "SEE-THIS")
	})
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			add_trailer X-Var $host;
			add_trailer X-Always always-$status always;
			add_trailer X-Again $sent_trailer_x_var;
			location /text { return 200 "text"; }
			location /nx { return 404; }
			location /up { add_trailer X-Length $upstream_response_length; proxy_pass http://`+up+`; }
			location /off { chunked_transfer_encoding off; return 200 "text"; }
		}`)
	os.MkdirAll(filepath.Join(b.dir, "html"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "html", "f.txt"), []byte("file body"), 0o644)
	for _, tc := range []struct {
		req, body string
		trailer   map[string]string
	}{
		{"GET /text HTTP/1.1\r\nHost: h\r\n\r\n", "text", map[string]string{"X-Var": "h", "X-Always": "always-200", "X-Again": "h"}},
		{"GET /f.txt HTTP/1.1\r\nHost: h\r\n\r\n", "file body", map[string]string{"X-Var": "h", "X-Always": "always-200", "X-Again": "h"}},
		{"GET /nx HTTP/1.1\r\nHost: h\r\n\r\n", "", map[string]string{"X-Always": "always-404"}},
		{"GET /up HTTP/1.1\r\nHost: h\r\n\r\n", "SEE-THIS", map[string]string{"X-Length": "8"}},
	} {
		resp, body := b.connect().roundTrip(tc.req)
		if len(resp.TransferEncoding) != 1 || resp.ContentLength != -1 {
			t.Errorf("%q: not chunked: %v", tc.req, resp.Header)
		}
		if tc.body != "" && body != tc.body {
			t.Errorf("%q: body %q, want %q", tc.req, body, tc.body)
		}
		if len(resp.Trailer) != len(tc.trailer) {
			t.Errorf("%q: trailers %v, want %v", tc.req, resp.Trailer, tc.trailer)
		}
		for k, v := range tc.trailer {
			if got := resp.Trailer.Get(k); got != v {
				t.Errorf("%q: trailer %s %q, want %q", tc.req, k, got, v)
			}
		}
	}
	for _, req := range []string{"GET /text HTTP/1.0\r\n\r\n", "GET /off HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"} {
		c := b.connect()
		c.send(req)
		out := string(c.waitEnded())
		if strings.Contains(out, "X-Always") || strings.Contains(out, "Transfer-Encoding") {
			t.Errorf("%q got trailers or chunks:\n%s", req, out)
		}
	}
}

// TestBenchSecureLink checks $secure_link in both of nginx's forms: a
// hash (base64url MD5) with an expiry time, and secure_link_secret's
// /prefix/HASH/link.
func TestBenchSecureLink(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location /s {
				secure_link $arg_h,$arg_e;
				secure_link_md5 "secret$uri$arg_e";
				return 200 "[$secure_link] [$secure_link_expires]";
			}
			location /p/ {
				secure_link_secret secret;
				return 200 "[$secure_link]";
			}
		}`)
	sign := func(s string) string {
		sum := md5.Sum([]byte(s))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	future, past := "4102444800", "1000"
	old := md5.Sum([]byte("file.txt" + "secret"))
	for _, tc := range []struct{ path, want string }{
		{"/s?h=" + sign("secret/s"+future) + "&e=" + future, "[1] [" + future + "]"},
		{"/s?h=" + sign("secret/s"+past) + "&e=" + past, "[0] [" + past + "]"},
		{"/s?h=" + sign("other") + "&e=" + future, "[] [" + future + "]"},
		{"/p/" + hex.EncodeToString(old[:]) + "/file.txt", "[file.txt]"},
		{"/p/00000000000000000000000000000000/file.txt", "[]"},
	} {
		_, body := b.connect().roundTrip(httpGet(tc.path))
		if body != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, body, tc.want)
		}
	}
}

// TestBenchInternalRequestIDPipe checks that an internal location is 404
// to a client's own request but reachable by error_page, that
// $request_id is 32 hex digits made once per request, and that $pipe is
// "p" for a request that came with the one before it.
func TestBenchInternalRequestIDPipe(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location /in { internal; return 200 "inside"; }
			location /err { error_page 404 = /in; return 404; }
			location /id { return 200 "$request_id $request_id"; }
			location /pipe { return 200 "$pipe"; }
		}`)
	if resp, _ := b.connect().roundTrip(httpGet("/in")); resp.StatusCode != 404 {
		t.Errorf("a client's own request for an internal location: %d, want 404", resp.StatusCode)
	}
	if resp, body := b.connect().roundTrip(httpGet("/err")); resp.StatusCode != 200 || body != "inside" {
		t.Errorf("error_page to an internal location: %d %q", resp.StatusCode, body)
	}
	_, first := b.connect().roundTrip(httpGet("/id"))
	_, second := b.connect().roundTrip(httpGet("/id"))
	ids := strings.Fields(first)
	if len(ids) != 2 || ids[0] != ids[1] || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(ids[0]) || strings.HasPrefix(second, ids[0]) {
		t.Errorf("$request_id: %q then %q", first, second)
	}
	c := b.connect()
	c.send("GET /pipe HTTP/1.1\r\nHost: x\r\n\r\nGET /pipe HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.response("GET"); readBody(r) != "." {
		t.Error("the first of two pipelined requests is not \".\"")
	}
	if r := c.response("GET"); readBody(r) != "p" {
		t.Error("the second of two pipelined requests is not \"p\"")
	}
}

// readBody is a response's body as a string.
func readBody(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
