// Package subfilter holds the matching half of the sub_filter directives as
// nginx 1.22 applies them to a response body: it finds the configured search
// strings in a body that arrives in pieces and splices in replacements.
//
// The rules are those of nginx:
//
//   - Search strings are compared ASCII case-insensitively: only the letters
//     A to Z fold, every other byte (including bytes of UTF-8 sequences) must
//     be equal.
//   - The body is scanned from left to right. The leftmost position where a
//     string matches wins; among the strings that match at that position the
//     one configured first wins, even if a later one is longer.
//   - Matches do not overlap: scanning resumes after the replaced bytes, and a
//     replacement is never scanned itself.
//   - With sub_filter_once every string is replaced at most once. A string
//     that has been replaced no longer takes part, so a later string may then
//     match where it would otherwise have lost. Once every string has been
//     replaced the rest of the body passes through untouched.
//   - Bytes that may be the start of a match are held back until enough of
//     the body has arrived to decide. At the end of the body the held bytes
//     are written unchanged: when the body ends while the first string that
//     still could match at some position is incomplete, nothing from that
//     position on is replaced, not even a complete match of a string
//     configured after it.
//
// The output depends only on the body, never on how it is cut into pieces.
// The package does no I/O: the caller evaluates the replacement strings,
// which may contain variables, and writes the output.
package subfilter

import (
	"errors"
	"strconv"
)

// MaxPatterns is the largest number of search strings nginx accepts in one
// location.
const MaxPatterns = 255

// Table is the compiled set of search strings of one location. It is built
// once and may be shared by any number of Matchers.
type Table struct {
	// pats holds the search strings lower-cased, in configuration order.
	pats   [][]byte
	minLen int
	maxLen int

	// shift tells, for the body byte at the last position of the window of
	// minLen bytes that starts at a candidate position, how far the window
	// can move before that byte could be part of any string's first minLen
	// bytes. Zero means some string has that byte (folded) at position
	// minLen-1, so the position must be tried.
	shift [256]int32

	// last lists, for a body byte, the strings (configuration indices, in
	// order) whose byte at position minLen-1 equals the byte folded.
	last [256][]uint8

	// first lists, for a body byte, the strings whose first byte equals the
	// byte folded. It serves to decide early that a short tail of the
	// available data cannot start a match.
	first [256][]uint8
}

// Compile builds the table from the search strings, in configuration order.
// The strings are lower-cased (ASCII only) as nginx does; the caller's
// slices are not modified. Compile refuses what nginx refuses when it loads
// the configuration, with nginx's message: an empty string and more than
// MaxPatterns strings. It also refuses an empty list, since nginx does not
// filter at all then.
//
// For search strings that contain variables nginx evaluates them per
// response, drops the ones that come out empty and does not filter when
// none remains; a caller compiling such strings does the same before
// calling Compile, and keeps track of which replacement each index refers
// to.
func Compile(patterns [][]byte) (*Table, error) {
	if len(patterns) == 0 {
		return nil, errors.New("no search patterns")
	}
	if len(patterns) > MaxPatterns {
		return nil, errors.New("number of search patterns exceeds " + strconv.Itoa(MaxPatterns))
	}
	t := &Table{pats: make([][]byte, len(patterns))}
	total := 0
	for _, p := range patterns {
		if len(p) == 0 {
			return nil, errors.New("empty search pattern")
		}
		total += len(p)
	}
	buf := make([]byte, 0, total)
	for i, p := range patterns {
		start := len(buf)
		for _, c := range p {
			buf = append(buf, lower(c))
		}
		t.pats[i] = buf[start:len(buf):len(buf)]
		if i == 0 || len(p) < t.minLen {
			t.minLen = len(p)
		}
		t.maxLen = max(t.maxLen, len(p))
	}

	// Horspool shifts over the first minLen bytes of every string, computed
	// on folded bytes and stored for both cases of a letter so that the scan
	// needs no folding.
	var shift [256]int32
	for c := range shift {
		shift[c] = int32(t.minLen)
	}
	var last, first [256][]uint8
	for i, p := range t.pats {
		for j := 0; j < t.minLen; j++ {
			c := p[t.minLen-1-j]
			shift[c] = min(shift[c], int32(j))
		}
		last[p[t.minLen-1]] = append(last[p[t.minLen-1]], uint8(i))
		first[p[0]] = append(first[p[0]], uint8(i))
	}
	for c := range 256 {
		f := lower(byte(c))
		t.shift[c] = shift[f]
		t.last[c] = last[f]
		t.first[c] = first[f]
	}
	return t, nil
}

// MaxLen returns the length of the longest search string.
func (t *Table) MaxLen() int { return t.maxLen }

// Len returns the number of search strings.
func (t *Table) Len() int { return len(t.pats) }

// lower folds an ASCII upper-case letter to lower case and leaves every
// other byte alone, like nginx's ngx_tolower.
func lower(c byte) byte {
	if c-'A' < 26 {
		return c | 0x20
	}
	return c
}

// Matcher is the matching state of one response body. The zero value passes
// everything through unchanged until Reset is called.
type Matcher struct {
	t     *Table
	once  bool
	done  bool
	nused int
	used  [4]uint64

	// hold keeps the bytes that were received but not yet decided. It never
	// holds more than MaxLen-1 bytes between calls; Write temporarily appends
	// up to MaxLen-1 bytes of the new piece to it, so its capacity is about
	// twice MaxLen and it is reused from body to body.
	hold []byte
}

