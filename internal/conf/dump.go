package conf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"headroom/internal/logs"
	"headroom/internal/vars"
)

// Dump renders the typed configuration as indented text, one setting per
// line and every field shown, so that golden tests catch any change in
// parsing, defaults or merging. Maps are printed in sorted order.
func Dump(c *Config) string {
	d := &dumper{}
	d.line(0, "file %s", c.File)
	d.line(0, "prefix %s", c.Prefix)
	for _, f := range c.Files {
		d.line(0, "read %s (%d bytes)", f.Path, len(f.Content))
	}
	d.line(0, "worker_processes %d", c.WorkerProcesses)
	d.line(0, "worker_rlimit_nofile %d", c.WorkerRlimitNofile)
	if c.WorkerShutdownTimeout > 0 {
		d.line(0, "worker_shutdown_timeout %s", dur(c.WorkerShutdownTimeout))
	}
	d.line(0, "pid %q", c.PID)
	d.line(0, "user %q", c.User)
	d.line(0, "daemon %v", c.Daemon)
	for _, e := range c.ErrorLogs {
		d.line(0, "error_log %s %s%s", e.Path, e.Level, syslogDump(e.Syslog))
	}
	d.line(0, "events worker_connections=%d multi_accept=%v accept_mutex=%v use=%q",
		c.Events.WorkerConnections, c.Events.MultiAccept, c.Events.AcceptMutex, c.Events.Use)
	for _, u := range c.Unsupported {
		d.line(0, "unsupported %s %q %s:%d", u.Name, u.Detail, u.File, u.Line)
	}
	for _, w := range c.Warnings {
		d.line(0, "warning %s", w.Error())
	}
	if c.HTTP == nil {
		d.line(0, "no http")
		return d.String()
	}
	h := c.HTTP
	d.line(0, "http")
	if z := h.ZoneSync; z != nil {
		d.line(1, "zone_sync %s addr=%s db=%d user=%q password=%v timeout=%s fallback=%s", z.URL, z.Addr(), z.DB, z.User, z.Password != "", dur(z.Timeout), z.Fallback)
	}
	if h.HTTP2RecvBufferSize != defaultHTTP2RecvBufferSize {
		d.line(1, "http2_recv_buffer_size %d", h.HTTP2RecvBufferSize)
	}
	for _, name := range sortedKeys(h.LogFormats) {
		f := h.LogFormats[name]
		d.line(1, "log_format %s escape=%s %s", f.Name, f.Escape, tmpl(f.Template))
	}
	for _, name := range sortedKeys(h.Upstreams) {
		u := h.Upstreams[name]
		d.line(1, "upstream %q implicit=%v keepalive=%d keepalive_requests=%d keepalive_timeout=%s keepalive_time=%s at %s:%d",
			u.Name, u.Implicit, u.Keepalive, u.KeepaliveRequests, dur(u.KeepaliveTimeout), dur(u.KeepaliveTime), u.File, u.Line)
		if u.Queue > 0 {
			d.line(2, "queue %d timeout=%s", u.Queue, dur(u.QueueTimeout))
		}
		if u.Zone != "" {
			d.line(2, "zone %s size=%d sync=%v", u.Zone, u.ZoneSize, u.Sync)
		}
		switch u.Balance {
		case BalanceRoundRobin:
		case BalanceHash:
			d.line(2, "balance hash key=%s consistent=%v", tmpl(u.HashKey), u.Consistent)
		case BalanceRandom:
			d.line(2, "balance random two=%v", u.RandomTwo)
		default:
			d.line(2, "balance %s", u.Balance)
		}
		for _, s := range u.Servers {
			d.line(2, "server %s name=%q weight=%d max_fails=%d fail_timeout=%s max_conns=%d backup=%v down=%v",
				s.Addr, s.Name, s.Weight, s.MaxFails, dur(s.FailTimeout), s.MaxConns, s.Backup, s.Down)
		}
	}
	for _, s := range h.Servers {
		d.line(1, "server at %s:%d", s.File, s.Line)
		for _, l := range s.Listens {
			bufs := ""
			if l.SndBuf > 0 || l.RcvBuf > 0 {
				bufs = fmt.Sprintf(" sndbuf=%d rcvbuf=%d", l.SndBuf, l.RcvBuf)
			}
			if l.SSL {
				bufs += " ssl"
			}
			if l.ProxyProtocol {
				bufs += " proxy_protocol"
			}
			if l.HTTP2 {
				bufs += " http2"
			}
			if l.Bind {
				bufs += " bind"
			}
			if l.Deferred {
				bufs += " deferred"
			}
			if l.DualStack {
				bufs += " ipv6only=off"
			}
			if l.KeepAlive != 0 {
				bufs += fmt.Sprintf(" so_keepalive=%d idle=%s intvl=%s cnt=%d", l.KeepAlive, dur(l.KeepIdle), dur(l.KeepIntvl), l.KeepCnt)
			}
			if l.FastOpenSet {
				bufs += fmt.Sprintf(" fastopen=%d", l.FastOpen)
			}
			d.line(2, "listen %s default_server=%v reuseport=%v backlog=%d%s at %s:%d",
				l.Addr, l.DefaultServer, l.ReusePort, l.Backlog, bufs, l.File, l.Line)
		}
		for _, n := range s.Names {
			d.line(2, "server_name %s %q", nameKinds[n.Kind], n.Name)
		}
		d.loc(2, s.Loc)
		for _, l := range s.Locations {
			d.location(2, l)
		}
		for _, l := range s.Named {
			d.location(2, l)
		}
	}
	if vs := h.Variables; len(vs) > 0 {
		var names []string
		for _, v := range vs {
			names = append(names, "$"+v.Name)
		}
		d.line(1, "variables %s captures=%v", strings.Join(names, " "), h.Captures)
		for _, v := range vs {
			if m := v.Map; m != nil {
				def := "<none>"
				if m.Default != nil {
					def = tmpl(m.Default)
				}
				var keys []string
				for k, t := range m.Exact {
					keys = append(keys, k+"="+tmpl(t))
				}
				for k, t := range m.WildHead {
					keys = append(keys, "*."+k+"="+tmpl(t))
				}
				for k, t := range m.WildTail {
					keys = append(keys, k+".*="+tmpl(t))
				}
				sort.Strings(keys)
				for _, r := range m.Regexes {
					keys = append(keys, "~"+strconv.Quote(r.Regex.String())+"="+tmpl(r.Value))
				}
				d.line(2, "map %s $%s default=%s hostnames=%v volatile=%v %s", tmpl(m.Source), v.Name, def, m.Hostnames, m.Volatile, strings.Join(keys, " "))
			}
			if sc := v.SplitClients; sc != nil {
				var parts []string
				for _, p := range sc.Parts {
					if p.Percent == 0 {
						parts = append(parts, "*="+strconv.Quote(p.Value))
						continue
					}
					parts = append(parts, fmt.Sprintf("%d.%02d%%<%d=%q", p.Percent/100, p.Percent%100, p.Below, p.Value))
				}
				d.line(2, "split_clients %s $%s %s", tmpl(sc.Source), v.Name, strings.Join(parts, " "))
			}
			if g := v.Geo; g != nil {
				addr := "<client>"
				if g.Address != nil {
					addr = tmpl(g.Address)
				}
				proxies := "none"
				if g.Proxies != nil {
					var ps []string
					for _, p := range g.Proxies.From {
						ps = append(ps, p.String())
					}
					proxies = strings.Join(ps, ",") + " recursive=" + strconv.FormatBool(g.Proxies.Recursive)
				}
				d.line(2, "geo %s $%s ranges=%v default=%q proxies=%s %s", addr, v.Name, g.Ranges, g.Default, proxies, strings.Join(g.dumpLines(), " "))
			}
		}
	}
	return d.String()
}

