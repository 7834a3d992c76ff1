package proxy

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// This file writes a request's context into error log lines, and keeps the
// record of every upstream try for the $upstream_* variables.

func serverName(s *conf.Server) string {
	if s != nil {
		return s.Name
	}
	return ""
}

// logError writes an error log line with nginx's context: client,
// server, request, upstream and host.
func (cc *clientConn) logError(msg string) { cc.logAt(logs.Error, msg) }

// logAt writes msg with the request's context at the given level.
func (cc *clientConn) logAt(level logs.Level, msg string) {
	r := cc.r
	var b []byte
	b = appendConnNumber(b, cc.id)
	b = append(b, msg...)
	b = append(b, ", client: "...)
	b = appendAddr(b, cc.clientAddr().Addr())
	b = append(b, ", server: "...)
	b = append(b, serverName(r.srv)...)
	b = append(b, ", request: \""...)
	b = append(b, r.line...)
	b = append(b, '"')
	// Like nginx, only a request that has reached its upstream (not one
	// stopped by limit_conn or limit_req before) names it.
	if r.group != nil && r.lc != nil && r.lc.ProxyPass != nil {
		// A gateway's upstream (FastCGI, SCGI, uwsgi) has no URI of its
		// own.
		proto := r.lc.ProxyPass.Protocol
		b = append(b, ", upstream: \""...)
		b = append(b, proto.String()...)
		b = append(b, "://"...)
		if r.peer != nil {
			b = append(b, r.peer.Conf.Addr...)
			if strings.HasPrefix(r.peer.Conf.Addr, "unix:") {
				// nginx writes a unix socket's URL as unix:PATH:URI.
				b = append(b, ':')
			}
		} else {
			b = append(b, r.proxyPass().Host...)
		}
		if !proto.Gateway() {
			b = appendUpstreamURI(b, r)
		}
		b = append(b, '"')
	}
	if r.head.Host != nil {
		b = append(b, ", host: \""...)
		b = append(b, r.head.Host...)
		b = append(b, '"')
	}
	cc.w.srv.errorLogFor(r.lc).Logf(level, cc.w.id, "%s", b)
}

// appendUpstreamURI appends the request-target sent upstream as nginx's
// proxy module builds it: the client's own target when proxy_pass has no
// URI part and neither a redirect, a rewrite nor "set $args" changed the
// request (nginx's valid_unparsed_uri), without a fragment; otherwise the URI, with the
// location's prefix replaced by proxy_pass's URI part while the location
// is valid for it, escaped when the client's path had escapes or the
// request was redirected or rewritten (nginx's quoted_uri and internal),
// and the arguments after a "?" when there are any.
func appendUpstreamURI(b []byte, r *request) []byte {
	pp := r.proxyPass()
	if r.ppDynamic && pp.HasURI {
		// A proxy_pass with variables and a URI part sends that URI as
		// it is, as nginx does.
		return append(b, pp.URI...)
	}
	h := &r.head
	internal := r.internal || r.rewritten
	escape := internal || bytes.IndexByte(h.Path, '%') >= 0
	uri := r.uri
	if !pp.HasURI || r.loc == nil || r.loc.Match == conf.MatchRegex || r.loc.Match == conf.MatchRegexCaseless || r.script.locInvalid {
		if !internal && !r.script.argsSet {
			if len(h.Target) > 0 && h.Target[0] == '/' {
				// nginx passes a fragment on; it is cut here, because
				// an upstream that reads '#' as part of the path
				// ("/public#/../admin") would serve another resource
				// than the one this request's location was chosen for.
				t := h.Target
				if i := bytes.IndexByte(t, '#'); i >= 0 {
					t = t[:i]
				}
				return append(b, t...)
			}
			b = append(b, h.Path...)
			if h.Query != nil {
				b = append(b, '?')
				b = append(b, h.Query...)
			}
			return b
		}
	} else {
		b = append(b, pp.URI...)
		uri = nil
		if len(r.uri) >= len(r.loc.Path) {
			uri = r.uri[len(r.loc.Path):]
		}
	}
	if escape {
		b = appendEscapedURI(b, uri)
	} else {
		b = append(b, uri...)
	}
	if len(h.Query) > 0 {
		b = append(b, '?')
		b = append(b, h.Query...)
	}
	return b
}

// upLogAppend records one attempt for $upstream_addr and friends, which
// list every server tried, separated by ", ".
func (cc *clientConn) upLogAppend(addr string, status int) {
	r := cc.r
	r.tryOpen = false
	if upCountsWanted() {
		cc.logTryCounts(len(r.upAddrs) == 0)
	}
	if len(r.upAddrs) > 0 {
		r.upAddrs = append(r.upAddrs, ", "...)
		r.upStatuses = append(r.upStatuses, ", "...)
		r.upTimes = append(r.upTimes, ", "...)
		r.upConnects = append(r.upConnects, ", "...)
		r.upHeaders = append(r.upHeaders, ", "...)
	}
	if addr == "" {
		addr = r.proxyPass().Host
	}
	r.upAddrs = append(r.upAddrs, addr...)
	if status == 0 {
		// A try that got no status, as nginx writes it.
		r.upStatuses = append(r.upStatuses, '-')
	} else {
		r.upStatuses = strconv.AppendInt(r.upStatuses, int64(status), 10)
	}
	now := cc.w.loop.Now()
	r.upTimes = appendSeconds(r.upTimes, now.Sub(r.upStart))
	if r.upConnect > 0 || r.respHead {
		r.upConnects = appendSeconds(r.upConnects, r.upConnect)
	} else {
		r.upConnects = append(r.upConnects, '-')
	}
	if r.respHead {
		r.upHeaders = appendSeconds(r.upHeaders, r.upHeader)
	} else {
		r.upHeaders = append(r.upHeaders, '-')
	}
}

// appendSeconds formats a duration as nginx does: seconds with
// millisecond precision.
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	ms := d.Milliseconds()
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	frac := ms % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// appendConnNumber starts a line about a connection with its number
// ($connection) as nginx does, "*12 ", so that the lines of one
// connection can be found together, and so that tools that read nginx's
// error log (fail2ban's filters expect "*N" before the message) read
// headroom's.
func appendConnNumber(b []byte, id uint64) []byte {
	b = append(b, '*')
	b = strconv.AppendUint(b, id, 10)
	return append(b, ' ')
}
