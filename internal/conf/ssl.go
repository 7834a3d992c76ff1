package conf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"time"

	"headroom/internal/vars"
)

// SSL holds a level's settings of nginx's ssl module: what a server
// listening with "listen ... ssl" needs to terminate TLS. Certificates
// are loaded when the configuration is read, as nginx loads them, so that
// a missing or bad file stops the start (or the reload) with its name.
type SSL struct {
	// Certificates are the ssl_certificate and ssl_certificate_key
	// pairs, in order; a client's handshake gets the first whose key
	// type it supports, as OpenSSL chooses among them.
	Certificates []SSLCertificate
	// MinVersion and MaxVersion bound the protocol versions
	// ssl_protocols enables (crypto/tls's constants).
	MinVersion, MaxVersion uint16
	// Protocols is ssl_protocols as written, for the configuration dump.
	Protocols []string
	// Ciphers is ssl_ciphers as written; CipherSuites the TLS 1.2 suites
	// it selects, nil for crypto/tls's own choice (see sslCiphers).
	Ciphers      string
	CipherSuites []uint16
	// Curves is ssl_ecdh_curve's list; nil is "auto".
	Curves []tls.CurveID
	// PreferServerCiphers is ssl_prefer_server_ciphers.
	PreferServerCiphers bool
	// SessionTickets is ssl_session_tickets; SessionTimeout is
	// ssl_session_timeout; SessionCache ssl_session_cache as written.
	SessionTickets bool
	SessionTimeout time.Duration
	SessionCache   string
	// CacheName names the session cache sessions are kept in when
	// tickets are off ("" for none); shared caches of one name are one
	// cache, and a builtin one is the server's own. CacheSize bounds it
	// in sessions.
	CacheName string
	CacheSize int
	// TicketKeys are the keys of ssl_session_ticket_key, the first
	// encrypting (the SHA-256 of each file, the form crypto/tls takes);
	// nil for a key made at each start.
	TicketKeys [][32]byte
	// BufferSize is ssl_buffer_size.
	BufferSize int
	// RejectHandshake is ssl_reject_handshake.
	RejectHandshake bool
	// Passwords are ssl_password_file's passphrases for encrypted keys.
	Passwords []string
	// Stapling is ssl_stapling; StaplingFile ssl_stapling_file, whose
	// OCSP response (Staple, loaded) is sent to clients that ask.
	// Without a file each certificate's response is fetched (see
	// SSLCertificate.OCSP) from StaplingResponder, or the responder its
	// certificate names; StaplingVerify is ssl_stapling_verify.
	Stapling          bool
	StaplingFile      string
	Staple            []byte
	StaplingVerify    bool
	StaplingResponder string
	// Enable is the deprecated "ssl on": every address of the server
	// speaks TLS, as with "listen ... ssl".
	Enable bool
	// VerifyClient is ssl_verify_client; VerifyDepth ssl_verify_depth.
	VerifyClient VerifyClient
	VerifyDepth  int
	// ClientCertificate and TrustedCertificate are the CA files of
	// ssl_client_certificate (whose names a client is sent) and
	// ssl_trusted_certificate (trusted too, not sent); ClientCAs and
	// TrustedCAs their certificates, loaded.
	ClientCertificate, TrustedCertificate string
	ClientCAs, TrustedCAs                 []*x509.Certificate
	// VerifyRoots holds both, made once when the configuration is read
	// rather than for each connection whose certificate is checked.
	VerifyRoots *x509.CertPool
}

// VerifyClient is ssl_verify_client's value.
type VerifyClient uint8

// The values of ssl_verify_client.
const (
	VerifyOff VerifyClient = iota
	VerifyOn
	VerifyOptional
	VerifyOptionalNoCA
)

// SSLCertificate is one certificate with its key, loaded.
type SSLCertificate struct {
	CertFile, KeyFile string
	// CertTemplate and KeyTemplate are set when ssl_certificate or
	// ssl_certificate_key has variables: the pair is then loaded for
	// each handshake that needs it, with the variables' values for the
	// connection and the server its SNI name chose, as nginx does, and
	// Pair is nil. CertFile and KeyFile hold the text as written (with
	// the prefix before a relative path that does not start with a
	// variable); a value that is still relative once evaluated is taken
	// from the prefix too.
	CertTemplate, KeyTemplate *vars.Template
	Pair                      *tls.Certificate
	// OCSP is what fetching the certificate's OCSP response for stapling
	// needs; nil when its server does not fetch one (no ssl_stapling, a
	// ssl_stapling_file, or nginx's reasons for ignoring ssl_stapling).
	OCSP *OCSPStapling
}

