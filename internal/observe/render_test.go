package observe

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStubStatusFormat(t *testing.T) {
	// The exact bytes nginx's stub_status writes, spaces before the line
	// ends included.
	got := string(AppendStubStatus(nil, Connections{Active: 291, Reading: 6, Writing: 179, Waiting: 106, Accepted: 16630948, Handled: 16630948, Requests: 31070465}))
	want := "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestClass(t *testing.T) {
	tests := []struct{ status, want int }{
		{100, Class1xx}, {101, Class1xx}, {200, Class2xx}, {204, Class2xx}, {301, Class3xx},
		{404, Class4xx}, {499, Class4xx}, {500, Class5xx}, {503, Class5xx}, {999, Class5xx},
	}
	for _, tt := range tests {
		if got := Class(tt.status); got != tt.want {
			t.Errorf("Class(%d) = %d, want %d", tt.status, got, tt.want)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 200 * time.Millisecond, 2 * time.Minute} {
		h.Observe(d)
	}
	var s HistogramSnapshot
	h.AddTo(&s)
	h.AddTo(&s) // two workers with the same figures
	if s.Count != 10 {
		t.Errorf("count %d, want 10", s.Count)
	}
	// 0 and 1 ms fall in the first bucket (le 0.001), 3 ms in le 0.005,
	// 200 ms in le 0.25, 2 min above every bound.
	want := map[int]uint64{0: 4, 1: 2, 6: 2, len(Bounds): 2}
	for i, n := range s.Buckets {
		if n != want[i] {
			t.Errorf("bucket %d: %d, want %d", i, n, want[i])
		}
	}
	if wantSum := 2 * (0.001 + 0.003 + 0.2 + 120); s.Sum < wantSum-1e-9 || s.Sum > wantSum+1e-9 {
		t.Errorf("sum %v, want %v", s.Sum, wantSum)
	}
}

func sampleSnapshot() *Snapshot {
	var resp HistogramSnapshot
	resp.Buckets[2] = 3
	resp.Buckets[len(Bounds)] = 1
	resp.Count, resp.Sum = 4, 61.5
	return &Snapshot{
		Version: "0.1.0", NginxVersion: "1.22.1",
		Connections: Connections{Active: 3, Reading: 1, Writing: 1, Waiting: 1, Accepted: 10, Handled: 10, Requests: 20},
		Responses:   map[string]uint64{"2xx": 18, "5xx": 2},
		Workers: []WorkerSnapshot{
			{ID: 0, Slots: 1024, ClientBudget: 511, ClientActive: 2, ClientIdle: 1, UpstreamActive: 2, AcceptPaused: true},
			{ID: 1, Slots: 1024, ClientBudget: 511},
		},
		Listeners: []ListenerSnapshot{{Address: "127.0.0.1:8080", Backlog: 4096, Queue: 7}},
		Pressure:  Pressure{AcceptPaused: 1, Rotated: 5, Rejected: 2},
		TLS:       TLS{Handshakes: 1200, HandshakesFailed: 3, HandshakeSeconds: 0.42},
		Zones:     []ZoneSnapshot{{Name: `a"b`, Kind: "limit_req", Rejected: 4, Delayed: 1}},
		Caches: []CacheSnapshot{{Zone: "one", Path: "/var/cache/one", Keys: 12, MaxKeys: 8192, Stored: 10, Size: 40960, MaxSize: 1 << 20,
			Statuses: map[string]uint64{"HIT": 30, "MISS": 12}}},
		Upstreams: []UpstreamSnapshot{{Name: "backend", Queue: 1, QueueMax: 100, Servers: []ServerSnapshot{
			{Address: "127.0.0.1:9000", State: "up", Active: 2, Requests: 20, Failures: 1, Response: resp},
			{Address: "127.0.0.1:9001", State: "unavailable"},
		}}},
	}
}

// TestPrometheusExposition checks the text against the exposition
// format's grammar: every sample belongs to a family declared once with
// HELP and TYPE before it, and histograms are cumulative and end at +Inf.
func TestPrometheusExposition(t *testing.T) {
	out := string(AppendPrometheus(nil, sampleSnapshot()))
	sampleLine := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (\S+)$`)
	declared := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name := strings.Fields(line)[2]
			if _, dup := declared[name]; dup {
				t.Errorf("family %s declared twice", name)
			}
			declared[name] = ""
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			declared[f[2]] = f[3]
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("not a sample line: %q", line)
				continue
			}
			name := m[1]
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			typ, ok := declared[name]
			if !ok {
				typ, ok = declared[base]
			}
			if !ok {
				t.Errorf("sample %s before its family's HELP/TYPE", name)
			}
			if typ == "counter" && !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		}
	}
	for _, want := range []string{
		`headroom_worker_slots_in_use{worker="0",kind="client_active"} 2`,
		`headroom_worker_accept_paused{worker="0"} 1`,
		`headroom_listen_queue{listen="127.0.0.1:8080"} 7`,
		`headroom_pressure_total{step="rotated"} 5`,
		`headroom_limit_rejected_total{zone="a\"b",kind="limit_req"} 4`,
		`headroom_upstream_server_up{upstream="backend",server="127.0.0.1:9001"} 0`,
		`headroom_cache_keys{zone="one",state="used"} 12`,
		`headroom_cache_keys{zone="one",state="stored"} 10`,
		`headroom_cache_size_bytes{zone="one",state="max"} 1.048576e+06`,
		`headroom_cache_requests_total{zone="one",status="HIT"} 30`,
		`headroom_cache_requests_total{zone="one",status="MISS"} 12`,
		`headroom_responses_total{class="5xx"} 2`,
		`headroom_tls_handshakes_total{result="completed"} 1200`,
		`headroom_tls_handshakes_total{result="failed"} 3`,
		`headroom_tls_handshake_seconds_total 0.42`,
		// Cumulative buckets: 3 at le 0.01 and every bound above it up to
		// 60, 4 at +Inf.
		`headroom_upstream_server_response_seconds_bucket{upstream="backend",server="127.0.0.1:9000",le="0.005"} 0`,
		`headroom_upstream_server_response_seconds_bucket{upstream="backend",server="127.0.0.1:9000",le="0.01"} 3`,
		`headroom_upstream_server_response_seconds_bucket{upstream="backend",server="127.0.0.1:9000",le="60"} 3`,
		`headroom_upstream_server_response_seconds_bucket{upstream="backend",server="127.0.0.1:9000",le="+Inf"} 4`,
		`headroom_upstream_server_response_seconds_sum{upstream="backend",server="127.0.0.1:9000"} 61.5`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
}

// TestWorkerTLS checks the TLS counters a worker keeps and their sum over
// workers, and that a transport without a worker counts nowhere.
func TestWorkerTLS(t *testing.T) {
	tests := []struct {
		name     string
		ended    []bool
		ran      time.Duration
		wantDone uint64
		wantFail uint64
	}{
		{"none", nil, 0, 0, 0},
		{"completed", []bool{true, true}, 2 * time.Millisecond, 2, 0},
		{"failed", []bool{false}, time.Millisecond, 0, 1},
		{"both", []bool{true, false, true}, 3 * time.Millisecond, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Worker
			if tt.ran > 0 {
				w.TLSHandshakeRan(time.Now().Add(-tt.ran))
			}
			for _, ok := range tt.ended {
				w.TLSHandshakeEnded(ok)
			}
			var sum TLS
			w.AddTLSTo(&sum)
			w.AddTLSTo(&sum) // two workers with the same figures
			if sum.Handshakes != 2*tt.wantDone || sum.HandshakesFailed != 2*tt.wantFail {
				t.Errorf("handshakes %d, failed %d; want %d, %d", sum.Handshakes, sum.HandshakesFailed, 2*tt.wantDone, 2*tt.wantFail)
			}
			// The time ran is at least what was asked, and not far more.
			if lo := 2 * tt.ran.Seconds(); sum.HandshakeSeconds < lo || sum.HandshakeSeconds > lo+1 {
				t.Errorf("handshake seconds %v, want about %v", sum.HandshakeSeconds, lo)
			}
			var carried TLS
			carried.Add(sum)
			if carried != sum {
				t.Errorf("Add gave %+v, want %+v", carried, sum)
			}
		})
	}
	var none *Worker
	none.TLSHandshakeRan(time.Now())
	none.TLSHandshakeEnded(true)
}
