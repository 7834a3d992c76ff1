package proxy

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/logs"
	"headroom/internal/observe"
	"headroom/internal/upstream"
)

// upGroup is a worker's state for one upstream: its balancer and its
// keep-alive pool of idle connections, most recently used last.
type upGroup struct {
	*upstream.Group
	idle []*upConn
	// stats are this worker's figures per server, in the upstream's
	// Servers order.
	stats []observe.Server
}

// publish stores the group's per-server gauges for other threads.
func (g *upGroup) publish(now time.Time) {
	for _, tier := range [][]*upstream.Peer{g.Primary, g.Backup} {
		for _, p := range tier {
			st := &g.stats[p.Server]
			idle := 0
			for _, uc := range g.idle {
				if uc.peer == p {
					idle++
				}
			}
			st.Idle.Set(int64(idle))
			st.Active.Set(int64(p.Active))
			until := int64(0)
			if t := p.FailedUntil(now); !t.IsZero() {
				until = t.UnixNano()
			}
			st.UnavailableUntil.Set(until)
		}
	}
}

// fail records a failed attempt at a server: towards max_fails, and in the
// server's figures.
func (g *upGroup) fail(p *upstream.Peer, now time.Time) {
	g.Fail(p, now)
	g.stats[p.Server].Failures.Inc()
}

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
	// reused is set when the connection came from the keep-alive pool.
	reused bool
	// recv and sent count the bytes of the current try, headBytes those
	// of its response heads ($upstream_bytes_received and friends).
	recv, sent, headBytes int64
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
	r.group = cc.w.group(pp.Upstream)
	if r.bufferBody {
		cc.bufferBody()
		return
	}
	r.upOut = cc.buildUpstreamRequest(cc.w.getBuf()[:0])
	r.upWhole = true
	cc.connectNext()
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
	var peer *upstream.Peer
	for {
		peer = r.group.Pick(now, &r.tried)
		// Another worker may take a server's last place between the pick
		// and the count; then pick again.
		if peer == nil || r.group.Shared.TryAcquire(peer.Server) {
			break
		}
	}
	if peer == nil {
		if r.group.AtCapacity(&r.tried) {
			cc.waitForServer()
			return
		}
		r.peer = nil
		cc.logError("no live upstreams while connecting to upstream")
		cc.upLogAppend("", 502)
		cc.respondError(502)
		return
	}
	cc.usePeer(peer)
}

// usePeer sends the request to a server whose place (max_conns) is taken.
func (cc *clientConn) usePeer(peer *upstream.Peer) {
	r := cc.r
	w := cc.w
	uc := r.group.takeIdle(peer)
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
		what := "connect() failed (%s) while connecting to upstream"
		if be, ok := err.(*bindError); ok {
			what = "bind(" + be.addr.String() + ") failed (%s) while connecting to upstream"
		} else if strings.HasPrefix(peer.Conf.Addr, "unix:") {
			// nginx names the socket for unix domain peers.
			what = "connect() to " + peer.Conf.Addr + " failed (%s) while connecting to upstream"
		}
		cc.upstreamFailed(failError, err, what)
		return
	}
	uc.cc = cc
	r.up = uc
	if !uc.connecting {
		r.upConnect = 0
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
	// A new try has no response fields yet ($upstream_http_NAME).
	r.resp.Headers = r.resp.Headers[:0]
}

// releasePeer ends a request's use of a server: its place goes to the
// oldest request waiting for the group, or back to the server.
func releasePeer(g *upGroup, p *upstream.Peer) {
	p.Active--
	g.Shared.Release(p.Server)
}

// upstreamSockaddr is the socket family and address of an upstream
// server: "ip:port", or "unix:/path" for a unix domain socket.
func upstreamSockaddr(addr string) (int, unix.Sockaddr, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: path}, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, nil, err
	}
	if ap.Addr().Is6() {
		return unix.AF_INET6, sockaddr(ap), nil
	}
	return unix.AF_INET, sockaddr(ap), nil
}

