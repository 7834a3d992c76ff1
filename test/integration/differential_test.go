package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The differential test starts nginx and headroom with the same
// configuration, each in front of its own recording upstream, sends both the
// same corpus of raw requests and compares what the clients and the
// upstreams see. Nothing is expected in advance: nginx's answer is the
// expectation.

// diffConfig is the http{} content both proxies run; %[1]s is the address of
// the target's own upstream. Only the listen port and that address differ
// between the two processes.
const diffConfig = `
    upstream backend {
        server %[1]s;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        server_name main.test;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header Host $host;
        add_header X-Main main;
        add_header X-Main-Always main always;

        location / { proxy_pass http://backend; }
        location = /exact { proxy_pass http://backend/exact-target; }
        location ^~ /static/ { proxy_pass http://backend/files/; }
        location ~ \.(gif|jpg)$ {
            proxy_pass http://backend;
            add_header X-Image yes;
        }
        location ~* \.PHP$ { return 403; }
        location /api/ {
            proxy_pass http://backend/v1/;
            location ~ \.json$ {
                proxy_pass http://backend;
                add_header X-Json yes always;
            }
        }
        location /upload/ {
            client_max_body_size 1k;
            proxy_pass http://backend;
        }
        location = /text { return 200 "plain text\n"; }
        location = /page.html { return 200 "<p>html</p>\n"; }
        location /moved { return 301 /new-place; }
        location = /found { return 302 http://elsewhere.test/x?y=1; }
        location = /see-other { return 303 /other; }
        location = /temporary { return 307 /t?x=1; }
        location = /permanent { return 308 http://elsewhere.test/p; }
        location = /gone { return 410; }
        location = /custom-404 { return 404 "custom not found\n"; }
        location = /nocontent { return 204; }
    }
    server {
        listen 127.0.0.1:{{PORT}};
        server_name other.test *.wild.test www.suffix.* ~^re\d+\.test$;
        add_header X-Vhost other;
        location / { return 200 "other host=$host\n"; }
        location /proxy/ { proxy_pass http://backend; }
    }`

// diffUpstream answers according to a marker in the request target
// ("up-chunked", "up-eof", ...), so that both upstreams give the same answer
// to the same forwarded request; any other target gets 200 with a body
// echoing the method, the target and the body length. Nothing in an answer
// depends on ports or timing.
func diffUpstream(c *upConn, r *upRequest) {
	head := c.method == "HEAD"
	body := func(s string) {
		if !head {
			c.writeString(s)
		}
	}
	switch tgt := r.Target; {
	case strings.Contains(tgt, "up-chunked"):
		c.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")
		body("6\r\nhello \r\n8\r\nchunked \r\n6\r\nworld\n\r\n0\r\n\r\n")
	case strings.Contains(tgt, "up-trailer"):
		c.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n")
		body("4\r\ndata\r\n0\r\nX-Trailer: t\r\n\r\n")
	case strings.Contains(tgt, "up-eof10"):
		c.writeString("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nX-Up: eof10\r\n\r\n")
		body("close-delimited HTTP/1.0 body\n")
		c.closeNow()
	case strings.Contains(tgt, "up-eof"):
		c.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: eof\r\n\r\n")
		body("close-delimited body\n")
		c.closeNow()
	case strings.Contains(tgt, "up-s204"):
		c.writeString("HTTP/1.1 204 No Content\r\nX-Up: 204\r\n\r\n")
	case strings.Contains(tgt, "up-s304"):
		c.writeString("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nX-Up: 304\r\n\r\n")
	case strings.Contains(tgt, "up-s404"):
		c.respond(404, "upstream: no such thing\n", "Content-Type: text/plain", "X-Up: 404")
	case strings.Contains(tgt, "up-s500"):
		c.respond(500, "upstream failure\n", "Content-Type: text/html", "X-Up: 500")
	case strings.Contains(tgt, "up-hdrs"):
		c.respond(200, "{\"headers\":true}\n",
			"Content-Type: application/json; charset=utf-8",
			"X-Custom: custom value",
			"Set-Cookie: a=1; Path=/",
			"Set-Cookie: b=2; HttpOnly",
			"Cache-Control: no-cache",
			"x-lower-case: MiXeD Value",
			"X-Pad: avoid browser bug",
			"Keep-Alive: timeout=99",
			"Connection: keep-alive",
			"ETag: \"abc\"",
			"Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT",
			"Vary: Accept-Encoding",
			"Link: </style.css>; rel=preload",
			"Server: upstream/1.0",
			"Date: Mon, 01 Jan 2024 00:00:00 GMT")
	case strings.Contains(tgt, "up-noctype"):
		c.respond(200, "no type\n")
	case strings.Contains(tgt, "up-reason"):
		c.writeString("HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\n")
		body("reason\n")
	case strings.Contains(tgt, "up-redir"):
		c.respond(302, "redirect\n", "Content-Type: text/plain", "Location: http://backend/redirected?a=1")
	case strings.Contains(tgt, "up-rel"):
		c.respond(301, "moved\n", "Content-Type: text/plain", "Location: /relative/path")
	case strings.Contains(tgt, "up-http10"):
		c.writeString("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n")
		body("http/1.0 ok")
		c.closeNow()
	case strings.Contains(tgt, "up-connclose"):
		c.respond(200, "closing\n", "Content-Type: text/plain", "Connection: close")
		c.closeNow()
	case strings.Contains(tgt, "up-big"):
		c.respond(200, string(payload(100000, 7)), "Content-Type: application/octet-stream")
	default:
		c.respond(200, fmt.Sprintf("%s %s len=%d\n", r.Method, r.Target, len(r.Body)),
			"Content-Type: text/plain", "X-Up: echo")
	}
}

