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
		excess, ok, full := z.account("k", s.at, s.burst)
		if excess != s.excess || ok != s.ok || full {
			t.Errorf("%s: excess %d ok %v full %v; want %d %v false", s.name, excess, ok, full, s.excess, s.ok)
		}
	}
}

func TestExcessText(t *testing.T) {
	for in, want := range map[int64]string{0: "0.000", 1500: "1.500", 998: "0.998", 12005: "12.005"} {
		if got := excessText(in); got != want {
			t.Errorf("excessText(%d) = %q, want %q", in, got, want)
		}
	}
}
