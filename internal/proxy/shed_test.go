package proxy

import (
	"testing"
	"time"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// TestShedScore checks which clients may lose their slot under pressure
// and in which order: heads and idle connections after headGrace, TLS
// handshakes after handshakeGrace, the longest first; then bodies and readers below their rate after its
// grace, the slowest first; never a client that makes progress.
func TestShedScore(t *testing.T) {
	now := time.Unix(1000, 0)
	lc := &conf.LocConf{ClientBodyMinRate: 240, ClientBodyMinRateGrace: time.Second, SendMinRate: 240, SendMinRateGrace: time.Second}
	req := func(f func(r *request)) *request {
		r := &request{lc: lc, phase: phaseProxy}
		f(r)
		return r
	}
	tests := []struct {
		name    string
		cc      *clientConn
		kind    shedKind
		score   float64
		ok      bool
		waiting bool
	}{
		{"idle 2 s", &clientConn{state: connIdle, inIdle: true, idleSince: now.Add(-2 * time.Second)}, shedHead, -2, true, true},
		{"idle 100 ms", &clientConn{state: connIdle, inIdle: true, idleSince: now.Add(-100 * time.Millisecond)}, 0, 0, false, true},
		{"TLS handshake for 600 ms", &clientConn{state: connIdle, inIdle: true, idleSince: now.Add(-600 * time.Millisecond),
			tr: &tlsTransport{state: tlsHandshake}}, 0, 0, false, true},
		{"TLS client silent for 600 ms", &clientConn{state: connIdle, inIdle: true, idleSince: now.Add(-600 * time.Millisecond),
			tr: &tlsTransport{state: tlsFresh}}, 0, 0, false, true},
		{"TLS handshake for 2 s", &clientConn{state: connIdle, inIdle: true, idleSince: now.Add(-2 * time.Second),
			tr: &tlsTransport{state: tlsHandshake}}, shedHead, -2, true, true},
		{"TLS without its first request for 600 ms after its handshake", &clientConn{state: connIdle, inIdle: true, idleSince: now.Add(-600 * time.Millisecond),
			tr: &tlsTransport{state: tlsOpen}}, 0, 0, false, true},
		{"TLS idle for 600 ms after a request", &clientConn{state: connIdle, inIdle: true, idleSince: now.Add(-600 * time.Millisecond),
			requests: 1, tr: &tlsTransport{state: tlsOpen}}, shedHead, -0.6, true, true},
		{"head for 1 s", &clientConn{state: connHead, r: req(func(r *request) { r.start = now.Add(-time.Second) })}, shedHead, -1, true, true},
		{"head for 200 ms", &clientConn{state: connHead, r: req(func(r *request) { r.start = now.Add(-200 * time.Millisecond) })}, 0, 0, false, true},
		{"body at 100 B/s for 2 s", &clientConn{state: connRequest, r: req(func(r *request) {
			r.start, r.bodyRead = now.Add(-2*time.Second), 200
		})}, shedBody, 100, true, true},
		{"body at 1000 B/s", &clientConn{state: connRequest, r: req(func(r *request) {
			r.start, r.bodyRead = now.Add(-2*time.Second), 2000
		})}, 0, 0, false, true},
		{"slow body within its grace", &clientConn{state: connRequest, r: req(func(r *request) {
			r.start = now.Add(-500 * time.Millisecond)
		})}, 0, 0, false, true},
		{"reader behind for 2 s at 50 B/s", &clientConn{state: connRequest, r: req(func(r *request) {
			r.bodyDone, r.respHead = true, true
			r.sendWaitFrom, r.sendWaitBase, r.bytesSent = now.Add(-2*time.Second), 5000, 5100
		})}, shedReader, 50, true, true},
		{"reader keeping up", &clientConn{state: connRequest, r: req(func(r *request) {
			r.bodyDone, r.respHead = true, true
		})}, 0, 0, false, false},
		{"waiting for its upstream", &clientConn{state: connRequest, r: req(func(r *request) {
			r.bodyDone = true
			r.start = now.Add(-time.Minute)
		})}, 0, 0, false, false},
	}
	for _, tc := range tests {
		kind, score, ok := tc.cc.shedScore(now)
		if ok != tc.ok || ok && (kind != tc.kind || score != tc.score) {
			t.Errorf("%s: shedScore = %d %v %v, want %d %v %v", tc.name, kind, score, ok, tc.kind, tc.score, tc.ok)
		}
		if w := tc.cc.waitingOnClient(); w != tc.waiting {
			t.Errorf("%s: waitingOnClient = %v, want %v", tc.name, w, tc.waiting)
		}
	}
}

// TestResponseDecisions checks the per-response choices taken from the
// upstream's X-Accel fields: buffering and the rate, each overridden by
// the upstream unless proxy_ignore_headers says otherwise.
func TestResponseDecisions(t *testing.T) {
	resp := func(fields ...string) *http1.Response {
		r := &http1.Response{}
		for i := 0; i+1 < len(fields); i += 2 {
			r.Headers = append(r.Headers, http1.Header{Name: []byte(fields[i]), Value: []byte(fields[i+1])})
		}
		return r
	}
	on := &conf.LocConf{ProxyBuffering: true, LimitRate: 1000}
	off := &conf.LocConf{ProxyBuffering: false}
	ignoring := &conf.LocConf{ProxyBuffering: true, LimitRate: 1000, ProxyIgnoreHeaders: conf.IgnoreXAccelBuffering | conf.IgnoreXAccelLimitRate}
	tests := []struct {
		name     string
		lc       *conf.LocConf
		resp     *http1.Response
		buffered bool
		rate     int64
	}{
		{"defaults", on, resp(), true, 1000},
		{"X-Accel-Buffering no", on, resp("X-Accel-Buffering", "no"), false, 1000},
		{"X-Accel-Buffering yes with buffering off", off, resp("x-accel-buffering", "YES"), true, 0},
		{"X-Accel-Limit-Rate", on, resp("X-Accel-Limit-Rate", "250"), true, 250},
		{"X-Accel-Limit-Rate 0 lifts the limit", on, resp("X-Accel-Limit-Rate", "0"), true, 0},
		{"X-Accel-Limit-Rate not a number", on, resp("X-Accel-Limit-Rate", "off"), true, 1000},
		{"both ignored", ignoring, resp("X-Accel-Buffering", "no", "X-Accel-Limit-Rate", "5"), true, 1000},
	}
	for _, tc := range tests {
		if got := responseBuffered(tc.lc, tc.resp); got != tc.buffered {
			t.Errorf("%s: buffered %v, want %v", tc.name, got, tc.buffered)
		}
		if got := responseLimitRate(tc.lc, tc.resp, tc.lc.LimitRate); got != tc.rate {
			t.Errorf("%s: rate %d, want %d", tc.name, got, tc.rate)
		}
	}
}