// diffCase is one entry of the corpus: requests written on one client
// connection.
type diffCase struct {
	name string
	// reqs are complete requests (head and body), sent one after the
	// other, each after the previous response was read.
	reqs []string
	// pipeline writes all requests at once before reading.
	pipeline bool
	// expect sends the head of the (single) request, waits briefly for an
	// interim or final response, and sends the body only if no final
	// response came.
	expect bool
}

// diffEdgeCases returns requests at the edges of nginx's behaviour, where
// headroom once differed. Each runs in a subtest of its own, on a fresh
// pair of proxies, so that one that brings a proxy down cannot spoil the
// others.
func diffEdgeCases() []diffCase {
	const host = "Host: main.test\r\n"
	kb := strings.Repeat("k", 1024)
	return []diffCase{
		// A chunked body over client_max_body_size that arrives with
		// the head: 413 and close, though the upstream already has the
		// start of the body.
		{name: "chunked body over client_max_body_size", reqs: []string{
			"POST /upload/chunked-big HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" +
				"258\r\n" + kb[:600] + "\r\n258\r\n" + kb[:600] + "\r\n0\r\n\r\n"}},
		// With a URI part in proxy_pass the path is escaped again only
		// when the client's path had a %-escape; raw UTF-8 otherwise
		// goes upstream as sent.
		{name: "URI part, raw UTF-8", reqs: []string{"GET /api/caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n"}},
		{name: "URI part, dot segment and raw UTF-8", reqs: []string{"GET /api/./caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n"}},
		// A prefix location ending in "/" that proxies answers its
		// prefix without the slash with a 301 to the prefix (nginx's
		// auto_redirect).
		{name: "prefix location without its slash", reqs: []string{"GET /api?x=1 HTTP/1.1\r\n" + host + "\r\n"}},
		// The body of a request answered by "return" is read and
		// dropped, and the connection kept.
		{name: "POST to return, then keep-alive", reqs: []string{
			"POST /text HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello",
			"GET /basic HTTP/1.1\r\n" + host + "\r\n"}},
		// The same with "Expect: 100-continue": 100 Continue first.
		{name: "Expect 100-continue to return", expect: true, reqs: []string{
			"POST /text HTTP/1.1\r\n" + host + "Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"}},
		// 100 Continue for "Expect: 100-continue" on an HTTP/1.1
		// request without a body too.
		{name: "Expect 100-continue without body", expect: true, reqs: []string{
			"GET /expect-get HTTP/1.1\r\n" + host + "Expect: 100-continue\r\n\r\n"}},
		// The page for 302 is titled "302 Found" while the status line
		// says "302 Moved Temporarily".
		{name: "return 302 page", reqs: []string{"GET /found HTTP/1.1\r\n" + host + "\r\n"}},
		// "proxy_redirect default": an upstream Location starting with
		// the proxy_pass URL ("http://backend/") is rewritten to "/",
		// then made absolute.
		{name: "upstream Location rewritten by proxy_redirect default", reqs: []string{"GET /up-redir HTTP/1.1\r\n" + host + "\r\n"}},
	}
}

