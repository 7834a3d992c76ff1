package proxy

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/capacity"
	"headroom/internal/conf"
	"headroom/internal/observe"
)

// respondObserve answers a location whose handler is one of headroom's
// views of itself: stub_status, metrics or the status page.
func (cc *clientConn) respondObserve(h conf.Handler) {
	r := cc.r
	if m := r.head.Method; !bytes.Equal(m, []byte("GET")) && !bytes.Equal(m, []byte("HEAD")) {
		// As nginx's stub_status: only GET and HEAD.
		cc.respondError(405)
		return
	}
	// The figures include this request as one being written, not read,
	// as nginx counts it; the worker's own gauges are made current.
	cc.setPhase(phaseRespond)
	w := cc.w
	w.publish()
	var body []byte
	var ctype string
	switch h {
	case conf.HandlerStubStatus:
		// Only the connection figures: a page polled often need not
		// gather listeners, zones and upstreams.
		t := w.srv.totals()
		body = observe.AppendStubStatus(nil, t.connections())
		ctype = "text/plain"
	case conf.HandlerMetrics:
		body = observe.AppendPrometheus(nil, w.srv.Snapshot())
		ctype = "text/plain; version=0.0.4; charset=utf-8"
		r.noStore = true
	case conf.HandlerStatusPage:
		r.noStore = true
		if wantsJSON(r.head.Query) {
			body, _ = json.Marshal(w.srv.Snapshot())
			ctype = "application/json"
		} else {
			body = observe.StatusPage
			ctype = "text/html; charset=utf-8"
		}
	}
	cc.respond(200, 200, ctype, body)
}

// wantsJSON reports whether the query asks for the status page's figures
// ("format=json" among its parameters).
func wantsJSON(query []byte) bool {
	for _, p := range strings.Split(string(query), "&") {
		if p == "format=json" {
			return true
		}
	}
	return false
}

// processStart is when the process started: uptime is the process's, as
// a reload starts new workers but not a new server.
var processStart = time.Now()

// carried are the server-wide figures that outlive a reload, as nginx's
// stub_status counters live in shared memory across its reloads: the
// counters of the servers this one replaced are added to its own, and the
// connections of one still draining count as open.
type carried struct {
	conns     observe.Connections
	responses [len(observe.ClassNames)]uint64
	pressure  observe.Pressure
	buffering observe.Buffering
	queueWait observe.HistogramSnapshot
	tls       observe.TLS
}

// connections are stub_status's figures; writing is what is neither
// reading nor waiting, as nginx's three states add up to the active
// connections.
func (c *carried) connections() observe.Connections {
	conns := c.conns
	conns.Writing = max(conns.Active-conns.Reading-conns.Waiting, 0)
	return conns
}

func (c *carried) add(o *carried) {
	c.conns.Active += o.conns.Active
	c.conns.Reading += o.conns.Reading
	c.conns.Waiting += o.conns.Waiting
	c.conns.Accepted += o.conns.Accepted
	c.conns.Handled += o.conns.Handled
	c.conns.Requests += o.conns.Requests
	for k := range c.responses {
		c.responses[k] += o.responses[k]
	}
	p, q := &c.pressure, &o.pressure
	p.AcceptPaused += q.AcceptPaused
	p.IdleClientsClosed += q.IdleClientsClosed
	p.IdleUpstreamsClosed += q.IdleUpstreamsClosed
	p.Rotated += q.Rotated
	p.Queued += q.Queued
	p.Rejected += q.Rejected
	p.SlowHeadsClosed += q.SlowHeadsClosed
	p.SlowBodiesClosed += q.SlowBodiesClosed
	p.SlowReadersClosed += q.SlowReadersClosed
	c.buffering.BodiesToFile += o.buffering.BodiesToFile
	c.buffering.ResponsesToFile += o.buffering.ResponsesToFile
	c.buffering.TempFileWaits += o.buffering.TempFileWaits
	for i := range c.queueWait.Buckets {
		c.queueWait.Buckets[i] += o.queueWait.Buckets[i]
	}
	c.queueWait.Count += o.queueWait.Count
	c.queueWait.Sum += o.queueWait.Sum
	c.tls.Add(o.tls)
}

