package proxy

import (
	"bytes"
	"time"

	"headroom/internal/ssi"
	"headroom/internal/vars"
)

// This file is nginx's SSI filter: a header filter that decides and
// changes the head, and a stage of the body filters (bodyfilter.go),
// between the charset conversion and gzip as in nginx, that carries out
// the commands of an answer as it streams. The syntax is internal/ssi's;
// here the commands act: echo and set read and write variables, if/elif/
// else/endif choose what goes out, block keeps a stub, config sets the
// error text and the time format, and include starts a subrequest
// (subrequest.go) whose answer goes out in the command's place.
//
// Includes run side by side, as nginx's subrequests do, and their
// answers go out in the order of the commands: the answer is a queue of
// parts, each an include or the text that came after one, and only the
// first part's bytes go on to the client while the others wait in
// memory. What waits is bounded (ssiBufferLimit), and so is the number of
// includes in progress (ssiMaxInflight): past either, and while an
// include with wait="yes" or set= runs, the stage takes no more input;
// what its source gave is held (one buffer: the source is not read
// further, see bodyFilters.stalled) and parsed once the parts move on.

// ssiErrorText is what takes the place of a command that failed, unless
// "config errmsg" set another or ssi_silent_errors is on.
const ssiErrorText = "[an error occurred while processing the directive]"

// ssiShared is what a main request's SSI keeps for its subrequests too,
// as nginx keeps it in the main request's context: set's variables, the
// blocks, and the time format $date_local and $date_gmt are written in.
type ssiShared struct {
	vars    []ssiVar
	blocks  []ssiBlock
	timefmt []byte
}

type ssiVar struct{ name, value []byte }

type ssiBlock struct{ name, body []byte }

// ssiPart is one part of an answer with includes in progress: an
// include (sub), whose output waits in buf until the part is first; or
// text that came after an include, in buf. stub is the block sent when
// the include ends without a body, setVar the variable its body goes to
// (set=); ended is set once the include ended.
type ssiPart struct {
	sub    *subrequest
	buf    []byte
	stub   int
	setVar []byte
	ended  bool
}

// ssiBufferLimit bounds the output of an answer that waits behind an
// include in progress: its own text, and what later includes wrote.
const ssiBufferLimit = 64 << 10

// ssiMaxInflight bounds the includes of one answer in progress at once;
// each takes a connection slot (and maybe an upstream connection) while
// it runs.
const ssiMaxInflight = 16

// ssiState is the SSI stage of one answer.
type ssiState struct {
	cc *clientConn
	p  ssi.Parser
	// shared is what the main request's SSI keeps, once needed (sh).
	shared *ssiShared
	// held is input not parsed yet, from heldOff on: what came while a
	// subrequest ran.
	held    []byte
	heldOff int
	// parts are the includes in progress and the output that waits
	// behind them, in order; buffered counts the bytes that wait.
	// inflight counts includes in progress; waitFor is the include that
	// must end before the stage takes more input (wait="yes", set=,
	// file=).
	parts    []*ssiPart
	buffered int
	inflight int
	waitFor  *subrequest
	// toStart are the includes of the piece being parsed, started once
	// it is (startIncludes).
	toStart []*ssiPart
	// produced counts the bytes the stage passed on: until they reach
	// postpone (postpone_output) the answer's head waits with them
	// (bodyFilters.holdsHead).
	produced int
	postpone int
	// output is off in an if's branch that does not hold and inside a
	// block; chosen once a branch of the if held; cond is which part of
	// an if the commands are in (0 outside).
	output bool
	chosen bool
	cond   uint8
	// block is the number (from 1) of the block being recorded.
	block    int
	encoding ssi.Encoding
	errmsg   []byte
	silent   bool
	// scratch holds an echo's value, uriBuf and pathBuf an include's
	// URI as evaluated and as unescaped.
	scratch []byte
	uriBuf  []byte
	pathBuf []byte
}

// The parts of an if, as nginx numbers them: a command's own number says
// after which it may come.
const (
	ssiCondIf   = 1
	ssiCondElse = 2
)

