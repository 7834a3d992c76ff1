package conf

import (
	"strconv"
	"strings"

	"headroom/internal/vars"
)

// ErrorPage is one status of an error_page directive: what the request
// answered with Status is answered with instead.
type ErrorPage struct {
	Status int
	// Overwrite is the status sent instead: -1 keeps Status (as 400 for
	// nginx's internal 494 and 497), 0 ("=") takes the status of the
	// page's own answer.
	Overwrite int
	// URI is the page: a URI of this server (an internal redirect, with
	// Args when written literally), or anything else, a redirect sent to
	// the client.
	URI  *vars.Template
	Args string
	// HasArgs is set when a literal URI had a "?".
	HasArgs bool
}

// errorPageDirectives declares error_page and proxy_intercept_errors.
func errorPageDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "error_page", ctx: hsl | ctxIf, args: arg2More, set: setErrorPage,
			syntax: "error_page code ... [=[response]] uri;",
			doc:    "Answers the listed statuses with uri instead: a URI of this server is served by an internal redirect (as a GET), anything else is sent as a 302 redirect (or the =code given, one of 301, 302, 303, 307, 308). A named location (@name) serves the page with the method kept. =code changes the status sent; = alone sends the status of the page's own answer."},
		{name: "proxy_intercept_errors", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.proxyInterceptErrors }),
			syntax: "proxy_intercept_errors on | off;", def: "off",
			doc: "Answers an upstream's response whose status has an error_page with that page instead of passing the response on."},
		{name: "recursive_error_pages", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.recursiveErrorPages }),
			syntax: "recursive_error_pages on | off;", def: "off",
			doc: "With on, an error while serving an error page may be answered by an error_page again (up to the limit of 10 internal redirects); with off, the first error of a request at a level with error_page entries is the only one they answer."},
		{name: "post_action", ctx: hsl | ctxIf, args: arg1, set: setPostAction,
			syntax: "post_action uri | @name;",
			doc:    "Once the answer has been sent, passes the request to uri (an internal redirect) or to a named location, whose answer is discarded; the access log line is written after it, with its URI. An upstream it reaches receives the request without its body."},
	}
}

// setPostAction reads post_action as nginx stores it: a value that is not
// a URI names a location, so that "off" is a location named "off".
func setPostAction(b *builder, n *Node, sc *scope) error {
	if sc.raw.postAction != nil {
		return duplicate(n)
	}
	v := n.Args[0]
	sc.raw.postAction = &v
	return nil
}

// setErrorPage reads error_page with nginx's checks and messages.
func setErrorPage(b *builder, n *Node, sc *scope) error {
	args := n.Args
	last := len(args) - 1
	overwrite, codes := -1, args[:last]
	if v := args[last-1]; strings.HasPrefix(v, "=") {
		if last-1 == 0 {
			return errAt(n, "invalid value \"%s\"", v)
		}
		overwrite = 0
		if len(v) > 1 {
			o, err := strconv.Atoi(v[1:])
			if err != nil || o < 0 {
				return errAt(n, "invalid value \"%s\"", v)
			}
			overwrite = o
		}
		codes = args[:last-1]
	}
	uri := args[last]
	t, err := b.template(n, uri)
	if err != nil {
		return err
	}
	page := ErrorPage{Overwrite: overwrite, URI: t}
	if t.IsLiteral() && strings.HasPrefix(uri, "/") {
		if path, query, ok := strings.Cut(uri, "?"); ok {
			page.URI, page.Args, page.HasArgs = literalTemplate(path), query, true
		}
	}
	for _, c := range codes {
		status, err := strconv.Atoi(c)
		if err != nil || status < 0 || status == 499 {
			return errAt(n, "invalid value \"%s\"", c)
		}
		if status < 300 || status > 599 {
			return errAt(n, "value \"%s\" must be between 300 and 599", c)
		}
		p := page
		p.Status = status
		if overwrite == -1 && (status == 494 || status == 495 || status == 496 || status == 497) {
			// nginx's internal codes are sent as 400.
			p.Overwrite = 400
		}
		sc.raw.errorPages = append(sc.raw.errorPages, p)
	}
	return nil
}

// FindErrorPage returns the error_page for a status, or nil.
func (lc *LocConf) FindErrorPage(status int) *ErrorPage {
	for i := range lc.ErrorPages {
		if lc.ErrorPages[i].Status == status {
			return &lc.ErrorPages[i]
		}
	}
	return nil
}
