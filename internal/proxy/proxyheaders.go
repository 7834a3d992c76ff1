package proxy

import (
	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/vars"
)

// This file holds what proxy_method, proxy_set_body,
// proxy_pass_request_body, proxy_hide_header, proxy_pass_header,
// proxy_cookie_domain, proxy_cookie_path and proxy_cookie_flags change
// in a request or a response. None of it runs for a location that sets none of them.

// appendProxyMethod appends proxy_method's method, as evaluated, and
// notes whether it is HEAD (compared case-insensitively, as nginx does),
// whose answer has no body.
func (cc *clientConn) appendProxyMethod(b []byte) []byte {
	r := cc.r
	start := len(b)
	b = cc.eval(b, r.lc.ProxyMethod)
	r.upHead = http1.EqualFold(b[start:], "HEAD")
	return b
}

// proxyMethodFraming adjusts the client's framing when proxy_method sent
// another method than the client's, as nginx does. A client's HEAD sent
// as another method leaves the upstream's body unread, so the upstream
// connection is not reused. Another method sent as HEAD gets an answer
// without a body: its Content-Length, if any, is passed on with no body,
// and without one the body is an empty chunked one for HTTP/1.1 and ends
// with the connection for HTTP/1.0.
func (cc *clientConn) proxyMethodFraming() {
	r := cc.r
	resp := &r.resp
	clientHead := isHead(&r.head)
	if clientHead == r.upHead {
		return
	}
	if resp.Status < 200 || resp.Status == 204 || resp.Status == 304 {
		return
	}
	if clientHead {
		if resp.Chunked || resp.ContentLength != 0 {
			resp.KeepAlive = false
		}
		return
	}
	if resp.ContentLength >= 0 && !resp.Chunked {
		return
	}
	if r.head.Minor >= 1 {
		r.chunkOut = true
	} else {
		r.keepAlive = false
	}
}

// hiddenByDefault reports the upstream fields nginx's proxy module hides
// (ngx_http_proxy_hide_headers): Date and Server, replaced by its own,
// X-Pad and the X-Accel fields it acts on.
func hiddenByDefault(name []byte) bool {
	switch len(name) {
	case 4:
		return http1.EqualFold(name, "Date")
	case 5:
		return http1.EqualFold(name, "X-Pad")
	case 6:
		return http1.EqualFold(name, "Server")
	case 15:
		return http1.EqualFold(name, "X-Accel-Expires") || http1.EqualFold(name, "X-Accel-Charset")
	case 16:
		return http1.EqualFold(name, "X-Accel-Redirect")
	case 17:
		return http1.EqualFold(name, "X-Accel-Buffering")
	case 18:
		return http1.EqualFold(name, "X-Accel-Limit-Rate")
	}
	return false
}

