package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"path/filepath"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// Certificates with variables. A server whose ssl_certificate or
// ssl_certificate_key names a variable ("ssl_certificate
// /etc/ssl/$ssl_server_name.crt") has its pairs loaded for each handshake,
// as nginx 1.22 loads them: the variables take their values for the
// connection and the server the client's SNI name chose (a request of its
// own, with no head yet), and the files are read on the loop, as nginx
// reads them on its worker. nginx warns that this costs a file read and a
// key parse per handshake; so does it here.

// errNoCertificate fails a handshake whose certificate could not be
// loaded; the cause was logged.
var errNoCertificate = errors.New("tls: no certificate for the handshake")

// dynamicCertificates returns GetCertificate for a server with pairs that
// have variables: the server's fixed pairs and those its variables name
// now, chosen among as crypto/tls chooses.
func dynamicCertificates(srv *conf.Server) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	ssl := &srv.Loc.SSL
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		ts, _ := hello.Conn.(*tlsSocket)
		var cc *clientConn
		if ts != nil {
			cc, _ = ts.c.Data.(*clientConn)
		}
		if cc == nil {
			return nil, errNoCertificate
		}
		certs := make([]tls.Certificate, 0, len(ssl.Certificates))
		for k := range ssl.Certificates {
			sc := &ssl.Certificates[k]
			if !sc.Dynamic() {
				pair := *sc.Pair
				pair.OCSPStaple = ssl.Staple
				certs = append(certs, pair)
				continue
			}
			certFile, keyFile := cc.certificatePaths(srv, sc)
			pair, err := conf.LoadPair(certFile, keyFile, ssl.Passwords)
			if err != nil {
				cc.logConn(logs.Error, err.Error()+" while SSL handshaking")
				return nil, errNoCertificate
			}
			certs = append(certs, *pair)
		}
		return &certs[chooseCertificate(hello, certs)], nil
	}
}

// certificatePaths evaluates a pair's file names for the connection, in
// the server srv, as nginx evaluates them in the fake request of its
// certificate callback; a relative result is taken from the prefix.
func (cc *clientConn) certificatePaths(srv *conf.Server, sc *conf.SSLCertificate) (string, string) {
	saved := cc.r
	r := cc.w.getRequest()
	r.srv, r.lc = srv, srv.Loc
	cc.r = r
	certFile := string(cc.eval(nil, sc.CertTemplate))
	keyFile := string(cc.eval(nil, sc.KeyTemplate))
	cc.r = saved
	cc.w.putRequest(r)
	prefix := cc.w.srv.cfg.Prefix
	if !filepath.IsAbs(certFile) {
		certFile = filepath.Join(prefix, certFile)
	}
	if !filepath.IsAbs(keyFile) {
		keyFile = filepath.Join(prefix, keyFile)
	}
	return certFile, keyFile
}

// sessionContext names what a server's sessions may resume with, as
// OpenSSL's session ID context does in nginx: its certificates (a pair
// with variables by the text of its file names) and the CAs it verifies
// clients with. A session resumes only with a server of the same
// context, so that a ticket issued with one certificate is not taken by
// a server on another address that presents a different one.
func sessionContext(srv *conf.Server) []byte {
	ssl := &srv.Loc.SSL
	h := sha256.New()
	h.Write([]byte("HTTP"))
	for k := range ssl.Certificates {
		sc := &ssl.Certificates[k]
		if sc.Dynamic() {
			h.Write([]byte(sc.CertTemplate.Source))
			h.Write([]byte{0})
			continue
		}
		if len(sc.Pair.Certificate) > 0 {
			d := sha256.Sum256(sc.Pair.Certificate[0])
			h.Write(d[:])
		}
	}
	for _, ca := range ssl.ClientCAs {
		h.Write(ca.RawSubject)
	}
	return append([]byte("hr-ctx:"), h.Sum(nil)[:16]...)
}
