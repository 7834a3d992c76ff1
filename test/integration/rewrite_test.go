package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rwCase is one request of a rewrite test and what the answer must be.
// Every expectation holds for nginx and for headroom alike.
type rwCase struct {
	// req is the method and target, such as "GET /a?b=c"; head holds
	// more header lines ("Name: value\r\n" each) and body a request body.
	req, head, body string
	status          int
	// location is the Location fields joined by "\n" ("" also when there
	// is none); {{PORT}} stands for the proxy's port. noLocation is set
	// where the answer must have no Location field at all.
	location   string
	noLocation bool
	// page, when set, is the title of the built-in page the body must
	// be (the server's name in it differs); otherwise the body must be
	// want exactly.
	page, want string
	// fields are more header fields to compare; "" means absent.
	fields map[string]string
}

// rwRequest writes the case's request with Host "h", closing after it.
func (c *rwCase) rwRequest() string {
	req := c.req + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" + c.head
	if c.body != "" {
		req += "Content-Length: " + strconv.Itoa(len(c.body)) + "\r\n"
	}
	return req + "\r\n" + c.body
}

// runRewriteCases sends each case to p and checks its answer.
func runRewriteCases(t *testing.T, p *proxy, cases []rwCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.req, func(t *testing.T) {
			resp, _ := sendRawLinger(t, p.addr, c.rwRequest())
			if resp.Status != c.status {
				t.Errorf("status %d, want %d\n%s", resp.Status, c.status, resp)
			}
			locs := resp.Headers.values("Location")
			want := strings.ReplaceAll(c.location, "{{PORT}}", strconv.Itoa(p.port))
			if got := strings.Join(locs, "\n"); got != want {
				t.Errorf("Location %q, want %q\n%s", got, want, resp)
			}
			if c.noLocation && len(locs) != 0 {
				t.Errorf("Location fields %q, want none", locs)
			}
			if c.page != "" {
				if !strings.Contains(string(resp.Body), "<title>"+c.page+"</title>") {
					t.Errorf("body %q is not the page %q", resp.Body, c.page)
				}
			} else if string(resp.Body) != c.want {
				t.Errorf("body %q, want %q", resp.Body, c.want)
			}
			for name, v := range c.fields {
				if got := resp.header(name); got != v || v == "" && resp.Headers.has(name) {
					t.Errorf("%s %q, want %q\n%s", name, got, v, resp)
				}
			}
		})
	}
}

