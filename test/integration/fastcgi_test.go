package integration

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run one FastCGI configuration against nginx and headroom:
// the parameters the application receives (fastcgi_param, the HTTP_*
// parameters made of the request's headers, fastcgi_split_path_info,
// fastcgi_index, if_not_empty, the inheritance of the parameter list),
// the request body however the client framed it, the application's
// answer as the client sees it (status, reason, Location, headers, body
// and its framing), and the upstream side: a unix socket, an upstream
// group, a refused port, an invalid or too big header, the
// application's stderr, intercepted errors and kept connections. The
// expectations are nginx 1.22's.

// fcgiKeyParam is the parameter the responder adds to each request's
// parameter stream before net/http/fcgi reads it: its value names the
// record of what the proxy sent, so that the handler can answer with
// the parameters exactly as they arrived (net/http/fcgi folds most of
// them into an http.Request and keeps the rest in a map, which loses
// their order, duplicates and the standard CGI names).
const fcgiKeyParam = "HRTEST_KEY"

// fcgiDropStatus is a header the handler sets to have the responder cut
// the "Status:" line net/http/fcgi always writes first, so that the
// tests can send an answer with no Status field, or with a Status field
// of the handler's own.
const fcgiDropStatus = "X-Hrtest-Drop-Status"

// fcgiParamsFile is included at the server level, like Debian's
// fastcgi_params: locations with no fastcgi_param of their own inherit
// it. REQUEST_METHOD and SERVER_PROTOCOL are required by net/http/fcgi.
const fcgiParamsFile = `fastcgi_param QUERY_STRING $query_string;
fastcgi_param REQUEST_METHOD $request_method;
fastcgi_param CONTENT_TYPE $content_type;
fastcgi_param CONTENT_LENGTH $content_length;
fastcgi_param SCRIPT_NAME $fastcgi_script_name;
fastcgi_param REQUEST_URI $request_uri;
fastcgi_param DOCUMENT_URI $document_uri;
fastcgi_param DOCUMENT_ROOT $document_root;
fastcgi_param SERVER_PROTOCOL $server_protocol;
fastcgi_param REQUEST_SCHEME $scheme;
fastcgi_param GATEWAY_INTERFACE CGI/1.1;
fastcgi_param REMOTE_ADDR $remote_addr;
fastcgi_param SERVER_ADDR $server_addr;
fastcgi_param SERVER_PORT $server_port;
fastcgi_param SERVER_NAME $server_name;
fastcgi_param REDIRECT_STATUS 200;
`

// fcgiLargeBody is larger than the default fastcgi_buffers (8 4k) and
// than one FastCGI record (64 KB), so that it crosses buffers on both
// sides.
var fcgiLargeBody = strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\n", 300*1024/37)

// fcgiParam is one name-value pair of a request's parameter stream.
type fcgiParam struct{ name, value string }

// fcgiSeen is what the responder received for one request.
type fcgiSeen struct {
	network  string // "tcp" or "unix"
	conn     int    // the number of the connection, counted from 1
	keepConn bool   // BEGIN_REQUEST had FCGI_KEEP_CONN
	params   []fcgiParam
}

// fcgiResponder is a FastCGI application built on net/http/fcgi,
// listening on a loopback port and on a unix socket, that records what
// the proxy sent.
type fcgiResponder struct {
	addr   string // host:port
	sock   string // the unix socket's path
	params string // the path of the file of fcgiParamsFile

	mu    sync.Mutex
	seen  map[string]fcgiSeen
	conns []net.Conn
}

// startFCGI starts a responder for the test; it stops when the test
// ends. The socket's directory is short (a unix socket's path is
// limited) and open to everyone, like the socket, because nginx's
// workers run as nobody.
func startFCGI(t *testing.T) *fcgiResponder {
	t.Helper()
	dir := socketDir(t, "hrfcgi")
	fr := &fcgiResponder{
		sock:   filepath.Join(dir, "s"),
		params: filepath.Join(dir, "fastcgi_params"),
		seen:   map[string]fcgiSeen{},
	}
	if err := os.WriteFile(fr.params, []byte(fcgiParamsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	tcp, unix := listenTCPAndUnix(t, fr.sock)
	fr.addr = tcp.Addr().String()
	var wg sync.WaitGroup
	for _, l := range []net.Listener{tcp, unix} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fcgi.Serve(fcgiListener{l, fr}, fr)
		}()
	}
	t.Cleanup(func() {
		tcp.Close()
		unix.Close()
		wg.Wait()
		fr.mu.Lock()
		defer fr.mu.Unlock()
		for _, c := range fr.conns {
			c.Close()
		}
	})
	return fr
}

