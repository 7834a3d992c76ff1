package proxy

import (
	"bytes"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/upstream"
)

// This file is one request, whatever connection carries it: its phases in
// nginx's order (route and check, limit_req's delay, the queues for a slot
// or a server, the content handler: an upstream or an answer of its own)
// and the state that each role keeps for it: the request body's side of
// the pipe, the response body's side, and the upstream attempt.

// phase is where a request in progress is, whatever connection carries
// it. Only a connection in connRequest has a request with a phase.
type phase uint8

const (
	// phaseRoute: the head is in and the request is being routed and
	// checked; it leaves this phase before the event that started it
	// returns.
	phaseRoute phase = iota
	// phaseDelayed: limit_req holds the request back for a while.
	phaseDelayed
	// phaseSync: the request waits for the zone_sync store to decide a
	// limit (zonesync.go).
	phaseSync
	// phaseAuth: the request waits for its auth_request subrequest
	// (authrequest.go).
	phaseAuth
	// phaseAuthDelay: a 401 of the access checks waits out auth_delay.
	phaseAuthDelay
	// phaseQueued: the request waits for a connection slot for its
	// upstream.
	phaseQueued
	// phaseUpQueued: the request waits in its upstream group's queue for
	// a server below its max_conns.
	phaseUpQueued
	// phaseRetry: the request found no descriptor or local port for its
	// upstream connection and tries again shortly.
	phaseRetry
	// phaseResolve: the request waits for the name its proxy_pass with
	// variables named to be resolved (resolver.go).
	phaseResolve
	// phaseCacheLock: the request waits for another to store the answer
	// it asks for (proxy_cache_lock, cache.go).
	phaseCacheLock
	// phaseProxy: the request is with an upstream: its body goes out,
	// its response comes back.
	phaseProxy
	// phaseRespond: headroom answers itself (return, error page, status
	// views).
	phaseRespond
	// phaseFile: a file is being sent (static.go).
	phaseFile
)

// requestReadable handles the client's bytes (or its close) while a
// request is in progress.
func (cc *clientConn) requestReadable() {
	r := cc.r
	switch r.phase {
	case phaseProxy:
		if r.tempWait {
			// Nothing is read while the body waits for a temporary file;
			// a client that leaves ends the request.
			if cc.tr.PeerClosed() {
				cc.leaveTempWait()
				r.status = 499
				cc.abort()
			}
		} else if r.bufferBody {
			cc.bufferBody()
		} else if !r.bodyDone {
			cc.pumpBody()
		} else if cc.tr.PeerClosed() && !r.respHead && !r.lc.ProxyIgnoreClientAbort {
			// The client went away while the upstream works on its
			// request; like nginx without proxy_ignore_client_abort, stop.
			// With it, the request goes on and its response is written
			// to the connection for as long as that takes it.
			r.status = 499
			cc.abort()
		}
	case phaseFile, phaseRespond:
		// A client that closes while its answer is written (or paused
		// by limit_rate) ends the request, as nginx's test of the
		// connection during writing does; the status stays the
		// answer's once any of it went out.
		if cc.tr.PeerClosed() {
			if r.bytesSent == 0 {
				r.status = 499
			}
			cc.logAt(logs.Info, "client prematurely closed connection while sending response to client")
			r.closeFile()
			cc.abort()
		}
	case phaseQueued, phaseUpQueued, phaseDelayed, phaseSync, phaseAuth, phaseAuthDelay, phaseRetry, phaseResolve, phaseCacheLock:
		// proxy_ignore_client_abort keeps a request waiting for its
		// upstream, not one limit_req or auth_request holds back
		// (nginx's limit_req stops a request whose client closed,
		// whatever the setting).
		if cc.tr.PeerClosed() && (r.phase == phaseDelayed || r.phase == phaseSync || r.phase == phaseAuth || r.phase == phaseAuthDelay || !r.lc.ProxyIgnoreClientAbort) {
			// The client gave up while its request waited.
			r.status = 499
			cc.abort()
		}
	}
}

