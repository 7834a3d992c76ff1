package conf

import (
	"strings"

	"headroom/internal/vars"
)

// Charset holds the settings of nginx's charset filter: the charset
// named in the Content-Type of answers of CharsetTypes. headroom names
// it only; it converts nothing, so a source_charset that differs from
// charset is the error nginx gives without a charset_map between them.
type Charset struct {
	// Name is the charset ("" for off); Var is set instead when it has
	// variables.
	Name string
	Var  *vars.Template
	// Types are the lower-cased content types it applies to.
	Types map[string]bool
	// Override is override_charset: an upstream's charset is replaced.
	Override bool
	// Source is source_charset.
	Source string
}

// defaultCharsetTypes are nginx's charset_types.
var defaultCharsetTypes = map[string]bool{
	"text/html": true, "text/xml": true, "text/plain": true, "text/vnd.wap.wml": true,
	"application/javascript": true, "application/rss+xml": true,
}

// charsetRaw is what one level sets of the charset settings.
type charsetRaw struct {
	name     *string
	nameVar  *vars.Template
	types    map[string]bool
	override *bool
	source   *string
}

func charsetDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "charset", ctx: hsl | ctxIf, args: arg1, set: setCharset,
			syntax: "charset charset | off;", def: "off",
			doc: "Adds \"; charset=...\" to the Content-Type of answers of charset_types that name none. headroom converts no text between charsets (source_charset must be the same charset, or absent)."},
		{name: "charset_types", ctx: hsl, args: arg1More, set: setCharsetTypes,
			syntax: "charset_types mime-type ...;", def: "text/html text/xml text/plain text/vnd.wap.wml application/javascript application/rss+xml",
			doc: "Sets the content types charset applies to (text/html always)."},
		{name: "override_charset", ctx: hsl | ctxIf, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.charset.override }),
			syntax: "override_charset on | off;", def: "off",
			doc: "Replaces the charset an upstream's answer names by charset's."},
		{name: "source_charset", ctx: hsl | ctxIf, args: arg1, set: setSourceCharset,
			syntax: "source_charset charset;",
			doc:    "Names the charset answers are in; headroom converts nothing, so it must be charset's own."},
	}
}

func setCharset(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.charset
	if c.name != nil || c.nameVar != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	if v == "off" {
		empty := ""
		c.name = &empty
		return nil
	}
	if hasVariables(v) {
		t, err := b.template(n, v)
		if err != nil {
			return err
		}
		c.nameVar = t
		return nil
	}
	c.name = &v
	return nil
}

func setCharsetTypes(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.charset
	if c.types != nil {
		return duplicate(n)
	}
	c.types = map[string]bool{"text/html": true}
	for _, t := range n.Args {
		c.types[strings.ToLower(t)] = true
	}
	return nil
}

func setSourceCharset(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.charset
	if c.source != nil {
		return duplicate(n)
	}
	if hasVariables(n.Args[0]) {
		return skip(b.unsupportedPart(n, "variables", "variables in \"source_charset\" are not supported by headroom"))
	}
	v := n.Args[0]
	c.source = &v
	return nil
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
		c.Types = r.types
	}
	c.Override = pick(r.override, p.Override)
	c.Source = pick(r.source, p.Source)
	return c
}

// checkCharsets reports a level that asks for a conversion, as nginx
// does when it prepares its tables: headroom has no charset_map, so
// source_charset must be charset's own.
func checkCharsets(servers []*Server) error {
	bad := func(c *Charset) bool {
		return c.Source != "" && c.Name != "" && !strings.EqualFold(c.Source, c.Name)
	}
	msg := func(c *Charset) string {
		return "no \"charset_map\" between the charsets \"" + c.Source + "\" and \"" + c.Name + "\""
	}
	var walk func(ls []*Location) error
	walk = func(ls []*Location) error {
		for _, l := range ls {
			if bad(&l.Loc.Charset) {
				return &Error{File: l.File, Line: l.Line, Msg: msg(&l.Loc.Charset)}
			}
			if err := walk(l.Locations); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range servers {
		if bad(&s.Loc.Charset) {
			return &Error{File: s.File, Line: s.Line, Msg: msg(&s.Loc.Charset)}
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
// type (its parameters, if any, are not looked at: such a type is
// skipped by the caller).
func (c *Charset) Applies(ctype []byte) bool {
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
