package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"iter"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"headroom/internal/conf"
)

// This file is TLS to upstreams (proxy_pass https://): the same
// transport as the client side's, in client mode. The handshake is part
// of connecting, as in nginx: it starts once the TCP connect completes,
// runs as a coroutine driven by the upstream socket's events, counts
// against proxy_connect_timeout and into $upstream_connect_time, and a
// failure is a failed attempt (proxy_next_upstream error).

// upTLSConfigs are a worker's client configurations, one per location
// that proxies with https, each with its session cache
// (proxy_ssl_session_reuse).
type upTLSConfigs map[*conf.ProxySSL]*tls.Config

// upstreamTLS reports whether the request's upstream speaks TLS.
func (cc *clientConn) upstreamTLS() bool {
	pp := cc.r.proxyPass()
	return pp != nil && pp.Scheme == "https"
}

// baseUpstreamTLS returns the location's client configuration.
func (cc *clientConn) baseUpstreamTLS() *tls.Config {
	w := cc.w
	ps := &cc.r.lc.ProxySSL
	if c := w.upTLS[ps]; c != nil {
		return c
	}
	c := &tls.Config{
		MinVersion:   ps.MinVersion,
		MaxVersion:   ps.MaxVersion,
		CipherSuites: ps.CipherSuites,
		// The certificate is checked by verifyUpstream, with nginx's
		// names and messages, when proxy_ssl_verify asks.
		InsecureSkipVerify: true,
		CurvePreferences:   conf.DefaultCurves(),
	}
	if ps.SessionReuse {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	if ps.Certificate != nil {
		c.Certificates = []tls.Certificate{*ps.Certificate}
	}
	if w.upTLS == nil {
		w.upTLS = upTLSConfigs{}
	}
	w.upTLS[ps] = c
	return c
}

// startUpstreamTLS begins the handshake on a connected socket.
func (cc *clientConn) startUpstreamTLS(uc *upConn) {
	r := cc.r
	// The handshake's records follow one another, then the request.
	uc.setNodelay()
	ps := &r.lc.ProxySSL
	name := cc.upstreamSSLName()
	cfg := cc.baseUpstreamTLS()
	if ps.ServerName || ps.Verify {
		cfg = cfg.Clone()
		// As nginx (RFC 6066), no SNI for an address.
		if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err != nil && ps.ServerName {
			cfg.ServerName = name
		}
		if ps.Verify {
			cfg.VerifyConnection = func(st tls.ConnectionState) error { return verifyUpstream(st, ps, name) }
		}
	}
	t := &tlsTransport{}
	t.startClient(&uc.sock, cfg, uc.peer.Conf.Addr)
	uc.tr = t
	uc.handshaking = true
	cc.upstreamHandshake(uc)
}

// upstreamHandshake drives the handshake; once it is done the request
// goes out.
func (cc *clientConn) upstreamHandshake(uc *upConn) {
	t := uc.tr.(*tlsTransport)
	done, err := t.clientStep()
	if err != nil {
		uc.handshaking = false
		var ve *upstreamVerifyError
		if errors.As(err, &ve) {
			cc.upstreamFailed(failError, nil, ve.msg+" while SSL handshaking to upstream")
			return
		}
		cc.upstreamFailed(failError, nil, (&handshakeError{err}).Error()+" while SSL handshaking to upstream")
		return
	}
	if !done {
		return
	}
	uc.handshaking = false
	cc.r.upConnect = cc.w.loop.Now().Sub(cc.r.upStart)
	uc.c.StopTimer()
	cc.sendRequest()
}

// upstreamSSLName is proxy_ssl_name's value (default $proxy_host) without
// a port, as nginx's ngx_http_upstream_ssl_name takes it.
func (cc *clientConn) upstreamSSLName() string {
	r := cc.r
	var name []byte
	if t := r.lc.ProxySSL.Name; t != nil {
		name = cc.eval(nil, t)
	} else {
		name = []byte(r.proxyPass().ProxyHost)
	}
	if i := bytes.LastIndexByte(name, ':'); i >= 0 && bytes.IndexByte(name, ']') < i {
		if _, err := strconv.Atoi(string(name[i+1:])); err == nil {
			name = name[:i]
		}
	}
	return string(name)
}

// upstreamVerifyError is proxy_ssl_verify's refusal, with nginx's words.
type upstreamVerifyError struct{ msg string }

func (e *upstreamVerifyError) Error() string { return e.msg }

// verifyUpstream checks an upstream's certificate as nginx's
// ngx_ssl_check_host and OpenSSL's verification do: the chain against
// proxy_ssl_trusted_certificate within proxy_ssl_verify_depth, then the
// name.
func verifyUpstream(st tls.ConnectionState, ps *conf.ProxySSL, name string) error {
	certs := st.PeerCertificates
	if len(certs) == 0 {
		return &upstreamVerifyError{"upstream sent no SSL certificate"}
	}
	roots := ps.TrustedRoots
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	if err != nil {
		code, reason := opensslVerifyError(certs[0], err)
		return &upstreamVerifyError{"upstream SSL certificate verify error: (" + strconv.Itoa(code) + ":" + reason + ")"}
	}
	short := false
	for _, ch := range chains {
		if len(ch)-1 <= ps.VerifyDepth {
			short = true
		}
	}
	if !short {
		return &upstreamVerifyError{"upstream SSL certificate verify error: (22:certificate chain too long)"}
	}
	if !hostMatches(certs[0], strings.Trim(name, "[]")) {
		return &upstreamVerifyError{"upstream SSL certificate does not match \"" + name + "\""}
	}
	return nil
}

// hostMatches checks a certificate's names as OpenSSL's X509_check_host
// does for nginx: the subject alternative names, or, when there are none,
// the subject's common name (which crypto/x509 no longer reads).
func hostMatches(c *x509.Certificate, name string) bool {
	if c.VerifyHostname(name) == nil {
		return true
	}
	if len(c.DNSNames) > 0 || len(c.IPAddresses) > 0 || c.Subject.CommonName == "" {
		return false
	}
	cn := strings.ToLower(c.Subject.CommonName)
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if rest, ok := strings.CutPrefix(cn, "*."); ok {
		_, after, found := strings.Cut(name, ".")
		return found && after == rest
	}
	return cn == name
}

// startClient readies the transport for the client side of a connection
// to an upstream; the handshake starts with clientStep.
func (t *tlsTransport) startClient(sock *socketTransport, cfg *tls.Config, peer string) {
	*t = tlsTransport{sock: sock, state: tlsHandshake}
	t.raw.c = sock.c
	t.raw.remote = peerAddr(peer)
	t.conn = tls.Client(&t.raw, cfg)
}

// clientStep runs the client handshake as far as the socket allows.
func (t *tlsTransport) clientStep() (done bool, err error) {
	if t.next == nil {
		t.next, t.stop = iter.Pull(t.handshake)
	}
	t.next()
	if _, err := t.raw.flush(); err != nil {
		return false, err
	}
	if t.state == tlsHandshake && t.hsErr == nil {
		return false, nil
	}
	t.stop()
	t.next, t.stop = nil, nil
	return t.hsErr == nil, t.hsErr
}

// peerAddr is an upstream's address as a net.Addr, which crypto/tls's
// session cache keys sessions by when no SNI name is sent.
type peerAddr string

func (a peerAddr) Network() string { return "tcp" }
func (a peerAddr) String() string  { return string(a) }

var _ net.Addr = peerAddr("")

// speaksTLS reports whether a connection is TLS, so that an idle one goes
// only to requests that need what it speaks.
func (uc *upConn) speaksTLS() bool {
	_, ok := uc.tr.(*tlsTransport)
	return ok
}