// Dynamic reports whether the pair is loaded per handshake: its
// ssl_certificate or ssl_certificate_key has variables.
func (c *SSLCertificate) Dynamic() bool { return c.CertTemplate != nil }

// LoadPair loads a certificate chain and its key at run time (a pair
// with variables), decrypting the key with ssl_password_file's
// passphrases; errors name the files as nginx's do.
func LoadPair(certFile, keyFile string, passwords []string) (*tls.Certificate, error) {
	return loadKeyPair(certFile, keyFile, passwords)
}

// sslRaw is what one level sets of the ssl settings.
type sslRaw struct {
	certs, keys       []string
	certTemplates     []*vars.Template
	keyTemplates      []*vars.Template
	certNode, keyNode *Node
	protocols         []string
	ciphers           *string
	curves            *string
	preferServer      *bool
	sessionTickets    *bool
	sessionTimeout    *time.Duration
	sessionCache      *string
	bufferSize        *int64
	ticketKeys        [][32]byte
	rejectHandshake   *bool
	enable            *bool
	passwords         []string
	stapling          *bool
	staplingVerify    *bool
	staplingFile      *string
	staplingResponder *string
	verifyClient      *VerifyClient
	verifyDepth       *int
	clientCert        *string
	trustedCert       *string
}

// defaultSSLProtocols are nginx 1.22's: TLS 1.3 is not among them, and
// Debian's OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security
// level, so TLS 1.2 is what an nginx user gets without ssl_protocols.
var defaultSSLProtocols = []string{"TLSv1", "TLSv1.1", "TLSv1.2"}

// defaultSSLCiphers is nginx's ssl_ciphers default.
const defaultSSLCiphers = "HIGH:!aNULL:!MD5"

