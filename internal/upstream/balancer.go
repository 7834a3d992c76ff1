// Package upstream holds a worker's view of an upstream group: a Balancer
// that chooses the server for each try of a request by one of nginx's
// methods (smooth weighted round robin, least_conn, ip_hash, hash, random)
// over the same passive health (max_fails/fail_timeout), backup and down
// servers, and max_conns. Each worker has its own Group, as nginx workers
// do without a shared zone, so picking a server takes no lock; only the
// max_conns counts and the queue are shared by all workers (Shared).
package upstream

import (
	"net/netip"
	"time"

	"headroom/internal/conf"
)

// Balancer chooses the servers of one upstream group for one worker's
// requests. Every method keeps nginx's rules on which servers may be
// used: never a down one, one that failed max_fails times within
// fail_timeout, one this request already tried, or one at its max_conns.
type Balancer interface {
	// Pick chooses a server for the request's next try and takes its
	// place under max_conns; it returns nil when no server can take the
	// request now.
	Pick(now time.Time, tried *Tried, key Key) *Peer
	// Release ends a try's use of its server: the place under max_conns
	// goes to the oldest request waiting for the group, or back to the
	// server.
	Release(p *Peer)
	// Fail reports a failed try (nginx's NGX_PEER_FAILED): it counts
	// towards max_fails within fail_timeout.
	Fail(p *Peer, now time.Time)
	// Success reports a try that worked.
	Success(p *Peer, now time.Time)
}

// Key is what a request offers the methods that choose by the client or
// by a value: its client's address for ip_hash, its evaluated key for
// hash. The other methods ignore it, so the caller need not compute it
// for them.
type Key struct {
	// Addr is the client's address. It is not valid for a client on a
	// unix domain socket, which ip_hash hashes, as nginx does, as an
	// address of three zero bytes.
	Addr netip.Addr
	// Value is the evaluated hash key. The request keeps the value of its
	// first pick for its later ones, as nginx evaluates the key once per
	// request, so the caller must not change it afterwards.
	Value []byte
}

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

	// Active is the number of requests this worker has at the peer: the
	// connections least_conn and "random two" compare, counted per worker
	// as nginx counts them without a shared zone.
	Active int
}

// FailedUntil returns when the peer may be used again after max_fails
// failures within fail_timeout, or the zero time when it is not out.
func (p *Peer) FailedUntil(now time.Time) time.Time {
	if p.Conf.MaxFails > 0 && p.fails >= p.Conf.MaxFails && now.Sub(p.checked) <= p.Conf.FailTimeout {
		return p.checked.Add(p.Conf.FailTimeout)
	}
	return time.Time{}
}

// Tried is one request's memory across its tries: the servers it has
// tried, one bit per peer and tier (groups larger than 64 servers per
// tier share bits modulo 64, which only makes a retry skip a server it
// could have used), and the state nginx keeps per request for the
// balancing methods. The zero value is a request that has tried nothing.
type Tried struct {
	primary, backup uint64
	// state is the method's state as of the tries made; next is what it
	// becomes once nextPeer, the last peer picked, is tried. A pick that
	// is not followed by a try (the request first waits for a connection
	// slot) is thus made again from the same state.
	state, next pickState
	nextPeer    *Peer
}

// pickState is what nginx's methods keep per request between tries.
type pickState struct {
	// backup is set once the request has gone on to the backup servers:
	// as in nginx, its later tries stay among them.
	backup bool
	// started is set once a hashing method has set up its hash for the
	// request.
	started bool
	// tries counts the unusable servers a hashing or random method drew;
	// past 20, round robin decides, as in nginx.
	tries int
	// hash is ip_hash's running value, hash's running sum, or consistent
	// hash's index into its points.
	hash uint32
	// rehash counts hash's rounds; every round after the first hashes
	// the key prefixed with this number.
	rehash int
	// key is the request's hash key, from its first pick.
	key []byte
}

