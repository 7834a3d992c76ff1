package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests follow the upstream attempt: the request as sent upstream
// (proxy_pass's URI part, proxy_set_header and the fields dropped), the
// response head (hidden fields, proxy_redirect), failures before the
// response and what nginx retries on another server, timeouts,
// keep-alive connections to upstreams, the response's framing for the
// client and the tunnel after a 101.

// readRawHead reads a request or response head from br, through its empty
// line, and returns it as it came.
func readRawHead(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\r\n" || line == "\n" {
			return b.String(), nil
		}
	}
}

// headUpstream starts an upstream that records each request head (and
// body, for a Content-Length) as it came, and answers 200 "ok" with
// Connection: close.
func headUpstream(t *testing.T) (addr string, heads chan string) {
	heads = make(chan string, 20)
	addr = rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, err := readRawHead(br)
		if err != nil {
			return
		}
		if req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head))); err == nil && req.ContentLength > 0 {
			body := make([]byte, req.ContentLength)
			io.ReadFull(br, body)
			head += string(body)
		}
		heads <- head
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	return addr, heads
}

// cannedUpstream starts an upstream that reads a request head and writes
// what answer returns for its request line, then closes. An empty answer
// closes without answering.
func cannedUpstream(t *testing.T, answer func(line string) string) string {
	return rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, err := readRawHead(br)
		if err != nil {
			return
		}
		line, _, _ := strings.Cut(head, "\r\n")
		io.WriteString(c, answer(line))
	})
}

// refusedAddr returns a loopback address whose port is taken by a socket
// that does not listen: connections to it are refused.
func refusedAddr(t *testing.T) string {
	fd := boundSocket(t)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
}

// unansweredAddr returns a loopback address where a connection attempt
// waits without an answer: a listening socket with a backlog of 0 whose
// accept queue one connection fills, so that the kernel drops the next
// handshakes.
func unansweredAddr(t *testing.T) string {
	fd := boundSocket(t)
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return addr
}

