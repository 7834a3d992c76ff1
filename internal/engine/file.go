package engine

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Files a response is sent from are opened, examined, read and closed
// with raw calls too. Unlike a socket's, these calls may wait for the
// disk; nginx's worker waits for it there as well (without aio), and a
// loop's thread has nothing else to run meanwhile. What the runtime's
// path would add is the bookkeeping for a thread it believes blocked,
// which costs more than a file in the page cache does, and wakes its
// monitor thread on the loop's core.

// OpenFile opens path (which must hold no NUL byte) relative to the
// current directory with the flags; buf is scratch space for the
// NUL-terminated copy the kernel needs, kept by the caller for reuse.
func OpenFile(path []byte, flags int, buf *[]byte) (int, error) {
	b := append(append((*buf)[:0], path...), 0)
	*buf = b
	cwd := unix.AT_FDCWD
	n, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&b[0])), uintptr(flags), 0, 0, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// Stat examines the file path names (which must hold no NUL byte),
// following links, as stat(2); buf is scratch space as OpenFile's.
func Stat(path []byte, st *unix.Stat_t, buf *[]byte) error {
	b := append(append((*buf)[:0], path...), 0)
	*buf = b
	cwd := unix.AT_FDCWD
	_, _, e := unix.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(cwd), uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(st)), 0, 0, 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// Fstat examines an open file.
func Fstat(fd int, st *unix.Stat_t) error {
	_, _, e := unix.RawSyscall(unix.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(st)), 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// Pread reads from a file at an offset.
func Pread(fd int, p []byte, off int64) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(ptr), uintptr(len(p)), uintptr(off), 0, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(n), nil
}

// Sendfile sends up to n bytes of the file in from *off to the socket
// out, advancing *off by what was sent.
func Sendfile(out, in int, off *int64, n int) (int, error) {
	k, _, e := unix.RawSyscall6(unix.SYS_SENDFILE, uintptr(out), uintptr(in), uintptr(unsafe.Pointer(off)), uintptr(n), 0, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(k), nil
}
