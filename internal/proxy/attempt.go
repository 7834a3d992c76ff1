package proxy

import (
	"strings"
	"time"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/upstream"
)

// This file is the upstream attempt: picking a server, getting a
// connection to it (pooled or new), the upstream socket's own handlers,
// sending the request, reading the response head, timeouts, and the one
// decision whether a failed attempt may be tried again elsewhere.

// upConn is a connection to an upstream server.
type upConn struct {
	w *worker
	c *engine.Conn
	// tr carries the connection's bytes; sock is the transport over the
	// slot's socket.
	tr   transport
	sock socketTransport
	g    *upGroup
	peer *upstream.Peer
	// cc is the client whose request uses the connection; nil when idle.
	cc         *clientConn
	requests   int
	born       time.Time
	connecting bool
	// handshaking is set while the TLS handshake of proxy_pass https://
	// runs, after the connect (uptls.go).
	handshaking bool
	// reused is set when the connection came from the keep-alive pool.
	reused bool
	// tcp is set for a TCP socket (not a unix domain one); nodelay once
	// TCP_NODELAY is set on it (setNodelay).
	tcp, nodelay bool
	// recv and sent count the bytes of the current try, headBytes those
	// of its response heads ($upstream_bytes_received and friends).
	recv, sent, headBytes int64
	// fcgi is the FastCGI transport over sock, made for the first
	// fastcgi_pass request the connection serves; cgi the one of SCGI's
	// and uwsgi's answers.
	fcgi *fcgiTransport
	cgi  *cgiTransport
}

// failKind is why an attempt at an upstream server failed.
type failKind uint8

const (
	failError failKind = iota
	failTimeout
	failInvalidHeader
)

// proxy starts passing the request to the location's upstream.
func (cc *clientConn) proxy() {
	r := cc.r
	pp := r.lc.ProxyPass
	if pp.URL != nil && !cc.evalProxyPass(pp) {
		return
	}
	cc.proxyTo()
}

// proxyTo goes on with proxy once the request's upstream is known: at
// once, or when the name a proxy_pass with variables named is resolved.
func (cc *clientConn) proxyTo() {
	r := cc.r
	if (r.lc.Cache.Path != nil || r.lc.Cache.PathVar != nil) && r.cache.lc != r.lc && cc.cacheLookup() {
		return
	}
	if r.dnsGroup != nil {
		r.group = r.dnsGroup
	} else {
		r.group = cc.w.group(r.proxyPass().Upstream)
	}
	if r.bufferBody {
		cc.bufferBody()
		return
	}
	r.upOut = cc.buildUpstreamRequest(cc.w.getBuf()[:0])
	if r.upOut == nil {
		cc.respondError(500)
		return
	}
	r.upWhole = true
	cc.connectNext()
}

// proxyPass is the request's proxy_pass: the location's, or what a
// proxy_pass with variables named for this request.
func (r *request) proxyPass() *conf.ProxyPass {
	if r.ppDynamic {
		return &r.dynPP.ProxyPass
	}
	return r.lc.ProxyPass
}

// evalProxyPass evaluates a proxy_pass with variables and finds its
// group, answering as nginx does when it cannot: 500 for a value that is
// not a usable URL, 502 for a name without a resolver. A name is looked
// up with the location's resolver (resolver.go). It reports false when
// the request was answered or waits for its name.
func (cc *clientConn) evalProxyPass(pp *conf.ProxyPass) bool {
	r := cc.r
	r.dnsGroup = nil
	r.dynPP = cc.w.srv.cfg.HTTP.ParseDynamicProxyPass(string(cc.eval(nil, pp.URL)))
	d := &r.dynPP
	if pp.Protocol.Gateway() {
		d.Scheme, d.Protocol = pp.Scheme, pp.Protocol
	}
	if d.Err != "" {
		cc.logError(d.Err)
		cc.respondError(500)
		return false
	}
	if d.Upstream == nil {
		if d.Addr == "" {
			if r.lc.Resolver == nil || cc.w.dns == nil {
				cc.logError("no resolver defined to resolve " + d.ResolveHost)
				cc.respondError(502)
				return false
			}
			r.ppDynamic = false
			r.dnsCNAMEs = 0
			cc.resolve(r.lc.Resolver, d.ResolveHost)
			// Answered from the cache, the request goes on now;
			// otherwise it waits or was answered.
			return cc.inPhase(phaseProxy) && r.ppDynamic
		}
		d.Upstream = cc.w.dynamicUpstream(d.Addr)
	}
	r.ppDynamic = true
	return true
}

