package proxy

import (
	"strconv"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/vars"
)

// This file is nginx's access phase with its auth_request: the allow and
// deny rules, then a subrequest whose status decides, combined as
// satisfy says. The subrequest is the one SSI's include makes
// (subrequest.go), in a mode that drops its body; the request waits for
// it in phaseAuth and goes on from its access phase once it is done.

// accessVerdict is what the allow and deny rules say of a request.
type accessVerdict uint8

const (
	// accessDeclined: no rule matched (or there are none).
	accessDeclined accessVerdict = iota
	accessAllowed
	accessDenied
)

// accessRules applies the location's allow and deny rules: the first
// rule that matches the client decides.
func (cc *clientConn) accessRules() accessVerdict {
	rules := cc.r.lc.Access
	if len(rules) == 0 {
		return accessDeclined
	}
	addr := cc.clientAddr().Addr()
	for _, rule := range rules {
		if !rule.Matches(addr) {
			continue
		}
		if rule.Deny {
			return accessDenied
		}
		return accessAllowed
	}
	return accessDeclined
}

// accessPhase runs nginx's access phase, after limit_req and limit_conn:
// the allow and deny rules, then auth_request, as satisfy combines
// them. It returns true when the request goes on to its content; else
// it was answered, or it waits for its auth_request subrequest, whose
// end runs the phase again (authEnded). Subrequests skip the phase, as
// nginx's do: their main request passed it.
func (cc *clientConn) accessPhase() bool {
	if cc.sub != nil {
		return true
	}
	r := cc.r
	lc := r.lc
	if r.authPassed {
		// The subrequest let the request through; a later internal
		// redirect asks again, as nginx's does.
		r.authPassed = false
		return true
	}
	anyOf := lc.SatisfyAny
	// code is the refusal so far under satisfy any, nginx's
	// access_code: a 401 stays once given.
	code := 0
	switch cc.accessRules() {
	case accessAllowed:
		if anyOf {
			return true
		}
	case accessDenied:
		if !anyOf {
			cc.logError("access forbidden by rule")
			cc.respondError(403)
			return false
		}
		code = 403
	}
	switch status := cc.authBasic(); status {
	case 0:
	case 200:
		if anyOf {
			cc.dropAuthenticate()
			return true
		}
	case 401, 403:
		if !anyOf {
			cc.refuse(status)
			return false
		}
		if code != 401 {
			code = status
		}
	default:
		cc.respondError(status)
		return false
	}
	if lc.AuthRequest != "" {
		r.accessCode = code
		cc.startAuthRequest()
		return false
	}
	return cc.accessRefused(code)
}

// accessRefused ends the access phase under satisfy any when every
// check refused (code, nginx's access_code, is not 0): the request is
// answered with it, a 403 logged as the rules' refusal. It reports
// whether the request goes on.
func (cc *clientConn) accessRefused(code int) bool {
	if code == 0 {
		return true
	}
	if code == 403 {
		cc.logError("access forbidden by rule")
	}
	cc.refuse(code)
	return false
}

// refuse answers a request the access checks refused: a 401 after
// auth_delay, as nginx delays it (phaseAuthDelay, whose timer answers),
// anything else at once.
func (cc *clientConn) refuse(code int) {
	d := cc.r.lc.AuthDelay
	if code != 401 || d <= 0 {
		cc.respondError(code)
		return
	}
	cc.logAt(logs.Info, "delaying unauthorized request")
	cc.setPhase(phaseAuthDelay)
	cc.c.SetTimer(d)
}

// startAuthRequest makes the auth_request subrequest and waits for it.
// The URI is taken as it is written, arguments and all, as nginx takes
// it.
func (cc *clientConn) startAuthRequest() {
	r := cc.r
	s := cc.newSubrequest([]byte(r.lc.AuthRequest), nil, subAuth, nil)
	if s == nil {
		cc.respondError(500)
		return
	}
	r.authSub = s
	cc.setPhase(phaseAuth)
	cc.c.StopTimer()
	s.start()
}

// leaveAuth ends the wait of a request whose client went away: its
// subrequest stops where it is.
func (cc *clientConn) leaveAuth() {
	if s := cc.r.authSub; s != nil {
		cc.r.authSub = nil
		s.abandon()
	}
}

// captureAuth keeps what the request that waits needs of its
// auth_request subrequest as the subrequest ends: the values of
// auth_request_set, evaluated in the subrequest, and a 401's
// WWW-Authenticate, the first of its upstream's.
func (s *subrequest) captureAuth(sc *clientConn) {
	p := s.parent
	if p == nil || p.r == nil || p.r.lc == nil {
		return
	}
	sets := p.r.lc.AuthRequestSet
	s.authVals = s.authVals[:0]
	for _, sv := range sets {
		s.authVals = append(s.authVals, sc.eval(nil, sv.Value))
	}
	if s.status == 401 && sc.r.respHead {
		if v := headerValue(sc.r.resp.Headers, "WWW-Authenticate"); v != nil {
			s.authenticate = append([]byte(nil), v...)
		}
	}
}

// authEnded takes the end of the request's auth_request subrequest:
// auth_request_set's variables get their values, whatever the status,
// then the status decides, as nginx's auth_request handler and access
// phase decide it.
func (cc *clientConn) authEnded(s *subrequest) {
	r := cc.r
	if r.authSub != s || !cc.inPhase(phaseAuth) {
		return
	}
	r.authSub = nil
	cc.setPhase(phaseRoute)
	for i, sv := range r.lc.AuthRequestSet {
		if i < len(s.authVals) {
			cc.assignVar(sv, s.authVals[i])
		}
	}
	status := s.status
	if !s.complete && status < 300 {
		// The subrequest failed before its answer ended.
		status = 0
	}
	switch {
	case status >= 200 && status < 300:
		if r.lc.SatisfyAny {
			cc.dropAuthenticate()
		}
		r.authPassed = true
		cc.serveContent()
		return
	case status == 401 || status == 403:
		if status == 401 && s.authenticate != nil {
			kept := append([]byte("WWW-Authenticate"), s.authenticate...)
			r.carried = append(r.carried, http1.Header{Name: kept[:16], Value: kept[16:]})
		}
		if !r.lc.SatisfyAny {
			cc.refuse(status)
			return
		}
		code := r.accessCode
		if code != 401 {
			code = status
		}
		cc.accessRefused(code)
	default:
		cc.logError("auth request unexpected status: " + strconv.Itoa(status))
		cc.respondError(500)
	}
}

// assignVar gives a variable of set's kind a value: the request's
// arguments, its rate, or a variable of the configuration's own.
func (cc *clientConn) assignVar(sv *conf.SetVar, v []byte) {
	r := cc.r
	switch sv.Builtin {
	case vars.Args:
		r.args = append(r.args[:0], v...)
		r.head.Query = r.args
		r.script.argsSet = true
	case vars.LimitRate:
		// nginx reads the value as a size; one it cannot read leaves
		// the rate as it was.
		if n, ok := conf.ParseSize(string(v)); ok {
			r.accelRate, r.accelRateSet = n, true
		}
	default:
		s := &r.script
		s.vals[sv.Slot] = append(s.vals[sv.Slot][:0], v...)
		s.set[sv.Slot] = true
	}
}
