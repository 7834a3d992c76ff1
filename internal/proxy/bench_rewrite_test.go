package proxy

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests follow a request through the rewrite module's runtime in
// the bench: rewrite's flags and arguments, captures, set, if, the
// location found again after a rewrite, the URI an upstream gets, the
// redirects that error_page may take over with the Location they leave,
// the limit on URI changes, and the error log's lines. What they expect
// is what nginx 1.22 does (test/integration/rewrite_test.go compares the
// two).

// rwBenchCase is one request and its expected answer: status, the
// Location fields joined by "\n" ("" when there is none), and the body
// exactly, or, when page is set, nginx's page with that title.
type rwBenchCase struct {
	req      string
	status   int
	location string
	body     string
	page     string
	fields   map[string]string
}

// runBenchCases sends each case on a connection of its own and checks
// the answer; PORT in a location stands for the bench's port.
func runBenchCases(t *testing.T, b *bench, cases []rwBenchCase) {
	t.Helper()
	port := b.addrs[0][strings.LastIndex(b.addrs[0], ":")+1:]
	for _, c := range cases {
		t.Run(c.req, func(t *testing.T) {
			b := b.sub(t)
			method, target, _ := strings.Cut(c.req, " ")
			req := method + " " + target + " HTTP/1.1\r\nHost: h\r\n"
			if method == "POST" {
				req += "Content-Length: 3\r\n\r\nabc"
			} else {
				req += "\r\n"
			}
			resp, body := b.connect().roundTrip(req)
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, c.status, body)
			}
			want := strings.ReplaceAll(c.location, "PORT", port)
			if got := strings.Join(resp.Header.Values("Location"), "\n"); got != want {
				t.Errorf("Location %q, want %q", got, want)
			}
			if c.page != "" {
				if !strings.Contains(body, "<title>"+c.page+"</title>") {
					t.Errorf("body %q is not the page %q", body, c.page)
				}
			} else if body != c.body {
				t.Errorf("body %q, want %q", body, c.body)
			}
			for name, v := range c.fields {
				if got := resp.Header.Get(name); got != v {
					t.Errorf("%s %q, want %q", name, got, v)
				}
			}
		})
	}
}

