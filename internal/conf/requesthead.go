package conf

func requestHeadDirectives() []*directive {
	const hs = ctxHTTP | ctxServer
	const which = " As in nginx, the default server of the address the request came to decides, not the server the Host field chooses."
	return []*directive{
		{name: "merge_slashes", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.mergeSlashes }),
			syntax: "merge_slashes on | off;", def: "on",
			doc: "Merges runs of '/' in the request path when it is normalised into $uri (\"/a//b\" is \"/a/b\"); with off they are kept, and \"..\" climbs over an empty segment as nginx's does." + which},
		{name: "ignore_invalid_headers", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ignoreInvalidHeaders }),
			syntax: "ignore_invalid_headers on | off;", def: "on",
			doc: "Leaves out request fields whose names have bytes other than letters, digits and '-' (and '_' with underscores_in_headers), logging \"client sent invalid header line\" at level info. With off, names that are tokens are kept; a name with bytes that a token may not have is answered 400, where nginx passes it on. Whitespace or control bytes in a name, and an empty name, are answered 400 either way." + which},
		{name: "underscores_in_headers", ctx: hs, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.underscoresInHeaders }),
			syntax: "underscores_in_headers on | off;", def: "off",
			doc: "Counts '_' as a valid byte of a request field name, so that ignore_invalid_headers keeps such fields." + which},
	}
}
