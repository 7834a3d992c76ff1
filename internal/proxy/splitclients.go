package proxy

import "headroom/internal/conf"

// splitClientsVar appends a split_clients variable's value for the
// request: the part that the MurmurHash2 of the source string falls in,
// as nginx's split_clients module picks it. The value is kept for the
// rest of the request.
func (cc *clientConn) splitClientsVar(b []byte, slot int, sc *conf.SplitClients) ([]byte, bool) {
	s := &cc.r.script
	if s.mapDepth >= maxMapDepth {
		// A split_clients whose string reads its own variable, directly
		// or through others.
		cc.logError("cycle while evaluating the split_clients variable \"" + cc.w.srv.cfg.HTTP.Variables[slot].Name + "\"")
		return b, false
	}
	s.mapDepth++
	src := cc.eval(nil, sc.Source)
	s.mapDepth--
	v, _ := sc.Pick(conf.MurmurHash2(src))
	b = append(b, v...)
	cc.keepVar(slot, v)
	return b, true
}

// keepVar remembers a computed variable's value for the rest of the
// request.
func (cc *clientConn) keepVar(slot int, v string) {
	s := &cc.r.script
	if slot < len(s.vals) {
		s.vals[slot] = append(s.vals[slot][:0], v...)
		s.set[slot] = true
	}
}