func TestBenchProxyPassURI(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RequestURI) })
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /a/ { proxy_pass http://%[1]s; }
		location /b/ { proxy_pass http://%[1]s/base/; }
		location /c/ { proxy_pass http://%[1]s/; }
		location ~ ^/re/ { proxy_pass http://%[1]s; }
	}`, up))
	for _, tc := range []struct{ path, want string }{
		// Without a URI part the request's own target goes upstream.
		{"/a/x?q=1", "/a/x?q=1"},
		{"/a/p%20q", "/a/p%20q"},
		// With one, it replaces the location's prefix.
		{"/b/x?q=1", "/base/x?q=1"},
		{"/b/p%20q", "/base/p%20q"},
		{"/c/x/y", "/x/y"},
		{"/re/x", "/re/x"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			resp, body := b.connect().roundTrip(httpGet(tc.path))
			if resp.StatusCode != 200 || body != tc.want {
				t.Errorf("%d, the upstream got %q, want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

func TestBenchUpstreamRequestHead(t *testing.T) {
	up, heads := headUpstream(t)
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /plain/ { proxy_pass http://%[1]s; }
		location /set/ {
			proxy_pass http://%[1]s;
			proxy_set_header X-Real-IP $remote_addr;
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header Accept-Encoding "";
		}
		location /v11/ { proxy_pass http://%[1]s; proxy_http_version 1.1; proxy_set_header Connection ""; }
		location /method/ { proxy_pass http://%[1]s; proxy_method PUT; proxy_set_body "set $uri"; }
		location /noheaders/ { proxy_pass http://%[1]s; proxy_pass_request_headers off; }
		location /nobody/ { proxy_pass http://%[1]s; proxy_pass_request_body off; proxy_set_header Content-Length ""; }
	}`, up))
	fields := "X-B: 2\r\nAccept-Encoding: gzip\r\nX_Under: u\r\nKeep-Alive: 5\r\nX-Forwarded-For: 192.0.2.1\r\n"
	for _, tc := range []struct {
		name, req, want string
	}{
		{
			// nginx's defaults: Host is $proxy_host, Connection close,
			// HTTP/1.0; hop-by-hop fields and names with an underscore
			// are not passed.
			"defaults",
			"GET /plain/x HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n",
			"GET /plain/x HTTP/1.0\r\nHost: UP\r\nConnection: close\r\nX-B: 2\r\nAccept-Encoding: gzip\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n",
		},
		{
			// Configured fields first, in their order, then the defaults
			// not configured; an empty value sends none; a field set
			// here is not passed from the client.
			"proxy_set_header",
			"GET /set/x HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n",
			"GET /set/x HTTP/1.0\r\nX-Real-IP: 127.0.0.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1, 127.0.0.1\r\nConnection: close\r\nX-B: 2\r\n\r\n",
		},
		{
			"HTTP/1.1 without Connection",
			"GET /v11/x HTTP/1.1\r\nHost: h\r\nX-B: 2\r\n\r\n",
			"GET /v11/x HTTP/1.1\r\nHost: UP\r\nX-B: 2\r\n\r\n",
		},
		{
			"body framing after the defaults",
			"POST /plain/x HTTP/1.1\r\nHost: h\r\nX-B: 2\r\nContent-Length: 3\r\n\r\nabc",
			"POST /plain/x HTTP/1.0\r\nHost: UP\r\nConnection: close\r\nContent-Length: 3\r\nX-B: 2\r\n\r\nabc",
		},
		{
			"proxy_method and proxy_set_body",
			"POST /method/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
			"PUT /method/x HTTP/1.0\r\nHost: UP\r\nConnection: close\r\nContent-Length: 13\r\n\r\nset /method/x",
		},
		{
			"proxy_pass_request_headers off",
			"GET /noheaders/x HTTP/1.1\r\nHost: h\r\nX-B: 2\r\n\r\n",
			"GET /noheaders/x HTTP/1.0\r\nHost: UP\r\nConnection: close\r\n\r\n",
		},
		{
			"proxy_pass_request_body off",
			"POST /nobody/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
			"POST /nobody/x HTTP/1.0\r\nHost: UP\r\nConnection: close\r\n\r\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			m.send(tc.req)
			got := recvWithin(t, heads, "the request at the upstream")
			if want := strings.ReplaceAll(tc.want, "UP", up); got != want {
				t.Errorf("the upstream got\n%q\nwant\n%q", got, want)
			}
			method, _, _ := strings.Cut(tc.req, " ")
			if resp := m.response(method); resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
}

func TestBenchHiddenResponseFields(t *testing.T) {
	up := cannedUpstream(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nServer: upstream\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nX-Pad: p\r\n" +
			"X-Accel-Expires: 5\r\nX-Powered-By: php\r\nX-Keep: k\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
	})
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /default/ { proxy_pass http://%[1]s; }
		location /hide/ { proxy_pass http://%[1]s; proxy_hide_header X-Powered-By; proxy_pass_header Server; }
		location /date/ { proxy_pass http://%[1]s; proxy_pass_header Date; }
	}`, up))
	const upDate = "Mon, 01 Jan 2001 00:00:00 GMT"
	for _, tc := range []struct {
		path string
		// want maps a field to its values wanted; nil for none.
		want map[string][]string
	}{
		{"/default/x", map[string][]string{
			"Server": {"headroom/test"}, "X-Pad": nil, "X-Accel-Expires": nil, "X-Powered-By": {"php"}, "X-Keep": {"k"},
		}},
		{"/hide/x", map[string][]string{
			"Server": {"upstream"}, "X-Pad": nil, "X-Powered-By": nil, "X-Keep": {"k"},
		}},
		{"/date/x", map[string][]string{"Date": {upDate}, "Server": {"headroom/test"}}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			resp, body := b.connect().roundTrip(httpGet(tc.path))
			if resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			for name, want := range tc.want {
				if got := resp.Header.Values(name); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
			if tc.path != "/date/x" && resp.Header.Get("Date") == upDate {
				t.Error("the upstream's Date was passed")
			}
			// The upstream's Connection is the upstream connection's.
			if connField(resp) != "keep-alive" {
				t.Errorf("Connection %q, want keep-alive", connField(resp))
			}
		})
	}
}

func TestBenchProxyRedirectDefault(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		head, err := readRawHead(bufio.NewReader(c))
		if err != nil {
			return
		}
		self := c.LocalAddr().String()
		loc := map[string]string{
			"/a/x":      "http://" + self + "/next",
			"/base/y":   "http://" + self + "/base/z?q=1",
			"/a/other":  "http://other.test/next",
			"/a/relloc": "/rel",
		}[strings.Fields(head)[1]]
		io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: "+loc+"\r\nContent-Length: 0\r\n\r\n")
	})
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /a/ { proxy_pass http://%[1]s; }
		location /loc/ { proxy_pass http://%[1]s/base/; }
	}`, up))
	port := b.addrs[0][strings.LastIndex(b.addrs[0], ":")+1:]
	for _, tc := range []struct{ path, want string }{
		// "proxy_redirect default": the proxy_pass URL becomes the
		// location, made absolute with the client's host.
		{"/a/x", "http://h:" + port + "/next"},
		{"/loc/y", "http://h:" + port + "/loc/z?q=1"},
		{"/a/other", "http://other.test/next"},
		{"/a/relloc", "/rel"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			resp, _ := b.connect().roundTrip(httpGet(tc.path))
			if got := resp.Header.Get("Location"); resp.StatusCode != 302 || got != tc.want {
				t.Errorf("%d Location %q, want %q", resp.StatusCode, got, tc.want)
			}
		})
	}
}