// diffCorpus returns the requests sent to both proxies. Requests where
// headroom deliberately differs from nginx are left out: a field line
// without a colon and HTTP/0.9 requests (400 in headroom), '#' in a
// request target passed on unchanged (headroom cuts the fragment), non-HTTP upstream status lines (502), a Trailer
// field (dropped as hop-by-hop by headroom, passed by nginx), and anything
// relying on $uri, retries or static files (README, differences). Chunked request bodies and Connection-listed and
// Proxy-* fields are in, and compared normalised (see compareDiff and
// diffNormaliseUpstream).
func diffCorpus() []diffCase {
	const host = "Host: main.test\r\n"
	get := func(name, path string) diffCase {
		return diffCase{name: name, reqs: []string{"GET " + path + " HTTP/1.1\r\n" + host + "\r\n"}}
	}
	one := func(name, req string) diffCase { return diffCase{name: name, reqs: []string{req}} }
	chunked := func(name, path string, chunks ...string) diffCase {
		var b strings.Builder
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\n", path, host)
		for _, c := range chunks {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
		}
		b.WriteString("0\r\n\r\n")
		return one(name, b.String())
	}
	kb := strings.Repeat("k", 1024)
	large := string(payload(200000, 9))

	return []diffCase{
		// Methods.
		one("GET", "GET /basic HTTP/1.1\r\n"+host+"User-Agent: diff/1\r\nAccept: */*\r\n\r\n"),
		one("HEAD", "HEAD /basic HTTP/1.1\r\n"+host+"\r\n"),
		one("POST content-length", "POST /form HTTP/1.1\r\n"+host+"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2"),
		one("PUT content-length", "PUT /res/1 HTTP/1.1\r\n"+host+"Content-Length: 5\r\n\r\nhello"),
		one("PATCH", "PATCH /res/1 HTTP/1.1\r\n"+host+"Content-Length: 2\r\n\r\n{}"),
		one("DELETE", "DELETE /res/1?force=yes HTTP/1.1\r\n"+host+"\r\n"),
		one("DELETE with body", "DELETE /res/2 HTTP/1.1\r\n"+host+"Content-Length: 3\r\n\r\nwhy"),
		one("OPTIONS path", "OPTIONS /res HTTP/1.1\r\n"+host+"\r\n"),
		one("OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\n"+host+"\r\n"),
		one("unknown method", "FROB /x HTTP/1.1\r\n"+host+"\r\n"),
		one("unknown method with body", "PROPPATCH /dav HTTP/1.1\r\n"+host+"Content-Length: 3\r\n\r\nxyz"),
		one("TRACE", "TRACE /t HTTP/1.1\r\n"+host+"\r\n"),
		one("GET with body", "GET /getbody HTTP/1.1\r\n"+host+"Content-Length: 4\r\n\r\nbody"),
		one("POST without body", "POST /empty HTTP/1.1\r\n"+host+"\r\n"),
		one("POST zero length", "POST /zero HTTP/1.1\r\n"+host+"Content-Length: 0\r\n\r\n"),

		// Request targets: without a URI part in proxy_pass the target
		// passes as sent; with one it is decoded, normalised and
		// re-escaped.
		get("query string", "/search?q=a%20b&x=1&x=2&empty=&r=/x/../y"),
		get("escapes, no URI part", "/a%20b/%41%2f%7e"),
		get("dot segments, no URI part", "/a/./b/../c"),
		get("double slashes, no URI part", "//x//y/"),
		get("URI part", "/api/users?id=7"),
		get("URI part, escapes", "/api/%7Euser/a%20b/%2e/x"),
		get("URI part, dot segments", "/api/a/../b/./c"),
		get("URI part, double slashes", "/api//x//y"),
		get("URI part, encoded slash", "/api/a%2Fb"),
		get("URI part, raw UTF-8 and an escape", "/api/caf\xc3\xa9/%41"),
		get("URI part, raw quote and angle brackets", "/api/a\"b<c>'d"),
		get("URI part, escaped dot-dot", "/api/x/%2E%2e/y"),
		get("escaped NUL", "/a%00b"),
		get("URI part, plus and semicolon", "/api/a+b;c=d?x=%zz"),
		get("URI part, escaped location prefix", "/%61pi/x"),
		get("dot segments into a ^~ location", "/img/../static/a.gif"),
		get("exact", "/exact?q=1"),
		get("exact with slash", "/exact/"),
		get("^~ beats regex", "/static/pic.gif"),
		get("regex", "/pics/pic.jpg"),
		get("caseless regex return", "/x/index.PhP"),
		get("nested regex", "/api/data.json"),
		get("above the root", "/../etc"),
		get("escaped dot-dot above the root", "/a/%2e%2e/%2e%2e/x"),
		one("absolute form", "GET http://other.test/abs?x=1 HTTP/1.1\r\n"+host+"\r\n"),
		one("absolute form, proxied", "GET http://MAIN.test:81/abs-proxied?q HTTP/1.1\r\nHost: other.test\r\n\r\n"),
		one("proxied Host with case and port", "GET /host-case HTTP/1.1\r\nHost: MAIN.Test:8080\r\n\r\n"),

		// return.
		get("return text", "/text"),
		one("HEAD return text", "HEAD /text HTTP/1.1\r\n"+host+"\r\n"),
		get("return html type", "/page.html"),
		get("return 301 relative", "/moved/deeper?x=1"),
		one("return 301, Host with port", "GET /moved HTTP/1.1\r\nHost: MAIN.test:8080\r\n\r\n"),
		one("return 301, HTTP/1.0 without Host", "GET /moved HTTP/1.0\r\n\r\n"),
		get("return 303", "/see-other"),
		get("return 307", "/temporary"),
		get("return 308 absolute", "/permanent"),
		one("HEAD return 301", "HEAD /moved HTTP/1.1\r\n"+host+"\r\n"),
		get("return bare 410", "/gone"),
		one("HEAD return bare 410", "HEAD /gone HTTP/1.1\r\n"+host+"\r\n"),
		get("return 404 with text", "/custom-404"),
		get("return 204", "/nocontent"),

		// Virtual servers.
		one("vhost exact", "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n"),
		one("vhost case and port", "GET / HTTP/1.1\r\nHost: OTHER.Test:8080\r\n\r\n"),
		one("vhost trailing dot", "GET / HTTP/1.1\r\nHost: other.test.\r\n\r\n"),
		one("vhost wildcard prefix", "GET / HTTP/1.1\r\nHost: a.b.wild.test\r\n\r\n"),
		one("vhost wildcard suffix", "GET / HTTP/1.1\r\nHost: www.suffix.org\r\n\r\n"),
		one("vhost regex", "GET / HTTP/1.1\r\nHost: re42.test\r\n\r\n"),
		one("vhost regex without match", "GET /nomatch HTTP/1.1\r\nHost: re.test\r\n\r\n"),
		one("vhost unknown, default server", "GET /unknown HTTP/1.1\r\nHost: unknown.test\r\n\r\n"),
		one("vhost IPv6 literal", "GET /v6 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
		one("vhost IP address", "GET /ip HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
		one("vhost proxy defaults", "GET /proxy/x?y HTTP/1.1\r\nHost: x.wild.test\r\n\r\n"),
		one("vhost chunked body to HTTP/1.0 upstream", "POST /proxy/up HTTP/1.1\r\nHost: other.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
		one("HTTP/1.0 without Host", "GET /nohost HTTP/1.0\r\n\r\n"),

		// Forwarded header fields.
		one("X-Forwarded-For appended", "GET /xff HTTP/1.1\r\n"+host+"X-Forwarded-For: 203.0.113.7\r\n\r\n"),
		one("two X-Forwarded-For", "GET /xff2 HTTP/1.1\r\n"+host+"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 198.51.100.1, 10.0.0.1\r\n\r\n"),
		one("client X-Real-IP replaced", "GET /realip HTTP/1.1\r\n"+host+"X-Real-IP: 1.1.1.1\r\n\r\n"),
		one("underscore field dropped", "GET /under HTTP/1.1\r\n"+host+"X_Under: 1\r\nX-Dash: 2\r\n\r\n"),
		one("duplicate fields and cookies", "GET /dup HTTP/1.1\r\n"+host+"X-Dup: a\r\nX-Dup: b\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"),
		one("hop-by-hop request fields", "GET /hop HTTP/1.1\r\n"+host+"TE: trailers\r\nKeep-Alive: 300\r\nUpgrade: foo\r\nConnection: keep-alive\r\n\r\n"),
		// headroom drops fields named in Connection and Proxy-* fields
		// (README, differences); the comparison removes them from what
		// nginx forwarded.
		one("Connection-listed and Proxy-* fields", "GET /listed HTTP/1.1\r\n"+host+"Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nProxy-Foo: 2\r\nProxy-Authorization: Basic YTpi\r\n\r\n"),
		one("mixed-case and empty fields", "GET /case HTTP/1.1\r\n"+host+"x-MiXeD: v\r\nX-Empty:\r\nX-Space:   padded value  \r\n\r\n"),

		// Connection handling.
		{name: "keep-alive, two requests", reqs: []string{
			"GET /ka1 HTTP/1.1\r\n" + host + "\r\n",
			"GET /ka2 HTTP/1.1\r\n" + host + "\r\n"}},
		one("Connection: close", "GET /bye HTTP/1.1\r\n"+host+"Connection: close\r\n\r\n"),
		one("HTTP/1.0", "GET /old HTTP/1.0\r\n"+host+"\r\n"),
		{name: "HTTP/1.0 keep-alive", reqs: []string{
			"GET /old-ka1 HTTP/1.0\r\n" + host + "Connection: keep-alive\r\n\r\n",
			"GET /old-ka2 HTTP/1.0\r\n" + host + "Connection: keep-alive\r\n\r\n"}},
		one("HTTP/1.0 keep-alive, chunked upstream", "GET /up-chunked HTTP/1.0\r\n"+host+"Connection: keep-alive\r\n\r\n"),
		{name: "pipelined", pipeline: true, reqs: []string{
			"GET /p1 HTTP/1.1\r\n" + host + "\r\n",
			"HEAD /p2 HTTP/1.1\r\n" + host + "\r\n",
			"GET /text HTTP/1.1\r\n" + host + "\r\n",
			"POST /p4 HTTP/1.1\r\n" + host + "Content-Length: 2\r\n\r\nok"}},

		// Request bodies.
		chunked("chunked body", "/chunk", "hello", " world"),
		one("chunked body with extension and trailer", "POST /chunk-ext HTTP/1.1\r\n"+host+"Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: t\r\n\r\n"),
		one("large body", fmt.Sprintf("POST /large HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s", host, len(large), large)),
		chunked("large chunked body", "/large-chunked", large[:70000], large[70000:]),
		one("upload at the limit", "POST /upload/ok HTTP/1.1\r\n"+host+"Content-Length: 1024\r\n\r\n"+kb),
		one("upload over the limit", "POST /upload/big HTTP/1.1\r\n"+host+"Content-Length: 1025\r\n\r\n"+kb+"!"),
		chunked("upload chunked within the limit", "/upload/chunked-ok", kb[:100]),
		one("upload HTTP/1.0 over the limit", "PUT /upload/old HTTP/1.0\r\n"+host+"Content-Length: 2048\r\n\r\n"+kb+kb),
		{name: "Expect 100-continue", expect: true, reqs: []string{
			"POST /expect HTTP/1.1\r\n" + host + "Content-Length: 11\r\nExpect: 100-continue\r\n\r\nhello world"}},
		{name: "Expect 100-Continue, other case", expect: true, reqs: []string{
			"PUT /expect-case HTTP/1.1\r\n" + host + "Content-Length: 3\r\nExpect: 100-Continue\r\n\r\nabc"}},
		{name: "unknown expectation", expect: true, reqs: []string{
			"PUT /expect-other HTTP/1.1\r\n" + host + "Content-Length: 3\r\nExpect: something\r\n\r\nabc"}},
		{name: "Expect 100-continue over the limit", expect: true, reqs: []string{
			"POST /upload/expect HTTP/1.1\r\n" + host + "Content-Length: 2000\r\nExpect: 100-continue\r\n\r\n" + kb + kb[:976]}},
		{name: "Expect 100-continue from HTTP/1.0", expect: true, reqs: []string{
			"POST /expect-old HTTP/1.0\r\n" + host + "Content-Length: 2\r\nExpect: 100-continue\r\n\r\nhi"}},
		{name: "Expect 100-continue chunked", expect: true, reqs: []string{
			"POST /upload/expect-chunked HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n2\r\nhi\r\n0\r\n\r\n"}},

		// Upstream responses.
		get("upstream chunked", "/up-chunked"),
		one("HEAD upstream chunked", "HEAD /up-chunked HTTP/1.1\r\n"+host+"\r\n"),
		one("upstream chunked to HTTP/1.0", "GET /up-chunked HTTP/1.0\r\n"+host+"\r\n"),
		get("upstream close-delimited", "/up-eof"),
		get("upstream close-delimited HTTP/1.0", "/up-eof10"),
		one("upstream close-delimited to HTTP/1.0", "GET /up-eof HTTP/1.0\r\n"+host+"\r\n"),
		get("upstream 204", "/up-s204"),
		one("upstream 304", "GET /up-s304 HTTP/1.1\r\n"+host+"If-None-Match: \"v1\"\r\n\r\n"),
		{name: "upstream 404, then keep-alive", reqs: []string{
			"GET /up-s404 HTTP/1.1\r\n" + host + "\r\n",
			"GET /after-404 HTTP/1.1\r\n" + host + "\r\n"}},
		one("HEAD upstream 404", "HEAD /up-s404 HTTP/1.1\r\n"+host+"\r\n"),
		get("upstream 500", "/up-s500"),
		get("upstream custom fields", "/up-hdrs"),
		get("upstream without Content-Type", "/up-noctype"),
		get("upstream reason phrase", "/up-reason"),
		get("upstream relative redirect", "/up-rel"),
		get("upstream HTTP/1.0", "/up-http10"),
		{name: "upstream Connection: close", reqs: []string{
			"GET /up-connclose HTTP/1.1\r\n" + host + "\r\n",
			"GET /after-close HTTP/1.1\r\n" + host + "\r\n"}},
		get("upstream large body", "/up-big"),
		get("upstream chunked, regex location", "/up-chunked.gif"),
		get("upstream 404, nested location", "/api/up-s404.json"),
	}
}

// diffResult is what one proxy did with one corpus entry.
type diffResult struct {
	// interim holds the 1xx responses (status line and fields), or
	// "none" when an "Expect: 100-continue" client waited in vain.
	interim []string
	resps   []*response
	// failure describes a failed write or read, without addresses.
	failure string
	// after is what the connection did after the last response:
	// "closed", "open" or the bytes that arrived (see diffAfter).
	after string
	up    []*upRequest
}

// diffRun is one proxy and its upstream.
type diffRun struct {
	tg  *target
	p   *proxy
	up  *upstream
	res []*diffResult
}

const (
	// diffIO bounds every read and write of a corpus connection.
	diffIO = 5 * time.Second
	// diffIdle is how long a connection must stay quiet after the last
	// response to count as kept open.
	diffIdle = 500 * time.Millisecond
	// diffPause is how long an "Expect: 100-continue" client waits
	// before sending the body anyway.
	diffPause = 500 * time.Millisecond
	// diffParallel bounds the connections a run opens at a time.
	diffParallel = 24
)

// diffTag adds "X-Case: ID.K" after the request line of request K of corpus
// entry ID, so that the upstream records of concurrent entries can be told
// apart and matched with the client's requests.
func diffTag(req string, id, k int) string {
	i := strings.Index(req, "\n")
	return fmt.Sprintf("%sX-Case: %d.%d\r\n%s", req[:i+1], id, k, req[i+1:])
}

// diffUntag parses the X-Case field of a forwarded request.
func diffUntag(u *upRequest) (id, k int, ok bool) {
	a, b, found := strings.Cut(u.Headers.get("X-Case"), ".")
	id, err1 := strconv.Atoi(a)
	k, err2 := strconv.Atoi(b)
	return id, k, found && err1 == nil && err2 == nil
}

// diffErrKind describes a network error without addresses or ports.
func diffErrKind(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "127.0.0.1") {
		s = s[i+2:]
	}
	return s
}

// diffRunCase sends one corpus entry to addr.
func diffRunCase(addr string, id int, dc diffCase) *diffResult {
	res := &diffResult{}
	conn, err := net.DialTimeout("tcp", addr, diffIO)
	if err != nil {
		res.failure = "dial: " + diffErrKind(err)
		return res
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(diffIO))
	br := bufio.NewReaderSize(conn, 64<<10)
	write := func(s string) bool {
		if _, err := io.WriteString(conn, s); err != nil {
			res.failure = "write: " + diffErrKind(err)
			return false
		}
		return true
	}
	// read reads one final response, recording interim ones.
	read := func(method string) bool {
		for {
			r, err := readResponse(br, method)
			if err != nil {
				res.failure = "read: " + diffErrKind(err)
				if r != nil {
					res.resps = append(res.resps, r)
				}
				return false
			}
			if r.Status/100 == 1 {
				res.interim = append(res.interim, r.StatusLine+"\n"+r.Headers.String())
				continue
			}
			res.resps = append(res.resps, r)
			return true
		}
	}
	reqs := make([]string, len(dc.reqs))
	methods := make([]string, len(dc.reqs))
	for i, r := range dc.reqs {
		reqs[i] = diffTag(r, id, i)
		methods[i], _, _ = strings.Cut(r, " ")
	}
	switch {
	case dc.pipeline:
		if !write(strings.Join(reqs, "")) {
			return res
		}
		for _, m := range methods {
			if !read(m) {
				return res
			}
		}
	case dc.expect:
		head, body, _ := strings.Cut(reqs[0], "\r\n\r\n")
		if !write(head + "\r\n\r\n") {
			return res
		}
		conn.SetReadDeadline(time.Now().Add(diffPause))
		_, perr := br.Peek(1)
		conn.SetReadDeadline(time.Now().Add(diffIO))
		var ne net.Error
		switch {
		case perr == nil:
			r, err := readResponse(br, methods[0])
			if err != nil {
				res.failure = "read: " + diffErrKind(err)
				return res
			}
			if r.Status/100 != 1 {
				// A final answer: the body is never sent.
				res.resps = append(res.resps, r)
				break
			}
			res.interim = append(res.interim, r.StatusLine+"\n"+r.Headers.String())
			if !write(body) || !read(methods[0]) {
				return res
			}
		case errors.As(perr, &ne) && ne.Timeout():
			res.interim = append(res.interim, "none")
			if !write(body) || !read(methods[0]) {
				return res
			}
		default:
			res.failure = "read: " + diffErrKind(perr)
			return res
		}
	default:
		for i := range reqs {
			if !write(reqs[i]) || !read(methods[i]) {
				return res
			}
		}
	}
	res.after = diffAfter(conn, br, diffIdle)
	if res.after == "open" && len(res.resps) > 0 &&
		strings.EqualFold(res.resps[len(res.resps)-1].header("Connection"), "close") {
		// After an error response to a request with an unread body
		// nginx keeps reading until the client is done (lingering
		// close); a client that was told "Connection: close" stops
		// sending, and then the connection must close.
		conn.(*net.TCPConn).CloseWrite()
		if res.after = diffAfter(conn, br, 2*time.Second); res.after == "open" {
			res.after = "open after Connection: close"
		}
	}
	return res
}

// diffAfter tells what the connection does within d: "closed", "open"
// or the bytes that arrive.
func diffAfter(conn net.Conn, br *bufio.Reader, d time.Duration) string {
	conn.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(br)
	var ne net.Error
	switch {
	case len(b) > 0:
		return fmt.Sprintf("%d more bytes: %q", len(b), truncate(b, 100))
	case err == nil || errors.Is(err, syscall.ECONNRESET):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "open"
	}
	return "closed (" + diffErrKind(err) + ")"
}

// runDiffPair starts nginx and headroom with diffConfig, each in front of
// its own upstream, and sends the corpus to both at the same time. It
// reports a proxy that exits on the way.
func runDiffPair(t *testing.T, ng, hr *target, corpus []diffCase, parallel int) []*diffRun {
	t.Helper()
	runs := []*diffRun{{tg: ng}, {tg: hr}}
	for _, r := range runs {
		r.up = newUpstream(t, r.tg.name+"-up", diffUpstream)
		r.p = startProxy(t, r.tg, fmt.Sprintf(diffConfig, r.up.addr))
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(corpus, parallel)
		}()
	}
	wg.Wait()
	// A crash shows as broken connections first, and as the end of the
	// process a moment later.
	for _, r := range runs {
		grace := time.Duration(0)
		for _, res := range r.res {
			if res.failure != "" {
				grace = 2 * time.Second
			}
		}
		select {
		case <-r.p.done:
			t.Errorf("%s exited while the requests were sent (%v)", r.tg.name, r.p.cmd.ProcessState)
		case <-time.After(grace):
		}
	}
	return runs
}

// reportDiff reports the differences for corpus entry i.
func reportDiff(t *testing.T, corpus []diffCase, runs []*diffRun, i int) {
	t.Helper()
	for _, m := range compareDiff(corpus[i], runs[0], runs[1], i) {
		t.Errorf("%s: %s: nginx %s, headroom %s", corpus[i].name, m.field, m.nginx, m.headroom)
	}
}

// run sends the corpus to the proxy, parallel entries at a time (in
// order when parallel is 1), and collects the upstream's records per entry.
func (r *diffRun) run(corpus []diffCase, parallel int) {
	r.res = make([]*diffResult, len(corpus))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, dc := range corpus {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			r.res[i] = diffRunCase(r.p.addr, i, dc)
			<-sem
		}()
	}
	wg.Wait()
	for _, ur := range r.up.requests() {
		if id, _, ok := diffUntag(ur); ok && id >= 0 && id < len(corpus) {
			r.res[id].up = append(r.res[id].up, ur)
		}
	}
}

