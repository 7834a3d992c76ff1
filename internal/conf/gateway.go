package conf

import (
	"strings"

	"headroom/internal/vars"
)

// Protocol is what an upstream group is spoken to in: HTTP by proxy_pass,
// or one of the gateway protocols by fastcgi_pass, scgi_pass and
// uwsgi_pass. nginx has a module per protocol, each with its own copy of
// the upstream machinery's settings; headroom keeps one machinery and a
// copy of the settings per module (the shadows).
type Protocol uint8

// The protocols; the gateways number the shadows from 1.
const (
	ProtoHTTP Protocol = iota
	ProtoFastCGI
	ProtoSCGI
	ProtoUWSGI
	numProtocols
)

// numGateways is how many gateway modules there are.
const numGateways = int(numProtocols) - 1

var protocolNames = [...]string{"http", "fastcgi", "scgi", "uwsgi"}

// String is the module's prefix ("fastcgi") and the scheme nginx writes
// in its log lines ("fastcgi://").
func (p Protocol) String() string { return protocolNames[p] }

// Gateway reports whether the protocol is a gateway's (not HTTP).
func (p Protocol) Gateway() bool { return p != ProtoHTTP }

// GatewayParam is one fastcgi_param, scgi_param or uwsgi_param.
type GatewayParam struct {
	Name       string
	Value      *vars.Template
	IfNotEmpty bool
}

// SCGI holds the scgi module's own settings.
type SCGI struct {
	Params []GatewayParam
}

// UWSGI holds the uwsgi module's own settings: its parameters, the
// packet header's modifiers and uwsgi_string, sent after the variables.
type UWSGI struct {
	Params               []GatewayParam
	Modifier1, Modifier2 int
	String               string
}

// paramsRaw is what a level sets of a gateway's parameter list.
type paramsRaw struct {
	params    []GatewayParam
	paramsSet bool
}

// uwsgiRaw is what a level sets of the uwsgi module's own settings.
type uwsgiRaw struct {
	paramsRaw
	modifier1, modifier2 *int
	str                  *string
}

// gatewayShared are the settings a gateway module's X shares with
// proxy_X: the same arguments, defaults and meaning, for the requests
// the module passes.
var gatewayShared = strings.Fields(`connect_timeout read_timeout send_timeout
	buffering buffer_size buffers busy_buffers_size max_temp_file_size
	temp_file_write_size temp_path request_buffering intercept_errors
	hide_header pass_header ignore_headers next_upstream next_upstream_tries
	next_upstream_timeout ignore_client_abort pass_request_headers
	pass_request_body socket_keepalive bind limit_rate`)

// sharedDirectives makes a gateway module's directives that it shares
// with the proxy module from the proxy module's.
func sharedDirectives(p Protocol, proxy []*directive) []*directive {
	byName := map[string]*directive{}
	for _, d := range proxy {
		byName[d.name] = d
	}
	var out []*directive
	for _, name := range gatewayShared {
		d := byName["proxy_"+name]
		if d == nil {
			panic("no proxy_" + name)
		}
		out = append(out, &directive{
			name: p.String() + "_" + name, ctx: d.ctx, nginxOnly: d.nginxOnly, args: d.args, set: shadowed(p, d.set),
			syntax: strings.ReplaceAll(d.syntax, "proxy_", p.String()+"_"), def: d.def,
			doc: "As proxy_" + name + ", for requests passed with " + p.String() + "_pass; each module inherits its own.",
		})
	}
	return out
}

// shadowed runs a proxy directive's handler on the level's shadow of the
// gateway module, and names the module's directive in its messages.
func shadowed(p Protocol, set func(*builder, *Node, *scope) error) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		i := int(p) - 1
		if sc.raw.shadows[i] == nil {
			sc.raw.shadows[i] = &rawLoc{}
		}
		shadow := *sc
		shadow.raw = sc.raw.shadows[i]
		err := set(b, n, &shadow)
		if e, ok := err.(*Error); ok && e != errSkip {
			e.Msg = strings.ReplaceAll(e.Msg, "\"proxy_", "\""+p.String()+"_")
		}
		return err
	}
}

