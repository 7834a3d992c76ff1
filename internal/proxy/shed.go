package proxy

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/engine"
	"headroom/internal/logs"
)

// Slow clients under pressure. A worker lets clients hold at most its
// client budget; beyond it, new clients wait in the listen backlog. Slow
// clients that stay inside every timeout (a header line every few
// seconds, a body or a reading of the answer at a few bytes a second)
// could then keep ordinary clients out for as long as they like. So while
// clients wait in the backlog, the worker takes slots back from those
// that make the least progress, worst first, as many as are waiting:
//
//  1. clients that have sent no complete request head: idle keep-alive
//     clients and clients whose head has been arriving, each for at
//     least headGrace, and TLS clients in their handshake or waited on
//     for their first request for at least handshakeGrace, the longest
//     first (a head normally arrives in one round trip);
//  2. clients sending a request body slower than client_body_min_rate
//     once its grace has passed since the request began, slowest first;
//  3. clients reading their response slower than send_min_rate once its
//     grace has passed since writes to them started to wait, slowest
//     first.
//
// A client with a request that makes progress is never touched, and
// without clients waiting nobody is cut off for being slow.

// headGrace is how long a client may spend on a request head, or stay
// idle, before it can lose its slot under pressure.
const headGrace = 250 * time.Millisecond

// handshakeGrace is how long a TLS client may spend on its handshake
// before it can lose its slot under pressure. A handshake takes two
// round trips and a signature on each side, and under the load that
// makes the pressure the server's share waits its turn on a busy core
// and the client's on the client's: cutting such handshakes at
// headGrace threw away the CPU already spent on them and sent their
// clients back to start another. The request head's own grace starts
// when the handshake ends.
const handshakeGrace = time.Second

// shedEvery bounds how often a worker under pressure looks for slots to
// take back; each look walks its client slots.
const shedEvery = 100 * time.Millisecond

// shedMax bounds the clients closed in one look, so that a long backlog
// does not make one round of events long.
const shedMax = 256

// shedKind is the reason a client loses its slot.
type shedKind uint8

const (
	shedHead shedKind = iota
	shedBody
	shedReader
)

// shedCandidate is a client that may lose its slot; lower score goes
// first within a kind.
type shedCandidate struct {
	cc *clientConn
	// hc is set instead of cc for an idle HTTP/2 connection.
	hc    *h2Conn
	kind  shedKind
	score float64
}

// maybeShed takes slots back from slow clients while clients wait in the
// backlog, at most every shedEvery.
func (w *worker) maybeShed() {
	if !w.loop.Paused() || w.draining {
		w.slowLeft = 0
		return
	}
	// While accept is paused, clients that arrive wait in the backlog
	// without an event, and slow clients send little: the loop may have
	// nothing to wake it for a while, so it looks again every shedEvery.
	now := w.loop.Now()
	if now.Sub(w.shedAt) < shedEvery {
		w.loop.WakeBy(w.shedAt.Add(shedEvery))
		return
	}
	w.shedAt = now
	w.slowLeft = 0
	w.loop.WakeBy(now.Add(shedEvery))
	waiting := w.backlogLen()
	if waiting == 0 {
		return
	}
	// The listening sockets are shared by the workers: each takes its
	// share of the waiting clients.
	n := min((waiting+len(w.srv.workers)-1)/len(w.srv.workers), shedMax)
	w.shed(n, now)
}

// backlogLen is how many connections wait in this worker's listen
// backlogs.
func (w *worker) backlogLen() int {
	n := 0
	for _, fd := range w.listenFds {
		if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n += int(info.Unacked)
		}
	}
	return n
}

