package proxy

import (
	"strconv"
	"time"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// limit_rate, as nginx's write filter applies it: a response may have
// sent, beyond limit_rate_after, limit_rate bytes for every second
// (counted in whole seconds) since the request began, plus one second's
// worth; past that the write waits on the client's timer. After each
// write the response pauses for as long as the bytes written take at the
// rate. A pause is not the client being slow: it does not count towards
// send_min_rate.

// rateAllowance is how many more bytes the response may send now.
func (cc *clientConn) rateAllowance() int64 {
	r := cc.r
	secs := cc.w.loop.Now().Unix() - r.start.Unix() + 1
	return r.limitRate*secs - (r.bytesSent - r.limitAfter)
}

// rateDelayAfter is the pause after a write that took bytesSent from
// before to its current value.
func (cc *clientConn) rateDelayAfter(before int64) time.Duration {
	r := cc.r
	if r.limitRate <= 0 {
		return 0
	}
	after := r.limitAfter
	sent := max(before-after, 0)
	nsent := max(r.bytesSent-after, 0)
	return time.Duration((nsent-sent)*1000/r.limitRate) * time.Millisecond
}

// rateDelay pauses the response's writes for d.
func (cc *clientConn) rateDelay(d time.Duration) {
	cc.r.rateDelayed = true
	cc.c.SetTimer(d)
}

// responseLimitRate is the rate a response goes to the client at: the
// upstream's X-Accel-Limit-Rate when it sends a number and it is not
// ignored (0 lifts the limit), else rate (limit_rate), as nginx decides.
func responseLimitRate(lc *conf.LocConf, resp *http1.Response, rate int64) int64 {
	if lc.ProxyIgnoreHeaders&conf.IgnoreXAccelLimitRate == 0 {
		if v := headerValue(resp.Headers, "X-Accel-Limit-Rate"); v != nil {
			if n, err := strconv.ParseUint(string(v), 10, 63); err == nil {
				return int64(n)
			}
		}
	}
	return rate
}

// startRateLimit fixes the response's limit_rate and limit_rate_after
// when it starts, evaluating values with variables once, as nginx does
// at the response's first write.
func (cc *clientConn) startRateLimit(rate int64) {
	r := cc.r
	r.limitRate = rate
	r.limitAfter = r.lc.LimitRateAfter
	if t := r.lc.LimitRateAfterVar; t != nil {
		r.limitAfter, _ = conf.ParseSize(string(cc.eval(nil, t)))
	}
}

// upRateAllowance is how many more bytes of the response may be read from
// the upstream now under proxy_limit_rate, counted as nginx's event pipe
// counts them: the rate for every whole second since the response began,
// plus one.
func (cc *clientConn) upRateAllowance() int64 {
	r := cc.r
	secs := cc.w.loop.Now().Unix() - r.upReadStart.Unix() + 1
	return r.lc.ProxyLimitRate*secs - r.upRead
}

// upRateDelay pauses reading from the upstream for d.
func (cc *clientConn) upRateDelay(d time.Duration) {
	cc.r.upRateDelayed = true
	cc.r.up.c.SetTimer(d)
}
