package upstream

import (
	"math/rand/v2"
	"time"
)

// random is nginx's "random [two [least_conn]]": a server drawn at random
// by weight among the primary servers, down ones included and skipped
// when drawn; with two, a second different usable server is drawn and the
// one with fewer connections relative to its weight is used (the second
// drawn when they are equal, as in nginx). Every unusable draw counts, and after 20
// round robin decides, as in nginx.
type random struct {
	*peers
	two bool
	// starts holds, per primary peer, the sum of the weights before it:
	// a draw below the total weight falls on the last peer whose start
	// it reaches.
	starts []uint32
	// rnd is this worker's generator, as each nginx worker has its own.
	rnd *rand.Rand
}

func newRandom(ps *peers, two bool) *random {
	b := &random{peers: ps, two: two, rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	sum := uint32(0)
	for _, p := range ps.primary {
		b.starts = append(b.starts, sum)
		sum += uint32(p.weight)
	}
	return b
}

// Pick chooses at random.
func (b *random) Pick(now time.Time, t *Tried, key Key) *Peer {
	return b.pick(now, t, key, b.choose)
}

func (b *random) choose(now time.Time, t *Tried, st *pickState, _ Key) *Peer {
	if st.tries > 20 || b.single {
		return b.rr(now, t, st)
	}
	var prev *Peer
	for {
		p := b.draw()
		if p != prev && b.usable(p, now, t) {
			if !b.two {
				return picked(p, now)
			}
			if prev != nil {
				if p.Active*prev.weight > prev.Active*p.weight {
					p = prev
				}
				return picked(p, now)
			}
			prev = p
		}
		st.tries++
		if st.tries > 20 {
			return b.rr(now, t, st)
		}
	}
}

// draw returns a primary peer at random, each with a chance in proportion
// to its weight.
func (b *random) draw() *Peer {
	x := uint32(b.rnd.Uint64N(uint64(b.totalWeight)))
	i, j := 0, len(b.starts)
	for j-i > 1 {
		k := (i + j) / 2
		if x < b.starts[k] {
			j = k
		} else {
			i = k
		}
	}
	return b.primary[i]
}
