package integration

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheStep is one request of a proxy_cache case and what it must get.
type cacheStep struct {
	// req is "METHOD /target"; the case's location prefix is put before
	// the target. hdrs are extra request header lines ("Name: value").
	req  string
	hdrs []string
	body string // a request body, sent with its Content-Length
	// expire waits until an answer stored by the previous steps with a
	// lifetime of 1 s has expired for nginx too, whose clock for the
	// cache counts whole seconds: the entry stored in second T is fresh
	// up to and including second T+1.
	expire bool
	// status is the answer's status; cache the X-Cache-Status field
	// ($upstream_cache_status), "" when the field must be absent.
	status int
	cache  string
	// want is the body (for HEAD: nothing). A value of the form
	// "n=K" stands for the upstream's K-th answer of the case.
	want string
	// wantHdrs are answer fields that must have these values.
	wantHdrs []string
	// truncated: the answer is cut short (fewer body bytes than its
	// Content-Length, then the connection closes).
	truncated bool
	// ups is how many requests the upstream has had for the case after
	// the step; upMethod, if set, the method of the last of them.
	ups      int
	upMethod string
	// upHdrs are fields the upstream's last request must have ("Name: "
	// for one it must not have); the fields they name are not checked
	// by the case's closing check of cacheClientFields.
	upHdrs []string
}

// cacheCase is a location with a proxy_cache configuration and requests
// to it in order.
type cacheCase struct {
	name string
	// conf holds the location's directives besides proxy_pass,
	// proxy_cache and add_header X-Cache-Status.
	conf string
	// answer writes the upstream's answer to its n-th request of the
	// case (from 1); nil answers 200 with the body "n=N".
	answer func(c *upConn, r *upRequest, n int)
	steps  []cacheStep
}

// cacheBody is the body of the upstream's n-th answer.
func cacheBody(n int) string { return fmt.Sprintf("n=%d\n", n) }

// cacheRangeBody is the body of the range case's answers.
const cacheRangeBody = "0123456789abcdef"

// cacheClientFields are request fields a cached request does not pass
// upstream (nginx's proxy cache header defaults).
var cacheClientFields = []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"}