// requestWritable goes on with a response that waited for the client to
// take what was written before.
func (cc *clientConn) requestWritable() {
	r := cc.r
	switch r.phase {
	case phaseProxy:
		if r.respHead {
			cc.relayResponse()
		}
	case phaseRespond:
		// A generated response that had to wait for the client, or for
		// its SSI includes.
		if r.finishing {
			cc.finish()
		} else if r.body != nil && r.body.async() {
			cc.sendChain()
		}
	case phaseFile:
		cc.sendFileBody()
	}
}

// requestTimer handles the client's timer while a request is in
// progress: the end of a wait in a phase, or a client timeout.
func (cc *clientConn) requestTimer() {
	r := cc.r
	switch r.phase {
	case phaseQueued:
		cc.queueTimedOut()
	case phaseUpQueued:
		cc.serverQueueTimedOut()
	case phaseDelayed:
		cc.serve()
	case phaseAuthDelay:
		cc.setPhase(phaseRoute)
		cc.respondError(401)
	case phaseSync, phaseAuth:
		// The store's deadline decides (zonesync.go), or the
		// subrequest's own timers; no timer of the request's own runs
		// meanwhile.
	case phaseRetry:
		cc.retryResources()
	case phaseResolve:
		cc.resolveTimedOut()
	case phaseCacheLock:
		cc.cacheLockTimer()
	case phaseFile, phaseRespond:
		// send_timeout; the answer is logged with its status.
		cc.abortTimedOut()
	case phaseProxy:
		if r.tempWait {
			cc.tempWaitTimedOut()
			return
		}
		if !r.bodyDone {
			// client_body_timeout
			r.status = 408
			cc.abortTimedOut()
			return
		}
		// send_timeout: the response's status stays in the log, as in
		// nginx.
		if !r.respHead {
			r.status = 0
		}
		cc.abortTimedOut()
	default:
		cc.close()
	}
}

// request is the state of the request being served.
type request struct {
	// phase is where the request is.
	phase phase
	// lingerEnd and lingerWait bound a lingering close after the
	// answer (lingering_time, lingering_timeout).
	lingerEnd  time.Time
	lingerWait time.Duration
	head       http1.Request
	headLen    int
	// line is the request line as received ($request), a slice of the
	// client's buffer.
	line []byte
	// uri is the normalised path ($uri), in a buffer kept across requests.
	uri       []byte
	start     time.Time
	srv       *conf.Server
	loc       *conf.Location
	lc        *conf.LocConf
	status    int
	keepAlive bool
	// bodySent counts response body bytes sent ($body_bytes_sent);
	// bytesSent counts everything sent ($bytes_sent).
	bodySent  int64
	bytesSent int64
	// finishing is set once the whole response is in out.
	finishing bool
	// retryAfter adds "Retry-After" to a 503 sent for lack of capacity.
	retryAfter bool
	// queuedAt is when the request entered a queue (slot or upstream);
	// kept here, not on the connection, so that an idle connection does
	// not carry it.
	queuedAt time.Time
	// noStore adds "Cache-Control: no-store" to a generated response
	// (the status views, whose figures change every moment).
	noStore bool
	// connHolds are the request's counts in limit_conn zones.
	connHolds []connHold
	// limitReqStatus and limitConnStatus are $limit_req_status and
	// $limit_conn_status: what limit_req and limit_conn decided, empty
	// when they did not run.
	limitReqStatus  string
	limitConnStatus string
	// realAddr is the client address realip took from a trusted
	// proxy's field, once realSet.
	realAddr netip.AddrPort
	realSet  bool
	// dynPP is what a proxy_pass with variables named for the request,
	// once ppDynamic.
	dynPP     conf.DynamicProxyPass
	ppDynamic bool
	// trailers is set when the answer ends with add_trailer's fields;
	// sentTrailers are those written ($sent_trailer_*), their values in
	// trailerScratch.
	trailers       bool
	sentTrailers   []http1.Header
	trailerScratch []byte
	// gz is the response's compression when gzip applies (gzip.go);
	// gzipped is set when the head says gzip (also for HEAD, which has
	// no body to compress).
	gz      *gzipState
	gzipped bool
	// body is the chain of body filters (gunzip, the charset filter's
	// conversion, gzip) when one changes the answer's body
	// (bodyfilter.go); nil otherwise.
	body *bodyFilters
	// answerModified is the Last-Modified of one of headroom's own
	// answers that has one (empty_gif).
	answerModified time.Time
	// addURIToAlias makes the URI follow an alias of a regex location
	// (after try_files chose a file), as nginx's add_uri_to_alias.
	addURIToAlias bool
	// staticGzip is set when gzip_static sends a ".gz" file, gzipVary
	// when one exists (Vary goes on the answer with gzip_vary).
	staticGzip bool
	gzipVary   bool
	// pipelined is $pipe; requestID is $request_id once made.
	pipelined bool
	requestID []byte
	// outHead is the response head before it is written (outhead.go).
	outHead outHead
	// internal is set once the request was redirected internally
	// (index, try_files), redirects counts those redirects and the
	// location lookups after a rewrite, and args holds arguments a
	// redirect, a rewrite or set gave it. rewritten is set once a
	// rewrite changed the URI, which then goes upstream escaped as
	// after an internal redirect.
	internal  bool
	rewritten bool
	redirects int
	args      []byte
	// script is the rewrite directives' state (rewrite.go).
	script scriptState
	// file is the file a static response sends (static.go);
	// triedFiles is set once try_files has chosen the URI.
	file       staticFile
	triedFiles bool
	// carried, carriedType and accelRate are what an X-Accel-Redirect
	// carries over to the redirected answer (accel.go).
	carried      []http1.Header
	carriedType  []byte
	accelRate    int64
	accelRateSet bool
	// errorPageDone is set once an error_page was used, errStatus is
	// the status its answer is sent with (0: the page's own): that of
	// the last error or redirect, or the one its error_page names.
	errorPageDone bool
	// ssiShared is what the request's SSI shares with its subrequests
	// (ssi.go); nil until SSI or $date_* needs it.
	ssiShared *ssiShared
	// postAction is set while post_action runs (postaction.go).
	postAction *postActionState
	errStatus  int
	// location is the answer's Location once a redirect gave it one
	// (nil: none); it stays through internal redirects, as nginx's
	// headers_out.location does.
	location []byte
	// unsatisfied is set for a 416 answer, which names the file's size
	// (fileSize) in its Content-Range.
	unsatisfied bool
	fileSize    int64

	requestBody
	responseBody
	upstreamAttempt
}

