package conf

import (
	"strings"
	"time"

	"headroom/internal/vars"
)

// Static holds the settings of nginx's static file handler and of the
// core directives around it: where a URI's file is (root, alias), what a
// directory request serves (index), what is tried first (try_files), the
// type a file is sent with (types, default_type), how it is sent
// (sendfile, tcp_nopush, tcp_nodelay, sendfile_max_chunk), the
// validators it carries (etag, if_modified_since), how many byte ranges
// one answer may have (max_ranges), whether a directory is answered
// with a random file of its own (random_index), whether symbolic links
// are followed (disable_symlinks) and what a worker remembers of the files
// it opens (open_file_cache and its family, openfile.go).
type Static struct {
	// Root is root's or alias's path; Alias says which. A literal path is
	// resolved against the prefix at load time, one with variables when
	// a request evaluates it, as nginx does. AliasLen is the length of
	// the location's prefix that alias replaces.
	Root     *vars.Template
	Alias    bool
	AliasLen int
	// AliasRegex is alias in a regex location: the path is the alias
	// alone (try_files appends its entries to it), as nginx maps it.
	AliasRegex bool
	// Index lists index's files, tried in order for a URI that ends in
	// "/"; the last may be an absolute URI.
	Index []*vars.Template
	// TryFiles is try_files: files (or directories, ending in "/") tried
	// in order, then the last entry, a URI, a named location or "=code".
	// It is not inherited.
	TryFiles []*vars.Template
	// Types maps a lower-case extension to its content type (types and
	// include mime.types); nil means nginx's built-in types (html, gif,
	// jpg). DefaultType is default_type.
	Types       map[string]string
	DefaultType string
	// Sendfile, TCPNopush and TCPNodelay are the directives of the same
	// names; SendfileMaxChunk bounds one sendfile call (0 = none).
	Sendfile         bool
	TCPNopush        bool
	TCPNodelay       bool
	SendfileMaxChunk int64
	// Etag adds an ETag to files; IfModifiedSince is if_modified_since.
	Etag            bool
	IfModifiedSince IfModifiedSince
	// LogNotFound logs files not found (log_not_found).
	LogNotFound bool
	// MaxRanges is max_ranges: a Range request for more ranges gets the
	// whole file, and 0 turns ranges (and Accept-Ranges) off. nginx's
	// default is its largest 32-bit number, which no request reaches.
	MaxRanges int
	// RandomIndex is random_index: a URI ending in "/" is redirected
	// internally to a regular file of its directory picked at random,
	// before index is tried.
	RandomIndex bool
	// DisableSymlinks is disable_symlinks; SymlinksFrom is its from=
	// part (nil without one): a prefix of the path whose components are
	// not checked.
	DisableSymlinks Symlinks
	SymlinksFrom    *vars.Template
	// OpenFileCache is open_file_cache (nil: off), shared by the levels
	// that inherit it; OpenFileCacheValid, OpenFileCacheMinUses,
	// OpenFileCacheErrors and OpenFileCacheEvents are the directives of
	// those names.
	OpenFileCache        *OpenFileCache
	OpenFileCacheValid   time.Duration
	OpenFileCacheMinUses int
	OpenFileCacheErrors  bool
	OpenFileCacheEvents  bool
}

// DefaultMaxRanges is max_ranges when no level sets it (nginx's
// NGX_MAX_INT32_VALUE).
const DefaultMaxRanges = 1<<31 - 1

// IfModifiedSince is how If-Modified-Since is compared with a file's time.
type IfModifiedSince uint8

// The values of if_modified_since.
const (
	IMSExact IfModifiedSince = iota
	IMSBefore
	IMSOff
)

var imsNames = map[string]IfModifiedSince{"exact": IMSExact, "before": IMSBefore, "off": IMSOff}

// builtinTypes are the types nginx knows without a types block.
var builtinTypes = map[string]string{"html": "text/html", "gif": "image/gif", "jpg": "image/jpeg"}