// ssiFilter is the SSI module's header filter: an answer of ssi_types
// with a body (of unknown or non-zero length) is processed. The main
// request's answer loses Content-Length and Accept-Ranges, and
// Last-Modified and ETag unless ssi_last_modified keeps them (the ETag
// weak), as in nginx; the answer is then chunked, or closed at its end
// for HTTP/1.0.
func ssiFilter(cc *clientConn, h *outHead) {
	r := cc.r
	lc := r.lc
	if lc == nil || !lc.SSI.On || h.contentLength == 0 {
		return
	}
	ctype := h.fieldType
	if ctype == nil {
		ctype = []byte(h.contentType)
	}
	if !lc.SSI.Processes(ctype) {
		return
	}
	if cc.sub == nil {
		h.del(nameAcceptRanges)
		h.dropValidators(lc.SSI.LastModified)
	}
	h.contentLength = -1
	h.lengthLost = true
	if isHead(&r.head) || h.status < 200 || h.status == 204 || h.status == 304 {
		return
	}
	cc.startSSI()
	r.chunkOut = cc.chunkable()
	h.chunked = r.chunkOut
	if !r.chunkOut {
		r.keepAlive = false
	}
}

// nameLastModifiedField is Last-Modified as an upstream's field.
var nameLastModifiedField = []byte("Last-Modified")

// dropValidators is what a filter that changes the body does to its
// validators, as nginx's SSI and sub filters do: Last-Modified and the
// ETag go, or with keep (their *_last_modified on) both stay, the ETag
// made weak.
func (h *outHead) dropValidators(keep bool) {
	if keep {
		h.weakenETag()
		return
	}
	h.lastModified = time.Time{}
	h.del(nameLastModifiedField)
	h.del(nameETag)
}

// startSSI adds the SSI stage to the answer's chain.
func (cc *clientConn) startSSI() {
	lc := cc.r.lc
	w := cc.w
	var s *ssiState
	if n := len(w.ssiStates); n > 0 {
		// A stage of an earlier answer, with its parser's and buffers'
		// capacity.
		s = w.ssiStates[n-1]
		w.ssiStates = w.ssiStates[:n-1]
		*s = ssiState{p: s.p, held: s.held[:0], scratch: s.scratch[:0], parts: s.parts[:0], uriBuf: s.uriBuf[:0], pathBuf: s.pathBuf[:0], toStart: s.toStart[:0]}
	} else {
		s = &ssiState{}
	}
	s.cc, s.output, s.silent, s.postpone = cc, true, lc.SSI.SilentErrors, max(lc.PostponeOutput, 1)
	s.p.Reset(lc.SSI.ValueLength)
	cc.bodyChain().ssi = s
}

// sh returns what the main request's SSI keeps (set's variables, the
// blocks, the time format), made on first need.
func (s *ssiState) sh() *ssiShared {
	if s.shared == nil {
		s.shared = s.cc.ssiShared()
	}
	return s.shared
}

// ssiShared returns what the request's SSI shares with its
// subrequests, made on first need.
func (cc *clientConn) ssiShared() *ssiShared {
	r := cc.r
	if r.ssiShared == nil {
		if cc.sub != nil && cc.sub.parent != nil {
			r.ssiShared = cc.sub.parent.ssiShared()
		} else {
			r.ssiShared = &ssiShared{}
		}
	}
	return r.ssiShared
}

// release ends the stage: includes still running are abandoned, and
// the stage goes back to the worker for another answer.
func (s *ssiState) release(w *worker) {
	parts := s.parts
	s.parts, s.waitFor = nil, nil
	clear(s.toStart)
	s.toStart = s.toStart[:0]
	for _, p := range parts {
		if p.sub != nil && !p.ended {
			p.sub.abandon()
		}
	}
	clear(parts)
	s.parts = parts[:0]
	s.cc, s.shared = nil, nil
	w.ssiStates = append(w.ssiStates, s)
}

// busy reports whether the stage takes no input now: an include it must
// wait for runs, too much output waits, or too many includes run. It
// cannot end either while includes are in progress.
func (s *ssiState) busy() bool {
	return s.waitFor != nil || s.buffered >= ssiBufferLimit || s.inflight >= ssiMaxInflight
}

// pending reports whether includes are in progress or output waits
// behind them.
func (s *ssiState) pending() bool { return len(s.parts) > 0 }

// emit passes the stage's own output on: to the next stage when nothing
// waits before it, else behind the last part.
func (s *ssiState) emit(f *bodyFilters, p []byte) {
	if len(p) == 0 {
		return
	}
	if len(s.parts) == 0 {
		s.out(f, p)
		return
	}
	last := s.parts[len(s.parts)-1]
	if last.sub != nil {
		last = &ssiPart{}
		s.parts = append(s.parts, last)
	}
	last.buf = append(last.buf, p...)
	s.buffered += len(p)
}

