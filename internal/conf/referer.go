package conf

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Referers is valid_referers at a level: what makes $invalid_referer
// empty instead of "1", as nginx's referer module decides it. A Referer
// of "http://" or "https://" (case-insensitive, 11 bytes at least) is
// valid when its host (up to '/' or ':', lower-cased, at most 256 bytes)
// is one of the hosts, exact or wildcard, and what follows the host's
// port starts with that host's URI part; else when a server name regex
// matches the host; else when a regex matches the Referer after the
// scheme. A missing Referer is valid with None, one without such a
// scheme with Blocked.
type Referers struct {
	None, Blocked bool
	// Exact, WildHead ("example.com" of "*.example.com" and of
	// ".example.com") and WildTail ("www.example" of "www.example.*")
	// map lower-cased hosts to their URI parts; "" is no URI part.
	Exact    map[string]string
	WildHead map[string]string
	WildTail map[string]string
	// ServerNameRegexes are the regex server names that server_names
	// brought; Regexes the "~" arguments, caseless. A level that sets
	// none of its own takes its parent's.
	ServerNameRegexes []*regexp.Regexp
	Regexes           []*regexp.Regexp
}

// refererRaw is what valid_referers wrote at one level.
type refererRaw struct {
	node *Node
	// srv is the server whose names server_names adds, once the whole
	// configuration is read.
	srv         *serverBuild
	serverNames bool
	r           Referers
	regexes     bool
	maxSize     *int
	bucketSize  *int
}

func refererDirectives() []*directive {
	const sl = ctxServer | ctxLocation
	return []*directive{
		{name: "valid_referers", ctx: sl, args: arg1More, set: setValidReferers,
			syntax: "valid_referers none | blocked | server_names | string ...;",
			doc:    "Lists the Referer values that leave $invalid_referer empty (else it is \"1\"): none (no Referer), blocked (a Referer without http:// or https://), server_names (the server's names), host names with wildcards and an optional URI prefix, and regexes (~, caseless) matched against the Referer after its scheme. A level with its own list takes its parent's regexes when it has none."},
		{name: "referer_hash_max_size", ctx: sl, args: arg1, set: setRefererHashSize(false),
			syntax: "referer_hash_max_size size;", def: "2048",
			doc: "Sets the maximum size of nginx's hash table of valid referers. Accepted with its argument checked: headroom's lookups need no tuning."},
		{name: "referer_hash_bucket_size", ctx: sl, args: arg1, set: setRefererHashSize(true),
			syntax: "referer_hash_bucket_size size;", def: "64",
			doc: "Sets the bucket size of nginx's hash table of valid referers. Accepted with its argument checked: headroom's lookups need no tuning."},
	}
}

func (b *builder) refererLevel(sc *scope) *refererRaw {
	if sc.raw.referers == nil {
		sc.raw.referers = &refererRaw{}
	}
	return sc.raw.referers
}