// TestDifferential runs nginx and headroom side by side on one
// configuration and corpus and reports every difference in what the client
// receives and what the upstream receives. The entries of diffBugCases, where
// headroom is known to be wrong, run in subtests of their own, each on a
// fresh pair of proxies, so that one of them bringing headroom down cannot
// spoil the rest.
func TestDifferential(t *testing.T) {
	t.Parallel()
	var ng, hr *target
	for _, tg := range targets {
		switch {
		case tg.isNginx():
			ng = tg
		case tg.isHeadroom():
			hr = tg
		}
	}
	if ng == nil {
		ng = nginxTarget()
	}
	ng.require(t)
	if hr == nil {
		t.Skipf("the headroom target is not selected (%s=%s)", envTargets, os.Getenv(envTargets))
	}
	hr.require(t)

	t.Run("corpus", func(t *testing.T) {
		t.Parallel()
		corpus := diffCorpus()
		start := time.Now()
		runs := runDiffPair(t, ng, hr, corpus, diffParallel)
		t.Logf("%d corpus entries sent to each proxy in %v", len(corpus), time.Since(start).Round(time.Millisecond))
		for i := range corpus {
			reportDiff(t, corpus, runs, i)
		}
	})
	for _, bc := range diffEdgeCases() {
		t.Run("edge/"+bc.name, func(t *testing.T) {
			t.Parallel()
			corpus := []diffCase{bc}
			runs := runDiffPair(t, ng, hr, corpus, 1)
			reportDiff(t, corpus, runs, 0)
		})
	}
}

