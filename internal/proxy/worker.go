package proxy

import (
	crand "crypto/rand"
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/capacity"
	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/logs"
	"headroom/internal/observe"
	"headroom/internal/upstream"
)

// bufSize is the size of the buffers used to read heads and move bodies.
// A buffer is taken from the worker's pool when bytes arrive and returned
// when the connection goes idle, so an idle keep-alive connection holds
// none.
const bufSize = 16 << 10

// worker is one event loop and everything it owns.
type worker struct {
	id   int
	srv  *Server
	loop *engine.Loop

	// groups are this worker's balancer and keep-alive pool per upstream.
	groups map[*conf.Upstream]*upGroup

	bufs    [][]byte
	bigBufs [][]byte
	clients []*clientConn
	// upTLS are the client configurations of TLS to upstreams.
	upTLS upTLSConfigs
	// tlsFree are TLS transports of closed connections, for reuse.
	tlsFree []*tlsTransport
	// h2Bufs are HTTP/2 connections' frame buffers for reuse; h2Pending
	// the connections whose frames go out after this round of events.
	h2Bufs    [][]byte
	h2Pending []*h2Conn
	// subWakes are the subrequests with calls deferred to the round's
	// end (subrequest.go); subWakesSpare is the other list, reused.
	subWakes, subWakesSpare []*subrequest
	subParents              []parentWake
	// ssiStates are SSI stages of finished answers, for reuse.
	ssiStates []*ssiState
	// userFile holds the last auth_basic user file read, for its
	// buffer.
	userFile []byte
	// passwords keeps auth_basic's recent matches of slow hashes.
	passwords passwordCache
	// subFilters are sub filter stages of finished answers, for reuse.
	subFilters []*subFilterState
	requests   []*request
	logBufs    map[string]*logs.AccessBuffer
	// logCaches are the open_log_file_cache caches in use and logPath
	// a buffer for the paths of access logs with variables (varlog.go).
	logCaches map[*conf.OpenLogFileCache]*logFileCache
	logPath   []byte
	logLine   []byte
	// pathBuf holds the NUL-terminated path of a file being opened.
	pathBuf []byte
	// overfull lists the upstream groups whose keep-alive pool holds
	// more than keepalive connections until the round of events ends.
	overfull []*upGroup
	// fileName holds the file name a URI maps to while the static
	// handler opens it, so that serving a file allocates nothing.
	fileName []byte
	// fileCaches are the open_file_cache caches in use, fromBuf a buffer
	// for disable_symlinks' from= (openfile.go).
	fileCaches map[*conf.OpenFileCache]*fileCache
	fromBuf    []byte
	// logsPending is set when an access log line waits in logBufs,
	// logsBuffered while lines wait in a buffer= of their file.
	logsPending  bool
	logsBuffered bool
	// rand makes $request_id: a generator per worker, seeded from the
	// system's, so that making one takes no lock and no system call.
	rand *rand.ChaCha8
	// gzips are the compressors not in use (gzip.go), gunzips the
	// decompressors (bodyfilter.go).
	gzips   gzipPool
	gunzips gunzipPool
	// dynUps are the groups made for the addresses proxy_pass with
	// variables named.
	dynUps map[string]*conf.Upstream
	// dns is the resolver's state (resolver.go); nil when no location
	// has a resolver.
	dns *dnsClient
	// sync is the client of the zone_sync store (zonesync.go); nil
	// without one.
	sync *syncClient
	// idleHead and idleTail hold the idle keep-alive clients, oldest
	// first; waiting holds requests queued for a connection slot.
	idleHead, idleTail *clientConn
	waiting            []*clientConn
	// stats are the worker's figures for stub_status, metrics and the
	// status page; states counts client connections per state.
	stats     *observe.Worker
	states    [numConnStates]int
	published time.Time
	// waitSeq numbers waits in upstream queues.
	waitSeq uint64
	// backlog is how many clients waited in the listen backlogs when last
	// measured, at backlogAt (clientsWaiting).
	backlog   int
	backlogAt time.Time
	// shedAt is when the worker last looked for slow clients to close
	// under pressure; shedCands is the list it reuses (see shed.go).
	shedAt    time.Time
	shedCands []shedCandidate
	// slowLeft is how many clients the last look found waiting on their
	// client (see waitingOnClient): while there are some, waiting clients
	// get their slots once they prove slow, and clients that make
	// progress keep their connections rather than take turns.
	slowLeft int
	// listenFds are the listening sockets this worker accepts from, and
	// listenConns their slots.
	listenFds   []int
	listenConns []*engine.Conn
	// draining is set once the worker stops accepting for a graceful
	// shutdown: answers close their connections and the loop ends when
	// no client is left (see drain.go).
	draining      bool
	drained       bool
	drainDeadline time.Time
	// clientBudget is how many slots clients may hold (see
	// capacity.ClientBudget).
	clientBudget int
	// tempOpen counts the temporary files open, which tempBudget bounds
	// (0: unbounded); tempWaiters are requests whose bodies wait for one
	// (see tempfile.go).
	tempOpen    int
	tempBudget  int
	tempWaiters []*clientConn
	date        []byte
	dateSec     int64
	lastWarn    map[string]time.Time
}

