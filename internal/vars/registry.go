package vars

import (
	"sort"
	"strings"
	"sync/atomic"
)

// Index names a variable of the registry: templates carry it from the
// moment they are compiled, so that a request finds a variable's value by
// indexing a table of getters instead of comparing names.
type Index uint8

// The variables headroom evaluates, one constant each; a family named
// after a header, argument or cookie is one Index with the rest of the
// name as its suffix. The list is the only one: the configuration checks
// names against it, and the proxy keeps one getter per Index, which a
// test holds complete.
const (
	Unknown Index = iota
	Args
	BinaryRemoteAddr
	BodyBytesSent
	BytesSent
	Connection
	ConnectionRequests
	ConnectionTime
	ContentLength
	ContentType
	ConnectionsActive
	ConnectionsReading
	ConnectionsWaiting
	ConnectionsWriting
	DocumentRoot
	DocumentURI
	GzipRatio
	Host
	Hostname
	IsArgs
	InvalidReferer
	LimitConnStatus
	LimitRate
	LimitReqStatus
	Msec
	NginxVersion
	Pid
	Pipe
	ProxyAddXForwardedFor
	ProxyHost
	ProxyPort
	// The addresses and ports of the connection's PROXY protocol header
	// (listen ... proxy_protocol): its source, then its destination.
	ProxyProtocolAddr
	ProxyProtocolPort
	ProxyProtocolServerAddr
	ProxyProtocolServerPort
	QueryString
	RemoteAddr
	RemotePort
	RemoteUser
	Request
	RequestLength
	RequestBody
	RequestBodyFile
	RealIPRemoteAddr
	RealIPRemotePort
	RequestFilename
	SecureLink
	SecureLinkExpires
	RequestID
	RealpathRoot
	RequestMethod
	RequestTime
	RequestURI
	Scheme
	ServerAddr
	ServerName
	ServerPort
	ServerProtocol
	Status
	TimeISO8601
	TimeLocal
	UpstreamAddr
	UpstreamBytesReceived
	UpstreamBytesSent
	// UpstreamCacheStatus is how proxy_cache answered: MISS, BYPASS,
	// EXPIRED or HIT.
	UpstreamCacheStatus
	// The Last-Modified and ETag of an expired answer that
	// proxy_cache_revalidate asks the upstream about.
	UpstreamCacheLastModified
	UpstreamCacheETag
	UpstreamConnectTime
	UpstreamHeaderTime
	UpstreamResponseLength
	UpstreamResponseTime
	UpstreamStatus
	URI
	// The SSI module's: the current time in the format of the SSI
	// command "config timefmt", in UTC and in local time.
	DateGMT
	DateLocal
	// The FastCGI module's: $uri cut by fastcgi_split_path_info into the
	// script's name (with fastcgi_index after a final "/") and the path
	// after it.
	FastCGIScriptName
	FastCGIPathInfo

	// User is a variable the configuration declares (set, map, a named
	// capture); Part.Slot numbers it among the configuration's own.
	User
	// Capture is "$1" to "$9": a group of the request's last regex
	// match; Part.Slot is the digit.
	Capture

	// Families: the suffix names the field, argument or cookie.
	HTTP     // http_NAME: a request field
	SentHTTP // sent_http_NAME: a response field
	// sent_trailer_NAME: a trailer field add_trailer wrote.
	SentTrailer
	Arg    // arg_NAME: a query argument
	Cookie // cookie_NAME: a cookie
	// upstream_http_NAME: a field of the upstream's response (the last
	// try's); upstream_cookie_NAME: a cookie of its Set-Cookie fields.
	UpstreamHTTP
	UpstreamCookie
	// The ssl module's: "on" for a TLS connection, and the established
	// connection's parameters.
	HTTPS
	// http2: "h2" for a request that came over HTTP/2 with TLS, "h2c"
	// in cleartext, empty otherwise.
	HTTP2
	SSLProtocol
	SSLCipher
	SSLServerName
	SSLSessionReused
	SSLCurve
	SSLCurves
	// The client certificate's: ssl_verify_client's result and the
	// certificate's fields.
	SSLClientVerify
	SSLClientRawCert
	SSLClientCert
	SSLClientEscapedCert
	SSLClientSDN
	SSLClientIDN
	SSLClientSerial
	SSLClientFingerprint
	SSLClientVStart
	SSLClientVEnd
	SSLClientVRemain
	SSLClientSDNLegacy
	SSLClientIDNLegacy
	SSLCiphers
	SSLSessionID

	// NumIndexes bounds the indexes, for tables of getters.
	NumIndexes
)

