package conf

import (
	"crypto/tls"
	"crypto/x509"

	"headroom/internal/vars"
)

// ProxySSL holds a location's proxy_ssl_* settings: how headroom speaks
// TLS to an upstream that proxy_pass names with https://.
type ProxySSL struct {
	// ServerName is proxy_ssl_server_name: send Name as SNI.
	ServerName bool
	// Name is proxy_ssl_name, the name sent and checked; nil is
	// $proxy_host.
	Name *vars.Template
	// Verify is proxy_ssl_verify, against TrustedCAs (from
	// TrustedCertificate), at most VerifyDepth CAs deep.
	Verify             bool
	VerifyDepth        int
	TrustedCertificate string
	TrustedCAs         []*x509.Certificate
	// TrustedRoots is TrustedCAs as a pool, made once.
	TrustedRoots *x509.CertPool
	// Certificate is the client certificate (proxy_ssl_certificate and
	// proxy_ssl_certificate_key), loaded; nil for none.
	CertFile, KeyFile string
	Certificate       *tls.Certificate
	// MinVersion and MaxVersion are proxy_ssl_protocols'; CipherSuites
	// proxy_ssl_ciphers'.
	Protocols              []string
	MinVersion, MaxVersion uint16
	Ciphers                string
	CipherSuites           []uint16
	// SessionReuse is proxy_ssl_session_reuse.
	SessionReuse bool
	// Passwords are proxy_ssl_password_file's passphrases.
	Passwords []string
}

// proxySSLRaw is what one level sets.
type proxySSLRaw struct {
	serverName, verify, sessionReuse *bool
	name                             *vars.Template
	verifyDepth                      *int
	trusted, cert, key               *string
	protocols                        []string
	ciphers                          *string
	passwords                        []string
}

func proxySSLDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	file := func(f func(*proxySSLRaw) **string) func(*builder, *Node, *scope) error {
		return func(b *builder, n *Node, sc *scope) error {
			p := f(&sc.raw.proxySSL)
			if *p != nil {
				return duplicate(n)
			}
			if hasVariables(n.Args[0]) {
				return skip(b.unsupportedPart(n, "variables", "variables in \""+n.Name+"\" are not supported by headroom"))
			}
			v := fullPath(b.cfg.Prefix, n.Args[0])
			*p = &v
			return nil
		}
	}
	return []*directive{
		{name: "proxy_ssl_server_name", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.proxySSL.serverName }),
			syntax: "proxy_ssl_server_name on | off;", def: "off",
			doc: "Sends proxy_ssl_name as the SNI name of TLS connections to upstreams."},
		{name: "proxy_ssl_name", ctx: hsl, args: arg1, set: setProxySSLName,
			syntax: "proxy_ssl_name name;", def: "$proxy_host",
			doc: "The upstream's name, sent as SNI (with proxy_ssl_server_name) and checked against its certificate (with proxy_ssl_verify)."},
		{name: "proxy_ssl_verify", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.proxySSL.verify }),
			syntax: "proxy_ssl_verify on | off;", def: "off",
			doc: "Checks the upstream's certificate against proxy_ssl_trusted_certificate and proxy_ssl_name; one that fails is a failed attempt (502, or the next server by proxy_next_upstream error)."},
		{name: "proxy_ssl_verify_depth", ctx: hsl, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.proxySSL.verifyDepth }),
			syntax: "proxy_ssl_verify_depth number;", def: "1",
			doc: "How many CA certificates may stand between the upstream's certificate and a trusted one."},
		{name: "proxy_ssl_trusted_certificate", ctx: hsl, args: arg1, set: file(func(r *proxySSLRaw) **string { return &r.trusted }),
			syntax: "proxy_ssl_trusted_certificate file;",
			doc:    "PEM CA certificates an upstream's certificate is verified against."},
		{name: "proxy_ssl_certificate", ctx: hsl, args: arg1, set: file(func(r *proxySSLRaw) **string { return &r.cert }),
			syntax: "proxy_ssl_certificate file;",
			doc:    "A PEM client certificate presented to upstreams that ask for one."},
		{name: "proxy_ssl_certificate_key", ctx: hsl, args: arg1, set: file(func(r *proxySSLRaw) **string { return &r.key }),
			syntax: "proxy_ssl_certificate_key file;",
			doc:    "The key of proxy_ssl_certificate."},
		{name: "proxy_ssl_protocols", ctx: hsl, args: arg1More, set: protocolsSlot(func(r *rawLoc) *[]string { return &r.proxySSL.protocols }),
			syntax: "proxy_ssl_protocols [SSLv2] [SSLv3] [TLSv1] [TLSv1.1] [TLSv1.2] [TLSv1.3];", def: "TLSv1 TLSv1.1 TLSv1.2",
			doc: "Protocol versions for TLS to upstreams; as on the client side, nginx 1.22's default gives TLS 1.2 only."},
		{name: "proxy_ssl_ciphers", ctx: hsl, args: arg1, set: ciphersSlot(func(r *rawLoc) **string { return &r.proxySSL.ciphers }),
			syntax: "proxy_ssl_ciphers ciphers;", def: "DEFAULT",
			doc: "TLS 1.2 cipher suites for TLS to upstreams, by OpenSSL's names as ssl_ciphers."},
		{name: "proxy_ssl_password_file", ctx: hsl, args: arg1, set: setSSLPasswordFile(func(r *rawLoc) *[]string { return &r.proxySSL.passwords }),
			syntax: "proxy_ssl_password_file file;",
			doc:    "Passphrases for an encrypted proxy_ssl_certificate_key, as ssl_password_file."},
		{name: "proxy_ssl_session_reuse", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.proxySSL.sessionReuse }),
			syntax: "proxy_ssl_session_reuse on | off;", def: "on",
			doc: "Resumes TLS sessions with upstreams (per worker and location)."},
	}
}

