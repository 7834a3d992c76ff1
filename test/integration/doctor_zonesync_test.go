package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"headroom/internal/zonesync"
)

// The zone_sync part of "headroom doctor": the real binary against a real
// redis-server (skipped when it is not installed), populated as a fleet
// of instances populates it.

// doctorHeadroom returns the headroom target, skipping the test when
// headroom is not among the targets: zone_sync is headroom's own.
func doctorHeadroom(t *testing.T) *target {
	t.Helper()
	for _, tg := range targets {
		if tg.isHeadroom() {
			tg.require(t)
			return tg
		}
	}
	t.Skipf("headroom is not among the targets (%s): doctor's zone_sync test skipped", envTargets)
	return nil
}

// writeDoctorZoneSyncConf writes a configuration whose zone_sync names url:
// zone "one" (100r/s) and the limit_conn zone "conns" (10 per key) are
// synced, zone "two" (10r/s) and the limit_conn zone "addr" (10 per key)
// are not. It returns the prefix and the file.
func writeDoctorZoneSyncConf(t *testing.T, url string) (prefix, file string) {
	t.Helper()
	prefix = makePrefix(t)
	file = filepath.Join(prefix, "conf", "fleet.conf")
	text := fmt.Sprintf(`worker_processes 1;
pid %[1]s/logs/fleet.pid;
error_log %[1]s/logs/error.log;
events {
    worker_connections 256;
}
http {
    zone_sync %[2]s timeout=20ms;
    limit_req_zone $binary_remote_addr zone=one:1m rate=100r/s sync;
    limit_req_zone $binary_remote_addr zone=two:1m rate=10r/s;
    limit_conn_zone $binary_remote_addr zone=addr:1m;
    limit_conn_zone $server_name zone=conns:1m sync;
    server {
        listen 127.0.0.1:18080;
        location / {
            limit_req zone=one burst=20 nodelay;
            limit_req zone=two;
            limit_conn addr 10;
            limit_conn conns 10;
            return 200 "ok\n";
        }
    }
}
`, prefix, url)
	if err := os.WriteFile(file, []byte(text), 0o666); err != nil {
		t.Fatal(err)
	}
	return prefix, file
}

// The instances the store is populated with: two live ones that define
// zone "one" differently, and one whose lease ran out a minute ago.
const (
	fleetID1    = "web1/101/a1b2"
	fleetID2    = "web2/202/c3d4"
	fleetIDDead = "web3/303/dead"
)

// redisNowMillis is the store's clock in milliseconds, as the heartbeat
// script reads it.
func redisNowMillis(t *testing.T, r *redisServer) string {
	t.Helper()
	v, err := r.do("EVAL", "local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)", "0")
	if err != nil {
		t.Fatalf("EVAL TIME: %v", err)
	}
	return v
}

