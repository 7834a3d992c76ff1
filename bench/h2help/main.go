// Command h2help is the HTTP/2 client of bench/h2.sh. It speaks HTTP/2 to
// a server on the loopback, over TLS (ALPN "h2", crypto/tls) or in
// cleartext with prior knowledge (-h2c), and writes its frames itself
// (golang.org/x/net/http2/hpack encodes and decodes the header blocks), so
// that it needs nothing from golang.org/x/net but the HPACK package.
//
// Each connection opens as a browser's does: the preface, a SETTINGS frame
// with Chrome's values (HEADER_TABLE_SIZE 65536, ENABLE_PUSH 0,
// INITIAL_WINDOW_SIZE 6291456, MAX_HEADER_LIST_SIZE 262144) and a
// connection WINDOW_UPDATE of 15663105, then one GET (HEADERS with
// END_STREAM) on stream 1. It acknowledges the server's SETTINGS and PINGs
// and reads until the answer's END_STREAM; only status 200 is accepted.
// Over TLS it never verifies the certificate (the benchmark's is
// self-signed) and never resumes a session, but offers resumption as a
// browser does (as bench/tlshelp does), so that the server issues the
// tickets it would issue to a browser; it offers X25519, P-256, P-521 and
// P-384 and the ALPN protocols h2 and http/1.1, and fails unless the
// server chooses h2.
//
// It has two modes, the first argument:
//
//	h2help get -addr A -path P [-h2c]
//
// makes one connection and one request, prints the answer's body and
// exits 0 if the answer was 200.
//
//	h2help hold -addr A -path P -n N [-h2c]
//
// opens N connections, each of which makes one request and reads its
// answer, and holds them all open and idle (it reads nothing more) until
// it receives SIGTERM or SIGINT (or -hold elapses; -hold 0 closes them at
// once). It prints one line when all of them are idle:
//
//	READY opened=N failed=F proto=h2 version=TLSv1.3 group=X25519 cipher=TLS_AES_128_GCM_SHA256
//
// and one when it stops:
//
//	DONE open=N closed_by_peer=C
//
// where closed_by_peer counts the connections the server closed (or sent
// GOAWAY on) while they were held. The first error is written to standard
// error.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2/hpack"
)

const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Frame types and flags (RFC 9113, section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// maxFrame is the largest frame payload accepted: the protocol's default
// SETTINGS_MAX_FRAME_SIZE, which the client does not raise.
const maxFrame = 16384

// maxBody bounds the answer's body.
const maxBody = 1 << 20

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet("h2help "+mode, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18680", "server address (a loopback host:port)")
	path := fs.String("path", "/", "path of the request made on each connection")
	h2c := fs.Bool("h2c", false, "cleartext HTTP/2 with prior knowledge instead of TLS")
	n := fs.Int("n", 1, "hold mode: number of connections")
	parallel := fs.Int("parallel", 64, "hold mode: connections being opened at the same time")
	hold := fs.Duration("hold", 2*time.Minute, "hold mode: longest time to hold the connections before exiting on its own (0: close them at once)")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for each connect, handshake, request and answer")
	_ = fs.Parse(os.Args[2:])

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
	cl := &client{addr: *addr, path: *path, h2c: *h2c, timeout: *timeout}
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
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: h2help get|hold [-addr HOST:PORT] [-path P] [-h2c] [-n N] [-parallel P] [-hold D] [-timeout D]")
	os.Exit(2)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "h2help:", err)
	os.Exit(2)
}

// client makes the connections of one run.
type client struct {
	addr    string
	path    string
	h2c     bool
	timeout time.Duration

	// mu guards state, the first connection's TLS parameters.
	mu    sync.Mutex
	state *tls.ConnectionState
}

// config is the client's TLS configuration: no verification (the
// certificate is self-signed), no session cache (so no resumption), ALPN
// h2 and http/1.1.
func (cl *client) config() *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		MaxVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP521, tls.CurveP384},
		ClientSessionCache: forgetfulCache{},
		NextProtos:         []string{"h2", "http/1.1"},
	}
}