// out passes bytes on to the next stage.
func (s *ssiState) out(f *bodyFilters, p []byte) {
	if len(p) > 0 {
		s.produced += len(p)
		f.compressOrOut(p)
	}
}

// partOf returns the part of an include, nil when there is none.
func (s *ssiState) partOf(sub *subrequest) (*ssiPart, int) {
	for i, p := range s.parts {
		if p.sub == sub {
			return p, i
		}
	}
	return nil, -1
}

// includeOutput takes what an include wrote: on to the next stage when
// it is the first part (as far as room allows: room), else into its
// part while the waiting output is within bounds. It returns how much it
// took.
func (s *ssiState) includeOutput(f *bodyFilters, sub *subrequest, b []byte, room int) int {
	p, i := s.partOf(sub)
	if p == nil {
		return len(b)
	}
	if i == 0 {
		k := min(len(b), room)
		s.out(f, b[:k])
		return k
	}
	k := min(len(b), ssiBufferLimit-s.buffered)
	if k <= 0 {
		return 0
	}
	p.buf = append(p.buf, b[:k]...)
	s.buffered += k
	return k
}

// advance sends the parts that reached the front: the output of those
// that ended and the text after them, then what the first include in
// progress wrote so far; from then on its output goes on directly, and
// it is woken if it waited for room.
func (s *ssiState) advance(f *bodyFilters, w *worker) {
	for len(s.parts) > 0 {
		p := s.parts[0]
		if len(p.buf) > 0 {
			s.out(f, p.buf)
			s.buffered -= len(p.buf)
			p.buf = nil
		}
		if p.sub != nil && !p.ended {
			p.sub.writable(w)
			return
		}
		s.parts[0] = nil
		s.parts = s.parts[1:]
	}
	s.parts = nil
}

// wakeFirst lets the first include write again once its output was
// taken.
func (s *ssiState) wakeFirst(w *worker) {
	if len(s.parts) > 0 && s.parts[0].sub != nil && !s.parts[0].ended {
		s.parts[0].sub.writable(w)
	}
}

// hasHeld reports whether input waits to be parsed.
func (s *ssiState) hasHeld() bool { return s.heldOff < len(s.held) }

// feed takes input: parsed now, or held behind what already waits.
func (s *ssiState) feed(f *bodyFilters, p []byte) {
	if s.busy() || s.hasHeld() {
		if s.heldOff == len(s.held) {
			s.held, s.heldOff = s.held[:0], 0
		}
		s.held = append(s.held, p...)
		return
	}
	n := s.parse(f, p)
	if n < len(p) {
		s.held = append(s.held[:0], p[n:]...)
		s.heldOff = 0
	}
}

// resume parses what was held, until it is used up or the stage is
// busy again.
func (s *ssiState) resume(f *bodyFilters) {
	for !s.busy() && s.hasHeld() && !f.failed {
		s.heldOff += s.parse(f, s.held[s.heldOff:])
	}
	if !s.hasHeld() {
		s.held, s.heldOff = s.held[:0], 0
	}
}

// parse parses p and acts on what it finds; it returns how much of p it
// used, all of it unless the stage became busy.
func (s *ssiState) parse(f *bodyFilters, p []byte) int {
	used := 0
	for used < len(p) {
		n, it := s.p.Next(p[used:])
		used += n
		switch it.Kind {
		case ssi.Text:
			s.text(f, it.Text)
		case ssi.Command:
			s.command(f, &it)
		case ssi.Error:
			s.cc.logError(it.Err)
			s.fail(f)
		}
		if s.busy() {
			break
		}
		if n == 0 && it.Kind == ssi.None {
			break
		}
	}
	if len(s.toStart) > 0 {
		s.startIncludes(f)
	}
	return used
}

// end is the input's end: what the parser still holds goes out. It
// reports false while includes are in progress or input waits.
func (s *ssiState) end(f *bodyFilters) bool {
	if s.busy() || s.pending() || s.hasHeld() {
		return false
	}
	if e := s.p.PendingErr(); e != "" {
		// nginx logs a broken command when it finds the fault, even
		// when the body ends before the command does.
		s.cc.logError(e)
	}
	if rest := s.p.End(); len(rest) > 0 {
		s.text(f, rest)
	}
	return true
}

