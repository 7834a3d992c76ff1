package proxy

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

// This file is the HTTP/1 connection: its buffers, its states between and
// around requests (idle, reading a head, carrying a request, tunnel,
// lingering close, discarding a body), keep-alive and pipelining. It reads
// and writes through its transport and hands a request in progress the
// events of its phase (request.go); it knows nothing of upstreams.

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
	// local is the address the client connected to where its listener
	// is a wildcard address: found when the listener's socket serves
	// several addresses, else on first need ($server_addr).
	local netip.AddrPort
	id    uint64
	// requests counts requests on this connection ($connection_requests);
	// accepted is when it was accepted ($connection_time).
	requests int
	accepted time.Time
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
	// pipelined is set while the next request's head came with the one
	// before it ($pipe).
	pipelined bool
	// nagle is set once a request in a location with "tcp_nodelay off"
	// took TCP_NODELAY (which the socket has from its listener) away.
	nagle bool
	// timedOut is set when the connection ends because it timed out
	// reading the request or sending the answer, or by a 444: with
	// reset_timedout_connection it then closes with a reset.
	timedOut bool
	// pp is what the connection's PROXY protocol header said, for a
	// listener with proxy_protocol whose header named addresses; nil
	// otherwise (proxyproto.go).
	pp *proxyHeader
	// h2 is the HTTP/2 stream this connection's request came on; nil
	// for an HTTP/1 connection (h2stream.go).
	h2 *h2Stream
	// sub is the subrequest this connection's request is; nil for a
	// client's own (subrequest.go).
	sub *subrequest
}

