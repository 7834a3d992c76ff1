package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// header is one header field as it appeared on the wire.
type header struct {
	Name, Value string
}

// headers is an ordered header list with case-insensitive lookups.
type headers []header

func (h headers) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

func (h headers) has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

func (h headers) values(name string) []string {
	var v []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			v = append(v, f.Value)
		}
	}
	return v
}

func (h headers) String() string {
	var b strings.Builder
	for _, f := range h {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
	}
	return b.String()
}

// readHeaderLines reads header lines up to the empty line. Lines must end in
// CRLF or LF.
func readHeaderLines(br *bufio.Reader) (headers, error) {
	var h headers
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return h, fmt.Errorf("reading header: %w (partial %q)", err, line)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return h, nil
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			return h, fmt.Errorf("malformed header line %q", line)
		}
		h = append(h, header{Name: line[:i], Value: strings.Trim(line[i+1:], " \t")})
	}
}

// readChunked decodes a chunked body and returns it with the trailers.
func readChunked(br *bufio.Reader) ([]byte, headers, error) {
	var body bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return body.Bytes(), nil, fmt.Errorf("reading chunk size: %w", err)
		}
		sz := strings.TrimRight(line, "\r\n")
		if i := strings.IndexByte(sz, ';'); i >= 0 {
			sz = sz[:i]
		}
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil || n < 0 {
			return body.Bytes(), nil, fmt.Errorf("bad chunk size line %q", line)
		}
		if n == 0 {
			tr, err := readHeaderLines(br)
			return body.Bytes(), tr, err
		}
		if _, err := io.CopyN(&body, br, n); err != nil {
			return body.Bytes(), nil, fmt.Errorf("reading chunk data: %w", err)
		}
		crlf, err := br.ReadString('\n')
		if err != nil || strings.TrimRight(crlf, "\r\n") != "" {
			return body.Bytes(), nil, fmt.Errorf("missing CRLF after chunk data (%q, %v)", crlf, err)
		}
	}
}

// response is an HTTP response read off the wire.
type response struct {
	Proto      string
	Status     int
	Reason     string
	StatusLine string
	Headers    headers
	Body       []byte
	// Chunked is true when the body came with chunked framing.
	Chunked  bool
	Trailers headers
	// CloseDelimited is true when the body ran to the end of the connection.
	CloseDelimited bool
}

func (r *response) header(name string) string { return r.Headers.get(name) }

func (r *response) String() string {
	body := string(r.Body)
	if len(body) > 300 {
		body = body[:300] + fmt.Sprintf("...(%d bytes)", len(r.Body))
	}
	return fmt.Sprintf("%s\n%s\n%s", r.StatusLine, r.Headers, body)
}

// readResponse reads one response. method is the request method (a HEAD
// response has no body). A 1xx response is returned as is; the caller reads
// the final response with another call. On a framing error the response read
// so far is returned with the error.
func readResponse(br *bufio.Reader, method string) (*response, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		if line == "" {
			return nil, fmt.Errorf("reading status line: %w", err)
		}
		return nil, fmt.Errorf("reading status line: %w (partial %q)", err, line)
	}
	r := &response{StatusLine: strings.TrimRight(line, "\r\n")}
	parts := strings.SplitN(r.StatusLine, " ", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("malformed status line %q", r.StatusLine)
	}
	r.Proto = parts[0]
	r.Status, err = strconv.Atoi(parts[1])
	if err != nil {
		return nil, fmt.Errorf("malformed status line %q", r.StatusLine)
	}
	if len(parts) == 3 {
		r.Reason = parts[2]
	}
	r.Headers, err = readHeaderLines(br)
	if err != nil {
		return r, err
	}
	switch {
	case r.Status/100 == 1 || r.Status == 204 || r.Status == 304 || method == "HEAD":
		return r, nil
	case strings.EqualFold(r.Headers.get("Transfer-Encoding"), "chunked"):
		r.Chunked = true
		r.Body, r.Trailers, err = readChunked(br)
		return r, err
	case r.Headers.has("Content-Length"):
		n, err := strconv.ParseInt(r.Headers.get("Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return r, fmt.Errorf("bad Content-Length %q", r.Headers.get("Content-Length"))
		}
		var body bytes.Buffer
		_, err = io.CopyN(&body, br, n)
		r.Body = body.Bytes()
		if err != nil {
			return r, fmt.Errorf("body: got %d of %d bytes: %w", len(r.Body), n, err)
		}
		return r, nil
	default:
		r.CloseDelimited = true
		r.Body, err = io.ReadAll(br)
		return r, err
	}
}

