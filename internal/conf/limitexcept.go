package conf

import "strings"

// LimitExcept is a limit_except block: a request whose method is not one
// of Methods (GET includes HEAD) uses Loc, the location's settings with
// the block's (allow and deny, proxy_pass, access_log), as nginx's
// ngx_http_update_location_config switches to them.
type LimitExcept struct {
	Methods map[string]bool
	Loc     *LocConf
}

// Limits reports whether a request's method falls under the block.
func (le *LimitExcept) Limits(method []byte) bool {
	return !le.Methods[string(method)]
}

// limitExceptBuild is a limit_except block being read.
type limitExceptBuild struct {
	raw     *rawLoc
	methods map[string]bool
}

// limitExceptMethods are the methods limit_except may name, nginx's.
var limitExceptMethods = setOf("GET HEAD POST PUT DELETE MKCOL COPY MOVE OPTIONS PROPFIND PROPPATCH LOCK UNLOCK PATCH")

func limitExceptDirectives() []*directive {
	return []*directive{
		{name: "limit_except", ctx: ctxLocation, args: arg1More, block: true, set: setLimitExcept,
			syntax: "limit_except method ... { ... }",
			doc:    "Limits the methods other than those named (GET includes HEAD): requests with them use the block's allow, deny, proxy_pass and access_log."},
	}
}

func setLimitExcept(b *builder, n *Node, sc *scope) error {
	if sc.loc.limitExcept != nil {
		return errAt(n, "\"limit_except\" directive is duplicate")
	}
	le := &limitExceptBuild{raw: &rawLoc{}, methods: map[string]bool{}}
	for _, m := range n.Args {
		up := strings.ToUpper(m)
		if !limitExceptMethods[up] {
			return errAt(n, "invalid method \"%s\"", m)
		}
		le.methods[up] = true
		if up == "GET" {
			le.methods["HEAD"] = true
		}
	}
	sc.loc.limitExcept = le
	return b.run(n.Block, &scope{ctx: ctxLimitExcept, raw: le.raw, srv: sc.srv, loc: sc.loc})
}
