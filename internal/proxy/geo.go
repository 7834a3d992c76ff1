package proxy

import (
	"net/netip"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// geoVar appends a geo variable's value for the request, as nginx's geo
// module computes it: the address is the client's (or the one in the
// geo's variable), replaced by the one X-Forwarded-For gives when the
// request comes from one of the geo's proxies. The value is kept for the
// rest of the request.
func (cc *clientConn) geoVar(b []byte, slot int, g *conf.Geo) ([]byte, bool) {
	s := &cc.r.script
	if s.mapDepth >= maxMapDepth {
		cc.logError("cycle while evaluating the geo variable \"" + cc.w.srv.cfg.HTTP.Variables[slot].Name + "\"")
		return b, false
	}
	var addr netip.Addr
	ok := true
	if g.Address == nil {
		addr = cc.clientAddr().Addr()
		if !addr.IsValid() {
			// A unix-socket client is looked up as nginx's
			// INADDR_NONE.
			addr = netip.AddrFrom4([4]byte{255, 255, 255, 255})
		}
	} else {
		s.mapDepth++
		v := cc.eval(nil, g.Address)
		s.mapDepth--
		addr, ok = conf.ParseAddr(string(v))
	}
	if ok && g.Proxies != nil {
		var values [][]byte
		hs := cc.r.head.Headers
		for i := len(hs) - 1; i >= 0; i-- {
			if http1.EqualFold(hs[i].Name, "X-Forwarded-For") {
				values = append(values, hs[i].Value)
			}
		}
		if len(values) > 0 {
			if a, found := walkForwarded(netip.AddrPortFrom(addr, 0), values, g.Proxies); found {
				addr = a.Addr()
			}
		}
	}
	if !ok {
		addr = netip.Addr{}
	}
	v := g.Lookup(addr)
	b = append(b, v...)
	cc.keepVar(slot, v)
	return b, true
}
