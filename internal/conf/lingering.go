package conf

import (
	"strings"
	"time"
)

// LingeringClose is lingering_close's value: when a connection closed
// after an answer reads and drops what the client still sends, so that
// unread bytes do not turn the close into a reset that destroys the
// answer on its way.
type LingeringClose uint8

const (
	// LingerOn lingers when the client may still be sending (nginx's
	// default).
	LingerOn LingeringClose = iota
	// LingerOff closes at once.
	LingerOff
	// LingerAlways lingers after every answer that closes.
	LingerAlways
)

var lingerNames = map[string]LingeringClose{"on": LingerOn, "off": LingerOff, "always": LingerAlways}

// lingerRaw is what one level sets of the lingering directives.
type lingerRaw struct {
	close   *LingeringClose
	time    *time.Duration
	timeout *time.Duration
	reset   *bool
}

func lingerDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "lingering_close", ctx: hsl, args: arg1, set: setLingeringClose,
			syntax: "lingering_close off | on | always;", def: "on",
			doc: "Controls how a connection is closed after an answer: on reads and drops what the client may still send for a while (lingering_timeout between reads, lingering_time in all) so that the answer is not lost to a reset, always does so after every answer that closes, off closes at once."},
		{name: "lingering_time", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.linger.time }),
			syntax: "lingering_time time;", def: "30s",
			doc: "Bounds the whole of a lingering close."},
		{name: "lingering_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.linger.timeout }),
			syntax: "lingering_timeout time;", def: "5s",
			doc: "Bounds the wait for more bytes during a lingering close; the connection closes when none come in this time."},
		{name: "reset_timedout_connection", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.linger.reset }),
			syntax: "reset_timedout_connection on | off;", def: "off",
			doc: "Closes with a reset (SO_LINGER 0) instead of a FIN a connection that timed out reading the request head or body or sending the answer, or that a 444 ends (or that the client_*_min_rate rules cut off under pressure), so that its socket and unsent data are freed at once instead of waiting in FIN_WAIT1; a keep-alive connection that times out closes normally, as in nginx."},
	}
}

func setLingeringClose(b *builder, n *Node, sc *scope) error {
	if sc.raw.linger.close != nil {
		return duplicate(n)
	}
	v, ok := lingerNames[strings.ToLower(n.Args[0])]
	if !ok {
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	sc.raw.linger.close = &v
	return nil
}

// mergeLinger inherits the lingering settings a level does not set.
func mergeLinger(r *lingerRaw, p *LocConf, c *LocConf) {
	c.LingeringClose = pick(r.close, p.LingeringClose)
	c.LingeringTime = pick(r.time, p.LingeringTime)
	c.LingeringTimeout = pick(r.timeout, p.LingeringTimeout)
	c.ResetTimedout = pick(r.reset, p.ResetTimedout)
}