// cacheCases are TestProxyCache's cases; the steps' "ups" count the
// upstream's requests, so a HIT is also one the upstream did not see.
func cacheCases() []cacheCase {
	valid := "proxy_cache_valid 200 1m;"
	withFields := func(fields ...string) func(c *upConn, r *upRequest, n int) {
		return func(c *upConn, r *upRequest, n int) { c.respond(200, cacheBody(n), fields...) }
	}
	return []cacheCase{
		{name: "miss then hit", conf: valid, steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 1},
			{req: "GET /b", status: 200, cache: "MISS", want: "n=2", ups: 2},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 2},
		}},
		{name: "head as get", conf: valid, steps: []cacheStep{
			{req: "HEAD /a", status: 200, cache: "MISS", wantHdrs: []string{"Content-Length: 4"}, ups: 1, upMethod: "GET"},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 1},
			{req: "HEAD /a", status: 200, cache: "HIT", wantHdrs: []string{"Content-Length: 4"}, ups: 1},
		}},
		{name: "convert head off", conf: valid + " proxy_cache_convert_head off; proxy_cache_key $request_method$uri;", steps: []cacheStep{
			{req: "HEAD /a", status: 200, cache: "MISS", ups: 1, upMethod: "HEAD"},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2, upMethod: "GET"},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=2", ups: 2},
		}},
		{name: "ranges and conditionals",
			conf: valid,
			answer: func(c *upConn, r *upRequest, n int) {
				c.respond(200, cacheRangeBody, `ETag: "v1"`, "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT", "Accept-Ranges: bytes")
			},
			steps: []cacheStep{
				{req: "GET /a", hdrs: []string{"If-None-Match: \"v0\"", "If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT", "If-Match: *"},
					status: 200, cache: "MISS", want: cacheRangeBody, ups: 1},
				{req: "GET /a", hdrs: []string{"Range: bytes=4-"}, status: 206, cache: "HIT", want: cacheRangeBody[4:],
					wantHdrs: []string{"Content-Range: bytes 4-15/16"}, ups: 1},
				{req: "GET /a", hdrs: []string{"Range: bytes=0-1,-2"}, status: 206, cache: "HIT", ups: 1},
				{req: "GET /a", hdrs: []string{`If-None-Match: "v1"`}, status: 304, cache: "HIT", wantHdrs: []string{`ETag: "v1"`}, ups: 1},
				{req: "GET /a", hdrs: []string{`If-None-Match: "v2"`}, status: 200, cache: "HIT", want: cacheRangeBody, ups: 1},
				{req: "GET /a", hdrs: []string{"If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT"}, status: 304, cache: "HIT", ups: 1},
				{req: "GET /a", hdrs: []string{"If-Unmodified-Since: Sun, 01 Jan 2023 00:00:00 GMT"}, status: 412, cache: "HIT", ups: 1},
				{req: "GET /a", hdrs: []string{"If-Unmodified-Since: Mon, 01 Jan 2024 00:00:00 GMT", "Range: bytes=-3"}, status: 206, cache: "HIT", want: "def", ups: 1},
				// A range on a miss is not passed upstream either.
				{req: "GET /b", hdrs: []string{"Range: bytes=4-", "If-Range: \"v1\""}, status: 206, cache: "MISS", want: cacheRangeBody[4:], ups: 2},
			}},
		{name: "max_range_offset",
			conf: valid + " proxy_cache_max_range_offset 2;",
			answer: func(c *upConn, r *upRequest, n int) {
				c.respond(200, cacheRangeBody, "Accept-Ranges: bytes")
			},
			steps: []cacheStep{
				// From the offset on, and for a suffix range, the
				// Range goes upstream, whose whole answer is passed
				// on and not stored.
				{req: "GET /a", hdrs: []string{"Range: bytes=2-"}, status: 200, cache: "MISS", want: cacheRangeBody, ups: 1, upHdrs: []string{"Range: bytes=2-"}},
				{req: "GET /a", hdrs: []string{"Range: bytes=-3"}, status: 200, cache: "MISS", want: cacheRangeBody, ups: 2, upHdrs: []string{"Range: bytes=-3"}},
				{req: "GET /a", hdrs: []string{"Range: bytes=1-"}, status: 206, cache: "MISS", want: cacheRangeBody[1:], ups: 3, upHdrs: []string{"Range: "}},
				{req: "GET /a", hdrs: []string{"Range: bytes=4-"}, status: 206, cache: "HIT", want: cacheRangeBody[4:], ups: 3},
			}},
		{name: "no-cache", conf: valid, answer: withFields("Cache-Control: no-cache"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "no-store", conf: valid, answer: withFields("Cache-Control: no-store"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "private", conf: valid, answer: withFields("Cache-Control: private"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "max-age=0", conf: valid, answer: withFields("Cache-Control: max-age=0"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "set-cookie", conf: valid, answer: withFields("Set-Cookie: a=b"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "vary star", conf: valid, answer: withFields("Vary: *"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "x-accel-expires 0", conf: valid, answer: withFields("X-Accel-Expires: 0"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "vary", conf: valid, answer: withFields("Vary: Accept-Encoding"), steps: []cacheStep{
			{req: "GET /a", hdrs: []string{"Accept-Encoding: gzip"}, status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", hdrs: []string{"Accept-Encoding: gzip"}, status: 200, cache: "HIT", want: "n=1", ups: 1},
			{req: "GET /a", hdrs: []string{"Accept-Encoding: br"}, status: 200, cache: "MISS", want: "n=2", ups: 2},
			{req: "GET /a", hdrs: []string{"Accept-Encoding: br"}, status: 200, cache: "HIT", want: "n=2", ups: 2},
			{req: "GET /a", hdrs: []string{"Accept-Encoding: gzip"}, status: 200, cache: "HIT", want: "n=1", ups: 2},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=3", ups: 3},
			{req: "GET /a", hdrs: []string{"Accept-Encoding: br"}, status: 200, cache: "HIT", want: "n=2", ups: 3},
		}},
		{name: "max-age without valid", answer: withFields("Cache-Control: max-age=60"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 1},
		}},
		{name: "expires without valid", answer: withFields("Expires: Thu, 01 Jan 2099 00:00:00 GMT"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 1},
		}},
		{name: "x-accel-expires without valid", answer: withFields("X-Accel-Expires: 60"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 1},
		}},
		{name: "no valid no fields", steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
		}},
		{name: "ignore cache-control", conf: valid + " proxy_ignore_headers Cache-Control;", answer: withFields("Cache-Control: no-cache"), steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 1},
		}},
		{name: "valid 1s expires", conf: "proxy_cache_valid 200 1s;", steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=1", ups: 1},
			{req: "GET /a", expire: true, status: 200, cache: "EXPIRED", want: "n=2", ups: 2},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=2", ups: 2},
		}},
		{name: "use_stale http_500",
			conf: "proxy_cache_valid 200 1s; proxy_cache_use_stale http_500;",
			answer: func(c *upConn, r *upRequest, n int) {
				if n > 1 {
					c.respond(500, cacheBody(n))
					return
				}
				c.respond(200, cacheBody(n))
			},
			steps: []cacheStep{
				{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
				// Expired, and its upstream answers 500: the expired
				// answer goes instead.
				{req: "GET /a", expire: true, status: 200, cache: "STALE", want: "n=1", ups: 2},
				{req: "GET /b", status: 500, cache: "MISS", want: "n=3", ups: 3},
			}},
		{name: "404 not valid",
			conf:   valid,
			answer: func(c *upConn, r *upRequest, n int) { c.respond(404, cacheBody(n)) },
			steps: []cacheStep{
				{req: "GET /a", status: 404, cache: "MISS", want: "n=1", ups: 1},
				{req: "GET /a", status: 404, cache: "MISS", want: "n=2", ups: 2},
			}},
		{name: "404 valid",
			conf:   "proxy_cache_valid 200 1m; proxy_cache_valid 404 1m;",
			answer: func(c *upConn, r *upRequest, n int) { c.respond(404, cacheBody(n)) },
			steps: []cacheStep{
				{req: "GET /a", status: 404, cache: "MISS", want: "n=1", ups: 1},
				{req: "GET /a", status: 404, cache: "HIT", want: "n=1", ups: 1},
			}},
		{name: "404 any",
			conf:   "proxy_cache_valid any 1m;",
			answer: func(c *upConn, r *upRequest, n int) { c.respond(404, cacheBody(n)) },
			steps: []cacheStep{
				{req: "GET /a", status: 404, cache: "MISS", want: "n=1", ups: 1},
				{req: "GET /a", status: 404, cache: "HIT", want: "n=1", ups: 1},
			}},
		{name: "bypass", conf: valid + " proxy_cache_key $uri; proxy_cache_bypass $arg_nocache;", steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a?nocache=1", status: 200, cache: "BYPASS", want: "n=2", ups: 2},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=2", ups: 2},
			{req: "GET /a?nocache=0", status: 200, cache: "HIT", want: "n=2", ups: 2},
		}},
		{name: "no_cache", conf: valid + " proxy_cache_key $uri; proxy_no_cache $arg_nostore;", steps: []cacheStep{
			{req: "GET /a?nostore=1", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
			{req: "GET /a?nostore=1", status: 200, cache: "HIT", want: "n=2", ups: 2},
		}},
		{name: "min_uses 2", conf: valid + " proxy_cache_min_uses 2;", steps: []cacheStep{
			{req: "GET /a", status: 200, cache: "MISS", want: "n=1", ups: 1},
			{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
			{req: "GET /a", status: 200, cache: "HIT", want: "n=2", ups: 2},
		}},
		{name: "post not cached", conf: valid, steps: []cacheStep{
			{req: "POST /a", body: "x=1", status: 200, cache: "", want: "n=1", ups: 1, upMethod: "POST"},
			{req: "POST /a", body: "x=1", status: 200, cache: "", want: "n=2", ups: 2},
		}},
		{name: "post cached", conf: valid + " proxy_cache_methods POST;", steps: []cacheStep{
			{req: "POST /a", body: "x=1", status: 200, cache: "MISS", want: "n=1", ups: 1, upMethod: "POST"},
			{req: "POST /a", body: "x=1", status: 200, cache: "HIT", want: "n=1", ups: 1},
		}},
		{name: "truncated",
			conf: valid,
			answer: func(c *upConn, r *upRequest, n int) {
				if n == 1 {
					c.writeString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
					c.closeNow()
					return
				}
				c.respond(200, cacheBody(n))
			},
			steps: []cacheStep{
				{req: "GET /a", status: 200, truncated: true, ups: 1},
				{req: "GET /a", status: 200, cache: "MISS", want: "n=2", ups: 2},
				{req: "GET /a", status: 200, cache: "HIT", want: "n=2", ups: 2},
			}},
	}
}