// text passes text on, or into the block being recorded, or drops it in
// an if's branch that does not hold.
func (s *ssiState) text(f *bodyFilters, t []byte) {
	switch {
	case s.output:
		s.emit(f, t)
	case s.block > 0:
		b := &s.sh().blocks[s.block-1]
		b.body = append(b.body, t...)
	}
}

// fail writes the error text in place of a command that failed.
func (s *ssiState) fail(f *bodyFilters) {
	if s.silent {
		return
	}
	if s.errmsg != nil {
		s.emit(f, s.errmsg)
		return
	}
	s.emit(f, []byte(ssiErrorText))
}

// ssiCommand describes a command: its parameters (the first ones
// mandatory as many as nmandatory says), the part of an if it may come
// after (cond), and whether it acts inside a block (endblock).
type ssiCommand struct {
	params     []string
	mandatory  []bool
	cond       uint8
	blockEnder bool
}

var ssiCommands = map[string]*ssiCommand{
	"include":  {params: []string{"virtual", "file", "wait", "set", "stub"}, mandatory: []bool{false, false, false, false, false}},
	"echo":     {params: []string{"var", "default", "encoding"}, mandatory: []bool{true, false, false}},
	"config":   {params: []string{"errmsg", "timefmt"}, mandatory: []bool{false, false}},
	"set":      {params: []string{"var", "value"}, mandatory: []bool{true, true}},
	"if":       {params: []string{"expr"}, mandatory: []bool{true}},
	"elif":     {params: []string{"expr"}, mandatory: []bool{true}, cond: ssiCondIf},
	"else":     {cond: ssiCondIf},
	"endif":    {cond: ssiCondElse},
	"block":    {params: []string{"name"}, mandatory: []bool{true}},
	"endblock": {blockEnder: true},
}

// command acts on one command, as nginx's SSI does: outside the
// output (a branch that does not hold, a block) only the if commands
// and endblock act, and a block records the others as text.
func (s *ssiState) command(f *bodyFilters, it *ssi.Item) {
	cc := s.cc
	name := string(it.Name)
	cmd := ssiCommands[name]
	if cmd == nil {
		if s.output {
			cc.logError("invalid SSI command: \"" + name + "\"")
			s.fail(f)
		}
		return
	}
	if !s.output && !cmd.blockEnder {
		if s.block > 0 {
			b := &s.sh().blocks[s.block-1]
			b.body = append(b.body, "<!--#"...)
			b.body = append(b.body, it.Name...)
			for _, p := range it.Params {
				b.body = append(b.body, ' ')
				b.body = append(b.body, p.Name...)
				b.body = append(b.body, "=\""...)
				b.body = append(b.body, p.Value...)
				b.body = append(b.body, '"')
			}
			b.body = append(b.body, " -->"...)
			return
		}
		if cmd.cond == 0 {
			// An if inside a branch that does not hold is skipped with
			// its branch: nginx has no nested ifs.
			return
		}
	}
	if cmd.cond != 0 && (s.cond == 0 || s.cond > cmd.cond) {
		cc.logError("invalid context of SSI command: \"" + name + "\"")
		s.fail(f)
		return
	}
	var params [ssi.MaxParams + 1][]byte
	var have [ssi.MaxParams + 1]bool
	for _, p := range it.Params {
		i := 0
		for ; i < len(cmd.params); i++ {
			if string(p.Name) == cmd.params[i] {
				break
			}
		}
		if i == len(cmd.params) {
			cc.logError("invalid parameter name: \"" + string(p.Name) + "\" in \"" + name + "\" SSI command")
			s.fail(f)
			return
		}
		if have[i] {
			cc.logError("duplicate \"" + string(p.Name) + "\" parameter in \"" + name + "\" SSI command")
			s.fail(f)
			return
		}
		have[i], params[i] = true, p.Value
	}
	for i, m := range cmd.mandatory {
		if m && !have[i] {
			cc.logError("mandatory \"" + cmd.params[i] + "\" parameter is absent in \"" + name + "\" SSI command")
			s.fail(f)
			return
		}
	}
	var ok bool
	switch name {
	case "include":
		ok = s.include(f, params[0], have[0], params[1], have[1], params[2], have[2], params[3], have[3], params[4], have[4])
	case "echo":
		ok = s.echo(f, params[0], params[1], have[1], params[2], have[2])
	case "config":
		if have[1] {
			s.sh().timefmt = append([]byte(nil), params[1]...)
		}
		if have[0] {
			s.errmsg = append([]byte(nil), params[0]...)
		}
		ok = true
	case "set":
		ok = s.set(params[0], params[1])
	case "if", "elif":
		ok = s.ifCommand(name, params[0])
	case "else":
		s.output = !s.chosen
		s.cond = ssiCondElse
		ok = true
	case "endif":
		s.output, s.chosen, s.cond = true, false, 0
		ok = true
	case "block":
		s.sh().blocks = append(s.sh().blocks, ssiBlock{name: append([]byte(nil), params[0]...)})
		s.block = len(s.sh().blocks)
		s.output = false
		ok = true
	case "endblock":
		s.output, s.block = true, 0
		ok = true
	}
	if !ok {
		s.fail(f)
	}
}

