package conf

import (
	"strings"

	"headroom/internal/vars"
)

// FastCGI is what a location passing requests with fastcgi_pass sends
// besides the request itself: the parameters and how $fastcgi_script_name
// and $fastcgi_path_info are found.
type FastCGI struct {
	// Params are fastcgi_param's, in order; those with IfNotEmpty are
	// left out when their value is empty.
	Params []FastCGIParam
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

// FastCGIParam is one fastcgi_param.
type FastCGIParam struct {
	Name       string
	Value      *vars.Template
	IfNotEmpty bool
}

// fastcgiRaw is what one level sets of the FastCGI module's own settings.
// The settings it shares with the proxy module (timeouts, buffers, the
// fields hidden and passed, ...) are kept in a shadow level of their own
// (rawLoc.fcgi), so that each module inherits its own, as in nginx.
type fastcgiRaw struct {
	params      []FastCGIParam
	paramsSet   bool
	catchStderr []string
	index       *string
	split       *Regex
	keepConn    *bool
}

// fastcgiShared are the settings fastcgi_X shares with proxy_X: the same
// arguments, defaults and meaning, for requests passed with fastcgi_pass.
var fastcgiShared = strings.Fields(`connect_timeout read_timeout send_timeout
	buffering buffer_size buffers busy_buffers_size max_temp_file_size
	temp_file_write_size temp_path request_buffering intercept_errors
	hide_header pass_header ignore_headers next_upstream next_upstream_tries
	next_upstream_timeout ignore_client_abort pass_request_headers
	pass_request_body socket_keepalive bind limit_rate`)

// fastcgiDirectives are the FastCGI module's directives: its own, and
// those it shares with the proxy module, made from theirs.
func fastcgiDirectives(proxy []*directive) []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	out := []*directive{
		{name: "fastcgi_pass", ctx: ctxLocation | ctxIf, args: arg1, set: setFastCGIPass,
			syntax: "fastcgi_pass address;",
			doc:    "Passes requests to a FastCGI application (PHP-FPM and the like) at host:port, unix:path or an upstream group. The request goes as FastCGI records (BEGIN_REQUEST, the fastcgi_param parameters and the client's fields as HTTP_ ones, the body as STDIN), and the application's answer (its Status and other fields, then the body) comes back through the same buffering, error pages and logging as a proxied answer. A request body read in chunks is read whole first, so that CONTENT_LENGTH can be sent. Variables in the address are not supported by headroom."},
		{name: "fastcgi_param", ctx: hsl, args: take23, set: setFastCGIParam,
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
	byName := map[string]*directive{}
	for _, d := range proxy {
		byName[d.name] = d
	}
	for _, name := range fastcgiShared {
		d := byName["proxy_"+name]
		if d == nil {
			panic("no proxy_" + name)
		}
		out = append(out, &directive{
			name: "fastcgi_" + name, ctx: d.ctx, nginxOnly: d.nginxOnly, args: d.args, set: fastcgiShadow(d.set),
			syntax: strings.ReplaceAll(d.syntax, "proxy_", "fastcgi_"), def: d.def,
			doc: "As proxy_" + name + ", for requests passed with fastcgi_pass; each module inherits its own.",
		})
	}
	return out
}

// fastcgiShadow runs a proxy directive's handler on the level's FastCGI
// shadow, and names the FastCGI directive in its messages.
func fastcgiShadow(set func(*builder, *Node, *scope) error) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		if sc.raw.fcgi == nil {
			sc.raw.fcgi = &rawLoc{}
		}
		shadow := *sc
		shadow.raw = sc.raw.fcgi
		err := set(b, n, &shadow)
		if e, ok := err.(*Error); ok && e != errSkip {
			e.Msg = strings.ReplaceAll(e.Msg, "\"proxy_", "\"fastcgi_")
		}
		return err
	}
}

