package integration

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// writeCert makes a self-signed ECDSA P-256 certificate for name and
// writes it and its key as PEM files in dir, returning their paths.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// tlsGet does a GET over TLS with the given SNI name (none when empty)
// (and Host) and TLS versions, and returns the answer and the connection's state.
func tlsGet(t *testing.T, addr, sni, path string, minV, maxV uint16) (*http.Response, string, tls.ConnectionState, error) {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: sni, MinVersion: minV, MaxVersion: maxV}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, "", tls.ConnectionState{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	host := sni
	if host == "" {
		host = "x"
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, "", c.ConnectionState(), err
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body), c.ConnectionState(), nil
}

// TestTLSTermination checks "listen ... ssl" against nginx: a request
// over TLS is served with $https, $scheme and the ssl variables set, a
// redirect names https, SNI chooses the server's certificate (a name no
// server has gets the default server's), the default protocols are TLS
// 1.2 only (nginx 1.22 on OpenSSL 3), ssl_protocols enables TLS 1.3, and
// plain HTTP to the port is answered with nginx's 400 page.
func TestTLSTermination(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		aCert, aKey := writeCert(t, dir, "a.test")
		bCert, bKey := writeCert(t, dir, "b.test")
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}} ssl;
        server_name a.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location /vars { return 200 "$scheme $https $ssl_protocol $ssl_server_name $ssl_session_reused\n"; }
        location /r { return 302 /vars; }
    }
    server {
        listen 127.0.0.1:{{PORT}} ssl;
        server_name b.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location / { return 200 "b\n"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}} ssl;
        ssl_certificate %[1]s;
        ssl_certificate_key %[2]s;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "$ssl_protocol\n"; }
    }`, aCert, aKey, bCert, bKey))
		other := fmt.Sprintf("127.0.0.1:%d", p.ports[1])
		for _, c := range []struct {
			sni, path, body, cn string
		}{
			{"a.test", "/vars", "https on TLSv1.2 a.test .\n", "a.test"},
			{"b.test", "/", "b\n", "b.test"},
			// A name no server has: the default server's certificate,
			// and Host (c.test) chooses the default server too.
			{"c.test", "/vars", "https on TLSv1.2 c.test .\n", "a.test"},
		} {
			resp, body, st, err := tlsGet(t, p.addr, c.sni, c.path, 0, 0)
			if err != nil {
				t.Errorf("SNI %s: %v", c.sni, err)
				continue
			}
			if resp.StatusCode != 200 || body != c.body {
				t.Errorf("SNI %s %s: %d %q, want 200 %q", c.sni, c.path, resp.StatusCode, body, c.body)
			}
			if cn := st.PeerCertificates[0].Subject.CommonName; cn != c.cn {
				t.Errorf("SNI %s: certificate of %s, want %s", c.sni, cn, c.cn)
			}
		}
		if resp, _, _, err := tlsGet(t, p.addr, "a.test", "/r", 0, 0); err != nil || resp.Header.Get("Location") != "https://a.test:"+strings.Split(p.addr, ":")[1]+"/vars" {
			t.Errorf("redirect: %v %v, want Location https://a.test:PORT/vars", err, resp)
		}
		if _, _, _, err := tlsGet(t, p.addr, "a.test", "/vars", tls.VersionTLS13, tls.VersionTLS13); err == nil {
			t.Errorf("a TLS 1.3 handshake succeeded without ssl_protocols; nginx 1.22's default leaves TLS 1.3 off")
		}
		if _, body, _, err := tlsGet(t, other, "", "/", tls.VersionTLS13, tls.VersionTLS13); err != nil || body != "TLSv1.3\n" {
			t.Errorf("ssl_protocols TLSv1.3: %q %v", body, err)
		}
		resp := sendRaw(t, p.addr, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
		if resp.Status != 400 || !strings.Contains(string(resp.Body), "The plain HTTP request was sent to HTTPS port") {
			t.Errorf("plain HTTP to the TLS port: %d %q", resp.Status, resp.Body)
		}
	})
}

// TestTLSBackPressure checks the TLS path where the socket is full:
// a 4 MB file read slowly by the client arrives whole and in order (the
// records the socket could not take wait, and nothing more is encrypted
// until they are written), the connection closes only after the last of
// them with Connection: close, and two pipelined requests in one record
// are both answered (the second waits decrypted inside crypto/tls with
// no event to say so).
func TestTLSBackPressure(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		cert, key := writeCert(t, dir, "a.test")
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}} ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
    }`, cert, key))
		big := make([]byte, 4<<20)
		rand.Read(big)
		writeHTML(t, p, "big", string(big))
		writeHTML(t, p, "small", "small\n")
		c, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET /small HTTP/1.1\r\nHost: a\r\n\r\nGET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		br := bufio.NewReaderSize(c, 1024)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if body, _ := io.ReadAll(resp.Body); string(body) != "small\n" {
			t.Fatalf("first answer %q", body)
		}
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Slowly at first, so that the server's socket fills up.
		var got []byte
		buf := make([]byte, 16<<10)
		for i := 0; ; i++ {
			if i < 20 {
				time.Sleep(10 * time.Millisecond)
			}
			n, err := resp.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if len(got) != len(big) || string(got) != string(big) {
			t.Fatalf("the big file came with %d bytes, want %d (or differs)", len(got), len(big))
		}
		// Connection: close: the server ends the stream after it.
		if _, err := br.ReadByte(); err == nil {
			t.Errorf("bytes after the last answer")
		}
	})
}