// rawConn is a client connection for exact-byte requests.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// dialRaw connects to addr. Every read and write on the connection fails
// after 15 s, so no test can hang on it.
func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
}

func (rc *rawConn) write(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// read reads one response; the test fails on error.
func (rc *rawConn) read(method string) *response {
	rc.t.Helper()
	r, err := readResponse(rc.br, method)
	if err != nil {
		rc.t.Fatalf("reading response: %v", err)
	}
	return r
}

// roundTrip writes req and reads one response.
func (rc *rawConn) roundTrip(req string) *response {
	rc.t.Helper()
	rc.write(req)
	method, _, _ := strings.Cut(req, " ")
	return rc.read(method)
}

// expectClosed checks that the peer closes the connection within d without
// sending anything more.
func (rc *rawConn) expectClosed(d time.Duration) {
	rc.t.Helper()
	if err := rc.waitClosed(d); err != nil {
		rc.t.Error(err)
	}
}

func (rc *rawConn) waitClosed(d time.Duration) error {
	rc.c.SetReadDeadline(time.Now().Add(d))
	defer rc.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := io.ReadAll(rc.br)
	if len(b) > 0 {
		return fmt.Errorf("expected the connection to close, got %d more bytes: %q", len(b), truncate(b, 200))
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("connection still open after %v", d)
	}
	// A reset also closes the connection.
	return nil
}

// expectOpen checks that nothing arrives and the connection stays open
// for d.
func (rc *rawConn) expectOpen(d time.Duration) {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(d))
	defer rc.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	b := make([]byte, 1)
	n, err := rc.br.Read(b)
	if n > 0 {
		rc.t.Errorf("unexpected byte %q on idle connection", b[:n])
		return
	}
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) {
		rc.t.Errorf("connection closed (%v), expected it to stay open for %v", err, d)
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// sendRaw opens a connection, writes req and reads one response.
func sendRaw(t testing.TB, addr, req string) *response {
	t.Helper()
	rc := dialRaw(t, addr)
	rc.write(req)
	method, _, _ := strings.Cut(req, " ")
	return rc.read(method)
}

// closeWrite half-closes the connection (the client is done sending).
func (rc *rawConn) closeWrite() {
	if tc, ok := rc.c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// sendRawClose is sendRaw that also reports whether the proxy closed the
// connection after the response (waiting up to 3 s).
func sendRawClose(t testing.TB, addr, req string) (*response, bool) {
	t.Helper()
	rc := dialRaw(t, addr)
	rc.write(req)
	method, _, _ := strings.Cut(req, " ")
	r := rc.read(method)
	closed := rc.waitClosed(3*time.Second) == nil
	return r, closed
}

// sendRawLinger is sendRawClose for responses after which the proxy still
// reads what the client sends (nginx's lingering close after an error
// response to a request with an unread body): the client half-closes after
// reading the response, then the proxy must close.
func sendRawLinger(t testing.TB, addr, req string) (*response, bool) {
	t.Helper()
	rc := dialRaw(t, addr)
	rc.write(req)
	method, _, _ := strings.Cut(req, " ")
	r := rc.read(method)
	rc.closeWrite()
	closed := rc.waitClosed(3*time.Second) == nil
	return r, closed
}

// httpClient is a net/http client with a bounded timeout, no proxy from the
// environment and no redirects followed.
func httpClient() *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get does a GET with net/http and returns status, headers and body.
func get(t testing.TB, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := httpClient().Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
