package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run one SCGI and one uwsgi configuration against nginx and
// headroom, each with a small server of the protocol written here that
// records exactly what it received: the parameters (scgi_param and
// uwsgi_param, the HTTP_* parameters made of the request's header
// fields, if_not_empty, the inheritance of the parameter list, SCGI's own
// CONTENT_LENGTH), uwsgi's modifiers and uwsgi_string, the request body
// however the client framed it; then the server's answer as the client
// sees it (a CGI head or an HTTP status line, the status line, headers,
// body and framing, HEAD and HTTP/1.0), *_hide_header,
// *_intercept_errors, *_read_timeout, and the upstream side: a unix
// socket, an upstream group, a refused port, a too big header and the
// error log's lines. The expectations are nginx 1.22's.

// gwParam is one name-value pair the proxy sent.
type gwParam struct{ name, value string }

// gwRequest is what the server received on one connection.
type gwRequest struct {
	network    string // "tcp" or "unix"
	mod1, mod2 byte   // uwsgi's modifiers
	str        []byte // uwsgi: what follows the vars within the packet's size
	params     []gwParam
	body       []byte
	err        error // a malformed request, or a body cut short
}

// param returns the value of the first parameter called name.
func (r *gwRequest) param(name string) (string, bool) {
	for _, p := range r.params {
		if p.name == name {
			return p.value, true
		}
	}
	return "", false
}

// gwServer is an SCGI or uwsgi server on a loopback port and on a unix
// socket. It answers after reading the request whole and ends each
// answer by closing the connection, as both protocols do.
type gwServer struct {
	proto string // "scgi" or "uwsgi"
	addr  string // host:port
	sock  string // the unix socket's path

	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// gwLargeBody is larger than the default buffers (8 4k) and is written in
// several writes.
var gwLargeBody = strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\n", 300*1024/37)

// startGW starts a server of proto for the test; it stops when the test
// ends. The socket's directory is short (a unix socket's path is
// limited) and open to everyone, like the socket, because nginx's
// workers run as nobody.
func startGW(t *testing.T, proto string) *gwServer {
	t.Helper()
	dir := socketDir(t, "hrsu")
	s := &gwServer{proto: proto, sock: filepath.Join(dir, "s"), done: make(chan struct{}), conns: map[net.Conn]bool{}}
	tcp, unix := listenTCPAndUnix(t, s.sock)
	s.addr = tcp.Addr().String()
	for _, l := range []net.Listener{tcp, unix} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				s.mu.Lock()
				s.conns[c] = true
				s.mu.Unlock()
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					s.serve(c, l.Addr().Network())
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
			}
		}()
	}
	t.Cleanup(func() {
		close(s.done)
		tcp.Close()
		unix.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// serve reads one request, answers it and closes the connection: it
// shuts its side first and reads what may still come, so that the close
// is not a reset.
func (s *gwServer) serve(c net.Conn, network string) {
	c.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(c)
	var req *gwRequest
	if s.proto == "scgi" {
		req = scgiRead(br)
	} else {
		req = uwsgiRead(br)
	}
	if req.err == nil {
		gwReadBody(c, br, req)
	}
	req.network = network
	s.answer(c, req)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	io.Copy(io.Discard, br)
}

// gwReadBody reads the body: as many bytes as the first CONTENT_LENGTH
// parameter says, within 2 s of the parameters, so that a body that
// does not come is an error the echo shows, not a hang.
func gwReadBody(c net.Conn, br *bufio.Reader, req *gwRequest) {
	v, _ := req.param("CONTENT_LENGTH")
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 10<<20 {
		req.err = fmt.Errorf("CONTENT_LENGTH %q", v)
		return
	}
	req.body = make([]byte, n)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	defer c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if got, err := io.ReadFull(br, req.body); err != nil {
		req.body = req.body[:got]
		req.err = fmt.Errorf("body: %d of %d bytes", got, n)
	}
}

// scgiRead reads an SCGI request: a netstring ("LEN:" and the
// NUL-terminated names and values, then ","), then the body.
func scgiRead(br *bufio.Reader) *gwRequest {
	req := &gwRequest{}
	head, err := br.ReadString(':')
	if err != nil {
		req.err = fmt.Errorf("netstring length: %q, %v", head, err)
		return req
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, ":"))
	if err != nil || n < 0 || n > 1<<20 {
		req.err = fmt.Errorf("netstring length %q", head)
		return req
	}
	b := make([]byte, n+1)
	if _, err := io.ReadFull(br, b); err != nil {
		req.err = fmt.Errorf("netstring: %v", err)
		return req
	}
	if b[n] != ',' {
		req.err = fmt.Errorf("netstring ends in %q, not ','", b[n])
		return req
	}
	fields := bytes.Split(b[:n], []byte{0})
	if len(fields)%2 != 1 || len(fields[len(fields)-1]) != 0 {
		req.err = fmt.Errorf("headers not in NUL-terminated pairs: %q", b[:n])
		return req
	}
	for i := 0; i+1 < len(fields); i += 2 {
		req.params = append(req.params, gwParam{string(fields[i]), string(fields[i+1])})
	}
	return req
}

// uwsgiRead reads a uwsgi request: the header (modifier1, the packet's
// size in 16 bits little-endian, modifier2), the vars (each a 16-bit
// size and the name, a 16-bit size and the value) and what else the
// size holds (uwsgi_string), then the body.
func uwsgiRead(br *bufio.Reader) *gwRequest {
	req := &gwRequest{}
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		req.err = fmt.Errorf("uwsgi header: %v", err)
		return req
	}
	req.mod1, req.mod2 = h[0], h[3]
	b := make([]byte, int(h[1])|int(h[2])<<8)
	if _, err := io.ReadFull(br, b); err != nil {
		req.err = fmt.Errorf("uwsgi vars: %v", err)
		return req
	}
	le16 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 }
	for len(b) >= 4 {
		kl := le16(b)
		if 2+kl+2 > len(b) {
			break
		}
		vl := le16(b[2+kl:])
		if 4+kl+vl > len(b) {
			break
		}
		req.params = append(req.params, gwParam{string(b[2 : 2+kl]), string(b[4+kl : 4+kl+vl])})
		b = b[4+kl+vl:]
	}
	req.str = b
	return req
}

