package conf

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// upstreamBuild is an upstream group being read: a named upstream{} block
// or an implicit group made for "proxy_pass http://host:port".
type upstreamBuild struct {
	up *Upstream
	// host and port identify the group the way nginx matches proxy_pass
	// targets to groups: host case-insensitively, and the port only for
	// implicit groups.
	host     string
	port     int
	noPort   bool
	explicit bool
	node     *Node
	set      map[string]bool
	// skipped is set when lenient loading left out a server, so that the
	// group being empty is not reported as if the configuration said so.
	skipped bool
	// method is set once a balancing method directive was read, for
	// nginx's "load balancing method redefined" warning.
	method bool
	// noBackup is set while the method in force does not accept backup
	// servers (nginx's NGX_HTTP_UPSTREAM_BACKUP flag left out).
	noBackup bool
}

func upstreamDirectives() []*directive {
	return []*directive{
		{name: "server", ctx: ctxUpstream, args: arg1More, set: setUpstreamServer,
			syntax: "server address[:port] [weight=n] [max_fails=n] [fail_timeout=time] [max_conns=n] [backup] [down];",
			doc:    "Adds a server to the group; a name is resolved when the configuration is read and every address becomes a server; the port defaults to 80. backup is refused after ip_hash, hash or random, whose methods have no backup servers (written before them, as nginx allows, such a server is used only when the method falls back to round robin)."},
		{name: "keepalive", ctx: ctxUpstream, args: arg1, set: setUpstreamKeepalive,
			syntax: "keepalive connections;",
			doc:    "Keeps up to this many idle upstream connections per worker for reuse (needs proxy_http_version 1.1 and an empty Connection header). A balancing method must come before it: as in nginx, one written after it turns the cache off, with the warning \"load balancing method redefined\"."},
		{name: "keepalive_requests", ctx: ctxUpstream, args: arg1, set: setUpstreamNumber(func(u *Upstream, v int) { u.KeepaliveRequests = v }),
			syntax: "keepalive_requests number;", def: "1000",
			doc: "Limits the requests sent over one cached upstream connection."},
		{name: "keepalive_timeout", ctx: ctxUpstream, args: arg1, set: setUpstreamTime(func(u *Upstream, v time.Duration) { u.KeepaliveTimeout = v }),
			syntax: "keepalive_timeout timeout;", def: "60s",
			doc: "Closes cached upstream connections idle for longer than this."},
		{name: "keepalive_time", ctx: ctxUpstream, args: arg1, set: setUpstreamTime(func(u *Upstream, v time.Duration) { u.KeepaliveTime = v }),
			syntax: "keepalive_time time;", def: "1h",
			doc: "Limits the total lifetime of a cached upstream connection."},
		{name: "zone", ctx: ctxUpstream, args: take123, set: setUpstreamZone,
			syntax: "zone name [size] [sync];",
			doc:    "Names the group's shared state. headroom's workers always share a group's state (max_conns counts, the queue, failures), so without sync this changes nothing; with sync, the servers' max_conns hold for every instance sharing the zone_sync store: each instance leases connection places from the store and gives back those it does not use."},
		{name: "queue", ctx: ctxUpstream, args: take12, set: setUpstreamQueue,
			syntax: "queue number [timeout=time];", def: "timeout=60s",
			doc: "When every server is at its max_conns, lets up to this many requests wait, in arrival order, for the time given; beyond it, or after it, the answer is 503 with Retry-After (nginx Plus syntax; nginx Plus answers 502)."},
	}
}

func newUpstream(name string, n *Node) *Upstream {
	return &Upstream{
		Name:              name,
		KeepaliveRequests: 1000,
		KeepaliveTimeout:  60 * time.Second,
		KeepaliveTime:     time.Hour,
		File:              n.File,
		Line:              n.Line,
	}
}

// upstreamRef finds or makes the group a proxy_pass names, as nginx's
// ngx_http_upstream_add does without creating a block: an upstream{} of
// that name (which must then be named without port), or an implicit group
// for the same host and port.
func (h *httpBuild) upstreamRef(n *Node, host string, port int, noPort bool, written string) (*upstreamBuild, error) {
	for _, u := range h.upstreams {
		if !strings.EqualFold(u.host, host) {
			continue
		}
		if u.explicit {
			if !noPort {
				return nil, errAt(n, "upstream \"%s\" may not have port %d", host, port)
			}
			return u, nil
		}
		if u.port != port {
			continue
		}
		return u, nil
	}
	u := &upstreamBuild{host: host, port: port, noPort: noPort, node: n, up: newUpstream(written, n)}
	u.up.Implicit = true
	h.upstreams = append(h.upstreams, u)
	return u, nil
}

