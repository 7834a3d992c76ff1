package conf

import (
	"net/netip"
	"regexp"
	"time"

	"headroom/internal/logs"
	"headroom/internal/vars"
)

// Config is a whole configuration after parsing, validation and merging of
// inherited values (http → server → location), ready for the runtime. Every
// field has nginx's default when the directive is absent.
type Config struct {
	// File is the absolute path of the main configuration file.
	File string
	// Prefix is the prefix path (-p) that relative paths are resolved against.
	Prefix string
	// Files lists every file read, the main one first, in the order read,
	// with its contents, for "-T".
	Files []SourceFile

	// WorkerProcesses is the number of event loops; 0 means "auto" (one per CPU).
	WorkerProcesses int
	// WorkerRlimitNofile, when non-zero, is the RLIMIT_NOFILE to set at start.
	WorkerRlimitNofile int
	// WorkerShutdownTimeout bounds a graceful shutdown; 0 means no bound.
	WorkerShutdownTimeout time.Duration
	// PID is the pid file path (absolute); empty when "pid off;".
	PID string
	// User is the user (and optional group) to switch to, as written.
	User string
	// Daemon is nginx's "daemon" flag; headroom defaults it to on like nginx.
	Daemon bool
	// ErrorLogs lists error log destinations; the default is
	// <prefix>/logs/error.log at level "error".
	ErrorLogs []ErrorLog

	Events Events
	// HTTP is nil when the configuration has no http block.
	HTTP *HTTP

	// Unsupported lists the real nginx directives (or parameters) that
	// headroom does not implement, in the order met; it is only filled when
	// LoadOptions.Lenient is set, since otherwise the first one is an error.
	Unsupported []Unsupported
	// Warnings are the non-fatal findings nginx logs at level "warn" while
	// reading a configuration, such as conflicting server names.
	Warnings []*Error
}

// Unsupported is one nginx directive or parameter that headroom does not
// implement, found while loading in lenient mode.
type Unsupported struct {
	// Name is the directive name, e.g. "gzip" or "listen".
	Name string
	// Detail says what exactly is unsupported when it is not the whole
	// directive, e.g. `parameter "ssl"`; empty otherwise.
	Detail string
	File   string
	Line   int
}

// SourceFile is one configuration file as read.
type SourceFile struct {
	Path    string
	Content []byte
}

// ErrorLog is one error_log destination.
type ErrorLog struct {
	// Path is an absolute file path, "stderr", or the "syslog:"
	// destination as written.
	Path string
	// Level is one of debug, info, notice, warn, error, crit, alert, emerg.
	Level string
	// Syslog is set for a "syslog:" destination.
	Syslog *logs.Syslog
}

// Events holds the events{} block.
type Events struct {
	// WorkerConnections is the number of connection slots per worker; 0 means
	// it was not set and the capacity model derives it (nginx's default is 512).
	WorkerConnections int
	MultiAccept       bool
	AcceptMutex       bool
	// Use is the connection method; only "epoll" is accepted.
	Use string
}

// HTTP holds the http{} block.
type HTTP struct {
	Servers    []*Server
	Upstreams  map[string]*Upstream
	LogFormats map[string]*LogFormat
	// LimitConnZones are the limit_conn_zone definitions by name.
	LimitConnZones map[string]*LimitConnZone
	// LimitReqZones are the limit_req_zone definitions by name.
	LimitReqZones map[string]*LimitReqZone
	// CachePaths are the proxy_cache_path definitions by zone.
	CachePaths map[string]*CachePath
	// ZoneSync is the store that zones with "sync" share, or nil.
	ZoneSync *ZoneSync
	// Variables are the configuration's own variables (set, named
	// captures) by slot, so that a request keeps one value for each.
	Variables []Variable
	// VariableSlots finds a variable of the configuration's own by its
	// name, for names known only while a request runs (SSI's echo).
	VariableSlots map[string]int
	// Captures is set when a template reads "$1" to "$9" or a regex has
	// named groups: regex matches then keep their groups.
	Captures bool
	// HTTP2RecvBufferSize (http2_recv_buffer_size, default 256k, more
	// than 32) is the per-worker buffer HTTP/2 connections are read
	// into. It lives here because nginx allows it only in the http
	// block: one buffer is shared by all the connections of a worker.
	HTTP2RecvBufferSize int
}

// Variable is a variable the configuration declares. Set is true when a
// set directive gives it values: read before any did for a request it is
// empty (with nginx's warning); otherwise, as a named capture before a
// match, it has no value.
type Variable struct {
	Name string
	Set  bool
	// Map computes the value when a request first reads it, for a map's
	// variable.
	Map *Map
	// SplitClients computes the value of a split_clients variable, and
	// Geo that of a geo variable, when a request first reads it.
	SplitClients *SplitClients
	Geo          *Geo
}

// LimitReqZone is a limit_req_zone: a request rate per value of Key, kept
// in a table shared by all workers and bounded by Size bytes.
type LimitReqZone struct {
	Name string
	Key  *vars.Template
	Size int64
	// RatePerMinute is the rate; "10r/s" is 600.
	RatePerMinute int
	// Sync keeps the zone's buckets in the zone_sync store, shared by
	// every instance that uses it.
	Sync bool
	File string
	Line int
}

