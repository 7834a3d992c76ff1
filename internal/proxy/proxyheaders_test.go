package proxy

import (
	"testing"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// cookieLoc loads a configuration whose only location has the given
// directives and returns its settings.
func cookieLoc(t *testing.T, directives string) *conf.LocConf {
	t.Helper()
	cfg, err := conf.Load(conf.LoadOptions{File: "/nonexistent/test.conf", Source: []byte(
		"events {}\nhttp {\n server {\n  listen 127.0.0.1:8080;\n  location / {\n   proxy_pass http://127.0.0.1:8081;\n" +
			directives + "\n  }\n }\n}\n")})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.HTTP.Servers[0].Locations[0].Loc
}

// The expectations are what nginx 1.22 sends for the same fields and
// rules.
func TestAppendSetCookie(t *testing.T) {
	plain := cookieLoc(t, "proxy_cookie_domain example.com new.org; proxy_cookie_path /one/ /x/;")
	regex := cookieLoc(t, `proxy_cookie_domain ~^\.?(ex)ample\.com$ $1.net; proxy_cookie_path ~*^/ONE(.*)$ /z$1;`)
	several := cookieLoc(t, "proxy_cookie_path /a/ /first/; proxy_cookie_path /a/b/ /second/; proxy_cookie_path ~^/c(.*) /c$1$2$9;")
	tests := []struct {
		name  string
		lc    *conf.LocConf
		value string
		want  string
	}{
		{"domain with a dot and path", plain, "a=1; Domain=.Example.com; Path=/one/two", "a=1; Domain=.new.org; Path=/x/two"},
		{"spaces trimmed when rewritten", plain, "b=2;path=/one ;  domain = example.com;secure", "b=2; path=/one; domain=new.org; secure"},
		{"no name=value is left alone", plain, "c", "c"},
		{"nothing matched is left alone", plain, "d=4 ;  Domain=other.com;Path=/", "d=4 ;  Domain=other.com;Path=/"},
		{"a longer domain does not match", plain, "e=5; Domain=www.example.com", "e=5; Domain=www.example.com"},
		{"path prefix is case-sensitive", plain, "f=6; Path=/ONE/two", "f=6; Path=/ONE/two"},
		{"regex replaces the whole value, with captures", regex, "a=1; Domain=.Example.com; Path=/one/two", "a=1; Domain=Ex.net; Path=/z/two"},
		{"regex rules on both", regex, "b=2;path=/one ;  domain = example.com;secure", "b=2; path=/z; domain=ex.net; secure"},
		{"first matching rule wins", several, "g=7; Path=/a/b/c", "g=7; Path=/first/b/c"},
		{"missing captures are empty", several, "h=8; Path=/cd", "h=8; Path=/cd"},
		{"an attribute without a value is kept", plain, "i=9; HttpOnly; Path=/one/", "i=9; HttpOnly; Path=/x/"},
		{"every Path attribute is rewritten", plain, "j=1; Path=/one/a; Path=/one/b", "j=1; Path=/x/a; Path=/x/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := &clientConn{r: &request{lc: tc.lc}}
			if got := string(cc.appendSetCookie([]byte("x"), []byte(tc.value))); got != "x"+tc.want {
				t.Errorf("appendSetCookie(%q) = %q, want %q", tc.value, got[1:], tc.want)
			}
		})
	}
}

func TestParseCookie(t *testing.T) {
	attrs := parseCookie(nil, []byte("  n = v ;k;  =x; e= ;"))
	want := []struct {
		key, value string
		hasValue   bool
	}{{"n", "v", true}, {"k", "", false}, {"", "x", true}, {"e", "", true}, {"", "", false}}
	if len(attrs) != len(want) {
		t.Fatalf("got %d attributes, want %d", len(attrs), len(want))
	}
	for i, w := range want {
		a := attrs[i]
		if string(a.key) != w.key || string(a.value) != w.value || (a.value != nil) != w.hasValue {
			t.Errorf("attribute %d: %q=%q (value set %v), want %q=%q (%v)", i, a.key, a.value, a.value != nil, w.key, w.value, w.hasValue)
		}
	}
}