// setUpstream reads an upstream{} block. A block may take over an
// implicit group made by an earlier proxy_pass naming it without port,
// which is how nginx lets proxy_pass refer to upstreams defined later.
func setUpstream(b *builder, n *Node, _ *scope) error {
	name := n.Args[0]
	var u *upstreamBuild
	for _, other := range b.http.upstreams {
		if !strings.EqualFold(other.host, name) {
			continue
		}
		if other.explicit {
			return errAt(n, "duplicate upstream \"%s\"", name)
		}
		if !other.noPort {
			return &Error{File: other.node.File, Line: other.node.Line, CommandLine: other.node.cmdline,
				Msg: fmt.Sprintf("upstream \"%s\" may not have port %d", name, other.port)}
		}
		u = other
		break
	}
	if u == nil {
		u = &upstreamBuild{host: name, up: &Upstream{}}
		b.http.upstreams = append(b.http.upstreams, u)
	}
	// Keep the *Upstream that earlier proxy_pass directives point to.
	*u.up = *newUpstream(name, n)
	u.explicit, u.node, u.port, u.noPort = true, n, 0, true
	return b.run(n.Block, &scope{ctx: ctxUpstream, ups: u})
}

func setUpstreamServer(b *builder, n *Node, sc *scope) error {
	addr := n.Args[0]
	s := UpstreamServer{Name: addr, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second}
	for _, p := range n.Args[1:] {
		key, val, hasVal := strings.Cut(p, "=")
		ok := true
		switch {
		case key == "weight" && hasVal:
			s.Weight, ok = atoi(val)
			ok = ok && s.Weight > 0
		case key == "max_fails" && hasVal:
			s.MaxFails, ok = atoi(val)
		case key == "max_conns" && hasVal:
			s.MaxConns, ok = atoi(val)
		case key == "fail_timeout" && hasVal:
			s.FailTimeout, ok = parseTime(val, true)
		case p == "backup":
			if sc.ups.noBackup {
				return errAt(n, "balancing method does not support parameter \"%s\"", p)
			}
			s.Backup = true
		case p == "down":
			s.Down = true
		case p == "resolve" || key == "service" || key == "route" || key == "slow_start" || key == "drain":
			if err := b.unsupportedParam(n, key); err != nil {
				return err
			}
		default:
			ok = false
		}
		if !ok {
			return errAt(n, "invalid parameter \"%s\"", p)
		}
	}
	if strings.HasPrefix(addr, "unix:") {
		path, perr := unixSocketPath(addr[len("unix:"):])
		if perr != "" {
			return errAt(n, "%s in upstream \"%s\"", perr, addr)
		}
		s.Addr = "unix:" + path
		sc.ups.up.Servers = append(sc.ups.up.Servers, &s)
		return nil
	}
	if strings.Contains(addr, "/") || strings.Contains(addr, "://") {
		return errAt(n, "invalid host in upstream \"%s\"", addr)
	}
	host, port, _, perr := splitUpstreamAddr(addr)
	if perr != "" {
		return errAt(n, "%s in upstream \"%s\"", perr, addr)
	}
	ips, ok := resolve(host)
	if !ok {
		return errAt(n, "host not found in upstream \"%s\"", addr)
	}
	for _, ip := range ips {
		srv := s
		srv.Addr = net.JoinHostPort(ip, strconv.Itoa(port))
		sc.ups.up.Servers = append(sc.ups.up.Servers, &srv)
	}
	return nil
}

// upstreamOnce reports nginx's duplicate error for the group directives.
func upstreamOnce(sc *scope, n *Node) error {
	if sc.ups.set == nil {
		sc.ups.set = map[string]bool{}
	}
	if sc.ups.set[n.Name] {
		return duplicate(n)
	}
	sc.ups.set[n.Name] = true
	return nil
}

