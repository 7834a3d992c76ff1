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
	// metrics.
	rejected, delayed atomic.Uint64
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
	excess = s.excess - z.rate*ms/1000 + 1000
	if excess < 0 {
		excess = 0
	}
	if excess > int64(burst)*1000 {
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

// limitReqs applies the location's limit_req limits, in nginx's preaccess
// phase. It returns how long to hold the request back, or ok false when
// the request was answered with limit_req_status.
func (cc *clientConn) limitReqs() (delay time.Duration, ok bool) {
	r := cc.r
	lc := r.lc
	if len(lc.LimitReqs) == 0 {
		return 0, true
	}
	level := logs.ParseLevel(lc.LimitReqLogLevel)
	// Delays are logged one level less severe than refusals.
	delayLevel := min(level+1, logs.Debug)
	now := cc.w.loop.Now().UnixMilli()
	for _, l := range lc.LimitReqs {
		key := cc.eval(nil, l.Zone.Key)
		if len(key) == 0 {
			continue
		}
		if len(key) > 65535 {
			cc.logAt(logs.Error, "the value of the \""+l.Zone.Key.Source+"\" key is more than 65535 bytes")
			continue
		}
		z := cc.w.srv.reqZones[l.Zone]
		excess, within := z.account(string(key), now, l.Burst)
		if !within {
			if lc.LimitReqDryRun {
				cc.logAt(level, "limiting requests, dry run, excess: "+excessText(excess)+" by zone \""+l.Zone.Name+"\"")
				r.limitReqStatus = "REJECTED_DRY_RUN"
				return 0, true
			}
			cc.logAt(level, "limiting requests, excess: "+excessText(excess)+" by zone \""+l.Zone.Name+"\"")
			z.rejected.Add(1)
			r.limitReqStatus = "REJECTED"
			cc.respondError(lc.LimitReqStatus)
			return 0, false
		}
		if r.limitReqStatus == "" {
			r.limitReqStatus = "PASSED"
		}
		if l.NoDelay || excess <= int64(l.Delay)*1000 || z.rate == 0 {
			continue
		}
		d := time.Duration((excess-int64(l.Delay)*1000)*1000/z.rate) * time.Millisecond
		if lc.LimitReqDryRun {
			cc.logAt(delayLevel, "delaying request, dry run, excess: "+excessText(excess)+", by zone \""+l.Zone.Name+"\"")
			r.limitReqStatus = "DELAYED_DRY_RUN"
			continue
		}
		r.limitReqStatus = "DELAYED"
		cc.logAt(delayLevel, "delaying request, excess: "+excessText(excess)+", by zone \""+l.Zone.Name+"\"")
		z.delayed.Add(1)
		delay = max(delay, d)
	}
	return delay, true
}
