package conf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadOptions says where the configuration comes from and how strictly to
// read it.
type LoadOptions struct {
	// File is the main configuration file, absolute or relative to the
	// current directory.
	File string
	// Prefix is the prefix that relative paths in the configuration (pid,
	// logs) are resolved against, like nginx's -p; empty means the
	// directory of File.
	Prefix string
	// Source, when non-nil, is the main file's contents (for an embedded
	// default configuration); File is then only its name for messages
	// ("<source>" when empty), and includes are resolved against Prefix
	// (or the current directory when Prefix is empty too).
	Source []byte
	// Directives are extra main-context directives, like nginx's -g. They
	// are read before the main file, as nginx does, so a directive given
	// both ways is reported as duplicate in the file. Errors in them end
	// with "in command line".
	Directives string
	// Lenient makes real nginx directives that headroom does not implement
	// (and unsupported parameters of supported ones) be recorded in
	// Config.Unsupported instead of failing the load. Such a configuration
	// is for diagnosis only, not for running.
	Lenient bool
}

// Load reads, validates and merges a configuration. Every error is an
// *Error worded like nginx's.
func Load(opts LoadOptions) (*Config, error) {
	cfg := &Config{}
	r := &reader{seen: map[string]bool{}}
	var src []byte
	if opts.Source != nil {
		// Messages need a file name to carry line numbers.
		cfg.File = opts.File
		if cfg.File == "" {
			cfg.File = "<source>"
		}
		src = opts.Source
		prefix := opts.Prefix
		if prefix == "" {
			if wd, err := os.Getwd(); err == nil {
				prefix = wd
			}
		}
		cfg.Prefix = absPath(prefix)
		r.confDir = cfg.Prefix
	} else {
		cfg.File = absPath(opts.File)
		r.confDir = filepath.Dir(cfg.File)
		cfg.Prefix = r.confDir
		if opts.Prefix != "" {
			cfg.Prefix = absPath(opts.Prefix)
		}
		content, err := os.ReadFile(cfg.File)
		if err != nil {
			return nil, &Error{Msg: fileError(cfg.File, err)}
		}
		src = content
	}
	r.record(cfg.File, src)

	var nodes []*Node
	if opts.Directives != "" {
		cmd, _, _ := r.parse(newLexer([]byte(opts.Directives), true), "", false, true, true)
		nodes = append(nodes, cmd...)
	}
	if findErr(nodes) == nil {
		main, _, _ := r.parse(newLexer(src, false), cfg.File, false, false, true)
		nodes = append(nodes, main...)
	}

	b := &builder{opts: opts, cfg: cfg}
	err := b.run(nodes, &scope{ctx: ctxMain})
	cfg.Files = r.files
	if err != nil {
		return nil, err
	}
	if err := b.finishMain(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// absPath makes a path absolute without failing: if the working directory
// is unknown the path is kept as given.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// findErr returns the error marker in a tree, if any.
func findErr(nodes []*Node) *Error {
	for _, n := range nodes {
		if n.err != nil {
			return n.err
		}
		if e := findErr(n.Block); e != nil {
			return e
		}
	}
	return nil
}

// context is a bit set of the blocks a directive may appear in.
type context uint16

const (
	ctxMain context = 1 << iota
	ctxEvents
	ctxHTTP
	ctxServer
	ctxLocation
	ctxUpstream
	// ctxIf is an if block in a location, ctxServerIf one at the server
	// level (rewrite directives only).
	ctxIf
	ctxServerIf
	// ctxLimitExcept is a limit_except block.
	ctxLimitExcept
)

var contextNames = []struct {
	c    context
	name string
}{
	{ctxMain, "main"}, {ctxEvents, "events"}, {ctxHTTP, "http"},
	{ctxServer, "server"}, {ctxLocation, "location"}, {ctxUpstream, "upstream"},
	{ctxIf, "if in location"}, {ctxServerIf, "if in server"}, {ctxLimitExcept, "limit_except"},
}

func (c context) names() []string {
	var out []string
	for _, cn := range contextNames {
		if c&cn.c != 0 {
			out = append(out, cn.name)
		}
	}
	return out
}

// arity is a bit set of the argument counts a directive accepts, in the
// manner of nginx's NGX_CONF_TAKE* flags.
type arity uint16

const (
	argNone arity = 1 << iota
	arg1
	arg2
	arg3
	arg4
	arg5
	arg6
	arg7
	// argFlag is exactly one argument, "on" or "off".
	argFlag
	// arg1More is one or more arguments.
	arg1More
	// arg2More is two or more arguments.
	arg2More

	take12   = arg1 | arg2
	take23   = arg2 | arg3
	take123  = arg1 | arg2 | arg3
	take1234 = arg1 | arg2 | arg3 | arg4
)

// maxArgs is nginx's limit on the number of arguments of a directive with
// a fixed arity.
const maxArgs = 7

func (a arity) accepts(n int) bool {
	switch {
	case a&argFlag != 0:
		return n == 1
	case a&arg1More != 0:
		return n >= 1
	case a&arg2More != 0:
		return n >= 2
	case n > maxArgs:
		return false
	default:
		return a&(argNone<<uint(n)) != 0
	}
}

// directive is one entry of the directive table, the single place that
// declares what headroom accepts.
type directive struct {
	name string
	// ctx are the contexts headroom accepts the directive in.
	ctx context
	// nginxOnly are further contexts nginx accepts it in; there it is
	// reported as unsupported rather than misplaced.
	nginxOnly context
	args      arity
	block     bool
	set       func(b *builder, n *Node, sc *scope) error
	syntax    string
	def       string
	doc       string
}

// scope is where the interpreter stands: the context and the objects that
// directives there fill in.
type scope struct {
	ctx context
	raw *rawLoc
	srv *serverBuild
	loc *locBuild
	ups *upstreamBuild
	// ifOps is the body of the if block being read, where its rewrite
	// directives go; nil elsewhere.
	ifOps *[]ScriptOp
}

// builder turns the tree into a Config.
type builder struct {
	opts LoadOptions
	cfg  *Config

	seen   map[string]bool // main and events directives already set
	events bool
	http   *httpBuild
	// limitConnZones are the limit_conn_zone definitions by name, and
	// limitConnNodes the directives that made them.
	limitConnZones map[string]*LimitConnZone
	limitConnNodes map[string]*Node
	// limitReqZones are the limit_req_zone definitions by name, and
	// limitReqNodes the directives that made them, for errors found
	// once the http block is read.
	limitReqZones map[string]*LimitReqZone
	// cachePaths are the proxy_cache_path definitions by zone.
	cachePaths    map[string]*CachePath
	limitReqNodes map[string]*Node
	// zoneSync is the zone_sync directive, if any; syncUpstreams are the
	// upstream zones declared with sync, by group.
	zoneSync      *ZoneSync
	syncUpstreams map[string]*Node
	// zoneUses are the shared memory zones declared so far by name and
	// what declared them: nginx allows one use per name.
	zoneUses map[string]string
	// paths are the temporary file directories registered so far, for
	// nginx's check that one directory is not used with different levels.
	paths []*pathEntry
	// userVars numbers the variables the configuration declares (set,
	// map, named captures), variables lists them by number, and
	// pendingVars are the template parts that wait for the whole
	// configuration to be read before their names are resolved.
	userVars    map[string]int
	variables   []Variable
	pendingVars []pendingVar
	// capturesUsed is set once a template names "$1" to "$9", so that
	// regex matches keep their groups only when something reads them.
	capturesUsed bool
	// referers are the levels with valid_referers, whose server_names
	// are added once every server's names are known.
	referers []*refererRaw
	// charsets are the charsets named so far and the charset_map
	// tables (charset.go).
	charsets *CharsetMaps
}

// once reports a duplicate for directives nginx allows once per level.
func (b *builder) once(n *Node) error {
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	if b.seen[n.Name] {
		return errAt(n, "\"%s\" directive is duplicate", n.Name)
	}
	b.seen[n.Name] = true
	return nil
}

// run interprets nodes in a scope, stopping at the first error.
func (b *builder) run(nodes []*Node, sc *scope) error {
	for _, n := range nodes {
		if n.err != nil {
			return n.err
		}
		if err := b.handle(n, sc); err != nil {
			return err
		}
	}
	return nil
}

// handle dispatches one directive through the table, with nginx's checks
// and messages in nginx's order: name, context, terminator, arguments.
func (b *builder) handle(n *Node, sc *scope) error {
	entries := table[n.Name]
	if len(entries) == 0 {
		if n.Name == "stream" {
			if zs := findDirective(n.Block, "zone_sync"); zs != nil {
				// nginx Plus shares zones between its instances with
				// a zone_sync server in the stream block.
				return b.unsupported(zs, "in the stream block", "\"zone_sync\" in the stream block is nginx Plus's; headroom shares zones through Redis with \"zone_sync redis://host:port;\" in the http block and \"sync\" on limit_req_zone")
			}
		}
		if nginxDirectives[n.Name] {
			return b.unsupported(n, "", fmt.Sprintf("\"%s\" directive is not supported by headroom", n.Name))
		}
		return errAt(n, "unknown directive \"%s\"", n.Name)
	}
	var d *directive
	for _, e := range entries {
		if e.ctx&sc.ctx != 0 {
			d = e
			break
		}
	}
	if d == nil {
		for _, e := range entries {
			if e.nginxOnly&sc.ctx != 0 {
				return b.unsupported(n, "in the "+sc.ctx.names()[0]+" context", fmt.Sprintf("\"%s\" directive is not supported by headroom in the %s context", n.Name, sc.ctx.names()[0]))
			}
		}
		return errAt(n, "\"%s\" directive is not allowed here", n.Name)
	}
	if !d.block && n.IsBlock {
		return errAt(n, "directive \"%s\" is not terminated by \";\"", n.Name)
	}
	if d.block && !n.IsBlock {
		return errAt(n, "directive \"%s\" has no opening \"{\"", n.Name)
	}
	if !d.args.accepts(len(n.Args)) {
		return errAt(n, "invalid number of arguments in \"%s\" directive", n.Name)
	}
	return d.set(b, n, sc)
}

// errSkip tells a handler's caller that an unsupported construct was
// recorded in lenient mode and the directive is to be skipped.
var errSkip = &Error{Msg: "skipped"}

// unsupported reports something headroom does not implement: an error
// normally, a record in lenient mode. A skipped block is not interpreted,
// but a syntax error inside it still stops the load, since nothing after
// it was read.
func (b *builder) unsupported(n *Node, detail, msg string) error {
	if !b.opts.Lenient {
		return errAt(n, "%s", msg)
	}
	b.cfg.Unsupported = append(b.cfg.Unsupported, Unsupported{Name: n.Name, Detail: detail, File: n.File, Line: n.Line})
	if e := findErr(n.Block); e != nil {
		return e
	}
	return nil
}

// unsupportedPart reports an unsupported form of a supported directive
// (such as proxy_pass to https) that makes the whole directive unusable. In
// lenient mode it returns errSkip, so that handlers can write
//
//	if err := b.unsupportedPart(...); err != nil { return skip(err) }
func (b *builder) unsupportedPart(n *Node, detail, msg string) error {
	if err := b.unsupported(n, detail, msg); err != nil {
		return err
	}
	return errSkip
}

// unsupportedParam reports a parameter of a supported directive that
// headroom does not implement. In lenient mode the parameter is recorded
// and ignored, and the rest of the directive still takes effect, so that
// one unsupported parameter does not cause follow-on errors.
func (b *builder) unsupportedParam(n *Node, param string) error {
	return b.unsupported(n, "parameter \""+param+"\"",
		fmt.Sprintf("the \"%s\" parameter of the \"%s\" directive is not supported by headroom", param, n.Name))
}

// skip turns errSkip into success.
func skip(err error) error {
	if err == errSkip {
		return nil
	}
	return err
}

// onOff parses an on/off argument, case-insensitively like nginx.
func onOff(n *Node) (bool, error) {
	switch strings.ToLower(n.Args[0]) {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, errAt(n, "invalid value \"%s\" in \"%s\" directive, it must be \"on\" or \"off\"", n.Args[0], n.Name)
}

// finishMain applies the main-level defaults and checks that need the
// whole configuration.
func (b *builder) finishMain() error {
	c := b.cfg
	if !b.events {
		return &Error{Msg: "no \"events\" section in configuration"}
	}
	if !b.seen["worker_processes"] {
		c.WorkerProcesses = 1
	}
	if !b.seen["daemon"] {
		c.Daemon = true
	}
	if !b.seen["pid"] {
		c.PID = fullPath(c.Prefix, "logs/headroom.pid")
	}
	if len(c.ErrorLogs) == 0 {
		c.ErrorLogs = []ErrorLog{{Path: fullPath(c.Prefix, "logs/error.log"), Level: "error"}}
	}
	return nil
}