// diffMismatch is one field that differs, with both values quoted.
type diffMismatch struct {
	field, nginx, headroom string
}

// diffSignature is the last line of the proxies' own error pages.
func diffSignature(server string) string {
	return "<hr><center>" + server + "</center>"
}

// diffNormResponse is a response with the parts that legitimately differ
// between the two proxies normalised.
type diffNormResponse struct {
	statusLine string
	framing    string
	body       string
	fields     map[string][]string
	// sigLength is Content-Length without the error page signature, for
	// answers to HEAD, whose body cannot show whether it has one.
	sigLength string
}

// diffNormaliseResponse removes Server and Date, replaces the proxy's and the
// upstream's port numbers in field values by placeholders (a redirect names
// the listen port), and replaces the error page signature by a placeholder,
// lowering Content-Length by the signature's length.
func diffNormaliseResponse(r *response, run *diffRun) *diffNormResponse {
	n := &diffNormResponse{statusLine: r.StatusLine, body: string(r.Body), fields: map[string][]string{}}
	switch {
	case r.Chunked:
		n.framing = "chunked"
	case r.CloseDelimited:
		n.framing = "close-delimited"
	default:
		n.framing = "length or none"
	}
	server := r.header("Server")
	sig := diffSignature(server)
	hadSig := server != "" && strings.Contains(n.body, sig)
	if hadSig {
		n.body = strings.ReplaceAll(n.body, sig, diffSignature("SERVER"))
	}
	for _, h := range r.Headers {
		name := strings.ToLower(h.Name)
		if name == "server" || name == "date" {
			continue
		}
		v := diffReplacePorts(h.Value, run)
		if name == "content-length" {
			if cl, err := strconv.Atoi(v); err == nil && server != "" {
				if hadSig {
					v = fmt.Sprintf("%d+len(server)", cl-len(server))
				} else {
					n.sigLength = fmt.Sprintf("%d+len(server)", cl-len(server))
				}
			}
		}
		n.fields[name] = append(n.fields[name], v)
	}
	return n
}

