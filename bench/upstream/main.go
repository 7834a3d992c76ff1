// Command upstream is the benchmark's origin server: a single-threaded epoll
// loop that answers every HTTP/1.1 request head it reads with the same fixed
// 200 response carrying a 12-byte body ("hello world\n"). It keeps every
// connection open until the peer closes it, so proxies can keep upstream
// connections alive.
//
// It does only what the benchmark needs: requests must be GETs without a
// body, and pipelined requests are answered in order. It is not a general
// HTTP server.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"
)

const body = "hello world\n"

var response = []byte("HTTP/1.1 200 OK\r\n" +
	"Server: bench-upstream\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
	"\r\n" + body)

// conn is the per-descriptor state: how much of the "\r\n\r\n" terminator
// has been seen at the end of the previous read, and response bytes the
// kernel did not take yet.
type conn struct {
	open    bool
	matched uint8
	pending []byte
}

type server struct {
	ep       int
	lfd      int
	conns    []conn
	out      []byte
	accepted atomic.Uint64
	served   atomic.Uint64
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address (loopback IPv4 address:port)")
	statsFile := flag.String("stats", "", "on SIGUSR1, write \"accepted N served M\" to this file")
	flag.Parse()

	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
		fatal(fmt.Errorf("bad -addr %q: want a loopback IPv4 address and port", *addr))
	}
	// The event loop keeps its thread and its P for itself; the second P runs
	// the signal goroutine.
	runtime.LockOSThread()
	runtime.GOMAXPROCS(2)

	s := &server{out: make([]byte, 0, 64*len(response))}
	if err := s.listen(ap); err != nil {
		fatal(err)
	}
	if *statsFile != "" {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGUSR1)
		go s.dumpStats(ch, *statsFile)
	}
	if err := s.loop(); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "upstream:", err)
	os.Exit(1)
}

func (s *server) dumpStats(ch <-chan os.Signal, path string) {
	for range ch {
		line := fmt.Sprintf("accepted %d served %d\n", s.accepted.Load(), s.served.Load())
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(line), 0o644); err == nil {
			_ = os.Rename(tmp, path)
		}
	}
}

func (s *server) listen(ap netip.AddrPort) error {
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
	if err := syscall.Listen(fd, 4096); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	s.ep, s.lfd = ep, fd
	return nil
}

func (s *server) loop() error {
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, 64*1024)
	for {
		n, err := rawEpollWait(s.ep, events, 1000)
		if err == syscall.EINTR || n < 0 {
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
	}
}

func (s *server) accept() {
	for {
		fd, _, err := syscall.Accept4(s.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			// EAGAIN ends the batch; other errors (EMFILE, ECONNABORTED)
			// are retried on the next readiness event.
			return
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			syscall.Close(fd)
			continue
		}
		for fd >= len(s.conns) {
			s.conns = append(s.conns, conn{})
		}
		s.conns[fd] = conn{open: true}
		s.accepted.Add(1)
	}
}

func (s *server) close(fd int) {
	if fd < len(s.conns) {
		s.conns[fd] = conn{}
	}
	// Closing the descriptor also removes it from the epoll set.
	syscall.Close(fd)
}

// read consumes what the peer sent, counts complete request heads and
// answers each one.
func (s *server) read(fd int, buf []byte) {
	c := &s.conns[fd]
	if !c.open {
		return
	}
	if len(c.pending) > 0 {
		// Still writing earlier answers; EPOLLOUT resumes reading.
		return
	}
	s.out = s.out[:0]
	for {
		n, err := rawRead(fd, buf)
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
		heads := c.scan(buf[:n])
		for ; heads > 0; heads-- {
			s.out = append(s.out, response...)
			s.served.Add(1)
		}
		if n < len(buf) {
			break
		}
	}
	if len(s.out) > 0 {
		s.write(fd, c, s.out)
	}
}

// scan advances the terminator match over p and returns how many request
// heads ended in it.
func (c *conn) scan(p []byte) int {
	heads := 0
	m := c.matched
	for _, b := range p {
		switch {
		case b == '\r' && (m == 0 || m == 2):
			m++
		case b == '\n' && (m == 1 || m == 3):
			m++
			if m == 4 {
				heads++
				m = 0
			}
		case b == '\r':
			m = 1
		default:
			m = 0
		}
	}
	c.matched = m
	return heads
}

func (s *server) write(fd int, c *conn, p []byte) {
	for len(p) > 0 {
		n, err := rawWrite(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			c.pending = append(c.pending[:0], p...)
			ev := syscall.EpollEvent{Events: syscall.EPOLLOUT, Fd: int32(fd)}
			if syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_MOD, fd, &ev) != nil {
				s.close(fd)
			}
			return
		}
		if err != nil {
			s.close(fd)
			return
		}
		p = p[n:]
	}
}

func (s *server) flush(fd int) {
	c := &s.conns[fd]
	if !c.open {
		return
	}
	for len(c.pending) > 0 {
		n, err := rawWrite(fd, c.pending)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return
		}
		if err != nil {
			s.close(fd)
			return
		}
		c.pending = c.pending[n:]
	}
	c.pending = nil
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_MOD, fd, &ev) != nil {
		s.close(fd)
	}
}

// rawRead, rawWrite and rawEpollWait make their system calls without telling
// the Go scheduler. Every descriptor is non-blocking, and the event loop owns
// its thread, so nothing else waits for it while epoll_pwait blocks; this
// saves the scheduler's bookkeeping and hand-offs on every call.
func rawRead(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

func rawEpollWait(ep int, events []syscall.EpollEvent, msec int) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
