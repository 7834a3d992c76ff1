package http1

import (
	"errors"
	"strings"
	"testing"
)

// crlf turns the readable "|" line separator of the tables into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "|", "\r\n") }

type hdr struct{ name, value string }

type reqWant struct {
	method, target, path string
	query                *string // nil: Query must be nil
	minor                int
	host                 *string
	cl                   int64
	chunked, keepAlive   bool
	expect, upgrade      bool
	conn                 string
	headers              []hdr
	headLen              int // 0: the whole input
}

func strp(s string) *string { return &s }

var validRequests = []struct {
	name string
	in   string
	want reqWant
}{
	{"simple get", crlf("GET / HTTP/1.1|Host: example.com||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("example.com"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "example.com"}}}},
	{"post with length", crlf("POST /submit HTTP/1.1|Host: a|Content-Length: 11||hello world"), reqWant{
		method: "POST", target: "/submit", path: "/submit", minor: 1, host: strp("a"), cl: 11, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"Content-Length", "11"}}, headLen: len(crlf("POST /submit HTTP/1.1|Host: a|Content-Length: 11||"))}},
	{"chunked any case with OWS", crlf("PUT /x HTTP/1.1|Host: a|Transfer-Encoding: \tChunKed \t||"), reqWant{
		method: "PUT", target: "/x", path: "/x", minor: 1, host: strp("a"), cl: -1, chunked: true, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"Transfer-Encoding", "ChunKed"}}}},
	{"http/1.0 without host", crlf("GET /old HTTP/1.0||"), reqWant{
		method: "GET", target: "/old", path: "/old", minor: 0, cl: -1}},
	{"http/1.0 keep-alive", crlf("GET / HTTP/1.0|Connection: Keep-Alive||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 0, cl: -1, keepAlive: true, conn: "Keep-Alive",
		headers: []hdr{{"Connection", "Keep-Alive"}}}},
	{"http/1.0 keep-alive and close", crlf("GET / HTTP/1.0|Connection: keep-alive, close||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 0, cl: -1, conn: "keep-alive, close",
		headers: []hdr{{"Connection", "keep-alive, close"}}}},
	{"http/1.1 close", crlf("GET / HTTP/1.1|Host: a|Connection: close||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, conn: "close",
		headers: []hdr{{"Host", "a"}, {"Connection", "close"}}}},
	{"http/1.2 is 1.1", crlf("GET / HTTP/1.2|Host: a||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 2, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"query", crlf("GET /p/a?x=1&y=%zz HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/p/a?x=1&y=%zz", path: "/p/a", query: strp("x=1&y=%zz"), minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"empty query", crlf("GET /p? HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/p?", path: "/p", query: strp(""), minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"second question mark stays in query", crlf("GET /p?a?b HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/p?a?b", path: "/p", query: strp("a?b"), minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"percent escapes in path", crlf("GET /a%20b%2F HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/a%20b%2F", path: "/a%20b%2F", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"absolute form overrides host", crlf("GET http://real.example:8080/p?q HTTP/1.1|Host: other||"), reqWant{
		method: "GET", target: "http://real.example:8080/p?q", path: "/p", query: strp("q"), minor: 1, host: strp("real.example:8080"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "other"}}}},
	{"absolute form without path", crlf("GET HTTPS://a.example HTTP/1.1|Host: a.example||"), reqWant{
		method: "GET", target: "HTTPS://a.example", path: "/", minor: 1, host: strp("a.example"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a.example"}}}},
	{"absolute form query without path", crlf("GET http://a?x HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "http://a?x", path: "/", query: strp("x"), minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	// A fragment ends the path or the query, as in nginx; the target
	// keeps it ($request_uri).
	{"fragment ends path", crlf("GET /a/.#b?c HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/a/.#b?c", path: "/a/.", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"fragment ends query", crlf("GET /p?x#y HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/p?x#y", path: "/p", query: strp("x"), minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"absolute form query and fragment without path", crlf("GET http://a:80?x#y HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "http://a:80?x#y", path: "/", query: strp("x"), minor: 1, host: strp("a:80"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	// nginx's "double port hack": more than one port in the Host field.
	{"host field with two ports", crlf("GET / HTTP/1.1|Host: 1.2.3.4:9000:80||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("1.2.3.4:9000:80"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "1.2.3.4:9000:80"}}}},
	{"leading empty lines", crlf("||GET / HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"bare LF everywhere", "\nGET / HTTP/1.1\nHost: a\nX: y\n\n", reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"X", "y"}}}},
	{"mixed terminators", "GET / HTTP/1.1\nHost: a\r\nX: y\n\r\n", reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"X", "y"}}}},
	{"ows and empty values", crlf("GET / HTTP/1.1|Host:a|Empty:|Spaces:   |Inner: a \t b  ||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"Empty", ""}, {"Spaces", ""}, {"Inner", "a \t b"}}}},
	{"obs-text value and utf-8 target", "GET /caf\xc3\xa9|{x} HTTP/1.1\r\nHost: a\r\nX-Name: Jos\xe9\r\n\r\n", reqWant{
		method: "GET", target: "/caf\xc3\xa9|{x}", path: "/caf\xc3\xa9|{x}", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"X-Name", "Jos\xe9"}}}},
	{"upgrade", crlf("GET /ws HTTP/1.1|Host: a|Connection: keep-alive, Upgrade|Upgrade: websocket||"), reqWant{
		method: "GET", target: "/ws", path: "/ws", minor: 1, host: strp("a"), cl: -1, keepAlive: true, upgrade: true,
		conn: "keep-alive, Upgrade", headers: []hdr{{"Host", "a"}, {"Connection", "keep-alive, Upgrade"}, {"Upgrade", "websocket"}}}},
	{"upgrade split over connection lines", crlf("GET /ws HTTP/1.1|Host: a|Connection: foo|Connection: upgrade|Upgrade: h2c||"), reqWant{
		method: "GET", target: "/ws", path: "/ws", minor: 1, host: strp("a"), cl: -1, keepAlive: true, upgrade: true,
		conn: "foo", headers: []hdr{{"Host", "a"}, {"Connection", "foo"}, {"Connection", "upgrade"}, {"Upgrade", "h2c"}}}},
	{"upgrade header without connection token", crlf("GET / HTTP/1.1|Host: a|Upgrade: websocket||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"Upgrade", "websocket"}}}},
	{"upgrade ignored in http/1.0", crlf("GET / HTTP/1.0|Connection: upgrade|Upgrade: websocket||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 0, cl: -1, conn: "upgrade",
		headers: []hdr{{"Connection", "upgrade"}, {"Upgrade", "websocket"}}}},
	{"expect continue", crlf("POST / HTTP/1.1|Host: a|Expect: 100-Continue|Content-Length: 0||"), reqWant{
		method: "POST", target: "/", path: "/", minor: 1, host: strp("a"), cl: 0, keepAlive: true, expect: true,
		headers: []hdr{{"Host", "a"}, {"Expect", "100-Continue"}, {"Content-Length", "0"}}}},
	{"expect ignored in http/1.0", crlf("POST / HTTP/1.0|Expect: 100-continue|Content-Length: 0||"), reqWant{
		method: "POST", target: "/", path: "/", minor: 0, cl: 0,
		headers: []hdr{{"Expect", "100-continue"}, {"Content-Length", "0"}}}},
	{"other expectation", crlf("POST / HTTP/1.1|Host: a|Expect: 100-continue-x||"), reqWant{
		method: "POST", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"Expect", "100-continue-x"}}}},
	{"content-length leading zeros and max", crlf("POST / HTTP/1.1|Host: a|Content-Length: 0009223372036854775807||"), reqWant{
		method: "POST", target: "/", path: "/", minor: 1, host: strp("a"), cl: 9223372036854775807, keepAlive: true,
		headers: []hdr{{"Host", "a"}, {"Content-Length", "0009223372036854775807"}}}},
	{"extension method", "M-SEARCH_X /x HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{
		method: "M-SEARCH_X", target: "/x", path: "/x", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	// Words of the request line may be separated by several spaces, as
	// nginx accepts (RFC 9112 3).
	{"double space", crlf("GET  /  HTTP/1.1 |Host: a||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"host forms", crlf("GET / HTTP/1.1|host: [2001:db8::1]:443||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("[2001:db8::1]:443"), cl: -1, keepAlive: true,
		headers: []hdr{{"host", "[2001:db8::1]:443"}}}},
	{"host trailing dot and empty port", crlf("GET / HTTP/1.1|Host: a.example.:||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a.example.:"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a.example.:"}}}},
	{"fields with underscores in their names are ignored", crlf("GET / HTTP/1.1|Host: a|X_Forwarded_For: 1||"), reqWant{
		method: "GET", target: "/", path: "/", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}}},
	{"pipelined", crlf("GET /1 HTTP/1.1|Host: a||GET /2 HTTP/1.1|Host: a||"), reqWant{
		method: "GET", target: "/1", path: "/1", minor: 1, host: strp("a"), cl: -1, keepAlive: true,
		headers: []hdr{{"Host", "a"}}, headLen: len(crlf("GET /1 HTTP/1.1|Host: a||"))}},
}

func checkRequest(t *testing.T, in string, req *Request, n int, w reqWant) {
	t.Helper()
	wantLen := w.headLen
	if wantLen == 0 {
		wantLen = len(in)
	}
	if n != wantLen || req.HeadLen != wantLen {
		t.Errorf("head length %d (HeadLen %d), want %d", n, req.HeadLen, wantLen)
	}
	eq := func(field string, got []byte, want string) {
		if string(got) != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	eq("Method", req.Method, w.method)
	eq("Target", req.Target, w.target)
	eq("Path", req.Path, w.path)
	if w.query == nil {
		if req.Query != nil {
			t.Errorf("Query = %q, want nil", req.Query)
		}
	} else {
		if req.Query == nil {
			t.Errorf("Query = nil, want %q", *w.query)
		}
		eq("Query", req.Query, *w.query)
	}
	if req.Major != 1 || req.Minor != w.minor {
		t.Errorf("version %d.%d, want 1.%d", req.Major, req.Minor, w.minor)
	}
	if w.host == nil {
		if req.Host != nil {
			t.Errorf("Host = %q, want nil", req.Host)
		}
	} else {
		eq("Host", req.Host, *w.host)
	}
	if req.ContentLength != w.cl {
		t.Errorf("ContentLength = %d, want %d", req.ContentLength, w.cl)
	}
	if req.Chunked != w.chunked || req.KeepAlive != w.keepAlive || req.ExpectContinue != w.expect || req.Upgrade != w.upgrade {
		t.Errorf("Chunked/KeepAlive/ExpectContinue/Upgrade = %v/%v/%v/%v, want %v/%v/%v/%v",
			req.Chunked, req.KeepAlive, req.ExpectContinue, req.Upgrade, w.chunked, w.keepAlive, w.expect, w.upgrade)
	}
	eq("ConnectionHeader", req.ConnectionHeader, w.conn)
	if len(req.Headers) != len(w.headers) {
		t.Fatalf("%d headers, want %d: %q", len(req.Headers), len(w.headers), req.Headers)
	}
	for i, h := range w.headers {
		eq("header name", req.Headers[i].Name, h.name)
		eq("header value", req.Headers[i].Value, h.value)
	}
}

func TestParseRequestValid(t *testing.T) {
	var req Request
	for _, tc := range validRequests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseRequest([]byte(tc.in), &req, nil)
			if err != nil {
				t.Fatalf("ParseRequest(%q): %v", tc.in, err)
			}
			checkRequest(t, tc.in, &req, n, tc.want)
		})
	}
}

var badRequests = []struct {
	name   string
	in     string
	status int
}{
	// Framing conflicts and smuggling classics.
	{"CL and TE", "POST / HTTP/1.1|Host: a|Content-Length: 5|Transfer-Encoding: chunked||", 400},
	{"TE and CL", "POST / HTTP/1.1|Host: a|Transfer-Encoding: chunked|Content-Length: 5||", 400},
	{"TE xchunked", "POST / HTTP/1.1|Host: a|Transfer-Encoding: xchunked||", 501},
	{"TE chunkedx", "POST / HTTP/1.1|Host: a|Transfer-Encoding: chunked-x||", 501},
	{"TE space before colon", "POST / HTTP/1.1|Host: a|Transfer-Encoding : chunked||", 400},
	{"TE tab before colon", "POST / HTTP/1.1|Host: a|Transfer-Encoding\t: chunked||", 400},
	{"TE chunked, identity", "POST / HTTP/1.1|Host: a|Transfer-Encoding: chunked, identity||", 501},
	{"TE gzip, chunked", "POST / HTTP/1.1|Host: a|Transfer-Encoding: gzip, chunked||", 501},
	{"TE identity", "POST / HTTP/1.1|Host: a|Transfer-Encoding: identity||", 501},
	{"TE empty", "POST / HTTP/1.1|Host: a|Transfer-Encoding:||", 501},
	{"TE quoted", "POST / HTTP/1.1|Host: a|Transfer-Encoding: \"chunked\"||", 501},
	{"TE twice", "POST / HTTP/1.1|Host: a|Transfer-Encoding: chunked|Transfer-Encoding: chunked||", 400},
	{"TE with CL invalid", "POST / HTTP/1.1|Host: a|Transfer-Encoding: xchunked|Content-Length: x||", 400},
	{"TE space-prefixed first line", "POST / HTTP/1.1| Transfer-Encoding: chunked|Host: a||", 400},
	{"TE tab-prefixed first line", "POST / HTTP/1.1|\tTransfer-Encoding: chunked|Host: a||", 400},
	{"TE space-prefixed later line", "POST / HTTP/1.1|Host: a| Transfer-Encoding: chunked||", 400},
	{"TE vertical tab", "POST / HTTP/1.1|Host: a|Transfer-Encoding:\vchunked||", 400},
	{"TE in HTTP/1.0", "POST / HTTP/1.0|Transfer-Encoding: chunked||", 400},
	{"TE in HTTP/1.0 unknown coding", "POST / HTTP/1.0|Transfer-Encoding: gzip||", 400},
	{"obs-fold", "GET / HTTP/1.1|Host: a|X: a| b||", 400},
	{"obs-fold with tab", "GET / HTTP/1.1|Host: a|X: a|\tb||", 400},
	{"CL plus sign", "POST / HTTP/1.1|Host: a|Content-Length: +5||", 400},
	{"CL minus sign", "POST / HTTP/1.1|Host: a|Content-Length: -5||", 400},
	{"CL list", "POST / HTTP/1.1|Host: a|Content-Length: 5, 5||", 400},
	{"CL inner space", "POST / HTTP/1.1|Host: a|Content-Length: 5 5||", 400},
	{"CL hex", "POST / HTTP/1.1|Host: a|Content-Length: 0x5||", 400},
	{"CL empty", "POST / HTTP/1.1|Host: a|Content-Length:||", 400},
	{"CL overflow", "POST / HTTP/1.1|Host: a|Content-Length: 9223372036854775808||", 400},
	{"CL huge", "POST / HTTP/1.1|Host: a|Content-Length: 99999999999999999999999||", 400},
	{"CL duplicate equal", "POST / HTTP/1.1|Host: a|Content-Length: 5|Content-Length: 5||", 400},
	{"CL duplicate differing", "POST / HTTP/1.1|Host: a|Content-Length: 5|content-length: 6||", 400},
	{"CL space before colon", "POST / HTTP/1.1|Host: a|Content-Length : 5||", 400},
	// Bytes that must not appear.
	{"NUL in value", "GET / HTTP/1.1|Host: a|X: a\x00b||", 400},
	{"NUL in name", "GET / HTTP/1.1|Host: a|X\x00: b||", 400},
	{"NUL in target", "GET /a\x00 HTTP/1.1|Host: a||", 400},
	{"NUL in method", "G\x00T / HTTP/1.1|Host: a||", 400},
	{"NUL line", "GET / HTTP/1.1|Host: a|\x00||", 400},
	{"bare CR in value", "GET / HTTP/1.1|Host: a|X: a\rb||", 400},
	{"bare CR ends field", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
	{"bare CR ends request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
	{"bare CR as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400},
	{"bare CR before request", "\rGET / HTTP/1.1|Host: a||", 400},
	{"CR CR LF", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400},
	{"control in value", "GET / HTTP/1.1|Host: a|X: a\x01b||", 400},
	{"DEL in value", "GET / HTTP/1.1|Host: a|X: a\x7fb||", 400},
	{"escape in value", "GET / HTTP/1.1|Host: a|X: \x1b[31m||", 400},
	// Field names.
	{"empty name", "GET / HTTP/1.1|Host: a|: b||", 400},
	{"space in name", "GET / HTTP/1.1|Host: a|Foo Bar: b||", 400},
	{"no colon", "GET / HTTP/1.1|Host: a|Xyz||", 400},
	{"no colon at head end", "GET / HTTP/1.1|Host: a|X|", 400},
	// Request line.
	{"empty method", " / HTTP/1.1|Host: a||", 400},
	{"bad method char", "GE(T / HTTP/1.1|Host: a||", 400},
	{"tab after method", "GET\t/ HTTP/1.1|Host: a||", 400},
	// nginx takes upper-case letters, '_' and '-' only in a method.
	{"lower-case method", "get / HTTP/1.1|Host: a||", 400},
	{"token punctuation in method", "M!SEARCH / HTTP/1.1|Host: a||", 400},
	{"space in target", "GET /a b HTTP/1.1|Host: a||", 400},
	{"control in target", "GET /a\x01b HTTP/1.1|Host: a||", 400},
	{"DEL in target", "GET /a\x7f HTTP/1.1|Host: a||", 400},
	{"tab in target", "GET /a\tb HTTP/1.1|Host: a||", 400},
	{"host field with a name after the port", "GET / HTTP/1.1|Host: a:80:b||", 400},
	{"absolute form fragment after the authority", "GET http://a#y HTTP/1.1|Host: a||", 400},
	{"absolute form with two ports", "GET http://a:80:80/ HTTP/1.1|Host: a||", 400},
	{"asterisk form", "OPTIONS * HTTP/1.1|Host: a||", 400},
	{"relative target", "GET a/b HTTP/1.1|Host: a||", 400},
	{"bad escape", "GET /a%zz HTTP/1.1|Host: a||", 400},
	{"short escape", "GET /a%4 HTTP/1.1|Host: a||", 400},
	{"short escape before query", "GET /a%4?x HTTP/1.1|Host: a||", 400},
	{"absolute no authority", "GET http:///x HTTP/1.1|Host: a||", 400},
	{"absolute userinfo", "GET http://u@a/ HTTP/1.1|Host: a||", 400},
	{"absolute bad port", "GET http://a:b/ HTTP/1.1|Host: a||", 400},
	{"absolute missing slashes", "GET http:a/ HTTP/1.1|Host: a||", 400},
	{"absolute scheme digit first", "GET 1http://a/ HTTP/1.1|Host: a||", 400},
	{"absolute bad escape", "GET http://a/%g0 HTTP/1.1|Host: a||", 400},
	{"HTTP/0.9 simple request", "GET /|", 400},
	{"HTTP/0.9 version", "GET / HTTP/0.9||", 400},
	{"HTTP/2.0", "GET / HTTP/2.0|Host: a||", 505},
	{"HTTP/3.0", "GET / HTTP/3.0|Host: a||", 505},
	{"HTTP/10.0", "GET / HTTP/10.0|Host: a||", 505},
	{"HTTP/1.10", "GET / HTTP/1.10|Host: a||", 400},
	{"HTTP/1", "GET / HTTP/1|Host: a||", 400},
	{"HTTP/1.", "GET / HTTP/1.|Host: a||", 400},
	{"HTTP/1.x", "GET / HTTP/1.x|Host: a||", 400},
	{"lowercase protocol", "GET / http/1.1|Host: a||", 400},
	{"garbage after version", "GET / HTTP/1.1x|Host: a||", 400},
	{"TLS handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
	// Host.
	{"missing host", "GET / HTTP/1.1||", 400},
	{"missing host with absolute form", "GET http://a/ HTTP/1.1||", 400},
	{"duplicate host", "GET / HTTP/1.1|Host: a|Host: a||", 400},
	{"duplicate host in 1.0", "GET / HTTP/1.0|Host: a|host: b||", 400},
	{"empty host", "GET / HTTP/1.1|Host:||", 400},
	{"host with slash", "GET / HTTP/1.1|Host: a/b||", 400},
	{"host with backslash", "GET / HTTP/1.1|Host: a\\b||", 400},
	{"host with space", "GET / HTTP/1.1|Host: a b||", 400},
	{"host with dotdot", "GET / HTTP/1.1|Host: a..b||", 400},
	{"host with userinfo", "GET / HTTP/1.1|Host: u@a||", 400},
	{"host bad port", "GET / HTTP/1.1|Host: a:8x||", 400},
	{"host only port", "GET / HTTP/1.1|Host: :80||", 400},
	{"host unclosed literal", "GET / HTTP/1.1|Host: [::1||", 400},
	{"host empty literal", "GET / HTTP/1.1|Host: []||", 400},
	{"host junk after literal", "GET / HTTP/1.1|Host: [::1]x||", 400},
	{"host bad escape", "GET / HTTP/1.1|Host: a%zz||", 400},
	// Methods nginx refuses.
	{"CONNECT", "CONNECT a.example:443 HTTP/1.1|Host: a.example:443||", 405},
	{"TRACE", "TRACE / HTTP/1.1|Host: a||", 405},
}

func TestParseRequestInvalid(t *testing.T) {
	var req Request
	for _, tc := range badRequests {
		t.Run(tc.name, func(t *testing.T) {
			in := crlf(tc.in)
			_, err := ParseRequest([]byte(in), &req, nil)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseRequest(%q) = %v, want status %d", in, err, tc.status)
			}
			if e.Status != tc.status {
				t.Fatalf("ParseRequest(%q) = %d %q, want status %d", in, e.Status, e.Reason, tc.status)
			}
		})
	}
}

func TestParseRequestReasons(t *testing.T) {
	cases := []struct {
		in   string
		want *Error
	}{
		{"GET / HTTP/1.1||", errNoHost},
		{"GET / HTTP/1.1|Host: a|Host: a||", errDuplicateHost},
		{"POST / HTTP/1.1|Host: a|Content-Length: 1|Content-Length: 1||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|Expect: x|expect: y||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|If-Match: *|If-Match: *||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|If-Range: x|If-Range: x||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|If-None-Match: x|If-None-Match: x||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|Content-Range: x|CONTENT-RANGE: x||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|Authorization: x|Authorization: x||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|If-Modified-Since: x|If-Modified-Since: x||", errDuplicateHdr},
		{"GET / HTTP/1.1|Host: a|If-Unmodified-Since: x|If-Unmodified-Since: x||", errDuplicateHdr},
		{"POST / HTTP/1.1|Host: a|Content-Length: 1|Transfer-Encoding: chunked||", errCLandTE},
		{"POST / HTTP/1.1|Host: a|Transfer-Encoding: gzip||", errUnknownTE},
		{"POST / HTTP/1.0|Transfer-Encoding: chunked||", errTEinHTTP10},
		{"GET / HTTP/1.1|Host: a|X: a| b||", errObsFold},
		{"GET / HTTP/1.1|Host: a|X: a\rb||", errBareCR},
		{"GET / HTTP/2.0||", errInvalidVersion},
		{"GET /|", errHTTP09},
	}
	var req Request
	for _, tc := range cases {
		in := crlf(tc.in)
		if _, err := ParseRequest([]byte(in), &req, nil); err != tc.want {
			t.Errorf("ParseRequest(%q) = %v, want %v", in, err, tc.want)
		}
	}
}

func TestParseRequestNeedMore(t *testing.T) {
	full := crlf("GET /index.html?x=1 HTTP/1.1|Host: example.com|Content-Length: 3||abc")
	head := len(full) - 3
	var req Request
	for i := 0; i < head; i++ {
		if _, err := ParseRequest([]byte(full[:i]), &req, nil); err != ErrNeedMore {
			t.Fatalf("prefix %d (%q): err = %v, want ErrNeedMore", i, full[:i], err)
		}
	}
	for i := head; i <= len(full); i++ {
		n, err := ParseRequest([]byte(full[:i]), &req, nil)
		if err != nil || n != head {
			t.Fatalf("prefix %d: n=%d err=%v, want %d", i, n, err, head)
		}
	}
}

// TestParseRequestEarlyErrors checks that garbage and oversized input are
// refused before the head is complete, so that the caller stops reading.
func TestParseRequestEarlyErrors(t *testing.T) {
	lim := &Limits{MaxRequestLine: 64, MaxHeaderLine: 32, MaxHeaderBytes: 128, MaxHeaders: 3}
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"garbage first byte", "\x16\x03", errInvalidMethod},
		{"bad target byte", "GET /\x01", errInvalidTarget},
		{"bad version", "GET / HTTX", errInvalidRequest},
		{"http/2 preface", "PRI * HTTP/2.0\r\n", errInvalidTarget},
		{"long request line", "GET /" + strings.Repeat("a", 59), ErrURITooLong},
		{"request line fits exactly", "GET /" + strings.Repeat("a", 49) + " HTTP/1.1\r", ErrURITooLong},
		{"long empty lines", strings.Repeat("\r\n", 32), ErrURITooLong},
		{"long header line", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 29), ErrHeaderTooLarge},
		{"bad header byte", "GET / HTTP/1.1\r\nX: \x00", errInvalidHeader},
		{"obs fold", "GET / HTTP/1.1\r\nX: a\r\n ", errObsFold},
		{"too many headers", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n", ErrHeaderTooLarge},
		{"whole head too long", "GET / HTTP/1.1\r\n" + strings.Repeat("X: "+strings.Repeat("a", 26)+"\r\n", 3) + "Y: " + strings.Repeat("b", 19), ErrHeaderTooLarge},
	}
	var req Request
	for _, tc := range cases {
		if _, err := ParseRequest([]byte(tc.in), &req, lim); err != tc.want {
			t.Errorf("%s: ParseRequest(%q) = %v, want %v", tc.name, tc.in, err, tc.want)
		}
	}
}

// TestParseRequestLimitBoundaries checks the exact sizes at which each
// limit applies: a line of exactly the limit, terminator included, is
// accepted; one byte more is not.
func TestParseRequestLimitBoundaries(t *testing.T) {
	var req Request
	line := func(n int) string { // request line of n bytes including CRLF
		return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1\r\n")) + " HTTP/1.1\r\n"
	}
	field := func(n int) string { // field line of n bytes including CRLF
		return "X: " + strings.Repeat("b", n-len("X: \r\n")) + "\r\n"
	}
	host := "Host: a\r\n"

	lim := &Limits{MaxRequestLine: 100, MaxHeaderLine: 50, MaxHeaderBytes: 1000}
	if _, err := ParseRequest([]byte(line(100)+host+"\r\n"), &req, lim); err != nil {
		t.Errorf("request line at limit: %v", err)
	}
	if _, err := ParseRequest([]byte(line(101)+host+"\r\n"), &req, lim); err != ErrURITooLong {
		t.Errorf("request line over limit: %v", err)
	}
	if _, err := ParseRequest([]byte(line(20)+host+field(50)+"\r\n"), &req, lim); err != nil {
		t.Errorf("field line at limit: %v", err)
	}
	if _, err := ParseRequest([]byte(line(20)+host+field(51)+"\r\n"), &req, lim); err != ErrHeaderTooLarge {
		t.Errorf("field line over limit: %v", err)
	}

	// The whole head, final empty line included, against MaxHeaderBytes.
	head := line(20) + host + field(40) + "\r\n"
	lim = &Limits{MaxHeaderBytes: len(head)}
	if n, err := ParseRequest([]byte(head), &req, lim); err != nil || n != len(head) {
		t.Errorf("head at limit: %d, %v", n, err)
	}
	lim.MaxHeaderBytes--
	if _, err := ParseRequest([]byte(head), &req, lim); err != ErrHeaderTooLarge {
		t.Errorf("head over limit: %v", err)
	}
	// With MaxHeaderBytes smaller than MaxRequestLine, a long request
	// line exceeds the head limit, which is a 400, not a 414.
	lim = &Limits{MaxRequestLine: 1000, MaxHeaderBytes: 50}
	if _, err := ParseRequest([]byte(line(60)), &req, lim); err != ErrHeaderTooLarge {
		t.Errorf("request line over head limit: %v", err)
	}

	lim = &Limits{MaxHeaders: 2}
	if _, err := ParseRequest([]byte(line(20)+host+field(10)+"\r\n"), &req, lim); err != nil {
		t.Errorf("headers at limit: %v", err)
	}
	if _, err := ParseRequest([]byte(line(20)+host+field(10)+field(10)+"\r\n"), &req, lim); err != ErrHeaderTooLarge {
		t.Errorf("headers over limit: %v", err)
	}
}

func TestParseRequestDefaultLimits(t *testing.T) {
	var req Request
	long := "GET /" + strings.Repeat("a", DefaultMaxRequestLine) + " HTTP/1.1\r\nHost: a\r\n\r\n"
	if _, err := ParseRequest([]byte(long), &req, nil); err != ErrURITooLong {
		t.Errorf("default request line limit: %v", err)
	}
	many := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: y\r\n", DefaultMaxHeaders) + "\r\n"
	if _, err := ParseRequest([]byte(many), &req, &Limits{MaxHeaderBytes: 1 << 20}); err != ErrHeaderTooLarge {
		t.Errorf("default header count limit: %v", err)
	}
	big := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: "+strings.Repeat("y", 1000)+"\r\n", 40) + "\r\n"
	if _, err := ParseRequest([]byte(big), &req, nil); err != ErrHeaderTooLarge {
		t.Errorf("default head limit: %v", err)
	}
}

func TestParseRequestReusesHeaders(t *testing.T) {
	req := Request{Headers: make([]Header, 0, 16)}
	in := []byte(crlf("GET / HTTP/1.1|Host: a|A: 1|B: 2||"))
	if _, err := ParseRequest(in, &req, nil); err != nil {
		t.Fatal(err)
	}
	p := &req.Headers[:1][0]
	if _, err := ParseRequest(in, &req, nil); err != nil {
		t.Fatal(err)
	}
	if &req.Headers[0] != p || len(req.Headers) != 3 {
		t.Errorf("Headers not reused: len %d", len(req.Headers))
	}
	// A failed parse keeps the capacity too.
	if _, err := ParseRequest([]byte("GET / HTTP/1.1\r\nA: \x00"), &req, nil); err == nil {
		t.Fatal("want error")
	}
	if cap(req.Headers) != 16 {
		t.Errorf("capacity lost on error: %d", cap(req.Headers))
	}
}

func TestEachConnectionToken(t *testing.T) {
	var req Request
	in := crlf("GET / HTTP/1.1|Host: a|Connection: X-A, , keep-alive|Keep-Alive: 5|connection: x-b||")
	if _, err := ParseRequest([]byte(in), &req, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	req.EachConnectionToken(func(tok []byte) { got = append(got, string(tok)) })
	if strings.Join(got, "|") != "X-A|keep-alive|x-b" {
		t.Errorf("tokens %q", got)
	}
}

func TestRequestFraming(t *testing.T) {
	cases := []struct {
		in   string
		want Framing
	}{
		{"GET / HTTP/1.1|Host: a||", FramingNone},
		{"POST / HTTP/1.1|Host: a|Content-Length: 0||", FramingLength},
		{"POST / HTTP/1.1|Host: a|Transfer-Encoding: chunked||", FramingChunked},
	}
	var req Request
	for _, tc := range cases {
		if _, err := ParseRequest([]byte(crlf(tc.in)), &req, nil); err != nil {
			t.Fatal(err)
		}
		if got := RequestFraming(&req); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestMayCompleteHead(t *testing.T) {
	cases := []struct {
		buf  string
		prev int
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n", 0, false},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, true},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 25, true},   // "\r\n" arrived after "...a\r\n"
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26, true},   // the final LF alone
		{"GET / HTTP/1.1\nHost: a\n\n", 23, true},         // bare LF
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", 25, false},    // not yet
		{"GET / HTTP/1.1\r\nHost: a\r\nB", 25, false},     // a new field
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nX", 27, false}, // old terminator only
	}
	for _, tc := range cases {
		if got := MayCompleteHead([]byte(tc.buf), tc.prev); got != tc.want {
			t.Errorf("MayCompleteHead(%q, %d) = %v, want %v", tc.buf, tc.prev, got, tc.want)
		}
	}
}

// TestParseRequestFieldNames checks nginx's ignore_invalid_headers and
// underscores_in_headers: by default a field whose name has bytes other
// than letters, digits and '-' is left out and listed in Invalid (up to
// the end of its value); with underscores '_' is valid too; with invalid
// names kept, token names stay and other names are refused. Whitespace,
// control bytes and an empty name are refused in every mode.
func TestParseRequestFieldNames(t *testing.T) {
	ignore := &Limits{}
	underscores := &Limits{Underscores: true}
	keep := &Limits{KeepInvalidNames: true}
	for _, tc := range []struct {
		name    string
		lim     *Limits
		field   string
		kept    bool
		invalid string
		status  int
	}{
		{"letters digits and dashes are valid", ignore, "X-Foo-9: v", true, "", 0},
		{"an underscore is ignored", ignore, "x_foo: x-bar ", false, "x_foo: x-bar", 0},
		{"a leading underscore is ignored", ignore, "_foo: x-bar", false, "_foo: x-bar", 0},
		{"a dot is ignored", ignore, "x.foo: x-bar", false, "x.foo: x-bar", 0},
		{"a parenthesis is ignored", ignore, "X(y): b", false, "X(y): b", 0},
		{"a slash is ignored", ignore, "X/y: b", false, "X/y: b", 0},
		{"a non-ASCII byte is ignored", ignore, "X\xc3\xa9: b", false, "X\xc3\xa9: b", 0},
		{"angle brackets are ignored", ignore, "</kie>: x-bar", false, "</kie>: x-bar", 0},
		{"underscores are valid when allowed", underscores, "x_foo: x-bar", true, "", 0},
		{"a leading underscore is valid when allowed", underscores, "_foo: x-bar", true, "", 0},
		{"a dot is ignored with underscores allowed", underscores, "x.foo: x-bar", false, "x.foo: x-bar", 0},
		{"token names are kept", keep, "x.foo_bar: x-bar", true, "", 0},
		{"a leading dot is kept", keep, ".foo: x-bar", true, "", 0},
		{"a slash is refused when names are kept", keep, "X/y: b", false, "", 400},
		{"a non-ASCII byte is refused when names are kept", keep, "X\xc3\xa9: b", false, "", 400},
		{"a leading colon is refused", ignore, ":foo: x-bar", false, "", 400},
		{"a space in a name is refused", ignore, "foo bar: x", false, "", 400},
		{"a leading space is refused", ignore, " foo: x-bar", false, "", 400},
		{"a control byte is refused", ignore, "foo\x02: x-bar", false, "", 400},
		{"DEL is refused", underscores, "foo\x7f: x-bar", false, "", 400},
		{"a control byte is refused when names are kept", keep, "foo\x02: x-bar", false, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := "GET / HTTP/1.1\r\nHost: a\r\n" + tc.field + "\r\nX-After: 1\r\n\r\n"
			var req Request
			_, err := ParseRequest([]byte(in), &req, tc.lim)
			if tc.status != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("ParseRequest(%q) = %v, want status %d", in, err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest(%q): %v", in, err)
			}
			want := 2
			if tc.kept {
				want = 3
			}
			if len(req.Headers) != want || string(req.Headers[len(req.Headers)-1].Name) != "X-After" {
				t.Fatalf("headers %q, want %d ending with X-After", req.Headers, want)
			}
			if tc.invalid == "" {
				if len(req.Invalid) != 0 {
					t.Fatalf("Invalid = %q, want none", req.Invalid)
				}
				return
			}
			if len(req.Invalid) != 1 || string(req.Invalid[0]) != tc.invalid {
				t.Fatalf("Invalid = %q, want [%q]", req.Invalid, tc.invalid)
			}
		})
	}
}