func (t *Tried) has(p *Peer) bool {
	bit := uint64(1) << (uint(p.Index) % 64)
	if p.Conf.Backup {
		return t.backup&bit != 0
	}
	return t.primary&bit != 0
}

// Mark records that the peer was tried. When it is the peer last picked,
// the method's state moves on with the try.
func (t *Tried) Mark(p *Peer) {
	bit := uint64(1) << (uint(p.Index) % 64)
	if p.Conf.Backup {
		t.backup |= bit
	} else {
		t.primary |= bit
	}
	if p == t.nextPeer {
		t.state = t.next
	}
	t.nextPeer = nil
}

// propose records the state a pick of p leads to, to be kept if p is
// tried, and returns p.
func (t *Tried) propose(st pickState, p *Peer) *Peer {
	t.next, t.nextPeer = st, p
	if p == nil {
		t.next = pickState{}
	}
	return p
}

// Group is a worker's state for one upstream block: its servers in their
// two tiers and the balancer that chooses among them.
type Group struct {
	Conf    *conf.Upstream
	Primary []*Peer
	Backup  []*Peer
	// Shared is the state all workers see: connections per server for
	// max_conns, and the queue.
	Shared *Shared
	// Balancer is the group's method, chosen by the upstream's
	// configuration.
	Balancer Balancer

	peers *peers
}

// NewGroup builds a worker's state for an upstream, over the state that
// all workers share, with the balancer its configuration names.
func NewGroup(u *conf.Upstream, shared *Shared) *Group {
	g := &Group{Conf: u, Shared: shared}
	ps := &peers{shared: shared}
	for i, s := range u.Servers {
		p := &Peer{Conf: s, Server: i, weight: max(s.Weight, 1)}
		p.effective = p.weight
		if s.Backup {
			p.Index = len(ps.backup)
			ps.backup = append(ps.backup, p)
		} else {
			p.Index = len(ps.primary)
			ps.primary = append(ps.primary, p)
			ps.totalWeight += uint32(p.weight)
		}
	}
	// nginx's "single": one primary server and no backup. It is never
	// taken out of use by failures, since there is nothing better to send
	// the request to, and every method leaves it to round robin.
	ps.single = len(ps.primary) == 1 && len(ps.backup) == 0
	g.Primary, g.Backup, g.peers = ps.primary, ps.backup, ps
	g.Balancer = newBalancer(u, ps)
	return g
}

// newBalancer makes the balancer of the upstream's method.
func newBalancer(u *conf.Upstream, ps *peers) Balancer {
	switch u.Balance {
	case conf.BalanceLeastConn:
		return &leastConn{ps}
	case conf.BalanceIPHash:
		return &ipHash{ps}
	case conf.BalanceHash:
		if u.Consistent {
			return newConsistentHash(u, ps)
		}
		return &hash{peers: ps}
	case conf.BalanceRandom:
		return newRandom(ps, u.RandomTwo)
	}
	return &roundRobin{ps}
}

// Pick chooses the server for the request's next try by the group's
// method and takes its place under max_conns; nil means that no server
// can take the request now, which nginx reports as "no live upstreams"
// (or, when servers are at max_conns, the request may queue: AtCapacity).
func (g *Group) Pick(now time.Time, tried *Tried, key Key) *Peer {
	return g.Balancer.Pick(now, tried, key)
}

// Release ends a try's use of its server.
func (g *Group) Release(p *Peer) { g.Balancer.Release(p) }

// Fail records a failed try at the peer.
func (g *Group) Fail(p *Peer, now time.Time) { g.Balancer.Fail(p, now) }

// Success records a try at the peer that worked.
func (g *Group) Success(p *Peer, now time.Time) { g.Balancer.Success(p, now) }

// Tries returns nginx's default number of tries for a request: the
// servers of both tiers that are not down.
func (g *Group) Tries() int {
	n := 0
	for _, tier := range [][]*Peer{g.Primary, g.Backup} {
		for _, p := range tier {
			if !p.Conf.Down {
				n++
			}
		}
	}
	return n
}

