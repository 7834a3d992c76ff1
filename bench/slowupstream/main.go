// Command slowupstream is the origin server of bench/seed.sh: it answers
// every request with 200 and the body "ok" after a fixed delay (200 ms by
// default), the slow application behind the proxy in the seed scenario.
//
// It is one epoll loop on one thread: a request waits in a first-in
// first-out queue (every request waits the same time) while its connection
// stays open, so tens of thousands can be in progress at once and a new
// connection per request, as nginx proxies by default, costs a few
// microseconds rather than a goroutine and its buffers. Connections are kept
// alive when the request allows it (HTTP/1.1 without "Connection: close",
// or HTTP/1.0 with "Connection: keep-alive") and closed after the answer
// otherwise.
//
// When the request carries an X-Seed-T header, the answer carries it back
// unchanged: the load generator puts its send time there and so times each
// 200 it receives through the proxy.
//
// It does only what the benchmark needs: request bodies are skipped when
// they have a Content-Length, chunked request bodies are not supported, and
// pipelined requests are answered one after the other.
//
// On SIGTERM or SIGINT it exits and prints one line:
//
//	DONE accepted=A served=N peak_in_flight=M accept_errors=E
//
// where peak_in_flight is the largest number of requests waiting at once
// (including any whose client left before its answer was due).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	maxHead   = 16 * 1024
	readChunk = 16 * 1024
)

type conn struct {
	open       bool
	gen        uint32 // bumped on every close, so a queued answer for an earlier connection on the same descriptor is dropped
	waiting    bool   // a request of this connection is in the queue
	closeAfter bool   // close once out is written
	watchOut   bool   // EPOLLOUT is in the connection's epoll events
	skip       int    // request body bytes still to discard
	in         []byte // received bytes not yet parsed
	out        []byte // answer bytes the kernel did not take yet
}

type pending struct {
	fd   int
	gen  uint32
	due  time.Duration // since start
	keep bool
	echo []byte
}

type server struct {
	ep, lfd  int
	start    time.Time
	delay    time.Duration
	body     []byte
	conns    []conn
	queue    []pending
	head     int // first live entry of queue
	acceptOK bool
	resumeAt time.Duration // when accept was paused for lack of descriptors

	accepted, served, acceptErrs, peak atomic.Int64
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18180", "listen address (loopback IPv4 address:port)")
	delay := flag.Duration("delay", 200*time.Millisecond, "time to wait before answering each request")
	body := flag.String("body", "ok", "response body")
	backlog := flag.Int("backlog", 4096, "listen backlog (the kernel caps it at net.core.somaxconn)")
	flag.Parse()

	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
		fatal(fmt.Errorf("bad -addr %q: want a loopback IPv4 address and port", *addr))
	}
	if *delay < 0 {
		fatal(errors.New("-delay must not be negative"))
	}
	raiseNofile()

	s := &server{start: time.Now(), delay: *delay, body: []byte(*body), acceptOK: true}
	if err := s.listen(ap, *backlog); err != nil {
		fatal(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	failed := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		failed <- s.loop()
	}()
	select {
	case <-stop:
	case err := <-failed:
		fatal(err)
	}
	fmt.Printf("DONE accepted=%d served=%d peak_in_flight=%d accept_errors=%d\n",
		s.accepted.Load(), s.served.Load(), s.peak.Load(), s.acceptErrs.Load())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "slowupstream:", err)
	os.Exit(1)
}

// raiseNofile sets the soft open-file limit to the hard one.
func raiseNofile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

func (s *server) now() time.Duration { return time.Since(s.start) }

func (s *server) listen(ap netip.AddrPort, backlog int) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	if err := syscall.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind %s: %w", ap, err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	s.ep, s.lfd = ep, fd
	return s.ctl(syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN)
}

func (s *server) ctl(op, fd int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	return syscall.EpollCtl(s.ep, op, fd, &ev)
}

func (s *server) loop() error {
	events := make([]syscall.EpollEvent, 1024)
	buf := make([]byte, readChunk)
	for {
		n, err := syscall.EpollWait(s.ep, events, s.timeout())
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == s.lfd {
				s.accept()
				continue
			}
			ev := events[i].Events
			if ev&syscall.EPOLLOUT != 0 {
				s.flush(fd)
			}
			if ev&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				s.read(fd, buf)
			}
		}
		s.answerDue()
		if !s.acceptOK && s.now() >= s.resumeAt {
			if s.ctl(syscall.EPOLL_CTL_ADD, s.lfd, syscall.EPOLLIN) == nil {
				s.acceptOK = true
			}
		}
	}
}

// timeout is epoll_wait's timeout in milliseconds: until the first queued
// answer is due (rounded up, so that no answer goes out early), or until
// accept resumes.
func (s *server) timeout() int {
	wait := time.Duration(-1)
	if s.head < len(s.queue) {
		wait = max(s.queue[s.head].due-s.now(), 0)
	}
	if !s.acceptOK {
		r := max(s.resumeAt-s.now(), 0)
		if wait < 0 || r < wait {
			wait = r
		}
	}
	if wait < 0 {
		return -1
	}
	return int((wait + time.Millisecond - 1) / time.Millisecond)
}

