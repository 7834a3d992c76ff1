package proxy

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/upstream"
)

// connState is where an HTTP/1 connection is between and around its
// requests. What a request in progress is doing is its phase (see
// request.go); the connection only knows that it carries one.
type connState uint8

const (
	// connIdle: between requests (or before the first), waiting for bytes.
	connIdle connState = iota
	// connHead: part of a request head has arrived.
	connHead
	// connRequest: a request is in progress; its phase says where.
	connRequest
	// connTunnel: an upgraded connection relays bytes both ways and no
	// longer speaks HTTP.
	connTunnel
	// connLinger: an error was answered; remaining input is read and
	// dropped for a while before closing, so the client sees the answer
	// instead of a reset (nginx's lingering close).
	connLinger
	// connDiscard: the response is sent and the rest of the request body
	// is read and dropped, so that the connection can carry the next
	// request, as nginx discards a body it did not need.
	connDiscard
	// connClosed: the connection was closed; callers up the stack that
	// still hold it must stop.
	connClosed
	numConnStates
)

// setState moves the connection to a new state, keeping the worker's count
// of connections per state (stub_status's reading and waiting) exact.
func (cc *clientConn) setState(s connState) {
	w := cc.w
	w.states[cc.state]--
	w.states[s]++
	if s == connHead {
		// Counted when the first bytes arrive, as nginx counts requests
		// for stub_status.
		w.stats.Requests.Inc()
	}
	cc.state = s
}

// setPhase moves the request in progress to a phase; the connection then
// carries a request.
func (cc *clientConn) setPhase(p phase) {
	if cc.state != connRequest {
		cc.setState(connRequest)
	}
	cc.r.phase = p
}

// inPhase reports whether the connection carries a request in phase p.
func (cc *clientConn) inPhase(p phase) bool {
	return cc.state == connRequest && cc.r.phase == p
}

// clientConn is a client connection's state. It is reused across the
// connection's requests and, through the worker's free list, across
// connections.
type clientConn struct {
	w *worker
	c *engine.Conn
	// tr carries the connection's bytes; sock is the transport over the
	// slot's own socket, kept here so that setting tr allocates nothing.
	tr     transport
	sock   socketTransport
	ln     *listener
	remote netip.AddrPort
	id     uint64
	// requests counts requests on this connection ($connection_requests).
	requests int
	state    connState

	// in holds the request head and what follows it; nil while idle.
	in    []byte
	inLen int
	// inPos is the first byte of in not yet consumed.
	inPos int
	// scanned is how many bytes from inPos the head parser has seen.
	scanned int

	// out holds bytes waiting to be written to the client.
	out    []byte
	outOff int

	// inIdle, idlePrev and idleNext place the connection on its worker's
	// list of idle keep-alive clients, oldest first, from which slots are
	// taken back under pressure; idleSince is when it went idle.
	inIdle             bool
	idlePrev, idleNext *clientConn
	idleSince          time.Time
	// waitSeq identifies the current wait in an upstream queue, so that a
	// place handed to a request that has gone is passed on.
	waitSeq uint64

	// r is the request being served; nil while the connection is idle,
	// so that an idle keep-alive connection holds only this small struct.
	r *request
}

