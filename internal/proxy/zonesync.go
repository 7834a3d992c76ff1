package proxy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/logs"
	"headroom/internal/resp"
	"headroom/internal/upstream"
	"headroom/internal/zonesync"
)

// This file is a worker's client of the zone_sync store (Redis or
// Valkey), run on the worker's event loop like its resolver: one
// non-blocking TCP connection in a slot of kind KindStore, set aside from
// the client budget. A request whose limit_req zone is synced waits in
// phaseSync while its check is in the store: checks made during one round
// of events go out together in one write after it (afterEvents), as a
// pipeline of EVALSHA calls, and their replies come back in order. Each
// check has a deadline (zone_sync's timeout); when the oldest one passes,
// or the connection fails, the store is down: the checks waiting and all
// checks until it is back are decided by the fallback, and the worker
// tries to connect again each second. A new connection first loads the
// scripts; until those replies arrive the fallback goes on deciding, so a
// store that accepts connections but does not answer (stopped) costs a
// request no more than one timeout.

// syncLogEvery bounds the fallback's log lines to one per zone a second.
const syncLogEvery = time.Second

// syncInstanceID names this process in the fleet's set of instances; it
// outlives reloads, which keep the process and so its lease.
var syncInstanceID = func() string {
	var b [6]byte
	rand.Read(b[:])
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}()

// syncState is where a worker's connection to the store is.
type syncState uint8

const (
	// syncDown: no connection; checks go to the fallback and a new
	// connection is tried at the next tick.
	syncDown syncState = iota
	// syncProbing: connected (or connecting), the scripts sent and
	// their replies awaited; checks still go to the fallback.
	syncProbing
	// syncUp: checks go to the store.
	syncUp
)

// syncKind says what a reply in the pipeline answers.
type syncKind uint8

const (
	syncHandshake syncKind = iota
	syncHeartbeat
	syncLimitReq
	syncLimitConn
	// syncWrite is a command no request waits for (a release, a
	// rewrite of the counts): its reply only says whether it failed.
	syncWrite
	// syncLease sets a synced upstream server's places (maxConnsLease).
	syncLease
)

// syncCheck is one command in the pipeline, waiting for its reply.
type syncCheck struct {
	kind syncKind
	// cc is the request that waits for a limit_req check; nil once the
	// request went away (its reply is then read and dropped). waiters
	// are the requests for the same limiting key that arrived while it
	// was in flight (keyLimiting); they are decided again with its reply.
	cc      *clientConn
	waiters []*clientConn
	// zone and key identify a limit_req check's bucket; burst is the
	// limit's burst in thousandths. czone and limit are a limit_conn
	// check's zone and limit.
	zone  *reqZone
	key   string
	burst int64
	czone *connZone
	limit int
	// shared and server are a lease's group and server.
	shared *upstream.Shared
	server int
	// sentAt is when the check was made, deadline when the store is
	// taken to be down if no reply came.
	sentAt, deadline time.Time
}

// syncClient is a worker's connection to the store and its pipeline.
type syncClient struct {
	w     *worker
	cfg   *conf.ZoneSync
	c     *engine.Conn
	state syncState
	// connecting is set until the non-blocking connect completes.
	connecting bool
	// out holds commands not yet written; in the bytes read and not yet
	// parsed.
	out, in []byte
	// pending are the commands sent or queued, in the order of their
	// replies.
	pending []*syncCheck
	// reason says why the store was last found down, for the log.
	reason string
	// refused holds the keys that are limiting: those the store said no
	// request could pass for a while (until then they are refused here),
	// and those refused with room at the next millisecond. inflight is
	// the check in flight for such a key, which the requests for it that
	// arrive meanwhile wait for rather than sending their own: a flood
	// on one key costs the store a check per worker each time the bucket
	// lets one through, not one per request.
	refused  map[refusalKey]refusal
	inflight map[refusalKey]*syncCheck
	// loggedAt is when each zone's fallback was last logged, by kind and
	// name.
	loggedAt map[string]time.Time
	// scratch builds store keys.
	scratch []byte
	// leasedAt is when worker 0 last asked for the places of synced
	// upstream servers; groups are those groups with their shared
	// state, found once (leaseIfBusy looks at them after every round).
	leasedAt time.Time
	groups   []syncedGroup
}

type syncedGroup struct {
	conf   *conf.Upstream
	shared *upstream.Shared
}

