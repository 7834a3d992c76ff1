package conf

import (
	"os"
	"sort"
	"strings"

	"headroom/internal/logs"
)

// DirectiveDoc describes one directive for the configuration reference.
type DirectiveDoc struct {
	Name     string
	Contexts []string
	Syntax   string
	// Default is the value when the directive is absent; empty when there
	// is none.
	Default string
	Doc     string
}

// table maps a directive name to its entries; a name has several entries
// when it means different things in different contexts, as "server" does
// in http and in upstream.
var table map[string][]*directive

// directiveList is the table in declaration order, for Directives.
var directiveList []*directive

func init() {
	directiveList = []*directive{
		// main
		{name: "include", ctx: ctxMain | ctxEvents | ctxHTTP | ctxServer | ctxLocation | ctxUpstream, args: arg1,
			// The reader expands includes while parsing, so the tree handed to
			// the interpreter never contains one.
			set:    func(*builder, *Node, *scope) error { return nil },
			syntax: "include file | mask;",
			doc:    "Includes files (a glob pattern is allowed) resolved against the directory of the main configuration file."},
		{name: "worker_processes", ctx: ctxMain, args: arg1, set: setWorkerProcesses,
			syntax: "worker_processes number | auto;", def: "1",
			doc: "Sets the number of event loops; auto uses one per CPU."},
		{name: "worker_rlimit_nofile", ctx: ctxMain, args: arg1, set: setMainNumber(func(c *Config, v int) { c.WorkerRlimitNofile = v }),
			syntax: "worker_rlimit_nofile number;",
			doc:    "Raises the open files limit (RLIMIT_NOFILE) at start so that many connections can be held."},
		{name: "worker_shutdown_timeout", ctx: ctxMain, args: arg1, set: setWorkerShutdownTimeout,
			syntax: "worker_shutdown_timeout time;",
			doc:    "Bounds a graceful shutdown (SIGQUIT, and the old configuration's workers after a reload): connections still open after this time are closed. Without it they may finish however long they take, as in nginx."},
		{name: "pid", ctx: ctxMain, args: arg1, set: setPID,
			syntax: "pid file | off;", def: "logs/headroom.pid",
			doc: "Names the file that stores the master process id, relative to the prefix; off writes none."},
		{name: "user", ctx: ctxMain, args: take12, set: setUser,
			syntax: "user user [group];",
			doc:    "Names the user and group to run as when started as root: headroom switches to them once its listening sockets, logs and pid file are open. Without a group, the group of the user's name, as in nginx."},
		{name: "daemon", ctx: ctxMain, args: argFlag, set: setDaemon,
			syntax: "daemon on | off;", def: "on",
			doc: "Chooses whether to detach from the terminal; off is for supervisors and containers."},
		{name: "error_log", ctx: ctxMain | ctxHTTP | ctxServer | ctxLocation, args: arg1More, set: setErrorLog,
			syntax: "error_log file | stderr | syslog:server=address[,parameter=value] [level];", def: "logs/error.log error",
			doc: "Adds an error log destination with its minimum level; may be repeated. At the http, server or location level it takes the messages about requests there instead of the main error log (inherited only by levels with none of their own). syslog: sends each message as an RFC 3164 datagram to server= (an address, default port 514, or unix:path), with facility= (local7), tag= (nginx, so that syslog rules written for nginx still match) and nohostname; the severity is the message's level, as in nginx, whatever severity= says. The socket is opened at the first message and again after a failed send; a message the socket cannot take at once is dropped."},
		{name: "events", ctx: ctxMain, args: argNone, block: true, set: setEvents,
			syntax: "events { ... }",
			doc:    "Holds the connection processing settings; required, as in nginx."},
		{name: "http", ctx: ctxMain, args: argNone, block: true, set: setHTTP,
			syntax: "http { ... }",
			doc:    "Holds the HTTP server settings."},

		// events
		{name: "worker_connections", ctx: ctxEvents, args: arg1, set: setWorkerConnections,
			syntax: "worker_connections number;",
			doc:    "Sets the connection slots per worker; when absent headroom derives it from its capacity model (nginx uses 512)."},
		{name: "multi_accept", ctx: ctxEvents, args: argFlag, set: setEventsFlag(func(c *Config, v bool) { c.Events.MultiAccept = v }),
			syntax: "multi_accept on | off;", def: "off",
			doc: "Accepts all pending connections at once instead of one per readiness event."},
		{name: "accept_mutex", ctx: ctxEvents, args: argFlag, set: setEventsFlag(func(c *Config, v bool) { c.Events.AcceptMutex = v }),
			syntax: "accept_mutex on | off;", def: "off",
			doc: "Accepted for compatibility; it changes nothing, because a shared listening socket is registered with EPOLLEXCLUSIVE, which already wakes one worker per new connection."},
		{name: "use", ctx: ctxEvents, args: arg1, set: setUse,
			syntax: "use epoll;",
			doc:    "Names the connection processing method; headroom only has epoll."},
	}
	directiveList = append(directiveList, httpDirectives()...)
	directiveList = append(directiveList, upstreamDirectives()...)
	directiveList = append(directiveList, staticDirectives()...)
	directiveList = append(directiveList, openFileDirectives()...)
	directiveList = append(directiveList, errorPageDirectives()...)
	directiveList = append(directiveList, poolDirectives()...)
	directiveList = append(directiveList, redirectDirectives()...)
	directiveList = append(directiveList, msieDirectives()...)
	directiveList = append(directiveList, balanceDirectives()...)
	directiveList = append(directiveList, limitConnDirectives()...)
	directiveList = append(directiveList, limitReqDirectives()...)
	directiveList = append(directiveList, zoneSyncDirectives()...)
	directiveList = append(directiveList, observeDirectives()...)
	directiveList = append(directiveList, accessDirectives()...)
	directiveList = append(directiveList, bodyDirectives()...)
	directiveList = append(directiveList, upstreamConnDirectives()...)
	directiveList = append(directiveList, resolverDirectives()...)
	directiveList = append(directiveList, rateDirectives()...)
	directiveList = append(directiveList, minRateDirectives()...)
	directiveList = append(directiveList, bufferDirectives()...)
	directiveList = append(directiveList, proxyHeaderDirectives()...)
	directiveList = append(directiveList, rewriteDirectives()...)
	directiveList = append(directiveList, ssiDirectives()...)
	directiveList = append(directiveList, subFilterDirectives()...)
	directiveList = append(directiveList, authDirectives()...)
	directiveList = append(directiveList, authBasicDirectives()...)
	directiveList = append(directiveList, additionDirectives()...)
	directiveList = append(directiveList, mapDirectives()...)
	directiveList = append(directiveList, splitClientsDirectives()...)
	directiveList = append(directiveList, geoDirectives()...)
	directiveList = append(directiveList, requestHeadDirectives()...)
	directiveList = append(directiveList, refererDirectives()...)
	directiveList = append(directiveList, hashDirectives()...)
	directiveList = append(directiveList, realIPDirectives()...)
	directiveList = append(directiveList, expiresDirectives()...)
	directiveList = append(directiveList, gzipDirectives()...)
	directiveList = append(directiveList, cacheDirectives()...)
	directiveList = append(directiveList, trailerDirectives()...)
	directiveList = append(directiveList, secureLinkDirectives()...)
	directiveList = append(directiveList, sslDirectives()...)
	directiveList = append(directiveList, proxySSLDirectives()...)
	directiveList = append(directiveList, charsetDirectives()...)
	directiveList = append(directiveList, autoindexDirectives()...)
	directiveList = append(directiveList, limitExceptDirectives()...)
	directiveList = append(directiveList, http2Directives()...)
	directiveList = append(directiveList, lingerDirectives()...)
	directiveList = append(directiveList, fastcgiDirectives(directiveList)...)
	directiveList = append(directiveList, scgiDirectives(directiveList)...)
	directiveList = append(directiveList, uwsgiDirectives(directiveList)...)

	table = map[string][]*directive{}
	for _, d := range directiveList {
		table[d.name] = append(table[d.name], d)
	}
}

