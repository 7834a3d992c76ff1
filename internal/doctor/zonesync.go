package doctor

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"headroom/internal/capacity"
	"headroom/internal/conf"
	"headroom/internal/resp"
	"headroom/internal/zonesync"
)

// NetHost is a capacity.Host that also connects to servers. Diagnose asks
// the zone_sync store through it when h is one; capacity.System connects
// from this machine with net.DialTimeout, and any other Host leaves the
// store unasked, since it describes a machine whose network it does not
// say.
type NetHost interface {
	capacity.Host
	// DialTimeout connects as net.DialTimeout does.
	DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error)
}

// dialer connects to the store; nil when the store is not to be asked.
type dialer func(network, addr string, timeout time.Duration) (net.Conn, error)

// netDialer is how Diagnose reaches the network from h.
func netDialer(h capacity.Host) dialer {
	if n, ok := h.(NetHost); ok {
		return n.DialTimeout
	}
	if h == capacity.System {
		return net.DialTimeout
	}
	return nil
}

// ZoneSyncReport is what zone_sync shares and how: the store as this
// machine sees it, the fleet of instances that use it, and what each
// synced zone enforces with the store and while it does not answer.
type ZoneSyncReport struct {
	// URL is the store as configured, its password hidden; Where is
	// the zone_sync directive; Addr the address dialled.
	URL   string `json:"url"`
	Where string `json:"where"`
	Addr  string `json:"addr"`
	// TimeoutMicros is zone_sync's timeout=, what a check waits for the
	// store before the fallback decides; Fallback is fallback=.
	TimeoutMicros int64  `json:"timeout_us"`
	Fallback      string `json:"fallback"`
	// Store is what the store said.
	Store StoreReport `json:"store"`
	// LiveInstances counts the instances whose last heartbeat is within
	// LeaseMillis of the store's clock now, and Instances are their ids;
	// null and empty when the store was not read.
	LiveInstances *int     `json:"live_instances"`
	Instances     []string `json:"instances"`
	LeaseMillis   int64    `json:"lease_ms"`
	// Zones are the zones declared with sync: the limit_req ones by
	// name, then the limit_conn ones.
	Zones []SyncedZone `json:"zones"`
	// UpstreamServers are the servers with max_conns of the upstream
	// groups declared with "zone NAME [SIZE] sync", by group name and
	// in the group's order.
	UpstreamServers []SyncedServer `json:"upstream_servers"`
	// Notes are about the zones that are not synced, when more than one
	// instance is live: each admits its limit on every instance; and
	// about the upstream servers with max_conns in groups without sync,
	// which each instance enforces on its own.
	Notes []string `json:"notes"`
}

// StoreReport is the zone_sync store as this machine reaches it.
type StoreReport struct {
	// Asked is false when doctor describes another machine than the one
	// it runs on: nothing below was read.
	Asked bool `json:"asked"`
	// Reachable is set when the store was connected to, accepted AUTH
	// and SELECT as the URL asks, and answered; Error says otherwise
	// which step failed and how.
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// ConnectTimeoutMicros bounds the connection and each command:
	// ten times the check timeout, at least a second.
	ConnectTimeoutMicros int64 `json:"connect_timeout_us"`
	// Version is the server's name and version, "Redis 7.2.4" or
	// "Valkey 8.0.1" (INFO server).
	Version string `json:"version,omitempty"`
	// RoundTripMicros is the median of 5 PINGs; null when not measured.
	RoundTripMicros *int64 `json:"round_trip_us"`
	// MaxmemoryPolicy is the store's maxmemory-policy, and
	// MaxmemoryBytes its maxmemory (0: no limit); empty and null when
	// unknown.
	MaxmemoryPolicy string `json:"maxmemory_policy,omitempty"`
	MaxmemoryBytes  *int64 `json:"maxmemory_bytes"`
	// Problems are what needs doing about the store.
	Problems []Problem `json:"problems"`
}

