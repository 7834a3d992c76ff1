package conf

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"headroom/internal/ocsp"
)

// OCSPStapling is what fetching one certificate's OCSP response needs,
// worked out when the configuration is read as nginx's
// ngx_ssl_stapling_certificate does: the issuer, the responder's address
// and what checking the response takes. Servers whose certificate,
// responder and checks are the same share one, so that the response is
// fetched once for all of them.
type OCSPStapling struct {
	// CertFile names the certificate in messages, as nginx names it.
	CertFile string
	// Cert is the certificate, Issuer the one that issued it (from the
	// certificate's file, else from the trusted certificates), Chain the
	// other certificates of its file.
	Cert, Issuer *x509.Certificate
	Chain        []*x509.Certificate
	// Host is the responder's host as written (an IPv6 literal in its
	// brackets), sent as Host and named in messages; Port its port and
	// URI the path requests are sent under ("/" at least).
	Host string
	Port int
	URI  string
	// Addrs are Host's addresses, looked up when the configuration was
	// read (nginx's ngx_parse_url does so); a Resolver, when the server
	// has one, looks the name up again for each request.
	Addrs           []netip.AddrPort
	Resolver        *Resolver
	ResolverTimeout time.Duration
	// Verify is ssl_stapling_verify; Roots the certificates responders
	// are verified against (ssl_trusted_certificate, and
	// ssl_client_certificate when clients are verified: nginx's store).
	Verify bool
	Roots  *x509.CertPool
}

// staplingKey tells whether two servers' stapling of a certificate are
// the same.
type staplingKey struct {
	pair            *tls.Certificate
	responder       string
	verify          bool
	clientCAs       string
	trustedCAs      string
	resolver        *Resolver
	resolverTimeout time.Duration
}

// setupStapling prepares a server's OCSP stapling: it reads
// ssl_stapling_file, or finds each certificate's issuer and responder,
// warning as nginx does (and stapling nothing for that certificate) when
// one cannot be found. shared holds the stapling already set up for
// other servers.
func (b *builder) setupStapling(srv *Server, shared map[staplingKey]*OCSPStapling) error {
	s := &srv.Loc.SSL
	if !s.Stapling {
		return nil
	}
	if s.StaplingFile != "" {
		data, err := os.ReadFile(s.StaplingFile)
		if err != nil {
			return &Error{Msg: "BIO_new_file(\"" + s.StaplingFile + "\") failed " + sysErrorText(err)}
		}
		s.Staple = data
		return nil
	}
	// The list may be the http level's, shared by other servers whose
	// stapling differs: each server gets its own.
	s.Certificates = slices.Clone(s.Certificates)
	var store []*x509.Certificate
	clientCAs := ""
	if s.VerifyClient != VerifyOff {
		store, clientCAs = append(store, s.ClientCAs...), s.ClientCertificate
	}
	store = append(store, s.TrustedCAs...)
	for i := range s.Certificates {
		c := &s.Certificates[i]
		if c.Dynamic() {
			// Chosen per handshake: nginx staples only the
			// certificates it loaded with the configuration.
			continue
		}
		cert, chain := c.Pair.Leaf, []*x509.Certificate(nil)
		for k, der := range c.Pair.Certificate {
			x, err := x509.ParseCertificate(der)
			if err != nil {
				break
			}
			if k == 0 {
				cert = x
			} else {
				chain = append(chain, x)
			}
		}
		if cert == nil {
			continue
		}
		issuer := findIssuer(cert, chain, store)
		if issuer == nil {
			b.warn(&Error{Msg: "\"ssl_stapling\" ignored, issuer certificate not found for certificate \"" + c.CertFile + "\""})
			continue
		}
		responder := s.StaplingResponder
		if responder == "" {
			if len(cert.OCSPServer) == 0 {
				b.warn(&Error{Msg: "\"ssl_stapling\" ignored, no OCSP responder URL in the certificate \"" + c.CertFile + "\""})
				continue
			}
			responder = cert.OCSPServer[0]
		}
		if len(responder) <= 7 || !strings.EqualFold(responder[:7], "http://") {
			b.warn(&Error{Msg: "\"ssl_stapling\" ignored, invalid URL prefix in OCSP responder \"" + responder +
				"\" in the certificate \"" + c.CertFile + "\""})
			continue
		}
		host, port, uri, addrs, msg := parseResponder(responder[7:])
		if msg != "" {
			b.warn(&Error{Msg: "\"ssl_stapling\" ignored, " + msg + " in OCSP responder \"" + responder[7:] +
				"\" in the certificate \"" + c.CertFile + "\""})
			continue
		}
		key := staplingKey{pair: c.Pair, responder: responder, verify: s.StaplingVerify, clientCAs: clientCAs,
			trustedCAs: s.TrustedCertificate, resolver: srv.Loc.Resolver, resolverTimeout: srv.Loc.ResolverTimeout}
		if st := shared[key]; st != nil {
			c.OCSP = st
			continue
		}
		c.OCSP = &OCSPStapling{CertFile: c.CertFile, Cert: cert, Issuer: issuer, Chain: chain,
			Host: host, Port: port, URI: uri, Addrs: addrs,
			Resolver: srv.Loc.Resolver, ResolverTimeout: srv.Loc.ResolverTimeout,
			Verify: s.StaplingVerify, Roots: certPool(store)}
		shared[key] = c.OCSP
	}
	return nil
}

