package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/observe"
	"headroom/internal/vars"
)

// eval appends a template's value for the current request.
func (cc *clientConn) eval(b []byte, t *vars.Template) []byte {
	for i := range t.Parts {
		p := &t.Parts[i]
		if p.Var == "" {
			b = append(b, p.Literal...)
			continue
		}
		b, _ = cc.appendVar(b, p)
	}
	return b
}

// getter appends a variable's value for the current request; ok is false
// when the variable has no value (logs print "-" then). suffix is the rest
// of a family's name.
type getter func(cc *clientConn, b []byte, suffix string) ([]byte, bool)

// getters holds one getter per variable of the registry, indexed by
// vars.Index; a test checks that none is missing.
var getters [vars.NumIndexes]getter

func init() {
	g := &getters
	g[vars.Unknown] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) { return b, false }
	// The configuration's variables and the captures are read by slot
	// (appendVar), never through this table.
	g[vars.User], g[vars.Capture] = g[vars.Unknown], g[vars.Unknown]
	g[vars.RemoteAddr] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendAddr(b, cc.clientAddr().Addr()), true
	}
	g[vars.BinaryRemoteAddr] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// The address's bytes (4 for IPv4, 16 for IPv6); a unix-socket
		// client is "unix:" as in nginx.
		a := cc.clientAddr().Addr()
		switch {
		case !a.IsValid():
			return append(b, "unix:"...), true
		case a.Is4():
			v := a.As4()
			return append(b, v[:]...), true
		default:
			v := a.As16()
			return append(b, v[:]...), true
		}
	}
	g[vars.RemotePort] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendPort(b, cc.clientAddr()), true
	}
	g[vars.ServerAddr] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.appendServerAddr(b), true
	}
	g[vars.ServerPort] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendPort(b, cc.localAddrPort()), true
	}
	g[vars.ServerName] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, serverName(cc.r.srv)...), true
	}
	g[vars.Host] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if host, ok := normalizeHost(cc.r.head.Host); ok && host != "" {
			return append(b, host...), true
		}
		return append(b, serverName(cc.r.srv)...), true
	}
	g[vars.Hostname] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, hostname...), true
	}
	g[vars.Request] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, cc.r.line...), len(cc.r.line) > 0
	}
	g[vars.RequestMethod] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, cc.r.head.Method...), cc.r.head.Method != nil
	}
	g[vars.RequestURI] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, cc.r.head.Target...), cc.r.head.Target != nil
	}
	g[vars.URI] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, cc.r.uri...), cc.r.uri != nil
	}
	g[vars.DocumentURI] = g[vars.URI]
	g[vars.DocumentRoot] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.appendRoot(b), true
	}
	g[vars.RequestFilename] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.mapURI(b, cc.r.uri), true
	}
	g[vars.RealpathRoot] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		root := cc.appendRoot(nil)
		real, err := filepath.EvalSymlinks(string(root))
		if err != nil {
			cc.logAt(logs.Crit, "realpath() \""+string(root)+"\" failed ("+err.Error()+")")
			return b, false
		}
		return append(b, real...), true
	}
	g[vars.Args] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, cc.r.head.Query...), cc.r.head.Query != nil
	}
	g[vars.QueryString] = g[vars.Args]
	g[vars.IsArgs] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// "?" only with arguments that are not empty, as nginx's.
		if len(cc.r.head.Query) > 0 {
			return append(b, '?'), true
		}
		return b, true
	}
	g[vars.RealIPRemoteAddr] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendAddr(b, cc.remote.Addr()), true
	}
	g[vars.InvalidReferer] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// "1" when valid_referers does not list the request's Referer,
		// empty when it does or when there is no valid_referers.
		r := cc.r
		if r.lc == nil {
			return b, true
		}
		ref := headerValue(r.head.Headers, "Referer")
		if r.lc.Referers.Invalid(ref, ref != nil) {
			return append(b, '1'), true
		}
		return b, true
	}
	g[vars.RealIPRemotePort] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.appendRealIPPort(b), true
	}
	g[vars.ProxyProtocolAddr] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendProxyAddr(b, cc.pp, false)
	}
	g[vars.ProxyProtocolPort] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendProxyPort(b, cc.pp, false)
	}
	g[vars.ProxyProtocolServerAddr] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendProxyAddr(b, cc.pp, true)
	}
	g[vars.ProxyProtocolServerPort] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendProxyPort(b, cc.pp, true)
	}
	g[vars.SecureLink] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if cc.r.lc == nil {
			return b, false
		}
		return cc.appendSecureLink(b)
	}
	g[vars.SecureLinkExpires] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if cc.r.lc == nil {
			return b, false
		}
		return cc.appendSecureLinkExpires(b)
	}
	g[vars.GzipRatio] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.appendGzipRatio(b)
	}
	g[vars.Pipe] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if cc.r.pipelined {
			return append(b, 'p'), true
		}
		return append(b, '.'), true
	}
	g[vars.RequestID] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		r := cc.r
		if len(r.requestID) == 0 {
			// 16 random bytes in hexadecimal, made once per request, as
			// nginx's.
			var id [16]byte
			cc.w.rand.Read(id[:])
			r.requestID = hex.AppendEncode(r.requestID, id[:])
		}
		return append(b, r.requestID...), true
	}
	connections := func(pick func(observe.Connections) int64) getter {
		return func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
			cc.w.publish()
			t := cc.w.srv.totals()
			return strconv.AppendInt(b, pick(t.connections()), 10), true
		}
	}
	g[vars.ConnectionsActive] = connections(func(c observe.Connections) int64 { return c.Active })
	g[vars.ConnectionsReading] = connections(func(c observe.Connections) int64 { return c.Reading })
	g[vars.ConnectionsWriting] = connections(func(c observe.Connections) int64 { return c.Writing })
	g[vars.ConnectionsWaiting] = connections(func(c observe.Connections) int64 { return c.Waiting })
	g[vars.LimitReqStatus] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, cc.r.limitReqStatus...), cc.r.limitReqStatus != ""
	}
	g[vars.LimitConnStatus] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, cc.r.limitConnStatus...), cc.r.limitConnStatus != ""
	}
	g[vars.LimitRate] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		rate := cc.r.limitRate
		if rate == 0 && !cc.r.respHead && cc.r.lc != nil {
			rate = cc.limitRateFor()
		}
		return strconv.AppendInt(b, rate, 10), true
	}
	g[vars.Scheme] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if cc.tlsOpen() {
			return append(b, "https"...), true
		}
		return append(b, "http"...), true
	}
	g[vars.HTTPS] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if cc.tlsOpen() {
			return append(b, "on"...), true
		}
		return b, true
	}
	g[vars.SSLProtocol] = tlsVar(func(b []byte, st *tls.ConnectionState) []byte {
		return append(b, tlsVersionName(st.Version)...)
	})
	g[vars.SSLCipher] = tlsVar(func(b []byte, st *tls.ConnectionState) []byte {
		return append(b, opensslSuiteName(st.CipherSuite)...)
	})
	g[vars.SSLServerName] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// Not found without SNI, as in nginx. During the handshake (a
		// certificate with variables) it is the name the ClientHello
		// asked for.
		t, ok := cc.connTLS()
		if !ok || t.state == tlsPlain {
			return b, false
		}
		name := t.raw.serverName
		if t.state == tlsOpen {
			name = t.conn.ConnectionState().ServerName
		}
		return append(b, name...), name != ""
	}
	g[vars.SSLCiphers] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// The suites the client offered, by OpenSSL's names.
		t, ok := cc.connTLS()
		if !ok || t.state != tlsOpen {
			return b, false
		}
		for i, id := range t.raw.suites {
			if i > 0 {
				b = append(b, ':')
			}
			b = append(b, opensslSuiteName(id)...)
		}
		return b, true
	}
	g[vars.SSLSessionID] = tlsVar(func(b []byte, st *tls.ConnectionState) []byte {
		// crypto/tls has no session IDs: this names the connection's
		// keys instead (32 bytes exported from them, in hex).
		id, err := st.ExportKeyingMaterial("headroom session id", nil, 32)
		if err != nil {
			return b
		}
		return hex.AppendEncode(b, id)
	})
	g[vars.SSLCurve] = tlsVar(func(b []byte, st *tls.ConnectionState) []byte {
		return append(b, conf.OpenSSLCurveName(st.CurveID)...)
	})
	g[vars.SSLCurves] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// The groups the client offered, as the handshake saw them.
		t, ok := cc.connTLS()
		if !ok || t.state != tlsOpen {
			return b, false
		}
		for i, id := range t.raw.curves {
			if i > 0 {
				b = append(b, ':')
			}
			b = append(b, conf.OpenSSLCurveName(id)...)
		}
		return b, true
	}
	g[vars.SSLSessionReused] = tlsVar(func(b []byte, st *tls.ConnectionState) []byte {
		if st.DidResume {
			return append(b, 'r')
		}
		return append(b, '.')
	})
	g[vars.HTTP2] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if cc.h2 == nil {
			return b, true
		}
		if _, ok := cc.connTLS(); ok {
			return append(b, "h2"...), true
		}
		return append(b, "h2c"...), true
	}
	g[vars.ServerProtocol] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		h := &cc.r.head
		if h.Method == nil {
			return b, false
		}
		if cc.h2 != nil {
			return append(b, "HTTP/2.0"...), true
		}
		if h.Minor == 0 {
			return append(b, "HTTP/1.0"...), true
		}
		return append(b, "HTTP/1.1"...), true
	}
	g[vars.Status] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if cc.r.status == 0 {
			return append(b, "000"...), true
		}
		return strconv.AppendInt(b, int64(cc.r.status), 10), true
	}
	g[vars.BodyBytesSent] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return strconv.AppendInt(b, cc.r.bodySent, 10), true
	}
	g[vars.BytesSent] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return strconv.AppendInt(b, cc.r.bytesSent, 10), true
	}
	g[vars.RequestLength] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		head := cc.r.headLen
		if cc.h2 != nil {
			// A stream's head is its header block, as nginx counts it.
			head = cc.h2.headLen
		}
		return strconv.AppendInt(b, int64(head)+cc.r.bodyRead, 10), true
	}
	g[vars.RequestTime] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return appendSeconds(b, cc.w.loop.Now().Sub(cc.r.start)), true
	}
	g[vars.Msec] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		now := cc.w.loop.Now()
		b = strconv.AppendInt(b, now.Unix(), 10)
		b = append(b, '.')
		ms := now.Nanosecond() / int(time.Millisecond)
		return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10)), true
	}
	g[vars.TimeLocal] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.w.loop.Now().AppendFormat(b, "02/Jan/2006:15:04:05 -0700"), true
	}
	g[vars.FastCGIScriptName] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.appendFastCGIScriptName(b), true
	}
	g[vars.FastCGIPathInfo] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		_, pathInfo := cc.fastcgiSplit()
		return append(b, pathInfo...), true
	}
	g[vars.DateGMT] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.ssiDate(b, true), true
	}
	g[vars.DateLocal] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.ssiDate(b, false), true
	}
	g[vars.TimeISO8601] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return cc.w.loop.Now().AppendFormat(b, "2006-01-02T15:04:05-07:00"), true
	}
	g[vars.Connection] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return strconv.AppendUint(b, cc.id, 10), true
	}
	g[vars.ConnectionRequests] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return strconv.AppendInt(b, int64(cc.requests), 10), true
	}
	g[vars.ConnectionTime] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// Seconds since the connection was accepted, to the millisecond.
		return appendSeconds(b, cc.w.loop.Now().Sub(cc.accepted)), true
	}
	g[vars.Pid] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, pidString...), true
	}
	g[vars.NginxVersion] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		return append(b, NginxVersion...), true
	}
	g[vars.ProxyHost] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if lc := cc.r.lc; lc != nil && lc.ProxyPass != nil {
			return append(b, cc.r.proxyPass().ProxyHost...), true
		}
		return b, false
	}
	g[vars.ProxyPort] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if lc := cc.r.lc; lc != nil && lc.ProxyPass != nil {
			return append(b, cc.r.proxyPass().ProxyPort...), true
		}
		return b, false
	}
	g[vars.ProxyAddXForwardedFor] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		start := len(b)
		b = appendJoined(b, cc.r.head.Headers, "x_forwarded_for", ", ")
		if len(b) > start {
			b = append(b, ", "...)
		}
		return appendAddr(b, cc.clientAddr().Addr()), true
	}
	g[vars.UpstreamAddr] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		r := cc.r
		b = append(b, r.upAddrs...)
		if r.tryOpen && r.peer != nil {
			if len(r.upAddrs) > 0 {
				b = append(b, ", "...)
			}
			return append(b, r.peer.Conf.Addr...), true
		}
		return b, len(r.upAddrs) > 0
	}
	g[vars.UpstreamCacheStatus] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		st := cc.r.cache.status
		return append(b, cacheStatusNames[st]...), st != cacheNone
	}
	// The expired answer's validators, while its upstream is asked
	// about it (proxy_cache_revalidate).
	g[vars.UpstreamCacheLastModified] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		rc := &cc.r.cache
		ok := rc.status == cacheExpired && len(rc.lastModified) > 0
		return append(b, rc.lastModified...), ok
	}
	g[vars.UpstreamCacheETag] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		rc := &cc.r.cache
		ok := rc.status == cacheExpired && len(rc.etag) > 0
		return append(b, rc.etag...), ok
	}
	g[vars.UpstreamStatus] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		r := cc.r
		b = append(b, r.upStatuses...)
		if r.tryOpen && r.respHead {
			if len(r.upStatuses) > 0 {
				b = append(b, ", "...)
			}
			return strconv.AppendInt(b, int64(r.resp.Status), 10), true
		}
		return b, len(r.upStatuses) > 0
	}
	// The times name the try in progress too (as its address and status
	// do), read while its answer's head is written: its connect and
	// header times once they are known, "-" for its response time, which
	// is not known until it ends.
	g[vars.UpstreamResponseTime] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		r := cc.r
		b = append(b, r.upTimes...)
		if r.tryOpen && r.peer != nil {
			return append(appendTrySeparator(b, r.upTimes), '-'), true
		}
		return b, len(r.upTimes) > 0
	}
	g[vars.UpstreamConnectTime] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		r := cc.r
		b = append(b, r.upConnects...)
		if r.tryOpen && r.peer != nil {
			b = appendTrySeparator(b, r.upConnects)
			if r.upConnect > 0 || r.respHead {
				return appendSeconds(b, r.upConnect), true
			}
			return append(b, '-'), true
		}
		return b, len(r.upConnects) > 0
	}
	g[vars.UpstreamHeaderTime] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		r := cc.r
		b = append(b, r.upHeaders...)
		if r.tryOpen && r.peer != nil {
			b = appendTrySeparator(b, r.upHeaders)
			if r.respHead {
				return appendSeconds(b, r.upHeader), true
			}
			return append(b, '-'), true
		}
		return b, len(r.upHeaders) > 0
	}
	g[vars.ContentLength] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		h := &cc.r.head
		if v := headerValue(h.Headers, "Content-Length"); v != nil {
			return append(b, v...), true
		}
		// A body that came in chunks and was read whole has a length
		// now, as nginx's variable gives it.
		if !h.Chunked && h.ContentLength >= 0 {
			return strconv.AppendInt(b, h.ContentLength, 10), true
		}
		return b, false
	}
	g[vars.ContentType] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		v := headerValue(cc.r.head.Headers, "Content-Type")
		return append(b, v...), v != nil
	}
	g[vars.RemoteUser] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		// The user of an "Authorization: Basic" field, as nginx's
		// variable decodes it whether or not auth_basic is on.
		user, _, ok := basicCredentials(cc.r.head.Headers)
		return append(b, user...), ok
	}
	g[vars.HTTP] = func(cc *clientConn, b []byte, name string) ([]byte, bool) {
		hs := cc.r.head.Headers
		if name == "cookie" || name == "x_forwarded_for" {
			// nginx joins several Cookie and X-Forwarded-For fields.
			sep := ", "
			if name == "cookie" {
				sep = "; "
			}
			start := len(b)
			b = appendJoined(b, hs, name, sep)
			return b, len(b) > start || headerByVarName(hs, name) != nil
		}
		v := headerByVarName(hs, name)
		return append(b, v...), v != nil
	}
	g[vars.SentHTTP] = func(cc *clientConn, b []byte, name string) ([]byte, bool) {
		return cc.sentField(b, name)
	}
	g[vars.SentTrailer] = func(cc *clientConn, b []byte, name string) ([]byte, bool) {
		v := headerByVarName(cc.r.sentTrailers, name)
		return append(b, v...), v != nil
	}
	g[vars.Arg] = func(cc *clientConn, b []byte, name string) ([]byte, bool) {
		v, ok := queryArg(cc.r.head.Query, name)
		return append(b, v...), ok
	}
	g[vars.Cookie] = func(cc *clientConn, b []byte, name string) ([]byte, bool) {
		v, ok := cookie(cc.r.head.Headers, name)
		return append(b, v...), ok
	}
}

