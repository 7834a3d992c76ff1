package proxy

import (
	"time"

	"headroom/internal/engine"
	"headroom/internal/http1"
)

// This file is nginx's post_action: once a request's answer has been
// sent, the request goes on to the post_action URI or named location as
// if redirected there, and whatever that answers is thrown away (nginx
// marks the request header-only and HTTP/0.9, so that nothing reaches
// the client). The access log line is written once, when the post action
// ends, so it shows the post action's URI and the first answer's bytes.

// postActionState is what a request keeps of its first answer while its
// post action runs.
type postActionState struct {
	status, errStatus   int
	bytesSent, bodySent int64
	keepAlive           bool
	// body is the request body's state when a part of it was still
	// unread: it is read and dropped once the post action is over.
	body          requestBody
	unread        bool
	contentLength int64
	chunked       bool
	// cacheUpdate marks proxy_cache_background_update's fetch, which
	// leaves the log the first answer's status and $upstream_cache_status
	// (cacheStatus).
	cacheUpdate bool
	cacheStatus uint8
}

// startPostAction starts the location's post_action, if it has one and
// the request is not one already; it reports whether it did, and the
// request then finishes when the post action does.
func (cc *clientConn) startPostAction() bool {
	r := cc.r
	if r.postAction != nil || r.lc == nil || r.lc.PostAction == "" {
		return false
	}
	cc.afterAnswer()
	target := r.lc.PostAction
	if target[0] == '/' {
		cc.internalRedirect([]byte(target), nil)
	} else {
		cc.namedRedirect([]byte(target))
	}
	return true
}

// afterAnswer readies a request whose answer was sent to go on with a
// post action or a cache update: what it holds of the answer is kept for
// the log and released, and what it writes from now on is dropped.
func (cc *clientConn) afterAnswer() *postActionState {
	r := cc.r
	pa := &postActionState{status: r.status, errStatus: r.errStatus, bytesSent: r.bytesSent, bodySent: r.bodySent, keepAlive: r.keepAlive,
		unread: !r.bodyDone, contentLength: r.head.ContentLength, chunked: r.head.Chunked}
	if pa.unread {
		pa.body = r.requestBody
	}
	r.postAction = pa
	cc.resetAnswer()
	cc.tr = &discardTransport{inner: cc.tr}
	// What follows has no body to pass on: what was read of it went
	// with the first answer, and what is unread is dropped after it.
	r.bodyDone, r.bodyLeft, r.bufferBody = true, 0, false
	r.head.ContentLength, r.head.Chunked = 0, false
	return pa
}

// endPostAction gives the connection its transport back and the request
// the figures of its first answer, which the access log shows, as nginx's
// do: the bytes sent, and the status of the post action's answer, unless
// the first answer was an error or redirect (nginx's err_status) and the
// post action's was not.
func (cc *clientConn) endPostAction() {
	r := cc.r
	pa := r.postAction
	if d, ok := cc.tr.(*discardTransport); ok {
		cc.tr = d.inner
	}
	r.bytesSent, r.bodySent = pa.bytesSent, pa.bodySent
	r.head.ContentLength, r.head.Chunked = pa.contentLength, pa.chunked
	if pa.unread {
		r.requestBody = pa.body
	}
	r.keepAlive = r.keepAlive && pa.keepAlive
	if pa.cacheUpdate || r.errStatus == 0 && pa.errStatus != 0 {
		r.status, r.errStatus = pa.status, pa.errStatus
	}
	if pa.cacheUpdate {
		r.cache.status = pa.cacheStatus
	}
}

// resetAnswer clears what a request holds of an answer that has been
// sent, so that the post action can make one of its own.
func (cc *clientConn) resetAnswer() {
	r := cc.r
	w := cc.w
	r.releaseFilters(w)
	w.dropBuf(&r.upIn)
	w.dropBuf(&r.upOut)
	r.responseBody = responseBody{}
	a := &r.upstreamAttempt
	a.upInLen, a.upPos, a.upOutOff = 0, 0, 0
	a.upHead, a.respHead, a.respDone, a.upDone, a.sent, a.upWhole = false, false, false, false, false, false
	a.framing, a.respLeft, a.respDec, a.chunkOut = 0, 0, http1.ChunkedDecoder{}, false
	a.upHeadLen, a.fileOff = 0, 0
	r.finishing, r.trailers, r.sentTrailers = false, false, nil
	r.gzipped, r.staticGzip, r.gzipVary = false, false, false
	r.outHead.reset()
	r.file = staticFile{}
	r.carried, r.carriedType = nil, nil
	r.location, r.unsatisfied = nil, false
	r.answerModified = time.Time{}
	r.errStatus = 0
	cc.out, cc.outOff = cc.out[:0], 0
}

// discardTransport stands in for the client's transport while a post
// action runs: what it writes is dropped as if the client took it, and
// nothing more is read from the client until the request ends.
type discardTransport struct {
	inner transport
}

func (t *discardTransport) Read(p []byte) (int, error)  { return 0, engine.ErrAgain }
func (t *discardTransport) Write(p []byte) (int, error) { return len(p), nil }
func (t *discardTransport) Readable() bool              { return false }
func (t *discardTransport) PeerClosed() bool            { return t.inner.PeerClosed() }
func (t *discardTransport) CloseWrite()                 {}
func (t *discardTransport) Close()                      { t.inner.Close() }
func (t *discardTransport) Flush() (bool, error)        { return true, nil }

// SendFile drops a file's bytes without reading them.
func (t *discardTransport) SendFile(fd int, off *int64, n int) (int, error) {
	*off += int64(n)
	return n, nil
}
