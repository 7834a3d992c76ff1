package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The HTTP/2 tests run nginx and headroom on the same configuration, each
// with an "ssl http2" listener and a cleartext "http2" listener of its own,
// in front of one shared document root and one shared upstream, and send
// both the same requests with Go's own HTTP/2 client: over TLS with ALPN
// "h2" and in cleartext with prior knowledge. nginx's answer is the
// expectation: status, body and a fixed list of header fields must match,
// with the servers' names and port numbers normalised.

// h2Config is the http{} content both servers run: %[1]s is the document
// root, %[2]s and %[3]s the certificate and its key, %[4]s the upstream's
// address.
const h2Config = `
    types { text/html html; text/plain txt; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:{{PORT}} ssl http2;
        listen 127.0.0.1:{{PORT1}} http2;
        ssl_certificate %[2]s;
        ssl_certificate_key %[3]s;
        root %[1]s;
        client_max_body_size 8m;
        gzip on;
        gzip_types text/plain;
        gzip_min_length 20;
        gzip_vary on;

        location / { }
        location = /vars { return 200 "$server_protocol $http2 $https"; }
        location /up/ { proxy_pass http://%[4]s; }
        location /d/ { proxy_pass http://%[4]s/; }
        location /hdr/ {
            add_header X-Added yes;
            add_header X-Always yes always;
        }
        location /ep/ { error_page 404 /errors/404.html; }
        location /ep2/ { error_page 404 = @fallback; }
        location @fallback { return 200 "fallback for $uri\n"; }
        location /errors/ { internal; }
        location /sub/ { alias %[1]s/; sub_filter "compressible" "filtered"; sub_filter_once off; sub_filter_types text/plain; }
    }`

// h2LastModified is the modification time of every file of the document
// root, so that both servers' validators are known and equal.
var h2LastModified = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// h2Site is what both servers of a comparison share: the document root,
// the certificate and the upstream.
type h2Site struct {
	root      string
	big       []byte
	text      string
	cert, key string
	upstream  string
}

// newH2Site makes a document root readable by nginx's workers, a
// certificate and an upstream. The root holds small text and HTML files, a
// compressible text file, a 2 MB binary file, a directory with an index,
// files for add_header and an error page.
func newH2Site(t *testing.T) *h2Site {
	t.Helper()
	s := &h2Site{big: make([]byte, 2<<20), text: strings.Repeat("a compressible line of text\n", 300)}
	rand.Read(s.big)
	root, err := os.MkdirTemp("", "headroom-h2-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	s.root = root
	files := map[string][]byte{
		"index.html":      []byte("<p>index</p>\n"),
		"a.txt":           []byte("a static file\n"),
		"text.txt":        []byte(s.text),
		"long.txt":        []byte(h2LongText),
		"big.bin":         s.big,
		"dir/index.html":  []byte("<p>dir</p>\n"),
		"hdr/a.txt":       []byte("with added fields\n"),
		"errors/404.html": []byte("<p>custom not found page</p>\n"),
	}
	for _, d := range []string{"", "dir", "hdr", "errors", "ep", "ep2"} {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o755)
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, h2LastModified, h2LastModified)
	}
	certDir := t.TempDir()
	os.Chmod(certDir, 0o755)
	s.cert, s.key = writeCert(t, certDir, "h2.test")
	s.upstream = newH2Upstream(t, s.big)
	return s
}

// newH2Upstream starts an HTTP/1.1 upstream and returns its address.
// /up/big answers with big; any other request is answered with a line
// that names its method and target and describes its body (length,
// SHA-256 digest) and framing as the upstream received them, so that the
// same forwarded request gets the same answer from both servers.
func newH2Upstream(t *testing.T, big []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up/big" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
			return
		}
		if r.URL.Path == "/up/chunked" {
			// Without a length, in pieces: chunked framing.
			w.Header().Set("Content-Type", "application/octet-stream")
			for i := 0; i < len(big); i += 100 << 10 {
				w.Write(big[i:min(i+100<<10, len(big))])
				w.(http.Flusher).Flush()
			}
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s len=%d sha256=%x content-length=%d transfer-encoding=%q\n",
			r.Method, r.RequestURI, len(body), sha256.Sum256(body), r.ContentLength, r.TransferEncoding)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// h2Server is one running server of a comparison.
