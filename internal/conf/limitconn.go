package conf

import "strings"

// limitConnDirectives declares nginx's limit_conn module.
func limitConnDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "limit_conn_zone", ctx: ctxHTTP, args: arg2 | arg3, set: setLimitConnZone,
			syntax: "limit_conn_zone key zone=name:size [sync];",
			doc:    "Defines a zone counting connections per key (e.g. $binary_remote_addr), shared by all workers and bounded by its size. With sync, the counts live in the zone_sync store and the limit holds for every instance sharing it; an instance that stops renewing its lease stops counting within seconds."},
		{name: "limit_conn", ctx: hsl, args: arg2, set: setLimitConn,
			syntax: "limit_conn zone number;",
			doc:    "Limits the requests in progress per key of the zone; a request over the limit is answered with limit_conn_status. Inherited only by levels with none of their own."},
		{name: "limit_conn_status", ctx: hsl, args: arg1, set: setLimitConnStatus,
			syntax: "limit_conn_status code;", def: "503",
			doc: "Sets the status answered to requests over a limit_conn (400 to 599)."},
		{name: "limit_conn_log_level", ctx: hsl, args: arg1, set: setLimitConnLogLevel,
			syntax: "limit_conn_log_level info | notice | warn | error;", def: "error",
			doc: "Sets the error log level of the lines about limited requests."},
		{name: "limit_conn_dry_run", ctx: hsl, args: argFlag, set: setLimitConnDryRun,
			syntax: "limit_conn_dry_run on | off;", def: "off",
			doc: "Counts and logs as limit_conn would, but limits nothing."},
	}
}

func setLimitConnZone(b *builder, n *Node, sc *scope) error {
	key, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	spec, ok := strings.CutPrefix(n.Args[1], "zone=")
	if !ok {
		return errAt(n, "invalid parameter \"%s\"", n.Args[1])
	}
	name, sizeText, ok := strings.Cut(spec, ":")
	if !ok || name == "" {
		return errAt(n, "invalid zone size \"%s\"", spec)
	}
	size, ok := parseSize(sizeText)
	if !ok || size < 8192 {
		return errAt(n, "zone \"%s\" is too small", spec)
	}
	if b.limitConnZones == nil {
		b.limitConnZones = map[string]*LimitConnZone{}
	}
	if _, dup := b.limitConnZones[name]; dup {
		return errAt(n, "duplicate zone \"%s\"", name)
	}
	if err := b.declareZone(n, name, "limit_conn"); err != nil {
		return err
	}
	z := &LimitConnZone{Name: name, Key: key, Size: size, File: n.File, Line: n.Line}
	if len(n.Args) == 3 {
		if n.Args[2] != "sync" {
			return errAt(n, "invalid parameter \"%s\"", n.Args[2])
		}
		z.Sync = true
	}
	b.limitConnZones[name] = z
	if b.limitConnNodes == nil {
		b.limitConnNodes = map[string]*Node{}
	}
	b.limitConnNodes[name] = n
	return nil
}

func setLimitConn(b *builder, n *Node, sc *scope) error {
	max, ok := atoi(n.Args[1])
	if !ok || max <= 0 {
		return errAt(n, "invalid number of connections \"%s\"", n.Args[1])
	}
	for _, l := range sc.raw.limitConns {
		if l.zone == n.Args[0] {
			return errAt(n, "\"limit_conn\" directive is duplicate")
		}
	}
	sc.raw.limitConns = append(sc.raw.limitConns, limitConnRef{zone: n.Args[0], max: max, node: n})
	return nil
}

func setLimitConnStatus(b *builder, n *Node, sc *scope) error {
	if sc.raw.limitConnStatus != nil {
		return duplicate(n)
	}
	v, ok := atoi(n.Args[0])
	if !ok || v < 400 || v > 599 {
		return errAt(n, "value must be between 400 and 599")
	}
	sc.raw.limitConnStatus = &v
	return nil
}

func setLimitConnLogLevel(b *builder, n *Node, sc *scope) error {
	if sc.raw.limitConnLogLevel != nil {
		return duplicate(n)
	}
	switch v := n.Args[0]; v {
	case "info", "notice", "warn", "error":
		sc.raw.limitConnLogLevel = &v
		return nil
	}
	return errAt(n, "invalid value \"%s\" in \"%s\" directive, it must be \"info\", \"notice\", \"warn\" or \"error\"", n.Args[0], n.Name)
}

func setLimitConnDryRun(b *builder, n *Node, sc *scope) error {
	if sc.raw.limitConnDryRun != nil {
		return duplicate(n)
	}
	v := n.Args[0] == "on"
	if !v && n.Args[0] != "off" {
		return errAt(n, "invalid value \"%s\" in \"%s\" directive, it must be \"on\" or \"off\"", n.Args[0], n.Name)
	}
	sc.raw.limitConnDryRun = &v
	return nil
}

// limitConnRef is a limit_conn as written; its zone is found when the http
// block ends, as nginx allows the zone to be defined after its use.
type limitConnRef struct {
	zone string
	max  int
	node *Node
}

// resolveLimitConns turns a level's references into limits.
func (b *builder) resolveLimitConns(refs []limitConnRef) ([]LimitConn, error) {
	var out []LimitConn
	for _, ref := range refs {
		z := b.limitConnZones[ref.zone]
		if z == nil {
			return nil, errAt(ref.node, "zero size shared memory zone \"%s\"", ref.zone)
		}
		out = append(out, LimitConn{Zone: z, Max: ref.max})
	}
	return out, nil
}
