// Package engine is headroom's event loop: one goroutine locked to an OS
// thread per worker, driving non-blocking sockets through epoll, as an nginx
// worker does. A loop owns a fixed array of connection slots with a free
// list; every socket it handles (listener, client, upstream) takes a slot,
// so the number of sockets a worker can hold is known in advance and no
// goroutine or buffer is spent on a connection that is idle.
//
// Nothing in a loop is shared with other loops except through Post, which
// hands a function to the loop and wakes it through an eventfd.
package engine

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Handler is called by the loop when a connection's socket is ready or its
// timer fires. Handlers are plain functions (not closures) so that setting
// one costs no allocation; per-connection state lives in Conn.Data.
type Handler func(c *Conn)

// Kind says what a slot is used for; it feeds the slot accounting that the
// capacity model and the metrics read.
type Kind uint8

// Slot kinds.
const (
	KindFree Kind = iota
	KindListener
	KindClient
	KindUpstream
	// KindFile is a file a response is sent from: it takes a slot as an
	// upstream connection would, so that the slots count every
	// descriptor a request holds.
	KindFile
	// KindResolver is a worker's UDP socket to its DNS servers: a
	// descriptor like any other, kept apart from the client and upstream
	// counts that the budgets are made of.
	KindResolver
	// KindStore is a worker's connection to the zone_sync store (Redis),
	// set aside like the resolver's socket.
	KindStore
	numKinds
)

// Conn is one connection slot. The loop fills Fd, readiness and Kind; the
// owner of the connection (the proxy) sets the handlers and Data.
type Conn struct {
	Fd   int
	Kind Kind
	// Index is the slot's position in the loop's array; stable for the
	// life of the loop.
	Index int32
	// gen changes each time the slot is reused, so an epoll event that
	// arrives for a previous occupant is recognised and dropped.
	gen int32

	// ReadReady and WriteReady mirror nginx's ev->ready: set when epoll
	// reports the socket readable/writable, cleared by the owner when a
	// read or write returns EAGAIN. With edge-triggered epoll the owner
	// must keep reading until EAGAIN or remember that data is pending.
	ReadReady  bool
	WriteReady bool
	// EOF is set when epoll reports the peer closed its side (RDHUP/HUP).
	EOF bool

	OnRead  Handler
	OnWrite Handler
	OnTimer Handler

	// Data is the owner's state for this connection.
	Data any

	loop  *Loop
	timer timerEntry
	// listenEvents are the epoll flags a listener was registered with, to
	// register it again after a pause.
	listenEvents uint32
	nextFree     *Conn
}

// ShortRead records that a read returned fewer bytes than asked for: the
// socket was drained, and the edge-triggered event for the next bytes will
// wake the loop again, so the read that would return EAGAIN is saved. When
// the peer's close was already reported no further event will come, so
// the connection stays readable and the next read sees the end.
func (c *Conn) ShortRead() {
	if !c.EOF {
		c.ReadReady = false
	}
}

// Loop returns the loop that owns the connection.
func (c *Conn) Loop() *Loop { return c.loop }

// Config sizes a loop.
type Config struct {
	// ID is the worker number, used in logs.
	ID int
	// Slots is the number of connection slots (worker_connections).
	Slots int
}

