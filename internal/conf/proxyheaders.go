package conf

import (
	"regexp"
	"strconv"
	"strings"

	"headroom/internal/vars"
)

// defaultHideHeaders are the upstream response fields nginx's proxy module
// does not pass to the client (ngx_http_proxy_hide_headers), in its order:
// it sends its own Date and Server, and the X-Accel fields are
// instructions to the proxy.
var defaultHideHeaders = []string{
	"Date", "Server", "X-Pad",
	"X-Accel-Expires", "X-Accel-Redirect", "X-Accel-Limit-Rate", "X-Accel-Buffering", "X-Accel-Charset",
}

// proxyHeadersRaw holds what one level sets of the fields and body sent
// upstream and of the response fields passed to the client; nil means
// not set here.
type proxyHeadersRaw struct {
	// hideHeaders and passHeaders are proxy_hide_header's and
	// proxy_pass_header's fields as written; each list is inherited on
	// its own, by a level without one.
	hideHeaders        []string
	passHeaders        []string
	method             *vars.Template
	passRequestHeaders *bool
	passRequestBody    *bool
	setBody            *vars.Template
	ignoreClientAbort  *bool
	cookieDomains      cookieRules
	cookiePaths        cookieRules
	cookieFlags        cookieFlagRules
	// redirects are proxy_redirect's rules (set with none: off).
	redirects cookieRules
}

// cookieFlagRules is what one level sets with proxy_cookie_flags: rules,
// or "off" (set with no rules).
type cookieFlagRules struct {
	set   bool
	rules []CookieFlags
}

// cookieRules is what one level sets with proxy_cookie_domain or
// proxy_cookie_path: rules, or "off" (set with no rules).
type cookieRules struct {
	set   bool
	rules []CookieRewrite
}

// proxyHeadersMerged is what a merged level passes to the levels below
// besides its LocConf: the proxy_hide_header and proxy_pass_header lists
// it set or inherited, since the fields it hides are made from both.
type proxyHeadersMerged struct {
	hideHeaders []string
	passHeaders []string
}

func proxyHeaderDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "proxy_hide_header", ctx: hsl, args: arg1, set: setProxyHideHeader,
			syntax: "proxy_hide_header field;",
			doc:    "Hides an upstream response field from the client, besides those nginx hides (Date, Server, X-Pad, X-Accel-Expires, X-Accel-Redirect, X-Accel-Limit-Rate, X-Accel-Buffering, X-Accel-Charset); may be repeated. Inherited only by levels with none of their own."},
		{name: "proxy_pass_header", ctx: hsl, args: arg1, set: setProxyPassHeader,
			syntax: "proxy_pass_header field;",
			doc:    "Passes one of the fields hidden by default to the client; a passed Date or Server replaces headroom's own, and none is sent when the upstream sends none. May be repeated; inherited only by levels with none of their own."},
		{name: "proxy_method", ctx: hsl, args: arg1, set: setProxyMethod,
			syntax: "proxy_method method;",
			doc:    "Sets the method of the request sent upstream instead of the client's; variables are allowed."},
		{name: "proxy_pass_request_headers", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ph.passRequestHeaders }),
			syntax: "proxy_pass_request_headers on | off;", def: "on",
			doc: "Passes the client's request fields upstream; off sends only the proxy_set_header fields and the body's framing."},
		{name: "proxy_pass_request_body", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ph.passRequestBody }),
			syntax: "proxy_pass_request_body on | off;", def: "on",
			doc: "Passes the client's request body upstream; off reads it whole and sends none, with the client's Content-Length still sent unless proxy_set_header sets that field, as in nginx."},
		{name: "proxy_set_body", ctx: hsl, args: arg1, set: setProxySetBody,
			syntax: "proxy_set_body value;",
			doc:    "Sends the value, which may contain variables, as the request body upstream with its Content-Length; the client's body is read and dropped."},
		{name: "proxy_ignore_client_abort", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ph.ignoreClientAbort }),
			syntax: "proxy_ignore_client_abort on | off;", def: "off",
			doc: "Keeps the request to the upstream going when the client closes its connection before the response; off ends it (logged as 499)."},
		{name: "proxy_cookie_domain", ctx: hsl, args: take12, set: cookieRuleSlot(func(r *rawLoc) *cookieRules { return &r.ph.cookieDomains }, true),
			syntax: "proxy_cookie_domain off | domain replacement;", def: "off",
			doc: "Rewrites the domain attribute of the upstream's Set-Cookie fields that equals domain (case-insensitively, leading dots ignored), or matches a regex given as ~regex (always caseless; captures usable in the replacement); several may be set, the first that matches applies. Inherited only by levels with none of their own."},
		{name: "proxy_redirect", ctx: hsl, args: take12, set: setProxyRedirect,
			syntax: "proxy_redirect default | off | redirect replacement;", def: "default",
			doc: "Rewrites the Location and Refresh fields of upstream answers: a value starting with redirect (or matching the regex ~ or ~*, whose captures the replacement may use) has that part replaced; rules are tried in order, the first that matches applies. default is proxy_pass's URL replaced by the location's name; off rewrites nothing. Inherited only by levels with no rule of their own."},
		{name: "proxy_cookie_path", ctx: hsl, args: take12, set: cookieRuleSlot(func(r *rawLoc) *cookieRules { return &r.ph.cookiePaths }, false),
			syntax: "proxy_cookie_path off | path replacement;", def: "off",
			doc: "Rewrites the path attribute of the upstream's Set-Cookie fields: the leading part that equals path is replaced, or, with ~regex or ~*regex (caseless), the whole value that matches; several may be set, the first that matches applies. Inherited only by levels with none of their own."},
		{name: "proxy_cookie_flags", ctx: hsl, args: take1234, set: setProxyCookieFlags,
			syntax: "proxy_cookie_flags off | cookie [flag ...];", def: "off",
			doc: "Sets or removes attributes of the upstream's Set-Cookie fields whose name equals cookie (case-insensitively; variables allowed) or matches a regex given as ~regex (always caseless): the flags, up to three, are secure, httponly, samesite=strict, samesite=lax, samesite=none, nosecure, nohttponly and nosamesite, case-insensitive, may contain variables and are checked per response (an unknown one is ignored). Attributes present are edited in place, missing Secure, HttpOnly and SameSite appended. Several may be set, the first whose cookie matches applies. Inherited only by levels with none of their own."},
	}
}

