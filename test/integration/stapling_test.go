package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
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

	"headroom/internal/ocsp/ocsptest"
)

// writeOCSPCert makes a certificate for name issued by the CA, naming
// responder as its OCSP responder, and writes it with the CA after it
// (the chain nginx finds the issuer in) and its key; it returns the
// certificate and the two files.
func writeOCSPCert(t *testing.T, dir, name, responder string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		OCSPServer: []string{responder},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...)
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// staple does a TLS handshake (Go's client always asks for a status)
// and returns the response stapled, if any.
func staple(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().OCSPResponse
}

// TestTLSStapling checks ssl_stapling without ssl_stapling_file against
// nginx: the response is fetched from the responder the certificate
// names, on loopback, and stapled for clients that ask (the first
// handshakes may go without, as the fetch starts with the first that
// asks); a response saying the certificate is revoked is not stapled and
// is logged with nginx's words; a reload fetches again.
func TestTLSStapling(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		ca, caKey, caFile := newCA(t, dir, "stapling-ca")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		responder := "http://" + ln.Addr().String() + "/ocsp"
		good, goodCert, goodKey := writeOCSPCert(t, dir, "good.test", responder, ca, caKey)
		bad, badCert, badKey := writeOCSPCert(t, dir, "bad.test", responder, ca, caKey)
		answers := map[string][]byte{}
		for _, c := range []struct {
			cert   *x509.Certificate
			status ocsptest.Status
		}{{good, ocsptest.Good}, {bad, ocsptest.Revoked}} {
			der, err := ocsptest.Response(ocsptest.Template{Cert: c.cert, Issuer: ca, Signer: ca, Key: caKey,
				Status: c.status, NextUpdate: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			answers[c.cert.SerialNumber.String()] = der
		}
		var hits atomic.Int32
		var badPath atomic.Value
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if !strings.HasPrefix(r.URL.EscapedPath(), "/ocsp/") {
				badPath.Store(r.URL.EscapedPath())
			}
			// The request names its certificate by its serial, which
			// the request's bytes hold as a DER INTEGER.
			for serial, der := range answers {
				if strings.Contains(string(requestBytes(r.URL.EscapedPath())), string(serialBytes(serial))) {
					w.Header().Set("Content-Type", "application/ocsp-response")
					w.Write(der)
					return
				}
			}
			w.WriteHeader(http.StatusNotFound)
		})}
		go srv.Serve(ln)
		defer srv.Close()
		conf := fmt.Sprintf(`
    ssl_stapling on;
    ssl_stapling_verify on;
    ssl_trusted_certificate %s;
    server {
        listen 127.0.0.1:{{PORT}} ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}} ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location / { return 200 "ok\n"; }
    }`, caFile, goodCert, goodKey, badCert, badKey)
		p := startProxy(t, tg, conf)
		waitStaple := func(what string) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for {
				got := staple(t, p.addr)
				if len(got) > 0 {
					if string(got) != string(answers[good.SerialNumber.String()]) {
						t.Fatalf("%s: the staple is not the responder's response", what)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no staple 5 s after the first handshake", what)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitStaple("good certificate")
		other := fmt.Sprintf("127.0.0.1:%d", p.ports[1])
		staple(t, other)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.readLog("error.log"), `certificate status "revoked" in the OCSP response while requesting certificate status, responder: 127.0.0.1`) {
			if time.Now().After(deadline) {
				t.Fatalf("no message about the revoked certificate:\n%s", p.readLog("error.log"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := staple(t, other); len(got) > 0 {
			t.Fatal("a revoked certificate's response stapled")
		}
		if v := badPath.Load(); v != nil {
			t.Errorf("request for %s, not under the responder's URI", v)
		}
		// A reload starts anew: the new configuration fetches again.
		before := hits.Load()
		p.cmd.Process.Signal(syscall.SIGHUP)
		deadline = time.Now().Add(10 * time.Second)
		for hits.Load() == before {
			if time.Now().After(deadline) {
				t.Fatal("no fetch after the reload")
			}
			staple(t, p.addr)
			time.Sleep(50 * time.Millisecond)
		}
		waitStaple("after the reload")
		if strings.Contains(p.readLog("error.log"), "[crit]") {
			t.Errorf("crit in the error log:\n%s", p.readLog("error.log"))
		}
	})
}

// requestBytes decodes the OCSP request in a GET request's path.
func requestBytes(path string) []byte {
	i := strings.LastIndexByte(path, '/')
	s := path[i+1:]
	s = strings.NewReplacer("%2B", "+", "%2F", "/", "%3D", "=", "%2b", "+", "%2f", "/", "%3d", "=").Replace(s)
	b, _ := base64.StdEncoding.DecodeString(s)
	return b
}

// serialBytes is a serial number as a DER INTEGER.
func serialBytes(serial string) []byte {
	n, _ := new(big.Int).SetString(serial, 10)
	v := n.Bytes()
	if v[0]&0x80 != 0 {
		v = append([]byte{0}, v...)
	}
	return append([]byte{2, byte(len(v))}, v...)
}
