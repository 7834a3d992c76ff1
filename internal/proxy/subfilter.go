package proxy

import (
	"bytes"

	"headroom/internal/conf"
	"headroom/internal/subfilter"
)

// This file is nginx's sub filter: sub_filter's strings replaced in an
// answer's body as it streams, a stage of the body chain after gunzip
// and before the charset conversion (bodyfilter.go), as nginx orders its
// filters. The matching is internal/subfilter's; here are the header
// filter, the replacements' values and the strings with variables.

// subFilterState is the sub filter stage of one answer, kept by the
// worker from answer to answer with its buffers.
type subFilterState struct {
	cc *clientConn
	m  subfilter.Matcher
	// pairs are the location's lines; index maps the strings of the
	// table to them when some were left out (strings with variables
	// that came out empty), else it is nil.
	pairs []conf.SubPair
	index []uint8
	// vals holds the replacements evaluated so far in this answer;
	// spans[i] is where pair i's is, start -1 until it is first
	// needed, as nginx evaluates a replacement at its first use.
	vals  []byte
	spans []subSpan
	// repl is the replace method as a value, made once per state.
	repl func(dst []byte, i int) []byte
	// out receives the stage's output for the next stage.
	out []byte
	// ended is set once the held bytes were written at the body's end.
	ended bool
	// key and table are the last strings with variables compiled here
	// (with their lengths and pairs) and their table, used again while
	// the strings come out the same, as they mostly do ($host).
	key      []byte
	keyIndex []uint8
	table    *subfilter.Table
	// scratch is where the strings are evaluated.
	scratch []byte
}

// subSpan is where a replacement's value is in vals.
type subSpan struct{ start, end int32 }

// subFilter is the sub filter's header filter: an answer of the
// sub_filter_types with a body (of unknown or non-zero length) is
// filtered when it has a string to look for. The main request's answer
// loses Content-Length, and Last-Modified and ETag unless
// sub_filter_last_modified keeps them (the ETag weak), as in nginx;
// Accept-Ranges is left as it is (nginx's range filter adds none to an
// answer of unknown length).
func subFilter(cc *clientConn, h *outHead) {
	r := cc.r
	lc := r.lc
	if lc == nil || len(lc.SubFilter.Pairs) == 0 || h.contentLength == 0 {
		return
	}
	sf := &lc.SubFilter
	ctype := h.fieldType
	if ctype == nil {
		ctype = []byte(h.contentType)
	}
	if !sf.Filters(ctype) {
		return
	}
	s := cc.w.getSubFilter()
	t := sf.Table
	s.index = s.index[:0]
	if t == nil {
		if t = s.compile(cc, sf.Pairs); t == nil {
			// Every string came out empty: nothing to look for.
			s.release(cc.w)
			return
		}
	}
	if cc.sub == nil {
		h.dropValidators(sf.LastModified)
	}
	cc.lengthUnknown(h)
	if !cc.answerHasBody(h) {
		s.release(cc.w)
		return
	}
	s.cc, s.pairs, s.ended = cc, sf.Pairs, false
	if len(s.index) == len(sf.Pairs) {
		s.index = s.index[:0]
	}
	s.vals = s.vals[:0]
	s.spans = s.spans[:0]
	for range sf.Pairs {
		s.spans = append(s.spans, subSpan{start: -1})
	}
	s.m.Reset(t, sf.Once)
	cc.bodyChain().sub = s
}

// getSubFilter takes a stage from the worker's pool.
func (w *worker) getSubFilter() *subFilterState {
	if n := len(w.subFilters); n > 0 {
		s := w.subFilters[n-1]
		w.subFilters = w.subFilters[:n-1]
		return s
	}
	s := &subFilterState{}
	s.repl = s.replace
	return s
}

// release gives the stage back to the worker.
func (s *subFilterState) release(w *worker) {
	s.cc, s.pairs = nil, nil
	w.subFilters = append(w.subFilters, s)
}

// compile evaluates the strings of a location whose strings have
// variables, lower-cased, leaving out the empty ones as nginx does, and
// returns their table, nil when none is left. s.index maps the table's
// strings to the pairs.
func (s *subFilterState) compile(cc *clientConn, pairs []conf.SubPair) *subfilter.Table {
	// The key is each string that is not empty, after its length in
	// four bytes.
	key := s.scratch[:0]
	for i := range pairs {
		at := len(key)
		key = append(key, 0, 0, 0, 0)
		key = cc.eval(key, pairs[i].Match)
		n := len(key) - at - 4
		if n == 0 {
			key = key[:at]
			continue
		}
		key[at], key[at+1], key[at+2], key[at+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		for j, c := range key[at+4:] {
			if c-'A' < 26 {
				key[at+4+j] = c | 0x20
			}
		}
		s.index = append(s.index, uint8(i))
	}
	s.scratch = key
	if len(s.index) == 0 {
		return nil
	}
	if s.table != nil && bytes.Equal(key, s.key) && bytes.Equal(s.index, s.keyIndex) {
		return s.table
	}
	pats := make([][]byte, 0, len(s.index))
	for at := 0; at < len(key); {
		n := int(key[at])<<24 | int(key[at+1])<<16 | int(key[at+2])<<8 | int(key[at+3])
		pats = append(pats, key[at+4:at+4+n])
		at += 4 + n
	}
	// No string is empty and there are no more than the configuration
	// allowed, so Compile cannot fail.
	t, err := subfilter.Compile(pats)
	if err != nil {
		return nil
	}
	s.table = t
	s.key = append(s.key[:0], key...)
	s.keyIndex = append(s.keyIndex[:0], s.index...)
	return t
}

// replace appends the replacement of the table's string i.
func (s *subFilterState) replace(dst []byte, i int) []byte {
	if len(s.index) > 0 {
		i = int(s.index[i])
	}
	sp := &s.spans[i]
	if sp.start < 0 {
		start := len(s.vals)
		s.vals = s.cc.eval(s.vals, s.pairs[i].Replacement)
		sp.start, sp.end = int32(start), int32(len(s.vals))
	}
	return append(dst, s.vals[sp.start:sp.end]...)
}

// write passes body bytes through the stage; it returns the output,
// valid until the next call.
func (s *subFilterState) write(p []byte) []byte {
	if s.m.Done() {
		return p
	}
	s.out = s.m.Write(s.out[:0], p, s.repl)
	return s.out
}

// end returns the bytes held at the body's end, once.
func (s *subFilterState) end() []byte {
	if s.ended {
		return nil
	}
	s.ended = true
	s.out = s.m.End(s.out[:0], s.repl)
	return s.out
}