// populateFleet writes what the instances write: their heartbeats in
// headroom:instances and their definitions of zones "one" and "conns",
// then keeps the two live ones beating every 500 ms until the test ends,
// as instances do, so that their leases (3 s) hold however long the test
// takes.
func populateFleet(t *testing.T, r *redisServer) {
	t.Helper()
	now := redisNowMillis(t, r)
	var dead int64
	fmt.Sscan(now, &dead)
	dead -= 60000
	if _, err := r.do("ZADD", "headroom:instances", now, fleetID1, now, fleetID2, fmt.Sprint(dead), fleetIDDead); err != nil {
		t.Fatalf("ZADD: %v", err)
	}
	if _, err := r.do("HSET", "headroom:zone:one",
		fleetID1, "limit_req rate=100r/s",
		fleetID2, "limit_req rate=50r/s",
		fleetIDDead, "limit_req rate=1r/s"); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	if _, err := r.do("HSET", "headroom:zone:conns", fleetID1, "limit_conn", fleetID2, "limit_conn"); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				r.do("EVAL", "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "+
					"return redis.call('ZADD', KEYS[1], now, ARGV[1], now, ARGV[2])", "1", "headroom:instances", fleetID1, fleetID2)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// runDoctorOn runs "headroom doctor" on the configuration and fails the
// test unless it exits 0.
func runDoctorOn(t *testing.T, tg *target, prefix, file string, extra ...string) string {
	t.Helper()
	args := append([]string{"doctor"}, extra...)
	args = append(args, "-p", prefix+"/", "-c", file)
	out, stderr, code := runCLI(t, tg, args...)
	if code != 0 {
		t.Fatalf("doctor exit %d: %s\n%s", code, stderr, out)
	}
	return out
}

// doctorZoneSyncJSON is the part of doctor's JSON the tests read.
type doctorZoneSyncJSON struct {
	Capacity struct {
		Proxied int `json:"proxied"`
	} `json:"capacity"`
	Notes    []string `json:"notes"`
	ZoneSync *struct {
		URL   string `json:"url"`
		Store struct {
			Asked           bool   `json:"asked"`
			Reachable       bool   `json:"reachable"`
			Error           string `json:"error"`
			Version         string `json:"version"`
			RoundTripMicros *int64 `json:"round_trip_us"`
			MaxmemoryPolicy string `json:"maxmemory_policy"`
			Problems        []struct {
				Level, Text string
			} `json:"problems"`
		} `json:"store"`
		LiveInstances *int     `json:"live_instances"`
		Instances     []string `json:"instances"`
		Zones         []struct {
			Name         string            `json:"name"`
			Rate         string            `json:"rate"`
			FallbackRate string            `json:"fallback_rate"`
			FallbackText string            `json:"fallback_text"`
			Definitions  map[string]string `json:"definitions"`
			Problems     []struct {
				Level, Text string
			} `json:"problems"`
		} `json:"zones"`
		UpstreamServers []struct {
			Upstream       string         `json:"upstream"`
			Zone           string         `json:"zone"`
			Server         string         `json:"server"`
			Key            string         `json:"key"`
			MaxConns       int            `json:"max_conns"`
			FallbackPlaces *int           `json:"fallback_places"`
			FallbackText   string         `json:"fallback_text"`
			Leased         *int           `json:"leased"`
			Leases         map[string]int `json:"leases"`
			Problems       []struct {
				Level, Text string
			} `json:"problems"`
		} `json:"upstream_servers"`
		Notes []string `json:"notes"`
	} `json:"zone_sync"`
}

func doctorContains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// TestDoctorZoneSync populates a redis-server as two live instances (and
// one dead) would and checks doctor's report of it: the store reachable
// with its version, the 2 live instances, the share each enforces while
// the store is away (100r/s / 2), the live instance that defines the zone
// otherwise, the unsynced zones' notes, and the eviction warning once
// maxmemory-policy is allkeys-lru.
func TestDoctorZoneSync(t *testing.T) {
	t.Parallel()
	tg := doctorHeadroom(t)
	r := startRedis(t)
	populateFleet(t, r)
	prefix, file := writeDoctorZoneSyncConf(t, r.url())

	out := runDoctorOn(t, tg, prefix, file)
	t.Logf("doctor:\n%s", doctorSection(out, "Zone sync"))
	version := r.info("server", "redis_version")
	if !regexp.MustCompile(`redis://` + regexp.QuoteMeta(r.addr) + `: reachable, (Redis|Valkey) \d`).MatchString(out) {
		t.Errorf("report does not say the store is reachable with its version (redis_version %s)", version)
	}
	doctorContains(t, "report", out,
		"Zone sync (zone_sync at fleet.conf:8: 2 live instances",
		"2 live instances (a heartbeat within the last 3s of the store's clock): "+fleetID1+", "+fleetID2,
		"50.000r/s on each of the 2 live instances: 2 × 50.000r/s = 100r/s",
		"5 per key on each of the 2 live instances: 2 × 5 = 10",
		`warning: live instance `+fleetID2+` defines zone "one" as "limit_req rate=50r/s", this configuration as "limit_req rate=100r/s"`,
		`2 instances: zone "two" admits up to 2 × 10r/s = 20.000r/s for the fleet`,
		`2 instances: zone "addr" admits up to 2 × 10 connections per key for the fleet`,
	)
	if strings.Contains(out, `zone "conns" admits`) {
		t.Errorf("report notes the synced limit_conn zone as unsynced")
	}
	if !regexp.MustCompile(`maxmemory-policy\s+noeviction`).MatchString(out) {
		t.Errorf("report does not show maxmemory-policy noeviction")
	}
	if strings.Contains(out, fleetIDDead) {
		t.Errorf("report names the dead instance %s", fleetIDDead)
	}
	if strings.Contains(out, "warning: maxmemory-policy") {
		t.Errorf("report warns about noeviction")
	}
	if regexp.MustCompile(`(?m)^  - each headroom instance enforces its own limit zones`).MatchString(out) {
		t.Errorf("with zone_sync the report has the note for configurations without it")
	}

	if _, err := r.do("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"); err != nil {
		t.Fatalf("CONFIG SET: %v", err)
	}
	out = runDoctorOn(t, tg, prefix, file)
	doctorContains(t, "report with allkeys-lru", out,
		"warning: maxmemory-policy allkeys-lru evicts keys when the store reaches maxmemory",
		"fix: CONFIG SET maxmemory-policy noeviction",
		"; 2 warnings)",
	)

	js := runDoctorOn(t, tg, prefix, file, "--json")
	var rep doctorZoneSyncJSON
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, js)
	}
	zs := rep.ZoneSync
	if zs == nil {
		t.Fatalf("doctor --json: no zone_sync\n%s", js)
	}
	if !zs.Store.Asked || !zs.Store.Reachable || zs.Store.RoundTripMicros == nil || zs.Store.MaxmemoryPolicy != "allkeys-lru" || !strings.HasSuffix(zs.Store.Version, version) {
		t.Errorf("JSON store: %+v (redis_version %s)", zs.Store, version)
	}
	if zs.LiveInstances == nil || *zs.LiveInstances != 2 || strings.Join(zs.Instances, " ") != fleetID1+" "+fleetID2 {
		t.Errorf("JSON fleet: %v %v", zs.LiveInstances, zs.Instances)
	}
	if len(zs.Zones) != 2 || zs.Zones[0].Name != "one" || zs.Zones[1].Name != "conns" || len(zs.Zones[1].Problems) != 0 || zs.Zones[0].Rate != "100r/s" || zs.Zones[0].FallbackRate != "50.000r/s" ||
		len(zs.Zones[0].Definitions) != 2 || len(zs.Zones[0].Problems) != 1 {
		t.Errorf("JSON zones: %+v", zs.Zones)
	}
	if len(zs.Notes) != 2 {
		t.Errorf("JSON notes: %q", zs.Notes)
	}
}

