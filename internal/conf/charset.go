package conf

import (
	"strings"

	"headroom/internal/vars"
)

// Charset holds the settings of nginx's charset filter for one level:
// the charset named in the Content-Type of answers of CharsetTypes, and
// the charset the text is in, which a charset_map converts from.
type Charset struct {
	// Name is the charset ("" for off), spelled as the configuration
	// first named it; Var is set instead for "$variable".
	Name string
	Var  *vars.Template
	// Types are the lower-cased content types it applies to; AnyType is
	// charset_types "*".
	Types   map[string]bool
	AnyType bool
	// Override is override_charset: an upstream's charset is replaced.
	Override bool
	// Source is source_charset ("" when unset), or SourceVar for
	// "$variable".
	Source    string
	SourceVar *vars.Template
	// Maps are the charset_map tables of the http block, shared by every
	// level; nil when no level names a charset.
	Maps *CharsetMaps
}

// CharsetMaps are the charsets the configuration names (in charset,
// source_charset and charset_map) and the conversions its charset_map
// blocks define, as nginx's charset module keeps them for the http block.
type CharsetMaps struct {
	// names are the charsets in the order the configuration first named
	// them, each spelled as then; index finds one by its lower-cased name.
	names []string
	index map[string]int
	// tables are the conversions by the pair of charset numbers, from
	// and to; maps lists the pairs charset_map blocks named, in order.
	tables map[[2]int]*CharsetTable
	maps   [][2]int
}

// CharsetTable is one direction of a charset_map. Exactly one of its
// tables is set.
type CharsetTable struct {
	// Byte maps each byte to one of the other 8-bit charset.
	Byte *[256]byte
	// ToUTF8 maps each byte to its UTF-8 sequence, the sequence's length
	// first.
	ToUTF8 *[256][4]byte
	// FromUTF8 maps a code point below 0x10000 to a byte in pages of 256
	// by its high byte; a missing page or a zero is no byte (nginx then
	// writes the character as an HTML entity).
	FromUTF8 *[256]*[256]byte
}

// Index returns the number of the charset with the name (compared
// case-insensitively), and false for a charset no directive names.
func (m *CharsetMaps) Index(name []byte) (int, bool) {
	if m == nil || len(name) > 64 {
		return 0, false
	}
	var buf [64]byte
	low := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	i, ok := m.index[string(low)]
	return i, ok
}

// Name returns the spelling of a charset's first mention.
func (m *CharsetMaps) Name(i int) string { return m.names[i] }

// Table returns the conversion from one charset to another, nil when no
// charset_map joins them.
func (m *CharsetMaps) Table(from, to int) *CharsetTable {
	return m.tables[[2]int{from, to}]
}

// add registers a charset name, as nginx's ngx_http_add_charset does,
// and returns its number.
func (m *CharsetMaps) add(name string) int {
	low := strings.ToLower(name)
	if i, ok := m.index[low]; ok {
		return i
	}
	m.index[low] = len(m.names)
	m.names = append(m.names, name)
	return len(m.names) - 1
}

// defaultCharsetTypes are nginx's charset_types.
var defaultCharsetTypes = map[string]bool{
	"text/html": true, "text/xml": true, "text/plain": true, "text/vnd.wap.wml": true,
	"application/javascript": true, "application/rss+xml": true,
}

// charsetRaw is what one level sets of the charset settings.
type charsetRaw struct {
	name      *string
	nameVar   *vars.Template
	types     map[string]bool
	anyType   bool
	override  *bool
	source    *string
	sourceVar *vars.Template
	maps      *CharsetMaps
}

func charsetDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "charset", ctx: hsl | ctxIf, args: arg1, set: setCharset,
			syntax: "charset charset | off;", def: "off",
			doc: "Adds \"; charset=...\" to the Content-Type of answers of charset_types, and converts their text from source_charset (or an upstream's charset, with override_charset) by a charset_map."},
		{name: "charset_map", ctx: ctxHTTP, args: arg2, block: true, set: setCharsetMap,
			syntax: "charset_map charset1 charset2 { ... }",
			doc:    "Defines a conversion between two charsets, both ways: each line is a byte of the first and a byte of the second in hex, or, when the second is utf-8, the character's UTF-8 bytes in hex (a character missing from a map into an 8-bit charset becomes an HTML entity)."},
		{name: "charset_types", ctx: hsl, args: arg1More, set: setCharsetTypes,
			syntax: "charset_types mime-type ...;", def: "text/html text/xml text/plain text/vnd.wap.wml application/javascript application/rss+xml",
			doc: "Sets the content types charset applies to (text/html always); * names every type."},
		{name: "override_charset", ctx: hsl | ctxIf, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.charset.override }),
			syntax: "override_charset on | off;", def: "off",
			doc: "Applies charset to answers that name a charset of their own (an upstream's), converting their text when a charset_map joins the two."},
		{name: "source_charset", ctx: hsl | ctxIf, args: arg1, set: setSourceCharset,
			syntax: "source_charset charset;",
			doc:    "Names the charset answers are in, for the conversion into charset."},
	}
}

