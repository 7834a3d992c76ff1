package proxy

import (
	"headroom/internal/conf"
	"headroom/internal/upstream"
)

// balanceKey returns what the request's upstream balancing method chooses
// by: the client's address for ip_hash, the evaluated key for hash (into
// a buffer of its own, since the balancer keeps it for the request's
// later tries). Other methods need nothing, so nothing is computed.
func (cc *clientConn) balanceKey() upstream.Key {
	u := cc.r.group.Conf
	switch u.Balance {
	case conf.BalanceIPHash:
		return upstream.Key{Addr: cc.clientAddr().Addr()}
	case conf.BalanceHash:
		return upstream.Key{Value: cc.eval(nil, u.HashKey)}
	}
	return upstream.Key{}
}