func TestBenchUpstreamFailsBeforeAnswering(t *testing.T) {
	answers := map[string]string{
		"/close":     "",
		"/partial":   "HTTP/1.1 200 OK\r\nContent-Type: text/pl",
		"/badheader": "HTTP/1.1 200 OK\r\nBad Header Line\r\nContent-Length: 2\r\n\r\nhi",
		"/garbage":   "NOT HTTP AT ALL\r\n\r\n",
		"/huge":      "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 10000) + "\r\nContent-Length: 2\r\n\r\nhi",
		"/switch":    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
	}
	up := cannedUpstream(t, func(line string) string { return answers[strings.Fields(line)[1]] })
	silent := rawUpstream(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location / { proxy_pass http://%[1]s; }
		location /refused { proxy_pass http://%[2]s; }
		location /slow { proxy_pass http://%[3]s; proxy_read_timeout 50ms; }
		location /unanswered { proxy_pass http://%[4]s; proxy_connect_timeout 50ms; }
	}`, up, refusedAddr(t), silent, unansweredAddr(t)))
	for _, tc := range []struct {
		path   string
		status int
		log    string
	}{
		{"/close", 502, "upstream prematurely closed connection while reading response header from upstream"},
		{"/partial", 502, "upstream prematurely closed connection while reading response header from upstream"},
		{"/badheader", 502, "upstream sent invalid header while reading response header from upstream"},
		{"/garbage", 502, "upstream sent invalid header while reading response header from upstream"},
		{"/slow", 504, "upstream timed out (110: Connection timed out) while reading response header from upstream"},
		{"/unanswered", 504, "upstream timed out (110: Connection timed out) while connecting to upstream"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			resp, body := m.roundTrip(httpGet(tc.path))
			if resp.StatusCode != tc.status || !strings.Contains(body, fmt.Sprintf("<title>%d ", tc.status)) {
				t.Errorf("%d %q, want the %d error page", resp.StatusCode, body, tc.status)
			}
			// An upstream's failure does not end the client connection.
			if connField(resp) != "keep-alive" {
				t.Errorf("Connection %q, want keep-alive", connField(resp))
			}
			line := tc.log + `, client: 127.0.0.1, server: , request: "GET ` + tc.path + ` HTTP/1.1", upstream: "http://`
			b.waitErrorLog(line)
		})
	}
}

// TestBenchUnrequested101 checks that an upstream's 101 to a request that
// did not ask to upgrade is passed on as an answer without a body, as
// nginx 1.22 passes it, and the client's connection carries its next
// request; the upstream's connection is not kept.
func TestBenchUnrequested101(t *testing.T) {
	up := cannedUpstream(t, func(line string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nX-A: 1\r\n\r\n"
	})
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; proxy_http_version 1.1; } }`)
	m := b.connect()
	for i := 0; i < 2; i++ {
		resp, body := m.roundTrip(httpGet("/switch"))
		if resp.StatusCode != 101 || body != "" || resp.Header.Get("X-A") != "1" || resp.Header.Get("Upgrade") != "" {
			t.Fatalf("request %d: %d %q %v, want a 101 without a body or Upgrade, with X-A", i, resp.StatusCode, body, resp.Header)
		}
		if connField(resp) != "keep-alive" {
			t.Fatalf("request %d: Connection %q, want keep-alive", i, connField(resp))
		}
	}
}

func TestBenchRefusedConnectionLogged(t *testing.T) {
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+refusedAddr(t)+`; } }`)
	resp, body := b.connect().roundTrip(httpGet("/refused"))
	if resp.StatusCode != 502 || !strings.Contains(body, "<title>502 Bad Gateway</title>") || connField(resp) != "keep-alive" {
		t.Fatalf("%d %q Connection %q, want the 502 page on a connection kept", resp.StatusCode, body, connField(resp))
	}
	// nginx tests the connection (SO_ERROR) before it reads a response
	// head, so a refusal is a failed connect() whichever handler sees it.
	log := b.waitErrorLog(`(111: Connection refused) while `)
	want := `connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://`
	if !strings.Contains(log, want) {
		if strings.Contains(log, "recv() failed (111: Connection refused) while reading response header from upstream") {
			t.Fatal(`differs from nginx: a refused upstream connection is logged as "recv() failed (111: Connection refused) while reading response header from upstream"; nginx logs "connect() failed (111: Connection refused) while connecting to upstream"`)
		}
		t.Errorf("error log:\n%s\nwant a line with %q", log, want)
	}
}

func TestBenchUpstreamHeadTooBig(t *testing.T) {
	up := cannedUpstream(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 10000) + "\r\nContent-Length: 2\r\n\r\nhi"
	})
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	resp, _ := b.connect().roundTrip(httpGet("/huge"))
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	// nginx reads the head into proxy_buffer_size and, when it fills up
	// before the head ends, says so, whatever the length of its lines.
	log := b.waitErrorLog(`request: "GET /huge HTTP/1.1"`)
	if !strings.Contains(log, "upstream sent too big header while reading response header from upstream") {
		if strings.Contains(log, "upstream sent invalid header while reading response header from upstream") {
			t.Fatal(`differs from nginx: a response head with a field line longer than proxy_buffer_size is logged as "upstream sent invalid header"; nginx logs "upstream sent too big header"`)
		}
		t.Errorf("error log:\n%s", log)
	}
}