// LimitReq is one limit_req: requests beyond the zone's rate are delayed
// (beyond Delay of them, none with NoDelay) and those beyond Burst refused.
type LimitReq struct {
	Zone    *LimitReqZone
	Burst   int
	Delay   int
	NoDelay bool
}

// LimitConnZone is a limit_conn_zone: requests in progress are counted per
// value of Key, in a table shared by all workers and bounded by Size bytes.
type LimitConnZone struct {
	Name string
	Key  *vars.Template
	Size int64
	// Sync keeps the zone's counts in the zone_sync store, shared by
	// every instance that uses it.
	Sync bool
	File string
	Line int
}

// LimitConn is one limit_conn: at most Max requests in progress per key of
// Zone.
type LimitConn struct {
	Zone *LimitConnZone
	Max  int
}

// Listeners returns the configuration's listening addresses that get a
// socket of their own, each once, in the order first written: what the
// runtime opens one socket for (per worker with reuseport) and what the
// capacity model counts. Addresses served through a wildcard address's
// socket (SharedWildcard) are left out.
func (c *Config) Listeners() []Listen {
	if c.HTTP == nil {
		return nil
	}
	var all []Listen
	index := map[string]int{}
	for _, s := range c.HTTP.Servers {
		for _, l := range s.Listens {
			i, ok := index[l.Addr]
			if !ok {
				index[l.Addr] = len(all)
				all = append(all, l)
				continue
			}
			// The socket options may be on any one listen of the
			// address.
			if l.Bind {
				all[i] = l
			}
		}
	}
	var out []Listen
	for _, l := range all {
		if SharedWildcard(l.Addr, l.Bind, index) == "" {
			out = append(out, l)
		}
	}
	return out
}

