package conf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStaplingSetup checks what ssl_stapling finds for each certificate
// when the configuration is read, and nginx's warnings when it cannot.
func TestStaplingSetup(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ders ...[]byte) string {
		var out []byte
		for _, d := range ders {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	keyFile := filepath.Join(dir, "end.key")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	leaf := func(serial int64, aia ...string) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "end"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), OCSPServer: aia}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	withAIA := leaf(2, "http://127.0.0.1:8081/ocsp")
	chained := write("chained.crt", withAIA, caDER)
	alone := write("alone.crt", withAIA)
	noAIA := write("noaia.crt", leaf(3), caDER)
	https := write("https.crt", leaf(4, "https://127.0.0.1/"), caDER)
	named := write("named.crt", leaf(5, "http://ocsp.example:8888"), caDER)
	trusted := write("trusted.crt", caDER)

	saved := lookupHost
	lookupHost = func(h string) ([]string, error) {
		if h == "ocsp.example" {
			return []string{"192.0.2.1"}, nil
		}
		return nil, errors.New("not found")
	}
	defer func() { lookupHost = saved }()

	for _, c := range []struct {
		name, server string
		warning      string
		// host, port and uri of the responder; issuer found in the
		// trusted file rather than the chain
		responder string
		addrs     string
	}{
		{name: "chain and AIA", server: "ssl_certificate " + chained + ";", responder: "127.0.0.1 8081 /ocsp", addrs: "[127.0.0.1:8081]"},
		{name: "responder overrides", server: "ssl_certificate " + chained + "; ssl_stapling_responder http://127.0.0.2:9/;", responder: "127.0.0.2 9 /", addrs: "[127.0.0.2:9]"},
		{name: "issuer trusted", server: "ssl_certificate " + alone + "; ssl_trusted_certificate " + trusted + ";", responder: "127.0.0.1 8081 /ocsp"},
		{name: "no issuer", server: "ssl_certificate " + alone + ";",
			warning: `"ssl_stapling" ignored, issuer certificate not found for certificate "` + alone + `"`},
		{name: "no AIA", server: "ssl_certificate " + noAIA + ";",
			warning: `"ssl_stapling" ignored, no OCSP responder URL in the certificate "` + noAIA + `"`},
		{name: "https", server: "ssl_certificate " + https + ";",
			warning: `"ssl_stapling" ignored, invalid URL prefix in OCSP responder "https://127.0.0.1/" in the certificate "` + https + `"`},
		{name: "bad port", server: "ssl_certificate " + chained + "; ssl_stapling_responder http://127.0.0.1:0/;",
			warning: `"ssl_stapling" ignored, invalid port in OCSP responder "127.0.0.1:0/" in the certificate "` + chained + `"`},
		{name: "host not found", server: "ssl_certificate " + chained + "; ssl_stapling_responder http://nowhere.example/;",
			warning: `"ssl_stapling" ignored, host not found in OCSP responder "nowhere.example/" in the certificate "` + chained + `"`},
		{name: "name", server: "ssl_certificate " + named + ";", responder: "ocsp.example 8888 /", addrs: "[192.0.2.1:8888]"},
		{name: "IPv6", server: "ssl_certificate " + chained + "; ssl_stapling_responder http://[::1]:8080/x;", responder: "[::1] 8080 /x", addrs: "[[::1]:8080]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := "events {}\nhttp { ssl_stapling on; server { listen 127.0.0.1:8443 ssl; ssl_certificate_key " + keyFile + "; " + c.server + " } }\n"
			cfg, err := Load(LoadOptions{File: "t.conf", Prefix: dir, Source: []byte(src)})
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			for _, w := range cfg.Warnings {
				warnings = append(warnings, w.Error())
			}
			got := cfg.HTTP.Servers[0].Loc.SSL.Certificates[0].OCSP
			if c.warning != "" {
				if len(warnings) != 1 || warnings[0] != c.warning {
					t.Fatalf("warnings %q, want %q", warnings, c.warning)
				}
				if got != nil {
					t.Fatal("stapled all the same")
				}
				return
			}
			if len(warnings) != 0 || got == nil {
				t.Fatalf("warnings %q, stapling %v", warnings, got)
			}
			if r := got.Host + " " + itoaTest(got.Port) + " " + got.URI; r != c.responder {
				t.Errorf("responder %q, want %q", r, c.responder)
			}
			if c.addrs != "" {
				if a := addrsText(got.Addrs); a != c.addrs {
					t.Errorf("addresses %s, want %s", a, c.addrs)
				}
			}
			if !got.Issuer.Equal(ca) || got.Cert.SerialNumber.Sign() == 0 {
				t.Errorf("issuer %v", got.Issuer.Subject)
			}
		})
	}
}

// TestStaplingShared checks that servers stapling the same certificate
// alike share one fetch, and that servers whose stapling differs get
// their own although they inherit the certificate list.
func TestStaplingShared(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: true}
	caDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "end"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), OCSPServer: []string{"http://127.0.0.1:1/"}}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "end.crt"), append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...), 0o644)
	os.WriteFile(filepath.Join(dir, "end.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	src := `events {}
http {
    ssl_stapling on; ssl_certificate end.crt; ssl_certificate_key end.key;
    server { listen 127.0.0.1:8443 ssl; server_name a; }
    server { listen 127.0.0.1:8443 ssl; server_name b; }
    server { listen 127.0.0.1:8443 ssl; server_name c; ssl_stapling_responder http://127.0.0.1:2/; }
    server { listen 127.0.0.1:8443 ssl; server_name d; ssl_stapling off; }
}
`
	cfg, err := Load(LoadOptions{File: "t.conf", Prefix: dir, Source: []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.HTTP.Servers
	a, b, c, d := s[0].Loc.SSL.Certificates[0].OCSP, s[1].Loc.SSL.Certificates[0].OCSP, s[2].Loc.SSL.Certificates[0].OCSP, s[3].Loc.SSL.Certificates[0].OCSP
	if a == nil || a != b {
		t.Errorf("servers stapling alike do not share: %p %p", a, b)
	}
	if c == nil || c == a || c.Port != 2 || a.Port != 1 {
		t.Errorf("a server with its own responder shares another's stapling")
	}
	if d != nil {
		t.Errorf("a server with ssl_stapling off staples")
	}
}

func itoaTest(n int) string { return big.NewInt(int64(n)).String() }

func addrsText(a []netip.AddrPort) string {
	var s []string
	for _, x := range a {
		s = append(s, x.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}