// fcgiListener hands net/http/fcgi connections that record what they
// carry.
type fcgiListener struct {
	net.Listener
	fr *fcgiResponder
}

func (l fcgiListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.fr.mu.Lock()
	defer l.fr.mu.Unlock()
	l.fr.conns = append(l.fr.conns, c)
	return &fcgiConn{Conn: c, fr: l.fr, network: l.Addr().Network(), id: len(l.fr.conns),
		params: map[uint16][]byte{}, keep: map[uint16]bool{}}, nil
}

// fcgiConn is a connection from the proxy, read and written by
// net/http/fcgi. Reading, it takes the records apart: it notes the keep
// flag of BEGIN_REQUEST, gathers the PARAMS stream, and before the empty
// PARAMS record that ends it records the parameters and adds the
// fcgiKeyParam pair. Writing, it cuts the leading Status line of an
// answer whose header has fcgiDropStatus (and that header).
type fcgiConn struct {
	net.Conn
	fr      *fcgiResponder
	network string
	id      int
	in      []byte // bytes read, not yet a whole record
	out     []byte // records to hand to net/http/fcgi
	params  map[uint16][]byte
	keep    map[uint16]bool
}

// fcgiRecord frames content as a FastCGI record of the given type.
func fcgiRecord(typ byte, id uint16, content []byte) []byte {
	pad := (8 - len(content)%8) % 8
	b := []byte{1, typ, byte(id >> 8), byte(id), byte(len(content) >> 8), byte(len(content)), byte(pad), 0}
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

// Read hands on whole records only, so that the pair can be added
// before the record that ends a PARAMS stream.
func (c *fcgiConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		buf := make([]byte, 64<<10)
		n, err := c.Conn.Read(buf)
		c.in = append(c.in, buf[:n]...)
		c.parse()
		if err != nil && len(c.out) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// parse moves the whole records of c.in to c.out.
func (c *fcgiConn) parse() {
	for len(c.in) >= 8 {
		typ := c.in[1]
		id := uint16(c.in[2])<<8 | uint16(c.in[3])
		clen := int(c.in[4])<<8 | int(c.in[5])
		total := 8 + clen + int(c.in[6])
		if len(c.in) < total {
			return
		}
		content := c.in[8 : 8+clen]
		switch {
		case typ == 1 && clen >= 3: // FCGI_BEGIN_REQUEST
			c.keep[id] = content[2]&1 != 0
			delete(c.params, id)
		case typ == 4 && clen > 0: // FCGI_PARAMS
			c.params[id] = append(c.params[id], content...)
		case typ == 4: // the end of FCGI_PARAMS
			key := c.fr.record(fcgiSeen{network: c.network, conn: c.id, keepConn: c.keep[id], params: fcgiPairs(c.params[id])})
			c.out = append(c.out, fcgiRecord(4, id, fcgiPair(fcgiKeyParam, key))...)
			delete(c.params, id)
		}
		c.out = append(c.out, c.in[:total]...)
		c.in = c.in[total:]
	}
}

// Write relies on net/http/fcgi writing one whole record per call, and
// the CGI header of an answer in a record of its own.
func (c *fcgiConn) Write(p []byte) (int, error) {
	if len(p) >= 8 && p[1] == 6 && len(p) >= 8+(int(p[4])<<8|int(p[5])) { // FCGI_STDOUT
		content := p[8 : 8+(int(p[4])<<8|int(p[5]))]
		marker := []byte("\r\n" + fcgiDropStatus + ": 1\r\n")
		if i := bytes.Index(content, marker); bytes.HasPrefix(content, []byte("Status: ")) && i >= 0 {
			cut := append([]byte{}, content[:i+2]...)
			cut = append(cut, content[i+len(marker):]...)
			cut = cut[bytes.Index(cut, []byte("\r\n"))+2:]
			if _, err := c.Conn.Write(fcgiRecord(6, uint16(p[2])<<8|uint16(p[3]), cut)); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// fcgiPair encodes one name-value pair (both shorter than 128 bytes).
func fcgiPair(name, value string) []byte {
	return append([]byte{byte(len(name)), byte(len(value))}, name+value...)
}

// fcgiPairs decodes a PARAMS stream, keeping the order and duplicates.
func fcgiPairs(b []byte) []fcgiParam {
	size := func() int {
		if len(b) == 0 {
			return -1
		}
		if b[0] < 128 {
			n := int(b[0])
			b = b[1:]
			return n
		}
		if len(b) < 4 {
			return -1
		}
		n := int(b[0]&0x7f)<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		b = b[4:]
		return n
	}
	var ps []fcgiParam
	for len(b) > 0 {
		nl, vl := size(), size()
		if nl < 0 || vl < 0 || nl+vl > len(b) {
			ps = append(ps, fcgiParam{"MALFORMED", fmt.Sprintf("%q", b)})
			return ps
		}
		ps = append(ps, fcgiParam{string(b[:nl]), string(b[nl : nl+vl])})
		b = b[nl+vl:]
	}
	return ps
}

// record keeps what arrived for a request and returns its key.
func (fr *fcgiResponder) record(s fcgiSeen) string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	key := strconv.Itoa(len(fr.seen) + 1)
	fr.seen[key] = s
	return key
}

// ServeHTTP is the application. The last segment of the path (without
// ".php") chooses the answer: status-N, a redirect with a relative or an
// absolute Location, a Location or a body without a Status field, a
// Status field with a reason phrase of its own, with no reason, invalid
// or sent twice, a header larger than nginx's buffer for it, repeated
// header fields, a large body, a body in several flushes, a body with a
// Content-Length; any other path answers with what the request carried
// (see echo).
func (fr *fcgiResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSuffix(path.Base(r.URL.Path), ".php")
	h := w.Header()
	switch {
	case strings.HasPrefix(name, "status-"):
		code, _ := strconv.Atoi(strings.TrimPrefix(name, "status-"))
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	case name == "redirect":
		h.Set("Location", "/else")
		w.WriteHeader(302)
	case name == "redirect-abs":
		h.Set("Location", "http://elsewhere.example/x")
		w.WriteHeader(301)
	case name == "location-only":
		h.Set(fcgiDropStatus, "1")
		h.Set("Location", "/else")
	case name == "no-status":
		h.Set(fcgiDropStatus, "1")
		fmt.Fprint(w, "no status\n")
	case name == "reason":
		h.Set(fcgiDropStatus, "1")
		h.Set("Status", "404 Not Here")
		fmt.Fprint(w, "not here\n")
	case name == "code-only":
		h.Set(fcgiDropStatus, "1")
		h.Set("Status", "404")
		fmt.Fprint(w, "code only\n")
	case name == "bad-status":
		h.Set(fcgiDropStatus, "1")
		h.Set("Status", "abc")
		fmt.Fprint(w, "bad status\n")
	case name == "two-status":
		h.Set("Status", "404 Not Here")
		fmt.Fprint(w, "two status\n")
	case name == "big-header":
		h.Set("X-Big", strings.Repeat("b", 5000))
		fmt.Fprint(w, "big header\n")
	case name == "headers":
		h.Set("Content-Type", "text/x-app")
		h.Set("X-App", "one")
		h["X-Multi"] = []string{"a", "b"}
		h["Set-Cookie"] = []string{"a=1", "b=2"}
		h.Set("Cache-Control", "no-store")
		h.Set("Date", "Mon, 01 Jan 2024 00:00:00 GMT")
		h.Set("Server", "app/1.0")
		h.Set("X-Pad", "avoid browser bug")
		fmt.Fprint(w, "headers\n")
	case name == "large":
		io.WriteString(w, fcgiLargeBody)
	case name == "flushes":
		for i := 1; i <= 5; i++ {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
		}
	case name == "length":
		h.Set("Content-Length", "6")
		fmt.Fprint(w, "sized\n")
	default:
		fr.echo(w, r)
	}
}

// echo answers with the parameters as the proxy sent them, sorted by
// name (duplicates in the order they came), one NAME=value a line, and
// then the request body; the connection's network and number and the
// keep flag come in the header fields X-Fcgi-Net, X-Fcgi-Conn and
// X-Fcgi-Keep-Conn, the method the
// application saw in X-Method (for HEAD, which has no body to show it).
func (fr *fcgiResponder) echo(w http.ResponseWriter, r *http.Request) {
	fr.mu.Lock()
	s, ok := fr.seen[fcgi.ProcessEnv(r)[fcgiKeyParam]]
	fr.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("X-Method", r.Method)
	if !ok {
		w.WriteHeader(500)
		fmt.Fprintln(w, "no record of the parameters")
		return
	}
	h.Set("X-Fcgi-Net", s.network)
	h.Set("X-Fcgi-Conn", strconv.Itoa(s.conn))
	h.Set("X-Fcgi-Keep-Conn", strconv.FormatBool(s.keepConn))
	params := append([]fcgiParam{}, s.params...)
	sort.SliceStable(params, func(i, j int) bool { return params[i].name < params[j].name })
	var b strings.Builder
	for _, p := range params {
		fmt.Fprintf(&b, "%s=%s\n", p.name, p.value)
	}
	switch {
	case err != nil:
		fmt.Fprintf(&b, "body error: %v\n", err)
	case len(body) > 256:
		fmt.Fprintf(&b, "body=%d bytes, sha256 %x\n", len(body), sha256.Sum256(body))
	default:
		fmt.Fprintf(&b, "body=%q\n", body)
	}
	io.WriteString(w, b.String())
}

// fcgiConf is the configuration; {{FCGI}}, {{FCGISOCK}} and
// {{FCGIPARAMS}} are the responder's address, socket and parameter file.
// {{PORT3}} is a port nothing listens on.
const fcgiConf = `
    upstream php { server {{FCGI}}; }
    upstream php_keepalive { server {{FCGI}}; keepalive 4; }
    server {
        listen 127.0.0.1:{{PORT}};
        include {{FCGIPARAMS}};
        location / { }
        location ~ \.php(/|$) {
            fastcgi_split_path_info ^(.+?\.php)(/.*)$;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SCRIPT_NAME $fastcgi_script_name;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param HTTP_X_OVER fixed;
            fastcgi_param EMPTY $arg_none if_not_empty;
            fastcgi_index index.php;
            fastcgi_pass {{FCGI}};
        }
        location /app/ { fastcgi_pass {{FCGI}}; }
        location /unix/ { fastcgi_index index.php; fastcgi_pass unix:{{FCGISOCK}}; }
        location /group/ {
            fastcgi_param X $uri;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_pass php;
        }
        location /noheaders/ {
            fastcgi_pass_request_headers off;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param A b;
            fastcgi_pass php;
        }
        location /noparams/ { fastcgi_param X 1; fastcgi_pass php; }
        location /intercept/ {
            fastcgi_intercept_errors on;
            error_page 404 = /fallback;
            fastcgi_pass php;
        }
        location = /fallback { return 200 "fallback\n"; }
        location /dead/ { fastcgi_pass 127.0.0.1:{{PORT3}}; }
        location /keep/ { fastcgi_keep_conn on; fastcgi_pass php_keepalive; }
    }`

// fcgiPHPParams is what the .php location sends for a GET of /x/app.php
// with "Host: h" and "Connection: close": its own parameters and the
// client's header fields, as the echo shows them.
var fcgiPHPParams = []string{
	"CONTENT_LENGTH=",
	"CONTENT_TYPE=",
	"HTTP_CONNECTION=close",
	"HTTP_HOST=h",
	"HTTP_X_OVER=fixed",
	"PATH_INFO=",
	"QUERY_STRING=",
	"REQUEST_METHOD=GET",
	"REQUEST_URI=/x/app.php",
	"SCRIPT_FILENAME=PREFIX/html/x/app.php",
	"SCRIPT_NAME=/x/app.php",
	"SERVER_PROTOCOL=HTTP/1.1",
}

// fcgiServerParams is what a location that inherits the server's
// parameters (fcgiParamsFile) sends for a GET of /app/echo with
// "Host: h" and "Connection: close".
var fcgiServerParams = []string{
	"CONTENT_LENGTH=",
	"CONTENT_TYPE=",
	"DOCUMENT_ROOT=PREFIX/html",
	"DOCUMENT_URI=/app/echo",
	"GATEWAY_INTERFACE=CGI/1.1",
	"HTTP_CONNECTION=close",
	"HTTP_HOST=h",
	"QUERY_STRING=",
	"REDIRECT_STATUS=200",
	"REMOTE_ADDR=127.0.0.1",
	"REQUEST_METHOD=GET",
	"REQUEST_SCHEME=http",
	"REQUEST_URI=/app/echo",
	"SCRIPT_NAME=/app/echo",
	"SERVER_ADDR=127.0.0.1",
	"SERVER_NAME=",
	"SERVER_PORT=PORT",
	"SERVER_PROTOCOL=HTTP/1.1",
}

// fcgiName is the name of a NAME=value line.
func fcgiName(line string) string {
	name, _, _ := strings.Cut(line, "=")
	return name
}

// fcgiEnv is the echo expected for the parameters of base changed by
// changes, so that each case spells out only what differs from the
// common request: "NAME=value" replaces the lines of NAME in base (a
// second change of the same name adds a line, for a parameter sent
// twice), "-NAME" takes them out, and "body=..." is the body line
// (body="" by default).
func fcgiEnv(base []string, changes ...string) string {
	lines := append([]string{}, base...)
	drop := func(name string) {
		kept := lines[:0]
		for _, l := range lines {
			if fcgiName(l) != name {
				kept = append(kept, l)
			}
		}
		lines = kept
	}
	body := `body=""`
	changed := map[string]bool{}
	for _, c := range changes {
		switch {
		case strings.HasPrefix(c, "body="):
			body = c
		case strings.HasPrefix(c, "-"):
			drop(c[1:])
		default:
			if !changed[fcgiName(c)] {
				drop(fcgiName(c))
				changed[fcgiName(c)] = true
			}
			lines = append(lines, c)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return fcgiName(lines[i]) < fcgiName(lines[j]) })
	return strings.Join(append(lines, body), "\n") + "\n"
}

// TestFastCGIAsNginx checks fastcgi_pass and its directives against
// nginx 1.22 with one configuration and the same requests for both
// targets; what has to differ (the ports, the prefix, the Server field)
// is normalised or left out.
func TestFastCGIAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		fr := startFCGI(t)
		conf := strings.NewReplacer("{{FCGI}}", fr.addr, "{{FCGISOCK}}", fr.sock, "{{FCGIPARAMS}}", fr.params).Replace(fcgiConf)
		p := startProxy(t, tg, conf)
		writeHTML(t, p, "x/plain.txt", "static\n")
		port := strconv.Itoa(p.port)
		// norm replaces in an echo what differs from one run to the next.
		norm := func(b []byte) string {
			s := strings.ReplaceAll(string(b), p.prefix, "PREFIX")
			return strings.ReplaceAll(s, "\nSERVER_PORT="+port+"\n", "\nSERVER_PORT=PORT\n")
		}
		// noStatus checks that the application's Status field, which
		// nginx hides by default, does not reach the client.
		noStatus := func(name string, r *response) {
			t.Helper()
			if r.Headers.has("Status") {
				t.Errorf("%s: the Status field reached the client:\n%s", name, r)
			}
		}

		// What the application receives, as its echo shows it: the
		// parameters and the body. All come back as a stream without a
		// length: chunked to HTTP/1.1, to the end of the connection for
		// HTTP/1.0.
		largeBody := strings.Repeat("z", 100000)
		for _, tc := range []struct {
			name, req, want string
			net             string // the socket the request came by
		}{
			{"a GET with a query; if_not_empty leaves out an empty EMPTY",
				"GET /x/app.php?a=1&b=%20x HTTP/1.1\r\nHost: h\r\nX-Custom: v\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiPHPParams, "QUERY_STRING=a=1&b=%20x", "REQUEST_URI=/x/app.php?a=1&b=%20x", "HTTP_X_CUSTOM=v"), "tcp"},
			{"if_not_empty passes a value",
				"GET /x/app.php?none=yes HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiPHPParams, "EMPTY=yes", "QUERY_STRING=none=yes", "REQUEST_URI=/x/app.php?none=yes"), "tcp"},
			{"fastcgi_split_path_info",
				"GET /x/app.php/extra/path HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiPHPParams, "PATH_INFO=/extra/path", "REQUEST_URI=/x/app.php/extra/path"), "tcp"},
			// $fastcgi_script_name and $fastcgi_path_info are cut from
			// the decoded, merged URI; REQUEST_URI is the request's own.
			{"the split of a decoded URI",
				"GET /x/my%20app.php/a%2Fb//c?q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiPHPParams, "SCRIPT_NAME=/x/my app.php", "SCRIPT_FILENAME=PREFIX/html/x/my app.php",
					"PATH_INFO=/a/b/c", "QUERY_STRING=q", "REQUEST_URI=/x/my%20app.php/a%2Fb//c?q"), "tcp"},
			{"merged slashes",
				"GET //x//app.php HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiPHPParams, "REQUEST_URI=//x//app.php"), "tcp"},
			// The header fields go too, as HTTP_CONTENT_LENGTH and
			// HTTP_CONTENT_TYPE.
			{"a POST with Content-Length",
				"POST /x/app.php HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nConnection: close\r\n\r\na=1&b=2",
				fcgiEnv(fcgiPHPParams, "REQUEST_METHOD=POST", "CONTENT_LENGTH=7", "CONTENT_TYPE=application/x-www-form-urlencoded",
					"HTTP_CONTENT_LENGTH=7", "HTTP_CONTENT_TYPE=application/x-www-form-urlencoded", `body="a=1&b=2"`), "tcp"},
			// nginx reads a chunked body whole first: $content_length is
			// then its length, and Transfer-Encoding goes as a header.
			{"a chunked POST",
				"POST /x/app.php HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
				fcgiEnv(fcgiPHPParams, "REQUEST_METHOD=POST", "CONTENT_LENGTH=11", "HTTP_TRANSFER_ENCODING=chunked", `body="hello world"`), "tcp"},
			// Larger than client_body_buffer_size and than a record.
			{"a large POST",
				"POST /x/app.php HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" + largeBody,
				fcgiEnv(fcgiPHPParams, "REQUEST_METHOD=POST", "CONTENT_LENGTH=100000", "HTTP_CONTENT_LENGTH=100000",
					fmt.Sprintf("body=100000 bytes, sha256 %x", sha256.Sum256([]byte(largeBody)))), "tcp"},
			// Each field is a parameter of its own, a repeated one
			// repeated (nginx 1.22 joins none, not even Cookie); Host is
			// as the client wrote it; a field with "_" in its name is
			// dropped (underscores_in_headers off) and one a
			// fastcgi_param HTTP_ sets is not sent.
			{"the request's header fields",
				"GET /x/app.php HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Dup: a\r\nX-Dup: b\r\nX-Over: client\r\nX_Under: u\r\nx-lower: l\r\nX-Empty:\r\nCookie: c=1\r\nCookie: d=2\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiPHPParams, "HTTP_HOST=Example.COM:8080", "HTTP_X_DUP=a", "HTTP_X_DUP=b", "HTTP_X_LOWER=l", "HTTP_X_EMPTY=",
					"HTTP_COOKIE=c=1", "HTTP_COOKIE=d=2"), "tcp"},
			{"fastcgi_index on a unix socket",
				"GET /unix/dir/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiServerParams, "DOCUMENT_URI=/unix/dir/", "REQUEST_URI=/unix/dir/", "SCRIPT_NAME=/unix/dir/index.php"), "unix"},
			{"fastcgi_index is for a URI ending in a slash only",
				"GET /unix/dir/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				fcgiEnv(fcgiServerParams, "DOCUMENT_URI=/unix/dir/x", "REQUEST_URI=/unix/dir/x", "SCRIPT_NAME=/unix/dir/x"), "unix"},
			{"the server's parameters, HTTP/1.0 without Host",
				"GET /app/echo?q=1 HTTP/1.0\r\n\r\n",
				fcgiEnv(fcgiServerParams, "-HTTP_CONNECTION", "-HTTP_HOST", "SERVER_PROTOCOL=HTTP/1.0", "QUERY_STRING=q=1", "REQUEST_URI=/app/echo?q=1"), "tcp"},
			// A location with a fastcgi_param of its own inherits none,
			// and nginx adds no parameter of its own.
			{"a location's list replaces the server's, through an upstream group",
				"GET /group/a?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				fcgiEnv(nil, "HTTP_CONNECTION=close", "HTTP_HOST=h", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1", "X=/group/a"), "tcp"},
			{"fastcgi_pass_request_headers off",
				"GET /noheaders/a HTTP/1.1\r\nHost: h\r\nX-Custom: v\r\nConnection: close\r\n\r\n",
				fcgiEnv(nil, "A=b", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1"), "tcp"},
		} {
			r := sendRaw(t, p.addr, tc.req)
			noStatus(tc.name, r)
			http10 := strings.Contains(tc.req, " HTTP/1.0\r\n")
			if got := norm(r.Body); r.Status != 200 || got != tc.want {
				t.Errorf("%s: got %d\n%s\nwant 200\n%s", tc.name, r.Status, got, tc.want)
				continue
			}
			if r.header("X-Fcgi-Net") != tc.net || r.header("X-Fcgi-Keep-Conn") != "false" || r.header("Content-Type") != "text/plain" ||
				r.Headers.has("Content-Length") || r.Chunked == http10 || r.CloseDelimited != http10 {
				t.Errorf("%s: want it by %s, without FCGI_KEEP_CONN, chunked to HTTP/1.1 and to the end of the connection to HTTP/1.0; got\n%s",
					tc.name, tc.net, r)
			}
		}

		// The application's answer as the client gets it.
		const chunked, length, toClose, none = gwChunked, gwLength, gwToClose, gwNone
		badGateway := ssiErrorPage("502 Bad Gateway")
		for _, tc := range []struct {
			name, req, status, body, framing string
			// fields are "Name: value" with all the values of Name
			// joined by ", "; "Name:" means none.
			fields []string
		}{
			{"the application's status", "GET /app/status-404 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 404 Not Found", "status 404\n", chunked, []string{"Content-Type: text/plain; charset=utf-8", "Content-Length:"}},
			{"a 201", "GET /app/status-201 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 201 Created", "status 201\n", chunked, nil},
			// nginx makes absolute only a Location of its own: one from
			// the application passes as it came.
			{"a redirect's relative Location", "GET /app/redirect HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 302 Found", "", chunked, []string{"Location: /else"}},
			{"a redirect's absolute Location", "GET /app/redirect-abs HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 301 Moved Permanently", "", chunked, []string{"Location: http://elsewhere.example/x"}},
			{"a Location without a Status is a 302", "GET /app/location-only HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 302 Moved Temporarily", "", chunked, []string{"Location: /else"}},
			{"no Status is a 200", "GET /app/no-status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "no status\n", chunked, nil},
			{"the application's reason phrase", "GET /app/reason HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 404 Not Here", "not here\n", chunked, nil},
			// The Status value is the status line as it is.
			{"a Status without a reason phrase", "GET /app/code-only HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 404", "code only\n", chunked, nil},
			{"the first of two Status fields", "GET /app/two-status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "two status\n", chunked, nil},
			{"an invalid Status", "GET /app/bad-status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 502 Bad Gateway", badGateway, length, []string{"Content-Type: text/html"}},
			// More than fastcgi_buffer_size (4k).
			{"a header too big", "GET /app/big-header HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 502 Bad Gateway", badGateway, length, []string{"Content-Type: text/html", "X-Big:"}},
			// Repeated fields pass each as a line of its own; the
			// application's Date, Server and X-Pad are the ones the
			// client gets (nginx's FastCGI module hides none of them).
			{"the application's header fields", "GET /app/headers HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "headers\n", chunked, []string{"Content-Type: text/x-app", "X-App: one", "X-Multi: a, b",
					"Set-Cookie: a=1, b=2", "Cache-Control: no-store", "Date: Mon, 01 Jan 2024 00:00:00 GMT",
					"Server: app/1.0", "X-Pad: avoid browser bug"}},
			{"a large body", "GET /app/large HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", fcgiLargeBody, chunked, nil},
			{"a large body to HTTP/1.0", "GET /app/large HTTP/1.0\r\n\r\n",
				"HTTP/1.1 200 OK", fcgiLargeBody, toClose, []string{"Connection: close"}},
			{"a body in several flushes", "GET /app/flushes HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "part 1\npart 2\npart 3\npart 4\npart 5\n", chunked, nil},
			{"the application's Content-Length", "GET /app/length HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "sized\n", length, nil},
			{"the application's Content-Length to HTTP/1.0", "GET /app/length HTTP/1.0\r\n\r\n",
				"HTTP/1.1 200 OK", "sized\n", length, nil},
			// The application is asked with HEAD and answers with a
			// body, which the client does not get.
			{"HEAD", "HEAD /app/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "", none, []string{"X-Method: HEAD", "Content-Type: text/plain"}},
			{"HEAD with the application's Content-Length", "HEAD /app/length HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "", none, []string{"Content-Length: 6"}},
			{"a refused port", "GET /dead/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 502 Bad Gateway", badGateway, length, []string{"Content-Type: text/html"}},
			{"an intercepted 404 goes to error_page", "GET /intercept/status-404 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "fallback\n", length, []string{"Content-Type: text/plain"}},
			{"a status without error_page is not intercepted", "GET /intercept/status-500 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 500 Internal Server Error", "status 500\n", chunked, []string{"Content-Type: text/plain; charset=utf-8"}},
			// net/http/fcgi refuses a request without REQUEST_METHOD
			// with a 500 and a line on FCGI_STDERR.
			{"the application's 500 with a line on stderr", "GET /noparams/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 500 Internal Server Error", "", chunked, nil},
			{"a static file next to FastCGI", "GET /x/plain.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				"HTTP/1.1 200 OK", "static\n", length, nil},
		} {
			r := sendRaw(t, p.addr, tc.req)
			noStatus(tc.name, r)
			bad := gwAnswerProblems(r, tc.req, tc.status, tc.body, tc.framing, tc.fields)
			if len(bad) > 0 {
				t.Errorf("%s: %s\n%s", tc.name, strings.Join(bad, "; "), r)
			}
		}

		// A 204 has no body: what the application sent after the header
		// is dropped, and the next answer on the connection is whole.
		rc := dialRaw(t, p.addr)
		r := rc.roundTrip("GET /app/status-204 HTTP/1.1\r\nHost: h\r\n\r\n")
		if r.StatusLine != "HTTP/1.1 204 No Content" || r.Headers.has("Content-Length") || r.Headers.has("Transfer-Encoding") {
			t.Errorf("a 204 with a body from the application:\n%s", r)
		}
		r = rc.roundTrip("GET /app/length HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if r.Status != 200 || string(r.Body) != "sized\n" {
			t.Errorf("the answer after a 204 on the same connection:\n%s", r)
		}

		// fastcgi_keep_conn with an upstream keepalive cache: the two
		// requests, one with a body, go on one connection that the
		// application was asked to keep. Without it, a connection each.
		a := sendRaw(t, p.addr, "POST /keep/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		wantA := fcgiEnv(fcgiServerParams, "REQUEST_METHOD=POST", "CONTENT_LENGTH=3", "HTTP_TRANSFER_ENCODING=chunked",
			"DOCUMENT_URI=/keep/a", "REQUEST_URI=/keep/a", "SCRIPT_NAME=/keep/a", `body="abc"`)
		if got := norm(a.Body); a.Status != 200 || got != wantA {
			t.Errorf("keep_conn, a POST: got %d\n%s\nwant 200\n%s", a.Status, got, wantA)
		}
		b := sendRaw(t, p.addr, "GET /keep/b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if b.Status != 200 || !strings.Contains(string(b.Body), "\nREQUEST_URI=/keep/b\n") {
			t.Errorf("keep_conn, a GET after it:\n%s", b)
		}
		if a.header("X-Fcgi-Keep-Conn") != "true" || b.header("X-Fcgi-Keep-Conn") != "true" ||
			a.header("X-Fcgi-Conn") == "" || a.header("X-Fcgi-Conn") != b.header("X-Fcgi-Conn") {
			t.Errorf("keep_conn: FCGI_KEEP_CONN %q and %q, connections %q and %q; want true, true and one connection",
				a.header("X-Fcgi-Keep-Conn"), b.header("X-Fcgi-Keep-Conn"), a.header("X-Fcgi-Conn"), b.header("X-Fcgi-Conn"))
		}
		a = sendRaw(t, p.addr, "GET /app/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		b = sendRaw(t, p.addr, "GET /app/b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if a.Status != 200 || b.Status != 200 || a.header("X-Fcgi-Keep-Conn") != "false" || b.header("X-Fcgi-Keep-Conn") != "false" ||
			a.header("X-Fcgi-Conn") == "" || b.header("X-Fcgi-Conn") == "" || a.header("X-Fcgi-Conn") == b.header("X-Fcgi-Conn") {
			t.Errorf("without keep_conn: statuses %d and %d, FCGI_KEEP_CONN %q and %q, connections %q and %q; want 200, false and two connections",
				a.Status, b.Status, a.header("X-Fcgi-Keep-Conn"), b.header("X-Fcgi-Keep-Conn"), a.header("X-Fcgi-Conn"), b.header("X-Fcgi-Conn"))
		}

		// The error log says why each 502 and the 500 came.
		for _, line := range []string{
			fmt.Sprintf(`connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /dead/ HTTP/1.1", upstream: "fastcgi://127.0.0.1:%d", host: "h"`, p.ports[3]),
			`upstream sent invalid status "abc" while reading response header from upstream`,
			`upstream sent too big header while reading response header from upstream`,
			`FastCGI sent in stderr: "cgi: no REQUEST_METHOD in environment" while reading response header from upstream`,
		} {
			deadline := time.Now().Add(3 * time.Second)
			for !strings.Contains(p.readLog("error.log"), line) {
				if time.Now().After(deadline) {
					t.Errorf("no %q in the error log:\n%s", line, p.readLog("error.log"))
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}
