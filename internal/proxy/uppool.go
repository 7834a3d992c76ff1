package proxy

import (
	"time"

	"headroom/internal/observe"
	"headroom/internal/upstream"
)

// This file is a worker's view of an upstream group: its balancer's
// figures and its keep-alive pool of idle connections.

// upGroup is a worker's state for one upstream: its balancer and its
// keep-alive pool of idle connections, most recently used last.
type upGroup struct {
	*upstream.Group
	idle []*upConn
	// overfull is set while the pool holds more than keepalive
	// connections, until the round of events ends.
	overfull bool
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

// releasePeer ends a request's use of a server: its place goes to the
// oldest request waiting for the group, or back to the server.
func releasePeer(g *upGroup, p *upstream.Peer) {
	p.Active--
	g.Shared.Release(p.Server)
}

// takeIdle returns a pooled connection to the peer, most recent first.
func (g *upGroup) takeIdle(p *upstream.Peer, tls bool) *upConn {
	for i := len(g.idle) - 1; i >= 0; i-- {
		uc := g.idle[i]
		if uc.peer == p && uc.speaksTLS() == tls {
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

// closeAfterAnswer closes a connection whose answer is complete and
// which no other request will use. A plain socket is closed with a reset
// (SO_LINGER 0), as HAProxy closes its server connections, instead of the
// FIN handshake that nginx goes through: the upstream has answered
// whole, so it has nothing left to lose, and neither side keeps the
// connection in TIME_WAIT (the upstream's when it closed first, the
// proxy's local port when headroom did). Where connections are not
// kept (nginx's default HTTP/1.0 proxying) that is a fifth of the
// proxy's CPU per request, and 60 seconds of a local port per request
// where the upstream keeps connections open. TLS gets its close_notify
// and an orderly close.
func (uc *upConn) closeAfterAnswer() {
	if uc.tr != &uc.sock {
		uc.closeSocket()
		return
	}
	uc.c.Reset()
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
		uc.closeAfterAnswer()
		return
	}
	g.idle = append(g.idle, uc)
	uc.c.SetTimer(u.KeepaliveTimeout)
	if len(g.idle) > u.Keepalive && !g.overfull {
		// The pool keeps the most recently used connections, but the
		// oldest beyond keepalive are closed only once this round of
		// events is over (worker.trimPools): a request that arrives in
		// the same round takes one of them instead of connecting anew,
		// so that a load of more requests in flight than keepalive
		// does not close and open a connection for most of them. A
		// connection stays idle beyond the limit for less than a round.
		g.overfull = true
		uc.w.overfull = append(uc.w.overfull, g)
	}
}

// trimPools closes the oldest idle connections of the groups whose pool
// went beyond keepalive during the round of events.
func (w *worker) trimPools() {
	for _, g := range w.overfull {
		for len(g.idle) > g.Conf.Keepalive {
			g.closeIdle(g.idle[0])
		}
		g.overfull = false
	}
	clear(w.overfull)
	w.overfull = w.overfull[:0]
}
