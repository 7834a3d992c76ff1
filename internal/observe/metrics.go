// Package observe holds what headroom shows about itself while it runs:
// the counters and gauges each worker keeps, the snapshot that gathers
// them, and its three renderings — nginx's stub_status text, Prometheus
// text exposition and the live status page with its JSON.
//
// Every figure has one writer, the worker that owns it, and any number of
// readers. Writers therefore store with plain atomic loads and stores (no
// locked read-modify-write on the request path), and readers sum over
// workers when a snapshot is taken. Each worker's block is padded to its
// own cache lines, so that counting in one worker never slows another.
package observe

import (
	"sync/atomic"
	"time"
)

// Counter is a monotonic count with one writing thread.
type Counter struct{ v atomic.Uint64 }

// Inc adds one. Only the owning worker may call it.
func (c *Counter) Inc() { c.v.Store(c.v.Load() + 1) }

// Add adds n. Only the owning worker may call it.
func (c *Counter) Add(n uint64) { c.v.Store(c.v.Load() + n) }

// Load reads the count from any thread.
func (c *Counter) Load() uint64 { return c.v.Load() }

// Gauge is a current value with one writing thread.
type Gauge struct{ v atomic.Int64 }

// Set stores the value. Only the owning worker may call it.
func (g *Gauge) Set(v int64) { g.v.Store(v) }

// Load reads the value from any thread.
func (g *Gauge) Load() int64 { return g.v.Load() }

// Bounds are the upper bounds, in seconds, of the response-time
// histogram's buckets: from a fast loopback answer to the default
// proxy_read_timeout.
var Bounds = [...]float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Histogram counts durations into Bounds' buckets (each bucket counts only
// its own range; the cumulative form is made when rendering).
type Histogram struct {
	buckets [len(Bounds) + 1]Counter
	count   Counter
	// sumMicros is the sum of the observations in microseconds, kept as
	// an integer so that it can be a Counter.
	sumMicros Counter
}

// Observe records one duration. Only the owning worker may call it.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(Bounds) && s > Bounds[i] {
		i++
	}
	h.buckets[i].Inc()
	h.count.Inc()
	if d > 0 {
		h.sumMicros.Add(uint64(d.Microseconds()))
	}
}

// HistogramSnapshot is a histogram read at one moment: Buckets[i] counts
// the observations in (Bounds[i-1], Bounds[i]], the last one those above
// every bound.
type HistogramSnapshot struct {
	Buckets [len(Bounds) + 1]uint64
	Count   uint64
	Sum     float64
}

// AddTo adds the histogram's figures to s (summing over workers).
func (h *Histogram) AddTo(s *HistogramSnapshot) {
	for i := range h.buckets {
		s.Buckets[i] += h.buckets[i].Load()
	}
	s.Count += h.count.Load()
	s.Sum += float64(h.sumMicros.Load()) / 1e6
}

// Status classes index Worker.Responses.
const (
	Class1xx = iota
	Class2xx
	Class3xx
	Class4xx
	Class5xx
	numClasses
)