// shed closes up to n clients, worst first (see the top of this file).
func (w *worker) shed(n int, now time.Time) {
	cands := w.shedCands[:0]
	waitingOn := 0
	w.loop.Each(engine.KindClient, func(c *engine.Conn) {
		if hc, ok := c.Data.(*h2Conn); ok {
			// An HTTP/2 connection without a stream in progress waits
			// for its client as an idle keep-alive one does.
			if hc.idle() {
				waitingOn++
				if idle := now.Sub(hc.idleSince); idle >= headGrace {
					cands = append(cands, shedCandidate{hc: hc, kind: shedHead, score: -idle.Seconds()})
				}
			}
			return
		}
		cc, ok := c.Data.(*clientConn)
		if !ok {
			return
		}
		if cc.waitingOnClient() {
			waitingOn++
		}
		if k, score, ok := cc.shedScore(now); ok {
			cands = append(cands, shedCandidate{cc: cc, kind: k, score: score})
		}
	})
	slices.SortFunc(cands, func(a, b shedCandidate) int {
		if a.kind != b.kind {
			return int(a.kind) - int(b.kind)
		}
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return 0
	})
	var closed [3]int
	for _, cand := range cands[:min(n, len(cands))] {
		if cand.hc != nil {
			cand.hc.shedClose()
			closed[cand.kind]++
			continue
		}
		cand.cc.shedClose(cand.kind)
		closed[cand.kind]++
	}
	w.slowLeft = waitingOn
	clear(cands)
	w.shedCands = cands[:0]
	st := w.stats
	st.SlowHeadsClosed.Add(uint64(closed[shedHead]))
	st.SlowBodiesClosed.Add(uint64(closed[shedBody]))
	st.SlowReadersClosed.Add(uint64(closed[shedReader]))
	if closed[shedHead] > 0 {
		w.warnf(logs.Warn, "worker %d closed %d connections that had sent no complete request head for %v, to let waiting clients in: %s",
			w.id, closed[shedHead], headGrace, w.slotReport())
	}
	if closed[shedBody] > 0 {
		w.warnf(logs.Warn, "worker %d closed %d connections sending their request body slower than client_body_min_rate, to let waiting clients in: %s",
			w.id, closed[shedBody], w.slotReport())
	}
	if closed[shedReader] > 0 {
		w.warnf(logs.Warn, "worker %d closed %d connections reading their response slower than send_min_rate, to let waiting clients in: %s",
			w.id, closed[shedReader], w.slotReport())
	}
}

// waitingOnClient reports whether the connection waits for its client:
// for a head, a body or the reading of its response. Such a client may be
// slow, and loses its slot once its grace has passed; while there are
// some, clients that make progress keep their connections.
func (cc *clientConn) waitingOnClient() bool {
	switch {
	case cc.state == connIdle || cc.state == connHead:
		return true
	case cc.inPhase(phaseProxy):
		r := cc.r
		return !r.bodyDone && !r.respHead || r.respHead && !r.sendWaitFrom.IsZero()
	case cc.inPhase(phaseFile):
		return !cc.r.sendWaitFrom.IsZero()
	}
	return false
}

// shedScore says whether the client may lose its slot under pressure,
// why, and how bad it is (lower is worse).
func (cc *clientConn) shedScore(now time.Time) (shedKind, float64, bool) {
	r := cc.r
	switch cc.state {
	case connIdle:
		grace := headGrace
		if cc.handshaking() || cc.requests == 0 && cc.tlsOpen() {
			// A TLS client's handshake, and its first request after
			// it, which costly work already went into.
			grace = handshakeGrace
		}
		if cc.inIdle && now.Sub(cc.idleSince) >= grace {
			return shedHead, -now.Sub(cc.idleSince).Seconds(), true
		}
	case connHead:
		if r != nil && now.Sub(r.start) >= headGrace {
			return shedHead, -now.Sub(r.start).Seconds(), true
		}
	case connRequest:
		if r.phase != phaseProxy && r.phase != phaseFile {
			break
		}
		lc := r.lc
		switch {
		case r.phase == phaseFile:
			if !r.sendWaitFrom.IsZero() {
				if rate, ok := slowRate(r.bytesSent-r.sendWaitBase, now.Sub(r.sendWaitFrom), lc.SendMinRate, lc.SendMinRateGrace); ok {
					return shedReader, rate, true
				}
			}
		case !r.bodyDone && !r.respHead:
			if rate, ok := slowRate(r.bodyRead, now.Sub(r.start), lc.ClientBodyMinRate, lc.ClientBodyMinRateGrace); ok {
				return shedBody, rate, true
			}
		case r.respHead && !r.sendWaitFrom.IsZero():
			// Writes wait for the client to read: its rate is what it
			// took since it first fell behind.
			if rate, ok := slowRate(r.bytesSent-r.sendWaitBase, now.Sub(r.sendWaitFrom), lc.SendMinRate, lc.SendMinRateGrace); ok {
				return shedReader, rate, true
			}
		}
	}
	return 0, 0, false
}

// slowRate reports the rate of n bytes over d when it is below min bytes
// a second and the grace has passed.
func slowRate(n int64, d time.Duration, min int, grace time.Duration) (float64, bool) {
	if min <= 0 || d < grace || d <= 0 {
		return 0, false
	}
	rate := float64(n) / d.Seconds()
	return rate, rate < float64(min)
}

// shedClose closes a client chosen by shed, logging its request as
// nginx logs one cut off by a timeout.
func (cc *clientConn) shedClose(kind shedKind) {
	// Cut off as if by a timeout: reset_timedout_connection applies.
	cc.timedOut = true
	switch kind {
	case shedHead:
		if cc.state == connHead {
			cc.r.status = 408
			cc.logRequest()
		}
		cc.close()
	case shedBody:
		cc.logAt(logs.Info, "client sent its request body too slowly while clients waited for a slot")
		cc.r.status = 408
		cc.abort()
	case shedReader:
		cc.logAt(logs.Info, "client read its response too slowly while clients waited for a slot")
		cc.abort()
	}
}
