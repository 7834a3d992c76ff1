package proxy

import (
	"bytes"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/logs"
	"headroom/internal/vars"
)

// scriptState is what nginx's rewrite module keeps for a request: the
// values of the configuration's own variables, the groups of the last
// regex match, and what the rewrites did to the URI.
type scriptState struct {
	// vals holds each configuration variable's value by slot; set says
	// which have one for this request.
	vals [][]byte
	set  []bool
	// capSubject is the string the last successful match ran on, caps
	// its groups' offsets; caps is empty when there are none.
	capSubject []byte
	caps       []int
	// uriChanged is set when a rewrite changed the URI in the location's
	// rewrite phase, so that the location is looked up again.
	uriChanged bool
	// ifHandler is set once an if block with its own proxy_pass matched
	// in the location (nginx's content handler taken from it).
	ifHandler bool
	// locInvalid is nginx's cleared valid_location: the URI changed in
	// the location that serves it ("rewrite ... break"), so proxy_pass
	// sends the whole new URI instead of replacing the location's
	// prefix.
	locInvalid bool
	// argsSet is set once "set $args" changed the arguments, so that
	// the request goes upstream with them instead of the client's own
	// target (nginx's valid_unparsed_uri cleared).
	argsSet bool
	// scratch holds a rewrite's result while it is built, cond an if's
	// values while they are compared, text a return's text until it is
	// in the answer.
	scratch []byte
	cond    []byte
	text    []byte
	// mapDepth counts the maps being computed, one reading another.
	mapDepth int
}

// reset readies the state for a request of a configuration with n
// variables of its own.
func (s *scriptState) reset(n int) {
	if cap(s.vals) < n {
		s.vals = make([][]byte, n)
		s.set = make([]bool, n)
	}
	s.vals, s.set = s.vals[:n], s.set[:n]
	for i := range s.set {
		s.set[i] = false
	}
	s.caps = s.caps[:0]
	s.uriChanged, s.locInvalid, s.argsSet = false, false, false
	s.mapDepth = 0
}

// inherit gives a subrequest the values its main request's set and
// maps gave, as nginx's subrequest shares the main request's variables.
func (s *scriptState) inherit(p *scriptState) {
	for i := range p.set {
		if p.set[i] && i < len(s.set) {
			s.vals[i] = append(s.vals[i][:0], p.vals[i]...)
			s.set[i] = true
		}
	}
}

// scriptResult is how a level's rewrite directives ended.
type scriptResult uint8

const (
	// scriptNext: the request goes on in its phases.
	scriptNext scriptResult = iota
	// scriptStop: break, or a rewrite with last or break, ended the
	// directives; the request goes on.
	scriptStop
	// scriptAnswered: return, a redirect or an error answered the
	// request.
	scriptAnswered
)

// runScript runs a level's rewrite directives for the request, as
// nginx's rewrite handler runs its codes.
func (cc *clientConn) runScript(ops []conf.ScriptOp) scriptResult {
	if len(ops) == 0 {
		return scriptNext
	}
	return cc.runOps(ops)
}

func (cc *clientConn) runOps(ops []conf.ScriptOp) scriptResult {
	r := cc.r
	for i := range ops {
		op := &ops[i]
		switch {
		case op.Rewrite != nil:
			if res := cc.rewrite(op.Rewrite); res != scriptNext {
				return res
			}
		case op.Return != nil:
			cc.respondReturn(op.Return)
			return scriptAnswered
		case op.Set != nil:
			cc.setVar(op.Set)
		case op.Break:
			if r.script.uriChanged {
				r.script.locInvalid = true
				r.script.uriChanged = false
			}
			return scriptStop
		case op.If != nil:
			if !cc.condition(&op.If.Cond) {
				continue
			}
			if op.If.Loc != nil {
				cc.useConfig(op.If.Loc)
				if op.If.Loc.IfOwnHandler && op.If.Loc.ProxyPass != nil {
					r.script.ifHandler = true
				}
			}
			if res := cc.runOps(op.If.Body); res != scriptNext {
				return res
			}
		}
	}
	return scriptNext
}