// setProxyHideHeader and setProxyPassHeader follow nginx's
// ngx_conf_set_str_array_slot: every directive adds a field.
func setProxyHideHeader(b *builder, n *Node, sc *scope) error {
	sc.raw.ph.hideHeaders = append(sc.raw.ph.hideHeaders, n.Args[0])
	return nil
}

func setProxyPassHeader(b *builder, n *Node, sc *scope) error {
	sc.raw.ph.passHeaders = append(sc.raw.ph.passHeaders, n.Args[0])
	return nil
}

// setProxyMethod follows nginx's ngx_http_set_complex_value_slot.
func setProxyMethod(b *builder, n *Node, sc *scope) error {
	if sc.raw.ph.method != nil {
		return duplicate(n)
	}
	t, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	sc.raw.ph.method = t
	return nil
}

// setProxySetBody follows nginx's ngx_conf_set_str_slot; nginx compiles
// the value when it merges the levels, headroom when it reads it.
func setProxySetBody(b *builder, n *Node, sc *scope) error {
	if sc.raw.ph.setBody != nil {
		return duplicate(n)
	}
	t, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	sc.raw.ph.setBody = t
	return nil
}

// cookieRuleSlot makes the handler of proxy_cookie_domain (domain) or
// proxy_cookie_path, as nginx's ngx_http_proxy_cookie_domain and
// ngx_http_proxy_cookie_path: "off" alone, or any number of rules, at one
// level.
func setProxyRedirect(b *builder, n *Node, sc *scope) error {
	rr := &sc.raw.ph.redirects
	if len(n.Args) == 1 {
		switch n.Args[0] {
		case "off":
			if rr.set {
				return duplicate(n)
			}
			rr.set = true
			return nil
		case "default":
			pp := sc.raw.proxyPass
			if pp == nil {
				return errAt(n, "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive")
			}
			if pp.URL != nil {
				return errAt(n, "\"proxy_redirect default\" cannot be used with \"proxy_pass\" directive with variables")
			}
			pattern, replacement := "http://"+pp.Host+"/", "/"
			if pp.HasURI {
				pattern, replacement = "http://"+pp.Host+pp.URI, sc.loc.path
			}
			if rr.set && rr.rules == nil {
				return duplicate(n)
			}
			rr.set = true
			rr.rules = append(rr.rules, CookieRewrite{Pattern: literalTemplate(pattern), Replacement: literalTemplate(replacement)})
			return nil
		}
		return errAt(n, "invalid parameter \"%s\"", n.Args[0])
	}
	if rr.set && rr.rules == nil {
		return duplicate(n)
	}
	pattern, replacement := n.Args[0], n.Args[1]
	var rule CookieRewrite
	var err error
	if src, ok := strings.CutPrefix(pattern, "~"); ok {
		src, caseless := strings.CutPrefix(src, "*")
		re, rerr := compileRegex(src, caseless)
		if rerr != nil {
			return errAt(n, "%s", regexError(src, rerr))
		}
		rule.Regex, rule.Caseless = re, caseless
	} else if rule.Pattern, err = b.template(n, pattern); err != nil {
		return err
	}
	if rule.Replacement, err = b.template(n, replacement); err != nil {
		return err
	}
	rr.set = true
	rr.rules = append(rr.rules, rule)
	return nil
}

