package conf

import "time"

// minRate is what client_body_min_rate or send_min_rate sets at one
// level: the rate and its grace go together, so a level that sets the
// directive sets both.
type minRate struct {
	rate  int
	grace time.Duration
}

// defaultMinRateGrace is the grace when the directive omits it. Kestrel
// gives 5 s, but applies its rates always; headroom applies them only
// while clients wait for a slot, where every second of grace is a second
// those clients wait behind a slow one. A second is still many round
// trips: an ordinary client sends well over 240 bytes in its first one.
const defaultMinRateGrace = time.Second

// minRateDirectives declares headroom's own minimum data rates, after
// Kestrel's MinRequestBodyDataRate and MinResponseDataRate. They are not
// nginx directives.
func minRateDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "client_body_min_rate", ctx: hsl, args: take12, set: minRateSlot(func(r *rawLoc) **minRate { return &r.clientBodyMinRate }),
			syntax: "client_body_min_rate rate [grace];", def: "240 1s",
			doc: "Headroom's own, after Kestrel's MinRequestBodyDataRate: under pressure only, while clients wait in the listen backlog for a slot, a client sending its request body slower than rate bytes a second (a size; 0 turns the rule off), once grace has passed since its request began, loses its slot; without pressure nobody is cut off."},
		{name: "send_min_rate", ctx: hsl, args: take12, set: minRateSlot(func(r *rawLoc) **minRate { return &r.sendMinRate }),
			syntax: "send_min_rate rate [grace];", def: "240 1s",
			doc: "Headroom's own, after Kestrel's MinResponseDataRate: under pressure only, while clients wait in the listen backlog for a slot, a client that keeps its response waiting and has read it slower than rate bytes a second (a size; 0 turns the rule off) since it fell behind, for at least grace, loses its slot; without pressure nobody is cut off."},
	}
}

// minRateSlot makes a handler for "rate [grace]": rate is a size in bytes
// a second, grace a time defaulting to 5s.
func minRateSlot(field func(*rawLoc) **minRate) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		rate, ok := parseSize(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		m := minRate{rate: int(rate), grace: defaultMinRateGrace}
		if len(n.Args) == 2 {
			if m.grace, ok = parseTime(n.Args[1], false); !ok {
				return errAt(n, "\"%s\" directive invalid value", n.Name)
			}
		}
		*p = &m
		return nil
	}
}
