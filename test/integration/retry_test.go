package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawUpstream is an upstream server that keeps every byte it receives, per
// connection, so that a test can see what a proxy sent it, including bytes
// that do not form a request. It reads one request per connection; a
// failing server does what the request's X-Fail field tells it, the other
// ignores the field:
//
//	close-after=N  read the head and N bytes after it, then close unanswered
//	status=N       read the whole request, answer N, close
//	(absent)       read the whole request, answer 200 "NAME", close
type rawUpstream struct {
	t       testing.TB
	name    string
	failing bool
	ln      net.Listener
	addr    string

	mu    sync.Mutex
	conns [][]byte
	wg    sync.WaitGroup
}

func newRawUpstream(t testing.TB, name string, failing bool) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{t: t, name: name, failing: failing, ln: ln, addr: ln.Addr().String()}
	u.wg.Add(1)
	go u.acceptLoop()
	t.Cleanup(func() {
		ln.Close()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) acceptLoop() {
	defer u.wg.Done()
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		i := len(u.conns)
		u.conns = append(u.conns, nil)
		u.mu.Unlock()
		u.wg.Add(1)
		go u.serve(c, i)
	}
}

// recorder keeps what passes through it in the upstream's record of
// connection i.
type recorder struct {
	u *rawUpstream
	i int
	r io.Reader
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.u.mu.Lock()
	rc.u.conns[rc.i] = append(rc.u.conns[rc.i], p[:n]...)
	rc.u.mu.Unlock()
	return n, err
}

func (u *rawUpstream) serve(c net.Conn, i int) {
	defer u.wg.Done()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// One byte at a time through the recorder, so that the server never
	// takes in more than it decides to read.
	br := bufio.NewReaderSize(&recorder{u: u, i: i, r: c}, 16)
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	h, err := readHeaderLines(br)
	if err != nil {
		return
	}
	_ = line
	fail := ""
	if u.failing {
		fail = h.get("X-Fail")
	}
	if n, ok := strings.CutPrefix(fail, "close-after="); ok {
		k, _ := strconv.Atoi(n)
		io.CopyN(io.Discard, br, int64(k))
		return
	}
	switch {
	case strings.EqualFold(h.get("Transfer-Encoding"), "chunked"):
		if _, _, err := readChunked(br); err != nil {
			return
		}
	case h.has("Content-Length"):
		n, _ := strconv.ParseInt(h.get("Content-Length"), 10, 64)
		if _, err := io.CopyN(io.Discard, br, n); err != nil {
			return
		}
	}
	status, body := 200, u.name
	if n, ok := strings.CutPrefix(fail, "status="); ok {
		status, _ = strconv.Atoi(n)
		body = u.name + " failing"
	}
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, statusText(status), len(body), body)
}

// received returns what each connection received, in accept order.
func (u *rawUpstream) received() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([][]byte, len(u.conns))
	for i, b := range u.conns {
		out[i] = append([]byte(nil), b...)
	}
	return out
}

// reset forgets the connections received so far.
func (u *rawUpstream) reset() {
	u.mu.Lock()
	u.conns = nil
	u.mu.Unlock()
}

// checkRequestPrefix verifies that raw, the bytes one upstream connection
// received, are a prefix of one request "METHOD TARGET" whose body is
// body, and nothing else: no second request, no body without its head.
// complete says whether the whole request arrived.
func checkRequestPrefix(raw []byte, method, target string, body []byte) (complete bool, err error) {
	start := method + " " + target + " "
	if len(raw) < len(start) {
		if !strings.HasPrefix(start, string(raw)) {
			return false, fmt.Errorf("received %q, not the start of %q", raw, start)
		}
		return false, nil
	}
	if !bytes.HasPrefix(raw, []byte(start)) {
		return false, fmt.Errorf("received %q, which does not start with %q", truncate(raw, 80), start)
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return false, nil
	}
	br := bufio.NewReader(bytes.NewReader(raw[:end+4]))
	br.ReadString('\n')
	h, err := readHeaderLines(br)
	if err != nil {
		return false, fmt.Errorf("head: %v", err)
	}
	rest := raw[end+4:]
	switch {
	case strings.EqualFold(h.get("Transfer-Encoding"), "chunked"):
		return checkChunkedPrefix(rest, body)
	case h.has("Content-Length"):
		n, _ := strconv.Atoi(h.get("Content-Length"))
		if n != len(body) {
			return false, fmt.Errorf("Content-Length %d, the body has %d bytes", n, len(body))
		}
		if len(rest) > n {
			return false, fmt.Errorf("%d bytes after the body: %q", len(rest)-n, truncate(rest[n:], 80))
		}
		if !bytes.Equal(rest, body[:len(rest)]) {
			return false, fmt.Errorf("the body received is not the request's")
		}
		return len(rest) == n, nil
	default:
		if len(body) > 0 {
			return false, fmt.Errorf("no body framing for a %d-byte body", len(body))
		}
		if len(rest) > 0 {
			return false, fmt.Errorf("%d bytes after a request without body: %q", len(rest), truncate(rest, 80))
		}
		return true, nil
	}
}