// gatewayPass makes the handler of fastcgi_pass, scgi_pass or
// uwsgi_pass: an address (host:port, unix:path, an upstream group's
// name) as nginx's URL parser reads it, or one with variables, evaluated
// per request. uwsgi_pass also takes a "uwsgi://" prefix.
func gatewayPass(p Protocol) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		if sc.raw.proxyPass != nil && sc.raw.proxyPass.Protocol == p {
			return duplicate(n)
		}
		if sc.raw.handler != HandlerNone {
			return errAt(n, "\"%s\" cannot be combined with \"%s\" at the same level", n.Name, sc.raw.handler)
		}
		addr := n.Args[0]
		if p == ProtoUWSGI {
			lower := strings.ToLower(addr)
			switch {
			case strings.HasPrefix(lower, "uwsgi://"):
				addr = addr[len("uwsgi://"):]
			case strings.HasPrefix(lower, "suwsgi://"):
				return skip(b.unsupportedPart(n, "suwsgi://", "uwsgi over SSL (\"suwsgi://\") is not supported by headroom"))
			}
		}
		if hasVariables(addr) {
			// Evaluated per request as proxy_pass's URL is, and read
			// as one of its host parts.
			t, err := b.template(n, "http://"+addr)
			if err != nil {
				return err
			}
			sc.raw.proxyPass = &ProxyPass{Scheme: p.String(), Protocol: p, Host: addr, URL: t}
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
				b.http.noPort = append(b.http.noPort, u)
			}
		}
		if err != nil {
			return err
		}
		sc.raw.proxyPass = &ProxyPass{Scheme: p.String(), Protocol: p, Host: addr, ProxyHost: addr, Upstream: u.up}
		return nil
	}
}

// paramSlot makes the handler of a gateway's X_param directive.
func paramSlot(field func(*rawLoc) *paramsRaw) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := GatewayParam{Name: n.Args[0]}
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
		pr := field(sc.raw)
		pr.params = append(pr.params, p)
		pr.paramsSet = true
		return nil
	}
}

// mergeParams inherits a parameter list whole, when a level has none of
// its own.
func mergeParams(r *paramsRaw, p []GatewayParam) []GatewayParam {
	if r.paramsSet {
		return r.params
	}
	return p
}

// mergeShadows merges the level's shadows, each on its parent's, and
// gives a level that passes with a gateway module that module's settings.
func mergeShadows(r *rawLoc, parent, m *merged) {
	for i := range m.shadows {
		if parent.shadows[i] == nil {
			return
		}
		shadow := r.shadows[i]
		if shadow == nil {
			shadow = &rawLoc{}
		}
		m.shadows[i] = merge(shadow, parent.shadows[i])
	}
	applyShadow(m.conf, m)
}

// applyShadow gives a level whose handler is a gateway module's the
// settings that module shares with the proxy module, as its shadow
// inherited them.
func applyShadow(c *LocConf, m *merged) {
	pp := c.ProxyPass
	if pp == nil || !pp.Protocol.Gateway() || m.shadows[pp.Protocol-1] == nil {
		return
	}
	v := m.shadows[pp.Protocol-1].conf
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
	// A body that comes in chunks may stream to a FastCGI application
	// (the transport turns its chunks into STDIN records); SCGI and
	// uwsgi need its length first, so it is read whole (as the proxy
	// module reads one for HTTP/1.0).
	c.ProxyHTTPVersion = "1.0"
	if pp.Protocol == ProtoFastCGI {
		c.ProxyHTTPVersion = "1.1"
	}
	// proxy_cache is the proxy module's.
	c.Cache.Path, c.Cache.PathVar = nil, nil
}

