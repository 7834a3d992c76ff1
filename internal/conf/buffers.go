package conf

import (
	"math"
	"strings"
)

// bufs is what proxy_buffers sets at one level: the number and the size
// go together, as nginx's ngx_bufs_t is inherited whole.
type bufs struct {
	num, size int
}

// ignoreHeaderNames are proxy_ignore_headers' values in nginx's order
// (ngx_http_upstream_ignore_headers_masks), compared case-insensitively.
var ignoreHeaderNames = []struct {
	name string
	bit  IgnoreHeaders
}{
	{"X-Accel-Redirect", IgnoreXAccelRedirect},
	{"X-Accel-Expires", IgnoreXAccelExpires},
	{"X-Accel-Limit-Rate", IgnoreXAccelLimitRate},
	{"X-Accel-Buffering", IgnoreXAccelBuffering},
	{"X-Accel-Charset", IgnoreXAccelCharset},
	{"Expires", IgnoreExpires},
	{"Cache-Control", IgnoreCacheControl},
	{"Set-Cookie", IgnoreSetCookie},
	{"Vary", IgnoreVary},
}

func bufferDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "proxy_buffering", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.proxyBuffering }),
			syntax: "proxy_buffering on | off;", def: "on",
			doc: "Reads the upstream's response into memory buffers and then a temporary file as fast as it comes, releasing the upstream before a slow client has read it; off passes it on as the client takes it. An upstream's \"X-Accel-Buffering: no\" turns it off for its response unless ignored."},
		{name: "proxy_buffer_size", ctx: hsl, args: arg1, set: sizeSlot(func(r *rawLoc) **int { return &r.proxyBufferSize }),
			syntax: "proxy_buffer_size size;", def: "4k",
			doc: "Sets the size of the buffer for the upstream's response head, which bounds the head's length."},
		{name: "proxy_buffers", ctx: hsl, args: arg2, set: setProxyBuffers,
			syntax: "proxy_buffers number size;", def: "8 4k",
			doc: "Sets the number and size of the memory buffers for one buffered response; there must be at least two."},
		{name: "proxy_busy_buffers_size", ctx: hsl, args: arg1, set: sizeSlot(func(r *rawLoc) **int { return &r.proxyBusyBuffersSize }),
			syntax: "proxy_busy_buffers_size size;", def: "8k",
			doc: "Accepted with nginx's checks (at least the larger of proxy_buffer_size and one of proxy_buffers, at most all proxy_buffers but one; by default twice the larger); headroom sends from one buffer."},
		{name: "proxy_max_temp_file_size", ctx: hsl, args: arg1, set: setProxyMaxTempFileSize,
			syntax: "proxy_max_temp_file_size size;", def: "1024m",
			doc: "Limits how much of a buffered response goes to a temporary file; beyond it the upstream is read as the client takes the response. 0 keeps responses in memory only."},
		{name: "proxy_temp_file_write_size", ctx: hsl, args: arg1, set: sizeSlot(func(r *rawLoc) **int { return &r.proxyTempFileWriteSize }),
			syntax: "proxy_temp_file_write_size size;", def: "8k",
			doc: "Accepted with nginx's check (at least the larger of proxy_buffer_size and one of proxy_buffers; by default twice the larger)."},
		{name: "proxy_ignore_headers", ctx: hsl, args: arg1More, set: setProxyIgnoreHeaders,
			syntax: "proxy_ignore_headers field ...;",
			doc:    "Turns off the processing of upstream response fields: X-Accel-Redirect, X-Accel-Expires, X-Accel-Limit-Rate, X-Accel-Buffering, X-Accel-Charset, Expires, Cache-Control, Set-Cookie, Vary."},
	}
}

// sizeSlot makes a handler for a size (nginx's ngx_conf_set_size_slot).
func sizeSlot(field func(*rawLoc) **int) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		v, ok := parseSize(n.Args[0])
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		size := int(v)
		*p = &size
		return nil
	}
}