// staticRaw is what one level sets of the static settings; nil means not
// set here.
type staticRaw struct {
	// outputBuffers is set once output_buffers was given at the level.
	outputBuffers    bool
	root             *vars.Template
	alias            bool
	aliasRegex       bool
	index            []*vars.Template
	tryFiles         []*vars.Template
	types            map[string]string
	defaultType      *string
	sendfile         *bool
	tcpNopush        *bool
	tcpNodelay       *bool
	sendfileMaxChunk *int64
	etag             *bool
	ims              *IfModifiedSince
	logNotFound      *bool
	maxRanges        *int
	randomIndex      *bool
	// disableSymlinks and symlinksFrom are disable_symlinks; the rest
	// the open_file_cache family (openfile.go).
	disableSymlinks      *Symlinks
	symlinksFrom         *vars.Template
	openFileCache        *OpenFileCache
	openFileCacheSet     bool
	openFileCacheValid   *time.Duration
	openFileCacheMinUses *int
	openFileCacheErrors  *bool
	openFileCacheEvents  *bool
}

// staticDirectives declares the directives of the static file handler.
func staticDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "root", ctx: hsl | ctxIf, args: arg1, set: setRoot,
			syntax: "root path;", def: "html",
			doc: "Sets the directory that a request's URI is appended to, to find its file. A relative path is relative to the prefix; variables are allowed."},
		{name: "alias", ctx: ctxLocation, args: arg1, set: setRoot,
			syntax: "alias path;",
			doc:    "Replaces the location's prefix in the URI with path to find its file; in a regex location path is the whole file name, usually with the regex's captures."},
		{name: "index", ctx: hsl, args: arg1More, set: setIndex,
			syntax: "index file ...;", def: "index.html",
			doc: "Names the files served for a URI ending in \"/\", tried in order; the request is redirected internally to the first that exists. The last may be an absolute URI."},
		{name: "try_files", ctx: ctxServer | ctxLocation, args: arg2More, set: setTryFiles,
			syntax: "try_files file ... uri | =code;",
			doc:    "Serves the first of the files that exists (a name ending in \"/\" tests for a directory), else redirects internally to the last argument: a URI, a named location, or =code to answer with that status."},
		{name: "types", ctx: hsl, args: argNone, block: true, set: setTypes,
			syntax: "types { type extension ...; ... }", def: "text/html html; image/gif gif; image/jpeg jpg",
			doc: "Maps file name extensions to the Content-Type of files served; usually \"include mime.types;\"."},
		{name: "default_type", ctx: hsl, args: arg1, set: setDefaultType,
			syntax: "default_type mime-type;", def: "text/plain",
			doc: "Sets the Content-Type of files whose extension types does not list."},
		{name: "sendfile", ctx: hsl | ctxIf, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.sendfile }),
			syntax: "sendfile on | off;", def: "off",
			doc: "Sends files with sendfile(2) instead of reading them into a buffer."},
		{name: "tcp_nopush", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.tcpNopush }),
			syntax: "tcp_nopush on | off;", def: "off",
			doc: "With sendfile, sends a response's head and the start of its file in full packets, as nginx's TCP_CORK does. headroom does so without it too: the head is written with MSG_MORE, which holds its last packet back for the file's first bytes, so a small file leaves in one packet with its head (no setsockopt calls). tcp_nopush on keeps it so under limit_rate, which may pause between the head and the file."},
		{name: "tcp_nodelay", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.tcpNodelay }),
			syntax: "tcp_nodelay on | off;", def: "on",
			doc: "Sends small writes to clients at once (TCP_NODELAY) instead of waiting for a full packet or the previous packet's acknowledgement (Nagle's algorithm). headroom sets it on the listening sockets, whose connections inherit it (nginx sets it when a connection goes keep-alive); a request in a location with tcp_nodelay off clears it for the rest of its connection."},
		{name: "sendfile_max_chunk", ctx: hsl, args: arg1, set: setSendfileMaxChunk,
			syntax: "sendfile_max_chunk size;", def: "2m",
			doc: "Bounds how much one sendfile(2) call sends, so that one fast client does not hold the worker; 0 is unbounded."},
		{name: "output_buffers", ctx: hsl, args: arg2, set: setOutputBuffers,
			syntax: "output_buffers number size;", def: "2 32k",
			doc: "Accepted with its arguments checked: headroom reads a file a connection buffer at a time when a filter needs its bytes, and otherwise sends it with sendfile(2), so nothing needs sizing."},
		{name: "etag", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.etag }),
			syntax: "etag on | off;", def: "on",
			doc: "Adds an ETag made of the file's modification time and size to files served."},
		{name: "if_modified_since", ctx: hsl, args: arg1, set: setIfModifiedSince,
			syntax: "if_modified_since off | exact | before;", def: "exact",
			doc: "Compares If-Modified-Since with a file's modification time: equal (exact), not older (before), or not at all (off)."},
		{name: "log_not_found", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.logNotFound }),
			syntax: "log_not_found on | off;", def: "on",
			doc: "Logs requests for files that do not exist at error level."},
		{name: "max_ranges", ctx: hsl, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.static.maxRanges }),
			syntax: "max_ranges number;", def: "unlimited",
			doc: "Limits the byte ranges one request may ask for: a request for more is answered with the whole file; 0 turns byte ranges off, Accept-Ranges included."},
		{name: "random_index", ctx: ctxLocation, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.randomIndex }),
			syntax: "random_index on | off;", def: "off",
			doc: "Answers a URI ending in \"/\" with a regular file of its directory picked at random (names starting with \".\" left out, symbolic links to files followed), by an internal redirect; a directory without one goes on to index."},
	}
}