// scgiDirectives are the SCGI module's directives.
func scgiDirectives(proxy []*directive) []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	out := []*directive{
		{name: "scgi_pass", ctx: ctxLocation | ctxIf, args: arg1, set: gatewayPass(ProtoSCGI),
			syntax: "scgi_pass address;",
			doc:    "Passes requests to an SCGI server at host:port, unix:path or an upstream group (variables allowed): CONTENT_LENGTH, the scgi_param parameters and the client's fields as HTTP_ ones in a netstring, then the body (read whole first). The answer (an HTTP status line or a CGI head with Status) is read until the server closes, through the same buffering, error pages and logging as a proxied answer."},
		{name: "scgi_param", ctx: hsl, args: take23, set: paramSlot(func(r *rawLoc) *paramsRaw { return &r.scgi }),
			syntax: "scgi_param parameter value [if_not_empty];",
			doc:    "Sets a parameter passed to the SCGI server; with if_not_empty an empty value is not passed. A level's list replaces its parent's. An HTTP_ parameter replaces the client's field of that name."},
	}
	return append(out, sharedDirectives(ProtoSCGI, proxy)...)
}

// uwsgiDirectives are the uwsgi module's directives.
func uwsgiDirectives(proxy []*directive) []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	out := []*directive{
		{name: "uwsgi_pass", ctx: ctxLocation | ctxIf, args: arg1, set: gatewayPass(ProtoUWSGI),
			syntax: "uwsgi_pass [uwsgi://]address;",
			doc:    "Passes requests to a uwsgi server (uWSGI running a Python application) at host:port, unix:path or an upstream group (variables allowed): a packet of the uwsgi_param parameters and the client's fields as HTTP_ ones, then the body (read whole first). The answer (an HTTP status line or a CGI head with Status) is read until the server closes, through the same buffering, error pages and logging as a proxied answer. suwsgi:// (uwsgi over SSL) is not supported by headroom."},
		{name: "uwsgi_param", ctx: hsl, args: take23, set: paramSlot(func(r *rawLoc) *paramsRaw { return &r.uwsgi.paramsRaw }),
			syntax: "uwsgi_param parameter value [if_not_empty];",
			doc:    "Sets a parameter passed to the uwsgi server; with if_not_empty an empty value is not passed. A level's list replaces its parent's. An HTTP_ parameter replaces the client's field of that name."},
		{name: "uwsgi_modifier1", ctx: hsl, args: arg1, set: setUWSGIModifier(func(r *uwsgiRaw) **int { return &r.modifier1 }),
			syntax: "uwsgi_modifier1 number;", def: "0",
			doc: "Sets the first modifier of the uwsgi packet header (0 to 255)."},
		{name: "uwsgi_modifier2", ctx: hsl, args: arg1, set: setUWSGIModifier(func(r *uwsgiRaw) **int { return &r.modifier2 }),
			syntax: "uwsgi_modifier2 number;", def: "0",
			doc: "Sets the second modifier of the uwsgi packet header (0 to 255)."},
		{name: "uwsgi_string", ctx: hsl, args: arg1, set: setUWSGIString,
			syntax: "uwsgi_string string;",
			doc:    "A string sent after the packet's variables."},
	}
	return append(out, sharedDirectives(ProtoUWSGI, proxy)...)
}

func setUWSGIModifier(field func(*uwsgiRaw) **int) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(&sc.raw.uwsgi)
		if *p != nil {
			return duplicate(n)
		}
		v, ok := atoi(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid number", n.Name)
		}
		if v > 255 {
			return errAt(n, "value must be between 0 and 255")
		}
		*p = &v
		return nil
	}
}

func setUWSGIString(b *builder, n *Node, sc *scope) error {
	if sc.raw.uwsgi.str != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	sc.raw.uwsgi.str = &v
	return nil
}

// mergeUWSGI inherits the uwsgi module's own settings.
func mergeUWSGI(r *uwsgiRaw, p UWSGI) UWSGI {
	return UWSGI{
		Params:    mergeParams(&r.paramsRaw, p.Params),
		Modifier1: pick(r.modifier1, p.Modifier1),
		Modifier2: pick(r.modifier2, p.Modifier2),
		String:    pick(r.str, p.String),
	}
}