// cacheLoc is the location prefix of case i.
func cacheLoc(i int) string { return fmt.Sprintf("/c%d", i) }

// TestProxyCache checks proxy_cache against nginx, each case in its own
// location of one proxy, through one upstream that numbers its answers
// per case:
//   - a miss is stored and then a hit that the upstream does not see;
//   - HEAD goes upstream as GET and its answer serves a later GET, or
//     goes as HEAD with proxy_cache_convert_head off;
//   - ranges and conditional requests (If-None-Match, If-Modified-Since,
//     If-Unmodified-Since) are answered from a stored answer (206, 304,
//     412), and the client's Range and If-* fields never go upstream;
//     proxy_cache_max_range_offset passes a range from the offset on
//     (or a suffix range) upstream and does not store its answer;
//   - the upstream fields that keep an answer out of the cache
//     (Cache-Control no-cache, no-store, private, max-age=0, Set-Cookie,
//     Vary: *, X-Accel-Expires: 0) or give its lifetime without any
//     proxy_cache_valid (max-age, Expires, X-Accel-Expires), and
//     proxy_ignore_headers Cache-Control;
//   - an answer with Vary is stored per variant, the variants side by
//     side (nginx's secondary keys);
//   - proxy_cache_valid by status and "any", and its expiry (EXPIRED,
//     the upstream asked again);
//   - proxy_cache_bypass (BYPASS, the answer stored) and proxy_no_cache;
//   - proxy_cache_min_uses; proxy_cache_methods (POST not cached and no
//     $upstream_cache_status, then cached);
//   - an answer the upstream cuts short is not stored.
//
// Every answer must come whole (the request says Connection: close and
// nothing may follow the answer), a HEAD answer without a body.
func TestProxyCache(t *testing.T) {
	cases := cacheCases()
	forEachTarget(t, func(t *testing.T, tg *target) {
		var mu sync.Mutex
		counts := map[int]int{}
		up := newUpstream(t, "cache", func(c *upConn, r *upRequest) {
			var i int
			if _, err := fmt.Sscanf(r.Target, "/c%d/", &i); err != nil || i < 0 || i >= len(cases) {
				c.respond(500, "bad target\n")
				return
			}
			mu.Lock()
			counts[i]++
			n := counts[i]
			mu.Unlock()
			if cases[i].answer != nil {
				cases[i].answer(c, r, n)
				return
			}
			c.respond(200, cacheBody(n))
		})
		var locs strings.Builder
		for i, cc := range cases {
			fmt.Fprintf(&locs, "        location %s/ { # %s\n            proxy_pass http://%s;\n            proxy_cache z;\n            add_header X-Cache-Status $upstream_cache_status always;\n            %s\n        }\n",
				cacheLoc(i), cc.name, up.addr, cc.conf)
		}
		p := startProxy(t, tg, `
    proxy_cache_path {{PREFIX}}/cache levels=1:2 keys_zone=z:1m;
    proxy_temp_path {{PREFIX}}/ptemp;
    server {
        listen 127.0.0.1:{{PORT}};
`+locs.String()+`    }`)
		for i, cc := range cases {
			t.Run(cc.name, func(t *testing.T) {
				t.Parallel()
				upReqs := func() []*upRequest {
					var rs []*upRequest
					for _, r := range up.requests() {
						if strings.HasPrefix(r.Target, cacheLoc(i)+"/") {
							rs = append(rs, r)
						}
					}
					return rs
				}
				var lastDone time.Time
				for k, s := range cc.steps {
					if s.expire {
						// Stored at the latest in lastDone's second T;
						// nginx expires it from second T+2.
						time.Sleep(time.Until(lastDone.Truncate(time.Second).Add(2*time.Second + 50*time.Millisecond)))
					}
					cacheStepCheck(t, p, i, k, s, upReqs)
					lastDone = time.Now()
				}
				passed := map[string]bool{}
				for _, s := range cc.steps {
					for _, h := range s.upHdrs {
						name, _, _ := strings.Cut(h, ": ")
						passed[strings.ToLower(name)] = true
					}
				}
				for _, r := range upReqs() {
					for _, f := range cacheClientFields {
						if r.Headers.has(f) && !passed[strings.ToLower(f)] {
							t.Errorf("the upstream got the client's %s: %s", f, r)
						}
					}
				}
			})
		}
	})
}