// setRoot handles root and alias, with nginx's checks: one of them per
// level, alias only in a location that is not named.
func setRoot(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	alias := n.Name == "alias"
	if s.root != nil {
		if s.alias == alias {
			return duplicate(n)
		}
		other := "root"
		if s.alias {
			other = "alias"
		}
		return errAt(n, "\"%s\" directive is duplicate, \"%s\" directive was specified earlier", n.Name, other)
	}
	if alias && sc.loc != nil && sc.loc.match == MatchNamed {
		return errAt(n, "the \"alias\" directive cannot be used inside the named location")
	}
	// In a regex location alias names the whole path, usually with the
	// regex's captures; the URI is not appended.
	s.aliasRegex = alias && sc.loc != nil && sc.loc.regex != nil
	path := n.Args[0]
	t, err := b.template(n, path)
	if err != nil {
		return err
	}
	if t.IsLiteral() {
		full := fullPath(b.cfg.Prefix, path)
		if !alias && len(full) > 1 {
			// nginx drops a trailing slash of a literal root.
			full = strings.TrimSuffix(full, "/")
		}
		t = literalTemplate(full)
	}
	s.root, s.alias = t, alias
	return nil
}

func setIndex(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	for i, a := range n.Args {
		if a == "" {
			return errAt(n, "index \"%s\" in \"index\" directive is invalid", a)
		}
		if a[0] == '/' && i != len(n.Args)-1 {
			return errAt(n, "only the last index in \"index\" directive should be absolute")
		}
		t, err := b.template(n, a)
		if err != nil {
			return err
		}
		s.index = append(s.index, t)
	}
	return nil
}

func setTryFiles(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.tryFiles != nil {
		return duplicate(n)
	}
	for i, a := range n.Args {
		if i == len(n.Args)-1 && strings.HasPrefix(a, "=") {
			code, ok := parseStatus(a[1:])
			if !ok || code > 999 {
				return errAt(n, "invalid code \"%s\"", a)
			}
		}
		t, err := b.template(n, a)
		if err != nil {
			return err
		}
		s.tryFiles = append(s.tryFiles, t)
	}
	return nil
}

// literalTemplate is a template of fixed text, whatever "$" it holds.
func literalTemplate(s string) *vars.Template {
	return &vars.Template{Source: s, Parts: []vars.Part{{Literal: s}}}
}