// requestBody is the request's side of the body pipe: how much of the
// body is left to read, how it is framed, and where it is kept while it is
// read whole before going upstream (memory, then a temporary file). See
// pipe_request.go.
type requestBody struct {
	// Request body relay state.
	bodyLeft    int64
	bodyChunked bool
	bodyDec     http1.ChunkedDecoder
	bodyDone    bool
	bodyRead    int64
	// bufferBody is set while the body is read whole before the request
	// goes upstream (proxy_request_buffering, or a chunked body for an
	// HTTP/1.0 upstream); it is kept in bodyMem, or in bodyFile once
	// larger than client_body_buffer_size (see pipe_request.go).
	bufferBody bool
	bodyMem    []byte
	bodyFile   *tempFile
	// bodyMemLimit is how much of the body may stay in memory.
	bodyMemLimit int
	// bodyTimerOff is set once client_body_timeout was stopped for a
	// streamed body that is complete.
	bodyTimerOff bool
	// streamedBody is a streamed body kept for $request_body while it
	// fits in streamedLimit; streamedOver is set once it did not.
	streamedBody  []byte
	streamedLimit int
	streamedOver  bool
	// chunkScratch gathers the data of the chunks that arrived together.
	chunkScratch []byte
	// tempWait is set while the body waits for a temporary file (see
	// waitForTempFile).
	tempWait bool
	// continued is set once "100 Continue" was sent.
	continued bool
}

// responseBody is the response's side of the body pipe: what waits for
// the client when the upstream is read faster than the client reads
// (proxy_buffering), and the client's pace (limit_rate, send_min_rate).
// See pipe_response.go and spool.go.
type responseBody struct {
	// spooling is set when the response is buffered (proxy_buffering,
	// X-Accel-Buffering); spool holds what the client has not taken yet
	// and spoolScratch frames bytes on their way to it (see spool.go).
	spooling     bool
	spool        spool
	spoolScratch []byte
	// sendWaitFrom is when writes to the client started to wait for it
	// to read, zero while it keeps up; sendWaitBase is bytesSent then.
	// They give its reading rate while it holds the response back
	// (send_min_rate).
	sendWaitFrom time.Time
	sendWaitBase int64
	// limitRate is the response's limit_rate (or its upstream's
	// X-Accel-Limit-Rate), 0 for none; rateDelayed is set while the
	// client's timer is limit_rate's pause (see ratelimit.go).
	limitRate   int64
	limitAfter  int64
	rateDelayed bool
	// tunnelHead is what of the 101 head was still to be written when
	// the connection became a tunnel: not body ($body_bytes_sent).
	tunnelHead int64
}

