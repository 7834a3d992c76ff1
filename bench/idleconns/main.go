// Command idleconns opens N keep-alive client connections to an HTTP server,
// sends one "GET / HTTP/1.1" on each, reads the whole response, and then
// holds every connection open and idle until it receives SIGTERM or SIGINT
// (or -hold elapses). It prints one line when all connections are idle:
//
//	READY opened=N failed=F
//
// and one when it stops:
//
//	DONE open=N closed_by_peer=C
//
// where closed_by_peer counts the connections the server had closed while
// they were idle. With -n 1 -hold 0 it is a probe: it exits 0 only if the
// server answered 200 with a body.
package main

import (
	"bufio"
	"bytes"
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
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "server address (host:port on the loopback)")
	n := flag.Int("n", 10000, "number of connections to open")
	parallel := flag.Int("parallel", 64, "connections being opened at the same time")
	hold := flag.Duration("hold", 5*time.Minute, "longest time to hold the connections before exiting on its own")
	timeout := flag.Duration("timeout", 10*time.Second, "time limit for each connect + request + response")
	wantBody := flag.String("body", "", "if set, every response body must equal this string")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fatal(fmt.Errorf("-addr %q: only loopback addresses are allowed", *addr))
	}
	if *n < 1 || *parallel < 1 {
		fatal(errors.New("-n and -parallel must be at least 1"))
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	conns, failed, firstErr := open(*addr, *n, *parallel, *timeout, *wantBody)
	fmt.Printf("READY opened=%d failed=%d\n", len(conns), failed)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "idleconns: first error:", firstErr)
	}
	if *hold > 0 && len(conns) > 0 {
		t := time.NewTimer(*hold)
		select {
		case <-stop:
		case <-t.C:
		}
		t.Stop()
	}
	closed := 0
	for _, c := range conns {
		if closedByPeer(c) {
			closed++
		}
		c.Close()
	}
	fmt.Printf("DONE open=%d closed_by_peer=%d\n", len(conns)-closed, closed)
	if len(conns) == 0 {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "idleconns:", err)
	os.Exit(2)
}

// open makes the connections with at most parallel attempts in flight.
func open(addr string, n, parallel int, timeout time.Duration, wantBody string) ([]net.Conn, int, error) {
	var (
		mu       sync.Mutex
		conns    = make([]net.Conn, 0, n)
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
				c, err := oneRequest(addr, timeout, wantBody)
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
	return conns, failed, firstErr
}

// oneRequest connects, sends one request and reads its response, leaving
// the connection open.
func oneRequest(addr string, timeout time.Duration, wantBody string) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(deadline)
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: idleconns\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(c, 4096)
	b, err := readResponse(r)
	if err != nil {
		c.Close()
		return nil, err
	}
	if r.Buffered() > 0 {
		c.Close()
		return nil, errors.New("unexpected bytes after the response")
	}
	if wantBody != "" && string(b) != wantBody {
		c.Close()
		return nil, fmt.Errorf("body %q, want %q", b, wantBody)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// readResponse reads one response head and its body (Content-Length or
// chunked) and returns the body. Only status 200 is accepted.
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
		return nil, errors.New("response has neither Content-Length nor chunked encoding")
	}
	b := make([]byte, length)
	_, err = io.ReadFull(r, b)
	return b, err
}

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
			// Trailers end with an empty line.
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

// closedByPeer reports whether the server has closed (or reset) c, using a
// non-blocking peek so that open connections cost no wait.
func closedByPeer(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == syscall.EAGAIN:
		case rerr != nil:
			closed = true
		case n == 0:
			closed = true
		}
		return true
	})
	return closed || err != nil
}