type h2Server struct {
	tg *target
	p  *proxy
}

// base returns the scheme, address and port of the listener a client mode
// talks to: the TLS one for the TLS modes, the cleartext one otherwise.
func (s *h2Server) base(mode string) string {
	if h2ModeTLS(mode) {
		return fmt.Sprintf("https://127.0.0.1:%d", s.p.ports[0])
	}
	return fmt.Sprintf("http://127.0.0.1:%d", s.p.ports[1])
}

// startH2Pair starts nginx and headroom (in that order) on h2Config,
// skipping the test when either is missing or not selected.
func startH2Pair(t *testing.T, site *h2Site) []*h2Server {
	t.Helper()
	ng, hr := bmPair(t)
	conf := fmt.Sprintf(h2Config, site.root, site.cert, site.key, site.upstream)
	return []*h2Server{{ng, startProxy(t, ng, conf)}, {hr, startProxy(t, hr, conf)}}
}

// The client modes.
const (
	// h2ModeH2 is HTTP/2 over TLS, chosen with ALPN.
	h2ModeH2 = "h2"
	// h2ModeH2C is HTTP/2 in cleartext with prior knowledge.
	h2ModeH2C = "h2c"
	// h2ModeALPNHTTP1 is HTTP/1.1 over TLS, offering only "http/1.1"
	// with ALPN.
	h2ModeALPNHTTP1 = "tls-alpn-http1.1"
	// h2ModeNoALPN is HTTP/1.1 over TLS without ALPN.
	h2ModeNoALPN = "tls-no-alpn"
	// h2ModeHTTP1 is HTTP/1.1 in cleartext.
	h2ModeHTTP1 = "http1.1"
)

// h2ModeTLS tells whether a client mode talks TLS.
func h2ModeTLS(mode string) bool {
	return mode == h2ModeH2 || mode == h2ModeALPNHTTP1 || mode == h2ModeNoALPN
}

// h2Client returns a client for a mode that counts the TCP connections it
// opens in dials, follows no redirects and leaves Accept-Encoding to the
// caller. Its timeout only bounds a request that never completes.
func h2Client(mode string, dials *atomic.Int64) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, addr)
	}
	tr := &http.Transport{
		Proxy:              nil,
		DisableCompression: true,
		DialContext:        dial,
	}
	switch mode {
	case h2ModeH2:
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		tr.ForceAttemptHTTP2 = true
	case h2ModeH2C:
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	case h2ModeALPNHTTP1, h2ModeNoALPN:
		// The handshake is the test's own, so that what ALPN offers
		// is known exactly; an empty TLSNextProto keeps HTTP/2 off.
		var protos []string
		if mode == h2ModeALPNHTTP1 {
			protos = []string{"http/1.1"}
		}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: protos})
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		}
	case h2ModeHTTP1:
	default:
		panic("unknown client mode " + mode)
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// h2Fields are the header fields compared between the servers.
var h2Fields = []string{
	"Content-Type", "Content-Length", "Last-Modified", "ETag", "Location",
	"Content-Encoding", "Vary", "X-Added", "X-Always",
}

// h2Answer is a response with the parts that legitimately differ between
// the servers normalised.
type h2Answer struct {
	err    string
	proto  string
	alpn   string
	status int
	fields map[string]string
	// length is the response's Content-Length as the client parsed it
	// (-1 when unknown), lowered by the server's name when the body
	// carries the error page signature.
	length string
	// body is the body, decompressed when it came gzip-encoded, with
	// the error page signature replaced by a placeholder.
	body string
}

// h2Request is one request of a comparison.
type h2Request struct {
	method string
	path   string
	header map[string]string
	// body returns a new request body; nil sends none.
	body func() io.Reader
}