// upstreamAttempt is the request's attempts at its upstream servers: the
// connection of the current one, what of the request it has sent and
// whether that can be sent again whole (the one input of the retry
// decision, canRetry), the response as it comes back, and the record of
// every try for $upstream_* variables. See attempt.go.
type upstreamAttempt struct {
	// Upstream state.
	up       *upConn
	group    *upGroup
	peer     *upstream.Peer
	tried    upstream.Tried
	tries    int
	upOut    []byte
	upOutOff int
	// sent is set once any byte of the request went to the current
	// upstream connection; a non-idempotent request is not retried after.
	sent bool
	// tryOpen is set from the start of a try until it is recorded in
	// upAddrs and the other lists: $upstream_addr and $upstream_status
	// name it meanwhile, as nginx's do from the connect and the
	// response head on.
	tryOpen bool
	// upWhole records that upOut holds the request from its first byte:
	// the head and every body byte taken from the client so far. It is
	// set when the head is built and cleared for good when sent bytes are
	// dropped to make room for more of the body. Only a request with
	// upWhole and its body complete can be sent to another server.
	upWhole bool
	// upHeadLen is the length of the request head at the start of upOut
	// while a body held in a file is sent after it, fileOff how much of
	// the file has been put in upOut.
	upHeadLen int
	fileOff   int64
	// upHead is set when proxy_method sends HEAD upstream (see
	// proxyheaders.go).
	upHead bool
	// upHeadAt is where the upstream's response head starts in upIn.
	upHeadAt int
	// cache is the request's part in proxy_cache (cache.go).
	cache    reqCache
	upIn     []byte
	upInLen  int
	upPos    int
	resp     http1.Response
	respHead bool
	framing  http1.Framing
	respLeft int64
	respDec  http1.ChunkedDecoder
	chunkOut bool
	respDone bool
	// authSub is the auth_request subrequest the request waits for in
	// phaseAuth; authPassed is set once it let the request through,
	// for the access phase that runs again (authrequest.go).
	authSub    *subrequest
	authPassed bool
	// headsKept is set when the upstream's answer fields were copied
	// out for an X-Accel-Redirect, so that the redirect keeps them for
	// $upstream_http_*.
	headsKept bool
	// fcgiSplit is set once $fastcgi_script_name and $fastcgi_path_info
	// were found (fcgiScript, fcgiPathInfo); fcgiHeadLen is the length of
	// the FastCGI request's own records at the start of upOut.
	fcgiSplit                bool
	fcgiScript, fcgiPathInfo []byte
	fcgiHeadLen              int
	// accessCode is the refusal of the checks before auth_request
	// under satisfy any (nginx's access_code).
	accessCode int
	// cutShort is set when the upstream closed before the end of the
	// response while part of it waited in the spool: once that part
	// is written the connection closes instead of ending the answer.
	cutShort bool
	// upDone is set once the upstream's part of the response is over;
	// a compressed response may still have bytes to write.
	upDone  bool
	upStart time.Time
	// upFirstStart is when the first try began
	// (proxy_next_upstream_timeout).
	upFirstStart time.Time
	// upRead counts the body bytes read from the upstream since
	// upReadStart, and upRateDelayed is set while the upstream's timer
	// is proxy_limit_rate's pause.
	upRead        int64
	upReadStart   time.Time
	upRateDelayed bool
	upConnect     time.Duration
	upHeader      time.Duration
	upResponse    time.Duration
	// resourceWaitFrom is when the request first found no descriptor or
	// local port for its upstream connection.
	resourceWaitFrom time.Time
	// syncWait is the check the request waits for in phaseSync, which
	// decides its limitIdx-th limit_req; limitDelay is the longest delay
	// the limits before it asked for.
	syncWait   *syncCheck
	limitIdx   int
	limitDelay time.Duration
	// syncKey is the limit_conn key the request waits for the store to
	// count.
	syncKey string
	// dnsNode is the name the request waits for in phaseResolve, and
	// dnsCNAMEs counts the CNAME records its resolution followed.
	dnsNode   *dnsNode
	dnsCNAMEs int
	// dnsGroup is the group of the addresses the name resolved to,
	// the request's own.
	dnsGroup *upGroup
	// waiter is the request's place in its group's queue while it waits
	// for a server below max_conns.
	waiter *upstream.Waiter
	// upx holds what only some variables need (see upvars.go); nil until
	// a request of a configuration that names one needs it, then kept
	// with the pooled request.
	upx *upExtra
	// upLog accumulates $upstream_addr, $upstream_status and timings of
	// every tried server.
	upAddrs    []byte
	upStatuses []byte
	upTimes    []byte
	upConnects []byte
	upHeaders  []byte
}