// cacheStepCheck sends step k of case i on a new connection and checks
// the answer and the upstream's requests.
func cacheStepCheck(t *testing.T, p *proxy, i, k int, s cacheStep, upReqs func() []*upRequest) {
	t.Helper()
	method, target, _ := strings.Cut(s.req, " ")
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n", method, cacheLoc(i), target)
	for _, h := range s.hdrs {
		b.WriteString(h + "\r\n")
	}
	if method == "POST" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(s.body))
	}
	b.WriteString("\r\n" + s.body)
	what := fmt.Sprintf("step %d (%s %v)", k+1, s.req, s.hdrs)

	rc := dialRaw(t, p.addr)
	rc.write(b.String())
	resp, err := readResponse(rc.br, method)
	if s.truncated {
		if resp == nil || resp.Status != s.status {
			t.Fatalf("%s: %v, want a truncated %d answer (%v)", what, resp, s.status, err)
		}
		if err == nil {
			t.Errorf("%s: a whole answer, want one cut short:\n%s", what, resp)
		}
	} else {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.Status != s.status {
			t.Errorf("%s: status %d, want %d\n%s", what, resp.Status, s.status, resp)
		}
		if got, ok := resp.header("X-Cache-Status"), resp.Headers.has("X-Cache-Status"); got != s.cache || ok != (s.cache != "") {
			t.Errorf("%s: X-Cache-Status %q (present %v), want %q", what, got, ok, s.cache)
		}
		want := s.want
		var n int
		if _, err := fmt.Sscanf(want, "n=%d", &n); err == nil {
			want = cacheBody(n)
		}
		if (want != "" || method == "HEAD" || s.status == 304) && string(resp.Body) != want {
			t.Errorf("%s: body %q, want %q", what, resp.Body, want)
		}
		for _, h := range s.wantHdrs {
			name, value, _ := strings.Cut(h, ": ")
			if got := resp.header(name); got != value {
				t.Errorf("%s: %s %q, want %q", what, name, got, value)
			}
		}
		// Nothing follows the answer (a HEAD answer has no body).
		if rest, _ := io.ReadAll(rc.br); len(rest) > 0 {
			t.Errorf("%s: %d bytes after the answer: %q", what, len(rest), truncate(rest, 100))
		}
	}
	rs := upReqs()
	if len(rs) != s.ups {
		t.Errorf("%s: the upstream has had %d requests, want %d", what, len(rs), s.ups)
	}
	for _, h := range s.upHdrs {
		name, value, _ := strings.Cut(h, ": ")
		if len(rs) > 0 && rs[len(rs)-1].Headers.get(name) != value {
			t.Errorf("%s: the upstream's %s is %q, want %q", what, name, rs[len(rs)-1].Headers.get(name), value)
		}
	}
	if s.upMethod != "" && len(rs) > 0 {
		if m := rs[len(rs)-1].Method; m != s.upMethod {
			t.Errorf("%s: the upstream got %s, want %s", what, m, s.upMethod)
		}
	}
}