// forgetfulCache is a session cache that keeps nothing. With a cache set,
// crypto/tls offers resumption (and so gets tickets); with this one it
// never resumes.
type forgetfulCache struct{}

func (forgetfulCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (forgetfulCache) Put(string, *tls.ClientSessionState)        {}

// conn is one HTTP/2 connection.
type conn struct {
	net.Conn
	r   *bufio.Reader
	dec *hpack.Decoder
}

// request connects, completes the handshake (over TLS), sends the preface,
// the settings and one GET, reads the answer, and returns the connection
// open, with the answer's body.
func (cl *client) request() (*conn, []byte, error) {
	deadline := time.Now().Add(cl.timeout)
	raw, err := net.DialTimeout("tcp", cl.addr, cl.timeout)
	if err != nil {
		return nil, nil, err
	}
	var nc net.Conn = raw
	if !cl.h2c {
		tc := tls.Client(raw, cl.config())
		_ = tc.SetDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			tc.Close()
			return nil, nil, fmt.Errorf("handshake: %w", err)
		}
		st := tc.ConnectionState()
		if st.DidResume {
			tc.Close()
			return nil, nil, errors.New("the session was resumed")
		}
		if st.NegotiatedProtocol != "h2" {
			tc.Close()
			return nil, nil, fmt.Errorf("the server chose ALPN protocol %q, not h2", st.NegotiatedProtocol)
		}
		cl.mu.Lock()
		if cl.state == nil {
			cl.state = &st
		}
		cl.mu.Unlock()
		nc = tc
	}
	_ = nc.SetDeadline(deadline)
	c := &conn{Conn: nc, r: bufio.NewReaderSize(nc, 4096), dec: hpack.NewDecoder(4096, nil)}
	body, err := c.exchange(cl.addr, cl.path, cl.h2c)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, body, nil
}

// appendFrame appends one frame's header and payload to b.
func appendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream&0x7fffffff)
	return append(b, payload...)
}

// exchange writes the preface, the settings, the connection window update
// and the GET on stream 1, then reads frames until the answer ends.
func (c *conn) exchange(authority, path string, h2c bool) ([]byte, error) {
	var settings []byte
	for _, s := range [][2]uint32{{0x1, 65536}, {0x2, 0}, {0x4, 6291456}, {0x6, 262144}} {
		settings = binary.BigEndian.AppendUint16(settings, uint16(s[0]))
		settings = binary.BigEndian.AppendUint32(settings, s[1])
	}
	scheme := "https"
	if h2c {
		scheme = "http"
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{
		{":method", "GET"}, {":authority", authority}, {":scheme", scheme}, {":path", path},
		{"user-agent", "h2help"}, {"accept", "*/*"},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			return nil, err
		}
	}
	out := []byte(preface)
	out = appendFrame(out, frameSettings, 0, 0, settings)
	out = appendFrame(out, 0x8, 0, 0, binary.BigEndian.AppendUint32(nil, 15663105))
	out = appendFrame(out, frameHeaders, flagEndStream|flagEndHeaders, 1, block.Bytes())
	if _, err := c.Write(out); err != nil {
		return nil, err
	}

	var body []byte
	status := ""
	for {
		typ, flags, stream, payload, err := c.readFrame()
		if err != nil {
			return nil, err
		}
		switch typ {
		case frameSettings:
			if flags&flagAck == 0 {
				if _, err := c.Write(appendFrame(nil, frameSettings, flagAck, 0, nil)); err != nil {
					return nil, err
				}
			}
		case framePing:
			if flags&flagAck == 0 {
				if _, err := c.Write(appendFrame(nil, framePing, flagAck, 0, payload)); err != nil {
					return nil, err
				}
			}
		case frameGoAway:
			return nil, fmt.Errorf("GOAWAY from the server: %x", payload)
		case frameRSTStream:
			return nil, fmt.Errorf("RST_STREAM from the server: %x", payload)
		case framePushPromise:
			return nil, errors.New("PUSH_PROMISE although push is disabled")
		case frameHeaders:
			frag, err := unpad(flags, payload, true)
			if err != nil {
				return nil, err
			}
			block := append([]byte(nil), frag...)
			for flags&flagEndHeaders == 0 {
				var t, f byte
				var s uint32
				t, f, s, payload, err = c.readFrame()
				if err != nil {
					return nil, err
				}
				if t != frameContinuation || s != stream {
					return nil, fmt.Errorf("frame type %d in a header block", t)
				}
				block = append(block, payload...)
				flags = flags&^flagEndHeaders | f&flagEndHeaders
			}
			fields, err := c.dec.DecodeFull(block)
			if err != nil {
				return nil, fmt.Errorf("header block: %w", err)
			}
			if stream != 1 {
				continue
			}
			for _, f := range fields {
				if f.Name == ":status" && status == "" {
					status = f.Value
				}
			}
			if flags&flagEndStream != 0 {
				return finish(status, body)
			}
		case frameData:
			if stream != 1 {
				continue
			}
			data, err := unpad(flags, payload, false)
			if err != nil {
				return nil, err
			}
			if len(body)+len(data) > maxBody {
				return nil, errors.New("the answer is longer than 1 MiB")
			}
			body = append(body, data...)
			if flags&flagEndStream != 0 {
				return finish(status, body)
			}
		}
	}
}

