package conf

// Gzip holds the settings of nginx's gzip filter: which answers are
// compressed on their way to the client, and how.
type Gzip struct {
	On bool
	// Types are the lower-cased content types compressed besides
	// text/html; AnyType is gzip_types "*".
	Types   map[string]bool
	AnyType bool
	// Level is gzip_comp_level (1 to 9); MinLength is gzip_min_length,
	// compared with a known Content-Length.
	Level     int
	MinLength int64
	// Vary adds "Vary: Accept-Encoding" (gzip_vary).
	Vary bool
	// Proxied is gzip_proxied: which answers to requests with a Via
	// field are compressed.
	Proxied GzipProxied
	// HTTPVersion is gzip_http_version as minor version of HTTP/1 (0 or
	// 1): older requests are not compressed.
	HTTPVersion int
	// Disable is gzip_disable: User-Agents matching one of the regexes
	// get no compression; DisableMSIE6 is its "msie6" mask.
	Disable      []*Regex
	DisableMSIE6 bool
	// Static is gzip_static: a file's precompressed ".gz" neighbour is
	// sent instead of it to clients that accept gzip (GzipStaticOn) or
	// to all (GzipStaticAlways).
	Static GzipStatic
	// Gunzip is gunzip: answers with Content-Encoding gzip are
	// decompressed for clients that do not accept gzip. It lives with
	// gzip's settings because it decides by them (gzip_http_version,
	// gzip_proxied, gzip_disable, gzip_vary).
	Gunzip bool
}

// GzipStatic is the value of gzip_static.
type GzipStatic uint8

// The values of gzip_static.
const (
	GzipStaticOff GzipStatic = iota
	GzipStaticOn
	GzipStaticAlways
)

// GzipProxied is a set of gzip_proxied conditions.
type GzipProxied uint16

// The gzip_proxied conditions, with nginx's meanings.
const (
	GzipProxiedOff GzipProxied = 1 << iota
	GzipProxiedExpired
	GzipProxiedNoCache
	GzipProxiedNoStore
	GzipProxiedPrivate
	GzipProxiedNoLastModified
	GzipProxiedNoETag
	GzipProxiedAuth
	GzipProxiedAny
)

var gzipProxiedNames = map[string]GzipProxied{
	"off": GzipProxiedOff, "expired": GzipProxiedExpired, "no-cache": GzipProxiedNoCache,
	"no-store": GzipProxiedNoStore, "private": GzipProxiedPrivate,
	"no_last_modified": GzipProxiedNoLastModified, "no_etag": GzipProxiedNoETag,
	"auth": GzipProxiedAuth, "any": GzipProxiedAny,
}

// gzipRaw is what one level sets of the gzip settings.
type gzipRaw struct {
	on          *bool
	types       map[string]bool
	anyType     *bool
	level       *int
	minLength   *int64
	vary        *bool
	proxied     *GzipProxied
	httpVersion *int
	disable     []*Regex
	disableSet  bool
	msie6       bool
	buffers     bool
	static      *GzipStatic
	gunzip      *bool
	gunzipBufs  bool
}

func gzipDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "gzip", ctx: hsl | ctxIf, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.gzip.on }),
			syntax: "gzip on | off;", def: "off",
			doc: "Compresses answers of the gzip_types (200, 403 and 404 only) for clients that accept gzip, as a stream: Content-Length goes, the answer is chunked (closed at its end for HTTP/1.0), ETag becomes weak."},
		{name: "gzip_types", ctx: hsl, args: arg1More, set: setGzipTypes,
			syntax: "gzip_types mime-type ... | *;", def: "text/html",
			doc: "Adds content types to compress besides text/html; * compresses every type."},
		{name: "gzip_comp_level", ctx: hsl, args: arg1, set: setGzipLevel,
			syntax: "gzip_comp_level level;", def: "1",
			doc: "Sets the compression level, 1 (fastest) to 9 (smallest)."},
		{name: "gzip_min_length", ctx: hsl, args: arg1, set: setGzipMinLength,
			syntax: "gzip_min_length length;", def: "20",
			doc: "Compresses only answers whose Content-Length is at least this; answers of unknown length are compressed."},
		{name: "gzip_vary", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.gzip.vary }),
			syntax: "gzip_vary on | off;", def: "off",
			doc: "Adds \"Vary: Accept-Encoding\" to answers that gzip could compress, whether or not this client accepts gzip."},
		{name: "gzip_proxied", ctx: hsl, args: arg1More, set: setGzipProxied,
			syntax: "gzip_proxied off | expired | no-cache | no-store | private | no_last_modified | no_etag | auth | any ...;", def: "off",
			doc: "Chooses which answers to requests that came through a proxy (with a Via field) are compressed, by the answer's caching fields."},
		{name: "gzip_http_version", ctx: hsl, args: arg1, set: setGzipHTTPVersion,
			syntax: "gzip_http_version 1.0 | 1.1;", def: "1.1",
			doc: "Compresses only requests of at least this HTTP version."},
		{name: "gzip_disable", ctx: hsl, args: arg1More, set: setGzipDisable,
			syntax: "gzip_disable regex ...;",
			doc:    "Compresses nothing for User-Agents that match one of the regexes (case-insensitively); msie6 names Internet Explorer 6 and older."},
		{name: "gzip_static", ctx: hsl, args: arg1, set: setGzipStatic,
			syntax: "gzip_static on | off | always;", def: "off",
			doc: "Sends a file's precompressed neighbour (the name with \".gz\") when there is one, with Content-Encoding gzip, to clients that accept gzip (on) or to every client (always); validators are the .gz file's, and as in nginx it is sent whole, without Accept-Ranges."},
		{name: "gzip_buffers", ctx: hsl, args: arg2, set: setGzipBuffers,
			syntax: "gzip_buffers number size;", def: "32 4k|16 8k",
			doc: "Accepted with its arguments checked: headroom compresses into the connection's own buffers, so nothing needs sizing."},
		{name: "gunzip", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.gzip.gunzip }),
			syntax: "gunzip on | off;", def: "off",
			doc: "Decompresses answers with \"Content-Encoding: gzip\" for clients that do not accept gzip (by gzip's rules: Accept-Encoding, gzip_http_version, gzip_proxied, gzip_disable), as a stream: Content-Encoding, Content-Length and Accept-Ranges go, ETag becomes weak; gzip_vary adds Vary."},
		{name: "gunzip_buffers", ctx: hsl, args: arg2, set: setGunzipBuffers,
			syntax: "gunzip_buffers number size;", def: "32 4k|16 8k",
			doc: "Accepted with its arguments checked: headroom decompresses a buffer at a time as the client takes the answer, so nothing needs sizing."},
	}
}

func setGunzipBuffers(b *builder, n *Node, sc *scope) error {
	if sc.raw.gzip.gunzipBufs {
		return duplicate(n)
	}
	num, ok := atoi(n.Args[0])
	size, ok2 := parseSize(n.Args[1])
	if !ok || !ok2 || num <= 0 || size <= 0 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.gzip.gunzipBufs = true
	return nil
}

func setGzipTypes(b *builder, n *Node, sc *scope) error {
	g := &sc.raw.gzip
	addTypeList(&g.types, &g.anyType, n.Args)
	return nil
}

func setGzipLevel(b *builder, n *Node, sc *scope) error {
	if sc.raw.gzip.level != nil {
		return duplicate(n)
	}
	v, ok := atoi(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid number", n.Name)
	}
	if v < 1 || v > 9 {
		return errAt(n, "value must be between 1 and 9")
	}
	sc.raw.gzip.level = &v
	return nil
}

