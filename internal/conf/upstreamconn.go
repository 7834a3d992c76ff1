package conf

import (
	"net/netip"
	"time"
)

// upstreamConnRaw holds what one level sets of the upstream connection's
// own settings; nil means not set here.
type upstreamConnRaw struct {
	proxySocketKeepalive     *bool
	proxyBind                *netip.Addr
	proxyNextUpstreamTimeout *time.Duration
	// resolver and resolverTimeout are resolver and resolver_timeout
	// (resolver.go), kept here with the other settings of reaching an
	// upstream.
	resolver        *Resolver
	resolverTimeout *time.Duration
}

// upstreamConnDirectives declares the settings of the connection to an
// upstream server and of moving to the next one.
func upstreamConnDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "proxy_socket_keepalive", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.conn.proxySocketKeepalive }),
			syntax: "proxy_socket_keepalive on | off;", def: "off",
			doc: "Turns on TCP keep-alive probes (SO_KEEPALIVE) on upstream connections, with the system's timings."},
		{name: "proxy_bind", ctx: hsl, args: take12, set: setProxyBind,
			syntax: "proxy_bind address | off;", def: "off",
			doc: "Makes upstream connections from this local IP address (the port is the system's choice); off lets the system pick it. Variables and transparent are not supported by headroom."},
		{name: "proxy_next_upstream_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.conn.proxyNextUpstreamTimeout }),
			syntax: "proxy_next_upstream_timeout time;", def: "0",
			doc: "Limits the time from the first try during which a request may be passed to the next server; 0 is unlimited."},
	}
}

// setProxyBind reads "proxy_bind address | off" as nginx does: an IP
// address, or off (which a nested level uses to undo an inherited one).
func setProxyBind(b *builder, n *Node, sc *scope) error {
	if sc.raw.conn.proxyBind != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	if len(n.Args) == 2 {
		if n.Args[1] == "transparent" {
			return skip(b.unsupportedPart(n, "transparent", "\"proxy_bind ... transparent\" is not supported by headroom"))
		}
		return errAt(n, "invalid parameter \"%s\"", n.Args[1])
	}
	if v == "off" {
		off := netip.Addr{}
		sc.raw.conn.proxyBind = &off
		return nil
	}
	if hasVariables(v) {
		return skip(b.unsupportedPart(n, "variables", "variables in \"proxy_bind\" are not supported by headroom"))
	}
	a, err := netip.ParseAddr(trimBrackets(v))
	if err != nil {
		if _, perr := netip.ParseAddrPort(v); perr == nil {
			return skip(b.unsupportedPart(n, "port", "a port in \"proxy_bind\" is not supported by headroom"))
		}
		return errAt(n, "invalid address \"%s\"", v)
	}
	sc.raw.conn.proxyBind = &a
	return nil
}

// trimBrackets removes the brackets of an IPv6 literal.
func trimBrackets(s string) string {
	if len(s) > 1 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}
