package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"headroom/internal/conf"
	"headroom/internal/resp"
	"headroom/internal/zonesync"
)

// TestFallbackEnforces checks what each fallback has an instance enforce
// while the store does not answer: share divides the rate (in the
// server's thousandths of a request a second, with its integer division)
// by the live instances, local keeps it whole, deny refuses.
func TestFallbackEnforces(t *testing.T) {
	tests := []struct {
		name     string
		fallback conf.ZoneSyncFallback
		rpm, n   int
		per      int64
		text     []string
	}{
		{"share among 2", conf.FallbackShare, 6000, 2, 50000, []string{"50.000r/s on each of the 2 live instances: 2 × 50.000r/s = 100r/s", "burst is divided by 2"}},
		{"share among 3", conf.FallbackShare, 6000, 3, 33333, []string{"33.333r/s on each of the 3 live instances: 3 × 33.333r/s ≈ 100r/s"}},
		{"share, one instance", conf.FallbackShare, 6000, 1, 100000, []string{"100.000r/s on the one live instance: the whole rate"}},
		{"share, none live", conf.FallbackShare, 6000, 0, 100000, []string{"100.000r/s on the first instance", "no instance is live now"}},
		{"share, unknown", conf.FallbackShare, 6000, -1, -1, []string{"100r/s ÷ N on each instance", "not known here"}},
		{"share of r/m", conf.FallbackShare, 30, 2, 250, []string{"0.250r/s on each of the 2 live instances: 2 × 0.250r/s = 30r/m"}},
		{"share, inexact r/m", conf.FallbackShare, 1, 2, 8, []string{"0.008r/s on each", "2 × 0.008r/s ≈ 1r/m"}},
		{"local among 2", conf.FallbackLocal, 6000, 2, 100000, []string{"100r/s on each instance: 2 × 100r/s = 200.000r/s for the fleet"}},
		{"local, unknown", conf.FallbackLocal, 6000, -1, 100000, []string{"N × 100r/s for a fleet of N", "not known here"}},
		{"deny", conf.FallbackDeny, 6000, 2, -1, []string{"refuses every request"}},
		{"deny, unknown", conf.FallbackDeny, 6000, -1, -1, []string{"refuses every request"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			per, text := fallbackEnforces(tc.fallback, tc.rpm, tc.n)
			if per != tc.per {
				t.Errorf("per instance = %d, want %d (%s)", per, tc.per, text)
			}
			for _, w := range tc.text {
				if !strings.Contains(text, w) {
					t.Errorf("text %q lacks %q", text, w)
				}
			}
		})
	}
}

// TestConnFallbackEnforces checks what each fallback has an instance
// allow of a synced limit_conn zone's limits while the store does not
// answer: share divides each limit by the live instances (at least one
// per instance, as the server), local keeps it, deny refuses.
func TestConnFallbackEnforces(t *testing.T) {
	tests := []struct {
		name     string
		fallback conf.ZoneSyncFallback
		limits   []int
		n        int
		per      []int
		text     []string
	}{
		{"share among 2", conf.FallbackShare, []int{10}, 2, []int{5}, []string{"5 per key on each of the 2 live instances: 2 × 5 = 10"}},
		{"share, two limits", conf.FallbackShare, []int{3, 10}, 2, []int{1, 5}, []string{"1 or 5 per key on each of the 2 live instances: 2 × 1 = 2 of 3, 2 × 5 = 10"}},
		{"share, at least one", conf.FallbackShare, []int{2}, 3, []int{1}, []string{"3 × 1 = 3, more than 2: at least 1 on each"}},
		{"share, one instance", conf.FallbackShare, []int{10}, 1, []int{10}, []string{"10 per key on the one live instance"}},
		{"share, none live", conf.FallbackShare, []int{10}, 0, []int{10}, []string{"on the first instance"}},
		{"share, unknown", conf.FallbackShare, []int{10}, -1, nil, []string{"10 ÷ N per key on each instance (at least 1)", "not known here"}},
		{"local among 3", conf.FallbackLocal, []int{4, 10}, 3, []int{4, 10}, []string{"4 or 10 per key on each instance: 3 × 4 = 12, 3 × 10 = 30 for the fleet"}},
		{"local, unknown", conf.FallbackLocal, []int{10}, -1, []int{10}, []string{"N × that for a fleet of N (N not known here)"}},
		{"deny", conf.FallbackDeny, []int{10}, 2, nil, []string{"refuses every request", "limit_conn_status"}},
		{"unused", conf.FallbackShare, nil, 2, nil, []string{"no limit_conn uses the zone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			per, text := connFallbackEnforces(tc.fallback, tc.limits, tc.n)
			if joinInts(per, ",") != joinInts(tc.per, ",") || (per == nil) != (tc.per == nil) {
				t.Errorf("per instance = %v, want %v (%s)", per, tc.per, text)
			}
			for _, w := range tc.text {
				if !strings.Contains(text, w) {
					t.Errorf("text %q lacks %q", text, w)
				}
			}
		})
	}
}