func setGzipMinLength(b *builder, n *Node, sc *scope) error {
	if sc.raw.gzip.minLength != nil {
		return duplicate(n)
	}
	v, ok := parseSize(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.gzip.minLength = &v
	return nil
}

func setGzipProxied(b *builder, n *Node, sc *scope) error {
	if sc.raw.gzip.proxied != nil {
		return duplicate(n)
	}
	var v GzipProxied
	for _, a := range n.Args {
		bit, ok := gzipProxiedNames[a]
		if !ok {
			return errAt(n, "invalid value \"%s\"", a)
		}
		v |= bit
	}
	sc.raw.gzip.proxied = &v
	return nil
}

func setGzipHTTPVersion(b *builder, n *Node, sc *scope) error {
	if sc.raw.gzip.httpVersion != nil {
		return duplicate(n)
	}
	var v int
	switch n.Args[0] {
	case "1.0":
	case "1.1":
		v = 1
	default:
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	sc.raw.gzip.httpVersion = &v
	return nil
}

func setGzipDisable(b *builder, n *Node, sc *scope) error {
	g := &sc.raw.gzip
	g.disableSet = true
	for _, a := range n.Args {
		if a == "msie6" {
			g.msie6 = true
			continue
		}
		re, err := b.regex(n, a, true)
		if err != nil {
			return err
		}
		g.disable = append(g.disable, re)
	}
	return nil
}

func setGzipStatic(b *builder, n *Node, sc *scope) error {
	if sc.raw.gzip.static != nil {
		return duplicate(n)
	}
	var v GzipStatic
	switch n.Args[0] {
	case "off":
	case "on":
		v = GzipStaticOn
	case "always":
		v = GzipStaticAlways
	default:
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	sc.raw.gzip.static = &v
	return nil
}

func setGzipBuffers(b *builder, n *Node, sc *scope) error {
	if sc.raw.gzip.buffers {
		return duplicate(n)
	}
	num, ok := atoi(n.Args[0])
	size, ok2 := parseSize(n.Args[1])
	if !ok || !ok2 || num <= 0 || size <= 0 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.gzip.buffers = true
	return nil
}

// mergeGzip inherits each gzip setting the level does not set; the
// types and the disable list are inherited whole.
func mergeGzip(r *gzipRaw, p Gzip) Gzip {
	g := p
	g.On = pick(r.on, p.On)
	g.Gunzip = pick(r.gunzip, p.Gunzip)
	if r.types != nil || r.anyType != nil {
		g.Types, g.AnyType = r.types, r.anyType != nil && *r.anyType
	}
	g.Level = pick(r.level, p.Level)
	g.MinLength = pick(r.minLength, p.MinLength)
	g.Vary = pick(r.vary, p.Vary)
	g.Proxied = pick(r.proxied, p.Proxied)
	g.HTTPVersion = pick(r.httpVersion, p.HTTPVersion)
	g.Static = pick(r.static, p.Static)
	if r.disableSet {
		g.Disable, g.DisableMSIE6 = r.disable, r.msie6
	}
	return g
}

// Compresses reports whether gzip_types lets an answer of the content
// type (without its parameters, compared in lower case) be compressed.
func (g *Gzip) Compresses(ctype []byte) bool {
	return typeListed(ctype, g.Types, g.AnyType)
}

// typeListed reports whether a content type (without its parameters,
// compared in lower case) is text/html or one of a filter's types, as
// nginx's ngx_http_test_content_type reads the lists of gzip_types,
// ssi_types and the like. With "*" (any) every answer is, even one
// without a content type.
func typeListed(ctype []byte, types map[string]bool, any bool) bool {
	if any {
		return true
	}
	if i := indexByte(ctype, ';'); i >= 0 {
		ctype = ctype[:i]
	}
	for len(ctype) > 0 && (ctype[len(ctype)-1] == ' ' || ctype[len(ctype)-1] == '\t') {
		ctype = ctype[:len(ctype)-1]
	}
	var buf [64]byte
	if len(ctype) > len(buf) {
		return false
	}
	low := buf[:len(ctype)]
	for i, c := range ctype {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	if string(low) == "text/html" {
		return true
	}
	return types[string(low)]
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
