package conf

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"headroom/internal/logs"
)

// syslogFacilities and syslogSeverities are nginx's names, in the order
// of their numbers; severities are named as error_log levels ("error",
// "warn"), not as syslog names them.
var (
	syslogFacilities = strings.Fields("kern user mail daemon auth intern lpr news uucp clock authpriv ftp ntp audit alert cron local0 local1 local2 local3 local4 local5 local6 local7")
	syslogSeverities = strings.Fields("emerg alert crit error warn notice info debug")
)

// parseSyslog reads the "syslog:" destination of error_log and
// access_log: comma-separated server=, facility=, severity=, tag= and
// nohostname, with nginx's defaults (local7, info, tag "nginx") and
// messages. The server's name is resolved now, as nginx resolves it.
func parseSyslog(n *Node, spec string) (*logs.Syslog, error) {
	s := &logs.Syslog{Spec: spec, Facility: -1, Severity: -1}
	tagSet := false
	for _, p := range strings.Split(strings.TrimPrefix(spec, "syslog:"), ",") {
		switch {
		case strings.HasPrefix(p, "server="):
			if s.Addr != "" {
				return nil, errAt(n, "duplicate syslog \"server\"")
			}
			network, addr, perr := syslogServer(p[len("server="):])
			if perr != "" {
				return nil, errAt(n, "%s in syslog server \"%s\"", perr, p[len("server="):])
			}
			s.Network, s.Addr = network, addr
		case strings.HasPrefix(p, "facility="):
			if s.Facility >= 0 {
				return nil, errAt(n, "duplicate syslog \"facility\"")
			}
			s.Facility = slices.Index(syslogFacilities, p[len("facility="):])
			if s.Facility < 0 {
				return nil, errAt(n, "unknown syslog facility \"%s\"", p[len("facility="):])
			}
		case strings.HasPrefix(p, "severity="):
			if s.Severity >= 0 {
				return nil, errAt(n, "duplicate syslog \"severity\"")
			}
			s.Severity = slices.Index(syslogSeverities, p[len("severity="):])
			if s.Severity < 0 {
				return nil, errAt(n, "unknown syslog severity \"%s\"", p[len("severity="):])
			}
		case strings.HasPrefix(p, "tag="):
			if tagSet {
				return nil, errAt(n, "duplicate syslog \"tag\"")
			}
			tag := p[len("tag="):]
			// RFC 3164: at most 32 alphanumeric characters (nginx
			// also allows the underscore).
			if len(tag) > 32 {
				return nil, errAt(n, "syslog tag length exceeds 32")
			}
			for i := 0; i < len(tag); i++ {
				c := tag[i] | 0x20
				if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || tag[i] == '_') {
					return nil, errAt(n, "syslog \"tag\" only allows alphanumeric characters and underscore")
				}
			}
			s.Tag, tagSet = tag, true
		case p == "nohostname":
			s.NoHostname = true
		default:
			return nil, errAt(n, "unknown syslog parameter \"%s\"", p)
		}
	}
	if s.Addr == "" {
		return nil, errAt(n, "no syslog server specified")
	}
	if s.Facility < 0 {
		s.Facility = 23 // local7
	}
	if s.Severity < 0 {
		s.Severity = 6 // info
	}
	if !tagSet {
		s.Tag = "nginx"
	}
	return s, nil
}

// syslogServer reads server='s address: "unix:/path", or a host (an IP
// literal or a name, resolved to its first address) with an optional
// port, 514 by default. The error, if any, is nginx's URL parser's.
func syslogServer(v string) (network, addr, err string) {
	if len(v) >= 5 && strings.EqualFold(v[:5], "unix:") {
		path, perr := unixSocketPath(v[5:])
		if perr != "" {
			return "", "", perr
		}
		return "unixgram", path, ""
	}
	if strings.ContainsAny(v, "/?") {
		return "", "", "invalid host"
	}
	host, port, noPort, perr := splitUpstreamAddr(v)
	if perr != "" {
		return "", "", perr
	}
	if noPort {
		port = 514
	}
	ips, ok := resolve(host)
	if !ok {
		return "", "", "host not found"
	}
	return "udp", net.JoinHostPort(ips[0], strconv.Itoa(port)), ""
}