// Loop is one worker's event loop.
type Loop struct {
	ID int
	// Owner is the loop owner's state (the proxy's worker), so handlers
	// can reach it from any connection without a lookup.
	Owner any
	epfd  int
	evfd  int
	conns []Conn
	free  *Conn
	nfree int

	// inUse counts occupied slots by kind.
	inUse [numKinds]int

	timers timerHeap
	now    time.Time

	mu      sync.Mutex
	posted  []func()
	running []func()
	stop    bool
	// closed is set when Run ends and by Close: no more work is taken,
	// and once Close has run the eventfd is gone (its number may already
	// belong to another socket), so nothing may write to it.
	closed bool

	events []unix.EpollEvent
	// busy is set while events keep coming: the loop then waits for the
	// next ones through a raw call (see wait).
	busy bool
	// waitCalls counts the epoll calls the loop made, for the test that
	// keeps a busy loop at one call per round.
	waitCalls uint64

	// paused lists listeners taken out of epoll because the loop had no
	// slot left; they are put back as soon as slots free up, so clients
	// wait in the kernel's backlog instead of being accepted and dropped.
	paused []*Conn
	// resumeAt is the number of free slots at which paused listeners are
	// resumed.
	resumeAt int

	// OnTick, when set, runs about once a second on the loop's thread
	// (flushing buffered logs, for example).
	OnTick   func()
	lastTick time.Time
	// wakeAt, when set, is when the loop wakes at the latest even if no
	// event or timer comes (see WakeBy).
	wakeAt time.Time
	// AfterEvents, when set, runs after each round of events and timers,
	// outside any connection's handler: work that waits for a free slot
	// is resumed there.
	AfterEvents func()
}

// New creates a loop with its epoll instance, eventfd and slot array.
func New(cfg Config) (*Loop, error) {
	if cfg.Slots <= 0 {
		return nil, errors.New("engine: a loop needs at least one slot")
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	l := &Loop{ID: cfg.ID, epfd: epfd, evfd: evfd, conns: make([]Conn, cfg.Slots), events: make([]unix.EpollEvent, 512)}
	for i := len(l.conns) - 1; i >= 0; i-- {
		c := &l.conns[i]
		c.Index = int32(i)
		c.Fd = -1
		c.loop = l
		c.timer.idx = -1
		c.nextFree = l.free
		l.free = c
	}
	l.nfree = cfg.Slots
	// The eventfd is registered with a sentinel index of -1.
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	l.now = time.Now()
	return l, nil
}

// Now is the loop's cached clock, updated once per iteration as nginx does,
// so that handlers do not pay for a clock read each.
func (l *Loop) Now() time.Time { return l.now }

// Slots returns the number of slots of the loop.
func (l *Loop) Slots() int { return len(l.conns) }

// Free returns the number of free slots.
func (l *Loop) Free() int { return l.nfree }

// InUse returns the number of slots held by connections of the given kind.
func (l *Loop) InUse(k Kind) int { return l.inUse[k] }

// ErrNoSlot is returned by Add when every slot is taken.
var ErrNoSlot = errors.New("engine: no free connection slot")

// Add takes a free slot for fd and registers it with epoll, edge-triggered
// for both directions, as nginx does: one registration for the life of the
// connection and no epoll_ctl per state change. The fd must be
// non-blocking. On error the fd is left open for the caller to close.
func (l *Loop) Add(fd int, kind Kind, data any) (*Conn, error) {
	return l.add(fd, kind, data, connEvents)
}

// connEvents are the epoll flags of a connection: both directions, the
// peer's close, edge-triggered.
const connEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// AddReadable takes a free slot for fd, as Add does, for a connection
// whose first bytes are known to have arrived (a listener with
// TCP_DEFER_ACCEPT hands over only such): the slot is marked readable
// and the socket is not registered yet. The owner reads it at once and
// then calls Register. Registered after that read, the drained socket
// queues no event for the bytes already taken, which saves the read
// that would have found nothing.
func (l *Loop) AddReadable(fd int, kind Kind, data any) (*Conn, error) {
	c, err := l.add(fd, kind, data, 0)
	if err == nil {
		c.ReadReady = true
	}
	return c, err
}

// Register registers with epoll a connection that AddReadable took a
// slot for, as Add would have. epoll reports at once whatever is already
// pending on the socket, so nothing that came in between is missed.
func (c *Conn) Register() error {
	ev := unix.EpollEvent{Events: connEvents, Fd: c.Index, Pad: c.gen}
	return epollCtl(c.loop.epfd, unix.EPOLL_CTL_ADD, c.Fd, &ev)
}

// Gen identifies the slot's current occupant: it changes when the slot is
// freed, so an owner that ran handlers can tell whether the connection it
// started with is still there.
func (c *Conn) Gen() int32 { return c.gen }

// AddListener registers a listening socket, level-triggered so that a loop
// that stops accepting part-way through a burst is told again. A socket
// shared by several loops is registered with EPOLLEXCLUSIVE, so that a new
// connection wakes one loop instead of all of them.
func (l *Loop) AddListener(fd int, shared bool, data any) (*Conn, error) {
	var events uint32 = unix.EPOLLIN
	if shared {
		events |= unix.EPOLLEXCLUSIVE
	}
	c, err := l.add(fd, KindListener, data, events)
	if err == nil {
		c.listenEvents = events
	}
	return c, err
}

// AddUnpolled takes a free slot for a connection whose bytes do not come
// through a socket of its own that the loop polls: an in-memory transport
// in tests, which calls the slot's handlers itself when it has bytes.
// The slot counts, times out and closes like any other; its Fd is -1.
func (l *Loop) AddUnpolled(kind Kind, data any) (*Conn, error) {
	return l.add(-1, kind, data, 0)
}

func (l *Loop) add(fd int, kind Kind, data any, events uint32) (*Conn, error) {
	c := l.free
	if c == nil {
		return nil, ErrNoSlot
	}
	if fd >= 0 && events != 0 {
		ev := unix.EpollEvent{Events: events, Fd: c.Index, Pad: c.gen + 1}
		if err := epollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return nil, err
		}
	}
	c.gen++
	l.free = c.nextFree
	c.nextFree = nil
	l.nfree--
	c.Fd = fd
	c.Kind = kind
	c.Data = data
	c.ReadReady, c.WriteReady, c.EOF = false, false, false
	l.inUse[kind]++
	return c, nil
}