func finish(status string, body []byte) ([]byte, error) {
	if status != "200" {
		return nil, fmt.Errorf("status %q", status)
	}
	return body, nil
}

// unpad strips a DATA or HEADERS frame's padding and (HEADERS) priority.
func unpad(flags byte, p []byte, headers bool) ([]byte, error) {
	pad := 0
	if flags&flagPadded != 0 {
		if len(p) < 1 {
			return nil, errors.New("short padded frame")
		}
		pad = int(p[0])
		p = p[1:]
	}
	if headers && flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, errors.New("short HEADERS priority")
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, errors.New("padding longer than the frame")
	}
	return p[:len(p)-pad], nil
}

// readFrame reads one frame.
func (c *conn) readFrame() (typ, flags byte, stream uint32, payload []byte, err error) {
	var h [9]byte
	if _, err = io.ReadFull(c.r, h[:]); err != nil {
		return
	}
	n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	if n > maxFrame {
		err = fmt.Errorf("frame of %d bytes", n)
		return
	}
	typ, flags = h[3], h[4]
	stream = binary.BigEndian.Uint32(h[5:]) & 0x7fffffff
	payload = make([]byte, n)
	_, err = io.ReadFull(c.r, payload)
	return
}

// params describes the first connection's protocol and TLS parameters.
func (cl *client) params() string {
	if cl.h2c {
		return "proto=h2c"
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state == nil {
		return "proto=h2 version=- group=- cipher=-"
	}
	group := "-"
	if cl.state.CurveID != 0 {
		group = cl.state.CurveID.String()
	}
	return fmt.Sprintf("proto=%s version=TLSv1.3 group=%s cipher=%s", cl.state.NegotiatedProtocol, group, tls.CipherSuiteName(cl.state.CipherSuite))
}

// holdMode opens n connections, at most parallel at a time, and holds them.
func holdMode(cl *client, n, parallel int, hold time.Duration) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	var (
		mu       sync.Mutex
		conns    = make([]*conn, 0, n)
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
		fmt.Fprintln(os.Stderr, "h2help: first error:", firstErr)
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

// closedByPeer reports whether the server closed c or sent GOAWAY on it:
// it reads what the server sent after the answer (session tickets, frames)
// until a brief wait times out.
func closedByPeer(c *conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		typ, _, _, _, err := c.readFrame()
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
		if typ == frameGoAway {
			return true
		}
	}
}