// h2Do sends r to s with client c in mode and normalises the answer.
func h2Do(c *http.Client, s *h2Server, mode string, r h2Request) h2Answer {
	var body io.Reader
	if r.body != nil {
		body = r.body()
	}
	req, err := http.NewRequest(r.method, s.base(mode)+r.path, body)
	if err != nil {
		return h2Answer{err: err.Error()}
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return h2Answer{err: h2ErrKind(err, s)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	a := h2Answer{proto: resp.Proto, status: resp.StatusCode, fields: map[string]string{}, body: string(raw)}
	if err != nil {
		a.err = "reading the body: " + h2ErrKind(err, s)
	}
	if resp.TLS != nil {
		a.alpn = resp.TLS.NegotiatedProtocol
	}
	ports := []int{s.p.ports[0], s.p.ports[1]}
	for _, f := range h2Fields {
		if v, ok := resp.Header[http.CanonicalHeaderKey(f)]; ok {
			a.fields[f] = h2ReplacePorts(strings.Join(v, ", "), ports)
		}
	}
	if resp.Header.Get("Content-Encoding") == "gzip" && len(raw) > 0 {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			var out []byte
			out, err = io.ReadAll(zr)
			a.body = string(out)
		}
		if err != nil {
			a.body = "not gzip: " + err.Error()
		}
	}
	a.length = strconv.FormatInt(resp.ContentLength, 10)
	if server := resp.Header.Get("Server"); server != "" {
		sig := diffSignature(server)
		if strings.Contains(a.body, sig) {
			a.body = strings.ReplaceAll(a.body, sig, diffSignature("SERVER"))
			if resp.ContentLength >= 0 {
				a.length = fmt.Sprintf("%d+len(server)", resp.ContentLength-int64(len(server)))
			}
			if _, ok := a.fields["Content-Length"]; ok {
				a.fields["Content-Length"] = a.length
			}
		}
	}
	return a
}

// h2ReplacePorts replaces the server's listen ports in s by a placeholder:
// a redirect names the port it was asked on.
func h2ReplacePorts(s string, ports []int) string {
	for _, p := range ports {
		s = strings.ReplaceAll(s, ":"+strconv.Itoa(p), ":{PORT}")
	}
	return s
}

// h2ErrKind describes a client error without the server's address.
func h2ErrKind(err error, s *h2Server) string {
	msg := err.Error()
	for _, p := range s.p.ports[:2] {
		msg = strings.ReplaceAll(msg, "127.0.0.1:"+strconv.Itoa(p), "{ADDR}")
	}
	return msg
}

// h2Compare reports every difference between nginx's answer a and
// headroom's answer b to the request named what.
func h2Compare(t *testing.T, what string, a, b h2Answer) {
	t.Helper()
	diff := func(field, ng, hr string) {
		if ng != hr {
			t.Errorf("%s: %s: nginx %s, headroom %s", what, field, ng, hr)
		}
	}
	diff("error", strconv.Quote(a.err), strconv.Quote(b.err))
	diff("protocol", a.proto, b.proto)
	diff("ALPN", strconv.Quote(a.alpn), strconv.Quote(b.alpn))
	diff("status", strconv.Itoa(a.status), strconv.Itoa(b.status))
	diff("parsed content length", a.length, b.length)
	for _, f := range h2Fields {
		va, oka := a.fields[f]
		vb, okb := b.fields[f]
		if oka != okb || va != vb {
			diff("field "+f, h2FieldValue(va, oka), h2FieldValue(vb, okb))
		}
	}
	if a.body != b.body {
		diff("body", h2BodySummary(a.body), h2BodySummary(b.body))
	}
}

// h2FieldValue formats a field's value for a report.
func h2FieldValue(v string, ok bool) string {
	if !ok {
		return "(absent)"
	}
	return strconv.Quote(v)
}

// h2BodySummary describes a body briefly: its length, digest and start.
func h2BodySummary(b string) string {
	start := b
	if len(start) > 80 {
		start = start[:80] + "..."
	}
	return fmt.Sprintf("%d bytes sha256 %x %q", len(b), sha256.Sum256([]byte(b)), start)
}

// h2Body returns a request body of the content b: with a known length, or,
// when unknown is set, as a plain reader whose length the client cannot
// know (sent without content-length).
func h2Body(b []byte, unknown bool) func() io.Reader {
	return func() io.Reader {
		if unknown {
			return struct{ io.Reader }{bytes.NewReader(b)}
		}
		return bytes.NewReader(b)
	}
}

// h2Payload returns n pseudo-random bytes from seed.
func h2Payload(n int, seed int64) []byte {
	b := make([]byte, n)
	mrand.New(mrand.NewSource(seed)).Read(b)
	return b
}

// h2Case is one request of TestH2AsNginx with what both servers must
// answer; the comparison between them covers the rest.
type h2Case struct {
	name string
	req  h2Request
	// status is the status both must answer.
	status int
	// check, when set, returns what is wrong with an answer (the same
	// for both servers), or "".
	check func(mode string, a h2Answer) string
}

// h2Cases returns the requests of TestH2AsNginx.
// h2LongText is a text far longer than a frame and than the
// connection's output buffer, for answers of unknown length.
var h2LongText = strings.Repeat("a compressible line of text\n", 10000)

func h2Cases(site *h2Site) []h2Case {
	get := func(path string) h2Request { return h2Request{method: "GET", path: path} }
	bodyIs := func(want string) func(string, h2Answer) string {
		return func(_ string, a h2Answer) string {
			if a.body != want {
				return fmt.Sprintf("body %s, want %s", h2BodySummary(a.body), h2BodySummary(want))
			}
			return ""
		}
	}
	gzipped := h2Request{method: "GET", path: "/text.txt", header: map[string]string{"Accept-Encoding": "gzip"}}
	gzippedHTML := h2Request{method: "GET", path: "/index.html", header: map[string]string{"Accept-Encoding": "gzip"}}
	cases := []h2Case{
		{name: "static file", req: get("/a.txt"), status: 200, check: func(_ string, a h2Answer) string {
			switch {
			case a.body != "a static file\n":
				return fmt.Sprintf("body %q", a.body)
			case a.fields["Content-Type"] != "text/plain":
				return fmt.Sprintf("Content-Type %q", a.fields["Content-Type"])
			case a.fields["Content-Length"] != "14":
				return fmt.Sprintf("Content-Length %q", a.fields["Content-Length"])
			case a.fields["Last-Modified"] != h2LastModified.Format(http.TimeFormat):
				return fmt.Sprintf("Last-Modified %q", a.fields["Last-Modified"])
			case a.fields["ETag"] == "":
				return "no ETag"
			}
			return ""
		}},
		{name: "index", req: get("/"), status: 200, check: bodyIs("<p>index</p>\n")},
		{name: "a long chunked answer from the upstream", req: get("/up/chunked"), status: 200, check: bodyIs(string(site.big))},
		{name: "a long filtered answer of unknown length", req: get("/sub/long.txt"), status: 200,
			check: bodyIs(strings.ReplaceAll(h2LongText, "compressible", "filtered"))},
		{name: "not found", req: get("/missing.txt"), status: 404},
		{name: "variables", req: get("/vars"), status: 200, check: func(mode string, a h2Answer) string {
			want := "HTTP/2.0 h2 on"
			if mode == h2ModeH2C {
				want = "HTTP/2.0 h2c "
			}
			return bodyIs(want)(mode, a)
		}},
		{name: "HEAD", req: h2Request{method: "HEAD", path: "/a.txt"}, status: 200, check: func(_ string, a h2Answer) string {
			if a.body != "" || a.fields["Content-Length"] != "14" {
				return fmt.Sprintf("body %q, Content-Length %q", a.body, a.fields["Content-Length"])
			}
			return ""
		}},
		{name: "location without its slash", req: get("/d?x=1"), status: 301, check: func(mode string, a h2Answer) string {
			want := "https://127.0.0.1:{PORT}/d/?x=1"
			if !h2ModeTLS(mode) {
				want = "http://127.0.0.1:{PORT}/d/?x=1"
			}
			if a.fields["Location"] != want {
				return fmt.Sprintf("Location %q, want %q", a.fields["Location"], want)
			}
			return ""
		}},
		{name: "proxied location", req: get("/d/x?y=2"), status: 200},
		{name: "directory without its slash", req: get("/dir"), status: 301},
		{name: "directory index", req: get("/dir/"), status: 200, check: bodyIs("<p>dir</p>\n")},
		{name: "add_header", req: get("/hdr/a.txt"), status: 200, check: func(_ string, a h2Answer) string {
			if a.fields["X-Added"] != "yes" || a.fields["X-Always"] != "yes" {
				return fmt.Sprintf("X-Added %q, X-Always %q", a.fields["X-Added"], a.fields["X-Always"])
			}
			return ""
		}},
		{name: "add_header always on 404", req: get("/hdr/missing"), status: 404},
		{name: "gzip", req: gzipped, status: 200, check: func(_ string, a h2Answer) string {
			if a.fields["Content-Encoding"] != "gzip" || a.body != site.text {
				return fmt.Sprintf("Content-Encoding %q, decoded body %s", a.fields["Content-Encoding"], h2BodySummary(a.body))
			}
			return ""
		}},
		{name: "gzip html", req: gzippedHTML, status: 200, check: bodyIs("<p>index</p>\n")},
		{name: "gzip HEAD", req: h2Request{method: "HEAD", path: "/text.txt", header: gzipped.header}, status: 200},
		{name: "error_page", req: get("/ep/missing"), status: 404, check: bodyIs("<p>custom not found page</p>\n")},
		{name: "error_page to a named location", req: get("/ep2/missing"), status: 200, check: bodyIs("fallback for /ep2/missing\n")},
		{name: "internal location", req: get("/errors/404.html"), status: 404},
		{name: "large file", req: get("/big.bin"), status: 200, check: bodyIs(string(site.big))},
		{name: "large proxied answer", req: get("/up/big"), status: 200, check: bodyIs(string(site.big))},
		{name: "proxied GET", req: get("/up/echo?a=1"), status: 200},
	}
	for _, n := range []int{0, 10, 1 << 20} {
		data := h2Payload(n, int64(n))
		for _, unknown := range []bool{false, true} {
			how := "with content-length"
			if unknown {
				how = "without content-length"
			}
			want := fmt.Sprintf("len=%d sha256=%x ", n, sha256.Sum256(data))
			cases = append(cases, h2Case{
				name:   fmt.Sprintf("POST %d bytes %s", n, how),
				req:    h2Request{method: "POST", path: "/up/post", body: h2Body(data, unknown)},
				status: 200,
				check: func(_ string, a h2Answer) string {
					if !strings.Contains(a.body, want) {
						return fmt.Sprintf("upstream saw %q, want %q", a.body, want)
					}
					return ""
				},
			})
		}
	}
	return cases
}

// TestH2AsNginx compares headroom with nginx over HTTP/2, over TLS with
// ALPN and in cleartext with prior knowledge, one connection per server
// and mode carrying all the requests: static files (status, body,
// validators, type, length), the 404 page, $server_protocol, $http2 and
// $https, HEAD, the redirects of a location and a directory asked for
// without their slash, add_header, gzip (the decoded bodies), error_page,
// a 2 MB file and a 2 MB proxied answer read whole, and request bodies
// of 0 bytes, 10 bytes and 1 MB, with and without content-length, proxied
// to an upstream that answers with their digest.
func TestH2AsNginx(t *testing.T) {
	t.Parallel()
	site := newH2Site(t)
	cases := h2Cases(site)
	for _, mode := range []string{h2ModeH2, h2ModeH2C} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			servers := startH2Pair(t, site)
			var dials [2]atomic.Int64
			clients := []*http.Client{h2Client(mode, &dials[0]), h2Client(mode, &dials[1])}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					var ans [2]h2Answer
					for i, s := range servers {
						ans[i] = h2Do(clients[i], s, mode, c.req)
						a := ans[i]
						switch {
						case a.err != "":
							t.Errorf("%s: %v", s.tg.name, a.err)
						case a.proto != "HTTP/2.0":
							t.Errorf("%s: answered over %s, want HTTP/2.0", s.tg.name, a.proto)
						case a.status != c.status:
							t.Errorf("%s: status %d, want %d", s.tg.name, a.status, c.status)
						case c.check != nil:
							if msg := c.check(mode, a); msg != "" {
								t.Errorf("%s: %s", s.tg.name, msg)
							}
						}
					}
					h2Compare(t, fmt.Sprintf("%s %s over %s", c.req.method, c.req.path, mode), ans[0], ans[1])
				})
			}
			for i, s := range servers {
				if n := dials[i].Load(); n != 1 {
					t.Errorf("%s: the requests took %d connections, want 1", s.tg.name, n)
				}
			}
		})
	}
}

