package proxy

import (
	"sync"
	"time"

	"headroom/internal/engine"
	"headroom/internal/logs"
)

// A graceful shutdown — SIGQUIT, or the old configuration's workers after
// a reload — goes as nginx's: the workers stop accepting (the listening
// sockets stay open for the new workers, or until exit), idle keep-alive
// connections are closed, requests in progress finish and their answers
// close their connections, and each worker ends when it has no client
// left, or when worker_shutdown_timeout has passed.
//
// An idle client is closed only after it has been idle for
// idleEvictAfter, as under pressure: a client that is about to send its
// next request gets an answer with "Connection: close" instead of a
// connection closed under its request.

// Drain shuts the server down gracefully. It returns at once; the
// channel is closed when every worker has ended and the server's sockets
// (except those handed to a successor) and files are closed. timeout 0
// means no bound. With stopListening (a shutdown, not a reload) the
// listening sockets close as soon as no worker accepts from them, so that
// new clients are refused at once instead of waiting in a queue nobody
// serves.
func (s *Server) Drain(timeout time.Duration, stopListening bool) <-chan struct{} {
	// The successor, if any, fetches its own OCSP responses; this
	// server's connections keep those already fetched.
	s.stapler.close()
	done := make(chan struct{})
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	var begun sync.WaitGroup
	for _, w := range s.workers {
		begun.Add(1)
		if !w.loop.Post(func() {
			w.beginDrain(deadline)
			begun.Done()
		}) {
			begun.Done()
		}
	}
	var timer *time.Timer
	if timeout > 0 {
		// Each worker looks at its deadline once a second; this makes it
		// look when the time is up.
		timer = time.AfterFunc(timeout, func() {
			for _, w := range s.workers {
				w.loop.Post(w.drainStep)
			}
		})
	}
	go func() {
		if stopListening {
			begun.Wait()
			s.closeListeners()
		}
		s.wg.Wait()
		if timer != nil {
			timer.Stop()
		}
		s.finish()
		close(done)
	}()
	return done
}

// beginDrain runs on the worker's thread.
func (w *worker) beginDrain(deadline time.Time) {
	if w.draining {
		return
	}
	w.draining = true
	w.drainDeadline = deadline
	w.srv.log.Logf(logs.Notice, w.id, "gracefully shutting down")
	for _, c := range w.listenConns {
		c.Detach()
	}
	w.listenConns = nil
	// HTTP/2 clients are told that no new streams will be taken; each
	// connection closes once its streams end.
	w.loop.Each(engine.KindClient, func(c *engine.Conn) {
		if hc, ok := c.Data.(*h2Conn); ok {
			hc.goAway()
		}
	})
	w.drainStep()
}

// drainStep closes what may be closed and ends the loop when nothing is
// left; it runs at the start of a drain, after each round of events with
// no client left, and once a second.
func (w *worker) drainStep() {
	if w.drained {
		return
	}
	now := w.loop.Now()
	if !w.drainDeadline.IsZero() && !now.Before(w.drainDeadline) {
		w.closeAll()
	}
	for w.idleHead != nil && now.Sub(w.idleHead.idleSince) >= idleEvictAfter {
		w.idleHead.close()
	}
	// Nobody new will need an idle upstream connection.
	for w.closeIdleUpstream() {
	}
	if w.loop.InUse(engine.KindClient) == 0 && w.loop.InUse(engine.KindUpstream) == 0 {
		w.drained = true
		// The last figures readers see from this worker are its final
		// ones: nothing open.
		w.publish()
		w.srv.log.Logf(logs.Notice, w.id, "exiting")
		w.loop.Stop()
	}
}

// closeAll closes every connection the worker holds: worker_shutdown_timeout
// has passed.
func (w *worker) closeAll() {
	n := 0
	w.loop.Each(engine.KindClient, func(c *engine.Conn) {
		if hc, ok := c.Data.(*h2Conn); ok {
			hc.close()
			n++
			return
		}
		if cc, ok := c.Data.(*clientConn); ok && cc.state != connClosed {
			cc.close()
			n++
		}
	})
	if n > 0 {
		w.srv.log.Logf(logs.Warn, w.id, "worker_shutdown_timeout: %d connections closed", n)
	}
}
