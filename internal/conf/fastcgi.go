package conf

// FastCGI is what a location passing requests with fastcgi_pass sends
// besides the request itself: the parameters and how $fastcgi_script_name
// and $fastcgi_path_info are found.
type FastCGI struct {
	// Params are fastcgi_param's, in order; those with IfNotEmpty are
	// left out when their value is empty.
	Params []GatewayParam
	// Index (fastcgi_index) is added to a $fastcgi_script_name that ends
	// with "/".
	Index string
	// Split (fastcgi_split_path_info) cuts $uri into the script's name
	// and the path after it, its two captures.
	Split *Regex
	// CatchStderr (fastcgi_catch_stderr) are strings that, found in
	// what the application writes to its stderr, make its answer
	// invalid (tried elsewhere with fastcgi_next_upstream
	// invalid_header, else 502).
	CatchStderr []string
	// KeepConn (fastcgi_keep_conn) asks the application to keep the
	// connection open after its answer, so that it can go back to the
	// upstream's keepalive cache.
	KeepConn bool
}

// fastcgiRaw is what one level sets of the FastCGI module's own settings.
// The settings it shares with the proxy module (timeouts, buffers, the
// fields hidden and passed, ...) are kept in a shadow level of their own
// (rawLoc.shadows), so that each module inherits its own, as in nginx.
type fastcgiRaw struct {
	paramsRaw
	catchStderr []string
	index       *string
	split       *Regex
	keepConn    *bool
}

// fastcgiDirectives are the FastCGI module's directives: its own, and
// those it shares with the proxy module, made from theirs.
func fastcgiDirectives(proxy []*directive) []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	out := []*directive{
		{name: "fastcgi_pass", ctx: ctxLocation | ctxIf, args: arg1, set: gatewayPass(ProtoFastCGI),
			syntax: "fastcgi_pass address;",
			doc:    "Passes requests to a FastCGI application (PHP-FPM and the like) at host:port, unix:path or an upstream group (variables allowed). The request goes as FastCGI records (BEGIN_REQUEST, the fastcgi_param parameters and the client's fields as HTTP_ ones, the body as STDIN), and the application's answer (its Status and other fields, then the body) comes back through the same buffering, error pages and logging as a proxied answer."},
		{name: "fastcgi_param", ctx: hsl, args: take23, set: paramSlot(func(r *rawLoc) *paramsRaw { return &r.fastcgi.paramsRaw }),
			syntax: "fastcgi_param parameter value [if_not_empty];",
			doc:    "Sets a parameter passed to the FastCGI application; with if_not_empty an empty value is not passed. A level's list replaces its parent's. An HTTP_ parameter replaces the client's field of that name."},
		{name: "fastcgi_index", ctx: hsl, args: arg1, set: setFastCGIIndex,
			syntax: "fastcgi_index name;",
			doc:    "Is added to $fastcgi_script_name when it ends with \"/\"."},
		{name: "fastcgi_split_path_info", ctx: ctxLocation, args: arg1, set: setFastCGISplit,
			syntax: "fastcgi_split_path_info regex;",
			doc:    "A regular expression with two captures that cuts $uri into $fastcgi_script_name and $fastcgi_path_info; without a match the first is $uri and the second empty."},
		{name: "fastcgi_catch_stderr", ctx: hsl, args: arg1, set: setFastCGICatchStderr,
			syntax: "fastcgi_catch_stderr string;",
			doc:    "An answer whose stderr output, before the end of its head, contains the string is invalid: tried on the next server with fastcgi_next_upstream invalid_header, else 502. May be repeated; a level's list replaces its parent's."},
		{name: "fastcgi_keep_conn", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.fastcgi.keepConn }),
			syntax: "fastcgi_keep_conn on | off;", def: "off",
			doc: "Asks the application to keep the connection open after the answer, so that it is kept for the next request of the upstream group's keepalive cache; off, the application closes it."},
	}
	return append(out, sharedDirectives(ProtoFastCGI, proxy)...)
}

func setFastCGICatchStderr(b *builder, n *Node, sc *scope) error {
	sc.raw.fastcgi.catchStderr = append(sc.raw.fastcgi.catchStderr, n.Args[0])
	return nil
}

func setFastCGIIndex(b *builder, n *Node, sc *scope) error {
	if sc.raw.fastcgi.index != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	sc.raw.fastcgi.index = &v
	return nil
}

func setFastCGISplit(b *builder, n *Node, sc *scope) error {
	if sc.raw.fastcgi.split != nil {
		return duplicate(n)
	}
	re, err := b.regex(n, n.Args[0], false)
	if err != nil {
		return err
	}
	if re.NumSubexp() != 2 {
		return errAt(n, "pattern \"%s\" must have 2 captures", n.Args[0])
	}
	sc.raw.fastcgi.split = re
	return nil
}

// mergeFastCGI inherits the FastCGI settings: the lists whole, when a
// level has none of its own.
func mergeFastCGI(r *fastcgiRaw, p FastCGI) FastCGI {
	c := p
	c.Params = mergeParams(&r.paramsRaw, p.Params)
	if r.catchStderr != nil {
		c.CatchStderr = r.catchStderr
	}
	c.Index = pick(r.index, p.Index)
	c.KeepConn = pick(r.keepConn, p.KeepConn)
	if r.split != nil {
		c.Split = r.split
	}
	return c
}
