package conf

// trailerRaw is what one level sets of add_trailer and
// chunked_transfer_encoding.
type trailerRaw struct {
	trailers []AddHeader
	chunked  *bool
}

func trailerDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "add_trailer", ctx: hsl | ctxIf, args: take23, set: setAddTrailer,
			syntax: "add_trailer name value [always];",
			doc:    "Adds a trailer field after the body of 200, 201, 206, 301, 302, 303, 307 and 308 answers (every status with always); such an answer to an HTTP/1.1 request is chunked. A value empty when the body ends adds nothing. Inherited only by levels with none of their own."},
		{name: "chunked_transfer_encoding", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.trailer.chunked }),
			syntax: "chunked_transfer_encoding on | off;", def: "on",
			doc: "With off, an answer of unknown length to an HTTP/1.1 request ends with the connection instead of being chunked, and carries no trailers."},
	}
}

func setAddTrailer(b *builder, n *Node, sc *scope) error {
	h, err := b.addedField(n)
	if err != nil {
		return err
	}
	sc.raw.trailer.trailers = append(sc.raw.trailer.trailers, h)
	return nil
}

// mergeTrailers inherits the trailer list whole when a level has none.
func mergeTrailers(r *trailerRaw, p *LocConf, c *LocConf) {
	c.AddTrailers = p.AddTrailers
	if r.trailers != nil {
		c.AddTrailers = r.trailers
	}
	c.ChunkedTransferEncoding = pick(r.chunked, p.ChunkedTransferEncoding)
}
