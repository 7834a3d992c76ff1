package conf

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"headroom/internal/vars"
)

// Geo is a geo block: the value of its variable is chosen by a client
// address, as nginx's geo module chooses it. The address is the client's
// (after realip), or the value of Address; with Proxies, a request from
// one of them takes the address from X-Forwarded-For instead.
//
// Without ranges the networks are matched longest prefix first, IPv4 and
// IPv6 apart (an IPv4-mapped IPv6 address is matched as IPv4); "default"
// is 0.0.0.0/0 and ::/0. With ranges, IPv4 ranges are kept per /16 as
// nginx keeps them, and an address that is not IPv4 is looked up as
// 255.255.255.255.
type Geo struct {
	// Address is the variable the address is read from; nil means the
	// client address.
	Address *vars.Template
	Ranges  bool
	// Proxies are the trusted addresses of the proxy lines, with
	// proxy_recursive; nil without proxy lines.
	Proxies *RealIP

	// V4 and V6 map each network of the CIDR form to its value, by
	// prefix length; lens4 and lens6 list the lengths in use, longest
	// first.
	V4    [33]map[uint32]string
	V6    [129]map[[16]byte]string
	lens4 []int
	lens6 []int

	// High maps the upper 16 bits of an IPv4 address to the ranges of
	// the ranges form within that /16, in order; Default is the value
	// when none matches.
	High    map[uint16][]GeoRange
	Default string
}

// GeoRange is a range of the low 16 bits of IPv4 addresses within one
// /16, with its value.
type GeoRange struct {
	Start, End uint16
	Value      string
}

func geoDirectives() []*directive {
	return []*directive{
		{name: "geo", ctx: ctxHTTP, args: take12, block: true, set: setGeo,
			syntax: "geo [$address] $variable { ... }",
			doc:    "Defines a variable whose value depends on the client address (or on the address in the given variable): networks in CIDR form matched longest prefix first, or with ranges IPv4 ranges; default, delete, include, proxy (with proxy_recursive) to take the address from X-Forwarded-For when the request comes from a trusted proxy. The value is computed when the variable is first read. Binary range bases (file.bin) are not read by headroom."},
	}
}

// geoBuild is what a geo block's lines have set so far.
type geoBuild struct {
	g *Geo
	// cidr is set once a line of the CIDR form was read, after which
	// "ranges" is refused.
	cidr       bool
	hasDefault bool
	proxies    []netip.Prefix
	recursive  bool
}

func setGeo(b *builder, n *Node, _ *scope) error {
	name := n.Args[0]
	if !strings.HasPrefix(name, "$") {
		return errAt(n, "invalid variable name \"%s\"", name)
	}
	g := &Geo{}
	if len(n.Args) == 2 {
		t, err := b.template(n, name)
		if err != nil {
			return err
		}
		g.Address = t
		name = n.Args[1]
		if !strings.HasPrefix(name, "$") {
			return errAt(n, "invalid variable name \"%s\"", name)
		}
	}
	name = name[1:]
	if idx, suffix := vars.Lookup(name); idx != vars.Unknown && suffix == "" {
		return errAt(n, "the duplicate \"%s\" variable", name)
	}
	gb := &geoBuild{g: g}
	for _, e := range n.Block {
		if e.err != nil {
			return e.err
		}
		if e.IsBlock {
			return errAt(e, "unexpected \"{\"")
		}
		if err := b.geoEntry(gb, e); err != nil {
			return err
		}
	}
	if gb.proxies != nil {
		g.Proxies = &RealIP{From: gb.proxies, Recursive: gb.recursive}
	}
	if !g.Ranges {
		if g.V4[0] == nil || !hasKey(g.V4[0], 0) {
			g.addV4(0, 0, "")
		}
		if g.V6[0] == nil || !hasKey(g.V6[0], [16]byte{}) {
			g.addV6([16]byte{}, 0, "")
		}
		g.sortLens()
	} else {
		for h, rs := range g.High {
			if len(rs) == 0 {
				delete(g.High, h)
			}
		}
	}
	slot := b.declareVar(name, false)
	v := &b.variables[slot]
	*v = Variable{Name: v.Name, Set: v.Set, Geo: g}
	return nil
}

func hasKey[K comparable](m map[K]string, k K) bool {
	_, ok := m[k]
	return ok
}

