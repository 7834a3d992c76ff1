package proxy

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// This file measures what an idle TLS 1.3 keep-alive connection keeps on
// the heap: a server on one worker in this process, as headroom runs it,
// and a child process (this test binary again) that opens N connections,
// makes one small request on each, as bench/tls.sh's mem test does, and
// holds them. The clients live in another process so that their own
// crypto/tls state is not counted.
//
//	go test ./internal/proxy -run '^$' -bench TLSIdleMemory -benchtime 1x
//	HEADROOM_TLSMEM_PROFILE=/tmp/heap.pb.gz go test ./internal/proxy -run '^$' -bench TLSIdleMemory -benchtime 1x
//	go tool pprof -sample_index=inuse_space -top /tmp/heap.pb.gz
//
// The profile is written while the connections are held, with every
// allocation sampled, so its inuse_space is what they keep.

const tlsMemClientEnv = "HEADROOM_TLSMEM_CLIENT"

// BenchmarkTLSIdleMemory reports the live heap per idle TLS 1.3
// connection, after a collection, and the bytes allocated per
// connection for its handshake and request (the garbage that sets how
// far the heap grows past what is live).
func BenchmarkTLSIdleMemory(b *testing.B) {
	const n = 2000
	profile := os.Getenv("HEADROOM_TLSMEM_PROFILE")
	if profile != "" {
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	addr := tlsMemServer(b, n, "ssl")
	idleMemory(b, addr, n, profile, "")
}

// idleMemory holds n connections of the client process in the given
// mode ("" for HTTP/1.1 over TLS; see TestTLSMemClient) to the server at
// addr, b.N times, and reports what they keep.
func idleMemory(b *testing.B, addr string, n int, profile, mode string) {
	for range b.N {
		// Warm up the worker (pools, free lists) as the bench script
		// does before it measures.
		tlsMemHold(b, addr, mode, 100, func() {})
		runtime.GC()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var held runtime.MemStats
		rssBefore := tlsMemRSS()
		var rssHeld, rssFreed int64
		tlsMemHold(b, addr, mode, n, func() {
			rssHeld = tlsMemRSS()
			runtime.ReadMemStats(&held)
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			debug.FreeOSMemory()
			rssFreed = tlsMemRSS()
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					b.Fatal(err)
				}
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		})
		live := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
		alloc := float64(held.TotalAlloc-before.TotalAlloc) / float64(n)
		b.ReportMetric(live, "live-B/conn")
		b.ReportMetric(alloc, "alloc-B/conn")
		b.ReportMetric(float64(held.Mallocs-before.Mallocs)/float64(n), "allocs/conn")
		b.ReportMetric(float64(rssHeld-rssBefore)/float64(n), "rss-B/conn")
		b.ReportMetric(float64(rssFreed-rssBefore)/float64(n), "rss-collected-B/conn")
		if testing.Verbose() {
			b.Logf("held: heap inuse %+d B/conn, stacks %+d B/conn, heap idle unreleased %+d B/conn, %d collections",
				(int64(held.HeapInuse)-int64(before.HeapInuse))/int64(n),
				(int64(held.StackInuse)-int64(before.StackInuse))/int64(n),
				(int64(held.HeapIdle-held.HeapReleased)-int64(before.HeapIdle-before.HeapReleased))/int64(n),
				held.NumGC-before.NumGC)
		}
	}
}