// leaseEvery is how often worker 0 asks for places again while a synced
// group has requests waiting or places it does not use: a place one
// instance frees reaches another's queue within about two of these.
const leaseEvery = 100 * time.Millisecond

type refusalKey struct {
	zone *reqZone
	key  string
}

type refusal struct {
	until  time.Time
	excess int64
}

// keyState is what the worker knows of a synced limit_req key.
type keyState uint8

const (
	// keyFree: not limiting as far as the worker knows; a check each.
	keyFree keyState = iota
	// keyRefused: no request can pass before the store's wait is over.
	keyRefused
	// keyLimiting: a request may pass now, but few: one check at a time.
	keyLimiting
)

// maxRefusals bounds the refusal cache; when full it starts over.
const maxRefusals = 65536

// openSync prepares the worker's store client and has the loop connect
// it once it runs (its clock starts then). Requests made before the
// store answers are decided by the fallback: a store that is away delays
// nothing at start.
func (w *worker) openSync() {
	h := w.srv.cfg.HTTP
	if h == nil || h.ZoneSync == nil {
		return
	}
	s := &syncClient{w: w, cfg: h.ZoneSync, refused: map[refusalKey]refusal{}, inflight: map[refusalKey]*syncCheck{}, loggedAt: map[string]time.Time{}, reason: "not connected yet"}
	for _, u := range h.Upstreams {
		if u.Sync {
			s.groups = append(s.groups, syncedGroup{u, w.srv.shared(u)})
		}
	}
	w.sync = s
	w.loop.Post(func() {
		if w.id == 0 {
			// Until the store answers, synced upstream servers allow
			// what the fallback does.
			s.fallbackAllowances()
		}
		if s.state == syncDown && s.c == nil {
			s.connect()
		}
	})
}

// connect opens a connection to the store and queues the handshake: AUTH
// and SELECT where the URL asks for them, and the scripts.
func (s *syncClient) connect() {
	w := s.w
	ap, err := netip.ParseAddrPort(s.cfg.Addr())
	if err != nil {
		s.reason = err.Error()
		return
	}
	if w.loop.Free() == 0 {
		s.reason = "no free connection slot"
		return
	}
	family := unix.AF_INET
	if !ap.Addr().Is4() {
		family = unix.AF_INET6
	}
	fd, err := engine.Socket(family)
	if err != nil {
		s.reason = err.Error()
		return
	}
	engine.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c, err := w.loop.Add(fd, engine.KindStore, s)
	if err != nil {
		engine.Close(fd)
		s.reason = err.Error()
		return
	}
	c.OnRead = onSyncRead
	c.OnWrite = onSyncWrite
	c.OnTimer = onSyncTimer
	s.c = c
	switch err := engine.Connect(fd, sockaddr(ap)); err {
	case nil:
		s.connecting = false
	case unix.EINPROGRESS:
		s.connecting = true
	default:
		s.fail("connect() failed: " + err.Error())
		return
	}
	s.state = syncProbing
	now := w.loop.Now()
	if s.cfg.Password != "" {
		if s.cfg.User != "" {
			s.out = resp.AppendCommand(s.out, "AUTH", s.cfg.User, s.cfg.Password)
		} else {
			s.out = resp.AppendCommand(s.out, "AUTH", s.cfg.Password)
		}
		s.push(&syncCheck{kind: syncHandshake, sentAt: now})
	}
	if s.cfg.DB != 0 {
		s.out = resp.AppendCommand(s.out, "SELECT", strconv.Itoa(s.cfg.DB))
		s.push(&syncCheck{kind: syncHandshake, sentAt: now})
	}
	for _, script := range zonesync.Scripts {
		s.out = resp.AppendCommand(s.out, "SCRIPT", "LOAD", script)
		s.push(&syncCheck{kind: syncHandshake, sentAt: now})
	}
	// Each synced zone's definition, so that doctor can tell instances
	// that share a zone under different terms.
	for _, z := range w.srv.cfg.HTTP.LimitReqZones {
		if z.Sync {
			s.out = resp.AppendCommand(s.out, "HSET", zonesync.ZoneKey(z.Name), syncInstanceID, zonesync.LimitReqDefinition(z.RatePerMinute))
			s.push(&syncCheck{kind: syncHandshake, sentAt: now})
		}
	}
	for _, z := range w.srv.cfg.HTTP.LimitConnZones {
		if z.Sync {
			s.out = resp.AppendCommand(s.out, "HSET", zonesync.ZoneKey(z.Name), syncInstanceID, zonesync.LimitConnDefinition)
			s.push(&syncCheck{kind: syncHandshake, sentAt: now})
		}
	}
	s.heartbeat()
}