func sslDirectives() []*directive {
	const hs = ctxHTTP | ctxServer
	return []*directive{
		{name: "ssl", ctx: hs, args: argFlag, set: setSSLEnable,
			syntax: "ssl on | off;", def: "off",
			doc: "Deprecated, as in nginx (a warning says so): on makes every address of the server speak TLS, as listen's ssl parameter does."},
		{name: "ssl_certificate", ctx: hs, args: arg1, set: setSSLFile(true),
			syntax: "ssl_certificate file;",
			doc:    "A PEM certificate (with its chain) for the servers listening with ssl; may be given several times (RSA and ECDSA), each with its ssl_certificate_key. Loaded when the configuration is read. Variables in the name are not supported by headroom."},
		{name: "ssl_certificate_key", ctx: hs, args: arg1, set: setSSLFile(false),
			syntax: "ssl_certificate_key file;",
			doc:    "The PEM private key of the ssl_certificate of the same position. Encrypted keys (ssl_password_file) and engine: keys are not supported by headroom."},
		{name: "ssl_protocols", ctx: hs, args: arg1More, set: protocolsSlot(func(r *rawLoc) *[]string { return &r.ssl.protocols }),
			syntax: "ssl_protocols [SSLv2] [SSLv3] [TLSv1] [TLSv1.1] [TLSv1.2] [TLSv1.3];", def: "TLSv1 TLSv1.1 TLSv1.2",
			doc: "Enables protocol versions. As with nginx on Debian (OpenSSL 3), SSLv2, SSLv3, TLSv1 and TLSv1.1 are accepted here but no handshake uses them, so the default gives TLS 1.2 only."},
		{name: "ssl_ciphers", ctx: hs, args: arg1, set: ciphersSlot(func(r *rawLoc) **string { return &r.ssl.ciphers }),
			syntax: "ssl_ciphers ciphers;", def: defaultSSLCiphers,
			doc: "Selects the TLS 1.2 cipher suites by OpenSSL's names, separated by colons; a name that is no OpenSSL suite is an error naming it, and OpenSSL's suites crypto/tls lacks (DHE, CAMELLIA, ...) are skipped as OpenSSL skips what it cannot use. A value of OpenSSL's group keywords only (the default HIGH:!aNULL:!MD5) gives the suites of HIGH that crypto/tls has, RSA key exchange included. TLS 1.3 suites are not configurable, as in nginx."},
		{name: "ssl_prefer_server_ciphers", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssl.preferServer }),
			syntax: "ssl_prefer_server_ciphers on | off;", def: "off",
			doc: "Accepted; crypto/tls always chooses the suite itself, by what the hardware does fastest."},
		{name: "ssl_ecdh_curve", ctx: hs, args: arg1, set: setSSLCurve,
			syntax: "ssl_ecdh_curve curve[:curve...];", def: "auto",
			doc: "The key exchange groups, by OpenSSL's names (X25519, prime256v1, secp384r1, secp521r1); auto is X25519, P-256, P-384 and P-521, as OpenSSL 3's default."},
		{name: "ssl_session_cache", ctx: hs, args: take12, set: setSSLSessionCache,
			syntax: "ssl_session_cache off | none | [builtin[:size]] [shared:name:size];", def: "none",
			doc: "Checked and accepted; headroom resumes sessions with tickets (ssl_session_tickets), which need no cache shared by the workers."},
		{name: "ssl_session_timeout", ctx: hs, args: arg1, set: setSSLSessionTimeout,
			syntax: "ssl_session_timeout time;", def: "5m",
			doc: "How long a session may be resumed."},
		{name: "ssl_session_tickets", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssl.sessionTickets }),
			syntax: "ssl_session_tickets on | off;", def: "on",
			doc: "Enables resumption with session tickets, whose keys each start makes anew (ssl_session_ticket_key is not supported by headroom)."},
		{name: "ssl_session_ticket_key", ctx: hs, args: arg1, set: setSSLTicketKey,
			syntax: "ssl_session_ticket_key file;",
			doc:    "A file of 48 or 80 secret bytes that session tickets are encrypted with, so that they stay valid across restarts and servers sharing the file; given several times, the first encrypts and all decrypt. The tickets are crypto/tls's, not OpenSSL's: nginx cannot resume them, nor headroom nginx's."},
		{name: "ssl_reject_handshake", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssl.rejectHandshake }),
			syntax: "ssl_reject_handshake on | off;", def: "off",
			doc: "Refuses handshakes that select this server (by SNI, or as the default server) with an unrecognized_name alert; such a server needs no certificate."},
		{name: "ssl_password_file", ctx: hs, args: arg1, set: setSSLPasswordFile(func(r *rawLoc) *[]string { return &r.ssl.passwords }),
			syntax: "ssl_password_file file;",
			doc:    "Passphrases for encrypted keys, one per line, each tried in turn: PKCS#8 keys encrypted with PBES2 (what OpenSSL 3 writes) and the older PEM encryption."},
		{name: "ssl_stapling", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssl.stapling }),
			syntax: "ssl_stapling on | off;", def: "off",
			doc: "Sends clients that ask (status_request) an OCSP response with the certificate: ssl_stapling_file's, or else one fetched for each certificate from its OCSP responder (ssl_stapling_responder, or the certificate's Authority Information Access URL; http:// only), as nginx does. The issuer is looked for in the certificate's file, then in ssl_trusted_certificate; without one, or without a responder, nginx's warning says the certificate is not stapled. As in nginx, the first handshake that asks starts the fetch and may go without a staple; a good response is kept until its nextUpdate and fetched again 5 minutes before it, at most an hour after the last fetch and at least 5 minutes after it; a failure is retried after 5 minutes and the previous response, while valid, is kept. Responses whose status is revoked or unknown are not stapled. The fetch runs in a goroutine of its own, never on an event loop; the responder's name is looked up when the configuration is read and, with a resolver, again before each fetch."},
		{name: "ssl_stapling_file", ctx: hs, args: arg1, set: setSSLStaplingString(func(r *sslRaw) **string { return &r.staplingFile }, true),
			syntax: "ssl_stapling_file file;",
			doc:    "A DER OCSP response to staple instead of fetching one, read when the configuration is read (refresh it and reload); it is sent as it is, unchecked, as nginx sends it."},
		{name: "ssl_stapling_verify", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssl.staplingVerify }),
			syntax: "ssl_stapling_verify on | off;", def: "off",
			doc: "Verifies fetched responses as nginx does with OpenSSL: a responder certificate sent in the response must chain to ssl_trusted_certificate and be the issuer or hold its delegation (OCSP signing usage); one in the certificate's file is trusted. Off, the signature is still checked with the responder's key, and the response must name the certificate and be within its validity."},
		{name: "ssl_stapling_responder", ctx: hs, args: arg1, set: setSSLStaplingString(func(r *sslRaw) **string { return &r.staplingResponder }, false),
			syntax: "ssl_stapling_responder url;",
			doc:    "The OCSP responder (http://host[:port][/uri]) responses are fetched from, instead of the one each certificate names."},
		{name: "ssl_dhparam", ctx: hs, args: arg1, set: setSSLDHParam,
			syntax: "ssl_dhparam file;",
			doc:    "Checked (the file must hold PEM DH parameters) and accepted: crypto/tls has no finite-field DHE suites, so the parameters are never used; ECDHE takes their place."},
		{name: "ssl_verify_client", ctx: hs, args: arg1, set: setSSLVerifyClient,
			syntax: "ssl_verify_client on | off | optional | optional_no_ca;", def: "off",
			doc: "Asks clients for a certificate and checks it against ssl_client_certificate and ssl_trusted_certificate: on answers a request without one 400 (\"No required SSL certificate was sent\"), on and optional answer one that does not verify 400 (\"The SSL certificate error\"), optional_no_ca takes any; $ssl_client_verify says which. A request whose Host names a server other than the handshake's SNI name, where that server asks for certificates, is answered 421."},
		{name: "ssl_verify_depth", ctx: hs, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.ssl.verifyDepth }),
			syntax: "ssl_verify_depth number;", def: "1",
			doc: "How many CA certificates may stand between a client's certificate and a trusted one, counting the trusted one."},
		{name: "ssl_client_certificate", ctx: hs, args: arg1, set: setSSLCAFile(true),
			syntax: "ssl_client_certificate file;",
			doc:    "PEM CA certificates that client certificates are verified against; their names are sent to clients that are asked for one."},
		{name: "ssl_trusted_certificate", ctx: hs, args: arg1, set: setSSLCAFile(false),
			syntax: "ssl_trusted_certificate file;",
			doc:    "PEM CA certificates trusted for client certificates too, without their names being sent."},
		{name: "ssl_buffer_size", ctx: hs, args: arg1, set: setSSLBufferSize,
			syntax: "ssl_buffer_size size;", def: "16k",
			doc: "Checked and accepted; crypto/tls sizes its records itself."},
	}
}