// rewrite runs one rewrite directive, as nginx's regex start and end
// codes do.
func (cc *clientConn) rewrite(rw *conf.Rewrite) scriptResult {
	r := cc.r
	if !cc.match(rw.Regex, r.uri) {
		if r.lc.RewriteLog {
			cc.logAt(logs.Notice, "\""+rw.Regex.String()+"\" does not match \""+string(r.uri)+"\"")
		}
		return scriptNext
	}
	if r.lc.RewriteLog {
		cc.logAt(logs.Notice, "\""+rw.Regex.String()+"\" matches \""+string(r.uri)+"\"")
	}
	// Captures are escaped as arguments where they land in arguments or
	// in a redirect, when the client's path had escapes or a '+', as
	// nginx does.
	quoted := bytes.IndexByte(r.head.Path, '%') >= 0 || bytes.IndexByte(r.head.Path, '+') >= 0
	args := r.head.Query
	if rw.Status != 0 {
		b := cc.evalScript(r.script.scratch[:0], rw.URI, quoted)
		b = unescapeRedirect(b)
		if rw.AddArgs && len(args) > 0 {
			if rw.HasArgs {
				b = append(b, '&')
			} else {
				b = append(b, '?')
			}
			b = append(b, args...)
		}
		r.script.scratch = b
		if r.lc.RewriteLog {
			cc.logAt(logs.Notice, "rewritten redirect: \""+string(b)+"\"")
		}
		cc.redirectTo(rw.Status, b)
		return scriptAnswered
	}
	uri := cc.evalScript(r.script.scratch[:0], rw.URI, false)
	r.script.scratch = uri
	var newArgs []byte
	switch {
	case rw.Args != nil:
		newArgs = cc.evalScript(nil, rw.Args, quoted)
		if rw.AddArgs && len(args) > 0 {
			newArgs = append(append(newArgs, '&'), args...)
		}
	case rw.AddArgs:
		newArgs = args
	default:
		newArgs = []byte{}
	}
	if newArgs != nil {
		r.args = append(r.args[:0], newArgs...)
		r.head.Query = r.args
	}
	if r.lc.RewriteLog {
		cc.logAt(logs.Notice, "rewritten data: \""+string(uri)+"\", args: \""+string(r.head.Query)+"\"")
	}
	if len(uri) == 0 {
		cc.logError("the rewritten URI has a zero length")
		cc.respondError(500)
		return scriptAnswered
	}
	r.uri = append(r.uri[:0], uri...)
	r.rewritten = true
	switch rw.Flag {
	case conf.RewriteBreak:
		r.script.locInvalid = true
		r.script.uriChanged = false
		return scriptStop
	case conf.RewriteLast:
		r.script.uriChanged = true
		return scriptStop
	}
	r.script.uriChanged = true
	return scriptNext
}

// match runs a regex of the configuration on subject and, when it
// matches and the configuration reads captures, keeps its groups and
// sets its named ones; a failed match forgets the groups, as nginx's
// rewrite codes do.
func (cc *clientConn) match(re *conf.Regex, subject []byte) bool {
	s := &cc.r.script
	if !cc.w.srv.cfg.HTTP.Captures {
		return re.Match(subject)
	}
	m := re.FindSubmatchIndex(subject)
	if m == nil {
		s.caps = s.caps[:0]
		return false
	}
	cc.keepCaptures(re, subject, m)
	return true
}

// keepCaptures records a match's groups as the request's captures.
func (cc *clientConn) keepCaptures(re *conf.Regex, subject []byte, m []int) {
	s := &cc.r.script
	s.capSubject = append(s.capSubject[:0], subject...)
	s.caps = append(s.caps[:0], m...)
	for _, nc := range re.Named {
		if nc.Slot >= len(s.vals) {
			continue
		}
		v := s.vals[nc.Slot][:0]
		if 2*nc.Group+1 < len(m) && m[2*nc.Group] >= 0 {
			v = append(v, subject[m[2*nc.Group]:m[2*nc.Group+1]]...)
		}
		s.vals[nc.Slot], s.set[nc.Slot] = v, true
	}
}

