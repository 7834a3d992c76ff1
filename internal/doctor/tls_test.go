package doctor

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"headroom/internal/capacity"
)

// testNow is the time the certificates of these tests are judged at.
var testNow = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

// makeCert makes a self-signed PEM certificate for key, valid from a
// year before testNow to notAfter, with the given DNS names.
func makeCert(t *testing.T, key crypto.Signer, notAfter time.Time, names ...string) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		NotBefore:    testNow.AddDate(-1, 0, 0),
		NotAfter:     notAfter,
		DNSNames:     names,
	}
	if len(names) > 0 {
		tmpl.IPAddresses = []net.IP{net.IPv4(192, 0, 2, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestReadCertificate checks what doctor reads from a certificate file:
// key type and size, names, days left, the problems it reports, and that
// a file it cannot read is reported rather than fatal.
func TestReadCertificate(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	year := testNow.AddDate(0, 0, 365)
	tests := []struct {
		name     string
		content  string // "" for a file that is not there
		server   string
		key      string
		days     int
		names    int
		problems []string // levels, in order
		measured bool
		err      bool
	}{
		{name: "ecdsa", content: makeCert(t, p256, year, "a.test"), server: headroom, key: "ECDSA P-256", days: 365, names: 2, problems: []string{}, measured: true},
		{name: "rsa for nginx", content: makeCert(t, rsa2048, year, "a.test"), server: nginx, key: "RSA-2048", days: 365, names: 2, problems: []string{}, measured: true},
		{name: "p384 not measured", content: makeCert(t, p384, year, "a.test"), server: headroom, key: "ECDSA P-384", days: 365, names: 2, problems: []string{}},
		{name: "ed25519", content: makeCert(t, ed, year, "a.test"), server: headroom, key: "Ed25519", days: 365, names: 2, problems: []string{}},
		{name: "expires soon", content: makeCert(t, p256, testNow.AddDate(0, 0, 10), "a.test"), server: headroom, key: "ECDSA P-256", days: 10, names: 2, problems: []string{"warning"}, measured: true},
		{name: "expired", content: makeCert(t, p256, testNow.AddDate(0, 0, -3), "a.test"), server: headroom, key: "ECDSA P-256", days: -3, names: 2, problems: []string{"error"}, measured: true},
		{name: "no subjectAltName", content: makeCert(t, p256, year), server: headroom, key: "ECDSA P-256", days: 365, problems: []string{"warning"}, measured: true},
		{name: "chain after a key", content: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + makeCert(t, p256, year, "a.test"), server: headroom, key: "ECDSA P-256", days: 365, names: 2, problems: []string{}, measured: true},
		{name: "missing", server: headroom, err: true},
		{name: "not PEM", content: "hello\n", server: headroom, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := capacity.FixedHost{Files: map[string]string{}}
			if tt.content != "" {
				h.Files["/etc/ssl/x.crt"] = tt.content
			}
			c := readCertificate(h, "/etc/ssl/x.crt", testNow, tt.server)
			if tt.err {
				if c.Error == "" || c.Key != "" || c.DaysLeft != nil {
					t.Errorf("got %+v, want an error and nothing else", c)
				}
				return
			}
			if c.Error != "" {
				t.Fatalf("error %q", c.Error)
			}
			if c.Key != tt.key || *c.DaysLeft != tt.days || len(c.Names) != tt.names {
				t.Errorf("key %q, %d days, names %v; want %q, %d days, %d names", c.Key, *c.DaysLeft, c.Names, tt.key, tt.days, tt.names)
			}
			var levels []string
			for _, p := range c.Problems {
				levels = append(levels, p.Level)
				if p.Fix == "" {
					t.Errorf("problem %q has no fix", p.Text)
				}
			}
			if len(levels) != len(tt.problems) {
				t.Errorf("problems %+v, want levels %v", c.Problems, tt.problems)
			}
			for i := range min(len(levels), len(tt.problems)) {
				if levels[i] != tt.problems[i] {
					t.Errorf("problem %d is %s, want %s", i, levels[i], tt.problems[i])
				}
			}
			if (c.Handshake != nil) != tt.measured {
				t.Errorf("handshake cost %+v, want measured %v", c.Handshake, tt.measured)
			}
			if c.Handshake != nil && (c.Handshake.Server != tt.server || c.Handshake.PerCoreLow > c.Handshake.PerCoreHigh) {
				t.Errorf("handshake cost %+v for %s", c.Handshake, tt.server)
			}
		})
	}
}

// TestHandshakeCost checks the figures per key type and server against
// docs/benchmarks.md: new connections a second per core, rounded down to
// two significant figures.
func TestHandshakeCost(t *testing.T) {
	tests := []struct {
		server, key string
		low, high   int
	}{
		{headroom, keyECDSAP256, 2100, 3400},
		{headroom, keyRSA2048, 500, 820},
		{nginx, keyECDSAP256, 2000, 2900},
		{nginx, keyRSA2048, 1100, 1100},
	}
	for _, tt := range tests {
		c := handshakeCost(tt.server, tt.key)
		if c == nil || c.PerCoreLow != tt.low || c.PerCoreHigh != tt.high {
			t.Errorf("%s %s: %+v, want %d-%d a second", tt.server, tt.key, c, tt.low, tt.high)
		}
	}
	if c := handshakeCost(headroom, "RSA-4096"); c != nil {
		t.Errorf("RSA-4096 has a cost %+v, but was never measured", c)
	}
}

// TestMemoryTLS checks that clients of an address with ssl are counted
// at an idle TLS connection's cost, and an upstream reached over https
// as one too.
func TestMemoryTLS(t *testing.T) {
	tests := []struct {
		name           string
		server         string
		tls, upTLS     bool
		idle, upstream int64
	}{
		{"plain headroom", headroom, false, false, headroomIdleBytes, headroomIdleBytes},
		{"tls headroom", headroom, true, false, headroomTLSIdleBytes, headroomIdleBytes},
		{"tls both ways", headroom, true, true, headroomTLSIdleBytes, headroomTLSIdleBytes},
		{"tls nginx", nginx, true, false, nginxTLSIdleBytes, nginxIdleBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params{server: tt.server, upstreamTLS: tt.upTLS}
			if tt.tls {
				p.tlsListens = 1
			}
			plain := memoryModel(params{server: tt.server}, 1)
			mm := memoryModel(p, 1)
			if mm.IdleBytes != tt.idle || mm.TLS != tt.tls || mm.UpstreamTLS != tt.upTLS {
				t.Errorf("idle %d (tls %v, upstream %v), want %d", mm.IdleBytes, mm.TLS, mm.UpstreamTLS, tt.idle)
			}
			buffers := plain.RequestBytes - 2*plain.IdleBytes
			if want := tt.idle + tt.upstream + buffers; mm.RequestBytes != want {
				t.Errorf("request %d, want %d", mm.RequestBytes, want)
			}
		})
	}
}
