package conf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// connectionPoolSize is nginx's default connection_pool_size on 64-bit
// systems, the floor for large_client_header_buffers' size.
const connectionPoolSize = 512

// pageSize is the memory page size nginx's defaults are counted in
// (client_body_buffer_size is two pages): 4 KiB on x86-64 and on most
// arm64 systems. It is a constant so that defaults do not depend on the
// machine the configuration is read on.
const pageSize = 4 << 10

// defaultProxyHeaders are the headers nginx sets upstream unless
// configured otherwise; the empty ones stop the client's header of that
// name from being passed.
var defaultProxyHeaders = []struct{ name, value string }{
	{"Host", "$proxy_host"},
	{"Connection", "close"},
	{"TE", ""},
	{"Keep-Alive", ""},
	{"Expect", ""},
	{"Upgrade", ""},
}

// cacheProxyHeaders are nginx's defaults for a request whose answer may
// be cached (ngx_http_proxy_cache_headers): the request's conditional
// and range fields are not passed, so that the upstream's answer is
// whole and can serve every later request; the conditional fields carry
// the expired answer's validators when proxy_cache_revalidate asks.
var cacheProxyHeaders = append(defaultProxyHeaders[:len(defaultProxyHeaders):len(defaultProxyHeaders)],
	struct{ name, value string }{"If-Modified-Since", "$upstream_cache_last_modified"},
	struct{ name, value string }{"If-Unmodified-Since", ""},
	struct{ name, value string }{"If-None-Match", "$upstream_cache_etag"},
	struct{ name, value string }{"If-Match", ""},
	struct{ name, value string }{"Range", ""},
	struct{ name, value string }{"If-Range", ""},
)

// merged is a level's settings after inheritance, with the configured
// proxy_set_header list it inherited or set, which nested levels inherit
// before the defaults are added.
type merged struct {
	conf       *LocConf
	setHeaders []HeaderTemplate
	// busyBuffersSize and tempFileWriteSize are what the level set or
	// inherited (nil when no level set them), since their defaults
	// depend on each level's buffer sizes.
	busyBuffersSize   *int
	tempFileWriteSize *int
	// ph holds the proxy_hide_header and proxy_pass_header lists.
	ph proxyHeadersMerged
	// shadows are the level's shadows merged (nil within a shadow): the
	// settings each gateway module's X shares with proxy_X, inherited
	// apart, one chain per module.
	shadows [numGateways]*merged
}

// defaultLevel is the parent of the http level: nginx's defaults.
// proxy_busy_buffers_size and proxy_temp_file_write_size have none here:
// they default to twice the larger buffer size at each level
// (mergeProxyBuffers).
func (b *builder) defaultLevel() *merged {
	m := b.defaultSettings()
	for i := range m.shadows {
		m.shadows[i] = b.defaultSettings()
	}
	return m
}

