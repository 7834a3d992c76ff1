// Command tlshelp is the TLS client of bench/tls.sh. It speaks HTTP/1.1
// over crypto/tls to a server on the loopback, never verifies the
// server's certificate (the benchmark's are self-signed), and never
// resumes a session: every connection makes a full handshake. It offers
// resumption as a browser does (the session_ticket extension in TLS 1.2,
// psk_key_exchange_modes in TLS 1.3), so that both servers issue the
// tickets they would issue to a browser, but it keeps none. Its key
// exchange groups are OpenSSL 3's client defaults that crypto/tls has
// (X25519, P-256, P-521, P-384, in that order), so that it offers what
// wrk and curl offer.
//
// It has three modes, the first argument:
//
//	tlshelp get -addr A -path P
//
// makes one connection and one request, prints the answer's body and
// exits 0 if the answer was 200.
//
//	tlshelp hold -addr A -path P -n N
//
// opens N connections, each of which completes the handshake and one
// request, and holds them all open and idle until it receives SIGTERM or
// SIGINT (or -hold elapses). It prints one line when all of them are idle:
//
//	READY opened=N failed=F version=TLSv1.3 group=X25519 cipher=TLS_AES_128_GCM_SHA256
//
// and one when it stops:
//
//	DONE open=N closed_by_peer=C
//
// where closed_by_peer counts the connections the server closed while
// they were held.
//
//	tlshelp handshakes -addr A -path P -n M -c C
//
// makes M connections, at most C at a time, each of which completes the
// handshake, makes one request, reads the answer and closes (sending
// close_notify), and prints
//
//	DONE ok=M failed=F seconds=S per_second=R version=... group=... cipher=...
//
// In every mode -tls 1.3 (the default) allows TLS 1.3 only and -tls 1.2
// TLS 1.2 only. The first error is written to standard error.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet("tlshelp "+mode, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18581", "server address (a loopback host:port)")
	path := fs.String("path", "/", "path of the request made on each connection")
	version := fs.String("tls", "1.3", "TLS version to use: 1.3 or 1.2")
	n := fs.Int("n", 1, "number of connections")
	concurrency := fs.Int("c", 32, "handshakes mode: connections in progress at the same time")
	parallel := fs.Int("parallel", 64, "hold mode: connections being opened at the same time")
	hold := fs.Duration("hold", 2*time.Minute, "hold mode: longest time to hold the connections before exiting on its own")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for each connect, handshake, request and answer")
	_ = fs.Parse(os.Args[2:])

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fatal(fmt.Errorf("-addr %q: only loopback addresses are allowed", *addr))
	}
	if *n < 1 || *concurrency < 1 || *parallel < 1 {
		fatal(errors.New("-n, -c and -parallel must be at least 1"))
	}
	cl := &client{addr: *addr, path: *path, timeout: *timeout}
	switch *version {
	case "1.3":
		cl.version = tls.VersionTLS13
	case "1.2":
		cl.version = tls.VersionTLS12
	default:
		fatal(fmt.Errorf("-tls %q: want 1.3 or 1.2", *version))
	}

	switch mode {
	case "get":
		c, body, err := cl.request()
		if err != nil {
			fatal(err)
		}
		c.Close()
		os.Stdout.Write(body)
	case "hold":
		holdMode(cl, *n, *parallel, *hold)
	case "handshakes":
		handshakesMode(cl, *n, *concurrency)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: tlshelp get|hold|handshakes [-addr HOST:PORT] [-path P] [-tls 1.3|1.2] [-n N] [-c C] [-parallel P] [-hold D] [-timeout D]")
	os.Exit(2)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "tlshelp:", err)
	os.Exit(2)
}

// client makes the connections of one run.
type client struct {
	addr    string
	path    string
	version uint16
	timeout time.Duration

	// mu guards state, the first connection's parameters.
	mu    sync.Mutex
	state *tls.ConnectionState
}

// config is the client's TLS configuration: no verification (the
// certificates are self-signed), no session cache (so no resumption).
func (cl *client) config() *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		MinVersion:         cl.version,
		MaxVersion:         cl.version,
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP521, tls.CurveP384},
		ClientSessionCache: forgetfulCache{},
	}
}

// forgetfulCache is a session cache that keeps nothing. With a cache set,
// crypto/tls offers resumption (and so gets tickets); with this one it
// never resumes.
type forgetfulCache struct{}