// charsetMaps returns the builder's charset registry, made on first use.
func (b *builder) charsetMaps() *CharsetMaps {
	if b.charsets == nil {
		b.charsets = &CharsetMaps{index: map[string]int{}, tables: map[[2]int]*CharsetTable{}}
	}
	return b.charsets
}

// charsetValue reads the argument of charset or source_charset as nginx
// does: a value that starts with "$" is a variable, anything else names
// a charset, which is registered.
func (b *builder) charsetValue(n *Node, c *charsetRaw) (name *string, t *vars.Template, err error) {
	c.maps = b.charsetMaps()
	v := n.Args[0]
	if strings.HasPrefix(v, "$") {
		t, err = b.template(n, v)
		return nil, t, err
	}
	v = c.maps.names[c.maps.add(v)]
	return &v, nil, nil
}

func setCharset(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.charset
	if c.name != nil || c.nameVar != nil {
		return duplicate(n)
	}
	if n.Args[0] == "off" {
		empty := ""
		c.name = &empty
		return nil
	}
	var err error
	c.name, c.nameVar, err = b.charsetValue(n, c)
	return err
}

func setCharsetTypes(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.charset
	if c.types != nil || c.anyType {
		return duplicate(n)
	}
	c.types = map[string]bool{"text/html": true}
	for _, t := range n.Args {
		if t == "*" {
			c.anyType = true
			continue
		}
		c.types[strings.ToLower(t)] = true
	}
	return nil
}

func setSourceCharset(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.charset
	if c.source != nil || c.sourceVar != nil {
		return duplicate(n)
	}
	var err error
	c.source, c.sourceVar, err = b.charsetValue(n, c)
	return err
}

// setCharsetMap reads a charset_map block with nginx's checks and
// messages: the two charsets must differ, one map per pair (nginx
// compares each new map with the first one only, and so does this), and
// each line is two hex values, the second a UTF-8 sequence of a
// character below U+10000 when the second charset is utf-8.
func setCharsetMap(b *builder, n *Node, _ *scope) error {
	m := b.charsetMaps()
	src, dst := m.add(n.Args[0]), m.add(n.Args[1])
	if src == dst {
		return errAt(n, "\"charset_map\" between the same charsets \"%s\" and \"%s\"", n.Args[0], n.Args[1])
	}
	if len(m.maps) > 0 {
		if f := m.maps[0]; f == [2]int{src, dst} || f == [2]int{dst, src} {
			return errAt(n, "duplicate \"charset_map\" between \"%s\" and \"%s\"", n.Args[0], n.Args[1])
		}
	}
	m.maps = append(m.maps, [2]int{src, dst})
	var fwd, back *CharsetTable
	if strings.EqualFold(n.Args[1], "utf-8") {
		to := new([256][4]byte)
		from := new([256]*[256]byte)
		from[0] = new([256]byte)
		for i := range 256 {
			to[i] = [4]byte{1, byte(i)}
			if i < 128 {
				from[0][i] = byte(i)
			} else {
				to[i][1] = '?'
			}
		}
		fwd, back = &CharsetTable{ToUTF8: to}, &CharsetTable{FromUTF8: from}
	} else {
		var to, from [256]byte
		for i := range 256 {
			to[i], from[i] = byte(i), byte(i)
			if i >= 128 {
				to[i], from[i] = '?', '?'
			}
		}
		fwd, back = &CharsetTable{Byte: &to}, &CharsetTable{Byte: &from}
	}
	for _, e := range n.Block {
		if e.err != nil {
			return e.err
		}
		if e.IsBlock {
			return errAt(e, "unexpected \"{\"")
		}
		if len(e.Args) != 1 {
			return errAt(e, "invalid parameters number")
		}
		if err := charsetMapLine(e, fwd, back); err != nil {
			return err
		}
	}
	// A later map of the same pair (which nginx lets through when the
	// first map is another pair) replaces the tables, as in nginx.
	m.tables[[2]int{src, dst}] = fwd
	m.tables[[2]int{dst, src}] = back
	return nil
}

// charsetMapLine reads one line of a charset_map into its two tables.
func charsetMapLine(e *Node, fwd, back *CharsetTable) error {
	from, to := e.Name, e.Args[0]
	s, ok := hexValue(from)
	if !ok || s > 255 {
		return errAt(e, "invalid value \"%s\"", from)
	}
	if fwd.Byte != nil {
		d, ok := hexValue(to)
		if !ok || d > 255 {
			return errAt(e, "invalid value \"%s\"", to)
		}
		fwd.Byte[s], back.Byte[d] = byte(d), byte(s)
		return nil
	}
	// Up to three bytes of UTF-8, two hex digits each.
	if to == "" || len(to)/2 > 3 || len(to)%2 != 0 {
		return errAt(e, "invalid value \"%s\"", to)
	}
	var seq [4]byte
	seq[0] = byte(len(to) / 2)
	for i := 0; i < len(to); i += 2 {
		d, ok := hexValue(to[i : i+2])
		if !ok {
			return errAt(e, "invalid value \"%s\"", to)
		}
		seq[1+i/2] = byte(d)
	}
	c, _ := DecodeUTF8(seq[1 : 1+seq[0]])
	if c > 0xffff {
		return errAt(e, "invalid value \"%s\"", to)
	}
	fwd.ToUTF8[s] = seq
	page := back.FromUTF8[c>>8]
	if page == nil {
		page = new([256]byte)
		back.FromUTF8[c>>8] = page
	}
	page[c&0xff] = byte(s)
	return nil
}

