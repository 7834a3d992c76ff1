package proxy

import (
	"sort"
	"strings"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// vhosts selects the server block for a request arriving on one listening
// address, in nginx's order: exact name, longest wildcard starting with
// '*', longest wildcard ending with '*', first matching regular expression
// in configuration order, then the default server of the address.
type vhosts struct {
	def      *conf.Server
	exact    map[string]*conf.Server
	prefixes []wildcard // "*.example.com", longest first
	suffixes []wildcard // "www.example.*", longest first
	regexes  []regexName
}

type wildcard struct {
	// part is ".example.com" for a leading wildcard, "www.example." for a
	// trailing one.
	part   string
	server *conf.Server
}

type regexName struct {
	name   conf.ServerName
	server *conf.Server
}

func newVhosts(servers []*conf.Server, def *conf.Server) *vhosts {
	v := &vhosts{def: def, exact: map[string]*conf.Server{}}
	for _, s := range servers {
		for _, n := range s.Names {
			switch n.Kind {
			case conf.NameExact:
				if _, dup := v.exact[n.Name]; !dup {
					v.exact[n.Name] = s
				}
			case conf.NameWildcardPrefix:
				v.prefixes = append(v.prefixes, wildcard{part: strings.TrimPrefix(n.Name, "*"), server: s})
			case conf.NameWildcardSuffix:
				v.suffixes = append(v.suffixes, wildcard{part: strings.TrimSuffix(n.Name, "*"), server: s})
			case conf.NameRegex:
				v.regexes = append(v.regexes, regexName{name: n, server: s})
			}
		}
	}
	sort.SliceStable(v.prefixes, func(i, j int) bool { return len(v.prefixes[i].part) > len(v.prefixes[j].part) })
	sort.SliceStable(v.suffixes, func(i, j int) bool { return len(v.suffixes[i].part) > len(v.suffixes[j].part) })
	return v
}

// find returns the server for a host (already lower-cased, without port)
// and, when a regex name chose it, that regex (whose captures the request
// keeps).
func (v *vhosts) find(host string) (*conf.Server, *conf.Regex) {
	if v.single() {
		return v.def, nil
	}
	s, re, _ := v.lookup([]byte(host))
	return s, re
}

// single reports whether the listener has one server and no names to
// choose by.
func (v *vhosts) single() bool {
	return len(v.exact) == 0 && len(v.prefixes) == 0 && len(v.suffixes) == 0 && len(v.regexes) == 0
}

// findHost is find for a Host value's host part (hostPart), which it
// lower-cases on the stack (a valid host part is ASCII); it returns the
// lower-cased name too when a regex name matched, whose captures are
// taken from it.
func (v *vhosts) findHost(host []byte) (*conf.Server, *conf.Regex, string) {
	if v.single() {
		return v.def, nil, ""
	}
	var buf [128]byte
	return v.lookup(http1.AppendLower(buf[:0], host))
}

// lookup finds the server for a lower-cased name in nginx's order. It
// makes a string of the name only to match regex names against, and
// returns that string with the regex that matched.
func (v *vhosts) lookup(host []byte) (*conf.Server, *conf.Regex, string) {
	if s, ok := v.exact[string(host)]; ok {
		return s, nil, ""
	}
	for _, w := range v.prefixes {
		if len(host) > len(w.part) && string(host[len(host)-len(w.part):]) == w.part {
			return w.server, nil, ""
		}
	}
	for _, w := range v.suffixes {
		if len(host) > len(w.part) && string(host[:len(w.part)]) == w.part {
			return w.server, nil, ""
		}
	}
	if len(v.regexes) == 0 {
		return v.def, nil, ""
	}
	name := string(host)
	for _, r := range v.regexes {
		if r.name.Regex.MatchString(name) {
			return r.server, r.name.Regex, name
		}
	}
	return v.def, nil, ""
}

// normalizeHost lower-cases a Host header value and strips its port and a
// trailing dot, as nginx's ngx_http_validate_host does. It returns false
// for values nginx rejects with 400 ("client sent invalid host header").
func normalizeHost(h []byte) (string, bool) {
	host, ok := hostPart(h)
	if !ok || len(host) == 0 {
		return "", ok
	}
	return strings.ToLower(string(host)), true
}

// hostPart is normalizeHost without the lower-casing: the part of the
// value that names the host, as a slice of it, so that a request checked
// against a listener with a single server makes no string of it.
func hostPart(h []byte) ([]byte, bool) {
	if len(h) == 0 {
		return nil, true
	}
	end := len(h)
	dot := false
	bracket := h[0] == '['
scan:
	for i, c := range h {
		switch c {
		case '.':
			if dot {
				return nil, false
			}
			dot = true
			continue
		case ':':
			if !bracket {
				end = i
				break scan
			}
		case ']':
			bracket = false
		case '/', '\\', 0:
			return nil, false
		}
		dot = false
	}
	host := h[:end]
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	if len(host) == 0 {
		return nil, false
	}
	return host, true
}

// findLocation picks the location for a path in nginx's order: an exact
// match wins at once; otherwise the longest matching prefix is remembered
// and its nested locations are searched the same way; unless that prefix
// is "^~", the regexes of this level are then tried in configuration order
// and the first match wins (its own nested locations searched in turn);
// failing that the longest prefix is used. A "^~" only stops the regexes
// of its own level: an enclosing level still tries its own. final reports
// an exact or regex match, which no enclosing level may override. It
// returns nil when nothing matches.
func findLocation(locs []*conf.Location, path []byte) (loc *conf.Location, final bool) {
	var best *conf.Location
	for _, l := range locs {
		switch l.Match {
		case conf.MatchExact:
			if string(path) == l.Path {
				return l, true
			}
		case conf.MatchPrefix, conf.MatchPrefixNoRegex:
			if hasPrefix(path, l.Path) && (best == nil || len(l.Path) > len(best.Path)) {
				best = l
			}
		}
	}
	noRegex := best != nil && best.Match == conf.MatchPrefixNoRegex
	if best != nil && len(best.Locations) > 0 {
		if inner, innerFinal := findLocation(best.Locations, path); inner != nil {
			if innerFinal {
				return inner, true
			}
			best = inner
		}
	}
	if !noRegex {
		for _, l := range locs {
			if (l.Match == conf.MatchRegex || l.Match == conf.MatchRegexCaseless) && l.Regex.Match(path) {
				if len(l.Locations) > 0 {
					if inner, _ := findLocation(l.Locations, path); inner != nil {
						return inner, true
					}
				}
				return l, true
			}
		}
	}
	return best, false
}

// hasPrefix is strings.HasPrefix for a byte slice, without converting it.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// autoRedirect finds the location that nginx redirects a request to when
// its path lacks only the trailing slash of a prefix location that
// proxies ("location /api/ { proxy_pass ...; }" and a request for
// "/api"): the answer is a 301 to the path with the slash. An exact
// location for the path itself takes precedence. Nested locations are
// searched under the longest matching prefix, as findLocation does.
func autoRedirect(locs []*conf.Location, path []byte) *conf.Location {
	for _, l := range locs {
		// An exact location takes the path wherever it is written.
		if l.Match == conf.MatchExact && string(path) == l.Path {
			return nil
		}
	}
	var best *conf.Location
	for _, l := range locs {
		switch l.Match {
		case conf.MatchPrefix, conf.MatchPrefixNoRegex:
			n := len(l.Path)
			if l.Loc.ProxyPass != nil && n > 1 && l.Path[n-1] == '/' && l.Path[:n-1] == string(path) {
				return l
			}
			if hasPrefix(path, l.Path) && (best == nil || len(l.Path) > len(best.Path)) {
				best = l
			}
		}
	}
	if best != nil && len(best.Locations) > 0 {
		return autoRedirect(best.Locations, path)
	}
	return nil
}