func newWorker(s *Server, id int) (*worker, error) {
	loop, err := engine.New(engine.Config{ID: id, Slots: s.opts.Slots})
	if err != nil {
		return nil, err
	}
	w := &worker{id: id, srv: s, loop: loop, groups: map[*conf.Upstream]*upGroup{}, logBufs: map[string]*logs.AccessBuffer{}, stats: &s.stats[id]}
	buffering := map[string]conf.AccessLog{}
	s.cfg.EachLocConf(func(lc *conf.LocConf) {
		for _, al := range lc.AccessLogs {
			if _, ok := buffering[al.Path]; !ok && al.PathTemplate == nil {
				buffering[al.Path] = al
			}
		}
	})
	for _, p := range s.access.Paths() {
		al := buffering[p]
		w.logBufs[p] = &logs.AccessBuffer{Path: p, Size: al.Buffer, FlushAfter: al.Flush, Gzip: al.Gzip}
	}
	var seed [32]byte
	crand.Read(seed[:])
	w.rand = rand.NewChaCha8(seed)
	// The resolver's sockets, like the listeners, hold their slots for
	// the worker's life, so they are set aside before the budget is
	// halved between clients and their upstreams.
	nres, err := w.openResolver()
	if err != nil {
		loop.Close()
		return nil, err
	}
	// So is the connection to the zone_sync store.
	w.clientBudget = capacity.ClientBudget(s.opts.Slots, len(s.listeners)+nres+s.cfg.StoreSockets())
	w.tempBudget = s.opts.TempFiles
	loop.OnTick = w.tick
	loop.AfterEvents = w.afterEvents
	loop.Owner = w
	w.openSync()
	for _, ln := range s.listeners {
		fd := ln.fds[0]
		if ln.reuse {
			fd = ln.fds[id]
		}
		c, err := loop.AddListener(fd, !ln.reuse, ln)
		if err != nil {
			loop.Close()
			return nil, err
		}
		c.OnRead = onAccept
		c.OnTimer = onAcceptResume
		w.listenFds = append(w.listenFds, fd)
		w.listenConns = append(w.listenConns, c)
	}
	return w, nil
}

// dynamicUpstream returns the group for an address a proxy_pass with
// variables named, made on first use and kept for the next requests to
// it; the worker keeps a bounded number of them.
func (w *worker) dynamicUpstream(addr string) *conf.Upstream {
	if u := w.dynUps[addr]; u != nil {
		return u
	}
	w.trimDynamic()
	u := conf.DynamicUpstream(addr, addr)
	w.dynUps[addr] = u
	// The group's state is this worker's own: no other worker knows
	// the group, and the server's tables keep only the configuration's.
	w.groups[u] = &upGroup{Group: upstream.NewGroup(u, upstream.NewShared(u)), stats: make([]observe.Server, len(u.Servers))}
	return u
}

// trimDynamic keeps the groups made for proxy_pass with variables within
// maxDynamicUpstreams.
func (w *worker) trimDynamic() {
	if len(w.dynUps) >= maxDynamicUpstreams {
		// Addresses the requests chose; forget them all rather than let
		// them grow without bound (a request in progress keeps its
		// group).
		for _, u := range w.dynUps {
			delete(w.groups, u)
		}
		clear(w.dynUps)
	}
	if w.dynUps == nil {
		w.dynUps = map[string]*conf.Upstream{}
	}
}

// maxDynamicUpstreams bounds the groups a worker keeps for the addresses
// of proxy_pass with variables.
const maxDynamicUpstreams = 256

// group returns this worker's state for an upstream, creating it on first
// use.
func (w *worker) group(u *conf.Upstream) *upGroup {
	g := w.groups[u]
	if g == nil {
		g = &upGroup{Group: upstream.NewGroup(u, w.srv.shared(u)), stats: w.srv.serverStats(u, w.id)}
		w.groups[u] = g
	}
	return g
}

