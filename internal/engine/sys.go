package engine

import (
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket calls a loop makes on its non-blocking descriptors never wait,
// so they are made as raw system calls: without the Go runtime's
// entersyscall/exitsyscall bookkeeping, which would otherwise cost about
// as much as the call itself and wake the runtime's monitor thread to take
// back the processor of a thread it believes blocked. Only epoll_wait with
// a timeout may block, and it goes through the ordinary path (see wait).

// Errors returned as preallocated values, so that the common EAGAIN costs
// no allocation.
var (
	errEAGAIN error = unix.EAGAIN
	errEINTR  error = unix.EINTR
)

func errnoErr(e unix.Errno) error {
	switch e {
	case unix.EAGAIN:
		return errEAGAIN
	case unix.EINTR:
		return errEINTR
	}
	return e
}

// Read reads from a non-blocking socket. It returns the byte count (0 at
// end of stream) or -1 and the error, like unix.Read. It calls recvfrom
// rather than read: a socket's read goes through the file layer (the
// file position's lock, access notification) before it reaches the
// socket, which recvfrom calls directly; nginx receives with recv too.
// A descriptor that is not a socket is read with read.
func Read(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(ptr), uintptr(len(p)), 0, 0, 0)
	if e == unix.ENOTSOCK {
		n, _, e = unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	}
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// Write writes to a non-blocking socket, like unix.Write, through sendto
// for the reason Read uses recvfrom. MSG_NOSIGNAL makes a write to a
// connection the peer has reset fail with EPIPE without raising SIGPIPE,
// whose delivery the runtime would otherwise have to field and ignore.
// A descriptor that is not a socket is written with write.
func Write(fd int, p []byte) (int, error) {
	return send(fd, p, unix.MSG_NOSIGNAL)
}

func send(fd int, p []byte, flags int) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), uintptr(flags), 0, 0)
	if e == unix.ENOTSOCK {
		n, _, e = unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	}
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// pollNow asks epoll for ready events without waiting.
func pollNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// waitRaw waits up to timeout milliseconds for events through a raw
// call, which the runtime does not see: the loop's goroutine keeps its
// processor while it waits (see Loop.wait for why and for how long).
func waitRaw(epfd int, events []unix.EpollEvent, timeout int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(timeout), 0, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// waitBlocking waits up to timeout milliseconds through the ordinary
// call: the runtime knows the thread may block, hands its processor to
// other work and lets its monitor thread sleep while the loop is idle.
func waitBlocking(epfd int, events []unix.EpollEvent, timeout int) (int, error) {
	return unix.EpollWait(epfd, events, timeout)
}

// ErrAgain is returned by Conn.Read and Conn.Write when the socket would
// block; the connection's readiness flag is cleared by then, and the
// edge-triggered event for it wakes the loop when it is ready again.
var ErrAgain = errors.New("engine: socket not ready")

// Read reads from the connection's socket, retrying on EINTR. It returns
// n > 0 bytes; or 0 and nil at the end of the stream; or 0 and ErrAgain
// when nothing is there (ReadReady cleared); or 0 and the error. A short
// read clears ReadReady too (see ShortRead), saving the read that would
// only say EAGAIN.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		n, err := Read(c.Fd, p)
		switch {
		case n > 0:
			if n < len(p) {
				c.ShortRead()
			}
			return n, nil
		case n == 0:
			return 0, nil
		case err == errEAGAIN:
			c.ReadReady = false
			return 0, ErrAgain
		case err != errEINTR:
			return 0, err
		}
	}
}

// Write writes to the connection's socket, retrying on EINTR. It returns
// the bytes written, or 0 and ErrAgain when the socket's buffer is full
// (WriteReady cleared), or 0 and the error.
func (c *Conn) Write(p []byte) (int, error) {
	for {
		n, err := Write(c.Fd, p)
		switch {
		case n >= 0:
			return n, nil
		case err == errEAGAIN:
			c.WriteReady = false
			return 0, ErrAgain
		case err != errEINTR:
			return 0, err
		}
	}
}

// WriteMore writes as Write does, telling the kernel that more bytes
// follow at once (MSG_MORE), so that it holds a part of a packet back
// until they come: a response head written before sendfile(2) sends the
// file leaves in full packets with the file's first bytes, as nginx's
// tcp_nopush (TCP_CORK) makes it, without corking and uncorking.
func (c *Conn) WriteMore(p []byte) (int, error) {
	for {
		n, err := send(c.Fd, p, unix.MSG_MORE|unix.MSG_NOSIGNAL)
		switch {
		case n >= 0:
			return n, nil
		case err == errEAGAIN:
			c.WriteReady = false
			return 0, ErrAgain
		case err != errEINTR:
			return 0, err
		}
	}
}

// The calls below open, connect, configure and close a loop's sockets.
// None of them waits on a non-blocking socket, so they too are raw: the
// runtime's path (x/sys/unix) would cost about as much again, and it
// parses an accepted peer's address into a new Sockaddr after asking the
// listener its protocol (one getsockopt more per connection).

// Accept4 accepts a connection from a non-blocking listener: the new
// descriptor, non-blocking and close-on-exec, and the peer's address
// (the zero AddrPort for a unix socket's peer).
func Accept4(fd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	size := uint32(unix.SizeofSockaddrAny)
	n, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, errnoErr(e)
	}
	return int(n), peerAddr(&rsa), nil
}

// peerAddr reads an IPv4 or IPv6 address and port from a raw sockaddr.
func peerAddr(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// Socket opens a non-blocking, close-on-exec stream socket of the family.
func Socket(family int) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// Connect starts connecting a non-blocking socket to an IPv4 or IPv6
// address (EINPROGRESS while the handshake runs); other addresses go the
// runtime's way.
func Connect(fd int, sa unix.Sockaddr) error {
	var ptr unsafe.Pointer
	var size uintptr
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		raw := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Addr}
		p := (*[2]byte)(unsafe.Pointer(&raw.Port))
		p[0], p[1] = byte(a.Port>>8), byte(a.Port)
		ptr, size = unsafe.Pointer(&raw), unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		raw := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.Addr, Scope_id: a.ZoneId}
		p := (*[2]byte)(unsafe.Pointer(&raw.Port))
		p[0], p[1] = byte(a.Port>>8), byte(a.Port)
		ptr, size = unsafe.Pointer(&raw), unix.SizeofSockaddrInet6
	default:
		return unix.Connect(fd, sa)
	}
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(ptr), size)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// SetsockoptInt sets an integer socket option.
func SetsockoptInt(fd, level, opt, value int) error {
	v := int32(value)
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// setLingerZero makes the socket's close send a reset (SO_LINGER on, a
// zero timeout).
func setLingerZero(fd int) error {
	l := unix.Linger{Onoff: 1, Linger: 0}
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_LINGER, uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// SocketError returns and clears the socket's pending error (SO_ERROR):
// how a non-blocking connect ended.
func SocketError(fd int) error {
	var v int32
	size := uint32(4)
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR, uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 {
		return errnoErr(e)
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// Shutdown shuts down part of a full-duplex connection.
func Shutdown(fd, how int) error {
	_, _, e := unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// Close closes a descriptor. A socket's close never waits: headroom
// sets SO_LINGER only with a zero timeout, which resets the connection
// at once (Conn.Reset).
func Close(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// epollCtl adds, changes or removes a descriptor's registration.
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}
