package proxy

import (
	"bytes"
	"crypto/md5"
	"errors"
	"time"

	"headroom/internal/cache"
	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/vars"

	"golang.org/x/sys/unix"
)

// This file is proxy_cache on the request's side: the lookup before the
// upstream is asked, the answer from a stored file, and the storing of a
// cacheable upstream answer as it is relayed.
//
// An answer from the cache is sent like a static file: its head is the
// stored upstream head, passed through the same field rules as a fresh
// one (proxy_hide_header, proxy_redirect, cookies), and its body goes out
// with sendfile from the stored file, through nginx's not-modified and
// range filters. An upstream answer being stored is written to a
// temporary file as it is relayed and renamed into place when it is
// whole; when the client asked for less than the whole answer (HEAD, a
// range, a conditional request), the answer is stored first and then
// sent from the file, so those filters apply to it as to any stored one.

// A stored answer's head is read into one of the worker's buffers, which
// must hold the longest the cache stores.
var _ [bufSize - cache.MaxHead]struct{}

// The values of $upstream_cache_status.
const (
	cacheNone uint8 = iota
	cacheMiss
	cacheBypass
	cacheExpired
	cacheStale
	cacheUpdating
	cacheRevalidated
	cacheHit
)

var cacheStatusNames = [...]string{"", "MISS", "BYPASS", "EXPIRED", "STALE", "UPDATING", "REVALIDATED", "HIT"}

// reqCache is a request's part in a cache.
type reqCache struct {
	// lc is the location the lookup was made for: an internal redirect
	// to another location looks again.
	lc *conf.LocConf
	c  *cache.Cache
	// k names the answer's file: the key's MD5 (main), or a variant's
	// when the stored answer varies and this request asks for another
	// variant (secondary).
	k         cache.Key
	main      cache.Key
	secondary bool
	key       []byte
	status    uint8
	// cacheable is nginx's u->cacheable: the request was sent upstream
	// with the cache's field defaults and its answer may be stored.
	cacheable bool
	// getHead is set when a HEAD request went upstream as GET.
	getHead bool
	// w stores the upstream's answer; fill is set when the client gets
	// the answer from the file once it is stored, headFirst when a HEAD
	// request got the upstream's head at once instead, as nginx sends it
	// while the body goes to the cache only.
	w         *cache.Writer
	fill      bool
	headFirst bool
	// buf holds a stored answer's head, which the request's response
	// fields point into.
	buf []byte
	// lockUntil identifies the key's lock while the request holds it
	// (proxy_cache_lock); waitUntil ends a wait for another's lock, and
	// noWait is set once it ended.
	locked    bool
	lockUntil time.Time
	waitUntil time.Time
	noWait    bool
	// lastModified and etag are an expired answer's validators, which
	// proxy_cache_revalidate sends upstream.
	lastModified, etag []byte
	// staleError is set while an expired answer is within its
	// stale-if-error period: an upstream that fails to answer gets it
	// sent.
	staleError bool
	// background is set while an expired answer is sent that this
	// request fetches the successor of once it is sent
	// (proxy_cache_background_update); updating while it does.
	background, updating bool
	// orphan is set when the client went away while the answer was
	// being stored: the upstream is read on and what was for the client
	// is dropped.
	orphan bool
}

// unlock gives back the key's lock, if the request holds it.
func (rc *reqCache) unlock() {
	if rc.locked {
		rc.locked = false
		rc.c.Unlock(rc.k, rc.lockUntil)
	}
}

// release drops what the request holds of the cache: an answer being
// stored that did not complete is removed.
func (rc *reqCache) release(w *worker) {
	if rc.c != nil && rc.status != cacheNone {
		if n := w.srv.cacheCounts[rc.c]; n != nil {
			n[rc.status].Add(1)
		}
		rc.status = cacheNone
	}
	rc.unlock()
	rc.endWriter(w, false)
	w.dropBuf(&rc.buf)
}

// endWriter ends the storing of an answer, putting the file in place
// (commit) or removing it, and gives its descriptor's place in the
// worker's budget of temporary files back.
func (rc *reqCache) endWriter(w *worker, commit bool) error {
	wr := rc.w
	if wr == nil {
		return nil
	}
	rc.w = nil
	defer w.tempDone()
	if !commit || wr.Failed() {
		wr.Abort()
		return errors.New("not stored")
	}
	return wr.Commit()
}