// setProxyMaxTempFileSize reads a size as nginx does (ngx_conf_set_size_slot
// into a size_t): "1g" is not a size.
func setProxyMaxTempFileSize(b *builder, n *Node, sc *scope) error {
	if sc.raw.proxyMaxTempFileSize != nil {
		return duplicate(n)
	}
	v, ok := parseSize(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.proxyMaxTempFileSize = &v
	return nil
}

// setProxyBuffers follows nginx's ngx_conf_set_bufs_slot: both the number
// and the size must be positive.
func setProxyBuffers(b *builder, n *Node, sc *scope) error {
	if sc.raw.proxyBuffers != nil {
		return duplicate(n)
	}
	num, ok := atoi(n.Args[0])
	if !ok || num == 0 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	size, ok := parseSize(n.Args[1])
	if !ok || size == 0 {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	sc.raw.proxyBuffers = &bufs{num: num, size: int(size)}
	return nil
}

// setProxyIgnoreHeaders follows nginx's bit-mask directives, as
// proxy_next_upstream does: repeating the directive at one level adds to
// the set, and a repeated value is only a warning.
func setProxyIgnoreHeaders(b *builder, n *Node, sc *scope) error {
	var set IgnoreHeaders
	if sc.raw.proxyIgnoreHeaders != nil {
		set = *sc.raw.proxyIgnoreHeaders
	}
next:
	for _, a := range n.Args {
		for _, h := range ignoreHeaderNames {
			if !strings.EqualFold(a, h.name) {
				continue
			}
			if set&h.bit != 0 {
				b.warn(errAt(n, "duplicate value \"%s\"", a))
			}
			set |= h.bit
			continue next
		}
		return errAt(n, "invalid value \"%s\"", a)
	}
	sc.raw.proxyIgnoreHeaders = &set
	return nil
}

// mergeProxyBuffers sets the buffer sizes of a merged level as nginx's
// ngx_http_proxy_merge_loc_conf does: proxy_busy_buffers_size and
// proxy_temp_file_write_size, when no level sets them, are twice the
// larger of proxy_buffer_size and one of proxy_buffers at each level, so
// what is inherited is whether and how they were set, not the value.
func mergeProxyBuffers(r *rawLoc, parent, m *merged) {
	c := m.conf
	m.busyBuffersSize = inherit(r.proxyBusyBuffersSize, parent.busyBuffersSize)
	m.tempFileWriteSize = inherit(r.proxyTempFileWriteSize, parent.tempFileWriteSize)
	twice := min(max(c.ProxyBufferSize, c.ProxyBuffersSize), math.MaxInt/2) * 2
	c.ProxyBusyBuffersSize = pick(m.busyBuffersSize, twice)
	c.ProxyTempFileWriteSize = pick(m.tempFileWriteSize, twice)
}

// checkProxyBuffers applies nginx's checks of a merged level's buffers, in
// nginx's order and with its messages. nginx runs them in
// ngx_http_proxy_merge_loc_conf, for every server and location once the
// http block is read, and reports them at the block's closing brace.
func (b *builder) checkProxyBuffers(c *LocConf) error {
	msg := ""
	// Sizes are compared as nginx's size_t values are.
	size := uint64(max(c.ProxyBufferSize, c.ProxyBuffersSize))
	busy, write := uint64(c.ProxyBusyBuffersSize), uint64(c.ProxyTempFileWriteSize)
	maxTemp := uint64(c.ProxyMaxTempFileSize)
	switch {
	case c.ProxyBuffersNum < 2:
		msg = "there must be at least 2 \"proxy_buffers\""
	case busy < size:
		msg = "\"proxy_busy_buffers_size\" must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\""
	case busy > uint64(c.ProxyBuffersNum-1)*uint64(c.ProxyBuffersSize):
		msg = "\"proxy_busy_buffers_size\" must be less than the size of all \"proxy_buffers\" minus one buffer"
	case write < size:
		msg = "\"proxy_temp_file_write_size\" must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\""
	case maxTemp != 0 && maxTemp < size:
		msg = "\"proxy_max_temp_file_size\" must be equal to zero to disable temporary files usage or must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\""
	default:
		return nil
	}
	h := b.http.node
	return &Error{File: h.File, Line: h.EndLine, Msg: msg}
}

// checkLocationProxyBuffers checks locations and their nested locations
// in the order nginx merges them: as written, each before its children.
func (b *builder) checkLocationProxyBuffers(ls []*Location) error {
	for _, l := range ls {
		if err := b.checkProxyBuffers(l.Loc); err != nil {
			return err
		}
		if err := b.checkLocationProxyBuffers(l.Locations); err != nil {
			return err
		}
	}
	return nil
}
