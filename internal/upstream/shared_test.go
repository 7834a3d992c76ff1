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