// geoEntry reads one line of a geo block, with nginx's messages.
func (b *builder) geoEntry(gb *geoBuild, e *Node) error {
	g := gb.g
	if len(e.Args) == 0 {
		switch e.Name {
		case "ranges":
			if gb.cidr {
				return errAt(e, "the \"ranges\" directive must be the first directive inside \"geo\" block")
			}
			g.Ranges = true
			return nil
		case "proxy_recursive":
			gb.recursive = true
			return nil
		}
	}
	if len(e.Args) != 1 {
		return errAt(e, "invalid number of the geo parameters")
	}
	if e.Name == "proxy" {
		p, err := b.geoNet(e, e.Args[0])
		if err != nil {
			return err
		}
		gb.proxies = append(gb.proxies, p)
		return nil
	}
	if g.Ranges {
		return b.geoRange(gb, e)
	}
	return b.geoCIDR(gb, e)
}

// geoNet reads a network as nginx's geo module does: "255.255.255.255"
// (which nginx's address parser cannot tell from an error), an address,
// or an address with a prefix length; low bits past the prefix are
// cleared with a warning.
func (b *builder) geoNet(e *Node, s string) (netip.Prefix, error) {
	if s == "255.255.255.255" {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 32), nil
	}
	p, exact, ok := parseNgxCIDR(s)
	if !ok {
		return netip.Prefix{}, errAt(e, "invalid network \"%s\"", s)
	}
	if !exact {
		b.warn(errAt(e, "low address bits of %s are meaningless", s))
	}
	return p, nil
}

func (b *builder) geoCIDR(gb *geoBuild, e *Node) error {
	g := gb.g
	gb.cidr = true
	if e.Name == "default" {
		b.geoAddCIDR(g, e, netip.PrefixFrom(netip.IPv4Unspecified(), 0), e.Name, e.Args[0])
		b.geoAddCIDR(g, e, netip.PrefixFrom(netip.IPv6Unspecified(), 0), e.Name, e.Args[0])
		return nil
	}
	net, del := e.Name, false
	if e.Name == "delete" {
		net, del = e.Args[0], true
	}
	p, err := b.geoNet(e, net)
	if err != nil {
		return err
	}
	if del {
		if !g.deleteCIDR(p) {
			b.warn(errAt(e, "no network \"%s\" to delete", net))
		}
		return nil
	}
	b.geoAddCIDR(g, e, p, net, e.Args[0])
	return nil
}

// geoAddCIDR adds a network; one that is there already gets the new
// value, with nginx's warning.
func (b *builder) geoAddCIDR(g *Geo, e *Node, p netip.Prefix, net, value string) {
	var old string
	var dup bool
	if p.Addr().Is4() {
		a := p.Addr().As4()
		old, dup = g.V4[p.Bits()][be32(a)]
		g.addV4(be32(a), p.Bits(), value)
	} else {
		a := p.Addr().As16()
		old, dup = g.V6[p.Bits()][a]
		g.addV6(a, p.Bits(), value)
	}
	if dup {
		b.warn(errAt(e, "duplicate network \"%s\", value: \"%s\", old value: \"%s\"", net, value, old))
	}
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

func (g *Geo) addV4(a uint32, bits int, value string) {
	if g.V4[bits] == nil {
		g.V4[bits] = map[uint32]string{}
	}
	g.V4[bits][a] = value
}

func (g *Geo) addV6(a [16]byte, bits int, value string) {
	if g.V6[bits] == nil {
		g.V6[bits] = map[[16]byte]string{}
	}
	g.V6[bits][a] = value
}

func (g *Geo) deleteCIDR(p netip.Prefix) bool {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		m := g.V4[p.Bits()]
		if !hasKey(m, be32(a)) {
			return false
		}
		delete(m, be32(a))
		return true
	}
	a := p.Addr().As16()
	m := g.V6[p.Bits()]
	if !hasKey(m, a) {
		return false
	}
	delete(m, a)
	return true
}

func (g *Geo) sortLens() {
	g.lens4, g.lens6 = nil, nil
	for l := 32; l >= 0; l-- {
		if len(g.V4[l]) > 0 {
			g.lens4 = append(g.lens4, l)
		}
	}
	for l := 128; l >= 0; l-- {
		if len(g.V6[l]) > 0 {
			g.lens6 = append(g.lens6, l)
		}
	}
}

