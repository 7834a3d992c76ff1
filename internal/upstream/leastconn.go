package upstream

import "time"

// leastConn is nginx's least_conn: the usable peer with the fewest active
// connections relative to its weight; among several with the same ratio,
// smooth weighted round robin decides. Connections are this worker's
// (Peer.Active), as nginx counts them without a shared zone. Backup
// servers are used, the same way, once no primary server is usable.
type leastConn struct{ *peers }

// Pick chooses by least connections.
func (b *leastConn) Pick(now time.Time, t *Tried, key Key) *Peer {
	return b.pick(now, t, key, b.choose)
}

func (b *leastConn) choose(now time.Time, t *Tried, st *pickState, _ Key) *Peer {
	if b.single {
		return b.rr(now, t, st)
	}
	var p *Peer
	if !st.backup {
		p = b.least(b.primary, now, t)
		if p == nil && len(b.backup) > 0 {
			st.backup = true
		}
	}
	if p == nil && st.backup {
		p = b.least(b.backup, now, t)
	}
	return p
}

// least finds, in one tier, the usable peer with the lowest ratio of
// connections to weight, comparing conns*weight crosswise as nginx does
// so that no division rounds. When another peer has the same ratio, the
// tie is broken by smooth weighted round robin among the tied peers from
// the first of them on.
func (b *leastConn) least(tier []*Peer, now time.Time, t *Tried) *Peer {
	var best *Peer
	first, many := 0, false
	for i, p := range tier {
		if !b.usable(p, now, t) {
			continue
		}
		switch {
		case best == nil || p.Active*best.weight < best.Active*p.weight:
			best, first, many = p, i, false
		case p.Active*best.weight == best.Active*p.weight:
			many = true
		}
	}
	if best == nil {
		return nil
	}
	total := 0
	if many {
		for _, p := range tier[first:] {
			if p.Active*best.weight != best.Active*p.weight || !b.usable(p, now, t) {
				continue
			}
			p.currentWeight += p.effective
			total += p.effective
			if p.effective < p.weight {
				p.effective++
			}
			if p.currentWeight > best.currentWeight {
				best = p
			}
		}
	}
	best.currentWeight -= total
	return picked(best, now)
}
