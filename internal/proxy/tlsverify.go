package proxy

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/vars"
)

// This file is nginx's client certificate checks: the handshake only asks
// for a certificate (ssl_verify_client), and each request checks what came
// against its server's CAs, as nginx's ngx_http_process_request does with
// OpenSSL's verify result, so that a missing or bad certificate is
// answered with nginx's 400 pages (496, 495) instead of a failed
// handshake.

// clientVerify is the result of checking a connection's certificate
// against one server's settings; the connection keeps the last.
type clientVerify struct {
	ssl    *conf.SSL
	result string // "SUCCESS", "NONE" or "FAILED:reason"
	code   int    // OpenSSL's verify error number when FAILED
}

// checkClientCert applies ssl_verify_client to a request over TLS: it
// answers 421 for a Host that names a server other than the handshake's
// when that server asks for certificates, 496 when one is required and
// none came, 495 when one does not verify; it reports whether the request
// goes on.
func (cc *clientConn) checkClientCert(t *tlsTransport, host []byte) bool {
	r := cc.r
	ssl := &r.srv.Loc.SSL
	if ssl.VerifyClient == conf.VerifyOff {
		return true
	}
	if sni := t.raw.serverName; sni != "" && !http1.EqualFold(host, sni) {
		if s, _ := cc.ln.vhosts.find(strings.ToLower(sni)); s != r.srv {
			cc.logAt(logs.Info, "client attempted to request the server name different from the one that was negotiated while reading client request headers")
			r.keepAlive = false
			cc.respondError(421)
			return false
		}
	}
	v := t.verifyFor(ssl)
	switch {
	case strings.HasPrefix(v.result, "FAILED") && ssl.VerifyClient != conf.VerifyOptionalNoCA:
		cc.logAt(logs.Info, "client SSL certificate verify error: ("+strconv.Itoa(v.code)+":"+v.result[len("FAILED:"):]+") while reading client request headers")
		r.keepAlive = false
		cc.respondError(495)
		return false
	case v.result == "NONE" && ssl.VerifyClient == conf.VerifyOn:
		cc.logAt(logs.Info, "client sent no required SSL certificate while reading client request headers")
		r.keepAlive = false
		cc.respondError(496)
		return false
	}
	return true
}

// verifyFor checks the connection's certificate against a server's CAs,
// once per server.
func (t *tlsTransport) verifyFor(ssl *conf.SSL) *clientVerify {
	if t.verified.ssl == ssl && t.verified.result != "" {
		return &t.verified
	}
	t.verified = clientVerify{ssl: ssl}
	certs := t.conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		t.verified.result = "NONE"
		return &t.verified
	}
	roots := ssl.VerifyRoots
	if roots == nil {
		// A server without certificates of its own has no CAs.
		roots = x509.NewCertPool()
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err == nil {
		ok := false
		for _, ch := range chains {
			if len(ch)-1 <= ssl.VerifyDepth {
				ok = true
			}
		}
		if !ok {
			t.verified.result, t.verified.code = "FAILED:certificate chain too long", 22
			return &t.verified
		}
		t.verified.result = "SUCCESS"
		return &t.verified
	}
	t.verified.code, t.verified.result = opensslVerifyError(certs[0], err)
	t.verified.result = "FAILED:" + t.verified.result
	return &t.verified
}

// opensslVerifyError names a verification failure as OpenSSL 3 does
// ($ssl_client_verify, the error log).
func opensslVerifyError(c *x509.Certificate, err error) (int, string) {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			if time.Now().Before(c.NotBefore) {
				return 9, "certificate is not yet valid"
			}
			return 10, "certificate has expired"
		case x509.IncompatibleUsage:
			return 26, "unsuitable certificate purpose"
		}
		return 7, "certificate signature failure"
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			return 18, "self-signed certificate"
		}
		return 20, "unable to get local issuer certificate"
	}
	return 1, "unspecified certificate verification error"
}

