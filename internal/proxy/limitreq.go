package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// reqZone is a limit_req_zone: nginx's leaky bucket per key, shared by all
// workers. For each key it keeps the excess (in thousandths of a request)
// and when it was last updated; the excess drains at the zone's rate and
// grows by one per accepted request.
type reqZone struct {
	conf *conf.LimitReqZone
	// rate is in thousandths of a request per second.
	rate    int64
	mu      sync.Mutex
	states  map[string]reqState
	maxKeys int
	// rejected and delayed count requests refused and held back, for
	// metrics; for a synced zone, storeDecided counts checks the store
	// decided, syncErrors the errors it answered, fallbacks the checks
	// decided without it and cachedRefusals the refusals answered from
	// the refusal cache.
	rejected, delayed                                   atomic.Uint64
	storeDecided, syncErrors, fallbacks, cachedRefusals atomic.Uint64
}

type reqState struct {
	excess int64 // thousandths of a request
	last   int64 // milliseconds
}

func newReqZone(z *conf.LimitReqZone) *reqZone {
	return &reqZone{conf: z, rate: int64(z.RatePerMinute) * 1000 / 60, states: map[string]reqState{}, maxKeys: int(max(z.Size/128, 1))}
}

// account applies a request for key at time now (ms). It returns the
// excess with this request and whether it is within burst.
func (z *reqZone) account(key string, now int64, burst int) (excess int64, ok bool) {
	return z.accountRate(key, now, z.rate, int64(burst)*1000)
}

// accountRate is account at a given rate and burst, both in thousandths:
// a synced zone's fallback enforces a share of the zone's.
func (z *reqZone) accountRate(key string, now, rate, burst int64) (excess int64, ok bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	s, known := z.states[key]
	if !known {
		if len(z.states) >= z.maxKeys {
			z.expire(now)
		}
		z.states[key] = reqState{last: now}
		return 0, true
	}
	ms := now - s.last
	if ms < 0 {
		ms = -ms
	}
	excess = s.excess - rate*ms/1000 + 1000
	if excess < 0 {
		excess = 0
	}
	if excess > burst {
		return excess, false
	}
	z.states[key] = reqState{excess: excess, last: now}
	return excess, true
}

// expire makes room in a full zone as nginx does: keys whose excess has
// drained away are dropped (their state is the same as a new key's), and
// when there is none, the key used least recently is dropped whatever its
// state, so that a new client is always accounted — nginx forgets its
// oldest node in the same case rather than refusing the request.
func (z *reqZone) expire(now int64) {
	oldest, oldestAt := "", int64(0)
	made := false
	for k, s := range z.states {
		if s.excess-z.rate*(now-s.last)/1000 <= 0 {
			delete(z.states, k)
			made = true
			continue
		}
		if oldest == "" || s.last < oldestAt {
			oldest, oldestAt = k, s.last
		}
	}
	if !made && oldest != "" {
		delete(z.states, oldest)
	}
}

// excessText formats an excess as nginx logs it: "1.500".
func excessText(e int64) string {
	frac := strconv.FormatInt(e%1000, 10)
	for len(frac) < 3 {
		frac = "0" + frac
	}
	return strconv.FormatInt(e/1000, 10) + "." + frac
}

// limitOutcome is what limit_req made of a request.
type limitOutcome uint8

const (
	// limitPass: the request goes on, perhaps after a delay.
	limitPass limitOutcome = iota
	// limitStop: the request goes on at once without the later limits
	// (a dry run's refusal).
	limitStop
	// limitAnswered: the request was refused with limit_req_status.
	limitAnswered
	// limitWaiting: the request waits in phaseSync for the zone_sync
	// store's answer; resumeLimitReqs goes on from there.
	limitWaiting
)

// limitReqs applies the location's limit_req limits, in nginx's preaccess
// phase, then holds the request back for the longest delay they ask or
// serves it, unless a limit refused it or it waits for the store.
func (cc *clientConn) limitReqs() {
	cc.afterLimitReqs(cc.limitReqsFrom(0, 0))
}

// resumeLimitReqs goes on with the limits once the store (or its
// fallback) decided the one the request waited for.
func (cc *clientConn) resumeLimitReqs(excess int64, within bool) {
	r := cc.r
	l := &r.lc.LimitReqs[r.limitIdx]
	delay, outcome := cc.limitReqResult(l, cc.w.srv.reqZones[l.Zone], excess, within, r.limitDelay)
	if outcome == limitPass {
		delay, outcome = cc.limitReqsFrom(r.limitIdx+1, delay)
	}
	cc.afterLimitReqs(delay, outcome)
}

// afterLimitReqs serves a request that passed its limits, at once or
// once its delay is over.
func (cc *clientConn) afterLimitReqs(delay time.Duration, outcome limitOutcome) {
	switch {
	case outcome == limitStop:
		cc.serve()
	case outcome != limitPass:
	case delay > 0:
		// limit_req holds the request back; it goes on when the
		// timer fires (see requestTimer).
		cc.setPhase(phaseDelayed)
		cc.c.SetTimer(delay)
	default:
		cc.serve()
	}
}