// Directives documents every directive headroom accepts, sorted by name
// and then context, for the README's configuration reference.
func Directives() []DirectiveDoc {
	var out []DirectiveDoc
	for _, d := range directiveList {
		out = append(out, DirectiveDoc{
			Name:     d.name,
			Contexts: d.ctx.names(),
			Syntax:   d.syntax,
			Default:  d.def,
			Doc:      d.doc,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func setWorkerProcesses(b *builder, n *Node, _ *scope) error {
	if err := b.once(n); err != nil {
		return err
	}
	if n.Args[0] == "auto" {
		b.cfg.WorkerProcesses = 0
		return nil
	}
	v, ok := atoi(n.Args[0])
	// nginx would accept 0 (no workers at all); in headroom 0 means auto,
	// so it is refused rather than silently reinterpreted.
	if !ok || v == 0 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	b.cfg.WorkerProcesses = v
	return nil
}

func setWorkerShutdownTimeout(b *builder, n *Node, _ *scope) error {
	if err := b.once(n); err != nil {
		return err
	}
	d, ok := parseTime(n.Args[0], false)
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	b.cfg.WorkerShutdownTimeout = d
	return nil
}

func setMainNumber(set func(*Config, int)) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, _ *scope) error {
		if err := b.once(n); err != nil {
			return err
		}
		v, ok := atoi(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid number", n.Name)
		}
		set(b.cfg, v)
		return nil
	}
}

func setPID(b *builder, n *Node, _ *scope) error {
	if err := b.once(n); err != nil {
		return err
	}
	if n.Args[0] == "off" {
		b.cfg.PID = ""
		return nil
	}
	b.cfg.PID = fullPath(b.cfg.Prefix, n.Args[0])
	return nil
}

func setUser(b *builder, n *Node, _ *scope) error {
	if err := b.once(n); err != nil {
		return err
	}
	b.cfg.User = strings.Join(n.Args, " ")
	return nil
}

func setDaemon(b *builder, n *Node, _ *scope) error {
	if err := b.once(n); err != nil {
		return err
	}
	v, err := onOff(n)
	if err != nil {
		return err
	}
	b.cfg.Daemon = v
	return nil
}

var logLevels = setOf("debug info notice warn error crit alert emerg")

func setErrorLog(b *builder, n *Node, sc *scope) error {
	path := n.Args[0]
	if strings.HasPrefix(path, "memory:") {
		// The cyclic memory buffer is for debugging builds of nginx.
		return skip(b.unsupportedPart(n, "destination", "\"memory:\" error logs are not supported by headroom"))
	}
	var sys *logs.Syslog
	if strings.HasPrefix(path, "syslog:") {
		var err error
		if sys, err = parseSyslog(n, path); err != nil {
			return err
		}
	}
	level := "error"
	for i, a := range n.Args[1:] {
		if !logLevels[a] {
			return errAt(n, "invalid log level \"%s\"", a)
		}
		if i > 0 {
			return errAt(n, "duplicate log level \"%s\"", a)
		}
		level = a
	}
	if path != "stderr" && sys == nil {
		path = fullPath(b.cfg.Prefix, path)
	}
	e := ErrorLog{Path: path, Level: level, Syslog: sys}
	if sc != nil && sc.raw != nil && sc.ctx != ctxMain {
		sc.raw.errorLogs = append(sc.raw.errorLogs, e)
		return nil
	}
	b.cfg.ErrorLogs = append(b.cfg.ErrorLogs, e)
	return nil
}

func setEvents(b *builder, n *Node, _ *scope) error {
	if b.events {
		return errAt(n, "\"events\" directive is duplicate")
	}
	b.events = true
	return b.run(n.Block, &scope{ctx: ctxEvents})
}

func setWorkerConnections(b *builder, n *Node, _ *scope) error {
	if err := b.once(n); err != nil {
		return err
	}
	v, ok := atoi(n.Args[0])
	if !ok {
		return errAt(n, "invalid number \"%s\"", n.Args[0])
	}
	b.cfg.Events.WorkerConnections = v
	return nil
}

func setEventsFlag(set func(*Config, bool)) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, _ *scope) error {
		if err := b.once(n); err != nil {
			return err
		}
		v, err := onOff(n)
		if err != nil {
			return err
		}
		set(b.cfg, v)
		return nil
	}
}

func setUse(b *builder, n *Node, _ *scope) error {
	if err := b.once(n); err != nil {
		return err
	}
	if n.Args[0] != "epoll" {
		return errAt(n, "invalid event type \"%s\"", n.Args[0])
	}
	b.cfg.Events.Use = "epoll"
	return nil
}

// hostname is the machine's name, lower-cased, for "server_name $hostname"
// and for nothing else; it is looked up once.
var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(h)
}()