// TestH2ConcurrentStreams sends 20 requests at once on one HTTP/2
// connection to each server, over TLS and in cleartext (after one request
// that opens the connection): static files, a 2 MB file, proxied GETs and
// proxied POSTs with 100 KB bodies, some without content-length. Every answer must be complete and the same as
// nginx's, and the connection must be the only one opened. Whether the
// streams overlap in time is up to the scheduler and is not checked.
func TestH2ConcurrentStreams(t *testing.T) {
	t.Parallel()
	site := newH2Site(t)
	const n = 20
	reqs := make([]h2Request, n)
	for i := range reqs {
		switch i % 4 {
		case 0:
			reqs[i] = h2Request{method: "GET", path: "/big.bin"}
		case 1:
			reqs[i] = h2Request{method: "GET", path: fmt.Sprintf("/up/echo?i=%d", i)}
		case 2:
			reqs[i] = h2Request{method: "GET", path: "/a.txt"}
		case 3:
			reqs[i] = h2Request{method: "POST", path: fmt.Sprintf("/up/post?i=%d", i), body: h2Body(h2Payload(100<<10, int64(i)), i%8 == 7)}
		}
	}
	for _, mode := range []string{h2ModeH2, h2ModeH2C} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			// A pair of its own, so that a server failing in one mode
			// does not spoil the other.
			servers := startH2Pair(t, site)
			var ans [2][n]h2Answer
			var wg sync.WaitGroup
			for k, s := range servers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var dials atomic.Int64
					c := h2Client(mode, &dials)
					if a := h2Do(c, s, mode, h2Request{method: "GET", path: "/vars"}); a.err != "" || a.proto != "HTTP/2.0" {
						t.Errorf("%s: opening request: %q over %s", s.tg.name, a.err, a.proto)
						return
					}
					var streams sync.WaitGroup
					for i := range reqs {
						streams.Add(1)
						go func() {
							defer streams.Done()
							ans[k][i] = h2Do(c, s, mode, reqs[i])
						}()
					}
					streams.Wait()
					if d := dials.Load(); d != 1 {
						t.Errorf("%s: %d connections for %d concurrent requests, want 1", s.tg.name, d, n)
					}
				}()
			}
			wg.Wait()
			for i, r := range reqs {
				for k, s := range servers {
					a := ans[k][i]
					if a.err != "" || a.proto != "HTTP/2.0" || a.status != 200 {
						t.Errorf("%s: %s %s: %q, %s, status %d", s.tg.name, r.method, r.path, a.err, a.proto, a.status)
					}
					if r.path == "/big.bin" && a.body != string(site.big) {
						t.Errorf("%s: %s: body %s", s.tg.name, r.path, h2BodySummary(a.body))
					}
				}
				h2Compare(t, fmt.Sprintf("request %d, %s %s over %s", i, r.method, r.path, mode), ans[0][i], ans[1][i])
			}
		})
	}
}

