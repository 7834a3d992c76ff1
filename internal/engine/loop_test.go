package engine

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fds[0], fds[1]
}

func newLoop(t *testing.T, slots int) *Loop {
	t.Helper()
	l, err := New(Config{Slots: slots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// runLoop runs the loop in the background until the test ends.
func runLoop(t *testing.T, l *Loop) {
	done := make(chan struct{})
	go func() {
		l.Run()
		close(done)
	}()
	t.Cleanup(func() {
		l.Stop()
		<-done
	})
}

func TestSlotsAreBoundedAndReused(t *testing.T) {
	l := newLoop(t, 2)
	a, _ := socketPair(t)
	b, _ := socketPair(t)
	c, peer := socketPair(t)
	defer unix.Close(peer)
	ca, err := l.Add(a, KindClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Add(b, KindUpstream, nil); err != nil {
		t.Fatal(err)
	}
	if l.Free() != 0 || l.InUse(KindClient) != 1 || l.InUse(KindUpstream) != 1 {
		t.Fatalf("free %d, client %d, upstream %d", l.Free(), l.InUse(KindClient), l.InUse(KindUpstream))
	}
	if _, err := l.Add(c, KindClient, nil); err != ErrNoSlot {
		t.Fatalf("third Add on two slots: %v, want ErrNoSlot", err)
	}
	ca.Close()
	if l.Free() != 1 {
		t.Fatalf("free after Close = %d, want 1", l.Free())
	}
	if _, err := l.Add(c, KindClient, nil); err != nil {
		t.Fatalf("Add after a slot was freed: %v", err)
	}
}

func TestReadinessDrivesHandlers(t *testing.T) {
	l := newLoop(t, 4)
	a, b := socketPair(t)
	defer unix.Close(b)
	got := make(chan string, 1)
	l.Post(func() {})
	c, err := l.Add(a, KindClient, got)
	if err != nil {
		t.Fatal(err)
	}
	c.OnRead = func(c *Conn) {
		var buf [16]byte
		n, _ := unix.Read(c.Fd, buf[:])
		if n > 0 {
			c.Data.(chan string) <- string(buf[:n])
		}
	}
	runLoop(t, l)
	unix.Write(b, []byte("ping"))
	select {
	case s := <-got:
		if s != "ping" {
			t.Fatalf("read %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read handler not called")
	}
}

func TestTimersFireInDeadlineOrder(t *testing.T) {
	l := newLoop(t, 4)
	fired := make(chan int, 3)
	var conns []*Conn
	for i := 0; i < 3; i++ {
		a, b := socketPair(t)
		defer unix.Close(b)
		c, err := l.Add(a, KindClient, i)
		if err != nil {
			t.Fatal(err)
		}
		c.OnTimer = func(c *Conn) { fired <- c.Data.(int) }
		conns = append(conns, c)
	}
	// Arm out of order: 2 first, then 0, then 1; re-arm 1 later than 2.
	conns[2].SetTimer(30 * time.Millisecond)
	conns[0].SetTimer(10 * time.Millisecond)
	conns[1].SetTimer(20 * time.Millisecond)
	conns[1].SetTimer(60 * time.Millisecond)
	runLoop(t, l)
	var order []int
	for len(order) < 3 {
		select {
		case i := <-fired:
			order = append(order, i)
		case <-time.After(5 * time.Second):
			t.Fatalf("timers fired %v, want three", order)
		}
	}
	if order[0] != 0 || order[1] != 2 || order[2] != 1 {
		t.Fatalf("order %v, want [0 2 1]", order)
	}
}

func TestStoppedTimerDoesNotFire(t *testing.T) {
	l := newLoop(t, 2)
	a, b := socketPair(t)
	defer unix.Close(b)
	c, _ := l.Add(a, KindClient, nil)
	fired := make(chan struct{}, 1)
	c.OnTimer = func(*Conn) { fired <- struct{}{} }
	c.SetTimer(10 * time.Millisecond)
	c.StopTimer()
	runLoop(t, l)
	select {
	case <-fired:
		t.Fatal("a stopped timer fired")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestPausedListenerResumesWhenSlotsFree(t *testing.T) {
	l := newLoop(t, 3)
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(lfd, 16)
	lc, err := l.AddListener(lfd, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := socketPair(t)
	defer unix.Close(b)
	ca, _ := l.Add(a, KindClient, nil)
	lc.PauseAccept(2)
	if !l.Paused() {
		t.Fatal("listener not paused")
	}
	ca.Close()
	if l.Paused() {
		t.Fatal("listener still paused with 2 free slots")
	}
}

// TestPostAcrossTheEnd checks that work posted to a loop is never lost
// without notice: what was posted before the loop ended runs (even in
// its last iteration), and Post reports false once it has ended.
func TestPostAcrossTheEnd(t *testing.T) {
	l := newLoop(t, 4)
	ran := make(chan int, 2)
	done := make(chan struct{})
	go func() {
		l.Run()
		close(done)
	}()
	if !l.Post(func() { ran <- 1 }) {
		t.Fatal("Post refused while the loop runs")
	}
	l.Post(func() {
		// Posted from the loop itself as it stops: still runs.
		l.Stop()
		l.Post(func() { ran <- 2 })
	})
	<-done
	for want := 1; want <= 2; want++ {
		select {
		case got := <-ran:
			if got != want {
				t.Errorf("ran %d, want %d", got, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("posted work %d did not run", want)
		}
	}
	if l.Post(func() { t.Error("ran after the loop ended") }) {
		t.Error("Post accepted work after the loop ended")
	}
}

// TestWakeByRunsAfterEventsWithoutEvents checks that a loop with nothing
// to do goes round again by the time WakeBy names, not only at its
// once-a-second tick: a worker polling its listen backlog relies on it.
func TestWakeByRunsAfterEventsWithoutEvents(t *testing.T) {
	l := newLoop(t, 4)
	rounds := make(chan time.Time, 100)
	l.AfterEvents = func() {
		select {
		case rounds <- l.Now():
		default:
		}
		l.WakeBy(l.Now().Add(20 * time.Millisecond))
	}
	runLoop(t, l)
	// One wake-up to start; from then on only WakeBy wakes it.
	l.Post(func() {})
	// Without WakeBy the loop would wait up to a second between rounds;
	// ten rounds within 900 ms show it woke on its own many times.
	deadline := time.After(900 * time.Millisecond)
	for n := 0; n < 10; n++ {
		select {
		case <-rounds:
		case <-deadline:
			t.Fatalf("only %d rounds in 900 ms", n)
		}
	}
}

// TestWaitTurnsIdle checks the two ways a loop waits for events: events
// found through the ordinary wait make the loop busy, a busy loop's wait
// that finds nothing for busyWait makes it idle again, and either way an
// event that arrives is returned and a timeout is kept.
func TestWaitTurnsIdle(t *testing.T) {
	l := newLoop(t, 4)
	// A signal (the runtime preempting a goroutine) may end a wait early;
	// Run takes that as no events and waits again, as this does.
	wait := func(timeout int) (int, error) {
		for {
			if n, err := l.wait(timeout); err != unix.EINTR {
				return n, err
			}
		}
	}
	a, peer := socketPair(t)
	defer unix.Close(peer)
	if _, err := l.Add(a, KindClient, nil); err != nil {
		t.Fatal(err)
	}
	// Registration reports the socket writable once (edge-triggered).
	if n, err := wait(1000); n != 1 || err != nil {
		t.Fatalf("first wait: %d events, %v", n, err)
	}
	if n, _ := wait(0); n != 0 {
		t.Fatalf("wait(0) with nothing new: %d events", n)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(peer, []byte("x"))
	}()
	l.busy = false
	if n, err := wait(1000); n != 1 || err != nil || !l.busy {
		t.Fatalf("idle wait for a write: %d events, %v, busy %v", n, err, l.busy)
	}
	start := time.Now()
	if n, err := wait(busyWait + 20); n != 0 || err != nil {
		t.Fatalf("busy wait with nothing to come: %d events, %v", n, err)
	}
	if l.busy {
		t.Fatal("a busy loop that found nothing for busyWait is still busy")
	}
	if d := time.Since(start); d < (busyWait+20)*time.Millisecond {
		t.Fatalf("a wait of %d ms returned after %v", busyWait+20, d)
	}
	l.busy = true
	go func() {
		time.Sleep(10 * time.Millisecond)
		unix.Write(peer, []byte("y"))
	}()
	if n, err := wait(1000); n != 1 || err != nil {
		t.Fatalf("a wait that turns idle, then gets a write: %d events, %v", n, err)
	}
}

// TestBusyWaitIsOneCall checks that a busy loop asks epoll once per round,
// as nginx does, whether events are ready or it has to wait for them; and
// that an idle loop asks without waiting before it blocks through the
// ordinary call.
func TestBusyWaitIsOneCall(t *testing.T) {
	l := newLoop(t, 4)
	a, peer := socketPair(t)
	defer unix.Close(peer)
	if _, err := l.Add(a, KindClient, nil); err != nil {
		t.Fatal(err)
	}
	calls := func(busy bool, timeout int) (int, uint64) {
		t.Helper()
		l.busy = busy
		before := l.waitCalls
		for {
			n, err := l.wait(timeout)
			if err == unix.EINTR {
				// A signal ended the wait: count the next one afresh.
				l.busy = busy
				before = l.waitCalls
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			return n, l.waitCalls - before
		}
	}
	// Registration makes the socket writable: one event is ready.
	if n, c := calls(true, 1000); n != 1 || c != 1 {
		t.Errorf("busy loop with an event ready: %d events in %d calls, want 1 in 1", n, c)
	}
	// Nothing comes within a timeout shorter than busyWait.
	if n, c := calls(true, 1); n != 0 || c != 1 {
		t.Errorf("busy loop waiting 1 ms for nothing: %d events in %d calls, want 0 in 1", n, c)
	}
	unix.Write(peer, []byte("x"))
	if n, c := calls(false, 1000); n != 1 || c != 1 {
		t.Errorf("idle loop with an event ready: %d events in %d calls, want 1 in 1", n, c)
	}
	if n, c := calls(false, 1); n != 0 || c != 2 {
		t.Errorf("idle loop waiting 1 ms for nothing: %d events in %d calls, want 0 in 2 (ask, then block)", n, c)
	}
	// A busy loop that finds nothing for busyWait turns idle and blocks
	// for the rest, without asking once more in between.
	if n, c := calls(true, busyWait+1); n != 0 || c != 2 || l.busy {
		t.Errorf("busy loop waiting %d ms for nothing: %d events in %d calls (busy %v), want 0 in 2, idle", busyWait+1, n, c, l.busy)
	}
}

// TestResetEndsWithoutHandshake checks Reset against Close on loopback TCP
// connections: after Close the peer reads the end of the stream, after
// Reset its read fails with ECONNRESET, and in both cases the slot is
// free again.
func TestResetEndsWithoutHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := newLoop(t, 2)
	for _, tc := range []struct {
		name    string
		end     func(c *Conn)
		wantErr error
	}{
		{"Close", (*Conn).Close, io.EOF},
		{"Reset", (*Conn).Reset, unix.ECONNRESET},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dialed, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			peer, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			// The loop gets the only descriptor of the dialed socket,
			// so that its close is the socket's.
			f, err := dialed.(*net.TCPConn).File()
			dialed.Close()
			if err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Dup(int(f.Fd()))
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			c, err := l.Add(fd, KindUpstream, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.end(c)
			if l.Free() != 2 {
				t.Errorf("free slots %d after %s, want 2", l.Free(), tc.name)
			}
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = peer.Read(make([]byte, 16))
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("the peer read %v after %s, want %v", err, tc.name, tc.wantErr)
			}
		})
	}
}