// SyncedZone is one zone declared with sync.
type SyncedZone struct {
	// Kind is "limit_req" or "limit_conn".
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Where string `json:"where"`
	// Rate is a limit_req zone's rate as written ("100r/s"), and
	// Connections the limits per key a limit_conn zone is used with
	// (limit_conn NAME N, each N once, in increasing order): what the
	// fleet enforces together while the store answers, however many
	// instances there are. Definition is how this configuration's
	// instances describe the zone in the store.
	Rate        string `json:"rate,omitempty"`
	Connections []int  `json:"connections,omitempty"`
	Definition  string `json:"definition"`
	// FallbackRate (limit_req) and FallbackConnections (limit_conn, one
	// for each of Connections) are what each instance enforces while the
	// store does not answer ("50.000r/s"): the limit divided by the live
	// instances (share), or the whole limit (local); empty when requests
	// are refused (deny) or the live instances are unknown.
	// FallbackText says it in a sentence.
	FallbackRate        string `json:"fallback_rate,omitempty"`
	FallbackConnections []int  `json:"fallback_connections,omitempty"`
	FallbackText        string `json:"fallback_text"`
	// Definitions are the live instances' definitions of the zone, read
	// from the store, by instance.
	Definitions map[string]string `json:"definitions"`
	// Problems are live instances that define the zone otherwise.
	Problems []Problem `json:"problems"`
}

// The figures of the store check.
const (
	// pings is how many PINGs the round trip is the median of.
	pings = 5
	// slowRoundTrip: a round trip above the timeout divided by this
	// leaves too little room for a loaded store or network, and checks
	// fall back.
	slowRoundTrip = 4
)

// storeTimeout bounds the connection to the store and each command:
// doctor is not in a hurry, but a store frozen or far away must not hold
// the report.
func storeTimeout(z *conf.ZoneSync) time.Duration {
	return max(time.Second, 10*z.Timeout)
}

// storeFacts is what the store said; the report is made from them.
type storeFacts struct {
	asked bool
	// err says why the store could not be used.
	err string
	// version is INFO's; rtts the PINGs' round trips.
	version string
	rtts    []time.Duration
	// policy is maxmemory-policy, "" when unknown; maxmemory -1 when
	// unknown.
	policy    string
	maxmemory int64
	// live are the live instances, when liveKnown; liveErr says why
	// they are not known.
	live      []string
	liveKnown bool
	liveErr   string
	// defs are the synced zones' definitions by instance.
	defs map[string]map[string]string
	// leases are the places leased to the synced upstream servers, by
	// store key (zonesync.AppendServerKey) and instance, as the store
	// keeps them; a key is present when its HGETALL answered.
	leases map[string]map[string]string
}

// storeConn is a blocking connection to the store: one command at a
// time, each within timeout.
type storeConn struct {
	c       net.Conn
	timeout time.Duration
}

// replyError is an error reply from the store, as opposed to a failure
// of the connection.
type replyError struct{ msg string }

func (e *replyError) Error() string { return e.msg }

// do sends one command and reads its reply. An error reply is returned
// as a *replyError; any other error leaves the connection unusable.
func (s *storeConn) do(args ...string) (resp.Value, error) {
	s.c.SetDeadline(time.Now().Add(s.timeout))
	if _, err := s.c.Write(resp.AppendCommand(nil, args...)); err != nil {
		return resp.Value{}, err
	}
	// A fresh buffer for each reply: the Values of earlier replies
	// point into theirs.
	buf := make([]byte, 0, 512)
	for {
		v, _, err := resp.Parse(buf, resp.Limits{MaxBulk: 8 << 20})
		if err == nil {
			if v.Kind == resp.KindError {
				return v, &replyError{string(v.Str)}
			}
			return v, nil
		}
		if !errors.Is(err, resp.ErrNeedMore) {
			return resp.Value{}, err
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := s.c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return resp.Value{}, err
		}
	}
}

