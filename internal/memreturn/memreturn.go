// Package memreturn gives back to the operating system the memory that a
// burst of work left behind as garbage, once the process has gone quiet.
//
// Go's collector runs when the heap has grown by GOGC percent since the
// last collection found what was live. A burst of TLS handshakes leaves
// about 40 KB of garbage for every connection it opened, so a server that
// has just accepted a few thousand connections and then waits on them
// keeps up to twice what the connections hold until something allocates
// enough to start the next collection — in a quiet server, the runtime's
// forced collection two minutes later, after which it still keeps free
// pages up to its next goal. nginx frees a handshake's buffers as it goes.
// Rather than lower GOGC for everyone (which costs CPU under load, when
// garbage is made fastest), the process collects and returns its free
// pages once allocation has almost stopped while much of the heap is
// garbage or free: the memory an idle server takes is then about what its
// connections hold.
package memreturn

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Every is how often the process looks at its heap.
const Every = 500 * time.Millisecond

// quietBytes is the most the process may allocate in one look's interval
// and still count as quiet (1 MB a second): a few dozen handshakes, or
// thousands of plain requests, a second. A busier process collects on its
// own often enough.
const quietBytes = 512 << 10

// minReclaim is the least garbage and free memory worth a collection; a
// heap that keeps less is left to the collector's own pace.
const minReclaim = 4 << 20

// minGap bounds how often the process is made to collect.
const minGap = 2 * time.Second

// Heap is what the process's heap holds, in bytes.
type Heap struct {
	// Allocated is the total ever allocated.
	Allocated uint64
	// Objects is what the heap's objects take: live ones and garbage
	// not yet swept.
	Objects uint64
	// Live is what the last collection found live.
	Live uint64
	// Free is memory the heap holds free and has not returned.
	Free uint64
}

// Reclaimable is what a collection and a return of free pages would give
// back at most.
func (h Heap) Reclaimable() uint64 {
	garbage := uint64(0)
	if h.Objects > h.Live {
		garbage = h.Objects - h.Live
	}
	return garbage + h.Free
}

// ShouldReturn says whether the process, whose heap is now h and was prev
// one look earlier, is quiet with enough to give back: little allocated
// since, and at least minReclaim and a quarter of the live heap
// reclaimable.
func ShouldReturn(prev, h Heap) bool {
	if h.Allocated-prev.Allocated > quietBytes {
		return false
	}
	r := h.Reclaimable()
	return r >= minReclaim && r >= h.Live/4
}

var samples = []metrics.Sample{
	{Name: "/gc/heap/allocs:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/gc/heap/live:bytes"},
	{Name: "/memory/classes/heap/free:bytes"},
}

// Read returns what the heap holds now.
func Read() Heap {
	s := make([]metrics.Sample, len(samples))
	copy(s, samples)
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return Heap{Allocated: v(0), Objects: v(1), Live: v(2), Free: v(3)}
}

// Run looks at the heap every Every until stop is closed, and collects
// and returns free memory to the operating system when ShouldReturn says
// so. It runs on a goroutine of its own: the collection it asks for runs
// beside the event loops, which go on serving.
func Run(stop <-chan struct{}) {
	t := time.NewTicker(Every)
	defer t.Stop()
	prev := Read()
	var last time.Time
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h := Read()
			if now.Sub(last) >= minGap && ShouldReturn(prev, h) {
				debug.FreeOSMemory()
				last = now
				h = Read()
			}
			prev = h
		}
	}
}