// push adds a command to the pipeline with its deadline, arming the
// connection's timer when it is the oldest.
func (s *syncClient) push(k *syncCheck) {
	// A connection that is being made gets a second for its handshake:
	// the timeout is for the answers to requests. No request waits on a
	// connection until its handshake is answered, so deadlines still
	// come in the order of the pipeline and the oldest is the first due.
	k.deadline = k.sentAt.Add(s.cfg.Timeout)
	if s.state == syncProbing {
		k.deadline = k.sentAt.Add(max(s.cfg.Timeout, time.Second))
	}
	s.pending = append(s.pending, k)
	if len(s.pending) == 1 {
		s.c.SetTimer(k.deadline.Sub(s.w.loop.Now()))
	}
}

// heartbeat renews the instance's lease and asks how many instances are
// live, which the share fallback divides the limits by.
func (s *syncClient) heartbeat() {
	s.out = resp.AppendCommand(s.out, "EVALSHA", zonesync.HeartbeatSHA, "1", zonesync.FleetKey, syncInstanceID, strconv.FormatInt(zonesync.Lease.Milliseconds(), 10))
	s.push(&syncCheck{kind: syncHeartbeat, sentAt: s.w.loop.Now()})
}

// tick runs each second: a heartbeat while connected, a new connection
// while down.
func (s *syncClient) tick() {
	switch s.state {
	case syncDown:
		s.connect()
	case syncUp:
		s.heartbeat()
		if s.w.id == 0 {
			s.rewriteCounts()
			s.leaseAll()
		}
	}
	// A tick may come with no event, so no round's end to flush at.
	s.flush()
}

// check queues a limit_req check for the request, which waits for it in
// phaseSync; for a limiting key, the requests that come while it is in
// flight wait for it too (join). It reports false when the store is not
// up, so that the caller decides by the fallback at once.
func (s *syncClient) check(cc *clientConn, z *reqZone, key string, burst int64, limiting bool) bool {
	if s.state != syncUp {
		return false
	}
	rate := strconv.FormatInt(z.rate, 10)
	s.scratch = zonesync.AppendBucketKey(s.scratch[:0], z.conf.Name, key)
	s.evalSHA(zonesync.LimitReqSHA, 1, 2)
	s.out = resp.AppendBulk(s.out, s.scratch)
	s.out = resp.AppendBulkString(s.out, rate)
	s.out = resp.AppendBulkInt(s.out, burst)
	k := &syncCheck{kind: syncLimitReq, cc: cc, zone: z, key: key, burst: burst, sentAt: s.w.loop.Now()}
	s.push(k)
	cc.r.syncWait = k
	if limiting {
		s.inflight[refusalKey{z, key}] = k
	}
	return true
}

// evalSHA appends the start of an EVALSHA of a loaded script: its keys
// and then its arguments are appended next.
func (s *syncClient) evalSHA(sha string, keys, args int) {
	s.out = resp.AppendArrayHeader(s.out, 3+keys+args)
	s.out = resp.AppendBulkString(s.out, "EVALSHA")
	s.out = resp.AppendBulkString(s.out, sha)
	s.out = resp.AppendBulkInt(s.out, int64(keys))
}

// join makes the request wait for the check in flight for its limiting
// key, if there is one.
func (s *syncClient) join(cc *clientConn, z *reqZone, key string) bool {
	k := s.inflight[refusalKey{z, key}]
	if k == nil || s.state != syncUp {
		return false
	}
	k.waiters = append(k.waiters, cc)
	cc.r.syncWait = k
	return true
}

// acquireConn queues a limit_conn check for the request, which waits for
// it in phaseSync; false when the store is not up.
func (s *syncClient) acquireConn(cc *clientConn, z *connZone, key string, limit int) bool {
	if s.state != syncUp {
		return false
	}
	s.scratch = zonesync.AppendConnKey(s.scratch[:0], z.conf.Name, key)
	s.evalSHA(zonesync.LimitConnAcquireSHA, 2, 4)
	s.out = resp.AppendBulk(s.out, s.scratch)
	s.out = resp.AppendBulkString(s.out, zonesync.FleetKey)
	s.out = resp.AppendBulkString(s.out, syncInstanceID)
	s.out = resp.AppendBulkInt(s.out, int64(limit))
	s.out = resp.AppendBulkInt(s.out, zonesync.Lease.Milliseconds())
	s.out = resp.AppendBulkInt(s.out, zonesync.ConnKeyTTL.Milliseconds())
	k := &syncCheck{kind: syncLimitConn, cc: cc, czone: z, key: key, limit: limit, sentAt: s.w.loop.Now()}
	s.push(k)
	cc.r.syncWait = k
	cc.r.syncKey = k.key
	return true
}

