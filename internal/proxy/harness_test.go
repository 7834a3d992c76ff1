package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/logs"
)

// This file is the package's test bench: a Server built from a
// configuration text and run on its own loop inside the test process,
// whose clients are in-memory transports driven by the test (no socket,
// no process), in front of upstreams that are Go handlers on loopback.
// It lets a request's path through the HTTP/1 connection, its phases, the
// upstream attempt and the body pipe be tested piece by piece.

// memTransport is a client transport in memory. Bytes the test sends wait
// in in; what the server writes collects in out, as much as room allows
// (negative: no limit), so that a client that does not read is one with
// no room.
type memTransport struct {
	in      []byte
	eof     bool
	out     []byte
	room    int
	shut    bool
	closed  bool
	resetRd bool
}

func (m *memTransport) Read(p []byte) (int, error) {
	if m.resetRd {
		return 0, unix.ECONNRESET
	}
	if len(m.in) == 0 {
		if m.eof {
			return 0, nil
		}
		return 0, engine.ErrAgain
	}
	n := copy(p, m.in)
	m.in = m.in[n:]
	return n, nil
}

func (m *memTransport) Write(p []byte) (int, error) {
	if m.closed || m.shut {
		return 0, unix.EPIPE
	}
	n := len(p)
	if m.room >= 0 {
		n = min(n, m.room)
		m.room -= n
	}
	if n == 0 {
		return 0, engine.ErrAgain
	}
	m.out = append(m.out, p[:n]...)
	return n, nil
}

func (m *memTransport) Readable() bool       { return len(m.in) > 0 || m.eof || m.resetRd }
func (m *memTransport) PeerClosed() bool     { return m.eof }
func (m *memTransport) CloseWrite()          { m.shut = true }
func (m *memTransport) Close()               { m.closed = true }
func (m *memTransport) Flush() (bool, error) { return true, nil }

// bench is a server on one worker whose loop runs in the test process.
type bench struct {
	t       *testing.T
	srv     *Server
	w       *worker
	dir     string
	logPath string
	// addrs are the addresses given to "listen 127.0.0.1:0;", in the
	// order of the configuration, for answers that name the port.
	addrs []string
}

// newBench loads a configuration made of the given http-level text (server
// blocks, upstreams, settings) and starts its worker. "listen 127.0.0.1:0"
// is given a free port, since nginx's language has no port 0. The error
// log is at info level in the bench's directory; temporary files go there
// too.
func newBench(t *testing.T, httpText string) *bench {
	t.Helper()
	dir := t.TempDir()
	b := &bench{t: t, dir: dir, logPath: filepath.Join(dir, "error.log")}
	for strings.Contains(httpText, "127.0.0.1:0;") {
		addr := freeAddr(t)
		b.addrs = append(b.addrs, addr)
		httpText = strings.Replace(httpText, "127.0.0.1:0;", addr+";", 1)
	}
	// The default access log is logs/access.log under the prefix.
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "events { worker_connections 64; }\nhttp {\n" + httpText + "\n}\n"
	cfg, err := conf.Load(conf.LoadOptions{File: "bench.conf", Source: []byte(src), Prefix: dir})
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	el := logs.NewErrorLog()
	if err := el.Open([]logs.Target{{Path: b.logPath, Level: logs.Info}}); err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, Options{Workers: 1, Slots: 64, AllowedSlots: 64, Nofile: 1024, ErrorLog: el, Version: "test"})
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	b.srv = srv
	b.w = srv.workers[0]
	srv.Run()
	t.Cleanup(srv.Stop)
	return b
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// do runs fn on the worker's loop and waits for it.
func (b *bench) do(fn func()) {
	b.t.Helper()
	done := make(chan struct{})
	if !b.w.loop.Post(func() { fn(); close(done) }) {
		b.t.Fatal("the worker's loop has ended")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		b.t.Fatal("the worker's loop did not run posted work within 10 s")
	}
}

// accessLog returns what the default access log holds so far.
func (b *bench) accessLog() string {
	b.do(b.w.flushLogs)
	data, _ := os.ReadFile(filepath.Join(b.dir, "logs", "access.log"))
	return string(data)
}

// errorLog returns what the error log holds so far.
func (b *bench) errorLog() string {
	b.do(func() {}) // lines are written on the loop's thread
	data, _ := os.ReadFile(b.logPath)
	return string(data)
}

// memConn is one client over an in-memory transport.
type memConn struct {
	b    *bench
	mt   *memTransport
	c    *engine.Conn
	cc   *clientConn
	read int // bytes of out already returned by response
}

// connect opens a client connection on the first listener, from
// 127.0.0.1:40000.
func (b *bench) connect() *memConn {
	b.t.Helper()
	return b.connectTo(-1)
}

// connectTo opens a client connection to the i-th "listen 127.0.0.1:0"
// address of the configuration; -1 is the server's first listener.
func (b *bench) connectTo(i int) *memConn {
	b.t.Helper()
	m := &memConn{b: b, mt: &memTransport{room: -1}}
	b.do(func() {
		w := b.w
		cc := w.getClient()
		c, err := w.loop.AddUnpolled(engine.KindClient, cc)
		if err != nil {
			b.t.Errorf("no slot: %v", err)
			return
		}
		m.c, m.cc = c, cc
		ln := w.srv.listeners[0]
		if i >= 0 {
			for _, l := range w.srv.listeners {
				if l.addr == b.addrs[i] {
					ln = l
				}
			}
		}
		w.startClient(cc, c, m.mt, ln, netip.MustParseAddrPort("127.0.0.1:40000"))
	})
	return m
}

