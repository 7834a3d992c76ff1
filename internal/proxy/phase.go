package proxy

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
	// phaseQueued: the request waits for a connection slot for its
	// upstream.
	phaseQueued
	// phaseUpQueued: the request waits in its upstream group's queue for
	// a server below its max_conns.
	phaseUpQueued
	// phaseRetry: the request found no descriptor or local port for its
	// upstream connection and tries again shortly.
	phaseRetry
	// phaseProxy: the request is with an upstream: its body goes out,
	// its response comes back.
	phaseProxy
	// phaseRespond: headroom answers itself (return, error page, status
	// views).
	phaseRespond
)

// requestReadable handles the client's bytes (or its close) while a
// request is in progress.
func (cc *clientConn) requestReadable() {
	r := cc.r
	switch r.phase {
	case phaseProxy:
		if r.bufferBody {
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
	case phaseQueued, phaseUpQueued, phaseDelayed, phaseRetry:
		// proxy_ignore_client_abort keeps a request waiting for its
		// upstream, not one limit_req holds back (nginx's limit_req
		// stops a request whose client closed, whatever the setting).
		if cc.tr.PeerClosed() && (r.phase == phaseDelayed || !r.lc.ProxyIgnoreClientAbort) {
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
		// A generated response that had to wait for the client.
		if r.finishing {
			cc.finish()
		}
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
	case phaseRetry:
		cc.retryResources()
	case phaseProxy:
		if !r.bodyDone {
			// client_body_timeout
			r.status = 408
			cc.abort()
			return
		}
		// send_timeout
		r.status = 0
		cc.abort()
	default:
		cc.close()
	}
}