// cacheLookup is the cache's part before a request goes upstream, as
// nginx's ngx_http_upstream_cache: it reports true when the request was
// answered from the cache. Otherwise the request goes upstream, with
// r.cache saying whether its answer may be stored.
func (cc *clientConn) cacheLookup() bool {
	r := cc.r
	lc := r.lc
	pc := &lc.Cache
	rc := &r.cache
	rc.release(cc.w)
	*rc = reqCache{lc: lc, buf: rc.buf[:0], key: rc.key[:0], lastModified: rc.lastModified[:0], etag: rc.etag[:0]}
	if !pc.Methods[string(r.head.Method)] {
		return false
	}
	if pc.PathVar != nil {
		// proxy_cache with variables: the cache the value names.
		name := cc.eval(cc.w.getBuf()[:0], pc.PathVar)
		defer cc.w.putBuf(name)
		if len(name) == 0 || string(name) == "off" {
			return false
		}
		p := cc.w.srv.cfg.HTTP.CachePaths[string(name)]
		if p == nil {
			cc.logError("cache \"" + string(name) + "\" not found")
			cc.respondError(500)
			return true
		}
		rc.c = cc.w.srv.caches[p]
	} else {
		rc.c = cc.w.srv.caches[pc.Path]
	}
	if rc.c == nil {
		return false
	}
	if isHead(&r.head) && pc.ConvertHead {
		rc.getHead = true
	}
	rc.key = cc.eval(rc.key, pc.Key)
	rc.k = cache.KeyOf(rc.key)
	rc.main = rc.k
	rc.cacheable = true
	if cc.predicate(pc.Bypass) {
		rc.status = cacheBypass
		return false
	}
	rc.status = cacheMiss
	now := cc.w.loop.Now()
	uses, missing, errStatus := rc.c.Use(rc.k, now)
	if errStatus != 0 {
		// An error answer the zone keeps (proxy_cache_valid for it).
		rc.status = cacheHit
		cc.respondError(errStatus)
		return true
	}
	if !missing && cc.cacheOpen(now) {
		return true
	}
	if uses < pc.MinUses && rc.status != cacheExpired {
		// nginx's NGX_HTTP_CACHE_SCARCE: asked for too rarely yet.
		rc.cacheable = false
		return false
	}
	if pc.Lock && rc.status == cacheMiss && !cc.cacheLock(now) {
		return true
	}
	if pc.MaxRangeOffset >= 0 && rangeBeyond(headerValue(r.head.Headers, "Range"), pc.MaxRangeOffset) {
		rc.cacheable = false
		rc.unlock()
	}
	return false
}

// lockPoll is how often a request waiting for another's lock looks
// again, as nginx's.
const lockPoll = 500 * time.Millisecond

// cacheLock takes the key's lock for a request whose answer the cache
// does not have (proxy_cache_lock). It reports false when the request
// waits for another's lock instead; after proxy_cache_lock_timeout (or
// with none) the request goes upstream and its answer is not stored.
func (cc *clientConn) cacheLock(now time.Time) bool {
	r := cc.r
	rc := &r.cache
	pc := &r.lc.Cache
	if until, ok := rc.c.Lock(rc.k, now, pc.LockAge); ok {
		rc.locked, rc.lockUntil = true, until
		return true
	}
	if rc.noWait || pc.LockTimeout == 0 {
		rc.cacheable = false
		return true
	}
	if rc.waitUntil.IsZero() {
		rc.waitUntil = now.Add(pc.LockTimeout)
	}
	cc.setPhase(phaseCacheLock)
	cc.c.SetTimer(min(lockPoll, rc.waitUntil.Sub(now)))
	return false
}

// cacheLockTimer looks again for a request waiting for another's lock:
// the answer stored meanwhile is sent; a lock given back lets this
// request take it; at the end of the wait it goes upstream.
func (cc *clientConn) cacheLockTimer() {
	r := cc.r
	rc := &r.cache
	now := cc.w.loop.Now()
	if !now.Before(rc.waitUntil) {
		cc.logAt(logs.Info, "cache lock timeout")
		rc.noWait = true
	} else if rc.c.Locked(rc.k, now) {
		cc.c.SetTimer(min(lockPoll, rc.waitUntil.Sub(now)))
		return
	}
	cc.setPhase(phaseProxy)
	if cc.cacheOpen(now) {
		return
	}
	// An expired answer found meanwhile may have given this request its
	// key's lock already.
	if !rc.locked && !cc.cacheLock(now) {
		return
	}
	cc.proxyTo()
}