// newClient takes an accepted socket into a slot, over the socket
// transport. A client of a unix socket has the zero address, which the
// variables and the error log write as "unix:". A TCP client's socket has
// TCP_NODELAY from its listener (see listenSocket).
//
// A connection from a listener with TCP_DEFER_ACCEPT (deferred) has its
// first bytes in already: it is read at once, as nginx does, and
// registered with epoll only after that read, so that the registration
// queues no event for bytes already taken.
func (w *worker) newClient(fd int, remote, local netip.AddrPort, ln *listener, deferred bool) {
	cc := w.getClient()
	var c *engine.Conn
	var err error
	if deferred {
		c, err = w.loop.AddReadable(fd, engine.KindClient, cc)
	} else {
		c, err = w.loop.Add(fd, engine.KindClient, cc)
	}
	if err != nil {
		engine.Close(fd)
		w.putClient(cc)
		return
	}
	cc.sock.c = c
	var tr transport = &cc.sock
	if ln.tls != nil {
		t := w.getTLS()
		t.start(&cc.sock, ln.tls)
		tr = t
	}
	w.startClient(cc, c, tr, ln, remote)
	cc.local = local
	if !deferred {
		return
	}
	gen := c.Gen()
	c.OnRead(c)
	if c.Gen() == gen {
		if err := c.Register(); err != nil {
			w.warnf(logs.Alert, "epoll_ctl(ADD) of a new client failed (%s)", logs.SysError(err))
			cc.close()
		}
	}
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
	cc.accepted = w.loop.Now()
	cc.state = connClosed
	cc.pp = nil
	cc.nagle = false
	cc.timedOut = false
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
	if ln.proxyProtocol {
		cc.startProxyHeader()
	}
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
	if t, ok := cc.tr.(*tlsTransport); ok {
		w.putTLS(t)
	}
	cc.c = nil
	cc.tr = nil
	cc.sock.c = nil
	cc.pp = nil
	cc.h2 = nil
	cc.sub = nil
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
	if done, err := cc.tr.Flush(); !done {
		if err != nil {
			cc.clientGone()
		}
		return
	}
	if cc.r != nil && cc.r.rateDelayed {
		// Writable, but limit_rate holds the response until its timer.
		return
	}
	if cc.outOff < len(cc.out) && (cc.r == nil || cc.r.body == nil || !cc.r.body.holdsHead()) {
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
	if st := cc.h2; st != nil {
		// A stream its request ends on a timeout is reset with
		// PROTOCOL_ERROR, as nginx resets it (INTERNAL_ERROR otherwise).
		st.timedOut = true
		defer func() { st.timedOut = false }()
	}
	switch cc.state {
	case connHead:
		// nginx answers 408 to a slow head but does not send it; it
		// closes and logs 408.
		cc.r.status = 408
		cc.noteRequestLine()
		cc.abortTimedOut()
	case connRequest:
		cc.requestTimer()
	case connDiscard:
		// The rest of a discarded body did not come in
		// client_body_timeout.
		cc.timedOut = true
		cc.close()
	default:
		// keepalive_timeout or the end of a lingering close: a normal
		// close, as in nginx.
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
		hs := cc.handshaking()
		n, err := cc.tr.Read(cc.in[cc.inLen:])
		if hs && !cc.handshaking() && cc.state == connIdle {
			// The handshake ended: the wait for the request head
			// starts now, as a kept-alive connection's does.
			w.idleRemove(cc)
			w.idlePush(cc)
		}
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
			if cc.requests == 0 && cc.ln.http2 && cc.h2 == nil {
				switch cc.h2Start() {
				case h2Yes:
					cc.startH2()
					return
				case h2Maybe:
					// A part of the preface: no HTTP/1 head yet.
					cc.scanned = cc.inLen - cc.inPos
				case h2Bad:
					cc.logConn(logs.Info, "client sent invalid http2 connection preface")
					cc.close()
					return
				}
			}
			continue
		}
		if err == engine.ErrAgain {
			continue
		}
		// EOF or error: a client that closes between requests is normal.
		var he *handshakeError
		if errors.As(err, &he) {
			cc.logConn(logs.Info, he.Error()+" while SSL handshaking")
		}
		if cc.state == connHead && cc.inLen > cc.inPos {
			cc.r.status = 400
			cc.noteRequestLine()
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
	lim := &cc.ln.limits
	if cc.h2 != nil {
		lim = &cc.ln.h2limits
	}
	n, err := http1.ParseRequest(cc.in[cc.inPos:cc.inLen], &r.head, lim)
	if err == http1.ErrNeedMore {
		return false
	}
	if cc.state == connIdle {
		cc.w.idleRemove(cc)
		cc.setState(connHead)
		r.start = cc.w.loop.Now()
	}
	r.line = firstLine(cc.in[cc.inPos:cc.inLen])
	if cc.h2 != nil && err == nil {
		// The head was written as HTTP/1.1 from the stream's fields;
		// $request names the protocol the client spoke, as nginx's does.
		copy(r.line[len(r.line)-3:], "2.0")
	}
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

// badHead answers a request whose head cannot be served with status,
// as tryHead answers one the parser refused (an HTTP/2 stream's head
// that nginx refuses before any parsing).
func (cc *clientConn) badHead(status int) {
	cc.attach()
	r := cc.r
	cc.setState(connHead)
	r.start = cc.w.loop.Now()
	r.line = nil
	r.srv = cc.ln.vhosts.def
	r.lc = r.srv.Loc
	r.keepAlive = false
	cc.respondError(status)
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
	if cc.inPhase(phaseResolve) {
		cc.leaveResolve()
	}
	if cc.inPhase(phaseSync) {
		cc.leaveSync()
	}
	if cc.inPhase(phaseAuth) {
		cc.leaveAuth()
	}
	if s := cc.sub; s != nil && s.auth && cc.r != nil {
		s.captureAuth(cc)
	}
	if cc.r != nil {
		if cc.r.tempWait {
			cc.leaveTempWait()
		}
		cc.releaseLimits()
		if cc.r.up != nil {
			cc.r.up.closeConn()
			cc.r.up = nil
		}
	}
	cc.releaseBuffers()
	cc.detach()
	cc.tr.Close()
	if cc.timedOut && cc.h2 == nil && cc.sub == nil && cc.resetTimedout() {
		cc.c.Reset()
	} else {
		cc.c.Close()
	}
	cc.setState(connClosed)
	w.putClient(cc)
}

// resetTimedout reports reset_timedout_connection of the request's
// location, or of the default server before a request chose one, as
// nginx reads it when it frees the request.
func (cc *clientConn) resetTimedout() bool {
	if r := cc.r; r != nil && r.lc != nil {
		return r.lc.ResetTimedout
	}
	return cc.ln.vhosts.def.Loc.ResetTimedout
}

// abortTimedOut ends a connection that timed out reading the request or
// sending the answer: logged, then closed (with a reset under
// reset_timedout_connection).
func (cc *clientConn) abortTimedOut() {
	cc.timedOut = true
	cc.abort()
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
//
// When out holds the end of an answer after which the connection closes,
// its bytes are written with MSG_MORE: the kernel keeps the last packet
// back, and the close (or the shutdown before a lingering close) adds the
// FIN to it, so that the answer's end and the FIN leave in one segment
// instead of two, and the client acknowledges both at once. On loopback
// and behind a load balancer this is one packet less to send and one
// less to receive per connection; nginx sends them apart.
func (cc *clientConn) flush() bool {
	if cc.sock.more || !cc.outEndsBeforeClose() {
		return cc.writeOut()
	}
	cc.sock.more = true
	done := cc.writeOut()
	cc.sock.more = false
	return done
}

// outEndsBeforeClose reports whether out holds the last bytes of the
// answer and the connection closes as soon as they are written, with
// nothing in between that could wait: a plain socket (TLS ends with its
// close_notify alert), no limit_rate pause, no post_action to run.
func (cc *clientConn) outEndsBeforeClose() bool {
	r := cc.r
	if r.keepAlive || cc.h2 != nil || cc.tr != &cc.sock || r.limitRate > 0 || r.lc != nil && r.lc.PostAction != "" {
		return false
	}
	switch r.phase {
	case phaseRespond:
		return r.finishing
	case phaseProxy:
		return r.respDone && r.spool.empty()
	case phaseFile:
		// A file read through out (sendfile off, or filtered), with no
		// multipart boundary or trailer still to come.
		return r.respDone || r.body == nil && r.file.multi == nil && !r.trailers && r.file.open() && r.file.off >= r.file.end
	}
	return false
}

// writeOut writes pending output; it returns true when all of it is
// written.
func (cc *clientConn) writeOut() bool {
	if cc.r.cache.orphan {
		// The client is gone; the answer is read on into the cache.
		cc.out, cc.outOff = cc.out[:0], 0
		return true
	}
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
				if cc.outOff == len(cc.out) {
					// All written: the buffer is free for what comes
					// after the pause.
					cc.out, cc.outOff = cc.out[:0], 0
				}
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
			cc.parkGzip()
			return false
		}
		// The client is gone.
		if cc.storeWithoutClient() {
			cc.out, cc.outOff = cc.out[:0], 0
			return true
		}
		if cc.r.status == 0 {
			cc.r.status = 499
		}
		cc.abort()
		return false
	}
	cc.out = cc.out[:0]
	cc.outOff = 0
	cc.r.sendWaitFrom = time.Time{}
	if cc.inPhase(phaseProxy) && cc.r.bodyDone || cc.inPhase(phaseFile) {
		// send_timeout covers a blocked write only.
		cc.c.StopTimer()
	}
	return true
}

// parkGzip gives the answer's compressor back to the worker while the
// client's socket is full (gzipState.park). The short pauses of
// limit_rate keep it: parking after each would cut the history every few
// kilobytes and cost the ratio.
func (cc *clientConn) parkGzip() {
	if g := cc.r.gz; g != nil {
		g.park()
	}
}

// clientGone ends the connection of a client that can no longer be
// written to, logging a request in progress as nginx does (499 unless
// it had a status).
func (cc *clientConn) clientGone() {
	if cc.r != nil && (cc.r.cache.orphan || cc.storeWithoutClient()) {
		return
	}
	if (cc.state == connRequest || cc.state == connTunnel) && cc.r != nil {
		if cc.r.status == 0 {
			cc.r.status = 499
		}
		cc.abort()
		return
	}
	cc.close()
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
		cc.pipelined = true
		cc.readHead()
		return
	}
	cc.pipelined = false
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

// closeGracefully closes after a response: the write side is shut so the
// client sees the end of the response, then input is drained briefly so
// that unread request bytes do not turn the close into a reset. A
// stream's request ends with its stream.
func (cc *clientConn) closeGracefully() {
	if cc.r.up != nil {
		cc.r.up.closeConn()
		cc.r.up = nil
	}
	if cc.h2 != nil || cc.sub != nil {
		cc.tr.CloseWrite()
		cc.close()
		return
	}
	lc := cc.r.lc
	if lc == nil {
		lc = cc.ln.vhosts.def.Loc
	}
	// As nginx, a plain connection lingers only where the client may
	// still be sending: a body not read to its end, bytes read and not
	// used, or bytes waiting to be read. Otherwise nothing can arrive
	// that would make the kernel reset the connection under the answer,
	// and closing at once spares a shutdown and a read. Over TLS the
	// close_notify alert goes first, and may have to wait for room.
	mayBeSending := !cc.r.bodyDone || cc.inPos < cc.inLen || cc.tr.Readable()
	if cc.tr == &cc.sock && (cc.tr.PeerClosed() || lc.LingeringClose == conf.LingerOff ||
		lc.LingeringClose == conf.LingerOn && !mayBeSending) {
		cc.close()
		return
	}
	cc.tr.CloseWrite()
	if cc.tr.PeerClosed() || lc.LingeringClose == conf.LingerOff {
		cc.close()
		return
	}
	cc.setState(connLinger)
	// lingering_time bounds the whole; lingering_timeout each wait.
	cc.r.lingerEnd = cc.w.loop.Now().Add(lc.LingeringTime)
	cc.r.lingerWait = lc.LingeringTimeout
	cc.c.SetTimer(min(lc.LingeringTimeout, lc.LingeringTime))
	cc.linger()
}

func (cc *clientConn) linger() {
	var buf [4096]byte
	read := false
	for {
		n, err := cc.tr.Read(buf[:])
		if n > 0 {
			read = true
			continue
		}
		if err != engine.ErrAgain {
			cc.close()
			return
		}
		if read && cc.r != nil {
			// Bytes came: the next wait gets lingering_timeout again,
			// within lingering_time.
			if left := cc.r.lingerEnd.Sub(cc.w.loop.Now()); left > 0 {
				cc.c.SetTimer(min(cc.r.lingerWait, left))
			} else {
				cc.close()
			}
		}
		return
	}
}

// noteRequestLine keeps the request line of a head that did not come
// whole, once the line itself is in, so that the log names it as nginx's
// does.
func (cc *clientConn) noteRequestLine() {
	buf := cc.in[cc.inPos:cc.inLen]
	for len(buf) > 0 && (buf[0] == '\r' || buf[0] == '\n') {
		buf = buf[1:]
	}
	if bytes.IndexByte(buf, '\n') >= 0 {
		cc.r.line = firstLine(buf)
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
