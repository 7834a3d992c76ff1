package conf

import (
	"fmt"
	"net"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"headroom/internal/logs"
	"headroom/internal/vars"
)

// httpBuild collects the http block while it is read; finishHTTP turns it
// into the HTTP value once the block is complete, as nginx does its
// merging and checks at the end of the http block.
type httpBuild struct {
	// noPort are the groups fastcgi_pass, scgi_pass or uwsgi_pass named
	// without a port, which must be upstream blocks.
	noPort    []*upstreamBuild
	node      *Node
	raw       *rawLoc
	servers   []*serverBuild
	upstreams []*upstreamBuild
	formats   map[string]*LogFormat
	// addrs tracks each listening address for nginx's duplicate checks.
	addrs     map[string]*addrEntry
	addrOrder []string
	// logFiles are the access log files named so far with their
	// buffering, which every access_log naming a file must repeat.
	logFiles map[string]AccessLog
}

// addrEntry is one listening address and the servers on it.
type addrEntry struct {
	text          string
	servers       []*serverBuild
	optionsSet    bool
	defaultServer bool
	backlog       int
	reusePort     bool
	// ssl is set when any listen of the address has "ssl": as in
	// nginx, the address then speaks TLS for every server on it.
	ssl bool
	// proxyProtocol is set when any listen of the address has
	// "proxy_protocol", which, as ssl, holds for the whole address.
	proxyProtocol bool
	// http2 is set when any listen of the address has "http2": as
	// in nginx, every connection to the address then speaks HTTP/2,
	// whichever server it is for.
	http2 bool
}

// serverBuild is a server block being read.
type serverBuild struct {
	node      *Node
	raw       *rawLoc
	listens   []Listen
	names     []ServerName
	locations []*locBuild
	named     []*locBuild
	// name is the server's $server_name, once a server_name set it
	// (hasName).
	name    string
	hasName bool
}

// locBuild is a location block being read.
type locBuild struct {
	node     *Node
	match    LocationMatch
	path     string
	regex    *Regex
	raw      *rawLoc
	children []*locBuild
	// ifs are the location's if blocks, limitExcept its limit_except.
	ifs         []*ifBuild
	limitExcept *limitExceptBuild
}

// rawLoc holds the settings written at one level (http, server or
// location); nil pointers and nil slices mean "not set here", so that the
// merge can tell inheritance from explicit values as nginx's UNSET
// markers do.
type rawLoc struct {
	static                     staticRaw
	errorPages                 []ErrorPage
	connectionPoolSize         *int64
	absoluteRedirect           *bool
	serverNameInRedirect       *bool
	portInRedirect             *bool
	msie                       msieRaw
	requestPoolSize            *int64
	proxyInterceptErrors       *bool
	recursiveErrorPages        *bool
	postAction                 *string
	proxyPass                  *ProxyPass
	proxySetHeaders            []HeaderTemplate
	proxyHTTPVersion           *string
	proxyConnectTimeout        *time.Duration
	proxyReadTimeout           *time.Duration
	proxySendTimeout           *time.Duration
	proxyNextUpstream          *NextUpstream
	proxyNextUpstreamTries     *int
	script                     []ScriptOp
	realIP                     realIPRaw
	rewriteLog                 *bool
	internal                   *bool
	serverTokens               *bool
	expires                    *Expires
	referers                   *refererRaw
	gzip                       gzipRaw
	ssi                        ssiRaw
	subFilter                  subFilterRaw
	auth                       authRaw
	authBasic                  authBasicRaw
	addition                   additionRaw
	postponeOutput             *int
	trailer                    trailerRaw
	secureLink                 secureLinkRaw
	ssl                        sslRaw
	proxySSL                   proxySSLRaw
	charset                    charsetRaw
	autoindex                  autoindexRaw
	uninitializedVarWarn       *bool
	handler                    Handler
	access                     []AccessRule
	accessSet                  bool
	addHeaders                 []AddHeader
	keepaliveTimeout           *time.Duration
	keepaliveHeader            *time.Duration
	keepaliveRequests          *int
	keepaliveTime              *time.Duration
	errorLogs                  []ErrorLog
	keepaliveDisable           *KeepaliveDisable
	clientMaxBodySize          *int64
	clientHeaderTimeout        *time.Duration
	clientBodyTimeout          *time.Duration
	sendTimeout                *time.Duration
	lchbNum                    *int
	clientHeaderBufferSize     *int
	lchbSize                   *int
	mergeSlashes               *bool
	ignoreInvalidHeaders       *bool
	underscoresInHeaders       *bool
	accessLogs                 []AccessLog
	accessLogSet               bool
	accessLogOff               bool
	openLogFileCache           *OpenLogFileCache
	openLogFileCacheSet        bool
	limitConns                 []limitConnRef
	limitConnResolved          []LimitConn
	limitConnStatus            *int
	limitConnLogLevel          *string
	limitConnDryRun            *bool
	limitReqs                  []limitReqRef
	limitReqResolved           []LimitReq
	limitReqStatus             *int
	limitReqLogLevel           *string
	limitReqDryRun             *bool
	proxyRequestBuffering      *bool
	clientBodyBufferSize       *int
	clientBodyTempPath         *TempPath
	clientBodyInFileOnly       *BodyFileMode
	clientBodyInSingleBuf      *bool
	proxyTempPath              *TempPath
	conn                       upstreamConnRaw
	rate                       rateRaw
	ph                         proxyHeadersRaw
	clientBodyMinRate          *minRate
	sendMinRate                *minRate
	proxyBuffering             *bool
	proxyBufferSize            *int
	subrequestOutputBufferSize *int
	proxyBuffers               *bufs
	proxyBusyBuffersSize       *int
	proxyMaxTempFileSize       *int64
	proxyTempFileWriteSize     *int
	proxyIgnoreHeaders         *IgnoreHeaders
	h2                         http2Raw
	linger                     lingerRaw
	logSubrequest              *bool
	cache                      cacheRaw
	fastcgi                    fastcgiRaw
	scgi                       paramsRaw
	uwsgi                      uwsgiRaw
	// shadows are the level's settings that fastcgi_X, scgi_X and
	// uwsgi_X set where proxy_X sets them for proxied requests, one
	// level per module (nil when it sets none).
	shadows [numGateways]*rawLoc
}

