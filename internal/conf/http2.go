package conf

import "fmt"

// nginx's HTTP/2 limits, from its ngx_http_v2 module.
const (
	// http2StateBufferSize is the buffer nginx keeps a frame's partial
	// state in; http2_recv_buffer_size must exceed twice it, so that a
	// read always has room beyond a saved state.
	http2StateBufferSize = 16
	// http2MaxFrameSize is the largest frame payload HTTP/2 allows
	// (2^24-1); a larger http2_chunk_size is lowered to it, as nginx
	// does, since a DATA frame cannot carry more.
	http2MaxFrameSize = 1<<24 - 1
	// http2MaxWindow is the largest flow-control window HTTP/2 allows
	// (2^31-1), the bound of http2_body_preread_size, which is the
	// initial window of each stream.
	http2MaxWindow = 1<<31 - 1
	// http2MinPoolSize is nginx's smallest memory pool on 64-bit
	// systems (NGX_MIN_POOL_SIZE), the floor of http2_pool_size; a
	// constant, like pageSize, so that the check does not depend on the
	// machine the configuration is read on.
	http2MinPoolSize = 112
	// http2PoolAlignment is the alignment (NGX_POOL_ALIGNMENT) that
	// http2_pool_size must be a multiple of.
	http2PoolAlignment = 16
)

// The defaults of nginx's HTTP/2 directives.
const (
	defaultHTTP2RecvBufferSize       = 256 << 10
	defaultHTTP2MaxConcurrentStreams = 128
	defaultHTTP2ChunkSize            = 8 << 10
	defaultHTTP2BodyPrereadSize      = 64 << 10
	defaultHTTP2StreamsIndexSize     = 32
	defaultHTTP2MaxConcurrentPushes  = 10
)

// http2Raw is what one level sets of the HTTP/2 directives; nil means
// not set here, as for the other settings of rawLoc.
type http2Raw struct {
	// recvBufferSize is only ever set at the http level.
	recvBufferSize       *int
	maxConcurrentStreams *int
	chunkSize            *int
	bodyPrereadSize      *int
	streamsIndexSize     *int
	maxConcurrentPushes  *int
	poolSize             *int
	push, pushPreload    *bool
}

// http2Obsolete maps the HTTP/2 directives that nginx 1.19.7 made
// obsolete to the directive that took over their job. nginx 1.22 still
// reads them, warns and ignores them, without looking at their value,
// so that old configurations keep loading.
var http2Obsolete = []struct{ name, instead, syntax string }{
	{"http2_idle_timeout", "keepalive_timeout", "time"},
	{"http2_recv_timeout", "client_header_timeout", "time"},
	{"http2_max_requests", "keepalive_requests", "number"},
	{"http2_max_field_size", "large_client_header_buffers", "size"},
	{"http2_max_header_size", "large_client_header_buffers", "size"},
}

func http2Directives() []*directive {
	const hs = ctxHTTP | ctxServer
	const hsl = hs | ctxLocation
	const why = " As in nginx, it is read from the server that the connection's address and TLS server name select, and holds for every stream of the connection."
	out := []*directive{
		{name: "http2_recv_buffer_size", ctx: ctxHTTP, args: arg1, set: setHTTP2RecvBufferSize,
			syntax: "http2_recv_buffer_size size;", def: "256k",
			doc: "Sets the size of the per-worker buffer that HTTP/2 connections are read into; it must be larger than 32 bytes."},
		{name: "http2_max_concurrent_streams", ctx: hs, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.h2.maxConcurrentStreams }),
			syntax: "http2_max_concurrent_streams number;", def: "128",
			doc: "Limits the streams (requests) open at once on one HTTP/2 connection." + why},
		{name: "http2_chunk_size", ctx: hsl, args: arg1, set: setHTTP2ChunkSize,
			syntax: "http2_chunk_size size;", def: "8k",
			doc: "Sets the largest piece a response body is cut into on an HTTP/2 stream, so that streams take turns; 0 is refused and a value above 16m-1 (the largest HTTP/2 frame) is lowered to it, as in nginx."},
		{name: "http2_body_preread_size", ctx: hs, args: arg1, set: setHTTP2BodyPrereadSize,
			syntax: "http2_body_preread_size size;", def: "64k",
			doc: "Sets how much of a request body the client may send on an HTTP/2 stream before the request is processed: the stream's initial flow-control window, at most 2147483647." + why},
		{name: "http2_streams_index_size", ctx: hs, args: arg1, set: setHTTP2StreamsIndexSize,
			syntax: "http2_streams_index_size number;", def: "32",
			doc: "Sets the size of nginx's index of an HTTP/2 connection's streams; it must be a power of two. Accepted with nginx's check: headroom's index needs no tuning."},
		{name: "http2_max_concurrent_pushes", ctx: hs, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.h2.maxConcurrentPushes }),
			syntax: "http2_max_concurrent_pushes number;", def: "10",
			doc: "Limits the pushed streams of one HTTP/2 connection. Accepted with nginx's check; it has no effect, because headroom does no server push."},
		{name: "http2_push", ctx: hsl, args: arg1, set: setHTTP2Push,
			syntax: "http2_push uri | off;", def: "off",
			doc: "Accepted as off; a URI (server push) is not supported by headroom, as browsers no longer use HTTP/2 server push."},
		{name: "http2_push_preload", ctx: hsl, args: argFlag, set: setHTTP2PushPreload,
			syntax: "http2_push_preload on | off;", def: "off",
			doc: "Accepted as off; on (server push of the resources that Link preload fields name) is not supported by headroom."},
		{name: "http2_pool_size", ctx: hs, args: arg1, set: setHTTP2PoolSize,
			syntax: "http2_pool_size size;", def: "4k",
			doc: "Sets the size of nginx's memory pool for an HTTP/2 connection: at least 112 and a multiple of 16. Accepted with nginx's checks: headroom allocates otherwise."},
	}
	for _, o := range http2Obsolete {
		out = append(out, &directive{name: o.name, ctx: hs, args: arg1, set: obsoleteSlot(o.instead),
			syntax: o.name + " " + o.syntax + ";",
			doc:    fmt.Sprintf("Obsolete since nginx 1.19.7: accepted with nginx's warning and ignored; %s applies to HTTP/2 connections instead.", o.instead)})
	}
	return out
}

