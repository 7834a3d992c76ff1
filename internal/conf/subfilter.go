package conf

import (
	"headroom/internal/subfilter"
	"headroom/internal/vars"
)

// SubFilter holds the settings of nginx's sub filter: in answers of
// its types, the search strings of Pairs are replaced as the body
// streams by (internal/subfilter).
type SubFilter struct {
	// Pairs are sub_filter's lines in configuration order; none, the
	// filter is off. A level with lines of its own replaces the whole
	// inherited list, as in nginx.
	Pairs []SubPair
	// Table is the compiled search strings when none has variables;
	// otherwise nil, and the strings are evaluated and compiled per
	// answer, the ones that come out empty left out.
	Table *subfilter.Table
	// Once is sub_filter_once: each string is replaced once at most.
	Once bool
	// LastModified keeps Last-Modified and a weakened ETag
	// (sub_filter_last_modified).
	LastModified bool
	// Types are the lower-cased content types filtered besides
	// text/html; AnyType is sub_filter_types "*".
	Types   map[string]bool
	AnyType bool
}

// SubPair is one sub_filter line.
type SubPair struct {
	// Match is the search string, lower-cased (ASCII) as written, as
	// nginx lower-cases it before it compiles the variables in it.
	Match *vars.Template
	// Replacement is evaluated when the string is first found in an
	// answer, and kept for the rest of it.
	Replacement *vars.Template
}

// Filters reports whether sub_filter_types lets the filter change an
// answer of the content type; text/html always is.
func (s *SubFilter) Filters(ctype []byte) bool {
	return typeListed(ctype, s.Types, s.AnyType)
}

// subFilterRaw is what one level sets of the sub filter's settings.
type subFilterRaw struct {
	pairs        []SubPair
	dynamic      bool
	table        *subfilter.Table
	once         *bool
	lastModified *bool
	types        map[string]bool
	anyType      *bool
}

func subFilterDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "sub_filter", ctx: hsl, args: arg2, set: setSubFilter,
			syntax: "sub_filter string replacement;",
			doc:    "Replaces a string (compared ignoring the case of ASCII letters) in answers of the sub_filter_types by another, as the body streams; both may hold variables, a string that comes out empty is left out. Where several strings match at one place the first listed wins. Content-Length goes, and Last-Modified and ETag unless sub_filter_last_modified. Up to 255 lines; a level with lines of its own replaces the inherited ones."},
		{name: "sub_filter_once", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.subFilter.once }),
			syntax: "sub_filter_once on | off;", def: "on",
			doc: "With on, each string is replaced once at most (its first place); with off, everywhere."},
		{name: "sub_filter_types", ctx: hsl, args: arg1More, set: setSubFilterTypes,
			syntax: "sub_filter_types mime-type ... | *;", def: "text/html",
			doc: "Adds content types to filter besides text/html; * filters every type."},
		{name: "sub_filter_last_modified", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.subFilter.lastModified }),
			syntax: "sub_filter_last_modified on | off;", def: "off",
			doc: "Keeps the answer's Last-Modified (and its ETag, made weak) when the filter changes it."},
	}
}

func setSubFilter(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.subFilter
	if n.Args[0] == "" {
		return errAt(n, "empty search pattern")
	}
	if len(s.pairs) == subfilter.MaxPatterns {
		return errAt(n, "number of search patterns exceeds %d", subfilter.MaxPatterns)
	}
	match, err := b.template(n, lowerASCII(n.Args[0]))
	if err != nil {
		return err
	}
	repl, err := b.template(n, n.Args[1])
	if err != nil {
		return err
	}
	if !match.IsLiteral() {
		s.dynamic = true
	}
	s.pairs = append(s.pairs, SubPair{Match: match, Replacement: repl})
	return nil
}

// lowerASCII lower-cases the ASCII letters of s, as nginx's ngx_strlow:
// other bytes stay as they are.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c-'A' < 26 {
			b[i] = c | 0x20
		}
	}
	return string(b)
}

func setSubFilterTypes(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.subFilter
	addTypeList(&s.types, &s.anyType, n.Args)
	return nil
}

// mergeSubFilter inherits the list of lines whole when a level has
// none; a level's own literal strings are compiled once, however many
// locations inherit them.
func mergeSubFilter(r *subFilterRaw, p SubFilter) SubFilter {
	s := p
	s.Once = pick(r.once, p.Once)
	s.LastModified = pick(r.lastModified, p.LastModified)
	if r.types != nil || r.anyType != nil {
		s.Types, s.AnyType = r.types, r.anyType != nil && *r.anyType
	}
	if r.pairs != nil {
		s.Pairs, s.Table = r.pairs, nil
		if !r.dynamic {
			if r.table == nil {
				pats := make([][]byte, len(r.pairs))
				for i, pr := range r.pairs {
					for _, part := range pr.Match.Parts {
						pats[i] = append(pats[i], part.Literal...)
					}
				}
				// The strings were checked as they were read.
				r.table, _ = subfilter.Compile(pats)
			}
			s.Table = r.table
		}
	}
	return s
}
