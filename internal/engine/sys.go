package engine

import (
	"errors"
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

// Read reads from a non-blocking descriptor. It returns the byte count
// (0 at end of stream) or -1 and the error, like unix.Read.
func Read(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// Write writes to a non-blocking descriptor, like unix.Write.
func Write(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
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

// wait returns ready events, waiting up to timeout milliseconds. Under
// load events are nearly always ready, so it first asks without waiting
// through a raw call, and only when nothing is ready makes the blocking
// call the runtime must know about.
func wait(epfd int, events []unix.EpollEvent, timeout int) (int, error) {
	if n, err := pollNow(epfd, events); n != 0 || err != nil || timeout == 0 {
		return n, err
	}
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