// geoRange reads a line of the ranges form.
func (b *builder) geoRange(gb *geoBuild, e *Node) error {
	g := gb.g
	if e.Name == "default" {
		if gb.hasDefault {
			b.warn(errAt(e, "duplicate default geo range value: \"%s\", old value: \"%s\"", e.Args[0], g.Default))
		}
		g.Default, gb.hasDefault = e.Args[0], true
		return nil
	}
	if g.High == nil {
		g.High = map[uint16][]GeoRange{}
	}
	net, del := e.Name, false
	if e.Name == "delete" {
		net, del = e.Args[0], true
	}
	from, to, found := strings.Cut(net, "-")
	start, ok1 := inetAddr(from)
	end, ok2 := inetAddr(to)
	if !found || !ok1 || !ok2 || start > end {
		return errAt(e, "invalid range \"%s\"", net)
	}
	if del {
		if !g.deleteRange(start, end) {
			b.warn(errAt(e, "no address range \"%s\" to delete", net))
		}
		return nil
	}
	return g.addRange(b, e, net, start, end, e.Args[0])
}

// addRange adds a range as nginx's ngx_http_geo_add_range does, one /16
// at a time: a range inside one there splits it, one that shares its
// start or end shortens it, the same range replaces its value with a
// warning, and any other overlap is an error.
func (g *Geo) addRange(b *builder, e *Node, net string, start, end uint32, value string) error {
	for n := uint64(start); n <= uint64(end); n = (n + 0x10000) &^ 0xffff {
		h := uint16(n >> 16)
		s := uint32(0)
		if n == uint64(start) {
			s = uint32(n) & 0xffff
		}
		e16 := uint32(0xffff)
		if uint32(n)|0xffff > end {
			e16 = end & 0xffff
		}
		rs := g.High[h]
		added := false
		for i := len(rs) - 1; i >= 0 && !added; i-- {
			r := rs[i]
			rs0, re0 := uint32(r.Start), uint32(r.End)
			switch {
			case e16 < rs0:
				continue
			case s > re0:
				rs = insertRange(rs, i+1, GeoRange{uint16(s), uint16(e16), value})
			case s == rs0 && e16 == re0:
				b.warn(errAt(e, "duplicate range \"%s\", value: \"%s\", old value: \"%s\"", net, value, r.Value))
				rs[i].Value = value
			case s > rs0 && e16 < re0:
				rs = insertRange(rs, i+1, GeoRange{uint16(s), uint16(e16), value}, GeoRange{uint16(e16 + 1), r.End, r.Value})
				rs[i].End = uint16(s - 1)
			case s == rs0 && e16 < re0:
				rs = insertRange(rs, i, GeoRange{uint16(s), uint16(e16), value})
				rs[i+1].Start = uint16(e16 + 1)
			case s > rs0 && e16 == re0:
				rs = insertRange(rs, i+1, GeoRange{uint16(s), uint16(e16), value})
				rs[i].End = uint16(s - 1)
			default:
				return errAt(e, "range \"%s\" overlaps \"%s\"", net, fmt.Sprintf("%d.%d.%d.%d-%d.%d.%d.%d",
					h>>8, h&0xff, rs0>>8, rs0&0xff, h>>8, h&0xff, re0>>8, re0&0xff))
			}
			added = true
		}
		if !added {
			rs = insertRange(rs, 0, GeoRange{uint16(s), uint16(e16), value})
		}
		g.High[h] = rs
	}
	return nil
}

func insertRange(rs []GeoRange, i int, add ...GeoRange) []GeoRange {
	out := make([]GeoRange, 0, len(rs)+len(add))
	out = append(out, rs[:i]...)
	out = append(out, add...)
	return append(out, rs[i:]...)
}

