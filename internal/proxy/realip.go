package proxy

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// clientAddr is the request's client address: the connection's, or the
// one realip took from a trusted proxy's field.
func (cc *clientConn) clientAddr() netip.AddrPort {
	if r := cc.r; r != nil && r.realSet {
		return r.realAddr
	}
	return cc.remote
}

// realIP applies set_real_ip_from and real_ip_header as nginx's realip
// module does in its post-read phase (with the server's settings) and,
// unless that changed the address, its preaccess phase (with the
// location's).
func (cc *clientConn) realIP(lc *conf.LocConf) {
	r := cc.r
	ri := &lc.RealIP
	if r.realSet || len(ri.From) == 0 {
		return
	}
	if ri.Header == conf.RealIPProxyProtocol {
		cc.realIPFromProxyHeader(ri)
		return
	}
	var values [][]byte
	if strings.EqualFold(ri.Header, "X-Forwarded-For") {
		// Every X-Forwarded-For field, the last first.
		hs := r.head.Headers
		for i := len(hs) - 1; i >= 0; i-- {
			if http1.EqualFold(hs[i].Name, "X-Forwarded-For") {
				values = append(values, hs[i].Value)
			}
		}
	} else if v := headerValue(r.head.Headers, ri.Header); v != nil {
		values = append(values, v)
	}
	if len(values) == 0 {
		return
	}
	if addr, found := walkForwarded(netip.AddrPortFrom(cc.remote.Addr(), cc.remote.Port()), values, ri); found {
		r.realAddr, r.realSet = addr, true
	}
}

// realIPFromProxyHeader takes the client address from the connection's
// PROXY protocol header when the connection comes from a trusted proxy,
// as nginx's realip module does with real_ip_header proxy_protocol: the
// header's source address, parsed as a forwarded one (an address that
// does not parse leaves the connection's), with the header's source
// port. A connection without a header that names addresses keeps its
// own.
func (cc *clientConn) realIPFromProxyHeader(ri *conf.RealIP) {
	h := cc.pp
	if h == nil {
		return
	}
	var one [1][]byte
	one[0] = h.srcAddr
	if addr, found := walkForwarded(cc.remote, one[:], ri); found {
		cc.r.realAddr, cc.r.realSet = netip.AddrPortFrom(addr.Addr(), h.srcPort), true
	}
}

// walkForwarded takes the client address from the values of a field
// (the last field line first) when addr is a trusted proxy, as nginx's
// ngx_http_get_forwarded_addr does; found reports that one was taken.
func walkForwarded(addr netip.AddrPort, values [][]byte, ri *conf.RealIP) (out netip.AddrPort, found bool) {
	for _, v := range values {
		a, ok, done := forwardedAddr(addr, v, ri)
		if ok {
			addr, found = a, true
		}
		if !ri.Recursive || done || !ok {
			break
		}
	}
	return addr, found
}

// forwardedAddr walks a field's addresses from the right as nginx's
// ngx_http_get_forwarded_addr does: while the address so far is a
// trusted proxy, the next one to its left becomes the client (only the
// rightmost one without real_ip_recursive). ok reports that one was
// taken; done that the walk stopped at an address that is not trusted
// (or unparsable), so that earlier fields are not looked at.
func forwardedAddr(addr netip.AddrPort, v []byte, ri *conf.RealIP) (out netip.AddrPort, ok, done bool) {
	out = addr
	for {
		if !ri.Trusted(out.Addr()) {
			return out, ok, ok
		}
		v = bytes.TrimRight(v, " ,")
		if len(v) == 0 {
			return out, ok, false
		}
		i := bytes.LastIndexAny(v, " ,")
		a, parsed := parseAddrPort(v[i+1:])
		if !parsed {
			return out, ok, ok
		}
		out, ok = a, true
		if !ri.Recursive {
			return out, true, true
		}
		if i < 0 {
			return out, true, false
		}
		v = v[:i]
	}
}

// parseAddrPort reads an address with an optional port, as nginx's
// ngx_parse_addr_port: "1.2.3.4", "1.2.3.4:80", "::1", "[::1]:80".
func parseAddrPort(s []byte) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(string(s)); err == nil {
		return ap, true
	}
	str := string(s)
	if len(str) > 1 && str[0] == '[' && str[len(str)-1] == ']' {
		str = str[1 : len(str)-1]
	}
	a, err := netip.ParseAddr(str)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, 0), true
}

// appendRealIPPort appends $realip_remote_port: the connection's own port.
func (cc *clientConn) appendRealIPPort(b []byte) []byte {
	return appendPort(b, cc.remote)
}

// appendAddr appends a client's address as nginx writes it: "unix:" for a
// client of a unix socket (the zero address).
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, "unix:"...)
	}
	return a.AppendTo(b)
}

// appendPort appends an address's port; a unix socket has none, which
// nginx writes as nothing.
func appendPort(b []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() {
		return b
	}
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// appendServerAddr appends the address the client connected to as
// $server_addr has it: "unix:path" for a unix socket.
func (cc *clientConn) appendServerAddr(b []byte) []byte {
	if cc.ln.unixPath != "" {
		return append(append(b, "unix:"...), cc.ln.unixPath...)
	}
	return cc.localAddrPort().Addr().AppendTo(b)
}

// localAddrPort returns the address and port the client connected to:
// its listener's, or where that is a wildcard address the socket's own,
// asked of the system once per connection (as nginx does) and only when
// something needs it.
func (cc *clientConn) localAddrPort() netip.AddrPort {
	ln := cc.ln
	if ln.unixPath != "" || !ln.addrPort.Addr().IsUnspecified() {
		return ln.addrPort
	}
	if !cc.local.IsValid() {
		switch {
		case cc.h2 != nil:
			cc.local = cc.h2.hc.cc.localAddrPort()
		case cc.c != nil && cc.c.Fd >= 0:
			cc.local = localAddr(cc.c.Fd)
		}
		if !cc.local.IsValid() {
			return ln.addrPort
		}
	}
	return cc.local
}
