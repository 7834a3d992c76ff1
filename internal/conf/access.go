package conf

import (
	"net/netip"
	"strings"
)

// AccessRule is one allow or deny directive: nginx's access module.
type AccessRule struct {
	// Deny is true for "deny", false for "allow".
	Deny bool
	// All matches every client; Unix ("unix:") every client of a unix
	// socket; otherwise Prefix does.
	All    bool
	Unix   bool
	Prefix netip.Prefix
}

// Matches reports whether the rule applies to a client address, the zero
// address for a client of a unix socket. An IPv4 client reached over
// IPv6 (::ffff:a.b.c.d) is matched against the IPv4 rules only, as nginx
// does.
func (r AccessRule) Matches(a netip.Addr) bool {
	if r.All {
		return true
	}
	if !a.IsValid() {
		return r.Unix
	}
	return r.Prefix.Contains(a.Unmap())
}

// accessDirectives declares nginx's access module.
func accessDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "allow", ctx: hsl | ctxLimitExcept, args: arg1, set: setAccess(false),
			syntax: "allow address | CIDR | unix: | all;",
			doc:    "Allows access from an address or network; rules are checked in order and the first that matches decides. Inherited only by levels with no rule of their own."},
		{name: "deny", ctx: hsl | ctxLimitExcept, args: arg1, set: setAccess(true),
			syntax: "deny address | CIDR | unix: | all;",
			doc:    "Denies access (403, logged as \"access forbidden by rule\") from an address or network; rules are checked in order and the first that matches decides."},
	}
}

func setAccess(deny bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		v := n.Args[0]
		rule := AccessRule{Deny: deny}
		switch {
		case v == "all":
			rule.All = true
		case v == "unix:":
			rule.Unix = true
		default:
			p, exact, ok := parseCIDR(v)
			if !ok {
				return errAt(n, "invalid parameter \"%s\"", v)
			}
			if !exact {
				b.warn(errAt(n, "low address bits of %s are meaningless", v))
			}
			rule.Prefix = p
		}
		sc.raw.access = append(sc.raw.access, rule)
		sc.raw.accessSet = true
		return nil
	}
}

// parseCIDR reads an address or address/bits as nginx's ngx_ptocidr does:
// an address alone is a host; bits beyond the prefix are dropped, and
// exact reports whether there were none.
func parseCIDR(s string) (p netip.Prefix, exact, ok bool) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true, true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false, false
	}
	m := p.Masked()
	return m, m == p, true
}
