package proxy

import (
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/engine"
	"headroom/internal/logs"
	"headroom/internal/upstream"
)

// This file is headroom's answer to running out of connection slots, in
// the order that costs clients least: idle keep-alive clients are closed
// first, oldest first (nginx's "reusing connections", which never touches
// a client with a request in progress); then idle upstream keep-alive
// connections; a request that still finds no slot waits in a first-in
// first-out queue until one frees, and only a request that waited its full
// time is answered 503 with Retry-After. No request is failed with a
// reset, a 500 or a 502 for lack of a slot.

// idleEvictAfter is how long a keep-alive client must have been idle
// before its slot may be taken back. Closing a connection that its client
// is about to use again races with that client's next request, which then
// sees the connection close under it; after a second of silence that race
// is unlikely, and a client that keeps its connection busy is never cut.
const idleEvictAfter = time.Second

// idlePush records a client as idle (newest last).
func (w *worker) idlePush(cc *clientConn) {
	if cc.inIdle {
		return
	}
	cc.inIdle = true
	cc.idleSince = w.loop.Now()
	cc.idlePrev, cc.idleNext = w.idleTail, nil
	if w.idleTail != nil {
		w.idleTail.idleNext = cc
	} else {
		w.idleHead = cc
	}
	w.idleTail = cc
}

// idleRemove takes a client off the idle list.
func (w *worker) idleRemove(cc *clientConn) {
	if !cc.inIdle {
		return
	}
	cc.inIdle = false
	if cc.idlePrev != nil {
		cc.idlePrev.idleNext = cc.idleNext
	} else {
		w.idleHead = cc.idleNext
	}
	if cc.idleNext != nil {
		cc.idleNext.idlePrev = cc.idlePrev
	} else {
		w.idleTail = cc.idlePrev
	}
	cc.idlePrev, cc.idleNext = nil, nil
}

// reclaimSlots frees up to n slots by closing the oldest idle keep-alive
// clients, then idle upstream connections. It returns how many it freed.
func (w *worker) reclaimSlots(n int) int {
	freed := 0
	now := w.loop.Now()
	for freed < n && w.idleHead != nil && now.Sub(w.idleHead.idleSince) >= idleEvictAfter {
		cc := w.idleHead
		cc.close()
		freed++
		w.stats.IdleClientsClosed.Inc()
	}
	for freed < n {
		if !w.closeIdleUpstream() {
			break
		}
		freed++
		w.stats.IdleUpstreamsClosed.Inc()
	}
	if freed > 0 {
		w.warnf(logs.Warn, "%d worker_connections are not enough, reusing connections: %s", w.loop.Slots(), w.slotReport())
	}
	return freed
}

// closeIdleUpstream closes the oldest idle upstream connection of any
// group; it reports false when there is none.
func (w *worker) closeIdleUpstream() bool {
	for _, g := range w.groups {
		if len(g.idle) > 0 {
			g.closeIdle(g.idle[0])
			return true
		}
	}
	return false
}

// slotReport describes the worker's slots for capacity messages.
func (w *worker) slotReport() string {
	l := w.loop
	used := l.Slots() - l.Free()
	return strconv.Itoa(used) + " of " + strconv.Itoa(l.Slots()) + " slots in use (" +
		strconv.Itoa(l.InUse(engine.KindClient)) + " client, " + strconv.Itoa(l.InUse(engine.KindUpstream)) + " upstream, " + strconv.Itoa(l.InUse(engine.KindFile)) + " file), " +
		strconv.Itoa(w.queueLen()) + " requests queued; the open file limit allows worker_connections " + strconv.Itoa(w.srv.opts.AllowedSlots)
}

// enqueue parks a request that found no slot for its upstream connection.
// It waits at most proxy_connect_timeout, the time nginx would give the
// connection itself.
func (w *worker) enqueue(cc *clientConn) {
	cc.setPhase(phaseQueued)
	w.waiting = append(w.waiting, cc)
	w.stats.Queued.Inc()
	cc.r.queuedAt = w.loop.Now()
	cc.c.SetTimer(cc.r.lc.ProxyConnectTimeout)
	w.warnf(logs.Warn, "worker %d out of connection slots: %s", w.id, w.slotReport())
}