// defaultSettings are nginx's defaults of one module's chain of levels.
func (b *builder) defaultSettings() *merged {
	return &merged{conf: &LocConf{
		Static:                       b.defaultStatic(),
		SSL:                          defaultSSL(),
		ProxySSL:                     defaultProxySSL(),
		AbsoluteRedirect:             true,
		UninitializedVariableWarn:    true,
		ServerTokens:                 true,
		ChunkedTransferEncoding:      true,
		Gzip:                         Gzip{Level: 1, MinLength: 20, HTTPVersion: 1, Proxied: GzipProxiedOff},
		SSI:                          SSI{ValueLength: 256},
		SubFilter:                    SubFilter{Once: true},
		RealIP:                       RealIP{Header: "X-Real-IP"},
		Autoindex:                    defaultAutoindex,
		KeepaliveTime:                time.Hour,
		KeepaliveDisable:             KeepaliveDisableMSIE6,
		PortInRedirect:               true,
		MSIE:                         defaultMSIE,
		Cache:                        defaultCache(),
		ProxyHTTPVersion:             "1.0",
		ProxyConnectTimeout:          60 * time.Second,
		ResolverTimeout:              30 * time.Second,
		ProxyReadTimeout:             60 * time.Second,
		ProxySendTimeout:             60 * time.Second,
		ProxyNextUpstream:            NextError | NextTimeout,
		KeepaliveTimeout:             75 * time.Second,
		KeepaliveRequests:            1000,
		ClientMaxBodySize:            1 << 20,
		ClientHeaderTimeout:          60 * time.Second,
		ClientBodyTimeout:            60 * time.Second,
		SendTimeout:                  60 * time.Second,
		LargeClientHeaderBuffersNum:  4,
		ClientHeaderBufferSize:       1 << 10,
		LargeClientHeaderBuffersSize: 8 << 10,
		MergeSlashes:                 true,
		IgnoreInvalidHeaders:         true,
		ProxyRequestBuffering:        true,
		ProxyPassRequestHeaders:      true,
		ProxyPassRequestBody:         true,
		ClientBodyMinRate:            240,
		ClientBodyMinRateGrace:       defaultMinRateGrace,
		SendMinRate:                  240,
		SendMinRateGrace:             defaultMinRateGrace,
		ClientBodyBufferSize:         2 * pageSize,
		ClientBodyTempPath:           b.tempPath(defaultClientBodyTemp),
		ProxyTempPath:                b.tempPath(defaultProxyTemp),
		ProxyBuffering:               true,
		ProxyBufferSize:              pageSize,
		SubrequestOutputBufferSize:   pageSize,
		PostponeOutput:               1460,
		ProxyBuffersNum:              8,
		ProxyBuffersSize:             pageSize,
		ProxyMaxTempFileSize:         1024 << 20,
		LimitConnStatus:              503,
		LimitConnLogLevel:            "error",
		LimitReqStatus:               503,
		LimitReqLogLevel:             "error",
		HTTP2MaxConcurrentStreams:    defaultHTTP2MaxConcurrentStreams,
		HTTP2ChunkSize:               defaultHTTP2ChunkSize,
		LingeringTime:                30 * time.Second,
		LingeringTimeout:             5 * time.Second,
		HTTP2BodyPrereadSize:         defaultHTTP2BodyPrereadSize,
		HTTP2StreamsIndexSize:        defaultHTTP2StreamsIndexSize,
		HTTP2MaxConcurrentPushes:     defaultHTTP2MaxConcurrentPushes,
		AccessLogs: []AccessLog{{
			Path:   fullPath(b.cfg.Prefix, "logs/access.log"),
			Format: b.http.formats["combined"],
		}},
	}}
}

// inherit is pick for settings kept as pointers, where nil means unset
// at every level so far: the level's own, else its parent's.
func inherit[T any](own, parent *T) *T {
	if own != nil {
		return own
	}
	return parent
}

// pick is a scalar setting of a level: its own, else the inherited value.
func pick[T any](own *T, inherited T) T {
	if own != nil {
		return *own
	}
	return inherited
}