func TestBenchNextUpstream(t *testing.T) {
	good, goodCount := countingUpstream(t)
	dropper := rawUpstream(t, func(c net.Conn) {
		// Reads the request, then closes without an answer.
		readRawHead(bufio.NewReader(c))
	})
	status := func(code int) string {
		return cannedUpstream(t, func(string) string {
			return fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody", code)
		})
	}
	bad502, notFound, unavailable, tooMany, serverError := status(502), status(404), status(503), status(429), status(500)
	refused := refusedAddr(t)
	post := "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\ndata"
	for _, tc := range []struct {
		name, first, settings, req string
		status                     int
		// second is whether the second server got the request.
		second bool
		// statuses is $upstream_status wanted.
		statuses string
	}{
		{"error is retried", dropper, "", httpGet("/x"), 200, true, "502, 200"},
		{"refused is retried", refused, "", httpGet("/x"), 200, true, "502, 200"},
		{"POST not sent again", dropper, "", post, 502, false, "502"},
		// Nothing of it was sent: it may go to the next server.
		{"POST to a refused server", refused, "", post, 200, true, "502, 200"},
		{"POST with non_idempotent", dropper, "proxy_next_upstream error non_idempotent;", post, 200, true, "502, 200"},
		{"off", dropper, "proxy_next_upstream off;", httpGet("/x"), 502, false, "502"},
		{"tries 1", dropper, "proxy_next_upstream_tries 1;", httpGet("/x"), 502, false, "502"},
		{"http_502 not listed", bad502, "", httpGet("/x"), 502, false, "502"},
		{"http_502 listed", bad502, "proxy_next_upstream error timeout http_502;", httpGet("/x"), 200, true, "502, 200"},
		{"http_404 not listed", notFound, "", httpGet("/x"), 404, false, "404"},
		{"http_404 listed", notFound, "proxy_next_upstream http_404;", httpGet("/x"), 200, true, "404, 200"},
		{"http_503 listed", unavailable, "proxy_next_upstream http_503;", httpGet("/x"), 200, true, "503, 200"},
		{"http_429 listed", tooMany, "proxy_next_upstream http_429;", httpGet("/x"), 200, true, "429, 200"},
		{"http_500 not listed", serverError, "proxy_next_upstream http_502 http_503;", httpGet("/x"), 500, false, "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A bench of its own: a fresh group picks its first server
			// first.
			b := newBench(t, fmt.Sprintf(`log_format up '$upstream_status';
				upstream u { server %s; server %s; }
				server { listen 127.0.0.1:0; access_log logs/access.log up; location / { proxy_pass http://u; %s } }`,
				tc.first, good, tc.settings))
			before := goodCount.Load()
			method, _, _ := strings.Cut(tc.req, " ")
			m := b.connect()
			m.send(tc.req)
			resp := m.response(method)
			body := respBody(resp)
			if resp.StatusCode != tc.status {
				t.Errorf("%d %q, want %d", resp.StatusCode, body, tc.status)
			}
			if got := goodCount.Load() > before; got != tc.second {
				t.Errorf("the second server got the request: %v, want %v", got, tc.second)
			}
			// An upstream's own error answer passes as it came.
			if tc.status != 200 && tc.first != dropper && tc.first != refused && body != "body" {
				t.Errorf("body %q, want the upstream's", body)
			}
			if got := b.accessLines(1)[0]; got != tc.statuses {
				t.Errorf("$upstream_status %q, want %q", got, tc.statuses)
			}
		})
	}
}

func TestBenchNoLiveUpstreams(t *testing.T) {
	dropper := rawUpstream(t, func(c net.Conn) { readRawHead(bufio.NewReader(c)) })
	dropper2 := rawUpstream(t, func(c net.Conn) { readRawHead(bufio.NewReader(c)) })
	b := newBench(t, fmt.Sprintf(`upstream u { server %s; server %s; server 127.0.0.1:9 down; }
		server { listen 127.0.0.1:0; location / { proxy_pass http://u; } }`, dropper, dropper2))
	m := b.connect()
	if resp, _ := m.roundTrip(httpGet("/one")); resp.StatusCode != 502 {
		t.Fatalf("first request: %d, want 502", resp.StatusCode)
	}
	// Both failed once (max_fails=1) and the third is down: nothing is
	// left for fail_timeout.
	if resp, _ := m.roundTrip(httpGet("/two")); resp.StatusCode != 502 {
		t.Fatalf("second request: %d, want 502", resp.StatusCode)
	}
	// The servers' states are published for other threads after a round
	// of events, at most every 100 ms; waking the loop makes rounds.
	states := ""
	b.eventually("the servers' figures", func() bool {
		b.do(func() {})
		states = ""
		for _, u := range b.srv.Snapshot().Upstreams {
			for _, s := range u.Servers {
				states += fmt.Sprintf("%s:%d/%d ", s.State, s.Requests, s.Failures)
			}
		}
		return states == "unavailable:1/1 unavailable:1/1 down:0/0 "
	})
	// No server was picked: nginx names the group, with the URI that
	// would have been sent, as "upstream".
	log := b.waitErrorLog(`no live upstreams while connecting to upstream, client: 127.0.0.1, server: , request: "GET /two HTTP/1.1", upstream: "http://u`)
	if !strings.Contains(log, `upstream: "http://u/two", host: "h"`) {
		if strings.Contains(log, `upstream: "http://u", host: "h"`) {
			t.Fatal(`differs from nginx: "no live upstreams" names the upstream as "http://u" without the URI; nginx writes "http://u/two"`)
		}
		t.Errorf("error log:\n%s", log)
	}
}

func TestBenchSingleServerIsNeverTakenOutOfUse(t *testing.T) {
	var accepts atomic.Int64
	dropper := rawUpstream(t, func(c net.Conn) {
		accepts.Add(1)
		readRawHead(bufio.NewReader(c))
	})
	b := newBench(t, fmt.Sprintf(`upstream u { server %s; }
		server { listen 127.0.0.1:0; location / { proxy_pass http://u; } }`, dropper))
	m := b.connect()
	// nginx keeps trying a lone server whatever its failures: there is
	// nothing better to send the request to.
	for i := 0; i < 2; i++ {
		if resp, _ := m.roundTrip(httpGet("/")); resp.StatusCode != 502 {
			t.Fatalf("request %d: %d, want 502", i, resp.StatusCode)
		}
	}
	if n := accepts.Load(); n != 2 {
		t.Errorf("the server got %d connections, want 2", n)
	}
	if strings.Contains(b.errorLog(), "no live upstreams") {
		t.Error("a lone server was taken out of use")
	}
}

func TestBenchConnectTimeoutRetriedOnNextServer(t *testing.T) {
	good, _ := countingUpstream(t)
	b := newBench(t, fmt.Sprintf(`log_format up '$upstream_addr $upstream_status';
		upstream u { server %s; server %s; }
		server { listen 127.0.0.1:0; access_log logs/access.log up; location / { proxy_pass http://u; proxy_connect_timeout 50ms; } }`,
		unansweredAddr(t), good))
	resp, body := b.connect().roundTrip(httpGet("/x"))
	if resp.StatusCode != 200 || body != "up /x" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if got := b.accessLines(1)[0]; !strings.HasSuffix(got, ", "+good+" 504, 200") {
		t.Errorf("access log %q, want both servers with 504, 200", got)
	}
}