func setUpstreamKeepalive(b *builder, n *Node, sc *scope) error {
	if err := upstreamOnce(sc, n); err != nil {
		return err
	}
	v, ok := atoi(n.Args[0])
	if !ok || v == 0 {
		return errAt(n, "invalid value \"%s\" in \"%s\" directive", n.Args[0], n.Name)
	}
	sc.ups.up.Keepalive = v
	return nil
}

// setUpstreamQueue reads "queue number [timeout=time]".
func setUpstreamZone(b *builder, n *Node, sc *scope) error {
	u := sc.ups.up
	if u.Zone != "" {
		return duplicate(n)
	}
	u.Zone = n.Args[0]
	if err := b.declareZone(n, u.Zone, "upstream"); err != nil {
		return err
	}
	for _, a := range n.Args[1:] {
		if a == "sync" {
			u.Sync = true
			continue
		}
		size, ok := parseSize(a)
		if !ok || u.ZoneSize != 0 {
			return errAt(n, "invalid zone size \"%s\"", a)
		}
		// nginx's smallest zone is eight pages.
		if size < 8*4096 {
			return errAt(n, "zone \"%s\" is too small", u.Zone)
		}
		u.ZoneSize = size
	}
	if u.Sync {
		if b.syncUpstreams == nil {
			b.syncUpstreams = map[string]*Node{}
		}
		b.syncUpstreams[u.Name] = n
	}
	return nil
}

func setUpstreamQueue(b *builder, n *Node, sc *scope) error {
	if err := upstreamOnce(sc, n); err != nil {
		return err
	}
	v, ok := atoi(n.Args[0])
	if !ok || v == 0 {
		return errAt(n, "invalid value \"%s\" in \"%s\" directive", n.Args[0], n.Name)
	}
	u := sc.ups.up
	u.Queue, u.QueueTimeout = v, 60*time.Second
	if len(n.Args) == 2 {
		val, found := strings.CutPrefix(n.Args[1], "timeout=")
		t, ok := parseTime(val, false)
		if !found || !ok || t <= 0 {
			return errAt(n, "invalid parameter \"%s\"", n.Args[1])
		}
		u.QueueTimeout = t
	}
	return nil
}

func setUpstreamNumber(set func(*Upstream, int)) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		if err := upstreamOnce(sc, n); err != nil {
			return err
		}
		v, ok := atoi(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid number", n.Name)
		}
		set(sc.ups.up, v)
		return nil
	}
}

func setUpstreamTime(set func(*Upstream, time.Duration)) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		if err := upstreamOnce(sc, n); err != nil {
			return err
		}
		d, ok := parseTime(n.Args[0], false)
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		set(sc.ups.up, d)
		return nil
	}
}

// initUpstreams does what nginx does for upstreams at the end of the http
// block: it resolves implicit groups and checks that every named group has
// a server that is not a backup.
func (b *builder) initUpstreams() error {
	for _, u := range b.http.upstreams {
		if u.explicit {
			primary := 0
			for _, s := range u.up.Servers {
				if !s.Backup {
					primary++
				}
			}
			if primary == 0 && !u.skipped {
				return &Error{File: u.up.File, Line: u.up.Line, Msg: fmt.Sprintf("no servers in upstream \"%s\"", u.up.Name)}
			}
			continue
		}
		if strings.HasPrefix(u.host, "unix:") {
			u.up.Servers = append(u.up.Servers, &UpstreamServer{
				Addr: u.host, Name: u.up.Name,
				Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second,
			})
			continue
		}
		ips, ok := resolve(u.host)
		if !ok {
			return &Error{File: u.node.File, Line: u.node.Line, CommandLine: u.node.cmdline,
				Msg: fmt.Sprintf("host not found in upstream \"%s\"", u.host)}
		}
		for _, ip := range ips {
			u.up.Servers = append(u.up.Servers, &UpstreamServer{
				Addr: net.JoinHostPort(ip, strconv.Itoa(u.port)), Name: u.up.Name,
				Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second,
			})
		}
	}
	return nil
}

// unixSocketPath checks the path of a unix domain socket address as
// nginx's URL parser does, returning its message when it is not usable.
func unixSocketPath(path string) (string, string) {
	if path == "" {
		return "", "no path in the unix domain socket"
	}
	// sun_path holds 108 bytes with the terminating zero.
	if len(path) >= 108 {
		return "", "too long path in the unix domain socket"
	}
	return path, ""
}