// startRequest routes a parsed request and starts serving it.
func (cc *clientConn) startRequest() {
	r := cc.r
	h := &r.head
	r.bodyLeft = max(h.ContentLength, 0)
	r.bodyChunked = h.Chunked
	r.bodyDone = !h.Chunked && h.ContentLength <= 0
	if h.Chunked {
		r.bodyDec.Reset()
	}
	cc.inPos += r.headLen
	host, ok := hostPart(h.Host)
	r.srv = cc.ln.vhosts.def
	r.lc = r.srv.Loc
	for _, line := range h.Invalid {
		cc.logAt(logs.Info, "client sent invalid header line: \""+string(line)+"\" while reading client request headers")
	}
	if !ok {
		r.keepAlive = false
		cc.respondError(400)
		return
	}
	var nameRegex *conf.Regex
	var name string
	r.srv, nameRegex, name = cc.ln.vhosts.findHost(host)
	uri, ok := normalizePath(r.uri, h.Path, cc.ln.vhosts.def.Loc.MergeSlashes)
	if !ok {
		r.keepAlive = false
		cc.respondError(400)
		return
	}
	r.uri = uri
	r.keepAlive = h.KeepAlive
	r.script.reset(len(cc.w.srv.cfg.HTTP.Variables))
	if nameRegex != nil && cc.w.srv.cfg.HTTP.Captures {
		// A regex server name's captures, named ones too, are the
		// request's until another regex matches.
		cc.match(nameRegex, []byte(name))
	}
	r.pipelined, cc.pipelined = cc.pipelined, false
	if t, ok := cc.tr.(*tlsTransport); ok {
		if t.plain() {
			// As nginx's ngx_http_process_request: plain HTTP to a
			// port that speaks TLS is answered 497 (an error_page
			// may take it; the page says 400).
			cc.logAt(logs.Info, "client sent plain HTTP request to HTTPS port while reading client request headers")
			r.keepAlive = false
			cc.respondError(497)
			return
		}
		if !cc.checkClientCert(t, host) {
			return
		}
	}
	cc.realIP(r.srv.Loc)
	if !cc.findConfig() {
		return
	}
	cc.realIP(r.lc)
	// limit_req, then the request is served (serve), perhaps after a
	// delay or the zone_sync store's answer.
	cc.limitReqs()
}

// findConfig runs nginx's server rewrite phase (the server's rewrite
// directives), then finds the request's location (locate). It reports
// false when the request was answered there. An internal redirect runs
// it again with a new URI.
func (cc *clientConn) findConfig() bool {
	r := cc.r
	r.loc = nil
	r.lc = r.srv.Loc
	if cc.runScript(r.srv.Loc.Script) == scriptAnswered {
		return false
	}
	return cc.locate()
}

