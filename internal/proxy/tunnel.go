package proxy

import (
	"headroom/internal/engine"
)

// startTunnel switches an upgraded connection (WebSocket and the like) to
// relaying bytes both ways until either side closes, as nginx does after
// a 101 response. Client-bound bytes go through out, upstream-bound ones
// through upOut; bytes that came with the 101 head or after the request
// head start them off.
func (cc *clientConn) startTunnel() {
	r := cc.r
	cc.setState(connTunnel)
	// As nginx with tcp_nodelay on, an upgraded connection's small
	// messages leave at once.
	if r.lc.Static.TCPNodelay {
		r.up.setNodelay()
	}
	r.tunnelHead = int64(len(cc.out) - cc.outOff)
	// Client bytes already buffered are upstream-bound.
	r.upOut = append(r.upOut[:0], cc.in[cc.inPos:cc.inLen]...)
	r.upOutOff = 0
	cc.inPos, cc.inLen = 0, 0
	// Upstream bytes already buffered are client-bound.
	cc.out = append(cc.out, r.upIn[r.upPos:r.upInLen]...)
	r.upPos, r.upInLen = 0, 0
	r.up.c.SetTimer(r.lc.ProxyReadTimeout)
	cc.tunnelFromUpstream()
	if cc.state == connTunnel {
		cc.tunnelFromClient()
	}
}

// tunnelFromClient moves client bytes to the upstream.
func (cc *clientConn) tunnelFromClient() {
	r := cc.r
	if r.up == nil {
		return
	}
	moved, open := pump(cc.tr, r.up.tr, &r.upOut, &r.upOutOff)
	if moved > 0 {
		r.up.c.SetTimer(r.lc.ProxyReadTimeout)
	}
	if !open {
		cc.endTunnel()
	}
}

// tunnelFromUpstream moves upstream bytes to the client.
func (cc *clientConn) tunnelFromUpstream() {
	r := cc.r
	if r.up == nil {
		return
	}
	moved, open := pump(r.up.tr, cc.tr, &cc.out, &cc.outOff)
	// As nginx, what an upgraded connection carries to the client is
	// the answer's body ($body_bytes_sent).
	r.bytesSent += moved
	head := min(moved, r.tunnelHead)
	r.tunnelHead -= head
	r.bodySent += moved - head
	if moved > 0 {
		r.up.c.SetTimer(r.lc.ProxyReadTimeout)
	}
	if !open {
		cc.endTunnel()
	}
}

// pump moves bytes from src to dst through buf (bytes buf[*off:] are still
// to be written) until one side would block. It returns how many bytes it
// wrote and false once either side has closed.
func pump(src, dst transport, buf *[]byte, off *int) (moved int64, open bool) {
	for {
		if *off < len(*buf) {
			n, err := dst.Write((*buf)[*off:])
			if n > 0 {
				*off += n
				moved += int64(n)
				continue
			}
			return moved, err == engine.ErrAgain
		}
		*buf, *off = (*buf)[:0], 0
		if !src.Readable() {
			return moved, true
		}
		n, err := src.Read((*buf)[:cap(*buf)])
		if n > 0 {
			*buf = (*buf)[:n]
			continue
		}
		return moved, err == engine.ErrAgain
	}
}

// endTunnel closes both sides once either has closed, as nginx does.
func (cc *clientConn) endTunnel() {
	cc.abort()
}