// nextOff marks "proxy_next_upstream off" until the merge turns it into
// the empty set.
const nextOff NextUpstream = 1 << 15

// combined is nginx's predefined log format.
const combined = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`

func httpDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "server", ctx: ctxHTTP, args: argNone, block: true, set: setServer,
			syntax: "server { ... }",
			doc:    "Defines a virtual server."},
		{name: "listen", ctx: ctxServer, args: arg1More, set: setListen,
			syntax: "listen address[:port] | port | unix:path [default_server] [ssl] [http2] [proxy_protocol] [fastopen=number] [backlog=number] [rcvbuf=size] [sndbuf=size] [deferred] [bind] [ipv6only=on|off] [reuseport] [so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]];", def: "*:80",
			doc: "Sets the address and port the server accepts connections on; names are resolved when the configuration is read. As in nginx, an address on a port where the wildcard address of its family listens too is served through the wildcard's socket, and a connection finds its servers by its local address, unless bind (or any socket option, which implies it) gives the address a socket of its own. An IPv6 socket is IPv6 only unless ipv6only=off, so that listen 80 and listen [::]:80 live side by side. deferred sets TCP_DEFER_ACCEPT (a connection is handed over once its first data has come, and read at once), fastopen TCP_FASTOPEN's queue, so_keepalive SO_KEEPALIVE and its TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT; setfib and quic are refused as by nginx 1.22 on Linux, accept_filter is ignored with nginx's message. With proxy_protocol every connection to the address must start with a PROXY protocol header (v1 or v2), whose addresses $proxy_protocol_addr and real_ip_header proxy_protocol read. With http2 the address speaks HTTP/2, for all its servers: with ssl when the client chooses it by ALPN (else HTTP/1.1), without ssl from the connection's start, as nginx 1.22 does (prior knowledge h2c, so HTTP/1 clients cannot use that address)."},
		{name: "server_name", ctx: ctxServer, args: arg1More, set: setServerName,
			syntax: "server_name name ...;", def: `""`,
			doc: "Sets the names (exact, *.wildcard, wildcard.*, .domain or ~regex) that select this server by the Host header."},
		{name: "location", ctx: ctxServer | ctxLocation, args: take12, block: true, set: setLocation,
			syntax: "location [ = | ^~ | ~ | ~* ] uri { ... }",
			doc:    "Sets configuration by request URI, matched in nginx's order: exact, longest prefix, regexes in order."},
		{name: "proxy_pass", ctx: ctxLocation | ctxIf | ctxLimitExcept, args: arg1, set: setProxyPass,
			syntax: "proxy_pass http://upstream | http://host[:port][/uri];",
			doc:    "Passes requests to an upstream group or address; a URI part replaces the matched location prefix. With variables the value is read for each request: an upstream group named without port, an address, or a name resolved with resolver (without one: 502), and a URI part is sent as it is."},
		{name: "proxy_set_header", ctx: hsl, args: arg2, set: setProxySetHeader,
			syntax: "proxy_set_header field value;", def: "Host $proxy_host; Connection close",
			doc: "Sets a request header sent upstream; an empty value drops the header. Inherited only by levels with none of their own."},
		{name: "proxy_http_version", ctx: hsl, args: arg1, set: setProxyHTTPVersion,
			syntax: "proxy_http_version 1.0 | 1.1;", def: "1.0",
			doc: "Sets the HTTP version used upstream; 1.1 is needed for upstream keep-alive."},
		{name: "proxy_connect_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.proxyConnectTimeout }),
			syntax: "proxy_connect_timeout time;", def: "60s",
			doc: "Limits the time to establish an upstream connection."},
		{name: "proxy_read_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.proxyReadTimeout }),
			syntax: "proxy_read_timeout time;", def: "60s",
			doc: "Limits the time between two reads from the upstream."},
		{name: "proxy_send_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.proxySendTimeout }),
			syntax: "proxy_send_timeout time;", def: "60s",
			doc: "Limits the time between two writes to the upstream."},
		{name: "proxy_next_upstream", ctx: hsl, args: arg1More, set: setProxyNextUpstream,
			syntax: "proxy_next_upstream error | timeout | invalid_header | http_500 | http_502 | http_503 | http_504 | http_403 | http_404 | http_429 | non_idempotent | off ...;", def: "error timeout",
			doc: "Sets when a request is retried on the next upstream server."},
		{name: "proxy_next_upstream_tries", ctx: hsl, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.proxyNextUpstreamTries }),
			syntax: "proxy_next_upstream_tries number;", def: "0",
			doc: "Limits the number of tries across upstream servers; 0 is unlimited."},
		{name: "server_tokens", ctx: hsl, args: arg1, set: setServerTokens,
			syntax: "server_tokens on | off | build;", def: "on",
			doc: "Shows headroom's version in the Server field and on error pages (on, build) or only its name (off)."},
		{name: "add_header", ctx: hsl | ctxIf, args: take23, set: setAddHeader,
			syntax: "add_header name value [always];",
			doc:    "Adds a response header for successful and redirect statuses, or to every status with always. Inherited only by levels with none of their own."},
		{name: "keepalive_timeout", ctx: hsl, args: take12, set: setKeepaliveTimeout,
			syntax: "keepalive_timeout timeout [header_timeout];", def: "75s",
			doc: "Sets how long an idle client connection stays open (0 disables keep-alive) and the optional Keep-Alive header value."},
		{name: "keepalive_requests", ctx: hsl, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.keepaliveRequests }),
			syntax: "keepalive_requests number;", def: "1000",
			doc: "Limits the requests served over one client connection."},
		{name: "keepalive_time", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.keepaliveTime }),
			syntax: "keepalive_time time;", def: "1h",
			doc: "Limits how long one client connection keeps being used: a request after that time is the connection's last."},
		{name: "keepalive_disable", ctx: hsl, args: arg1More, set: setKeepaliveDisable,
			syntax: "keepalive_disable none | browser ...;", def: "msie6",
			doc: "Disables keep-alive for browsers known to misbehave with it: msie6 (Internet Explorer 6 and older, for POST requests) and safari (Safari on macOS)."},
		{name: "client_max_body_size", ctx: hsl, args: arg1, set: setClientMaxBodySize,
			syntax: "client_max_body_size size;", def: "1m",
			doc: "Limits the request body size (413 beyond it); 0 is unlimited."},
		{name: "client_header_timeout", ctx: ctxHTTP | ctxServer, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.clientHeaderTimeout }),
			syntax: "client_header_timeout time;", def: "60s",
			doc: "Limits the time to receive the request header (408 beyond it)."},
		{name: "client_body_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.clientBodyTimeout }),
			syntax: "client_body_timeout time;", def: "60s",
			doc: "Limits the time between two reads of the request body."},
		{name: "send_timeout", ctx: hsl, args: arg1, set: msecSlot(func(r *rawLoc) **time.Duration { return &r.sendTimeout }),
			syntax: "send_timeout time;", def: "60s",
			doc: "Limits the time between two writes of the response to the client."},
		{name: "client_header_buffer_size", ctx: ctxHTTP | ctxServer, args: arg1, set: setClientHeaderBufferSize,
			syntax: "client_header_buffer_size size;", def: "1k",
			doc: "Sets the buffer nginx reads a request head into; headroom reads heads into larger buffers, so the size changes which requests are accepted no more than in nginx (large_client_header_buffers bounds them), and it counts, as in nginx, how much of a body that came with the head stays in memory."},
		{name: "large_client_header_buffers", ctx: ctxHTTP | ctxServer, args: arg2, set: setLargeClientHeaderBuffers,
			syntax: "large_client_header_buffers number size;", def: "4 8k",
			doc: "Limits the request line and header fields: a longer request line gets 414, a longer field 400."},
		{name: "access_log", ctx: hsl | ctxIf | ctxLimitExcept, args: arg1More, set: setAccessLog,
			syntax: "access_log path [format [buffer=size] [gzip[=level]] [flush=time] [if=condition]] | off;", def: "logs/access.log combined",
			doc: "Adds an access log in a named format; off disables logging at this level. With if=, a request whose condition is empty or \"0\" is not logged there. Without buffer= the lines of each round of events are written at its end; with it (per worker) when it is full, when flush= has passed since the oldest line, or at exit; gzip writes each batch as a gzip member (a 64k buffer unless given). Inherited only by levels with none of their own. A path with variables is evaluated when the request ends and the file opened, written and closed then (see open_log_file_cache), only if the request's root directory exists, as in nginx; such a log cannot be buffered. A syslog: destination (its parameters as error_log's; severity= sets the lines' severity, info by default) sends each line as a datagram when the request ends, and cannot be buffered; a line that cannot be sent is lost with a warning, as in nginx."},
		{name: "open_log_file_cache", ctx: hsl, args: take1234, set: setOpenLogFileCache,
			syntax: "open_log_file_cache max=N [inactive=time] [min_uses=N] [valid=time] | off;", def: "off",
			doc: "Keeps the files of access logs with variables in their paths open, per worker: at most max, closed when unused for inactive (10s), kept open once used min_uses (1) times within inactive, and checked for having been renamed or removed every valid (60s)."},
		{name: "log_subrequest", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.logSubrequest }),
			syntax: "log_subrequest on | off;", def: "off",
			doc: "Logs subrequests (SSI's includes) in the access log of their location as well, as nginx does; off, only the request that includes them is logged and counted."},
		{name: "log_format", ctx: ctxHTTP, args: arg2More, set: setLogFormat,
			syntax: "log_format name [escape=default|json|none] string ...;", def: "combined \"" + combined + "\"",
			doc: "Defines a named access log format; the strings are concatenated. combined is predefined."},
		{name: "upstream", ctx: ctxHTTP, args: arg1, block: true, set: setUpstream,
			syntax: "upstream name { ... }",
			doc:    "Defines a group of servers that proxy_pass can name."},
	}
}

func setHTTP(b *builder, n *Node, _ *scope) error {
	if b.http != nil {
		return errAt(n, "\"http\" directive is duplicate")
	}
	comb := &LogFormat{Name: "combined", Escape: "default", Template: mustTemplate(combined)}
	h := &httpBuild{
		node:    n,
		raw:     &rawLoc{},
		formats: map[string]*LogFormat{"combined": comb},
		addrs:   map[string]*addrEntry{},
	}
	b.http = h
	if err := b.run(n.Block, &scope{ctx: ctxHTTP, raw: h.raw}); err != nil {
		return err
	}
	return b.finishHTTP()
}

func setServer(b *builder, n *Node, _ *scope) error {
	s := &serverBuild{node: n, raw: &rawLoc{}}
	b.http.servers = append(b.http.servers, s)
	return b.run(n.Block, &scope{ctx: ctxServer, raw: s.raw, srv: s})
}

// duplicate is nginx's message for a directive set twice at one level.
func duplicate(n *Node) error {
	return errAt(n, "\"%s\" directive is duplicate", n.Name)
}

// msecSlot makes a handler for a time value in milliseconds.
func msecSlot(field func(*rawLoc) **time.Duration) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		d, ok := parseTime(n.Args[0], false)
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		*p = &d
		return nil
	}
}

// numSlot makes a handler for a plain number.
func numSlot(field func(*rawLoc) **int) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		v, ok := atoi(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid number", n.Name)
		}
		*p = &v
		return nil
	}
}

func setClientMaxBodySize(b *builder, n *Node, sc *scope) error {
	if sc.raw.clientMaxBodySize != nil {
		return duplicate(n)
	}
	v, ok := parseOffset(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.clientMaxBodySize = &v
	return nil
}

func setClientHeaderBufferSize(b *builder, n *Node, sc *scope) error {
	if sc.raw.clientHeaderBufferSize != nil {
		return duplicate(n)
	}
	// As nginx's size slot, 0 is accepted.
	v, ok := parseSize(n.Args[0])
	if !ok || v > 1<<31-1 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	size := int(v)
	sc.raw.clientHeaderBufferSize = &size
	return nil
}

func setLargeClientHeaderBuffers(b *builder, n *Node, sc *scope) error {
	if sc.raw.lchbNum != nil {
		return duplicate(n)
	}
	num, ok := atoi(n.Args[0])
	if !ok || num == 0 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	size, ok := parseSize(n.Args[1])
	if !ok || size == 0 || size > 1<<31 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	s := int(size)
	sc.raw.lchbNum, sc.raw.lchbSize = &num, &s
	return nil
}

func setKeepaliveTimeout(b *builder, n *Node, sc *scope) error {
	if sc.raw.keepaliveTimeout != nil {
		return duplicate(n)
	}
	d, ok := parseTime(n.Args[0], false)
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.keepaliveTimeout = &d
	if len(n.Args) == 2 {
		// The header timeout is in whole seconds, as nginx parses it.
		h, ok := parseTime(n.Args[1], true)
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		sc.raw.keepaliveHeader = &h
	}
	return nil
}

func setProxyHTTPVersion(b *builder, n *Node, sc *scope) error {
	if sc.raw.proxyHTTPVersion != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	if v != "1.0" && v != "1.1" {
		return errAt(n, "invalid value \"%s\"", v)
	}
	sc.raw.proxyHTTPVersion = &v
	return nil
}

var nextUpstreamNames = map[string]NextUpstream{
	"error":          NextError,
	"timeout":        NextTimeout,
	"invalid_header": NextInvalidHeader,
	"http_500":       NextHTTP500,
	"http_502":       NextHTTP502,
	"http_503":       NextHTTP503,
	"http_504":       NextHTTP504,
	"http_403":       NextHTTP403,
	"http_404":       NextHTTP404,
	"http_429":       NextHTTP429,
	"non_idempotent": NextNonIdempotent,
	"off":            nextOff,
}

// setProxyNextUpstream follows nginx's bit-mask directives: repeating the
// directive at one level adds to the set, and a repeated value is only a
// warning.
func setProxyNextUpstream(b *builder, n *Node, sc *scope) error {
	var set NextUpstream
	if sc.raw.proxyNextUpstream != nil {
		set = *sc.raw.proxyNextUpstream
	}
	for _, a := range n.Args {
		bit, ok := nextUpstreamNames[strings.ToLower(a)]
		if !ok {
			if strings.EqualFold(a, "updating") {
				if err := b.unsupportedParam(n, "updating"); err != nil {
					return err
				}
				continue
			}
			return errAt(n, "invalid value \"%s\"", a)
		}
		if set&bit != 0 {
			b.warn(errAt(n, "duplicate value \"%s\"", a))
		}
		set |= bit
	}
	sc.raw.proxyNextUpstream = &set
	return nil
}

// warn records a non-fatal finding, as nginx logs at level "warn".
func (b *builder) warn(e *Error) {
	b.cfg.Warnings = append(b.cfg.Warnings, e)
}

func setProxySetHeader(b *builder, n *Node, sc *scope) error {
	t, err := b.template(n, n.Args[1])
	if err != nil {
		return err
	}
	sc.raw.proxySetHeaders = append(sc.raw.proxySetHeaders, HeaderTemplate{Name: n.Args[0], Value: t})
	return nil
}

func setServerTokens(b *builder, n *Node, sc *scope) error {
	if sc.raw.serverTokens != nil {
		return duplicate(n)
	}
	var v bool
	switch n.Args[0] {
	case "on", "build":
		v = true
	case "off":
	default:
		return errAt(n, "invalid value \"%s\" in \"%s\" directive, it must be \"on\", \"off\" or \"build\"", n.Args[0], n.Name)
	}
	sc.raw.serverTokens = &v
	return nil
}

func setAddHeader(b *builder, n *Node, sc *scope) error {
	h, err := b.addedField(n)
	if err != nil {
		return err
	}
	sc.raw.addHeaders = append(sc.raw.addHeaders, h)
	return nil
}

// addedField reads "name value [always]", the arguments of add_header
// and add_trailer.
func (b *builder) addedField(n *Node) (AddHeader, error) {
	always := false
	if len(n.Args) == 3 {
		if n.Args[2] != "always" {
			return AddHeader{}, errAt(n, "invalid parameter \"%s\"", n.Args[2])
		}
		always = true
	}
	t, err := b.template(n, n.Args[1])
	if err != nil {
		return AddHeader{}, err
	}
	return AddHeader{Name: n.Args[0], Value: t, Always: always}, nil
}

func setAccessLog(b *builder, n *Node, sc *scope) error {
	raw := sc.raw
	if n.Args[0] == "off" {
		if len(n.Args) > 1 {
			return errAt(n, "invalid parameter \"%s\"", n.Args[1])
		}
		raw.accessLogSet, raw.accessLogOff = true, true
		return nil
	}
	path := n.Args[0]
	var sys *logs.Syslog
	if strings.HasPrefix(path, "syslog:") {
		var err error
		if sys, err = parseSyslog(n, path); err != nil {
			return err
		}
	}
	name := "combined"
	if len(n.Args) > 1 {
		name = n.Args[1]
	}
	f := b.http.formats[name]
	if f == nil {
		return errAt(n, "unknown log format \"%s\"", name)
	}
	al := AccessLog{Path: fullPath(b.cfg.Prefix, path), Format: f}
	if sys != nil {
		al.Path, al.Syslog = path, sys
	} else if hasVariables(path) {
		// As nginx, the prefix goes before a relative path with
		// variables when the configuration is read.
		t, err := b.template(n, al.Path)
		if err != nil {
			return err
		}
		al.PathTemplate = t
	}
	for _, p := range n.Args[min(2, len(n.Args)):] {
		key, value, hasValue := strings.Cut(p, "=")
		switch {
		case key == "if" && hasValue:
			t, err := b.template(n, value)
			if err != nil {
				return err
			}
			al.If = t
		case key == "buffer" && hasValue:
			v, ok := parseSize(value)
			if !ok || v <= 0 {
				return errAt(n, "invalid buffer size \"%s\"", value)
			}
			al.Buffer = int(v)
		case key == "flush" && hasValue:
			d, ok := parseTime(value, false)
			if !ok || d <= 0 {
				return errAt(n, "invalid flush time \"%s\"", value)
			}
			al.Flush = d
		case p == "gzip":
			al.Gzip = 1
		case key == "gzip" && hasValue:
			v, ok := atoi(value)
			if !ok || v < 1 || v > 9 {
				return errAt(n, "invalid compression level \"%s\"", value)
			}
			al.Gzip = v
		default:
			return errAt(n, "invalid parameter \"%s\"", p)
		}
	}
	if al.Flush > 0 && al.Buffer == 0 && al.Gzip == 0 {
		return errAt(n, "no buffer is defined for access_log \"%s\"", path)
	}
	if al.Gzip > 0 && al.Buffer == 0 {
		// nginx's buffer for a compressed log.
		al.Buffer = 64 << 10
	}
	if sys != nil {
		// Each line is a datagram of its own.
		if al.Buffer > 0 {
			return errAt(n, "logs to syslog cannot be buffered")
		}
		raw.accessLogSet = true
		raw.accessLogs = append(raw.accessLogs, al)
		return nil
	}
	if al.PathTemplate != nil {
		if al.Buffer > 0 {
			return errAt(n, "buffered logs cannot have variables in name")
		}
		raw.accessLogSet = true
		raw.accessLogs = append(raw.accessLogs, al)
		return nil
	}
	// One file has one buffer: every access_log naming it must agree.
	if prev, ok := b.http.logFiles[al.Path]; ok {
		if prev.Buffer != al.Buffer || prev.Flush != al.Flush || prev.Gzip != al.Gzip {
			return errAt(n, "access_log \"%s\" already defined with conflicting parameters", path)
		}
	} else {
		if b.http.logFiles == nil {
			b.http.logFiles = map[string]AccessLog{}
		}
		b.http.logFiles[al.Path] = al
	}
	raw.accessLogSet = true
	raw.accessLogs = append(raw.accessLogs, al)
	return nil
}

func setLogFormat(b *builder, n *Node, _ *scope) error {
	name := n.Args[0]
	if b.http.formats[name] != nil {
		return errAt(n, "duplicate \"log_format\" name \"%s\"", name)
	}
	escape, parts := "default", n.Args[1:]
	if v, ok := strings.CutPrefix(parts[0], "escape="); ok {
		switch v {
		case "default", "json", "none":
			escape = v
		default:
			return errAt(n, "unknown log format escaping \"%s\"", v)
		}
		parts = parts[1:]
	}
	t, err := b.template(n, strings.Join(parts, ""))
	if err != nil {
		return err
	}
	for _, p := range t.Parts {
		if p.Index == vars.Capture {
			// The log module reads names itself: "$1" is a variable
			// named "1" there, which nothing declares.
			return errAt(n, "unknown \"%s\" variable", p.Var)
		}
	}
	b.http.formats[name] = &LogFormat{Name: name, Escape: escape, Template: t}
	return nil
}

func setListen(b *builder, n *Node, sc *scope) error {
	arg := n.Args[0]
	var (
		host           string
		port, lastPort int
		ips            []string
	)
	unixPath, isUnix := strings.CutPrefix(arg, "unix:")
	if isUnix {
		// A unix socket's path is taken as written (nginx resolves no
		// prefix for it).
		path, perr := unixSocketPath(unixPath)
		if perr != "" {
			return errAt(n, "%s in \"%s\" of the \"listen\" directive", perr, arg)
		}
		unixPath = path
	} else {
		// As in nginx, the address is checked (and resolved) before
		// the parameters.
		var perr string
		host, port, lastPort, perr = splitListenRange(arg)
		if perr != "" {
			return errAt(n, "%s in \"%s\" of the \"listen\" directive", perr, arg)
		}
		var ok bool
		ips, ok = resolve(host)
		if !ok {
			return errAt(n, "host not found in \"%s\" of the \"listen\" directive", arg)
		}
	}
	l := Listen{File: n.File, Line: n.Line}
	optionsSet := false
	for _, p := range n.Args[1:] {
		key, val, hasVal := strings.Cut(p, "=")
		switch {
		case p == "default_server" || p == "default":
			l.DefaultServer = true
		case p == "reuseport":
			l.ReusePort, l.Bind, optionsSet = true, true, true
		case p == "ssl":
			l.SSL = true
		case p == "proxy_protocol":
			// Not a socket option: nginx lets any listen of an
			// address say it, besides the one with the options.
			l.ProxyProtocol = true
		case p == "http2":
			// Like ssl, not a socket option: it holds for the
			// address whichever of its listens says it.
			l.HTTP2 = true
		case key == "backlog" && hasVal:
			v, ok := atoi(val)
			if !ok || v == 0 {
				return errAt(n, "invalid backlog \"%s\"", val)
			}
			l.Backlog, l.Bind, optionsSet = v, true, true
		case (key == "sndbuf" || key == "rcvbuf") && hasVal:
			v, ok := parseSize(val)
			if !ok || v <= 0 || v > 1<<31-1 {
				// nginx quotes the whole parameter.
				return errAt(n, "invalid %s \"%s\"", key, p)
			}
			if key == "sndbuf" {
				l.SndBuf = int(v)
			} else {
				l.RcvBuf = int(v)
			}
			l.Bind, optionsSet = true, true
		case p == "bind":
			l.Bind, optionsSet = true, true
		case p == "deferred":
			l.Deferred, l.Bind, optionsSet = true, true, true
		case strings.HasPrefix(p, "ipv6only=o"):
			switch p[len("ipv6only=o"):] {
			case "n":
				l.DualStack = false
			case "ff":
				l.DualStack = true
			default:
				return errAt(n, "invalid ipv6only flags \"%s\"", val)
			}
			l.Bind, optionsSet = true, true
		case key == "so_keepalive" && hasVal:
			if err := parseSoKeepalive(&l, val); err != nil {
				return errAt(n, "%s", err.Error())
			}
			l.Bind, optionsSet = true, true
		case key == "fastopen" && hasVal:
			v, ok := atoi(val)
			if !ok {
				return errAt(n, "invalid fastopen \"%s\"", p)
			}
			l.FastOpen, l.FastOpenSet = v, true
			l.Bind, optionsSet = true, true
		case key == "accept_filter" && hasVal:
			// A FreeBSD feature: nginx on Linux says so and goes on.
			b.warn(errAt(n, "accept filters \"%s\" are not supported on this platform, ignored", p))
		default:
			return errAt(n, "invalid parameter \"%s\"", p)
		}
	}
	if isUnix {
		l.Addr = "unix:" + unixPath
		return b.http.addListen(n, sc.srv, l, optionsSet)
	}
	for _, ip := range ips {
		for p := port; p <= lastPort; p++ {
			l.Addr = net.JoinHostPort(ip, strconv.Itoa(p))
			if err := b.http.addListen(n, sc.srv, l, optionsSet); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseSoKeepalive reads listen's so_keepalive=on|off|[idle]:[intvl]:[cnt]
// as nginx does: idle and intvl are times in seconds, cnt a number, any
// of them may be left out, but not all.
func parseSoKeepalive(l *Listen, v string) error {
	switch v {
	case "on":
		l.KeepAlive = 1
		return nil
	case "off":
		l.KeepAlive = -1
		return nil
	}
	invalid := fmt.Errorf("invalid so_keepalive value: \"%s\"", v)
	idle, rest, _ := strings.Cut(v, ":")
	intvl, cnt, _ := strings.Cut(rest, ":")
	var ok bool
	if idle != "" {
		if l.KeepIdle, ok = parseTime(idle, true); !ok {
			return invalid
		}
	}
	if intvl != "" {
		if l.KeepIntvl, ok = parseTime(intvl, true); !ok {
			return invalid
		}
	}
	if cnt != "" {
		if l.KeepCnt, ok = atoi(cnt); !ok {
			return invalid
		}
	}
	if l.KeepIdle == 0 && l.KeepIntvl == 0 && l.KeepCnt == 0 {
		return invalid
	}
	l.KeepAlive = 1
	return nil
}

// splitListenRange is splitListen for a listen address whose port may be
// a range "first-last", as nginx reads it: every port of the range is
// listened on.
func splitListenRange(s string) (host string, port, last int, err string) {
	base := s
	rangeText := ""
	// A range is "port-port" after the address's last colon (or alone);
	// a '-' elsewhere belongs to a host name.
	if i := strings.LastIndexByte(s, '-'); i > 0 && allDigits(s[i+1:]) {
		before := s[:i]
		j := strings.LastIndexByte(before, ':')
		if allDigits(before) || j >= 0 && j > strings.LastIndexByte(before, ']') && allDigits(before[j+1:]) {
			base, rangeText = before, s[i+1:]
		}
	}
	host, port, err = splitListen(base)
	if err != "" || rangeText == "" {
		return host, port, port, err
	}
	last, ok := atoi(rangeText)
	if !ok || last < 1 || last > 65535 {
		return "", 0, 0, "invalid port"
	}
	if last < port {
		return "", 0, 0, "invalid port range"
	}
	return host, port, last, ""
}

// splitListen splits a listen address into host and port: "8080" and
// "*:8080" listen on every IPv4 address, "host" alone means port 80. The
// error, if any, is nginx's wording.
func splitListen(s string) (string, int, string) {
	if n, ok := atoi(s); ok {
		if n < 1 || n > 65535 {
			return "", 0, "invalid port"
		}
		return "*", n, ""
	}
	host, portText := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, "invalid host"
		}
		host = s[:end+1]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, "invalid host"
			}
			portText = rest[1:]
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, portText = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return "", 0, "invalid host"
		}
	} else {
		return s, 80, ""
	}
	if portText == "" && !strings.HasPrefix(s, "[") {
		return "", 0, "invalid port"
	}
	port := 80
	if portText != "" {
		n, ok := atoi(portText)
		if !ok || n < 1 || n > 65535 {
			return "", 0, "invalid port"
		}
		port = n
	}
	if host == "" {
		return "", 0, "no host"
	}
	return host, port, ""
}

// lookupHost resolves names; tests replace it to stay off the network.
var lookupHost = net.LookupHost

// resolve turns a host into IP literals: "*" is 0.0.0.0, bracketed or
// bare IP literals are kept, and names are looked up, IPv4 addresses
// first as nginx orders them.
func resolve(host string) ([]string, bool) {
	if host == "*" {
		return []string{"0.0.0.0"}, true
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip := net.ParseIP(h); ip != nil {
		return []string{ip.String()}, true
	}
	if strings.HasPrefix(host, "[") {
		return nil, false
	}
	addrs, err := lookupHost(h)
	if err != nil || len(addrs) == 0 {
		return nil, false
	}
	var v4, v6 []string
	seen := map[string]bool{}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || seen[ip.String()] {
			continue
		}
		seen[ip.String()] = true
		if ip.To4() != nil {
			v4 = append(v4, ip.String())
		} else {
			v6 = append(v6, ip.String())
		}
	}
	out := append(v4, v6...)
	return out, len(out) > 0
}

// addListen registers a server on an address with nginx's checks: a
// server may listen on an address once, only one listen per address may
// carry socket options, and only one server may be its default.
func (h *httpBuild) addListen(n *Node, s *serverBuild, l Listen, optionsSet bool) error {
	e := h.addrs[l.Addr]
	if e == nil {
		e = &addrEntry{text: l.Addr}
		h.addrs[l.Addr] = e
		h.addrOrder = append(h.addrOrder, l.Addr)
	} else {
		for _, other := range e.servers {
			if other == s {
				return errAt(n, "a duplicate listen %s", l.Addr)
			}
		}
		if optionsSet && e.optionsSet {
			return errAt(n, "duplicate listen options for %s", l.Addr)
		}
		if l.DefaultServer && e.defaultServer {
			return errAt(n, "a duplicate default server for %s", l.Addr)
		}
	}
	e.servers = append(e.servers, s)
	if l.SSL {
		e.ssl = true
	}
	if l.ProxyProtocol {
		e.proxyProtocol = true
	}
	if l.HTTP2 {
		e.http2 = true
	}
	if optionsSet {
		e.optionsSet, e.backlog, e.reusePort = true, l.Backlog, l.ReusePort
	}
	if l.DefaultServer {
		e.defaultServer = true
	}
	s.listens = append(s.listens, l)
	return nil
}

func setServerName(b *builder, n *Node, sc *scope) error {
	for _, a := range n.Args {
		if len(a) > 0 && ((a[0] == '*' && (len(a) < 3 || a[1] != '.')) || (a[0] == '.' && len(a) < 2)) {
			return errAt(n, "server name \"%s\" is invalid", a)
		}
		if !sc.srv.hasName {
			// $server_name is the first name as written: a regex
			// with its "~", a ".domain" without its dot, the rest in
			// lower case.
			sc.srv.hasName = true
			switch {
			case a == "$hostname":
				sc.srv.name = hostname
			case strings.HasPrefix(a, "~"):
				sc.srv.name = a
			default:
				sc.srv.name = strings.ToLower(strings.TrimPrefix(a, "."))
			}
		}
		if strings.Contains(a, "/") {
			b.warn(errAt(n, "server name \"%s\" has suspicious symbols", a))
		}
		switch {
		case a == "$hostname":
			sc.srv.names = append(sc.srv.names, ServerName{Kind: NameExact, Name: hostname})
		case strings.HasPrefix(a, "~"):
			if len(a) == 1 {
				return errAt(n, "empty regex in server name \"%s\"", a)
			}
			re, err := b.regex(n, a[1:], true)
			if err != nil {
				return err
			}
			sc.srv.names = append(sc.srv.names, ServerName{Kind: NameRegex, Name: a[1:], Regex: re})
		case strings.HasPrefix(a, "."):
			low := strings.ToLower(a)
			sc.srv.names = append(sc.srv.names,
				ServerName{Kind: NameWildcardPrefix, Name: "*" + low},
				ServerName{Kind: NameExact, Name: low[1:]})
		case strings.HasPrefix(a, "*."):
			sc.srv.names = append(sc.srv.names, ServerName{Kind: NameWildcardPrefix, Name: strings.ToLower(a)})
		case strings.HasSuffix(a, ".*") && len(a) > 2:
			sc.srv.names = append(sc.srv.names, ServerName{Kind: NameWildcardSuffix, Name: strings.ToLower(a)})
		default:
			sc.srv.names = append(sc.srv.names, ServerName{Kind: NameExact, Name: strings.ToLower(a)})
		}
	}
	return nil
}

// validServerName applies nginx's rules for names in its server name
// hash: at most one "*", only as a whole first or last label, and no
// empty label.
func validServerName(sn ServerName) bool {
	if sn.Kind == NameRegex {
		return true
	}
	name := sn.Name
	if strings.Count(name, "*") > 1 || strings.Contains(name, "..") || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	switch sn.Kind {
	case NameWildcardPrefix:
		return len(name) > 2
	case NameWildcardSuffix:
		return len(name) > 2
	}
	return !strings.Contains(name, "*")
}

// compileRegex compiles a location or server name regex. Go's RE2 syntax
// covers the PCRE features nginx configurations commonly use (classes,
// anchors, groups, named captures) but not backreferences or lookaround.
func compileRegex(src string, caseless bool) (*regexp.Regexp, error) {
	if caseless {
		return regexp.Compile("(?i)" + src)
	}
	return regexp.Compile(src)
}

func regexError(src string, err error) string {
	msg := err.Error()
	if e, ok := err.(*syntax.Error); ok {
		msg = string(e.Code)
		if e.Expr != "" && e.Expr != src {
			msg += " at \"" + e.Expr + "\""
		}
	}
	return fmt.Sprintf("regex \"%s\" is invalid or not supported by headroom: %s", src, msg)
}

func setLocation(b *builder, n *Node, sc *scope) error {
	l := &locBuild{node: n, raw: &rawLoc{}}
	var name string
	if len(n.Args) == 2 {
		name = n.Args[1]
		switch n.Args[0] {
		case "=":
			l.match = MatchExact
		case "^~":
			l.match = MatchPrefixNoRegex
		case "~":
			l.match = MatchRegex
		case "~*":
			l.match = MatchRegexCaseless
		default:
			return errAt(n, "invalid location modifier \"%s\"", n.Args[0])
		}
	} else {
		name = n.Args[0]
		switch {
		case strings.HasPrefix(name, "="):
			l.match, name = MatchExact, name[1:]
		case strings.HasPrefix(name, "^~"):
			l.match, name = MatchPrefixNoRegex, name[2:]
		case strings.HasPrefix(name, "~*"):
			l.match, name = MatchRegexCaseless, name[2:]
		case strings.HasPrefix(name, "~"):
			l.match, name = MatchRegex, name[1:]
		case strings.HasPrefix(name, "@"):
			if sc.loc != nil && sc.loc.match == MatchExact {
				return errAt(n, "location \"%s\" cannot be inside the exact location \"%s\"", name, sc.loc.path)
			}
			if sc.loc != nil {
				return errAt(n, "named location \"%s\" can be on the server level only", name)
			}
			l.match = MatchNamed
		}
	}
	l.path = name
	if l.match == MatchRegex || l.match == MatchRegexCaseless {
		re, err := b.regex(n, name, l.match == MatchRegexCaseless)
		if err != nil {
			return err
		}
		l.regex = re
	}
	if p := sc.loc; p != nil {
		if p.match == MatchExact || p.match == MatchNamed {
			what := "exact"
			if p.match == MatchNamed {
				what = "named"
			}
			return errAt(n, "location \"%s\" cannot be inside the %s location \"%s\"", name, what, p.path)
		}
		if l.regex == nil && !strings.HasPrefix(name, p.path) {
			return errAt(n, "location \"%s\" is outside location \"%s\"", name, p.path)
		}
		p.children = append(p.children, l)
	} else if l.match == MatchNamed {
		for _, o := range sc.srv.named {
			if o.path == name {
				return errAt(n, "duplicate location \"%s\"", name)
			}
		}
		sc.srv.named = append(sc.srv.named, l)
	} else {
		sc.srv.locations = append(sc.srv.locations, l)
	}
	return b.run(n.Block, &scope{ctx: ctxLocation, raw: l.raw, srv: sc.srv, loc: l})
}

func setProxyPass(b *builder, n *Node, sc *scope) error {
	// A fastcgi_pass at the same level is replaced, as nginx lets the
	// last content handler win.
	if sc.raw.proxyPass != nil && !sc.raw.proxyPass.Protocol.Gateway() {
		return duplicate(n)
	}
	if sc.raw.handler != HandlerNone {
		return errAt(n, "\"proxy_pass\" cannot be combined with \"%s\" at the same level", sc.raw.handler)
	}
	url := n.Args[0]
	if hasVariables(url) {
		t, err := b.template(n, url)
		if err != nil {
			return err
		}
		sc.raw.proxyPass = &ProxyPass{Scheme: "http", URL: t}
		return nil
	}
	lower := strings.ToLower(url)
	var rest string
	scheme, defPort := "http", 80
	switch {
	case strings.HasPrefix(lower, "http://"):
		rest = url[len("http://"):]
	case strings.HasPrefix(lower, "https://"):
		rest = url[len("https://"):]
		scheme, defPort = "https", 443
	default:
		return errAt(n, "invalid URL prefix in \"%s\"", url)
	}
	if strings.HasPrefix(strings.ToLower(rest), "unix:") {
		return setProxyPassUnix(b, n, sc, rest, scheme)
	}
	hostport, uri := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostport, uri = rest[:i], rest[i:]
	}
	host, port, noPort, perr := splitUpstreamAddr(hostport)
	if perr != "" {
		return errAt(n, "%s in upstream \"%s\"", perr, rest)
	}
	if noPort {
		port = defPort
	}
	u, err := b.http.upstreamRef(n, host, port, noPort, hostport)
	if err != nil {
		return err
	}
	pp := &ProxyPass{Scheme: scheme, Host: hostport, URI: uri, HasURI: uri != "", ProxyHost: host, ProxyPort: strconv.Itoa(defPort), Upstream: u.up}
	if !noPort && port != defPort {
		pp.ProxyHost = hostport
		pp.ProxyPort = strconv.Itoa(port)
	}
	if pp.HasURI && (sc.loc.regex != nil || sc.loc.match == MatchNamed || sc.ctx == ctxIf || sc.ctx == ctxLimitExcept) {
		return errAt(n, "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside named location, or inside \"if\" statement, or inside \"limit_except\" block")
	}
	sc.raw.proxyPass = pp
	return nil
}

// setProxyPassUnix sets "proxy_pass http://unix:/path[:/uri]": the socket
// path runs to the first ':' after it, and what follows is the URI part.
// As nginx, the request's Host is "localhost" and $proxy_port is empty.
func setProxyPassUnix(b *builder, n *Node, sc *scope, rest, scheme string) error {
	path, uri := rest[len("unix:"):], ""
	if i := strings.IndexByte(path, ':'); i >= 0 {
		path, uri = path[:i], path[i+1:]
	}
	path, perr := unixSocketPath(path)
	if perr != "" {
		return errAt(n, "%s in upstream \"%s\"", perr, rest)
	}
	addr := "unix:" + path
	u, err := b.http.upstreamRef(n, addr, 0, true, addr)
	if err != nil {
		return err
	}
	pp := &ProxyPass{Scheme: scheme, Host: addr, URI: uri, HasURI: uri != "", ProxyHost: "localhost", ProxyPort: "", Upstream: u.up}
	if pp.HasURI && (sc.loc.regex != nil || sc.loc.match == MatchNamed || sc.ctx == ctxIf) {
		return errAt(n, "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside named location, or inside \"if\" statement, or inside \"limit_except\" block")
	}
	sc.raw.proxyPass = pp
	return nil
}

// splitUpstreamAddr splits "host[:port]" (host may be a bracketed IPv6
// literal) as nginx's URL parser does for upstream addresses; noPort
// reports that the port was not written and defaults to 80.
func splitUpstreamAddr(s string) (host string, port int, noPort bool, err string) {
	host, portText, hasPort := s, "", false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, false, "invalid host"
		}
		if ip := net.ParseIP(s[1:end]); ip == nil || ip.To4() != nil && !strings.Contains(s[1:end], ":") {
			return "", 0, false, "invalid IPv6 address"
		}
		host = s[:end+1]
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' {
				return "", 0, false, "invalid host"
			}
			portText, hasPort = rest[1:], true
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, portText, hasPort = s[:i], s[i+1:], true
	}
	if host == "" {
		return "", 0, false, "no host"
	}
	if !hasPort {
		return host, 80, true, ""
	}
	n, ok := atoi(portText)
	if !ok || n < 1 || n > 65535 {
		return "", 0, false, "invalid port"
	}
	return host, n, false, ""
}

func mustTemplate(s string) *vars.Template {
	t, err := vars.Compile(s)
	if err != nil {
		panic(err)
	}
	return t
}

// allDigits reports whether s is a non-empty run of decimal digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
