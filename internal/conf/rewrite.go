package conf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"headroom/internal/vars"
)

// ScriptOp is one directive of nginx's rewrite module (rewrite, return,
// set, break, if) at a server or location level. A level's operations run
// in the order written, in the server rewrite phase for the server level
// and in the rewrite phase for the location found; they are not
// inherited by nested locations, as in nginx. Exactly one field is set.
type ScriptOp struct {
	Rewrite *Rewrite
	Return  *Return
	Set     *SetVar
	If      *If
	// Break is the "break" directive: the operations stop and the
	// request stays in its location.
	Break bool
}

// RewriteFlag is the flag of a rewrite directive.
type RewriteFlag uint8

// The rewrite flags; RewriteNone goes on with the next operation after
// a match.
const (
	RewriteNone RewriteFlag = iota
	RewriteLast
	RewriteBreak
	RewriteRedirect
	RewritePermanent
)

// Rewrite is one rewrite directive: a URI that Regex matches is replaced.
type Rewrite struct {
	Regex *Regex
	// URI is the replacement up to its first "?" (all of it for a
	// redirect), Args what follows that "?" for an internal rewrite (nil
	// when there is none): the request's new arguments.
	URI  *vars.Template
	Args *vars.Template
	// HasArgs is set when the replacement has a "?", so that a redirect
	// appends the request's arguments after "&" instead of "?".
	HasArgs bool
	// AddArgs is set unless the replacement ends in "?": the request's
	// arguments are kept (appended to new ones).
	AddArgs bool
	Flag    RewriteFlag
	// Status is 301 or 302 for a redirect (the flags permanent and
	// redirect, or a replacement starting with "http://", "https://" or
	// "$scheme"), else 0.
	Status int
}

// Ends reports whether the operations after a matching rewrite are
// skipped.
func (r *Rewrite) Ends() bool { return r.Flag != RewriteNone || r.Status != 0 }

// SetVar is the set directive. Builtin is vars.Args or vars.LimitRate for
// the built-in variables nginx lets set change (the request's arguments
// and its limit_rate); otherwise Slot numbers a variable of the
// configuration.
type SetVar struct {
	Name    string
	Builtin vars.Index
	Slot    int
	Value   *vars.Template
}

// If is the if directive: when Cond holds, Loc (nil at the server level)
// becomes the request's configuration, as nginx's "if" location does, and
// Body runs before the operations after the if.
type If struct {
	Cond Condition
	Body []ScriptOp
	Loc  *LocConf
}

// CondKind is the form of an if condition.
type CondKind uint8

// The forms of an if condition.
const (
	// CondVar is "($var)": true unless empty or "0".
	CondVar CondKind = iota
	// CondEqual and CondNotEqual compare the variable with Value.
	CondEqual
	CondNotEqual
	// CondMatch is "~", "~*", "!~" and "!~*" with Regex.
	CondMatch
	// CondFile is "-f", "-d", "-e", "-x" and their "!-" negations on the
	// file name Value.
	CondFile
)

// Condition is an if directive's condition.
type Condition struct {
	Kind   CondKind
	Var    *vars.Template
	Value  *vars.Template
	Regex  *Regex
	Negate bool
	// FileOp is 'f' (a regular file), 'd' (a directory), 'e' (exists)
	// or 'x' (executable).
	FileOp byte
}

// Regex is a regular expression of the configuration with its named
// groups, each a variable of the configuration that a match sets, as
// nginx's named captures are.
type Regex struct {
	*regexp.Regexp
	Named []NamedCapture
	// start is the literal that every match begins with, for a pattern
	// anchored at the subject's start ("^/api/v1/..."): a subject that
	// does not begin with it cannot match, and is refused without
	// running the matcher. A server of regex locations tries each in
	// turn, and most of them fail on their first bytes; the check costs
	// a comparison where the matcher's setup costs about 30 ns.
	start string
}

// Match reports whether b matches, as regexp's Match.
func (r *Regex) Match(b []byte) bool {
	return r.mayStart(b) && r.Regexp.Match(b)
}

// MatchString reports whether s matches, as regexp's MatchString.
func (r *Regex) MatchString(s string) bool {
	return strings.HasPrefix(s, r.start) && r.Regexp.MatchString(s)
}

// FindSubmatchIndex is regexp's FindSubmatchIndex: the groups' bounds in
// b, or nil without a match.
func (r *Regex) FindSubmatchIndex(b []byte) []int {
	if !r.mayStart(b) {
		return nil
	}
	return r.Regexp.FindSubmatchIndex(b)
}

// mayStart reports whether b begins with the literal that a match must
// begin with (any b when there is none).
func (r *Regex) mayStart(b []byte) bool {
	return len(b) >= len(r.start) && string(b[:len(r.start)]) == r.start
}