// TestDoctorZoneSyncAuth checks AUTH and SELECT as the URL asks, the
// password hidden in the report, and a wrong password reported as the
// reason the store is unreachable.
func TestDoctorZoneSyncAuth(t *testing.T) {
	t.Parallel()
	tg := doctorHeadroom(t)
	r := startRedis(t)
	if _, err := r.do("CONFIG", "SET", "requirepass", "s3cret"); err != nil {
		t.Fatalf("CONFIG SET requirepass: %v", err)
	}
	prefix, file := writeDoctorZoneSyncConf(t, "redis://:s3cret@"+r.addr+"/3")
	out := runDoctorOn(t, tg, prefix, file)
	doctorContains(t, "report", out, "redis://:xxxxx@"+r.addr+"/3: reachable", "0 live instances")
	if strings.Contains(out, "s3cret") {
		t.Errorf("report shows the password")
	}

	prefix, file = writeDoctorZoneSyncConf(t, "redis://:wrong@"+r.addr)
	out = runDoctorOn(t, tg, prefix, file)
	t.Logf("doctor:\n%s", doctorSection(out, "Zone sync"))
	doctorContains(t, "report with a wrong password", out, "redis://:xxxxx@"+r.addr+": unreachable: AUTH: WRONGPASS")
}

// TestDoctorZoneSyncUnreachable names a store on a closed port: doctor
// exits as it always does, with the whole report, says the store is
// unreachable and what the fallback enforces without knowing the number
// of instances.
func TestDoctorZoneSyncUnreachable(t *testing.T) {
	t.Parallel()
	tg := doctorHeadroom(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	prefix, file := writeDoctorZoneSyncConf(t, "redis://"+addr)
	start := time.Now()
	out := runDoctorOn(t, tg, prefix, file)
	t.Logf("doctor (%v):\n%s", time.Since(start).Round(time.Millisecond), doctorSection(out, "Zone sync"))
	doctorContains(t, "report", out,
		"Binding limit:",
		"Memory estimate for headroom",
		"redis://"+addr+": unreachable: dial tcp "+addr+": connect: connection refused",
		"unknown: the store was not read",
		"100r/s ÷ N on each instance, N being the live instances it last counted (not known here)",
		"warning: doctor could not use the store from this machine",
	)

	js := runDoctorOn(t, tg, prefix, file, "--json")
	var rep doctorZoneSyncJSON
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, js)
	}
	zs := rep.ZoneSync
	if zs == nil || zs.Store.Reachable || !strings.Contains(zs.Store.Error, "connection refused") || zs.LiveInstances != nil ||
		len(zs.Zones) != 2 || zs.Zones[0].FallbackRate != "" || rep.Capacity.Proxied == 0 {
		t.Errorf("JSON: %+v", zs)
	}
}