// waitLogged waits up to 3 s for the proxy's log file to contain each of
// the lines and reports those it does not.
func waitLogged(t *testing.T, p *proxy, file string, lines ...string) {
	t.Helper()
	var log string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		log = p.readLog(file)
		missing := 0
		for _, l := range lines {
			if !strings.Contains(log, l) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	for _, l := range lines {
		if !strings.Contains(log, l) {
			t.Errorf("%s lacks %q", file, l)
		}
	}
}

// echoLine is an upstream answering with the request line it received.
func echoLine(t *testing.T) *upstream {
	return newUpstream(t, "echo", func(c *upConn, r *upRequest) {
		c.respond(200, "upstream: "+r.Line+"\n")
	})
}

// TestRewriteFlagsAndArguments checks rewrite's flags and what becomes of
// the request's arguments against nginx: last looks for the location
// again, break stays in the location, no flag goes on with the next
// directives, redirect and permanent answer 302 and 301 with an absolute
// Location, and a replacement starting with http:// or $scheme redirects.
// The request's arguments are kept (after "&" when the replacement has
// its own), replaced, or dropped by a final "?"; an empty result is a
// 500 with nginx's message.
func TestRewriteFlagsAndArguments(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := echoLine(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /echo/ { return 200 "echo $uri?$args\n"; }
        location /last/ { rewrite ^/last/(.*)$ /echo/$1 last; return 500; }
        location /break/ { rewrite ^/break/(.*)$ /echo/$1 break; return 500; proxy_pass http://%s; }
        location /none/ { rewrite ^/none/(.*)$ /two/$1; rewrite ^/two/(.*)$ /echo/$1; return 200 "went on $uri?$args\n"; }
        location /relocated/ { rewrite ^/relocated/(.*)$ /echo/$1; }
        location /redirect/ { rewrite ^/redirect/(.*)$ /target/$1 redirect; return 500; }
        location /permanent/ { rewrite ^/permanent/(.*)$ /target/$1 permanent; }
        location /absolute/ { rewrite ^/absolute/(.*)$ http://example.com/$1; return 500; }
        location /absargs/ { rewrite ^/absargs/(.*)$ http://example.com/$1?x=1; }
        location /absdrop/ { rewrite ^/absdrop/(.*)$ http://example.com/$1?; }
        location /relargs/ { rewrite ^/relargs/(.*)$ /target?q=$1 redirect; }
        location /scheme/ { rewrite ^ $scheme://example.com/s; }
        location /replace/ { rewrite ^/replace/(.*)$ /echo/$1?x=$1; }
        location /drop/ { rewrite ^/drop/(.*)$ /echo/$1?; }
        location /replacedrop/ { rewrite ^/replacedrop/(.*)$ /echo/$1?x=$1?; }
        location /twoq/ { rewrite ^/twoq/(.*)$ /echo/$1?a=1?b=2; }
        location /nomatch/ { rewrite ^/other /echo/x last; return 200 "no match $uri\n"; }
        location /empty/ { rewrite ^/empty/(.*)$ $1; }
    }`, up.addr))
		runRewriteCases(t, p, []rwCase{
			{req: "GET /last/a?k=v", status: 200, want: "echo /echo/a?k=v\n"},
			{req: "GET /break/a?k=v", status: 200, want: "upstream: GET /echo/a?k=v HTTP/1.0\n"},
			{req: "GET /none/a?k=v", status: 200, want: "went on /echo/a?k=v\n"},
			{req: "GET /relocated/a?k=v", status: 200, want: "echo /echo/a?k=v\n"},
			{req: "GET /redirect/a?k=v", status: 302, location: "http://h:{{PORT}}/target/a?k=v", page: "302 Found"},
			{req: "GET /permanent/a", status: 301, location: "http://h:{{PORT}}/target/a", page: "301 Moved Permanently"},
			{req: "GET /absolute/a?k=v", status: 302, location: "http://example.com/a?k=v", page: "302 Found"},
			{req: "GET /absargs/a?k=v", status: 302, location: "http://example.com/a?x=1&k=v", page: "302 Found"},
			{req: "GET /absdrop/a?k=v", status: 302, location: "http://example.com/a", page: "302 Found"},
			{req: "GET /relargs/a?k=v", status: 302, location: "http://h:{{PORT}}/target?q=a&k=v", page: "302 Found"},
			{req: "GET /scheme/x", status: 302, location: "http://example.com/s", page: "302 Found"},
			{req: "GET /replace/a?k=v", status: 200, want: "echo /echo/a?x=a&k=v\n"},
			{req: "GET /replace/a", status: 200, want: "echo /echo/a?x=a\n"},
			{req: "GET /drop/a?k=v", status: 200, want: "echo /echo/a?\n"},
			{req: "GET /replacedrop/a?k=v", status: 200, want: "echo /echo/a?x=a\n"},
			{req: "GET /twoq/x", status: 200, want: "echo /echo/x?a=1?b=2\n"},
			{req: "GET /nomatch/x", status: 200, want: "no match /nomatch/x\n"},
			{req: "GET /empty/", status: 500, page: "500 Internal Server Error"},
		})
		waitLogged(t, p, "error.log", `the rewritten URI has a zero length, client: 127.0.0.1, server: , request: "GET /empty/ HTTP/1.1"`)
	})
}

// TestRewriteCaptures checks captures against nginx: $1..$9 and named
// captures from a location's regex, a rewrite's and an if's (~ and ~*);
// a group that did not take part, or beyond the regex's, is empty; a
// failed match forgets the groups. Captures are escaped where they land
// in the arguments, and in a redirect, when the client's path had %XX
// escapes or a '+' (nginx's NGX_ESCAPE_ARGS), and are decoded in the
// URI of an internal rewrite.
func TestRewriteCaptures(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location /echo/ { return 200 "echo $uri?$args\n"; }
        location ~ ^/loc/(?<name>[a-z]+)/(\d+)$ { return 200 "name=$name 1=$1 2=$2\n"; }
        location /named/ { rewrite ^/named/(?<first>\w+)/(?<second>\w+)$ /echo/$second/$first; }
        location /ifre/ { if ($uri ~ ^/ifre/(\w+)-(?<num>\d+)) { return 200 "1=$1 num=$num\n"; } return 404; }
        location /ifcase/ { if ($arg_a ~* ^AB(C)) { return 200 "1=$1\n"; } return 200 "no match\n"; }
        location ~ ^/setcap/(\w+)$ { set $v "[$1]"; return 200 "v=$v\n"; }
        location ~ ^/forget/(\w+)$ { rewrite ^/nothing /x; return 200 "1=[$1]\n"; }
        location /missing/ { rewrite ^/missing/(\w+)$ /echo/$1-$2-$9; }
        location /args/ { rewrite ^/args/(.*)$ /echo/x?a=$1; }
        location /redir/ { rewrite ^/redir/(.*)$ http://example.com/$1 redirect; }
        location /redirargs/ { rewrite ^/redirargs/(.*)$ /x?a=$1 redirect; }
        location /uri/ { rewrite ^/uri/(.*)$ /echo/$1; }
        location /retcap/ { rewrite ^/retcap/(.*)$ /z; return 200 "1=[$1]\n"; }
    }`)
		runRewriteCases(t, p, []rwCase{
			{req: "GET /loc/abc/12", status: 200, want: "name=abc 1=abc 2=12\n"},
			{req: "GET /named/one/two?z=1", status: 200, want: "echo /echo/two/one?z=1\n"},
			{req: "GET /ifre/word-42", status: 200, want: "1=word num=42\n"},
			{req: "GET /ifcase/?a=abcd", status: 200, want: "1=c\n"},
			{req: "GET /ifcase/?a=xbc", status: 200, want: "no match\n"},
			{req: "GET /setcap/abc", status: 200, want: "v=[abc]\n"},
			{req: "GET /forget/abc", status: 200, want: "1=[]\n"},
			{req: "GET /missing/abc", status: 200, want: "echo /echo/abc--?\n"},
			{req: "GET /args/a%20b+c?k=v", status: 200, want: "echo /echo/x?a=a%20b%2Bc&k=v\n"},
			{req: "GET /args/a&b", status: 200, want: "echo /echo/x?a=a&b\n"},
			{req: "GET /args/a%22b%7Bc%3Cd%5Ce%60f%7Cg%5Eh", status: 200, want: "echo /echo/x?a=a%22b%7Bc%3Cd%5Ce%60f%7Cg%5Eh\n"},
			{req: "GET /redir/a%20b+c?k=v", status: 302, location: "http://example.com/a%20b+c?k=v", page: "302 Found"},
			{req: "GET /redir/plain", status: 302, location: "http://example.com/plain", page: "302 Found"},
			{req: "GET /redirargs/a%26b?k=v", status: 302, location: "http://h:{{PORT}}/x?a=a%26b&k=v", page: "302 Found"},
			{req: "GET /redirargs/a+b", status: 302, location: "http://h:{{PORT}}/x?a=a%2Bb", page: "302 Found"},
			{req: "GET /redirargs/a&b", status: 302, location: "http://h:{{PORT}}/x?a=a&b", page: "302 Found"},
			{req: "GET /redirargs/%D0%B6", status: 302, location: "http://h:{{PORT}}/x?a=%D0%B6", page: "302 Found"},
			{req: "GET /uri/a%20b?k=v", status: 200, want: "echo /echo/a b?k=v\n"},
			{req: "GET /retcap/abc", status: 200, want: "1=[abc]\n"},
		})
	})
}

// TestRewriteSetVariables checks set against nginx: values made of other
// variables, in order, at the server and location levels; "set $args"
// changes the arguments ($is_args is "?" only while they are not
// empty); a variable that set gives but that no set ran
// for is empty, with nginx's warning in the error log unless
// uninitialized_variable_warn is off.
func TestRewriteSetVariables(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        set $srv "server $uri";
        location /set/ { set $a "x$uri"; set $b "$a-y"; set $a "changed"; return 200 "a=$a b=$b\n"; }
        location /setargs/ { set $args "new=1&$args"; return 200 "args=$args arg_old=$arg_old\n"; }
        location /uninit/ { if ($arg_a) { set $u "set"; } return 200 "u=[$u]\n"; }
        location /nowarn/ { uninitialized_variable_warn off; if ($arg_a) { set $w "set"; } return 200 "w=[$w]\n"; }
        location /srvset/ { return 200 "srv=[$srv]\n"; }
        location /noargs/ { set $args ""; return 200 "is_args=[$is_args] args=[$args]\n"; }
        location /isargs/ { return 200 "is_args=[$is_args] args=[$args]\n"; }
    }`)
		runRewriteCases(t, p, []rwCase{
			{req: "GET /set/", status: 200, want: "a=changed b=x/set/-y\n"},
			{req: "GET /setargs/?old=1", status: 200, want: "args=new=1&old=1 arg_old=1\n"},
			{req: "GET /uninit/", status: 200, want: "u=[]\n"},
			{req: "GET /uninit/?a=1", status: 200, want: "u=[set]\n"},
			{req: "GET /nowarn/", status: 200, want: "w=[]\n"},
			{req: "GET /srvset/", status: 200, want: "srv=[server /srvset/]\n"},
			{req: "GET /noargs/?k=v", status: 200, want: "is_args=[] args=[]\n"},
			{req: "GET /isargs/x?", status: 200, want: "is_args=[] args=[]\n"},
			{req: "GET /isargs/x?k=v", status: 200, want: "is_args=[?] args=[k=v]\n"},
		})
		waitLogged(t, p, "error.log", `using uninitialized "u" variable, client: 127.0.0.1, server: , request: "GET /uninit/ HTTP/1.1"`)
		log := p.readLog("error.log")
		if strings.Contains(log, `using uninitialized "w" variable`) {
			t.Errorf("a warning with uninitialized_variable_warn off:\n%s", log)
		}
		if n := strings.Count(log, `using uninitialized "u" variable`); n != 1 {
			t.Errorf("%d warnings for $u, want 1 (the request that set it has none):\n%s", n, log)
		}
	})
}

// TestRewriteIfConditions checks every form of if's condition against
// nginx: = and != with a value, ~ ~* !~ !~* with a regex, -f -d -e -x and
// their negations on a file name, and a plain variable, which is false
// when empty or "0" (and true for "00").
func TestRewriteIfConditions(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location /eq { if ($arg_a = "x") { return 200 "equal\n"; } return 200 "different\n"; }
        location /neq { if ($arg_a != "x") { return 200 "different\n"; } return 200 "equal\n"; }
        location /match { if ($arg_a ~ ^ab) { return 200 "match\n"; } return 200 "no match\n"; }
        location /imatch { if ($arg_a ~* ^ab) { return 200 "match\n"; } return 200 "no match\n"; }
        location /nmatch { if ($arg_a !~ ^ab) { return 200 "no match\n"; } return 200 "match\n"; }
        location /nimatch { if ($arg_a !~* ^ab) { return 200 "no match\n"; } return 200 "match\n"; }
        location /f { if (-f {{PREFIX}}/html$arg_p) { return 200 "file\n"; } return 200 "not a file\n"; }
        location /nf { if (!-f {{PREFIX}}/html$arg_p) { return 200 "not a file\n"; } return 200 "file\n"; }
        location /d { if (-d {{PREFIX}}/html$arg_p) { return 200 "directory\n"; } return 200 "not a directory\n"; }
        location /nd { if (!-d {{PREFIX}}/html$arg_p) { return 200 "not a directory\n"; } return 200 "directory\n"; }
        location /e { if (-e {{PREFIX}}/html$arg_p) { return 200 "exists\n"; } return 200 "does not exist\n"; }
        location /ne { if (!-e {{PREFIX}}/html$arg_p) { return 200 "does not exist\n"; } return 200 "exists\n"; }
        location /x { if (-x {{PREFIX}}/html$arg_p) { return 200 "executable\n"; } return 200 "not executable\n"; }
        location /nx { if (!-x {{PREFIX}}/html$arg_p) { return 200 "not executable\n"; } return 200 "executable\n"; }
        location /var { if ($arg_a) { return 200 "true\n"; } return 200 "false\n"; }
    }`)
		html := filepath.Join(p.prefix, "html")
		if err := os.MkdirAll(filepath.Join(html, "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, mode := range map[string]os.FileMode{"plain.txt": 0o644, "run.sh": 0o755} {
			if err := os.WriteFile(filepath.Join(html, name), []byte("x\n"), mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(html, name), mode)
		}
		runRewriteCases(t, p, []rwCase{
			{req: "GET /eq?a=x", status: 200, want: "equal\n"},
			{req: "GET /eq?a=y", status: 200, want: "different\n"},
			{req: "GET /neq?a=x", status: 200, want: "equal\n"},
			{req: "GET /neq?a=y", status: 200, want: "different\n"},
			{req: "GET /match?a=abc", status: 200, want: "match\n"},
			{req: "GET /match?a=ABc", status: 200, want: "no match\n"},
			{req: "GET /imatch?a=ABc", status: 200, want: "match\n"},
			{req: "GET /imatch?a=xab", status: 200, want: "no match\n"},
			{req: "GET /nmatch?a=zz", status: 200, want: "no match\n"},
			{req: "GET /nmatch?a=abc", status: 200, want: "match\n"},
			{req: "GET /nimatch?a=ABx", status: 200, want: "match\n"},
			{req: "GET /nimatch?a=q", status: 200, want: "no match\n"},
			{req: "GET /f?p=/plain.txt", status: 200, want: "file\n"},
			{req: "GET /f?p=/dir", status: 200, want: "not a file\n"},
			{req: "GET /f?p=/nothing", status: 200, want: "not a file\n"},
			{req: "GET /nf?p=/dir", status: 200, want: "not a file\n"},
			{req: "GET /nf?p=/plain.txt", status: 200, want: "file\n"},
			{req: "GET /d?p=/dir", status: 200, want: "directory\n"},
			{req: "GET /d?p=/plain.txt", status: 200, want: "not a directory\n"},
			{req: "GET /nd?p=/plain.txt", status: 200, want: "not a directory\n"},
			{req: "GET /nd?p=/dir", status: 200, want: "directory\n"},
			{req: "GET /e?p=/dir", status: 200, want: "exists\n"},
			{req: "GET /e?p=/plain.txt", status: 200, want: "exists\n"},
			{req: "GET /e?p=/nothing", status: 200, want: "does not exist\n"},
			{req: "GET /ne?p=/nothing", status: 200, want: "does not exist\n"},
			{req: "GET /ne?p=/dir", status: 200, want: "exists\n"},
			{req: "GET /x?p=/run.sh", status: 200, want: "executable\n"},
			{req: "GET /x?p=/plain.txt", status: 200, want: "not executable\n"},
			{req: "GET /x?p=/nothing", status: 200, want: "not executable\n"},
			{req: "GET /nx?p=/plain.txt", status: 200, want: "not executable\n"},
			{req: "GET /nx?p=/run.sh", status: 200, want: "executable\n"},
			{req: "GET /var?a=1", status: 200, want: "true\n"},
			{req: "GET /var?a=00", status: 200, want: "true\n"},
			{req: "GET /var?a=0", status: 200, want: "false\n"},
			{req: "GET /var?a=", status: 200, want: "false\n"},
			{req: "GET /var", status: 200, want: "false\n"},
		})
	})
}