func (forgetfulCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (forgetfulCache) Put(string, *tls.ClientSessionState)        {}

// request connects, completes the handshake, sends one request and reads
// its answer, and returns the connection open, with the answer's body.
func (cl *client) request() (*tls.Conn, []byte, error) {
	deadline := time.Now().Add(cl.timeout)
	raw, err := net.DialTimeout("tcp", cl.addr, cl.timeout)
	if err != nil {
		return nil, nil, err
	}
	c := tls.Client(raw, cl.config())
	_ = c.SetDeadline(deadline)
	if err := c.Handshake(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("handshake: %w", err)
	}
	st := c.ConnectionState()
	if st.DidResume {
		c.Close()
		return nil, nil, errors.New("the session was resumed")
	}
	cl.mu.Lock()
	if cl.state == nil {
		cl.state = &st
	}
	cl.mu.Unlock()
	req := "GET " + cl.path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tlshelp\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, nil, err
	}
	r := bufio.NewReaderSize(c, 4096)
	body, err := readResponse(r)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if r.Buffered() > 0 {
		c.Close()
		return nil, nil, errors.New("unexpected bytes after the answer")
	}
	_ = c.SetDeadline(time.Time{})
	return c, body, nil
}

// params describes the first connection's TLS parameters.
func (cl *client) params() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state == nil {
		return "version=- group=- cipher=-"
	}
	v := "TLSv1.3"
	if cl.state.Version == tls.VersionTLS12 {
		v = "TLSv1.2"
	}
	group := "-"
	if cl.state.CurveID != 0 {
		group = cl.state.CurveID.String()
	}
	return fmt.Sprintf("version=%s group=%s cipher=%s", v, group, tls.CipherSuiteName(cl.state.CipherSuite))
}

// holdMode opens n connections, at most parallel at a time, and holds them.
func holdMode(cl *client, n, parallel int, hold time.Duration) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	var (
		mu       sync.Mutex
		conns    = make([]*tls.Conn, 0, n)
		failed   int
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan struct{})
	for w := 0; w < parallel && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				c, _, err := cl.request()
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	fmt.Printf("READY opened=%d failed=%d %s\n", len(conns), failed, cl.params())
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "tlshelp: first error:", firstErr)
	}
	if hold > 0 && len(conns) > 0 {
		t := time.NewTimer(hold)
		select {
		case <-stop:
		case <-t.C:
		}
		t.Stop()
	}
	var closed atomic.Int64
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if closedByPeer(c) {
				closed.Add(1)
			}
			c.Close()
		}()
	}
	wg.Wait()
	fmt.Printf("DONE open=%d closed_by_peer=%d\n", len(conns)-int(closed.Load()), closed.Load())
	if len(conns) == 0 {
		os.Exit(1)
	}
}

// closedByPeer reports whether the server closed c: a read that waits
// briefly ends with an error other than its timeout. It reads only what
// the server sent after the answer (session tickets, an alert).
func closedByPeer(c *tls.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

// handshakesMode makes n connections, at most concurrency at a time, each
// of which makes one request and closes.
func handshakesMode(cl *client, n, concurrency int) {
	var (
		ok, failed atomic.Int64
		errOnce    sync.Once
		wg         sync.WaitGroup
	)
	next := make(chan struct{})
	start := time.Now()
	for w := 0; w < concurrency && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				c, _, err := cl.request()
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { fmt.Fprintln(os.Stderr, "tlshelp: first error:", err) })
					continue
				}
				c.Close()
				ok.Add(1)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	sec := time.Since(start).Seconds()
	fmt.Printf("DONE ok=%d failed=%d seconds=%.3f per_second=%.0f %s\n",
		ok.Load(), failed.Load(), sec, float64(ok.Load())/sec, cl.params())
	if ok.Load() == 0 {
		os.Exit(1)
	}
}

// readResponse reads one answer's head and body (Content-Length or
// chunked) and returns the body. Only status 200 is accepted, and the
// connection must stay open.
func readResponse(r *bufio.Reader) ([]byte, error) {
	status, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	f := strings.Fields(status)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		return nil, fmt.Errorf("bad status line %q", strings.TrimSpace(status))
	}
	if f[1] != "200" {
		return nil, fmt.Errorf("status %s", f[1])
	}
	length, chunked, closeAfter := -1, false, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			length, err = strconv.Atoi(value)
			if err != nil || length < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", value)
			}
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		case "connection":
			closeAfter = strings.Contains(strings.ToLower(value), "close")
		}
	}
	if closeAfter {
		return nil, errors.New("server answered Connection: close")
	}
	if chunked {
		return readChunked(r)
	}
	if length < 0 {
		return nil, errors.New("answer has neither Content-Length nor chunked encoding")
	}
	b := make([]byte, length)
	_, err = io.ReadFull(r, b)
	return b, err
}

// readChunked reads a chunked body and its trailers.
func readChunked(r *bufio.Reader) ([]byte, error) {
	var body bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		sizeText, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		size, err := strconv.ParseInt(sizeText, 16, 32)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for {
				t, err := r.ReadString('\n')
				if err != nil {
					return nil, err
				}
				if strings.TrimRight(t, "\r\n") == "" {
					return body.Bytes(), nil
				}
			}
		}
		if _, err := io.CopyN(&body, r, size); err != nil {
			return nil, err
		}
		if _, err := r.Discard(2); err != nil {
			return nil, err
		}
	}
}
