package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"headroom/internal/conf"
	"headroom/internal/vars"
)

// tlsConfigs builds the TLS configuration of every listener that
// listens with ssl: one crypto/tls configuration per server, chosen for
// a handshake by its SNI name among the listener's servers as nginx's
// ngx_http_ssl_servername does (a server without certificates answers
// with the default server's; one with ssl_reject_handshake refuses).
// Servers without ssl_session_ticket_key share one ticket key made at
// each start or reload, so that a session resumes whichever of them it
// went to.
func (s *Server) tlsConfigs() {
	var key [32]byte
	rand.Read(key[:])
	b := &tlsBuild{key: key, byServer: map[tlsKey]*tls.Config{}, caches: map[string]*sessionCache{},
		stapler: newStapler(s.log)}
	s.stapler = b.stapler
	// Every certificate whose response is fetched gets its stapling
	// now, before the stapler's goroutine runs: configurations are
	// made later, by the handshakes that need them.
	for _, srv := range s.cfg.HTTP.Servers {
		for k := range srv.Loc.SSL.Certificates {
			b.stapler.add(&srv.Loc.SSL.Certificates[k])
		}
	}
	for _, ln := range s.addrs {
		if !ln.ssl {
			continue
		}
		v := ln.vhosts
		h2 := ln.http2
		def := b.configFor(v.def, h2)
		ln.tls = &tls.Config{}
		if def != nil {
			ln.tls = def.Clone()
		}
		ln.tls.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if s, ok := hello.Conn.(*tlsSocket); ok {
				s.serverName = hello.ServerName
				if keepHello() {
					s.curves, s.suites = hello.SupportedCurves, hello.CipherSuites
				}
			}
			srv := v.def
			if hello.ServerName != "" {
				srv, _ = v.find(strings.ToLower(hello.ServerName))
			}
			if srv.Loc.SSL.RejectHandshake {
				return nil, rejectHandshake(hello)
			}
			if c := b.configFor(srv, h2); c != nil {
				return c, nil
			}
			if def == nil {
				return nil, rejectHandshake(hello)
			}
			return def, nil
		}
	}
}

// keepHello reports whether a connection keeps the groups and suites its
// client offered: only $ssl_curves and $ssl_ciphers show them, and an idle
// connection that keeps them holds the ClientHello's two lists for as
// long as it lives.
func keepHello() bool {
	return vars.Referenced(vars.SSLCurves) || vars.Referenced(vars.SSLCiphers)
}

// tlsBuild holds what the configurations of one start share.
type tlsBuild struct {
	key      [32]byte
	mu       sync.Mutex
	byServer map[tlsKey]*tls.Config
	caches   map[string]*sessionCache
	// stapler fetches the OCSP responses the configurations staple.
	stapler *stapler
}

// tlsKey names a configuration: a server's, on an address that speaks
// HTTP/2 or not (the protocols offered by ALPN differ).
type tlsKey struct {
	srv *conf.Server
	h2  bool
}

// configFor returns a server's configuration, made when first asked
// (handshakes of all workers ask); nil for a server without
// certificates.
func (b *tlsBuild) configFor(srv *conf.Server, h2 bool) *tls.Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.byServer[tlsKey{srv, h2}]; ok {
		return c
	}
	ssl := &srv.Loc.SSL
	var c *tls.Config
	if len(ssl.Certificates) > 0 {
		c = &tls.Config{
			MinVersion:       ssl.MinVersion,
			MaxVersion:       ssl.MaxVersion,
			CipherSuites:     ssl.CipherSuites,
			CurvePreferences: ssl.Curves,
			// nginx's ALPN list for HTTP/1, after "h2" on an
			// address that listens with http2.
			NextProtos: []string{"http/1.1", "http/1.0", "http/0.9"},
		}
		if h2 {
			c.NextProtos = []string{"h2", "http/1.1", "http/1.0", "http/0.9"}
		}
		if c.CurvePreferences == nil {
			c.CurvePreferences = conf.DefaultCurves()
		}
		var staples []*staple
		fetched := false
		dynamic := slices.ContainsFunc(ssl.Certificates, func(sc conf.SSLCertificate) bool { return sc.Dynamic() })
		for k := range ssl.Certificates {
			if dynamic {
				// Every pair is handed out per handshake (below).
				break
			}
			pair := *ssl.Certificates[k].Pair
			// ssl_stapling_file's response goes to clients that ask.
			pair.OCSPStaple = ssl.Staple
			c.Certificates = append(c.Certificates, pair)
			st := b.stapler.stapleFor(&ssl.Certificates[k])
			staples = append(staples, st)
			fetched = fetched || st != nil
		}
		if fetched {
			// Fetched responses change while the configuration lives,
			// so the certificate is chosen here, with the current one.
			// crypto/tls calls GetCertificate only when Certificates is
			// empty (or the client sent SNI), so the list moves here.
			certs, sp := c.Certificates, b.stapler
			c.Certificates = nil
			c.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				i := chooseCertificate(hello, certs)
				if st := staples[i]; st != nil {
					return st.certificate(hello, sp), nil
				}
				return &certs[i], nil
			}
		}
		if dynamic {
			// Certificates stays empty: crypto/tls asks GetCertificate
			// for every handshake only then.
			c.GetCertificate = dynamicCertificates(srv)
		}
		if ssl.VerifyClient != conf.VerifyOff {
			// The certificate is asked for, not checked by the
			// handshake: as in nginx, the request decides (tlsverify.go),
			// so that a missing or bad one gets nginx's 400 page.
			c.ClientAuth = tls.RequestClientCert
			if len(ssl.ClientCAs) > 0 {
				c.ClientCAs = x509.NewCertPool()
				for _, ca := range ssl.ClientCAs {
					c.ClientCAs.AddCert(ca)
				}
			}
		}
		b.sessions(c, srv)
	}
	b.byServer[tlsKey{srv, h2}] = c
	return c
}