// newRegex wraps a compiled pattern, finding the literal its matches
// start with when it is anchored at the start: LiteralPrefix gives the
// literal a match begins with, and a leading "^" (without the multi-line
// flag, which would put it first) pins that match to the subject's
// start. A caseless pattern's literal stops at its first letter.
func newRegex(re *regexp.Regexp, src string) *Regex {
	out := &Regex{Regexp: re}
	if strings.HasPrefix(src, "^") {
		out.start, _ = re.LiteralPrefix()
	}
	return out
}

// NamedCapture is a named group of a Regex and the variable it sets.
type NamedCapture struct {
	Group int
	Slot  int
}

// regex compiles a regular expression of the configuration and declares
// its named groups as variables.
func (b *builder) regex(n *Node, src string, caseless bool) (*Regex, error) {
	re, err := compileRegex(src, caseless)
	if err != nil {
		return nil, errAt(n, "%s", regexError(src, err))
	}
	out := newRegex(re, src)
	for i, name := range re.SubexpNames() {
		if name != "" {
			out.Named = append(out.Named, NamedCapture{Group: i, Slot: b.declareVar(name, false)})
			b.capturesUsed = true
		}
	}
	return out, nil
}

// ifBuild is an if block in a location, whose settings are merged from
// the location's once the location's are known.
type ifBuild struct {
	raw *rawLoc
	op  *If
}

func rewriteDirectives() []*directive {
	const script = ctxServer | ctxServerIf | ctxLocation | ctxIf
	const all = ctxHTTP | script
	return []*directive{
		{name: "rewrite", ctx: script, args: take23, set: setRewrite,
			syntax: "rewrite regex replacement [last | break | redirect | permanent];",
			doc:    "Replaces a URI the regex matches (captures $1 to $9 and named ones may be used). last looks for the location again, break stays, redirect and permanent answer 302 and 301; a replacement starting with http://, https:// or $scheme redirects. The request's arguments are kept unless the replacement ends in \"?\"."},
		{name: "return", ctx: script, args: take12, set: setReturn,
			syntax: "return code [text] | code URL | URL;",
			doc:    "Stops processing and answers with a status and a body or redirect, in order with the other rewrite directives."},
		{name: "set", ctx: script, args: arg2, set: setSet,
			syntax: "set $variable value;",
			doc:    "Sets a variable of the configuration (or $args, $limit_rate) for the request, in order with the other rewrite directives."},
		{name: "break", ctx: script, args: argNone, set: setBreak,
			syntax: "break;",
			doc:    "Stops the rewrite directives of this level; the request stays in its location."},
		{name: "if", ctx: ctxServer | ctxLocation, args: arg1More, block: true, set: setIf,
			syntax: "if (condition) { ... }",
			doc:    "Runs the block's rewrite directives when the condition holds: a variable (false when empty or \"0\"), = and != with a value, ~ ~* !~ !~* with a regex, -f -d -e -x and their !- negations on a file. In a location the block's other directives become the request's configuration."},
		{name: "internal", ctx: ctxLocation, args: argNone, set: setInternal,
			syntax: "internal;",
			doc:    "Makes the location reachable only by internal requests (index, try_files, error_page, rewrite, X-Accel-Redirect); a client's own request for it gets 404. Nested locations inherit it."},
		{name: "rewrite_log", ctx: all, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.rewriteLog }),
			syntax: "rewrite_log on | off;", def: "off",
			doc: "Logs the rewrite directives' matches and results at the notice level."},
		{name: "uninitialized_variable_warn", ctx: all, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.uninitializedVarWarn }),
			syntax: "uninitialized_variable_warn on | off;", def: "on",
			doc: "Logs a warning when a variable that set gives a value is read before any set ran for the request."},
	}
}

// ops is where a rewrite directive of the scope goes: an if's body, or
// the level's own list.
func (sc *scope) ops() *[]ScriptOp {
	if sc.ifOps != nil {
		return sc.ifOps
	}
	return &sc.raw.script
}

// isRedirectURL reports whether a rewrite replacement or return URL is
// absolute in nginx's sense, which makes it a redirect.
func isRedirectURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "$scheme")
}