func setFastCGIPass(b *builder, n *Node, sc *scope) error {
	if sc.raw.proxyPass != nil && sc.raw.proxyPass.FastCGI {
		return duplicate(n)
	}
	if sc.raw.handler != HandlerNone {
		return errAt(n, "\"fastcgi_pass\" cannot be combined with \"%s\" at the same level", sc.raw.handler)
	}
	addr := n.Args[0]
	if hasVariables(addr) {
		// Evaluated per request as proxy_pass's URL is, and read as one
		// of its host parts.
		t, err := b.template(n, "http://"+addr)
		if err != nil {
			return err
		}
		sc.raw.proxyPass = &ProxyPass{Scheme: "fastcgi", FastCGI: true, Host: addr, URL: t}
		return nil
	}
	var u *upstreamBuild
	var err error
	if len(addr) >= 5 && strings.EqualFold(addr[:5], "unix:") {
		path, perr := unixSocketPath(addr[5:])
		if perr != "" {
			return errAt(n, "%s in upstream \"%s\"", perr, addr)
		}
		addr = "unix:" + path
		u, err = b.http.upstreamRef(n, addr, 0, true, addr)
	} else {
		host, port, noPort, perr := splitUpstreamAddr(addr)
		if perr == "" && strings.ContainsAny(addr, "/?") {
			perr = "invalid host"
		}
		if perr != "" {
			return errAt(n, "%s in upstream \"%s\"", perr, addr)
		}
		u, err = b.http.upstreamRef(n, host, port, noPort, addr)
		if err == nil && noPort {
			b.http.fcgiNoPort = append(b.http.fcgiNoPort, u)
		}
	}
	if err != nil {
		return err
	}
	sc.raw.proxyPass = &ProxyPass{Scheme: "fastcgi", FastCGI: true, Host: addr, ProxyHost: addr, Upstream: u.up}
	return nil
}

func setFastCGIParam(b *builder, n *Node, sc *scope) error {
	p := FastCGIParam{Name: n.Args[0]}
	if len(n.Args) == 3 {
		if n.Args[2] != "if_not_empty" {
			return errAt(n, "invalid parameter \"%s\"", n.Args[2])
		}
		p.IfNotEmpty = true
	}
	t, err := b.template(n, n.Args[1])
	if err != nil {
		return err
	}
	p.Value = t
	sc.raw.fastcgi.params = append(sc.raw.fastcgi.params, p)
	sc.raw.fastcgi.paramsSet = true
	return nil
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

// mergeFastCGI inherits the FastCGI settings: the parameter list whole,
// when a level has none of its own.
func mergeFastCGI(r *fastcgiRaw, p FastCGI) FastCGI {
	c := p
	if r.paramsSet {
		c.Params = r.params
	}
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

// applyFastCGI gives a level that passes requests with fastcgi_pass the
// fastcgi_ settings it shares with the proxy module, as its FastCGI
// shadow inherited them.
func applyFastCGI(c, v *LocConf) {
	c.ProxyConnectTimeout, c.ProxyReadTimeout, c.ProxySendTimeout = v.ProxyConnectTimeout, v.ProxyReadTimeout, v.ProxySendTimeout
	c.ProxyBuffering, c.ProxyBufferSize = v.ProxyBuffering, v.ProxyBufferSize
	c.ProxyBuffersNum, c.ProxyBuffersSize, c.ProxyBusyBuffersSize = v.ProxyBuffersNum, v.ProxyBuffersSize, v.ProxyBusyBuffersSize
	c.ProxyMaxTempFileSize, c.ProxyTempFileWriteSize, c.ProxyTempPath = v.ProxyMaxTempFileSize, v.ProxyTempFileWriteSize, v.ProxyTempPath
	c.ProxyRequestBuffering, c.ProxyInterceptErrors = v.ProxyRequestBuffering, v.ProxyInterceptErrors
	c.ProxyHideHeaders, c.ProxyIgnoreHeaders = v.ProxyHideHeaders, v.ProxyIgnoreHeaders
	c.ProxyNextUpstream, c.ProxyNextUpstreamTries, c.ProxyNextUpstreamTimeout = v.ProxyNextUpstream, v.ProxyNextUpstreamTries, v.ProxyNextUpstreamTimeout
	c.ProxyIgnoreClientAbort, c.ProxyPassRequestHeaders, c.ProxyPassRequestBody = v.ProxyIgnoreClientAbort, v.ProxyPassRequestHeaders, v.ProxyPassRequestBody
	c.ProxySocketKeepalive, c.ProxyBind, c.ProxyLimitRate = v.ProxySocketKeepalive, v.ProxyBind, v.ProxyLimitRate
	// Neither the proxy module's request settings nor its rewriting of
	// the answer apply.
	c.ProxySetHeaders, c.ProxySetHeadersCache, c.ProxySetBody, c.ProxyMethod = nil, nil, nil, nil
	c.ProxyRedirects, c.ProxyRedirectOff = nil, true
	c.ProxyCookieDomains, c.ProxyCookiePaths, c.ProxyCookieFlags = nil, nil, nil
	// A body that comes in chunks may stream (fastcgi_request_buffering
	// off): the transport turns its chunks into STDIN records.
	c.ProxyHTTPVersion = "1.1"
	// proxy_cache is the proxy module's; fastcgi_cache is another.
	c.Cache.Path, c.Cache.PathVar = nil, nil
}
