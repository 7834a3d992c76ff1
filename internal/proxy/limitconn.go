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
	// zeroed are the keys of a synced zone whose count fell to none
	// since the counts were last written to the store.
	zeroed map[string]struct{}
	// rejected counts the requests refused, for metrics; for a synced
	// zone, storeDecided, syncErrors and fallbacks count its checks as a
	// reqZone's do.
	rejected                            atomic.Uint64
	storeDecided, syncErrors, fallbacks atomic.Uint64
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
		if z.conf.Sync {
			if z.zeroed == nil {
				z.zeroed = map[string]struct{}{}
			}
			z.zeroed[key] = struct{}{}
		}
	}
}

// hold counts a request for key that the zone_sync store admitted: the
// local count of a synced zone is this instance's share of the fleet's,
// which the instance rewrites to the store and falls back to. It reports
// false when the zone has no room for a new key.
func (z *connZone) hold(key string) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	n, known := z.counts[key]
	if !known && len(z.counts) >= z.maxKeys {
		return false
	}
	z.counts[key] = n + 1
	return true
}

// connHold is one counted request in a zone; synced is set when the
// zone_sync store counts it too.
type connHold struct {
	zone   *connZone
	key    string
	synced bool
}

// limitConns applies the location's limit_conn limits, as nginx's
// preaccess phase does (after "return", before proxying), then serves
// the request unless a limit answered it or it waits for the store.
func (cc *clientConn) limitConns() {
	if outcome := cc.limitConnsFrom(0); outcome == limitPass || outcome == limitStop {
		cc.serveContent()
	}
}

// resumeLimitConns goes on with the limits once the store decided the one
// the request waited for (synced: the store counts the request when ok)
// or its fallback did (which counted it here when ok, and reports a full
// zone).
func (cc *clientConn) resumeLimitConns(ok, synced, full bool) {
	r := cc.r
	l := &r.lc.LimitConns[r.limitIdx]
	z := cc.w.srv.connZones[l.Zone]
	key := r.syncKey
	r.syncKey = ""
	outcome := limitPass
	if ok && synced && !z.hold(key) {
		// Admitted by the store but with no room in this instance's
		// table: give the store's count back and refuse, as a full
		// zone does.
		cc.w.sync.releaseConn(z, key)
		ok, synced, full = false, false, true
	}
	if full {
		cc.logAt(logs.Alert, "could not allocate node in limit_conn zone \""+l.Zone.Name+"\"")
	}
	if ok {
		r.connHolds = append(r.connHolds, connHold{zone: z, key: key, synced: synced})
	} else {
		outcome = cc.limitConnRefused(l, z)
	}
	if outcome == limitPass {
		outcome = cc.limitConnsFrom(r.limitIdx + 1)
	}
	if outcome == limitPass || outcome == limitStop {
		cc.serveContent()
	}
}

// limitConnsFrom applies the limits from the i-th on.
func (cc *clientConn) limitConnsFrom(i int) limitOutcome {
	r := cc.r
	lc := r.lc
	for ; i < len(lc.LimitConns); i++ {
		l := &lc.LimitConns[i]
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
		r.limitConnStatus = "PASSED"
		skey := string(key)
		var ok, full bool
		if s := cc.w.sync; l.Zone.Sync && s != nil {
			if s.acquireConn(cc, z, skey, l.Max) {
				r.limitIdx = i
				cc.setPhase(phaseSync)
				cc.c.StopTimer()
				return limitWaiting
			}
			ok, full = cc.fallbackAcquire(z, skey, l.Max)
			z.fallbacks.Add(1)
		} else {
			ok, full = z.acquire(skey, l.Max)
		}
		if ok {
			r.connHolds = append(r.connHolds, connHold{zone: z, key: skey})
			continue
		}
		if full {
			cc.logAt(logs.Alert, "could not allocate node in limit_conn zone \""+l.Zone.Name+"\"")
		}
		if outcome := cc.limitConnRefused(l, z); outcome != limitPass {
			return outcome
		}
	}
	return limitPass
}

// limitConnRefused handles a request over a limit: logged and, unless in
// dry run, answered with limit_conn_status.
func (cc *clientConn) limitConnRefused(l *conf.LimitConn, z *connZone) limitOutcome {
	r := cc.r
	lc := r.lc
	level := logs.ParseLevel(lc.LimitConnLogLevel)
	if lc.LimitConnDryRun {
		cc.logAt(level, "limiting connections, dry run, by zone \""+l.Zone.Name+"\"")
		r.limitConnStatus = "REJECTED_DRY_RUN"
		return limitStop
	}
	cc.logAt(level, "limiting connections by zone \""+l.Zone.Name+"\"")
	r.limitConnStatus = "REJECTED"
	z.rejected.Add(1)
	cc.releaseLimits()
	cc.respondError(lc.LimitConnStatus)
	return limitAnswered
}

// releaseLimits ends the request's counts in limit_conn zones, in the
// store too for synced ones.
func (cc *clientConn) releaseLimits() {
	r := cc.r
	for i, h := range r.connHolds {
		h.zone.release(h.key)
		if h.synced && cc.w.sync != nil {
			cc.w.sync.releaseConn(h.zone, h.key)
		}
		r.connHolds[i] = connHold{}
	}
	r.connHolds = r.connHolds[:0]
}
