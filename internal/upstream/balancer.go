// Package upstream holds a worker's view of an upstream group: nginx's
// smooth weighted round-robin, passive health (max_fails/fail_timeout),
// backup and down servers. Each worker has its own Group, as nginx workers
// do without a shared zone, so picking a server takes no lock.
package upstream

import (
	"time"

	"headroom/internal/conf"
)

// Peer is one server of a group as seen by one worker.
type Peer struct {
	Conf *conf.UpstreamServer
	// Index is the peer's position in its tier, used in tried-sets.
	Index int
	// Server is the peer's position in the upstream's Servers, its index
	// in the group's Shared state.
	Server int

	weight        int
	currentWeight int
	effective     int

	fails   int
	checked time.Time
	// accessed is when the last failure happened; fail_timeout counts
	// from it.
	accessed time.Time

	// Active is the number of requests this worker has at the peer.
	Active int
}

// Group is a worker's round-robin state for one upstream block.
type Group struct {
	Conf    *conf.Upstream
	Primary []*Peer
	Backup  []*Peer
	// Shared is the state all workers see: connections per server for
	// max_conns, and the queue.
	Shared *Shared
}

// NewGroup builds a worker's state for an upstream, over the state that
// all workers share.
func NewGroup(u *conf.Upstream, shared *Shared) *Group {
	g := &Group{Conf: u, Shared: shared}
	for i, s := range u.Servers {
		p := &Peer{Conf: s, Server: i, weight: max(s.Weight, 1)}
		p.effective = p.weight
		if s.Backup {
			p.Index = len(g.Backup)
			g.Backup = append(g.Backup, p)
		} else {
			p.Index = len(g.Primary)
			g.Primary = append(g.Primary, p)
		}
	}
	return g
}

// Tried records which peers a request has already tried, one bit per peer
// and tier; groups larger than 64 servers per tier share bits modulo 64,
// which only makes a retry skip a server it could have used.
type Tried struct {
	primary, backup uint64
}

func (t *Tried) has(backup bool, i int) bool {
	if backup {
		return t.backup&(1<<(uint(i)%64)) != 0
	}
	return t.primary&(1<<(uint(i)%64)) != 0
}

// Mark records that the peer was tried.
func (t *Tried) Mark(p *Peer) {
	if p.Conf.Backup {
		t.backup |= 1 << (uint(p.Index) % 64)
	} else {
		t.primary |= 1 << (uint(p.Index) % 64)
	}
}

// Tries returns the number of peers in the group, nginx's default number of
// tries for a request (primary and backup servers together).
func (g *Group) Tries() int { return len(g.Primary) + len(g.Backup) }

// Pick chooses the next peer by nginx's smooth weighted round-robin among
// the usable primary peers not yet tried; when none is usable it tries the
// backup peers. It returns nil when no peer can take the request, which
// nginx reports as "no live upstreams".
func (g *Group) Pick(now time.Time, tried *Tried) *Peer {
	if len(g.Primary) == 1 && len(g.Backup) == 0 {
		// A lone server is never marked unavailable by failures, as in
		// nginx: there is nothing better to send the request to.
		p := g.Primary[0]
		if p.Conf.Down || tried.has(false, 0) || g.Shared.Full(p.Server) {
			return nil
		}
		return p
	}
	if p := g.pick(g.Primary, now, tried, false); p != nil {
		return p
	}
	if p := g.pick(g.Backup, now, tried, true); p != nil {
		return p
	}
	// Every server is down or failed: forget the failures so that the
	// next request tries them again, as nginx does.
	for _, p := range g.Primary {
		p.fails = 0
	}
	for _, p := range g.Backup {
		p.fails = 0
	}
	return nil
}

func (g *Group) pick(peers []*Peer, now time.Time, tried *Tried, backup bool) *Peer {
	var best *Peer
	total := 0
	for _, p := range peers {
		if !g.usable(p, now, tried, backup) {
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
	if now.Sub(best.checked) > best.Conf.FailTimeout {
		best.checked = now
	}
	return best
}

// Fail records a failed attempt at the peer (nginx's NGX_PEER_FAILED): it
// counts towards max_fails within fail_timeout and lowers the peer's
// effective weight so that traffic returns to it gradually.
func (g *Group) Fail(p *Peer, now time.Time) {
	p.fails++
	p.accessed = now
	p.checked = now
	if p.Conf.MaxFails > 0 {
		p.effective -= p.weight / p.Conf.MaxFails
	}
	if p.effective < 0 {
		p.effective = 0
	}
}

// Success records a successful attempt: once a peer answers after its
// fail_timeout has passed since the last failure, its failures are
// forgotten, as in nginx.
func (g *Group) Success(p *Peer, now time.Time) {
	if p.accessed.Before(p.checked) {
		p.fails = 0
	}
}

// usable reports whether a peer may take a request now: not down, not
// tried by this request, not out after failures, not at max_conns.
func (g *Group) usable(p *Peer, now time.Time, tried *Tried, backup bool) bool {
	if p.Conf.Down || tried.has(backup, p.Index) {
		return false
	}
	if !p.FailedUntil(now).IsZero() {
		return false
	}
	return !g.Shared.Full(p.Server)
}

// FailedUntil returns when the peer may be used again after max_fails
// failures within fail_timeout, or the zero time when it is not out.
func (p *Peer) FailedUntil(now time.Time) time.Time {
	if p.Conf.MaxFails > 0 && p.fails >= p.Conf.MaxFails && now.Sub(p.checked) <= p.Conf.FailTimeout {
		return p.checked.Add(p.Conf.FailTimeout)
	}
	return time.Time{}
}

// HasRoom reports whether some peer could take the request now.
func (g *Group) HasRoom(now time.Time, tried *Tried) bool {
	for _, p := range g.Primary {
		if g.usable(p, now, tried, false) {
			return true
		}
	}
	for _, p := range g.Backup {
		if g.usable(p, now, tried, true) {
			return true
		}
	}
	return false
}

// Peer returns this worker's peer for server i of the upstream.
func (g *Group) Peer(i int) *Peer {
	for _, tier := range [][]*Peer{g.Primary, g.Backup} {
		for _, p := range tier {
			if p.Server == i {
				return p
			}
		}
	}
	return nil
}

// AtCapacity reports whether a request found no server because those it
// could use are at their max_conns (and not because they are down or
// failed): the case for the queue, not for "no live upstreams".
func (g *Group) AtCapacity(tried *Tried) bool {
	for _, tier := range [][]*Peer{g.Primary, g.Backup} {
		for _, p := range tier {
			if !p.Conf.Down && !tried.has(p.Conf.Backup, p.Index) && g.Shared.Full(p.Server) {
				return true
			}
		}
	}
	return false
}