// tlsMemServer starts a server with one listener with the given listen
// parameters ("ssl", "ssl http2", "http2"; with ssl an ECDSA P-256
// certificate, the rest of TLS at its defaults, as bench/tls.sh's) and
// returns its address.
func tlsMemServer(b *testing.B, n int, params string) string {
	dir := b.TempDir()
	crt, key := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	writeTestCert(b, crt, key)
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	slots := 2*n + 256
	src := fmt.Sprintf(`events { worker_connections %d; }
http {
    access_log off;
    keepalive_timeout 300s;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen %s %s backlog=4096;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location = / { return 200 "%s"; }
    }
}
`, slots, addr, params, crt, key, strings.Repeat("x", 100))
	cfg, err := conf.Load(conf.LoadOptions{File: "tlsmem.conf", Source: []byte(src), Prefix: dir})
	if err != nil {
		b.Fatalf("configuration: %v", err)
	}
	el := logs.NewErrorLog()
	if err := el.Open([]logs.Target{{Path: filepath.Join(dir, "error.log"), Level: logs.Info}}); err != nil {
		b.Fatal(err)
	}
	srv, err := New(cfg, Options{Workers: 1, Slots: slots, AllowedSlots: slots, Nofile: 20000, ErrorLog: el, Version: "test"})
	if err != nil {
		b.Fatalf("server: %v", err)
	}
	srv.Run()
	b.Cleanup(srv.Stop)
	return addr
}

// tlsMemRSS returns the process's resident set in bytes, as the bench
// script reads it.
func tlsMemRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// writeTestCert writes a self-signed ECDSA P-256 certificate and its key.
func writeTestCert(tb testing.TB, crtPath, keyPath string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

// tlsMemHold runs the client process, waits until it holds n
// connections, runs held, and lets the client close them.
func tlsMemHold(b *testing.B, addr, mode string, n int, held func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestTLSMemClient$")
	cmd.Env = append(os.Environ(), tlsMemClientEnv+"="+addr+","+strconv.Itoa(n)+","+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			cmd.Wait()
			b.Fatalf("client: %v", err)
		}
		if strings.HasPrefix(line, "HELD ") {
			if line != "HELD "+strconv.Itoa(n)+"\n" {
				b.Fatalf("client: %s", line)
			}
			break
		}
	}
	// Let the last answers and tickets settle on the server's side.
	time.Sleep(200 * time.Millisecond)
	held()
	stdin.Close()
	io.Copy(io.Discard, r)
	cmd.Wait()
}

// TestTLSMemClient is the client process of BenchmarkTLSIdleMemory and
// BenchmarkH2IdleMemory; it does nothing unless started by them. Its
// mode is "" (HTTP/1.1 over TLS), "h2" (HTTP/2 over TLS) or "h2c"
// (HTTP/2 in cleartext).
func TestTLSMemClient(t *testing.T) {
	arg := os.Getenv(tlsMemClientEnv)
	if arg == "" {
		t.Skip("the client process of BenchmarkTLSIdleMemory")
	}
	parts := strings.Split(arg, ",")
	addr, mode := parts[0], parts[2]
	n, _ := strconv.Atoi(parts[1])
	request := tlsMemRequest
	if mode != "" {
		request = h2MemRequest
	}
	cfg := &tls.Config{
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP521, tls.CurveP384},
		// Offer resumption as a browser does, so that the server issues
		// its ticket, but never resume.
		ClientSessionCache: forgetfulSessionCache{},
	}
	switch mode {
	case "h2":
		cfg.NextProtos = []string{"h2", "http/1.1"}
	case "h2c":
		cfg = nil
	}
	conns := make([]net.Conn, 0, n)
	sem := make(chan struct{}, 64)
	results := make(chan net.Conn)
	for range n {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results <- request(addr, cfg)
		}()
	}
	for range n {
		if c := <-results; c != nil {
			conns = append(conns, c)
		}
	}
	fmt.Printf("HELD %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

type forgetfulSessionCache struct{}

func (forgetfulSessionCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (forgetfulSessionCache) Put(string, *tls.ClientSessionState)        {}

// tlsMemRequest connects, makes one request and reads its answer.
func tlsMemRequest(addr string, cfg *tls.Config) net.Conn {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return nil
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	br := bufio.NewReader(c)
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			c.Close()
			return nil
		}
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := io.CopyN(io.Discard, br, int64(length)); err != nil {
		c.Close()
		return nil
	}
	c.SetDeadline(time.Time{})
	return c
}