// TestEmptyBodyKeepaliveUpstream checks answers with Content-Length: 0
// from an upstream kept alive (keepalive, HTTP/1.1, no Connection
// field), buffered and not: the client gets each answer at once on its
// kept-alive connection, the next request on it is answered at once
// too, the upstream connection is kept and used again, and nothing is
// logged about the upstream closing early. A regression test: headroom
// once waited for a body that never came.
func TestEmptyBodyKeepaliveUpstream(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "empty", func(c *upConn, r *upRequest) {
			c.respond(200, "", "X-Seq: "+fmt.Sprint(r.Seq))
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream u {
        server %s;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /unbuffered/ {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }`, up.addr))
		rc := dialRaw(t, p.addr)
		n := 0
		for _, path := range []string{"/a", "/b", "/unbuffered/a", "/unbuffered/b", "/c"} {
			n++
			rc.write("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			rc.c.SetReadDeadline(time.Now().Add(time.Second))
			resp, err := readResponse(rc.br, "GET")
			if err != nil {
				t.Fatalf("request %d (%s) on the kept-alive connection: no whole answer within 1s: %v", n, path, err)
			}
			if resp.Status != 200 || len(resp.Body) != 0 || resp.header("Content-Length") != "0" {
				t.Errorf("request %d (%s): want 200 with Content-Length: 0 and no body, got\n%s", n, path, resp)
			}
			if want := fmt.Sprint(n); resp.header("X-Seq") != want {
				t.Errorf("request %d (%s): the upstream's request %s on its connection, want %s (one connection, kept)", n, path, resp.header("X-Seq"), want)
			}
		}
		if c := up.connCount(); c != 1 {
			t.Errorf("the upstream had %d connections for %d requests, want 1", c, n)
		}
		p.stop()
		for _, line := range strings.Split(p.readLog("error.log"), "\n") {
			if strings.Contains(line, "[error]") || strings.Contains(line, "prematurely closed") {
				t.Errorf("error.log: %s", line)
			}
		}
	})
}

// TestProxyCacheClientGone checks that an answer being stored is read on
// into the cache when its client goes away, as nginx reads a cacheable
// answer on: the client resets the connection after the head, the
// upstream sends the rest later, and the next request is a HIT with the
// whole body that the upstream did not see.
func TestProxyCacheClientGone(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		const size = 256 << 10
		body := strings.Repeat("0123456789abcdef", size/16)
		up := newUpstream(t, "gone", func(c *upConn, r *upRequest) {
			c.writeString(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size))
			c.writeString(body[:size/4])
			c.sleep(400 * time.Millisecond)
			c.writeString(body[size/4:])
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    proxy_cache_path {{PREFIX}}/cache levels=1:2 keys_zone=z:1m;
    proxy_temp_path {{PREFIX}}/ptemp;
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://%s;
            proxy_cache z;
            proxy_cache_valid 200 1m;
            add_header X-Cache-Status $upstream_cache_status;
        }
    }`, up.addr))
		rc := dialRaw(t, p.addr)
		rc.write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
		if line, err := rc.br.ReadString('\n'); err != nil || !strings.Contains(line, " 200 ") {
			t.Fatalf("status line %q (%v)", line, err)
		}
		// Gone, with a reset: the proxy's next write fails.
		rc.c.(*net.TCPConn).SetLinger(0)
		rc.c.Close()

		time.Sleep(1500 * time.Millisecond)
		rc = dialRaw(t, p.addr)
		rc.write("GET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		resp, err := readResponse(rc.br, "GET")
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.header("X-Cache-Status"); got != "HIT" || string(resp.Body) != body {
			t.Errorf("after the client went away: X-Cache-Status %q, %d body bytes (whole: %v), want a HIT with all %d",
				got, len(resp.Body), string(resp.Body) == body, size)
		}
		if n := len(up.requests()); n != 1 {
			t.Errorf("the upstream had %d requests, want 1", n)
		}
	})
}