// writeDoctorUpstreamSyncConf writes a configuration whose zone_sync
// names url, with upstream "backend" ("zone backend 64k sync", server
// 127.0.0.1:18091 max_conns=5) and upstream "legacy" without zone (server
// 127.0.0.1:18092 max_conns=50). No server is connected to.
func writeDoctorUpstreamSyncConf(t *testing.T, url string) (prefix, file string) {
	t.Helper()
	prefix = makePrefix(t)
	file = filepath.Join(prefix, "conf", "upstreams.conf")
	text := fmt.Sprintf(`worker_processes 1;
pid %[1]s/logs/upstreams.pid;
error_log %[1]s/logs/error.log;
events {
    worker_connections 256;
}
http {
    zone_sync %[2]s timeout=20ms;
    upstream backend {
        zone backend 64k sync;
        server 127.0.0.1:18091 max_conns=5;
    }
    upstream legacy {
        server 127.0.0.1:18092 max_conns=50;
    }
    server {
        listen 127.0.0.1:18080;
        location / {
            proxy_pass http://backend;
        }
        location /legacy {
            proxy_pass http://legacy;
        }
    }
}
`, prefix, url)
	if err := os.WriteFile(file, []byte(text), 0o666); err != nil {
		t.Fatal(err)
	}
	return prefix, file
}

