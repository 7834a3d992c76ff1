package doctor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"headroom/internal/conf"
	"headroom/internal/zonesync"
)

// TestMaxConnsFallback checks how many connections each fallback lets an
// instance open to a synced upstream server while the store does not
// answer, as the server sets them: share max(max_conns/N, 1) with N at
// least 1, local max_conns, deny none.
func TestMaxConnsFallback(t *testing.T) {
	tests := []struct {
		name     string
		fallback conf.ZoneSyncFallback
		max, n   int
		per      int
		text     []string
	}{
		{"share among 2", conf.FallbackShare, 5, 2, 2, []string{"2 on each of the 2 live instances: 2 × 2 = 4 of 5"}},
		{"share exact", conf.FallbackShare, 10, 2, 5, []string{"5 on each of the 2 live instances: 2 × 5 = 10"}},
		{"share, at least one", conf.FallbackShare, 1, 2, 1, []string{"1 on each of the 2 live instances: 2 × 1 = 2, more than 1: at least 1 on each"}},
		{"share among 3", conf.FallbackShare, 100, 3, 33, []string{"33 on each of the 3 live instances: 3 × 33 = 99 of 100"}},
		{"share, one instance", conf.FallbackShare, 5, 1, 5, []string{"5 on the one live instance: the whole max_conns"}},
		{"share, none live", conf.FallbackShare, 5, 0, 5, []string{"5 on the first instance", "no instance is live now"}},
		{"share, unknown", conf.FallbackShare, 5, -1, -1, []string{"5 ÷ N on each instance (at least 1)", "not known here"}},
		{"local among 3", conf.FallbackLocal, 5, 3, 5, []string{"5 on each instance: 3 × 5 = 15 for the fleet"}},
		{"local, unknown", conf.FallbackLocal, 5, -1, 5, []string{"5 on each instance: N × 5 for a fleet of N (N not known here)"}},
		{"local, none live", conf.FallbackLocal, 5, 0, 5, []string{"(no instance is live now)"}},
		{"deny", conf.FallbackDeny, 5, 2, 0, []string{"none on any instance", "counts as full"}},
		{"deny, unknown", conf.FallbackDeny, 5, -1, 0, []string{"none on any instance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			per, text := maxConnsFallback(tc.fallback, tc.max, tc.n)
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

// loadUpstreamSyncConf loads testdata/zonesync_upstream.conf: upstream
// backend with "zone backend 64k sync" and servers of max_conns 5, 1,
// none and 4 (backup); upstream legacy with a zone without sync and a
// server of max_conns 50; upstream plain without zone, a server of
// max_conns 20, another down, and one without max_conns.
func loadUpstreamSyncConf(t *testing.T) *conf.Config {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "zonesync_upstream.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(conf.LoadOptions{File: "/srv/proxy/zonesync_upstream.conf", Source: src, Prefix: "/srv/proxy", Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serverKey is the store key of a server of upstream backend.
func serverKey(addr string) string { return string(zonesync.AppendServerKey(nil, "backend", addr)) }

// upstreamSyncFacts are what stores said of the synced upstream servers,
// for the golden reports.
var upstreamSyncFacts = []struct {
	name  string
	facts storeFacts
	// fallback, when set, replaces the configuration's.
	fallback *conf.ZoneSyncFallback
}{
	{
		// Two live instances hold 2 and 3 places of 10.0.0.5's 5 (a
		// dead one's 4 are not counted); each holds the one place of
		// 10.0.0.6, which the store never grants; nobody holds a
		// place of the backup.
		name: "zone_sync_upstream",
		facts: storeFacts{asked: true, version: "Redis 7.2.4", rtts: rtts(300 * time.Microsecond),
			policy: "noeviction", maxmemory: 0,
			live: []string{"web1/4242/9f3a", "web2/5151/c07e"}, liveKnown: true,
			defs: map[string]map[string]string{
				"api": {"web1/4242/9f3a": "limit_req rate=100r/s", "web2/5151/c07e": "limit_req rate=100r/s"},
			},
			leases: map[string]map[string]string{
				serverKey("10.0.0.5:8080"): {"web1/4242/9f3a": "2", "web2/5151/c07e": "3", "web3/77/dead": "4"},
				serverKey("10.0.0.6:8080"): {"web1/4242/9f3a": "1", "web2/5151/c07e": "1"},
				serverKey("10.0.0.8:8080"): {},
			}},
	},
	{
		// The store refuses connections: the shares with N unknown,
		// nothing leased read, the unsynced servers' notes with N.
		name:  "zone_sync_upstream_down",
		facts: storeFacts{asked: true, err: "dial tcp 10.0.0.9:6379: connect: connection refused", maxmemory: -1},
	},
	{
		// fallback=deny on a described machine.
		name:     "zone_sync_upstream_deny",
		facts:    storeFacts{maxmemory: -1},
		fallback: func() *conf.ZoneSyncFallback { f := conf.FallbackDeny; return &f }(),
	},
}

// upstreamSyncReport makes the report of one of upstreamSyncFacts.
func upstreamSyncReport(t *testing.T, i int) *ZoneSyncReport {
	cfg := loadUpstreamSyncConf(t)
	c := upstreamSyncFacts[i]
	if c.fallback != nil {
		z := *cfg.HTTP.ZoneSync
		z.Fallback = *c.fallback
		cfg.HTTP.ZoneSync = &z
	}
	return zoneSyncReport(cfg, c.facts, newNamer(cfg))
}

// TestZoneSyncUpstreamGolden compares the zone_sync section of a
// configuration with a synced upstream group with testdata/NAME.golden
// ("-update" rewrites them).
func TestZoneSyncUpstreamGolden(t *testing.T) {
	for i, c := range upstreamSyncFacts {
		t.Run(c.name, func(t *testing.T) {
			r := upstreamSyncReport(t, i)
			var b strings.Builder
			r.writeText(&b)
			checkGolden(t, c.name, b.String())
		})
	}
}

// TestZoneSyncUpstreamReport checks the figures behind the goldens: the
// rows of the synced servers with max_conns, the places leased by the
// live instances, the warning when they exceed max_conns, and the notes
// about the servers of the groups without sync.
func TestZoneSyncUpstreamReport(t *testing.T) {
	up := upstreamSyncReport(t, 0)
	if len(up.UpstreamServers) != 3 {
		t.Fatalf("upstream servers: %+v", up.UpstreamServers)
	}
	s5, s6, s8 := up.UpstreamServers[0], up.UpstreamServers[1], up.UpstreamServers[2]
	if s5.Upstream != "backend" || s5.Zone != "backend" || s5.Server != "10.0.0.5:8080" || s5.MaxConns != 5 ||
		s5.Key != "headroom:max_conns:7:backend:10.0.0.5:8080" || s5.Where != "zonesync_upstream.conf:7" {
		t.Errorf("10.0.0.5: %+v", s5)
	}
	if s5.Leased == nil || *s5.Leased != 5 || len(s5.Leases) != 2 || s5.Leases["web1/4242/9f3a"] != 2 || s5.Leases["web2/5151/c07e"] != 3 || len(s5.Problems) != 0 {
		t.Errorf("10.0.0.5 leases: %v %v %+v", s5.Leased, s5.Leases, s5.Problems)
	}
	if s5.FallbackPlaces == nil || *s5.FallbackPlaces != 2 || !strings.Contains(s5.FallbackText, "2 × 2 = 4 of 5") {
		t.Errorf("10.0.0.5 fallback: %v %q", s5.FallbackPlaces, s5.FallbackText)
	}
	if s6.Leased == nil || *s6.Leased != 2 || len(s6.Problems) != 1 || *s6.FallbackPlaces != 1 {
		t.Errorf("10.0.0.6: %+v", s6)
	} else if p := s6.Problems[0]; !strings.Contains(p.Text, "lease 2 places to server 10.0.0.6:8080 of upstream backend") ||
		!strings.Contains(p.Text, "more than its max_conns=1") || !strings.Contains(p.Text, "the instances disagree on max_conns for it, or the store lost leases") {
		t.Errorf("10.0.0.6 problem: %q", p.Text)
	}
	if !s8.Backup || s8.Leased == nil || *s8.Leased != 0 || len(s8.Leases) != 0 || *s8.FallbackPlaces != 2 {
		t.Errorf("10.0.0.8: %+v", s8)
	}
	wantNotes := []string{
		`2 instances: server 10.0.0.9:8080 of upstream legacy may get up to 2 × 50 connections (max_conns is per instance without zone ... sync): sync in its "zone legacy_zone" shares it`,
		`2 instances: server 10.0.0.10:8080 of upstream plain may get up to 2 × 20 connections (max_conns is per instance without zone ... sync): "zone plain sync;" in the upstream shares it`,
	}
	if len(up.Notes) != len(wantNotes) {
		t.Fatalf("notes: %q", up.Notes)
	}
	for i, w := range wantNotes {
		if !strings.HasPrefix(up.Notes[i], w) {
			t.Errorf("note %d = %q, want it to start with %q", i, up.Notes[i], w)
		}
	}

	down := upstreamSyncReport(t, 1)
	for _, s := range down.UpstreamServers {
		if s.Leased != nil || len(s.Leases) != 0 || s.FallbackPlaces != nil || !strings.Contains(s.FallbackText, "÷ N") || !strings.Contains(s.FallbackText, "not known here") {
			t.Errorf("down: %+v", s)
		}
	}
	if len(down.Notes) != 2 || !strings.HasPrefix(down.Notes[0], "N instances: server 10.0.0.9:8080 of upstream legacy may get up to N × 50 connections (max_conns is per instance without zone ... sync): each instance enforces max_conns on its own") {
		t.Errorf("down notes: %q", down.Notes)
	}

	deny := upstreamSyncReport(t, 2)
	for _, s := range deny.UpstreamServers {
		if s.FallbackPlaces == nil || *s.FallbackPlaces != 0 || s.Leased != nil {
			t.Errorf("deny: %+v", s)
		}
	}
}

// TestUnsyncedServerNotes checks the notes about max_conns without sync
// in configurations with zone_sync: none for a synced group, for a down
// server or for servers without max_conns; N when the live instances
// are unknown or not more than one.
func TestUnsyncedServerNotes(t *testing.T) {
	tests := []struct {
		name, ups string
		n         int
		want      []string
	}{
		{"synced", `upstream a { zone a 64k sync; server 10.0.0.1:80 max_conns=5; }`, 3, nil},
		{"no max_conns", `upstream a { server 10.0.0.1:80; }`, 3, nil},
		{"down", `upstream a { server 10.0.0.1:80 max_conns=5 down; server 10.0.0.2:80; }`, 3, nil},
		{"three", `upstream a { server 10.0.0.1:80 max_conns=5; }`, 3,
			[]string{`3 instances: server 10.0.0.1:80 of upstream a may get up to 3 × 5 connections (max_conns is per instance without zone ... sync): "zone a sync;" in the upstream shares it across the fleet`}},
		{"zone without sync, one live", `upstream a { zone z 64k; server 10.0.0.1:80 max_conns=5; }`, 1,
			[]string{`N instances: server 10.0.0.1:80 of upstream a may get up to N × 5 connections (max_conns is per instance without zone ... sync): each instance enforces max_conns on its own; sync in its "zone z" shares it across the fleet`}},
		{"unknown", `upstream a { server 10.0.0.1:80 max_conns=5; server 10.0.0.2:80 max_conns=7; }`, -1,
			[]string{"N instances: server 10.0.0.1:80 of upstream a may get up to N × 5 connections", "N instances: server 10.0.0.2:80 of upstream a may get up to N × 7 connections"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "events {}\nhttp {\nzone_sync redis://127.0.0.1:1;\n" + tc.ups + "\nserver { listen 8080; location / { proxy_pass http://a; } }\n}\n"
			cfg, err := conf.Load(conf.LoadOptions{File: "/srv/proxy/t.conf", Source: []byte(src), Prefix: "/srv/proxy", Lenient: true})
			if err != nil {
				t.Fatal(err)
			}
			got := unsyncedServerNotes(cfg, tc.n)
			if len(got) != len(tc.want) {
				t.Fatalf("notes %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("note %q, want it to start with %q", got[i], w)
				}
			}
		})
	}
}

// leasing is a store with two live instances that lease places to the
// servers of upstream backend.
func leasing(args []string) string {
	switch strings.ToUpper(args[0]) {
	case "PING":
		return "+PONG\r\n"
	case "INFO":
		if args[1] == "server" {
			return bulk("# Server\r\nredis_version:7.2.4\r\n")
		}
		return bulk("# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n")
	case "TIME":
		return array("1700000000", "123456")
	case "ZRANGEBYSCORE":
		return array("web1/1/a", "web2/2/b")
	case "HGETALL":
		switch args[1] {
		case serverKey("10.0.0.5:8080"):
			return array("web1/1/a", "2", "web2/2/b", "3", "web9/9/z", "4")
		case serverKey("10.0.0.6:8080"):
			return array("web1/1/a", "1")
		}
		return "*0\r\n"
	}
	return "-ERR unknown command\r\n"
}

// TestDiagnoseZoneSyncUpstream runs Diagnose on the configuration with a
// synced upstream group through a NetHost: the store is asked for the
// places of each synced server with max_conns, and the text and JSON
// carry them.
func TestDiagnoseZoneSyncUpstream(t *testing.T) {
	cfg := loadUpstreamSyncConf(t)
	host := diskHost{debianMachine(65536, 524288), srvDisks}
	store := &fakeStore{reply: leasing}
	rep, err := Diagnose(cfg, netDiskHost{host, store}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	for _, c := range store.commands() {
		if strings.HasPrefix(c, "HGETALL headroom:max_conns:") {
			asked = append(asked, c)
		}
	}
	want := []string{"HGETALL " + serverKey("10.0.0.5:8080"), "HGETALL " + serverKey("10.0.0.6:8080"), "HGETALL " + serverKey("10.0.0.8:8080")}
	if strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked:\n%s\nwant:\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"Zone sync (zone_sync at zonesync_upstream.conf:5: 2 live instances)",
		"UPSTREAM  SERVER",
		"5 of 5",
		"leased by web1/1/a 2, web2/2/b 3",
		"2 on each of the 2 live instances: 2 × 2 = 4 of 5",
		"1 of 1",
		"2 instances: server 10.0.0.9:8080 of upstream legacy may get up to 2 × 50 connections (max_conns is per instance without zone ... sync)",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, b.String())
		}
	}
	b.Reset()
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m struct {
		ZoneSync struct {
			Servers []struct {
				Upstream       string         `json:"upstream"`
				Zone           string         `json:"zone"`
				Server         string         `json:"server"`
				Key            string         `json:"key"`
				MaxConns       int            `json:"max_conns"`
				FallbackPlaces *int           `json:"fallback_places"`
				Leased         *int           `json:"leased"`
				Leases         map[string]int `json:"leases"`
				Problems       []Problem      `json:"problems"`
			} `json:"upstream_servers"`
			Notes []string `json:"notes"`
		} `json:"zone_sync"`
	}
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	ss := m.ZoneSync.Servers
	if len(ss) != 3 || ss[0].Upstream != "backend" || ss[0].Zone != "backend" || ss[0].Server != "10.0.0.5:8080" || ss[0].Key != serverKey("10.0.0.5:8080") ||
		ss[0].MaxConns != 5 || ss[0].FallbackPlaces == nil || *ss[0].FallbackPlaces != 2 || ss[0].Leased == nil || *ss[0].Leased != 5 ||
		len(ss[0].Leases) != 2 || ss[0].Leases["web2/2/b"] != 3 || ss[0].Problems == nil {
		t.Errorf("JSON upstream_servers: %+v", ss)
	}
	if len(ss) == 3 && (ss[2].Leased == nil || *ss[2].Leased != 0 || ss[2].Leases == nil) {
		t.Errorf("JSON backup server: %+v", ss[2])
	}
	if len(m.ZoneSync.Notes) != 2 {
		t.Errorf("JSON notes: %q", m.ZoneSync.Notes)
	}
}