// clientCertVar is the getter of the $ssl_client_* variables of the
// connection's certificate: not found on a connection without TLS, and
// empty without a certificate, as in nginx.
func clientCertVar(fn func(b []byte, c *x509.Certificate, t *tlsTransport) []byte) getter {
	return func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		t, ok := cc.connTLS()
		if !ok || t.state != tlsOpen {
			return b, false
		}
		certs := t.conn.ConnectionState().PeerCertificates
		if len(certs) == 0 {
			return b, true
		}
		return fn(b, certs[0], t), true
	}
}

func init() {
	g := &getters
	g[vars.SSLClientVerify] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		t, ok := cc.connTLS()
		if !ok || t.state != tlsOpen {
			return b, false
		}
		ssl := &cc.r.srv.Loc.SSL
		if ssl.VerifyClient == conf.VerifyOff {
			return append(b, "NONE"...), true
		}
		return append(b, t.verifyFor(ssl).result...), true
	}
	pemOf := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	g[vars.SSLClientRawCert] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return append(b, pemOf(c)...)
	})
	g[vars.SSLClientCert] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		// nginx's older form: every line but the first starts with a
		// tab, so that the value fits in a header field.
		p := bytes.TrimRight(pemOf(c), "\n")
		return append(b, bytes.ReplaceAll(p, []byte("\n"), []byte("\n\t"))...)
	})
	g[vars.SSLClientEscapedCert] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return append(b, url.QueryEscape(string(pemOf(c)))...)
	})
	g[vars.SSLClientSDN] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return append(b, c.Subject.String()...)
	})
	g[vars.SSLClientIDN] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return append(b, c.Issuer.String()...)
	})
	g[vars.SSLClientSDNLegacy] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return appendLegacyDN(b, c.Subject)
	})
	g[vars.SSLClientIDNLegacy] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return appendLegacyDN(b, c.Issuer)
	})
	g[vars.SSLClientSerial] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return append(b, strings.ToUpper(c.SerialNumber.Text(16))...)
	})
	g[vars.SSLClientFingerprint] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		sum := sha1.Sum(c.Raw)
		return hex.AppendEncode(b, sum[:])
	})
	g[vars.SSLClientVStart] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return append(b, opensslTime(c.NotBefore)...)
	})
	g[vars.SSLClientVEnd] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		return append(b, opensslTime(c.NotAfter)...)
	})
	g[vars.SSLClientVRemain] = clientCertVar(func(b []byte, c *x509.Certificate, _ *tlsTransport) []byte {
		days := int64(time.Until(c.NotAfter) / (24 * time.Hour))
		return strconv.AppendInt(b, max(days, 0), 10)
	})
}

// appendLegacyDN appends a name as OpenSSL's X509_NAME_oneline writes it
// ("/C=US/O=Example/CN=host"), in the certificate's order.
func appendLegacyDN(b []byte, n pkix.Name) []byte {
	for _, rdn := range n.ToRDNSequence() {
		for _, atv := range rdn {
			b = append(b, '/')
			b = append(b, oidShortName(atv.Type.String())...)
			b = append(b, '=')
			b = append(b, fmt.Sprint(atv.Value)...)
		}
	}
	return b
}

// oidShortName is OpenSSL's short name of a name attribute.
func oidShortName(oid string) string {
	switch oid {
	case "2.5.4.3":
		return "CN"
	case "2.5.4.6":
		return "C"
	case "2.5.4.7":
		return "L"
	case "2.5.4.8":
		return "ST"
	case "2.5.4.10":
		return "O"
	case "2.5.4.11":
		return "OU"
	case "1.2.840.113549.1.9.1":
		return "emailAddress"
	}
	return oid
}

// opensslTime formats a certificate's time as OpenSSL prints it ("Dec  2
// 15:20:00 2026 GMT").
func opensslTime(t time.Time) string {
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}