// TestProxyCacheStaleExtensions checks Cache-Control's stale-if-error
// and stale-while-revalidate as nginx 1.22 reads them, without
// proxy_cache_use_stale: past its max-age, an answer within
// stale-if-error is sent when its upstream fails (STALE), and one within
// stale-while-revalidate is sent to a request that comes while another
// fetches its successor (UPDATING).
func TestProxyCacheStaleExtensions(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		var mu sync.Mutex
		seen := map[string]int{}
		up := newUpstream(t, "stale", func(c *upConn, r *upRequest) {
			mu.Lock()
			seen[r.Target]++
			n := seen[r.Target]
			mu.Unlock()
			switch {
			case r.Target == "/error" && n > 1:
				// Fails: closes without an answer.
				c.closeNow()
			case r.Target == "/error":
				c.respond(200, cacheBody(n), "Cache-Control: max-age=1, stale-if-error=60")
			default:
				if n > 1 {
					c.sleep(800 * time.Millisecond)
				}
				c.respond(200, cacheBody(n), "Cache-Control: max-age=1, stale-while-revalidate=60")
			}
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    proxy_cache_path {{PREFIX}}/cache levels=1:2 keys_zone=z:1m;
    proxy_temp_path {{PREFIX}}/ptemp;
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://%s;
            proxy_cache z;
            proxy_next_upstream off;
            add_header X-Cache-Status $upstream_cache_status always;
        }
    }`, up.addr))
		get := func(path string) (string, string) {
			rc := dialRaw(t, p.addr)
			rc.write("GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			resp, err := readResponse(rc.br, "GET")
			if err != nil {
				t.Errorf("GET %s: %v", path, err)
				return "", ""
			}
			return resp.header("X-Cache-Status"), string(resp.Body)
		}
		for _, path := range []string{"/error", "/update"} {
			if st, body := get(path); st != "MISS" || body != cacheBody(1) {
				t.Fatalf("GET %s: %s %q, want MISS n=1", path, st, body)
			}
		}
		// Past max-age for nginx too, whose cache counts whole seconds.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(2*time.Second + 50*time.Millisecond)))

		if st, body := get("/error"); st != "STALE" || body != cacheBody(1) {
			t.Errorf("upstream failing within stale-if-error: %s %q, want STALE n=1", st, body)
		}

		type result struct{ st, body string }
		first := make(chan result, 1)
		go func() {
			st, body := get("/update")
			first <- result{st, body}
		}()
		time.Sleep(300 * time.Millisecond)
		if st, body := get("/update"); st != "UPDATING" || body != cacheBody(1) {
			t.Errorf("while another request updates: %s %q, want UPDATING n=1", st, body)
		}
		if r := <-first; r.st != "EXPIRED" || r.body != cacheBody(2) {
			t.Errorf("the updating request: %s %q, want EXPIRED n=2", r.st, r.body)
		}
	})
}

// TestProxyCacheBackgroundUpdate checks proxy_cache_background_update:
// the request that finds an answer expired gets it at once (STALE) and
// its successor is fetched after it, so that the next request on the
// connection, which waits for that as in nginx, gets the new answer from
// the cache.
func TestProxyCacheBackgroundUpdate(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		var mu sync.Mutex
		n := 0
		up := newUpstream(t, "background", func(c *upConn, r *upRequest) {
			mu.Lock()
			n++
			k := n
			mu.Unlock()
			if k > 1 {
				c.sleep(300 * time.Millisecond)
			}
			c.respond(200, cacheBody(k), "Cache-Control: max-age=1")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    proxy_cache_path {{PREFIX}}/cache levels=1:2 keys_zone=z:1m;
    proxy_temp_path {{PREFIX}}/ptemp;
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            proxy_pass http://%s;
            proxy_cache z;
            proxy_cache_use_stale updating;
            proxy_cache_background_update on;
            add_header X-Cache-Status $upstream_cache_status always;
        }
    }`, up.addr))
		rc := dialRaw(t, p.addr)
		get := func() (string, string) {
			rc.write("GET /bg HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, err := readResponse(rc.br, "GET")
			if err != nil {
				t.Fatalf("GET /bg: %v", err)
			}
			return resp.header("X-Cache-Status"), string(resp.Body)
		}
		if st, body := get(); st != "MISS" || body != cacheBody(1) {
			t.Fatalf("first: %s %q, want MISS n=1", st, body)
		}
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(2*time.Second + 50*time.Millisecond)))
		if st, body := get(); st != "STALE" || body != cacheBody(1) {
			t.Errorf("expired: %s %q, want STALE n=1", st, body)
		}
		if st, body := get(); st != "HIT" || body != cacheBody(2) {
			t.Errorf("next on the connection: %s %q, want HIT n=2", st, body)
		}
		mu.Lock()
		defer mu.Unlock()
		if n != 2 {
			t.Errorf("the upstream had %d requests, want 2", n)
		}
	})
}