// upstreamRequest builds the request sent upstream for raw, a client
// request, in a location with the given directives.
func upstreamRequest(t *testing.T, directives, raw string) (*clientConn, []byte) {
	t.Helper()
	lc := cookieLoc(t, directives)
	cc := &clientConn{w: &worker{}, r: &request{lc: lc}}
	if _, err := http1.ParseRequest([]byte(raw), &cc.r.head, &http1.Limits{}); err != nil {
		t.Fatal(err)
	}
	return cc, cc.buildUpstreamRequest(make([]byte, 0, bufSize))
}

func TestBuildUpstreamRequest(t *testing.T) {
	const post = "POST /p?a=1 HTTP/1.1\r\nHost: h\r\nX-B: bee\r\nContent-Length: 5\r\n\r\n"
	tests := []struct {
		name, directives, raw, want string
	}{
		{"defaults", "", post,
			"POST /p?a=1 HTTP/1.0\r\nHost: 127.0.0.1:8081\r\nConnection: close\r\nContent-Length: 5\r\nX-B: bee\r\n\r\n"},
		{"method from a variable", "proxy_method $arg_a$request_method;", post,
			"1POST /p?a=1 HTTP/1.0\r\nHost: 127.0.0.1:8081\r\nConnection: close\r\nContent-Length: 5\r\nX-B: bee\r\n\r\n"},
		{"no client fields", "proxy_pass_request_headers off; proxy_set_header X-From $http_x_b;", post,
			"POST /p?a=1 HTTP/1.0\r\nX-From: bee\r\nHost: 127.0.0.1:8081\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"},
		{"set body", "proxy_set_body \"a=$arg_a\";", post,
			"POST /p?a=1 HTTP/1.0\r\nHost: 127.0.0.1:8081\r\nConnection: close\r\nContent-Length: 3\r\nX-B: bee\r\n\r\na=1"},
		{"configured Content-Length replaces the framing", "proxy_set_header Content-Length \"\";", post,
			"POST /p?a=1 HTTP/1.0\r\nHost: 127.0.0.1:8081\r\nConnection: close\r\nX-B: bee\r\n\r\n"},
		{"configured Transfer-Encoding replaces chunked framing", "proxy_set_header Transfer-Encoding \"\"; proxy_http_version 1.1;",
			"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
			"POST /c HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nConnection: close\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := upstreamRequest(t, tc.directives, tc.raw); string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestProxyMethodHead(t *testing.T) {
	for _, m := range []string{"HEAD", "head", "GET"} {
		cc, _ := upstreamRequest(t, "proxy_method "+m+";", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if want := m != "GET"; cc.r.upHead != want {
			t.Errorf("proxy_method %s: upHead %v, want %v", m, cc.r.upHead, want)
		}
	}
}

// Without any of proxyheaders.go's directives the request costs no
// allocation more than before.
func TestBuildUpstreamRequestAllocs(t *testing.T) {
	cc, _ := upstreamRequest(t, "proxy_set_header X-Real-IP $remote_addr;", "GET /a?b HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nCookie: c=1\r\n\r\n")
	buf := make([]byte, 0, bufSize)
	if n := testing.AllocsPerRun(100, func() { cc.buildUpstreamRequest(buf) }); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
	lc := cc.r.lc
	for _, name := range []string{"X-Up", "Set-Cookie", "X-Accel-Buffering", "Server"} {
		if n := testing.AllocsPerRun(100, func() { hideResponseHeader([]byte(name), nil, http1.FramingLength, lc.ProxyHideHeaders) }); n != 0 {
			t.Errorf("hideResponseHeader(%s): %v allocations, want 0", name, n)
		}
	}
}