// maxTries is proxy_next_upstream_tries, where 0 means every server once.
func (cc *clientConn) maxTries() int {
	if t := cc.r.lc.ProxyNextUpstreamTries; t > 0 {
		return t
	}
	return cc.r.group.Tries()
}

// connectNext picks a server and gets a connection to it: an idle one from
// the pool or a new one.
func (cc *clientConn) connectNext() {
	r := cc.r
	w := cc.w
	// The request is admitted only with its upstream connection secured:
	// an idle pooled one, or a slot for a new one, taken back from idle
	// connections if need be; otherwise it waits for one in the queue.
	if w.loop.Free() == 0 && len(r.group.idle) == 0 && w.reclaimSlots(1) == 0 {
		w.enqueue(cc)
		return
	}
	now := w.loop.Now()
	// The balancer also takes the server's place under max_conns.
	peer := r.group.Pick(now, &r.tried, cc.balanceKey())
	if peer == nil {
		if r.group.AtCapacity(&r.tried) {
			cc.waitForServer()
			return
		}
		r.peer = nil
		cc.logError("no live upstreams while connecting to upstream")
		cc.upLogAppend("", 502)
		if cc.cacheFallback(502, conf.NextError) {
			return
		}
		cc.respondError(502)
		return
	}
	cc.usePeer(peer)
}

// usePeer sends the request to a server whose place (max_conns) is taken.
func (cc *clientConn) usePeer(peer *upstream.Peer) {
	r := cc.r
	w := cc.w
	uc := r.group.takeIdle(peer, cc.upstreamTLS())
	if uc == nil && w.loop.Free() == 0 && w.reclaimSlots(1) == 0 {
		// The group's idle connections lead to other servers and no slot
		// can be taken back: the request waits for one, and the server's
		// place goes to whoever needs it meanwhile.
		r.group.Shared.Release(peer.Server)
		w.enqueue(cc)
		return
	}
	if uc != nil {
		cc.beginAttempt(peer)
		uc.cc = cc
		uc.c.SetKind(engine.KindUpstream)
		uc.recv, uc.sent, uc.headBytes = 0, 0, 0
		r.up = uc
		r.upConnect = 0
		cc.useTransport(uc)
		cc.sendRequest()
		return
	}
	uc, err := w.dial(r.group, peer, r.lc)
	if err != nil && outOfResources(err) {
		// No descriptor or no local port: nothing was sent, so the
		// request waits and tries again rather than failing.
		r.group.Shared.Release(peer.Server)
		cc.waitForResources(err, peer.Conf.Addr)
		return
	}
	cc.beginAttempt(peer)
	if err != nil {
		if err == engine.ErrNoSlot {
			w.warnf(logs.Alert, "%d worker_connections are not enough while connecting to upstream", w.loop.Slots())
		}
		releasePeer(r.group, peer)
		if be, ok := err.(*bindError); ok {
			// A local address that cannot be bound is the server's
			// fault, not the upstream's: nginx answers 500 without
			// trying another server.
			cc.logAt(logs.Crit, "bind("+be.addr.String()+") failed ("+logs.SysError(err)+") while connecting to upstream")
			cc.upLogAppend(peer.Conf.Addr, 500)
			cc.respondError(500)
			return
		}
		what := "connect() failed (%s) while connecting to upstream"
		if strings.HasPrefix(peer.Conf.Addr, "unix:") {
			// nginx names the socket for unix domain peers.
			what = "connect() to " + peer.Conf.Addr + " failed (%s) while connecting to upstream"
		}
		cc.upstreamFailed(failError, err, what)
		return
	}
	uc.cc = cc
	r.up = uc
	cc.useTransport(uc)
	if !uc.connecting {
		r.upConnect = 0
		if cc.upstreamTLS() {
			uc.c.SetTimer(r.lc.ProxyConnectTimeout)
			cc.startUpstreamTLS(uc)
			return
		}
		cc.sendRequest()
		return
	}
	uc.c.SetTimer(r.lc.ProxyConnectTimeout)
}