func (s *server) accept() {
	for {
		fd, _, err := syscall.Accept4(s.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err == syscall.EAGAIN || err == syscall.EINTR || err == syscall.ECONNABORTED {
			if err == syscall.EAGAIN {
				return
			}
			continue
		}
		if err != nil {
			// Out of descriptors (or another lasting error): stop
			// watching the listener for 100 ms rather than spin on it.
			s.acceptErrs.Add(1)
			if s.ctl(syscall.EPOLL_CTL_DEL, s.lfd, 0) == nil {
				s.acceptOK = false
				s.resumeAt = s.now() + 100*time.Millisecond
			}
			return
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if err := s.ctl(syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN); err != nil {
			syscall.Close(fd)
			continue
		}
		for fd >= len(s.conns) {
			s.conns = append(s.conns, conn{})
		}
		c := &s.conns[fd]
		*c = conn{open: true, gen: c.gen, in: c.in[:0], out: c.out[:0]}
		s.accepted.Add(1)
	}
}

func (s *server) close(fd int) {
	c := &s.conns[fd]
	c.open = false
	c.gen++
	c.waiting = false
	// Closing the descriptor also removes it from the epoll set.
	syscall.Close(fd)
}

func (s *server) read(fd int, buf []byte) {
	c := &s.conns[fd]
	if !c.open {
		return
	}
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil || n == 0 {
			s.close(fd)
			return
		}
		if len(c.in)+n > maxHead+readChunk {
			s.close(fd)
			return
		}
		c.in = append(c.in, buf[:n]...)
		if n < len(buf) {
			break
		}
	}
	s.parse(fd)
}

// parse queues the next complete request of the connection, unless one is
// already waiting or being answered.
func (s *server) parse(fd int) {
	c := &s.conns[fd]
	if !c.open || c.waiting || c.closeAfter || len(c.out) > 0 {
		return
	}
	if c.skip > 0 {
		k := min(c.skip, len(c.in))
		c.in = c.in[:copy(c.in, c.in[k:])]
		c.skip -= k
		if c.skip > 0 {
			return
		}
	}
	end := bytes.Index(c.in, []byte("\r\n\r\n"))
	if end < 0 {
		if len(c.in) > maxHead {
			s.close(fd)
		}
		return
	}
	head := c.in[:end+2]
	p := pending{fd: fd, gen: c.gen, due: s.now() + s.delay}
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	http11 := bytes.HasSuffix(line, []byte("HTTP/1.1"))
	closeTok, keepTok := false, false
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Connection")):
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				closeTok = closeTok || bytes.EqualFold(tok, []byte("close"))
				keepTok = keepTok || bytes.EqualFold(tok, []byte("keep-alive"))
			}
		case bytes.EqualFold(name, []byte("X-Seed-T")):
			p.echo = append([]byte(nil), value...)
		case bytes.EqualFold(name, []byte("Content-Length")):
			if n, err := strconv.Atoi(string(value)); err == nil && n > 0 {
				c.skip = n
			}
		}
	}
	p.keep = !closeTok && (http11 || keepTok)
	c.in = c.in[:copy(c.in, c.in[end+4:])]
	c.waiting = true
	s.queue = append(s.queue, p)
	if n := int64(len(s.queue) - s.head); n > s.peak.Load() {
		s.peak.Store(n)
	}
}

// answerDue answers every queued request whose time has come.
func (s *server) answerDue() {
	now := s.now()
	for s.head < len(s.queue) && s.queue[s.head].due <= now {
		p := s.queue[s.head]
		s.queue[s.head] = pending{}
		s.head++
		s.answer(p)
	}
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	} else if s.head > 4096 && s.head*2 > len(s.queue) {
		s.queue = s.queue[:copy(s.queue, s.queue[s.head:])]
		s.head = 0
	}
}

func (s *server) answer(p pending) {
	c := &s.conns[p.fd]
	if !c.open || c.gen != p.gen {
		return // the client went away meanwhile
	}
	c.waiting = false
	b := append(c.out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(s.body)), 10)
	if p.echo != nil {
		b = append(b, "\r\nX-Seed-T: "...)
		b = append(b, p.echo...)
	}
	if p.keep {
		b = append(b, "\r\nConnection: keep-alive\r\n\r\n"...)
	} else {
		b = append(b, "\r\nConnection: close\r\n\r\n"...)
		c.closeAfter = true
	}
	c.out = append(b, s.body...)
	s.served.Add(1)
	s.flush(p.fd)
}

// flush writes what is pending; once all is written it closes the
// connection or goes on with the next request.
func (s *server) flush(fd int) {
	c := &s.conns[fd]
	if !c.open {
		return
	}
	for len(c.out) > 0 {
		n, err := syscall.Write(fd, c.out)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			if !c.watchOut {
				if s.ctl(syscall.EPOLL_CTL_MOD, fd, syscall.EPOLLIN|syscall.EPOLLOUT) != nil {
					s.close(fd)
					return
				}
				c.watchOut = true
			}
			return
		}
		if err != nil {
			s.close(fd)
			return
		}
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	if c.closeAfter {
		s.close(fd)
		return
	}
	if c.watchOut {
		if s.ctl(syscall.EPOLL_CTL_MOD, fd, syscall.EPOLLIN) != nil {
			s.close(fd)
			return
		}
		c.watchOut = false
	}
	s.parse(fd)
}
