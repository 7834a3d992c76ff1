package upstream

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"time"

	"headroom/internal/conf"
)

// hash is nginx's "hash KEY": each round adds ((crc32(KEY) >> 16) &
// 0x7fff) to a running sum (from the second round on the key is prefixed
// with the round's number, "1KEY", "2KEY", ..., as Cache::Memcached
// rehashes), and the sum modulo the total weight falls on a server by
// weight. After 20 unusable draws, and for an empty key, round robin
// decides.
type hash struct {
	*peers
	// prefix holds a round's number while it is hashed: a buffer on the
	// stack would escape into crc32 and be allocated on every pick. A
	// group belongs to one worker, so one buffer serves its picks.
	prefix [20]byte
}

// Pick chooses by the request's key.
func (b *hash) Pick(now time.Time, t *Tried, key Key) *Peer {
	return b.pick(now, t, key, b.choose)
}

func (b *hash) choose(now time.Time, t *Tried, st *pickState, key Key) *Peer {
	if !st.started {
		st.started, st.key = true, key.Value
	}
	if st.tries > 20 || b.single || len(st.key) == 0 {
		return b.rr(now, t, st)
	}
	for {
		var sum uint32
		if st.rehash > 0 {
			sum = crc32.ChecksumIEEE(strconv.AppendInt(b.prefix[:0], int64(st.rehash), 10))
			sum = crc32.Update(sum, crc32.IEEETable, st.key)
		} else {
			sum = crc32.ChecksumIEEE(st.key)
		}
		st.hash += (sum >> 16) & 0x7fff
		st.rehash++
		if p := b.byWeight(st.hash % b.totalWeight); b.usable(p, now, t) {
			return picked(p, now)
		}
		st.tries++
		if st.tries > 20 {
			return b.rr(now, t, st)
		}
	}
}

// consistentHash is nginx's "hash KEY consistent", ketama consistent
// hashing compatible with Cache::Memcached::Fast: every primary server
// puts 160 points per unit of weight on a ring of 32-bit hashes,
// crc32(HOST "\0" PORT PREV) where PREV is the point before it (four
// little-endian bytes, zero for the first) and HOST and PORT come from
// the server as written in the configuration; a request goes to the
// first point at or after crc32(KEY), and when that point's server
// cannot be used, to the next point's. Servers written the same (a name
// with several addresses) share their points, and smooth weighted round
// robin chooses among them. After 20 unusable points, and for an empty
// key, round robin decides.
type consistentHash struct {
	*peers
	points []chashPoint
}

// chashPoint is one point of the ring: a hash and the server, as written,
// whose point it is.
type chashPoint struct {
	hash   uint32
	server string
}

func newConsistentHash(u *conf.Upstream, ps *peers) *consistentHash {
	points := ps.shared.chashRing(u, func() []chashPoint { return chashRing(ps.primary) })
	return &consistentHash{peers: ps, points: points}
}

// chashRing builds the ring of the primary peers, sorted by hash.
func chashRing(primary []*Peer) []chashPoint {
	n := 0
	for _, p := range primary {
		n += p.weight * 160
	}
	points := make([]chashPoint, 0, n)
	for _, p := range primary {
		host, port := splitServer(p.Conf.Name)
		base := crc32.ChecksumIEEE([]byte(host + "\x00" + port))
		var prev [4]byte
		for range p.weight * 160 {
			h := crc32.Update(base, crc32.IEEETable, prev[:])
			points = append(points, chashPoint{hash: h, server: p.Conf.Name})
			binary.LittleEndian.PutUint32(prev[:], h)
		}
	}
	slices.SortStableFunc(points, func(a, b chashPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	// A hash that came up more than once keeps its first point only.
	return slices.CompactFunc(points, func(a, b chashPoint) bool { return a.hash == b.hash })
}

// splitServer splits a server as written into the host and port that its
// points are hashed from: "unix:PATH" is the host PATH without a port;
// otherwise the digits after the last colon, if any, are the port.
func splitServer(s string) (host, port string) {
	if len(s) >= 5 && strings.EqualFold(s[:5], "unix:") {
		return s[5:], ""
	}
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c == ':' {
			return s[:i], s[i+1:]
		}
		if c < '0' || c > '9' {
			break
		}
	}
	return s, ""
}

// find returns the index of the first point at or after h; the number of
// points when there is none, which the ring wraps to its first point.
func (b *consistentHash) find(h uint32) uint32 {
	i, _ := slices.BinarySearchFunc(b.points, h, func(p chashPoint, h uint32) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	return uint32(i)
}

// Pick chooses by the request's key on the ring.
func (b *consistentHash) Pick(now time.Time, t *Tried, key Key) *Peer {
	return b.pick(now, t, key, b.choose)
}

func (b *consistentHash) choose(now time.Time, t *Tried, st *pickState, key Key) *Peer {
	if !st.started {
		st.started, st.key = true, key.Value
		st.hash = b.find(crc32.ChecksumIEEE(key.Value))
	}
	if st.tries > 20 || b.single || len(st.key) == 0 {
		return b.rr(now, t, st)
	}
	for {
		server := b.points[st.hash%uint32(len(b.points))].server
		var best *Peer
		total := 0
		for _, p := range b.primary {
			if p.Conf.Name != server || !b.usable(p, now, t) {
				continue
			}
			p.currentWeight += p.effective
			total += p.effective
			if p.effective < p.weight {
				p.effective++
			}
			if best == nil || p.currentWeight > best.currentWeight {
				best = p
			}
		}
		if best != nil {
			best.currentWeight -= total
			return picked(best, now)
		}
		st.hash++
		st.tries++
		if st.tries > 20 {
			return b.rr(now, t, st)
		}
	}
}