// dequeueRemove takes a client off the queue (its client went away or its
// time ran out).
func (w *worker) dequeueRemove(cc *clientConn) {
	for i, x := range w.waiting {
		if x == cc {
			copy(w.waiting[i:], w.waiting[i+1:])
			w.waiting[len(w.waiting)-1] = nil
			w.waiting = w.waiting[:len(w.waiting)-1]
			return
		}
	}
}

func (w *worker) queueLen() int { return len(w.waiting) }

// serveQueue hands free slots to queued requests in arrival order. It
// runs after each round of events, outside any connection's handler.
func (w *worker) serveQueue() {
	for len(w.waiting) > 0 && (w.loop.Free() > 0 || w.idleHead != nil) {
		if w.loop.Free() == 0 && w.reclaimSlots(1) == 0 {
			return
		}
		cc := w.waiting[0]
		copy(w.waiting, w.waiting[1:])
		w.waiting[len(w.waiting)-1] = nil
		w.waiting = w.waiting[:len(w.waiting)-1]
		cc.c.StopTimer()
		cc.setPhase(phaseProxy)
		w.stats.QueueWait.Observe(w.loop.Now().Sub(cc.r.queuedAt))
		cc.connectNext()
	}
}

// queueTimedOut answers a request that waited its full time: 503 with
// Retry-After, the last resort.
func (cc *clientConn) queueTimedOut() {
	w := cc.w
	w.dequeueRemove(cc)
	w.stats.Rejected.Inc()
	w.stats.QueueWait.Observe(w.loop.Now().Sub(cc.r.queuedAt))
	w.warnf(logs.Warn, "worker %d out of connection slots, request waited %v: %s", w.id, cc.r.lc.ProxyConnectTimeout, w.slotReport())
	cc.r.retryAfter = true
	cc.r.keepAlive = false
	cc.respondError(503)
}

// waitForServer handles a request whose usable servers are all at their
// max_conns: it waits in the group's queue, shared by all workers and
// served in arrival order, for up to the queue's timeout; when the group
// has no queue or its queue is full, the answer is 503 with Retry-After
// (nginx answers 502 "no live upstreams" here, nginx Plus 502 on a full
// queue).
func (cc *clientConn) waitForServer() {
	r := cc.r
	w := cc.w
	g := r.group
	u := g.Conf
	if u.Sync {
		// The places this instance leased are in use; the fleet may
		// have more.
		w.wantLease(g)
	}
	if u.Queue > 0 {
		w.waitSeq++
		seq := w.waitSeq
		cc.waitSeq = seq
		waiter := &upstream.Waiter{}
		waiter.Wake = func(server int) {
			if !w.loop.Post(func() { w.resumeWaiter(cc, seq, g, server) }) {
				// The waiter's worker has ended (after a reload): the
				// place goes on to the next waiter or back to the server.
				g.Shared.Release(server)
			}
		}
		if g.Shared.Enqueue(waiter) {
			// A place may have freed between the pick and the queueing,
			// with nobody in the queue to hand it to: look again.
			if g.HasRoom(w.loop.Now(), &r.tried) && g.Shared.Dequeue(waiter) {
				cc.connectNext()
				return
			}
			r.waiter = waiter
			cc.setPhase(phaseUpQueued)
			cc.c.SetTimer(u.QueueTimeout)
			w.stats.Queued.Inc()
			cc.r.queuedAt = w.loop.Now()
			w.warnf(logs.Warn, "upstream \"%s\": every server at max_conns, %d requests queued", u.Name, g.Shared.Queued())
			return
		}
		w.warnf(logs.Warn, "upstream \"%s\": every server at max_conns and the queue of %d is full", u.Name, u.Queue)
	} else {
		w.warnf(logs.Warn, "upstream \"%s\": every server at max_conns and no queue (add \"queue N timeout=T;\" to the upstream)", u.Name)
	}
	w.stats.Rejected.Inc()
	cc.upLogAppend("", 503)
	r.retryAfter = true
	cc.respondError(503)
}

