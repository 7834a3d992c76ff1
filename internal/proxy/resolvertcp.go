package proxy

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"

	"headroom/internal/dns"
	"headroom/internal/engine"
	"headroom/internal/logs"
)

// A name server whose UDP answer is truncated (TC) is asked again over
// TCP, as nginx's resolver does: the same query, with a two-byte length
// before it (RFC 1035 4.2.2), on a non-blocking connection of its own in
// a slot of kind KindResolver, taken from the free slots while it lasts.
// Its answer goes through the same checks as a UDP one; the connection
// is closed once it came, or after resendEvery. A query that cannot go
// over TCP (no free slot, a refused connection) waits for the resend to
// the next server, as any unanswered one.

// dnsTCPQuery is one query asked over TCP.
type dnsTCPQuery struct {
	d    *dnsClient
	c    *engine.Conn
	srv  netip.AddrPort
	out  []byte
	in   []byte
	sent bool
}

// askTCP asks the query with the given ID and type for the node again
// over TCP, of the server whose UDP answer was truncated.
func (d *dnsClient) askTCP(n *dnsNode, id, qtype uint16, srv netip.AddrPort) {
	w := d.w
	if w.loop.Free() == 0 {
		return
	}
	q, err := dns.AppendQuery(make([]byte, 2, 2+512), id, n.name, qtype)
	if err != nil {
		return
	}
	binary.BigEndian.PutUint16(q, uint16(len(q)-2))
	family := unix.AF_INET
	if !srv.Addr().Is4() {
		family = unix.AF_INET6
	}
	fd, err := engine.Socket(family)
	if err != nil {
		w.srv.log.Logf(logs.Error, w.id, "socket() failed (%s), resolver: %s", logs.SysError(err), srv)
		return
	}
	t := &dnsTCPQuery{d: d, srv: srv, out: q}
	c, err := w.loop.Add(fd, engine.KindResolver, t)
	if err != nil {
		engine.Close(fd)
		return
	}
	t.c = c
	c.OnRead = onResolverTCPRead
	c.OnWrite = onResolverTCPWrite
	c.OnTimer = onResolverTCPTimer
	c.SetTimer(resendEvery)
	switch err := engine.Connect(fd, sockaddr(srv)); err {
	case nil, unix.EINPROGRESS:
	default:
		t.fail("connect()", err)
	}
}

// fail logs a failed step and closes the connection; the query waits
// for its resend.
func (t *dnsTCPQuery) fail(step string, err error) {
	t.d.w.srv.log.Logf(logs.Error, t.d.w.id, "%s failed (%s), resolver: %s", step, logs.SysError(err), t.srv)
	t.close()
}

func (t *dnsTCPQuery) close() {
	if t.c != nil {
		t.c.Close()
		t.c = nil
	}
}

func onResolverTCPWrite(c *engine.Conn) {
	t := c.Data.(*dnsTCPQuery)
	if t.sent {
		return
	}
	if err := engine.SocketError(c.Fd); err != nil {
		t.fail("connect()", err)
		return
	}
	n, err := c.Write(t.out)
	if err == engine.ErrAgain {
		return
	}
	if err != nil {
		t.fail("send()", err)
		return
	}
	t.out = t.out[n:]
	t.sent = len(t.out) == 0
}

func onResolverTCPRead(c *engine.Conn) {
	t := c.Data.(*dnsTCPQuery)
	var buf [4096]byte
	for t.c != nil {
		n, err := c.Read(buf[:])
		if err == engine.ErrAgain {
			return
		}
		if err != nil {
			t.fail("recv()", err)
			return
		}
		if n == 0 {
			if !t.sent && c.EOF {
				// Refused or reset before the query went out.
				if err := engine.SocketError(c.Fd); err != nil {
					t.fail("connect()", err)
					return
				}
			}
			t.d.w.srv.log.Logf(logs.Error, t.d.w.id, "connection closed by the name server before its answer, resolver: %s", t.srv)
			t.close()
			return
		}
		t.in = append(t.in, buf[:n]...)
		if len(t.in) >= 2 {
			size := int(binary.BigEndian.Uint16(t.in))
			if len(t.in) >= 2+size {
				t.close()
				t.d.answer(t.in[2:2+size], t.srv.String(), true)
				return
			}
		}
	}
}

// onResolverTCPTimer gives a TCP query up: the resend asks again.
func onResolverTCPTimer(c *engine.Conn) {
	t := c.Data.(*dnsTCPQuery)
	t.d.w.srv.log.Logf(logs.Error, t.d.w.id, "no answer over TCP in %v, resolver: %s", resendEvery, t.srv)
	t.close()
}