// TestRateText checks the rates' two forms: as limit_req_zone writes them
// and as the server's error log writes a computed one.
func TestRateText(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{confRate(6000), "100r/s"},
		{confRate(60), "1r/s"},
		{confRate(30), "30r/m"},
		{confRate(90), "90r/m"},
		{milliRate(50000), "50.000r/s"},
		{milliRate(33333), "33.333r/s"},
		{milliRate(250), "0.250r/s"},
		{milliRate(rateMilli(6000) / 3), "33.333r/s"},
		{milliRate(rateMilli(30)), "0.500r/s"},
		{durText(84321 * time.Nanosecond), "84µs"},
		{durText(6100 * time.Microsecond), "6.1ms"},
		{durText(20 * time.Millisecond), "20ms"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestStoreProblems checks the store's warnings: a round trip over a
// quarter of the timeout, an eviction policy other than noeviction.
func TestStoreProblems(t *testing.T) {
	rts := []struct {
		rt, timeout time.Duration
		want        string // "" for none
	}{
		{80 * time.Microsecond, 20 * time.Millisecond, ""},
		{5 * time.Millisecond, 20 * time.Millisecond, ""},
		{5100 * time.Microsecond, 20 * time.Millisecond, "timeout=21ms or more"},
		{12 * time.Millisecond, 20 * time.Millisecond, "timeout=48ms or more"},
	}
	for _, tc := range rts {
		p := roundTripProblem(tc.rt, tc.timeout)
		switch {
		case tc.want == "" && p != nil:
			t.Errorf("round trip %v, timeout %v: warned %q", tc.rt, tc.timeout, p.Text)
		case tc.want != "" && p == nil:
			t.Errorf("round trip %v, timeout %v: no warning", tc.rt, tc.timeout)
		case p != nil && (!strings.Contains(p.Fix, tc.want) || !strings.Contains(p.Text, "more than a quarter of timeout=20ms")):
			t.Errorf("round trip %v: %q; fix %q, want %q", tc.rt, p.Text, p.Fix, tc.want)
		}
	}
	policies := []struct {
		policy    string
		maxmemory int64
		want      []string
	}{
		{"noeviction", 0, nil},
		{"", -1, nil},
		{"allkeys-lru", 0, []string{"maxmemory-policy allkeys-lru evicts", "admits more than the limit", "no maxmemory is set now"}},
		{"allkeys-lfu", 1 << 30, []string{"allkeys-lfu evicts"}},
		{"volatile-ttl", 1 << 30, []string{"volatile-ttl evicts", "volatile policies evict them too"}},
	}
	for _, tc := range policies {
		p := evictionProblem(tc.policy, tc.maxmemory)
		if (p == nil) != (tc.want == nil) {
			t.Errorf("policy %q: problem %v, want one: %v", tc.policy, p, tc.want != nil)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(p.Text, w) {
				t.Errorf("policy %q: %q lacks %q", tc.policy, p.Text, w)
			}
		}
		if p != nil && tc.maxmemory != 0 && strings.Contains(p.Text, "no maxmemory") {
			t.Errorf("policy %q with maxmemory %d: %q", tc.policy, tc.maxmemory, p.Text)
		}
		if p != nil && !strings.Contains(p.Fix, "noeviction") {
			t.Errorf("policy %q: fix %q does not name noeviction", tc.policy, p.Fix)
		}
	}
}

// loadZoneSyncConf loads testdata/zonesync.conf: a store with a password
// and a database, two synced limit_req zones (100r/s and 30r/m) and one
// that is not synced, a synced limit_conn zone used with 10 and 3 and one
// that is not synced used with 20 and 4.
func loadZoneSyncConf(t *testing.T) *conf.Config {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "zonesync.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(conf.LoadOptions{File: "/srv/proxy/zonesync.conf", Source: src, Prefix: "/srv/proxy", Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func rtts(d time.Duration) []time.Duration {
	return []time.Duration{d + 40*time.Microsecond, d, d - 10*time.Microsecond, d + 900*time.Microsecond, d + 5*time.Microsecond}
}

// zoneSyncFacts are what stores said, for the golden reports.
var zoneSyncFacts = []struct {
	name  string
	facts storeFacts
}{
	{
		// Two live instances, one of which shares api at 50r/s; a
		// dead one with yet another definition is not counted; the
		// store evicts, and its round trip is 6.1 ms of 20.
		name: "zone_sync",
		facts: storeFacts{asked: true, version: "Redis 7.2.4", rtts: rtts(6100 * time.Microsecond),
			policy: "allkeys-lru", maxmemory: 2 << 30,
			live: []string{"web1/4242/9f3a", "web2/5151/c07e"}, liveKnown: true,
			defs: map[string]map[string]string{
				"api":   {"web1/4242/9f3a": "limit_req rate=100r/s", "web2/5151/c07e": "limit_req rate=50r/s", "web3/77/dead": "limit_req rate=1r/s"},
				"login": {"web1/4242/9f3a": "limit_req rate=30r/m", "web2/5151/c07e": "limit_req rate=30r/m"},
				"perip": {"web1/4242/9f3a": "limit_conn", "web2/5151/c07e": "limit_conn"},
			}},
	},
	{
		// The store refuses connections: the fallback's figures with
		// an unknown number of instances.
		name:  "zone_sync_down",
		facts: storeFacts{asked: true, err: "dial tcp 10.0.0.9:6380: connect: connection refused", maxmemory: -1},
	},
	{
		// A described machine: the store is not asked.
		name:  "zone_sync_unasked",
		facts: storeFacts{maxmemory: -1},
	},
}

// TestZoneSyncGolden compares the zone_sync section made from what a
// store said with testdata/NAME.golden ("-update" rewrites them).
func TestZoneSyncGolden(t *testing.T) {
	cfg := loadZoneSyncConf(t)
	for _, c := range zoneSyncFacts {
		t.Run(c.name, func(t *testing.T) {
			r := zoneSyncReport(cfg, c.facts, newNamer(cfg))
			var b strings.Builder
			r.writeText(&b)
			checkGolden(t, c.name, b.String())
		})
	}
}

// TestZoneSyncReport checks the figures of the reports behind the
// goldens.
func TestZoneSyncReport(t *testing.T) {
	cfg := loadZoneSyncConf(t)
	nm := newNamer(cfg)

	up := zoneSyncReport(cfg, zoneSyncFacts[0].facts, nm)
	if up.URL != "redis://app:xxxxx@store.internal:6380/2" || up.Where != "zonesync.conf:6" || up.Fallback != "share" || up.TimeoutMicros != 20000 {
		t.Errorf("head: %+v", up)
	}
	st := up.Store
	if !st.Reachable || st.Version != "Redis 7.2.4" || st.RoundTripMicros == nil || *st.RoundTripMicros != 6105 || st.ConnectTimeoutMicros != 1e6 {
		t.Errorf("store: %+v", st)
	}
	if len(st.Problems) != 2 || !strings.Contains(st.Problems[0].Text, "round trip") || !strings.Contains(st.Problems[1].Text, "allkeys-lru") {
		t.Errorf("store problems: %+v", st.Problems)
	}
	if up.LiveInstances == nil || *up.LiveInstances != 2 || len(up.Instances) != 2 {
		t.Fatalf("fleet: %v %v", up.LiveInstances, up.Instances)
	}
	if len(up.Zones) != 3 || up.Zones[0].Name != "api" || up.Zones[1].Name != "login" || up.Zones[2].Name != "perip" {
		t.Fatalf("zones: %+v", up.Zones)
	}
	api, login, perip := up.Zones[0], up.Zones[1], up.Zones[2]
	if perip.Kind != "limit_conn" || joinInts(perip.Connections, ",") != "3,10" || joinInts(perip.FallbackConnections, ",") != "1,5" ||
		len(perip.Definitions) != 2 || len(perip.Problems) != 0 {
		t.Errorf("perip: %+v", perip)
	}
	if api.Rate != "100r/s" || api.FallbackRate != "50.000r/s" || len(api.Definitions) != 2 {
		t.Errorf("api: %+v", api)
	}
	if len(api.Problems) != 1 || !strings.Contains(api.Problems[0].Text, "web2/5151/c07e") ||
		!strings.Contains(api.Problems[0].Text, `"limit_req rate=50r/s"`) || !strings.Contains(api.Problems[0].Text, `"limit_req rate=100r/s"`) {
		t.Errorf("api problems: %+v", api.Problems)
	}
	if login.Rate != "30r/m" || login.FallbackRate != "0.250r/s" || len(login.Problems) != 0 {
		t.Errorf("login: %+v", login)
	}
	wantNotes := []string{
		`2 instances: zone "search" admits up to 2 × 10r/s = 20.000r/s for the fleet`,
		`2 instances: zone "addr" admits up to 2 × 20 connections per key for the fleet (limit_conn addr 20; 2 × 4 where it is 4): it is not synced`,
	}
	if len(up.Notes) != len(wantNotes) {
		t.Fatalf("notes: %q", up.Notes)
	}
	for i, w := range wantNotes {
		if !strings.HasPrefix(up.Notes[i], w) {
			t.Errorf("note %d = %q, want it to start with %q", i, up.Notes[i], w)
		}
	}

	down := zoneSyncReport(cfg, zoneSyncFacts[1].facts, nm)
	if down.Store.Reachable || down.LiveInstances != nil || len(down.Notes) != 0 || down.Zones[0].FallbackRate != "" ||
		!strings.Contains(down.Zones[0].FallbackText, "not known here") || len(down.Store.Problems) != 1 {
		t.Errorf("down: %+v", down)
	}
	if un := zoneSyncReport(cfg, zoneSyncFacts[2].facts, nm); un.Store.Asked || len(un.Store.Problems) != 0 {
		t.Errorf("unasked: %+v", un.Store)
	}
}

// TestFleetNote checks the note of a configuration with limit zones and
// no zone_sync, and that there is none without limit zones.
func TestFleetNote(t *testing.T) {
	tests := []struct {
		name, http, server string
		want               []string // nil: no note
	}{
		{"req and conn", `limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s; limit_conn_zone $binary_remote_addr zone=addr:1m;`, headroom,
			[]string{"each headroom instance enforces its own limit zones (limit_req one, limit_conn addr)", "sync in limit_req_zone or limit_conn_zone, with a zone_sync store"}},
		{"conn only", `limit_conn_zone $binary_remote_addr zone=addr:1m;`, headroom,
			[]string{"(limit_conn addr): N instances behind one address admit up to N times each limit"}},
		{"nginx", `limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;`, nginx,
			[]string{"each nginx instance", "headroom shares a zone across its instances"}},
		{"none", ``, headroom, nil},
		{"synced", `zone_sync redis://127.0.0.1:1; limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s sync;`, headroom, nil},
		{"synced conn", `zone_sync redis://127.0.0.1:1; limit_conn_zone $binary_remote_addr zone=addr:1m sync;`, headroom, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "events {}\nhttp {\n" + tc.http + "\nserver { listen 8080; }\n}\n"
			cfg, err := conf.Load(conf.LoadOptions{File: "/srv/proxy/t.conf", Source: []byte(src), Prefix: "/srv/proxy", Lenient: true})
			if err != nil {
				t.Fatal(err)
			}
			got := fleetNote(cfg, tc.server)
			if tc.want == nil && got != "" {
				t.Errorf("note %q, want none", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("note %q lacks %q", got, w)
				}
			}
		})
	}
}

// fakeStore answers RESP commands over net.Pipe from a table of replies,
// recording the commands it was sent.
type fakeStore struct {
	reply   func(args []string) string
	dialErr error

	mu   sync.Mutex
	cmds []string
}

func (s *fakeStore) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	if s.dialErr != nil {
		return nil, s.dialErr
	}
	client, server := net.Pipe()
	go s.serve(server)
	return client, nil
}