func setRefererHashSize(bucket bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		rr := b.refererLevel(sc)
		p := &rr.maxSize
		if bucket {
			p = &rr.bucketSize
		}
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

func setValidReferers(b *builder, n *Node, sc *scope) error {
	rr := b.refererLevel(sc)
	if rr.node == nil {
		rr.node = n
		b.referers = append(b.referers, rr)
	}
	r := &rr.r
	for _, a := range n.Args {
		switch {
		case a == "":
			return errAt(n, "invalid referer \"%s\"", a)
		case a == "none":
			r.None = true
		case a == "blocked":
			r.Blocked = true
		case a == "server_names":
			rr.serverNames, rr.srv = true, sc.srv
		case a[0] == '~':
			if len(a) == 1 {
				return errAt(n, "empty regex in \"%s\"", a)
			}
			re, err := compileRegex(a[1:], true)
			if err != nil {
				return errAt(n, "%s", regexError(a[1:], err))
			}
			r.Regexes = append(r.Regexes, re)
			rr.regexes = true
		default:
			host, uri := a, ""
			if i := strings.IndexByte(a, '/'); i >= 0 {
				host, uri = a[:i], a[i:]
			}
			if err := r.addHost(host, uri); err != nil {
				return errAt(n, "%s", err.Msg)
			}
		}
	}
	return nil
}

// addHost adds a host, exact or wildcard, with nginx's checks: a
// wildcard is "*.domain", ".domain" (the domain and its subdomains) or
// "name.*", and a host already there (in any case) conflicts.
func (r *Referers) addHost(host, uri string) *Error {
	bad := &Error{Msg: "invalid hostname or wildcard \"" + host + "\""}
	key := strings.ToLower(host)
	// nginx lower-cases a host in place before it finds it taken.
	conflict := &Error{Msg: "conflicting parameter \"" + key + "\""}
	add := func(m *map[string]string, k string) bool {
		if *m == nil {
			*m = map[string]string{}
		}
		if _, dup := (*m)[k]; dup {
			return false
		}
		(*m)[k] = uri
		return true
	}
	var rest string
	var m *map[string]string
	switch {
	case strings.HasPrefix(key, "*.") && len(key) > 2:
		rest, m = key[2:], &r.WildHead
	case strings.HasPrefix(key, ".") && len(key) > 1:
		rest = key[1:]
		if strings.Contains(rest, "*") {
			return bad
		}
		if _, dup := r.Exact[rest]; dup {
			return conflict
		}
		if !add(&r.WildHead, rest) {
			return conflict
		}
		add(&r.Exact, rest)
		return nil
	case strings.HasSuffix(key, ".*") && len(key) > 2:
		rest, m = key[:len(key)-2], &r.WildTail
	case strings.Contains(key, "*"):
		return bad
	default:
		if !add(&r.Exact, key) {
			return conflict
		}
		return nil
	}
	if strings.Contains(rest, "*") {
		return bad
	}
	if !add(m, rest) {
		return conflict
	}
	return nil
}

// finishReferers adds the server names of the levels with server_names
// and checks that none and blocked come with a host, as nginx's referer
// module does when it merges the levels: a name already listed is an
// error at the end of the http block, and a level with none or blocked
// but no host is an error nginx reports without a position.
func (b *builder) finishReferers() error {
	for _, rr := range b.referers {
		r := &rr.r
		if rr.serverNames {
			names := rr.srv.names
			if len(names) == 0 {
				names = []ServerName{{Kind: NameExact}}
			}
			for i, sn := range names {
				if sn.Kind == NameRegex {
					// Compiled again: the server's own declares its
					// named captures, which the referer check does
					// not set.
					re, err := compileRegex(sn.Name, true)
					if err != nil {
						return &Error{Msg: regexError(sn.Name, err)}
					}
					r.ServerNameRegexes = append(r.ServerNameRegexes, re)
					continue
				}
				// ".example.com" was read as "*.example.com" and
				// "example.com", which nginx adds as one.
				if i > 0 && sn.Kind == NameExact && names[i-1].Kind == NameWildcardPrefix && names[i-1].Name == "*."+sn.Name {
					if _, dup := r.Exact[sn.Name]; !dup {
						r.Exact[sn.Name] = ""
					}
					continue
				}
				if err := r.addHost(sn.Name, ""); err != nil {
					end := b.http.node
					return &Error{File: end.File, Line: end.EndLine, Msg: err.Msg, CommandLine: end.cmdline}
				}
			}
		}
		if (r.None || r.Blocked) && len(r.Exact) == 0 && len(r.WildHead) == 0 && len(r.WildTail) == 0 {
			return &Error{Msg: "the \"none\" or \"blocked\" referers are specified in the \"valid_referers\" directive without any valid referer"}
		}
	}
	return nil
}

// mergeReferers gives a level its parent's list when it has none of its
// own; one with its own list takes the parent's regexes when it has none,
// as nginx merges them, but not none and blocked.
func mergeReferers(rr *refererRaw, parent *Referers) *Referers {
	if rr == nil || rr.node == nil {
		return parent
	}
	out := rr.r
	if parent != nil {
		if len(out.Regexes) == 0 {
			out.Regexes = parent.Regexes
		}
		if len(out.ServerNameRegexes) == 0 {
			out.ServerNameRegexes = parent.ServerNameRegexes
		}
	}
	return &out
}

// Invalid reports whether a request's Referer (nil when there is none)
// is invalid, as $invalid_referer says.
func (r *Referers) Invalid(ref []byte, present bool) bool {
	if r == nil || len(r.Exact) == 0 && len(r.WildHead) == 0 && len(r.WildTail) == 0 &&
		len(r.Regexes) == 0 && len(r.ServerNameRegexes) == 0 {
		return false
	}
	if !present {
		return !r.None
	}
	var rest []byte
	switch {
	case len(ref) >= len("http://i.ru") && hasPrefixFold(ref, "http://"):
		rest = ref[7:]
	case len(ref) >= len("http://i.ru") && hasPrefixFold(ref, "https://"):
		rest = ref[8:]
	default:
		return !r.Blocked
	}
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != ':' {
		end++
	}
	if end > 256 {
		return true
	}
	host := strings.ToLower(string(rest[:end]))
	if uri, ok := r.findHost(host); ok {
		if uri == "" {
			return false
		}
		p := end
		for p < len(rest) && rest[p] != '/' {
			p++
		}
		return !strings.HasPrefix(string(rest[p:]), uri)
	}
	for _, re := range r.ServerNameRegexes {
		if re.MatchString(host) {
			return false
		}
	}
	for _, re := range r.Regexes {
		if re.Match(rest) {
			return false
		}
	}
	return true
}

// findHost looks a lower-cased host up: exactly, then the most specific
// "*.domain", then the most specific "name.*".
func (r *Referers) findHost(host string) (string, bool) {
	if uri, ok := r.Exact[host]; ok {
		return uri, true
	}
	if r.WildHead != nil {
		for s := host; ; {
			i := strings.IndexByte(s, '.')
			if i < 0 {
				break
			}
			s = s[i+1:]
			if uri, ok := r.WildHead[s]; ok {
				return uri, true
			}
		}
	}
	if r.WildTail != nil {
		for s := host; ; {
			i := strings.LastIndexByte(s, '.')
			if i < 0 {
				break
			}
			s = s[:i]
			if uri, ok := r.WildTail[s]; ok {
				return uri, true
			}
		}
	}
	return "", false
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// dumpLine describes the list for Dump, sorted.
func (r *Referers) dumpLine() string {
	var parts []string
	for k, u := range r.Exact {
		parts = append(parts, k+u)
	}
	for k, u := range r.WildHead {
		parts = append(parts, "*."+k+u)
	}
	for k, u := range r.WildTail {
		parts = append(parts, k+".*"+u)
	}
	sort.Strings(parts)
	for _, re := range r.ServerNameRegexes {
		parts = append(parts, "server_name~"+re.String())
	}
	for _, re := range r.Regexes {
		parts = append(parts, "~"+re.String())
	}
	return fmt.Sprintf("none=%v blocked=%v %s", r.None, r.Blocked, strings.Join(parts, " "))
}