// locate runs nginx's find-config, rewrite and post-rewrite phases for
// r.uri: the location (or the redirect to a location's slash),
// client_max_body_size, and the location's rewrite directives, which
// may change the URI and so send the request to find its location
// again. It reports false when the request was answered there.
func (cc *clientConn) locate() bool {
	r := cc.r
	h := &r.head
	r.loc = nil
	var redirect *conf.Location
	if redirect = autoRedirect(r.srv.Locations, r.uri); redirect == nil {
		r.loc, _ = findLocation(r.srv.Locations, r.uri)
	}
	switch {
	case redirect != nil:
		cc.useConfig(redirect.Loc)
	case r.loc != nil:
		cc.useConfig(r.loc.Loc)
		if r.loc.Regex != nil && cc.w.srv.cfg.HTTP.Captures {
			cc.match(r.loc.Regex, r.uri)
		}
	default:
		cc.useConfig(r.srv.Loc)
	}
	lc := r.lc
	if lc.Internal && !r.internal && !r.rewritten {
		cc.respondError(404)
		return false
	}
	if redirect != nil {
		target := appendEscapedURI(nil, []byte(redirect.Path))
		if h.Query != nil {
			target = append(append(target, '?'), h.Query...)
		}
		cc.redirectTo(301, target)
		return false
	}
	if lc.ClientMaxBodySize > 0 && h.ContentLength > lc.ClientMaxBodySize {
		cc.logError("client intended to send too large body: " + strconv.FormatInt(h.ContentLength, 10) + " bytes")
		r.keepAlive = false
		cc.respondError(413)
		return false
	}
	if r.loc == nil {
		// The server's own directives ran in the server rewrite
		// phase; nginx does not run them again for a request that
		// matched no location.
		return true
	}
	return cc.locationRewrite()
}

// locationRewrite runs the rewrite directives of the request's location
// and, when they changed the URI, looks for its location again, as
// nginx's post-rewrite phase does, at most ten times.
func (cc *clientConn) locationRewrite() bool {
	r := cc.r
	r.script.uriChanged, r.script.ifHandler = false, false
	if cc.runScript(r.lc.Script) == scriptAnswered {
		return false
	}
	if !r.script.uriChanged {
		return true
	}
	if !cc.countRedirect("processing", r.uri) {
		return false
	}
	return cc.locate()
}

// useConfig makes lc the request's configuration, as nginx's
// ngx_http_update_location_config does: a location can only take
// keep-alive away.
func (cc *clientConn) useConfig(lc *conf.LocConf) {
	r := cc.r
	if le := lc.LimitExcept; le != nil && le.Limits(r.head.Method) {
		lc = le.Loc
	}
	r.lc = lc
	if !lc.Static.TCPNodelay && !cc.nagle && cc.h2 == nil && cc.ln.unixPath == "" {
		// A TCP client's socket has TCP_NODELAY from its listener;
		// "tcp_nodelay off" gives it Nagle's algorithm back, for the
		// rest of the connection.
		cc.nagle = true
		engine.SetsockoptInt(cc.sock.c.Fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 0)
	}
	r.keepAlive = r.keepAlive && lc.KeepaliveTimeout > 0 && cc.requests < lc.KeepaliveRequests &&
		cc.w.loop.Now().Sub(cc.accepted) <= lc.KeepaliveTime && !keepaliveDisabled(lc.KeepaliveDisable, &r.head)
}

// maxInternalRedirects is nginx's limit on internal redirects of one
// request (NGX_HTTP_MAX_URI_CHANGES).
const maxInternalRedirects = 10

// internalRedirect makes the request start again at the server rewrite
// phase with a new URI and, when args is not nil, new arguments, as
// nginx's ngx_http_internal_redirect does (index, try_files). limit_req
// and limit_conn, already applied, are not applied again.
func (cc *clientConn) internalRedirect(uri, args []byte) {
	r := cc.r
	if !cc.countRedirect("internally redirecting to", uri) {
		return
	}
	cc.restartContent()
	r.uri = append(r.uri[:0], uri...)
	if args != nil {
		r.args = append(r.args[:0], args...)
		r.head.Query = r.args
	}
	if !cc.findConfig() {
		return
	}
	cc.serve()
}

// countRedirect counts one more internal redirect or location lookup
// of the request; past nginx's limit it answers 500 with nginx's line,
// naming what the request was doing and with what, and returns false.
func (cc *clientConn) countRedirect(doing string, what []byte) bool {
	r := cc.r
	r.redirects++
	if r.redirects > maxInternalRedirects {
		cc.logError("rewrite or internal redirection cycle while " + doing + " \"" + string(what) + "\"")
		cc.respondError(500)
		return false
	}
	return true
}