func cookieRuleSlot(field func(*rawLoc) *cookieRules, domain bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		cr := field(sc.raw)
		if cr.set && cr.rules == nil {
			// After "off" nothing more may be set.
			return duplicate(n)
		}
		if len(n.Args) == 1 {
			if n.Args[0] != "off" {
				return errAt(n, "invalid parameter \"%s\"", n.Args[0])
			}
			if cr.set {
				return duplicate(n)
			}
			cr.set = true
			return nil
		}
		pattern, replacement := n.Args[0], n.Args[1]
		var rule CookieRewrite
		if src, ok := strings.CutPrefix(pattern, "~"); ok {
			// proxy_cookie_domain's regexes are always caseless; for
			// paths "~*" asks for that.
			caseless := domain
			if !domain {
				src, caseless = strings.CutPrefix(src, "*")
			}
			re, err := compileRegex(src, caseless)
			if err != nil {
				return errAt(n, "%s", regexError(src, err))
			}
			rule.Regex, rule.Caseless = re, caseless
			if rule.Replacement, err = b.template(n, replacement); err != nil {
				return err
			}
		} else {
			if domain {
				// A leading dot means nothing in a cookie's domain.
				pattern = strings.TrimPrefix(pattern, ".")
				replacement = strings.TrimPrefix(replacement, ".")
			}
			var err error
			if rule.Pattern, err = b.template(n, pattern); err != nil {
				return err
			}
			if rule.Replacement, err = b.template(n, replacement); err != nil {
				return err
			}
		}
		cr.set = true
		cr.rules = append(cr.rules, rule)
		return nil
	}
}

// setProxyCookieFlags follows nginx's ngx_http_proxy_cookie_flags: "off"
// alone, or any number of rules, at one level. The flags are compiled
// but, as in nginx, checked only when a response is rewritten.
func setProxyCookieFlags(b *builder, n *Node, sc *scope) error {
	cf := &sc.raw.ph.cookieFlags
	if cf.set && cf.rules == nil {
		// After "off" nothing more may be set.
		return duplicate(n)
	}
	if len(n.Args) == 1 {
		if n.Args[0] != "off" {
			return errAt(n, "invalid parameter \"%s\"", n.Args[0])
		}
		if cf.set {
			return duplicate(n)
		}
		cf.set = true
		return nil
	}
	var rule CookieFlags
	if src, ok := strings.CutPrefix(n.Args[0], "~"); ok {
		re, err := compileRegex(src, true)
		if err != nil {
			return errAt(n, "%s", regexError(src, err))
		}
		rule.Regex = re
	} else {
		var err error
		if rule.Name, err = b.template(n, n.Args[0]); err != nil {
			return err
		}
	}
	for _, a := range n.Args[1:] {
		t, err := b.template(n, a)
		if err != nil {
			return err
		}
		rule.Flags = append(rule.Flags, t)
	}
	cf.set = true
	cf.rules = append(cf.rules, rule)
	return nil
}

// mergeProxyHeaders sets a merged level's request and response fields as
// nginx's ngx_http_proxy_merge_loc_conf and
// ngx_http_upstream_hide_headers_hash do: proxy_hide_header and
// proxy_pass_header each inherit their list when the level has none,
// the cookie rules are inherited whole by a level without any (nor
// "off"), the rest are inherited when unset.
func mergeProxyHeaders(r *rawLoc, parent, m *merged) {
	ph, p, c := &r.ph, parent.conf, m.conf
	c.ProxyMethod = inherit(ph.method, p.ProxyMethod)
	c.ProxySetBody = inherit(ph.setBody, p.ProxySetBody)
	c.ProxyPassRequestHeaders = pick(ph.passRequestHeaders, p.ProxyPassRequestHeaders)
	c.ProxyPassRequestBody = pick(ph.passRequestBody, p.ProxyPassRequestBody)
	c.ProxyIgnoreClientAbort = pick(ph.ignoreClientAbort, p.ProxyIgnoreClientAbort)
	c.ProxyCookieDomains = p.ProxyCookieDomains
	if ph.cookieDomains.set {
		c.ProxyCookieDomains = ph.cookieDomains.rules
	}
	c.ProxyCookiePaths = p.ProxyCookiePaths
	if ph.cookiePaths.set {
		c.ProxyCookiePaths = ph.cookiePaths.rules
	}
	c.ProxyRedirects, c.ProxyRedirectOff = p.ProxyRedirects, p.ProxyRedirectOff
	if ph.redirects.set {
		c.ProxyRedirects, c.ProxyRedirectOff = ph.redirects.rules, ph.redirects.rules == nil
	}
	c.ProxyCookieFlags = p.ProxyCookieFlags
	if ph.cookieFlags.set {
		c.ProxyCookieFlags = ph.cookieFlags.rules
	}

	m.ph = parent.ph
	if ph.hideHeaders != nil {
		m.ph.hideHeaders = ph.hideHeaders
	}
	if ph.passHeaders != nil {
		m.ph.passHeaders = ph.passHeaders
	}
	c.ProxyHideHeaders = hiddenFields(m.ph.hideHeaders, m.ph.passHeaders)

	// A configured Content-Length or Transfer-Encoding replaces nginx's
	// default of that name, the body's framing.
	for _, h := range m.setHeaders {
		switch {
		case strings.EqualFold(h.Name, "Content-Length"):
			c.ProxySetContentLength = true
		case strings.EqualFold(h.Name, "Transfer-Encoding"):
			c.ProxySetTransferEncoding = true
		}
	}
}

