package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"headroom/internal/conf"
	"headroom/internal/logs"
	"headroom/internal/ocsp"
)

// OCSP stapling with fetched responses, as nginx 1.22's
// ngx_event_openssl_stapling.c does it, without ever blocking an event
// loop: each configuration generation (Server) has one stapler, whose
// goroutine fetches the responses of all its certificates from their
// responders, each fetch in a goroutine of its own so that one slow
// responder holds up no other certificate. A good response is published
// through an atomic pointer as a copy of the certificate carrying it;
// the handshake (tls.Config.GetCertificate, on the loop) only loads that
// pointer, and wakes the stapler when it is the first to ask.
//
// Timing follows nginx: nothing is fetched until a handshake asks for a
// status (the status_request extension), so that one may go without a
// staple; a good response is stapled until its nextUpdate (for ever
// without one) and fetched again 5 minutes before that, but at most an
// hour and at least 5 minutes after the fetch; a failure is retried after
// 5 minutes while the previous response, if still valid, is kept. nginx
// fetches again only when a handshake arrives after that time; headroom
// fetches at that time, so a server that is rarely connected to does not
// lose its staple first. A reload starts a new stapler and stops the old
// one, as nginx's new cycle starts with no responses.

const (
	// staplingRetry is how long after a failed fetch the next one is
	// made, and the least time before a good response is fetched again.
	staplingRetry = 5 * time.Minute
	// staplingMaxAge is the longest a good response is kept unrefreshed.
	staplingMaxAge = time.Hour
	// staplingTimeout bounds each try of a fetch (nginx's 60 seconds).
	staplingTimeout = 60 * time.Second
	// staplingMaxResponse is the most of a responder's answer read,
	// nginx's 16k buffer.
	staplingMaxResponse = 16384
	// extStatusRequest is the ClientHello extension asking for a staple.
	extStatusRequest = 5
)

// stapler fetches one configuration's OCSP responses.
type stapler struct {
	log     *logs.ErrorLog
	staples []*staple
	byConf  map[*conf.OCSPStapling]*staple
	// wake tells the goroutine that a handshake asked for a staple not
	// yet fetched.
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	start  sync.Once
	stop   sync.Once
	// now is the clock, replaced in tests.
	now func() time.Time
}

// staple is one certificate's stapling.
type staple struct {
	src *conf.OCSPStapling
	// base is the certificate without a response; cur the one with the
	// current good response, nil before the first.
	base tls.Certificate
	cur  atomic.Pointer[stapled]
	// asked is set by the first handshake that asks for a status.
	asked atomic.Bool
	// request is the HTTP request sent to the responder, made once.
	request []byte
	// refresh and loading belong to the stapler's goroutine: when the
	// next fetch is due, and whether one is in progress.
	refresh time.Time
	loading bool
}

// stapled is a certificate with its response; valid is the response's
// nextUpdate (zero for none).
type stapled struct {
	cert  tls.Certificate
	valid time.Time
}

func newStapler(log *logs.ErrorLog) *stapler {
	ctx, cancel := context.WithCancel(context.Background())
	return &stapler{log: log, byConf: map[*conf.OCSPStapling]*staple{}, wake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), now: time.Now}
}

// stapleFor returns the stapling of a certificate whose response is
// fetched; nil for one without.
func (sp *stapler) stapleFor(cert *conf.SSLCertificate) *staple {
	if cert.OCSP == nil {
		return nil
	}
	return sp.byConf[cert.OCSP]
}

