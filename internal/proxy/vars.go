package proxy

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/observe"
	"headroom/internal/vars"
)

// eval appends a template's value for the current request.
func (cc *clientConn) eval(b []byte, t *vars.Template) []byte {
	for _, p := range t.Parts {
		if p.Var == "" {
			b = append(b, p.Literal...)
			continue
		}
		b, _ = cc.appendVar(b, p.Var)
	}
	return b
}

// appendVar appends the value of one variable; ok is false when the
// variable has no value for this request (logs print "-" then).
func (cc *clientConn) appendVar(b []byte, name string) ([]byte, bool) {
	r := cc.r
	h := &r.head
	switch name {
	case "remote_addr", "binary_remote_addr":
		return cc.remote.Addr().AppendTo(b), true
	case "remote_port":
		return strconv.AppendUint(b, uint64(cc.remote.Port()), 10), true
	case "server_addr":
		return cc.ln.addrPort.Addr().AppendTo(b), true
	case "server_port":
		return strconv.AppendUint(b, uint64(cc.ln.addrPort.Port()), 10), true
	case "server_name":
		return append(b, serverName(r.srv)...), true
	case "host":
		if host, ok := normalizeHost(h.Host); ok && host != "" {
			return append(b, host...), true
		}
		return append(b, serverName(r.srv)...), true
	case "hostname":
		return append(b, hostname...), true
	case "request":
		return append(b, r.line...), len(r.line) > 0
	case "request_method":
		return append(b, h.Method...), h.Method != nil
	case "request_uri":
		return append(b, h.Target...), h.Target != nil
	case "uri", "document_uri":
		return append(b, r.uri...), r.uri != nil
	case "args", "query_string":
		return append(b, h.Query...), h.Query != nil
	case "is_args":
		if h.Query != nil {
			return append(b, '?'), true
		}
		return b, true
	case "scheme":
		return append(b, "http"...), true
	case "server_protocol":
		if h.Method == nil {
			return b, false
		}
		if h.Minor == 0 {
			return append(b, "HTTP/1.0"...), true
		}
		return append(b, "HTTP/1.1"...), true
	case "status":
		if r.status == 0 {
			return append(b, "000"...), true
		}
		return strconv.AppendInt(b, int64(r.status), 10), true
	case "body_bytes_sent":
		return strconv.AppendInt(b, r.bodySent, 10), true
	case "bytes_sent":
		return strconv.AppendInt(b, r.bytesSent, 10), true
	case "request_length":
		return strconv.AppendInt(b, int64(r.headLen)+r.bodyRead, 10), true
	case "request_time":
		return appendSeconds(b, cc.w.loop.Now().Sub(r.start)), true
	case "msec":
		now := cc.w.loop.Now()
		b = strconv.AppendInt(b, now.Unix(), 10)
		b = append(b, '.')
		ms := now.Nanosecond() / int(time.Millisecond)
		return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10)), true
	case "time_local":
		return cc.w.loop.Now().AppendFormat(b, "02/Jan/2006:15:04:05 -0700"), true
	case "time_iso8601":
		return cc.w.loop.Now().AppendFormat(b, "2006-01-02T15:04:05-07:00"), true
	case "connection":
		return strconv.AppendUint(b, cc.id, 10), true
	case "connection_requests":
		return strconv.AppendInt(b, int64(cc.requests), 10), true
	case "pid":
		return append(b, pidString...), true
	case "nginx_version":
		return append(b, NginxVersion...), true
	case "proxy_host":
		if r.lc != nil && r.lc.ProxyPass != nil {
			return append(b, r.lc.ProxyPass.ProxyHost...), true
		}
		return b, false
	case "proxy_port":
		if r.lc != nil && r.lc.ProxyPass != nil {
			return append(b, r.lc.ProxyPass.ProxyPort...), true
		}
		return b, false
	case "proxy_add_x_forwarded_for":
		start := len(b)
		b = appendJoined(b, h.Headers, "x_forwarded_for", ", ")
		if len(b) > start {
			b = append(b, ", "...)
		}
		return cc.remote.Addr().AppendTo(b), true
	case "upstream_addr":
		return append(b, r.upAddrs...), len(r.upAddrs) > 0
	case "upstream_status":
		return append(b, r.upStatuses...), len(r.upStatuses) > 0
	case "upstream_response_time":
		return append(b, r.upTimes...), len(r.upTimes) > 0
	case "upstream_connect_time":
		return append(b, r.upConnects...), len(r.upConnects) > 0
	case "upstream_header_time":
		return append(b, r.upHeaders...), len(r.upHeaders) > 0
	case "content_length":
		v := headerValue(h.Headers, "Content-Length")
		return append(b, v...), v != nil
	case "content_type":
		v := headerValue(h.Headers, "Content-Type")
		return append(b, v...), v != nil
	case "remote_user":
		return b, false
	}
	switch {
	case name == "http_cookie":
		// nginx joins several Cookie and X-Forwarded-For fields.
		start := len(b)
		b = appendJoined(b, h.Headers, "cookie", "; ")
		return b, len(b) > start || headerByVarName(h.Headers, "cookie") != nil
	case name == "http_x_forwarded_for":
		start := len(b)
		b = appendJoined(b, h.Headers, "x_forwarded_for", ", ")
		return b, len(b) > start || headerByVarName(h.Headers, "x_forwarded_for") != nil
	case strings.HasPrefix(name, "http_"):
		v := headerByVarName(h.Headers, name[5:])
		return append(b, v...), v != nil
	case strings.HasPrefix(name, "sent_http_"):
		v := headerByVarName(r.resp.Headers, name[10:])
		return append(b, v...), v != nil
	case strings.HasPrefix(name, "arg_"):
		v, ok := queryArg(h.Query, name[4:])
		return append(b, v...), ok
	case strings.HasPrefix(name, "cookie_"):
		v, ok := cookie(h.Headers, name[7:])
		return append(b, v...), ok
	}
	return b, false
}

