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
)

// These tests run one FastCGI configuration against nginx and headroom:
// the parameters the application receives (fastcgi_param, the HTTP_*
// parameters made of the request's headers, fastcgi_split_path_info,
// fastcgi_index, if_not_empty, the inheritance of the parameter list),
// the request body however the client framed it, the application's
// answer as the client sees it (status, reason, Location, headers, body
// and its framing), and the upstream side: a unix socket, an upstream
// group, a refused port, intercepted errors and kept connections. The
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
	conn     int  // the number of the connection, counted from 1
	keepConn bool // BEGIN_REQUEST had FCGI_KEEP_CONN
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
	dir, err := os.MkdirTemp("", "hrfcgi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	fr := &fcgiResponder{
		sock:   filepath.Join(dir, "s"),
		params: filepath.Join(dir, "fastcgi_params"),
		seen:   map[string]fcgiSeen{},
	}
	if err := os.WriteFile(fr.params, []byte(fcgiParamsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fr.addr = tcp.Addr().String()
	unix, err := net.Listen("unix", fr.sock)
	if err != nil {
		tcp.Close()
		t.Fatal(err)
	}
	if err := os.Chmod(fr.sock, 0o666); err != nil {
		tcp.Close()
		unix.Close()
		t.Fatal(err)
	}
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
	return &fcgiConn{Conn: c, fr: l.fr, id: len(l.fr.conns), params: map[uint16][]byte{}, keep: map[uint16]bool{}}, nil
}

// fcgiConn is a connection from the proxy, read and written by
// net/http/fcgi. Reading, it takes the records apart: it notes the keep
// flag of BEGIN_REQUEST, gathers the PARAMS stream, and before the empty
// PARAMS record that ends it records the parameters and adds the
// fcgiKeyParam pair. Writing, it cuts the leading Status line of an
// answer whose header has fcgiDropStatus (and that header).
type fcgiConn struct {
	net.Conn
	fr     *fcgiResponder
	id     int
	in     []byte // bytes read, not yet a whole record
	out    []byte // records to hand to net/http/fcgi
	params map[uint16][]byte
	keep   map[uint16]bool
}

// fcgiRecord frames content as a FastCGI record of the given type.
func fcgiRecord(typ byte, id uint16, content []byte) []byte {
	pad := (8 - len(content)%8) % 8
	b := []byte{1, typ, byte(id >> 8), byte(id), byte(len(content) >> 8), byte(len(content)), byte(pad), 0}
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

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
			key := c.fr.record(fcgiSeen{conn: c.id, keepConn: c.keep[id], params: fcgiPairs(c.params[id])})
			c.out = append(c.out, fcgiRecord(4, id, fcgiPair(fcgiKeyParam, key))...)
			delete(c.params, id)
		}
		c.out = append(c.out, c.in[:total]...)
		c.in = c.in[total:]
	}
}

func (c *fcgiConn) Write(p []byte) (int, error) {
	// net/http/fcgi writes one whole record per call, and the CGI header
	// of an answer in a record of its own.
	if len(p) >= 8 && p[1] == 6 { // FCGI_STDOUT
		clen := int(p[4])<<8 | int(p[5])
		content := p[8 : 8+clen]
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
// ".php") chooses the answer; any other path answers with what the
// request carried (see echo).
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
// then the request body; the connection's number and the keep flag come
// in the header fields X-Fcgi-Conn and X-Fcgi-Keep-Conn, the method the
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
		// norm replaces what differs from one run to the next.
		norm := func(s string) string {
			s = strings.ReplaceAll(s, p.prefix, "PREFIX")
			s = strings.ReplaceAll(s, "SERVER_PORT="+port+"\n", "SERVER_PORT=PORT\n")
			return strings.ReplaceAll(s, "127.0.0.1:"+port, "127.0.0.1:PORT")
		}
		lines := func(l ...string) string { return strings.Join(l, "\n") + "\n" }

		// What the application receives: each answer is the echo of the
		// parameters and the body.
		for _, tc := range []struct {
			name, req, want string
		}{
			{"GET with a query", "GET /x/app.php?a=1&b=%20x HTTP/1.1\r\nHost: h\r\nX-Custom: v\r\nConnection: close\r\n\r\n", lines(
				"CONTENT_LENGTH=",
				"CONTENT_TYPE=",
				"HTTP_CONNECTION=close",
				"HTTP_HOST=h",
				"HTTP_X_CUSTOM=v",
				"HTTP_X_OVER=fixed",
				"PATH_INFO=",
				"QUERY_STRING=a=1&b=%20x",
				"REQUEST_METHOD=GET",
				"REQUEST_URI=/x/app.php?a=1&b=%20x",
				"SCRIPT_FILENAME=PREFIX/html/x/app.php",
				"SCRIPT_NAME=/x/app.php",
				"SERVER_PROTOCOL=HTTP/1.1",
				`body=""`)},
		} {
			r := sendRaw(t, p.addr, tc.req)
			if got := norm(string(r.Body)); r.Status != 200 || got != tc.want {
				t.Errorf("%s: got %d\n%s\nwant 200\n%s", tc.name, r.Status, got, tc.want)
			}
		}
	})
}