// answer writes the answer the request's path asks for (the last
// segment of the first REQUEST_URI parameter); any other path, or none,
// answers with what the request carried (see echo).
func (s *gwServer) answer(c net.Conn, req *gwRequest) {
	uri, _ := req.param("REQUEST_URI")
	uri, _, _ = strings.Cut(uri, "?")
	write := func(s string) { io.WriteString(c, s) }
	switch path.Base(uri) {
	case "cgi-404":
		write("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n")
	case "status-500":
		write("Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nstatus 500\n")
	case "reason":
		write("Status: 404 Not Here\r\nContent-Type: text/plain\r\n\r\nnot here\n")
	case "code-only":
		write("Status: 404\r\nContent-Type: text/plain\r\n\r\ncode only\n")
	case "bad-status":
		write("Status: abc\r\nContent-Type: text/plain\r\n\r\nbad status\n")
	case "no-status":
		write("Content-Type: text/x-app\r\nX-A: b\r\n\r\nno status\n")
	case "lf-only":
		write("Status: 404 Not Found\nContent-Type: text/plain\nX-A: b\n\nlf only\n")
	case "location":
		write("Location: /else\r\n\r\n")
	case "location-abs":
		write("Status: 301 Moved Permanently\r\nLocation: http://elsewhere.example/x\r\n\r\n")
	case "http-201":
		write("HTTP/1.1 201 Created\r\nX-A: b\r\nContent-Type: text/plain\r\n\r\ncreated\n")
	case "http-reason":
		write("HTTP/1.0 299 Custom Thing\r\nContent-Type: text/plain\r\n\r\ncustom\n")
	case "http-and-status":
		write("HTTP/1.1 200 OK\r\nStatus: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nhttp and status\n")
	case "length":
		write("Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nsized\n")
	case "headers":
		write("Content-Type: text/x-app\r\nX-App: one\r\nX-Multi: a\r\nX-Multi: b\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n" +
			"Cache-Control: no-store\r\nX-Accel-Buffering: yes\r\n\r\nheaders\n")
	case "big-header":
		write("Content-Type: text/plain\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\nbig header\n")
	case "large":
		write("Content-Type: text/plain\r\n\r\n")
		const parts = 10
		step := (len(gwLargeBody) + parts - 1) / parts
		for i := 0; i < len(gwLargeBody); i += step {
			write(gwLargeBody[i:min(i+step, len(gwLargeBody))])
			time.Sleep(5 * time.Millisecond)
		}
	case "empty":
	case "cut-head":
		write("Content-Type: text/plain\r\nX-A: b")
	case "slow":
		select {
		case <-time.After(2 * time.Second):
		case <-s.done:
			return
		}
		write("Content-Type: text/plain\r\n\r\nslow\n")
	default:
		write(s.echo(req))
	}
}