// checkChunkedPrefix checks that b is a prefix of body in chunked framing,
// with nothing after its last chunk.
func checkChunkedPrefix(b, body []byte) (bool, error) {
	var got []byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return false, nil
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(b[:i])), 16, 64)
		if err != nil {
			return false, fmt.Errorf("chunk size %q", b[:i])
		}
		b = b[i+2:]
		if size == 0 {
			if len(b) > 2 || !bytes.HasPrefix([]byte("\r\n"), b) {
				return false, fmt.Errorf("%d bytes after the last chunk: %q", len(b), truncate(b, 80))
			}
			if !bytes.Equal(got, body) {
				return false, fmt.Errorf("chunked body of %d bytes, want %d", len(got), len(body))
			}
			return len(b) == 2, nil
		}
		n := min(int(size), len(b))
		got = append(got, b[:n]...)
		if len(got) > len(body) || !bytes.Equal(got, body[:len(got)]) {
			return false, fmt.Errorf("the body received is not the request's")
		}
		b = b[n:]
		if n < int(size) {
			return false, nil
		}
		if len(b) < 2 {
			return false, nil
		}
		if string(b[:2]) != "\r\n" {
			return false, errors.New("chunk not followed by CRLF")
		}
		b = b[2:]
	}
	return false, nil
}

// retryCase is one request sent to a group whose first server fails.
type retryCase struct {
	method  string
	body    []byte
	chunked bool
	// packets are the lengths of the pieces the request is written in,
	// with a pause between them; what is left goes in a last piece.
	packets []int
	fail    string
	// location is the path prefix choosing the proxy configuration.
	location string
}

// wire returns the request as the client sends it.
func (rc *retryCase) wire() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Fail: %s\r\n", rc.method, rc.location+"real", rc.fail)
	if rc.chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		b.WriteString(chunk(rc.body, int64(len(rc.body))))
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(rc.body))
		b.Write(rc.body)
	}
	return b.Bytes()
}

// send writes the request in its pieces and reads the answer.
func (rc *retryCase) send(t *testing.T, addr string) *response {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.c.Close()
	wire := rc.wire()
	for _, n := range rc.packets {
		n = min(n, len(wire))
		c.write(string(wire[:n]))
		wire = wire[n:]
		time.Sleep(30 * time.Millisecond)
	}
	if len(wire) > 0 {
		c.write(string(wire))
	}
	return c.read(rc.method)
}

// check sends the case and verifies what each server received: a prefix
// of the one request and never anything else; and that the answer is the
// second server's when it received the request whole.
func (rc *retryCase) check(t *testing.T, addr string, bad, good *rawUpstream) (resp *response, goodGotIt bool) {
	t.Helper()
	bad.reset()
	good.reset()
	resp = rc.send(t, addr)
	target := "/real"
	for _, u := range []*rawUpstream{bad, good} {
		for i, raw := range u.received() {
			complete, err := checkRequestPrefix(raw, rc.method, target, rc.body)
			if err != nil {
				t.Errorf("%s connection %d: %v\nreceived %q", u.name, i+1, err, truncate(raw, 300))
			}
			if u == good && complete {
				goodGotIt = true
			}
		}
	}
	if goodGotIt && (resp.Status != 200 || string(resp.Body) != good.name) {
		t.Errorf("the second server got the whole request, the client got %d %q", resp.Status, truncate(resp.Body, 80))
	}
	if !goodGotIt && resp.Status != 502 && resp.Status != 504 {
		t.Errorf("the second server did not get the request, the client got %d %q", resp.Status, truncate(resp.Body, 80))
	}
	return resp, goodGotIt
}

// retryProxy starts tg in front of a group whose first server is bad and
// whose second (a backup, tried only when the first failed) is good.
func retryProxy(t *testing.T, tg *target, bad, good *rawUpstream) *proxy {
	return startProxy(t, tg, fmt.Sprintf(`
    upstream u {
        server %s max_fails=0;
        server %s backup max_fails=0;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        client_max_body_size 1m;
        location /v10/ { proxy_pass http://u/; proxy_next_upstream error timeout http_502; }
        location /v11/ { proxy_pass http://u/; proxy_next_upstream error timeout http_502; proxy_http_version 1.1; }
        location /post/ { proxy_pass http://u/; proxy_next_upstream error timeout http_502 non_idempotent; }
    }`, bad.addr, good.addr))
}

