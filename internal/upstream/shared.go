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
	// allowance, in a group whose max_conns the fleet shares (zone ...
	// sync), is how many connections this instance may have to each
	// server: the places it leased from the zone_sync store, or what its
	// fallback allows. Otherwise max_conns is the limit and allowance
	// is unused. leaseWanted is set while a request for more places is
	// on its way.
	synced      bool
	allowance   []atomic.Int32
	leaseWanted atomic.Bool

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
	s := &Shared{conf: u, active: make([]atomic.Int32, len(u.Servers)), synced: u.Sync}
	if u.Sync {
		// Until the store or the fallback says otherwise, as if alone.
		s.allowance = make([]atomic.Int32, len(u.Servers))
		for i, sc := range u.Servers {
			s.allowance[i].Store(int32(sc.MaxConns))
		}
	}
	return s
}

// limit is how many connections server i may have from this instance,
// for a server with max_conns (for one without, 0: no limit).
func (s *Shared) limit(i int) int32 {
	max := int32(s.conf.Servers[i].MaxConns)
	if max > 0 && s.synced {
		return min(s.allowance[i].Load(), max)
	}
	return max
}

// Allowance returns how many connections this instance may have to
// server i (max_conns for a group the fleet does not share).
func (s *Shared) Allowance(i int) int { return int(s.limit(i)) }

// SetAllowance sets how many connections this instance may have to
// server i, in a synced group, and hands places that it opens to the
// requests waiting in the queue, oldest first.
func (s *Shared) SetAllowance(i, n int) {
	if !s.synced || s.conf.Servers[i].MaxConns == 0 {
		return
	}
	s.allowance[i].Store(int32(n))
	for {
		s.mu.Lock()
		v := s.active[i].Load()
		if len(s.waiters) == 0 || v >= s.limit(i) {
			s.mu.Unlock()
			return
		}
		if !s.active[i].CompareAndSwap(v, v+1) {
			s.mu.Unlock()
			continue
		}
		w := s.popWaiter()
		s.mu.Unlock()
		w.Wake(i)
	}
}

// WantLease marks that the group needs more places than it has leased;
// it reports true to the one caller that should ask for them, until
// LeaseAsked.
func (s *Shared) WantLease() bool { return s.synced && s.leaseWanted.CompareAndSwap(false, true) }

// LeaseAsked clears the mark WantLease set, once the request is made.
func (s *Shared) LeaseAsked() { s.leaseWanted.Store(false) }

// TryAcquire takes a connection place at server i if it is below its
// max_conns (in a synced group, its allowance); servers without max_conns
// always succeed.
func (s *Shared) TryAcquire(i int) bool {
	max := s.limit(i)
	if s.conf.Servers[i].MaxConns == 0 {
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

// Full reports whether server i is at its max_conns (or allowance).
func (s *Shared) Full(i int) bool {
	return s.conf.Servers[i].MaxConns > 0 && s.active[i].Load() >= s.limit(i)
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
	// A place beyond a shrunk allowance is not handed on.
	if len(s.waiters) > 0 && s.active[i].Load() <= s.limit(i) {
		w := s.popWaiter()
		s.mu.Unlock()
		w.Wake(i)
		return
	}
	s.mu.Unlock()
	s.active[i].Add(-1)
}

// popWaiter takes the oldest waiter out of the queue; s.mu is held.
func (s *Shared) popWaiter() *Waiter {
	w := s.waiters[0]
	copy(s.waiters, s.waiters[1:])
	s.waiters[len(s.waiters)-1] = nil
	s.waiters = s.waiters[:len(s.waiters)-1]
	w.queued = false
	return w
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