// lookup appends a variable's value for SSI: set's variables first, then
// the request's (the configuration's own and nginx's), found by name as
// the command runs.
func (s *ssiState) lookup(dst, name []byte) ([]byte, bool) {
	sh := s.shared
	if sh == nil && (s.cc.r.ssiShared != nil || s.cc.sub != nil) {
		sh = s.sh()
	}
	if sh != nil {
		for i := range sh.vars {
			if bytes.Equal(sh.vars[i].name, name) {
				return append(dst, sh.vars[i].value...), true
			}
		}
	}
	return s.cc.varByName(dst, name)
}

// varByName appends the value of a variable named while the request
// runs: the configuration's own, then nginx's; ok is false for a name
// that is neither, or a variable without a value.
func (cc *clientConn) varByName(dst, name []byte) ([]byte, bool) {
	if len(name) == 1 && name[0] >= '0' && name[0] <= '9' {
		// $0 is the whole match of an SSI if's regex, $1..$9 its
		// groups.
		return cc.capture(dst, int(name[0]-'0'))
	}
	if slot, ok := cc.w.srv.cfg.HTTP.VariableSlots[string(name)]; ok {
		return cc.userVar(dst, slot)
	}
	idx, suffix := vars.Lookup(string(name))
	if idx == vars.Unknown {
		return dst, false
	}
	return getters[idx](cc, dst, suffix)
}

// echo writes a variable's value, encoded as the last encoding asked
// for (entity at first): its default, or "(none)", when it has none.
func (s *ssiState) echo(f *bodyFilters, name, def []byte, haveDef bool, enc []byte, haveEnc bool) bool {
	var lowBuf [64]byte
	low := append(lowBuf[:0], name...)
	for i, c := range low {
		if 'A' <= c && c <= 'Z' {
			low[i] = c + 'a' - 'A'
		}
	}
	start := len(s.scratch)
	v, ok := s.lookup(s.scratch, low)
	s.scratch = v
	value := v[start:]
	if !ok {
		switch {
		case !haveDef:
			value = []byte("(none)")
		case len(def) == 0:
			s.scratch = s.scratch[:start]
			return true
		default:
			value = def
		}
	} else if len(value) == 0 {
		s.scratch = s.scratch[:start]
		return true
	}
	if haveEnc {
		if e, ok := ssi.ParseEncoding(enc); ok {
			s.encoding = e
		} else {
			s.cc.logError("unknown encoding \"" + string(enc) + "\" in the \"echo\" command")
		}
	}
	out := ssi.AppendEncoded(s.scratch[len(s.scratch):], value, s.encoding)
	s.emit(f, out)
	s.scratch = s.scratch[:0]
	return true
}

// set gives one of SSI's variables a value, its variables replaced.
func (s *ssiState) set(name, value []byte) bool {
	v, err := ssi.Eval(nil, value, s.lookup)
	if err != nil {
		s.cc.logError(err.Error())
		return false
	}
	s.setValue(bytes.ToLower(name), v)
	return true
}

// setValue gives one of SSI's variables (a lower-case name) a value.
func (s *ssiState) setValue(name, v []byte) {
	for i := range s.sh().vars {
		if bytes.Equal(s.sh().vars[i].name, name) {
			s.sh().vars[i].value = v
			return
		}
	}
	s.sh().vars = append(s.sh().vars, ssiVar{name: name, value: v})
}

