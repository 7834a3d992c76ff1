package proxy

import (
	"compress/gzip"
	"errors"
	"io"
	"iter"
	"strconv"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// This file is the chain of body filters an answer passes through on its
// way to the client, in nginx's order: gunzip, then the addition
// filter (addition.go), sub_filter's replacements (subfilter.go), the
// charset filter's conversion, SSI (ssi.go), and gzip. A header filter that changes the body adds its
// stage (cc.bodyChain); an answer no filter changes has no chain and its
// bytes go to the client as they come. Each stage streams into the next,
// and what leaves the last waits in out until the client's framing takes
// it, so the chain never holds a whole answer: gunzip, the one stage
// whose output can be far larger than its input, stops producing once
// out holds a buffer's worth and goes on as the client takes it.

// bodyFilters is the chain of one answer.
type bodyFilters struct {
	// gunzip, add, sub, recode, ssi and gz are the stages; a nil or
	// zero one is off.
	gunzip *gunzipState
	add    *additionState
	sub    *subFilterState
	recode recoder
	ssi    *ssiState
	gz     *gzipState
	// out holds the chain's output not yet framed for the client, from
	// outOff on; mid holds recoded bytes on their way to the compressor.
	out    []byte
	outOff int
	mid    []byte
	// failed is set once a stage could not go on (a broken gzip stream);
	// failure is its error line, logged by the caller that ends the
	// answer.
	failed  bool
	failure string
	// whole is set when the whole body is written at once (an answer of
	// headroom's own): gunzip then does not stop for the client.
	whole bool
	// finished is set once the caller ended the body (finish); eof
	// once finish ran, and tailDone once the stages after gunzip wrote
	// their ends (SSI's last text, gzip's trailer).
	finished bool
	eof      bool
	tailDone bool
	// endsDone is set once sub_filter and SSI wrote their ends, before
	// add_after_body's subrequest.
	endsDone bool
}

// bodyChain returns the request's chain, made when the first stage is
// added.
func (cc *clientConn) bodyChain() *bodyFilters {
	r := cc.r
	if r.body == nil {
		r.body = &bodyFilters{out: cc.w.getBuf()[:0]}
	}
	return r.body
}

// release gives the chain's buffers, decompressor and compressor back to
// the worker.
func (f *bodyFilters) release(w *worker) {
	if s := f.ssi; s != nil {
		f.ssi = nil
		s.release(w)
	}
	if g := f.gunzip; g != nil {
		g.end(w)
		f.gunzip = nil
	}
	if s := f.sub; s != nil {
		f.sub = nil
		s.release(w)
	}
	if a := f.add; a != nil {
		f.add = nil
		if s := a.sub; s != nil {
			a.sub = nil
			s.abandon()
		}
	}
	w.putBuf(f.out)
	f.out = nil
	if f.mid != nil {
		w.putBuf(f.mid)
		f.mid = nil
	}
}

// outLimit is how much output gunzip lets wait in out before it stops
// for the client.
const outLimit = bufSize

// write passes body bytes into the chain. The bytes are not kept: gunzip
// copies what it has not read yet.
func (f *bodyFilters) write(p []byte) {
	if f.failed {
		return
	}
	if f.gunzip != nil {
		f.gunzip.feed(f, p)
		return
	}
	f.afterGunzip(p)
}

// afterGunzip passes bytes to the stages after gunzip: held while
// add_before_body's subrequest runs, which the first bytes start.
func (f *bodyFilters) afterGunzip(p []byte) {
	if a := f.add; a != nil && !a.beforeDone {
		a.hold(p)
		a.startBefore(f)
		return
	}
	f.afterAddition(p)
}

// afterAddition passes bytes to the stages after the addition filter.
func (f *bodyFilters) afterAddition(p []byte) {
	if f.sub != nil {
		p = f.sub.write(p)
	}
	f.afterSub(p)
}

// afterSub passes bytes to the stages after sub_filter's.
func (f *bodyFilters) afterSub(p []byte) {
	if f.ssi != nil {
		if f.recode.t != nil {
			f.mid = f.recode.recode(f.mid[:0], p)
			p = f.mid
		}
		f.ssi.feed(f, p)
		return
	}
	if f.recode.t == nil {
		f.compressOrOut(p)
		return
	}
	if f.gz == nil {
		f.out = f.recode.recode(f.out, p)
		return
	}
	f.mid = f.recode.recode(f.mid[:0], p)
	f.gz.compress(f.mid)
}

// compressOrOut passes bytes to the compressor, or to out without one.
func (f *bodyFilters) compressOrOut(p []byte) {
	if f.gz != nil {
		f.gz.compress(p)
		return
	}
	f.out = append(f.out, p...)
}

// finish ends the body: gunzip must have seen its stream's end,
// sub_filter writes the bytes it held back, the conversion drops an unfinished UTF-8 sequence (as nginx does), SSI
// writes what its parser still holds, and the compressor writes its
// trailer.
func (f *bodyFilters) finish() {
	if f.failed {
		return
	}
	f.eof = true
	if g := f.gunzip; g != nil && !g.finished {
		g.eof = true
		g.run(f)
		if f.failed || g.more() {
			// The rest comes as the client takes out (drainBody).
			return
		}
	}
	f.tail()
}

// tail writes the ends of the stages after gunzip once the input ended
// and gunzip is done: not while an SSI include runs or SSI holds input.
func (f *bodyFilters) tail() {
	if f.tailDone || f.failed || !f.eof {
		return
	}
	a := f.add
	if a != nil {
		// An empty body still comes after the first addition.
		if !a.beforeDone {
			a.startBefore(f)
			return
		}
		if a.heldOff < len(a.held) || a.sub != nil {
			return
		}
	}
	if !f.endsDone {
		if s := f.sub; s != nil {
			if p := s.end(); len(p) > 0 {
				f.afterSub(p)
			}
		}
		if s := f.ssi; s != nil && !s.end(f) {
			return
		}
		f.endsDone = true
	}
	if a != nil && !a.afterDone {
		if a.after == "" {
			a.afterDone = true
		} else {
			if !a.afterStarted {
				a.afterStarted = true
				a.run(f, a.after)
			}
			if !a.afterDone {
				return
			}
		}
	}
	f.tailDone = true
	if f.gz != nil {
		f.gz.finish()
	}
}

// stalled reports whether the chain waits for SSI includes: it takes no
// more input now (what its source gives meanwhile is held, so the
// source waits: one buffer at most is held), or its end waits for them.
// Their output, and their ends, wake the answer (runSubrequests).
func (f *bodyFilters) stalled() bool {
	if f.failed {
		return false
	}
	if a := f.add; a != nil && a.sub != nil {
		return true
	}
	s := f.ssi
	return s != nil && (s.busy() || f.eof && s.pending())
}

// holdsHead reports whether the answer's head waits for the first bytes
// of its body: SSI passed less than postpone_output on yet, and an
// include may still end the answer (a subrequest that failed) before
// anything of it was sent, as nginx holds its output back until then.
func (f *bodyFilters) holdsHead() bool {
	s := f.ssi
	return s != nil && s.produced < s.postpone && !f.failed && !f.tailDone
}

// flushIncluded writes what a stalled chain's SSI includes made, as the
// client takes it; it reports whether more of it waits in the chain
// (the caller drains again), else the caller returns and the includes'
// output and ends wake the answer (runSubrequests).
func (cc *clientConn) flushIncluded(f *bodyFilters) bool {
	if cc.outOff == len(cc.out) || f.holdsHead() || !cc.flush() {
		return false
	}
	return f.outOff < len(f.out)
}

// more reports whether the chain has output to make without more input:
// gunzip stopped for the client, or its end is still to be written; SSI
// holds input an include kept from it; or the stages' ends are due.
func (f *bodyFilters) more() bool {
	if f.failed {
		return false
	}
	if g := f.gunzip; g != nil && (g.more() || g.eof && !g.finished) {
		return true
	}
	a := f.add
	if a != nil {
		if a.sub != nil {
			return false
		}
		if a.hasHeld() {
			return true
		}
	}
	if s := f.ssi; s != nil {
		return !s.busy() && (s.hasHeld() || f.eof && !f.tailDone && !s.pending())
	}
	return a != nil && f.eof && !f.tailDone
}

// step makes more output without more input (when more says there is).
func (f *bodyFilters) step() {
	if g := f.gunzip; g != nil && (g.more() || g.eof && !g.finished) {
		g.run(f)
		if g.eof && g.finished {
			f.tail()
		}
		return
	}
	if a := f.add; a != nil && a.hasHeld() {
		p := a.held[a.heldOff:]
		a.heldOff = len(a.held)
		f.afterAddition(p)
		f.tail()
		return
	}
	if s := f.ssi; s != nil && !s.busy() && s.hasHeld() {
		s.resume(f)
	}
	f.tail()
}

// async reports whether the chain may wait for subrequests (SSI's
// includes, the addition filter's), so that even an answer whose body
// is all in memory goes through it as the client takes it (sendChain).
func (f *bodyFilters) async() bool { return f.ssi != nil || f.add != nil }

// pending reports whether output waits for the client or is still to be
// made.
func (f *bodyFilters) pending() bool {
	return f.outOff < len(f.out) || f.more()
}

// drainBody frames the chain's output into *dst, no more than it has
// room for, making more as it goes (gunzip's, SSI's); it reports whether
// the chain is empty. A chain whose SSI include runs is not: the
// include's output comes as it is written, and its end lets the chain
// go on (runSubrequests wakes the answer). A chain that failed is empty:
// the caller ends the answer (bodyFailed).
func (cc *clientConn) drainBody(dst *[]byte) bool {
	r := cc.r
	f := r.body
	for {
		for f.outOff < len(f.out) {
			room := cap(*dst) - len(*dst) - chunkOverhead
			if room <= 0 {
				return false
			}
			p := f.out[f.outOff:]
			if len(p) > room {
				p = p[:room]
			}
			if r.chunkOut {
				*dst = http1.AppendChunk(*dst, p)
			} else {
				*dst = append(*dst, p...)
			}
			f.outOff += len(p)
			r.bodySent += int64(len(p))
		}
		f.out, f.outOff = f.out[:0], 0
		if f.ssi != nil {
			// What the first include writes has room again.
			f.ssi.wakeFirst(cc.w)
		}
		if a := f.add; a != nil && a.sub != nil {
			a.sub.writable(cc.w)
		}
		if f.stalled() {
			return false
		}
		if !f.more() {
			return true
		}
		f.step()
	}
}

// bodyFailed reports whether the chain failed, and then logs its line
// and ends the answer as nginx does when a body filter fails: the
// connection closes, and what the client has not been sent is lost.
func (cc *clientConn) bodyFailed() bool {
	f := cc.r.body
	if f == nil || !f.failed {
		return false
	}
	if f.failure != "" {
		cc.logError(f.failure)
	}
	if cc.r.up != nil {
		cc.upLogAppend(cc.r.peer.Conf.Addr, cc.r.status)
	}
	cc.abort()
	return true
}

// gunzipState is the decompression of one answer: Go's gzip reader,
// which pulls its input, run as a coroutine (iter.Pull) on the worker's
// thread, so that the body can be pushed into it a buffer at a time as
// the upstream sends it. The coroutine yields when it has output and
// when it has read all the input given so far; it never waits for
// anything but the worker.
type gunzipState struct {
	zr *gzip.Reader
	// in holds input the reader has not read yet, from inOff on; eof is
	// set once the answer's body ended.
	in    []byte
	inOff int
	eof   bool
	// buf receives the reader's output; n is how much of it the
	// coroutine yielded and the chain has not taken yet.
	buf []byte
	n   int
	// next resumes the coroutine; stop ends it. started is set once it
	// ran; finished once it returned (stream over, or failed); hungry
	// while it waits for input.
	next     func() (int, bool)
	stop     func()
	started  bool
	finished bool
	hungry   bool
	// err is why the stream broke, once it did.
	err error
}

// gunzipPool keeps a worker's decompressors, whose tables and window
// are worth reusing from one answer to the next.
type gunzipPool []*gzip.Reader

// errGunzipStopped ends a read that the coroutine's stop interrupted.
var errGunzipStopped = errors.New("gunzip stopped")

// startGunzip adds decompression to the answer's chain.
func (cc *clientConn) startGunzip() {
	w := cc.w
	g := &gunzipState{buf: w.getBuf(), in: w.getBuf()[:0]}
	if n := len(w.gunzips); n > 0 {
		g.zr = w.gunzips[n-1]
		w.gunzips = w.gunzips[:n-1]
	} else {
		g.zr = new(gzip.Reader)
	}
	g.next, g.stop = iter.Pull(g.stream)
	cc.bodyChain().gunzip = g
}

// end stops the coroutine and returns the reader and buffers.
func (g *gunzipState) end(w *worker) {
	g.stop()
	w.gunzips = append(w.gunzips, g.zr)
	w.putBuf(g.buf)
	w.putBuf(g.in)
	g.zr, g.buf, g.in = nil, nil, nil
}

// more reports whether output waits to be taken from the coroutine or
// the coroutine could make more from input it has.
func (g *gunzipState) more() bool {
	return !g.finished && (g.n > 0 || g.started && !g.hungry || g.inOff < len(g.in))
}

// feed hands body bytes to the decompressor and runs it.
func (g *gunzipState) feed(f *bodyFilters, p []byte) {
	if g.finished {
		// The stream broke; the chain failed with it.
		return
	}
	if g.inOff == len(g.in) {
		g.in, g.inOff = g.in[:0], 0
	}
	g.in = append(g.in, p...)
	g.run(f)
}

// run moves the decompressor's output into the chain until out holds a
// buffer's worth, the input is used up, or the stream ended.
func (g *gunzipState) run(f *bodyFilters) {
	for !g.finished {
		if g.n > 0 {
			if !f.whole && len(f.out)-f.outOff >= outLimit {
				return
			}
			n := g.n
			g.n = 0
			f.afterGunzip(g.buf[:n])
			continue
		}
		if g.hungry && g.inOff == len(g.in) && !g.eof {
			return
		}
		g.started, g.hungry = true, false
		n, ok := g.next()
		switch {
		case !ok:
			g.finished = true
			if g.err != nil {
				f.failed, f.failure = true, gunzipFailure(g.err)
			}
		case n == 0:
			g.hungry = true
		default:
			g.n = n
		}
	}
}

// gunzipFailure is nginx's line for a broken stream, with zlib's codes:
// a stream that ends early is Z_BUF_ERROR (-5) at the answer's end,
// anything else Z_DATA_ERROR (-3), with the flush mode nginx is in while
// an upstream's body comes (0: nginx is given the body's end apart from
// its last bytes).
func gunzipFailure(err error) string {
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return "inflate() returned -5 on response end"
	}
	return "inflate() failed: 0, -3"
}