func (w *worker) getBuf() []byte {
	if n := len(w.bufs); n > 0 {
		b := w.bufs[n-1]
		w.bufs = w.bufs[:n-1]
		return b
	}
	return make([]byte, bufSize)
}

// dropBuf returns *b to the pool, if set, and clears it.
func (w *worker) dropBuf(b *[]byte) {
	if *b != nil {
		w.putBuf(*b)
		*b = nil
	}
}

func (w *worker) putBuf(b []byte) {
	if cap(b) == bufSize {
		w.bufs = append(w.bufs, b[:bufSize])
	}
}

// getRequest takes a request object from the worker's pool: only
// connections with a request in progress hold one.
func (w *worker) getRequest() *request {
	if n := len(w.requests); n > 0 {
		r := w.requests[n-1]
		w.requests = w.requests[:n-1]
		return r
	}
	return &request{}
}

func (w *worker) putRequest(r *request) {
	r.releaseFilters(w)
	r.reset()
	w.requests = append(w.requests, r)
}

// releaseFilters returns what the answer's body filters hold (a
// compressor, the filter chain) to the worker.
func (r *request) releaseFilters(w *worker) {
	if r.gz != nil {
		r.gz.release()
	}
	r.gz = nil
	if r.body != nil {
		r.body.release(w)
		r.body = nil
	}
}

func (w *worker) tick() {
	if w.logsBuffered {
		// flush= of access logs with buffer=, checked each second.
		w.logsBuffered = false
		now := w.loop.Now()
		for _, b := range w.logBufs {
			if b.Due(now) {
				b.Flush(w.srv.access)
			} else if len(b.Buf) > 0 {
				w.logsBuffered = true
			}
		}
	}
	if len(w.logCaches) > 0 {
		now := w.loop.Now()
		for _, c := range w.logCaches {
			c.expire(now)
		}
	}
	if len(w.fileCaches) > 0 {
		now := w.loop.Now().Unix()
		for _, c := range w.fileCaches {
			c.expireInactive(now)
		}
	}
	w.maybeShed()
	if w.sync != nil {
		w.sync.tick()
	}
	w.publish()
	if w.draining {
		w.drainStep()
	}
}

// afterEvents runs after each round of events: queued requests get the
// slots that freed, and the gauges are published for readers on other
// threads, at most every publishEvery so that a busy worker does not
// spend its time on them.
func (w *worker) afterEvents() {
	if w.logsPending {
		// The lines of one round of events go out in one write per
		// file: under load that is far fewer writes than one per
		// request, and a line is in its file as soon as nginx's would
		// be, before the loop waits again. A file with buffer= waits
		// for its buffer to fill or its flush= time.
		w.logsPending = false
		now := w.loop.Now()
		for _, b := range w.logBufs {
			if b.Size == 0 && b.Due(now) {
				b.Flush(w.srv.access)
			} else if len(b.Buf) > 0 {
				w.logsBuffered = true
			}
		}
	}
	w.serveQueue()
	w.serveTempWaiters()
	w.maybeShed()
	w.runSubrequests()
	w.flushH2()
	if len(w.overfull) > 0 {
		w.trimPools()
	}
	if w.sync != nil {
		if w.id == 0 {
			w.sync.leaseIfBusy()
		}
		// The checks of this round go out in one write.
		w.sync.flush()
	}
	if now := w.loop.Now(); now.Sub(w.published) >= publishEvery {
		w.publish()
	}
	if w.draining && w.loop.InUse(engine.KindClient) == 0 {
		w.drainStep()
	}
}

// publishEvery bounds how stale a gauge read by the status page or a
// metrics scrape can be while the worker is busy; an idle worker
// publishes on its once-a-second tick.
const publishEvery = 100 * time.Millisecond

// publish stores the worker's current gauges where other threads read
// them.
func (w *worker) publish() {
	w.published = w.loop.Now()
	st := w.stats
	clients := w.loop.InUse(engine.KindClient)
	idle := w.states[connIdle]
	st.ClientIdle.Set(int64(idle))
	st.ClientActive.Set(int64(clients - idle))
	st.Reading.Set(int64(w.states[connHead]))
	upIdle := 0
	for _, g := range w.groups {
		upIdle += len(g.idle)
		g.publish(w.published)
	}
	st.UpstreamIdle.Set(int64(upIdle))
	st.UpstreamActive.Set(int64(w.loop.InUse(engine.KindUpstream) - upIdle))
	st.Store.Set(int64(w.loop.InUse(engine.KindStore)))
	st.SlotQueue.Set(int64(len(w.waiting)))
	paused := int64(0)
	if w.loop.Paused() {
		paused = 1
	}
	st.Paused.Set(paused)
}