func TestBenchRewriteFlagsArgumentsAndCaptures(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location /echo/ { return 200 "echo $uri?$args"; }
		location /last/ { rewrite ^/last/(.*)$ /echo/$1 last; return 500; }
		location /none/ { rewrite ^/none/(.*)$ /two/$1; rewrite ^/two/(.*)$ /echo/$1; return 200 "went on $uri?$args"; }
		location /relocated/ { rewrite ^/relocated/(.*)$ /echo/$1; }
		location /redirect/ { rewrite ^/redirect/(.*)$ /target/$1 redirect; return 500; }
		location /permanent/ { rewrite ^/permanent/(.*)$ /target/$1 permanent; }
		location /absolute/ { rewrite ^/absolute/(.*)$ http://example.com/$1?x=1; }
		location /absdrop/ { rewrite ^/absdrop/(.*)$ http://example.com/$1?; }
		location /replace/ { rewrite ^/replace/(.*)$ /echo/$1?x=$1; }
		location /drop/ { rewrite ^/drop/(.*)$ /echo/$1?; }
		location ~ ^/loc/(?<name>[a-z]+)/(\d+)$ { return 200 "name=$name 1=$1 2=$2"; }
		location /named/ { rewrite ^/named/(?<first>\w+)/(?<second>\w+)$ /echo/$second/$first; }
		location /ifre/ { if ($arg_a ~* ^AB(C)) { return 200 "1=$1"; } return 200 "no match"; }
		location ~ ^/forget/(\w+)$ { rewrite ^/nothing /x; return 200 "1=[$1]"; }
		location /args/ { rewrite ^/args/(.*)$ /echo/x?a=$1; }
		location /redirargs/ { rewrite ^/redirargs/(.*)$ /x?a=$1 redirect; }
		location /uri/ { rewrite ^/uri/(.*)$ /echo/$1; }
		location /set/ { set $a "x$uri"; set $b "$a-y"; set $args "n=1&$args"; return 200 "b=$b args=$args"; }
		location /hdr/ { if ($arg_a) { add_header X-If yes; } add_header X-Loc loc; return 200 "hdr"; }
		location /isargs/ { return 200 "[$is_args]"; }
		location /noargs/ { set $args ""; return 200 "[$is_args]"; }
	}`)
	runBenchCases(t, b, []rwBenchCase{
		{req: "GET /last/a?k=v", status: 200, body: "echo /echo/a?k=v"},
		{req: "GET /none/a?k=v", status: 200, body: "went on /echo/a?k=v"},
		{req: "GET /relocated/a", status: 200, body: "echo /echo/a?"},
		{req: "GET /redirect/a?k=v", status: 302, location: "http://h:PORT/target/a?k=v", page: "302 Found"},
		{req: "GET /permanent/a", status: 301, location: "http://h:PORT/target/a", page: "301 Moved Permanently"},
		{req: "GET /absolute/a?k=v", status: 302, location: "http://example.com/a?x=1&k=v", page: "302 Found"},
		{req: "GET /absdrop/a?k=v", status: 302, location: "http://example.com/a", page: "302 Found"},
		{req: "GET /replace/a?k=v", status: 200, body: "echo /echo/a?x=a&k=v"},
		{req: "GET /drop/a?k=v", status: 200, body: "echo /echo/a?"},
		{req: "GET /loc/abc/12", status: 200, body: "name=abc 1=abc 2=12"},
		{req: "GET /named/one/two?z=1", status: 200, body: "echo /echo/two/one?z=1"},
		{req: "GET /ifre/?a=abcd", status: 200, body: "1=c"},
		{req: "GET /forget/abc", status: 200, body: "1=[]"},
		{req: "GET /args/a%20b+c?k=v", status: 200, body: "echo /echo/x?a=a%20b%2Bc&k=v"},
		{req: "GET /args/a&b", status: 200, body: "echo /echo/x?a=a&b"},
		{req: "GET /args/a%22b%7Bc", status: 200, body: "echo /echo/x?a=a%22b%7Bc"},
		{req: "GET /redirargs/a%26b?k=v", status: 302, location: "http://h:PORT/x?a=a%26b&k=v", page: "302 Found"},
		{req: "GET /redirargs/a+b", status: 302, location: "http://h:PORT/x?a=a%2Bb", page: "302 Found"},
		{req: "GET /uri/a%20b", status: 200, body: "echo /echo/a b?"},
		{req: "GET /set/?k=v", status: 200, body: "b=x/set/-y args=n=1&k=v"},
		{req: "GET /hdr/?a=1", status: 200, body: "hdr", fields: map[string]string{"X-If": "yes", "X-Loc": ""}},
		{req: "GET /hdr/", status: 200, body: "hdr", fields: map[string]string{"X-If": "", "X-Loc": "loc"}},
		{req: "GET /isargs/x?k=v", status: 200, body: "[?]"},
		{req: "GET /isargs/x?", status: 200, body: "[]"},
		{req: "GET /noargs/?k=v", status: 200, body: "[]"},
	})
}

func TestBenchRewriteUpstreamTarget(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.RequestURI)
	})
	b := newBench(t, strings.ReplaceAll(`server {
		listen 127.0.0.1:0;
		location /pb/ { rewrite ^/pb/(.*)$ /changed/$1 break; proxy_pass http://UP/prefix/; }
		location /pn/ { proxy_pass http://UP/prefix/; }
		location /pl/ { rewrite ^/pl/(.*)$ /pn/$1 last; }
		location /pnouri/ { proxy_pass http://UP; }
		location /pq/ { rewrite ^/pq/(.*)$ /pnouri/$1? last; }
		location /same/ { rewrite ^(.*)$ $1 break; proxy_pass http://UP; }
		location /sa/ { set $args "$args&extra=1"; proxy_pass http://UP; }
		location /sae/ { set $args ""; proxy_pass http://UP; }
		location /px/ { if ($arg_a) { proxy_pass http://UP; } proxy_pass http://UP/base/; }
		location /brk/ { rewrite ^ /other/; break; proxy_pass http://UP/prefix/; }
		location /tf/ { try_files /nothing @prox; }
		location /ep/ { error_page 404 = @prox; return 404; }
		location @prox { proxy_pass http://UP; }
	}`, "UP", up))
	runBenchCases(t, b, []rwBenchCase{
		{req: "GET /pb/a?k=v", status: 200, body: "GET /changed/a?k=v"},
		{req: "GET /pb/a%20b%3F", status: 200, body: "GET /changed/a%20b%3F"},
		{req: "GET /pn/a?", status: 200, body: "GET /prefix/a"},
		{req: "GET /pl/a%20b?k=v", status: 200, body: "GET /prefix/a%20b?k=v"},
		{req: "GET /pl/a?", status: 200, body: "GET /prefix/a"},
		{req: "GET /pnouri/a?", status: 200, body: "GET /pnouri/a?"},
		{req: "GET /pq/a?k=v", status: 200, body: "GET /pnouri/a"},
		{req: "GET /same/a\"b|c", status: 200, body: "GET /same/a%22b%7Cc"},
		{req: "GET /sa/?k=v", status: 200, body: "GET /sa/?k=v&extra=1"},
		{req: "GET /sa/a+b", status: 200, body: "GET /sa/a+b?&extra=1"},
		{req: "GET /sae/?k=v", status: 200, body: "GET /sae/"},
		{req: "GET /px/q?a=1", status: 200, body: "GET /px/q?a=1"},
		{req: "GET /px/q", status: 200, body: "GET /base/q"},
		{req: "GET /brk/a?k=v", status: 200, body: "GET /other/?k=v"},
		{req: "GET /tf/x?k=v", status: 200, body: "GET /tf/x?k=v"},
		{req: "POST /ep/x", status: 200, body: "POST /ep/x"},
	})
}

func TestBenchRewriteRedirectsAndErrorPages(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /text { return 200 "text"; }
		location = /r405 { return 405; }
		location = /r204 { return 204; }
		location = /r302 { return 302 "text"; }
		location = /rw { rewrite ^ http://example.com/ redirect; }
		location = /a { error_page 302 /text; return 302 "first"; }
		location = /b { error_page 404 /r405; return 404; }
		location = /c { error_page 405 /r204; return 405; }
		location = /d { error_page 405 /r302; return 405; }
		location = /e { error_page 405 /rw; return 405; }
		location = /g { error_page 302 http://example.com/; return 302 "first"; }
		location = /m { error_page 302 = /text; return 302 "first"; }
		location = /o { error_page 301 /text; rewrite ^ /x permanent; }
		location = /q { return 302; }
		location = /ac { error_page 404 =410 /r302; return 404; }
		location = /y { error_page 500 /text; return 500 "own text"; }
		location /dir/ { proxy_pass http://127.0.0.1:9; }
		location = /slash { error_page 302 /dir; return 302 "first"; }
		location @named { return 200 "named $request_method"; }
		location = /accel { error_page 418 = @named; return 418; }
	}`)
	runBenchCases(t, b, []rwBenchCase{
		// return 302 with a text is a special response, which its
		// error_page takes over; the page's answer keeps the error's
		// status and the Location.
		{req: "GET /a", status: 302, location: "first", body: "text", fields: map[string]string{"Content-Type": "text/plain"}},
		// The error met on the page's way is the status sent.
		{req: "GET /b", status: 405, page: "405 Not Allowed"},
		// return 204 answering a 405 is sent as a 405 with an empty body
		// and its Content-Type and Content-Length.
		{req: "GET /c", status: 405, fields: map[string]string{"Content-Type": "text/plain", "Content-Length": "0"}},
		{req: "GET /d", status: 302, location: "text", page: "302 Found"},
		{req: "GET /e", status: 302, location: "http://example.com/", page: "302 Found"},
		// A new redirect replaces the Location the request had.
		{req: "GET /g", status: 302, location: "http://example.com/", page: "302 Found"},
		{req: "GET /m", status: 200, location: "first", body: "text"},
		{req: "GET /o", status: 301, location: "http://h:PORT/x", body: "text"},
		{req: "GET /q", status: 302, page: "302 Found"},
		{req: "GET /ac", status: 302, location: "text", page: "302 Found"},
		// return with a text answers an error code itself.
		{req: "GET /y", status: 500, body: "own text"},
		{req: "GET /slash", status: 301, location: "http://h:PORT/dir/", page: "301 Moved Permanently"},
		{req: "POST /accel", status: 200, body: "named POST"},
	})
	// "return 302;" sends one Location with no value.
	resp, _ := b.connect().roundTrip(httpGet("/q"))
	if locs := resp.Header.Values("Location"); len(locs) != 1 || locs[0] != "" {
		t.Errorf("Location fields %q, want one empty", locs)
	}
}

func TestBenchErrorPageFileGoesWhole(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /nf { error_page 404 /page.txt; return 404; }
		location = /ok { error_page 404 =200 /page.txt; return 404; }
	}`)
	if err := os.MkdirAll(filepath.Join(b.dir, "html"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "html", "page.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, fields string
		status             int
		body               string
		lastMod            bool
	}{
		{"an error page's file ignores Range and If-None-Match", "/nf", "Range: bytes=0-1\r\nIf-None-Match: *\r\n", 404, "hello\n", false},
		{"an error page's file sent as 200 is a file like any other", "/ok", "Range: bytes=0-1\r\n", 206, "he", true},
		{"an error page's file sent as 200 can be not modified", "/ok", "If-None-Match: *\r\n", 304, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			resp, body := b.connect().roundTrip(httpGet(tc.path, tc.fields))
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if got := resp.Header.Get("Last-Modified") != ""; got != tc.lastMod {
				t.Errorf("Last-Modified %q, want one: %v", resp.Header.Get("Last-Modified"), tc.lastMod)
			}
			if tc.status == 404 && resp.Header.Get("Accept-Ranges") != "" {
				t.Errorf("Accept-Ranges %q on an error page", resp.Header.Get("Accept-Ranges"))
			}
		})
	}
}

func TestBenchRewriteErrorLog(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location /echo/ { return 200 "echo $uri"; }
		location /loop/ { rewrite ^/loop/(.*)$ /loop/$1 last; }
		location /empty/ { rewrite ^/empty/(.*)$ $1; }
		location /uninit/ { if ($arg_a) { set $u "set"; } return 200 "u=[$u]"; }
		location /nowarn/ { uninitialized_variable_warn off; if ($arg_a) { set $w "set"; } return 200 "w=[$w]"; }
		location /log/ { rewrite_log on; rewrite ^/log/(.*)$ /echo/$1; rewrite ^/nomatch /x; }
	}`)
	runBenchCases(t, b, []rwBenchCase{
		{req: "GET /loop/a", status: 500, page: "500 Internal Server Error"},
		{req: "GET /empty/", status: 500, page: "500 Internal Server Error"},
		{req: "GET /uninit/", status: 200, body: "u=[]"},
		{req: "GET /uninit/?a=1", status: 200, body: "u=[set]"},
		{req: "GET /nowarn/", status: 200, body: "w=[]"},
		{req: "GET /log/a?k=v", status: 200, body: "echo /echo/a"},
	})
	for _, line := range []string{
		`[error] `,
		`rewrite or internal redirection cycle while processing "/loop/a", client: 127.0.0.1, server: , request: "GET /loop/a HTTP/1.1", host: "h"`,
		`the rewritten URI has a zero length, client: 127.0.0.1, server: , request: "GET /empty/ HTTP/1.1"`,
		`[warn] `,
		`using uninitialized "u" variable, client: 127.0.0.1, server: , request: "GET /uninit/ HTTP/1.1"`,
		`[notice] `,
		`"^/log/(.*)$" matches "/log/a", client: 127.0.0.1`,
		`rewritten data: "/echo/a", args: "k=v", client: 127.0.0.1`,
		`"^/nomatch" does not match "/echo/a", client: 127.0.0.1`,
	} {
		b.waitErrorLog(line)
	}
	log := b.errorLog()
	if strings.Contains(log, `"w" variable`) {
		t.Errorf("a warning with uninitialized_variable_warn off:\n%s", log)
	}
	if n := strings.Count(log, `"u" variable`); n != 1 {
		t.Errorf("%d warnings for $u, want 1:\n%s", n, log)
	}
}

func TestBenchAccelRedirectToNamedLocationKeepsMethod(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/named") {
			w.Header().Set("X-Accel-Redirect", "@named")
		} else {
			w.Header().Set("X-Accel-Redirect", "/target")
		}
	})
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location / { proxy_pass http://`+up+`; }
		location = /target { return 200 "target $request_method"; }
		location @named { return 200 "named $request_method $uri"; }
	}`)
	runBenchCases(t, b, []rwBenchCase{
		{req: "POST /named/x", status: 200, body: "named POST /named/x"},
		{req: "GET /named/x", status: 200, body: "named GET /named/x"},
		{req: "POST /uri/x", status: 200, body: "target GET"},
	})
}

// TestEscapeTablesAreNginxs checks appendEscapedURI and appendEscapedArgs
// byte by byte against nginx 1.22's NGX_ESCAPE_URI and NGX_ESCAPE_ARGS:
// control bytes, space, bytes from 0x7f and '"', '#', '%', '<', '>', '?',
// '\', '^', '`', '{', '|', '}' for a URI, and '&', '+', ';' too for
// arguments.
func TestEscapeTablesAreNginxs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		escape func(b, p []byte) []byte
		extra  string
	}{
		{"URI", appendEscapedURI, "\"#%<>?\\^`{|}"},
		{"arguments", appendEscapedArgs, "\"#%<>?\\^`{|}&+;"},
	} {
		for c := 0; c < 256; c++ {
			want := string([]byte{byte(c)})
			if c <= ' ' || c >= 0x7f || strings.IndexByte(tc.extra, byte(c)) >= 0 {
				want = fmt.Sprintf("%%%02X", c)
			}
			if got := string(tc.escape([]byte("x"), []byte{byte(c)})); got != "x"+want {
				t.Errorf("%s: byte %#02x escaped as %q, want %q", tc.name, c, got, "x"+want)
			}
		}
	}
}

func TestBenchReturnCodesWithoutPages(t *testing.T) {
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /r418 { return 418; }
		location = /r599 { return 599; }
		location = /r497 { return 497; }
		location = /r408 { return 408; }
		location = /r499 { return 499; }
		location = /named { error_page 418 = @n; return 418; }
		location @n { return 200 "named"; }
	}`)
	for _, tc := range []struct {
		name, path string
		status     int
		ctype      string
		page       string
	}{
		{"a code nginx has no page for goes with no body and no Content-Type", "/r418", 418, "", ""},
		{"so does one beyond the known ones", "/r599", 599, "", ""},
		{"497 is sent as 400 with its own page", "/r497", 400, "text/html", "<title>400 The plain HTTP request was sent to HTTPS port</title>"},
		{"an error_page takes over a code without a page", "/named", 200, "text/plain", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			resp, body := b.connect().roundTrip(httpGet(tc.path))
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype)
			}
			if tc.page == "" && tc.path != "/named" && (body != "" || resp.Header.Get("Content-Length") != "0") {
				t.Errorf("body %q, Content-Length %q, want none", body, resp.Header.Get("Content-Length"))
			}
			if !strings.Contains(body, tc.page) {
				t.Errorf("body %q lacks %q", body, tc.page)
			}
		})
	}
	for _, path := range []string{"/r408", "/r499"} {
		t.Run(path+" closes without an answer", func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			m.send(httpGet(path))
			if out := m.waitClosed(); len(out) != 0 {
				t.Errorf("sent %q, want nothing", out)
			}
		})
	}
	lines := b.accessLines(6)
	for _, want := range []string{`"GET /r408 HTTP/1.1" 408 0`, `"GET /r499 HTTP/1.1" 499 0`} {
		if !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("access log lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}
