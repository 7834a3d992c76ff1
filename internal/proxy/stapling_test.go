package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"headroom/internal/conf"
	"headroom/internal/logs"
	"headroom/internal/ocsp/ocsptest"
)

// stapleKit is a CA, a certificate it issued and a responder for it on
// the loopback interface whose answers a test chooses.
type stapleKit struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	cert   *x509.Certificate
	pair   *tls.Certificate
	addr   netip.AddrPort
	answer atomic.Pointer[func(w http.ResponseWriter)]
	hits   atomic.Int32
	log    string
}

func newStapleKit(t *testing.T) *stapleKit {
	t.Helper()
	k := &stapleKit{}
	mk := func(name string, serial int64, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			BasicConstraintsValid: true, IsCA: parent == nil, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key
	}
	k.ca, k.caKey = mk("ca", 1, nil, nil)
	var key *ecdsa.PrivateKey
	k.cert, key = mk("end", 2, k.ca, k.caKey)
	k.pair = &tls.Certificate{Certificate: [][]byte{k.cert.Raw, k.ca.Raw}, PrivateKey: key, Leaf: k.cert}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = netip.MustParseAddrPort(ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.hits.Add(1)
		(*k.answer.Load())(w)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	k.log = filepath.Join(t.TempDir(), "error.log")
	return k
}

// respond makes the responder answer with a response of status st.
func (k *stapleKit) respond(t *testing.T, st ocsptest.Status, next time.Time) []byte {
	t.Helper()
	der, err := ocsptest.Response(ocsptest.Template{Cert: k.cert, Issuer: k.ca, Signer: k.ca, Key: k.caKey, Status: st, NextUpdate: next})
	if err != nil {
		t.Fatal(err)
	}
	f := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	}
	k.answer.Store(&f)
	return der
}

// stapler makes a stapler for the certificate with the kit's responder.
func (k *stapleKit) stapler(t *testing.T) (*stapler, *staple) {
	t.Helper()
	el := logs.NewErrorLog()
	if err := el.Open([]logs.Target{{Path: k.log, Level: logs.Info}}); err != nil {
		t.Fatal(err)
	}
	sp := newStapler(el)
	cert := &conf.SSLCertificate{CertFile: "/x/end.crt", Pair: k.pair, OCSP: &conf.OCSPStapling{
		CertFile: "/x/end.crt", Cert: k.cert, Issuer: k.ca, Chain: []*x509.Certificate{k.ca},
		Host: k.addr.Addr().String(), Port: int(k.addr.Port()), URI: "/ocsp", Addrs: []netip.AddrPort{k.addr}}}
	sp.add(cert)
	t.Cleanup(sp.close)
	return sp, sp.stapleFor(cert)
}

func (k *stapleKit) logged(t *testing.T) string {
	data, _ := os.ReadFile(k.log)
	return string(data)
}

var askingHello = &tls.ClientHelloInfo{Extensions: []uint16{0, extStatusRequest}}