// obsoleteSlot makes a handler for a directive nginx has replaced: it
// logs nginx's warning and changes nothing. Like nginx 1.22, it does not
// check the value, which nginx no longer reads.
func obsoleteSlot(instead string) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, _ *scope) error {
		b.warn(errAt(n, "the \"%s\" directive is obsolete, use the \"%s\" directive instead", n.Name, instead))
		return nil
	}
}

// http2Size reads a size argument as nginx's ngx_conf_set_size_slot
// does, after its duplicate check.
func http2Size(n *Node, p **int) (int, error) {
	if *p != nil {
		return 0, duplicate(n)
	}
	v, ok := parseSize(n.Args[0])
	if !ok {
		return 0, errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	return int(v), nil
}

func setHTTP2RecvBufferSize(b *builder, n *Node, sc *scope) error {
	v, err := http2Size(n, &sc.raw.h2.recvBufferSize)
	if err != nil {
		return err
	}
	if v <= 2*http2StateBufferSize {
		return errAt(n, "\"%s\" directive value is too small", n.Name)
	}
	sc.raw.h2.recvBufferSize = &v
	return nil
}

func setHTTP2ChunkSize(b *builder, n *Node, sc *scope) error {
	v, err := http2Size(n, &sc.raw.h2.chunkSize)
	if err != nil {
		return err
	}
	if v == 0 {
		return errAt(n, "the http2 chunk size cannot be zero")
	}
	v = min(v, http2MaxFrameSize)
	sc.raw.h2.chunkSize = &v
	return nil
}

func setHTTP2BodyPrereadSize(b *builder, n *Node, sc *scope) error {
	v, err := http2Size(n, &sc.raw.h2.bodyPrereadSize)
	if err != nil {
		return err
	}
	if v > http2MaxWindow {
		return errAt(n, "the maximum body preread buffer size is %d", http2MaxWindow)
	}
	sc.raw.h2.bodyPrereadSize = &v
	return nil
}

func setHTTP2PoolSize(b *builder, n *Node, sc *scope) error {
	v, err := http2Size(n, &sc.raw.h2.poolSize)
	if err != nil {
		return err
	}
	if v < http2MinPoolSize {
		return errAt(n, "the pool size must be no less than %d", http2MinPoolSize)
	}
	if v%http2PoolAlignment != 0 {
		return errAt(n, "the pool size must be a multiple of %d", http2PoolAlignment)
	}
	sc.raw.h2.poolSize = &v
	return nil
}

func setHTTP2StreamsIndexSize(b *builder, n *Node, sc *scope) error {
	if sc.raw.h2.streamsIndexSize != nil {
		return duplicate(n)
	}
	v, ok := atoi(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid number", n.Name)
	}
	if v == 0 || v&(v-1) != 0 {
		return errAt(n, "\"%s\" directive must be a power of two", n.Name)
	}
	sc.raw.h2.streamsIndexSize = &v
	return nil
}

// setHTTP2Push accepts "http2_push off". nginx compares "off" case
// sensitively, so any other word is a URI to push, which headroom does
// not do; before that, the conflicts nginx reports at one level keep
// their messages.
func setHTTP2Push(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.h2
	if n.Args[0] == "off" {
		if r.push != nil {
			return duplicate(n)
		}
		off := false
		r.push = &off
		return nil
	}
	if r.push != nil {
		return errAt(n, "\"%s\" directive URI cannot be used with \"off\" parameter", n.Name)
	}
	return skip(b.unsupportedPart(n, "URI", "HTTP/2 server push (\"http2_push\" with a URI) is not supported by headroom"))
}

// setHTTP2PushPreload accepts "http2_push_preload off", with nginx's
// checks of a flag; on would push what Link preload fields name.
func setHTTP2PushPreload(b *builder, n *Node, sc *scope) error {
	r := &sc.raw.h2
	if r.pushPreload != nil {
		return duplicate(n)
	}
	v, err := onOff(n)
	if err != nil {
		return err
	}
	if v {
		return skip(b.unsupportedPart(n, "on", "HTTP/2 server push (\"http2_push_preload on\") is not supported by headroom"))
	}
	r.pushPreload = &v
	return nil
}

// mergeHTTP2 inherits the HTTP/2 settings a level does not set, as
// nginx's merge of its HTTP/2 server and location settings does.
func mergeHTTP2(r *http2Raw, p *LocConf, c *LocConf) {
	c.HTTP2MaxConcurrentStreams = pick(r.maxConcurrentStreams, p.HTTP2MaxConcurrentStreams)
	c.HTTP2ChunkSize = pick(r.chunkSize, p.HTTP2ChunkSize)
	c.HTTP2BodyPrereadSize = pick(r.bodyPrereadSize, p.HTTP2BodyPrereadSize)
	c.HTTP2StreamsIndexSize = pick(r.streamsIndexSize, p.HTTP2StreamsIndexSize)
	c.HTTP2MaxConcurrentPushes = pick(r.maxConcurrentPushes, p.HTTP2MaxConcurrentPushes)
}
