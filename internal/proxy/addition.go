package proxy

// This file is nginx's addition filter: the answers of subrequests to
// add_before_body's and add_after_body's URIs go before and after the
// body of a 200 answer. It is the first stage of the body chain after
// gunzip, as in nginx, but what the subrequests write goes in after
// the stages that change text (sub_filter, charset, SSI) and before
// gzip, where nginx's postpone filter puts a subrequest's output.
//
// The body waits while the first subrequest runs: what of it came is
// held and the source is not read further (bodyFilters.stalled), so
// the additions never need more than a buffer of the body kept. The
// second subrequest starts once the body and the ends of the stages
// after it are out, and the answer ends after it.

// additionState is the addition filter of one answer.
type additionState struct {
	cc            *clientConn
	before, after string
	// sub is the subrequest in progress, nil between them.
	sub *subrequest
	// beforeStarted and beforeDone follow the first subrequest (done
	// at once without one), afterStarted and afterDone the second.
	beforeStarted, beforeDone bool
	afterStarted, afterDone   bool
	// held is the body that came while the first subrequest ran, from
	// heldOff on.
	held    []byte
	heldOff int
}

// additionFilter is the addition filter's header filter: a 200 answer
// of the main request, of the addition_types, in a location with
// add_before_body or add_after_body gets the stage. Its Content-Length
// and Accept-Ranges go and its ETag is made weak, as in nginx.
func additionFilter(cc *clientConn, h *outHead) {
	r := cc.r
	lc := r.lc
	if lc == nil || h.status != 200 || cc.sub != nil {
		return
	}
	a := &lc.Addition
	if a.Before == "" && a.After == "" {
		return
	}
	ctype := h.fieldType
	if ctype == nil {
		ctype = []byte(h.contentType)
	}
	if !a.Adds(ctype) {
		return
	}
	h.del(nameAcceptRanges)
	h.weakenETag()
	cc.lengthUnknown(h)
	if !cc.answerHasBody(h) {
		return
	}
	cc.bodyChain().add = &additionState{cc: cc, before: a.Before, after: a.After, beforeDone: a.Before == ""}
}

// hold keeps body bytes that came while the first subrequest runs.
func (a *additionState) hold(p []byte) {
	if a.heldOff == len(a.held) {
		a.held, a.heldOff = a.held[:0], 0
	}
	a.held = append(a.held, p...)
}

// hasHeld reports whether held body bytes can go on now.
func (a *additionState) hasHeld() bool {
	return a.beforeDone && a.sub == nil && a.heldOff < len(a.held)
}

// startBefore makes the first subrequest, once.
func (a *additionState) startBefore(f *bodyFilters) {
	if !a.beforeStarted {
		a.beforeStarted = true
		a.run(f, a.before)
	}
}

// run makes and starts a subrequest to uri; one that is answered at
// once ends in place. One that cannot be made fails the answer, as
// nginx fails it (newSubrequest logged why).
func (a *additionState) run(f *bodyFilters, uri string) {
	s := a.cc.newSubrequest([]byte(uri), nil, subAddition, nil)
	if s == nil {
		f.failed = true
		return
	}
	a.sub = s
	s.start()
	if s.ended && s.complete && s.parent == a.cc && a.sub == s {
		s.parent = nil
		a.subDone()
	}
}

// subDone takes the end of the subrequest in progress.
func (a *additionState) subDone() {
	a.sub = nil
	if !a.beforeDone {
		a.beforeDone = true
	} else {
		a.afterDone = true
	}
}

// output passes what the subrequest wrote on, as far as the chain's
// output has room (a buffer's worth may wait for the client), and
// returns how much it took.
func (a *additionState) output(f *bodyFilters, b []byte) int {
	k := min(len(b), max(outLimit-(len(f.out)-f.outOff), 0))
	if k == 0 {
		return 0
	}
	f.compressOrOut(b[:k])
	return k
}

// additionEnded goes on with the answer whose addition ended; one cut
// short ends the answer, as nginx ends the main request when a
// subrequest fails. It reports whether the answer goes on.
func (cc *clientConn) additionEnded(sub *subrequest) bool {
	f := cc.r.body
	if f == nil || f.add == nil || f.add.sub != sub {
		return false
	}
	if !sub.complete {
		f.add.sub = nil
		cc.flushAndAbort()
		return false
	}
	f.add.subDone()
	return true
}