// stream is the coroutine: it decompresses every member of the stream
// into buf, yielding the length of each piece, and 0 whenever it needs
// input it has not been given.
func (g *gunzipState) stream(yield func(int) bool) {
	src := gunzipSource{g: g, yield: yield}
	if err := g.zr.Reset(&src); err != nil {
		if err != errGunzipStopped {
			g.err = err
		}
		return
	}
	g.zr.Multistream(true)
	for {
		n, err := g.zr.Read(g.buf)
		if n > 0 && !yield(n) {
			return
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			if err != errGunzipStopped {
				g.err = err
			}
			return
		}
	}
}

// gunzipSource is the reader's input: the bytes fed so far; when they
// are used up it yields for more, and at the body's end it is io.EOF.
// It is a ByteReader so that the reader buffers nothing ahead of the
// stream.
type gunzipSource struct {
	g     *gunzipState
	yield func(int) bool
}

// wait makes input available; false at the body's end or when stopped.
func (s *gunzipSource) wait() (bool, error) {
	g := s.g
	for g.inOff == len(g.in) {
		if g.eof {
			return false, io.EOF
		}
		if !s.yield(0) {
			return false, errGunzipStopped
		}
	}
	return true, nil
}

func (s *gunzipSource) Read(p []byte) (int, error) {
	if ok, err := s.wait(); !ok {
		return 0, err
	}
	g := s.g
	n := copy(p, g.in[g.inOff:])
	g.inOff += n
	return n, nil
}