func setProxySSLName(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.proxySSL
	if r.name != nil {
		return duplicate(n)
	}
	t, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	r.name = t
	return nil
}

// mergeProxySSL inherits what a level does not set.
func mergeProxySSL(r *proxySSLRaw, p ProxySSL) ProxySSL {
	out := p
	out.ServerName = pick(r.serverName, p.ServerName)
	out.Verify = pick(r.verify, p.Verify)
	out.SessionReuse = pick(r.sessionReuse, p.SessionReuse)
	out.VerifyDepth = pick(r.verifyDepth, p.VerifyDepth)
	if r.name != nil {
		out.Name = r.name
	}
	out.TrustedCertificate = pick(r.trusted, p.TrustedCertificate)
	out.CertFile = pick(r.cert, p.CertFile)
	out.KeyFile = pick(r.key, p.KeyFile)
	if r.protocols != nil {
		out.Protocols = r.protocols
	}
	out.MinVersion, out.MaxVersion = versionRange(out.Protocols)
	out.Ciphers = pick(r.ciphers, p.Ciphers)
	if r.passwords != nil {
		out.Passwords = r.passwords
	}
	out.CipherSuites, _ = sslCipherSuites(out.Ciphers)
	return out
}

// versionRange is the range of versions a list of ssl_protocols names
// enables (see sslVersions).
func versionRange(names []string) (lo, hi uint16) {
	for _, name := range names {
		v := sslVersions[name]
		if v == 0 {
			continue
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return lo, hi
}

// defaultProxySSL is nginx's proxy_ssl_* defaults.
func defaultProxySSL() ProxySSL {
	return mergeProxySSL(&proxySSLRaw{}, ProxySSL{VerifyDepth: 1, SessionReuse: true, Protocols: defaultSSLProtocols, Ciphers: "DEFAULT"})
}

// loadProxySSL loads the files of every level that proxies with https,
// with nginx's messages.
func (b *builder) loadProxySSL(lc *LocConf, cas map[string][]*x509.Certificate, certs map[[2]string]*tls.Certificate) error {
	s := &lc.ProxySSL
	if s.Verify {
		if s.TrustedCertificate == "" {
			return &Error{Msg: "no proxy_ssl_trusted_certificate for proxy_ssl_verify"}
		}
		c, ok := cas[s.TrustedCertificate]
		if !ok {
			var err error
			if c, err = loadCAs(s.TrustedCertificate); err != nil {
				return err
			}
			cas[s.TrustedCertificate] = c
		}
		s.TrustedCAs, s.TrustedRoots = c, certPool(c)
	}
	if s.CertFile != "" {
		if s.KeyFile == "" {
			return &Error{Msg: "no \"proxy_ssl_certificate_key\" is defined for certificate \"" + s.CertFile + "\""}
		}
		key := [2]string{s.CertFile, s.KeyFile}
		pair, ok := certs[key]
		if !ok {
			var err error
			if pair, err = loadKeyPair(s.CertFile, s.KeyFile, s.Passwords); err != nil {
				return err
			}
			certs[key] = pair
		}
		s.Certificate = pair
	}
	return nil
}