// limitReqsFrom applies the limits from the i-th on, with the delay the
// earlier ones asked for.
func (cc *clientConn) limitReqsFrom(i int, delay time.Duration) (time.Duration, limitOutcome) {
	r := cc.r
	lc := r.lc
	for ; i < len(lc.LimitReqs); i++ {
		l := &lc.LimitReqs[i]
		key := cc.eval(nil, l.Zone.Key)
		if len(key) == 0 {
			continue
		}
		if len(key) > 65535 {
			cc.logAt(logs.Error, "the value of the \""+l.Zone.Key.Source+"\" key is more than 65535 bytes")
			continue
		}
		z := cc.w.srv.reqZones[l.Zone]
		burst := int64(l.Burst) * 1000
		var excess int64
		var within bool
		if s := cc.w.sync; l.Zone.Sync && s != nil {
			// One copy of the key serves the cache, the check and the
			// local buckets.
			skey := string(key)
			state, e := s.keyState(z, skey)
			switch {
			case state == keyRefused:
				z.cachedRefusals.Add(1)
				excess, within = e, false
			case state == keyLimiting && s.join(cc, z, skey),
				s.check(cc, z, skey, burst, state == keyLimiting):
				if r.syncWait.cc == cc {
					cc.warmFallback(z, skey, burst)
				}
				r.limitIdx, r.limitDelay = i, delay
				cc.setPhase(phaseSync)
				cc.c.StopTimer()
				return 0, limitWaiting
			default:
				excess, within = cc.fallbackAccount(z, skey, burst)
				z.fallbacks.Add(1)
			}
		} else {
			excess, within = z.account(string(key), cc.w.loop.Now().UnixMilli(), l.Burst)
		}
		var outcome limitOutcome
		if delay, outcome = cc.limitReqResult(l, z, excess, within, delay); outcome != limitPass {
			return delay, outcome
		}
	}
	return delay, limitPass
}

// warmFallback accounts a synced zone's request in the instance's own
// bucket too, at the share the fallback would enforce, while the store
// decides: when the store goes away the fallback starts from this
// instance's recent traffic instead of an empty bucket, which would let
// a burst through on every instance at once.
func (cc *clientConn) warmFallback(z *reqZone, key string, burst int64) {
	s := cc.w.sync
	if s.state != syncUp {
		return
	}
	now := cc.w.loop.Now().UnixMilli()
	switch s.cfg.Fallback {
	case conf.FallbackLocal:
		z.accountRate(key, now, z.rate, burst)
	case conf.FallbackShare:
		n := max(cc.w.srv.fleetSize.Load(), 1)
		z.accountRate(key, now, z.rate/n, burst/n)
	}
}

// limitReqResult applies one limit's decision: a refusal answers the
// request (unless in dry run), an excess beyond the limit's delay holds
// it back; each is logged as nginx logs it.
func (cc *clientConn) limitReqResult(l *conf.LimitReq, z *reqZone, excess int64, within bool, delay time.Duration) (time.Duration, limitOutcome) {
	r := cc.r
	lc := r.lc
	level := logs.ParseLevel(lc.LimitReqLogLevel)
	// Delays are logged one level less severe than refusals.
	delayLevel := min(level+1, logs.Debug)
	if !within {
		if lc.LimitReqDryRun {
			cc.logAt(level, "limiting requests, dry run, excess: "+excessText(excess)+" by zone \""+l.Zone.Name+"\"")
			r.limitReqStatus = "REJECTED_DRY_RUN"
			// nginx stops at the first limit a dry run refuses.
			return 0, limitStop
		}
		cc.logAt(level, "limiting requests, excess: "+excessText(excess)+" by zone \""+l.Zone.Name+"\"")
		z.rejected.Add(1)
		r.limitReqStatus = "REJECTED"
		cc.respondError(lc.LimitReqStatus)
		return 0, limitAnswered
	}
	if r.limitReqStatus == "" {
		r.limitReqStatus = "PASSED"
	}
	if l.NoDelay || excess <= int64(l.Delay)*1000 || z.rate == 0 {
		return delay, limitPass
	}
	d := time.Duration((excess-int64(l.Delay)*1000)*1000/z.rate) * time.Millisecond
	if lc.LimitReqDryRun {
		cc.logAt(delayLevel, "delaying request, dry run, excess: "+excessText(excess)+", by zone \""+l.Zone.Name+"\"")
		r.limitReqStatus = "DELAYED_DRY_RUN"
		return delay, limitPass
	}
	r.limitReqStatus = "DELAYED"
	cc.logAt(delayLevel, "delaying request, excess: "+excessText(excess)+", by zone \""+l.Zone.Name+"\"")
	z.delayed.Add(1)
	return max(delay, d), limitPass
}