// SharedWildcard returns the wildcard address (0.0.0.0 or [::]) of the
// same family and port as addr among the addresses listened on, whose
// socket serves addr too, as in nginx: an address listened on without
// bind (or a socket option) on a port where its family's wildcard
// listens gets no socket of its own, and its connections find its
// servers by their local address. It returns "" where addr needs a
// socket of its own. Linux would refuse that socket anyway, because the
// wildcard's socket covers every address of the port.
func SharedWildcard[V any](addr string, bind bool, listened map[string]V) string {
	if bind {
		return ""
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Addr().IsUnspecified() {
		return ""
	}
	wild := netip.IPv4Unspecified()
	if ap.Addr().Is6() {
		wild = netip.IPv6Unspecified()
	}
	w := netip.AddrPortFrom(wild, ap.Port()).String()
	if _, ok := listened[w]; ok {
		return w
	}
	return ""
}

// Listen is one listen directive.
type Listen struct {
	// Addr is "host:port" with the host resolved to an IP literal, e.g.
	// "127.0.0.1:8080"; "*:80" becomes "0.0.0.0:80"; a unix socket is
	// "unix:/path".
	Addr          string
	DefaultServer bool
	ReusePort     bool
	// SSL is set for an address where any listen has "ssl".
	SSL bool
	// ProxyProtocol is set for an address where any listen has
	// "proxy_protocol": as in nginx, every connection to it starts with
	// a PROXY protocol header, whichever server it is for.
	ProxyProtocol bool
	// HTTP2 is set for an address where any listen has "http2": as in
	// nginx, the address speaks HTTP/2 for every server on it. With SSL
	// a client chooses HTTP/2 by ALPN ("h2") or gets HTTP/1.1; without
	// it a connection that starts with the HTTP/2 preface speaks HTTP/2
	// (prior knowledge). nginx 1.22 closes a cleartext connection that
	// sends HTTP/1 there; headroom serves it as HTTP/1, as nginx 1.25
	// does.
	HTTP2 bool
	// Backlog is the listen backlog given with backlog=; 0 when not
	// given, and the runtime then uses net.core.somaxconn (nginx uses 511).
	Backlog int
	// SndBuf and RcvBuf (sndbuf=, rcvbuf=) set SO_SNDBUF and SO_RCVBUF
	// on the listening socket, which accepted connections inherit; 0
	// leaves the system's.
	SndBuf, RcvBuf int
	// Bind gives the address a socket of its own. Without it an address
	// on a port where the wildcard address (0.0.0.0 or [::]) of the same
	// family also listens is served through the wildcard's socket, and
	// a connection finds its address's servers by its local address, as
	// in nginx. Every socket option (backlog=, rcvbuf=, sndbuf=,
	// deferred, ipv6only=, reuseport, so_keepalive=, fastopen=) implies
	// it, as in nginx.
	Bind bool
	// Deferred (deferred) sets TCP_DEFER_ACCEPT: the kernel hands over
	// a connection once its first data has come, and its request is
	// read at once.
	Deferred bool
	// DualStack is ipv6only=off: an IPv6 wildcard socket then takes
	// IPv4 connections too. By default (ipv6only=on) an IPv6 socket is
	// IPv6 only, so that "listen 80" and "listen [::]:80" live side by
	// side, as in nginx.
	DualStack bool
	// KeepAlive is so_keepalive: 0 when not given (the system's
	// default, off), 1 for on or a tuple, -1 for off. KeepIdle,
	// KeepIntvl and KeepCnt are the tuple's TCP_KEEPIDLE,
	// TCP_KEEPINTVL and TCP_KEEPCNT, 0 where not given (the system's).
	KeepAlive           int
	KeepIdle, KeepIntvl time.Duration
	KeepCnt             int
	// FastOpen is fastopen=: the queue of TCP Fast Open connections
	// not yet accepted (TCP_FASTOPEN), when FastOpenSet.
	FastOpen    int
	FastOpenSet bool
	// File and Line locate the directive for error messages.
	File string
	Line int
}

// ServerNameKind classifies a server_name entry for nginx's selection order.
type ServerNameKind int

const (
	// NameExact matches the whole host, case-insensitively.
	NameExact ServerNameKind = iota
	// NameWildcardPrefix is "*.example.com" or ".example.com".
	NameWildcardPrefix
	// NameWildcardSuffix is "www.example.*".
	NameWildcardSuffix
	// NameRegex is "~regex".
	NameRegex
)

// ServerName is one server_name entry.
type ServerName struct {
	Kind ServerNameKind
	// Name is the lower-cased name as written, without "~" for regexes; for
	// ".example.com" it is "*.example.com" plus an exact entry "example.com".
	Name  string
	Regex *Regex
}

// Server is one server{} block in http.
type Server struct {
	Listens []Listen
	Names   []ServerName
	// Name is $server_name: the first name as written (a regex with its
	// "~", ".domain" without its dot, others in lower case).
	Name string
	// Locations is the top-level location tree of this server.
	Locations []*Location
	// Named are the named locations ("@name", Path with its "@"), which
	// only try_files, error_page and X-Accel-Redirect reach.
	Named []*Location
	// Loc holds the server-level settings (merged from http); locations
	// inherit from it, and requests that match no location use it. Its
	// Script runs before locations are matched, as nginx's server
	// rewrite phase; ProxyPass is never set here because proxy_pass is
	// only allowed in locations.
	Loc *LocConf
	// File and Line locate the "server" directive.
	File string
	Line int
}

// LocationMatch is the modifier of a location.
type LocationMatch int

const (
	// MatchPrefix is "location /path".
	MatchPrefix LocationMatch = iota
	// MatchExact is "location = /path".
	MatchExact
	// MatchPrefixNoRegex is "location ^~ /path".
	MatchPrefixNoRegex
	// MatchRegex is "location ~ re".
	MatchRegex
	// MatchRegexCaseless is "location ~* re".
	MatchRegexCaseless
	// MatchNamed is "location @name".
	MatchNamed
)

// Location is one location{} block.
type Location struct {
	Match LocationMatch
	// Path is the prefix, exact path or regex source.
	Path  string
	Regex *Regex
	// Nested locations, matched after this one as nginx does.
	Locations []*Location
	// Loc holds this location's settings, merged from its parent.
	Loc  *LocConf
	File string
	Line int
}

// LocConf holds the settings of the http, server and location levels. After
// merging, every field is set (inherited or nginx's default).
type LocConf struct {
	// ErrorPages are the error_page entries in effect (inherited whole
	// when a level has none); ProxyInterceptErrors is
	// proxy_intercept_errors.
	// ErrorLogs are the error_log destinations of this level for
	// messages about its requests; nil means the main error log.
	ErrorLogs []ErrorLog
	// KeepaliveTime is the client keepalive_time; KeepaliveDisable the
	// browsers keepalive_disable names.
	KeepaliveTime        time.Duration
	KeepaliveDisable     KeepaliveDisable
	ErrorPages           []ErrorPage
	ProxyInterceptErrors bool
	// IfOwnHandler is set on the settings of an if block with a
	// proxy_pass or content handler of its own, which stays the
	// request's content handler when a later if block without one
	// matches too, as in nginx.
	IfOwnHandler bool
	// RecursiveErrorPages is recursive_error_pages; PostAction is
	// post_action's URI or location name, "" for none.
	RecursiveErrorPages bool
	PostAction          string
	// AbsoluteRedirect, ServerNameInRedirect and PortInRedirect are the
	// directives of the same names.
	AbsoluteRedirect     bool
	ServerNameInRedirect bool
	PortInRedirect       bool
	// MSIE holds msie_padding and msie_refresh.
	MSIE MSIE
	// Cache is the level's proxy cache (proxy_cache and its family).
	Cache ProxyCache
	// Static holds root, alias, index, try_files, types and the other
	// settings of the static file handler.
	Static Static
	// ProxyPass is nil when the location does not proxy. It is not
	// inherited: as in nginx, a nested location without its own proxy_pass
	// does not proxy.
	ProxyPass *ProxyPass
	// FastCGI holds fastcgi_param, fastcgi_index, fastcgi_split_path_info
	// and fastcgi_keep_conn, used when ProxyPass is a fastcgi_pass; SCGI
	// and UWSGI the scgi_ and uwsgi_ modules' own settings.
	FastCGI FastCGI
	SCGI    SCGI
	UWSGI   UWSGI
	// ProxySetHeaders are the headers sent upstream, in order, after nginx's
	// defaults have been applied (Host $proxy_host, Connection close) and
	// overridden by configured ones. An empty value removes the header.
	ProxySetHeaders []HeaderTemplate
	// ProxySetHeadersCache replaces them for a request whose answer may
	// be cached: nginx's defaults for caching add the conditional and
	// range fields, empty, so that the client's are not passed.
	ProxySetHeadersCache []HeaderTemplate
	ProxyHTTPVersion     string // "1.0" (default) or "1.1"

	ProxyConnectTimeout time.Duration // default 60s
	ProxyReadTimeout    time.Duration // default 60s
	ProxySendTimeout    time.Duration // default 60s
	// Resolver is the resolver a proxy_pass with variables asks for a
	// host name (nil: none, and such a request is answered 502);
	// ResolverTimeout bounds a request's wait for it (default 30s).
	Resolver        *Resolver
	ResolverTimeout time.Duration

	// ProxyNextUpstream is a bit set of NextUpstream* conditions; the
	// default is error|timeout. Zero means "off".
	ProxyNextUpstream      NextUpstream
	ProxyNextUpstreamTries int // 0 = unlimited (default)
	// ProxyNextUpstreamTimeout (proxy_next_upstream_timeout, default 0 =
	// unlimited) limits the time from the first try during which the
	// next server may be tried.
	ProxyNextUpstreamTimeout time.Duration
	// LimitRate (limit_rate, bytes a second, default 0 = unlimited) and
	// LimitRateAfter (limit_rate_after) limit how fast a response goes to
	// the client, per request, after its first LimitRateAfter bytes.
	LimitRate      int64
	LimitRateAfter int64
	// LimitRateVar and LimitRateAfterVar are the values when they have
	// variables, evaluated for each response (a value that is not a size
	// is 0); LimitRate and LimitRateAfter are 0 then.
	LimitRateVar      *vars.Template
	LimitRateAfterVar *vars.Template
	// ProxyLimitRate (proxy_limit_rate, default 0) limits how fast a
	// response is read from the upstream, per request.
	ProxyLimitRate int64
	// ProxySocketKeepalive (proxy_socket_keepalive, default off) sets
	// SO_KEEPALIVE on upstream connections.
	ProxySocketKeepalive bool
	// ProxyBind (proxy_bind) is the local address upstream connections
	// are made from; the zero Addr is off.
	ProxyBind netip.Addr

	// Script holds the level's rewrite directives (rewrite, return,
	// set, break, if) in order; like nginx's they are not inherited by
	// nested levels. RewriteLog and UninitializedVariableWarn are the
	// directives of the same names.
	Script []ScriptOp
	// Charset holds charset, charset_types, override_charset and
	// source_charset.
	Charset Charset
	// SecureLink holds secure_link, secure_link_md5 and
	// secure_link_secret.
	SecureLink SecureLink
	// SSL is the ssl module's settings, read at the server level for
	// the servers on an address with "listen ... ssl".
	SSL SSL
	// ProxySSL is proxy_ssl_*: TLS to upstreams of proxy_pass https://.
	ProxySSL ProxySSL
	// Gzip holds the gzip filter's settings.
	Gzip Gzip
	// SSI holds the SSI filter's settings.
	SSI SSI
	// SubFilter holds the sub filter's settings.
	SubFilter SubFilter
	// Addition holds the addition filter's settings.
	Addition Addition
	// Autoindex holds the autoindex module's settings: directory
	// listings.
	Autoindex Autoindex
	// Expires is the expires directive; nil is off.
	Expires *Expires
	// Referers is valid_referers; nil leaves $invalid_referer empty.
	Referers *Referers
	// ServerTokens is server_tokens: the version is shown in the Server
	// field and on error pages ("build" shows it too; headroom has no
	// build name).
	ServerTokens bool
	// RealIP holds set_real_ip_from, real_ip_header and
	// real_ip_recursive.
	RealIP RealIP
	// LimitExcept is the location's limit_except: requests with other
	// methods use its settings.
	LimitExcept *LimitExcept
	// Internal is the internal directive: only internal requests may
	// use the location.
	Internal                  bool
	RewriteLog                bool
	UninitializedVariableWarn bool
	// Access are the allow and deny rules, in order; inherited only by
	// levels with none of their own.
	Access []AccessRule
	// SatisfyAny is "satisfy any": the access rules or auth_request
	// let a request through, either one.
	SatisfyAny bool
	// AuthRequest is auth_request's URI, empty when off;
	// AuthRequestSet its auth_request_set lines, evaluated in the
	// subrequest once it is done.
	AuthRequest    string
	AuthRequestSet []*SetVar
	// AuthDelay is auth_delay: how long a 401 of the access checks
	// waits.
	AuthDelay time.Duration
	// AuthBasic holds auth_basic's settings.
	AuthBasic AuthBasic
	// Handler is set when the location answers with one of headroom's
	// views of itself (stub_status, metrics, status_page); like Return it
	// is not inherited.
	Handler Handler
	// AddHeaders are added to responses (with "always" only to every
	// status; otherwise to 200, 201, 204, 206, 301, 302, 303, 304, 307, 308).
	AddHeaders []AddHeader
	// AddTrailers are add_trailer's fields, written after the body of a
	// chunked answer; ChunkedTransferEncoding is the directive of that
	// name.
	AddTrailers             []AddHeader
	ChunkedTransferEncoding bool

	KeepaliveTimeout  time.Duration // default 75s; 0 disables keep-alive
	KeepaliveRequests int           // default 1000
	// KeepaliveHeaderTimeout is the optional second keepalive_timeout
	// argument, sent as "Keep-Alive: timeout=N"; 0 means no such header.
	KeepaliveHeaderTimeout time.Duration

	ClientMaxBodySize   int64         // default 1m; 0 = unlimited
	ClientHeaderTimeout time.Duration // default 60s
	ClientBodyTimeout   time.Duration // default 60s
	SendTimeout         time.Duration // default 60s

	// ClientHeaderBufferSize (client_header_buffer_size, default 1k) is
	// the buffer nginx reads a head into; headroom uses it only to count
	// how much of a body that came with the head stays in memory.
	ClientHeaderBufferSize int
	// LargeClientHeaderBuffers: number and size; default 4 8k.
	LargeClientHeaderBuffersNum  int
	LargeClientHeaderBuffersSize int
	// MergeSlashes (merge_slashes, default on) merges runs of '/' when
	// the path is normalised. IgnoreInvalidHeaders
	// (ignore_invalid_headers, default on) leaves out request fields
	// whose names have bytes other than letters, digits and '-' (and
	// '_' with UnderscoresInHeaders, underscores_in_headers, default
	// off). As in nginx, the default server of the address the request
	// came to decides these three.
	MergeSlashes         bool
	IgnoreInvalidHeaders bool
	UnderscoresInHeaders bool

	// ProxyRequestBuffering (proxy_request_buffering, default on) reads
	// the whole request body before the request goes upstream, so that a
	// slow client never holds an upstream connection and a request can
	// always be sent again whole. Off streams the body as it arrives
	// (a chunked body for an HTTP/1.0 upstream is buffered anyway).
	ProxyRequestBuffering bool
	// ClientBodyBufferSize (client_body_buffer_size, default 8k: nginx's
	// two memory pages on x86-64) is how much of a buffered body is kept in
	// memory; a larger body goes to a temporary file in ClientBodyTempPath.
	ClientBodyBufferSize int
	// ClientBodyTempPath (client_body_temp_path, default
	// PREFIX/client_body_temp without levels) is where larger bodies are
	// written.
	ClientBodyTempPath TempPath
	// ProxyTempPath (proxy_temp_path, default PREFIX/proxy_temp with
	// levels 1 2) is where responses from upstreams are written when
	// buffering them needs more than memory.
	ProxyTempPath TempPath

	// ProxyBuffering (proxy_buffering, default on) reads the upstream's
	// response as fast as it comes, into memory buffers and then a
	// temporary file, so that the upstream connection is released when
	// the response is in, however slowly the client reads; off passes
	// it on as the client takes it. An upstream's "X-Accel-Buffering: no"
	// turns it off for its response unless ignored.
	ProxyBuffering bool
	// SubrequestOutputBufferSize bounds a subrequest's answer kept in
	// memory (include set=).
	SubrequestOutputBufferSize int
	// PostponeOutput is postpone_output: how much of an SSI answer's
	// body is made before its head goes out.
	PostponeOutput int
	// ProxyBufferSize (proxy_buffer_size, default one page, 4k) bounds
	// the upstream's response head.
	ProxyBufferSize int
	// ProxyBuffersNum and ProxyBuffersSize (proxy_buffers, default 8 4k)
	// are the memory a buffered response may take.
	ProxyBuffersNum  int
	ProxyBuffersSize int
	// ProxyBusyBuffersSize (proxy_busy_buffers_size, default 8k: twice
	// the larger of ProxyBufferSize and ProxyBuffersSize) is accepted
	// with nginx's checks; headroom sends from one buffer.
	ProxyBusyBuffersSize int
	// ProxyMaxTempFileSize (proxy_max_temp_file_size, default 1024m) is
	// how much of a buffered response may go to a temporary file; 0
	// keeps it in memory only, reading the upstream as the client takes
	// what does not fit.
	ProxyMaxTempFileSize int64
	// ProxyTempFileWriteSize (proxy_temp_file_write_size, default 8k:
	// twice the larger of ProxyBufferSize and ProxyBuffersSize) is
	// accepted with nginx's checks.
	ProxyTempFileWriteSize int
	// ProxyIgnoreHeaders (proxy_ignore_headers) are the upstream fields
	// whose processing is turned off.
	ProxyIgnoreHeaders IgnoreHeaders

	// ProxyMethod (proxy_method) is the method sent upstream instead of
	// the client's; nil sends the client's.
	ProxyMethod *vars.Template
	// ProxyPassRequestHeaders (proxy_pass_request_headers, default on)
	// passes the client's fields upstream; off sends only the
	// ProxySetHeaders and the body's framing.
	ProxyPassRequestHeaders bool
	// ProxyPassRequestBody (proxy_pass_request_body, default on) passes
	// the client's body upstream; off reads it whole and sends none,
	// still with the client's Content-Length unless ProxySetHeaders set
	// that field, as nginx does.
	ProxyPassRequestBody bool
	// ProxySetBody (proxy_set_body) is sent as the body, with its
	// Content-Length, instead of the client's, which is read whole and
	// dropped; nil sends the client's.
	ProxySetBody *vars.Template
	// ProxySetContentLength and ProxySetTransferEncoding report that
	// ProxySetHeaders configure Content-Length or Transfer-Encoding,
	// which then replace the body's framing field of that name (nginx's
	// defaults $proxy_internal_body_length and $proxy_internal_chunked).
	ProxySetContentLength    bool
	ProxySetTransferEncoding bool
	// ProxyIgnoreClientAbort (proxy_ignore_client_abort, default off)
	// lets a request whose client closed its connection go on with its
	// upstream; off ends it, logged as 499.
	ProxyIgnoreClientAbort bool
	// ProxyHideHeaders are the upstream response fields not passed to
	// the client after proxy_hide_header and proxy_pass_header: nginx's
	// defaults (Date, Server, X-Pad, X-Accel-Expires, X-Accel-Redirect,
	// X-Accel-Limit-Rate, X-Accel-Buffering, X-Accel-Charset) and the
	// hidden fields, less the passed ones. nil when neither directive
	// applies: nginx's defaults. Headroom sends its own Date and Server
	// only while they are hidden.
	ProxyHideHeaders []string
	// ProxyCookieDomains and ProxyCookiePaths (proxy_cookie_domain,
	// proxy_cookie_path) rewrite the domain and path attributes of the
	// upstream's Set-Cookie fields; nil for off, the default.
	ProxyCookieDomains []CookieRewrite
	ProxyCookiePaths   []CookieRewrite
	// ProxyRedirects are proxy_redirect's rules, applied to Location and
	// Refresh in order; without any, and unless ProxyRedirectOff, the
	// default rule applies to a proxy_pass without variables.
	ProxyRedirects   []CookieRewrite
	ProxyRedirectOff bool
	// ProxyCookieFlags (proxy_cookie_flags) sets or removes the Secure,
	// HttpOnly and SameSite attributes of the upstream's Set-Cookie
	// fields; nil for off, the default.
	ProxyCookieFlags []CookieFlags

	// ClientBodyInFileOnly (client_body_in_file_only) writes every
	// buffered body to a file, kept after the request (BodyFileKeep) or
	// removed (BodyFileClean); the default BodyFileOff writes only bodies
	// larger than ClientBodyBufferSize, removed after the request.
	ClientBodyInFileOnly BodyFileMode
	// ClientBodyMinRate and ClientBodyMinRateGrace (client_body_min_rate
	// rate [grace], default 240 1s; headroom's own, after Kestrel's
	// MinRequestBodyDataRate): while clients wait for a slot, a client
	// that has sent its request body slower than rate bytes a second
	// once grace has passed since its request began loses its slot to
	// them. 0 turns the rule off. Without pressure nobody is cut off.
	ClientBodyMinRate      int
	ClientBodyMinRateGrace time.Duration
	// SendMinRate and SendMinRateGrace (send_min_rate rate [grace],
	// default 240 1s; after Kestrel's MinResponseDataRate): the same for
	// a client that keeps its response waiting and has read it slower
	// than rate bytes a second since it fell behind, for at least grace.
	SendMinRate      int
	SendMinRateGrace time.Duration
	// ClientBodyInSingleBuffer (client_body_in_single_buffer) is accepted
	// as nginx's: headroom always keeps a body held in memory in one
	// buffer.
	ClientBodyInSingleBuffer bool

	// LimitConns are the limit_conn limits of the level (inherited whole,
	// only by levels with none of their own); LimitConnStatus (503),
	// LimitConnLogLevel ("error") and LimitConnDryRun go with them.
	LimitConns        []LimitConn
	LimitConnStatus   int
	LimitConnLogLevel string
	LimitConnDryRun   bool
	// LimitReqs are the limit_req limits (inherited like LimitConns), with
	// LimitReqStatus (503), LimitReqLogLevel ("error") and LimitReqDryRun.
	LimitReqs        []LimitReq
	LimitReqStatus   int
	LimitReqLogLevel string
	LimitReqDryRun   bool

	// AccessLogs are the access log destinations; empty means "off". The
	// default is <prefix>/logs/access.log in the combined format.
	AccessLogs []AccessLog
	// LogSubrequest is log_subrequest: SSI's includes are logged too.
	LogSubrequest bool
	// OpenLogFileCache is open_log_file_cache; nil is off.
	OpenLogFileCache *OpenLogFileCache

	// The HTTP/2 settings of nginx's ngx_http_v2 module. Except for
	// HTTP2ChunkSize, nginx allows them only at the http and server
	// levels and reads them from the server that a connection's address
	// (its default server) and TLS server name select, for every stream
	// of the connection: streams do not pick their own server for them.
	// Locations carry their server's values.
	//
	// HTTP2MaxConcurrentStreams (http2_max_concurrent_streams, default
	// 128) limits the streams open at once on a connection, announced as
	// SETTINGS_MAX_CONCURRENT_STREAMS.
	HTTP2MaxConcurrentStreams int
	// HTTP2ChunkSize (http2_chunk_size, default 8k) is the largest DATA
	// frame a response body is cut into, per request's location, so
	// that the streams of a connection take turns; it is never 0 and at
	// most 2^24-1, the largest frame HTTP/2 allows.
	HTTP2ChunkSize int
	// HTTP2BodyPrereadSize (http2_body_preread_size, default 64k, at
	// most 2^31-1) is each stream's initial flow-control window: how
	// much of a request body the client may send before the request is
	// processed.
	HTTP2BodyPrereadSize int
	// HTTP2StreamsIndexSize (http2_streams_index_size, default 32, a
	// power of two) sizes nginx's hash of a connection's streams. It is
	// a tuning of nginx's data structure rather than a limit, so the
	// runtime may size its own index with it or ignore it.
	HTTP2StreamsIndexSize int
	// HTTP2MaxConcurrentPushes (http2_max_concurrent_pushes, default 10)
	// is accepted and kept, but means nothing: headroom does no server
	// push, so http2_push and http2_push_preload are always off.
	HTTP2MaxConcurrentPushes int
	// LingeringClose, LingeringTime and LingeringTimeout say how a
	// connection closed after an answer drains what the client still
	// sends (lingering_close, lingering_time, lingering_timeout).
	LingeringClose   LingeringClose
	LingeringTime    time.Duration
	LingeringTimeout time.Duration
	// ResetTimedout is reset_timedout_connection: a connection that
	// timed out reading the request or sending the answer, or that a
	// 444 ends, closes with a reset.
	ResetTimedout bool
}

// NextUpstream is a bit set of proxy_next_upstream conditions.
type NextUpstream uint16

// Conditions of proxy_next_upstream.
const (
	NextError NextUpstream = 1 << iota
	NextTimeout
	NextInvalidHeader
	NextHTTP500
	NextHTTP502
	NextHTTP503
	NextHTTP504
	NextHTTP403
	NextHTTP404
	NextHTTP429
	NextNonIdempotent
)

// HeaderTemplate is a header name with a value template.
type HeaderTemplate struct {
	Name  string
	Value *vars.Template
}

// CookieRewrite is one proxy_cookie_domain or proxy_cookie_path rule.
// Without Regex, Pattern is compared with the attribute's value (a
// domain whole and case-insensitively, ignoring a leading dot, which
// stays; a path's leading part) and the matched part is replaced; with
// Regex (proxy_cookie_domain's always caseless, proxy_cookie_path's with
// ~*) a value it matches is replaced whole, and Replacement's
// captures ("$1" to "$9", index vars.Capture) are the match's groups.
type CookieRewrite struct {
	Pattern     *vars.Template
	Regex       *regexp.Regexp
	Caseless    bool
	Replacement *vars.Template
}

// CookieFlags is one proxy_cookie_flags rule. The cookie's name is
// compared with Name, evaluated, case-insensitively, or searched with
// Regex (always caseless); Flags are the flags as written, each evaluated
// per response and compared case-insensitively with secure, httponly,
// samesite=strict, samesite=lax, samesite=none, nosecure, nohttponly and
// nosamesite (an empty or unknown one is ignored, as in nginx).
type CookieFlags struct {
	Name  *vars.Template
	Regex *regexp.Regexp
	Flags []*vars.Template
}

// AddHeader is one add_header directive.
type AddHeader struct {
	Name   string
	Value  *vars.Template
	Always bool
}

// Return is the "return" directive.
type Return struct {
	Code int
	// Text is the body, or for 301, 302, 303, 307 and 308 the Location URL;
	// nil when absent.
	Text *vars.Template
}

// ProxyPass is the parsed proxy_pass argument.
type ProxyPass struct {
	// Scheme is "http" or "https" (TLS to the upstream, ProxySSL).
	Scheme string
	// Host is the host part as written: an upstream name or host[:port].
	Host string
	// ProxyHost is the value of $proxy_host (the default Host header sent
	// upstream): the host, with ":port" only when the port is not 80.
	ProxyHost string
	// ProxyPort is the value of $proxy_port: the port as written, or "80".
	ProxyPort string
	// Upstream is the upstream group the request goes to: either a named
	// upstream{} block or an implicit one made for host:port.
	Upstream *Upstream
	// URL is set instead of the other fields for a proxy_pass with
	// variables, which is evaluated for each request (DynamicProxyPass).
	URL *vars.Template
	// URI is the URI part ("" when proxy_pass has none, in which case the
	// request URI is passed unchanged; "/" or more replaces the matched
	// location prefix as nginx does).
	URI    string
	HasURI bool
	// Protocol is what the group speaks: HTTP for proxy_pass, FastCGI,
	// SCGI or uwsgi for fastcgi_pass, scgi_pass and uwsgi_pass, whose
	// requests are made with the location's settings of that module.
	Protocol Protocol
}

// Upstream is an upstream{} block, or an implicit group for proxy_pass
// host:port.
type Upstream struct {
	Name    string
	Servers []*UpstreamServer
	// Keepalive is the number of idle connections cached per worker; 0
	// disables the cache (nginx's default when the directive is absent).
	Keepalive         int
	KeepaliveRequests int           // default 1000
	KeepaliveTimeout  time.Duration // default 60s
	KeepaliveTime     time.Duration // default 1h
	// Zone and ZoneSize are the "zone" directive's; Sync shares the
	// servers' max_conns with every instance using the zone_sync store.
	Zone     string
	ZoneSize int64
	Sync     bool
	// Queue is how many requests may wait when every server is at its
	// max_conns (0: none wait); QueueTimeout bounds the wait.
	Queue        int
	QueueTimeout time.Duration
	// Balance is the load balancing method; the zero value is nginx's
	// default, smooth weighted round robin.
	Balance BalanceMethod
	// HashKey is the key of "hash KEY [consistent]", evaluated per
	// request; Consistent selects ketama consistent hashing.
	HashKey    *vars.Template
	Consistent bool
	// RandomTwo is "random two [least_conn]": of two servers drawn at
	// random, the one with fewer connections is used.
	RandomTwo bool
	// Implicit is true for groups made from proxy_pass host:port.
	Implicit bool
	// Host (lower-cased), Port and NoPort are what a proxy_pass with
	// variables matches the group by, as nginx does: an upstream{} by
	// name and no port, an implicit group by host and port.
	Host   string
	Port   int
	NoPort bool
	File   string
	Line   int
}

// BalanceMethod is an upstream group's load balancing method, one per
// nginx module that provides one.
type BalanceMethod uint8

const (
	// BalanceRoundRobin is nginx's default: smooth weighted round robin.
	BalanceRoundRobin BalanceMethod = iota
	// BalanceLeastConn is least_conn.
	BalanceLeastConn
	// BalanceIPHash is ip_hash.
	BalanceIPHash
	// BalanceHash is hash KEY [consistent].
	BalanceHash
	// BalanceRandom is random [two [least_conn]].
	BalanceRandom
)

// String returns the directive that selects the method.
func (m BalanceMethod) String() string {
	switch m {
	case BalanceLeastConn:
		return "least_conn"
	case BalanceIPHash:
		return "ip_hash"
	case BalanceHash:
		return "hash"
	case BalanceRandom:
		return "random"
	}
	return "round_robin"
}

// UpstreamServer is one server in an upstream group.
type UpstreamServer struct {
	// Addr is "ip:port" (names are resolved when the config is read).
	Addr string
	// Name is the address as written in the configuration.
	Name        string
	Weight      int           // default 1
	MaxFails    int           // default 1; 0 disables accounting
	FailTimeout time.Duration // default 10s
	Backup      bool
	Down        bool
	MaxConns    int // 0 = unlimited
}

// AccessLog is one access_log destination.
type AccessLog struct {
	// Path is absolute. With variables it is the path as written (the
	// prefix before a relative one) and PathTemplate evaluates it for
	// each request.
	Path         string
	PathTemplate *vars.Template
	// Syslog is set for a "syslog:" destination; Path is then the
	// destination as written.
	Syslog *logs.Syslog
	Format *LogFormat
	// If is the if= condition: a request whose value of it is empty or
	// "0" is not logged here; nil logs every request.
	If *vars.Template
	// Buffer (buffer=, bytes) keeps lines until that much is waiting;
	// Flush (flush=) writes them once the oldest has waited that long;
	// Gzip (gzip[=level], 1 to 9) writes each batch as a gzip member.
	// All are 0 without the parameters: lines are written after each
	// round of events.
	Buffer int
	Flush  time.Duration
	Gzip   int
}

// LogFormat is a named log_format.
type LogFormat struct {
	Name string
	// Escape is "default", "json" or "none".
	Escape   string
	Template *vars.Template
}

// TempPath is a directory for temporary files with nginx's optional
// levels of subdirectories (client_body_temp_path path 1 2): a file
// 0000000123 with levels 1 2 is written as path/3/12/0000000123. Path is
// absolute (resolved against the prefix) without a trailing slash; there
// are at most three levels, each at least 1, together at most 10.
type TempPath struct {
	Path   string
	Levels []int
}

// BodyFileMode is client_body_in_file_only's value.
type BodyFileMode uint8

const (
	// BodyFileOff writes only bodies larger than the memory buffer.
	BodyFileOff BodyFileMode = iota
	// BodyFileKeep writes every body to a file and keeps the file.
	BodyFileKeep
	// BodyFileClean writes every body to a file and removes it after
	// the request.
	BodyFileClean
)

// IgnoreHeaders is a set of upstream response fields whose processing
// proxy_ignore_headers turns off.
type IgnoreHeaders uint16

const (
	IgnoreXAccelRedirect IgnoreHeaders = 1 << iota
	IgnoreXAccelExpires
	IgnoreXAccelLimitRate
	IgnoreXAccelBuffering
	IgnoreXAccelCharset
	IgnoreExpires
	IgnoreCacheControl
	IgnoreSetCookie
	IgnoreVary
)