// dial opens a non-blocking connection to the peer, with the location's
// socket options (proxy_socket_keepalive, proxy_bind).
func (w *worker) dial(g *upGroup, p *upstream.Peer, lc *conf.LocConf) (*upConn, error) {
	family, sa, err := upstreamSockaddr(p.Conf.Addr)
	if err != nil {
		return nil, err
	}
	if w.loop.Free() == 0 {
		return nil, engine.ErrNoSlot
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if family != unix.AF_UNIX {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if lc.ProxySocketKeepalive {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		}
		if lc.ProxyBind.IsValid() {
			if err := bindLocal(fd, family, lc.ProxyBind); err != nil {
				unix.Close(fd)
				return nil, &bindError{addr: lc.ProxyBind, err: err}
			}
		}
	}
	uc := &upConn{w: w, g: g, peer: p, born: w.loop.Now()}
	c, err := w.loop.Add(fd, engine.KindUpstream, uc)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	uc.c = c
	uc.sock.c = c
	uc.tr = &uc.sock
	c.OnRead = onUpRead
	c.OnWrite = onUpWrite
	c.OnTimer = onUpTimer
	err = unix.Connect(fd, sa)
	switch err {
	case nil:
	case unix.EINPROGRESS:
		uc.connecting = true
	default:
		c.Close()
		return nil, err
	}
	return uc, nil
}

// takeIdle returns a pooled connection to the peer, most recent first.
func (g *upGroup) takeIdle(p *upstream.Peer) *upConn {
	for i := len(g.idle) - 1; i >= 0; i-- {
		uc := g.idle[i]
		if uc.peer == p {
			g.unpool(i)
			uc.c.StopTimer()
			uc.reused = true
			return uc
		}
	}
	return nil
}

// closeIdle takes an idle connection out of the pool and closes it.
func (g *upGroup) closeIdle(uc *upConn) {
	for i, x := range g.idle {
		if x == uc {
			g.unpool(i)
			break
		}
	}
	uc.closeSocket()
}

// unpool removes the i-th idle connection from the pool, keeping order.
func (g *upGroup) unpool(i int) {
	copy(g.idle[i:], g.idle[i+1:])
	g.idle[len(g.idle)-1] = nil
	g.idle = g.idle[:len(g.idle)-1]
}

// closeConn closes an upstream connection.
func (uc *upConn) closeConn() {
	if uc.cc != nil && uc.cc.r.peer == uc.peer && uc.cc.r.up == uc {
		releasePeer(uc.g, uc.peer)
		uc.cc.r.up = nil
	}
	uc.cc = nil
	if uc.c != nil {
		uc.closeSocket()
	}
}

// closeSocket closes the connection's transport and socket and frees
// its slot.
func (uc *upConn) closeSocket() {
	uc.tr.Close()
	uc.c.Close()
	uc.c = nil
}

// release returns a connection after a complete response: to the pool
// when the upstream allows and the limits of the group permit, else closed.
func (uc *upConn) release(reusable bool) {
	cc := uc.cc
	g := uc.g
	u := g.Conf
	uc.requests++
	if cc != nil {
		releasePeer(g, uc.peer)
		cc.r.up = nil
	}
	uc.cc = nil
	now := uc.w.loop.Now()
	if !reusable || u.Keepalive == 0 || uc.requests >= u.KeepaliveRequests || now.Sub(uc.born) >= u.KeepaliveTime || uc.tr.PeerClosed() {
		uc.closeSocket()
		return
	}
	if len(g.idle) >= u.Keepalive {
		// The pool keeps the most recently used connections.
		g.closeIdle(g.idle[0])
	}
	g.idle = append(g.idle, uc)
	uc.c.SetTimer(u.KeepaliveTimeout)
}

func onUpRead(c *engine.Conn) {
	uc := c.Data.(*upConn)
	cc := uc.cc
	if cc == nil {
		// An idle pooled connection became readable: the server closed it
		// or sent something unasked; either way it cannot be reused.
		uc.g.closeIdle(uc)
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
		uc.connecting = false
		if errno, _ := unix.GetsockoptInt(c.Fd, unix.SOL_SOCKET, unix.SO_ERROR); errno != 0 {
			cc.upstreamFailed(failError, unix.Errno(errno), "connect() failed (%s) while connecting to upstream")
			return
		}
		cc.r.upConnect = cc.w.loop.Now().Sub(cc.r.upStart)
		c.StopTimer()
		cc.sendRequest()
		return
	}
	switch {
	case cc.inPhase(phaseProxy):
		cc.pumpBody()
	case cc.state == connTunnel:
		cc.tunnelFromClient()
	}
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
	case cc.state == connTunnel:
		cc.close()
	case cc.r.respHead:
		cc.logError("upstream timed out (110: Connection timed out) while reading upstream")
		cc.abort()
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
	cc.logError(msg)
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

func serverName(s *conf.Server) string {
	if s != nil && len(s.Names) > 0 {
		return s.Names[0].Name
	}
	return ""
}

// logError writes an error log line with nginx's context: client,
// server, request, upstream and host.
func (cc *clientConn) logError(msg string) { cc.logAt(logs.Error, msg) }

// logAt writes msg with the request's context at the given level.
func (cc *clientConn) logAt(level logs.Level, msg string) {
	r := cc.r
	var b []byte
	b = append(b, msg...)
	b = append(b, ", client: "...)
	b = cc.remote.Addr().AppendTo(b)
	b = append(b, ", server: "...)
	b = append(b, serverName(r.srv)...)
	b = append(b, ", request: \""...)
	b = append(b, r.line...)
	b = append(b, '"')
	// Like nginx, only a request that has reached its upstream (not one
	// stopped by limit_conn or limit_req before) names it.
	if r.group != nil && r.lc != nil && r.lc.ProxyPass != nil {
		b = append(b, ", upstream: \"http://"...)
		if r.peer != nil {
			b = append(b, r.peer.Conf.Addr...)
			if strings.HasPrefix(r.peer.Conf.Addr, "unix:") {
				// nginx writes a unix socket's URL as unix:PATH:URI.
				b = append(b, ':')
			}
			b = appendUpstreamURI(b, r)
		} else {
			b = append(b, r.lc.ProxyPass.Host...)
		}
		b = append(b, '"')
	}
	if r.head.Host != nil {
		b = append(b, ", host: \""...)
		b = append(b, r.head.Host...)
		b = append(b, '"')
	}
	cc.w.srv.log.Logf(level, cc.w.id, "%s", b)
}

// appendUpstreamURI appends the request-target sent upstream: the
// client's own when proxy_pass has no URI part; otherwise the URI part
// replacing the matched location prefix, as nginx does.
func appendUpstreamURI(b []byte, r *request) []byte {
	pp := r.lc.ProxyPass
	h := &r.head
	if !pp.HasURI || r.loc == nil || r.loc.Match == conf.MatchRegex || r.loc.Match == conf.MatchRegexCaseless {
		if len(h.Target) > 0 && h.Target[0] == '/' {
			return append(b, h.Target...)
		}
		b = append(b, h.Path...)
		if h.Query != nil {
			b = append(b, '?')
			b = append(b, h.Query...)
		}
		return b
	}
	b = append(b, pp.URI...)
	// The normalised URI with the location's prefix replaced. As nginx,
	// it is escaped again for the wire only when the client's path had
	// escapes; otherwise its bytes go as they came.
	var rest []byte
	if len(r.uri) >= len(r.loc.Path) {
		rest = r.uri[len(r.loc.Path):]
	}
	if bytes.IndexByte(h.Path, '%') >= 0 {
		b = appendEscapedURI(b, rest)
	} else {
		b = append(b, rest...)
	}
	if h.Query != nil {
		b = append(b, '?')
		b = append(b, h.Query...)
	}
	return b
}

// upLogAppend records one attempt for $upstream_addr and friends, which
// list every server tried, separated by ", ".
func (cc *clientConn) upLogAppend(addr string, status int) {
	r := cc.r
	if upCountsWanted() {
		cc.logTryCounts(len(r.upAddrs) == 0)
	}
	if len(r.upAddrs) > 0 {
		r.upAddrs = append(r.upAddrs, ", "...)
		r.upStatuses = append(r.upStatuses, ", "...)
		r.upTimes = append(r.upTimes, ", "...)
		r.upConnects = append(r.upConnects, ", "...)
		r.upHeaders = append(r.upHeaders, ", "...)
	}
	if addr == "" {
		addr = r.lc.ProxyPass.Host
	}
	r.upAddrs = append(r.upAddrs, addr...)
	r.upStatuses = strconv.AppendInt(r.upStatuses, int64(status), 10)
	now := cc.w.loop.Now()
	r.upTimes = appendSeconds(r.upTimes, now.Sub(r.upStart))
	if r.upConnect > 0 || r.respHead {
		r.upConnects = appendSeconds(r.upConnects, r.upConnect)
	} else {
		r.upConnects = append(r.upConnects, '-')
	}
	if r.respHead {
		r.upHeaders = appendSeconds(r.upHeaders, r.upHeader)
	} else {
		r.upHeaders = append(r.upHeaders, '-')
	}
}

// appendSeconds formats a duration as nginx does: seconds with
// millisecond precision.
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	ms := d.Milliseconds()
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	frac := ms % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// bindError is a failed proxy_bind, logged as nginx logs it.
type bindError struct {
	addr netip.Addr
	err  error
}

func (e *bindError) Error() string { return e.err.Error() }

// bindLocal binds an upstream socket to proxy_bind's local address
// before it connects; the port is the kernel's choice.
func bindLocal(fd, family int, addr netip.Addr) error {
	switch {
	case family == unix.AF_INET && addr.Is4():
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: addr.As4()})
	case family == unix.AF_INET6 && addr.Is6():
		return unix.Bind(fd, &unix.SockaddrInet6{Addr: addr.As16()})
	}
	// nginx binds whatever it is given and lets bind() fail.
	return unix.EAFNOSUPPORT
}