// beginAttempt records that the request goes to peer: for retries
// (proxy_next_upstream), the server's count of requests in progress and
// its figures, and $upstream_* timing.
func (cc *clientConn) beginAttempt(peer *upstream.Peer) {
	r := cc.r
	r.tried.Mark(peer)
	if r.tries == 0 {
		r.upFirstStart = cc.w.loop.Now()
	}
	r.tries++
	r.peer = peer
	peer.Active++
	r.group.stats[peer.Server].Requests.Inc()
	r.upStart = cc.w.loop.Now()
	r.rewind()
	r.sent = false
	r.tryOpen = true
	// A new try has no response fields yet ($upstream_http_NAME).
	r.resp.Headers = r.resp.Headers[:0]
}

func onUpRead(c *engine.Conn) {
	uc := c.Data.(*upConn)
	cc := uc.cc
	if cc == nil {
		// An idle pooled connection became readable: the server closed it
		// or sent something unasked; either way it cannot be reused. Over
		// TLS it may have been a record of TLS's own (a TLS 1.3 session
		// ticket), which leaves nothing to read: that connection stays.
		if uc.speaksTLS() {
			var b [1]byte
			if _, err := uc.tr.Read(b[:]); err == engine.ErrAgain {
				return
			}
		}
		uc.g.closeIdle(uc)
		return
	}
	if uc.connecting {
		// A refused connection can be reported as readable first.
		cc.finishConnect(uc)
		return
	}
	if uc.handshaking {
		cc.upstreamHandshake(uc)
		return
	}
	switch {
	case cc.inPhase(phaseProxy):
		cc.readResponse()
	case cc.state == connTunnel:
		cc.tunnelFromUpstream()
	}
}

func onUpWrite(c *engine.Conn) {
	uc := c.Data.(*upConn)
	cc := uc.cc
	if cc == nil {
		return
	}
	if uc.connecting {
		cc.finishConnect(uc)
		return
	}
	if uc.handshaking {
		cc.upstreamHandshake(uc)
		return
	}
	switch {
	case cc.inPhase(phaseProxy):
		cc.pumpBody()
	case cc.state == connTunnel:
		cc.tunnelFromClient()
	}
}

// finishConnect completes a non-blocking connect once the socket says how
// it went: the request goes out, or the attempt failed as nginx logs it.
func (cc *clientConn) finishConnect(uc *upConn) {
	uc.connecting = false
	// Writable without an error or hang-up event means connected: the
	// socket's error is asked only when epoll reported one of those,
	// which saves a system call per new upstream connection.
	if uc.c.EOF {
		if err := engine.SocketError(uc.c.Fd); err != nil {
			what := "connect() failed (%s) while connecting to upstream"
			if strings.HasPrefix(uc.peer.Conf.Addr, "unix:") {
				what = "connect() to " + uc.peer.Conf.Addr + " failed (%s) while connecting to upstream"
			}
			cc.upstreamFailed(failError, err, what)
			return
		}
	}
	if cc.upstreamTLS() {
		// proxy_connect_timeout goes on over the handshake.
		cc.startUpstreamTLS(uc)
		return
	}
	cc.r.upConnect = cc.w.loop.Now().Sub(cc.r.upStart)
	uc.c.StopTimer()
	cc.sendRequest()
}