// newCA makes a CA certificate and key and writes the certificate as PEM
// in dir.
func newCA(t *testing.T, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	path := filepath.Join(dir, name+".crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return ca, key, path
}

// clientCert makes a client certificate for name signed by the CA (or
// by itself when ca is nil).
func clientCert(t *testing.T, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSClientCertificates checks ssl_verify_client against nginx: on
// answers a request without a certificate with nginx's 400 page "No
// required SSL certificate was sent" and one with a certificate no CA
// signed with "The SSL certificate error"; a certificate the CA signed
// is SUCCESS with its subject and issuer; optional takes no certificate
// (NONE); optional_no_ca takes a self-signed one, which $ssl_client_verify
// reports as FAILED.
func TestTLSClientCertificates(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		cert, key := writeCert(t, dir, "a.test")
		ca, caKey, caFile := newCA(t, dir, "test-ca")
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}} ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        ssl_client_certificate %s;
        ssl_verify_client on;
        location / { return 200 "$ssl_client_verify|$ssl_client_s_dn|$ssl_client_i_dn|$ssl_client_i_dn_legacy\n"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}} ssl;
        ssl_certificate %[1]s;
        ssl_certificate_key %[2]s;
        ssl_client_certificate %[3]s;
        ssl_verify_client optional;
        location / { return 200 "$ssl_client_verify\n"; }
    }
    server {
        listen 127.0.0.1:{{PORT2}} ssl;
        ssl_certificate %[1]s;
        ssl_certificate_key %[2]s;
        ssl_verify_client optional_no_ca;
        location / { return 200 "$ssl_client_verify\n"; }
    }`, cert, key, caFile))
		good := clientCert(t, "client.test", ca, caKey)
		self := clientCert(t, "self.test", nil, nil)
		get := func(port int, c *tls.Certificate) (int, string) {
			cfg := &tls.Config{InsecureSkipVerify: true}
			if c != nil {
				// Sent whatever CA names the server lists.
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c, nil }
			}
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), cfg)
			if err != nil {
				t.Fatalf("port %d: %v", port, err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("port %d: %v", port, err)
			}
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		for _, c := range []struct {
			name   string
			port   int
			cert   *tls.Certificate
			status int
			body   string
		}{
			{"on, none", p.ports[0], nil, 400, "No required SSL certificate was sent"},
			{"on, self-signed", p.ports[0], &self, 400, "The SSL certificate error"},
			{"on, signed", p.ports[0], &good, 200, "SUCCESS|CN=client.test|CN=test-ca|/CN=test-ca\n"},
			{"optional, none", p.ports[1], nil, 200, "NONE\n"},
			{"optional, signed", p.ports[1], &good, 200, "SUCCESS\n"},
			{"optional_no_ca, self-signed", p.ports[2], &self, 200, "FAILED:self-signed certificate\n"},
		} {
			status, body := get(c.port, c.cert)
			if status != c.status || !strings.Contains(body, c.body) {
				t.Errorf("%s: %d %q, want %d with %q", c.name, status, body, c.status, c.body)
			}
		}
	})
}

// tlsUpstream is an HTTPS origin for proxy_pass https://: it answers
// with the SNI name it was asked for and counts its connections.
type tlsUpstream struct {
	addr  string
	conns atomic.Int64
}

func newTLSUpstream(t *testing.T, certFile, keyFile string) *tlsUpstream {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &tlsUpstream{addr: ln.Addr().String()}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "sni=%q path=%s\n", r.TLS.ServerName, r.URL.Path)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}},
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				u.conns.Add(1)
			}
		},
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return u
}

// TestTLSUpstream checks proxy_pass https:// against nginx: the request
// reaches an HTTPS origin, with no SNI unless proxy_ssl_server_name asks
// (then proxy_ssl_name's); proxy_ssl_verify accepts a certificate the
// trusted CAs signed for the name and answers 502 for another name; an
// upstream with keepalive carries several requests over one TLS
// connection.
func TestTLSUpstream(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		cert, key := writeCert(t, dir, "origin.test")
		up := newTLSUpstream(t, cert, key)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream pool {
        server %[1]s;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /plain/ { proxy_pass https://%[1]s; }
        location /sni/ { proxy_pass https://%[1]s; proxy_ssl_server_name on; proxy_ssl_name origin.test; }
        location /verified/ {
            proxy_pass https://%[1]s;
            proxy_ssl_verify on;
            proxy_ssl_name origin.test;
            proxy_ssl_trusted_certificate %[2]s;
        }
        location /wrong-name/ {
            proxy_pass https://%[1]s;
            proxy_ssl_verify on;
            proxy_ssl_name other.test;
            proxy_ssl_trusted_certificate %[2]s;
        }
        location /pool/ {
            proxy_pass https://pool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }`, up.addr, cert))
		for _, c := range []struct {
			path string
			want int
			body string
		}{
			{"/plain/x", 200, "sni=\"\" path=/plain/x\n"},
			{"/sni/x", 200, "sni=\"origin.test\" path=/sni/x\n"},
			{"/verified/x", 200, "path=/verified/x\n"},
			{"/wrong-name/x", 502, ""},
		} {
			st, _, body := get(t, p.url(c.path))
			if st != c.want || !strings.Contains(body, c.body) {
				t.Errorf("%s: %d %q, want %d with %q", c.path, st, body, c.want, c.body)
			}
		}
		before := up.conns.Load()
		for i := 0; i < 3; i++ {
			if st, _, _ := get(t, p.url("/pool/x")); st != 200 {
				t.Fatalf("/pool/x: %d", st)
			}
		}
		if n := up.conns.Load() - before; n != 1 {
			t.Errorf("3 requests through the keepalive pool took %d TLS connections, want 1", n)
		}
		p.stop()
		if log := p.readLog("error.log"); !strings.Contains(log, `upstream SSL certificate does not match "other.test" while SSL handshaking to upstream`) {
			t.Errorf("error.log lacks the name mismatch:\n%s", log)
		}
	})
}