// diffReplacePorts replaces the proxy's listen port and its upstream's port in
// s by placeholders.
func diffReplacePorts(s string, run *diffRun) string {
	s = strings.ReplaceAll(s, ":"+strconv.Itoa(run.p.port), ":{PORT}")
	return strings.ReplaceAll(s, ":"+strconv.Itoa(run.up.port), ":{UPSTREAM-PORT}")
}

// diffNormUpstream is a forwarded request, normalised.
type diffNormUpstream struct {
	line, body string
	framing    string
	fields     map[string][]string
}

// diffNormaliseUpstream lowers field names and replaces port numbers. For
// nginx's record it removes the fields headroom deliberately does not
// forward: those named in the client's Connection field and Proxy-* fields
// other than Proxy-Authorization.
func diffNormaliseUpstream(u *upRequest, run *diffRun, clientReq string) *diffNormUpstream {
	n := &diffNormUpstream{line: u.Line, body: string(u.Body), fields: map[string][]string{}}
	n.framing = "none"
	switch {
	case u.Chunked:
		n.framing = "chunked"
	case u.Headers.has("Content-Length"):
		n.framing = "content-length"
	}
	dropped := map[string]bool{}
	if run.tg.isNginx() {
		for _, h := range diffRequestFields(clientReq) {
			if strings.EqualFold(h.Name, "Connection") {
				for _, tok := range strings.Split(h.Value, ",") {
					dropped[strings.ToLower(strings.TrimSpace(tok))] = true
				}
			}
		}
	}
	for _, h := range u.Headers {
		name := strings.ToLower(h.Name)
		if run.tg.isNginx() && (dropped[name] || strings.HasPrefix(name, "proxy-") && name != "proxy-authorization") {
			continue
		}
		n.fields[name] = append(n.fields[name], diffReplacePorts(h.Value, run))
	}
	return n
}

