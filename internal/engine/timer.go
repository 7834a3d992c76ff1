package engine

import "time"

// timerEntry is a connection's position in its loop's timer heap.
type timerEntry struct {
	at  time.Time
	idx int
}

// timerHeap is a binary min-heap of connections ordered by deadline. Each
// connection is in it at most once; its index is kept in the connection so
// that re-arming and removal are O(log n) without a search.
type timerHeap struct {
	h []*Conn
}

func (t *timerHeap) less(i, j int) bool { return t.h[i].timer.at.Before(t.h[j].timer.at) }

func (t *timerHeap) swap(i, j int) {
	t.h[i], t.h[j] = t.h[j], t.h[i]
	t.h[i].timer.idx = i
	t.h[j].timer.idx = j
}

func (t *timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *timerHeap) down(i int) {
	n := len(t.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			return
		}
		t.swap(i, m)
		i = m
	}
}

func (t *timerHeap) push(c *Conn) {
	c.timer.idx = len(t.h)
	t.h = append(t.h, c)
	t.up(c.timer.idx)
}

func (t *timerHeap) remove(c *Conn) {
	i := c.timer.idx
	last := len(t.h) - 1
	if i != last {
		t.swap(i, last)
	}
	t.h[last] = nil
	t.h = t.h[:last]
	c.timer.idx = -1
	if i != last {
		t.down(i)
		t.up(i)
	}
}

func (t *timerHeap) fix(c *Conn) {
	t.down(c.timer.idx)
	t.up(c.timer.idx)
}

func (t *timerHeap) peek() *Conn {
	if len(t.h) == 0 {
		return nil
	}
	return t.h[0]
}

func (t *timerHeap) next() (time.Time, bool) {
	if len(t.h) == 0 {
		return time.Time{}, false
	}
	return t.h[0].timer.at, true
}
