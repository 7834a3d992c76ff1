package conf

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Resolver is one "resolver" directive: the name servers a proxy_pass
// with variables asks for names that are neither an upstream group nor an
// address. Each directive is a resolver of its own, with its own cache in
// each worker, as each of nginx's resolver directives creates one;
// levels without the directive share their parent's.
type Resolver struct {
	// Addrs are the name servers, asked in turn (port 53 by default).
	Addrs []netip.AddrPort
	// Valid overrides the answers' TTLs when not zero (valid=).
	Valid time.Duration
	// IPv4 and IPv6 say which address records are asked for (A, AAAA);
	// nginx 1.22 always asks for A, and for AAAA unless ipv6=off.
	IPv4, IPv6 bool
}

// resolverDirectives declares resolver and resolver_timeout.
func resolverDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "resolver", ctx: hsl, args: arg1More, set: setResolver,
			syntax: "resolver address ... [valid=time] [ipv6=on|off];",
			doc:    "Names the DNS servers (IP addresses or names looked up at start, port 53 by default, IPv6 in brackets) that a proxy_pass with variables asks, in turn, for a host that is neither an upstream group nor an address. Answers are cached per worker for their TTL or valid=; ipv6=off asks for A records only."},
		{name: "resolver_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.conn.resolverTimeout }),
			syntax: "resolver_timeout time;", def: "30s",
			doc: "Limits how long a request waits for a name to be resolved; the query is sent again to the next server every 5 seconds within it."},
	}
}

// setResolver reads "resolver" as nginx's ngx_resolver_create does, with
// its messages: parameters may come in any order, an address is an IP
// with an optional port or a name looked up now, and at least one
// address is needed.
func setResolver(b *builder, n *Node, sc *scope) error {
	if sc.raw.conn.resolver != nil {
		return duplicate(n)
	}
	r := &Resolver{IPv4: true, IPv6: true}
	for _, a := range n.Args {
		switch {
		case strings.HasPrefix(a, "valid="):
			d, ok := parseTime(a[6:], true)
			if !ok {
				return errAt(n, "invalid parameter: %s", a)
			}
			r.Valid = d
			continue
		case strings.HasPrefix(a, "ipv6="):
			// nginx 1.22 has ipv6= only; ipv4= and status_zone= came
			// later and are host names to it, as here.
			switch a[5:] {
			case "on":
				r.IPv6 = true
			case "off":
				r.IPv6 = false
			default:
				return errAt(n, "invalid parameter: %s", a)
			}
			continue
		}
		addrs, msg := resolverAddrs(a)
		if msg != "" {
			return errAt(n, "%s in resolver \"%s\"", msg, a)
		}
		r.Addrs = append(r.Addrs, addrs...)
	}
	if len(r.Addrs) == 0 {
		return errAt(n, "no name servers defined")
	}
	sc.raw.conn.resolver = r
	return nil
}

// resolverAddrs parses one name server as nginx's ngx_parse_url does with
// a default port of 53: "ip", "ip:port", "[ipv6]", "[ipv6]:port" or a
// name, which is looked up while the configuration is read (all its
// addresses are servers), as nginx does. It returns nginx's complaint
// otherwise.
func resolverAddrs(s string) ([]netip.AddrPort, string) {
	host, portStr, hasPort := s, "", false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, "invalid host"
		}
		host = s[:end+1]
		switch rest := s[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			portStr, hasPort = rest[1:], true
		default:
			return nil, "invalid host"
		}
	} else if strings.Count(s, ":") > 1 {
		// An IPv6 address without brackets reads as a host and a port
		// to nginx, and the port is not one.
		return nil, "invalid port"
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, portStr, hasPort = s[:i], s[i+1:], true
	}
	port := 53
	if hasPort {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 || strings.ContainsAny(portStr, "+-") {
			return nil, "invalid port"
		}
		port = p
	}
	if host == "" || host == "[]" {
		return nil, "no host"
	}
	ips, ok := resolve(host)
	if !ok {
		if strings.HasPrefix(host, "[") {
			return nil, "invalid host"
		}
		return nil, "host not found"
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
	}
	return out, ""
}

// ResolverSockets is how many UDP sockets each worker opens for the name
// servers of the configuration's resolvers: one per address family they
// use. Each holds a slot for the worker's life, as a listener does.
func (c *Config) ResolverSockets() int {
	if c.HTTP == nil {
		return 0
	}
	var v4, v6 bool
	c.EachLocConf(func(lc *LocConf) {
		if lc.Resolver == nil {
			return
		}
		for _, a := range lc.Resolver.Addrs {
			if a.Addr().Unmap().Is4() {
				v4 = true
			} else {
				v6 = true
			}
		}
	})
	n := 0
	for _, used := range []bool{v4, v6} {
		if used {
			n++
		}
	}
	return n
}