// add makes the stapling of a certificate whose response is fetched,
// one for all the servers that share its conf.OCSPStapling. All are
// added before run.
func (sp *stapler) add(cert *conf.SSLCertificate) {
	if cert.OCSP == nil || sp.byConf[cert.OCSP] != nil {
		return
	}
	st := &staple{src: cert.OCSP, base: *cert.Pair}
	st.base.OCSPStaple = nil
	if der, err := ocsp.Request(cert.OCSP.Cert, cert.OCSP.Issuer); err == nil {
		st.request = fmt.Appendf(nil, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", ocsp.RequestURI(cert.OCSP.URI, der), cert.OCSP.Host)
	}
	sp.byConf[cert.OCSP] = st
	sp.staples = append(sp.staples, st)
}

// certificate is the certificate a handshake gets: with the current
// response while it is valid. A handshake that asks for a status starts
// the first fetch.
func (st *staple) certificate(hello *tls.ClientHelloInfo, sp *stapler) *tls.Certificate {
	if !st.asked.Load() && asksStatus(hello) && st.asked.CompareAndSwap(false, true) {
		select {
		case sp.wake <- struct{}{}:
		default:
		}
	}
	if p := st.cur.Load(); p != nil && (p.valid.IsZero() || !sp.now().After(p.valid)) {
		return &p.cert
	}
	return &st.base
}

func asksStatus(hello *tls.ClientHelloInfo) bool {
	for _, e := range hello.Extensions {
		if e == extStatusRequest {
			return true
		}
	}
	return false
}

// chooseCertificate picks among a server's certificates as crypto/tls
// does when it has several (the first the client supports, else the
// first), for a configuration whose certificates are handed out by
// GetCertificate.
func chooseCertificate(hello *tls.ClientHelloInfo, certs []tls.Certificate) int {
	if len(certs) == 1 {
		return 0
	}
	for i := range certs {
		if hello.SupportsCertificate(&certs[i]) == nil {
			return i
		}
	}
	return 0
}

// run starts the stapler's goroutine once; a stapler without
// certificates has none.
func (sp *stapler) run() {
	if sp == nil || len(sp.staples) == 0 {
		return
	}
	sp.start.Do(func() { go sp.loop() })
}

// close stops the goroutine and the fetches in progress. Handshakes of
// connections still open keep the responses already published.
func (sp *stapler) close() {
	if sp == nil {
		return
	}
	sp.stop.Do(sp.cancel)
}

// fetchResult is a fetch's outcome: the response, or nil after a
// failure (already logged).
type fetchResult struct {
	st    *staple
	body  []byte
	valid time.Time
}

func (sp *stapler) loop() {
	defer close(sp.done)
	results := make(chan fetchResult)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := sp.now()
		var next time.Time
		for _, st := range sp.staples {
			if !st.asked.Load() || st.loading {
				continue
			}
			if !now.Before(st.refresh) {
				st.loading = true
				go func() {
					r := sp.fetch(st)
					select {
					case results <- r:
					case <-sp.ctx.Done():
					}
				}()
				continue
			}
			if next.IsZero() || st.refresh.Before(next) {
				next = st.refresh
			}
		}
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
		}
		select {
		case <-sp.ctx.Done():
			return
		case <-sp.wake:
		case <-timer.C:
		case r := <-results:
			r.st.loading = false
			r.st.refresh = sp.publish(r, sp.now())
		}
	}
}

// publish makes a good response the one handshakes get and returns when
// to fetch again, as nginx's ngx_ssl_stapling_ocsp_handler reckons it.
func (sp *stapler) publish(r fetchResult, now time.Time) time.Time {
	if r.body == nil {
		return now.Add(staplingRetry)
	}
	p := &stapled{cert: r.st.base, valid: r.valid}
	p.cert.OCSPStaple = r.body
	r.st.cur.Store(p)
	return nextRefresh(now, r.valid)
}

// nextRefresh is when a good response valid until valid (zero: no
// nextUpdate) is fetched again: 5 minutes before it expires, but within
// the hour and not within 5 minutes.
func nextRefresh(now, valid time.Time) time.Time {
	t := now.Add(staplingMaxAge)
	if !valid.IsZero() && valid.Add(-staplingRetry).Before(t) {
		t = valid.Add(-staplingRetry)
	}
	if min := now.Add(staplingRetry); t.Before(min) {
		t = min
	}
	return t
}

// fetchLog words a message about a fetch as nginx's does, with the
// context of ngx_ssl_ocsp_log_error.
type fetchLog struct {
	sp   *stapler
	st   *staple
	peer string
}

func (l *fetchLog) logf(level logs.Level, format string, args ...any) {
	if !l.sp.log.Enabled(level) {
		return
	}
	msg := fmt.Sprintf(format, args...) + " while requesting certificate status, responder: " + l.st.src.Host
	if l.peer != "" {
		msg += ", peer: " + l.peer
	}
	msg += ", certificate: \"" + l.st.src.CertFile + "\""
	l.sp.log.Logf(level, 0, "%s", msg)
}