// probeStore asks the store what the report needs: whether it answers,
// its version, round trip and eviction policy, the live instances by its
// clock, the synced zones' definitions and the places leased to the
// synced upstream servers (serverKeys, as syncedServerKeys names them).
func probeStore(z *conf.ZoneSync, dial dialer, zones, serverKeys []string) storeFacts {
	f := storeFacts{maxmemory: -1}
	if dial == nil {
		return f
	}
	f.asked = true
	timeout := storeTimeout(z)
	c, err := dial("tcp", z.Addr(), timeout)
	if err != nil {
		f.err = err.Error()
		return f
	}
	defer c.Close()
	s := &storeConn{c: c, timeout: timeout}
	fail := func(step string, err error) storeFacts {
		f.err = step + ": " + err.Error()
		return f
	}
	if z.Password != "" {
		args := []string{"AUTH", z.Password}
		if z.User != "" {
			args = []string{"AUTH", z.User, z.Password}
		}
		if _, err := s.do(args...); err != nil {
			return fail("AUTH", err)
		}
	}
	if z.DB != 0 {
		if _, err := s.do("SELECT", strconv.Itoa(z.DB)); err != nil {
			return fail("SELECT "+strconv.Itoa(z.DB), err)
		}
	}
	for range pings {
		start := time.Now()
		v, err := s.do("PING")
		if err != nil {
			return fail("PING", err)
		}
		if v.Kind != resp.KindSimple || string(v.Str) != "PONG" {
			return fail("PING", fmt.Errorf("unexpected reply %q", v.Str))
		}
		f.rtts = append(f.rtts, time.Since(start))
	}
	// Past this point an error reply only leaves a fact unknown; a
	// failed connection ends the probe.
	var ioErr error
	ask := func(args ...string) (resp.Value, bool) {
		if ioErr != nil {
			return resp.Value{}, false
		}
		v, err := s.do(args...)
		var re *replyError
		if err != nil && !errors.As(err, &re) {
			ioErr = fmt.Errorf("%s: %w", strings.Join(args[:min(2, len(args))], " "), err)
		}
		return v, err == nil
	}
	if v, ok := ask("INFO", "server"); ok {
		info := parseInfo(string(v.Str))
		f.version = serverVersion(info)
	}
	if v, ok := ask("INFO", "memory"); ok {
		info := parseInfo(string(v.Str))
		f.policy = info["maxmemory_policy"]
		if n, err := strconv.ParseInt(info["maxmemory"], 10, 64); err == nil {
			f.maxmemory = n
		}
	}
	if f.policy == "" {
		if v, ok := ask("CONFIG", "GET", "maxmemory-policy"); ok && len(v.Array) == 2 {
			f.policy = string(v.Array[1].Str)
		}
	}
	if v, ok := ask("TIME"); !ok || len(v.Array) != 2 {
		f.liveErr = "TIME gave no time"
	} else if sec, ok1 := v.Array[0].AsInt(); !ok1 {
		f.liveErr = "TIME gave no time"
	} else if usec, ok2 := v.Array[1].AsInt(); !ok2 {
		f.liveErr = "TIME gave no time"
	} else {
		now := sec*1000 + usec/1000
		from := "(" + strconv.FormatInt(now-zonesync.Lease.Milliseconds(), 10)
		v, ok := ask("ZRANGEBYSCORE", zonesync.FleetKey, from, "+inf")
		if ok && v.Kind == resp.KindArray {
			f.liveKnown = true
			f.live = []string{}
			for _, m := range v.Array {
				f.live = append(f.live, string(m.Str))
			}
			sort.Strings(f.live)
		} else {
			f.liveErr = "ZRANGEBYSCORE " + zonesync.FleetKey + " failed"
			if v.Kind == resp.KindError {
				f.liveErr += ": " + string(v.Str)
			}
		}
	}
	for _, name := range zones {
		v, ok := ask("HGETALL", zonesync.ZoneKey(name))
		if !ok || v.Kind != resp.KindArray {
			continue
		}
		defs := map[string]string{}
		for i := 0; i+1 < len(v.Array); i += 2 {
			defs[string(v.Array[i].Str)] = string(v.Array[i+1].Str)
		}
		if f.defs == nil {
			f.defs = map[string]map[string]string{}
		}
		f.defs[name] = defs
	}
	for _, key := range serverKeys {
		v, ok := ask("HGETALL", key)
		if !ok || v.Kind != resp.KindArray {
			continue
		}
		places := map[string]string{}
		for i := 0; i+1 < len(v.Array); i += 2 {
			places[string(v.Array[i].Str)] = string(v.Array[i+1].Str)
		}
		if f.leases == nil {
			f.leases = map[string]map[string]string{}
		}
		f.leases[key] = places
	}
	if ioErr != nil {
		if f.liveErr == "" && !f.liveKnown {
			f.liveErr = ioErr.Error()
		}
		f.err = "stopped answering: " + ioErr.Error()
	}
	return f
}

// parseInfo reads INFO's "field:value" lines.
func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// serverVersion names the server from INFO server: Valkey reports
// valkey_version besides the redis_version it is compatible with.
func serverVersion(info map[string]string) string {
	if v := info["valkey_version"]; v != "" {
		return "Valkey " + v
	}
	if v := info["redis_version"]; v != "" {
		return "Redis " + v
	}
	return ""
}

