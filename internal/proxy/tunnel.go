package proxy

import (
	"golang.org/x/sys/unix"

	"headroom/internal/engine"
)

// startTunnel switches an upgraded connection (WebSocket and the like) to
// relaying bytes both ways until either side closes, as nginx does after
// a 101 response. Bytes the upstream sent after its 101 head are already
// in upIn; bytes the client sent after its request are in the client's
// buffer after the head.
func (cc *clientConn) startTunnel() {
	r := cc.r
	cc.state = stTunnel
	// Client bytes already buffered are upstream-bound.
	r.upOut = append(r.upOut[:0], cc.in[cc.inPos:cc.inLen]...)
	r.upOutOff = 0
	cc.inPos, cc.inLen = 0, 0
	// Upstream bytes already buffered are client-bound.
	cc.out = append(cc.out, r.upIn[r.upPos:r.upInLen]...)
	r.upPos, r.upInLen = 0, 0
	r.up.c.SetTimer(r.lc.ProxyReadTimeout)
	cc.tunnelFromUpstream()
	if cc.state == stTunnel {
		cc.tunnelFromClient()
	}
}

// tunnelFromClient moves client bytes to the upstream.
func (cc *clientConn) tunnelFromClient() {
	r := cc.r
	uc := r.up
	if uc == nil {
		return
	}
	for {
		if r.upOutOff < len(r.upOut) {
			n, err := engine.Write(uc.c.Fd, r.upOut[r.upOutOff:])
			if n > 0 {
				r.upOutOff += n
				continue
			}
			if err == unix.EAGAIN {
				uc.c.WriteReady = false
				return
			}
			cc.endTunnel()
			return
		}
		r.upOut = r.upOut[:0]
		r.upOutOff = 0
		if !cc.c.ReadReady {
			return
		}
		n, err := engine.Read(cc.c.Fd, r.upOut[:cap(r.upOut)])
		if n > 0 {
			r.upOut = r.upOut[:n]
			uc.c.SetTimer(r.lc.ProxyReadTimeout)
			continue
		}
		if err == unix.EAGAIN {
			cc.c.ReadReady = false
			return
		}
		if err == unix.EINTR {
			continue
		}
		cc.endTunnel()
		return
	}
}

// tunnelFromUpstream moves upstream bytes to the client.
func (cc *clientConn) tunnelFromUpstream() {
	r := cc.r
	uc := r.up
	if uc == nil {
		return
	}
	if r.upIn == nil {
		r.upIn = cc.w.getBuf()
	}
	for {
		if cc.outOff < len(cc.out) {
			n, err := engine.Write(cc.c.Fd, cc.out[cc.outOff:])
			if n > 0 {
				cc.outOff += n
				r.bytesSent += int64(n)
				continue
			}
			if err == unix.EAGAIN {
				cc.c.WriteReady = false
				return
			}
			cc.endTunnel()
			return
		}
		cc.out = cc.out[:0]
		cc.outOff = 0
		if !uc.c.ReadReady {
			return
		}
		n, err := engine.Read(uc.c.Fd, r.upIn)
		if n > 0 {
			cc.out = append(cc.out, r.upIn[:n]...)
			uc.c.SetTimer(r.lc.ProxyReadTimeout)
			continue
		}
		if err == unix.EAGAIN {
			uc.c.ReadReady = false
			return
		}
		if err == unix.EINTR {
			continue
		}
		cc.endTunnel()
		return
	}
}

// endTunnel closes both sides once either has closed, as nginx does.
func (cc *clientConn) endTunnel() {
	cc.abort()
}