// Close closes the connection's socket and returns its slot to the free
// list. Closing the fd removes it from epoll; a pending event for it in the
// current batch is ignored because the slot's generation changes.
func (c *Conn) Close() {
	if c.Kind == KindFree {
		return
	}
	if c.Fd >= 0 {
		Close(c.Fd)
	}
	c.release()
}

// Reset closes the connection with a reset instead of a FIN (SO_LINGER
// with a zero timeout): the socket is gone at once, on both sides,
// without the closing handshake or a TIME_WAIT entry. Only for a
// connection whose exchange is over, where the peer has nothing left to
// lose.
func (c *Conn) Reset() {
	if c.Kind != KindFree && c.Fd >= 0 {
		setLingerZero(c.Fd)
	}
	c.Close()
}

// Detach removes the connection from epoll and frees its slot without
// closing the socket; used for a listening socket shared by several loops.
func (c *Conn) Detach() {
	if c.Kind == KindFree {
		return
	}
	l := c.loop
	epollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.Fd, nil)
	for i, p := range l.paused {
		if p == c {
			l.paused = append(l.paused[:i], l.paused[i+1:]...)
			break
		}
	}
	c.release()
}

// release returns the slot to the free list after its socket is gone.
func (c *Conn) release() {
	l := c.loop
	if c.timer.idx >= 0 {
		l.timers.remove(c)
	}
	l.inUse[c.Kind]--
	c.Fd = -1
	c.Kind = KindFree
	c.Data = nil
	c.OnRead, c.OnWrite, c.OnTimer = nil, nil, nil
	c.gen++
	c.nextFree = l.free
	l.free = c
	l.nfree++
	if len(l.paused) > 0 && l.nfree >= l.resumeAt {
		l.resumeListeners()
	}
}

// PauseAccept takes a listener out of epoll until at least minFree slots
// are free again. Connections keep queueing in the kernel's backlog, where
// no slot is spent on them.
func (c *Conn) PauseAccept(minFree int) {
	l := c.loop
	for _, p := range l.paused {
		if p == c {
			return
		}
	}
	// Deleted and added again rather than modified, because an
	// EPOLLEXCLUSIVE registration cannot be modified.
	epollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.Fd, nil)
	l.paused = append(l.paused, c)
	l.resumeAt = max(minFree, 1)
}

// Paused reports whether any listener of the loop is paused.
func (l *Loop) Paused() bool { return len(l.paused) > 0 }