func setSSLEnable(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.ssl
	if r.enable != nil {
		return duplicate(n)
	}
	v, err := onOff(n)
	if err != nil {
		return err
	}
	r.enable = &v
	b.warn(errAt(n, "the \"ssl\" directive is deprecated, use the \"listen ... ssl\" directive instead"))
	return nil
}

func setSSLFile(cert bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		v := n.Args[0]
		if strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "engine:") {
			return skip(b.unsupportedPart(n, "data: or engine:", "\""+n.Name+"\" with data: or engine: is not supported by headroom"))
		}
		r := &sc.raw.ssl
		// As nginx, the prefix goes before a relative path when the
		// configuration is read unless the path starts with a variable,
		// whose value gets it when the handshake evaluates it.
		path := v
		if !strings.HasPrefix(v, "$") {
			path = fullPath(b.cfg.Prefix, v)
		}
		var t *vars.Template
		if hasVariables(v) {
			var err error
			if t, err = b.template(n, path); err != nil {
				return err
			}
		}
		if cert {
			r.certs = append(r.certs, path)
			r.certTemplates = append(r.certTemplates, t)
			r.certNode = n
		} else {
			r.keys = append(r.keys, path)
			r.keyTemplates = append(r.keyTemplates, t)
			r.keyNode = n
		}
		return nil
	}
}