// hiddenFields lists the response fields hidden from the client: nginx's
// defaults and the proxy_hide_header fields, each once (compared
// case-insensitively), less the proxy_pass_header ones. It is nil when
// neither directive applies, for the defaults.
func hiddenFields(hide, pass []string) []string {
	if hide == nil && pass == nil {
		return nil
	}
	out := make([]string, 0, len(defaultHideHeaders)+len(hide))
	has := func(list []string, name string) bool {
		for _, s := range list {
			if strings.EqualFold(s, name) {
				return true
			}
		}
		return false
	}
	for _, h := range append(append([]string(nil), defaultHideHeaders...), hide...) {
		if !has(out, h) && !has(pass, h) {
			out = append(out, h)
		}
	}
	return out
}

// dumpProxyHeaders shows a level's request and response field settings.
func (d *dumper) proxyHeaders(depth int, c *LocConf) {
	d.line(depth, "proxy_request method=%s headers=%s body=%s set_body=%s ignore_client_abort=%s set_framing=%v,%v",
		tmpl(c.ProxyMethod), onOffName(c.ProxyPassRequestHeaders), onOffName(c.ProxyPassRequestBody), tmpl(c.ProxySetBody),
		onOffName(c.ProxyIgnoreClientAbort), c.ProxySetContentLength, c.ProxySetTransferEncoding)
	hide := "default"
	if c.ProxyHideHeaders != nil {
		hide = strings.Join(c.ProxyHideHeaders, ",")
		if hide == "" {
			hide = "none"
		}
	}
	flags := ""
	if c.ProxyCookieFlags != nil {
		// Shown only when set, so that other levels' lines stay as they were.
		flags = " cookie_flags=" + cookieFlagsText(c.ProxyCookieFlags)
	}
	switch {
	case c.ProxyRedirectOff:
		flags += " redirect=off"
	case c.ProxyRedirects != nil:
		flags += " redirect=" + cookieRulesText(c.ProxyRedirects)
	}
	d.line(depth, "proxy_response hide=%s cookie_domain=%s cookie_path=%s%s",
		hide, cookieRulesText(c.ProxyCookieDomains), cookieRulesText(c.ProxyCookiePaths), flags)
}

func cookieFlagsText(rules []CookieFlags) string {
	var parts []string
	for _, r := range rules {
		name := ""
		if r.Regex != nil {
			name = "~" + strconv.Quote(regexSource(r.Regex))
		} else {
			name = tmpl(r.Name)
		}
		var flags []string
		for _, f := range r.Flags {
			flags = append(flags, tmpl(f))
		}
		parts = append(parts, name+":"+strings.Join(flags, ","))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func cookieRulesText(rules []CookieRewrite) string {
	if rules == nil {
		return "off"
	}
	var parts []string
	for _, r := range rules {
		pattern := ""
		switch {
		case r.Regex != nil && r.Caseless:
			pattern = "~*" + strconv.Quote(regexSource(r.Regex))
		case r.Regex != nil:
			pattern = "~" + strconv.Quote(regexSource(r.Regex))
		default:
			pattern = tmpl(r.Pattern)
		}
		parts = append(parts, pattern+"->"+tmpl(r.Replacement))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// regexSource is a regex as written, without the caseless flag
// compileRegex adds.
func regexSource(re *regexp.Regexp) string {
	return strings.TrimPrefix(re.String(), "(?i)")
}