// request is the state of the request being served.
type request struct {
	// phase is where the request is (see phase.go).
	phase   phase
	head    http1.Request
	headLen int
	// line is the request line as received ($request), a slice of the
	// client's buffer.
	line []byte
	// uri is the normalised path ($uri), in a buffer kept across requests.
	uri   []byte
	start time.Time
	srv   *conf.Server
	loc   *conf.Location
	lc    *conf.LocConf

	status    int
	keepAlive bool
	// bodySent counts response body bytes sent ($body_bytes_sent);
	// bytesSent counts everything sent ($bytes_sent).
	bodySent  int64
	bytesSent int64
	// finishing is set once the whole response is in out.
	finishing bool

	// Request body relay state.
	bodyLeft    int64
	bodyChunked bool
	bodyDec     http1.ChunkedDecoder
	bodyDone    bool
	bodyRead    int64
	// bufferBody is set while the body is read whole before the request
	// goes upstream (proxy_request_buffering, or a chunked body for an
	// HTTP/1.0 upstream); it is kept in bodyMem, or in bodyFile once
	// larger than client_body_buffer_size (see reqbody.go).
	bufferBody bool
	bodyMem    []byte
	bodyFile   *tempFile
	// bodyMemLimit is how much of the body may stay in memory.
	bodyMemLimit int
	// upHeadLen is the length of the request head at the start of upOut
	// while a body held in a file is sent after it, fileOff how much of
	// the file has been put in upOut.
	upHeadLen int
	fileOff   int64
	// spooling is set when the response is buffered (proxy_buffering,
	// X-Accel-Buffering); spool holds what the client has not taken yet
	// and spoolScratch frames bytes on their way to it (see spool.go).
	spooling     bool
	spool        spool
	spoolScratch []byte
	// continued is set once "100 Continue" was sent.
	continued bool
	// upHead is set when proxy_method sends HEAD upstream (see
	// proxyheaders.go).
	upHead bool
	// retryAfter adds "Retry-After" to a 503 sent for lack of capacity.
	retryAfter bool
	// resourceWaitFrom is when the request first found no descriptor or
	// local port for its upstream connection.
	resourceWaitFrom time.Time
	// queuedAt is when the request entered a queue (slot or upstream);
	// kept here, not on the connection, so that an idle connection does
	// not carry it.
	queuedAt time.Time
	// noStore adds "Cache-Control: no-store" to a generated response
	// (the status views, whose figures change every moment).
	noStore bool
	// waiter is the request's place in its group's queue while it waits
	// for a server below max_conns.
	waiter *upstream.Waiter
	// connHolds are the request's counts in limit_conn zones.
	connHolds []connHold

	// Upstream state.
	up       *upConn
	group    *upGroup
	peer     *upstream.Peer
	tried    upstream.Tried
	tries    int
	upOut    []byte
	upOutOff int
	// sent is set once any byte of the request went to the current
	// upstream connection; a non-idempotent request is not retried after.
	sent bool
	// upWhole records that upOut holds the request from its first byte:
	// the head and every body byte taken from the client so far. It is
	// set when the head is built and cleared for good when sent bytes are
	// dropped to make room for more of the body. Only a request with
	// upWhole and its body complete can be sent to another server.
	upWhole  bool
	upIn     []byte
	upInLen  int
	upPos    int
	resp     http1.Response
	respHead bool
	framing  http1.Framing
	respLeft int64
	respDec  http1.ChunkedDecoder
	chunkOut bool
	respDone bool
	upStart  time.Time
	// upFirstStart is when the first try began
	// (proxy_next_upstream_timeout).
	upFirstStart time.Time
	// sendWaitFrom is when writes to the client started to wait for it
	// to read, zero while it keeps up; sendWaitBase is bytesSent then.
	// They give its reading rate while it holds the response back
	// (send_min_rate).
	sendWaitFrom time.Time
	sendWaitBase int64
	// limitRate is the response's limit_rate (or its upstream's
	// X-Accel-Limit-Rate), 0 for none; rateDelayed is set while the
	// client's timer is limit_rate's pause (see ratelimit.go).
	limitRate   int64
	rateDelayed bool
	// upRead counts the body bytes read from the upstream since
	// upReadStart, and upRateDelayed is set while the upstream's timer
	// is proxy_limit_rate's pause.
	upRead        int64
	upReadStart   time.Time
	upRateDelayed bool
	upConnect     time.Duration
	upHeader      time.Duration
	upResponse    time.Duration
	// upx holds what only some variables need (see upvars.go); nil until
	// a request of a configuration that names one needs it, then kept
	// with the pooled request.
	upx *upExtra
	// upLog accumulates $upstream_addr, $upstream_status and timings of
	// every tried server.
	upAddrs    []byte
	upStatuses []byte
	upTimes    []byte
	upConnects []byte
	upHeaders  []byte
}

