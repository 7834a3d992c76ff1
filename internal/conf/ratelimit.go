package conf

import "headroom/internal/vars"

// rateRaw holds what one level sets of the transfer rate limits; nil
// means not set here.
type rateRaw struct {
	limitRate      *int64
	limitRateAfter *int64
	proxyLimitRate *int64
	// limitRateT and limitRateAfterT are values with variables.
	limitRateT      *vars.Template
	limitRateAfterT *vars.Template
}

// rateDirectives declares nginx's limits on how fast a response moves:
// to the client (limit_rate, limit_rate_after) and from the upstream
// (proxy_limit_rate).
func rateDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "limit_rate", ctx: hsl | ctxIf, args: arg1, set: rateVarSlot(func(r *rawLoc) (**int64, **vars.Template) { return &r.rate.limitRate, &r.rate.limitRateT }),
			syntax: "limit_rate rate;", def: "0",
			doc: "Limits the rate of sending a response to the client, in bytes a second, per request; 0 is unlimited. An upstream's X-Accel-Limit-Rate sets it for its response. Variables are not supported by headroom."},
		{name: "limit_rate_after", ctx: hsl | ctxIf, args: arg1, set: rateVarSlot(func(r *rawLoc) (**int64, **vars.Template) { return &r.rate.limitRateAfter, &r.rate.limitRateAfterT }),
			syntax: "limit_rate_after size;", def: "0",
			doc: "Sends this much of a response before limit_rate applies."},
		{name: "proxy_limit_rate", ctx: hsl, args: arg1, set: rateSlot(func(r *rawLoc) **int64 { return &r.rate.proxyLimitRate }),
			syntax: "proxy_limit_rate rate;", def: "0",
			doc: "Limits the rate of reading a response from the upstream, in bytes a second, per request; 0 is unlimited."},
	}
}

// rateVarSlot makes a handler for a size that may have variables
// (nginx's ngx_http_set_complex_value_size_slot): a value with variables
// is evaluated for each response.
func rateVarSlot(field func(*rawLoc) (**int64, **vars.Template)) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p, t := field(sc.raw)
		if *p != nil || *t != nil {
			return duplicate(n)
		}
		if hasVariables(n.Args[0]) {
			v, err := b.template(n, n.Args[0])
			if err != nil {
				return err
			}
			*t = v
			return nil
		}
		v, ok := parseSize(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		*p = &v
		return nil
	}
}

// rateSlot makes a handler for a size (ngx_conf_set_size_slot); a value
// with variables is refused by name.
func rateSlot(field func(*rawLoc) **int64) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		if hasVariables(n.Args[0]) {
			return skip(b.unsupportedPart(n, "variables", "variables in \""+n.Name+"\" are not supported by headroom"))
		}
		v, ok := parseSize(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		*p = &v
		return nil
	}
}