// hexValue parses hex digits as nginx's ngx_hextoi does: no sign, no
// spaces, at least one digit.
func hexValue(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		switch {
		case '0' <= s[i] && s[i] <= '9':
			v = v*16 + int(s[i]-'0')
		case 'a' <= c && c <= 'f':
			v = v*16 + int(c-'a'+10)
		default:
			return 0, false
		}
		if v > 1<<24 {
			// Far past any value a map accepts; stop before overflow.
			v = 1 << 24
		}
	}
	return v, true
}

// Results of DecodeUTF8 that are not characters.
const (
	// UTF8Invalid is a malformed or overlong sequence.
	UTF8Invalid = 0xffffffff
	// UTF8Incomplete is a sequence cut short by the end of the bytes.
	UTF8Incomplete = 0xfffffffe
)

// DecodeUTF8 decodes the sequence at the start of p as nginx's
// ngx_utf8_decode does, and returns the character and the bytes it
// took. Its rules differ from Go's decoder, and nginx's charset filter
// depends on them: the lead byte alone decides the length (so 0xf8 to
// 0xff lead four-byte sequences), a sequence longer than what is left
// is incomplete whatever its bytes, an invalid byte inside a sequence
// is taken with it, and an overlong form is invalid. A byte below 0xc2
// is invalid and taken alone.
func DecodeUTF8(p []byte) (c uint32, n int) {
	u := uint32(p[0])
	var length int
	var valid uint32
	switch {
	case u >= 0xf0:
		u, valid, length = u&0x07, 0xffff, 3
	case u >= 0xe0:
		u, valid, length = u&0x0f, 0x7ff, 2
	case u >= 0xc2:
		u, valid, length = u&0x1f, 0x7f, 1
	default:
		return UTF8Invalid, 1
	}
	if len(p)-1 < length {
		return UTF8Incomplete, 0
	}
	n = 1
	for ; length > 0; length-- {
		b := uint32(p[n])
		n++
		if b < 0x80 {
			return UTF8Invalid, n
		}
		u = u<<6 | b&0x3f
	}
	if u > valid {
		return u, n
	}
	return UTF8Invalid, n
}

// mergeCharset inherits what a level does not set.
func mergeCharset(r *charsetRaw, p Charset) Charset {
	c := p
	if r.name != nil || r.nameVar != nil {
		c.Var = r.nameVar
		c.Name = ""
		if r.name != nil {
			c.Name = *r.name
		}
	}
	if r.types != nil {
		c.Types, c.AnyType = r.types, r.anyType
	}
	c.Override = pick(r.override, p.Override)
	if r.source != nil || r.sourceVar != nil {
		c.Source, c.SourceVar = "", r.sourceVar
		if r.source != nil {
			c.Source = *r.source
		}
	}
	if r.maps != nil {
		c.Maps = r.maps
	}
	return c
}

// checkCharsets reports a level that converts between two charsets no
// charset_map joins, as nginx does once the http block is read (without
// a position, as nginx's message has none). Levels with variables are
// checked per request instead.
func checkCharsets(servers []*Server) error {
	check := func(c *Charset) error {
		if c.Name == "" || c.Source == "" || c.Var != nil || c.SourceVar != nil {
			return nil
		}
		m := c.Maps
		from, _ := m.Index([]byte(c.Source))
		to, _ := m.Index([]byte(c.Name))
		if from == to || m.Table(from, to) != nil {
			return nil
		}
		return &Error{Msg: "no \"charset_map\" between the charsets \"" + c.Source + "\" and \"" + c.Name + "\""}
	}
	var walk func(ls []*Location) error
	walk = func(ls []*Location) error {
		for _, l := range ls {
			if err := check(&l.Loc.Charset); err != nil {
				return err
			}
			if err := walk(l.Locations); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range servers {
		if err := check(&s.Loc.Charset); err != nil {
			return err
		}
		if err := walk(s.Locations); err != nil {
			return err
		}
		if err := walk(s.Named); err != nil {
			return err
		}
	}
	return nil
}

// Applies reports whether charset applies to an answer of the content
// type, given without its parameters.
func (c *Charset) Applies(ctype []byte) bool {
	if c.AnyType {
		return true
	}
	types := c.Types
	if types == nil {
		types = defaultCharsetTypes
	}
	var buf [64]byte
	if len(ctype) > len(buf) {
		return false
	}
	low := buf[:len(ctype)]
	for i, ch := range ctype {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		low[i] = ch
	}
	return types[string(low)]
}
