package conf

import "strings"

// Autoindex holds the settings of nginx's autoindex module: a request for
// a directory (a URI ending in "/") whose index files are all missing is
// answered with a listing of the directory instead of 403.
type Autoindex struct {
	// On is autoindex.
	On bool
	// ExactSize is autoindex_exact_size: sizes in bytes, or rounded to
	// kilobytes, megabytes or gigabytes (HTML only).
	ExactSize bool
	// Format is autoindex_format.
	Format AutoindexFormat
	// Localtime is autoindex_localtime: the HTML listing's times are in
	// the local time zone instead of UTC.
	Localtime bool
}

// AutoindexFormat is the form of a directory listing.
type AutoindexFormat uint8

// The values of autoindex_format.
const (
	AutoindexHTML AutoindexFormat = iota
	AutoindexJSON
	AutoindexJSONP
	AutoindexXML
)

// autoindexFormats maps autoindex_format's values (compared without
// regard to case, as nginx's enum slot compares them) to formats.
var autoindexFormats = map[string]AutoindexFormat{
	"html": AutoindexHTML, "json": AutoindexJSON, "jsonp": AutoindexJSONP, "xml": AutoindexXML,
}

// String returns the format's name in autoindex_format.
func (f AutoindexFormat) String() string {
	names := [...]string{AutoindexHTML: "html", AutoindexJSON: "json", AutoindexJSONP: "jsonp", AutoindexXML: "xml"}
	if int(f) < len(names) {
		return names[f]
	}
	return "?"
}

// autoindexRaw is what one level sets of the autoindex settings.
type autoindexRaw struct {
	on        *bool
	exactSize *bool
	format    *AutoindexFormat
	localtime *bool
}

func autoindexDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "autoindex", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.autoindex.on }),
			syntax: "autoindex on | off;", def: "off",
			doc: "Answers GET and HEAD for a directory URI (ending in \"/\") whose index files do not exist with a listing of the directory, directories first, names in byte order, hidden files (starting with \".\") left out, as nginx's autoindex module."},
		{name: "autoindex_exact_size", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.autoindex.exactSize }),
			syntax: "autoindex_exact_size on | off;", def: "on",
			doc: "Shows file sizes in the HTML listing in bytes, or (off) rounded to K, M or G."},
		{name: "autoindex_format", ctx: hsl, args: arg1, set: setAutoindexFormat,
			syntax: "autoindex_format html | xml | json | jsonp;", def: "html",
			doc: "Sets the listing's format; jsonp wraps the JSON in a call of the function the \"callback\" argument names (letters, digits, \"_\" and \".\", at most 128), and is plain JSON without one."},
		{name: "autoindex_localtime", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.autoindex.localtime }),
			syntax: "autoindex_localtime on | off;", def: "off",
			doc: "Shows times in the HTML listing in the local time zone instead of UTC."},
	}
}

func setAutoindexFormat(b *builder, n *Node, sc *scope) error {
	a := &sc.raw.autoindex
	if a.format != nil {
		return duplicate(n)
	}
	v, ok := autoindexFormats[strings.ToLower(n.Args[0])]
	if !ok {
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	a.format = &v
	return nil
}

// defaultAutoindex is nginx's defaults: off, exact sizes, HTML, UTC.
var defaultAutoindex = Autoindex{ExactSize: true}

// mergeAutoindex inherits each autoindex setting the level does not set.
func mergeAutoindex(r *autoindexRaw, p Autoindex) Autoindex {
	return Autoindex{
		On:        pick(r.on, p.On),
		ExactSize: pick(r.exactSize, p.ExactSize),
		Format:    pick(r.format, p.Format),
		Localtime: pick(r.localtime, p.Localtime),
	}
}