// setVar runs a set directive.
func (cc *clientConn) setVar(sv *conf.SetVar) {
	if sv.Builtin == vars.Args || sv.Builtin == vars.LimitRate {
		cc.assignVar(sv, cc.eval(nil, sv.Value))
		return
	}
	// A variable of the configuration's own is evaluated in place.
	s := &cc.r.script
	s.vals[sv.Slot] = cc.eval(s.vals[sv.Slot][:0], sv.Value)
	s.set[sv.Slot] = true
}

// condition evaluates an if directive's condition.
// The values are evaluated into the request's cond buffer, kept across
// requests, so that a condition allocates nothing.
func (cc *clientConn) condition(c *conf.Condition) bool {
	s := &cc.r.script
	switch c.Kind {
	case conf.CondVar:
		v := cc.eval(s.cond[:0], c.Var)
		s.cond = v
		return len(v) > 0 && !(len(v) == 1 && v[0] == '0')
	case conf.CondEqual:
		b := cc.eval(s.cond[:0], c.Var)
		n := len(b)
		b = cc.eval(b, c.Value)
		s.cond = b
		return bytes.Equal(b[:n], b[n:]) != c.Negate
	case conf.CondMatch:
		s.cond = cc.eval(s.cond[:0], c.Var)
		return cc.match(c.Regex, s.cond) != c.Negate
	case conf.CondFile:
		s.cond = cc.eval(s.cond[:0], c.Value)
		return cc.fileTest(s.cond, c.FileOp) != c.Negate
	}
	return false
}

// fileTest is an if's -f, -d, -e or -x on a file name, as nginx's
// ngx_http_script_file_code: the name is examined with the location's
// disable_symlinks and open_file_cache, and one that cannot be examined
// fails every test (logged unless it is simply missing).
func (cc *clientConn) fileTest(name []byte, op byte) bool {
	of := cc.testPath(name, false)
	if !of.ok {
		switch of.err {
		case nil, unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		default:
			cc.logAt(logs.Crit, of.failed+" \""+string(name)+"\" failed ("+logs.SysError(of.err)+")")
		}
		return false
	}
	switch op {
	case 'f':
		return of.fi.isFile
	case 'd':
		return of.fi.isDir
	case 'x':
		return of.fi.isExec
	}
	return true
}

// evalScript appends a rewrite's template; escapeCaps escapes the
// captures as nginx's script escapes them in arguments.
func (cc *clientConn) evalScript(b []byte, t *vars.Template, escapeCaps bool) []byte {
	for i := range t.Parts {
		p := &t.Parts[i]
		switch {
		case p.Var == "":
			b = append(b, p.Literal...)
		case p.Index == vars.Capture && escapeCaps:
			start := len(b)
			b, _ = cc.capture(b, p.Slot)
			tail := append([]byte(nil), b[start:]...)
			b = appendEscapedArgs(b[:start], tail)
		default:
			b, _ = cc.appendVar(b, p)
		}
	}
	return b
}

// appendVar appends a variable's value; ok is false when it has none.
func (cc *clientConn) appendVar(b []byte, p *vars.Part) ([]byte, bool) {
	switch p.Index {
	case vars.User:
		return cc.userVar(b, p.Slot)
	case vars.Capture:
		return cc.capture(b, p.Slot)
	}
	return getters[p.Index](cc, b, p.Suffix)
}

// capture appends group n of the request's last regex match; a group
// that did not take part, or is beyond the regex's, is empty.
func (cc *clientConn) capture(b []byte, n int) ([]byte, bool) {
	s := &cc.r.script
	if 2*n+1 < len(s.caps) && s.caps[2*n] >= 0 {
		b = append(b, s.capSubject[s.caps[2*n]:s.caps[2*n+1]]...)
	}
	return b, true
}