// parseStatus reads a status code of up to three digits.
func parseStatus(s string) (int, bool) {
	if s == "" || len(s) > 3 {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// setTypes reads a types block: each line is a content type followed by
// its extensions. A repeated extension takes the later type, as in nginx.
func setTypes(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.types != nil {
		return duplicate(n)
	}
	s.types = map[string]string{}
	for _, t := range n.Block {
		if t.IsBlock {
			return errAt(t, "unexpected \"{\"")
		}
		for _, ext := range t.Args {
			s.types[strings.ToLower(ext)] = t.Name
		}
	}
	return nil
}

func setDefaultType(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.defaultType != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	s.defaultType = &v
	return nil
}

func setSendfileMaxChunk(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.sendfileMaxChunk != nil {
		return duplicate(n)
	}
	v, ok := parseSize(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	s.sendfileMaxChunk = &v
	return nil
}

func setIfModifiedSince(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.ims != nil {
		return duplicate(n)
	}
	v, ok := imsNames[strings.ToLower(n.Args[0])]
	if !ok {
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	s.ims = &v
	return nil
}

// defaultStatic is nginx's defaults for the static settings.
func (b *builder) defaultStatic() Static {
	return Static{
		Root:             literalTemplate(fullPath(b.cfg.Prefix, "html")),
		Index:            []*vars.Template{vars.MustCompile("index.html")},
		DefaultType:      "text/plain",
		TCPNodelay:       true,
		SendfileMaxChunk: 2 << 20,
		Etag:             true,
		IfModifiedSince:  IMSExact,
		LogNotFound:      true,
		MaxRanges:        DefaultMaxRanges,

		OpenFileCacheValid:   DefaultOpenFileCacheValid,
		OpenFileCacheMinUses: DefaultOpenFileCacheMinUses,
	}
}

// mergeStatic computes a level's static settings from what it sets and
// its parent's: root or alias (with the length of the prefix it
// replaces), index and types are inherited whole when the level sets
// none; try_files is never inherited, as in nginx. A location that sets
// alias gets its AliasLen from its path (buildLocations).
func mergeStatic(r *staticRaw, p *Static) Static {
	s := *p
	if r.root != nil {
		s.Root, s.Alias, s.AliasLen, s.AliasRegex = r.root, r.alias, 0, r.aliasRegex
	}
	if r.index != nil {
		s.Index = r.index
	}
	s.TryFiles = r.tryFiles
	if r.types != nil {
		s.Types = r.types
	}
	s.DefaultType = pick(r.defaultType, p.DefaultType)
	s.Sendfile = pick(r.sendfile, p.Sendfile)
	s.TCPNopush = pick(r.tcpNopush, p.TCPNopush)
	s.TCPNodelay = pick(r.tcpNodelay, p.TCPNodelay)
	s.SendfileMaxChunk = pick(r.sendfileMaxChunk, p.SendfileMaxChunk)
	s.Etag = pick(r.etag, p.Etag)
	s.IfModifiedSince = pick(r.ims, p.IfModifiedSince)
	s.LogNotFound = pick(r.logNotFound, p.LogNotFound)
	s.MaxRanges = pick(r.maxRanges, p.MaxRanges)
	s.RandomIndex = pick(r.randomIndex, p.RandomIndex)
	mergeOpenFile(r, &s)
	return s
}

// TypeOf returns the content type of a file name's extension (the part
// after its last dot, compared in lower case), or default_type.
func (s *Static) TypeOf(ext []byte) string {
	types := s.Types
	if types == nil {
		types = builtinTypes
	}
	if len(ext) > 0 {
		var lower [32]byte
		if len(ext) <= len(lower) {
			for i, c := range ext {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				lower[i] = c
			}
			if t, ok := types[string(lower[:len(ext)])]; ok {
				return t
			}
		}
	}
	return s.DefaultType
}

// setOutputBuffers checks output_buffers as nginx's bufs slot does; the
// value sizes nothing in headroom (see its entry in the table).
func setOutputBuffers(b *builder, n *Node, sc *scope) error {
	if sc.raw.static.outputBuffers {
		return duplicate(n)
	}
	num, ok := atoi(n.Args[0])
	size, ok2 := parseSize(n.Args[1])
	if !ok || !ok2 || num <= 0 || size <= 0 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.static.outputBuffers = true
	return nil
}