// sslVersions maps ssl_protocols' names to crypto/tls's versions; the
// zero ones no handshake uses (see defaultSSLProtocols).
var sslVersions = map[string]uint16{
	"SSLv2": 0, "SSLv3": 0, "TLSv1": 0, "TLSv1.1": 0,
	"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

func setSSLCurve(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.ssl
	if r.curves != nil {
		return duplicate(n)
	}
	if _, err := sslCurves(n.Args[0]); err != "" {
		return errAt(n, "%s", err)
	}
	v := n.Args[0]
	r.curves = &v
	return nil
}

// sslSessionCacheWords are ssl_session_cache's single-word values.
var sslSessionCacheWords = setOf("off none builtin")

func setSSLSessionCache(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.ssl
	if r.sessionCache != nil {
		return duplicate(n)
	}
	for _, a := range n.Args {
		ok := false
		switch {
		case sslSessionCacheWords[a]:
			ok = true
		case strings.HasPrefix(a, "builtin:"):
			_, ok = atoi(a[len("builtin:"):])
		case strings.HasPrefix(a, "shared:"):
			name, size, found := strings.Cut(a[len("shared:"):], ":")
			if found && name != "" {
				var s int64
				s, ok = parseSize(size)
				if ok && s < 8192 {
					return errAt(n, "session cache \"%s\" is too small", a)
				}
			}
		}
		if !ok {
			return errAt(n, "invalid session cache \"%s\"", a)
		}
	}
	v := strings.Join(n.Args, " ")
	r.sessionCache = &v
	return nil
}

func setSSLSessionTimeout(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.ssl
	if r.sessionTimeout != nil {
		return duplicate(n)
	}
	d, ok := parseTime(n.Args[0], true)
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	r.sessionTimeout = &d
	return nil
}

func setSSLTicketKey(b *builder, n *Node, sc *scope) error {
	path := fullPath(b.cfg.Prefix, n.Args[0])
	data, err := os.ReadFile(path)
	if err != nil {
		return errAt(n, "open() \"%s\" failed %s", path, sysErrorText(err))
	}
	if len(data) != 48 && len(data) != 80 {
		return errAt(n, "\"%s\" must be 48 or 80 bytes", path)
	}
	sc.raw.ssl.ticketKeys = append(sc.raw.ssl.ticketKeys, sha256.Sum256(data))
	return nil
}

// protocolsSlot reads ssl_protocols and proxy_ssl_protocols: as nginx's
// bitmask, a second directive adds to the first.
func protocolsSlot(field func(*rawLoc) *[]string) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		for _, a := range n.Args {
			if _, ok := sslVersions[a]; !ok {
				return errAt(n, "invalid value \"%s\"", a)
			}
		}
		p := field(sc.raw)
		*p = append(*p, n.Args...)
		return nil
	}
}

// ciphersSlot reads ssl_ciphers and proxy_ssl_ciphers, checking the
// names when the configuration is read.
func ciphersSlot(field func(*rawLoc) **string) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		if _, err := sslCipherSuites(n.Args[0]); err != "" {
			return errAt(n, "%s", err)
		}
		v := n.Args[0]
		*p = &v
		return nil
	}
}

// verifyClientValues are ssl_verify_client's values.
var verifyClientValues = map[string]VerifyClient{"off": VerifyOff, "on": VerifyOn, "optional": VerifyOptional, "optional_no_ca": VerifyOptionalNoCA}

func setSSLVerifyClient(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.ssl
	if r.verifyClient != nil {
		return duplicate(n)
	}
	v, ok := verifyClientValues[n.Args[0]]
	if !ok {
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	r.verifyClient = &v
	return nil
}

func setSSLCAFile(client bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		r := &sc.raw.ssl
		p := &r.trustedCert
		if client {
			p = &r.clientCert
		}
		if *p != nil {
			return duplicate(n)
		}
		v := fullPath(b.cfg.Prefix, n.Args[0])
		*p = &v
		return nil
	}
}

// certPool makes one pool of the certificates of lists.
func certPool(lists ...[]*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, l := range lists {
		for _, c := range l {
			p.AddCert(c)
		}
	}
	return p
}

// loadCAs reads a file of PEM CA certificates, with nginx's message.
func loadCAs(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Msg: "SSL_CTX_load_verify_locations(\"" + path + "\") failed " + sysErrorText(err)}
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &Error{Msg: "SSL_CTX_load_verify_locations(\"" + path + "\") failed (" + err.Error() + ")"}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &Error{Msg: "SSL_CTX_load_verify_locations(\"" + path + "\") failed (no certificate in the file)"}
	}
	return out, nil
}

func setSSLPasswordFile(field func(*rawLoc) *[]string) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		pw, err := readPasswords(fullPath(b.cfg.Prefix, n.Args[0]))
		if err != nil {
			err.(*Error).File, err.(*Error).Line = n.File, n.Line
			return err
		}
		*p = pw
		return nil
	}
}

func setSSLStaplingString(field func(*sslRaw) **string, path bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(&sc.raw.ssl)
		if *p != nil {
			return duplicate(n)
		}
		v := n.Args[0]
		if path {
			v = fullPath(b.cfg.Prefix, v)
		}
		*p = &v
		return nil
	}
}