// TestDoctorZoneSyncUpstream populates a redis-server as two live
// instances (and one dead) leasing places to a synced upstream server
// would, 2 and 3 of its max_conns=5, and checks doctor's report: 5 of 5
// leased by the live instances (the dead one's places left out), the
// share each opens while the store is away (5 / 2 = 2), and the note on
// the group without sync, whose max_conns the 2 instances each enforce.
// With the store's port closed, the share is "÷ N" and the note says N.
func TestDoctorZoneSyncUpstream(t *testing.T) {
	t.Parallel()
	tg := doctorHeadroom(t)
	r := startRedis(t)
	populateFleet(t, r)
	key := string(zonesync.AppendServerKey(nil, "backend", "127.0.0.1:18091"))
	if _, err := r.do("HSET", key, fleetID1, "2", fleetID2, "3", fleetIDDead, "4"); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	prefix, file := writeDoctorUpstreamSyncConf(t, r.url())

	out := runDoctorOn(t, tg, prefix, file)
	t.Logf("doctor:\n%s", doctorSection(out, "Zone sync"))
	doctorContains(t, "report", out,
		"Zone sync (zone_sync at upstreams.conf:8: 2 live instances)",
		"leased by "+fleetID1+" 2, "+fleetID2+" 3",
		"2 instances: server 127.0.0.1:18092 of upstream legacy may get up to 2 × 50 connections (max_conns is per instance without zone ... sync)",
	)
	row := regexp.MustCompile(`(?m)^  backend\s+127\.0\.0\.1:18091\s+upstreams\.conf:9\s+5\s+5 of 5\s+2 on each of the 2 live instances: 2 × 2 = 4 of 5$`)
	if !row.MatchString(out) {
		t.Errorf("report lacks the row of backend's server with 5 of 5 leased and 2 on each under fallback")
	}
	if strings.Contains(out, fleetIDDead) {
		t.Errorf("report names the dead instance %s", fleetIDDead)
	}
	if strings.Contains(out, "warning:") {
		t.Errorf("report warns")
	}

	js := runDoctorOn(t, tg, prefix, file, "--json")
	var rep doctorZoneSyncJSON
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, js)
	}
	zs := rep.ZoneSync
	if zs == nil {
		t.Fatalf("doctor --json: no zone_sync\n%s", js)
	}
	if len(zs.UpstreamServers) != 1 {
		t.Fatalf("JSON upstream_servers: %+v", zs.UpstreamServers)
	}
	s := zs.UpstreamServers[0]
	if s.Upstream != "backend" || s.Zone != "backend" || s.Server != "127.0.0.1:18091" || s.Key != key || s.MaxConns != 5 ||
		s.FallbackPlaces == nil || *s.FallbackPlaces != 2 || s.Leased == nil || *s.Leased != 5 ||
		len(s.Leases) != 2 || s.Leases[fleetID1] != 2 || s.Leases[fleetID2] != 3 || len(s.Problems) != 0 {
		t.Errorf("JSON upstream server: %+v", s)
	}
	if len(zs.Notes) != 1 || !strings.HasPrefix(zs.Notes[0], "2 instances: server 127.0.0.1:18092 of upstream legacy") {
		t.Errorf("JSON notes: %q", zs.Notes)
	}

	// An instance that counts a larger max_conns leases beyond 5.
	if _, err := r.do("HSET", key, fleetID2, "6"); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	out = runDoctorOn(t, tg, prefix, file)
	doctorContains(t, "report with 8 places leased", out,
		"; 1 warning)",
		"8 of 5",
		"warning: the live instances lease 8 places to server 127.0.0.1:18091 of upstream backend",
		"the instances disagree on max_conns for it, or the store lost leases",
	)

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	prefix, file = writeDoctorUpstreamSyncConf(t, "redis://"+addr)
	out = runDoctorOn(t, tg, prefix, file)
	t.Logf("doctor, store down:\n%s", doctorSection(out, "Zone sync"))
	doctorContains(t, "report with the store down", out,
		"not read",
		"5 ÷ N on each instance (at least 1), N being the live instances it last counted (not known here)",
		"N instances: server 127.0.0.1:18092 of upstream legacy may get up to N × 50 connections (max_conns is per instance without zone ... sync): each instance enforces max_conns on its own",
	)
}

// doctorSection returns the report's section that starts with head, up to the
// next blank line followed by a heading.
func doctorSection(out, head string) string {
	i := strings.Index(out, "\n"+head)
	if i < 0 {
		return "(no " + head + " section)"
	}
	s := out[i+1:]
	if j := regexp.MustCompile(`\n\n[A-Z]`).FindStringIndex(s); j != nil {
		s = s[:j[0]+1]
	}
	return s
}