// TestRewriteIfBlocks checks what an if block changes against nginx: in a
// location its add_header and proxy_pass become the request's (the
// location's proxy_pass is inherited by a block without one, and its
// add_header is not when the block has its own), a return inside it
// answers; break stops the directives, inside an if too; the server's
// own rewrite and if run before the location is found.
func TestRewriteIfBlocks(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "echo", func(c *upConn, r *upRequest) {
			c.respond(200, "upstream: "+r.Line+"\n")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        rewrite ^/srv/(.*)$ /echo/$1 last;
        if ($arg_srv) { return 200 "server if\n"; }
        if ($http_x_srv) { rewrite ^ /echo/from-server-if; }
        location /echo/ { return 200 "echo $uri?$args\n"; }
        location /hdr/ { if ($arg_a) { add_header X-If yes; } add_header X-Loc loc; return 200 "hdr\n"; }
        location /px/ { if ($arg_a) { proxy_pass http://%[1]s; } proxy_pass http://%[1]s/base/; }
        location /inherit/ { if ($arg_a) { add_header X-If yes; } proxy_pass http://%[1]s/base/; }
        location /ifret/ { if ($arg_a) { return 301 http://example.com/$arg_a; } return 200 "no\n"; }
        location /ifrel/ { if ($arg_a) { return 302 /rel/$arg_a; } return 200 "no\n"; }
        location /brk/ { set $x 1; break; set $x 2; return 200 "not reached\n"; add_header X-X $x; proxy_pass http://%[1]s; }
        location /brkif/ { if ($arg_a) { set $y 1; break; } set $y 2; add_header X-Y $y; proxy_pass http://%[1]s; }
    }`, up.addr))
		runRewriteCases(t, p, []rwCase{
			{req: "GET /srv/a?k=v", status: 200, want: "echo /echo/a?k=v\n"},
			{req: "GET /anything?srv=1", status: 200, want: "server if\n"},
			{req: "GET /anything?k=v", head: "X-Srv: 1\r\n", status: 200, want: "echo /echo/from-server-if?k=v\n"},
			{req: "GET /hdr/?a=1", status: 200, want: "hdr\n", fields: map[string]string{"X-If": "yes", "X-Loc": ""}},
			{req: "GET /hdr/", status: 200, want: "hdr\n", fields: map[string]string{"X-If": "", "X-Loc": "loc"}},
			{req: "GET /px/q?a=1", status: 200, want: "upstream: GET /px/q?a=1 HTTP/1.0\n"},
			{req: "GET /px/q", status: 200, want: "upstream: GET /base/q HTTP/1.0\n"},
			{req: "GET /inherit/q?a=1", status: 200, want: "upstream: GET /base/q?a=1 HTTP/1.0\n", fields: map[string]string{"X-If": "yes"}},
			{req: "GET /ifret/?a=b", status: 301, location: "http://example.com/b", page: "301 Moved Permanently"},
			{req: "GET /ifret/", status: 200, want: "no\n"},
			{req: "GET /ifrel/?a=b", status: 302, location: "http://h:{{PORT}}/rel/b", page: "302 Found"},
			{req: "GET /brk/", status: 200, want: "upstream: GET /brk/ HTTP/1.0\n", fields: map[string]string{"X-X": "1"}},
			{req: "GET /brkif/?a=1", status: 200, want: "upstream: GET /brkif/?a=1 HTTP/1.0\n", fields: map[string]string{"X-Y": "1"}},
			{req: "GET /brkif/", status: 200, want: "upstream: GET /brkif/ HTTP/1.0\n", fields: map[string]string{"X-Y": "2"}},
		})
	})
}

// TestRewriteCycle checks nginx's limit of ten URI changes against nginx:
// ten "rewrite ... last" in a row are followed, an eleventh (and a rewrite
// to the same location) ends in 500 with nginx's error log line.
func TestRewriteCycle(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		var chain strings.Builder
		for i := 1; i <= 12; i++ {
			fmt.Fprintf(&chain, "        location = /c%d { rewrite ^ /c%d last; }\n", i, i+1)
		}
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location /loop/ { rewrite ^/loop/(.*)$ /loop/$1 last; }
        location /ping/ { rewrite ^/ping/(.*)$ /pong/$1 last; }
        location /pong/ { rewrite ^/pong/(.*)$ /ping/$1 last; }
`+chain.String()+`        location = /c13 { return 200 "end\n"; }
    }`)
		runRewriteCases(t, p, []rwCase{
			{req: "GET /loop/a", status: 500, page: "500 Internal Server Error"},
			{req: "GET /ping/a", status: 500, page: "500 Internal Server Error"},
			{req: "GET /c2", status: 500, page: "500 Internal Server Error"},
			{req: "GET /c3", status: 200, want: "end\n"},
		})
		waitLogged(t, p, "error.log",
			`rewrite or internal redirection cycle while processing "/loop/a", client: 127.0.0.1, server: , request: "GET /loop/a HTTP/1.1"`,
			`rewrite or internal redirection cycle while processing "/pong/a", client: 127.0.0.1, server: , request: "GET /ping/a HTTP/1.1"`,
			`rewrite or internal redirection cycle while processing "/c13", client: 127.0.0.1, server: , request: "GET /c2 HTTP/1.1"`)
	})
}

// TestRewriteUpstreamURI checks the request line an upstream gets after
// the rewrite directives against nginx: after "rewrite ... break" the
// whole new URI (proxy_pass's URI part no longer replaces the location's
// prefix), escaped; after "rewrite ... last" into a proxied location its
// prefix replaced as usual; after "set $args" the new arguments, also
// with a proxy_pass without URI; "?" only with arguments that are not
// empty.
func TestRewriteUpstreamURI(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := echoLine(t)
		p := startProxy(t, tg, strings.ReplaceAll(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /pb/ { rewrite ^/pb/(.*)$ /changed/$1 break; proxy_pass http://UP/prefix/; }
        location /pbq/ { rewrite ^/pbq/(.*)$ /changed/$1?n=1 break; proxy_pass http://UP/prefix/; }
        location /pn/ { proxy_pass http://UP/prefix/; }
        location /pl/ { rewrite ^/pl/(.*)$ /pn/$1 last; }
        location /pnouri/ { proxy_pass http://UP; }
        location /plnouri/ { rewrite ^/plnouri/(.*)$ /pnouri/$1 last; }
        location /pbnouri/ { rewrite ^/pbnouri/(.*)$ /z/$1 break; proxy_pass http://UP; }
        location /pbrk/ { rewrite ^ /other/; break; proxy_pass http://UP/prefix/; }
        location /pq/ { rewrite ^/pq/(.*)$ /pnouri/$1? last; }
        location /pqb/ { rewrite ^ /z? break; proxy_pass http://UP; }
        location /same/ { rewrite ^(.*)$ $1 break; proxy_pass http://UP; }
        location /sa/ { set $args "$args&extra=1"; proxy_pass http://UP; }
        location /sae/ { set $args ""; proxy_pass http://UP; }
        location /saq/ { set $args "x=1"; proxy_pass http://UP/prefix/; }
        location /pset/ { set $x 1; proxy_pass http://UP/prefix/; }
    }`, "UP", up.addr))
		for _, c := range []struct{ req, line string }{
			{"GET /pb/a?k=v", "GET /changed/a?k=v"},
			{"GET /pb/a%20b%3F?k=v", "GET /changed/a%20b%3F?k=v"},
			{"GET /pb/a+b", "GET /changed/a+b"},
			{"GET /pb/%41", "GET /changed/A"},
			{"GET /pbq/a?k=v", "GET /changed/a?n=1&k=v"},
			{"GET /pn/a?k=v", "GET /prefix/a?k=v"},
			{"GET /pn/a%20b", "GET /prefix/a%20b"},
			{"GET /pn/a+b", "GET /prefix/a+b"},
			{"GET /pn/a?", "GET /prefix/a"},
			{"GET /pl/a?k=v", "GET /prefix/a?k=v"},
			{"GET /pl/a%20b", "GET /prefix/a%20b"},
			{"GET /pl/a%3Fb", "GET /prefix/a%3Fb"},
			{"GET /pl/a?", "GET /prefix/a"},
			{"GET /pnouri/a?", "GET /pnouri/a?"},
			{"GET /plnouri/a?k=v", "GET /pnouri/a?k=v"},
			{"GET /pbnouri/a?k=v", "GET /z/a?k=v"},
			{"GET /pbrk/a?k=v", "GET /other/?k=v"},
			{"GET /pq/a?k=v", "GET /pnouri/a"},
			{"GET /pqb/a?k=v", "GET /z"},
			{"GET /same/a%20b?k=v", "GET /same/a%20b?k=v"},
			{"GET /same/a\"b{c}", "GET /same/a%22b%7Bc%7D"},
			{"GET /sa/?k=v", "GET /sa/?k=v&extra=1"},
			{"GET /sa/a%20b?k=v", "GET /sa/a%20b?k=v&extra=1"},
			{"GET /sa/a+b", "GET /sa/a+b?&extra=1"},
			{"GET /sae/?k=v", "GET /sae/"},
			{"GET /saq/a?k=v", "GET /prefix/a?x=1"},
			{"GET /pset/a%20b", "GET /prefix/a%20b"},
		} {
			t.Run(c.req, func(t *testing.T) {
				resp := sendRaw(t, p.addr, c.req+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
				if want := "upstream: " + c.line + " HTTP/1.0\n"; resp.Status != 200 || string(resp.Body) != want {
					t.Errorf("%d %q, want 200 %q", resp.Status, resp.Body, want)
				}
			})
		}
	})
}

// TestRewriteNamedLocations checks named locations against nginx:
// try_files falling back to @name (the URI and method stay), error_page
// 404 = @name (the method kept, the named location's own status), an
// error_page to @name without "=" (the error's status), a named location
// whose rewrite sends the request on, a proxied named location, and an
// upstream's X-Accel-Redirect to @name (the method kept there too, unlike
// a redirect to a URI, which is made a GET).
func TestRewriteNamedLocations(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := echoLine(t)
		accel := newUpstream(t, "accel", func(c *upConn, r *upRequest) {
			c.respond(200, "ignored", "X-Accel-Redirect: @accelled")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        location /echo/ { return 200 "echo $uri?$args\n"; }
        location /tf/ { try_files $uri @fallback; }
        location @fallback { return 200 "fallback $uri $request_method $args\n"; }
        location /ep/ { error_page 404 = @nf; return 404; }
        location @nf { return 200 "nf $uri $request_method\n"; }
        location /ep2/ { error_page 404 @nf2; return 404; }
        location @nf2 { rewrite ^ /echo/named last; }
        location /epp/ { error_page 404 = @prox; return 404; }
        location /tfp/ { try_files /nothing @prox; }
        location @prox { proxy_pass http://%s; }
        location /accel/ { proxy_pass http://%s; }
        location @accelled { return 200 "accelled $uri $request_method\n"; }
    }`, up.addr, accel.addr))
		runRewriteCases(t, p, []rwCase{
			{req: "GET /tf/x?k=v", status: 200, want: "fallback /tf/x GET k=v\n"},
			{req: "POST /tf/x", body: "abc", status: 200, want: "fallback /tf/x POST \n"},
			{req: "GET /ep/x", status: 200, want: "nf /ep/x GET\n"},
			{req: "POST /ep/x", body: "abc", status: 200, want: "nf /ep/x POST\n"},
			{req: "GET /ep2/x", status: 404, want: "echo /echo/named?\n"},
			{req: "GET /epp/x?k=v", status: 200, want: "upstream: GET /epp/x?k=v HTTP/1.0\n"},
			{req: "POST /epp/x", body: "abc", status: 200, want: "upstream: POST /epp/x HTTP/1.0\n"},
			{req: "GET /tfp/x?k=v", status: 200, want: "upstream: GET /tfp/x?k=v HTTP/1.0\n"},
			{req: "GET /accel/x", status: 200, want: "accelled /accel/x GET\n"},
			{req: "POST /accel/x", body: "abc", status: 200, want: "accelled /accel/x POST\n"},
		})
	})
}

// TestRewriteAnswersAndErrorPages checks how return and rewrite's
// redirects meet error_page against nginx. A redirect (return 3xx,
// rewrite's redirect, the slash redirects) is a special response that an
// error_page for its status takes over, and its Location stays with the
// request, so the page's answer has it; each error or redirect on the way
// becomes the status sent, over what an earlier error_page chose; an
// answer of its own (return with a text, or a code below 400) keeps the
// status of the error it answers, even 204, and so does a file, which
// nginx then sends whole and without Last-Modified; "return 302;" sends
// an empty Location.
func TestRewriteAnswersAndErrorPages(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := echoLine(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        location = /text { return 200 "text\n"; }
        location = /r405 { return 405; }
        location = /r204 { return 204; }
        location = /r200 { return 200; }
        location = /r302 { return 302 "text"; }
        location = /r302none { return 302; }
        location = /rw { rewrite ^ http://example.com/ redirect; }
        location /auto/ { proxy_pass http://%[1]s; }
        location /pxy/ { proxy_pass http://%[1]s; }
        location = /a { error_page 302 /text; return 302 "first"; }
        location = /b { error_page 404 /r405; return 404; }
        location = /c { error_page 405 /r204; return 405; }
        location = /d { error_page 405 /r302; return 405; }
        location = /e { error_page 405 /rw; return 405; }
        location = /f { error_page 405 /dir; return 405; }
        location = /g { error_page 302 http://example.com/; return 302 "first"; }
        location = /h { error_page 302 /rw; return 302 "first"; }
        location = /j { error_page 302 /auto; return 302 "first"; }
        location = /l { error_page 302 /pxy/; return 302 "first"; }
        location = /m { error_page 302 = /text; return 302 "first"; }
        location = /n { error_page 302 =200 /text; return 302 "first"; }
        location = /o { error_page 301 /text; rewrite ^ /x permanent; }
        location = /p { error_page 301 /text; return 301; }
        location = /q { return 302; }
        location = /s { error_page 404 /r200; return 404; }
        location = /u { error_page 404 /r302none; return 404; }
        location = /w { return 307 /x; }
        location = /y { error_page 500 /text; return 500 "own text"; }
        location = /aa { error_page 302 /text; if ($arg_a) { return 302 http://x/; } return 200 "no\n"; }
        location = /ab { error_page 404 = /r302; return 404; }
        location = /ac { error_page 404 =410 /r302; return 404; }
        location = /nfpage { error_page 404 /page.txt; return 404; }
        location = /okpage { error_page 404 =200 /page.txt; return 404; }
    }`, up.addr))
		if err := os.MkdirAll(filepath.Join(p.prefix, "html", "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.prefix, "html", "page.txt"), []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		conditional := "Range: bytes=0-1\r\nIf-None-Match: *\r\n"
		plain := map[string]string{"Content-Type": "text/plain"}
		runRewriteCases(t, p, []rwCase{
			{req: "GET /a", status: 302, location: "first", want: "text\n", fields: plain},
			{req: "HEAD /a", status: 302, location: "first", fields: map[string]string{"Content-Length": "5"}},
			{req: "GET /b", status: 405, noLocation: true, page: "405 Not Allowed"},
			{req: "GET /c", status: 405, fields: map[string]string{"Content-Type": "text/plain", "Content-Length": "0"}},
			{req: "GET /d", status: 302, location: "text", page: "302 Found"},
			{req: "GET /e", status: 302, location: "http://example.com/", page: "302 Found"},
			{req: "GET /f", status: 301, location: "http://h:{{PORT}}/dir/", page: "301 Moved Permanently"},
			{req: "GET /g", status: 302, location: "http://example.com/", page: "302 Found"},
			{req: "GET /h", status: 302, location: "http://example.com/", page: "302 Found"},
			{req: "GET /j", status: 301, location: "http://h:{{PORT}}/auto/", page: "301 Moved Permanently"},
			{req: "GET /l", status: 302, location: "first", want: "upstream: GET /pxy/ HTTP/1.0\n"},
			{req: "GET /m", status: 200, location: "first", want: "text\n"},
			{req: "GET /n", status: 200, location: "first", want: "text\n"},
			{req: "GET /o", status: 301, location: "http://h:{{PORT}}/x", want: "text\n"},
			{req: "GET /p", status: 301, want: "text\n"},
			{req: "GET /q", status: 302, page: "302 Found"},
			{req: "GET /s", status: 404, want: "", fields: map[string]string{"Content-Type": "text/plain", "Content-Length": "0"}},
			{req: "GET /u", status: 302, page: "302 Found"},
			{req: "GET /w", status: 307, location: "http://h:{{PORT}}/x", page: "307 Temporary Redirect"},
			{req: "GET /y", status: 500, want: "own text", fields: plain},
			{req: "GET /aa?a=1", status: 302, location: "http://x/", want: "text\n"},
			{req: "GET /aa", status: 200, want: "no\n"},
			{req: "GET /ab", status: 302, location: "text", page: "302 Found"},
			{req: "GET /ac", status: 302, location: "text", page: "302 Found"},
			// A file sent as an error page goes whole with the error's
			// status: no range, no not-modified answer, no Last-Modified.
			{req: "GET /nfpage", head: conditional, status: 404, want: "hello\n",
				fields: map[string]string{"Last-Modified": "", "Accept-Ranges": "", "Content-Range": ""}},
			// Sent as 200, it is an ordinary answer again.
			{req: "GET /okpage", head: "Range: bytes=0-1\r\n", status: 206, want: "he",
				fields: map[string]string{"Content-Range": "bytes 0-1/6"}},
		})
		// An empty Location is sent as a field with no value.
		for _, path := range []string{"/p", "/q", "/u"} {
			resp := sendRaw(t, p.addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if locs := resp.Headers.values("Location"); len(locs) != 1 || locs[0] != "" {
				t.Errorf("%s: Location fields %q, want one empty", path, locs)
			}
		}
	})
}

// TestRewriteReturnExpectContinue checks against nginx that "return" with
// a redirect code answers "Expect: 100-continue" before its answer, as
// nginx's send_response discards the body first, while a rewrite's
// redirect and an error code do not.
func TestRewriteReturnExpectContinue(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location /ret302 { return 302 "http://example.com/"; }
        location /ret301 { return 301; }
        location /text { return 200 "t"; }
        location /rewrite { rewrite ^ /z redirect; }
        location /error { return 404; }
    }`)
		for _, c := range []struct {
			path        string
			continue100 bool
			status      int
		}{
			{"/ret302", true, 302},
			{"/ret301", true, 301},
			{"/text", true, 200},
			{"/rewrite", false, 302},
			{"/error", false, 404},
		} {
			t.Run(c.path, func(t *testing.T) {
				rc := dialRaw(t, p.addr)
				rc.write("POST " + c.path + " HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
				resp := rc.read("POST")
				if got := resp.Status == 100; got != c.continue100 {
					t.Errorf("first answer %d, want 100 Continue first: %v", resp.Status, c.continue100)
				}
				if resp.Status == 100 {
					resp = rc.read("POST")
				}
				if resp.Status != c.status {
					t.Errorf("status %d, want %d", resp.Status, c.status)
				}
			})
		}
	})
}

// TestRewriteLog checks rewrite_log's notice lines against nginx: a match,
// a regex that does not match, the rewritten URI with its arguments, and
// a redirect with the arguments added.
func TestRewriteLog(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location /echo/ { return 200 "echo $uri?$args\n"; }
        location /log/ { rewrite_log on; rewrite ^/log/(.*)$ /echo/$1; rewrite ^/nomatch /x; }
        location /logr/ { rewrite_log on; rewrite ^/logr/(.*)$ http://example.com/$1?x=1 redirect; }
        location /quiet/ { rewrite ^/quiet/(.*)$ /echo/$1; }
    }`)
		runRewriteCases(t, p, []rwCase{
			{req: "GET /log/a?k=v", status: 200, want: "echo /echo/a?k=v\n"},
			{req: "GET /logr/a?k=v", status: 302, location: "http://example.com/a?x=1&k=v", page: "302 Found"},
			{req: "GET /quiet/a", status: 200, want: "echo /echo/a?\n"},
		})
		const ctx = `, client: 127.0.0.1, server: , request: "GET `
		waitLogged(t, p, "error.log",
			`[notice] `,
			`"^/log/(.*)$" matches "/log/a"`+ctx+`/log/a?k=v HTTP/1.1"`,
			`rewritten data: "/echo/a", args: "k=v"`+ctx+`/log/a?k=v HTTP/1.1"`,
			`"^/nomatch" does not match "/echo/a"`+ctx+`/log/a?k=v HTTP/1.1"`,
			`rewritten redirect: "http://example.com/a?x=1&k=v"`+ctx+`/logr/a?k=v HTTP/1.1"`)
		if log := p.readLog("error.log"); strings.Contains(log, "/quiet/") {
			t.Errorf("rewrite_log off logged:\n%s", log)
		}
	})
}

// TestRewriteReturnCodes checks "return CODE" for codes nginx treats apart
// against nginx: codes without a built-in page (407, 417-420, 422-428,
// 431, 451, 506, 508 and up) are sent with no body and no Content-Type;
// 495, 496 and 497 are sent as 400 with pages of their own; 408 and 499,
// like 444, close the connection without an answer.
func TestRewriteReturnCodes(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		codes := []int{407, 417, 418, 420, 422, 425, 426, 428, 431, 451, 506, 508, 599, 600, 999, 495, 496, 497, 408, 499, 444}
		var locs strings.Builder
		for _, c := range codes {
			fmt.Fprintf(&locs, "        location = /r%d { return %d; }\n", c, c)
		}
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
`+locs.String()+`        location = /relative { absolute_redirect off; return 302 /x; }
    }`)
		empty := map[string]string{"Content-Type": "", "Content-Length": "0"}
		cases := []rwCase{
			{req: "GET /r495", status: 400, page: "400 The SSL certificate error"},
			{req: "GET /r496", status: 400, page: "400 No required SSL certificate was sent"},
			{req: "GET /r497", status: 400, page: "400 The plain HTTP request was sent to HTTPS port"},
			{req: "HEAD /r418", status: 418, fields: empty},
		}
		for _, c := range codes[:15] {
			cases = append(cases, rwCase{req: fmt.Sprintf("GET /r%d", c), status: c, fields: empty})
		}
		runRewriteCases(t, p, cases)
		for _, c := range []int{408, 499, 444} {
			rc := dialRaw(t, p.addr)
			rc.write(fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", c))
			rc.expectClosed(3 * time.Second)
		}
		// With absolute_redirect off a path stays as it is, among the
		// ordinary fields after Connection.
		resp := sendRaw(t, p.addr, "GET /relative HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		var names []string
		for _, f := range resp.Headers {
			names = append(names, f.Name)
		}
		if got := strings.Join(names, " "); resp.header("Location") != "/x" || !strings.HasSuffix(got, "Connection Location") {
			t.Errorf("fields %s, Location %q; want Location /x after Connection", got, resp.header("Location"))
		}
	})
}