func (s *gunzipSource) ReadByte() (byte, error) {
	if ok, err := s.wait(); !ok {
		return 0, err
	}
	g := s.g
	b := g.in[g.inOff]
	g.inOff++
	return b, nil
}

// recoder is the charset filter's conversion of one answer by a
// charset_map table: byte for byte between 8-bit charsets, into UTF-8,
// or out of UTF-8, where a sequence split between two pieces of the body
// waits in saved for the rest.
type recoder struct {
	t      *conf.CharsetTable
	saved  [3]byte
	nsaved int
}

// recode appends the conversion of p to dst.
func (rc *recoder) recode(dst, p []byte) []byte {
	t := rc.t
	switch {
	case t.Byte != nil:
		n := len(dst)
		dst = append(dst, p...)
		tb := t.Byte
		for i, c := range dst[n:] {
			dst[n+i] = tb[c]
		}
		return dst
	case t.ToUTF8 != nil:
		for _, c := range p {
			e := &t.ToUTF8[c]
			dst = append(dst, e[1:1+e[0]]...)
		}
		return dst
	}
	return rc.fromUTF8(dst, p)
}

// fromUTF8 converts UTF-8 into an 8-bit charset as nginx does: a
// character the map has becomes its byte, another below U+110000 the
// HTML entity "&#N;", and an invalid sequence "?". The result is the
// same however the body is split.
func (rc *recoder) fromUTF8(dst, p []byte) []byte {
	if rc.nsaved > 0 {
		// The saved start of a sequence, with the first bytes of p:
		// decode until past the saved bytes.
		var tmp [7]byte
		k := copy(tmp[:], rc.saved[:rc.nsaved])
		m := copy(tmp[k:], p)
		buf := tmp[:k+m]
		i := 0
		for i < k {
			if buf[i] < 0x80 {
				dst = append(dst, buf[i])
				i++
				continue
			}
			c, n := conf.DecodeUTF8(buf[i:])
			if c == conf.UTF8Incomplete {
				// p is all in buf, and still the sequence is short.
				rc.nsaved = copy(rc.saved[:], buf[i:])
				return dst
			}
			dst = rc.character(dst, c)
			i += n
		}
		rc.nsaved = 0
		p = p[i-k:]
	}
	for i := 0; i < len(p); {
		c := p[i]
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		u, n := conf.DecodeUTF8(p[i:])
		if u == conf.UTF8Incomplete {
			rc.nsaved = copy(rc.saved[:], p[i:])
			return dst
		}
		dst = rc.character(dst, u)
		i += n
	}
	return dst
}

// character appends one decoded character in the 8-bit charset.
func (rc *recoder) character(dst []byte, c uint32) []byte {
	if c < 0x10000 {
		if page := rc.t.FromUTF8[c>>8]; page != nil {
			if b := page[c&0xff]; b != 0 {
				return append(dst, b)
			}
		}
	}
	if c > 0x10ffff {
		return append(dst, '?')
	}
	dst = append(dst, "&#"...)
	dst = strconv.AppendUint(dst, uint64(c), 10)
	return append(dst, ';')
}