// TestH2TLSListenerHTTP1 checks that an "ssl http2" listener still serves
// HTTP/1.1 to clients that do not choose h2, as nginx does: a client that
// offers only "http/1.1" with ALPN and a client that offers no ALPN at all
// get HTTP/1.1 (with $http2 empty), and a client that offers h2 gets
// HTTP/2, each for a return, a static file and a proxied POST.
func TestH2TLSListenerHTTP1(t *testing.T) {
	t.Parallel()
	site := newH2Site(t)
	servers := startH2Pair(t, site)
	body := h2Payload(10, 10)
	for _, c := range []struct {
		mode, proto, alpn, vars string
	}{
		{h2ModeALPNHTTP1, "HTTP/1.1", "http/1.1", "HTTP/1.1  on"},
		{h2ModeNoALPN, "HTTP/1.1", "", "HTTP/1.1  on"},
		{h2ModeH2, "HTTP/2.0", "h2", "HTTP/2.0 h2 on"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			var dials [2]atomic.Int64
			clients := []*http.Client{h2Client(c.mode, &dials[0]), h2Client(c.mode, &dials[1])}
			for _, r := range []struct {
				req  h2Request
				want string
			}{
				{h2Request{method: "GET", path: "/vars"}, c.vars},
				{h2Request{method: "GET", path: "/a.txt"}, "a static file\n"},
				{h2Request{method: "POST", path: "/up/post", body: h2Body(body, false)},
					fmt.Sprintf("POST /up/post len=10 sha256=%x ", sha256.Sum256(body))},
			} {
				var ans [2]h2Answer
				for i, s := range servers {
					a := h2Do(clients[i], s, c.mode, r.req)
					ans[i] = a
					if a.err != "" || a.proto != c.proto || a.alpn != c.alpn || a.status != 200 || !strings.HasPrefix(a.body, r.want) {
						t.Errorf("%s: %s %s: error %q, %s, ALPN %q, status %d, body %q; want %s, ALPN %q, 200, %q",
							s.tg.name, r.req.method, r.req.path, a.err, a.proto, a.alpn, a.status, a.body, c.proto, c.alpn, r.want)
					}
				}
				h2Compare(t, fmt.Sprintf("%s %s over %s", r.req.method, r.req.path, c.mode), ans[0], ans[1])
			}
		})
	}
}