// merge computes a level's settings from what it sets and its parent's
// merged settings, as nginx's merge_loc_conf functions do: scalars are
// inherited when unset; lists (proxy_set_header, add_header, access_log)
// are inherited whole, and only when the level has none of its own;
// proxy_pass, return and the content handlers are never inherited.
func merge(r *rawLoc, parent *merged) *merged {
	p := parent.conf
	c := &LocConf{
		ProxyPass:                 r.proxyPass,
		ProxyHTTPVersion:          pick(r.proxyHTTPVersion, p.ProxyHTTPVersion),
		ProxyConnectTimeout:       pick(r.proxyConnectTimeout, p.ProxyConnectTimeout),
		ProxyReadTimeout:          pick(r.proxyReadTimeout, p.ProxyReadTimeout),
		ProxySendTimeout:          pick(r.proxySendTimeout, p.ProxySendTimeout),
		ProxyNextUpstream:         pick(r.proxyNextUpstream, p.ProxyNextUpstream),
		ProxyNextUpstreamTries:    pick(r.proxyNextUpstreamTries, p.ProxyNextUpstreamTries),
		ProxyNextUpstreamTimeout:  pick(r.conn.proxyNextUpstreamTimeout, p.ProxyNextUpstreamTimeout),
		ProxySocketKeepalive:      pick(r.conn.proxySocketKeepalive, p.ProxySocketKeepalive),
		LimitRate:                 pick(r.rate.limitRate, p.LimitRate),
		LimitRateAfter:            pick(r.rate.limitRateAfter, p.LimitRateAfter),
		LimitRateVar:              p.LimitRateVar,
		LimitRateAfterVar:         p.LimitRateAfterVar,
		ProxyLimitRate:            pick(r.rate.proxyLimitRate, p.ProxyLimitRate),
		ProxyBind:                 pick(r.conn.proxyBind, p.ProxyBind),
		Resolver:                  inherit(r.conn.resolver, p.Resolver),
		ResolverTimeout:           pick(r.conn.resolverTimeout, p.ResolverTimeout),
		Script:                    r.script,
		Internal:                  pick(r.internal, p.Internal),
		ServerTokens:              pick(r.serverTokens, p.ServerTokens),
		Expires:                   inherit(r.expires, p.Expires),
		RewriteLog:                pick(r.rewriteLog, p.RewriteLog),
		UninitializedVariableWarn: pick(r.uninitializedVarWarn, p.UninitializedVariableWarn),
		Handler:                   r.handler,
		AddHeaders:                p.AddHeaders,
		KeepaliveTimeout:          pick(r.keepaliveTimeout, p.KeepaliveTimeout),
		KeepaliveHeaderTimeout:    pick(r.keepaliveHeader, p.KeepaliveHeaderTimeout),
		KeepaliveRequests:         pick(r.keepaliveRequests, p.KeepaliveRequests),
		ClientMaxBodySize:         pick(r.clientMaxBodySize, p.ClientMaxBodySize),
		ClientHeaderTimeout:       pick(r.clientHeaderTimeout, p.ClientHeaderTimeout),
		ClientBodyTimeout:         pick(r.clientBodyTimeout, p.ClientBodyTimeout),
		SendTimeout:               pick(r.sendTimeout, p.SendTimeout),
		AccessLogs:                p.AccessLogs,
		LimitConns:                p.LimitConns,
		Access:                    p.Access,
		LimitConnStatus:           pick(r.limitConnStatus, p.LimitConnStatus),
		LimitConnLogLevel:         pick(r.limitConnLogLevel, p.LimitConnLogLevel),
		LimitConnDryRun:           pick(r.limitConnDryRun, p.LimitConnDryRun),
		LimitReqs:                 p.LimitReqs,
		LimitReqStatus:            pick(r.limitReqStatus, p.LimitReqStatus),
		LimitReqLogLevel:          pick(r.limitReqLogLevel, p.LimitReqLogLevel),
		LimitReqDryRun:            pick(r.limitReqDryRun, p.LimitReqDryRun),

		LargeClientHeaderBuffersNum:  pick(r.lchbNum, p.LargeClientHeaderBuffersNum),
		LargeClientHeaderBuffersSize: pick(r.lchbSize, p.LargeClientHeaderBuffersSize),
		ClientHeaderBufferSize:       pick(r.clientHeaderBufferSize, p.ClientHeaderBufferSize),
		MergeSlashes:                 pick(r.mergeSlashes, p.MergeSlashes),
		IgnoreInvalidHeaders:         pick(r.ignoreInvalidHeaders, p.IgnoreInvalidHeaders),
		UnderscoresInHeaders:         pick(r.underscoresInHeaders, p.UnderscoresInHeaders),

		ProxyRequestBuffering:      pick(r.proxyRequestBuffering, p.ProxyRequestBuffering),
		ClientBodyBufferSize:       pick(r.clientBodyBufferSize, p.ClientBodyBufferSize),
		ClientBodyTempPath:         pick(r.clientBodyTempPath, p.ClientBodyTempPath),
		ClientBodyInFileOnly:       pick(r.clientBodyInFileOnly, p.ClientBodyInFileOnly),
		ClientBodyInSingleBuffer:   pick(r.clientBodyInSingleBuf, p.ClientBodyInSingleBuffer),
		ProxyTempPath:              pick(r.proxyTempPath, p.ProxyTempPath),
		ProxyBuffering:             pick(r.proxyBuffering, p.ProxyBuffering),
		ProxyBufferSize:            pick(r.proxyBufferSize, p.ProxyBufferSize),
		SubrequestOutputBufferSize: pick(r.subrequestOutputBufferSize, p.SubrequestOutputBufferSize),
		PostponeOutput:             pick(r.postponeOutput, p.PostponeOutput),
		ProxyMaxTempFileSize:       pick(r.proxyMaxTempFileSize, p.ProxyMaxTempFileSize),
		ProxyIgnoreHeaders:         pick(r.proxyIgnoreHeaders, p.ProxyIgnoreHeaders),
	}
	if r.rate.limitRate != nil || r.rate.limitRateT != nil {
		c.LimitRateVar = r.rate.limitRateT
	}
	if r.rate.limitRateAfter != nil || r.rate.limitRateAfterT != nil {
		c.LimitRateAfterVar = r.rate.limitRateAfterT
	}
	c.RealIP = mergeRealIP(&r.realIP, p.RealIP)
	c.Gzip = mergeGzip(&r.gzip, p.Gzip)
	c.SSI = mergeSSI(&r.ssi, p.SSI)
	c.SubFilter = mergeSubFilter(&r.subFilter, p.SubFilter)
	mergeAuth(&r.auth, p, c)
	c.AuthBasic = mergeAuthBasic(&r.authBasic, p.AuthBasic)
	c.Addition = mergeAddition(&r.addition, p.Addition)
	mergeTrailers(&r.trailer, p, c)
	c.SecureLink = mergeSecureLink(&r.secureLink, p.SecureLink)
	mergeHTTP2(&r.h2, p, c)
	mergeLinger(&r.linger, p, c)
	c.LogSubrequest = pick(r.logSubrequest, p.LogSubrequest)
	c.SSL = mergeSSL(&r.ssl, p.SSL)
	c.ProxySSL = mergeProxySSL(&r.proxySSL, p.ProxySSL)
	c.Referers = mergeReferers(r.referers, p.Referers)
	c.Charset = mergeCharset(&r.charset, p.Charset)
	c.Autoindex = mergeAutoindex(&r.autoindex, p.Autoindex)
	c.Static = mergeStatic(&r.static, &p.Static)
	c.ErrorPages = p.ErrorPages
	if r.errorPages != nil {
		c.ErrorPages = r.errorPages
	}
	c.ProxyInterceptErrors = pick(r.proxyInterceptErrors, p.ProxyInterceptErrors)
	c.RecursiveErrorPages = pick(r.recursiveErrorPages, p.RecursiveErrorPages)
	c.PostAction = pick(r.postAction, p.PostAction)
	c.KeepaliveTime = pick(r.keepaliveTime, p.KeepaliveTime)
	c.ErrorLogs = p.ErrorLogs
	if r.errorLogs != nil {
		c.ErrorLogs = r.errorLogs
	}
	c.KeepaliveDisable = pick(r.keepaliveDisable, p.KeepaliveDisable)
	c.AbsoluteRedirect = pick(r.absoluteRedirect, p.AbsoluteRedirect)
	c.ServerNameInRedirect = pick(r.serverNameInRedirect, p.ServerNameInRedirect)
	c.PortInRedirect = pick(r.portInRedirect, p.PortInRedirect)
	c.MSIE = mergeMSIE(&r.msie, p.MSIE)
	c.Cache = mergeCache(&r.cache, p.Cache)
	buffers := pick(r.proxyBuffers, bufs{p.ProxyBuffersNum, p.ProxyBuffersSize})
	c.ProxyBuffersNum, c.ProxyBuffersSize = buffers.num, buffers.size
	// A level that sets a minimum rate sets its grace with it.
	bodyRate := pick(r.clientBodyMinRate, minRate{p.ClientBodyMinRate, p.ClientBodyMinRateGrace})
	c.ClientBodyMinRate, c.ClientBodyMinRateGrace = bodyRate.rate, bodyRate.grace
	sendRate := pick(r.sendMinRate, minRate{p.SendMinRate, p.SendMinRateGrace})
	c.SendMinRate, c.SendMinRateGrace = sendRate.rate, sendRate.grace
	if c.ProxyNextUpstream&nextOff != 0 {
		c.ProxyNextUpstream = 0
	}
	if r.addHeaders != nil {
		c.AddHeaders = r.addHeaders
	}
	if r.limitConnResolved != nil {
		c.LimitConns = r.limitConnResolved
	}
	if r.accessSet {
		c.Access = r.access
	}
	if r.limitReqResolved != nil {
		c.LimitReqs = r.limitReqResolved
	}
	c.OpenLogFileCache = p.OpenLogFileCache
	if r.openLogFileCacheSet {
		c.OpenLogFileCache = r.openLogFileCache
	}
	if r.accessLogSet {
		c.AccessLogs = r.accessLogs
		if r.accessLogOff {
			c.AccessLogs = nil
		}
	}
	setHeaders := parent.setHeaders
	if r.proxySetHeaders != nil {
		setHeaders = r.proxySetHeaders
	}
	c.ProxySetHeaders = withDefaultHeaders(setHeaders, false)
	if c.Cache.Path != nil || c.Cache.PathVar != nil {
		c.ProxySetHeadersCache = withDefaultHeaders(setHeaders, true)
	}
	m := &merged{conf: c, setHeaders: setHeaders}
	mergeProxyBuffers(r, parent, m)
	mergeProxyHeaders(r, parent, m)
	c.FastCGI = mergeFastCGI(&r.fastcgi, p.FastCGI)
	c.SCGI = SCGI{Params: mergeParams(&r.scgi, p.SCGI.Params)}
	c.UWSGI = mergeUWSGI(&r.uwsgi, p.UWSGI)
	mergeShadows(r, parent, m)
	return m
}

