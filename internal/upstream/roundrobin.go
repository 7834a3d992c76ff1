package upstream

import "time"

// roundRobin is nginx's default method, smooth weighted round robin: each
// pick adds every usable peer's effective weight to its current weight,
// takes the peer with the highest and subtracts the total from it, which
// spreads a peer's turns evenly (weights 5, 1, 1 give a a b a c a a).
type roundRobin struct{ *peers }

// Pick chooses by smooth weighted round robin.
func (b *roundRobin) Pick(now time.Time, t *Tried, key Key) *Peer {
	return b.pick(now, t, key, func(now time.Time, t *Tried, st *pickState, _ Key) *Peer { return b.rr(now, t, st) })
}

// rr is nginx's round robin pick, which the other methods also fall back
// on: a lone server whenever it is up and below max_conns; otherwise the
// primary servers, and once none of them is usable the backup servers,
// among which the request then stays.
func (ps *peers) rr(now time.Time, t *Tried, st *pickState) *Peer {
	if ps.single {
		p := ps.primary[0]
		if p.Conf.Down || t.has(p) || ps.shared.Full(p.Server) {
			return nil
		}
		return p
	}
	if !st.backup {
		if p := ps.smooth(ps.primary, now, t); p != nil {
			return p
		}
		if len(ps.backup) == 0 {
			return nil
		}
		st.backup = true
	}
	return ps.smooth(ps.backup, now, t)
}

// smooth is one round of smooth weighted round robin over the usable
// peers of a tier. A failure lowers a peer's effective weight (Fail), and
// each round in which it is usable raises it by one towards its weight.
func (ps *peers) smooth(tier []*Peer, now time.Time, t *Tried) *Peer {
	var best *Peer
	total := 0
	for _, p := range tier {
		if !ps.usable(p, now, t) {
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
	if best == nil {
		return nil
	}
	best.currentWeight -= total
	return picked(best, now)
}
