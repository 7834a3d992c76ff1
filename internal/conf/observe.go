package conf

// Handler names a content handler other than proxy_pass that a location
// can have: headroom's views of itself.
type Handler uint8

const (
	// HandlerNone leaves the location to proxy_pass (or 404).
	HandlerNone Handler = iota
	// HandlerStubStatus answers nginx's stub_status page.
	HandlerStubStatus
	// HandlerMetrics answers Prometheus text exposition.
	HandlerMetrics
	// HandlerStatusPage answers the live status page, and its JSON with
	// "?format=json".
	HandlerStatusPage
	// HandlerEmptyGIF answers a 1×1 transparent GIF (empty_gif).
	HandlerEmptyGIF
)

// String returns the directive that sets the handler.
func (h Handler) String() string {
	switch h {
	case HandlerStubStatus:
		return "stub_status"
	case HandlerMetrics:
		return "metrics"
	case HandlerStatusPage:
		return "status_page"
	case HandlerEmptyGIF:
		return "empty_gif"
	}
	return ""
}

// observeDirectives declares the directives that show headroom's state.
// Like nginx's content handlers they apply to the level they are written
// at and are not inherited by nested locations.
func observeDirectives() []*directive {
	return []*directive{
		{name: "stub_status", ctx: ctxServer | ctxLocation, args: argNone | arg1, set: setHandler(HandlerStubStatus),
			syntax: "stub_status;",
			doc:    "Answers nginx's basic status page: active connections, accepts, handled, requests, reading, writing, waiting. An argument is accepted and ignored, as by nginx."},
		{name: "metrics", ctx: ctxServer | ctxLocation, args: argNone, set: setHandler(HandlerMetrics),
			syntax: "metrics;",
			doc:    "Answers Prometheus text exposition: slots by kind against the budget per worker, listen queues, a counter per pressure step, queues, limit zones, upstream servers with a response-time histogram, responses by status class."},
		{name: "empty_gif", ctx: ctxLocation, args: argNone, set: setHandler(HandlerEmptyGIF),
			syntax: "empty_gif;",
			doc:    "Answers GET and HEAD with a 1×1 transparent GIF (43 bytes) dated 28 Sep 1970, as nginx's empty_gif module."},
		{name: "status_page", ctx: ctxServer | ctxLocation, args: argNone, set: setHandler(HandlerStatusPage),
			syntax: "status_page;",
			doc:    "Answers a self-contained live status page (and its figures as JSON with ?format=json) showing connections against the budget per worker, listen queues, queues, rejections and upstream servers."},
	}
}

func setHandler(h Handler) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		if sc.raw.handler != HandlerNone {
			return errAt(n, "\"%s\" cannot be combined with \"%s\" at the same level", n.Name, sc.raw.handler)
		}
		if sc.raw.proxyPass != nil {
			return errAt(n, "\"%s\" cannot be combined with \"proxy_pass\" at the same level", n.Name)
		}
		sc.raw.handler = h
		return nil
	}
}
