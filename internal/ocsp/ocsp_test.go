package ocsp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"headroom/internal/ocsp/ocsptest"
)

type pki struct {
	root, inter, leaf, other, delegate, stranger *x509.Certificate
	rootKey, interKey, delegateKey, strangerKey  *ecdsa.PrivateKey
}

var serial int64 = 0x1000

func issue(t *testing.T, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool, eku []x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  ca,
		ExtKeyUsage:           eku,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func newPKI(t *testing.T) *pki {
	p := &pki{}
	p.root, p.rootKey = issue(t, "root", nil, nil, true, nil)
	p.inter, p.interKey = issue(t, "int", p.root, p.rootKey, true, nil)
	p.leaf, _ = issue(t, "end", p.inter, p.interKey, false, nil)
	p.other, _ = issue(t, "other", p.inter, p.interKey, false, nil)
	p.delegate, p.delegateKey = issue(t, "responder", p.inter, p.interKey, false, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning})
	p.stranger, p.strangerKey = issue(t, "stranger", nil, nil, true, nil)
	return p
}

// TestCheck judges responses as nginx does: the status of a response
// that passes is the caller's to act on; the others fail with nginx's
// messages.
func TestCheck(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	roots := x509.NewCertPool()
	roots.AddCert(p.root)
	roots.AddCert(p.inter)
	byIssuer := ocsptest.Template{Cert: p.leaf, Issuer: p.inter, Signer: p.inter, Key: p.interKey, NextUpdate: now.Add(time.Hour)}
	with := func(f func(*ocsptest.Template)) ocsptest.Template {
		t := byIssuer
		f(&t)
		return t
	}
	cases := []struct {
		name    string
		tmpl    ocsptest.Template
		verify  bool
		chain   bool // the issuer is in the certificate's chain
		status  Status
		wantErr string
	}{
		{name: "good", tmpl: byIssuer, chain: true, status: Good},
		{name: "good by key", tmpl: with(func(t *ocsptest.Template) { t.ByKey = true }), chain: true, status: Good},
		{name: "revoked", tmpl: with(func(t *ocsptest.Template) { t.Status = ocsptest.Revoked }), chain: true, status: Revoked},
		{name: "unknown", tmpl: with(func(t *ocsptest.Template) { t.Status = ocsptest.Unknown }), chain: true, status: Unknown},
		{name: "no next update", tmpl: with(func(t *ocsptest.Template) { t.NextUpdate = time.Time{} }), chain: true, status: Good},
		{name: "bad signature", tmpl: with(func(t *ocsptest.Template) { t.Key = p.strangerKey }), chain: true,
			wantErr: "OCSP_basic_verify() failed (SSL: signature failure)"},
		{name: "signer not found", tmpl: byIssuer, chain: false,
			wantErr: "OCSP_basic_verify() failed (SSL: signer certificate not found)"},
		{name: "signer sent", tmpl: with(func(t *ocsptest.Template) { t.Certs = []*x509.Certificate{p.inter} }), status: Good},
		{name: "expired", tmpl: with(func(t *ocsptest.Template) {
			t.ThisUpdate, t.NextUpdate = now.Add(-3*time.Hour), now.Add(-time.Hour)
		}), chain: true, wantErr: "OCSP_check_validity() failed (SSL: status expired)"},
		{name: "within slack", tmpl: with(func(t *ocsptest.Template) {
			t.ThisUpdate, t.NextUpdate = now.Add(-3*time.Hour), now.Add(-2*time.Minute)
		}), chain: true, status: Good},
		{name: "not yet valid", tmpl: with(func(t *ocsptest.Template) { t.ThisUpdate = now.Add(time.Hour) }), chain: true,
			wantErr: "OCSP_check_validity() failed (SSL: status not yet valid)"},
		{name: "wrong cert", tmpl: with(func(t *ocsptest.Template) { t.Cert = p.other }), chain: true,
			wantErr: "certificate status not found in the OCSP response"},
		{name: "wrong issuer", tmpl: with(func(t *ocsptest.Template) { t.Issuer = p.root }), chain: true,
			wantErr: "certificate status not found in the OCSP response"},
		{name: "try later", tmpl: ocsptest.Template{ResponseStatus: 3},
			wantErr: "OCSP response not successful (3: trylater)"},
		// ssl_stapling_verify: a responder from the chain is trusted; one
		// sent in the response must chain to the trusted certificates
		// and be the issuer or its delegate.
		{name: "verify issuer in chain", tmpl: byIssuer, verify: true, chain: true, status: Good},
		{name: "verify issuer sent", tmpl: with(func(t *ocsptest.Template) { t.Certs = []*x509.Certificate{p.inter} }), verify: true, status: Good},
		{name: "verify delegate", tmpl: with(func(t *ocsptest.Template) {
			t.Signer, t.Key, t.Certs = p.delegate, p.delegateKey, []*x509.Certificate{p.delegate}
		}), verify: true, chain: true, status: Good},
		{name: "verify root signs", tmpl: with(func(t *ocsptest.Template) {
			t.Signer, t.Key, t.Certs = p.root, p.rootKey, []*x509.Certificate{p.root}
		}), verify: true, chain: true, wantErr: "OCSP_basic_verify() failed (SSL: root ca not trusted)"},
		{name: "no verify root signs", tmpl: with(func(t *ocsptest.Template) {
			t.Signer, t.Key, t.Certs = p.root, p.rootKey, []*x509.Certificate{p.root}
		}), chain: true, status: Good},
		{name: "verify untrusted", tmpl: with(func(t *ocsptest.Template) {
			t.Signer, t.Key, t.Certs = p.stranger, p.strangerKey, []*x509.Certificate{p.stranger}
		}), verify: true, chain: true, wantErr: "OCSP_basic_verify() failed (SSL: certificate verify error)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			der, err := ocsptest.Response(c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Cert: p.leaf, Issuer: p.inter, Verify: c.verify, Roots: roots, Now: now}
			if c.chain {
				o.Chain = []*x509.Certificate{p.inter}
			}
			r, err := Check(der, o)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != c.status {
				t.Fatalf("status %s, want %s", r.Status, c.status)
			}
		})
	}
	if _, err := Check([]byte("not der"), Options{Cert: p.leaf, Issuer: p.inter, Now: now}); err == nil ||
		!strings.HasPrefix(err.Error(), "d2i_OCSP_RESPONSE() failed") {
		t.Errorf("garbage: %v", err)
	}
}