// ResumeAccept puts every paused listener back into epoll.
func (l *Loop) ResumeAccept() { l.resumeListeners() }

func (l *Loop) resumeListeners() {
	for _, c := range l.paused {
		ev := unix.EpollEvent{Events: c.listenEvents, Fd: c.Index, Pad: c.gen}
		epollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.Fd, &ev)
	}
	l.paused = l.paused[:0]
}

// SetKind moves a connection between kinds for the slot accounting, for
// example when an upstream connection goes idle in a keep-alive pool.
func (c *Conn) SetKind(k Kind) {
	c.loop.inUse[c.Kind]--
	c.Kind = k
	c.loop.inUse[k]++
}

// SetTimer arms (or re-arms) the connection's single timer to fire after d.
// A connection has one timer because at any moment it waits for one thing.
func (c *Conn) SetTimer(d time.Duration) {
	l := c.loop
	at := l.now.Add(d)
	if c.timer.idx >= 0 {
		// Re-arming to nearly the same deadline is common (each read on a
		// busy connection); skip the heap work within a small tolerance.
		if diff := at.Sub(c.timer.at); diff >= 0 && diff < 5*time.Millisecond {
			return
		}
		c.timer.at = at
		l.timers.fix(c)
		return
	}
	c.timer.at = at
	l.timers.push(c)
}

// StopTimer disarms the connection's timer.
func (c *Conn) StopTimer() {
	if c.timer.idx >= 0 {
		c.loop.timers.remove(c)
	}
}

// Post hands fn to the loop; it runs on the loop's thread at the next
// iteration, or as the loop ends. Safe to call from any goroutine. It
// reports false, and fn will not run, when the loop has already ended.
func (l *Loop) Post(fn func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.posted = append(l.posted, fn)
	l.wake()
	return true
}

func (l *Loop) wake() {
	var one = [8]byte{1}
	unix.Write(l.evfd, one[:])
}

// Stop asks the loop to return from Run after its current iteration.
func (l *Loop) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop = true
	if !l.closed {
		l.wake()
	}
}

// WakeBy makes the loop go round again by t at the latest, even without
// events, so that AfterEvents runs: for work that waits on something
// epoll does not report (the length of a listen backlog). It holds for
// one wait; call it again from AfterEvents to keep waking.
func (l *Loop) WakeBy(t time.Time) {
	if l.wakeAt.IsZero() || t.Before(l.wakeAt) {
		l.wakeAt = t
	}
}

// Run drives the loop until Stop. It locks the goroutine to its OS thread
// so that the loop behaves like an nginx worker: one thread, no
// preemption by other connections' work.
func (l *Loop) Run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.lastTick = l.now
	for {
		timeout := 1000
		d, ok := l.timers.next()
		if !l.wakeAt.IsZero() && (!ok || l.wakeAt.Before(d)) {
			d, ok = l.wakeAt, true
		}
		l.wakeAt = time.Time{}
		if ok {
			wait := d.Sub(l.now)
			switch {
			case wait <= 0:
				timeout = 0
			case wait < time.Second:
				// Round up so the loop does not wake just before the
				// deadline and spin until it passes.
				timeout = int((wait + time.Millisecond - 1) / time.Millisecond)
			}
		}
		n, err := l.wait(timeout)
		l.now = time.Now()
		if err != nil && err != unix.EINTR {
			panic("engine: epoll_wait: " + err.Error())
		}
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			if ev.Fd < 0 {
				var buf [8]byte
				unix.Read(l.evfd, buf[:])
				continue
			}
			c := &l.conns[ev.Fd]
			if c.gen != ev.Pad || c.Kind == KindFree {
				continue
			}
			gen := c.gen
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.EOF = true
				c.ReadReady = true
				c.WriteReady = true
			}
			if ev.Events&unix.EPOLLIN != 0 {
				c.ReadReady = true
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				c.WriteReady = true
			}
			if c.ReadReady && c.OnRead != nil && ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.OnRead(c)
			}
			if c.gen == gen && c.WriteReady && c.OnWrite != nil && ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.OnWrite(c)
			}
		}
		l.expireTimers()
		if l.AfterEvents != nil {
			l.AfterEvents()
		}
		if l.now.Sub(l.lastTick) >= time.Second {
			l.lastTick = l.now
			if l.OnTick != nil {
				l.OnTick()
			}
		}
		if l.runPosted() {
			// Work posted from now on is refused (Post reports false);
			// what was posted before runs here, so that nothing handed
			// to the loop is lost.
			l.mu.Lock()
			l.closed = true
			rest := l.posted
			l.posted = nil
			l.mu.Unlock()
			for _, fn := range rest {
				fn()
			}
			return
		}
	}
}