// cacheOpen answers from the stored file when it is fresh and reports
// whether it did. An expired answer makes the request EXPIRED.
func (cc *clientConn) cacheOpen(now time.Time) bool {
	r := cc.r
	rc := &r.cache
	if rc.buf == nil {
		rc.buf = cc.w.getBuf()
	}
	fd, m, head, err := rc.c.Open(rc.k, rc.key, rc.buf[:cap(rc.buf)])
	if err != nil {
		switch {
		case err == cache.ErrHeadTooLong:
			cc.logAt(logs.Crit, "cache file \""+rc.c.FilePath(rc.k)+"\" has too long header")
		case err != cache.ErrNotStored:
			cc.logAt(logs.Crit, "open() \""+rc.c.FilePath(rc.k)+"\" failed ("+logs.SysError(err)+")")
		}
		return false
	}
	if m.Variant != ([md5.Size]byte{}) {
		if v := cc.storedVariant(head); v != m.Variant {
			// Another variant of the answer: it has a file of its own,
			// named by the variant, as in nginx.
			unix.Close(fd)
			if rc.secondary {
				cc.logAt(logs.Crit, "cache file \""+rc.c.FilePath(rc.k)+"\" has incorrect vary hash")
				return false
			}
			rc.secondary = true
			rc.k = cache.Key(v)
			rc.c.Use(rc.k, now)
			return cc.cacheOpen(now)
		}
	}
	if now.Unix() > m.Valid.Unix() {
		return cc.cacheExpired(now, fd, m, head)
	}
	rc.status = cacheHit
	cc.sendCached(fd, m, head)
	return true
}

// cacheExpired handles a stored answer whose lifetime is over: the
// first request for it fetches the new one (EXPIRED), holding the key
// while it does; requests meanwhile get the expired answer with
// proxy_cache_use_stale updating (UPDATING), else go upstream too. With
// proxy_cache_revalidate the expired answer's validators go upstream. It
// reports whether the request was answered.
func (cc *clientConn) cacheExpired(now time.Time, fd int, m cache.Meta, head []byte) bool {
	r := cc.r
	rc := &r.cache
	pc := &r.lc.Cache
	rc.status = cacheExpired
	// Cache-Control's stale-while-revalidate and stale-if-error periods,
	// counted in whole seconds as nginx counts them.
	staleUpdating := now.Unix() <= m.Valid.Unix()+m.Stale.Updating
	rc.staleError = now.Unix() <= m.Valid.Unix()+m.Stale.Error
	if until, ok := rc.c.Lock(rc.k, now, pc.LockAge); ok {
		rc.locked, rc.lockUntil = true, until
		if pc.BackgroundUpdate && (pc.StaleUpdating || staleUpdating) && cc.h2 == nil {
			// The expired answer now, its successor fetched after it
			// (startCacheUpdate), with its validators when revalidated.
			if pc.Revalidate {
				cc.keepValidators(head)
			}
			rc.status, rc.background = cacheStale, true
			cc.sendCached(fd, m, head)
			return true
		}
	} else if pc.StaleUpdating || staleUpdating {
		rc.status = cacheUpdating
		cc.sendCached(fd, m, head)
		return true
	}
	if pc.Revalidate {
		cc.keepValidators(head)
	}
	unix.Close(fd)
	return false
}