// median is the middle of the round trips.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// zoneSyncReport describes cfg's zone_sync from what the store said; nil
// when the configuration has no zone_sync.
func zoneSyncReport(cfg *conf.Config, f storeFacts, nm namer) *ZoneSyncReport {
	if cfg.HTTP == nil || cfg.HTTP.ZoneSync == nil {
		return nil
	}
	z := cfg.HTTP.ZoneSync
	r := &ZoneSyncReport{
		URL: z.URL, Where: nm.at(z.File, z.Line), Addr: z.Addr(),
		TimeoutMicros: z.Timeout.Microseconds(), Fallback: z.Fallback.String(),
		Instances: []string{}, LeaseMillis: zonesync.Lease.Milliseconds(),
		Zones: []SyncedZone{}, UpstreamServers: []SyncedServer{}, Notes: []string{},
	}
	st := &r.Store
	st.Asked, st.Problems = f.asked, []Problem{}
	st.ConnectTimeoutMicros = storeTimeout(z).Microseconds()
	st.Error = f.err
	st.Reachable = f.asked && len(f.rtts) == pings
	st.Version = f.version
	if len(f.rtts) == pings {
		rt := median(f.rtts).Microseconds()
		st.RoundTripMicros = &rt
		if p := roundTripProblem(median(f.rtts), z.Timeout); p != nil {
			st.Problems = append(st.Problems, *p)
		}
	}
	st.MaxmemoryPolicy = f.policy
	if f.maxmemory >= 0 {
		m := f.maxmemory
		st.MaxmemoryBytes = &m
	}
	if p := evictionProblem(f.policy, f.maxmemory); p != nil {
		st.Problems = append(st.Problems, *p)
	}
	n := -1
	if f.liveKnown {
		n = len(f.live)
		r.LiveInstances = &n
		r.Instances = f.live
	}
	if f.asked && !st.Reachable {
		decides := "every check of the synced zones"
		if len(syncedUpstreamServers(cfg)) > 0 {
			decides = "the places of the synced upstream servers"
			if hasSyncedZones(cfg) {
				decides = "every check of the synced zones and " + decides
			}
		}
		st.Problems = append(st.Problems, Problem{Level: "warning", about: "store",
			Text: fmt.Sprintf("doctor could not use the store from this machine; if the instances cannot either, fallback=%s decides %s", z.Fallback, decides),
			Fix:  "check that " + z.Addr() + " is the store's address, that it runs and accepts connections from the instances, and the URL's credentials and database"})
	}
	live := map[string]bool{}
	for _, id := range f.live {
		live[id] = true
	}
	// definitions adds what the live instances wrote of a zone, and a
	// problem for each that is not mine.
	definitions := func(sz *SyncedZone) {
		defs := f.defs[sz.Name]
		for _, id := range sortedNames(defs) {
			if !live[id] {
				continue
			}
			sz.Definitions[id] = defs[id]
			if defs[id] != sz.Definition {
				sz.Problems = append(sz.Problems, definitionProblem(sz.Kind, sz.Name, id, defs[id], sz.Definition))
			}
		}
	}
	for _, name := range sortedNames(cfg.HTTP.LimitReqZones) {
		lz := cfg.HTTP.LimitReqZones[name]
		if !lz.Sync {
			continue
		}
		per, text := fallbackEnforces(z.Fallback, lz.RatePerMinute, n)
		sz := SyncedZone{Kind: "limit_req", Name: name, Where: nm.at(lz.File, lz.Line), Rate: confRate(lz.RatePerMinute),
			Definition: zonesync.LimitReqDefinition(lz.RatePerMinute), FallbackText: text, Definitions: map[string]string{}, Problems: []Problem{}}
		if per >= 0 {
			sz.FallbackRate = milliRate(per)
		}
		definitions(&sz)
		r.Zones = append(r.Zones, sz)
	}
	conns := limitConnMaxima(cfg)
	for _, name := range sortedNames(cfg.HTTP.LimitConnZones) {
		cz := cfg.HTTP.LimitConnZones[name]
		if !cz.Sync {
			continue
		}
		per, text := connFallbackEnforces(z.Fallback, conns[name], n)
		sz := SyncedZone{Kind: "limit_conn", Name: name, Where: nm.at(cz.File, cz.Line), Connections: conns[name],
			Definition: zonesync.LimitConnDefinition, FallbackConnections: per, FallbackText: text, Definitions: map[string]string{}, Problems: []Problem{}}
		definitions(&sz)
		r.Zones = append(r.Zones, sz)
	}
	r.UpstreamServers = syncedServers(cfg, z.Fallback, f, live, n, nm)
	if n > 1 {
		r.Notes = unsyncedNotes(cfg, n)
	}
	r.Notes = append(r.Notes, unsyncedServerNotes(cfg, n)...)
	return r
}