// busyWait is how long, in milliseconds, a busy loop waits for events
// through the raw call before it counts as idle.
const busyWait = 2

// wait returns ready events, waiting up to timeout milliseconds. How
// depends on whether the loop is busy:
//
//   - A busy loop (its last wait returned events) waits up to busyWait
//     through a raw call, which returns at once when events are ready:
//     one system call per round, as nginx's. (Asking first without
//     waiting cost a second, empty call each time the loop ran dry:
//     3.3 epoll calls per request in close mode against nginx's 1.4.)
//     The runtime does not see a raw wait: the loop keeps
//     its processor (GOMAXPROCS is at least the number of loops, so no
//     other loop needs it), and the runtime's monitor thread has nothing
//     to take back. Waited for through the ordinary call, each wait of
//     more than about 20 µs had the monitor wake on the loop's core to
//     take the processor and the loop take it back on return: with a new
//     client connection per request this cost about a tenth of the
//     worker's CPU (docs/benchmarks.md).
//   - A loop that found nothing for busyWait is idle: it waits the rest
//     through the ordinary call, which hands the processor back and lets
//     the monitor thread sleep, so an idle server does not wake. An idle
//     loop first asks without waiting through a raw call, and blocks
//     only when nothing is ready.
//
// The monitor still preempts a loop that has run 10 ms without yielding;
// its signal ends a raw wait with EINTR, which Run takes as no events.
func (l *Loop) wait(timeout int) (int, error) {
	if l.busy && timeout > 0 {
		t := min(timeout, busyWait)
		l.waitCalls++
		if n, err := waitRaw(l.epfd, l.events, t); n != 0 || err != nil || t == timeout {
			return n, err
		}
		l.busy = false
		timeout -= t
	} else {
		l.waitCalls++
		if n, err := pollNow(l.epfd, l.events); n != 0 || err != nil || timeout == 0 {
			return n, err
		}
	}
	l.waitCalls++
	n, err := waitBlocking(l.epfd, l.events, timeout)
	l.busy = n > 0
	return n, err
}

func (l *Loop) runPosted() (stop bool) {
	l.mu.Lock()
	l.running, l.posted = l.posted, l.running[:0]
	stop = l.stop
	l.mu.Unlock()
	for i, fn := range l.running {
		fn()
		l.running[i] = nil
	}
	return stop
}

func (l *Loop) expireTimers() {
	for {
		c := l.timers.peek()
		if c == nil || c.timer.at.After(l.now) {
			return
		}
		l.timers.remove(c)
		if c.OnTimer != nil {
			c.OnTimer(c)
		}
	}
}

// Each calls fn for every connection of the given kind, in slot order;
// fn may close the connection it is given. It is for rare sweeps, such as
// closing everything at the end of a graceful shutdown.
func (l *Loop) Each(kind Kind, fn func(*Conn)) {
	for i := range l.conns {
		if c := &l.conns[i]; c.Kind == kind {
			fn(c)
		}
	}
}

// Close releases the loop's epoll and eventfd descriptors. Connections
// still open are closed.
func (l *Loop) Close() {
	for i := range l.conns {
		c := &l.conns[i]
		switch c.Kind {
		case KindFree:
		case KindListener:
			c.Detach()
		default:
			c.Close()
		}
	}
	l.mu.Lock()
	l.closed = true
	unix.Close(l.epfd)
	unix.Close(l.evfd)
	l.mu.Unlock()
}