// releaseConn gives back a count the store holds for this instance. A
// release that cannot be sent now is not lost: the counts are rewritten
// each second (rewriteCounts).
func (s *syncClient) releaseConn(z *connZone, key string) {
	if s.state != syncUp {
		return
	}
	s.scratch = zonesync.AppendConnKey(s.scratch[:0], z.conf.Name, key)
	s.evalSHA(zonesync.LimitConnReleaseSHA, 1, 1)
	s.out = resp.AppendBulk(s.out, s.scratch)
	s.out = resp.AppendBulkString(s.out, syncInstanceID)
	s.push(&syncCheck{kind: syncWrite, sentAt: s.w.loop.Now()})
}

// rewriteCounts writes this instance's counts of its synced limit_conn
// zones to the store, and removes those that fell to none: a release
// lost while the store was away, or a request counted by the fallback,
// is set right within a second, and the keys this instance holds do not
// expire.
func (s *syncClient) rewriteCounts() {
	now := s.w.loop.Now()
	ttl := strconv.FormatInt(zonesync.ConnKeyTTL.Milliseconds(), 10)
	for cz, z := range s.w.srv.connZones {
		if !cz.Sync {
			continue
		}
		z.mu.Lock()
		for key, n := range z.counts {
			s.scratch = zonesync.AppendConnKey(s.scratch[:0], cz.Name, key)
			s.out = resp.AppendArrayHeader(s.out, 4)
			s.out = resp.AppendBulkString(s.out, "HSET")
			s.out = resp.AppendBulk(s.out, s.scratch)
			s.out = resp.AppendBulkString(s.out, syncInstanceID)
			s.out = resp.AppendBulkInt(s.out, int64(n))
			s.out = resp.AppendArrayHeader(s.out, 3)
			s.out = resp.AppendBulkString(s.out, "PEXPIRE")
			s.out = resp.AppendBulk(s.out, s.scratch)
			s.out = resp.AppendBulkString(s.out, ttl)
			s.push(&syncCheck{kind: syncWrite, sentAt: now})
			s.push(&syncCheck{kind: syncWrite, sentAt: now})
		}
		for key := range z.zeroed {
			if _, held := z.counts[key]; held {
				continue
			}
			s.scratch = zonesync.AppendConnKey(s.scratch[:0], cz.Name, key)
			s.out = resp.AppendArrayHeader(s.out, 3)
			s.out = resp.AppendBulkString(s.out, "HDEL")
			s.out = resp.AppendBulk(s.out, s.scratch)
			s.out = resp.AppendBulkString(s.out, syncInstanceID)
			s.push(&syncCheck{kind: syncWrite, sentAt: now})
		}
		clear(z.zeroed)
		z.mu.Unlock()
	}
}

// syncedGroups calls fn for each upstream group whose max_conns the fleet
// shares, with its shared state.
func (s *syncClient) syncedGroups(fn func(u *conf.Upstream, sh *upstream.Shared)) {
	for _, g := range s.groups {
		fn(g.conf, g.shared)
	}
}

// leaseAll asks the store, each second, for the places of every synced
// group's servers (worker 0 does it for the instance).
func (s *syncClient) leaseAll() {
	s.leasedAt = s.w.loop.Now()
	s.syncedGroups(func(u *conf.Upstream, sh *upstream.Shared) { s.leaseGroup(u, sh) })
}

// leaseIfBusy asks for places again, every leaseEvery rather than each
// second, while a synced group has requests waiting for one or holds
// places beyond its margin: the first get places the others give back,
// the second give them back. It runs after each round of worker 0's
// events and keeps the loop coming round while it is needed.
func (s *syncClient) leaseIfBusy() {
	if s.state != syncUp {
		return
	}
	n := int(max(s.w.srv.fleetSize.Load(), 1))
	busy := false
	s.syncedGroups(func(u *conf.Upstream, sh *upstream.Shared) {
		if sh.Queued() > 0 {
			busy = true
			return
		}
		for i, sc := range u.Servers {
			if sc.MaxConns > 0 && sh.Allowance(i) > sh.Active(i)+leaseMargin(sc.MaxConns, n) {
				busy = true
			}
		}
	})
	if !busy {
		return
	}
	now := s.w.loop.Now()
	if now.Sub(s.leasedAt) >= leaseEvery {
		s.leaseAll()
	}
	s.w.loop.WakeBy(s.leasedAt.Add(leaseEvery))
}