func onUpTimer(c *engine.Conn) {
	uc := c.Data.(*upConn)
	cc := uc.cc
	if cc == nil {
		// keepalive_timeout of an idle pooled connection.
		uc.g.closeIdle(uc)
		return
	}
	if cc.r.upRateDelayed {
		// proxy_limit_rate's pause is over.
		cc.r.upRateDelayed = false
		cc.relayResponse()
		return
	}
	switch {
	case uc.connecting:
		cc.upstreamFailed(failTimeout, nil, "upstream timed out (110: Connection timed out) while connecting to upstream")
	case uc.handshaking:
		uc.handshaking = false
		cc.upstreamFailed(failTimeout, nil, "upstream timed out (110: Connection timed out) while SSL handshaking to upstream")
	case cc.state == connTunnel:
		cc.logError("upstream timed out (110: Connection timed out) while proxying upgraded connection")
		cc.abort()
	case cc.r.respHead:
		cc.logError("upstream timed out (110: Connection timed out) while reading upstream")
		if !cc.fillFailed(504) {
			cc.abort()
		}
	case cc.r.upOutOff < len(cc.r.upOut) || cc.r.fileLeft() || !cc.r.bodyDone:
		cc.upstreamFailed(failTimeout, nil, "upstream timed out (110: Connection timed out) while sending request to upstream")
	default:
		cc.upstreamFailed(failTimeout, nil, "upstream timed out (110: Connection timed out) while reading response header from upstream")
	}
}

// sendRequest starts writing the request once a connection is ready.
func (cc *clientConn) sendRequest() {
	cc.pumpBody()
	if cc.inPhase(phaseProxy) && cc.r.up != nil && cc.r.up.tr.Readable() {
		cc.readResponse()
	}
}

// flushUp writes pending bytes to the upstream; true when all are written.
func (cc *clientConn) flushUp() bool {
	r := cc.r
	uc := r.up
	for r.upOutOff < len(r.upOut) {
		if r.sent {
			// More of this request after bytes already on their way.
			uc.setNodelay()
		}
		n, err := uc.tr.Write(r.upOut[r.upOutOff:])
		if n > 0 {
			r.upOutOff += n
			uc.sent += int64(n)
			r.sent = true
			continue
		}
		if err == engine.ErrAgain {
			uc.c.SetTimer(r.lc.ProxySendTimeout)
			return false
		}
		cc.upstreamFailed(failError, err, "writev() failed (%s) while sending request to upstream")
		return false
	}
	// proxy_send_timeout covers a blocked write only.
	uc.c.StopTimer()
	return true
}

// upstreamFailed handles a failed attempt before any of the response went
// to the client: it tries the next server where nginx would, else answers
// 502 or 504.
func (cc *clientConn) upstreamFailed(kind failKind, err error, what string) {
	r := cc.r
	w := cc.w
	now := w.loop.Now()
	peer := r.peer
	msg := what
	if err != nil {
		// what has one %s for the error, formatted as nginx does:
		// "111: Connection refused".
		detail := logs.SysError(err)
		msg = strings.Replace(what, "%s", detail, 1)
	}
	if msg != "" {
		cc.logError(msg)
	}
	status := 502
	if kind == failTimeout {
		status = 504
	}
	reused := r.up != nil && r.up.reused
	if r.up != nil {
		cc.noteTryCounts()
		r.up.closeConn()
	}
	cc.upLogAppend(peer.Conf.Addr, status)
	if !reused {
		r.group.fail(peer, now)
	}
	cond := conf.NextError
	switch kind {
	case failTimeout:
		cond = conf.NextTimeout
	case failInvalidHeader:
		cond = conf.NextInvalidHeader
	}
	if cc.canRetry(cond, reused) {
		if reused {
			// A kept-alive connection that the server had closed does not
			// count as a try, as in nginx.
			r.tries--
			r.tried = upstream.Tried{}
		}
		cc.connectNext()
		return
	}
	if cc.cacheFallback(status, cond) {
		return
	}
	cc.respondError(status)
}

// canRetry is the one place that decides whether the request may go to
// another server after the current attempt failed with cond (an error,
// a timeout, an invalid header or a status listed in
// proxy_next_upstream), by nginx's rules: the condition is listed, tries
// are left, the request can be sent again whole — its head and its whole
// body are still in upOut, which upWhole records rather than anything
// guessed from the buffer's content — and a non-idempotent request that
// reached the server is not sent twice unless non_idempotent allows it.
// A failure on a kept-alive connection that the server had closed
// (reused) is retried whatever the condition and tries, as in nginx.
func (cc *clientConn) canRetry(cond conf.NextUpstream, reused bool) bool {
	r := cc.r
	lc := r.lc
	if lc.ProxyNextUpstream&cond == 0 && !reused {
		return false
	}
	if r.tries >= cc.maxTries() && !reused {
		return false
	}
	if t := lc.ProxyNextUpstreamTimeout; t > 0 && cc.w.loop.Now().Sub(r.upFirstStart) >= t {
		return false
	}
	if !r.canResend() {
		return false
	}
	if r.sent && !idempotent(r.head.Method) && lc.ProxyNextUpstream&conf.NextNonIdempotent == 0 {
		return false
	}
	return true
}