// ifCommand is if and elif: once a branch held, the others do not.
func (s *ssiState) ifCommand(name string, expr []byte) bool {
	if name == "if" && s.cond != 0 {
		s.cc.logError("the \"if\" command inside the \"if\" command")
		return false
	}
	if s.chosen {
		s.output = false
		s.cond = ssiCondIf
		return true
	}
	holds, err := ssi.Condition(expr, s.lookup, s.setCaptures)
	if err != nil {
		s.cc.logError(err.Error())
		return false
	}
	s.output = holds
	s.chosen = holds
	s.cond = ssiCondIf
	return true
}

// include starts the subrequest of an include command.
func (s *ssiState) include(f *bodyFilters, virtual []byte, haveVirtual bool, file []byte, haveFile bool,
	wait []byte, haveWait bool, set []byte, haveSet bool, stub []byte, haveStub bool) bool {
	cc := s.cc
	switch {
	case haveVirtual && haveFile:
		cc.logError("inclusion may be either virtual=\"" + string(virtual) + "\" or file=\"" + string(file) + "\"")
		return false
	case !haveVirtual && !haveFile:
		cc.logError("no parameter in \"include\" SSI command")
		return false
	case haveSet && haveStub:
		cc.logError("\"set\" and \"stub\" cannot be used together in \"include\" SSI command")
		return false
	}
	if haveWait {
		if !haveVirtual {
			cc.logError("\"wait\" cannot be used with file=\"" + string(file) + "\"")
			return false
		}
		if !bytes.EqualFold(wait, []byte("no")) && !bytes.EqualFold(wait, []byte("yes")) {
			cc.logError("invalid value \"" + string(wait) + "\" in the \"wait\" parameter")
			return false
		}
	}
	target := virtual
	if !haveVirtual {
		target = file
	}
	uri, err := ssi.EvalPath(s.uriBuf[:0], target, cc.r.uri, s.lookup)
	if err != nil {
		cc.logError(err.Error())
		return false
	}
	s.uriBuf = uri
	// The subrequest copies the path and the arguments.
	path, args, ok := unsafeURI(s.pathBuf[:0], uri)
	s.pathBuf = path
	if !ok {
		cc.logError("unsafe URI \"" + string(uri) + "\" was detected")
		return false
	}
	stubIndex := 0
	if haveStub {
		for i := range s.sh().blocks {
			if bytes.Equal(s.sh().blocks[i].name, stub) {
				stubIndex = i + 1
				break
			}
		}
		if stubIndex == 0 {
			cc.logError("\"stub\"=\"" + string(stub) + "\" for \"include\" not found")
			return false
		}
	}
	mode := subOut
	switch {
	case haveSet:
		mode = subMemory
	case haveStub:
		mode = subStub
	}
	var stubBody []byte
	if stubIndex > 0 {
		stubBody = s.sh().blocks[stubIndex-1].body
		if stubBody == nil {
			stubBody = []byte{}
		}
	}
	// The include's part is queued before it starts: what it writes at
	// once has its place. Its end, even when it ends at once, is taken
	// after the round (runSubrequests).
	part := &ssiPart{stub: stubIndex}
	if haveSet {
		part.setVar = bytes.ToLower(set)
	}
	s.parts = append(s.parts, part)
	sub := cc.newSubrequest(path, args, mode, stubBody)
	if sub == nil {
		s.parts = s.parts[:len(s.parts)-1]
		if len(s.parts) == 0 {
			s.parts = nil
		}
		return false
	}
	part.sub = sub
	s.inflight++
	if haveSet || !haveVirtual || haveWait && bytes.EqualFold(wait, []byte("yes")) {
		// The rest of the answer may need what it gives (set=), or it
		// asked to be waited for; nginx waits for file= too.
		s.waitFor = sub
	}
	// It starts once the piece of the body being parsed is, as nginx
	// runs a subrequest after the filter that made it (startIncludes).
	s.toStart = append(s.toStart, part)
	return true
}

// startIncludes starts the includes the piece of the body just parsed
// made. One answered at once (a file, a return) ends in place, so that
// what follows goes on with it, in the same write.
func (s *ssiState) startIncludes(f *bodyFilters) {
	for i := 0; i < len(s.toStart); i++ {
		part := s.toStart[i]
		s.toStart[i] = nil
		sub := part.sub
		if part.ended || sub.parent != s.cc {
			continue
		}
		sub.start()
		if sub.ended && sub.complete && sub.parent == s.cc && !part.ended && s.cc.r != nil && s.cc.r.body == f {
			sub.parent = nil
			s.partEnded(f, part, sub, s.cc.w)
		}
	}
	s.toStart = s.toStart[:0]
}

