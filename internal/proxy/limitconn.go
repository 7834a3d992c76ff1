package proxy

import (
	"sync"
	"sync/atomic"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// connZone is a limit_conn_zone: requests in progress per key, shared by
// all workers. Its table is bounded as nginx's shared memory zone is: a
// zone of S bytes holds about S/128 keys (nginx's node for an IPv4 key
// takes about that much); when it is full, a request with a new key is
// refused as if over the limit.
type connZone struct {
	conf    *conf.LimitConnZone
	mu      sync.Mutex
	counts  map[string]int32
	maxKeys int
	// rejected counts the requests refused, for metrics.
	rejected atomic.Uint64
}

func newConnZone(z *conf.LimitConnZone) *connZone {
	return &connZone{conf: z, counts: map[string]int32{}, maxKeys: int(max(z.Size/128, 1))}
}

// acquire counts a request for key unless the key has limit requests in
// progress already, or the zone has no room for a new key (full).
func (z *connZone) acquire(key string, limit int) (ok, full bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	n, known := z.counts[key]
	if !known && len(z.counts) >= z.maxKeys {
		return false, true
	}
	if int(n) >= limit {
		return false, false
	}
	z.counts[key] = n + 1
	return true, false
}

// release ends a counted request; keys without requests leave the table.
func (z *connZone) release(key string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if n := z.counts[key] - 1; n > 0 {
		z.counts[key] = n
	} else {
		delete(z.counts, key)
	}
}

// connHold is one counted request in a zone.
type connHold struct {
	zone *connZone
	key  string
}

// limitConns applies the location's limit_conn limits, as nginx's
// preaccess phase does (after "return", before proxying). It returns
// false when the request was answered with limit_conn_status.
func (cc *clientConn) limitConns() bool {
	r := cc.r
	lc := r.lc
	for _, l := range lc.LimitConns {
		key := cc.eval(nil, l.Zone.Key)
		if len(key) == 0 {
			// Requests without a key are not counted, as in nginx.
			continue
		}
		if len(key) > 255 {
			cc.logAt(logs.Error, "the value of the \""+l.Zone.Key.Source+"\" key is more than 255 bytes: \""+string(key)+"\"")
			continue
		}
		z := cc.w.srv.connZones[l.Zone]
		ok, full := z.acquire(string(key), l.Max)
		r.limitConnStatus = "PASSED"
		if ok {
			r.connHolds = append(r.connHolds, connHold{zone: z, key: string(key)})
			continue
		}
		level := logs.ParseLevel(lc.LimitConnLogLevel)
		if full {
			cc.logAt(logs.Alert, "could not allocate node in limit_conn zone \""+l.Zone.Name+"\"")
		}
		if lc.LimitConnDryRun {
			cc.logAt(level, "limiting connections, dry run, by zone \""+l.Zone.Name+"\"")
			r.limitConnStatus = "REJECTED_DRY_RUN"
			return true
		}
		cc.logAt(level, "limiting connections by zone \""+l.Zone.Name+"\"")
		r.limitConnStatus = "REJECTED"
		z.rejected.Add(1)
		cc.releaseLimits()
		cc.respondError(lc.LimitConnStatus)
		return false
	}
	return true
}

// releaseLimits ends the request's counts in limit_conn zones.
func (cc *clientConn) releaseLimits() {
	r := cc.r
	for i, h := range r.connHolds {
		h.zone.release(h.key)
		r.connHolds[i] = connHold{}
	}
	r.connHolds = r.connHolds[:0]
}