func TestBenchReadTimeoutAfterTheHead(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		readRawHead(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		io.Copy(io.Discard, c)
	})
	b := newBench(t, `log_format st '$status $body_bytes_sent';
		server { listen 127.0.0.1:0; access_log logs/access.log st; location / { proxy_pass http://`+up+`; proxy_read_timeout 50ms; } }`)
	m := b.connect()
	m.send(httpGet("/"))
	// The head went out: the client gets what came and then the end of
	// the connection, which tells it the body is short.
	out := string(m.waitClosed())
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\npartial") {
		t.Errorf("the client got %q", out)
	}
	b.waitErrorLog("upstream timed out (110: Connection timed out) while reading upstream")
	if got := b.accessLines(1)[0]; got != "200 7" {
		t.Errorf("access log %q, want \"200 7\"", got)
	}
}

// keepAliveUpstream starts an upstream that serves requests one after
// another on each connection, answering with the connection's number
// and its request count; close makes it answer "Connection: close" (and
// close) or close without saying so after its answer. It counts the
// connections it accepts.
func keepAliveUpstream(t *testing.T, close func(path string) (say, silently bool)) (addr string, accepts *atomic.Int64) {
	accepts = new(atomic.Int64)
	addr = rawUpstream(t, func(c net.Conn) {
		n := accepts.Add(1)
		br := bufio.NewReader(c)
		for i := 1; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			say, silently := false, false
			if close != nil {
				say, silently = close(req.URL.Path)
			}
			body := fmt.Sprintf("conn %d request %d", n, i)
			extra := ""
			if say {
				extra = "Connection: close\r\n"
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", len(body), extra, body)
			if say || silently || req.Close {
				return
			}
		}
	})
	return addr, accepts
}

func TestBenchUpstreamKeepalive(t *testing.T) {
	const keep = `proxy_http_version 1.1; proxy_set_header Connection "";`
	for _, tc := range []struct {
		name, upstream, location string
		close                    func(string) (bool, bool)
		// accepts is how many connections three requests in turn take.
		accepts int64
	}{
		{"keepalive reuses", "keepalive 2;", keep, nil, 1},
		{"no keepalive", "", keep, nil, 3},
		{"HTTP/1.0 to the upstream", "keepalive 2;", `proxy_set_header Connection "";`, nil, 3},
		{"keepalive_requests", "keepalive 2; keepalive_requests 2;", keep, nil, 2},
		{"upstream says close", "keepalive 2;", keep, func(string) (bool, bool) { return true, false }, 3},
		// The closed idle connection is not used, or is retried when it
		// was: every request succeeds.
		{"upstream closes silently", "keepalive 2;", keep, func(p string) (bool, bool) { return false, p == "/1" }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, accepts := keepAliveUpstream(t, tc.close)
			b := newBench(t, fmt.Sprintf(`upstream u { server %s; %s }
				server { listen 127.0.0.1:0; location / { proxy_pass http://u; %s } }`, up, tc.upstream, tc.location))
			for i := 0; i < 3; i++ {
				// A new client each time: reuse comes from the pool.
				resp, body := b.connect().roundTrip(httpGet(fmt.Sprintf("/%d", i)))
				if resp.StatusCode != 200 || !strings.HasPrefix(body, "conn ") {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
				}
				if i == 1 && tc.close != nil {
					// Let the silent close arrive before the next request,
					// as between two clients; either way it must succeed.
					time.Sleep(20 * time.Millisecond)
				}
			}
			if n := accepts.Load(); n != tc.accepts {
				t.Errorf("%d upstream connections for 3 requests, want %d", n, tc.accepts)
			}
		})
	}
}

func TestBenchResponseFraming(t *testing.T) {
	answers := map[string]string{
		"/length":  "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
		"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
		"/close":   "HTTP/1.0 200 OK\r\n\r\nhello world",
		"/nobody":  "HTTP/1.1 204 No Content\r\n\r\n",
	}
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, _ := readRawHead(br)
		path := strings.Fields(head)[1]
		answer := answers[path]
		// In pieces, so that the body's framing is read across reads.
		for i := 0; i < len(answer); i += 7 {
			io.WriteString(c, answer[i:min(i+7, len(answer))])
			time.Sleep(time.Millisecond)
		}
	})
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	for _, tc := range []struct {
		path, version, method string
		// chunked is whether the client gets chunks; conn the
		// Connection wanted; body the body wanted.
		chunked    bool
		conn, body string
	}{
		{"/length", "1.1", "GET", false, "keep-alive", "hello world"},
		{"/length", "1.1", "HEAD", false, "keep-alive", ""},
		{"/chunked", "1.1", "GET", true, "keep-alive", "hello world"},
		// An HTTP/1.0 client cannot take chunks: the end of the
		// connection ends the body.
		{"/chunked", "1.0", "GET", false, "close", "hello world"},
		// A body that ends with the upstream connection goes to an
		// HTTP/1.1 client in chunks, on a connection kept.
		{"/close", "1.1", "GET", true, "keep-alive", "hello world"},
		{"/close", "1.0", "GET", false, "close", "hello world"},
		{"/nobody", "1.1", "GET", false, "keep-alive", ""},
	} {
		t.Run(tc.method+" "+tc.path+" HTTP/"+tc.version, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			m.send(tc.method + " " + tc.path + " HTTP/" + tc.version + "\r\nHost: h\r\n\r\n")
			if tc.conn == "close" {
				m.waitEnded()
			}
			resp := m.response(tc.method)
			body := respBody(resp)
			if resp.Header.Get("X-Bench-Body-Error") != "" || body != tc.body {
				t.Errorf("body %q (%s), want %q", body, resp.Header.Get("X-Bench-Body-Error"), tc.body)
			}
			if got := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"; got != tc.chunked {
				t.Errorf("chunked %v, want %v", got, tc.chunked)
			}
			if connField(resp) != tc.conn {
				t.Errorf("Connection %q, want %q", connField(resp), tc.conn)
			}
			if tc.path == "/length" && resp.ContentLength != 11 {
				t.Errorf("Content-Length %d, want 11", resp.ContentLength)
			}
		})
	}
}

