package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// upRequest is one request as an upstream server received it.
type upRequest struct {
	// Conn numbers the upstream connection (from 1); Seq numbers the
	// request on its connection (from 1).
	Conn, Seq int
	// Line is the request line; Method, Target and Proto its parts.
	Line, Method, Target, Proto string
	Headers                     headers
	Body                        []byte
	// Chunked is true when the body came with chunked framing.
	Chunked bool
}

func (r *upRequest) String() string {
	return fmt.Sprintf("%s\n%s[%d body bytes]", r.Line, r.Headers, len(r.Body))
}

// upConn is the server side of one upstream connection.
type upConn struct {
	net.Conn
	br *bufio.Reader
	id int
	// keep tells the serving loop whether to read another request after
	// the handler returns; handlers set it to false to close the
	// connection, and hijack to take it over.
	keep     bool
	hijacked bool
	// method is the method of the request being answered (a response to
	// HEAD has no body).
	method string
	// stopping is closed when the upstream shuts down.
	stopping chan struct{}
}

// sleep waits for d, or less if the upstream is shutting down, so that a
// slow handler does not hold up the end of its test.
func (c *upConn) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-c.stopping:
	}
}

// respond writes a complete response with Content-Length. extra holds
// header lines ("Name: value").
func (c *upConn) respond(status int, body string, extra ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, statusText(status))
	for _, h := range extra {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	if c.method != "HEAD" {
		b.WriteString(body)
	}
	c.Write([]byte(b.String()))
}

func (c *upConn) writeString(s string) { io.WriteString(c, s) }

// closeNow closes the connection after the handler returns.
func (c *upConn) closeNow() { c.keep = false }

func (c *upConn) hijack() { c.hijacked = true }

func statusText(code int) string {
	switch code {
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 304:
		return "Not Modified"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	}
	return "Status"
}

type upHandler func(c *upConn, r *upRequest)

// upstream is a raw TCP HTTP/1.1 server that records every connection and
// request.
type upstream struct {
	t       testing.TB
	name    string
	ln      net.Listener
	addr    string
	port    int
	handler upHandler

	stopping chan struct{}

	mu    sync.Mutex
	conns int
	reqs  []*upRequest
	wg    sync.WaitGroup
	open  map[net.Conn]bool
	done  bool
}

// defaultHandler answers 200 with a body naming the upstream and the
// request target, keeping the connection open when the request allows it.
func (u *upstream) defaultHandler(c *upConn, r *upRequest) {
	c.respond(200, u.name+" "+r.Method+" "+r.Target+"\n")
}

// newUpstream starts a raw upstream on 127.0.0.1; handler nil means
// defaultHandler. It is stopped when the test ends.
func newUpstream(t testing.TB, name string, handler upHandler) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{t: t, name: name, ln: ln, addr: ln.Addr().String(),
		port: ln.Addr().(*net.TCPAddr).Port, handler: handler, open: map[net.Conn]bool{},
		stopping: make(chan struct{})}
	if u.handler == nil {
		u.handler = u.defaultHandler
	}
	go u.acceptLoop()
	t.Cleanup(u.close)
	return u
}

func (u *upstream) close() {
	u.ln.Close()
	u.mu.Lock()
	if !u.done {
		close(u.stopping)
	}
	u.done = true
	for c := range u.open {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

func (u *upstream) acceptLoop() {
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		if u.done {
			u.mu.Unlock()
			c.Close()
			return
		}
		u.conns++
		id := u.conns
		u.open[c] = true
		u.wg.Add(1)
		u.mu.Unlock()
		go u.serve(c, id)
	}
}

func (u *upstream) serve(nc net.Conn, id int) {
	defer u.wg.Done()
	defer func() {
		u.mu.Lock()
		delete(u.open, nc)
		u.mu.Unlock()
	}()
	c := &upConn{Conn: nc, br: bufio.NewReaderSize(nc, 64<<10), id: id, stopping: u.stopping}
	for seq := 1; ; seq++ {
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		r, err := readRequest(c.br)
		if err != nil {
			nc.Close()
			return
		}
		r.Conn, r.Seq = id, seq
		u.mu.Lock()
		u.reqs = append(u.reqs, r)
		u.mu.Unlock()
		c.keep = wantsKeepAlive(r)
		c.method = r.Method
		u.handler(c, r)
		if c.hijacked {
			return
		}
		if !c.keep {
			nc.Close()
			return
		}
	}
}

// wantsKeepAlive applies HTTP/1.x persistence rules to a request.
func wantsKeepAlive(r *upRequest) bool {
	conn := strings.ToLower(r.Headers.get("Connection"))
	if r.Proto == "HTTP/1.1" {
		return !strings.Contains(conn, "close")
	}
	return strings.Contains(conn, "keep-alive")
}

// readRequest reads one request, decoding a Content-Length or chunked body.
func readRequest(br *bufio.Reader) (*upRequest, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	r := &upRequest{Line: strings.TrimRight(line, "\r\n")}
	parts := strings.Split(r.Line, " ")
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed request line %q", r.Line)
	}
	r.Method, r.Target, r.Proto = parts[0], parts[1], parts[2]
	if r.Headers, err = readHeaderLines(br); err != nil {
		return nil, err
	}
	switch {
	case strings.EqualFold(r.Headers.get("Transfer-Encoding"), "chunked"):
		r.Chunked = true
		r.Body, _, err = readChunked(br)
	case r.Headers.has("Content-Length"):
		var n int64
		n, err = strconv.ParseInt(r.Headers.get("Content-Length"), 10, 64)
		if err == nil {
			var body bytes.Buffer
			_, err = io.CopyN(&body, br, n)
			r.Body = body.Bytes()
		}
	}
	return r, err
}

// requests returns a copy of the recorded requests.
func (u *upstream) requests() []*upRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*upRequest(nil), u.reqs...)
}

// connCount is the number of accepted connections.
func (u *upstream) connCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conns
}

// openCount is the number of connections the upstream holds open.
func (u *upstream) openCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.open)
}

// lastRequest returns the most recent request; the test fails if none.
func (u *upstream) lastRequest() *upRequest {
	u.t.Helper()
	reqs := u.requests()
	if len(reqs) == 0 {
		u.t.Fatalf("upstream %s received no request", u.name)
	}
	return reqs[len(reqs)-1]
}

// refusedAddr returns a loopback address that refuses connections: its
// port is bound, so nothing else can take it, but not listening.
func refusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// waitForRequest waits, up to 3 s, until the upstream has received a
// request: the moment a test knows a request is in progress.
func (u *upstream) waitForRequest() {
	deadline := time.Now().Add(3 * time.Second)
	for len(u.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// slowProxy starts tg in front of an upstream that answers body after
// delay, for tests that need a request in progress.
func slowProxy(t *testing.T, tg *target, pc proxyConfig, delay time.Duration, body string) (*proxy, *upstream) {
	t.Helper()
	up := newUpstream(t, "slow", func(c *upConn, r *upRequest) {
		c.sleep(delay)
		c.respond(200, body)
	})
	pc.http = fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
    }`, up.addr)
	return startProxyConfig(t, tg, pc), up
}