func idempotent(m []byte) bool {
	switch string(m) {
	case "POST", "LOCK", "PATCH":
		return false
	}
	return true
}

// readResponse reads and handles the upstream's response head.
func (cc *clientConn) readResponse() {
	r := cc.r
	if r.respHead {
		cc.relayResponse()
		return
	}
	uc := r.up
	// The head must fit in proxy_buffer_size, as in nginx.
	hs := r.lc.ProxyBufferSize
	limits := http1.Limits{MaxRequestLine: hs, MaxHeaderLine: hs, MaxHeaderBytes: hs, MaxHeaders: 1000}
	for {
		if r.upIn == nil {
			if hs > bufSize {
				r.upIn = make([]byte, hs)
			} else {
				r.upIn = cc.w.getBuf()
			}
			r.upInLen, r.upPos = 0, 0
		}
		if r.upInLen > r.upPos {
			n, err := http1.ParseResponse(r.upIn[r.upPos:r.upInLen], &r.resp, &limits)
			if err == nil {
				if r.resp.Status >= 100 && r.resp.Status < 200 && r.resp.Status != 101 {
					// Interim responses are dropped; the client got its
					// own 100 Continue.
					r.upPos += n
					continue
				}
				r.upHeadAt = r.upPos
				r.upPos += n
				cc.startResponse()
				return
			}
			if err == http1.ErrResponseTooBig {
				cc.upstreamFailed(failInvalidHeader, nil, "upstream sent too big header while reading response header from upstream")
				return
			}
			if err != http1.ErrNeedMore {
				cc.upstreamFailed(failInvalidHeader, nil, "upstream sent invalid header while reading response header from upstream")
				return
			}
			if r.upInLen == len(r.upIn) {
				if r.upPos > 0 {
					n := copy(r.upIn, r.upIn[r.upPos:r.upInLen])
					r.upInLen, r.upPos = n, 0
				} else {
					cc.upstreamFailed(failInvalidHeader, nil, "upstream sent too big header while reading response header from upstream")
					return
				}
			}
		}
		if !uc.tr.Readable() {
			return
		}
		n, err := uc.tr.Read(r.upIn[r.upInLen:])
		if n > 0 {
			uc.recv += int64(n)
			r.upInLen += n
			continue
		}
		if err == engine.ErrAgain {
			return
		}
		if err == errGatewayInvalid {
			// fastcgi_catch_stderr's refusal logs only the stderr line,
			// as nginx does.
			msg, fail := "", ""
			if t, ok := uc.tr.(*fcgiTransport); ok {
				fail = t.failMsg
			} else if t, ok := uc.tr.(*cgiTransport); ok {
				fail = t.failMsg
			}
			if fail != "" {
				msg = fail + " while reading response header from upstream"
			}
			cc.upstreamFailed(failInvalidHeader, nil, msg)
		} else if err == nil {
			cc.upstreamFailed(failError, nil, "upstream prematurely closed connection while reading response header from upstream")
		} else {
			cc.upstreamFailed(failError, err, "recv() failed (%s) while reading response header from upstream")
		}
		return
	}
}

// statusCondition maps a status to its proxy_next_upstream condition.
func statusCondition(status int) conf.NextUpstream {
	switch status {
	case 500:
		return conf.NextHTTP500
	case 502:
		return conf.NextHTTP502
	case 503:
		return conf.NextHTTP503
	case 504:
		return conf.NextHTTP504
	case 403:
		return conf.NextHTTP403
	case 404:
		return conf.NextHTTP404
	case 429:
		return conf.NextHTTP429
	}
	return 0
}