// waitStaple waits for the handshake's certificate to carry a staple.
func waitStaple(t *testing.T, st *staple, sp *stapler) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c := st.certificate(askingHello, sp); len(c.OCSPStaple) > 0 {
			return c.OCSPStaple
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// TestStaplerFetches checks the lazy first fetch: nothing is asked of the
// responder until a handshake asks for a status, the first may go
// without, and the good response is then stapled as fetched.
func TestStaplerFetches(t *testing.T) {
	k := newStapleKit(t)
	want := k.respond(t, ocsptest.Good, time.Now().Add(time.Hour))
	sp, st := k.stapler(t)
	var offset atomic.Int64
	sp.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	sp.run()
	if c := st.certificate(&tls.ClientHelloInfo{}, sp); len(c.OCSPStaple) != 0 {
		t.Fatal("a staple before any fetch")
	}
	time.Sleep(100 * time.Millisecond)
	if k.hits.Load() != 0 {
		t.Fatal("fetched before a handshake asked for a status")
	}
	got := waitStaple(t, st, sp)
	if string(got) != string(want) {
		t.Fatalf("staple %x, want the responder's %x", got, want)
	}
	if n := k.hits.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	// The response expires: no staple past its nextUpdate.
	offset.Store(int64(2 * time.Hour))
	if c := st.certificate(askingHello, sp); len(c.OCSPStaple) != 0 {
		t.Fatal("an expired response stapled")
	}
}

// TestStaplerNoResolver checks a responder named by a host on a server
// without a resolver: as nginx, the fetch warns and goes to the address
// found when the configuration was read.
func TestStaplerNoResolver(t *testing.T) {
	k := newStapleKit(t)
	want := k.respond(t, ocsptest.Good, time.Time{})
	sp, st := k.stapler(t)
	st.src.Host = "ocsp.test"
	sp.run()
	if got := waitStaple(t, st, sp); string(got) != string(want) {
		t.Fatal("no staple")
	}
	if log := k.logged(t); !strings.Contains(log, "[warn] "+itoa(os.Getpid())+"#0: no resolver defined to resolve ocsp.test while requesting certificate status, responder: ocsp.test, certificate: \"/x/end.crt\"") {
		t.Fatalf("log:\n%s", log)
	}
}

// TestStaplerRefuses checks that what nginx does not staple is not
// stapled, with nginx's messages.
func TestStaplerRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer func(k *stapleKit, t *testing.T)
		logged string
	}{
		{"revoked", func(k *stapleKit, t *testing.T) { k.respond(t, ocsptest.Revoked, time.Time{}) },
			`[error] %d#0: certificate status "revoked" in the OCSP response while requesting certificate status, responder: 127.0.0.1, peer: %s, certificate: "/x/end.crt"`},
		{"unknown", func(k *stapleKit, t *testing.T) { k.respond(t, ocsptest.Unknown, time.Time{}) },
			`certificate status "unknown" in the OCSP response`},
		{"content type", func(k *stapleKit, t *testing.T) {
			f := func(w http.ResponseWriter) { w.Header().Set("Content-Type", "text/html"); w.Write([]byte("<html>")) }
			k.answer.Store(&f)
		}, `OCSP responder sent invalid "Content-Type" header: "text/html" while requesting certificate status`},
		{"garbage", func(k *stapleKit, t *testing.T) {
			f := func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/ocsp-response")
				w.Write([]byte("junk"))
			}
			k.answer.Store(&f)
		}, `d2i_OCSP_RESPONSE() failed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := newStapleKit(t)
			c.answer(k, t)
			sp, st := k.stapler(t)
			sp.run()
			st.certificate(askingHello, sp)
			want := c.logged
			if strings.Contains(want, "%d") {
				want = strings.Replace(strings.Replace(want, "%d", itoa(os.Getpid()), 1), "%s", k.addr.String(), 1)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(k.logged(t), want) {
				if time.Now().After(deadline) {
					t.Fatalf("log:\n%s\nwant %q", k.logged(t), want)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if crt := st.certificate(askingHello, sp); len(crt.OCSPStaple) != 0 {
				t.Fatal("stapled")
			}
		})
	}
}

// TestStaplerRetriesAndStops checks that a failure is retried after nginx's
// 5 minutes, with the stapler's clock moved on, and that a closed
// stapler's goroutine ends.
func TestStaplerRetriesAndStops(t *testing.T) {
	k := newStapleKit(t)
	f := func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
	k.answer.Store(&f)
	sp, st := k.stapler(t)
	var offset atomic.Int64
	sp.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	sp.run()
	st.certificate(askingHello, sp)
	for deadline := time.Now().Add(5 * time.Second); k.hits.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no fetch")
		}
	}
	want := k.respond(t, ocsptest.Good, time.Now().Add(3*time.Hour))
	time.Sleep(200 * time.Millisecond)
	if k.hits.Load() != 1 || len(st.certificate(askingHello, sp).OCSPStaple) != 0 {
		t.Fatal("tried again before 5 minutes")
	}
	// Five minutes on, the next look (a handshake wakes none; the wake
	// below stands for the stapler's timer) fetches again.
	offset.Store(int64(5*time.Minute + time.Second))
	sp.wake <- struct{}{}
	if got := waitStaple(t, st, sp); string(got) != string(want) {
		t.Fatal("not fetched again after the failure")
	}
	sp.close()
	select {
	case <-sp.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stapler's goroutine did not end")
	}
}

// TestNextRefresh checks nginx's arithmetic for the next fetch after a
// good response.
func TestNextRefresh(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		valid, want time.Duration // from now; valid 0 is no nextUpdate
	}{
		{0, time.Hour},
		{3 * time.Hour, time.Hour},
		{30 * time.Minute, 25 * time.Minute},
		{7 * time.Minute, 5 * time.Minute},
		{time.Minute, 5 * time.Minute},
	} {
		var valid time.Time
		if c.valid != 0 {
			valid = now.Add(c.valid)
		}
		if got := nextRefresh(now, valid).Sub(now); got != c.want {
			t.Errorf("valid in %s: refresh in %s, want %s", c.valid, got, c.want)
		}
	}
}

// TestChooseCertificate checks that the certificate GetCertificate picks
// is the one crypto/tls would: the first the client supports.
func TestChooseCertificate(t *testing.T) {
	k := newStapleKit(t)
	rsaLike := tls.Certificate{Certificate: [][]byte{k.cert.Raw}, PrivateKey: nil, Leaf: k.cert,
		SupportedSignatureAlgorithms: []tls.SignatureScheme{tls.PSSWithSHA256}}
	certs := []tls.Certificate{rsaLike, *k.pair}
	hello := &tls.ClientHelloInfo{SupportedVersions: []uint16{tls.VersionTLS12}, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}, SupportedCurves: []tls.CurveID{tls.CurveP256}, SupportedPoints: []uint8{0}}
	if i := chooseCertificate(hello, certs); i != 1 {
		t.Fatalf("chose %d, want the ECDSA certificate", i)
	}
	if i := chooseCertificate(hello, certs[:1]); i != 0 {
		t.Fatalf("chose %d of one", i)
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