// keepValidators copies an expired answer's Last-Modified and ETag for
// $upstream_cache_last_modified and $upstream_cache_etag, which nginx
// keeps only for 200 and 206 answers.
func (cc *clientConn) keepValidators(head []byte) {
	rc := &cc.r.cache
	var resp http1.Response
	if !parseStoredHead(head, &resp) || resp.Status != 200 && resp.Status != 206 {
		return
	}
	if v := headerValue(resp.Headers, "Last-Modified"); v != nil {
		if t, ok := parseHTTPDate(v); ok {
			rc.lastModified = t.UTC().AppendFormat(rc.lastModified[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
		}
	}
	if v := headerValue(resp.Headers, "ETag"); v != nil && len(v) <= maxVary {
		rc.etag = append(rc.etag[:0], v...)
	}
}

// cacheFallback is the cache's part when an upstream failed and no other
// server is left to try: an expired answer is sent instead when
// proxy_cache_use_stale names the failure or the answer is within its
// stale-if-error period (STALE); otherwise nginx's own
// 502 or 504 is kept as the key's answer when proxy_cache_valid gives it
// a lifetime. It reports whether the request was answered.
func (cc *clientConn) cacheFallback(status int, cond conf.NextUpstream) bool {
	r := cc.r
	rc := &r.cache
	if rc.c == nil || rc.lc != r.lc {
		return false
	}
	if rc.status == cacheExpired && (r.lc.Cache.UseStale&cond != 0 || rc.staleError) && cc.sendStored(cacheStale) {
		return true
	}
	if rc.cacheable && (status == 502 || status == 504) {
		if d := validFor(r.lc.Cache.Valid, status); d > 0 {
			rc.c.SetError(rc.k, status, cc.w.loop.Now().Add(d))
		}
	}
	rc.unlock()
	return false
}

// cacheErrorAnswer keeps an upstream's error answer that
// proxy_intercept_errors replaces by an error page as the key's answer,
// for the lifetime its fields or proxy_cache_valid give it.
func (cc *clientConn) cacheErrorAnswer(resp *http1.Response) {
	r := cc.r
	rc := &r.cache
	if !rc.cacheable || rc.lc != r.lc {
		return
	}
	defer rc.unlock()
	if valid, _, ok := cc.answerLifetime(resp, cc.w.loop.Now()); ok {
		rc.c.SetError(rc.k, resp.Status, valid)
	}
}

// answerLifetime is how long an upstream answer may be kept: as its
// fields say (cacheLifetime), else as proxy_cache_valid says for its
// status. ok is false when it may not be kept or has no lifetime.
func (cc *clientConn) answerLifetime(resp *http1.Response, now time.Time) (valid time.Time, stale cache.Stale, ok bool) {
	valid, stale, ok = cacheLifetime(resp, cc.r.lc.ProxyIgnoreHeaders, now)
	if !ok || !valid.IsZero() {
		return valid, stale, ok
	}
	d := validFor(cc.r.lc.Cache.Valid, resp.Status)
	return now.Add(d), stale, d > 0
}

// cacheOnStatus is the cache's part when an expired answer's upstream
// answers with a status: one proxy_cache_use_stale names sends the
// expired answer (STALE), and a 304 to proxy_cache_revalidate's
// question keeps it for a new lifetime (REVALIDATED). It reports whether
// the request was answered.
func (cc *clientConn) cacheOnStatus(resp *http1.Response, cond conf.NextUpstream) bool {
	r := cc.r
	rc := &r.cache
	if rc.status != cacheExpired || rc.lc != r.lc {
		return false
	}
	pc := &r.lc.Cache
	switch {
	case cond != 0 && pc.UseStale&cond != 0:
		cc.dropUpstreamAnswer(resp.Status)
		if !cc.sendStored(cacheStale) {
			// The expired answer went meanwhile.
			cc.respondError(502)
		}
		return true
	case resp.Status == 304 && pc.Revalidate:
		now := cc.w.loop.Now()
		valid, _, ok := cacheLifetime(resp, r.lc.ProxyIgnoreHeaders, now)
		cc.dropUpstreamAnswer(resp.Status)
		if !ok || valid.IsZero() {
			valid = time.Time{}
		}
		rc.status = cacheRevalidated
		if !cc.openStored(func(fd int, m cache.Meta, head []byte) {
			if valid.IsZero() {
				valid = cc.storedLifetime(head, now)
			}
			if !valid.IsZero() {
				if err := rc.c.Refresh(rc.k, valid); err != nil {
					cc.logAt(logs.Crit, "cache file \""+rc.c.FilePath(rc.k)+"\" could not be updated ("+logs.SysError(err)+")")
				}
			}
			rc.unlock()
			cc.sendCached(fd, m, head)
		}) {
			cc.respondError(500)
		}
		return true
	}
	return false
}

// storedLifetime is a revalidated answer's new lifetime when the 304
// gave none: from the stored answer's fields, else proxy_cache_valid
// for its status.
func (cc *clientConn) storedLifetime(head []byte, now time.Time) time.Time {
	var resp http1.Response
	if !parseStoredHead(head, &resp) {
		return time.Time{}
	}
	if valid, _, ok := cacheLifetime(&resp, cc.r.lc.ProxyIgnoreHeaders, now); ok && !valid.IsZero() {
		return valid
	}
	if d := validFor(cc.r.lc.Cache.Valid, resp.Status); d > 0 {
		return now.Add(d)
	}
	return time.Time{}
}

// parseStoredHead parses a stored answer's head, which was an upstream's
// and fits the buffer it was read into.
func parseStoredHead(head []byte, resp *http1.Response) bool {
	limits := http1.Limits{MaxRequestLine: len(head), MaxHeaderLine: len(head), MaxHeaderBytes: len(head), MaxHeaders: 1000}
	_, err := http1.ParseResponse(head, resp, &limits)
	return err == nil
}

// dropUpstreamAnswer ends the try whose answer is not sent: it is
// logged and its connection closed.
func (cc *clientConn) dropUpstreamAnswer(status int) {
	r := cc.r
	cc.upLogAppend(r.peer.Conf.Addr, status)
	r.up.closeConn()
	r.upInLen, r.upPos = 0, 0
}

// sendStored answers with the key's stored answer, expired or not, with
// the given $upstream_cache_status. It reports false when there is none
// to send.
func (cc *clientConn) sendStored(status uint8) bool {
	rc := &cc.r.cache
	return cc.openStored(func(fd int, m cache.Meta, head []byte) {
		rc.status = status
		rc.unlock()
		cc.sendCached(fd, m, head)
	})
}

// openStored opens the key's stored answer and hands it to send; it
// reports false when there is none.
func (cc *clientConn) openStored(send func(fd int, m cache.Meta, head []byte)) bool {
	rc := &cc.r.cache
	if rc.buf == nil {
		rc.buf = cc.w.getBuf()
	}
	fd, m, head, err := rc.c.Open(rc.k, rc.key, rc.buf[:cap(rc.buf)])
	if err != nil {
		return false
	}
	send(fd, m, head)
	return true
}

// sendCached answers with a stored answer: the head parsed back and
// passed through the upstream field rules, then the body from the file
// through the not-modified and range filters.
func (cc *clientConn) sendCached(fd int, m cache.Meta, head []byte) {
	r := cc.r
	w := cc.w
	if !cc.discardPreread() {
		unix.Close(fd)
		return
	}
	slot, err := w.fileSlot(fd)
	if err != nil {
		unix.Close(fd)
		cc.noFileSlot()
		return
	}
	r.file = staticFile{fd: fd, slot: slot, off: m.BodyStart, end: m.BodyStart + m.BodyLen, base: m.BodyStart}
	if !parseStoredHead(head, &r.resp) {
		r.closeFile()
		cc.logAt(logs.Crit, "cache file \""+r.cache.c.FilePath(r.cache.k)+"\" has a broken header")
		cc.respondError(500)
		return
	}
	resp := &r.resp
	r.framing = http1.FramingLength
	h := cc.responseHead(resp, false)
	// The body's length is what was stored; a HEAD gets the stored
	// Content-Length, as nginx sends it (an answer stored from a HEAD
	// has no body).
	h.contentLength = m.BodyLen
	if isHead(&r.head) && resp.ContentLength >= 0 {
		h.contentLength = resp.ContentLength
	}
	allowRanges := cc.takeCachedFields(h)
	r.status = h.status
	verdict := 0
	if h.status == 200 {
		verdict = cc.notModified(h)
	}
	cc.sendFileAnswer(h, verdict, m.BodyLen, h.status == 200 && allowRanges)
}

// takeCachedFields readies a cacheable answer's head for nginx's filters:
// its Last-Modified becomes the answer's modification time, which the
// not-modified and range filters compare; its Accept-Ranges is taken out
// and reported, as nginx's upstream module lets a cacheable answer have
// ranges when the upstream offers them (the range filter then says
// Accept-Ranges itself).
func (cc *clientConn) takeCachedFields(h *outHead) (allowRanges bool) {
	if v := headerValue(h.fields, "Last-Modified"); v != nil {
		if t, ok := parseHTTPDate(v); ok {
			h.del([]byte("Last-Modified"))
			h.lastModified = t
		}
	}
	if headerValue(h.fields, "Accept-Ranges") != nil {
		h.del(nameAcceptRanges)
		allowRanges = true
	}
	return allowRanges
}

// cacheStore decides, once an upstream answer's head is in, whether the
// answer is stored, as nginx's ngx_http_upstream_send_response: a
// cacheable request, proxy_no_cache false, and a lifetime from the
// answer's fields or proxy_cache_valid. It starts the writer; the client
// then gets the answer from the file when it asked for part of it.
func (cc *clientConn) cacheStore(resp *http1.Response) {
	r := cc.r
	rc := &r.cache
	// Whatever is decided, requests waiting for this one's answer look
	// again: stored, it is there when they do.
	defer func() {
		if rc.w == nil {
			rc.unlock()
		}
	}()
	// Nothing is stored of an answer passed on unbuffered
	// (proxy_buffering off, X-Accel-Buffering: no), as in nginx.
	if !rc.cacheable || rc.lc != r.lc || resp.Status == 101 || r.upHead || !r.spooling {
		return
	}
	pc := &r.lc.Cache
	if cc.predicate(pc.NoCache) {
		return
	}
	valid, stale, ok := cc.answerLifetime(resp, cc.w.loop.Now())
	if !ok {
		return
	}
	var variant [md5.Size]byte
	if v := headerValue(resp.Headers, "Vary"); v != nil && r.lc.ProxyIgnoreHeaders&conf.IgnoreVary == 0 {
		variant = requestVariant(rc.main, v, r.head.Headers)
	}
	if rc.secondary && cache.Key(variant) != rc.k {
		// The answer no longer varies as the stored one did: it takes
		// the main key's place.
		rc.unlock()
		rc.k = rc.main
	}
	tp := &r.lc.ProxyTempPath
	if !rc.c.Conf().UseTempPath {
		tp = &conf.TempPath{Path: rc.c.Conf().Path}
	}
	// The file being written takes a place in the worker's budget of
	// temporary files, so that storing never takes the descriptors the
	// slots were planned with; without one the answer is not stored.
	tf, err := cc.w.openTemp(tp)
	if err == errTempBudget {
		cc.logAt(logs.Info, "the answer is not stored: the worker has its temporary files open")
		return
	}
	if err != nil {
		cc.logAt(logs.Crit, "open() \""+tf.path+"\" failed ("+logs.SysError(err)+")")
		return
	}
	head := r.upIn[r.upHeadAt:r.upPos]
	wr, err := rc.c.NewWriter(rc.k, rc.key, head, valid, stale, variant, tf.fd, tf.path)
	if err != nil {
		// NewWriter closed and removed the file.
		cc.w.tempDone()
		cc.logAt(logs.Crit, "cache file \""+tf.path+"\" could not be written ("+logs.SysError(err)+")")
		return
	}
	rc.w = wr
	// A client that asked for less than the whole answer gets it from
	// the file, through the filters a stored answer goes through.
	h := r.head.Headers
	// A background update has no client to send to.
	conditional := headerValue(h, "Range") != nil || headerValue(h, "If-Modified-Since") != nil ||
		headerValue(h, "If-Unmodified-Since") != nil || headerValue(h, "If-None-Match") != nil || headerValue(h, "If-Match") != nil
	rc.fill = !rc.updating && (isHead(&r.head) || conditional)
	rc.headFirst = rc.fill && !conditional
}

// startCacheUpdate fetches, once an expired answer was sent
// (proxy_cache_background_update), its successor from the upstream and
// stores it, as nginx's background subrequest does: the connection's
// next request waits for it, and the log shows the expired answer
// (STALE). It reports whether it started.
func (cc *clientConn) startCacheUpdate() bool {
	r := cc.r
	rc := &r.cache
	if !rc.background || r.postAction != nil || cc.state != connRequest {
		return false
	}
	rc.background, rc.updating = false, true
	if s := cc.sub; s != nil {
		// The answer that includes the expired one goes on now; the
		// fetch goes on without it.
		s.answered()
	}
	pa := cc.afterAnswer()
	pa.cacheUpdate = true
	// The fetch is the expired answer's (its validators go upstream, a
	// 304 revalidates it); the log keeps the first answer's STALE.
	pa.cacheStatus = rc.status
	rc.status = cacheExpired
	cc.setPhase(phaseProxy)
	cc.proxy()
	return true
}

// storeWithoutClient decides, when the client can no longer be written
// to, whether the answer being stored is read on without it, as nginx
// reads a cacheable answer on into its cache: the connection then closes
// once the answer is stored. It reports whether it is.
func (cc *clientConn) storeWithoutClient() bool {
	r := cc.r
	rc := &r.cache
	if rc.w == nil || rc.fill || r.upDone || cc.h2 != nil || !cc.inPhase(phaseProxy) || !r.respHead {
		return false
	}
	rc.orphan = true
	r.keepAlive = false
	cc.c.StopTimer()
	cc.logAt(logs.Info, "client prematurely closed connection, the answer is read on into the cache")
	return true
}

// cacheWrite stores body bytes of an answer being stored.
func (cc *clientConn) cacheWrite(data []byte) {
	rc := &cc.r.cache
	if rc.w == nil || len(data) == 0 {
		return
	}
	if err := rc.w.Write(data); err != nil {
		cc.logAt(logs.Crit, "write() to cache file failed ("+logs.SysError(err)+")")
	}
}

// cacheCommit puts a stored answer in place once its body is whole. It
// reports false when the answer could not be stored.
func (cc *clientConn) cacheCommit() bool {
	rc := &cc.r.cache
	if rc.w == nil {
		return false
	}
	failed := rc.w.Failed()
	err := rc.endWriter(cc.w, true)
	rc.unlock()
	if err != nil {
		if !failed {
			cc.logAt(logs.Crit, "rename() of cache file failed ("+logs.SysError(err)+")")
		}
		return false
	}
	return true
}

// fillDone ends an answer the client gets from the file: it is stored,
// then sent as a stored one.
func (cc *clientConn) fillDone() {
	r := cc.r
	rc := &r.cache
	rc.fill = false
	if rc.headFirst {
		// The head went out when it came; the answer is stored now.
		cc.cacheCommit()
		if cc.outOff < len(cc.out) && !cc.flush() {
			return
		}
		cc.finish()
		return
	}
	r.respHead, r.respDone, r.bodySent = false, false, 0
	if !cc.cacheCommit() {
		cc.respondError(500)
		return
	}
	if rc.buf == nil {
		rc.buf = cc.w.getBuf()
	}
	fd, m, head, err := rc.c.Open(rc.k, rc.key, rc.buf[:cap(rc.buf)])
	if err != nil {
		cc.logAt(logs.Crit, "cache file \""+rc.c.FilePath(rc.k)+"\" could not be read back ("+logs.SysError(err)+")")
		cc.respondError(500)
		return
	}
	cc.sendCached(fd, m, head)
}

// fillFailed answers a request whose answer was being stored for it to
// be sent from the file when the upstream fails before the answer is
// whole: nothing went to the client yet, so it gets nginx's error
// status. It reports false when the request is not in that state.
func (cc *clientConn) fillFailed(status int) bool {
	r := cc.r
	rc := &r.cache
	if !rc.fill {
		return false
	}
	rc.fill = false
	rc.endWriter(cc.w, false)
	cc.upLogAppend(r.peer.Conf.Addr, status)
	if r.up != nil {
		r.up.closeConn()
	}
	if rc.headFirst {
		// The HEAD's answer went out already; the connection ends, as
		// nginx ends it when the body it stores breaks off.
		cc.flushAndAbort()
		return true
	}
	cc.w.dropBuf(&r.upIn)
	r.upInLen, r.upPos = 0, 0
	r.respHead, r.respDone, r.upDone = false, false, false
	cc.respondError(status)
	return true
}

// cacheConditional applies the client's conditional fields to a
// cacheable upstream answer that is not stored, as nginx's not-modified
// filter does for any cacheable answer: 304 (the body left unread) or
// 412. It reports true when the request was answered with 412.
func (cc *clientConn) cacheConditional(h *outHead) bool {
	r := cc.r
	if lm := headerValue(h.fields, "Last-Modified"); lm != nil {
		if t, ok := parseHTTPDate(lm); ok {
			h.lastModified = t
		}
	}
	verdict := cc.notModified(h)
	h.lastModified = time.Time{}
	switch verdict {
	case 304:
		h.status, h.reason, h.contentLength, h.chunked = 304, nil, -1, false
		h.contentType, h.fieldType = "", nil
		h.del(nameContentEncoding)
		r.status = 304
		r.chunkOut = false
		r.framing = http1.FramingNone
		r.resp.KeepAlive = false
	case 412:
		cc.upLogAppend(r.peer.Conf.Addr, r.resp.Status)
		r.up.closeConn()
		cc.w.dropBuf(&r.upIn)
		r.upInLen, r.upPos = 0, 0
		r.respHead = false
		cc.respondError(412)
		return true
	}
	return false
}

// predicate reports whether one of the values of proxy_cache_bypass or
// proxy_no_cache is neither empty nor "0".
func (cc *clientConn) predicate(ts []*vars.Template) bool {
	if len(ts) == 0 {
		return false
	}
	buf := cc.w.getBuf()
	defer cc.w.putBuf(buf)
	for _, t := range ts {
		b := cc.eval(buf[:0], t)
		if len(b) > 0 && string(b) != "0" {
			return true
		}
	}
	return false
}

// cacheLifetime reads an upstream answer's fields for its lifetime as
// nginx 1.22 does, in the order they came: X-Accel-Expires (seconds, or
// "@" and a time), then Cache-Control's s-maxage or max-age (no-cache,
// no-store and private forbid storing) unless an X-Accel-Expires came
// before it, then Expires (a past time forbids storing) unless a lifetime
// is known already; Cache-Control's stale-while-revalidate and
// stale-if-error give the periods it may be sent stale; Set-Cookie and
// "Vary: *" forbid storing. Each unless proxy_ignore_headers names it.
// ok is false when the answer may not be stored; a zero valid leaves
// the lifetime to proxy_cache_valid.
func cacheLifetime(resp *http1.Response, ignore conf.IgnoreHeaders, now time.Time) (valid time.Time, stale cache.Stale, ok bool) {
	xae := false
	for i := range resp.Headers {
		f := &resp.Headers[i]
		switch {
		case http1.EqualFold(f.Name, "X-Accel-Expires"):
			// Seen even when ignored, as nginx notes it before it
			// looks at proxy_ignore_headers.
			xae = true
			if ignore&conf.IgnoreXAccelExpires != 0 {
				continue
			}
			v := f.Value
			if len(v) > 0 && v[0] == '@' {
				if n, ok := decimal(v[1:]); ok {
					valid = time.Time{}
					if n != 0 {
						valid = time.Unix(n, 0)
					}
				}
				continue
			}
			n, ok := decimal(v)
			if !ok {
				continue
			}
			if n == 0 {
				return time.Time{}, stale, false
			}
			valid = now.Add(time.Duration(n) * time.Second)
		case http1.EqualFold(f.Name, "Cache-Control"):
			if ignore&conf.IgnoreCacheControl != 0 || !valid.IsZero() && xae {
				continue
			}
			v := bytes.ToLower(f.Value)
			if bytes.Contains(v, []byte("no-cache")) || bytes.Contains(v, []byte("no-store")) || bytes.Contains(v, []byte("private")) {
				return time.Time{}, stale, false
			}
			age, found, good := cacheControlSeconds(v, "s-maxage=")
			if !found {
				age, found, good = cacheControlSeconds(v, "max-age=")
			}
			if found {
				if !good || age == 0 {
					return time.Time{}, stale, false
				}
				valid = now.Add(time.Duration(age) * time.Second)
			}
			if n, found, good := cacheControlSeconds(v, "stale-while-revalidate="); found {
				if !good {
					return time.Time{}, stale, false
				}
				stale.Updating, stale.Error = n, n
			}
			if n, found, good := cacheControlSeconds(v, "stale-if-error="); found {
				if !good {
					return time.Time{}, stale, false
				}
				stale.Error = n
			}
		case http1.EqualFold(f.Name, "Expires"):
			if ignore&conf.IgnoreExpires != 0 || !valid.IsZero() {
				continue
			}
			t, tok := parseHTTPDate(f.Value)
			if !tok || t.Before(now.Truncate(time.Second)) {
				return time.Time{}, stale, false
			}
			valid = t
		case http1.EqualFold(f.Name, "Set-Cookie"):
			if ignore&conf.IgnoreSetCookie == 0 {
				return time.Time{}, stale, false
			}
		case http1.EqualFold(f.Name, "Vary"):
			if ignore&conf.IgnoreVary != 0 {
				continue
			}
			if v := bytes.TrimSpace(f.Value); string(v) == "*" || len(v) > maxVary {
				return time.Time{}, stale, false
			}
		}
	}
	return valid, stale, true
}

// decimal reads a field value of digits only, as nginx's ngx_atoi.
func decimal(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// maxVary is nginx's NGX_HTTP_CACHE_VARY_LEN: an answer with a longer
// Vary is not stored.
const maxVary = 128

// cacheControlSeconds finds a directive with seconds (name ends in
// "=") in a lower-cased Cache-Control value, anywhere in it as nginx
// looks, and reads its digits up to a comma, semicolon, space or the
// end: good is false when another byte comes first.
func cacheControlSeconds(v []byte, name string) (n int64, found, good bool) {
	i := bytes.Index(v, []byte(name))
	if i < 0 {
		return 0, false, false
	}
	for _, c := range v[i+len(name):] {
		if c == ',' || c == ';' || c == ' ' {
			break
		}
		if c < '0' || c > '9' {
			return 0, true, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true, true
}

// validFor is the lifetime proxy_cache_valid gives a status: the first
// entry that names it or says any.
func validFor(vs []conf.CacheValid, status int) time.Duration {
	for _, v := range vs {
		if v.Status == 0 || v.Status == status {
			return v.Valid
		}
	}
	return 0
}

// requestVariant names an answer's variant as nginx does: the MD5 of
// the main key's MD5 and the request's values of the fields its Vary
// names, so that each variant has a file of its own.
func requestVariant(main cache.Key, vary []byte, hs []http1.Header) [md5.Size]byte {
	d := md5.New()
	d.Write(main[:])
	for _, name := range bytes.FieldsFunc(bytes.ToLower(vary), func(r rune) bool { return r == ',' || r == ' ' }) {
		d.Write(name)
		d.Write([]byte{':'})
		// The Accept- fields of lists are compared by their tokens,
		// whatever spaces and commas separate them.
		normalize := string(name) == "accept-charset" || string(name) == "accept-encoding" || string(name) == "accept-language"
		first := true
		for i := range hs {
			if !http1.EqualFold(hs[i].Name, string(name)) {
				continue
			}
			if !normalize {
				if !first {
					d.Write([]byte{','})
				}
				d.Write(hs[i].Value)
				first = false
				continue
			}
			for _, tok := range bytes.FieldsFunc(hs[i].Value, func(r rune) bool { return r == ',' || r == ' ' }) {
				if !first {
					d.Write([]byte{','})
				}
				d.Write(tok)
				first = false
			}
		}
		d.Write([]byte("\r\n"))
	}
	var out [md5.Size]byte
	d.Sum(out[:0])
	return out
}

// storedVariant is the variant this request asks for of a stored answer
// with a Vary.
func (cc *clientConn) storedVariant(head []byte) [md5.Size]byte {
	var resp http1.Response
	if !parseStoredHead(head, &resp) {
		return [md5.Size]byte{}
	}
	return requestVariant(cc.r.cache.main, headerValue(resp.Headers, "Vary"), cc.r.head.Headers)
}

// rangeBeyond reports whether a Range field asks for bytes from
// proxy_cache_max_range_offset on, as nginx judges it: any range when
// the offset is 0, a suffix range, or a first range starting at the
// offset or beyond.
func rangeBeyond(v []byte, offset int64) bool {
	if v == nil {
		return false
	}
	if offset == 0 {
		return true
	}
	if len(v) < 7 || !http1.EqualFold(v[:6], "bytes=") {
		return false
	}
	v = bytes.TrimLeft(v[6:], " ")
	if len(v) > 0 && v[0] == '-' {
		return true
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' || n > (1<<62)/10 {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n >= offset
}