func (s *fakeStore) serve(c net.Conn) {
	defer c.Close()
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		v, n, err := resp.Parse(buf, resp.Limits{})
		if errors.Is(err, resp.ErrNeedMore) {
			k, err := c.Read(tmp)
			if err != nil {
				return
			}
			buf = append(buf, tmp[:k]...)
			continue
		}
		if err != nil {
			return
		}
		var args []string
		for _, a := range v.Array {
			args = append(args, string(a.Str))
		}
		buf = buf[n:]
		s.mu.Lock()
		s.cmds = append(s.cmds, strings.Join(args, " "))
		s.mu.Unlock()
		if _, err := c.Write([]byte(s.reply(args))); err != nil {
			return
		}
	}
}

func (s *fakeStore) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

func bulk(s string) string { return string(resp.AppendBulkString(nil, s)) }

func array(items ...string) string {
	b := string(resp.AppendArrayHeader(nil, len(items)))
	for _, it := range items {
		b += bulk(it)
	}
	return b
}

// storeNow is the fake store's clock, in ms: 1700000000.123456 s.
const storeNow = 1700000000123

// valkey is a Valkey store that wants a user's password, keeps no
// maxmemory_policy in INFO memory (so CONFIG GET tells it) and has two
// live instances.
func valkey(args []string) string {
	switch strings.ToUpper(args[0]) {
	case "AUTH":
		if len(args) == 3 && args[1] == "app" && args[2] == "s3cret" {
			return "+OK\r\n"
		}
		return "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	case "SELECT", "PING":
		if args[0] == "PING" {
			return "+PONG\r\n"
		}
		return "+OK\r\n"
	case "INFO":
		if args[1] == "server" {
			return bulk("# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n")
		}
		return bulk("# Memory\r\nused_memory:1000\r\nmaxmemory:0\r\n")
	case "CONFIG":
		return array("maxmemory-policy", "volatile-lru")
	case "TIME":
		return array("1700000000", "123456")
	case "ZRANGEBYSCORE":
		if args[1] == zonesync.FleetKey && args[2] == "("+strconv.Itoa(storeNow-3000) && args[3] == "+inf" {
			return array("web2/2/b", "web1/1/a")
		}
		return "*0\r\n"
	case "HGETALL":
		switch args[1] {
		case "headroom:zone:api":
			return array("web1/1/a", "limit_req rate=100r/s", "web2/2/b", "limit_req rate=200r/s")
		case "headroom:zone:perip":
			return array("web1/1/a", "limit_conn", "web2/2/b", "limit_req rate=1r/s")
		}
		return "*0\r\n"
	}
	return "-ERR unknown command\r\n"
}

