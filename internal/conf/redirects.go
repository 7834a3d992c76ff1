package conf

// redirectDirectives declares how headroom writes the redirects it makes
// itself (a directory's slash, return with a path, a rewritten upstream
// Location, error_page): absolute or not, with which host and port, as
// nginx's header filter does.
func redirectDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "absolute_redirect", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.absoluteRedirect }),
			syntax: "absolute_redirect on | off;", def: "on",
			doc: "Makes the redirects headroom issues absolute (scheme, host, port); off leaves them as paths."},
		{name: "server_name_in_redirect", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.serverNameInRedirect }),
			syntax: "server_name_in_redirect on | off;", def: "off",
			doc: "Names the server block's first server_name in absolute redirects instead of the request's Host."},
		{name: "port_in_redirect", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.portInRedirect }),
			syntax: "port_in_redirect on | off;", def: "on",
			doc: "Writes the listening port in absolute redirects (unless it is 80)."},
	}
}
