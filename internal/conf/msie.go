package conf

// MSIE holds the core directives that change nginx's own answers for
// Internet Explorer (and, for the padding, Chrome), which replace short
// error pages with "friendly" ones of their own and, in old versions,
// mishandled redirects.
type MSIE struct {
	// Padding is msie_padding: error pages of status 400 and above get
	// a comment that lengthens them past the size below which those
	// browsers show their own page instead.
	Padding bool
	// Refresh is msie_refresh: a 301 or 302 headroom makes itself is
	// sent to Internet Explorer as a 200 page whose meta refresh goes to
	// the Location.
	Refresh bool
}

// msieRaw is what one level sets of the MSIE settings.
type msieRaw struct {
	padding *bool
	refresh *bool
}

// defaultMSIE is nginx's defaults: padding on, refresh off.
var defaultMSIE = MSIE{Padding: true}

func msieDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "msie_padding", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.msie.padding }),
			syntax: "msie_padding on | off;", def: "on",
			doc: "Adds a comment to error pages of status 400 and above sent to Internet Explorer and Chrome, so that they show the page instead of one of their own."},
		{name: "msie_refresh", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.msie.refresh }),
			syntax: "msie_refresh on | off;", def: "off",
			doc: "Answers Internet Explorer's requests that headroom redirects with 301 or 302 by a 200 page that refreshes to the Location."},
	}
}

// mergeMSIE inherits each setting the level does not set.
func mergeMSIE(r *msieRaw, p MSIE) MSIE {
	return MSIE{Padding: pick(r.padding, p.Padding), Refresh: pick(r.refresh, p.Refresh)}
}
