package conf

// nginx sizes the memory pools of a connection and of a request with
// connection_pool_size and request_pool_size. headroom has no such pools
// (a connection's and a request's state are fixed structures from the
// worker's free lists), so the sizes change nothing at run time; they are
// read with nginx's checks because a configuration that nginx refuses
// must be refused here too, and connection_pool_size bounds
// large_client_header_buffers' size.

// minPoolSize and poolAlignment are nginx's NGX_MIN_POOL_SIZE and
// NGX_POOL_ALIGNMENT on 64-bit systems.
const (
	minPoolSize   = 112
	poolAlignment = 16
)

// poolDirectives declares connection_pool_size and request_pool_size.
func poolDirectives() []*directive {
	const hs = ctxHTTP | ctxServer
	return []*directive{
		{name: "connection_pool_size", ctx: hs, args: arg1, set: setPoolSize(func(r *rawLoc) **int64 { return &r.connectionPoolSize }),
			syntax: "connection_pool_size size;", def: "512",
			doc: "Sizes nginx's per-connection memory pool; headroom has none and only checks the value (and that large_client_header_buffers' size is at least this)."},
		{name: "request_pool_size", ctx: hs, args: arg1, set: setPoolSize(func(r *rawLoc) **int64 { return &r.requestPoolSize }),
			syntax: "request_pool_size size;", def: "4k",
			doc: "Sizes nginx's per-request memory pool; headroom has none and only checks the value."},
	}
}

func setPoolSize(field func(*rawLoc) **int64) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		v, ok := parseSize(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		if v < minPoolSize {
			return errAt(n, "the pool size must be no less than %d", minPoolSize)
		}
		if v%poolAlignment != 0 {
			return errAt(n, "the pool size must be a multiple of %d", poolAlignment)
		}
		*p = &v
		return nil
	}
}