func TestBenchResponseCutShort(t *testing.T) {
	answers := map[string]string{
		"/truncated":         "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789",
		"/truncated-chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
		"/bad-chunk":         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\nzz\r\n",
	}
	up := cannedUpstream(t, func(line string) string { return answers[strings.Fields(line)[1]] })
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	for _, tc := range []struct{ path, log string }{
		{"/truncated", "upstream prematurely closed connection while reading upstream"},
		{"/truncated-chunked", "upstream prematurely closed connection while reading upstream"},
		{"/bad-chunk", "upstream sent invalid chunked response while reading upstream"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			m.send(httpGet(tc.path))
			// What was relayed stays relayed; the closed connection, with
			// no last chunk, tells the client the body is short.
			m.waitClosed()
			resp := m.response("GET")
			if body := respBody(resp); resp.StatusCode != 200 || body != "0123456789" || resp.Header.Get("X-Bench-Body-Error") == "" {
				t.Errorf("%d %q (%s), want 200 with the 10 bytes and a short body", resp.StatusCode, body, resp.Header.Get("X-Bench-Body-Error"))
			}
			b.waitErrorLog(tc.log + `, client: 127.0.0.1, server: , request: "GET ` + tc.path + ` HTTP/1.1"`)
		})
	}
}

func TestBenchUpgradeTunnel(t *testing.T) {
	upHeads := make(chan string, 4)
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, err := readRawHead(br)
		if err != nil {
			return
		}
		upHeads <- head
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Up: 1\r\n\r\nhello from upstream;")
		// Echo in upper case until the proxy closes the tunnel; "bye"
		// makes the upstream close it.
		buf := make([]byte, 1024)
		for {
			n, err := br.Read(buf)
			if n > 0 {
				if bytes.Contains(buf[:n], []byte("bye")) {
					return
				}
				c.Write(bytes.ToUpper(buf[:n]))
			}
			if err != nil {
				return
			}
		}
	})
	b := newBench(t, `log_format st '$status';
		server {
		listen 127.0.0.1:0;
		access_log logs/access.log st;
		location / {
			proxy_pass http://`+up+`;
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";
		}
	}`)
	handshake := "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	for _, end := range []string{"client", "upstream"} {
		t.Run("closed by the "+end, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			// Bytes after the head are the tunnel's, for the upstream.
			m.send(handshake + "early;")
			resp := m.response("GET")
			if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" || resp.Header.Get("Connection") != "upgrade" || resp.Header.Get("X-Up") != "1" {
				t.Fatalf("%d %v", resp.StatusCode, resp.Header)
			}
			head := recvWithin(t, upHeads, "the handshake at the upstream")
			if !strings.Contains(head, "\r\nUpgrade: websocket\r\n") || !strings.Contains(head, "\r\nConnection: upgrade\r\n") {
				t.Errorf("the upstream got %q", head)
			}
			b.eventually("the tunnel's bytes both ways", func() bool {
				return string(m.unread()) == "hello from upstream;EARLY;"
			})
			m.send("ping;")
			b.eventually("the echo", func() bool { return string(m.unread()) == "hello from upstream;EARLY;PING;" })
			if end == "client" {
				m.shutWrite()
			} else {
				m.send("bye")
			}
			m.waitClosed()
		})
	}
	if lines := b.accessLines(2); lines[0] != "101" || lines[1] != "101" {
		t.Errorf("access log %q, want 101 twice", lines)
	}
}

func TestBenchIdleTunnelTimesOut(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := readRawHead(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(io.Discard, br)
	})
	b := newBench(t, `log_format st '$status';
		server {
			listen 127.0.0.1:0;
			access_log logs/access.log st;
			location / {
				proxy_pass http://`+up+`;
				proxy_http_version 1.1;
				proxy_set_header Upgrade $http_upgrade;
				proxy_set_header Connection "upgrade";
				proxy_read_timeout 50ms;
			}
		}`)
	m := b.connect()
	m.send("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	if resp := m.response("GET"); resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Nothing passes either way for proxy_read_timeout: the tunnel is
	// closed, as nginx closes it, finalizing the request (logged with
	// its 101) after "upstream timed out".
	m.waitClosed()
	if b.accessLog() == "" {
		t.Fatal("differs from nginx: a tunnel closed for proxy_read_timeout is not logged in the access log; nginx logs the request with 101 and the error line \"upstream timed out (110: Connection timed out) while proxying upgraded connection\"")
	}
	if got := b.accessLines(1)[0]; got != "101" {
		t.Errorf("access log %q, want 101", got)
	}
	b.waitErrorLog("upstream timed out (110: Connection timed out) while proxying upgraded connection")
}