// deleteRange removes, in each /16 the range covers, the range with
// exactly that part's bounds; it reports false when one of them is
// missing, as nginx warns then.
func (g *Geo) deleteRange(start, end uint32) bool {
	ok := true
	for n := uint64(start); n <= uint64(end); n = (n + 0x10000) &^ 0xffff {
		h := uint16(n >> 16)
		s := uint32(0)
		if n == uint64(start) {
			s = uint32(n) & 0xffff
		}
		e16 := uint32(0xffff)
		if uint32(n)|0xffff > end {
			e16 = end & 0xffff
		}
		rs := g.High[h]
		found := false
		for i, r := range rs {
			if uint32(r.Start) == s && uint32(r.End) == e16 {
				g.High[h] = append(rs[:i:i], rs[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			ok = false
		}
	}
	return ok
}

// Lookup returns the value for an address; a zero Addr (no address, or
// one that did not parse) is looked up as 255.255.255.255, as nginx
// looks up INADDR_NONE.
func (g *Geo) Lookup(a netip.Addr) string {
	a = a.Unmap()
	if g.Ranges {
		v := uint32(0xffffffff)
		if a.Is4() {
			v = be32(a.As4())
		}
		for _, r := range g.High[uint16(v>>16)] {
			if low := uint16(v); low >= r.Start && low <= r.End {
				return r.Value
			}
		}
		return g.Default
	}
	if !a.Is6() {
		v := uint32(0xffffffff)
		if a.Is4() {
			v = be32(a.As4())
		}
		for _, l := range g.lens4 {
			mask := uint32(0)
			if l > 0 {
				mask = ^uint32(0) << (32 - l)
			}
			if val, ok := g.V4[l][v&mask]; ok {
				return val
			}
		}
		return ""
	}
	full := a.As16()
	for _, l := range g.lens6 {
		var k [16]byte
		for i := 0; i < 16; i++ {
			switch bits := l - 8*i; {
			case bits >= 8:
				k[i] = full[i]
			case bits > 0:
				k[i] = full[i] & byte(0xff<<(8-bits))
			}
		}
		if val, ok := g.V6[l][k]; ok {
			return val
		}
	}
	return ""
}

// dumpLines lists the networks or ranges for Dump, sorted.
func (g *Geo) dumpLines() []string {
	var out []string
	if g.Ranges {
		for h, rs := range g.High {
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%d.%d.%d.%d-%d.%d.%d.%d=%q", h>>8, h&0xff, r.Start>>8, r.Start&0xff, h>>8, h&0xff, r.End>>8, r.End&0xff, r.Value))
			}
		}
	} else {
		for l, m := range g.V4 {
			for a, v := range m {
				out = append(out, fmt.Sprintf("%s/%d=%q", netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), l, v))
			}
		}
		for l, m := range g.V6 {
			for a, v := range m {
				out = append(out, fmt.Sprintf("%s/%d=%q", netip.AddrFrom16(a), l, v))
			}
		}
	}
	sort.Strings(out)
	return out
}

// inetAddr reads a dotted IPv4 address as nginx's ngx_inet_addr does:
// four decimal parts of at most 255 (an empty part is 0, leading zeros
// are allowed); "255.255.255.255" is refused, since nginx cannot tell it
// from its error value.
func inetAddr(s string) (uint32, bool) {
	var addr, octet uint32
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			octet = octet*10 + uint32(c-'0')
			if octet > 255 {
				return 0, false
			}
		case c == '.':
			addr = addr<<8 + octet
			octet = 0
			dots++
		default:
			return 0, false
		}
	}
	if dots != 3 {
		return 0, false
	}
	addr = addr<<8 + octet
	if addr == 0xffffffff {
		return 0, false
	}
	return addr, true
}

// ParseAddr reads an address as nginx's ngx_parse_addr does: IPv4 as
// ngx_inet_addr reads it, else IPv6 (without a zone or brackets).
func ParseAddr(s string) (netip.Addr, bool) {
	if v, ok := inetAddr(s); ok {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
	}
	if !strings.Contains(s, ":") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// parseNgxCIDR reads "address[/bits]" as nginx's ngx_ptocidr does; exact
// is false when the address has bits set past the prefix, which are
// cleared.
func parseNgxCIDR(s string) (p netip.Prefix, exact, ok bool) {
	addrText, bitsText, hasBits := strings.Cut(s, "/")
	a, ok := ParseAddr(addrText)
	if !ok {
		return netip.Prefix{}, false, false
	}
	if !hasBits {
		return netip.PrefixFrom(a, a.BitLen()), true, true
	}
	bits, ok := atoi(bitsText)
	if !ok || bits > a.BitLen() {
		return netip.Prefix{}, false, false
	}
	p = netip.PrefixFrom(a, bits)
	m := p.Masked()
	return m, m == p, true
}