var hostname, _ = os.Hostname()

// NginxVersion is the nginx release whose behaviour headroom follows.
const NginxVersion = "1.22.1"

// appendJoined appends the values of every field matching a
// variable-style name, separated by sep.
func appendJoined(b []byte, hs []http1.Header, v, sep string) []byte {
	first := true
	for i := range hs {
		if varNameMatches(hs[i].Name, v) {
			if !first {
				b = append(b, sep...)
			}
			first = false
			b = append(b, hs[i].Value...)
		}
	}
	return b
}

// headerByVarName finds the first field matching a variable-style name:
// lower case with '_' for '-'. Fields whose own names contain '_' are
// ignored, as nginx ignores them (underscores_in_headers off).
func headerByVarName(hs []http1.Header, v string) []byte {
	for i := range hs {
		if varNameMatches(hs[i].Name, v) {
			return hs[i].Value
		}
	}
	return nil
}

// varNameMatches compares a field name with a variable-style name.
func varNameMatches(n []byte, v string) bool {
	if len(n) != len(v) {
		return false
	}
	for j := 0; j < len(n); j++ {
		c := n[j]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		case c == '_':
			return false
		}
		if c != v[j] {
			return false
		}
	}
	return true
}

// queryArg returns the value of argument name in a query string
// (case-insensitive name, as nginx's $arg_).
func queryArg(q []byte, name string) ([]byte, bool) {
	for len(q) > 0 {
		var part []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			part, q = q[:i], q[i+1:]
		} else {
			part, q = q, nil
		}
		// As in nginx, an argument without '=' has no value to find.
		if i := bytes.IndexByte(part, '='); i >= 0 && http1.EqualFold(part[:i], name) {
			return part[i+1:], true
		}
	}
	return nil, false
}

// cookie returns the value of a cookie from the Cookie fields as nginx
// 1.22 finds it: names compared case-insensitively, ';' or ',' between
// cookies, spaces allowed around '='.
func cookie(hs []http1.Header, name string) ([]byte, bool) {
	for i := range hs {
		if !http1.EqualFold(hs[i].Name, "Cookie") {
			continue
		}
		v := hs[i].Value
		for len(v) > 0 {
			end := bytes.IndexAny(v, ";,")
			part := v
			if end >= 0 {
				part, v = v[:end], v[end+1:]
			} else {
				v = nil
			}
			eq := bytes.IndexByte(part, '=')
			if eq < 0 {
				continue
			}
			if http1.EqualFold(bytes.TrimSpace(part[:eq]), name) {
				return bytes.TrimSpace(part[eq+1:]), true
			}
		}
	}
	return nil, false
}

// logRequest appends the request's line to each access log of its
// location, buffered per worker.
func (cc *clientConn) logRequest() {
	r := cc.r
	// The request is done: its limit_conn counts end here, as nginx ends
	// them when it finalises the request, before any lingering close.
	cc.releaseLimits()
	if r.status >= 100 {
		cc.w.stats.Responses[observe.Class(r.status)].Inc()
	}
	lc := r.lc
	if lc == nil {
		lc = cc.ln.vhosts.def.Loc
	}
	for i := range lc.AccessLogs {
		al := &lc.AccessLogs[i]
		buf := cc.w.logBufs[al.Path]
		if buf == nil {
			continue
		}
		buf.Buf = cc.appendLogLine(buf.Buf, al.Format)
		if buf.Full() {
			buf.Flush(cc.w.srv.access)
		}
	}
}

func (cc *clientConn) appendLogLine(b []byte, f *conf.LogFormat) []byte {
	for _, p := range f.Template.Parts {
		if p.Var == "" {
			b = append(b, p.Literal...)
			continue
		}
		start := len(b)
		var ok bool
		b, ok = cc.appendVar(b, p.Var)
		if !ok {
			// nginx writes "-" for a variable that is not found; an empty
			// value stays empty.
			b = append(b[:start], '-')
			continue
		}
		b = escapeLog(b, start, f.Escape)
	}
	return append(b, '\n')
}

// escapeLog escapes the value at b[start:] as nginx's log module does:
// by default '"', '\' and bytes outside printable ASCII become \xHH; with
// escape=json, JSON string escapes; with none, nothing.
func escapeLog(b []byte, start int, mode string) []byte {
	if mode == "none" {
		return b
	}
	need := false
	for _, c := range b[start:] {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			need = true
			break
		}
	}
	if !need {
		return b
	}
	val := append([]byte(nil), b[start:]...)
	b = b[:start]
	const hexDigits = "0123456789ABCDEF"
	for _, c := range val {
		switch {
		case mode == "json" && (c == '"' || c == '\\'):
			b = append(b, '\\', c)
		case mode == "json" && c < 0x20:
			switch c {
			case '\t':
				b = append(b, '\\', 't')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
		case mode == "json":
			b = append(b, c)
		case c < 0x20 || c >= 0x7f || c == '"' || c == '\\':
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}