func TestBenchClientAbortWhileUpstreamWorks(t *testing.T) {
	arrived := make(chan struct{}, 4)
	upClosed := make(chan struct{}, 4)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		readRawHead(br)
		arrived <- struct{}{}
		// Answer once released; note a connection the proxy closes
		// first.
		done := make(chan struct{})
		go func() {
			io.Copy(io.Discard, br)
			close(done)
		}()
		select {
		case <-done:
			upClosed <- struct{}{}
		case <-release:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	b := newBench(t, fmt.Sprintf(`log_format st '$request_uri $status';
		server {
			listen 127.0.0.1:0;
			access_log logs/access.log st;
			location /abort/ { proxy_pass http://%[1]s; }
			location /ignore/ { proxy_pass http://%[1]s; proxy_ignore_client_abort on; }
		}`, up))
	m := b.connect()
	m.send(httpGet("/abort/x"))
	recvWithin(t, arrived, "the request at the upstream")
	m.shutWrite()
	// Without proxy_ignore_client_abort the request stops: 499, and the
	// upstream connection is closed.
	m.waitClosed()
	recvWithin(t, upClosed, "the upstream connection to close")
	if got := b.accessLines(1)[0]; got != "/abort/x 499" {
		t.Errorf("access log %q, want 499", got)
	}

	m = b.connect()
	m.send(httpGet("/ignore/x"))
	recvWithin(t, arrived, "the request at the upstream")
	m.shutWrite()
	if _, closed := m.state(); closed {
		t.Error("the request stopped although proxy_ignore_client_abort is on")
	}
}

func TestBenchMaxConnsAndQueue(t *testing.T) {
	arrived := make(chan string, 10)
	release := make(chan struct{})
	var once atomic.Bool
	releaseAll := func() {
		if once.CompareAndSwap(false, true) {
			close(release)
		}
	}
	t.Cleanup(releaseAll)
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		<-release
		io.WriteString(w, "ok "+r.URL.Path)
	})
	b := newBench(t, fmt.Sprintf(`upstream q { server %[1]s max_conns=1; queue 4 timeout=10s; }
		upstream noq { server %[1]s max_conns=1; }
		server {
			listen 127.0.0.1:0;
			location /q/ { proxy_pass http://q; }
			location /noq/ { proxy_pass http://noq; }
		}`, up))
	first := b.connect()
	first.send(httpGet("/q/1"))
	recvWithin(t, arrived, "the first request at the upstream")
	// The group's queue holds the second while the first has the place.
	second := b.connect()
	second.send(httpGet("/q/2"))
	// The group without a queue answers at once: 503 with Retry-After.
	held := b.connect()
	held.send(httpGet("/noq/1"))
	recvWithin(t, arrived, "the other group's request at the upstream")
	resp, _ := b.connect().roundTrip(httpGet("/noq/2"))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("beyond max_conns without a queue: %d Retry-After %q, want 503 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if out, _ := second.state(); len(out) != 0 {
		t.Errorf("the queued request was answered %q while the place was taken", out)
	}
	releaseAll()
	for i, m := range []*memConn{first, second, held} {
		if resp := m.response("GET"); resp.StatusCode != 200 {
			t.Errorf("request %d: %d", i, resp.StatusCode)
		}
	}
	if got := recvWithin(t, arrived, "the queued request at the upstream"); got != "/q/2" {
		t.Errorf("the upstream got %q, want the queued /q/2", got)
	}
}

func TestBenchUnixSocketUpstream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "up.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s host=%s", r.RequestURI, r.Host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	b := newBench(t, fmt.Sprintf(`log_format u '$upstream_addr';
		upstream g { server unix:%[1]s; }
		server {
			listen 127.0.0.1:0;
			access_log logs/access.log u;
			location /a/ { proxy_pass http://unix:%[1]s:/x/; }
			location /b/ { proxy_pass http://g; }
		}`, path))
	for _, tc := range []struct{ path, want string }{
		// nginx's $proxy_host for a unix socket is "localhost".
		{"/a/q?z=1", "/x/q?z=1 host=localhost"},
		{"/b/r", "/b/r host=g"},
	} {
		if resp, body := b.connect().roundTrip(httpGet(tc.path)); resp.StatusCode != 200 || body != tc.want {
			t.Errorf("%s: %d %q, want %q", tc.path, resp.StatusCode, body, tc.want)
		}
	}
	if lines := b.accessLines(2); lines[0] != "unix:"+path || lines[1] != "unix:"+path {
		t.Errorf("$upstream_addr %q", lines)
	}
}

func TestBenchSetCookieRewrite(t *testing.T) {
	up := cannedUpstream(t, func(string) string {
		return "HTTP/1.1 200 OK\r\n" +
			"Set-Cookie: a=1; Domain=.Example.com; Path=/one/two\r\n" +
			"Set-Cookie: b=2;path=/one ;  domain = example.com;secure\r\n" +
			"Set-Cookie: c\r\n" +
			"Set-Cookie: d=4;secure;httponly;samesite=lax;Path=/\r\n" +
			"Content-Length: 0\r\nConnection: close\r\n\r\n"
	})
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location / {
			proxy_pass http://`+up+`;
			proxy_cookie_domain example.com new.org;
			proxy_cookie_path /one/ /x/;
			proxy_cookie_path / /never/;
			proxy_cookie_flags a secure httponly samesite=none;
			proxy_cookie_flags d nosecure nohttponly nosamesite;
		}
	}`)
	resp, _ := b.connect().roundTrip(httpGet("/"))
	// A rewritten field is written again as "key=value; key=value"; one
	// that nothing matches passes as it came.
	want := []string{
		"a=1; Domain=.new.org; Path=/x/two; Secure; HttpOnly; SameSite=None",
		"b=2; path=/never/one; domain=new.org; secure",
		"c",
		"d=4; Path=/never/",
	}
	if got := resp.Header.Values("Set-Cookie"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Set-Cookie\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBenchProxyBind(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, host)
	})
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /bind/ { proxy_pass http://%[1]s; proxy_bind 127.0.0.2; }
	}`, up))
	if resp, body := b.connect().roundTrip(httpGet("/bind/x")); resp.StatusCode != 200 || body != "127.0.0.2" {
		t.Errorf("the upstream saw a connection from %q (%d), want 127.0.0.2", body, resp.StatusCode)
	}
}