// fetch asks the responder for st's response and checks it, logging
// what goes wrong as nginx does; the result has no body after a failure.
func (sp *stapler) fetch(st *staple) fetchResult {
	l := &fetchLog{sp: sp, st: st}
	fail := fetchResult{st: st}
	if st.request == nil {
		return fail
	}
	addrs, ok := sp.responderAddrs(st, l)
	if !ok {
		return fail
	}
	var body []byte
	for _, a := range addrs {
		l.peer = a.String()
		var code int
		code, body, ok = sp.ask(a, st, l)
		if !ok {
			body = nil
			continue
		}
		if code != http.StatusOK {
			// nginx gives up on such an answer without a word.
			return fail
		}
		break
	}
	if body == nil {
		return fail
	}
	src := st.src
	r, err := ocsp.Check(body, ocsp.Options{Cert: src.Cert, Issuer: src.Issuer, Chain: src.Chain,
		Verify: src.Verify, Roots: src.Roots, Now: sp.now()})
	if err != nil {
		l.logf(logs.Error, "%s", err)
		return fail
	}
	if r.Status != ocsp.Good {
		l.logf(logs.Error, "certificate status \"%s\" in the OCSP response", r.Status)
		return fail
	}
	return fetchResult{st: st, body: body, valid: r.NextUpdate}
}

// responderAddrs returns the addresses to ask: looked up again with the
// server's resolver when it has one and the responder is a name; those
// found when the configuration was read otherwise, with nginx's warning
// for a name.
func (sp *stapler) responderAddrs(st *staple, l *fetchLog) ([]netip.AddrPort, bool) {
	src := st.src
	host := strings.TrimSuffix(strings.TrimPrefix(src.Host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return src.Addrs, true
	}
	if src.Resolver == nil || len(src.Resolver.Addrs) == 0 {
		l.logf(logs.Warn, "no resolver defined to resolve %s", src.Host)
		return src.Addrs, len(src.Addrs) > 0
	}
	timeout := src.ResolverTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(sp.ctx, timeout)
	defer cancel()
	servers := src.Resolver.Addrs
	var turn atomic.Uint32
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		a := servers[int(turn.Add(1)-1)%len(servers)]
		return d.DialContext(ctx, network, a.String())
	}}
	family := "ip"
	if !src.Resolver.IPv6 {
		family = "ip4"
	}
	// A rooted name, so that resolv.conf's search domains add no
	// queries: nginx's resolver asks for the name as written.
	ips, err := r.LookupNetIP(ctx, family, strings.TrimSuffix(host, ".")+".")
	if err != nil || len(ips) == 0 {
		code, text := 3, "Host not found"
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsTimeout, errors.Is(err, context.DeadlineExceeded):
			code, text = 110, "Operation timed out"
		case errors.As(err, &de) && !de.IsNotFound:
			code, text = 2, "Server failure"
		}
		l.logf(logs.Error, "%s could not be resolved (%d: %s)", src.Host, code, text)
		return nil, false
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(src.Port)))
	}
	return out, true
}

// ask sends the request to one address and reads the answer as nginx
// does: HTTP/1.0, the body up to the connection's end, a Content-Type
// other than application/ocsp-response refused. ok is false when the
// next address is to be tried.
func (sp *stapler) ask(a netip.AddrPort, st *staple, l *fetchLog) (code int, body []byte, ok bool) {
	ctx, cancel := context.WithTimeout(sp.ctx, staplingTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", a.String())
	if err != nil {
		if sp.ctx.Err() == nil {
			l.logf(logs.Error, "connect() to %s failed (%s)", a, sysErrorText(err))
		}
		return 0, nil, false
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	stop := context.AfterFunc(sp.ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	timedOut := func(err error) bool {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if sp.ctx.Err() == nil {
				l.logf(logs.Error, "OCSP responder timed out (110: Connection timed out)")
			}
			return true
		}
		return false
	}
	if _, err := c.Write(st.request); err != nil {
		if !timedOut(err) {
			l.logf(logs.Error, "send() failed (%s)", sysErrorText(err))
		}
		return 0, nil, false
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(c, staplingMaxResponse)), nil)
	if err != nil {
		switch {
		case timedOut(err):
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			l.logf(logs.Error, "OCSP responder prematurely closed connection")
		default:
			l.logf(logs.Error, "OCSP responder sent invalid response")
		}
		return 0, nil, false
	}
	defer resp.Body.Close()
	for _, v := range resp.Header.Values("Content-Type") {
		if !strings.EqualFold(v, "application/ocsp-response") {
			l.logf(logs.Error, "OCSP responder sent invalid \"Content-Type\" header: \"%s\"", v)
			return 0, nil, false
		}
	}
	body, err = io.ReadAll(resp.Body)
	if err != nil && timedOut(err) {
		return 0, nil, false
	}
	return resp.StatusCode, body, true
}

// sysErrorText renders a socket error as nginx appends errno.
func sysErrorText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return logs.SysError(errno)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return "110: Connection timed out"
	}
	return err.Error()
}
