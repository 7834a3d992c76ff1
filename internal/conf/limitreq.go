package conf

import (
	"strings"
)

// limitReqDirectives declares nginx's limit_req module.
func limitReqDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "limit_req_zone", ctx: ctxHTTP, args: arg3 | arg4, set: setLimitReqZone,
			syntax: "limit_req_zone key zone=name:size rate=rate [sync];",
			doc:    "Defines a zone limiting the request rate per key (rate in r/s or r/m), shared by all workers and bounded by its size. With sync, the zone's buckets live in the zone_sync store and the limit holds for every instance sharing it, with nginx's arithmetic and the store's clock."},
		{name: "limit_req", ctx: hsl, args: take123, set: setLimitReq,
			syntax: "limit_req zone=name [burst=number] [nodelay | delay=number];",
			doc:    "Limits the request rate per key of the zone: requests beyond the rate are delayed, those beyond the burst are answered with limit_req_status. Inherited only by levels with none of their own."},
		{name: "limit_req_status", ctx: hsl, args: arg1, set: setLimitReqStatus,
			syntax: "limit_req_status code;", def: "503",
			doc: "Sets the status answered to requests over a limit_req (400 to 599)."},
		{name: "limit_req_log_level", ctx: hsl, args: arg1, set: setLimitReqLogLevel,
			syntax: "limit_req_log_level info | notice | warn | error;", def: "error",
			doc: "Sets the error log level for refused requests; delayed ones are logged one level lower."},
		{name: "limit_req_dry_run", ctx: hsl, args: argFlag, set: setLimitReqDryRun,
			syntax: "limit_req_dry_run on | off;", def: "off",
			doc: "Accounts and logs as limit_req would, but delays and refuses nothing."},
	}
}

func setLimitReqZone(b *builder, n *Node, sc *scope) error {
	key, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	z := &LimitReqZone{Key: key, File: n.File, Line: n.Line}
	for _, a := range n.Args[1:] {
		switch {
		case strings.HasPrefix(a, "zone="):
			name, sizeText, ok := strings.Cut(a[len("zone="):], ":")
			size, sizeOK := parseSize(sizeText)
			if !ok || name == "" || !sizeOK {
				return errAt(n, "invalid zone size \"%s\"", a[len("zone="):])
			}
			if size < 8192 {
				return errAt(n, "zone \"%s\" is too small", a[len("zone="):])
			}
			z.Name, z.Size = name, size
		case strings.HasPrefix(a, "rate="):
			v := a[len("rate="):]
			per := 1
			switch {
			case strings.HasSuffix(v, "r/s"):
				v = v[:len(v)-3]
			case strings.HasSuffix(v, "r/m"):
				v, per = v[:len(v)-3], 60
			default:
				return errAt(n, "invalid rate \"%s\"", a)
			}
			r, ok := atoi(v)
			if !ok || r <= 0 {
				return errAt(n, "invalid rate \"%s\"", a)
			}
			z.RatePerMinute = r * 60 / per
		case a == "sync":
			z.Sync = true
		default:
			return errAt(n, "invalid parameter \"%s\"", a)
		}
	}
	if z.Name == "" {
		return errAt(n, "\"%s\" must have \"zone\" parameter", n.Name)
	}
	if z.RatePerMinute == 0 {
		z.RatePerMinute = 60
	}
	if b.limitReqZones == nil {
		b.limitReqZones = map[string]*LimitReqZone{}
	}
	if _, dup := b.limitReqZones[z.Name]; dup {
		return errAt(n, "duplicate zone \"%s\"", z.Name)
	}
	if err := b.declareZone(n, z.Name, "limit_req"); err != nil {
		return err
	}
	b.limitReqZones[z.Name] = z
	if b.limitReqNodes == nil {
		b.limitReqNodes = map[string]*Node{}
	}
	b.limitReqNodes[z.Name] = n
	return nil
}

func setLimitReq(b *builder, n *Node, sc *scope) error {
	ref := limitReqRef{node: n}
	for _, a := range n.Args {
		switch {
		case strings.HasPrefix(a, "zone="):
			ref.zone = a[len("zone="):]
		case strings.HasPrefix(a, "burst="):
			v, ok := atoi(a[len("burst="):])
			if !ok {
				return errAt(n, "invalid burst value \"%s\"", a)
			}
			ref.burst = v
		case strings.HasPrefix(a, "delay="):
			v, ok := atoi(a[len("delay="):])
			if !ok {
				return errAt(n, "invalid delay value \"%s\"", a)
			}
			ref.delay = v
		case a == "nodelay":
			ref.noDelay = true
		default:
			return errAt(n, "invalid parameter \"%s\"", a)
		}
	}
	if ref.zone == "" {
		return errAt(n, "\"%s\" must have \"zone\" parameter", n.Name)
	}
	for _, l := range sc.raw.limitReqs {
		if l.zone == ref.zone {
			return errAt(n, "duplicate limit_req for zone \"%s\"", ref.zone)
		}
	}
	sc.raw.limitReqs = append(sc.raw.limitReqs, ref)
	return nil
}

func setLimitReqStatus(b *builder, n *Node, sc *scope) error {
	if sc.raw.limitReqStatus != nil {
		return duplicate(n)
	}
	v, ok := atoi(n.Args[0])
	if !ok || v < 400 || v > 599 {
		return errAt(n, "value must be between 400 and 599")
	}
	sc.raw.limitReqStatus = &v
	return nil
}

func setLimitReqLogLevel(b *builder, n *Node, sc *scope) error {
	if sc.raw.limitReqLogLevel != nil {
		return duplicate(n)
	}
	switch v := n.Args[0]; v {
	case "info", "notice", "warn", "error":
		sc.raw.limitReqLogLevel = &v
		return nil
	}
	return errAt(n, "invalid value \"%s\" in \"%s\" directive, it must be \"info\", \"notice\", \"warn\" or \"error\"", n.Args[0], n.Name)
}

func setLimitReqDryRun(b *builder, n *Node, sc *scope) error {
	if sc.raw.limitReqDryRun != nil {
		return duplicate(n)
	}
	v := n.Args[0] == "on"
	if !v && n.Args[0] != "off" {
		return errAt(n, "invalid value \"%s\" in \"%s\" directive, it must be \"on\" or \"off\"", n.Args[0], n.Name)
	}
	sc.raw.limitReqDryRun = &v
	return nil
}

// limitReqRef is a limit_req as written, resolved when the http block ends.
type limitReqRef struct {
	zone         string
	burst, delay int
	noDelay      bool
	node         *Node
}

func (b *builder) resolveLimitReqs(refs []limitReqRef) ([]LimitReq, error) {
	var out []LimitReq
	for _, ref := range refs {
		z := b.limitReqZones[ref.zone]
		if z == nil {
			return nil, errAt(ref.node, "zero size shared memory zone \"%s\"", ref.zone)
		}
		out = append(out, LimitReq{Zone: z, Burst: ref.burst, Delay: ref.delay, NoDelay: ref.noDelay})
	}
	return out, nil
}
