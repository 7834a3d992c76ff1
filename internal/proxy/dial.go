package proxy

import (
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/upstream"
)

// This file opens upstream connections: address families, socket options
// and proxy_bind.

// upstreamSockaddr is the socket family and address of an upstream
// server: "ip:port", or "unix:/path" for a unix domain socket.
func upstreamSockaddr(addr string) (int, unix.Sockaddr, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: path}, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, nil, err
	}
	if ap.Addr().Is6() {
		return unix.AF_INET6, sockaddr(ap), nil
	}
	return unix.AF_INET, sockaddr(ap), nil
}

// dial opens a non-blocking connection to the peer, with the location's
// socket options (proxy_socket_keepalive, proxy_bind).
func (w *worker) dial(g *upGroup, p *upstream.Peer, lc *conf.LocConf) (*upConn, error) {
	family, sa, err := upstreamSockaddr(p.Conf.Addr)
	if err != nil {
		return nil, err
	}
	if w.loop.Free() == 0 {
		return nil, engine.ErrNoSlot
	}
	fd, err := engine.Socket(family)
	if err != nil {
		return nil, err
	}
	if family != unix.AF_UNIX {
		// TCP_NODELAY is not set here: a request written whole in one
		// call leaves at once without it, and setNodelay turns it on
		// when more follows (upConn.setNodelay), as nginx does.
		if lc.ProxySocketKeepalive {
			engine.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		}
		if lc.ProxyBind.IsValid() {
			if err := bindLocal(fd, family, lc.ProxyBind); err != nil {
				engine.Close(fd)
				return nil, &bindError{addr: lc.ProxyBind, err: err}
			}
		}
	}
	uc := &upConn{w: w, g: g, peer: p, born: w.loop.Now(), tcp: family != unix.AF_UNIX}
	c, err := w.loop.Add(fd, engine.KindUpstream, uc)
	if err != nil {
		engine.Close(fd)
		return nil, err
	}
	uc.c = c
	uc.sock.c = c
	uc.tr = &uc.sock
	c.OnRead = onUpRead
	c.OnWrite = onUpWrite
	c.OnTimer = onUpTimer
	err = engine.Connect(fd, sa)
	switch err {
	case nil:
	case unix.EINPROGRESS:
		uc.connecting = true
	default:
		c.Close()
		return nil, err
	}
	return uc, nil
}

// setNodelay turns Nagle's algorithm off on the connection's socket before
// a write that follows an earlier one of the same exchange: the part of a
// request body sent after its head, the TLS handshake's later records, a
// tunnel's bytes. Without it a small segment waits for the acknowledgement
// of the previous one, which the server may delay by up to 40 ms. A
// request written in one call needs no such call (nginx makes none either),
// which saves a system call per new upstream connection.
func (uc *upConn) setNodelay() {
	if uc.nodelay || !uc.tcp {
		return
	}
	uc.nodelay = true
	engine.SetsockoptInt(uc.c.Fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
}

// bindError is a failed proxy_bind, logged as nginx logs it.
type bindError struct {
	addr netip.Addr
	err  error
}

func (e *bindError) Error() string { return e.err.Error() }

// Unwrap gives the system error, so that the log names its number.
func (e *bindError) Unwrap() error { return e.err }

// bindLocal binds an upstream socket to proxy_bind's local address
// before it connects; the port is the kernel's choice.
func bindLocal(fd, family int, addr netip.Addr) error {
	switch {
	case family == unix.AF_INET && addr.Is4():
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: addr.As4()})
	case family == unix.AF_INET6 && addr.Is6():
		return unix.Bind(fd, &unix.SockaddrInet6{Addr: addr.As16()})
	}
	// nginx binds whatever it is given and lets bind() fail.
	return unix.EAFNOSUPPORT
}