// restartContent readies a redirected request for a new content phase.
// It starts a new upstream attempt, as nginx makes a new upstream for the
// redirected request: servers tried before (maybe of another group) do
// not count against it. What was logged of the earlier tries stays for
// $upstream_*. The location's URI is valid again for proxy_pass.
func (cc *clientConn) restartContent() {
	r := cc.r
	r.internal = true
	r.tried, r.tries, r.peer, r.group = upstream.Tried{}, 0, nil, nil
	r.respHead, r.tryOpen = false, false
	if !r.headsKept {
		r.resp.Headers = r.resp.Headers[:0]
	}
	r.headsKept = false
	r.script.locInvalid = false
	r.fcgiSplit = false
	// The new location's try_files runs, as nginx runs the phase again.
	r.triedFiles = false
}

// namedRedirect sends the request to a named location of its server
// (try_files, error_page, X-Accel-Redirect), as nginx's
// ngx_http_named_location does: the URI stays, the location's rewrite
// directives run, then its content handler.
func (cc *clientConn) namedRedirect(name []byte) {
	r := cc.r
	var loc *conf.Location
	for _, l := range r.srv.Named {
		if l.Path == string(name) {
			loc = l
			break
		}
	}
	if loc == nil {
		cc.logError("could not find named location \"" + string(name) + "\"")
		cc.respondError(500)
		return
	}
	if !cc.countRedirect("redirect to named location", name) {
		return
	}
	cc.restartContent()
	r.loc = loc
	cc.useConfig(loc.Loc)
	if !cc.locationRewrite() {
		return
	}
	cc.serve()
}

// serve runs a routed request past limit_conn to its handler: 404 without
// one, else the upstream.
func (cc *clientConn) serve() {
	if !cc.r.internal {
		// limit_conn, then serveContent, perhaps after the zone_sync
		// store's answer.
		cc.limitConns()
		return
	}
	cc.serveContent()
}

// serveContent runs a request past its limits: the access rules, then its
// handler.
func (cc *clientConn) serveContent() {
	if !cc.accessPhase() {
		return
	}
	cc.runContent()
}

// runContent runs nginx's precontent and content phases: try_files, for
// every location that has it whatever its handler (Debian's PHP snippet
// checks "try_files $fastcgi_script_name =404" before fastcgi_pass),
// then the location's handler.
func (cc *clientConn) runContent() {
	r := cc.r
	h := &r.head
	lc := r.lc
	if len(lc.Static.TryFiles) > 0 && !r.triedFiles {
		cc.tryFiles()
		return
	}
	if lc.Handler != conf.HandlerNone {
		if lc.Handler == conf.HandlerEmptyGIF {
			cc.respondEmptyGIF()
			return
		}
		cc.respondObserve(lc.Handler)
		return
	}
	if lc.ProxyPass == nil && r.script.ifHandler {
		// An earlier if block's proxy_pass is the content handler, but
		// the if block that matched last has none: nginx's proxy
		// handler finds no upstream there.
		cc.logAt(logs.Alert, "no upstream configuration")
		cc.respondError(500)
		return
	}
	if lc.ProxyPass == nil {
		cc.serveStatic()
		return
	}
	// The body is read whole first with proxy_request_buffering on, and
	// always when it is chunked and the upstream speaks HTTP/1.0, which
	// cannot take chunked framing; as in nginx.
	// A chunked body that has arrived whole with the head is sent with a
	// Content-Length even with buffering off, as nginx sends a body it
	// is no longer reading.
	// A body that is not passed on (proxy_pass_request_body off,
	// proxy_set_body) is read whole too.
	// client_body_in_file_only writes a body to a file even when it is
	// empty, but a request without a body (neither Content-Length nor
	// chunked) has none to write, as in nginx.
	hasBody := h.ContentLength >= 0 || h.Chunked
	r.bufferBody = (!r.bodyDone || lc.ClientBodyInFileOnly != conf.BodyFileOff && hasBody) &&
		(lc.ProxyRequestBuffering || h.Chunked && (lc.ProxyHTTPVersion != "1.1" || cc.chunkedBodyArrived()) ||
			!lc.ProxyPassRequestBody || lc.ProxySetBody != nil)
	if r.bufferBody {
		r.bodyMemLimit = cc.bodyMemLimit()
	}
	if cc.tr.PeerClosed() && r.bodyDone && cc.inPos >= cc.inLen && !lc.ProxyIgnoreClientAbort {
		// The client closed after sending its request, before it was
		// taken: as nginx without proxy_ignore_client_abort, the request
		// is not passed on (499). After an overload, the clients that gave
		// up in the backlog are cleared in no time this way instead of
		// each costing an upstream round trip.
		r.status = 499
		cc.abort()
		return
	}
	cc.expectContinue()
	cc.setPhase(phaseProxy)
	cc.c.StopTimer()
	cc.proxy()
}

