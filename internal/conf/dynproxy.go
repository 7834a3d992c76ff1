package conf

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DynamicProxyPass is what a proxy_pass with variables names for one
// request: its value parsed as nginx's ngx_http_proxy_eval parses it.
// Err is nginx's complaint when the value is not a URL headroom can use
// (the request is then answered 500); Upstream is nil when the host is
// neither a group of the configuration nor an address, which needs a
// resolver (502).
type DynamicProxyPass struct {
	ProxyPass
	// Addr is the address to connect to when no group matched: "ip:port"
	// or "unix:/path".
	Addr string
	Err  string
	// ResolveHost is the host, without brackets or port, and Port the
	// port to connect to: what a resolver is asked for when the host is
	// a name (Upstream nil and Addr empty).
	ResolveHost string
	Port        int
}

// ParseDynamicProxyPass parses an evaluated proxy_pass value and finds
// its group: an upstream{} named by the host (without a port), or the
// implicit group of a proxy_pass naming the same host and port; an IP
// address or unix socket gets a group of its own (Addr).
func (h *HTTP) ParseDynamicProxyPass(v string) DynamicProxyPass {
	var d DynamicProxyPass
	d.Scheme = "http"
	defPort := 80
	var rest string
	switch {
	case len(v) > 7 && strings.EqualFold(v[:7], "http://"):
		rest = v[7:]
	case len(v) > 8 && strings.EqualFold(v[:8], "https://"):
		rest, d.Scheme, defPort = v[8:], "https", 443
	default:
		d.Err = "invalid URL prefix in \"" + v + "\""
		return d
	}
	if strings.HasPrefix(strings.ToLower(rest), "unix:") {
		path, uri := rest[5:], ""
		if i := strings.IndexByte(path, ':'); i >= 0 {
			path, uri = path[:i], path[i+1:]
		}
		if p, msg := unixSocketPath(path); msg != "" {
			d.Err = msg + " in upstream \"" + rest + "\""
			return d
		} else {
			path = p
		}
		d.Host, d.ProxyHost, d.ProxyPort = "unix:"+path, "localhost", ""
		d.Addr = "unix:" + path
		d.setURI(uri)
		return d
	}
	hostport, uri := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostport, uri = rest[:i], rest[i:]
	}
	host, port, noPort, perr := splitUpstreamAddr(hostport)
	if perr != "" {
		d.Err = perr + " in upstream \"" + rest + "\""
		return d
	}
	if noPort {
		port = defPort
	}
	d.Host, d.ProxyHost, d.ProxyPort = hostport, host, strconv.Itoa(defPort)
	if !noPort && port != defPort {
		d.ProxyHost, d.ProxyPort = hostport, strconv.Itoa(port)
	}
	d.setURI(uri)
	low := strings.ToLower(strings.Trim(host, "[]"))
	d.ResolveHost, d.Port = strings.Trim(host, "[]"), port
	for _, u := range h.Upstreams {
		if u.Host != low {
			continue
		}
		if !u.Implicit && noPort || u.Implicit && u.Port == port {
			d.Upstream = u
			return d
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && a.Zone() == "" {
		d.Addr = net.JoinHostPort(a.String(), strconv.Itoa(port))
	}
	return d
}

// setURI sets the URI part: one starting with "?" gets a "/" before it,
// as nginx adds.
func (d *DynamicProxyPass) setURI(uri string) {
	if strings.HasPrefix(uri, "?") {
		uri = "/" + uri
	}
	d.URI, d.HasURI = uri, uri != ""
}

// DynamicUpstream is the group for an address that a proxy_pass with
// variables names and no group of the configuration has: one server with
// nginx's defaults.
func DynamicUpstream(name, addr string) *Upstream {
	return &Upstream{
		Name: name, Implicit: true,
		KeepaliveRequests: 1000, KeepaliveTimeout: 60 * time.Second, KeepaliveTime: time.Hour,
		Servers: []*UpstreamServer{{Addr: addr, Name: name, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second}},
	}
}

// ResolvedUpstream is the group of the addresses a resolver gave for a
// name a proxy_pass with variables named: one server per address with
// nginx's defaults, tried in round robin, as nginx makes a group of a
// resolved name.
func ResolvedUpstream(name string, addrs []string) *Upstream {
	u := DynamicUpstream(name, addrs[0])
	for _, a := range addrs[1:] {
		u.Servers = append(u.Servers, &UpstreamServer{Addr: a, Name: a, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second})
	}
	u.Servers[0].Name = addrs[0]
	return u
}