// tiers returns the tiers the request may still use: both, or only the
// backup servers once it has gone on to them.
func (g *Group) tiers(t *Tried) [][]*Peer {
	if t.state.backup {
		return [][]*Peer{g.Backup}
	}
	return [][]*Peer{g.Primary, g.Backup}
}

// HasRoom reports whether some peer could take the request now.
func (g *Group) HasRoom(now time.Time, t *Tried) bool {
	for _, tier := range g.tiers(t) {
		for _, p := range tier {
			if g.peers.usable(p, now, t) {
				return true
			}
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
func (g *Group) AtCapacity(t *Tried) bool {
	for _, tier := range g.tiers(t) {
		for _, p := range tier {
			if !p.Conf.Down && !t.has(p) && g.Shared.Full(p.Server) {
				return true
			}
		}
	}
	return false
}

// peers is what every method works on: the servers in their two tiers,
// their passive health and the counts all workers share for max_conns.
// Its Release, Fail and Success are those of every Balancer.
type peers struct {
	primary, backup []*Peer
	shared          *Shared
	single          bool
	// totalWeight is the sum of the primary servers' weights, down ones
	// included, over which the hashing and random methods draw.
	totalWeight uint32
}

// Release gives back the place the pick took.
func (ps *peers) Release(p *Peer) {
	p.Active--
	ps.shared.Release(p.Server)
}

// Fail counts a failure towards max_fails within fail_timeout and lowers
// the peer's effective weight, so that round robin sends traffic back to
// it gradually. A lone server's failures are counted too, so that its
// figures show it failing, but no method stops using it for them (nginx
// does not count them at all; the choice of server is the same).
func (ps *peers) Fail(p *Peer, now time.Time) {
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

// Success forgets a peer's failures once it answers after fail_timeout
// has passed since the last one, as in nginx: a pick after that time
// moves checked past accessed.
func (ps *peers) Success(p *Peer, now time.Time) {
	if p.accessed.Before(p.checked) {
		p.fails = 0
	}
}

// usable reports whether a peer may take the request now: not down, not
// tried by this request, not out after failures (which never holds for a
// lone server), not at max_conns.
func (ps *peers) usable(p *Peer, now time.Time, t *Tried) bool {
	return !p.Conf.Down && !t.has(p) && (ps.single || p.FailedUntil(now).IsZero()) && !ps.shared.Full(p.Server)
}

// picked does what every method does to the peer it chose: once
// fail_timeout has passed since its last check, the pick starts a new
// period, so that a success then forgets its failures.
func picked(p *Peer, now time.Time) *Peer {
	if now.Sub(p.checked) > p.Conf.FailTimeout {
		p.checked = now
	}
	return p
}

// chooser is one method's choice of a peer, moving st as the method
// moves its state.
type chooser func(now time.Time, t *Tried, st *pickState, key Key) *Peer

// pick runs a method's choice until the peer's place under max_conns is
// taken (or no peer is left), then records the state the choice reached
// for the request's next try: the loop every method shares.
//
// The method moves t.next, which propose keeps: a local state passed by
// its address to a method called through a function value would be
// allocated on every request.
func (ps *peers) pick(now time.Time, t *Tried, key Key, choose chooser) *Peer {
	for {
		t.next = t.state
		p := choose(now, t, &t.next, key)
		if ps.claim(p) {
			return t.propose(t.next, p)
		}
	}
}

// claim takes the chosen peer's place under max_conns. It fails only when
// another worker took the last place since the peer was found usable;
// the method then picks again.
func (ps *peers) claim(p *Peer) bool {
	return p == nil || ps.shared.TryAcquire(p.Server)
}

// byWeight returns the primary peer that w, below the total weight, falls
// on when each peer takes as many values as its weight, in configuration
// order and down peers included: how nginx's ip_hash and hash turn a hash
// into a server.
func (ps *peers) byWeight(w uint32) *Peer {
	for _, p := range ps.primary {
		if w < uint32(p.weight) {
			return p
		}
		w -= uint32(p.weight)
	}
	return ps.primary[len(ps.primary)-1]
}