// totals sums the server's own workers, the counters inherited from the
// servers it replaced (base), and the predecessor still draining, if any.
func (s *Server) totals() carried {
	var t carried
	for i := range s.workers {
		st := &s.stats[i]
		idle := st.ClientIdle.Load()
		t.conns.Active += st.ClientActive.Load() + idle
		t.conns.Waiting += idle
		t.conns.Reading += st.Reading.Load()
		t.conns.Accepted += st.Accepted.Load()
		t.conns.Handled += st.Handled.Load()
		t.conns.Requests += st.Requests.Load()
		for k := range t.responses {
			t.responses[k] += st.Responses[k].Load()
		}
		p := &t.pressure
		p.AcceptPaused += st.AcceptPaused.Load()
		p.IdleClientsClosed += st.IdleClientsClosed.Load()
		p.IdleUpstreamsClosed += st.IdleUpstreamsClosed.Load()
		p.Rotated += st.Rotated.Load()
		p.Queued += st.Queued.Load()
		p.Rejected += st.Rejected.Load()
		p.SlowHeadsClosed += st.SlowHeadsClosed.Load()
		p.SlowBodiesClosed += st.SlowBodiesClosed.Load()
		p.SlowReadersClosed += st.SlowReadersClosed.Load()
		t.buffering.BodiesToFile += st.BodiesToFile.Load()
		t.buffering.ResponsesToFile += st.ResponsesToFile.Load()
		t.buffering.TempFileWaits += st.TempFileWaits.Load()
		t.buffering.TempFiles += st.TempFiles.Load()
		t.buffering.TempFilesLimit += int64(s.opts.TempFiles)
		st.QueueWait.AddTo(&t.queueWait)
		st.AddTLSTo(&t.tls)
	}
	s.prevMu.Lock()
	base, prev := s.base, s.prev
	s.prevMu.Unlock()
	t.add(&base)
	if prev != nil {
		pt := prev.totals()
		t.add(&pt)
	}
	return t
}

// PredecessorDone folds the figures of the server this one replaced into
// its own once that server has ended, so that the chain of servers does
// not grow with every reload.
func (s *Server) PredecessorDone() {
	s.prevMu.Lock()
	prev := s.prev
	s.prevMu.Unlock()
	if prev == nil {
		return
	}
	pt := prev.totals()
	// An ended server has no open connection left to count.
	pt.conns.Active, pt.conns.Reading, pt.conns.Waiting = 0, 0, 0
	s.prevMu.Lock()
	s.base.add(&pt)
	s.prev = nil
	s.prevMu.Unlock()
}

// Snapshot gathers every worker's figures. It may run on any thread: it
// only reads what workers publish.
func (s *Server) Snapshot() *observe.Snapshot {
	now := time.Now()
	snap := &observe.Snapshot{
		Version:       s.opts.Version,
		NginxVersion:  NginxVersion,
		PID:           os.Getpid(),
		TimeMs:        now.UnixMilli(),
		UptimeSeconds: now.Sub(processStart).Seconds(),
		Responses:     map[string]uint64{},
		// Empty lists are [] in the JSON, not null, for simpler readers.
		Workers:   []observe.WorkerSnapshot{},
		Listeners: []observe.ListenerSnapshot{},
		Zones:     []observe.ZoneSnapshot{},
		Upstreams: []observe.UpstreamSnapshot{},
	}
	for i, w := range s.workers {
		st := &s.stats[i]
		snap.Workers = append(snap.Workers, observe.WorkerSnapshot{
			ID:             w.id,
			Slots:          w.loop.Slots(),
			ClientBudget:   w.clientBudget,
			ClientActive:   st.ClientActive.Load(),
			ClientIdle:     st.ClientIdle.Load(),
			UpstreamActive: st.UpstreamActive.Load(),
			UpstreamIdle:   st.UpstreamIdle.Load(),
			Store:          st.Store.Load(),
			AcceptPaused:   st.Paused.Load() != 0,
			SlotQueue:      st.SlotQueue.Load(),
		})
	}
	t := s.totals()
	snap.Connections = t.connections()
	for k, name := range observe.ClassNames {
		snap.Responses[name] = t.responses[k]
	}
	snap.Pressure = t.pressure
	snap.Buffering = t.buffering
	snap.QueueWait = t.queueWait
	snap.TLS = t.tls
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	for _, ln := range s.listeners {
		ls := observe.ListenerSnapshot{Address: ln.addr, Backlog: ln.backlog}
		if ls.Backlog <= 0 {
			ls.Backlog = capacity.DefaultBacklog()
		}
		for _, fd := range ln.fds {
			if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				// For a listening socket the kernel reports the accept
				// queue's length in tcpi_unacked.
				ls.Queue += int(info.Unacked)
			}
		}
		snap.Listeners = append(snap.Listeners, ls)
	}
	s.snapshotZones(snap)
	s.snapshotUpstreams(snap, now)
	return snap
}