// TestProbeStore runs the store check against a fake store: the commands
// it sends, in order, and what it reads from the replies.
func TestProbeStore(t *testing.T) {
	cfg := loadZoneSyncConf(t)
	z := cfg.HTTP.ZoneSync

	s := &fakeStore{reply: valkey}
	f := probeStore(z, s.DialTimeout, []string{"api", "login", "perip"}, nil)
	want := []string{"AUTH app s3cret", "SELECT 2", "PING", "PING", "PING", "PING", "PING", "INFO server", "INFO memory",
		"CONFIG GET maxmemory-policy", "TIME", "ZRANGEBYSCORE headroom:instances (1699999997123 +inf",
		"HGETALL headroom:zone:api", "HGETALL headroom:zone:login", "HGETALL headroom:zone:perip"}
	if got := s.commands(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f.err != "" || f.version != "Valkey 8.0.1" || len(f.rtts) != 5 || f.policy != "volatile-lru" || f.maxmemory != 0 {
		t.Errorf("facts: %+v", f)
	}
	if !f.liveKnown || strings.Join(f.live, ",") != "web1/1/a,web2/2/b" {
		t.Errorf("live: %v %v (%s)", f.liveKnown, f.live, f.liveErr)
	}
	if f.defs["api"]["web2/2/b"] != "limit_req rate=200r/s" || len(f.defs["login"]) != 0 {
		t.Errorf("definitions: %v", f.defs)
	}

	// A wrong password: the error, and nothing asked after AUTH.
	bad := *z
	bad.Password = "wrong"
	s = &fakeStore{reply: valkey}
	f = probeStore(&bad, s.DialTimeout, []string{"api"}, nil)
	if !f.asked || !strings.HasPrefix(f.err, "AUTH: WRONGPASS") || len(f.rtts) != 0 {
		t.Errorf("wrong password: %+v", f)
	}
	if got := s.commands(); len(got) != 1 {
		t.Errorf("wrong password: commands %q, want only AUTH", got)
	}

	// No store there.
	s = &fakeStore{dialErr: errors.New("dial tcp 10.0.0.9:6380: connect: connection refused")}
	if f = probeStore(z, s.DialTimeout, nil, nil); f.err != "dial tcp 10.0.0.9:6380: connect: connection refused" {
		t.Errorf("refused: %+v", f)
	}

	// No dialer: not asked.
	if f = probeStore(z, nil, nil, nil); f.asked {
		t.Errorf("nil dialer: %+v", f)
	}
}

// netDiskHost is a described machine with file systems and a network
// that reaches the fake store.
type netDiskHost struct {
	diskHost
	store *fakeStore
}

func (h netDiskHost) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	return h.store.DialTimeout(network, addr, timeout)
}

