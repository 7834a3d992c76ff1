package conf

import (
	"net/netip"
	"strings"
)

// RealIP holds nginx's realip module settings of a level: a request whose
// connection comes from one of From takes its client address from
// Header (the rightmost address there; with Recursive the rightmost one
// that is not in From), or from the connection's PROXY protocol header
// when Header is RealIPProxyProtocol.
type RealIP struct {
	From      []netip.Prefix
	Header    string
	Recursive bool
}

// realIPRaw is what one level sets of the realip settings.
type realIPRaw struct {
	from      []netip.Prefix
	header    *string
	recursive *bool
}

func realIPDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "set_real_ip_from", ctx: hsl, args: arg1, set: setRealIPFrom,
			syntax: "set_real_ip_from address | CIDR | unix:;",
			doc:    "Trusts a proxy in front of headroom: requests from it take their client address from real_ip_header. A name is resolved when the configuration is read. Inherited only by levels with none of their own."},
		{name: "real_ip_header", ctx: hsl, args: arg1, set: setRealIPHeader,
			syntax: "real_ip_header field | X-Real-IP | X-Forwarded-For | proxy_protocol;", def: "X-Real-IP",
			doc: "Names the request field that carries the client address, or with proxy_protocol takes the source address and port of the connection's PROXY protocol header (listen ... proxy_protocol)."},
		{name: "real_ip_recursive", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.realIP.recursive }),
			syntax: "real_ip_recursive on | off;", def: "off",
			doc: "With on, the client address is the rightmost one in the field that is not a trusted proxy; with off, the rightmost one."},
	}
}

func setRealIPFrom(b *builder, n *Node, sc *scope) error {
	v := n.Args[0]
	if v == "unix:" {
		// The zero prefix stands for every unix-socket client.
		sc.raw.realIP.from = append(sc.raw.realIP.from, netip.Prefix{})
		return nil
	}
	if p, exact, ok := parseCIDR(v); ok {
		if !exact {
			b.warn(errAt(n, "low address bits of %s are meaningless", v))
		}
		sc.raw.realIP.from = append(sc.raw.realIP.from, p)
		return nil
	}
	if strings.Contains(v, "/") {
		return errAt(n, "invalid parameter \"%s\"", v)
	}
	addrs, ok := resolve(v)
	if !ok {
		return errAt(n, "host not found in set_real_ip_from \"%s\"", v)
	}
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			continue
		}
		sc.raw.realIP.from = append(sc.raw.realIP.from, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return nil
}

func setRealIPHeader(b *builder, n *Node, sc *scope) error {
	if sc.raw.realIP.header != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	sc.raw.realIP.header = &v
	return nil
}

// RealIPProxyProtocol is the real_ip_header value that takes the client
// address from the connection's PROXY protocol header rather than from a
// field. nginx compares it case-sensitively: "Proxy_Protocol" names a
// request field.
const RealIPProxyProtocol = "proxy_protocol"

// mergeRealIP inherits the trusted addresses whole when a level has none
// of its own, and the other settings when unset, as nginx's realip module
// merges them.
func mergeRealIP(r *realIPRaw, p RealIP) RealIP {
	out := p
	if r.from != nil {
		out.From = r.from
	}
	out.Header = pick(r.header, p.Header)
	out.Recursive = pick(r.recursive, p.Recursive)
	return out
}

// Trusted reports whether a connection's address is one of From. An IPv4
// client reached over IPv6 is matched as IPv4; a client of a unix
// socket (the zero address) is trusted by "unix:" (the zero prefix).
func (ri *RealIP) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ri.From {
		if p.Contains(a) || !a.IsValid() && !p.IsValid() {
			return true
		}
	}
	return false
}
