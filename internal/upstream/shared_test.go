package upstream

import (
	"sync"
	"sync/atomic"
	"testing"

	"headroom/internal/conf"
)

func TestSharedMaxConnsAcrossGoroutines(t *testing.T) {
	u := &conf.Upstream{Servers: []*conf.UpstreamServer{{MaxConns: 3}}}
	s := NewShared(u)
	var inside, peak atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if !s.TryAcquire(0) {
					continue
				}
				n := inside.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				inside.Add(-1)
				s.Release(0)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 3 {
		t.Fatalf("%d holders at once with max_conns=3", p)
	}
	if a := s.Active(0); a != 0 {
		t.Fatalf("count %d after every place was given back", a)
	}
}

func TestSharedQueueHandsPlacesInArrivalOrder(t *testing.T) {
	u := &conf.Upstream{Queue: 2, Servers: []*conf.UpstreamServer{{MaxConns: 1}}}
	s := NewShared(u)
	if !s.TryAcquire(0) || s.TryAcquire(0) {
		t.Fatal("max_conns=1 not held")
	}
	var woken []string
	waiter := func(name string) *Waiter {
		return &Waiter{Wake: func(server int) { woken = append(woken, name) }}
	}
	a, b, c := waiter("a"), waiter("b"), waiter("c")
	if !s.Enqueue(a) || !s.Enqueue(b) {
		t.Fatal("queue of 2 refused a waiter")
	}
	if s.Enqueue(c) {
		t.Fatal("queue of 2 took a third waiter")
	}
	s.Release(0)
	s.Release(0)
	if len(woken) != 2 || woken[0] != "a" || woken[1] != "b" {
		t.Fatalf("woken %v, want [a b]", woken)
	}
	// The place passed to each waiter stays counted until it is released.
	if s.Active(0) != 1 {
		t.Fatalf("count %d while a woken waiter holds the place", s.Active(0))
	}
}

func TestSharedDequeueAfterWake(t *testing.T) {
	u := &conf.Upstream{Queue: 1, Servers: []*conf.UpstreamServer{{MaxConns: 1}}}
	s := NewShared(u)
	s.TryAcquire(0)
	w := &Waiter{Wake: func(int) {}}
	s.Enqueue(w)
	s.Release(0)
	if s.Dequeue(w) {
		t.Fatal("Dequeue of a woken waiter reported it was still queued")
	}
	w2 := &Waiter{Wake: func(int) {}}
	s.Enqueue(w2)
	if !s.Dequeue(w2) || s.Queued() != 0 {
		t.Fatal("a waiting waiter was not removed")
	}
}

// TestSharedAllowance checks a synced group's places: the allowance, not
// max_conns, bounds the connections; raising it hands the new places to
// the queue, oldest first; a place released beyond a shrunk allowance is
// not handed on; and the allowance never exceeds max_conns.
func TestSharedAllowance(t *testing.T) {
	u := &conf.Upstream{Sync: true, Queue: 10, Servers: []*conf.UpstreamServer{{MaxConns: 5}}}
	s := NewShared(u)
	s.SetAllowance(0, 2)
	if !s.TryAcquire(0) || !s.TryAcquire(0) || s.TryAcquire(0) {
		t.Fatalf("with an allowance of 2 of max_conns 5, the third acquire must fail")
	}
	if !s.Full(0) {
		t.Errorf("Full at the allowance = false")
	}
	var woken []int
	for i := 0; i < 3; i++ {
		i := i
		s.Enqueue(&Waiter{Wake: func(int) { woken = append(woken, i) }})
	}
	s.SetAllowance(0, 4)
	if len(woken) != 2 || woken[0] != 0 || woken[1] != 1 || s.Active(0) != 4 {
		t.Fatalf("raising the allowance to 4 woke %v with %d active, want [0 1] and 4", woken, s.Active(0))
	}
	s.SetAllowance(0, 1)
	s.Release(0)
	if len(woken) != 2 || s.Active(0) != 3 {
		t.Errorf("a release beyond a shrunk allowance woke %v, %d active; want no wake and 3", woken, s.Active(0))
	}
	s.SetAllowance(0, 50)
	if got := s.Allowance(0); got != 5 {
		t.Errorf("Allowance = %d with 50 set and max_conns 5, want 5", got)
	}
	if len(woken) != 3 {
		t.Errorf("the last waiter was not woken when places opened: %v", woken)
	}
	if !s.WantLease() || s.WantLease() {
		t.Errorf("WantLease must answer true once until LeaseAsked")
	}
	s.LeaseAsked()
	if !s.WantLease() {
		t.Errorf("WantLease after LeaseAsked = false")
	}
	if NewShared(&conf.Upstream{Servers: []*conf.UpstreamServer{{MaxConns: 1}}}).WantLease() {
		t.Errorf("a group the fleet does not share wants a lease")
	}
}