// diffRequestFields returns the header fields of a raw request.
func diffRequestFields(req string) headers {
	head, _, _ := strings.Cut(req, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	var h headers
	for _, l := range lines[1:] {
		if name, value, ok := strings.Cut(l, ":"); ok {
			h = append(h, header{Name: name, Value: strings.TrimSpace(value)})
		}
	}
	return h
}

// diffCompareFields reports the fields whose values differ.
func diffCompareFields(prefix string, a, b map[string][]string, skip func(string) bool) []diffMismatch {
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []diffMismatch
	for _, k := range sorted {
		if skip != nil && skip(k) {
			continue
		}
		va, oka := a[k]
		vb, okb := b[k]
		if oka == okb && strings.Join(va, "\x00") == strings.Join(vb, "\x00") {
			continue
		}
		out = append(out, diffMismatch{prefix + k, diffFieldValues(va, oka), diffFieldValues(vb, okb)})
	}
	return out
}

// diffFieldValues formats a field's values for a report.
func diffFieldValues(v []string, ok bool) string {
	if !ok {
		return "(absent)"
	}
	return fmt.Sprintf("%q", v)
}

// compareDiff compares the two runs' results for corpus entry i.
func compareDiff(dc diffCase, ngRun, hrRun *diffRun, i int) []diffMismatch {
	ng, hr := ngRun.res[i], hrRun.res[i]
	var out []diffMismatch
	add := func(field string, a, b any) {
		sa, sb := fmt.Sprintf("%q", a), fmt.Sprintf("%q", b)
		if _, isInt := a.(int); isInt {
			sa, sb = fmt.Sprint(a), fmt.Sprint(b)
		}
		if sa != sb {
			out = append(out, diffMismatch{field, sa, sb})
		}
	}
	add("interim responses", ng.interim, hr.interim)
	add("failure", ng.failure, hr.failure)
	add("number of responses", len(ng.resps), len(hr.resps))
	for k := 0; k < len(ng.resps) && k < len(hr.resps); k++ {
		p := ""
		if len(dc.reqs) > 1 {
			p = fmt.Sprintf("response %d: ", k+1)
		}
		a, b := diffNormaliseResponse(ng.resps[k], ngRun), diffNormaliseResponse(hr.resps[k], hrRun)
		add(p+"status line", a.statusLine, b.statusLine)
		add(p+"framing", a.framing, b.framing)
		add(p+"body", a.body, b.body)
		head := strings.HasPrefix(dc.reqs[min(k, len(dc.reqs)-1)], "HEAD ")
		out = append(out, diffCompareFields(p+"field ", a.fields, b.fields, func(name string) bool {
			// An answer to HEAD carries the length of the error page
			// it would have sent, signature included.
			return head && name == "content-length" && a.sigLength != "" && a.sigLength == b.sigLength
		})...)
	}
	add("connection after the last response", ng.after, hr.after)

	add("number of upstream requests", len(ng.up), len(hr.up))
	for k := 0; k < len(ng.up) && k < len(hr.up); k++ {
		p := "upstream "
		if len(ng.up) > 1 {
			p = fmt.Sprintf("upstream request %d: ", k+1)
		}
		// The client request this one was forwarded from.
		clientReq := dc.reqs[0]
		if _, ck, ok := diffUntag(ng.up[k]); ok && ck >= 0 && ck < len(dc.reqs) {
			clientReq = dc.reqs[ck]
		}
		a := diffNormaliseUpstream(ng.up[k], ngRun, clientReq)
		b := diffNormaliseUpstream(hr.up[k], hrRun, clientReq)
		add(p+"request line", a.line, b.line)
		add(p+"framing", a.framing, b.framing)
		add(p+"body", a.body, b.body)
		out = append(out, diffCompareFields(p+"field ", a.fields, b.fields, nil)...)
	}
	return out
}