// leaseMargin is how many places beyond those in use an instance keeps
// leased, so that a new request seldom waits for the store: max_conns
// over twice the live instances, at least one.
func leaseMargin(maxConns, instances int) int { return max(maxConns/(2*instances), 1) }

// leaseGroup asks for a group's places: for each server with max_conns,
// those in use, those the queue waits for and a margin (max_conns over
// twice the live instances, at least one), at most max_conns. Places not
// used are given back this way too, within a second, for the other
// instances to take.
func (s *syncClient) leaseGroup(u *conf.Upstream, sh *upstream.Shared) {
	if s.state != syncUp {
		return
	}
	n := int(max(s.w.srv.fleetSize.Load(), 1))
	queued := sh.Queued()
	now := s.w.loop.Now()
	for i, sc := range u.Servers {
		if sc.MaxConns == 0 {
			continue
		}
		want := min(sc.MaxConns, sh.Active(i)+queued+leaseMargin(sc.MaxConns, n))
		s.scratch = zonesync.AppendServerKey(s.scratch[:0], u.Zone, sc.Addr)
		s.evalSHA(zonesync.MaxConnsLeaseSHA, 2, 5)
		s.out = resp.AppendBulk(s.out, s.scratch)
		s.out = resp.AppendBulkString(s.out, zonesync.FleetKey)
		s.out = resp.AppendBulkString(s.out, syncInstanceID)
		s.out = resp.AppendBulkInt(s.out, int64(sc.MaxConns))
		s.out = resp.AppendBulkInt(s.out, int64(want))
		s.out = resp.AppendBulkInt(s.out, zonesync.Lease.Milliseconds())
		s.out = resp.AppendBulkInt(s.out, zonesync.ConnKeyTTL.Milliseconds())
		s.push(&syncCheck{kind: syncLease, shared: sh, server: i, sentAt: now})
	}
}

// fallbackAllowances sets the places of synced groups while the store is
// away, as the fallback says: max_conns divided by the live instances
// (share, at least one), the whole of it (local), or none (deny).
func (s *syncClient) fallbackAllowances() {
	n := int(max(s.w.srv.fleetSize.Load(), 1))
	s.syncedGroups(func(u *conf.Upstream, sh *upstream.Shared) {
		for i, sc := range u.Servers {
			if sc.MaxConns == 0 {
				continue
			}
			switch s.cfg.Fallback {
			case conf.FallbackDeny:
				sh.SetAllowance(i, 0)
			case conf.FallbackLocal:
				sh.SetAllowance(i, sc.MaxConns)
			default:
				sh.SetAllowance(i, max(sc.MaxConns/n, 1))
			}
		}
	})
}

// wantLease asks worker 0, which leases the instance's places, for more
// places for a group whose requests found every server at its
// allowance, at once rather than at its next second.
func (w *worker) wantLease(g *upGroup) {
	sh := g.Shared
	if !sh.WantLease() {
		return
	}
	w0 := w.srv.workers[0]
	u := g.Conf
	if !w0.loop.Post(func() {
		sh.LeaseAsked()
		if s := w0.sync; s != nil {
			s.leaseGroup(u, sh)
			s.flush()
		}
	}) {
		sh.LeaseAsked()
	}
}

// keyState says what the worker knows of a synced limit_req key and, for
// a refused one, the excess to log.
func (s *syncClient) keyState(z *reqZone, key string) (keyState, int64) {
	if len(s.refused) == 0 {
		return keyFree, 0
	}
	rf, ok := s.refused[refusalKey{z, key}]
	switch {
	case !ok:
		return keyFree, 0
	case s.w.loop.Now().Before(rf.until):
		return keyRefused, rf.excess
	}
	return keyLimiting, 0
}

// learn keeps what a reply says of its key: limiting until the wait is
// over (counted from when the check was made, which the store ran
// after), limiting with room at its next millisecond, or free.
func (s *syncClient) learn(k *syncCheck, ok bool, excess, waitUs int64) {
	rk := refusalKey{k.zone, k.key}
	if s.inflight[rk] == k {
		delete(s.inflight, rk)
	}
	if ok && waitUs == 0 {
		delete(s.refused, rk)
		return
	}
	if len(s.refused) >= maxRefusals {
		clear(s.refused)
	}
	if ok {
		// The next request would have this excess and a request's more.
		excess += 1000
	}
	s.refused[rk] = refusal{until: k.sentAt.Add(time.Duration(waitUs) * time.Microsecond), excess: excess}
}