func TestBenchProxyBindFails(t *testing.T) {
	b := newBench(t, `server { listen 127.0.0.1:0; location /foreign/ { proxy_pass http://`+refusedAddr(t)+`; proxy_bind 192.0.2.1; } }`)
	// An address the machine does not have cannot be bound: nginx's
	// connect fails before any try, and the request is answered 500,
	// with the failure logged at crit.
	resp, _ := b.connect().roundTrip(httpGet("/foreign/x"))
	log := b.waitErrorLog("bind(192.0.2.1) failed (")
	want := "[crit]"
	if i := strings.Index(log, "bind(192.0.2.1)"); i >= 0 {
		log = log[strings.LastIndex(log[:i], "\n")+1:]
	}
	if resp.StatusCode == 502 && strings.Contains(log, "[error]") {
		t.Fatalf("differs from nginx: a failed proxy_bind is answered 502 and logged at error level, %q; nginx answers 500 and logs \"bind(192.0.2.1) failed (99: Cannot assign requested address) while connecting to upstream\" at crit", strings.TrimSpace(log))
	}
	if resp.StatusCode != 500 || !strings.Contains(log, want) || !strings.Contains(log, "bind(192.0.2.1) failed (99: Cannot assign requested address) while connecting to upstream") {
		t.Errorf("status %d, want 500 with the failure at crit:\n%s", resp.StatusCode, log)
	}
}

// TestBenchProxyPassVariables checks proxy_pass with variables: the value
// names an upstream{} (without port), an address, or the implicit group
// of another proxy_pass; a URI part is sent as it is; a name that would
// need a resolver gets 502 and one that is not a URL 500, as in nginx.
func TestBenchProxyPassVariables(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Host, r.URL.RequestURI())
	})
	b := newBench(t, `
		upstream backend { server `+up+`; }
		server {
			listen 127.0.0.1:0;
			location /group/ { set $u backend; proxy_pass http://$u; }
			location /addr/ { proxy_pass http://$arg_to; }
			location /uri/ { proxy_pass http://`+up+`/fixed?$args; }
			location /bad/ { proxy_pass $arg_to; }
			location /var-name/ { set $h no-such-host.example; proxy_pass http://$h; }
		}`)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/group/a?x=1", 200, "backend /group/a?x=1"},
		{"/addr/b?to=" + up, 200, up + " /addr/b?to=" + up},
		{"/uri/c?q=2", 200, up + " /fixed?q=2"},
		{"/bad/d?to=ftp://x", 500, ""},
		{"/var-name/e", 502, ""},
	} {
		resp, body := b.connect().roundTrip(httpGet(tc.path))
		if resp.StatusCode != tc.status || tc.body != "" && body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	if log := b.errorLog(); !strings.Contains(log, "no resolver defined to resolve no-such-host.example") || !strings.Contains(log, `invalid URL prefix in "ftp://x"`) {
		t.Errorf("error log lacks nginx's messages:\n%s", log)
	}
}

// TestBenchUpstreamResetAfterAnswer checks how an upstream connection
// ends once its answer is in: one that is not kept (nginx's default
// HTTP/1.0 proxying, or an upstream that says "Connection: close") is
// reset, so that neither side keeps it in TIME_WAIT; one that goes back
// to the keepalive pool stays open. The upstream answers and then reads
// on, reporting what its read returned.
func TestBenchUpstreamResetAfterAnswer(t *testing.T) {
	ends := make(chan error, 4)
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, err := readRawHead(br)
		if err != nil {
			ends <- err
			return
		}
		closing := ""
		if strings.Contains(head, "/upclose") {
			closing = "Connection: close\r\n"
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n%s\r\nok", closing)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = br.ReadByte()
		ends <- err
	})
	b := newBench(t, fmt.Sprintf(`
	upstream kept { server %[1]s; keepalive 4; }
	server {
		listen 127.0.0.1:0;
		location /http10/ { proxy_pass http://%[1]s; }
		location /kept/ { proxy_pass http://kept; proxy_http_version 1.1; proxy_set_header Connection ""; }
	}`, up))
	for _, tc := range []struct {
		path string
		want error
	}{
		{"/http10/x", unix.ECONNRESET},
		{"/kept/upclose", unix.ECONNRESET},
		// Kept: the upstream's read waits until its own deadline.
		{"/kept/x", os.ErrDeadlineExceeded},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			resp, body := b.connect().roundTrip(httpGet(tc.path))
			if resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			if got := recvWithin(t, ends, "the upstream's read after its answer"); !errors.Is(got, tc.want) {
				t.Errorf("the upstream read %v after its answer, want %v", got, tc.want)
			}
		})
	}
}