func (s *Server) snapshotZones(snap *observe.Snapshot) {
	for z, cz := range s.connZones {
		zs := observe.ZoneSnapshot{Name: z.Name, Kind: "limit_conn", Rejected: cz.rejected.Load()}
		if z.Sync {
			zs.Sync = &observe.ZoneSyncFigures{Store: cz.storeDecided.Load(), Fallback: cz.fallbacks.Load(), Errors: cz.syncErrors.Load()}
		}
		snap.Zones = append(snap.Zones, zs)
	}
	for z, rz := range s.reqZones {
		zs := observe.ZoneSnapshot{Name: z.Name, Kind: "limit_req", Rejected: rz.rejected.Load(), Delayed: rz.delayed.Load()}
		if z.Sync {
			zs.Sync = &observe.ZoneSyncFigures{Store: rz.storeDecided.Load(), Fallback: rz.fallbacks.Load(), CachedRefusals: rz.cachedRefusals.Load(), Errors: rz.syncErrors.Load()}
		}
		snap.Zones = append(snap.Zones, zs)
	}
	for p, c := range s.caches {
		st := c.Stats()
		cs := observe.CacheSnapshot{Zone: p.Zone, Path: p.Path, Keys: st.Keys, MaxKeys: st.MaxKeys, Stored: st.Stored,
			Size: st.Size, MaxSize: p.MaxSize, Statuses: map[string]uint64{}}
		counts := s.cacheCounts[c]
		for i := range counts {
			if i != int(cacheNone) {
				cs.Statuses[cacheStatusNames[i]] = counts[i].Load()
			}
		}
		snap.Caches = append(snap.Caches, cs)
	}
	slices.SortFunc(snap.Caches, func(a, b observe.CacheSnapshot) int { return strings.Compare(a.Zone, b.Zone) })
	if zc := s.cfg.HTTP.ZoneSync; zc != nil {
		snap.Store = &observe.StoreSnapshot{URL: zc.URL, Connected: int(s.storeUp.Load()), Workers: len(s.workers),
			RoundTripSeconds: float64(s.storeRTT.Load()) / 1e9, Instances: s.fleetSize.Load(), Fallback: zc.Fallback.String()}
	}
	slices.SortFunc(snap.Zones, func(a, b observe.ZoneSnapshot) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
}

func (s *Server) snapshotUpstreams(snap *observe.Snapshot, now time.Time) {
	nowNs := now.UnixNano()
	for u, per := range s.upStats {
		us := observe.UpstreamSnapshot{Name: u.Name, QueueMax: u.Queue}
		if u.Queue > 0 {
			us.Queue = s.shared(u).Queued()
		}
		for i, sc := range u.Servers {
			sv := observe.ServerSnapshot{Address: sc.Addr, MaxConns: sc.MaxConns, State: "up"}
			unavailable := false
			for _, ws := range per {
				st := &ws[i]
				sv.Active += st.Active.Load()
				sv.Idle += st.Idle.Load()
				sv.Requests += st.Requests.Load()
				sv.Failures += st.Failures.Load()
				st.Response.AddTo(&sv.Response)
				if until := st.UnavailableUntil.Load(); until > nowNs {
					unavailable = true
				}
			}
			switch {
			case sc.Down:
				sv.State = "down"
			case unavailable:
				sv.State = "unavailable"
			case sc.Backup:
				sv.State = "backup"
			}
			us.Servers = append(us.Servers, sv)
		}
		snap.Upstreams = append(snap.Upstreams, us)
	}
	slices.SortFunc(snap.Upstreams, func(a, b observe.UpstreamSnapshot) int { return strings.Compare(a.Name, b.Name) })
}