// TestRetryNeverForwardsBodyAsRequest sends a request whose body is
// itself a request to a group whose first server reads it and fails. The
// second server must get the request whole — its head, then its body —
// and nothing else: a retry that sends only the body would make the body
// a request of its own (request smuggling).
func TestRetryNeverForwardsBodyAsRequest(t *testing.T) {
	smuggled := []byte("PUT /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	forEachTarget(t, func(t *testing.T, tg *target) {
		bad := newRawUpstream(t, "bad", true)
		good := newRawUpstream(t, "good", false)
		p := retryProxy(t, tg, bad, good)
		head := len(fmt.Sprintf("PUT /v10/real HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Fail: close-after=%d\r\nContent-Length: %d\r\n\r\n", len(smuggled), len(smuggled)))
		cases := []struct {
			name string
			rc   retryCase
		}{
			{"body in a later packet, server closes", retryCase{method: "PUT", body: smuggled, packets: []int{head}, fail: fmt.Sprintf("close-after=%d", len(smuggled)), location: "/v10/"}},
			{"body with the head, server closes", retryCase{method: "PUT", body: smuggled, fail: fmt.Sprintf("close-after=%d", len(smuggled)), location: "/v10/"}},
			{"chunked body in a later packet, HTTP/1.1 upstream", retryCase{method: "PUT", body: smuggled, chunked: true, packets: []int{head}, fail: "status=502", location: "/v11/"}},
			{"chunked body, HTTP/1.0 upstream", retryCase{method: "PUT", body: smuggled, chunked: true, packets: []int{head}, fail: "status=502", location: "/v10/"}},
			{"server answers 502", retryCase{method: "PUT", body: smuggled, packets: []int{head}, fail: "status=502", location: "/v10/"}},
			{"POST with non_idempotent", retryCase{method: "POST", body: smuggled, packets: []int{head}, fail: "status=502", location: "/post/"}},
			{"large body held in a file, server closes", retryCase{method: "PUT", body: bytes.Repeat(smuggled, 2000), packets: []int{head, 5000}, fail: "close-after=60000", location: "/v10/"}},
			{"large chunked body held in a file, server answers 502", retryCase{method: "PUT", body: bytes.Repeat(smuggled, 2000), chunked: true, packets: []int{head}, fail: "status=502", location: "/v11/"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp, goodGotIt := c.rc.check(t, p.addr, bad, good)
				// Small bodies are kept whole, by nginx and by headroom,
				// so the request goes to the second server.
				if !goodGotIt {
					t.Errorf("the second server did not get the request; the client got %d %q", resp.Status, truncate(resp.Body, 80))
				}
			})
		}
	})
}

// TestRetryPrefixProperty sends requests split into random packets, with
// bodies below and above the proxy's buffers, to a first server that
// fails in a random way (closing after a random part of the body, or
// answering 502 after all of it): whatever happens, each server receives
// a prefix of the one request and nothing else, and when the second
// server receives it whole the client gets that server's answer.
func TestRetryPrefixProperty(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		bad := newRawUpstream(t, "bad", true)
		good := newRawUpstream(t, "good", false)
		p := retryProxy(t, tg, bad, good)
		rng := rand.New(rand.NewSource(1))
		n := 60
		if testing.Short() {
			n = 15
		}
		for i := 0; i < n; i++ {
			size := []int{0, 1, 100, 3000, 20000, 70000}[rng.Intn(6)]
			method := []string{"PUT", "POST", "DELETE"}[rng.Intn(3)]
			body := payload(size, int64(i))
			if rng.Intn(3) == 0 && size > 0 {
				// A body that looks like requests of the same method.
				req := method + " /x HTTP/1.1\r\nHost: y\r\n\r\n"
				body = bytes.Repeat([]byte(req), size/len(req)+1)[:size]
			}
			rc := retryCase{
				method:   method,
				body:     body,
				chunked:  rng.Intn(2) == 0,
				location: []string{"/v10/", "/v11/", "/post/"}[rng.Intn(3)],
			}
			if rng.Intn(2) == 0 {
				rc.fail = "status=502"
			} else {
				rc.fail = fmt.Sprintf("close-after=%d", rng.Intn(size+1))
			}
			total := len(rc.wire())
			for k := rng.Intn(4); k > 0; k-- {
				rc.packets = append(rc.packets, 1+rng.Intn(total))
			}
			t.Run(fmt.Sprintf("%d %s %s %d bytes chunked=%v %s packets=%v", i, rc.method, rc.location, size, rc.chunked, rc.fail, rc.packets), func(t *testing.T) {
				rc.check(t, p.addr, bad, good)
			})
		}
	})
}