// retryWaiters decides again the requests that waited for a check of
// their limiting key.
func (s *syncClient) retryWaiters(k *syncCheck) {
	waiters := k.waiters
	k.waiters = nil
	for _, cc := range waiters {
		if cc != nil && cc.r.syncWait == k {
			cc.r.syncWait = nil
			cc.afterLimitReqs(cc.limitReqsFrom(cc.r.limitIdx, cc.r.limitDelay))
		}
	}
}

// flush writes what is queued; called after each round of events, so
// that the checks of a round share one write.
func (s *syncClient) flush() {
	if s.c == nil || s.connecting || len(s.out) == 0 {
		return
	}
	n, err := s.c.Write(s.out)
	if err != nil && err != engine.ErrAgain {
		s.fail("send() failed: " + err.Error())
		return
	}
	s.out = s.out[:copy(s.out, s.out[n:])]
}

func onSyncWrite(c *engine.Conn) {
	s := c.Data.(*syncClient)
	if s.connecting {
		if err := engine.SocketError(c.Fd); err != nil {
			s.fail("connect() failed: " + err.Error())
			return
		}
		s.connecting = false
	}
	s.flush()
}

func onSyncRead(c *engine.Conn) {
	s := c.Data.(*syncClient)
	for {
		if cap(s.in)-len(s.in) < 4096 {
			s.in = append(s.in, make([]byte, 4096)...)[:len(s.in)]
		}
		n, err := c.Read(s.in[len(s.in):cap(s.in)])
		if n > 0 {
			s.in = s.in[:len(s.in)+n]
			if !c.ReadReady {
				// A short read drained the socket (Conn.ShortRead).
				break
			}
			continue
		}
		if err == engine.ErrAgain {
			break
		}
		if err != nil || n == 0 {
			s.parse()
			if s.c != nil {
				if err != nil {
					s.fail("recv() failed: " + err.Error())
				} else {
					s.fail("connection closed by the store")
				}
			}
			return
		}
	}
	s.parse()
}

// parse hands each complete reply to the command it answers.
func (s *syncClient) parse() {
	off := 0
	for s.c != nil && off < len(s.in) {
		v, n, err := resp.Parse(s.in[off:], resp.Limits{})
		if err == resp.ErrNeedMore {
			break
		}
		if err != nil {
			s.fail("invalid reply: " + err.Error())
			return
		}
		off += n
		if len(s.pending) == 0 {
			s.fail("reply to no command")
			return
		}
		k := s.pending[0]
		s.pending[0] = nil
		s.pending = s.pending[1:]
		s.answer(k, v)
	}
	if s.c == nil {
		return
	}
	s.in = s.in[:copy(s.in, s.in[off:])]
	if len(s.pending) > 0 {
		s.c.SetTimer(s.pending[0].deadline.Sub(s.w.loop.Now()))
	} else {
		s.c.StopTimer()
		s.pending = s.pending[:0:0]
	}
}

