package upstream

import (
	"sync"
	"sync/atomic"

	"headroom/internal/conf"
)

// Shared is the state of one upstream group that all workers see: how
// many connections each server has (so that max_conns holds across
// workers, as nginx gives it only with a shared zone) and the queue of
// requests waiting for a server to drop below its max_conns. It is touched
// only for servers with max_conns, so groups without limits pay nothing.
type Shared struct {
	conf *conf.Upstream
	// active counts connections per server, in conf.Servers order.
	active []atomic.Int32

	mu      sync.Mutex
	waiters []*Waiter

	// ring is the consistent hash ring of ringFor, read-only once built,
	// so that workers share one ring as nginx's workers share the one its
	// master built. The configuration it was built for is kept with it
	// because a reload may keep this state for a configuration whose
	// servers are written or weighted differently.
	ringMu  sync.Mutex
	ringFor *conf.Upstream
	ring    []chashPoint
}

// chashRing returns the consistent hash ring for u, building it the first
// time a worker needs it.
func (s *Shared) chashRing(u *conf.Upstream, build func() []chashPoint) []chashPoint {
	s.ringMu.Lock()
	defer s.ringMu.Unlock()
	if s.ringFor != u {
		s.ring, s.ringFor = build(), u
	}
	return s.ring
}

// Waiter is a request waiting in a group's queue. When a server frees a
// connection it hands that connection's place straight to the oldest
// waiter (so arrival order holds even against requests arriving on other
// workers) by calling Wake with the server; Wake must pass the place on
// (Acquired) or give it back (Release).
type Waiter struct {
	// Wake runs on the releasing worker's thread; it must only hand the
	// work to the waiter's own worker.
	Wake func(server int)
	// queued is set while the waiter is in the queue.
	queued bool
}

// NewShared makes the shared state of a group.
func NewShared(u *conf.Upstream) *Shared {
	return &Shared{conf: u, active: make([]atomic.Int32, len(u.Servers))}
}

// TryAcquire takes a connection place at server i if it is below its
// max_conns; servers without max_conns always succeed.
func (s *Shared) TryAcquire(i int) bool {
	max := int32(s.conf.Servers[i].MaxConns)
	if max == 0 {
		return true
	}
	for {
		v := s.active[i].Load()
		if v >= max {
			return false
		}
		if s.active[i].CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// Full reports whether server i is at its max_conns.
func (s *Shared) Full(i int) bool {
	max := int32(s.conf.Servers[i].MaxConns)
	return max > 0 && s.active[i].Load() >= max
}

// Active returns the connections server i has across workers (counted
// only for servers with max_conns).
func (s *Shared) Active(i int) int { return int(s.active[i].Load()) }

// Release gives back a place at server i: to the oldest waiter if there is
// one, else to the server's count.
func (s *Shared) Release(i int) {
	if s.conf.Servers[i].MaxConns == 0 {
		return
	}
	s.mu.Lock()
	if len(s.waiters) > 0 {
		w := s.waiters[0]
		copy(s.waiters, s.waiters[1:])
		s.waiters[len(s.waiters)-1] = nil
		s.waiters = s.waiters[:len(s.waiters)-1]
		w.queued = false
		s.mu.Unlock()
		w.Wake(i)
		return
	}
	s.mu.Unlock()
	s.active[i].Add(-1)
}

// Enqueue adds a waiter unless the queue holds its configured number
// already; it reports whether the waiter was queued.
func (s *Shared) Enqueue(w *Waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiters) >= s.conf.Queue {
		return false
	}
	// A place may have been freed between the caller's failed attempt and
	// now; the caller tries again when Enqueue's result says so, so a
	// free place is never left unused while a request waits.
	w.queued = true
	s.waiters = append(s.waiters, w)
	return true
}

// Dequeue removes a waiter that gave up (its client left or its time ran
// out). It reports false when the waiter had already been woken, in which
// case a place is on its way to it and must be released by its owner.
func (s *Shared) Dequeue(w *Waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !w.queued {
		return false
	}
	for i, x := range s.waiters {
		if x == w {
			copy(s.waiters[i:], s.waiters[i+1:])
			s.waiters[len(s.waiters)-1] = nil
			s.waiters = s.waiters[:len(s.waiters)-1]
			break
		}
	}
	w.queued = false
	return true
}

// Queued returns the number of waiting requests.
func (s *Shared) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}