// roundTripProblem warns when the store's round trip takes more than a
// quarter of the timeout: a store or network under load then pushes
// checks past it, and they fall back.
func roundTripProblem(rt, timeout time.Duration) *Problem {
	if timeout <= 0 || rt*slowRoundTrip <= timeout {
		return nil
	}
	want := (slowRoundTrip*rt + time.Millisecond - 1).Truncate(time.Millisecond)
	return &Problem{Level: "warning", about: "round trip",
		Text: fmt.Sprintf("the round trip to the store, %s, is more than a quarter of timeout=%s: under load checks will exceed the timeout and fall back", durText(rt), durText(timeout)),
		Fix:  fmt.Sprintf("timeout=%s or more in zone_sync (at least %d round trips), or a store nearer the instances", durText(want), slowRoundTrip)}
}

// evictionProblem warns about a maxmemory-policy other than noeviction:
// when the store fills, an evicted bucket or count is a key's requests
// forgotten, and the fleet admits more than the limit. The zones' keys
// carry TTLs, so volatile-* policies evict them too.
func evictionProblem(policy string, maxmemory int64) *Problem {
	if policy == "" || policy == "noeviction" {
		return nil
	}
	text := fmt.Sprintf("maxmemory-policy %s evicts keys when the store reaches maxmemory: an evicted limit_req bucket or limit_conn count forgets its key's requests, so the fleet admits more than the limit", policy)
	if strings.HasPrefix(policy, "volatile-") {
		text += " (the zones' keys carry TTLs, so volatile policies evict them too)"
	}
	if maxmemory == 0 {
		text += "; no maxmemory is set now, so nothing is evicted until one is"
	}
	return &Problem{Level: "warning", about: "maxmemory-policy", Text: text,
		Fix: "CONFIG SET maxmemory-policy noeviction, and maxmemory-policy noeviction in the store's configuration: a full store then refuses writes and the zones fall back instead"}
}

// definitionProblem warns about a live instance that shares a zone under
// other terms: each check drains the one bucket at its own instance's
// rate, so the fleet enforces neither.
func definitionProblem(kind, zone, id, theirs, mine string) Problem {
	what := "they share its buckets, each draining them at its own rate, so the fleet enforces neither"
	if kind == "limit_conn" || !strings.HasPrefix(theirs, "limit_req ") {
		what = "they share its keys in the store under different terms, so the fleet enforces neither"
	}
	return Problem{Level: "warning",
		Text: fmt.Sprintf("live instance %s defines zone \"%s\" as \"%s\", this configuration as \"%s\": %s", id, zone, theirs, mine, what),
		Fix:  "give every instance the same " + kind + "_zone " + zone + ", or another zone name"}
}

// fallbackEnforces says what fallback f has each instance enforce of a
// zone of ratePerMinute while the store does not answer, with n live
// instances (n < 0: unknown). per is the rate each instance enforces, in
// thousandths of a request a second as the server keeps it, or -1 when
// none applies (deny refuses; share among an unknown number).
func fallbackEnforces(f conf.ZoneSyncFallback, ratePerMinute, n int) (per int64, text string) {
	rate := rateMilli(ratePerMinute)
	whole := confRate(ratePerMinute)
	switch f {
	case conf.FallbackDeny:
		return -1, "refuses every request the zone limits, on every instance (limit_req_status)"
	case conf.FallbackLocal:
		switch {
		case n < 0:
			return rate, fmt.Sprintf("%s on each instance: N × %s for a fleet of N (N not known here)", whole, whole)
		case n == 0:
			return rate, fmt.Sprintf("%s on each instance: N × %s for a fleet of N (no instance is live now)", whole, whole)
		}
		return rate, fmt.Sprintf("%s on each instance: %d × %s = %s for the fleet", whole, n, whole, milliRate(int64(n)*rate))
	}
	switch {
	case n < 0:
		return -1, fmt.Sprintf("%s ÷ N on each instance, N being the live instances it last counted (not known here): about %s for the fleet; each burst is divided by N too", whole, whole)
	case n == 0:
		return rate, fmt.Sprintf("%s on the first instance (no instance is live now, and an instance counts at least itself); %s ÷ N on each of N", milliRate(rate), whole)
	}
	if n == 1 {
		return rate, fmt.Sprintf("%s on the one live instance: the whole rate, and each burst whole", milliRate(rate))
	}
	each := rate / int64(n)
	// Exact when n shares add up to the rate as written, not only to
	// the server's thousandths of it.
	eq := "="
	if each*int64(n)*60 != int64(ratePerMinute)*1000 {
		eq = "≈"
	}
	return each, fmt.Sprintf("%s on each of the %d live instances: %d × %s %s %s; each burst is divided by %d too",
		milliRate(each), n, n, milliRate(each), eq, whole, n)
}