// sentField appends a field of the response head as headroom sends it
// ($sent_http_NAME): the fields the encoder writes in places of their
// own, Cache-Control and Link joined with ", " as nginx 1.22 joins
// them, else the first field of the name.
func (cc *clientConn) sentField(b []byte, name string) ([]byte, bool) {
	r := cc.r
	h := &r.outHead
	switch name {
	case "content_type":
		if h.contentType == "" && h.fieldType == nil {
			return b, false
		}
		return append(append(b, h.contentType...), h.fieldType...), true
	case "content_length":
		if h.contentLength < 0 {
			break
		}
		return strconv.AppendInt(b, h.contentLength, 10), true
	case "last_modified":
		if h.lastModified.IsZero() {
			break
		}
		return h.lastModified.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT"), true
	case "location":
		if h.location != nil {
			return append(b, h.location...), true
		}
	case "transfer_encoding":
		if h.chunked {
			return append(b, "chunked"...), true
		}
		return b, false
	case "connection":
		switch {
		case h.upgrade:
			return append(b, "upgrade"...), true
		case r.keepAlive:
			return append(b, "keep-alive"...), true
		}
		return append(b, "close"...), true
	case "cache_control", "link":
		if !hasVarNamed(h.fields, name) {
			return b, false
		}
		return appendJoined(b, h.fields, name, ", "), true
	}
	v := headerByVarName(h.fields, name)
	return append(b, v...), v != nil
}