// answer applies one reply.
func (s *syncClient) answer(k *syncCheck, v resp.Value) {
	switch k.kind {
	case syncHandshake:
		if err := v.Err(); err != nil {
			s.fail("the store refused the handshake: " + err.Error())
			return
		}
	case syncHeartbeat:
		if n, ok := v.AsInt(); ok && n > 0 {
			s.w.srv.fleetSize.Store(n)
		} else if err := v.Err(); err != nil {
			s.fail("heartbeat failed: " + err.Error())
			return
		}
		if s.state == syncProbing {
			// The handshake's replies came before this one: the
			// store answers.
			s.state = syncUp
			s.w.srv.storeUp.Add(1)
			if s.w.id == 0 {
				// The places of synced upstream servers, now rather
				// than at the next second.
				s.leaseAll()
			}
			s.w.srv.log.Logf(logs.Notice, s.w.id, "zone_sync: connected to %s, %d instance(s) live", s.cfg.URL, s.w.srv.fleetSize.Load())
		}
	case syncLease:
		if len(v.Array) == 2 {
			if granted, ok := v.Array[0].AsInt(); ok {
				k.shared.SetAllowance(k.server, int(granted))
				return
			}
		}
		s.w.warnf(logs.Error, "zone_sync: %s answered a lease with %s", s.cfg.URL, v.Str)
	case syncWrite:
		if err := v.Err(); err != nil {
			s.w.warnf(logs.Error, "zone_sync: %s answered %s", s.cfg.URL, err)
		}
	case syncLimitConn:
		ok, _, _, good := limitReqReply(v)
		if !good {
			k.czone.syncErrors.Add(1)
			s.badReply(v)
			if v.Err() != nil && bytes.HasPrefix(v.Str, []byte("NOSCRIPT")) {
				s.fail("the store lost its scripts")
			}
			s.decideByFallback(k)
			return
		}
		k.czone.storeDecided.Add(1)
		if cc := k.cc; cc != nil {
			cc.r.syncWait = nil
			cc.resumeLimitConns(ok, true, false)
		} else if ok {
			// The request went away while the store counted it.
			s.releaseConn(k.czone, k.key)
		}
	case syncLimitReq:
		ok, excess, waitUs, good := limitReqReply(v)
		if !good {
			k.zone.syncErrors.Add(1)
			s.badReply(v)
			if err := v.Err(); err != nil && bytes.HasPrefix(v.Str, []byte("NOSCRIPT")) {
				// The store lost its scripts (SCRIPT FLUSH or a
				// restart behind a proxy): load them again.
				s.fail("the store lost its scripts")
			}
			s.decideByFallback(k)
			return
		}
		k.zone.storeDecided.Add(1)
		// The round trip, smoothed over the last few checks of any
		// worker.
		rtt := int64(s.w.loop.Now().Sub(k.sentAt))
		srv := s.w.srv
		srv.storeRTT.Store(srv.storeRTT.Load() - srv.storeRTT.Load()/8 + rtt/8)
		s.learn(k, ok, excess, waitUs)
		if cc := k.cc; cc != nil {
			cc.r.syncWait = nil
			cc.resumeLimitReqs(excess, ok)
		}
		s.retryWaiters(k)
	}
}

// badReply logs, at most once a second, a reply a check cannot use: an
// error (out of memory under maxmemory, a script error) or an answer of
// the wrong shape. The check is decided by the fallback.
func (s *syncClient) badReply(v resp.Value) {
	// The fallback's own line says why it decides.
	s.reason = "it answered a check with an error"
	if err := v.Err(); err != nil {
		s.w.warnf(logs.Error, "zone_sync: %s answered a check with %q, the fallback decides", s.cfg.URL, err.Error())
		return
	}
	s.w.warnf(logs.Error, "zone_sync: %s answered a check with a reply of the wrong shape, the fallback decides", s.cfg.URL)
}

// limitReqReply reads {ok, figure} and an optional wait: a limit_req
// check's {1|0, excess, wait in µs} or a limit_conn one's {1|0, total}.
func limitReqReply(v resp.Value) (ok bool, figure, waitUs int64, good bool) {
	if v.Kind != resp.KindArray || len(v.Array) < 2 || len(v.Array) > 3 {
		return false, 0, 0, false
	}
	flag, ok1 := v.Array[0].AsInt()
	figure, ok2 := v.Array[1].AsInt()
	if len(v.Array) == 3 {
		w, ok3 := v.Array[2].AsInt()
		waitUs, ok2 = max(w, 0), ok2 && ok3
	}
	if !ok1 || !ok2 {
		return false, 0, 0, false
	}
	return flag == 1, figure, waitUs, true
}

// decideByFallback decides a check the store did not answer.
func (s *syncClient) decideByFallback(k *syncCheck) {
	if k.kind == syncLimitConn {
		k.czone.fallbacks.Add(1)
		if cc := k.cc; cc != nil {
			cc.r.syncWait = nil
			ok, full := cc.fallbackAcquire(k.czone, k.key, k.limit)
			cc.resumeLimitConns(ok, false, full)
		}
		return
	}
	k.zone.fallbacks.Add(1)
	if rk := (refusalKey{k.zone, k.key}); s.inflight[rk] == k {
		delete(s.inflight, rk)
	}
	if cc := k.cc; cc != nil {
		cc.r.syncWait = nil
		excess, ok := cc.fallbackAccount(k.zone, k.key, k.burst)
		cc.resumeLimitReqs(excess, ok)
	}
	s.retryWaiters(k)
}

