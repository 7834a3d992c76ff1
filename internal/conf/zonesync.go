package conf

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ZoneSync is zone_sync: the Redis (or Valkey) server through which the
// zones marked "sync" share their state with every headroom instance that
// names the same server, so that a limit holds for the whole fleet and
// not per instance.
type ZoneSync struct {
	// URL is the address as written, for logs and doctor.
	URL string
	// Host and Port are the server's; Addrs are Host resolved at load
	// (empty in a lenient load), the first of which is used.
	Host  string
	Port  int
	Addrs []string
	// DB is the database selected after connecting (the URL's path).
	DB int
	// User and Password authenticate with AUTH when Password is set.
	User, Password string
	// Timeout bounds each check: a request waits no longer for the
	// store's answer before its fallback decides.
	Timeout time.Duration
	// Fallback is how limits are enforced while the store does not
	// answer.
	Fallback ZoneSyncFallback
	File     string
	Line     int
}

// ZoneSyncFallback says how a synced zone is enforced while its store is
// unreachable.
type ZoneSyncFallback uint8

const (
	// FallbackShare: each instance enforces its share of the limit,
	// the rate and burst divided by the number of live instances last
	// seen, so that the fleet as a whole stays near the limit.
	FallbackShare ZoneSyncFallback = iota
	// FallbackLocal: each instance enforces the whole limit, as
	// without sync.
	FallbackLocal
	// FallbackDeny: every request that a synced zone limits is refused
	// with limit_req_status.
	FallbackDeny
)

func (f ZoneSyncFallback) String() string {
	switch f {
	case FallbackLocal:
		return "local"
	case FallbackDeny:
		return "deny"
	}
	return "share"
}

// defaultZoneSyncTimeout is how long a check waits for the store by
// default: well above a round trip in one data centre (well under a
// millisecond), well below what a client would notice.
const defaultZoneSyncTimeout = 20 * time.Millisecond

func zoneSyncDirectives() []*directive {
	return []*directive{
		{name: "zone_sync", ctx: ctxHTTP, args: arg1 | arg2 | arg3, set: setZoneSync,
			syntax: "zone_sync redis://[[user]:password@]host[:port][/db] [timeout=time] [fallback=share | local | deny];",
			doc:    "Names the Redis (or Valkey) server through which zones declared with \"sync\" share their state across headroom instances, so that their limits hold for the whole fleet. timeout (default 20ms) bounds each check; while the server does not answer, fallback decides: share (the default) enforces the limit divided by the number of live instances on each, local the whole limit on each, deny refuses."},
	}
}

func setZoneSync(b *builder, n *Node, sc *scope) error {
	if b.zoneSync != nil {
		return duplicate(n)
	}
	z, err := parseZoneSyncURL(n, n.Args[0])
	if err != nil {
		return err
	}
	z.Timeout, z.File, z.Line = defaultZoneSyncTimeout, n.File, n.Line
	for _, a := range n.Args[1:] {
		switch {
		case strings.HasPrefix(a, "timeout="):
			d, ok := parseTime(a[len("timeout="):], false)
			if !ok || d <= 0 {
				return errAt(n, "invalid timeout \"%s\"", a)
			}
			z.Timeout = d
		case strings.HasPrefix(a, "fallback="):
			switch a[len("fallback="):] {
			case "share":
				z.Fallback = FallbackShare
			case "local":
				z.Fallback = FallbackLocal
			case "deny":
				z.Fallback = FallbackDeny
			default:
				return errAt(n, "invalid fallback \"%s\", it must be \"share\", \"local\" or \"deny\"", a)
			}
		default:
			return errAt(n, "invalid parameter \"%s\"", a)
		}
	}
	if !b.opts.Lenient {
		addrs, ok := resolve(z.Host)
		if !ok {
			return errAt(n, "host not found in \"%s\" of the \"%s\" directive", z.URL, n.Name)
		}
		z.Addrs = addrs
	}
	b.zoneSync = z
	return nil
}