// hasVarNamed reports whether a field matches a variable-style name.
func hasVarNamed(hs []http1.Header, v string) bool {
	return headerByVarName(hs, v) != nil
}

// appendTrySeparator separates the try in progress from the tries
// recorded before it.
func appendTrySeparator(b, recorded []byte) []byte {
	if len(recorded) > 0 {
		return append(b, ", "...)
	}
	return b
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
// lower case with '_' for '-'. A field whose own name has '_' (kept by
// underscores_in_headers or ignore_invalid_headers off) matches '_' too,
// as in nginx.
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
	if r.tryOpen && r.peer != nil {
		// A request that ends while a try is open (its client left)
		// records that try with the time it took, as nginx finalises
		// the upstream before logging.
		status := 0
		if r.respHead {
			status = r.resp.Status
		}
		cc.upLogAppend(r.peer.Conf.Addr, status)
	}
	lc := r.lc
	if lc == nil {
		lc = cc.ln.vhosts.def.Loc
	}
	if cc.sub != nil && !lc.LogSubrequest {
		// A subrequest is part of its main request's answer, which is
		// counted and logged; log_subrequest logs it as well.
		return
	}
	if r.status >= 100 && cc.sub == nil {
		cc.w.stats.Responses[observe.Class(r.status)].Inc()
	}
	for i := range lc.AccessLogs {
		al := &lc.AccessLogs[i]
		if al.PathTemplate != nil {
			cc.logToVarPath(al, lc)
			continue
		}
		if al.Syslog != nil {
			cc.logToSyslog(al, lc)
			continue
		}
		buf := cc.w.logBufs[al.Path]
		if buf == nil {
			continue
		}
		if cc.logRefused(al) {
			continue
		}
		buf.Buf = cc.appendLogLine(buf.Buf, al.Format)
		buf.Added(cc.w.loop.Now())
		// Without buffer= the line is written now, as nginx writes it
		// when the request ends: whoever got the answer finds its line
		// in the file. With buffer= it waits (see afterEvents, tick).
		if buf.Size == 0 || buf.Full() {
			buf.Flush(cc.w.srv.access)
		} else {
			cc.w.logsPending = true
		}
	}
}

func (cc *clientConn) appendLogLine(b []byte, f *conf.LogFormat) []byte {
	for i := range f.Template.Parts {
		p := &f.Template.Parts[i]
		if p.Var == "" {
			b = append(b, p.Literal...)
			continue
		}
		start := len(b)
		var ok bool
		b, ok = cc.appendVar(b, p)
		if !ok {
			// nginx writes "-" for a variable that is not found (nothing
			// with escape=json or escape=none); an empty value stays
			// empty.
			b = b[:start]
			if f.Escape == "default" {
				b = append(b, '-')
			}
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

// requestIDValue returns $request_id, made now if it was not yet.
func (cc *clientConn) requestIDValue() []byte {
	getters[vars.RequestID](cc, nil, "")
	return cc.r.requestID
}