// TestH2CleartextListenerHTTP1 checks headroom alone: a cleartext "listen
// ... http2" address also serves HTTP/1.1 clients, while clients with
// prior knowledge get HTTP/2 on it. This is a deliberate difference from
// nginx 1.22, which takes every connection to such an address for HTTP/2
// and closes one that starts with an HTTP/1.1 request, so nginx is not
// asked.
func TestH2CleartextListenerHTTP1(t *testing.T) {
	t.Parallel()
	_, hr := bmPair(t)
	site := newH2Site(t)
	s := &h2Server{hr, startProxy(t, hr, fmt.Sprintf(h2Config, site.root, site.cert, site.key, site.upstream))}
	body := h2Payload(10, 10)
	for _, c := range []struct {
		mode, proto, vars string
	}{
		{h2ModeHTTP1, "HTTP/1.1", "HTTP/1.1  "},
		{h2ModeH2C, "HTTP/2.0", "HTTP/2.0 h2c "},
	} {
		var dials atomic.Int64
		client := h2Client(c.mode, &dials)
		for _, r := range []struct {
			req  h2Request
			want string
		}{
			{h2Request{method: "GET", path: "/vars"}, c.vars},
			{h2Request{method: "GET", path: "/a.txt"}, "a static file\n"},
			{h2Request{method: "POST", path: "/up/post", body: h2Body(body, false)},
				fmt.Sprintf("POST /up/post len=10 sha256=%x ", sha256.Sum256(body))},
		} {
			a := h2Do(client, s, c.mode, r.req)
			if a.err != "" || a.proto != c.proto || a.status != 200 || !strings.HasPrefix(a.body, r.want) {
				t.Errorf("%s %s over %s: error %q, %s, status %d, body %q; want %s, 200, %q",
					r.req.method, r.req.path, c.mode, a.err, a.proto, a.status, a.body, c.proto, r.want)
			}
		}
		if d := dials.Load(); d != 1 {
			t.Errorf("%s: %d connections for 3 requests, want 1 (kept alive)", c.mode, d)
		}
	}
}