// Worker is one worker's figures. The counters grow with events; the
// gauges are published by the worker after each round of events.
type Worker struct {
	_ [64]byte

	// Accepted and Handled count client connections as stub_status does:
	// accepted by the kernel and taken into a slot (the same here, since
	// a worker only accepts when it has a slot).
	Accepted, Handled Counter
	// Requests counts client requests whose head was read.
	Requests Counter
	// Responses counts responses by status class.
	Responses [numClasses]Counter

	// The pressure steps, in the order headroom takes them.
	AcceptPaused        Counter // times the worker stopped accepting for lack of room
	IdleClientsClosed   Counter // idle keep-alive clients closed to free a slot
	IdleUpstreamsClosed Counter // idle upstream connections closed to free a slot
	Rotated             Counter // answers sent with Connection: close while clients waited in the backlog
	Queued              Counter // requests that waited in a queue (slot or upstream)
	Rejected            Counter // requests answered 503 for lack of capacity
	// Slow clients closed while others waited in the backlog.
	SlowHeadsClosed   Counter // no complete request head (idle or slow head) for 250 ms or more
	SlowBodiesClosed  Counter // request body slower than client_body_min_rate
	SlowReadersClosed Counter // response read slower than send_min_rate
	// QueueWait sums the time requests spent in queues.
	QueueWait Histogram

	// BodiesToFile counts request bodies written to a temporary file
	// because they did not fit in client_body_buffer_size.
	BodiesToFile Counter
	// ResponsesToFile counts responses that went through a temporary
	// file because their client read slower than the upstream sent.
	ResponsesToFile Counter
	// TempFileWaits counts request bodies that waited for a temporary
	// file because the worker had its budget of them open.
	TempFileWaits Counter
	// TempFiles is the number of temporary files open.
	TempFiles Gauge

	// TLS handshakes with clients: completed, and failed (an error,
	// including a client that closed during the handshake). A handshake
	// cut short by a timeout or a shutdown is neither.
	TLSHandshakes, TLSHandshakesFailed Counter
	// TLSHandshakeNanos is the time the worker's loop spent running
	// handshakes, in nanoseconds. The handshake runs on the loop's own
	// thread and never waits inside (it yields when the socket has
	// nothing), so this wall time is CPU the loop gave to TLS: the figure
	// that tells whether new connections or requests take a worker's core.
	TLSHandshakeNanos Counter

	// Gauges.
	ClientActive   Gauge // client connections with a request in progress
	ClientIdle     Gauge // client connections waiting for a request
	Reading        Gauge // client connections reading a request head
	UpstreamActive Gauge // upstream connections carrying a request
	UpstreamIdle   Gauge // upstream connections kept idle for reuse
	Store          Gauge // the connection to the zone_sync store (0 or 1)
	SlotQueue      Gauge // requests waiting for a slot
	Paused         Gauge // 1 while the worker does not accept

	_ [64]byte
}

// TLSHandshakeRan counts the time since began as handshake time. The
// transport calls it after each resumption of a handshake, so that what a
// handshake costs is known without a profiler. A nil Worker (a transport
// that counts nowhere, such as one to an upstream) ignores it.
func (w *Worker) TLSHandshakeRan(began time.Time) {
	if w != nil {
		w.TLSHandshakeNanos.Add(uint64(max(time.Since(began), 0)))
	}
}

// TLSHandshakeEnded counts a handshake that completed, or failed when ok
// is false. A nil Worker ignores it, as in TLSHandshakeRan.
func (w *Worker) TLSHandshakeEnded(ok bool) {
	switch {
	case w == nil:
	case ok:
		w.TLSHandshakes.Inc()
	default:
		w.TLSHandshakesFailed.Inc()
	}
}

// AddTLSTo adds the worker's TLS figures to t (summing over workers).
func (w *Worker) AddTLSTo(t *TLS) {
	t.Handshakes += w.TLSHandshakes.Load()
	t.HandshakesFailed += w.TLSHandshakesFailed.Load()
	t.HandshakeSeconds += float64(w.TLSHandshakeNanos.Load()) / 1e9
}

// Class returns the index into Responses of an HTTP status.
func Class(status int) int {
	c := status/100 - 1
	if c < 0 || c >= numClasses {
		return Class5xx
	}
	return c
}

// Server is one upstream server's figures in one worker.
type Server struct {
	_ [64]byte
	// Requests counts attempts sent to the server; Failures those that
	// failed (error, timeout, invalid header, or a status listed in
	// proxy_next_upstream).
	Requests, Failures Counter
	// Active counts connections carrying a request, Idle those kept for
	// reuse.
	Active, Idle Gauge
	// UnavailableUntil is the unix nanosecond time until which this worker
	// does not use the server after max_fails failures (0: available).
	UnavailableUntil Gauge
	// Response times the server's answers, from the request sent to the
	// response head read ($upstream_header_time).
	Response Histogram
	_        [64]byte
}