// parseZoneSyncURL reads redis://[[user]:password@]host[:port][/db]; the
// port defaults to Redis's 6379 and the database to 0.
func parseZoneSyncURL(n *Node, s string) (*ZoneSync, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "redis" || u.Host == "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errAt(n, "invalid URL \"%s\" in \"%s\", it must be redis://[[user]:password@]host[:port][/db]", s, n.Name)
	}
	z := &ZoneSync{URL: s, Host: u.Hostname(), Port: 6379}
	if u.User != nil {
		z.User = u.User.Username()
		z.Password, _ = u.User.Password()
		// redis://:password@host names no user; a user without a
		// password cannot authenticate.
		if z.Password == "" {
			return nil, errAt(n, "no password in the URL \"%s\" of \"%s\"", s, n.Name)
		}
		// The URL as logged and shown by doctor hides the password.
		z.URL = u.Redacted()
	}
	if p := u.Port(); p != "" {
		v, ok := atoi(p)
		if !ok || v < 1 || v > 65535 {
			return nil, errAt(n, "invalid port in \"%s\" of \"%s\"", s, n.Name)
		}
		z.Port = v
	}
	if path := strings.TrimPrefix(u.Path, "/"); path != "" {
		v, ok := atoi(path)
		if !ok {
			return nil, errAt(n, "invalid database \"%s\" in \"%s\" of \"%s\"", path, s, n.Name)
		}
		z.DB = v
	}
	return z, nil
}

// StoreSockets is how many slots each worker keeps for its connection to
// the zone_sync store: one when the configuration names a store. Like
// the resolver's sockets, it is set aside before the client budget is
// halved.
func (c *Config) StoreSockets() int {
	if c.HTTP != nil && c.HTTP.ZoneSync != nil {
		return 1
	}
	return 0
}

// Addr is the address the store is dialled at.
func (z *ZoneSync) Addr() string {
	host := z.Host
	if len(z.Addrs) > 0 {
		host = z.Addrs[0]
	}
	return net.JoinHostPort(host, strconv.Itoa(z.Port))
}

// declareZone records a shared memory zone's name for a use (limit_req,
// limit_conn, upstream) and refuses a name another use took, as nginx
// does; with zone_sync the name is also the zone's key in the store.
func (b *builder) declareZone(n *Node, name, use string) error {
	if b.zoneUses == nil {
		b.zoneUses = map[string]string{}
	}
	if prev, ok := b.zoneUses[name]; ok && prev != use {
		return errAt(n, "the shared memory zone \"%s\" is already declared for a different use", name)
	}
	b.zoneUses[name] = use
	return nil
}

// findDirective returns the first directive named name in the blocks,
// at any depth.
func findDirective(nodes []*Node, name string) *Node {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
		if d := findDirective(n.Block, name); d != nil {
			return d
		}
	}
	return nil
}

// checkZoneSync refuses zones declared with "sync" when no zone_sync names
// a store to share them through.
func (b *builder) checkZoneSync() error {
	if b.zoneSync != nil {
		return nil
	}
	for _, name := range sortedKeys(b.limitReqZones) {
		if z := b.limitReqZones[name]; z.Sync {
			return errAt(b.limitReqNodes[name], "\"sync\" in \"limit_req_zone\" needs a \"zone_sync\" directive in the http block")
		}
	}
	for _, name := range sortedKeys(b.limitConnZones) {
		if z := b.limitConnZones[name]; z.Sync {
			return errAt(b.limitConnNodes[name], "\"sync\" in \"limit_conn_zone\" needs a \"zone_sync\" directive in the http block")
		}
	}
	if names := sortedKeys(b.syncUpstreams); len(names) > 0 {
		return errAt(b.syncUpstreams[names[0]], "\"sync\" in \"zone\" needs a \"zone_sync\" directive in the http block")
	}
	return nil
}
