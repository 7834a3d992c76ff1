package engine

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSocketCalls checks the raw socket calls against the standard
// library's side of a loopback connection: a listener the test opens
// accepts what Connect started, Accept4 reports the client's address as
// the client sees its own, SocketError reports a connect that succeeded
// and one that was refused, WriteMore's bytes arrive with what follows
// them, and an accepted socket inherits TCP_NODELAY from its listener.
func TestSocketCalls(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := netip.MustParseAddrPort(ln.Addr().String())

	fd, err := Socket(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	if err := Connect(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil && err != unix.EINPROGRESS {
		t.Fatalf("Connect: %v", err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := waitWritable(fd); err != nil {
		t.Fatal(err)
	}
	if err := SocketError(fd); err != nil {
		t.Fatalf("SocketError after a connect that succeeded: %v", err)
	}
	c := &Conn{Fd: fd}
	if _, err := c.WriteMore([]byte("head ")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("and body")); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("head and body"))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "head and body" {
		t.Fatalf("the peer read %q, %v", got, err)
	}

	// A port nobody listens on: the connect ends refused.
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := netip.MustParseAddrPort(free.Addr().String())
	free.Close()
	fd2, _ := Socket(unix.AF_INET)
	defer Close(fd2)
	if err := Connect(fd2, &unix.SockaddrInet4{Port: int(closed.Port()), Addr: closed.Addr().As4()}); err == nil || err == unix.EINPROGRESS {
		waitWritable(fd2)
		if err := SocketError(fd2); err != unix.ECONNREFUSED {
			t.Errorf("SocketError after a refused connect: %v, want ECONNREFUSED", err)
		}
	} else if err != unix.ECONNREFUSED {
		t.Errorf("Connect to a closed port: %v", err)
	}

	// Accept4 on a non-blocking listener with TCP_NODELAY.
	lfd, _ := Socket(unix.AF_INET)
	defer Close(lfd)
	SetsockoptInt(lfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(lfd, 8)
	sa, _ := unix.Getsockname(lfd)
	if _, _, err := Accept4(lfd); err != unix.EAGAIN {
		t.Errorf("Accept4 with nobody waiting: %v, want EAGAIN", err)
	}
	client, err := net.Dial("tcp", netip.AddrPortFrom(ap.Addr(), uint16(sa.(*unix.SockaddrInet4).Port)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var afd int
	var remote netip.AddrPort
	for deadline := time.Now().Add(5 * time.Second); ; {
		afd, remote, err = Accept4(lfd)
		if err != unix.EAGAIN || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Accept4: %v", err)
	}
	defer Close(afd)
	if want := netip.MustParseAddrPort(client.LocalAddr().String()); remote != want {
		t.Errorf("Accept4's peer %v, the client is %v", remote, want)
	}
	if v, err := unix.GetsockoptInt(afd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v == 0 {
		t.Errorf("accepted socket's TCP_NODELAY %d (%v), want it inherited from the listener", v, err)
	}
	if flags, _ := unix.FcntlInt(uintptr(afd), unix.F_GETFL, 0); flags&unix.O_NONBLOCK == 0 {
		t.Error("accepted socket is blocking")
	}
	if err := Shutdown(afd, unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after Shutdown the client read %d, %v; want EOF", n, err)
	}
}

// waitWritable waits until a connecting socket is writable.
func waitWritable(fd int) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	_, err := unix.Poll(fds, 5000)
	return err
}

// TestReadWriteSocketsAndPipes checks that Read and Write, which call
// recvfrom and sendto, move bytes over a socket and, through the fallback
// to read and write, over a pipe; and that a write to a socket whose peer
// is gone fails with EPIPE rather than killing the process by SIGPIPE.
func TestReadWriteSocketsAndPipes(t *testing.T) {
	sa, sb := socketPair(t)
	defer unix.Close(sa)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	for _, tc := range []struct {
		name   string
		w, r   int
		closeW bool
	}{
		{"socket", sa, sb, false},
		{"pipe", p[1], p[0], false},
	} {
		if n, err := Write(tc.w, []byte("hello")); n != 5 || err != nil {
			t.Fatalf("%s: Write = %d, %v", tc.name, n, err)
		}
		buf := make([]byte, 16)
		if n, err := Read(tc.r, buf); n != 5 || err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("%s: Read = %d %q, %v", tc.name, n, buf[:max(n, 0)], err)
		}
		if n, err := Read(tc.r, buf); n != -1 || err != unix.EAGAIN {
			t.Fatalf("%s: Read with nothing there = %d, %v, want -1, EAGAIN", tc.name, n, err)
		}
	}
	unix.Close(sb)
	if _, err := Write(sa, []byte("x")); err != unix.EPIPE {
		t.Fatalf("Write to a closed peer: %v, want EPIPE", err)
	}
}