// names maps each plain variable's name to its Index.
var names = map[string]Index{
	"args": Args, "binary_remote_addr": BinaryRemoteAddr,
	"body_bytes_sent": BodyBytesSent, "bytes_sent": BytesSent,
	"connection": Connection, "connection_requests": ConnectionRequests, "connection_time": ConnectionTime,
	"content_length":     ContentLength,
	"connections_active": ConnectionsActive, "connections_reading": ConnectionsReading,
	"connections_waiting": ConnectionsWaiting, "connections_writing": ConnectionsWriting,
	"pipe": Pipe, "request_id": RequestID, "gzip_ratio": GzipRatio,
	"secure_link": SecureLink, "secure_link_expires": SecureLinkExpires,
	"realip_remote_addr": RealIPRemoteAddr, "realip_remote_port": RealIPRemotePort, "content_type": ContentType,
	"document_uri": DocumentURI, "document_root": DocumentRoot,
	"request_filename": RequestFilename, "realpath_root": RealpathRoot, "host": Host, "hostname": Hostname,
	"is_args": IsArgs, "invalid_referer": InvalidReferer, "limit_rate": LimitRate,
	"limit_conn_status": LimitConnStatus, "limit_req_status": LimitReqStatus, "msec": Msec, "nginx_version": NginxVersion, "pid": Pid,
	"proxy_add_x_forwarded_for": ProxyAddXForwardedFor,
	"proxy_host":                ProxyHost, "proxy_port": ProxyPort,
	"proxy_protocol_addr": ProxyProtocolAddr, "proxy_protocol_port": ProxyProtocolPort,
	"proxy_protocol_server_addr": ProxyProtocolServerAddr, "proxy_protocol_server_port": ProxyProtocolServerPort,
	"query_string": QueryString, "remote_addr": RemoteAddr,
	"remote_port": RemotePort, "remote_user": RemoteUser,
	"request": Request, "request_length": RequestLength,
	"request_body": RequestBody, "request_body_file": RequestBodyFile,
	"request_method": RequestMethod, "request_time": RequestTime,
	"request_uri": RequestURI, "scheme": Scheme, "server_addr": ServerAddr,
	"server_name": ServerName, "server_port": ServerPort,
	"server_protocol": ServerProtocol, "status": Status,
	"time_iso8601": TimeISO8601, "time_local": TimeLocal,
	"upstream_addr": UpstreamAddr, "upstream_connect_time": UpstreamConnectTime,
	"upstream_bytes_received":      UpstreamBytesReceived,
	"upstream_bytes_sent":          UpstreamBytesSent,
	"upstream_cache_status":        UpstreamCacheStatus,
	"upstream_cache_last_modified": UpstreamCacheLastModified,
	"upstream_cache_etag":          UpstreamCacheETag,
	"upstream_response_length":     UpstreamResponseLength,
	"upstream_header_time":         UpstreamHeaderTime,
	"upstream_response_time":       UpstreamResponseTime,
	"upstream_status":              UpstreamStatus, "uri": URI,
	"date_gmt": DateGMT, "date_local": DateLocal,
	"fastcgi_script_name": FastCGIScriptName, "fastcgi_path_info": FastCGIPathInfo,
	"https": HTTPS, "http2": HTTP2, "ssl_protocol": SSLProtocol, "ssl_cipher": SSLCipher,
	"ssl_server_name": SSLServerName, "ssl_session_reused": SSLSessionReused,
	"ssl_curve": SSLCurve, "ssl_curves": SSLCurves,
	"ssl_client_verify": SSLClientVerify, "ssl_client_raw_cert": SSLClientRawCert, "ssl_client_cert": SSLClientCert, "ssl_client_escaped_cert": SSLClientEscapedCert, "ssl_client_s_dn": SSLClientSDN, "ssl_client_i_dn": SSLClientIDN, "ssl_client_serial": SSLClientSerial, "ssl_client_fingerprint": SSLClientFingerprint, "ssl_client_v_start": SSLClientVStart, "ssl_client_v_end": SSLClientVEnd, "ssl_client_v_remain": SSLClientVRemain,
	"ssl_client_s_dn_legacy": SSLClientSDNLegacy, "ssl_client_i_dn_legacy": SSLClientIDNLegacy,
	"ssl_ciphers": SSLCiphers, "ssl_session_id": SSLSessionID,
}

// families are the variables named by a prefix and a suffix; the
// longer of two prefixes that could both match comes first.
var families = []struct {
	prefix string
	index  Index
}{
	{"upstream_http_", UpstreamHTTP},
	{"upstream_cookie_", UpstreamCookie},
	{"sent_http_", SentHTTP},
	{"sent_trailer_", SentTrailer},
	{"cookie_", Cookie},
	{"http_", HTTP},
	{"arg_", Arg},
}

// Lookup resolves a variable name (without '$'; case-sensitive, as in
// nginx) to its Index and, for a family, the rest of the name. It returns
// Unknown for a name headroom cannot evaluate.
func Lookup(name string) (Index, string) {
	if i, ok := names[name]; ok {
		referenced[i].Store(true)
		return i, ""
	}
	for _, f := range families {
		if strings.HasPrefix(name, f.prefix) {
			referenced[f.index].Store(true)
			return f.index, name[len(f.prefix):]
		}
	}
	return Unknown, ""
}

// referenced records the variables a configuration has named since the
// process started (a reload may add to them, never take away).
var referenced [NumIndexes]atomic.Bool

// Referenced reports whether a configuration loaded by this process
// names the variable, so that the runtime keeps what only that variable
// needs (the per-try byte counts of $upstream_bytes_sent and friends, a
// request body held in memory) only when it can be asked for.
func Referenced(i Index) bool {
	return referenced[i].Load()
}

// Known lists the plain variable names and the families (as "prefix*"),
// sorted, for documentation.
func Known() []string {
	out := make([]string, 0, len(names)+len(families))
	for n := range names {
		out = append(out, n)
	}
	for _, f := range families {
		out = append(out, f.prefix+"*")
	}
	sort.Strings(out)
	return out
}