// withDefaultHeaders lists the configured headers in their order followed
// by nginx's defaults that none of them overrides (names compare
// case-insensitively), which is the order nginx sends them in.
func withDefaultHeaders(configured []HeaderTemplate, cache bool) []HeaderTemplate {
	defaults := defaultProxyHeaders
	if cache {
		defaults = cacheProxyHeaders
	}
	out := make([]HeaderTemplate, 0, len(configured)+len(defaults))
	out = append(out, configured...)
next:
	for _, d := range defaults {
		for _, h := range configured {
			if strings.EqualFold(h.Name, d.name) {
				continue next
			}
		}
		out = append(out, HeaderTemplate{Name: d.name, Value: mustTemplate(d.value)})
	}
	return out
}

// finishHTTP runs nginx's end-of-http-block steps in nginx's order:
// upstream initialisation, merging (which adds the default listen),
// location checks, then server names per address.
func (b *builder) finishHTTP() error {
	h := b.http
	for _, u := range h.noPort {
		// FastCGI, SCGI and uwsgi have no default port: a name without
		// one must be an upstream block.
		if !u.explicit {
			return errAt(u.node, "no port in upstream \"%s\"", u.host)
		}
	}
	if err := b.initUpstreams(); err != nil {
		return err
	}
	if err := b.resolveLevels(); err != nil {
		return err
	}
	if err := b.resolveVars(); err != nil {
		return err
	}
	if err := b.finishReferers(); err != nil {
		return err
	}
	top := merge(h.raw, b.defaultLevel())
	out := &HTTP{Upstreams: map[string]*Upstream{}, LogFormats: h.formats,
		HTTP2RecvBufferSize: pick(h.raw.h2.recvBufferSize, defaultHTTP2RecvBufferSize)}
	for _, s := range h.servers {
		if len(s.listens) == 0 {
			l := Listen{Addr: "0.0.0.0:80", File: s.node.File, Line: s.node.Line}
			if err := h.addListen(s.node, s, l, false); err != nil {
				return err
			}
		}
		if len(s.names) == 0 {
			s.names = []ServerName{{Kind: NameExact, Name: ""}}
		}
		sm := merge(s.raw, top)
		pool := int64(connectionPoolSize)
		for _, v := range []*int64{h.raw.connectionPoolSize, s.raw.connectionPoolSize} {
			if v != nil {
				pool = *v
			}
		}
		if int64(sm.conf.LargeClientHeaderBuffersSize) < pool {
			return &Error{File: h.node.File, Line: h.node.EndLine,
				Msg: "the \"large_client_header_buffers\" size must be equal to or greater than \"connection_pool_size\""}
		}
		// A server that inherits no client_body_temp_path uses the
		// default directory, which nginx registers at this merge.
		if h.raw.clientBodyTempPath == nil && s.raw.clientBodyTempPath == nil {
			if err := b.addPath(nil, sm.conf.ClientBodyTempPath); err != nil {
				return err
			}
		}
		srv := &Server{Listens: s.listens, Names: s.names, Name: s.name, Loc: sm.conf, File: s.node.File, Line: s.node.Line}
		srv.Locations = buildLocations(s.locations, sm)
		srv.Named = buildLocations(s.named, sm)
		out.Servers = append(out.Servers, srv)
	}
	// The proxy module's merge follows the core module's for every server:
	// it checks the buffers of the server, registers its default temporary
	// directory the same way, then checks the buffers of its locations.
	for i, s := range h.servers {
		srv := out.Servers[i]
		if err := b.checkProxyBuffers(srv.Loc); err != nil {
			return err
		}
		if h.raw.proxyTempPath == nil && s.raw.proxyTempPath == nil {
			if err := b.addPath(nil, top.conf.ProxyTempPath); err != nil {
				return err
			}
		}
		if err := b.checkLocationProxyBuffers(srv.Locations); err != nil {
			return err
		}
	}
	for _, s := range h.servers {
		if err := checkDuplicateLocations(s.locations); err != nil {
			return err
		}
	}
	if err := b.checkServerNames(); err != nil {
		return err
	}
	if err := checkCharsets(out.Servers); err != nil {
		return err
	}
	// "ssl on" makes the server's addresses speak TLS.
	for _, srv := range out.Servers {
		if srv.Loc.SSL.Enable {
			for _, l := range srv.Listens {
				h.addrs[l.Addr].ssl = true
			}
		}
	}
	// Socket options belong to the address, whichever listen set them.
	for _, srv := range out.Servers {
		for i := range srv.Listens {
			e := h.addrs[srv.Listens[i].Addr]
			srv.Listens[i].Backlog, srv.Listens[i].ReusePort = e.backlog, e.reusePort
			srv.Listens[i].SSL = e.ssl
			srv.Listens[i].ProxyProtocol = e.proxyProtocol
			srv.Listens[i].HTTP2 = e.http2
		}
	}
	// A lenient load (doctor's) inspects a configuration that may come
	// from another machine, whose certificates need not be here.
	if !b.opts.Lenient {
		if err := b.loadCertificates(out.Servers); err != nil {
			return err
		}
	}
	for _, u := range h.upstreams {
		out.Upstreams[u.up.Name] = u.up
		u.up.Host, u.up.Port, u.up.NoPort = strings.ToLower(u.host), u.port, u.noPort
	}
	out.LimitConnZones = b.limitConnZones
	out.LimitReqZones = b.limitReqZones
	out.CachePaths = b.cachePaths
	if err := b.checkZoneSync(); err != nil {
		return err
	}
	out.ZoneSync = b.zoneSync
	out.Variables, out.Captures = b.variables, b.capturesUsed
	out.VariableSlots = b.userVars
	b.cfg.HTTP = out
	if !b.opts.Lenient {
		// The files of TLS to upstreams, for the levels that proxy
		// with https (or with variables, which may name https).
		cas := map[string][]*x509.Certificate{}
		pairs := map[[2]string]*tls.Certificate{}
		var err error
		b.cfg.EachLocConf(func(lc *LocConf) {
			if pp := lc.ProxyPass; err == nil && pp != nil && (pp.Scheme == "https" || pp.URL != nil) {
				err = b.loadProxySSL(lc, cas, pairs)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// resolveLevels finds the zones that limit_conn directives name, at every
// level, once all zones are known.
func (b *builder) resolveLevels() error {
	var walk func(r *rawLoc, ls []*locBuild) error
	walk = func(r *rawLoc, ls []*locBuild) error {
		if len(r.limitConns) > 0 {
			l, err := b.resolveLimitConns(r.limitConns)
			if err != nil {
				return err
			}
			r.limitConnResolved = l
		}
		if err := b.resolveCache(&r.cache); err != nil {
			return err
		}
		if len(r.limitReqs) > 0 {
			l, err := b.resolveLimitReqs(r.limitReqs)
			if err != nil {
				return err
			}
			r.limitReqResolved = l
		}
		for _, l := range ls {
			if err := walk(l.raw, l.children); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(b.http.raw, nil); err != nil {
		return err
	}
	// The charsets the configuration names are known at every level, as
	// nginx keeps them in the http block's settings: an upstream's
	// X-Accel-Charset may name one where charset is not set.
	if b.charsets != nil && b.http.raw.charset.maps == nil {
		b.http.raw.charset.maps = b.charsets
	}
	for _, s := range b.http.servers {
		if err := walk(s.raw, s.locations); err != nil {
			return err
		}
	}
	return nil
}

func buildLocations(ls []*locBuild, parent *merged) []*Location {
	var out []*Location
	for _, l := range ls {
		m := merge(l.raw, parent)
		if l.raw.static.alias {
			// alias replaces the location's prefix.
			m.conf.Static.AliasLen = len(l.path)
		}
		for _, ib := range l.ifs {
			ib.op.Loc = mergeIf(ib.raw, m)
		}
		if le := l.limitExcept; le != nil {
			m.conf.LimitExcept = &LimitExcept{Methods: le.methods, Loc: mergeIf(le.raw, m)}
		}
		out = append(out, &Location{
			Match: l.match, Path: l.path, Regex: l.regex, Loc: m.conf,
			Locations: buildLocations(l.children, m),
			File:      l.node.File, Line: l.node.Line,
		})
	}
	return out
}

// checkDuplicateLocations reports two sibling locations with the same
// path, both exact or both prefix (with or without ^~), at the later one,
// as nginx does; regex locations may repeat.
func checkDuplicateLocations(ls []*locBuild) error {
	type key struct {
		exact bool
		path  string
	}
	seen := map[key]bool{}
	for _, l := range ls {
		if l.regex == nil {
			k := key{l.match == MatchExact, l.path}
			if seen[k] {
				return &Error{File: l.node.File, Line: l.node.Line, Msg: fmt.Sprintf("duplicate location \"%s\"", l.path)}
			}
			seen[k] = true
		}
		if err := checkDuplicateLocations(l.children); err != nil {
			return err
		}
	}
	return nil
}

// checkServerNames validates wildcard names and warns about names used by
// two servers on one address, where nginx keeps the first.
func (b *builder) checkServerNames() error {
	h := b.http
	for _, addr := range h.addrOrder {
		e := h.addrs[addr]
		seen := map[string]bool{}
		for _, s := range e.servers {
			for _, sn := range s.names {
				if !validServerName(sn) {
					return &Error{File: h.node.File, Line: h.node.EndLine,
						Msg: fmt.Sprintf("invalid server name or wildcard \"%s\" on %s", sn.Name, addr)}
				}
				if sn.Kind == NameRegex {
					continue
				}
				if seen[sn.Name] {
					b.warn(&Error{Msg: fmt.Sprintf("conflicting server name \"%s\" on %s, ignored", sn.Name, addr)})
				}
				seen[sn.Name] = true
			}
		}
	}
	return nil
}
