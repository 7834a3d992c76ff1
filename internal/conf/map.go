package conf

import (
	"strings"

	"headroom/internal/http1"
	"headroom/internal/vars"
)

// Map is a map block: the value of its variable is chosen by the value
// of Source, as nginx's map module chooses it. Exact keys compare
// case-insensitively; with hostnames, wildcard keys follow (the longest
// match first); then regexes in order, whose captures the value may use;
// then Default.
type Map struct {
	Source *vars.Template
	// Default is the value when nothing matches; nil is the empty
	// string.
	Default *vars.Template
	// Exact maps a lower-cased key to its value.
	Exact map[string]*vars.Template
	// Hostnames is set by the hostnames parameter: keys may be
	// wildcards, and a trailing dot of the source value is ignored.
	// WildHead maps "example.com" of "*.example.com" (and of
	// ".example.com"), WildTail "www.example" of "www.example.*".
	Hostnames bool
	WildHead  map[string]*vars.Template
	WildTail  map[string]*vars.Template
	Regexes   []MapRegex
	// Volatile is the volatile parameter: the value is not kept for the
	// rest of the request.
	Volatile bool
}

// MapRegex is a regex key of a map and its value.
type MapRegex struct {
	Regex *Regex
	Value *vars.Template
}

func mapDirectives() []*directive {
	return []*directive{
		{name: "map", ctx: ctxHTTP, args: arg2, block: true, set: setMap,
			syntax: "map string $variable { ... }",
			doc:    "Defines a variable whose value depends on the string's: exact keys (case-insensitive), with hostnames also wildcards, regexes (~ or ~*) with captures, default; volatile keeps it from being remembered for the rest of the request. The value is computed when the variable is first read."},
	}
}

// hashDirectives are nginx's hash table sizes (for server names, types,
// variables, maps, proxy header lists): accepted with their arguments
// checked, since headroom's tables need no tuning.
func hashDirectives() []*directive {
	const why = " Accepted with its argument checked: it sizes one of nginx's hash tables, and headroom's lookups need no tuning."
	var out []*directive
	for _, h := range []struct {
		table   string
		ctx     context
		max     string
		bucket  string
		purpose string
	}{
		{"server_names", ctxHTTP, "512", "32|64|128", "server names"},
		{"types", ctxHTTP | ctxServer | ctxLocation, "1024", "64", "types"},
		{"variables", ctxHTTP, "1024", "64", "variables"},
		{"map", ctxHTTP, "2048", "32|64|128", "map"},
		{"proxy_headers", ctxHTTP | ctxServer | ctxLocation, "512", "64", "proxy_set_header and proxy_hide_header"},
	} {
		out = append(out,
			&directive{name: h.table + "_hash_max_size", ctx: h.ctx, args: arg1, set: setHashSize(false),
				syntax: h.table + "_hash_max_size size;", def: h.max,
				doc: "Sets the maximum size of nginx's hash table for " + h.purpose + "." + why},
			&directive{name: h.table + "_hash_bucket_size", ctx: h.ctx, args: arg1, set: setHashSize(true),
				syntax: h.table + "_hash_bucket_size size;", def: h.bucket,
				doc: "Sets the bucket size of nginx's hash table for " + h.purpose + "." + why})
	}
	return out
}

// setHashSize checks a hash table size's argument: a number for the
// maximum size, a size for the bucket size, as nginx reads them.
func setHashSize(bucket bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, _ *scope) error {
		if bucket {
			if _, ok := parseSize(n.Args[0]); !ok {
				return errAt(n, "\"%s\" directive invalid value", n.Name)
			}
			return nil
		}
		if _, ok := atoi(n.Args[0]); !ok {
			return errAt(n, "\"%s\" directive invalid number", n.Name)
		}
		return nil
	}
}

func setMap(b *builder, n *Node, _ *scope) error {
	src, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	name := n.Args[1]
	if !strings.HasPrefix(name, "$") {
		return errAt(n, "invalid variable name \"%s\"", name)
	}
	name = name[1:]
	if idx, suffix := vars.Lookup(name); idx != vars.Unknown && suffix == "" {
		return errAt(n, "the duplicate \"%s\" variable", name)
	}
	m := &Map{Source: src, Exact: map[string]*vars.Template{}}
	for _, e := range n.Block {
		if e.err != nil {
			return e.err
		}
		if err := b.mapEntry(m, e); err != nil {
			return err
		}
	}
	slot := b.declareVar(name, false)
	b.variables[slot].Map = m
	return nil
}