// resumeWaiter runs on the waiter's worker when a server handed it a
// place. A request that has gone in the meantime passes the place on.
func (w *worker) resumeWaiter(cc *clientConn, seq uint64, g *upGroup, server int) {
	if !cc.inPhase(phaseUpQueued) || cc.waitSeq != seq || cc.r == nil {
		g.Shared.Release(server)
		return
	}
	cc.r.waiter = nil
	cc.c.StopTimer()
	cc.setPhase(phaseProxy)
	w.stats.QueueWait.Observe(w.loop.Now().Sub(cc.r.queuedAt))
	cc.usePeer(g.Peer(server))
}

// leaveServerQueue takes a waiting request out of its group's queue; if a
// place is already on its way, resumeWaiter passes it on.
func (cc *clientConn) leaveServerQueue() {
	if r := cc.r; r != nil && r.waiter != nil {
		r.group.Shared.Dequeue(r.waiter)
		r.waiter = nil
	}
}

// serverQueueTimedOut answers a request that waited the queue's whole
// timeout: 503 with Retry-After.
func (cc *clientConn) serverQueueTimedOut() {
	w := cc.w
	cc.leaveServerQueue()
	cc.setPhase(phaseProxy)
	w.stats.Rejected.Inc()
	w.stats.QueueWait.Observe(w.loop.Now().Sub(cc.r.queuedAt))
	w.warnf(logs.Warn, "upstream \"%s\": request waited %v in the queue for a server below max_conns", cc.r.group.Conf.Name, cc.r.group.Conf.QueueTimeout)
	cc.upLogAppend("", 503)
	cc.r.retryAfter = true
	cc.respondError(503)
}

// resourceRetry is how often a request that found no descriptor or no
// local port for its upstream connection tries again.
const resourceRetry = 100 * time.Millisecond

// outOfResources reports whether a failure to open an upstream connection
// means the process or the machine ran out of something that frees up
// with time (descriptors, ephemeral ports), not that the server failed.
func outOfResources(err error) bool {
	switch err {
	case unix.EMFILE, unix.ENFILE, unix.EADDRNOTAVAIL, unix.ENOBUFS, unix.ENOMEM:
		return true
	case unix.EAGAIN:
		// A unix domain socket's listen backlog is full: the server is
		// busy, and nothing was sent.
		return true
	}
	return false
}

// waitForResources holds a request whose upstream connection could not
// be opened for lack of a descriptor or a local port: it tries again
// every resourceRetry until proxy_connect_timeout has passed since its
// first try, and is then answered 503 with Retry-After. nginx answers
// 502 at once in both cases.
func (cc *clientConn) waitForResources(err error, addr string) {
	w := cc.w
	r := cc.r
	now := w.loop.Now()
	if err == unix.EAGAIN {
		w.warnf(logs.Warn, "connect() to %s failed (%s) while connecting to upstream \"%s\": its listen backlog is full; the request waits",
			addr, logs.SysError(err), r.group.Conf.Name)
	} else if err == unix.EADDRNOTAVAIL {
		w.warnf(logs.Alert, "connect() failed (%s) while connecting to upstream \"%s\": no local port is free for another connection to it; the request waits. Widen net.ipv4.ip_local_port_range, or keep upstream connections alive (keepalive in the upstream block)",
			logs.SysError(err), r.group.Conf.Name)
	} else {
		w.warnf(logs.Alert, "socket() failed (%s) while connecting to upstream; the request waits for a descriptor. The open file limit is %d for %d workers of %d slots: raise it (LimitNOFILE=, ulimit -n or worker_rlimit_nofile) or lower worker_connections",
			logs.SysError(err), w.srv.opts.Nofile, len(w.srv.workers), w.loop.Slots())
	}
	if r.resourceWaitFrom.IsZero() {
		r.resourceWaitFrom = now
		r.queuedAt = now
		w.stats.Queued.Inc()
	}
	if now.Sub(r.resourceWaitFrom) >= r.lc.ProxyConnectTimeout {
		w.stats.Rejected.Inc()
		w.stats.QueueWait.Observe(now.Sub(r.queuedAt))
		cc.upLogAppend("", 503)
		r.retryAfter = true
		cc.respondError(503)
		return
	}
	cc.setPhase(phaseRetry)
	cc.c.SetTimer(resourceRetry)
}

// retryResources tries a waiting request's upstream connection again.
func (cc *clientConn) retryResources() {
	cc.setPhase(phaseProxy)
	cc.connectNext()
}
