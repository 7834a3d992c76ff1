package memreturn

import (
	"runtime"
	"testing"
)

func TestShouldReturn(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name       string
		prev, heap Heap
		want       bool
	}{
		{"quiet after a burst", Heap{Allocated: 100 * mb}, Heap{Allocated: 100 * mb, Objects: 20 * mb, Live: 8 * mb, Free: 2 * mb}, true},
		{"still allocating", Heap{Allocated: 100 * mb}, Heap{Allocated: 101 * mb, Objects: 20 * mb, Live: 8 * mb}, false},
		{"little to give back", Heap{Allocated: 100 * mb}, Heap{Allocated: 100 * mb, Objects: 10 * mb, Live: 8 * mb, Free: 1 * mb}, false},
		{"small part of a large heap", Heap{Allocated: 100 * mb}, Heap{Allocated: 100 * mb, Objects: 1030 * mb, Live: 1000 * mb}, false},
		{"free pages only", Heap{Allocated: 100 * mb}, Heap{Allocated: 100*mb + 1000, Objects: 8 * mb, Live: 8 * mb, Free: 6 * mb}, true},
	}
	for _, tc := range tests {
		if got := ShouldReturn(tc.prev, tc.heap); got != tc.want {
			t.Errorf("%s: ShouldReturn = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestReadSeesGarbage checks that Read's figures move as the heap does:
// garbage made after a collection is reclaimable, and a collection makes
// it so no more.
func TestReadSeesGarbage(t *testing.T) {
	runtime.GC()
	before := Read()
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 64<<10))
	}
	keep = nil
	after := Read()
	if after.Allocated-before.Allocated < 4<<20 {
		t.Fatalf("allocated %d bytes, Read says %d", 4<<20, after.Allocated-before.Allocated)
	}
	if after.Objects <= after.Live {
		t.Fatalf("after making 4 MiB of garbage, objects %d <= live %d", after.Objects, after.Live)
	}
	runtime.GC()
	collected := Read()
	if collected.Objects > collected.Live+1<<20 {
		t.Errorf("after a collection objects %d, live %d: the garbage is still counted", collected.Objects, collected.Live)
	}
	_ = keep
}