// connFallbackEnforces says what fallback f has each instance allow of a
// limit_conn zone used with limits (per key) while the store does not
// answer, with n live instances (n < 0: unknown). per holds, for each
// limit, what an instance allows; nil when none applies (deny refuses;
// share among an unknown number). As the server, a share is at least
// one request per key.
func connFallbackEnforces(f conf.ZoneSyncFallback, limits []int, n int) (per []int, text string) {
	if len(limits) == 0 {
		return nil, "no limit_conn uses the zone"
	}
	whole := joinInts(limits, " or ")
	switch f {
	case conf.FallbackDeny:
		return nil, "refuses every request the zone limits, on every instance (limit_conn_status)"
	case conf.FallbackLocal:
		if n <= 0 {
			known := "N not known here"
			if n == 0 {
				known = "no instance is live now"
			}
			return limits, fmt.Sprintf("%s per key on each instance: N × that for a fleet of N (%s)", whole, known)
		}
		var fleet []string
		for _, l := range limits {
			fleet = append(fleet, fmt.Sprintf("%d × %d = %d", n, l, n*l))
		}
		return limits, fmt.Sprintf("%s per key on each instance: %s for the fleet", whole, strings.Join(fleet, ", "))
	}
	switch {
	case n < 0:
		return nil, fmt.Sprintf("%s ÷ N per key on each instance (at least 1), N being the live instances it last counted (not known here)", whole)
	case n == 0:
		return limits, fmt.Sprintf("%s per key on the first instance (no instance is live now, and an instance counts at least itself)", whole)
	case n == 1:
		return limits, fmt.Sprintf("%s per key on the one live instance: the whole limit", whole)
	}
	var parts []string
	for _, l := range limits {
		share := max(l/n, 1)
		per = append(per, share)
		part := fmt.Sprintf("%d × %d = %d", n, share, n*share)
		switch {
		case n*share > l:
			part += fmt.Sprintf(", more than %d: at least 1 on each", l)
		case n*share < l:
			part += fmt.Sprintf(" of %d", l)
		}
		parts = append(parts, part)
	}
	return per, fmt.Sprintf("%s per key on each of the %d live instances: %s", joinInts(per, " or "), n, strings.Join(parts, ", "))
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

// unsyncedNotes are about the zones that are not synced when n instances
// are live: each instance admits a zone's whole limit, so the fleet
// admits n times it.
func unsyncedNotes(cfg *conf.Config, n int) []string {
	out := []string{}
	for _, name := range sortedNames(cfg.HTTP.LimitReqZones) {
		z := cfg.HTTP.LimitReqZones[name]
		if z.Sync {
			continue
		}
		out = append(out, fmt.Sprintf("%d instances: zone \"%s\" admits up to %d × %s = %s for the fleet: it is not synced, so each instance enforces it on its own (sync in its limit_req_zone shares it)",
			n, name, n, confRate(z.RatePerMinute), milliRate(int64(n)*rateMilli(z.RatePerMinute))))
	}
	conns := limitConnMaxima(cfg)
	for _, name := range sortedNames(cfg.HTTP.LimitConnZones) {
		ms := conns[name]
		if len(ms) == 0 || cfg.HTTP.LimitConnZones[name].Sync {
			continue
		}
		most := ms[len(ms)-1]
		s := fmt.Sprintf("%d instances: zone \"%s\" admits up to %d × %d connections per key for the fleet (limit_conn %s %d", n, name, n, most, name, most)
		for i := len(ms) - 2; i >= 0; i-- {
			s += fmt.Sprintf("; %d × %d where it is %d", n, ms[i], ms[i])
		}
		out = append(out, s+"): it is not synced, so each instance counts its own (sync in its limit_conn_zone shares it)")
	}
	return out
}

// fleetNote is the note of a configuration with limit zones and no
// zone_sync: each instance enforces its own limits. Empty when the
// configuration has no limit zones.
func fleetNote(cfg *conf.Config, server string) string {
	if cfg.HTTP == nil || cfg.HTTP.ZoneSync != nil || len(cfg.HTTP.LimitReqZones)+len(cfg.HTTP.LimitConnZones) == 0 {
		return ""
	}
	var names []string
	for _, n := range sortedNames(cfg.HTTP.LimitReqZones) {
		names = append(names, "limit_req "+n)
	}
	for _, n := range sortedNames(cfg.HTTP.LimitConnZones) {
		names = append(names, "limit_conn "+n)
	}
	s := fmt.Sprintf("each %s instance enforces its own limit zones (%s): N instances behind one address admit up to N times each limit", server, strings.Join(names, ", "))
	if server == nginx {
		return s + "; headroom shares a zone across its instances with sync in limit_req_zone or limit_conn_zone and a zone_sync store"
	}
	return s + "; sync in limit_req_zone or limit_conn_zone, with a zone_sync store, shares a zone across the fleet"
}

// limitConnMaxima are the distinct limit_conn figures each zone is used
// with, in increasing order.
func limitConnMaxima(cfg *conf.Config) map[string][]int {
	seen := map[string]map[int]bool{}
	add := func(lc *conf.LocConf) {
		if lc == nil {
			return
		}
		for _, l := range lc.LimitConns {
			if l.Zone == nil {
				continue
			}
			if seen[l.Zone.Name] == nil {
				seen[l.Zone.Name] = map[int]bool{}
			}
			seen[l.Zone.Name][l.Max] = true
		}
	}
	for _, s := range cfg.HTTP.Servers {
		add(s.Loc)
		collect(s.Locations, func(l *conf.Location) { add(l.Loc) })
		collect(s.Named, func(l *conf.Location) { add(l.Loc) })
	}
	out := map[string][]int{}
	for name, ms := range seen {
		for m := range ms {
			out[name] = append(out[name], m)
		}
		sort.Ints(out[name])
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rateMilli is a zone's rate as the server keeps it: thousandths of a
// request a second.
func rateMilli(ratePerMinute int) int64 { return int64(ratePerMinute) * 1000 / 60 }

// milliRate writes a rate in thousandths of a request a second as the
// server's error log does: "50.000r/s".
func milliRate(r int64) string { return fmt.Sprintf("%d.%03dr/s", r/1000, r%1000) }

// confRate writes a zone's rate as limit_req_zone's rate= does: "100r/s",
// or "30r/m" for a rate of no whole number a second.
func confRate(ratePerMinute int) string {
	if ratePerMinute%60 == 0 {
		return strconv.Itoa(ratePerMinute/60) + "r/s"
	}
	return strconv.Itoa(ratePerMinute) + "r/m"
}

// durText writes a duration to the microsecond: "85µs", "1.25ms", "20ms".
func durText(d time.Duration) string {
	return d.Round(time.Microsecond).String()
}

// writeText writes the zone_sync section of the text report.
func (r *ZoneSyncReport) writeText(b *strings.Builder) {
	warns := len(r.Store.Problems)
	for _, z := range r.Zones {
		warns += len(z.Problems)
	}
	for _, s := range r.UpstreamServers {
		warns += len(s.Problems)
	}
	fmt.Fprintf(b, "\nZone sync (zone_sync at %s", r.Where)
	if r.LiveInstances != nil {
		fmt.Fprintf(b, ": %d live %s", *r.LiveInstances, plural(*r.LiveInstances, "instance", "instances"))
	}
	if warns > 0 {
		fmt.Fprintf(b, "; %d %s", warns, plural(warns, "warning", "warnings"))
	}
	b.WriteString(")\n")
	st := r.Store
	timeout := time.Duration(r.TimeoutMicros) * time.Microsecond
	var rows [][]string
	// row adds a line of the store's, with the problems about it.
	row := func(name, text string) {
		rows = append(rows, []string{name, text})
		for _, p := range st.Problems {
			if p.about == name {
				rows = append(rows, []string{problemLine(p)})
			}
		}
	}
	switch {
	case !st.Asked:
		row("store", r.URL+": not asked: the report describes another machine than this one")
	case st.Reachable:
		state := r.URL + ": reachable"
		if st.Version != "" {
			state += ", " + st.Version
		}
		if st.Error != "" {
			state += "; then " + st.Error
		}
		row("store", state)
	default:
		state := r.URL + ": unreachable: " + st.Error
		if strings.Contains(st.Error, "timeout") {
			state += " (doctor waits " + durText(time.Duration(st.ConnectTimeoutMicros)*time.Microsecond) + ": ten times timeout=, at least 1s)"
		}
		row("store", state)
	}
	rt := "not measured"
	if st.RoundTripMicros != nil {
		rt = fmt.Sprintf("%s, the median of %d PINGs", durText(time.Duration(*st.RoundTripMicros)*time.Microsecond), pings)
	}
	row("round trip", fmt.Sprintf("%s; timeout=%s (a check waits no longer before the fallback decides)", rt, durText(timeout)))
	if st.Asked && st.Reachable {
		policy := st.MaxmemoryPolicy
		if policy == "" {
			policy = "unknown (neither INFO memory nor CONFIG GET said)"
		}
		if st.MaxmemoryBytes != nil {
			if *st.MaxmemoryBytes == 0 {
				policy += " (maxmemory 0: no limit)"
			} else {
				policy += " (maxmemory " + bytesText(*st.MaxmemoryBytes) + ")"
			}
		}
		row("maxmemory-policy", policy)
	}
	fleet := "unknown: the store was not read"
	if r.LiveInstances != nil {
		n := *r.LiveInstances
		fleet = fmt.Sprintf("%d live %s (a heartbeat within the last %s of the store's clock)", n, plural(n, "instance", "instances"), durText(time.Duration(r.LeaseMillis)*time.Millisecond))
		if n > 0 {
			fleet += ": " + strings.Join(r.Instances, ", ")
		}
	}
	rows = append(rows, []string{"fleet", fleet})
	rows = append(rows, []string{"fallback", r.Fallback + ": " + fallbackMeaning(r.Fallback, len(r.Zones) > 0 || len(r.UpstreamServers) == 0, len(r.UpstreamServers) > 0)})
	writeTable(b, "  ", rows)

	if len(r.Zones) > 0 {
		b.WriteString("\n")
		zrows := [][]string{{"ZONE", "KIND", "FROM", "FLEET ENFORCES", "EACH INSTANCE WHILE THE STORE DOES NOT ANSWER (fallback=" + r.Fallback + ")"}}
		for _, z := range r.Zones {
			limit := z.Rate
			if z.Kind == "limit_conn" {
				limit = "-"
				if len(z.Connections) > 0 {
					limit = joinInts(z.Connections, " or ") + " per key"
				}
			}
			zrows = append(zrows, []string{z.Name, z.Kind, z.Where, limit, z.FallbackText})
			for _, p := range z.Problems {
				zrows = append(zrows, []string{problemLine(p)})
			}
		}
		writeTable(b, "  ", zrows)
	}
	if len(r.UpstreamServers) > 0 {
		b.WriteString("\n")
		r.writeServers(b)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "  - %s\n", n)
	}
}

// fallbackMeaning says what a fallback does, for the section's head:
// to the synced zones when zones, to the synced upstream servers'
// max_conns when servers.
func fallbackMeaning(f string, zones, servers bool) string {
	// The texts for zones only, servers only, and both.
	var t [3]string
	switch f {
	case "local":
		t = [3]string{
			"each instance enforces each zone's whole limit, as without sync",
			"each instance opens up to each synced upstream server's whole max_conns, as without sync",
			"each instance enforces each zone's whole limit and opens up to each synced upstream server's whole max_conns, as without sync",
		}
	case "deny":
		t = [3]string{
			"every request a synced zone limits is refused",
			"no instance opens a connection to a synced upstream server with max_conns, as when all its places are taken",
			"every request a synced zone limits is refused, and no instance opens a connection to a synced upstream server with max_conns, as when all its places are taken",
		}
	default:
		t = [3]string{
			"each instance enforces its share of each zone's limit (a rate and its bursts, or requests in progress per key), divided by the live instances it last counted",
			"each instance opens to each synced upstream server its share of max_conns (at least 1), divided by the live instances it last counted",
			"each instance enforces its share of each zone's limit (a rate and its bursts, or requests in progress per key) and of each synced upstream server's max_conns (at least 1), divided by the live instances it last counted",
		}
	}
	switch {
	case zones && servers:
		return "while the store does not answer, " + t[2]
	case servers:
		return "while the store does not answer, " + t[1]
	}
	return "while the store does not answer, " + t[0]
}

func problemLine(p Problem) string {
	line := "  " + p.Level + ": " + p.Text
	if p.Fix != "" {
		line += "; fix: " + p.Fix
	}
	return line
}
