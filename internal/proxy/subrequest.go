package proxy

import (
	"errors"
	"strconv"

	"headroom/internal/engine"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

// This file is nginx's subrequest, as SSI's include makes them: a request
// of the same client for another URI, served by the request code that
// serves any request, on a clientConn of its own in a slot of its own
// (unpolled, as an HTTP/2 stream's), whose transport is the subrequest.
// The subrequest starts where nginx's starts, at the server's rewrite
// phase with the URI it was given, as an internal request (it may enter
// `internal` locations), with the client's fields and the method GET;
// limit_req, limit_conn and the access rules were applied to the main
// request and are not applied again, as in nginx. What the request code
// writes — an HTTP/1.1 answer, as to any client — is read back here: the
// head is dropped (the status is kept), and the body, without its
// framing, goes into the including answer where the command stood, or
// into a variable (include set=).
//
// A slot of its own makes a subrequest count where nginx's cannot: in
// the client budget, which keeps an upstream slot secured for each
// request in progress, so an include that proxies never finds the
// worker without a connection for its upstream. Subrequests run one at a
// few at a time per answer (ssiMaxInflight), so what an answer can take
// of the worker's slots is bounded.

// maxSubrequestDepth is how deeply subrequests may nest: nginx's limit of
// 50, counted as nginx counts it from a main request that starts at one
// more, so that 51 levels are made and the 52nd is refused.
const maxSubrequestDepth = 51

// subrequest is one subrequest and its request's transport.
type subrequest struct {
	// parent is the request whose answer includes this one; nil once it
	// went away. cc is the subrequest's own connection; nil once its
	// request ended.
	parent *clientConn
	cc     *clientConn
	// depth is how deeply the subrequest is nested (1 for one of a main
	// request).
	depth int
	// The answer as the request code writes it: which part, the body
	// bytes left of a content-length, and the status. Its body is never
	// chunked: a subrequest's answer ends with its request (chunkable).
	resp   respPart
	left   int64
	status int
	// memory keeps the body in mem (include set=), no more than
	// memoryLimit says; tooBig is set once more came. stubBody is the
	// include's stub, sent as stubType in place of an error page of the
	// subrequest's own, once (stubSent).
	memory   bool
	mem      []byte
	tooBig   bool
	stubBody []byte
	stubType string
	stubSent bool
	// gotBody is set once any body byte came.
	gotBody bool
	// auth marks auth_request's subrequest, whose body is dropped;
	// authVals are auth_request_set's values and authenticate a 401's
	// WWW-Authenticate, taken as it ends (captureAuth).
	auth         bool
	authVals     [][]byte
	authenticate []byte
	// addition marks a subrequest of add_before_body or add_after_body.
	addition bool
	// blocked is set while the request code waits to write: the
	// including answer has no room until its client takes some.
	blocked bool
	// ended is set once the request ended; complete when its answer
	// reached its end.
	ended    bool
	complete bool
	// wakeSub and wakeParent are the deferred calls the worker makes
	// after the round of events (runSubrequests); queued is set while the
	// subrequest is on the worker's list.
	wakeSub, wakeParent bool
	queued              bool
}

// subMode is where a subrequest's body goes.
type subMode uint8

const (
	// subOut: into the including answer.
	subOut subMode = iota
	// subStub: into the including answer; an error or redirect of the
	// subrequest's own sends the include's stub instead of its page
	// (respondError), and so does an answer without a body.
	subStub
	// subMemory: kept for a variable (include set=).
	subMemory
	// subAuth: dropped; only the status and what auth_request_set
	// reads count (authrequest.go).
	subAuth
	// subAddition: before or after the including answer's body
	// (addition.go).
	subAddition
)

// newSubrequest makes a subrequest of the connection's request for uri
// (unescaped) and args, its body going where mode says (stub is
// subStub's block); start runs it. It returns nil when none could be
// made, with the reason logged, as nginx's SSI then writes its error
// text.
func (cc *clientConn) newSubrequest(uri, args []byte, mode subMode, stub []byte) *subrequest {
	w := cc.w
	pr := cc.r
	depth := 1
	if cc.sub != nil {
		depth = cc.sub.depth + 1
	}
	if depth > maxSubrequestDepth {
		cc.logError("subrequests cycle while processing \"" + string(uri) + "\"")
		return nil
	}
	if w.loop.InUse(engine.KindClient) >= w.clientBudget || w.loop.Free() < 2 {
		w.stats.Rejected.Inc()
		cc.logAt(logs.Warn, "no connection slot for a subrequest to \""+string(uri)+"\"")
		return nil
	}
	sc := w.getClient()
	c, err := w.loop.AddUnpolled(engine.KindClient, sc)
	if err != nil {
		w.putClient(sc)
		cc.logAt(logs.Warn, "no connection slot for a subrequest to \""+string(uri)+"\"")
		return nil
	}
	s := &subrequest{parent: cc, cc: sc, depth: depth, memory: mode == subMemory, auth: mode == subAuth, addition: mode == subAddition, stubBody: stub}
	if stub != nil {
		h := &pr.outHead
		s.stubType = h.contentType
		if h.fieldType != nil {
			s.stubType = string(h.fieldType)
		}
	}
	sc.c = c
	sc.tr = s
	sc.sub = s
	sc.ln = cc.ln
	sc.id = cc.id
	sc.remote = cc.remote
	sc.local = cc.local
	sc.accepted = cc.accepted
	sc.pp = cc.pp
	sc.requests = cc.requests
	sc.scanned = 0
	sc.state = connClosed
	sc.setState(connIdle)
	c.OnRead = onClientRead
	c.OnWrite = onClientWrite
	c.OnTimer = onClientTimer
	sc.attach()
	r := sc.r
	r.start = w.loop.Now()
	// The main request's head, as nginx's subrequest shares its
	// headers_in: $request, $request_uri and the fields are the
	// client's; the method is GET and there is no body.
	h := &r.head
	hdrs := h.Headers[:0]
	*h = pr.head
	h.Headers = hdrs
	for _, f := range pr.head.Headers {
		if http1.EqualFold(f.Name, "content-length") || http1.EqualFold(f.Name, "transfer-encoding") || http1.EqualFold(f.Name, "expect") {
			continue
		}
		h.Headers = append(h.Headers, f)
	}
	h.Method = methodGET
	h.ContentLength, h.Chunked, h.ExpectContinue, h.Upgrade = -1, false, false, false
	r.args = append(r.args[:0], args...)
	h.Query = nil
	if len(args) > 0 {
		h.Query = r.args
	}
	r.uri = append(r.uri[:0], uri...)
	h.Path = r.uri
	r.line = pr.line
	r.bodyDone = true
	r.keepAlive = false
	r.internal = true
	r.srv = pr.srv
	r.lc = r.srv.Loc
	r.realAddr, r.realSet = pr.realAddr, pr.realSet
	r.pipelined = pr.pipelined
	// Variables are the main request's: nginx's subrequest shares their
	// values, so $request_id is the same and set's values are seen.
	r.requestID = append(r.requestID[:0], cc.requestIDValue()...)
	r.script.reset(len(w.srv.cfg.HTTP.Variables))
	r.script.inherit(&pr.script)
	return s
}

// start runs the subrequest from the server's rewrite phase, as nginx's
// subrequest starts; it may be answered, and end, before start returns.
func (s *subrequest) start() {
	sc := s.cc
	sc.setPhase(phaseRoute)
	if !sc.findConfig() {
		return
	}
	sc.serve()
}

// memoryLimit is subrequest_output_buffer_size of the location that
// answers: how much of a body kept in a variable may come.
func (s *subrequest) memoryLimit() int {
	if sc := s.cc; sc != nil && sc.r != nil && sc.r.lc != nil {
		return sc.r.lc.SubrequestOutputBufferSize
	}
	return 0
}

// fail ends a subrequest whose answer cannot be taken: the line is
// logged, and its write fails, which ends its request; the including
// answer then ends too (subrequestEnded).
func (s *subrequest) fail(line string) {
	if !s.tooBig {
		s.tooBig = true
		if sc := s.cc; sc != nil {
			sc.logError(line)
		}
	}
}

// errSubrequestFailed is the write error of a subrequest whose answer
// could not be taken.
var errSubrequestFailed = errors.New("subrequest failed")

// queue puts the subrequest on the worker's list of deferred calls.
func (s *subrequest) queue(w *worker) {
	if !s.queued {
		s.queued = true
		w.subWakes = append(w.subWakes, s)
	}
}

// runSubrequests makes the calls between subrequests and the answers
// that include them that were deferred to the round's end: a request
// never runs inside another's handler, since either may end there.
func (w *worker) runSubrequests() {
	for len(w.subWakes) > 0 {
		list := w.subWakes
		w.subWakes = w.subWakesSpare[:0]
		// The answers to wake: each once, after the ends of all its
		// includes of this round were taken, so that what they let go
		// leaves in one write.
		parents := w.subParents[:0]
		for _, s := range list {
			s.queued = false
			if s.wakeSub {
				s.wakeSub = false
				if sc := s.cc; sc != nil && sc.c != nil && sc.c.Data == sc {
					s.blocked = false
					sc.c.OnWrite(sc.c)
				}
			}
			if s.wakeParent {
				s.wakeParent = false
				p := s.parent
				if p == nil || p.c == nil || p.c.Data != p || p.r == nil {
					continue
				}
				if s.ended {
					// Whatever the subrequest does from now on is its
					// own.
					s.parent = nil
					if !p.subrequestEnded(s) {
						continue
					}
				}
				parents = appendWake(parents, p)
			}
		}
		clear(list)
		w.subWakesSpare = list
		for _, pw := range parents {
			if c := pw.cc.c; c == pw.c && c != nil && c.Gen() == pw.gen && c.Data == pw.cc {
				c.OnWrite(c)
			}
		}
		clear(parents)
		w.subParents = parents
	}
}

// parentWake is an including answer to wake, with its slot's generation
// so that a connection closed and reused meanwhile is not woken.
type parentWake struct {
	cc  *clientConn
	c   *engine.Conn
	gen int32
}

// appendWake adds an answer to wake, once.
func appendWake(list []parentWake, p *clientConn) []parentWake {
	for _, pw := range list {
		if pw.cc == p && pw.c == p.c {
			return list
		}
	}
	return append(list, parentWake{cc: p, c: p.c, gen: p.c.Gen()})
}

// wakeIncluding asks for the including answer to go on after the round.
func (s *subrequest) wakeIncluding() {
	if s.parent != nil {
		s.wakeParent = true
		s.queue(s.parent.w)
	}
}

// writable lets a subrequest that waited for room write again.
func (s *subrequest) writable(w *worker) {
	if s.blocked && s.cc != nil {
		s.wakeSub = true
		s.queue(w)
	}
}

// abandon ends the subrequest because its including answer went: its
// request stops where it is, as nginx's do with their main request.
func (s *subrequest) abandon() {
	s.parent = nil
	if sc := s.cc; sc != nil && sc.state != connClosed {
		if sc.r != nil && sc.r.status == 0 {
			sc.r.status = 499
		}
		sc.abort()
	}
}

// Read gives the request nothing: a subrequest has no body, and its
// client never closes.
func (s *subrequest) Read(p []byte) (int, error) { return 0, engine.ErrAgain }

// Readable reports that nothing waits to be read.
func (s *subrequest) Readable() bool { return false }

// PeerClosed reports false: the client's leaving ends the including
// answer, which ends the subrequest (abandon).
func (s *subrequest) PeerClosed() bool { return false }

// Flush has nothing to do: what was written went to the including
// answer.
func (s *subrequest) Flush() (bool, error) { return true, nil }

// Write takes the HTTP/1 answer the request code writes: the head is
// read for its status and framing, and the body goes on as far as the
// including answer has room.
func (s *subrequest) Write(p []byte) (int, error) {
	if s.tooBig {
		return 0, errSubrequestFailed
	}
	n := 0
	for n < len(p) {
		switch s.resp {
		case respHead:
			// The request code gives a subrequest its head as a value
			// (headOf) and writes none: body bytes before it are a
			// fault.
			return n, errSubrequestFailed
		case respLength:
			in := p[n : n+int(min(int64(len(p)-n), s.left))]
			k := s.deliver(in)
			if s.tooBig {
				return n, errSubrequestFailed
			}
			s.left -= int64(k)
			n += k
			if s.left == 0 {
				s.resp = respDone
			} else if k == 0 {
				return s.wrote(n)
			}
		case respUntilClose:
			k := s.deliver(p[n:])
			if s.tooBig {
				return n, errSubrequestFailed
			}
			n += k
			if k == 0 {
				return s.wrote(n)
			}
		case respDone:
			n = len(p)
		}
	}
	return n, nil
}

// wrote ends a Write that could not take everything.
func (s *subrequest) wrote(n int) (int, error) {
	s.blocked = true
	if n == 0 {
		return 0, engine.ErrAgain
	}
	return n, nil
}

// room is how many body bytes the including answer takes now: a
// buffer's worth may wait for its client, as gunzip's output may, when
// the include is the first part of the answer; else as much as may wait
// behind it (ssiState.includeOutput).
func (s *subrequest) room() int {
	if s.memory || s.auth {
		// A body kept in a variable is cut at its limit, never waited
		// for.
		return 1 << 30
	}
	p := s.parent
	if p == nil || p.r == nil || p.r.body == nil || p.r.body.ssi == nil {
		return 1 << 30
	}
	f := p.r.body
	if _, i := f.ssi.partOf(s); i > 0 {
		return max(ssiBufferLimit-f.ssi.buffered, 0)
	}
	return max(outLimit-(len(f.out)-f.outOff), 0)
}

// deliver passes body bytes on and returns how many were taken.
func (s *subrequest) deliver(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if s.auth {
		return len(b)
	}
	if s.memory {
		s.gotBody = true
		if len(s.mem)+len(b) > s.memoryLimit() {
			s.fail("too big subrequest response")
			return 0
		}
		s.mem = append(s.mem, b...)
		return len(b)
	}
	p := s.parent
	if s.addition {
		if p == nil || p.r == nil || p.r.body == nil || p.r.body.add == nil {
			return len(b)
		}
		f := p.r.body
		k := f.add.output(f, b)
		if k > 0 {
			s.gotBody = true
			s.wakeIncluding()
		}
		return k
	}
	if p == nil || p.r == nil || p.r.body == nil || p.r.body.ssi == nil {
		// The including answer is gone; the rest is dropped.
		return len(b)
	}
	f := p.r.body
	k := f.ssi.includeOutput(f, s, b, s.room())
	if k == 0 {
		return 0
	}
	s.gotBody = true
	s.wakeIncluding()
	return k
}

// headOf takes the head of the subrequest's answer from the request code,
// which writes none: the status, and the body's length or its running
// until the request ends.
func (s *subrequest) headOf(h *outHead) {
	s.status = h.status
	switch {
	case h.status >= 100 && h.status < 200:
	case h.status == 204 || h.status == 304 || h.contentLength == 0:
		s.resp = respDone
	case h.contentLength > 0:
		if s.memory && h.contentLength > int64(s.memoryLimit()) {
			s.fail("too big subrequest response: " + strconv.FormatInt(h.contentLength, 10))
			return
		}
		s.left = h.contentLength
		s.resp = respLength
	default:
		s.resp = respUntilClose
	}
}

// CloseWrite ends an answer whose body ran until the close.
func (s *subrequest) CloseWrite() {
	if s.resp == respUntilClose {
		s.resp = respDone
	}
}

// Close ends the subrequest as its request ends; the including answer
// goes on after the round.
func (s *subrequest) Close() {
	s.cc = nil
	if s.ended {
		// The including answer went on already (answered).
		return
	}
	s.answered()
}

// answered ends the subrequest for the including answer, which goes on
// after the round: when its request ends, or when it goes on with work
// of its own after its answer (a cache's background update).
func (s *subrequest) answered() {
	if s.resp == respUntilClose {
		s.resp = respDone
	}
	s.complete = s.resp == respDone
	s.ended = true
	s.wakeIncluding()
}