func (w *worker) flushLogs() {
	for _, b := range w.logBufs {
		b.Flush(w.srv.access)
	}
	for _, c := range w.logCaches {
		c.closeAll()
	}
}

// httpDate returns the Date header value, formatted once a second.
func (w *worker) httpDate() []byte {
	now := w.loop.Now()
	if sec := now.Unix(); sec != w.dateSec || w.date == nil {
		w.dateSec = sec
		w.date = now.UTC().AppendFormat(w.date[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
	}
	return w.date
}

// warnf logs at most once a second, so that a flood of the same condition
// does not become a flood of log lines.
func (w *worker) warnf(level logs.Level, format string, args ...any) {
	// Each kind of message (its format) has its own once-a-second
	// allowance, so that one condition does not hide another.
	now := w.loop.Now()
	if last, ok := w.lastWarn[format]; ok && now.Sub(last) < time.Second {
		return
	}
	if w.lastWarn == nil {
		w.lastWarn = map[string]time.Time{}
	}
	w.lastWarn[format] = now
	w.srv.log.Logf(level, w.id, format, args...)
}

// onAccept accepts new connections on a listener. With multi_accept it
// accepts until the backlog is empty, otherwise one per readiness event;
// the listener is level-triggered, so the rest are announced again.
func onAccept(lc *engine.Conn) {
	ln := lc.Data.(*listener)
	w := workerOf(lc)
	multi := w.srv.cfg.Events.MultiAccept
	for {
		// A client is let in only within the worker's client budget, so
		// that its request will find a slot for its upstream connection.
		if w.loop.InUse(engine.KindClient) >= w.clientBudget || w.loop.Free() < 2 {
			w.warnf(logs.Warn, "worker %d out of connection slots, accept paused until connections close: %s", w.id, w.slotReport())
			w.stats.AcceptPaused.Inc()
			lc.PauseAccept(2)
			return
		}
		fd, remote, err := engine.Accept4(lc.Fd)
		if err != nil {
			switch err {
			case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
			case unix.EMFILE, unix.ENFILE:
				w.warnf(logs.Alert, "accept4() failed (%s), accept paused for 500ms: the open file limit %d does not hold %d workers of %d slots and the rest of the process; raise it (LimitNOFILE=, ulimit -n or worker_rlimit_nofile) or lower worker_connections",
					logs.SysError(err), w.srv.opts.Nofile, len(w.srv.workers), w.loop.Slots())
				w.stats.AcceptPaused.Inc()
				lc.PauseAccept(2)
				lc.SetTimer(500 * time.Millisecond)
			default:
				w.warnf(logs.Alert, "accept4() failed (%s)", logs.SysError(err))
			}
			return
		}
		target, local := ln.forLocal(fd)
		w.newClient(fd, remote, local, target, ln.deferred)
		if !multi {
			return
		}
	}
}

// clientsWaiting reports whether more clients wait in the listen backlog
// than this worker has room for: an answer then closes its connection so
// that a waiting client gets a turn, and slots rotate fairly among all
// clients instead of staying with those already connected. The backlog
// (TCP_INFO of the listening sockets; shared by the workers, each taking
// its share) is measured at most once per round of events, and only
// when the worker is near its client budget or has paused accepting: a
// worker with room to spare accepts waiting clients itself.
//
// It compares the backlog with the room rather than asking whether the
// worker is full: the answers that end together in one round each close
// a connection, and a connection closed at once frees its slot at once;
// asking "full?" let only the first of them make room and kept the rest
// of the batch's clients connected while others waited for seconds.
func (w *worker) clientsWaiting() bool {
	room := min(w.clientBudget-w.loop.InUse(engine.KindClient), w.loop.Free()-1)
	if room > max(16, w.clientBudget/8) && !w.loop.Paused() {
		return false
	}
	if now := w.loop.Now(); !now.Equal(w.backlogAt) {
		w.backlogAt = now
		w.backlog = 0
		for _, fd := range w.listenFds {
			if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				w.backlog += int(info.Unacked)
			}
		}
	}
	workers := len(w.srv.workers)
	return (w.backlog+workers-1)/workers > max(room, 0)
}

// onAcceptResume resumes a listener paused after EMFILE.
func onAcceptResume(lc *engine.Conn) {
	lc.Loop().ResumeAccept()
}

func workerOf(c *engine.Conn) *worker {
	return c.Loop().Owner.(*worker)
}
