package proxy

import (
	"testing"

	"headroom/internal/conf"
)

func TestReqZoneLeakyBucket(t *testing.T) {
	// 2 requests a second: the excess drains by 1.000 every 500 ms.
	z := newReqZone(&conf.LimitReqZone{Name: "one", Size: 1 << 20, RatePerMinute: 120})
	steps := []struct {
		name   string
		at     int64 // ms
		burst  int
		excess int64
		ok     bool
	}{
		{"first request of a key", 0, 0, 0, true},
		{"at once again: one over, no burst", 0, 0, 1000, false},
		{"a refused request leaves the bucket as it was", 0, 1, 1000, true},
		{"250 ms later half a request has drained", 250, 1, 1500, false},
		{"after 1.25 s the bucket has drained below one request", 1250, 1, 0, true},
		{"long after, it is empty again", 10000, 0, 0, true},
	}
	for _, s := range steps {
		excess, ok := z.account("k", s.at, s.burst)
		if excess != s.excess || ok != s.ok {
			t.Errorf("%s: excess %d ok %v; want %d %v", s.name, excess, ok, s.excess, s.ok)
		}
	}
}

// TestReqZoneFull checks what happens when a zone holds as many keys as
// its size allows: drained keys make room first; when every key still has
// excess, the one used least recently is forgotten, and the new key is
// accounted rather than refused.
func TestReqZoneFull(t *testing.T) {
	// 256 bytes hold two keys; 1 request a second.
	z := newReqZone(&conf.LimitReqZone{Name: "small", Size: 256, RatePerMinute: 60})
	z.account("a", 0, 5)
	z.account("a", 0, 5) // a: excess 1.000 until 1 s
	z.account("b", 100, 5)
	z.account("b", 100, 5) // b: excess 1.000 until 1.1 s
	if _, ok := z.account("c", 200, 5); !ok {
		t.Fatal("a new key in a full zone was refused")
	}
	z.account("c", 200, 5)
	z.account("c", 200, 5) // c: excess 2.000, 1.000 still at 1.2 s
	if _, known := z.states["a"]; known {
		t.Error("the least recently used key was kept")
	}
	if _, known := z.states["b"]; !known {
		t.Error("a key with excess that was not the oldest was dropped")
	}
	// At 1.2 s, b has drained: it makes room for d, and c stays.
	if _, ok := z.account("d", 1200, 5); !ok {
		t.Fatal("d refused")
	}
	if _, known := z.states["b"]; known {
		t.Error("a drained key was kept in a full zone")
	}
	if _, known := z.states["c"]; !known {
		t.Error("c was dropped though a drained key could make room")
	}
}

func TestExcessText(t *testing.T) {
	for in, want := range map[int64]string{0: "0.000", 1500: "1.500", 998: "0.998", 12005: "12.005"} {
		if got := excessText(in); got != want {
			t.Errorf("excessText(%d) = %q, want %q", in, got, want)
		}
	}
}