func setSSLDHParam(b *builder, n *Node, sc *scope) error {
	path := fullPath(b.cfg.Prefix, n.Args[0])
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), "-----BEGIN DH PARAMETERS-----") {
		return errAt(n, "PEM_read_bio_DHparams(\"%s\") failed", path)
	}
	return nil
}

func setSSLBufferSize(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.ssl
	if r.bufferSize != nil {
		return duplicate(n)
	}
	v, ok := parseSize(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	r.bufferSize = &v
	return nil
}

// mergeSSL inherits what a level does not set, as nginx's ssl module
// merges its server settings: the certificate list whole.
func mergeSSL(r *sslRaw, p SSL) SSL {
	out := p
	if r.certs != nil {
		out.Certificates = nil
		for i, c := range r.certs {
			sc := SSLCertificate{CertFile: c, CertTemplate: r.certTemplates[i]}
			if i < len(r.keys) {
				sc.KeyFile, sc.KeyTemplate = r.keys[i], r.keyTemplates[i]
			}
			if sc.CertTemplate != nil || sc.KeyTemplate != nil {
				// Either with variables makes the pair one that is
				// loaded per handshake.
				if sc.CertTemplate == nil {
					sc.CertTemplate = literalTemplate(sc.CertFile)
				}
				if sc.KeyTemplate == nil && sc.KeyFile != "" {
					sc.KeyTemplate = literalTemplate(sc.KeyFile)
				}
			}
			out.Certificates = append(out.Certificates, sc)
		}
	}
	if r.protocols != nil {
		out.Protocols = r.protocols
	}
	out.MinVersion, out.MaxVersion = versionRange(out.Protocols)
	if r.ciphers != nil {
		out.Ciphers = *r.ciphers
	}
	out.CipherSuites, _ = sslCipherSuites(out.Ciphers)
	if r.curves != nil {
		out.Curves, _ = sslCurves(*r.curves)
	}
	out.PreferServerCiphers = pick(r.preferServer, p.PreferServerCiphers)
	out.SessionTickets = pick(r.sessionTickets, p.SessionTickets)
	out.SessionTimeout = pick(r.sessionTimeout, p.SessionTimeout)
	out.SessionCache = pick(r.sessionCache, p.SessionCache)
	if r.bufferSize != nil {
		out.BufferSize = int(*r.bufferSize)
	}
	if r.ticketKeys != nil {
		out.TicketKeys = r.ticketKeys
	}
	out.RejectHandshake = pick(r.rejectHandshake, p.RejectHandshake)
	out.Enable = pick(r.enable, p.Enable)
	out.Stapling = pick(r.stapling, p.Stapling)
	out.StaplingFile = pick(r.staplingFile, p.StaplingFile)
	out.StaplingVerify = pick(r.staplingVerify, p.StaplingVerify)
	out.StaplingResponder = pick(r.staplingResponder, p.StaplingResponder)
	if r.passwords != nil {
		out.Passwords = r.passwords
	}
	out.VerifyClient = pick(r.verifyClient, p.VerifyClient)
	out.VerifyDepth = pick(r.verifyDepth, p.VerifyDepth)
	out.ClientCertificate = pick(r.clientCert, p.ClientCertificate)
	out.TrustedCertificate = pick(r.trustedCert, p.TrustedCertificate)
	out.CacheName, out.CacheSize = sessionCache(out.SessionCache)
	return out
}

// sessionCache reads ssl_session_cache's value (checked when it was
// set) into the cache sessions are kept in: the last shared one named, or
// a builtin one ("builtin:" and the server's own), with its size in
// sessions (nginx's 20480 for builtin; about 4000 per megabyte shared).
func sessionCache(v string) (name string, size int) {
	for _, a := range strings.Fields(v) {
		switch {
		case a == "builtin":
			name, size = "builtin:", 20480
		case strings.HasPrefix(a, "builtin:"):
			n, _ := atoi(a[len("builtin:"):])
			name, size = "builtin:", n
		case strings.HasPrefix(a, "shared:"):
			zone, sz, _ := strings.Cut(a[len("shared:"):], ":")
			bytes, _ := parseSize(sz)
			name, size = "shared:"+zone, int(bytes/256)
		case a == "off", a == "none":
			name, size = "", 0
		}
	}
	return name, size
}

// defaultSSL is the ssl settings nginx starts from.
func defaultSSL() SSL {
	s := SSL{Protocols: defaultSSLProtocols, Ciphers: defaultSSLCiphers, SessionTickets: true,
		SessionTimeout: 5 * time.Minute, SessionCache: "none", BufferSize: 16 << 10, VerifyDepth: 1}
	return mergeSSL(&sslRaw{}, s)
}

// loadCertificates loads the certificates of the servers, after the http
// block is merged, with nginx's messages. As in nginx, the default server
// of an address that listens with ssl must have one (the error names the
// server block); another server without one answers with the default
// server's.
func (b *builder) loadCertificates(servers []*Server) error {
	loaded := map[[2]string]*tls.Certificate{}
	for _, srv := range servers {
		certs := srv.Loc.SSL.Certificates
		for k := range certs {
			c := &certs[k]
			if c.KeyFile == "" {
				return &Error{Msg: "no \"ssl_certificate_key\" is defined for certificate \"" + c.CertFile + "\""}
			}
			if c.Dynamic() {
				// Loaded by each handshake that needs it.
				continue
			}
			key := [2]string{c.CertFile, c.KeyFile}
			if pair := loaded[key]; pair != nil {
				c.Pair = pair
				continue
			}
			pair, err := loadKeyPair(c.CertFile, c.KeyFile, srv.Loc.SSL.Passwords)
			if err != nil {
				return err
			}
			loaded[key], c.Pair = pair, pair
		}
	}
	cas := map[string][]*x509.Certificate{}
	loadCA := func(path string) ([]*x509.Certificate, error) {
		if path == "" {
			return nil, nil
		}
		if c, ok := cas[path]; ok {
			return c, nil
		}
		c, err := loadCAs(path)
		cas[path] = c
		return c, err
	}
	staplings := map[staplingKey]*OCSPStapling{}
	for _, srv := range servers {
		s := &srv.Loc.SSL
		// As nginx, a server without certificates has no TLS
		// settings of its own to check.
		if len(s.Certificates) == 0 {
			continue
		}
		var err error
		if s.VerifyClient != VerifyOff {
			if s.VerifyClient != VerifyOptionalNoCA && s.ClientCertificate == "" && s.TrustedCertificate == "" {
				return &Error{Msg: "no ssl_client_certificate for ssl_verify_client"}
			}
			if s.ClientCAs, err = loadCA(s.ClientCertificate); err != nil {
				return err
			}
		}
		// nginx loads ssl_trusted_certificate whether or not clients
		// are verified: OCSP stapling looks for issuers there too.
		if s.TrustedCAs, err = loadCA(s.TrustedCertificate); err != nil {
			return err
		}
		if s.VerifyClient != VerifyOff {
			s.VerifyRoots = certPool(s.ClientCAs, s.TrustedCAs)
		}
		if err := b.setupStapling(srv, staplings); err != nil {
			return err
		}
	}
	defaults := map[string]*Server{}
	var order []string
	for _, srv := range servers {
		for _, l := range srv.Listens {
			if !l.SSL {
				continue
			}
			if _, seen := defaults[l.Addr]; !seen {
				order = append(order, l.Addr)
				defaults[l.Addr] = srv
			} else if l.DefaultServer {
				defaults[l.Addr] = srv
			}
		}
	}
	for _, addr := range order {
		if srv := defaults[addr]; len(srv.Loc.SSL.Certificates) == 0 && !srv.Loc.SSL.RejectHandshake {
			return &Error{File: srv.File, Line: srv.Line, Msg: "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive"}
		}
	}
	return nil
}

// loadKeyPair reads a certificate chain and its key, with errors that
// name the file as nginx's do.
func loadKeyPair(certFile, keyFile string, passwords []string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &Error{Msg: "cannot load certificate \"" + certFile + "\": open() failed " + sysErrorText(err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, &Error{Msg: "cannot load certificate key \"" + keyFile + "\": open() failed " + sysErrorText(err)}
	}
	keyPEM, err = decryptKeyPEM(keyPEM, passwords)
	if err != nil {
		return nil, &Error{Msg: "cannot load certificate key \"" + keyFile + "\": PEM_read_bio_PrivateKey() failed (" + err.Error() + ")"}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &Error{Msg: "cannot load certificate \"" + certFile + "\" with key \"" + keyFile + "\": " + err.Error()}
	}
	return &pair, nil
}