// sessions sets how a server's sessions resume, as nginx's settings say:
// with tickets (encrypted by the server's keys; ssl_session_timeout is
// checked on the way back, as OpenSSL does), else with a session cache
// whose entries the tickets only name (what OpenSSL's session IDs and
// TLS 1.3 stateful tickets are), else not at all.
func (b *tlsBuild) sessions(c *tls.Config, srv *conf.Server) {
	ssl := &srv.Loc.SSL
	timeout := ssl.SessionTimeout
	ctx := sessionContext(srv)
	switch {
	case ssl.SessionTickets:
		keys := ssl.TicketKeys
		if keys == nil {
			keys = [][32]byte{b.key}
		}
		c.SetSessionTicketKeys(keys)
		c.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
			ss.Extra = append(ss.Extra, stamp(time.Now()), ctx)
			return c.EncryptTicket(cs, ss)
		}
		c.UnwrapSession = func(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
			ss, err := c.DecryptTicket(ticket, cs)
			if err != nil || ss == nil || !fresh(ss.Extra, timeout) || !slices.ContainsFunc(ss.Extra, func(e []byte) bool { return bytes.Equal(e, ctx) }) {
				return nil, nil
			}
			return ss, nil
		}
	case ssl.CacheName != "" && ssl.CacheSize > 0:
		name := ssl.CacheName
		if name == "builtin:" {
			// A builtin cache is the server's own.
			name += srv.File + ":" + strconv.Itoa(srv.Line)
		}
		cache := b.caches[name]
		if cache == nil {
			cache = &sessionCache{max: ssl.CacheSize, m: map[string]cachedSession{}}
			b.caches[name] = cache
		}
		c.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
			ss.Extra = append(ss.Extra, ctx)
			data, err := ss.Bytes()
			if err != nil {
				return nil, err
			}
			return cache.put(data, time.Now().Add(timeout)), nil
		}
		c.UnwrapSession = func(id []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
			data := cache.get(id, time.Now())
			if data == nil {
				return nil, nil
			}
			ss, err := tls.ParseSessionState(data)
			if err != nil || !slices.ContainsFunc(ss.Extra, func(e []byte) bool { return bytes.Equal(e, ctx) }) {
				return nil, nil
			}
			return ss, nil
		}
	default:
		c.SessionTicketsDisabled = true
	}
}

// stamp and fresh keep a ticket's time of issue among its extra data.
func stamp(t time.Time) []byte {
	return binary.BigEndian.AppendUint64([]byte("hr-time:"), uint64(t.Unix()))
}

func fresh(extra [][]byte, timeout time.Duration) bool {
	for _, e := range extra {
		if len(e) == 16 && string(e[:8]) == "hr-time:" {
			issued := time.Unix(int64(binary.BigEndian.Uint64(e[8:])), 0)
			return time.Since(issued) < timeout
		}
	}
	return false
}

// sessionCache keeps sessions for resumption by an identifier, as nginx's
// ssl_session_cache: the oldest goes when it is full. All workers share
// it, as they share a shared cache in nginx.
type sessionCache struct {
	mu    sync.Mutex
	max   int
	m     map[string]cachedSession
	order []string
}

type cachedSession struct {
	data    []byte
	expires time.Time
}

func (c *sessionCache) put(data []byte, expires time.Time) []byte {
	id := make([]byte, 32)
	rand.Read(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.m) >= c.max && len(c.order) > 0 {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[string(id)] = cachedSession{data: data, expires: expires}
	c.order = append(c.order, string(id))
	return id
}

func (c *sessionCache) get(id []byte, now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[string(id)]
	if !ok || now.After(s.expires) {
		return nil
	}
	return s.data
}

// errRejected refuses a handshake (ssl_reject_handshake).
var errRejected = errors.New("tls: handshake rejected by ssl_reject_handshake")

// rejectHandshake marks the connection so that the alert crypto/tls
// sends for the refusal is nginx's unrecognized_name.
func rejectHandshake(hello *tls.ClientHelloInfo) error {
	if s, ok := hello.Conn.(*tlsSocket); ok {
		s.rejected = true
	}
	return errRejected
}