// mapEntry reads one line of a map block, with nginx's messages.
func (b *builder) mapEntry(m *Map, e *Node) error {
	if e.IsBlock {
		return errAt(e, "unexpected \"{\"")
	}
	key := e.Name
	if len(e.Args) == 0 {
		switch key {
		case "hostnames":
			m.Hostnames = true
			return nil
		case "volatile":
			m.Volatile = true
			return nil
		}
	}
	if len(e.Args) != 1 {
		return errAt(e, "invalid number of the map parameters")
	}
	value, err := b.template(e, e.Args[0])
	if err != nil {
		return err
	}
	if key == "default" {
		if m.Default != nil {
			return errAt(e, "duplicate default map parameter")
		}
		m.Default = value
		return nil
	}
	if strings.HasPrefix(key, "~") {
		caseless := strings.HasPrefix(key, "~*")
		src := key[1:]
		if caseless {
			src = key[2:]
		}
		re, err := b.regex(e, src, caseless)
		if err != nil {
			return err
		}
		m.Regexes = append(m.Regexes, MapRegex{Regex: re, Value: value})
		return nil
	}
	key = strings.TrimPrefix(key, "\\")
	key = strings.ToLower(key)
	if !m.Hostnames {
		return addMapKey(m.Exact, e, key, value)
	}
	return addHostKey(m, e, key, value)
}

// addMapKey adds a key that must not be there already.
func addMapKey(keys map[string]*vars.Template, e *Node, key string, value *vars.Template) error {
	if _, dup := keys[key]; dup {
		return errAt(e, "conflicting parameter \"%s\"", key)
	}
	keys[key] = value
	return nil
}

// addHostKey adds a key of a hostnames map: an exact name (a trailing
// dot dropped), "*.domain", ".domain" (the domain and its subdomains) or
// "name.*".
func addHostKey(m *Map, e *Node, key string, value *vars.Template) error {
	bad := func() error { return errAt(e, "invalid hostname or wildcard \"%s\"", e.Name) }
	switch {
	case strings.HasPrefix(key, "*."):
		rest := key[2:]
		if rest == "" || strings.Contains(rest, "*") {
			return bad()
		}
		return addWild(&m.WildHead, e, rest, value)
	case strings.HasPrefix(key, "."):
		rest := key[1:]
		if rest == "" || strings.Contains(rest, "*") {
			return bad()
		}
		if err := addWild(&m.WildHead, e, rest, value); err != nil {
			return err
		}
		if _, dup := m.Exact[rest]; !dup {
			m.Exact[rest] = value
		}
		return nil
	case strings.HasSuffix(key, ".*"):
		rest := key[:len(key)-2]
		if rest == "" || strings.Contains(rest, "*") {
			return bad()
		}
		return addWild(&m.WildTail, e, rest, value)
	case strings.Contains(key, "*"):
		return bad()
	}
	return addMapKey(m.Exact, e, strings.TrimSuffix(key, "."), value)
}

func addWild(keys *map[string]*vars.Template, e *Node, key string, value *vars.Template) error {
	if *keys == nil {
		*keys = map[string]*vars.Template{}
	}
	return addMapKey(*keys, e, key, value)
}

// FindKey returns the value of a source value's exact or wildcard key;
// ok is false when none matches, and the regexes are to be tried next.
func (m *Map) FindKey(v []byte) (t *vars.Template, ok bool) {
	if len(m.Exact) == 0 && m.WildHead == nil && m.WildTail == nil {
		return nil, false
	}
	var buf [128]byte
	low := http1.AppendLower(buf[:0], v)
	if m.Hostnames && len(low) > 0 && low[len(low)-1] == '.' {
		low = low[:len(low)-1]
	}
	if t, ok := m.Exact[string(low)]; ok {
		return t, true
	}
	// The most specific wildcard wins: "*.b.example.com" before
	// "*.example.com", "www.example.*" before "www.*".
	if m.WildHead != nil {
		for s := string(low); ; {
			i := strings.IndexByte(s, '.')
			if i < 0 {
				break
			}
			s = s[i+1:]
			if t, ok := m.WildHead[s]; ok {
				return t, true
			}
		}
	}
	if m.WildTail != nil {
		for s := string(low); ; {
			i := strings.LastIndexByte(s, '.')
			if i < 0 {
				break
			}
			s = s[:i]
			if t, ok := m.WildTail[s]; ok {
				return t, true
			}
		}
	}
	return nil, false
}