// TestTLSReloadCertificate checks a reload that changes the certificate,
// against nginx: a TLS connection kept alive across the reload goes on
// (and is closed gracefully, not reset), and new connections get the new
// certificate.
func TestTLSReloadCertificate(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		oldCert, oldKey := writeCert(t, dir, "old.test")
		newCert, newKey := writeCert(t, dir, "new.test")
		conf := func(cert, key string) string {
			return fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}} ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location / { return 200 "ok\n"; }
    }`, cert, key)
		}
		p := startProxy(t, tg, conf(oldCert, oldKey))
		c, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		ask := func() error {
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return err
			}
			io.ReadAll(resp.Body)
			return nil
		}
		if err := ask(); err != nil {
			t.Fatal(err)
		}
		text := p.expand(renderConfig(p.prefix, proxyConfig{http: conf(newCert, newKey)}))
		if err := os.WriteFile(p.conf, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
		p.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for {
			nc, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
			if err == nil {
				cn := nc.ConnectionState().PeerCertificates[0].Subject.CommonName
				nc.Close()
				if cn == "new.test" {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("new connections do not get the new certificate 10 s after the reload")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The old connection: either one more answer, or a clean end
		// (nginx closes idle kept-alive connections at a reload), never
		// a reset or a broken record.
		if err := ask(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("the connection kept alive across the reload: %v", err)
		}
	})
}

// sharedSession is a client session cache that offers its last session
// to every server, so that a test can present one server's ticket to
// another.
type sharedSession struct{ s *tls.ClientSessionState }

func (c *sharedSession) Get(string) (*tls.ClientSessionState, bool) { return c.s, c.s != nil }
func (c *sharedSession) Put(_ string, s *tls.ClientSessionState) {
	if s != nil {
		c.s = s
	}
}

// TestTLSCertificateVariables checks ssl_certificate with variables
// against nginx: the pair is loaded for each handshake with the name the
// client asked for, a name without files fails the handshake, and a
// session resumes on the server that issued it but not on one that
// presents another certificate.
func TestTLSCertificateVariables(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		// The files are read by handshakes, in nginx's worker, which
		// runs as an unprivileged user.
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(dir, 0o755)
		writeCert(t, dir, "a.test")
		writeCert(t, dir, "b.test")
		aCert, aKey := filepath.Join(dir, "a.test.crt"), filepath.Join(dir, "a.test.key")
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}} ssl;
        ssl_certificate %[1]s/$ssl_server_name.crt;
        ssl_certificate_key %[1]s/$ssl_server_name.key;
        location / { return 200 "$ssl_server_name $ssl_session_reused\n"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}} ssl;
        ssl_certificate %[2]s;
        ssl_certificate_key %[3]s;
        location / { return 200 "fixed $ssl_session_reused\n"; }
    }`, dir, aCert, aKey))
		for _, name := range []string{"a.test", "b.test"} {
			_, body, st, err := tlsGet(t, p.addr, name, "/", 0, 0)
			if err != nil {
				t.Errorf("SNI %s: %v", name, err)
				continue
			}
			if cn := st.PeerCertificates[0].Subject.CommonName; cn != name || body != name+" .\n" {
				t.Errorf("SNI %s: certificate of %s, body %q", name, cn, body)
			}
		}
		for _, name := range []string{"nx.test", ""} {
			if _, _, _, err := tlsGet(t, p.addr, name, "/", 0, 0); err == nil {
				t.Errorf("SNI %q names no certificate file, yet the handshake succeeded", name)
			}
		}

		cache := &sharedSession{}
		get := func(addr string) (string, bool) {
			cfg := &tls.Config{InsecureSkipVerify: true, ServerName: "a.test", ClientSessionCache: cache}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			body, _ := io.ReadAll(resp.Body)
			return string(body), c.ConnectionState().DidResume
		}
		if body, resumed := get(p.addr); resumed || body != "a.test .\n" {
			t.Errorf("first handshake: %q, resumed %v", body, resumed)
		}
		if body, resumed := get(p.addr); !resumed || body != "a.test r\n" {
			t.Errorf("second handshake with the session: %q, resumed %v; want it resumed", body, resumed)
		}
		other := fmt.Sprintf("127.0.0.1:%d", p.ports[1])
		if body, resumed := get(other); resumed || body != "fixed .\n" {
			t.Errorf("the session on the server with another certificate: %q, resumed %v; want a full handshake", body, resumed)
		}
	})
}