func onSyncTimer(c *engine.Conn) {
	s := c.Data.(*syncClient)
	if len(s.pending) == 0 {
		return
	}
	if !s.w.loop.Now().Before(s.pending[0].deadline) {
		s.fail("timed out after " + s.cfg.Timeout.String())
		return
	}
	c.SetTimer(s.pending[0].deadline.Sub(s.w.loop.Now()))
}

// fail takes the store to be down: the connection is closed and every
// check waiting is decided by the fallback.
func (s *syncClient) fail(reason string) {
	if s.state == syncUp {
		// Losing a store that answered is logged at once; while it
		// stays away, the fallback's line says so each second.
		s.w.srv.log.Logf(logs.Error, s.w.id, "zone_sync: %s: %s, limits fall back to \"%s\"", s.cfg.URL, reason, s.cfg.Fallback)
		s.w.srv.storeUp.Add(-1)
	}
	s.state = syncDown
	s.reason = reason
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
	s.connecting = false
	s.out = s.out[:0]
	s.in = s.in[:0]
	if s.w.id == 0 {
		s.fallbackAllowances()
	}
	clear(s.inflight)
	pending := s.pending
	s.pending = nil
	for _, k := range pending {
		if k.kind == syncLimitReq || k.kind == syncLimitConn {
			s.decideByFallback(k)
		}
	}
}

// leaveSync takes a request that goes away out of its check: the reply
// is read and dropped.
func (cc *clientConn) leaveSync() {
	k := cc.r.syncWait
	if k == nil {
		return
	}
	cc.r.syncWait = nil
	if k.cc == cc {
		k.cc = nil
		return
	}
	for i, w := range k.waiters {
		if w == cc {
			k.waiters[i] = nil
		}
	}
}

// fallbackAccount decides a synced zone's check without the store, as
// zone_sync's fallback says: the whole limit (local), none (deny), or by
// default this instance's share of it, the rate and burst divided by the
// live instances last counted.
func (cc *clientConn) fallbackAccount(z *reqZone, key string, burst int64) (int64, bool) {
	s := cc.w.sync
	now := cc.w.loop.Now().UnixMilli()
	switch s.cfg.Fallback {
	case conf.FallbackDeny:
		s.logFallback("limit_req", z.conf.Name, "refuses every request")
		return burst + 1000, false
	case conf.FallbackLocal:
		s.logFallback("limit_req", z.conf.Name, "enforces "+rateText(z.rate)+" on this instance")
		return z.accountRate(key, now, z.rate, burst)
	}
	n := max(cc.w.srv.fleetSize.Load(), 1)
	s.logFallback("limit_req", z.conf.Name, "enforces "+rateText(z.rate/n)+", this instance's share of "+rateText(z.rate)+" among "+strconv.FormatInt(n, 10)+" instance(s)")
	return z.accountRate(key, now, z.rate/n, burst/n)
}

// fallbackAcquire decides a synced limit_conn zone's check without the
// store: this instance's own count against the whole limit (local),
// none (deny), or by default its share, the limit divided by the live
// instances last counted (at least one request per instance).
func (cc *clientConn) fallbackAcquire(z *connZone, key string, limit int) (ok, full bool) {
	s := cc.w.sync
	switch s.cfg.Fallback {
	case conf.FallbackDeny:
		s.logFallback("limit_conn", z.conf.Name, "refuses every request")
		return false, false
	case conf.FallbackLocal:
		s.logFallback("limit_conn", z.conf.Name, "allows "+strconv.Itoa(limit)+" per key on this instance")
		return z.acquire(key, limit)
	}
	n := int(max(cc.w.srv.fleetSize.Load(), 1))
	share := max(limit/n, 1)
	s.logFallback("limit_conn", z.conf.Name, "allows "+strconv.Itoa(share)+" per key on this instance, its share of "+strconv.Itoa(limit)+" among "+strconv.Itoa(n)+" instance(s)")
	return z.acquire(key, share)
}

// logFallback logs, at most once a second per zone, what a zone enforces
// while the store is away.
func (s *syncClient) logFallback(kind, zone, what string) {
	now := s.w.loop.Now()
	if now.Sub(s.loggedAt[kind+" "+zone]) < syncLogEvery {
		return
	}
	s.loggedAt[kind+" "+zone] = now
	s.w.srv.log.Logf(logs.Warn, s.w.id, "zone_sync: %s is unavailable (%s): %s zone \"%s\" %s", s.cfg.URL, s.reason, kind, zone, what)
}

// rateText formats a rate in thousandths of a request per second.
func rateText(rate int64) string {
	return excessText(rate) + "r/s"
}