func setRewrite(b *builder, n *Node, sc *scope) error {
	if n.Args[1] == "" {
		return errAt(n, "empty replacement")
	}
	re, err := b.regex(n, n.Args[0], false)
	if err != nil {
		return err
	}
	rw := &Rewrite{Regex: re, AddArgs: true}
	repl := n.Args[1]
	if strings.HasSuffix(repl, "?") {
		// A last "?" drops the request's arguments.
		repl, rw.AddArgs = repl[:len(repl)-1], false
	}
	if isRedirectURL(repl) {
		rw.Status = 302
	}
	if len(n.Args) == 3 {
		switch n.Args[2] {
		case "last":
			rw.Flag = RewriteLast
		case "break":
			rw.Flag = RewriteBreak
		case "redirect":
			rw.Flag, rw.Status = RewriteRedirect, 302
		case "permanent":
			rw.Flag, rw.Status = RewritePermanent, 301
		default:
			return errAt(n, "invalid parameter \"%s\"", n.Args[2])
		}
	}
	rw.HasArgs = strings.Contains(repl, "?")
	uri := repl
	if rw.Status == 0 && rw.HasArgs {
		// An internal rewrite's "?" starts the new arguments.
		i := strings.IndexByte(repl, '?')
		uri = repl[:i]
		if rw.Args, err = b.template(n, repl[i+1:]); err != nil {
			return err
		}
	}
	if rw.URI, err = b.template(n, uri); err != nil {
		return err
	}
	ops := sc.ops()
	*ops = append(*ops, ScriptOp{Rewrite: rw})
	return nil
}

func setReturn(b *builder, n *Node, sc *scope) error {
	var text string
	hasText := false
	code, ok := atoi(n.Args[0])
	if !ok {
		a := n.Args[0]
		if len(n.Args) != 1 || !isRedirectURL(a) {
			return errAt(n, "invalid return code \"%s\"", a)
		}
		code, text, hasText = 302, a, true
	} else {
		if code > 999 {
			return errAt(n, "invalid return code \"%s\"", n.Args[0])
		}
		if len(n.Args) == 2 {
			text, hasText = n.Args[1], true
		}
	}
	r := &Return{Code: code}
	if hasText {
		t, err := b.template(n, text)
		if err != nil {
			return err
		}
		r.Text = t
	}
	ops := sc.ops()
	*ops = append(*ops, ScriptOp{Return: r})
	return nil
}

func setInternal(b *builder, n *Node, sc *scope) error {
	if sc.raw.internal != nil {
		return duplicate(n)
	}
	v := true
	sc.raw.internal = &v
	return nil
}

func setBreak(b *builder, n *Node, sc *scope) error {
	ops := sc.ops()
	*ops = append(*ops, ScriptOp{Break: true})
	return nil
}

func setSet(b *builder, n *Node, sc *scope) error {
	name := n.Args[0]
	if strings.HasPrefix(name, "$") && (name == "$" || !validVarName(name[1:])) {
		return errAt(n, "invalid variable name \"%s\"", name)
	}
	sv, err := b.setVar(n)
	if err != nil {
		return err
	}
	ops := sc.ops()
	*ops = append(*ops, ScriptOp{Set: sv})
	return nil
}

// setVar reads a directive that gives a variable a value (set,
// auth_request_set): "$name value". The name must start with "$"; a
// name nginx has as built in may be given a value only where nginx
// lets it be changed ($args, $limit_rate), any other becomes a variable
// of the configuration.
func (b *builder) setVar(n *Node) (*SetVar, error) {
	name := n.Args[0]
	if !strings.HasPrefix(name, "$") {
		return nil, errAt(n, "invalid variable name \"%s\"", name)
	}
	name = name[1:]
	sv := &SetVar{Name: name}
	switch idx, suffix := vars.Lookup(name); {
	case idx == vars.Args || idx == vars.LimitRate:
		sv.Builtin = idx
	case idx != vars.Unknown && suffix == "":
		// nginx's built-in variables other than these cannot be changed.
		return nil, errAt(n, "the duplicate \"%s\" variable", name)
	default:
		sv.Slot = b.declareVar(name, true)
	}
	t, err := b.template(n, n.Args[1])
	if err != nil {
		return nil, err
	}
	sv.Value = t
	return sv, nil
}

// validVarName reports whether every byte of name may be in a variable
// name.
func validVarName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func setIf(b *builder, n *Node, sc *scope) error {
	op := &If{}
	if err := b.condition(n, &op.Cond); err != nil {
		return err
	}
	ops := sc.ops()
	*ops = append(*ops, ScriptOp{If: op})
	if sc.ctx == ctxServer {
		// A server-level if holds rewrite directives only; what it sets
		// otherwise goes nowhere, as in nginx.
		return b.run(n.Block, &scope{ctx: ctxServerIf, raw: &rawLoc{}, srv: sc.srv, ifOps: &op.Body})
	}
	raw := &rawLoc{}
	sc.loc.ifs = append(sc.loc.ifs, &ifBuild{raw: raw, op: op})
	return b.run(n.Block, &scope{ctx: ctxIf, raw: raw, srv: sc.srv, loc: sc.loc, ifOps: &op.Body})
}