// listedField reports whether name is in list, case-insensitively.
func listedField(list []string, name []byte) bool {
	for _, s := range list {
		if http1.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// cookieAttr is one "key=value" or "key" part of a Set-Cookie field;
// value is nil without "=".
type cookieAttr struct {
	key, value []byte
	// removed is set by proxy_cookie_flags' nosecure, nohttponly and
	// nosamesite (nginx's NULL key).
	removed bool
}

// maxCookieAttrs bounds the attributes a Set-Cookie field is parsed
// into on the stack; a field with more is split into more only on the
// heap.
const maxCookieAttrs = 16

// appendSetCookie appends a Set-Cookie field's value with its domain and
// path attributes rewritten by proxy_cookie_domain and proxy_cookie_path,
// as nginx's ngx_http_proxy_rewrite_cookie does: the value is split at
// ";" into attributes (spaces around keys and values trimmed), the first
// must be "name=value", each Domain and Path attribute is rewritten by
// the first rule that matches it, proxy_cookie_flags' first rule whose
// cookie matches the name edits and appends flags, and if anything was
// rewritten, the field is written again as "key=value; key=value"
// (attributes removed by flags left out); else it is passed as it came.
func (cc *clientConn) appendSetCookie(b, value []byte) []byte {
	lc := cc.r.lc
	var stack [maxCookieAttrs]cookieAttr
	attrs := parseCookie(stack[:0], value)
	if attrs[0].value == nil {
		return append(b, value...)
	}
	var scratch []byte
	rewritten := false
	for i := 1; i < len(attrs); i++ {
		a := &attrs[i]
		if a.value == nil {
			continue
		}
		var rules []conf.CookieRewrite
		domain := false
		switch {
		case lc.ProxyCookieDomains != nil && http1.EqualFold(a.key, "domain"):
			rules, domain = lc.ProxyCookieDomains, true
		case lc.ProxyCookiePaths != nil && http1.EqualFold(a.key, "path"):
			rules = lc.ProxyCookiePaths
		default:
			continue
		}
		for j := range rules {
			start := len(scratch)
			var ok bool
			if scratch, ok = cc.rewriteCookieValue(scratch, a.value, &rules[j], domain); ok {
				a.value = scratch[start:len(scratch):len(scratch)]
				rewritten = true
				break
			}
			scratch = scratch[:start]
		}
	}
	if lc.ProxyCookieFlags != nil {
		var ok bool
		if attrs, ok = cc.rewriteCookieFlags(attrs, scratch); ok {
			rewritten = true
		}
	}
	if !rewritten {
		return append(b, value...)
	}
	for i := range attrs {
		if attrs[i].removed {
			continue
		}
		if i > 0 {
			b = append(b, "; "...)
		}
		b = append(b, attrs[i].key...)
		if attrs[i].value != nil {
			b = append(b, '=')
			b = append(b, attrs[i].value...)
		}
	}
	return b
}

// The flags of proxy_cookie_flags, nginx's
// ngx_http_proxy_cookie_flags_masks.
const (
	cookieSecureOn = 1 << iota
	cookieSecureOff
	cookieHTTPOnlyOn
	cookieHTTPOnlyOff
	cookieSameSiteStrict
	cookieSameSiteLax
	cookieSameSiteNone
	cookieSameSiteOff
)

var cookieFlagNames = [...]struct {
	name string
	flag int
}{
	{"secure", cookieSecureOn},
	{"nosecure", cookieSecureOff},
	{"httponly", cookieHTTPOnlyOn},
	{"nohttponly", cookieHTTPOnlyOff},
	{"samesite=strict", cookieSameSiteStrict},
	{"samesite=lax", cookieSameSiteLax},
	{"samesite=none", cookieSameSiteNone},
	{"nosamesite", cookieSameSiteOff},
}

// rewriteCookieFlags applies the first proxy_cookie_flags rule whose
// cookie matches the cookie's name, as nginx's
// ngx_http_proxy_rewrite_cookie_flags and ngx_http_proxy_edit_cookie_flags
// do; ok is false when none matches or its flags, evaluated, are all
// empty or unknown. scratch is spare room for evaluating templates.
func (cc *clientConn) rewriteCookieFlags(attrs []cookieAttr, scratch []byte) ([]cookieAttr, bool) {
	name := attrs[0].key
	rules := cc.r.lc.ProxyCookieFlags
	var rule *conf.CookieFlags
	for i := range rules {
		r := &rules[i]
		if r.Regex != nil {
			if r.Regex.Match(name) {
				rule = r
				break
			}
			continue
		}
		start := len(scratch)
		scratch = cc.eval(scratch, r.Name)
		matched := http1.EqualFold(name, string(scratch[start:]))
		scratch = scratch[:start]
		if matched {
			rule = r
			break
		}
	}
	if rule == nil {
		return attrs, false
	}
	flags := 0
	for _, t := range rule.Flags {
		start := len(scratch)
		scratch = cc.eval(scratch, t)
		v := scratch[start:]
		for _, f := range &cookieFlagNames {
			if len(v) == len(f.name) && http1.EqualFold(v, f.name) {
				flags |= f.flag
				break
			}
		}
		scratch = scratch[:start]
	}
	if flags == 0 {
		return attrs, false
	}
	for i := 1; i < len(attrs); i++ {
		a := &attrs[i]
		switch {
		case len(a.key) == 6 && http1.EqualFold(a.key, "secure"):
			if flags&cookieSecureOn != 0 {
				flags &^= cookieSecureOn
			} else if flags&cookieSecureOff != 0 {
				a.removed = true
			}
		case len(a.key) == 8 && http1.EqualFold(a.key, "httponly"):
			if flags&cookieHTTPOnlyOn != 0 {
				flags &^= cookieHTTPOnlyOn
			} else if flags&cookieHTTPOnlyOff != 0 {
				a.removed = true
			}
		case len(a.key) == 8 && http1.EqualFold(a.key, "samesite"):
			// A value already equal, case-insensitively, is left as
			// written; another is replaced with key and value.
			var want string
			switch {
			case flags&cookieSameSiteStrict != 0:
				flags &^= cookieSameSiteStrict
				want = "Strict"
			case flags&cookieSameSiteLax != 0:
				flags &^= cookieSameSiteLax
				want = "Lax"
			case flags&cookieSameSiteNone != 0:
				flags &^= cookieSameSiteNone
				want = "None"
			case flags&cookieSameSiteOff != 0:
				a.removed = true
				continue
			default:
				continue
			}
			if len(a.value) != len(want) || !http1.EqualFold(a.value, want) {
				a.key, a.value = sameSiteKey, sameSiteValue(want)
			}
		}
	}
	if flags&cookieSecureOn != 0 {
		attrs = append(attrs, cookieAttr{key: secureKey})
	}
	if flags&cookieHTTPOnlyOn != 0 {
		attrs = append(attrs, cookieAttr{key: httpOnlyKey})
	}
	switch {
	case flags&cookieSameSiteStrict != 0:
		attrs = append(attrs, cookieAttr{key: sameSiteKey, value: sameSiteStrict})
	case flags&cookieSameSiteLax != 0:
		attrs = append(attrs, cookieAttr{key: sameSiteKey, value: sameSiteLax})
	case flags&cookieSameSiteNone != 0:
		attrs = append(attrs, cookieAttr{key: sameSiteKey, value: sameSiteNone})
	}
	return attrs, true
}

// sameSiteValue is the shared, read-only bytes of a SameSite value.
func sameSiteValue(v string) []byte {
	switch v {
	case "Strict":
		return sameSiteStrict
	case "Lax":
		return sameSiteLax
	}
	return sameSiteNone
}

// The attributes proxy_cookie_flags writes; they are only read.
var (
	secureKey      = []byte("Secure")
	httpOnlyKey    = []byte("HttpOnly")
	sameSiteKey    = []byte("SameSite")
	sameSiteStrict = []byte("Strict")
	sameSiteLax    = []byte("Lax")
	sameSiteNone   = []byte("None")
)

// parseCookie splits a Set-Cookie value as nginx's
// ngx_http_proxy_parse_cookie does. It always returns one attribute at
// least.
func parseCookie(attrs []cookieAttr, v []byte) []cookieAttr {
	for {
		end := len(v)
		for i, c := range v {
			if c == ';' {
				end = i
				break
			}
		}
		part := v[:end]
		for len(part) > 0 && part[0] == ' ' {
			part = part[1:]
		}
		var a cookieAttr
		eq := len(part)
		for i, c := range part {
			if c == '=' {
				eq = i
				break
			}
		}
		a.key = trimRightSpaces(part[:eq])
		if eq < len(part) {
			val := part[eq+1:]
			for len(val) > 0 && val[0] == ' ' {
				val = val[1:]
			}
			a.value = trimRightSpaces(val)
		}
		attrs = append(attrs, a)
		if end == len(v) {
			return attrs
		}
		v = v[end+1:]
	}
}

func trimRightSpaces(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// rewriteCookieValue applies one rule to a Domain or Path value,
// appending the new value to dst; ok is false when the rule does not
// match. The handlers are nginx's: a domain pattern must equal the whole
// value but a leading dot, which stays; a path pattern its leading part;
// a regex must match the value, which its replacement then replaces
// whole.
func (cc *clientConn) rewriteCookieValue(dst, value []byte, rule *conf.CookieRewrite, domain bool) ([]byte, bool) {
	if rule.Regex != nil {
		m := rule.Regex.FindSubmatchIndex(value)
		if m == nil {
			return dst, false
		}
		return cc.evalCaptures(dst, rule.Replacement, value, m), true
	}
	start := len(dst)
	dst = cc.eval(dst, rule.Pattern)
	pattern := dst[start:]
	prefix, rest := 0, value
	if domain {
		if len(rest) > 0 && rest[0] == '.' {
			prefix, rest = 1, rest[1:]
		}
		if len(pattern) != len(rest) || !http1.EqualFold(rest, string(pattern)) {
			return dst[:start], false
		}
	} else if len(pattern) > len(rest) || string(rest[:len(pattern)]) != string(pattern) {
		return dst[:start], false
	}
	matched := len(pattern)
	dst = dst[:start]
	dst = append(dst, value[:prefix]...)
	dst = cc.eval(dst, rule.Replacement)
	return append(dst, value[prefix+matched:]...), true
}

// evalCaptures appends a regex rule's replacement: the captures are
// the rule's own match's groups ($1 to $9; one that did not take part
// in the match, or beyond the regex's groups, is empty), the others the
// request's variables.
func (cc *clientConn) evalCaptures(b []byte, t *vars.Template, subject []byte, m []int) []byte {
	for i := range t.Parts {
		p := &t.Parts[i]
		if p.Var == "" {
			b = append(b, p.Literal...)
			continue
		}
		if p.Index == vars.Capture {
			n := p.Slot
			if 2*n+1 < len(m) && m[2*n] >= 0 {
				b = append(b, subject[m[2*n]:m[2*n+1]]...)
			}
			continue
		}
		b, _ = cc.appendVar(b, p)
	}
	return b
}