var nameKinds = map[ServerNameKind]string{
	NameExact: "exact", NameWildcardPrefix: "prefix", NameWildcardSuffix: "suffix", NameRegex: "regex",
}

var matchNames = map[LocationMatch]string{
	MatchPrefix: "", MatchExact: "= ", MatchPrefixNoRegex: "^~ ", MatchRegex: "~ ", MatchRegexCaseless: "~* ", MatchNamed: "",
}

type dumper struct{ strings.Builder }

func (d *dumper) line(depth int, format string, args ...any) {
	d.WriteString(strings.Repeat("  ", depth))
	fmt.Fprintf(d, format, args...)
	d.WriteByte('\n')
}

func (d *dumper) location(depth int, l *Location) {
	d.line(depth, "location %s%q at %s:%d", matchNames[l.Match], l.Path, l.File, l.Line)
	d.loc(depth+1, l.Loc)
	for _, c := range l.Locations {
		d.location(depth+1, c)
	}
}

func (d *dumper) loc(depth int, c *LocConf) {
	d.static(depth, &c.Static)
	for _, e := range c.ErrorPages {
		args := ""
		if e.HasArgs {
			args = " args=" + e.Args
		}
		d.line(depth, "error_page %d overwrite=%d %s%s", e.Status, e.Overwrite, tmpl(e.URI), args)
	}
	if c.ProxyInterceptErrors {
		d.line(depth, "proxy_intercept_errors on")
	}
	if c.RecursiveErrorPages {
		d.line(depth, "recursive_error_pages on")
	}
	if c.PostAction != "" {
		d.line(depth, "post_action %s", c.PostAction)
	}
	for _, e := range c.ErrorLogs {
		d.line(depth, "error_log %s %s%s", e.Path, e.Level, syslogDump(e.Syslog))
	}
	if c.KeepaliveDisable != KeepaliveDisableMSIE6 {
		d.line(depth, "keepalive_disable msie6=%v safari=%v", c.KeepaliveDisable&KeepaliveDisableMSIE6 != 0, c.KeepaliveDisable&KeepaliveDisableSafari != 0)
	}
	if c.KeepaliveTime != time.Hour {
		d.line(depth, "keepalive_time %s", dur(c.KeepaliveTime))
	}
	if !c.AbsoluteRedirect || c.ServerNameInRedirect || !c.PortInRedirect {
		d.line(depth, "redirects absolute=%v server_name=%v port=%v", c.AbsoluteRedirect, c.ServerNameInRedirect, c.PortInRedirect)
	}
	if c.ResetTimedout {
		d.line(depth, "reset_timedout_connection on")
	}
	if c.LogSubrequest {
		d.line(depth, "log_subrequest on")
	}
	if c.MSIE != defaultMSIE {
		d.line(depth, "msie padding=%v refresh=%v", c.MSIE.Padding, c.MSIE.Refresh)
	}
	if p := c.ProxyPass; p != nil && p.Protocol.Gateway() && p.URL != nil {
		d.line(depth, "%s_pass %s (evaluated per request)", p.Protocol, p.Host)
	} else if p := c.ProxyPass; p != nil && p.Protocol != ProtoFastCGI && p.Protocol.Gateway() {
		params, u := c.SCGI.Params, ""
		if p.Protocol == ProtoUWSGI {
			params, u = c.UWSGI.Params, fmt.Sprintf(" modifier1=%d modifier2=%d string=%q", c.UWSGI.Modifier1, c.UWSGI.Modifier2, c.UWSGI.String)
		}
		d.line(depth, "%s_pass %s upstream=%q%s", p.Protocol, p.Host, p.Upstream.Name, u)
		d.line(depth+1, "params %s", paramsText(params))
	} else if p := c.ProxyPass; p != nil && p.Protocol == ProtoFastCGI {
		f := &c.FastCGI
		split := "<none>"
		if f.Split != nil {
			split = f.Split.String()
		}
		d.line(depth, "fastcgi_pass %s upstream=%q index=%q split=%s keep_conn=%v", p.Host, p.Upstream.Name, f.Index, split, f.KeepConn)
		d.line(depth+1, "params %s", paramsText(f.Params))
	} else if p := c.ProxyPass; p != nil && p.URL != nil {
		d.line(depth, "proxy_pass %s (evaluated per request)", tmpl(p.URL))
	} else if p != nil {
		up := "<nil>"
		if p.Upstream != nil {
			up = strconv.Quote(p.Upstream.Name)
		}
		d.line(depth, "proxy_pass %s://%s uri=%q has_uri=%v proxy_host=%q proxy_port=%q upstream=%s",
			p.Scheme, p.Host, p.URI, p.HasURI, p.ProxyHost, p.ProxyPort, up)
	}
	if p := c.ProxyPass; p != nil && (p.Scheme == "https" || p.URL != nil) {
		s := &c.ProxySSL
		name := "$proxy_host"
		if s.Name != nil {
			name = tmpl(s.Name)
		}
		d.line(depth, "proxy_ssl server_name=%v name=%s verify=%v depth=%d trusted=%q (%d) cert=%q key=%q loaded=%v versions=%x-%x suites=%d reuse=%v",
			s.ServerName, name, s.Verify, s.VerifyDepth, s.TrustedCertificate, len(s.TrustedCAs), s.CertFile, s.KeyFile, s.Certificate != nil,
			s.MinVersion, s.MaxVersion, len(s.CipherSuites), s.SessionReuse)
	}
	for _, line := range scriptText(c.Script) {
		d.line(depth, "%s", line)
	}
	if ri := c.RealIP; len(ri.From) > 0 || ri.Header != "X-Real-IP" || ri.Recursive {
		var from []string
		for _, p := range ri.From {
			if !p.IsValid() {
				from = append(from, "unix:")
				continue
			}
			from = append(from, p.String())
		}
		d.line(depth, "real_ip from=%s header=%s recursive=%v", strings.Join(from, ","), ri.Header, ri.Recursive)
	}
	if ch := c.Charset; ch.Name != "" || ch.Var != nil || ch.Types != nil || ch.Override || ch.Source != "" || ch.SourceVar != nil {
		name, source := ch.Name, ch.Source
		if ch.Var != nil {
			name = tmpl(ch.Var)
		}
		if ch.SourceVar != nil {
			source = tmpl(ch.SourceVar)
		}
		types := typeListText(ch.Types, ch.AnyType)
		d.line(depth, "charset %q types=%s override=%v source=%q", name, types, ch.Override, source)
	}
	if m := c.Charset.Maps; m != nil && depth == 2 && len(m.maps) > 0 {
		// The maps are the http block's; they are shown with each server.
		for _, p := range m.maps {
			d.line(depth, "charset_map %q %q", m.names[p[0]], m.names[p[1]])
		}
	}
	if c.Gzip.Gunzip {
		d.line(depth, "gunzip on")
	}
	if a := c.Autoindex; a != defaultAutoindex {
		d.line(depth, "autoindex %s exact_size=%s format=%s localtime=%s", onOffName(a.On), onOffName(a.ExactSize), a.Format, onOffName(a.Localtime))
	}
	if g := c.Gzip; g.Static != GzipStaticOff {
		d.line(depth, "gzip_static %d", g.Static)
	}
	if g := c.Gzip; g.On || g.Level != 1 || g.MinLength != 20 || g.Vary || g.Proxied != GzipProxiedOff || g.HTTPVersion != 1 || len(g.Types) > 0 || g.AnyType || len(g.Disable) > 0 || g.DisableMSIE6 {
		types := typeListText(g.Types, g.AnyType)
		var dis []string
		for _, re := range g.Disable {
			dis = append(dis, re.String())
		}
		d.line(depth, "gzip %v level=%d min_length=%d vary=%v proxied=%#x http=1.%d types=%s disable=%q msie6=%v",
			g.On, g.Level, g.MinLength, g.Vary, g.Proxied, g.HTTPVersion, types, dis, g.DisableMSIE6)
	}
	if c.PostponeOutput != 1460 {
		d.line(depth, "postpone_output %d", c.PostponeOutput)
	}
	if c.SubrequestOutputBufferSize != pageSize {
		d.line(depth, "subrequest_output_buffer_size %d", c.SubrequestOutputBufferSize)
	}
	if s := c.SSI; s.On || s.SilentErrors || s.ValueLength != 256 || s.LastModified || len(s.Types) > 0 || s.AnyType {
		types := typeListText(s.Types, s.AnyType)
		d.line(depth, "ssi %v silent_errors=%v value_length=%d last_modified=%v types=%s",
			s.On, s.SilentErrors, s.ValueLength, s.LastModified, types)
	}
	if a := c.Addition; a.Before != "" || a.After != "" || len(a.Types) > 0 || a.AnyType {
		types := typeListText(a.Types, a.AnyType)
		d.line(depth, "addition before=%q after=%q types=%s", a.Before, a.After, types)
	}
	if s := c.SubFilter; len(s.Pairs) > 0 || !s.Once || s.LastModified || len(s.Types) > 0 || s.AnyType {
		types := typeListText(s.Types, s.AnyType)
		d.line(depth, "sub_filter once=%v last_modified=%v types=%s compiled=%v", s.Once, s.LastModified, types, s.Table != nil)
		for _, p := range s.Pairs {
			d.line(depth+1, "%s -> %s", tmpl(p.Match), tmpl(p.Replacement))
		}
	}
	if r := c.Referers; r != nil {
		d.line(depth, "valid_referers %s", r.dumpLine())
	}
	if e := c.Expires; e != nil {
		if e.Var != nil {
			d.line(depth, "expires kind=%d %s", e.Kind, tmpl(e.Var))
		} else {
			d.line(depth, "expires kind=%d seconds=%d", e.Kind, e.Seconds)
		}
	}
	if !c.ServerTokens {
		d.line(depth, "server_tokens off")
	}
	if le := c.LimitExcept; le != nil {
		var ms []string
		for m := range le.Methods {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		d.line(depth, "limit_except %s {", strings.Join(ms, " "))
		d.loc(depth+1, le.Loc)
		d.line(depth, "}")
	}
	if c.Internal {
		d.line(depth, "internal")
	}
	if c.RewriteLog || !c.UninitializedVariableWarn {
		d.line(depth, "rewrite_log %v uninitialized_variable_warn %v", c.RewriteLog, c.UninitializedVariableWarn)
	}
	if c.Handler != HandlerNone {
		d.line(depth, "handler %s", c.Handler)
	}
	if a := c.AuthBasic; a.Realm != nil || a.UserFile != nil {
		d.line(depth, "auth_basic %s user_file=%s", tmpl(a.Realm), tmpl(a.UserFile))
	}
	if c.SatisfyAny || c.AuthRequest != "" || len(c.AuthRequestSet) > 0 || c.AuthDelay > 0 {
		d.line(depth, "auth_request %q satisfy_any=%v delay=%v", c.AuthRequest, c.SatisfyAny, c.AuthDelay)
		for _, sv := range c.AuthRequestSet {
			d.line(depth+1, "set $%s %s", sv.Name, tmpl(sv.Value))
		}
	}
	if len(c.Access) > 0 {
		var rules []string
		for _, a := range c.Access {
			what := "allow "
			if a.Deny {
				what = "deny "
			}
			if a.All {
				rules = append(rules, what+"all")
			} else if a.Unix {
				rules = append(rules, what+"unix:")
			} else {
				rules = append(rules, what+a.Prefix.String())
			}
		}
		d.line(depth, "access %s", strings.Join(rules, ", "))
	}
	var hs []string
	for _, h := range c.ProxySetHeaders {
		hs = append(hs, h.Name+":"+tmpl(h.Value))
	}
	d.line(depth, "proxy_set_headers %s", strings.Join(hs, " "))
	d.line(depth, "proxy_http_version %s", c.ProxyHTTPVersion)
	d.line(depth, "proxy_timeouts connect=%s read=%s send=%s",
		dur(c.ProxyConnectTimeout), dur(c.ProxyReadTimeout), dur(c.ProxySendTimeout))
	d.line(depth, "proxy_next_upstream %s tries=%d", nextNames(c.ProxyNextUpstream), c.ProxyNextUpstreamTries)
	if c.LimitRate > 0 || c.LimitRateAfter > 0 || c.ProxyLimitRate > 0 {
		d.line(depth, "limit_rate %d after=%d proxy_limit_rate=%d", c.LimitRate, c.LimitRateAfter, c.ProxyLimitRate)
	}
	if c.ProxyNextUpstreamTimeout > 0 || c.ProxySocketKeepalive || c.ProxyBind.IsValid() {
		bind := "off"
		if c.ProxyBind.IsValid() {
			bind = c.ProxyBind.String()
		}
		d.line(depth, "proxy_upstream_conn next_timeout=%s socket_keepalive=%v bind=%s", dur(c.ProxyNextUpstreamTimeout), c.ProxySocketKeepalive, bind)
	}
	if c.Resolver != nil || c.ResolverTimeout != 30*time.Second {
		d.line(depth, "resolver %s timeout=%s", resolverString(c.Resolver), dur(c.ResolverTimeout))
	}
	d.line(depth, "proxy_temp_path %s", tempPath(c.ProxyTempPath))
	d.line(depth, "proxy_buffering %s buffer_size=%d buffers=%d*%d busy=%d max_temp=%d temp_write=%d ignore=%s",
		onOffName(c.ProxyBuffering), c.ProxyBufferSize, c.ProxyBuffersNum, c.ProxyBuffersSize, c.ProxyBusyBuffersSize,
		c.ProxyMaxTempFileSize, c.ProxyTempFileWriteSize, ignoreNames(c.ProxyIgnoreHeaders))
	d.proxyHeaders(depth, c)
	for _, h := range c.AddHeaders {
		d.line(depth, "add_header %s %s always=%v", h.Name, tmpl(h.Value), h.Always)
	}
	for _, h := range c.AddTrailers {
		d.line(depth, "add_trailer %s %s always=%v", h.Name, tmpl(h.Value), h.Always)
	}
	if sl := c.SecureLink; sl.Link != nil || sl.MD5 != nil || sl.Secret != "" {
		link, md5 := "<none>", "<none>"
		if sl.Link != nil {
			link = tmpl(sl.Link)
		}
		if sl.MD5 != nil {
			md5 = tmpl(sl.MD5)
		}
		d.line(depth, "secure_link %s md5=%s secret=%q", link, md5, sl.Secret)
	}
	if !c.ChunkedTransferEncoding {
		d.line(depth, "chunked_transfer_encoding off")
	}
	if c.HTTP2MaxConcurrentStreams != defaultHTTP2MaxConcurrentStreams || c.HTTP2ChunkSize != defaultHTTP2ChunkSize ||
		c.HTTP2BodyPrereadSize != defaultHTTP2BodyPrereadSize || c.HTTP2StreamsIndexSize != defaultHTTP2StreamsIndexSize ||
		c.HTTP2MaxConcurrentPushes != defaultHTTP2MaxConcurrentPushes {
		d.line(depth, "http2 max_concurrent_streams=%d chunk_size=%d body_preread_size=%d streams_index_size=%d max_concurrent_pushes=%d",
			c.HTTP2MaxConcurrentStreams, c.HTTP2ChunkSize, c.HTTP2BodyPrereadSize, c.HTTP2StreamsIndexSize, c.HTTP2MaxConcurrentPushes)
	}
	d.line(depth, "keepalive timeout=%s header=%s requests=%d",
		dur(c.KeepaliveTimeout), dur(c.KeepaliveHeaderTimeout), c.KeepaliveRequests)
	d.line(depth, "client max_body=%d header_timeout=%s body_timeout=%s send_timeout=%s header_buffer=%d large_header_buffers=%d*%d",
		c.ClientMaxBodySize, dur(c.ClientHeaderTimeout), dur(c.ClientBodyTimeout), dur(c.SendTimeout),
		c.ClientHeaderBufferSize, c.LargeClientHeaderBuffersNum, c.LargeClientHeaderBuffersSize)
	if !c.MergeSlashes || !c.IgnoreInvalidHeaders || c.UnderscoresInHeaders {
		d.line(depth, "request_head merge_slashes=%v ignore_invalid_headers=%v underscores_in_headers=%v", c.MergeSlashes, c.IgnoreInvalidHeaders, c.UnderscoresInHeaders)
	}
	d.line(depth, "client_body buffering=%v buffer_size=%d in_file_only=%s single_buffer=%v temp_path=%s",
		c.ProxyRequestBuffering, c.ClientBodyBufferSize, bodyFileNames[c.ClientBodyInFileOnly], c.ClientBodyInSingleBuffer,
		tempPath(c.ClientBodyTempPath))
	d.line(depth, "min_rate body=%d/%s send=%d/%s",
		c.ClientBodyMinRate, dur(c.ClientBodyMinRateGrace), c.SendMinRate, dur(c.SendMinRateGrace))
	if len(c.AccessLogs) == 0 {
		d.line(depth, "access_log off")
	}
	for _, a := range c.AccessLogs {
		extra := ""
		if a.Buffer > 0 {
			extra += fmt.Sprintf(" buffer=%d flush=%s gzip=%d", a.Buffer, dur(a.Flush), a.Gzip)
		}
		if a.If != nil {
			extra += " if=" + tmpl(a.If)
		}
		if a.PathTemplate != nil {
			extra += " path=" + tmpl(a.PathTemplate)
		}
		extra += syslogDump(a.Syslog)
		d.line(depth, "access_log %s %s%s", a.Path, a.Format.Name, extra)
	}
	if s := c.SSL; len(s.Certificates) > 0 {
		var certs []string
		for _, cert := range s.Certificates {
			pair := cert.CertFile + "+" + cert.KeyFile
			if cert.Dynamic() {
				pair += "(per-handshake)"
			}
			certs = append(certs, pair)
		}
		d.line(depth, "ssl certificates=%s protocols=%s versions=%x-%x ciphers=%q suites=%d curves=%v tickets=%v timeout=%s cache=%q",
			strings.Join(certs, ","), strings.Join(s.Protocols, ","), s.MinVersion, s.MaxVersion, s.Ciphers, len(s.CipherSuites), s.Curves, s.SessionTickets, dur(s.SessionTimeout), s.SessionCache)
		if s.VerifyClient != VerifyOff {
			d.line(depth, "ssl_verify_client %d depth=%d client=%s (%d) trusted=%s (%d)", s.VerifyClient, s.VerifyDepth,
				s.ClientCertificate, len(s.ClientCAs), s.TrustedCertificate, len(s.TrustedCAs))
		}
		if s.Stapling {
			d.line(depth, "ssl_stapling file=%q (%d bytes) verify=%v responder=%q", s.StaplingFile, len(s.Staple), s.StaplingVerify, s.StaplingResponder)
			for _, cert := range s.Certificates {
				if o := cert.OCSP; o != nil {
					d.line(depth+1, "ocsp %s issuer=%q responder=%s port=%d uri=%s addrs=%v", cert.CertFile, o.Issuer.Subject.CommonName, o.Host, o.Port, o.URI, o.Addrs)
				}
			}
		}
	}
	if c := c.OpenLogFileCache; c != nil {
		d.line(depth, "open_log_file_cache max=%d inactive=%s min_uses=%d valid=%s", c.Max, dur(c.Inactive), c.MinUses, dur(c.Valid))
	}
	if pc := &c.Cache; pc.PathVar != nil {
		d.line(depth, "proxy_cache %s", tmpl(pc.PathVar))
	}
	if pc := &c.Cache; pc.Path != nil {
		var valid []string
		for _, v := range pc.Valid {
			code := "any"
			if v.Status != 0 {
				code = strconv.Itoa(v.Status)
			}
			valid = append(valid, code+"="+dur(v.Valid))
		}
		d.line(depth, "proxy_cache %s key=%s valid=[%s] methods=%s min_uses=%d convert_head=%v max_range_offset=%d",
			pc.Path, tmpl(pc.Key), strings.Join(valid, " "), strings.Join(sortedKeys(pc.Methods), ","), pc.MinUses, pc.ConvertHead, pc.MaxRangeOffset)
		if pc.Lock {
			d.line(depth+1, "lock timeout=%s age=%s", dur(pc.LockTimeout), dur(pc.LockAge))
		}
		if pc.UseStale != 0 || pc.StaleUpdating {
			d.line(depth+1, "use_stale %s updating=%v", nextNames(pc.UseStale), pc.StaleUpdating)
		}
		if pc.Revalidate {
			d.line(depth+1, "revalidate")
		}
		if pc.BackgroundUpdate {
			d.line(depth+1, "background_update")
		}
		for _, t := range pc.Bypass {
			d.line(depth+1, "bypass %s", tmpl(t))
		}
		for _, t := range pc.NoCache {
			d.line(depth+1, "no_cache %s", tmpl(t))
		}
	}
	for _, l := range c.LimitReqs {
		d.line(depth, "limit_req zone=%s key=%s size=%d rate=%dr/m burst=%d delay=%d nodelay=%v status=%d log_level=%s dry_run=%v",
			l.Zone.Name, tmpl(l.Zone.Key), l.Zone.Size, l.Zone.RatePerMinute, l.Burst, l.Delay, l.NoDelay, c.LimitReqStatus, c.LimitReqLogLevel, c.LimitReqDryRun)
		if l.Zone.Sync {
			d.line(depth+1, "sync")
		}
	}
	for _, l := range c.LimitConns {
		d.line(depth, "limit_conn zone=%s key=%s size=%d max=%d status=%d log_level=%s dry_run=%v",
			l.Zone.Name, tmpl(l.Zone.Key), l.Zone.Size, l.Max, c.LimitConnStatus, c.LimitConnLogLevel, c.LimitConnDryRun)
		if l.Zone.Sync {
			d.line(depth+1, "sync")
		}
	}
}

// tmpl shows a template by its source; how templates split into parts is
// the vars package's business and tested there.
func tmpl(t *vars.Template) string {
	if t == nil {
		return "<nil>"
	}
	return strconv.Quote(t.Source)
}

// tempPath shows a temporary directory and its levels as nginx's
// proxy_cache_path writes them, "PATH levels=1:2", or "PATH levels=none".
func tempPath(t TempPath) string {
	levels := "none"
	if len(t.Levels) > 0 {
		ls := make([]string, len(t.Levels))
		for i, l := range t.Levels {
			ls[i] = strconv.Itoa(l)
		}
		levels = strings.Join(ls, ":")
	}
	return t.Path + " levels=" + levels
}

var bodyFileNames = map[BodyFileMode]string{BodyFileOff: "off", BodyFileKeep: "on", BodyFileClean: "clean"}

func dur(d time.Duration) string {
	return d.String()
}

func nextNames(n NextUpstream) string {
	if n == 0 {
		return "off"
	}
	var names []string
	for name, bit := range nextUpstreamNames {
		if n&bit != 0 && bit != nextOff {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func onOffName(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

// ignoreNames lists proxy_ignore_headers' fields in nginx's order, or
// "none".
func ignoreNames(set IgnoreHeaders) string {
	var names []string
	for _, h := range ignoreHeaderNames {
		if set&h.bit != 0 {
			names = append(names, h.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// static dumps the static file handler's settings.
func (d *dumper) static(depth int, s *Static) {
	root := "root " + tmpl(s.Root)
	if s.Alias {
		root = fmt.Sprintf("alias %s (replaces %d bytes)", tmpl(s.Root), s.AliasLen)
	}
	var index, try []string
	for _, t := range s.Index {
		index = append(index, tmpl(t))
	}
	for _, t := range s.TryFiles {
		try = append(try, tmpl(t))
	}
	types := "builtin"
	if s.Types != nil {
		var ts []string
		for _, ext := range sortedKeys(s.Types) {
			ts = append(ts, ext+"="+s.Types[ext])
		}
		types = "{" + strings.Join(ts, " ") + "}"
	}
	d.line(depth, "%s index=%s try_files=%s types=%s default_type=%s", root, strings.Join(index, ","), strings.Join(try, ","), types, s.DefaultType)
	d.line(depth, "sendfile=%v max_chunk=%d tcp_nopush=%v tcp_nodelay=%v etag=%v if_modified_since=%s log_not_found=%v",
		s.Sendfile, s.SendfileMaxChunk, s.TCPNopush, s.TCPNodelay, s.Etag, imsText[s.IfModifiedSince], s.LogNotFound)
	if s.MaxRanges != DefaultMaxRanges || s.RandomIndex {
		d.line(depth, "max_ranges=%d random_index=%v", s.MaxRanges, s.RandomIndex)
	}
	if s.DisableSymlinks != SymlinksOff {
		from := "none"
		if s.SymlinksFrom != nil {
			from = tmpl(s.SymlinksFrom)
		}
		d.line(depth, "disable_symlinks %s from=%s", s.DisableSymlinks, from)
	}
	if s.OpenFileCache != nil || s.OpenFileCacheValid != DefaultOpenFileCacheValid || s.OpenFileCacheMinUses != DefaultOpenFileCacheMinUses ||
		s.OpenFileCacheErrors || s.OpenFileCacheEvents {
		cache := "off"
		if c := s.OpenFileCache; c != nil {
			cache = fmt.Sprintf("max=%d inactive=%s", c.Max, dur(c.Inactive))
		}
		d.line(depth, "open_file_cache %s valid=%s min_uses=%d errors=%v events=%v", cache, dur(s.OpenFileCacheValid), s.OpenFileCacheMinUses, s.OpenFileCacheErrors, s.OpenFileCacheEvents)
	}
}

var imsText = map[IfModifiedSince]string{IMSExact: "exact", IMSBefore: "before", IMSOff: "off"}

// resolverString writes a resolver's servers and parameters.
func resolverString(r *Resolver) string {
	if r == nil {
		return "none"
	}
	var parts []string
	for _, a := range r.Addrs {
		parts = append(parts, a.String())
	}
	parts = append(parts, "valid="+dur(r.Valid), "ipv4="+strconv.FormatBool(r.IPv4), "ipv6="+strconv.FormatBool(r.IPv6))
	return strings.Join(parts, " ")
}

// typeListText is a types list (gzip_types and the like) as the dump
// shows it: sorted, "*" last.
func typeListText(types map[string]bool, any bool) string {
	var list []string
	for t := range types {
		list = append(list, t)
	}
	sort.Strings(list)
	if any {
		list = append(list, "*")
	}
	return strings.Join(list, ",")
}

// syslogDump shows a syslog destination as read: where it sends and the
// header's fields.
func syslogDump(s *logs.Syslog) string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf(" (%s %s facility=%d severity=%d tag=%q nohostname=%v)", s.Network, s.Addr, s.Facility, s.Severity, s.Tag, s.NoHostname)
}

// paramsText shows a gateway module's parameters in order.
func paramsText(params []GatewayParam) string {
	var out []string
	for _, pa := range params {
		s := pa.Name + "=" + tmpl(pa.Value)
		if pa.IfNotEmpty {
			s += " if_not_empty"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}