// userVar appends a configuration variable's value. One that set gives
// but that no set ran for is empty, with nginx's warning; a named
// capture's before any match has no value.
func (cc *clientConn) userVar(b []byte, slot int) ([]byte, bool) {
	r := cc.r
	s := &r.script
	if slot < len(s.set) && s.set[slot] {
		return append(b, s.vals[slot]...), true
	}
	v := &cc.w.srv.cfg.HTTP.Variables[slot]
	switch {
	case v.Map != nil:
		return cc.mapVar(b, slot, v.Map)
	case v.SplitClients != nil:
		return cc.splitClientsVar(b, slot, v.SplitClients)
	case v.Geo != nil:
		return cc.geoVar(b, slot, v.Geo)
	}
	if !v.Set {
		return b, false
	}
	if idx, suffix := vars.Lookup(v.Name); idx != vars.Unknown && suffix != "" {
		// set gives a value to a field's, argument's or cookie's
		// variable where it runs; elsewhere the variable is the field's
		// (or argument's, or cookie's), as nginx's set leaves those
		// names their own getter.
		return getters[idx](cc, b, suffix)
	}
	if r.lc != nil && r.lc.UninitializedVariableWarn {
		cc.logAt(logs.Warn, "using uninitialized \""+v.Name+"\" variable")
	}
	return b, true
}

// mapVar appends a map's value for the request: the value of the key
// its source matches, else of the first regex that matches (whose
// captures the value may use), else the default. The value is kept for
// the rest of the request unless the map is volatile.
func (cc *clientConn) mapVar(b []byte, slot int, m *conf.Map) ([]byte, bool) {
	s := &cc.r.script
	if s.mapDepth >= maxMapDepth {
		// A map whose source reads itself, directly or through others.
		cc.logError("cycle while evaluating the map variable \"" + cc.w.srv.cfg.HTTP.Variables[slot].Name + "\"")
		return b, false
	}
	s.mapDepth++
	// The source is evaluated where the value will go, and overwritten
	// by it: a map allocates nothing (a regex match keeps its own copy).
	start := len(b)
	b = cc.eval(b, m.Source)
	src := b[start:]
	t, ok := m.FindKey(src)
	if !ok {
		t = m.Default
		for i := range m.Regexes {
			if cc.match(m.Regexes[i].Regex, src) {
				t = m.Regexes[i].Value
				break
			}
		}
	}
	b = b[:start]
	if t != nil {
		b = cc.eval(b, t)
	}
	s.mapDepth--
	if !m.Volatile && slot < len(s.vals) {
		s.vals[slot] = append(s.vals[slot][:0], b[start:]...)
		s.set[slot] = true
	}
	return b, true
}

// maxMapDepth bounds maps read while a map's value is computed.
const maxMapDepth = 32

// appendEscapedArgs appends p escaped as nginx's NGX_ESCAPE_ARGS does:
// what NGX_ESCAPE_URI escapes, and '&', '+' and ';'.
func appendEscapedArgs(b, p []byte) []byte { return appendEscaped(b, p, &escapeArgs) }

// escapeArgs is nginx's NGX_ESCAPE_ARGS table (see escapeURI).
var escapeArgs = [8]uint32{0xffffffff, 0xd800086d, 0x50000000, 0xb8000001, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}

// unescapeRedirect decodes a redirect's escapes in place as nginx's
// NGX_UNESCAPE_REDIRECT does: up to the first '?', a %XX stays escaped
// unless it decodes to a printable byte after '%'; a malformed escape
// loses its '%'.
func unescapeRedirect(b []byte) []byte {
	d := 0
	for s := 0; s < len(b); s++ {
		c := b[s]
		if c == '?' {
			d += copy(b[d:], b[s:])
			return b[:d]
		}
		if c != '%' {
			b[d] = c
			d++
			continue
		}
		if s+1 >= len(b) {
			return b[:d]
		}
		hi, ok := unhex(b[s+1])
		if !ok {
			b[d] = b[s+1]
			d++
			s++
			continue
		}
		if s+2 >= len(b) {
			return b[:d]
		}
		lo, ok := unhex(b[s+2])
		if !ok {
			b[d] = b[s+2]
			d++
			s += 2
			continue
		}
		if ch := hi<<4 | lo; ch > '%' && ch < 0x7f {
			b[d] = ch
			d++
		} else {
			d += copy(b[d:], b[s:s+3])
		}
		s += 2
	}
	return b[:d]
}