// echo is a CGI answer with what the request carried: the network in
// X-Net, the REQUEST_METHOD parameter in X-Method (for HEAD, whose body
// the client does not get), and as the body uwsgi's modifiers and
// string, then the parameters in the order they came, one NAME=value a
// line, then the request body.
func (s *gwServer) echo(req *gwRequest) string {
	method, _ := req.param("REQUEST_METHOD")
	var b strings.Builder
	fmt.Fprintf(&b, "Content-Type: text/plain\r\nX-Net: %s\r\nX-Method: %s\r\n\r\n", req.network, method)
	if s.proto == "uwsgi" {
		fmt.Fprintf(&b, "modifier1=%d modifier2=%d string=%q\n", req.mod1, req.mod2, req.str)
	}
	for _, p := range req.params {
		fmt.Fprintf(&b, "%s=%s\n", p.name, p.value)
	}
	b.WriteString(gwBodyLine(string(req.body)))
	if req.err != nil {
		fmt.Fprintf(&b, "error: %v\n", req.err)
	}
	return b.String()
}

// gwBodyLine is the echo's line for a request body.
func gwBodyLine(body string) string {
	if len(body) > 256 {
		return fmt.Sprintf("body=%d bytes, sha256 %x\n", len(body), sha256.Sum256([]byte(body)))
	}
	return fmt.Sprintf("body=%q\n", body)
}

// gwConf is the configuration, for either protocol: {{P}} is "scgi" or
// "uwsgi", {{GW}} and {{GWSOCK}} the server's address and socket,
// {{EXTRA}} locations of one protocol only. {{PORT3}} is a port nothing
// listens on.
const gwConf = `
    upstream {{P}}_group { server {{GW}}; }
    upstream {{P}}_two { server 127.0.0.1:{{PORT3}}; server {{GW}}; }
    server {
        listen 127.0.0.1:{{PORT}};
        {{P}}_param REQUEST_METHOD $request_method;
        {{P}}_param REQUEST_URI $request_uri;
        {{P}}_param QUERY_STRING $query_string;
        {{P}}_param CONTENT_TYPE $content_type;
        {{P}}_param CONTENT_LENGTH $content_length;
        {{P}}_param SERVER_PROTOCOL $server_protocol;
        {{P}}_param SERVER_PORT $server_port;
        {{P}}_param REMOTE_ADDR $remote_addr;
        {{P}}_param DOCUMENT_ROOT $document_root;
        location /app/ {
            {{P}}_pass {{GW}};
            location /app/nested/ { {{P}}_pass {{GW}}; }
        }
        location /own/ {
            {{P}}_param REQUEST_URI $request_uri;
            {{P}}_param X $uri;
            {{P}}_param HTTP_X_OVER fixed;
            {{P}}_param HTTP_X_COND $arg_c if_not_empty;
            {{P}}_param NONEMPTY $arg_e if_not_empty;
            {{P}}_param EMPTY $arg_e;
            {{P}}_param DUP one;
            {{P}}_param DUP two;
            {{P}}_pass {{P}}_group;
            location /own/inner/ { {{P}}_pass {{P}}_group; }
        }
        location /unix/ { {{P}}_pass unix:{{GWSOCK}}; }
        location /next/ { {{P}}_pass {{P}}_two; }
        location /noheaders/ {
            {{P}}_pass_request_headers off;
            {{P}}_param REQUEST_URI $request_uri;
            {{P}}_param A b;
            {{P}}_pass {{GW}};
        }
        location /hide/ { {{P}}_hide_header X-App; {{P}}_pass {{GW}}; }
        location /slow/ { {{P}}_read_timeout 1s; {{P}}_pass {{GW}}; }
        location /intercept/ {
            {{P}}_intercept_errors on;
            error_page 404 = /fallback;
            {{P}}_pass {{GW}};
        }
        location = /fallback { return 200 "fallback\n"; }
        location /dead/ { {{P}}_pass 127.0.0.1:{{PORT3}}; }
        location /bodyparam/ {
            client_body_buffer_size 128k;
            {{P}}_param REQUEST_URI $request_uri;
            {{P}}_param CONTENT_LENGTH $content_length;
            {{P}}_param BODY $request_body;
            {{P}}_pass {{GW}};
        }
        {{EXTRA}}
    }`

// scgiExtra is the SCGI configuration's own location.
const scgiExtra = `location /nobody/ {
            scgi_pass_request_body off;
            scgi_param REQUEST_URI $request_uri;
            scgi_param CONTENT_LENGTH $content_length;
            scgi_pass {{GW}};
        }`

// uwsgiExtra is the uwsgi configuration's own location.
const uwsgiExtra = `location /mod/ {
            uwsgi_modifier1 5;
            uwsgi_modifier2 9;
            uwsgi_string "hello world";
            uwsgi_pass {{GW}};
        }
        location /scheme/ { uwsgi_pass uwsgi://{{GW}}; }`