// TestDiagnoseZoneSync runs Diagnose on a configuration with zone_sync:
// through a NetHost the store is asked and the JSON carries the section;
// through a plain Host it is not asked.
func TestDiagnoseZoneSync(t *testing.T) {
	cfg := loadZoneSyncConf(t)
	host := diskHost{debianMachine(65536, 524288), srvDisks}
	rep, err := Diagnose(cfg, netDiskHost{host, &fakeStore{reply: valkey}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	zs := rep.ZoneSync
	if zs == nil || !zs.Store.Reachable || zs.Store.Version != "Valkey 8.0.1" || zs.LiveInstances == nil || *zs.LiveInstances != 2 {
		t.Fatalf("zone_sync: %+v", zs)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"Zone sync (zone_sync at zonesync.conf:6: 2 live instances; 3 warnings)",
		"redis://app:xxxxx@store.internal:6380/2: reachable, Valkey 8.0.1",
		"maxmemory-policy  volatile-lru (maxmemory 0: no limit)",
		`live instance web2/2/b defines zone "api" as "limit_req rate=200r/s"`,
		"50.000r/s on each of the 2 live instances",
		`live instance web2/2/b defines zone "perip" as "limit_req rate=1r/s", this configuration as "limit_conn": they share its keys in the store under different terms`,
		"1 or 5 per key on each of the 2 live instances",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "s3cret") {
		t.Errorf("the text shows the password")
	}
	b.Reset()
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m struct {
		ZoneSync struct {
			Store struct {
				Reachable bool   `json:"reachable"`
				Policy    string `json:"maxmemory_policy"`
			} `json:"store"`
			Live  *int `json:"live_instances"`
			Zones []struct {
				Name         string            `json:"name"`
				FallbackRate string            `json:"fallback_rate"`
				Definitions  map[string]string `json:"definitions"`
			} `json:"zones"`
		} `json:"zone_sync"`
	}
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if !m.ZoneSync.Store.Reachable || m.ZoneSync.Store.Policy != "volatile-lru" || m.ZoneSync.Live == nil || *m.ZoneSync.Live != 2 ||
		len(m.ZoneSync.Zones) != 3 || m.ZoneSync.Zones[0].FallbackRate != "50.000r/s" || len(m.ZoneSync.Zones[0].Definitions) != 2 {
		t.Errorf("JSON zone_sync: %+v", m.ZoneSync)
	}
	if strings.Contains(b.String(), "s3cret") {
		t.Errorf("the JSON shows the password")
	}

	rep, err = Diagnose(cfg, host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ZoneSync == nil || rep.ZoneSync.Store.Asked {
		t.Errorf("plain host: zone_sync %+v, want it not asked", rep.ZoneSync)
	}
}