// subrequestEnded goes on with the answer whose include ended: a block
// takes the place of an answer without a body (stub=), a variable
// takes the body (set=). An answer cut short ends the including one, as
// nginx ends the main request when a subrequest fails. It reports
// whether the including answer goes on.
func (cc *clientConn) subrequestEnded(sub *subrequest) bool {
	if sub.auth {
		cc.authEnded(sub)
		return false
	}
	if sub.addition {
		return cc.additionEnded(sub)
	}
	r := cc.r
	f := r.body
	if f == nil || f.ssi == nil {
		return false
	}
	s := f.ssi
	p, _ := s.partOf(sub)
	if p == nil || p.ended {
		return false
	}
	if !sub.complete {
		p.ended = true
		s.inflight--
		// The subrequest logged why. What was sent stays sent; a head
		// that still waits for the first of the body is not sent, as
		// nginx sends nothing then.
		if f.holdsHead() && r.bytesSent == 0 {
			cc.abort()
		} else {
			cc.flushAndAbort()
		}
		return false
	}
	s.partEnded(f, p, sub, cc.w)
	return true
}

// partEnded takes the end of an include whose answer is whole: its
// variable gets the body (set=), its stub takes the place of an answer
// without one, and the parts that reached the front go on.
func (s *ssiState) partEnded(f *bodyFilters, p *ssiPart, sub *subrequest, w *worker) {
	p.ended = true
	s.inflight--
	if s.waitFor == sub {
		s.waitFor = nil
	}
	if p.setVar != nil {
		value := []byte(nil)
		if sub.status < 300 {
			value = sub.mem
		}
		s.setValue(p.setVar, value)
	}
	if p.stub > 0 && !sub.gotBody && !sub.stubSent {
		b := s.sh().blocks[p.stub-1].body
		p.buf = append(p.buf, b...)
		s.buffered += len(b)
	}
	s.advance(f, w)
}

// unsafeURI splits an include's URI at its arguments (a slice of uri)
// and unescapes its path (appended to dst), as nginx's
// ngx_http_parse_unsafe_uri: "%XX" is decoded (a "?"
// made so stays in the path), and a path that reaches above the root
// ("..") or holds a NUL is refused.
func unsafeURI(dst, uri []byte) (path, args []byte, ok bool) {
	p, a, found := bytes.Cut(uri, []byte("?"))
	if found {
		args = a
	}
	path = dst
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) {
			hi, ok1 := unhex(p[i+1])
			lo, ok2 := unhex(p[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		if c == 0 {
			return nil, nil, false
		}
		path = append(path, c)
	}
	for seg := range bytes.SplitSeq(path, []byte("/")) {
		if string(seg) == ".." {
			return nil, nil, false
		}
	}
	return path, args, true
}

// ssiDate appends $date_local or $date_gmt: the current time in the SSI
// "config timefmt" format of the request's main request, nginx's
// "%A, %d-%b-%Y %H:%M:%S %Z" without one.
func (cc *clientConn) ssiDate(b []byte, gmt bool) []byte {
	now := time.Unix(cc.w.loop.Now().Unix(), 0)
	if gmt {
		now = now.UTC()
	} else {
		now = now.Local()
	}
	format := []byte(nil)
	if cc.r.ssiShared != nil || cc.sub != nil {
		format = cc.ssiShared().timefmt
	}
	if format == nil {
		format = ssiDefaultTimefmt
	}
	return ssi.Strftime(b, format, now)
}

var ssiDefaultTimefmt = []byte("%A, %d-%b-%Y %H:%M:%S %Z")

// setCaptures keeps the groups of an SSI if's regex match as the
// request's captures, which later commands read as $1..$9; a named
// group becomes one of SSI's variables, as in nginx.
func (s *ssiState) setCaptures(subject []byte, idx []int, names []string) {
	sc := &s.cc.r.script
	sc.capSubject = append(sc.capSubject[:0], subject...)
	sc.caps = append(sc.caps[:0], idx...)
	for g, name := range names {
		if name == "" {
			continue
		}
		// A group that took no part is empty, as in nginx.
		var v []byte
		if 2*g+1 < len(idx) && idx[2*g] >= 0 {
			v = append(v, subject[idx[2*g]:idx[2*g+1]]...)
		}
		s.setValue(bytes.ToLower([]byte(name)), v)
	}
}