// gwServerList is what the server level's parameter list sends, in its
// order, for a request of method and uri (its query is QUERY_STRING).
func gwServerList(method, uri, ctype, clen, proto string) []string {
	_, query, _ := strings.Cut(uri, "?")
	return []string{"REQUEST_METHOD=" + method, "REQUEST_URI=" + uri, "QUERY_STRING=" + query, "CONTENT_TYPE=" + ctype,
		"CONTENT_LENGTH=" + clen, "SERVER_PROTOCOL=" + proto, "SERVER_PORT=PORT", "REMOTE_ADDR=127.0.0.1", "DOCUMENT_ROOT=PREFIX/html"}
}

// gwLines joins lists of NAME=value lines.
func gwLines(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// gwReceivedCase is a request and what the server should receive for it.
type gwReceivedCase struct {
	name, req string
	params    []string // in order, without SCGI's own CONTENT_LENGTH
	body      string
	net       string // the socket the request came by
	uwsgiHead string // the uwsgi echo's first line; the defaults if ""
	// length is SCGI's own CONTENT_LENGTH if it is not the body's
	// length, and tail the echo's last line, if any.
	length, tail string
}

// gwAnswerCase is a request and the answer the client should get.
type gwAnswerCase struct {
	name, req, status, body, framing string
	// fields are "Name: value" with all the values of Name joined by
	// ", "; "Name:" means none.
	fields []string
	// statusField is the Status field the server sent, which nginx's
	// uwsgi module passes to the client (its SCGI module hides it).
	statusField string
}

// The framings of an answer's body.
const (
	gwChunked = "chunked"
	gwLength  = "length" // Content-Length, the body's
	gwToClose = "close"  // to the end of the connection
	gwNone    = "none"   // no body and no framing field
)

// runGWAsNginx runs the cases of proto against tg.
func runGWAsNginx(t *testing.T, tg *target, proto string) {
	gw := startGW(t, proto)
	extra := scgiExtra
	if proto == "uwsgi" {
		extra = uwsgiExtra
	}
	conf := strings.NewReplacer("{{EXTRA}}", extra).Replace(gwConf)
	conf = strings.NewReplacer("{{P}}", proto, "{{GW}}", gw.addr, "{{GWSOCK}}", gw.sock).Replace(conf)
	p := startProxy(t, tg, conf)
	port := strconv.Itoa(p.port)
	norm := func(b []byte) string {
		s := strings.ReplaceAll(string(b), p.prefix, "PREFIX")
		return strings.ReplaceAll(s, "\nSERVER_PORT="+port+"\n", "\nSERVER_PORT=PORT\n")
	}
	// echo is the echo expected for a case.
	echo := func(tc gwReceivedCase) string {
		var b strings.Builder
		if proto == "uwsgi" {
			head := tc.uwsgiHead
			if head == "" {
				head = `modifier1=0 modifier2=0 string=""`
			}
			b.WriteString(head + "\n")
		} else {
			// nginx's own, first, whatever the list says: the length
			// of the body it read (and sends, unless told not to).
			length := tc.length
			if length == "" {
				length = strconv.Itoa(len(tc.body))
			}
			fmt.Fprintf(&b, "CONTENT_LENGTH=%s\n", length)
		}
		for _, l := range tc.params {
			b.WriteString(l + "\n")
		}
		b.WriteString(gwBodyLine(tc.body))
		if tc.tail != "" {
			b.WriteString(tc.tail + "\n")
		}
		return b.String()
	}
	noStatus := func(name string, r *response) {
		t.Helper()
		if r.Headers.has("Status") {
			t.Errorf("%s: the Status field reached the client:\n%s", name, r)
		}
	}

	// What the server receives, as its echo shows it.
	hc := []string{"HTTP_HOST=h", "HTTP_CONNECTION=close"}
	get := func(uri string) []string { return gwServerList("GET", uri, "", "", "HTTP/1.1") }
	largeBody := strings.Repeat("z", 100000)
	cases := []gwReceivedCase{
		{name: "a GET with a query",
			req:    "GET /app/echo?a=1&b=%20x HTTP/1.1\r\nHost: h\r\nX-Custom: v\r\nConnection: close\r\n\r\n",
			params: gwLines(get("/app/echo?a=1&b=%20x"), []string{"HTTP_HOST=h", "HTTP_X_CUSTOM=v", "HTTP_CONNECTION=close"})},
		// The header fields go too, as HTTP_CONTENT_TYPE and
		// HTTP_CONTENT_LENGTH.
		{name: "a POST with Content-Length",
			req: "POST /app/echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nConnection: close\r\n\r\na=1&b=2",
			params: gwLines(gwServerList("POST", "/app/echo", "application/x-www-form-urlencoded", "7", "HTTP/1.1"),
				[]string{"HTTP_HOST=h", "HTTP_CONTENT_TYPE=application/x-www-form-urlencoded", "HTTP_CONTENT_LENGTH=7", "HTTP_CONNECTION=close"}),
			body: "a=1&b=2"},
		// nginx reads a chunked body whole first: $content_length is
		// then its length, and Transfer-Encoding goes as a header.
		{name: "a chunked POST",
			req: "POST /app/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
			params: gwLines(gwServerList("POST", "/app/echo", "", "11", "HTTP/1.1"),
				[]string{"HTTP_HOST=h", "HTTP_TRANSFER_ENCODING=chunked", "HTTP_CONNECTION=close"}),
			body: "hello world"},
		{name: "a large POST",
			req: "POST /app/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" + largeBody,
			params: gwLines(gwServerList("POST", "/app/echo", "", "100000", "HTTP/1.1"),
				[]string{"HTTP_HOST=h", "HTTP_CONTENT_LENGTH=100000", "HTTP_CONNECTION=close"}),
			body: largeBody},
		// Each field is a parameter of its own in the client's order, a
		// repeated one repeated; a field with "_" in its name is dropped
		// (underscores_in_headers off).
		{name: "the request's header fields",
			req: "GET /app/echo HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Dup: a\r\nX_Under: u\r\nx-lower: l\r\nX-Dup: b\r\nX-Empty:\r\n" +
				"Cookie: c=1\r\nCookie: d=2\r\nConnection: close\r\n\r\n",
			params: gwLines(get("/app/echo"), []string{"HTTP_HOST=Example.COM:8080", "HTTP_X_DUP=a", "HTTP_X_LOWER=l", "HTTP_X_DUP=b",
				"HTTP_X_EMPTY=", "HTTP_COOKIE=c=1", "HTTP_COOKIE=d=2", "HTTP_CONNECTION=close"})},
		{name: "HTTP/1.0 without Host",
			req:    "GET /app/echo?q=1 HTTP/1.0\r\n\r\n",
			params: gwServerList("GET", "/app/echo?q=1", "", "", "HTTP/1.0")},
		{name: "a nested location without a list inherits the server's",
			req:    "GET /app/nested/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			params: gwLines(get("/app/nested/x"), hc)},
		// A location with a list of its own inherits none of the
		// server's; an HTTP_ parameter replaces the client's field;
		// if_not_empty leaves out an empty value, a plain parameter
		// does not; a parameter given twice goes twice.
		{name: "a location's own list, through an upstream group",
			req: "GET /own/a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Over: client\r\nConnection: close\r\n\r\n",
			params: gwLines([]string{"REQUEST_URI=/own/a%20b?x=1", "X=/own/a b", "HTTP_X_OVER=fixed", "EMPTY=", "DUP=one", "DUP=two"},
				hc)},
		// An HTTP_ parameter that if_not_empty leaves out still keeps
		// the client's field out.
		{name: "an HTTP_ parameter left out by if_not_empty",
			req:    "GET /own/a HTTP/1.1\r\nHost: h\r\nX-Cond: client\r\nConnection: close\r\n\r\n",
			params: gwLines([]string{"REQUEST_URI=/own/a", "X=/own/a", "HTTP_X_OVER=fixed", "EMPTY=", "DUP=one", "DUP=two"}, hc)},
		{name: "an HTTP_ parameter with if_not_empty and a value",
			req:    "GET /own/a?c=v HTTP/1.1\r\nHost: h\r\nX-Cond: client\r\nConnection: close\r\n\r\n",
			params: gwLines([]string{"REQUEST_URI=/own/a?c=v", "X=/own/a", "HTTP_X_OVER=fixed", "HTTP_X_COND=v", "EMPTY=", "DUP=one", "DUP=two"}, hc)},
		{name: "if_not_empty passes a value",
			req: "GET /own/a?e=v HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			params: gwLines([]string{"REQUEST_URI=/own/a?e=v", "X=/own/a", "HTTP_X_OVER=fixed", "NONEMPTY=v", "EMPTY=v", "DUP=one", "DUP=two"},
				hc)},
		{name: "a nested location inherits its parent's list",
			req:    "GET /own/inner/y HTTP/1.1\r\nHost: h\r\nX-Over: client\r\nConnection: close\r\n\r\n",
			params: gwLines([]string{"REQUEST_URI=/own/inner/y", "X=/own/inner/y", "HTTP_X_OVER=fixed", "EMPTY=", "DUP=one", "DUP=two"}, hc)},
		// The first server of the group refuses: the request goes to
		// the next.
		{name: "the next server of a group after a refused one",
			req:    "GET /next/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			params: gwLines(get("/next/echo"), hc)},
		{name: "pass_request_headers off",
			req:    "GET /noheaders/a HTTP/1.1\r\nHost: h\r\nX-Custom: v\r\nConnection: close\r\n\r\n",
			params: []string{"REQUEST_URI=/noheaders/a", "A=b"}},
		{name: "a unix socket",
			req:    "GET /unix/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			params: gwLines(get("/unix/echo"), hc), net: "unix"},
	}
	bigParam := strings.Repeat("y", 70000)
	if proto == "scgi" {
		// SCGI has no limit on the size of the parameters; the body goes
		// both as BODY and as the body.
		cases = append(cases, gwReceivedCase{name: "a parameter of 70000 bytes",
			req: "POST /bodyparam/x HTTP/1.1\r\nHost: h\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n" + bigParam,
			params: gwLines([]string{"REQUEST_URI=/bodyparam/x", "CONTENT_LENGTH=70000", "BODY=" + bigParam},
				[]string{"HTTP_HOST=h", "HTTP_CONTENT_LENGTH=70000", "HTTP_CONNECTION=close"}),
			body: bigParam})
		// nginx's CONTENT_LENGTH is the length of the body it read,
		// though it does not send it: the server waits for 7 bytes that
		// never come.
		cases = append(cases, gwReceivedCase{name: "scgi_pass_request_body off", length: "7", tail: "error: body: 0 of 7 bytes",
			req: "POST /nobody/x HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nConnection: close\r\n\r\na=1&b=2",
			params: gwLines([]string{"REQUEST_URI=/nobody/x", "CONTENT_LENGTH=7"},
				[]string{"HTTP_HOST=h", "HTTP_CONTENT_LENGTH=7", "HTTP_CONNECTION=close"})})
	}
	if proto == "uwsgi" {
		cases = append(cases, gwReceivedCase{name: "uwsgi_modifier1, uwsgi_modifier2 and uwsgi_string",
			req:       "GET /mod/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			params:    gwLines(get("/mod/echo"), hc),
			uwsgiHead: `modifier1=5 modifier2=9 string="hello world"`},
			gwReceivedCase{name: "uwsgi_pass with the uwsgi:// scheme",
				req:    "GET /scheme/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				params: gwLines(get("/scheme/echo"), hc)})
	}
	for _, tc := range cases {
		if tc.net == "" {
			tc.net = "tcp"
		}
		r := sendRaw(t, p.addr, tc.req)
		noStatus(tc.name, r)
		http10 := strings.Contains(tc.req, " HTTP/1.0\r\n")
		if got, want := norm(r.Body), echo(tc); r.Status != 200 || got != want {
			t.Errorf("%s: got %d\n%s\nwant 200\n%s", tc.name, r.Status, truncate([]byte(got), 3000), truncate([]byte(want), 3000))
			continue
		}
		if r.header("X-Net") != tc.net || r.header("Content-Type") != "text/plain" ||
			r.Headers.has("Content-Length") || r.Chunked == http10 || r.CloseDelimited != http10 {
			t.Errorf("%s: want it by %s, chunked to HTTP/1.1 and to the end of the connection to HTTP/1.0; got\n%s", tc.name, tc.net, r)
		}
	}

	// The server's answer as the client gets it.
	badGateway := ssiErrorPage("502 Bad Gateway")
	answers := []gwAnswerCase{
		{"a CGI head with a Status", "GET /app/cgi-404 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 404 Not Found", "not found\n", gwChunked, []string{"Content-Type: text/plain", "Content-Length:"}, "404 Not Found"},
		{"the Status's own reason phrase", "GET /app/reason HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 404 Not Here", "not here\n", gwChunked, nil, "404 Not Here"},
		// The Status value is the status line as it is.
		{"a Status without a reason phrase", "GET /app/code-only HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 404", "code only\n", gwChunked, nil, "404"},
		{"an invalid Status", "GET /app/bad-status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 502 Bad Gateway", badGateway, gwLength, []string{"Content-Type: text/html"}, ""},
		{"no Status is a 200", "GET /app/no-status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "no status\n", gwChunked, []string{"Content-Type: text/x-app", "X-A: b"}, ""},
		{"a head with bare LFs", "GET /app/lf-only HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 404 Not Found", "lf only\n", gwChunked, []string{"Content-Type: text/plain", "X-A: b"}, "404 Not Found"},
		// nginx makes absolute only a Location of its own: one from the
		// server passes as it came.
		{"a Location without a Status is a 302", "GET /app/location HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 302 Moved Temporarily", "", gwChunked, []string{"Location: /else"}, ""},
		{"a Location with a Status", "GET /app/location-abs HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 301 Moved Permanently", "", gwChunked, []string{"Location: http://elsewhere.example/x"}, "301 Moved Permanently"},
		{"an HTTP status line", "GET /app/http-201 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 201 Created", "created\n", gwChunked, []string{"X-A: b", "Content-Type: text/plain"}, ""},
		{"an HTTP/1.0 status line with a reason of its own", "GET /app/http-reason HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 299 Custom Thing", "custom\n", gwChunked, nil, ""},
		// After a status line, a Status field is only hidden.
		{"an HTTP status line and a Status field", "GET /app/http-and-status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "http and status\n", gwChunked, nil, "404 Not Found"},
		// Repeated fields pass each as a line of its own; X-Accel-* are
		// hidden.
		{"the server's header fields", "GET /app/headers HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "headers\n", gwChunked, []string{"Content-Type: text/x-app", "X-App: one", "X-Multi: a, b",
				"Set-Cookie: a=1, b=2", "Cache-Control: no-store", "X-Accel-Buffering:"}, ""},
		{"hide_header", "GET /hide/headers HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "headers\n", gwChunked, []string{"Content-Type: text/x-app", "X-App:", "X-Multi: a, b"}, ""},
		{"a large body in several writes", "GET /app/large HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", gwLargeBody, gwChunked, nil, ""},
		{"a large body to HTTP/1.0", "GET /app/large HTTP/1.0\r\n\r\n",
			"HTTP/1.1 200 OK", gwLargeBody, gwToClose, []string{"Connection: close"}, ""},
		{"the server's Content-Length", "GET /app/length HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "sized\n", gwLength, []string{"Connection: close"}, ""},
		{"the server's Content-Length to HTTP/1.0", "GET /app/length HTTP/1.0\r\n\r\n",
			"HTTP/1.1 200 OK", "sized\n", gwLength, []string{"Connection: close"}, ""},
		{"a CGI answer to HTTP/1.0 asking for keep-alive", "GET /app/cgi-404 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			"HTTP/1.1 404 Not Found", "not found\n", gwToClose, []string{"Connection: close"}, "404 Not Found"},
		// The server is asked with HEAD and answers with a body, which
		// the client does not get.
		{"HEAD", "HEAD /app/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "", gwNone, []string{"X-Method: HEAD", "Content-Type: text/plain"}, ""},
		{"HEAD with the server's Content-Length", "HEAD /app/length HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "", gwNone, []string{"Content-Length: 6"}, ""},
		{"a refused port", "GET /dead/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 502 Bad Gateway", badGateway, gwLength, []string{"Content-Type: text/html"}, ""},
		// More than the default buffer_size (4k).
		{"a header too big", "GET /app/big-header HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 502 Bad Gateway", badGateway, gwLength, []string{"Content-Type: text/html", "X-Big:"}, ""},
		{"an empty answer", "GET /app/empty HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 502 Bad Gateway", badGateway, gwLength, []string{"Content-Type: text/html"}, ""},
		{"a head cut short", "GET /app/cut-head HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 502 Bad Gateway", badGateway, gwLength, []string{"Content-Type: text/html", "X-A:"}, ""},
		{"read_timeout", "GET /slow/slow HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 504 Gateway Time-out", ssiErrorPage("504 Gateway Time-out"), gwLength, []string{"Content-Type: text/html"}, ""},
		{"an intercepted 404 goes to error_page", "GET /intercept/cgi-404 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK", "fallback\n", gwLength, []string{"Content-Type: text/plain"}, ""},
		{"a status without error_page is not intercepted", "GET /intercept/status-500 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 500 Internal Server Error", "status 500\n", gwChunked, []string{"Content-Type: text/plain"}, "500 Internal Server Error"},
	}
	if proto == "uwsgi" {
		// The vars and uwsgi_string must fit in 16 bits.
		answers = append(answers, gwAnswerCase{"a uwsgi packet too big",
			"POST /bodyparam/x HTTP/1.1\r\nHost: h\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n" + bigParam,
			"HTTP/1.1 500 Internal Server Error", ssiErrorPage("500 Internal Server Error"), gwLength, []string{"Content-Type: text/html"}, ""})
	}
	for _, tc := range answers {
		r := sendRaw(t, p.addr, tc.req)
		var bad []string
		wantStatus := ""
		if proto == "uwsgi" {
			wantStatus = tc.statusField
		}
		if got := strings.Join(r.Headers.values("Status"), ", "); got != wantStatus {
			bad = append(bad, fmt.Sprintf("Status field %q, want %q", got, wantStatus))
		}
		bad = append(bad, gwAnswerProblems(r, tc.req, tc.status, tc.body, tc.framing, tc.fields)...)
		if len(bad) > 0 {
			t.Errorf("%s: %s\n%s", tc.name, strings.Join(bad, "; "), r)
		}
	}

	// The error log says why each 502, the 504 and the 500 came.
	lines := []string{
		fmt.Sprintf(`connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /dead/ HTTP/1.1", upstream: "%s://127.0.0.1:%d", host: "h"`,
			proto, p.ports[3]),
		fmt.Sprintf(`connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /next/echo HTTP/1.1", upstream: "%s://127.0.0.1:%d", host: "h"`,
			proto, p.ports[3]),
		fmt.Sprintf(`upstream sent too big header while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /app/big-header HTTP/1.1", upstream: "%s://%s", host: "h"`,
			proto, gw.addr),
		fmt.Sprintf(`upstream sent invalid status "abc" while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /app/bad-status HTTP/1.1", upstream: "%s://%s", host: "h"`,
			proto, gw.addr),
		fmt.Sprintf(`upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /app/empty HTTP/1.1", upstream: "%s://%s", host: "h"`,
			proto, gw.addr),
		fmt.Sprintf(`upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /app/cut-head HTTP/1.1", upstream: "%s://%s", host: "h"`,
			proto, gw.addr),
		fmt.Sprintf(`upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /slow/slow HTTP/1.1", upstream: "%s://%s", host: "h"`,
			proto, gw.addr),
	}
	if proto == "uwsgi" {
		// At the alert level; the size is that of the vars: 70124.
		lines = append(lines, `uwsgi request is too big: 70124, client: 127.0.0.1, server: , request: "POST /bodyparam/x HTTP/1.1", host: "h"`)
	}
	for _, line := range lines {
		deadline := time.Now().Add(3 * time.Second)
		for !strings.Contains(p.readLog("error.log"), line) {
			if time.Now().After(deadline) {
				t.Errorf("no %q in the error log:\n%s", line, p.readLog("error.log"))
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestSCGIAsNginx checks scgi_pass and its directives against nginx 1.22
// with one configuration and the same requests for both targets; what
// has to differ (the ports, the prefix, the Server field) is normalised
// or left out.
func TestSCGIAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) { runGWAsNginx(t, tg, "scgi") })
}

// TestUWSGIAsNginx checks uwsgi_pass and its directives, with
// uwsgi_modifier1, uwsgi_modifier2 and uwsgi_string, against nginx 1.22
// the same way.
func TestUWSGIAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) { runGWAsNginx(t, tg, "uwsgi") })
}

// gwAnswerProblems compares an answer of a gateway (FastCGI, SCGI, uwsgi)
// as the client got it with what nginx gives: the status line, the body
// (its error page's signature normalised), how the body was framed
// (gwChunked, gwLength, gwToClose or gwNone; a HEAD answer has no body
// and may give the length the body would have), the fields listed
// ("Name: value", repeated ones joined with ", ") and one Date. It
// returns what differs.
func gwAnswerProblems(r *response, req, status, body, framing string, fields []string) []string {
	var bad []string
	if r.StatusLine != status {
		bad = append(bad, fmt.Sprintf("status line %q, want %q", r.StatusLine, status))
	}
	if got := ssiNormalize(r.Body); got != body {
		bad = append(bad, fmt.Sprintf("a body of %d bytes (%q), want %d (%q)", len(got), truncate([]byte(got), 80), len(body), truncate([]byte(body), 80)))
	}
	got := ""
	hasLength, hasTE := r.Headers.has("Content-Length"), r.Headers.has("Transfer-Encoding")
	head := strings.HasPrefix(req, "HEAD ")
	switch {
	case r.Chunked && !hasLength:
		got = gwChunked
	case hasLength && !hasTE && !head && r.header("Content-Length") == strconv.Itoa(len(r.Body)):
		got = gwLength
	case r.CloseDelimited && !hasLength && !hasTE:
		got = gwToClose
	case !hasTE && len(r.Body) == 0 && (!hasLength || head):
		got = gwNone
	}
	if got != framing {
		bad = append(bad, fmt.Sprintf("framing %q, want %q", got, framing))
	}
	for _, f := range fields {
		name, want, _ := strings.Cut(f, ":")
		want = strings.TrimSpace(want)
		if got := strings.Join(r.Headers.values(name), ", "); got != want {
			bad = append(bad, fmt.Sprintf("%s %q, want %q", name, got, want))
		}
	}
	if n := len(r.Headers.values("Date")); n != 1 {
		bad = append(bad, fmt.Sprintf("%d Date fields", n))
	}
	return bad
}

// listenTCPAndUnix listens on a loopback port and on a unix socket at
// sock, which nginx's workers (running as nobody) may connect to.
func listenTCPAndUnix(t *testing.T, sock string) (tcp, unix net.Listener) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unix, err = net.Listen("unix", sock)
	if err != nil {
		tcp.Close()
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		tcp.Close()
		unix.Close()
		t.Fatal(err)
	}
	return tcp, unix
}

// socketDir makes a directory for unix sockets, removed when the test
// ends: short, since a socket's path has room for 107 bytes, and open to
// everyone, since nginx's workers run as nobody.
func socketDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}