// findIssuer looks for cert's issuer as nginx does: in the certificate's
// own chain first, then among the trusted certificates, preferring one
// valid now there as OpenSSL's X509_STORE_CTX_get1_issuer does.
func findIssuer(cert *x509.Certificate, chain, store []*x509.Certificate) *x509.Certificate {
	for _, c := range chain {
		if ocsp.Issued(c, cert) {
			return c
		}
	}
	var found *x509.Certificate
	now := time.Now()
	for _, c := range store {
		if !ocsp.Issued(c, cert) {
			continue
		}
		if !now.Before(c.NotBefore) && !now.After(c.NotAfter) {
			return c
		}
		if found == nil {
			found = c
		}
	}
	return found
}

// parseResponder reads a responder's URL after "http://" as nginx's
// ngx_parse_url does with a default port of 80 and a URI part: host,
// optional port, then the URI from the first "/" or "?". The host is
// looked up now, as nginx looks it up; the error is nginx's wording.
func parseResponder(u string) (host string, port int, uri string, addrs []netip.AddrPort, msg string) {
	port = 80
	portText, hasPort := "", false
	if strings.HasPrefix(u, "[") {
		end := strings.IndexByte(u, ']')
		if end < 0 {
			return "", 0, "", nil, "invalid host"
		}
		host = u[:end+1]
		rest := u[end+1:]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest, uri = rest[:i], rest[i:]
		}
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, "", nil, "invalid host"
			}
			portText, hasPort = rest[1:], true
		}
		if host == "[]" {
			return "", 0, "", nil, "no host"
		}
		if _, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil {
			return "", 0, "", nil, "invalid IPv6 address"
		}
	} else {
		host = u
		if i := strings.IndexAny(host, "/?"); i >= 0 {
			host, uri = host[:i], host[i:]
		}
		if i := strings.IndexByte(host, ':'); i >= 0 {
			host, portText, hasPort = host[:i], host[i+1:], true
		}
	}
	if hasPort {
		n, ok := atoi(portText)
		if !ok || n < 1 || n > 65535 {
			return "", 0, "", nil, "invalid port"
		}
		port = n
	}
	if host == "" {
		return "", 0, "", nil, "no host"
	}
	if uri == "" {
		uri = "/"
	}
	ips, ok := resolve(host)
	if !ok {
		return "", 0, "", nil, "host not found"
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			addrs = append(addrs, netip.AddrPortFrom(a.Unmap(), uint16(port)))
		}
	}
	return host, port, uri, addrs, ""
}