// condition parses an if's parenthesised condition as nginx's
// ngx_http_rewrite_if_condition does, with its messages.
func (b *builder) condition(n *Node, c *Condition) error {
	args := append([]string(nil), n.Args...)
	if args[0] == "" || args[0][0] != '(' {
		return errAt(n, "invalid condition \"%s\"", args[0])
	}
	if args[0] == "(" {
		args = args[1:]
	} else {
		args[0] = args[0][1:]
	}
	if len(args) == 0 {
		return errAt(n, "invalid condition \"%s\"", "(")
	}
	last := len(args) - 1
	if !strings.HasSuffix(args[last], ")") {
		return errAt(n, "invalid condition \"%s\"", args[last])
	}
	if args[last] == ")" {
		args = args[:last]
	} else {
		args[last] = args[last][:len(args[last])-1]
	}
	if len(args) == 0 {
		return errAt(n, "invalid condition \"%s\"", ")")
	}
	first := args[0]
	var err error
	switch {
	case len(first) > 1 && first[0] == '$':
		if len(args) != 1 && len(args) != 3 {
			return errAt(n, "invalid condition \"%s\"", first)
		}
		if c.Var, err = b.template(n, first); err != nil {
			return err
		}
		if len(args) == 1 {
			c.Kind = CondVar
			return nil
		}
		op, value := args[1], args[2]
		switch op {
		case "=", "!=":
			c.Kind, c.Negate = CondEqual, op == "!="
			c.Value, err = b.template(n, value)
			return err
		case "~", "~*", "!~", "!~*":
			c.Kind, c.Negate = CondMatch, op[0] == '!'
			c.Regex, err = b.regex(n, value, strings.HasSuffix(op, "*"))
			return err
		}
		return errAt(n, "unexpected \"%s\" in condition", op)
	case len(first) == 2 && first[0] == '-' || len(first) == 3 && first[0] == '!' && first[1] == '-':
		if len(args) != 2 {
			return errAt(n, "invalid condition \"%s\"", first)
		}
		c.Kind, c.Negate = CondFile, first[0] == '!'
		c.FileOp = first[len(first)-1]
		if !strings.ContainsRune("fdex", rune(c.FileOp)) {
			return errAt(n, "invalid condition \"%s\"", first)
		}
		c.Value, err = b.template(n, args[1])
		return err
	}
	return errAt(n, "invalid condition \"%s\"", first)
}

// mergeIf computes the settings of an if block in a location: the
// location's, with what the block sets, and the location's proxy_pass
// and content handler unless the block has its own, as nginx's nameless
// if location inherits them.
func mergeIf(raw *rawLoc, parent *merged) *LocConf {
	m := merge(raw, parent)
	c := m.conf
	if c.ProxyPass == nil && c.Handler == HandlerNone {
		c.ProxyPass, c.Handler = parent.conf.ProxyPass, parent.conf.Handler
		applyShadow(c, m)
	} else {
		c.IfOwnHandler = true
	}
	return c
}

// scriptText describes a level's rewrite directives for the
// configuration dump.
func scriptText(ops []ScriptOp) []string {
	var out []string
	for _, op := range ops {
		switch {
		case op.Rewrite != nil:
			r := op.Rewrite
			args := "<none>"
			if r.Args != nil {
				args = tmpl(r.Args)
			}
			out = append(out, fmt.Sprintf("rewrite %q uri=%s args=%s add_args=%v flag=%d status=%d",
				r.Regex.String(), tmpl(r.URI), args, r.AddArgs, r.Flag, r.Status))
		case op.Return != nil:
			text := "<none>"
			if op.Return.Text != nil {
				text = tmpl(op.Return.Text)
			}
			out = append(out, fmt.Sprintf("return %d %s", op.Return.Code, text))
		case op.Set != nil:
			out = append(out, fmt.Sprintf("set $%s %s", op.Set.Name, tmpl(op.Set.Value)))
		case op.Break:
			out = append(out, "break")
		case op.If != nil:
			out = append(out, "if ("+conditionText(&op.If.Cond)+") {")
			for _, s := range scriptText(op.If.Body) {
				out = append(out, "  "+s)
			}
			out = append(out, "}")
		}
	}
	return out
}

// conditionText writes a condition back in the configuration's syntax.
func conditionText(c *Condition) string {
	not := ""
	if c.Negate {
		not = "!"
	}
	switch c.Kind {
	case CondEqual:
		return tmpl(c.Var) + " " + not + "= " + tmpl(c.Value)
	case CondMatch:
		return tmpl(c.Var) + " " + not + "~ " + strconv.Quote(c.Regex.String())
	case CondFile:
		return not + "-" + string(c.FileOp) + " " + tmpl(c.Value)
	}
	return tmpl(c.Var)
}