// Reset readies m for a new body matched against t, which must not be nil.
// once is the value of sub_filter_once.
func (m *Matcher) Reset(t *Table, once bool) {
	m.t = t
	m.once = once
	m.done = false
	m.nused = 0
	m.used = [4]uint64{}
	if need := 2 * t.maxLen; cap(m.hold) < need {
		m.hold = make([]byte, 0, need)
	}
	m.hold = m.hold[:0]
}

// Done reports that no more replacements can happen: under sub_filter_once
// every search string has been replaced. From then on Write copies its input
// unchanged and nothing is held, so the caller may pass the rest of the body
// through without calling m.
func (m *Matcher) Done() bool { return m.done || m.t == nil }

// Write scans the next piece p of the body and appends to dst what can be
// decided so far: body bytes, and in place of a match of search string i
// (its index in the list given to Compile) whatever repl(dst, i) appends.
// Bytes that may still begin a match are copied into m and come out with a
// later Write or with End, so p may be reused once Write returns. Write
// returns the extended dst.
func (m *Matcher) Write(dst, p []byte, repl func(dst []byte, i int) []byte) []byte {
	if m.Done() {
		return append(dst, p...)
	}
	if len(p) == 0 {
		return dst
	}
	if h := len(m.hold); h > 0 {
		// Positions inside the held bytes are decided on the held bytes
		// followed by the start of p: a match starting there is at most
		// MaxLen bytes long, so MaxLen-1 bytes of p always suffice.
		k := min(len(p), m.t.maxLen-1)
		m.hold = append(m.hold, p[:k]...)
		var pos int
		var undecided bool
		dst, pos, undecided = m.scan(dst, m.hold, h, repl)
		switch {
		case m.done:
			dst = append(dst, m.hold[pos:]...)
			m.hold = m.hold[:0]
			return append(dst, p[k:]...)
		case undecided:
			// Only possible when all of p was appended.
			n := copy(m.hold, m.hold[pos:])
			m.hold = m.hold[:n]
			return dst
		}
		m.hold = m.hold[:0]
		p = p[pos-h:]
	}
	dst, pos, undecided := m.scan(dst, p, len(p), repl)
	switch {
	case m.done:
		dst = append(dst, p[pos:]...)
	case undecided:
		m.hold = append(m.hold, p[pos:]...)
	}
	return dst
}

// End appends to dst the bytes still held at the end of the body and returns
// it. They are written unchanged, as nginx does: what is held is either too
// short to be a match or starts with an incomplete match of the string that
// takes precedence there. repl is never called; it is accepted so that End
// has the same shape as Write.
func (m *Matcher) End(dst []byte, repl func(dst []byte, i int) []byte) []byte {
	dst = append(dst, m.hold...)
	m.hold = m.hold[:0]
	return dst
}

// isUsed reports whether string i may no longer match under
// sub_filter_once.
func (m *Matcher) isUsed(i uint8) bool {
	return m.once && m.used[i>>6]&(1<<(i&63)) != 0
}

// scan decides the positions of buf before stop, appending body bytes and
// replacements to dst. buf holds all the data available, which may extend
// past stop. It returns the extended dst and the position up to which
// everything has been written. If undecided is true, that position is before
// stop and the data from there on may begin a match, so it must be kept.
// Otherwise the position is at or past stop (a match or a skip may end past
// it); if m.done has become true, the rest of buf has not been written.
func (m *Matcher) scan(dst, buf []byte, stop int, repl func(dst []byte, i int) []byte) (_ []byte, pos int, undecided bool) {
	t := m.t
	s, from := 0, 0
	w := t.minLen - 1 // offset of the window's last byte from s
scan:
	for s < stop {
		if s+w >= len(buf) {
			// Too little data to decide by the window: keep the first
			// position where some string's beginning matches the rest.
			for ; s < stop; s++ {
				if m.prefixAt(buf, s) {
					return append(dst, buf[from:s]...), s, true
				}
			}
			break
		}
		c := buf[s+w]
		if sh := t.shift[c]; sh > 0 {
			s += int(sh)
			continue
		}
		for _, i := range t.last[c] {
			if m.isUsed(i) {
				continue
			}
			pat := t.pats[i]
			rest := buf[s:]
			if len(rest) < len(pat) {
				if equalFold(rest, pat[:len(rest)]) {
					return append(dst, buf[from:s]...), s, true
				}
				continue
			}
			if !equalFold(rest[:len(pat)], pat) {
				continue
			}
			dst = append(dst, buf[from:s]...)
			dst = repl(dst, int(i))
			s += len(pat)
			from = s
			if m.once {
				m.used[i>>6] |= 1 << (i & 63)
				m.nused++
				if m.nused == len(t.pats) {
					m.done = true
					return dst, s, false
				}
			}
			continue scan
		}
		s++
	}
	s = min(s, len(buf))
	return append(dst, buf[from:s]...), s, false
}

// prefixAt reports whether the data from s to the end of buf is the
// beginning of a search string that may still match.
func (m *Matcher) prefixAt(buf []byte, s int) bool {
	rest := buf[s:]
	for _, i := range m.t.first[rest[0]] {
		if m.isUsed(i) {
			continue
		}
		if pat := m.t.pats[i]; len(pat) > len(rest) && equalFold(rest, pat[:len(rest)]) {
			return true
		}
	}
	return false
}

// equalFold reports whether the body bytes b equal the lower-cased string
// bytes p when ASCII letters of b are folded. len(b) must equal len(p).
func equalFold(b, p []byte) bool {
	p = p[:len(b)]
	for i, c := range b {
		if lower(c) != p[i] {
			return false
		}
	}
	return true
}