// live reports whether the server still holds the connection; run on
// the loop.
func (m *memConn) live() bool { return !m.mt.closed && m.c.Data == m.cc }

// send delivers bytes from the client and lets the server read them.
func (m *memConn) send(s string) {
	m.b.do(func() {
		m.mt.in = append(m.mt.in, s...)
		m.readEvent()
	})
}

// shutWrite closes the client's side, as a client that has sent all it
// will.
func (m *memConn) shutWrite() {
	m.b.do(func() {
		m.mt.eof = true
		m.readEvent()
	})
}

// readEvent runs the handlers as the loop does for a socket's event:
// the read handler, then the write handler if the client has room, since
// an edge-triggered event reports every readiness at once and a socket
// that can take bytes is writable with each. Run on the loop.
func (m *memConn) readEvent() {
	if m.live() {
		m.c.OnRead(m.c)
	}
	if m.live() && m.mt.room != 0 && !m.mt.shut {
		m.c.OnWrite(m.c)
	}
}

// setRoom sets how many more bytes the client takes (negative: all) and
// lets the server write.
func (m *memConn) setRoom(n int) {
	m.b.do(func() {
		m.mt.room = n
		if m.live() {
			m.c.OnWrite(m.c)
		}
	})
}

// state returns what the client has received and whether the server has
// closed the connection.
func (m *memConn) state() (out []byte, closed bool) {
	m.b.do(func() {
		out = bytes.Clone(m.mt.out)
		closed = !m.live()
	})
	return out, closed
}

// waitClosed waits until the server has closed the connection.
func (m *memConn) waitClosed() []byte {
	m.b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, closed := m.state()
		if closed {
			return out
		}
		if time.Now().After(deadline) {
			m.b.t.Fatalf("the server did not close the connection; the client has %q", out)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// response waits for the next whole response on the connection and
// returns it with its body read; method is the request's, for framing.
func (m *memConn) response(method string) *http.Response {
	m.b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, closed := m.state()
		rest := out[m.read:]
		br := bufio.NewReader(bytes.NewReader(rest))
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err == nil {
			body, berr := io.ReadAll(resp.Body)
			if berr == nil || closed {
				resp.Body = io.NopCloser(bytes.NewReader(body))
				if berr != nil {
					resp.Header.Set("X-Bench-Body-Error", berr.Error())
				}
				m.read = len(out) - br.Buffered()
				if resp.StatusCode == 100 {
					continue
				}
				return resp
			}
		} else if closed && !errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF {
			m.b.t.Fatalf("malformed response %q: %v", rest, err)
		}
		if closed && (err != nil) {
			m.b.t.Fatalf("the connection closed before a whole response; the client has %q", rest)
		}
		if time.Now().After(deadline) {
			m.b.t.Fatalf("no whole response within 10 s; the client has %q", rest)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// roundTrip sends a request and returns its response and body.
func (m *memConn) roundTrip(req string) (*http.Response, string) {
	m.b.t.Helper()
	m.send(req)
	method, _, _ := strings.Cut(req, " ")
	resp := m.response(method)
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// goUpstream starts a Go handler on loopback and returns its address.
func goUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// rawUpstream starts a loopback server whose connections are handed to
// fn as they are, for upstreams that misbehave on purpose.
func rawUpstream(t *testing.T, fn func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// ended reports whether the server has ended the stream towards the
// client, by shutting its sending side or closing the connection: a
// client reading it would see the end of the stream. A server that
// answers and then lingers has ended it while still reading.
func (m *memConn) ended() bool {
	var ended bool
	m.b.do(func() { ended = m.mt.shut || !m.live() })
	return ended
}

// waitEnded waits until the server has ended the stream towards the
// client and returns what the client has received.
func (m *memConn) waitEnded() []byte {
	m.b.t.Helper()
	m.b.eventually("the server to end the stream towards the client", m.ended)
	out, _ := m.state()
	return out
}

// unread returns what the client has received after the responses that
// response has returned.
func (m *memConn) unread() []byte {
	out, _ := m.state()
	return out[m.read:]
}

// eventually waits, polling, until cond holds; it fails the test after
// 10 s. It is for waiting only: nothing is concluded from how long it
// took.
func (b *bench) eventually(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// accessLines waits until the default access log holds at least n lines
// and returns its lines.
func (b *bench) accessLines(n int) []string {
	b.t.Helper()
	var lines []string
	b.eventually(strconv.Itoa(n)+" access log lines", func() bool {
		lines = nonEmptyLines(b.accessLog())
		return len(lines) >= n
	})
	return lines
}

// waitErrorLog waits until the error log contains s and returns it.
func (b *bench) waitErrorLog(s string) string {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := b.errorLog()
		if strings.Contains(log, s) {
			return log
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited 10 s for the error log to contain %q; it has:\n%s", s, log)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// nonEmptyLines splits a log's text into its lines.
func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// wake makes the worker's loop run another round of events, after which
// it does its between-rounds work (queued requests, a shutdown's next
// step), if the loop still runs. Work the bench posts runs after a
// round's events, so what it changes is seen by the next round.
func (b *bench) wake() {
	b.w.loop.Post(func() {})
}

// sub returns the bench for a subtest: the same server and worker, with
// failures of the bench's helpers reported to t, so that one failing in
// t.Run stops that subtest and not, from its goroutine, the parent.
// Clients made through it belong to the subtest.
func (b *bench) sub(t *testing.T) *bench {
	c := *b
	c.t = t
	return &c
}