// TestRequest checks the request against RFC 6960's layout and the URI
// nginx sends it in.
func TestRequest(t *testing.T) {
	p := newPKI(t)
	der, err := Request(p.leaf, p.inter)
	if err != nil {
		t.Fatal(err)
	}
	var req request
	if rest, err := asn1.Unmarshal(der, &req); err != nil || len(rest) > 0 {
		t.Fatalf("request does not parse: %v", err)
	}
	id := req.TBS.RequestList[0].Cert
	if !id.HashAlgorithm.Algorithm.Equal(oidSHA1) || !id.matches(p.leaf, p.inter) || id.matches(p.other, p.inter) {
		t.Fatalf("CertID %+v does not name the certificate", id)
	}
	uri := RequestURI("/ocsp", der)
	rest, ok := strings.CutPrefix(uri, "/ocsp/")
	if !ok || strings.ContainsAny(rest, "+/=") {
		t.Fatalf("URI %q", uri)
	}
	unescaped, _ := url.PathUnescape(rest)
	if got, _ := base64.StdEncoding.DecodeString(unescaped); !bytes.Equal(got, der) {
		t.Fatalf("URI %q does not carry the request", uri)
	}
	if u := RequestURI("/", der); !strings.HasPrefix(u, "/M") {
		t.Fatalf("URI %q after a slash", u)
	}
}

// TestOpenSSL reads requests and responses made by OpenSSL's own ocsp
// command, as nginx's test suite makes them, so that this package and
// ocsptest do not merely agree with each other.
func TestOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("req.conf", "[req]\ndistinguished_name=dn\nx509_extensions=ext\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\n")
	write("index", "")
	write("serial", "1000\n")
	write("ca.conf", "[ca]\ndefault_ca=myca\n[myca]\nnew_certs_dir="+dir+"\ndatabase="+dir+"/index\nserial="+dir+
		"/serial\ndefault_md=sha256\ndefault_days=1\npolicy=pol\nx509_extensions=ext\n[pol]\ncommonName=supplied\n[ext]\nbasicConstraints=critical,CA:TRUE\n")
	run("req", "-x509", "-new", "-config", "req.conf", "-subj", "/CN=int/", "-newkey", "rsa:2048", "-nodes", "-out", "int.crt", "-keyout", "int.key")
	for _, n := range []string{"good", "bad"} {
		run("req", "-new", "-config", "req.conf", "-subj", "/CN="+n+"/", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-out", n+".csr", "-keyout", n+".key")
		run("ca", "-batch", "-config", "ca.conf", "-keyfile", "int.key", "-cert", "int.crt", "-in", n+".csr", "-out", n+".crt")
	}
	run("ca", "-config", "ca.conf", "-revoke", "bad.crt", "-keyfile", "int.key", "-cert", "int.crt")
	load := func(name string) *x509.Certificate {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(pemBytes(t, data))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	inter := load("int.crt")
	for _, c := range []struct {
		name string
		want Status
	}{{"good", Good}, {"bad", Revoked}} {
		cert := load(c.name + ".crt")
		der, err := Request(cert, inter)
		if err != nil {
			t.Fatal(err)
		}
		write(c.name+".req", string(der))
		// OpenSSL reads our request and answers it.
		run("ocsp", "-index", "index", "-CA", "int.crt", "-rsigner", "int.crt", "-rkey", "int.key",
			"-reqin", c.name+".req", "-respout", c.name+".resp", "-ndays", "1")
		resp, err := os.ReadFile(filepath.Join(dir, c.name+".resp"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Check(resp, Options{Cert: cert, Issuer: inter, Verify: true, Now: time.Now(), Roots: pool(inter)})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.Status != c.want || r.NextUpdate.IsZero() {
			t.Fatalf("%s: %+v, want %s", c.name, r, c.want)
		}
	}
	// OpenSSL reads ocsptest's response.
	goodCert := load("good.crt")
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "int.key"))
	key, err := x509.ParsePKCS8PrivateKey(pemBytes(t, keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	der, err := ocsptest.Response(ocsptest.Template{Cert: goodCert, Issuer: inter, Signer: inter, Key: key.(crypto.Signer), NextUpdate: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	write("ours.resp", string(der))
	out := run("ocsp", "-respin", "ours.resp", "-issuer", "int.crt", "-cert", "good.crt", "-CAfile", "int.crt", "-no_nonce")
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "good.crt: good") {
		t.Fatalf("OpenSSL does not take the response:\n%s", out)
	}
}

func pool(cs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}

func pemBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}