// newClient takes an accepted socket into a slot, over the socket
// transport.
func (w *worker) newClient(fd int, sa unix.Sockaddr, ln *listener) {
	cc := w.getClient()
	c, err := w.loop.Add(fd, engine.KindClient, cc)
	if err != nil {
		unix.Close(fd)
		w.putClient(cc)
		return
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	var remote netip.AddrPort
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		remote = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		remote = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	cc.sock.c = c
	w.startClient(cc, c, &cc.sock, ln, remote)
}

// startClient starts the HTTP/1 connection of a client whose slot is
// taken, over the transport that carries its bytes.
func (w *worker) startClient(cc *clientConn, c *engine.Conn, tr transport, ln *listener, remote netip.AddrPort) {
	cc.c = c
	cc.tr = tr
	cc.ln = ln
	cc.id = w.srv.connSeq.Add(1)
	cc.requests = 0
	cc.scanned = 0
	cc.remote = remote
	cc.state = connClosed
	cc.setState(connIdle)
	w.stats.Accepted.Inc()
	w.stats.Handled.Inc()
	w.idlePush(cc)
	c.OnRead = onClientRead
	c.OnWrite = onClientWrite
	c.OnTimer = onClientTimer
	// The first request has client_header_timeout to arrive, measured
	// with the default server's settings as nginx does.
	c.SetTimer(ln.vhosts.def.Loc.ClientHeaderTimeout)
}

func (w *worker) getClient() *clientConn {
	if n := len(w.clients); n > 0 {
		cc := w.clients[n-1]
		w.clients = w.clients[:n-1]
		return cc
	}
	return &clientConn{w: w}
}

func (w *worker) putClient(cc *clientConn) {
	cc.c = nil
	cc.tr = nil
	cc.sock.c = nil
	w.clients = append(w.clients, cc)
}

// onClientRead, onClientWrite and onClientTimer are the HTTP/1
// connection's handlers: the connection's own states are handled here,
// and a request in progress gets the event in its phase (request.go).
func onClientRead(c *engine.Conn) {
	cc := c.Data.(*clientConn)
	switch cc.state {
	case connIdle, connHead:
		cc.readHead()
	case connRequest:
		cc.requestReadable()
	case connTunnel:
		cc.tunnelFromClient()
	case connLinger:
		cc.linger()
	case connDiscard:
		cc.discardBody()
	}
}

func onClientWrite(c *engine.Conn) {
	cc := c.Data.(*clientConn)
	if cc.r != nil && cc.r.rateDelayed {
		// Writable, but limit_rate holds the response until its timer.
		return
	}
	if cc.outOff < len(cc.out) {
		if !cc.flush() {
			return
		}
	}
	switch cc.state {
	case connRequest:
		cc.requestWritable()
	case connTunnel:
		cc.tunnelFromUpstream()
	}
}

func onClientTimer(c *engine.Conn) {
	cc := c.Data.(*clientConn)
	if cc.r != nil && cc.r.rateDelayed {
		// limit_rate's pause is over.
		cc.r.rateDelayed = false
		onClientWrite(c)
		return
	}
	switch cc.state {
	case connHead:
		// nginx answers 408 to a slow head but does not send it; it
		// closes and logs 408.
		cc.r.status = 408
		cc.logRequest()
		cc.close()
	case connRequest:
		cc.requestTimer()
	default:
		// keepalive_timeout, the end of a lingering close, or the rest
		// of a discarded body that did not come in client_body_timeout.
		cc.close()
	}
}

// readHead reads until a whole request head is in the buffer, then starts
// the request.
func (cc *clientConn) readHead() {
	w := cc.w
	cc.attach()
	for {
		if cc.in == nil {
			cc.in = w.getBuf()
			cc.inLen, cc.inPos = 0, 0
		}
		if buf := cc.in[cc.inPos:cc.inLen]; len(buf) > cc.scanned {
			// Parse only when the new bytes may end the head (or the head
			// limit is reached): re-parsing a head that arrives a few bytes
			// at a time would cost quadratic work.
			if cc.scanned == 0 || http1.MayCompleteHead(buf, cc.scanned) || len(buf) >= cc.headLimit() {
				if cc.tryHead() {
					return
				}
			}
			cc.scanned = len(buf)
		}
		if !cc.tr.Readable() {
			cc.releaseIdleBuf()
			return
		}
		if cc.inLen == len(cc.in) {
			if !cc.growIn() {
				return
			}
		}
		n, err := cc.tr.Read(cc.in[cc.inLen:])
		if n > 0 {
			if cc.state == connIdle {
				w.idleRemove(cc)
				cc.setState(connHead)
				cc.r.start = w.loop.Now()
				if cc.requests > 0 {
					// The next request on a kept-alive connection has
					// client_header_timeout from its first byte. The
					// first request's head has it from the accept, whose
					// timer runs on, as nginx's does.
					cc.c.SetTimer(cc.ln.vhosts.def.Loc.ClientHeaderTimeout)
				}
			}
			cc.inLen += n
			continue
		}
		if err == engine.ErrAgain {
			continue
		}
		// EOF or error: a client that closes between requests is normal.
		if cc.state == connHead && cc.inLen > cc.inPos {
			cc.r.status = 400
			cc.logRequest()
		}
		cc.close()
		return
	}
}

// releaseIdleBuf returns the read buffer to the pool when it holds no
// unread bytes, so an idle connection holds no buffer.
func (cc *clientConn) releaseIdleBuf() {
	if cc.state == connIdle && cc.inPos >= cc.inLen {
		cc.w.dropBuf(&cc.in)
		cc.inLen, cc.inPos = 0, 0
	}
	if cc.state == connIdle && cc.in == nil {
		cc.detach()
	}
}

// growIn makes room for a head that does not fit: it moves unread bytes to
// the front, or switches to a buffer as large as the head limit allows.
func (cc *clientConn) growIn() bool {
	if cc.inPos > 0 {
		n := copy(cc.in, cc.in[cc.inPos:cc.inLen])
		cc.inLen, cc.inPos = n, 0
		return true
	}
	limit := cc.headLimit() + 1024
	if len(cc.in) >= limit {
		// The parser reports the limit; reaching here means the buffer is
		// full of a head it could not judge, which it cannot be.
		cc.respondError(400)
		return false
	}
	big := make([]byte, limit)
	copy(big, cc.in[:cc.inLen])
	cc.w.putBuf(cc.in)
	cc.in = big
	return true
}

// headLimit is the largest request head accepted (nginx's
// large_client_header_buffers number × size).
func (cc *clientConn) headLimit() int {
	lc := cc.ln.vhosts.def.Loc
	return lc.LargeClientHeaderBuffersNum * lc.LargeClientHeaderBuffersSize
}

// tryHead parses the buffered bytes; it returns true when the request was
// taken over (answered, proxied or failed).
func (cc *clientConn) tryHead() bool {
	r := cc.r
	n, err := http1.ParseRequest(cc.in[cc.inPos:cc.inLen], &r.head, &cc.ln.limits)
	if err == http1.ErrNeedMore {
		return false
	}
	if cc.state == connIdle {
		cc.w.idleRemove(cc)
		cc.setState(connHead)
		r.start = cc.w.loop.Now()
	}
	r.line = firstLine(cc.in[cc.inPos:cc.inLen])
	if err != nil {
		var perr *http1.Error
		status := 400
		if errors.As(err, &perr) {
			status = perr.Status
			if perr == http1.ErrHeaderTooLarge {
				// nginx's internal code for this case, answered as 400
				// with its own page.
				status = 494
			}
		}
		r.srv = cc.ln.vhosts.def
		r.lc = r.srv.Loc
		r.keepAlive = false
		cc.respondError(status)
		return true
	}
	r.headLen = n
	cc.scanned = 0
	cc.requests++
	cc.setPhase(phaseRoute)
	cc.startRequest()
	return true
}

// startRequest routes a parsed request and starts serving it.
func (cc *clientConn) startRequest() {
	r := cc.r
	h := &r.head
	r.bodyLeft = max(h.ContentLength, 0)
	r.bodyChunked = h.Chunked
	r.bodyDone = !h.Chunked && h.ContentLength <= 0
	if h.Chunked {
		r.bodyDec.Reset()
	}
	cc.inPos += r.headLen
	host, ok := normalizeHost(h.Host)
	r.srv = cc.ln.vhosts.def
	r.lc = r.srv.Loc
	if !ok {
		r.keepAlive = false
		cc.respondError(400)
		return
	}
	r.srv = cc.ln.vhosts.find(host)
	uri, ok := normalizePath(r.uri, h.Path)
	if !ok {
		r.keepAlive = false
		cc.respondError(400)
		return
	}
	r.uri = uri
	// A server-level "return" runs before locations are matched, as
	// nginx's server rewrite phase does.
	var redirect *conf.Location
	if r.srv.Loc.Return == nil {
		if redirect = autoRedirect(r.srv.Locations, r.uri); redirect == nil {
			r.loc, _ = findLocation(r.srv.Locations, r.uri)
		}
	}
	switch {
	case redirect != nil:
		r.lc = redirect.Loc
	case r.loc != nil:
		r.lc = r.loc.Loc
	default:
		r.lc = r.srv.Loc
	}
	lc := r.lc
	r.keepAlive = h.KeepAlive && lc.KeepaliveTimeout > 0 && cc.requests < lc.KeepaliveRequests
	if redirect != nil {
		target := []byte(redirect.Path)
		if h.Query != nil {
			target = append(append(target, '?'), h.Query...)
		}
		cc.respondSpecial(301, 301, errorPage(301), cc.absoluteURL(target))
		return
	}
	if lc.ClientMaxBodySize > 0 && h.ContentLength > lc.ClientMaxBodySize {
		cc.w.warnf(logs.Error, "client intended to send too large body: %d bytes, client: %s", h.ContentLength, cc.remote.Addr())
		r.keepAlive = false
		cc.respondError(413)
		return
	}
	if lc.Return != nil {
		cc.respondReturn(lc.Return)
		return
	}
	if delay, ok := cc.limitReqs(); !ok {
		return
	} else if delay > 0 {
		// limit_req holds the request back; it goes on when the
		// timer fires (see onClientTimer).
		cc.setPhase(phaseDelayed)
		cc.c.SetTimer(delay)
		return
	}
	cc.serve()
}

// accessAllowed applies the location's allow and deny rules, in nginx's
// access phase (after limit_req and limit_conn): the first rule that
// matches the client decides; a denied request is answered 403.
func (cc *clientConn) accessAllowed() bool {
	addr := cc.remote.Addr()
	for _, rule := range cc.r.lc.Access {
		if !rule.Matches(addr) {
			continue
		}
		if rule.Deny {
			cc.logError("access forbidden by rule")
			cc.respondError(403)
			return false
		}
		return true
	}
	return true
}

// serve runs a routed request past limit_conn to its handler: 404 without
// one, else the upstream.
func (cc *clientConn) serve() {
	r := cc.r
	h := &r.head
	lc := r.lc
	if !cc.limitConns() {
		return
	}
	if !cc.accessAllowed() {
		return
	}
	if lc.Handler != conf.HandlerNone {
		cc.respondObserve(lc.Handler)
		return
	}
	if lc.ProxyPass == nil {
		// Without a handler nginx would serve static files; headroom does
		// not, and answers as nginx does for a missing file.
		cc.respondError(404)
		return
	}
	// The body is read whole first with proxy_request_buffering on, and
	// always when it is chunked and the upstream speaks HTTP/1.0, which
	// cannot take chunked framing; as in nginx.
	// A chunked body that has arrived whole with the head is sent with a
	// Content-Length even with buffering off, as nginx sends a body it
	// is no longer reading.
	// A body that is not passed on (proxy_pass_request_body off,
	// proxy_set_body) is read whole too.
	r.bufferBody = (!r.bodyDone || lc.ClientBodyInFileOnly != conf.BodyFileOff) &&
		(lc.ProxyRequestBuffering || h.Chunked && (lc.ProxyHTTPVersion != "1.1" || cc.chunkedBodyArrived()) ||
			!lc.ProxyPassRequestBody || lc.ProxySetBody != nil)
	if r.bufferBody {
		r.bodyMemLimit = bodyMemLimit(lc, h, r.headLen, cc.inLen-cc.inPos)
	}
	if cc.tr.PeerClosed() && r.bodyDone && cc.inPos >= cc.inLen && !lc.ProxyIgnoreClientAbort {
		// The client closed after sending its request, before it was
		// taken: as nginx without proxy_ignore_client_abort, the request
		// is not passed on (499). After an overload, the clients that gave
		// up in the backlog are cleared in no time this way instead of
		// each costing an upstream round trip.
		r.status = 499
		cc.abort()
		return
	}
	cc.expectContinue()
	cc.setPhase(phaseProxy)
	cc.c.StopTimer()
	cc.proxy()
}

// expectContinue answers "Expect: 100-continue" once the request is
// going to read its body, as nginx does, even for a request that has none.
func (cc *clientConn) expectContinue() {
	r := cc.r
	if r.head.ExpectContinue && !r.continued {
		r.continued = true
		cc.outBuf()
		cc.out = append(cc.out, "HTTP/1.1 100 Continue\r\n\r\n"...)
	}
}

// close ends the connection and everything it holds.
func (cc *clientConn) close() {
	w := cc.w
	w.idleRemove(cc)
	if cc.inPhase(phaseQueued) {
		w.dequeueRemove(cc)
	}
	if cc.inPhase(phaseUpQueued) {
		cc.leaveServerQueue()
	}
	if cc.r != nil {
		cc.releaseLimits()
		if cc.r.up != nil {
			cc.r.up.closeConn()
			cc.r.up = nil
		}
	}
	cc.releaseBuffers()
	cc.detach()
	cc.tr.Close()
	cc.c.Close()
	cc.setState(connClosed)
	w.putClient(cc)
}

func (cc *clientConn) releaseBuffers() {
	w := cc.w
	w.dropBuf(&cc.in)
	w.dropBuf(&cc.out)
	cc.outOff = 0
	r := cc.r
	if r == nil {
		cc.inLen, cc.inPos = 0, 0
		return
	}
	w.dropBuf(&r.upIn)
	w.dropBuf(&r.upOut)
	cc.inLen, cc.inPos = 0, 0
}

// flush writes pending output; it returns true when all of it is written.
func (cc *clientConn) flush() bool {
	if cc.r.rateDelayed {
		return false
	}
	for cc.outOff < len(cc.out) {
		buf := cc.out[cc.outOff:]
		if cc.r.limitRate > 0 {
			allowed := cc.rateAllowance()
			if allowed <= 0 {
				cc.rateDelay(time.Duration(-allowed*1000/cc.r.limitRate+1) * time.Millisecond)
				return false
			}
			buf = buf[:min(int64(len(buf)), allowed)]
		}
		n, err := cc.tr.Write(buf)
		if n > 0 {
			before := cc.r.bytesSent
			cc.outOff += n
			cc.r.bytesSent += int64(n)
			if d := cc.rateDelayAfter(before); d > 0 {
				cc.rateDelay(d)
				return false
			}
			continue
		}
		if err == engine.ErrAgain {
			r := cc.r
			if r.sendWaitFrom.IsZero() {
				r.sendWaitFrom = cc.w.loop.Now()
				r.sendWaitBase = r.bytesSent
			}
			cc.c.SetTimer(r.lc.SendTimeout)
			return false
		}
		// The client is gone.
		if cc.r.status == 0 {
			cc.r.status = 499
		}
		cc.abort()
		return false
	}
	cc.out = cc.out[:0]
	cc.outOff = 0
	cc.r.sendWaitFrom = time.Time{}
	if cc.inPhase(phaseProxy) && cc.r.bodyDone {
		// send_timeout covers a blocked write only.
		cc.c.StopTimer()
	}
	return true
}

// outBuf makes sure out has a pooled buffer to append to.
func (cc *clientConn) outBuf() {
	if cc.out == nil {
		cc.out = cc.w.getBuf()[:0]
	}
}

// abort ends the request without a complete answer and closes the
// connection; used when the client or the upstream fails mid-way.
func (cc *clientConn) abort() {
	cc.logRequest()
	cc.close()
}

// flushAndAbort writes what the client can still take of a response that
// cannot be completed, then closes; a failed write has closed already.
func (cc *clientConn) flushAndAbort() {
	cc.flush()
	if cc.state != connClosed {
		cc.abort()
	}
}

// finish is called once the response has been written completely. It
// logs the request and either waits for the next one or closes.
func (cc *clientConn) finish() {
	cc.logRequest()
	r := cc.r
	if !r.keepAlive {
		cc.closeGracefully()
		return
	}
	if !r.bodyDone {
		cc.setState(connDiscard)
		cc.discardBody()
		return
	}
	cc.goIdle()
}

// discardBody reads and drops the rest of a request body that the answer
// did not need, then lets the connection carry the next request.
func (cc *clientConn) discardBody() {
	r := cc.r
	for !r.bodyDone {
		if avail := cc.in[cc.inPos:cc.inLen]; len(avail) > 0 {
			if r.bodyChunked {
				if _, _, _, ok := cc.decodeBody(avail); !ok {
					return
				}
				continue
			}
			n := min(int64(len(avail)), r.bodyLeft)
			cc.inPos += int(n)
			r.bodyLeft -= n
			r.bodyDone = r.bodyLeft == 0
			continue
		}
		if !cc.readBody(r.bodyLeft) {
			return
		}
	}
	cc.c.StopTimer()
	cc.goIdle()
}

// goIdle releases what the finished request held, keeping unread
// pipelined bytes, and waits for the next request.
func (cc *clientConn) goIdle() {
	r := cc.r
	lc := r.lc
	w := cc.w
	// Release what the finished request held, keep unread pipelined bytes.
	w.dropBuf(&r.upIn)
	w.dropBuf(&r.upOut)
	// finish runs once out was written completely.
	w.dropBuf(&cc.out)
	cc.outOff = 0
	cc.detach()
	cc.setState(connIdle)
	w.idlePush(cc)
	cc.c.SetTimer(lc.KeepaliveTimeout)
	if cc.inPos < cc.inLen {
		// Pipelined: the next head is already here; move it to the front
		// so that it can grow.
		n := copy(cc.in, cc.in[cc.inPos:cc.inLen])
		cc.inLen, cc.inPos = n, 0
		cc.readHead()
		return
	}
	w.dropBuf(&cc.in)
	cc.inLen, cc.inPos = 0, 0
	if cc.tr.Readable() {
		cc.readHead()
	}
}

// attach gives the connection a request object from the worker's pool.
func (cc *clientConn) attach() {
	if cc.r == nil {
		cc.r = cc.w.getRequest()
	}
}

// detach returns the request object to the worker's pool.
func (cc *clientConn) detach() {
	if cc.r != nil {
		cc.r.dropBody(cc.w)
		cc.w.putRequest(cc.r)
		cc.r = nil
	}
}

// reset clears a request for reuse, keeping the capacity of its slices.
func (r *request) reset() {
	hdrs := r.head.Headers[:0]
	uri := r.uri[:0]
	rh := r.resp.Headers[:0]
	addrs, sts, tms, cns, hds := r.upAddrs[:0], r.upStatuses[:0], r.upTimes[:0], r.upConnects[:0], r.upHeaders[:0]
	holds := r.connHolds[:0]
	upx := r.upx
	if upx != nil {
		upx.hasPending = false
	}
	*r = request{}
	r.upx = upx
	r.connHolds = holds
	r.head.Headers = hdrs
	r.uri = uri
	r.resp.Headers = rh
	r.upAddrs, r.upStatuses, r.upTimes, r.upConnects, r.upHeaders = addrs, sts, tms, cns, hds
}

// closeGracefully closes after a response: the write side is shut so the
// client sees the end of the response, then input is drained briefly so
// that unread request bytes do not turn the close into a reset.
func (cc *clientConn) closeGracefully() {
	if cc.r.up != nil {
		cc.r.up.closeConn()
		cc.r.up = nil
	}
	cc.tr.CloseWrite()
	if cc.tr.PeerClosed() {
		cc.close()
		return
	}
	cc.setState(connLinger)
	cc.c.SetTimer(5 * time.Second)
	cc.linger()
}

func (cc *clientConn) linger() {
	var buf [4096]byte
	for {
		n, err := cc.tr.Read(buf[:])
		if n > 0 {
			continue
		}
		if err != engine.ErrAgain {
			cc.close()
		}
		return
	}
}

// firstLine returns the request line: the first non-empty line, without
// its line ending.
func firstLine(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