// expectContinue answers "Expect: 100-continue" once the request is
// going to read its body, as nginx does, even for a request that has none.
func (cc *clientConn) expectContinue() {
	r := cc.r
	if r.head.ExpectContinue && !r.continued {
		r.continued = true
		cc.outBuf()
		cc.out = append(cc.out, "HTTP/1.1 100 Continue\r\n\r\n"...)
	}
}

// finish is called once the response has been written completely. It
// logs the request and either waits for the next one or closes.
func (cc *clientConn) finish() {
	if cc.startCacheUpdate() || cc.startPostAction() {
		return
	}
	r := cc.r
	if r.postAction != nil {
		cc.endPostAction()
	}
	cc.logRequest()
	if !r.keepAlive || cc.h2 != nil || cc.sub != nil {
		cc.closeGracefully()
		return
	}
	if !r.bodyDone {
		cc.setState(connDiscard)
		cc.discardBody()
		return
	}
	cc.goIdle()
}

// reset clears a request for reuse, keeping the capacity of its slices.
func (r *request) reset() {
	hdrs := r.head.Headers[:0]
	uri := r.uri[:0]
	rh := r.resp.Headers[:0]
	addrs, sts, tms, cns, hds := r.upAddrs[:0], r.upStatuses[:0], r.upTimes[:0], r.upConnects[:0], r.upHeaders[:0]
	holds := r.connHolds[:0]
	oh := r.outHead
	oh.reset()
	args := r.args[:0]
	upx := r.upx
	if upx != nil {
		upx.hasPending = false
	}
	script := r.script
	script.reset(0)
	rid := r.requestID[:0]
	cacheKey := r.cache.key[:0]
	*r = request{}
	r.requestID = rid
	r.cache.key = cacheKey
	r.script = script
	r.upx = upx
	r.connHolds = holds
	r.outHead = oh
	r.args = args
	r.head.Headers = hdrs
	r.uri = uri
	r.resp.Headers = rh
	r.upAddrs, r.upStatuses, r.upTimes, r.upConnects, r.upHeaders = addrs, sts, tms, cns, hds
}

// keepaliveDisabled reports whether keepalive_disable names the client's
// browser, recognised from its User-Agent as nginx recognises it: MSIE 4,
// 5, or 6 without SV1 (not Opera), for POST requests only; Safari on
// Mac OS X (not Chrome).
func keepaliveDisabled(d conf.KeepaliveDisable, h *http1.Request) bool {
	// Most requests are not POSTs and most configurations name only
	// msie6 (the default): those need no look at the User-Agent.
	msie6 := d&conf.KeepaliveDisableMSIE6 != 0 && string(h.Method) == "POST"
	if !msie6 && d&conf.KeepaliveDisableSafari == 0 {
		return false
	}
	ua := headerValue(h.Headers, "User-Agent")
	if ua == nil {
		return false
	}
	if msie6 && isMSIE6(ua) {
		return true
	}
	return d&conf.KeepaliveDisableSafari != 0 && bytes.Contains(ua, []byte("Safari/")) &&
		bytes.Contains(ua, []byte("Mac OS X")) && !bytes.Contains(ua, []byte("Chrome/"))
}

// isMSIE6 is nginx's test for Internet Explorer 6 and older.
func isMSIE6(ua []byte) bool {
	if bytes.Contains(ua, []byte("Opera")) {
		return false
	}
	i := bytes.Index(ua, []byte("MSIE "))
	if i < 0 || i+7 >= len(ua) {
		return false
	}
	m := ua[i:]
	if m[6] != '.' {
		return false
	}
	switch m[5] {
	case '4', '5':
		return true
	case '6':
		return !bytes.Contains(m[8:], []byte("SV1"))
	}
	return false
}
