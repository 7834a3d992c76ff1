package upstream

import (
	"net/netip"
	"time"
)

// ipHash is nginx's ip_hash: the client's address, its first three octets
// for IPv4 (so that a client's /24 shares a server) and all sixteen bytes
// for IPv6, is folded into a hash below 6271, starting from 89, by
// hash = (hash*113 + byte) % 6271; the hash modulo the total weight falls
// on a server by weight. When that server cannot be used the address is
// folded in again from the hash reached, and after 20 such draws round
// robin decides. A request's later tries go on from its hash.
type ipHash struct{ *peers }

// Pick chooses by the client's address.
func (b *ipHash) Pick(now time.Time, t *Tried, key Key) *Peer {
	return b.pick(now, t, key, b.choose)
}

func (b *ipHash) choose(now time.Time, t *Tried, st *pickState, key Key) *Peer {
	if st.tries > 20 || b.single {
		return b.rr(now, t, st)
	}
	if !st.started {
		st.started, st.hash = true, 89
	}
	addr, n := ipHashBytes(key.Addr)
	h := st.hash
	for {
		for _, c := range addr[:n] {
			h = (h*113 + uint32(c)) % 6271
		}
		if p := b.byWeight(h % b.totalWeight); b.usable(p, now, t) {
			st.hash = h
			return picked(p, now)
		}
		st.tries++
		if st.tries > 20 {
			return b.rr(now, t, st)
		}
	}
}

// ipHashBytes returns the bytes of a client address that ip_hash uses:
// three for IPv4, sixteen for IPv6 (an IPv4 client of an IPv6 socket
// included, as nginx goes by the socket's family), and three zero bytes
// for a client without an IP address, such as one on a unix socket.
func ipHashBytes(a netip.Addr) ([16]byte, int) {
	var b [16]byte
	switch {
	case a.Is4():
		v4 := a.As4()
		copy(b[:], v4[:3])
		return b, 3
	case a.Is6():
		return a.As16(), 16
	}
	return b, 3
}
