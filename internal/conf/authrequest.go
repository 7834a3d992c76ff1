package conf

import (
	"strings"
	"time"
)

// authRaw is what one level sets of auth_request, auth_request_set and
// satisfy.
type authRaw struct {
	uri     *string
	sets    []*SetVar
	satisfy *bool
	delay   *time.Duration
}

func authDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "auth_request", ctx: hsl, args: arg1, set: setAuthRequest,
			syntax: "auth_request uri | off;", def: "off",
			doc: "Lets a request through only when a subrequest to the URI answers 2xx: 401 and 403 answer the request with that status (a 401 with the subrequest's WWW-Authenticate), anything else 500. The subrequest is a GET with the client's fields and no body; its answer's body is dropped. Runs after the allow and deny rules, as nginx's access phase orders them (see satisfy)."},
		{name: "auth_request_set", ctx: hsl, args: arg2, set: setAuthRequestSet,
			syntax: "auth_request_set $variable value;",
			doc:    "Sets a variable of the request, once the auth_request subrequest is done, to a value evaluated in the subrequest (its $upstream_http_*, $upstream_status, $sent_http_*), whatever the subrequest's status. A level with lines of its own replaces the inherited ones."},
		{name: "auth_delay", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.auth.delay }),
			syntax: "auth_delay time;", def: "0s",
			doc: "Delays a 401 of the access checks (auth_basic, auth_request) by the time, so that a guess takes as long whatever it got wrong; a client that leaves meanwhile ends the request."},
		{name: "satisfy", ctx: hsl, args: arg1, set: setSatisfy,
			syntax: "satisfy all | any;", def: "all",
			doc: "With all, a request must pass both the allow and deny rules and auth_request; with any, either lets it through (an allow rule that matches lets it through without the subrequest), and when both refuse the answer is auth_request's 401, else 403."},
	}
}

func setAuthRequest(b *builder, n *Node, sc *scope) error {
	a := &sc.raw.auth
	if a.uri != nil {
		return duplicate(n)
	}
	uri := n.Args[0]
	if uri == "off" {
		uri = ""
	}
	a.uri = &uri
	return nil
}

func setAuthRequestSet(b *builder, n *Node, sc *scope) error {
	sv, err := b.setVar(n)
	if err != nil {
		return err
	}
	sc.raw.auth.sets = append(sc.raw.auth.sets, sv)
	return nil
}

func setSatisfy(b *builder, n *Node, sc *scope) error {
	a := &sc.raw.auth
	if a.satisfy != nil {
		return duplicate(n)
	}
	var anyOf bool
	switch strings.ToLower(n.Args[0]) {
	case "all":
	case "any":
		anyOf = true
	default:
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	a.satisfy = &anyOf
	return nil
}

// mergeAuth inherits auth_request and satisfy, and the auth_request_set
// lines whole when a level has none.
func mergeAuth(r *authRaw, p *LocConf, c *LocConf) {
	c.AuthRequest = pick(r.uri, p.AuthRequest)
	c.AuthRequestSet = p.AuthRequestSet
	if r.sets != nil {
		c.AuthRequestSet = r.sets
	}
	c.SatisfyAny = pick(r.satisfy, p.SatisfyAny)
	c.AuthDelay = pick(r.delay, p.AuthDelay)
}
