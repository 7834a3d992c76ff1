package errorlog

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// ctx is the context nginx appends to a request's messages.
const ctx = `, client: 203.0.113.7, server: shop.example.com, request: "GET /api/cart HTTP/1.1", upstream: "http://10.0.0.21:8080/api/cart", host: "shop.example.com"`

// TestScanLines checks each recognised message on its own: the kind, the
// grouping key and the figures taken from it. The wording is nginx's
// (from its source) or headroom's (from internal/proxy and cmd/headroom).
func TestScanLines(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Group // only the fields set here are compared
	}{
		{
			name: "worker_connections from ngx_get_connection",
			line: "2026/11/26 03:40:03 [alert] 1234#1234: 1024 worker_connections are not enough",
			want: Group{Kind: KindWorkerConnections, Impact: Failed, Level: "alert", WorkerConnections: 1024},
		},
		{
			name: "worker_connections while connecting to upstream",
			line: "2026/11/26 03:40:03 [alert] 1234#1234: *5 1024 worker_connections are not enough while connecting to upstream" + ctx,
			want: Group{Kind: KindWorkerConnections, WorkerConnections: 1024, Clients: 1},
		},
		{
			name: "reusing connections from ngx_drain_connections",
			line: "2026/11/26 03:40:01 [warn] 1234#1234: 512 worker_connections are not enough, reusing connections",
			want: Group{Kind: KindReusingConnections, Impact: Slowed, Level: "warn", WorkerConnections: 512},
		},
		{
			name: "reusing connections, headroom's slot report",
			line: "2026/11/26 09:05:10 [warn] 4321#1: 9980 worker_connections are not enough, reusing connections: 9980 of 9980 slots in use (4989 client, 4990 upstream), 2 requests queued; the open file limit allows worker_connections 12000",
			want: Group{Kind: KindReusingConnections, WorkerConnections: 9980, Allowed: 12000, MaxQueued: 2},
		},
		{
			name: "accept4 EMFILE",
			line: "2026/11/26 03:41:00 [crit] 1235#1235: accept4() failed (24: Too many open files)",
			want: Group{Kind: KindAcceptFiles, Impact: Failed, Errno: 24, Level: "crit"},
		},
		{
			name: "accept EMFILE",
			line: "2026/11/26 03:41:00 [crit] 1235#1235: accept() failed (24: Too many open files)",
			want: Group{Kind: KindAcceptFiles, Errno: 24},
		},
		{
			name: "accept4 EMFILE, headroom's pause",
			line: "2026/11/26 09:08:00 [alert] 4321#0: accept4() failed (24: Too many open files), accept paused for 500ms",
			want: Group{Kind: KindAcceptFiles, Errno: 24},
		},
		{
			name: "accept4 ENFILE",
			line: "2026/11/26 03:47:05 [crit] 1234#1234: accept4() failed (23: Too many open files in system)",
			want: Group{Kind: KindSystemFiles, Errno: 23},
		},
		{
			name: "socket ENFILE",
			line: "2026/11/26 03:47:05 [alert] 1234#1234: *9 socket() failed (23: Too many open files in system) while connecting to upstream" + ctx,
			want: Group{Kind: KindSystemFiles, Errno: 23},
		},
		{
			name: "socket EMFILE",
			line: "2026/11/26 03:41:10 [alert] 1235#1235: *6001 socket() failed (24: Too many open files) while connecting to upstream" + ctx,
			want: Group{Kind: KindSocketFiles, Errno: 24, Upstream: ""},
		},
		{
			name: "open EMFILE",
			line: `2026/11/26 03:41:10 [crit] 1235#1235: *6001 open() "/srv/www/a.css" failed (24: Too many open files), client: 1.2.3.4, server: x, request: "GET /a.css HTTP/1.1", host: "x"`,
			want: Group{Kind: KindOtherFiles, Errno: 24},
		},
		{
			name: "no live upstreams",
			line: `2026/11/26 03:44:00 [error] 1234#1234: *7 no live upstreams while connecting to upstream, client: 203.0.113.51, server: shop.example.com, request: "GET /api/cart HTTP/1.1", upstream: "http://shop_backend/api/cart", host: "shop.example.com"`,
			want: Group{Kind: KindNoLiveUpstreams, Upstream: "shop_backend", Level: "error"},
		},
		{
			name: "connect timeout",
			line: "2026/11/26 03:42:00 [error] 1234#1234: *6100 upstream timed out (110: Connection timed out) while connecting to upstream" + ctx,
			want: Group{Kind: KindConnectTimeout, Upstream: "10.0.0.21:8080", Errno: 110},
		},
		{
			name: "connect() ETIMEDOUT is a connect timeout",
			line: "2026/11/26 03:42:00 [error] 1234#1234: *6100 connect() failed (110: Connection timed out) while connecting to upstream" + ctx,
			want: Group{Kind: KindConnectTimeout, Upstream: "10.0.0.21:8080", Errno: 110},
		},
		{
			name: "response header timeout",
			line: "2026/11/26 03:42:20 [error] 1234#1234: *6102 upstream timed out (110: Connection timed out) while reading response header from upstream" + ctx,
			want: Group{Kind: KindHeaderTimeout, Upstream: "10.0.0.21:8080", Impact: Failed},
		},
		{
			name: "send timeout",
			line: "2026/11/26 03:42:20 [error] 1234#1234: *6102 upstream timed out (110: Connection timed out) while sending request to upstream" + ctx,
			want: Group{Kind: KindSendTimeout, Upstream: "10.0.0.21:8080"},
		},
		{
			name: "body timeout",
			line: "2026/11/26 03:42:20 [error] 1234#1234: *6102 upstream timed out (110: Connection timed out) while reading upstream" + ctx,
			want: Group{Kind: KindReadTimeout, Upstream: "10.0.0.21:8080"},
		},
		{
			name: "ephemeral ports, connect() failed",
			line: "2026/11/26 03:43:00 [crit] 1235#1235: *7 connect() failed (99: Cannot assign requested address) while connecting to upstream" + ctx,
			want: Group{Kind: KindEphemeralPorts, Upstream: "10.0.0.21:8080", Errno: 99},
		},
		{
			name: "ephemeral ports, connect() to ADDR failed, no upstream field",
			line: "2026/11/26 03:43:00 [crit] 1235#1235: *7 connect() to 10.0.0.30:8080 failed (99: Cannot assign requested address) while connecting to upstream",
			want: Group{Kind: KindEphemeralPorts, Upstream: "10.0.0.30:8080", Errno: 99},
		},
		{
			name: "connection refused",
			line: "2026/11/26 03:43:30 [error] 1234#1234: *8 connect() failed (111: Connection refused) while connecting to upstream" + ctx,
			want: Group{Kind: KindConnectRefused, Upstream: "10.0.0.21:8080", Errno: 111},
		},
		{
			name: "unix socket backlog full",
			line: `2026/11/26 03:47:00 [error] 1234#1234: *9 connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 203.0.113.60, server: x, request: "GET /index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "x"`,
			want: Group{Kind: KindUpstreamBacklog, Upstream: "unix:/run/php/php8.2-fpm.sock", Errno: 11},
		},
		{
			name: "upstream server temporarily disabled",
			line: "2026/11/26 03:43:31 [warn] 1234#1234: *8 upstream server temporarily disabled while connecting to upstream" + ctx,
			want: Group{Kind: KindUpstreamDisabled, Upstream: "10.0.0.21:8080", Impact: Info},
		},
		{
			name: "limit_conn",
			line: `2026/11/26 03:46:00 [error] 1234#1234: *10 limiting connections by zone "perip", client: 192.0.2.80, server: x, request: "GET / HTTP/1.1", host: "x"`,
			want: Group{Kind: KindLimitConn, Zone: "perip", Impact: Refused, Clients: 1},
		},
		{
			name: "limit_conn dry run",
			line: `2026/11/26 03:46:00 [error] 1234#1234: *10 limiting connections, dry run, by zone "perip", client: 192.0.2.80, server: x, request: "GET / HTTP/1.1", host: "x"`,
			want: Group{Kind: KindLimitConnDryRun, Zone: "perip", Impact: Info},
		},
		{
			name: "limit_req",
			line: `2026/11/26 03:45:00 [error] 1235#1235: *11 limiting requests, excess: 1.500 by zone "api", client: 192.0.2.66, server: x, request: "GET / HTTP/1.1", host: "x"`,
			want: Group{Kind: KindLimitReq, Zone: "api", MaxExcess: 1.5, Impact: Refused},
		},
		{
			name: "limit_req dry run",
			line: `2026/11/26 03:45:00 [error] 1235#1235: *11 limiting requests, dry run, excess: 20.000 by zone "api", client: 192.0.2.66, server: x, request: "GET / HTTP/1.1", host: "x"`,
			want: Group{Kind: KindLimitReqDryRun, Zone: "api", MaxExcess: 20},
		},
		{
			name: "limit_req delay",
			line: `2026/11/26 03:45:10 [warn] 1235#1235: *12 delaying request, excess: 0.250, by zone "api", client: 192.0.2.70, server: x, request: "GET / HTTP/1.1", host: "x"`,
			want: Group{Kind: KindLimitReqDelay, Zone: "api", MaxExcess: 0.25, Impact: Slowed},
		},
		{
			name: "limit_req delay dry run, nginx's wording",
			line: `2026/11/26 03:45:10 [warn] 1235#1235: *12 delaying request, dry run, excess: 0.250, by zone "api", client: 192.0.2.70`,
			want: Group{Kind: KindLimitReqDryRun, Zone: "api"},
		},
		{
			name: "limit_req delay dry run, headroom's wording",
			line: `2026/11/26 03:45:10 [warn] 4321#0: delaying requests, dry run, excess: 0.250, by zone "api", client: 192.0.2.70`,
			want: Group{Kind: KindLimitReqDryRun, Zone: "api"},
		},
		{
			name: "limit_req zone full",
			line: `2026/11/26 03:46:30 [alert] 1234#1234: *13 could not allocate node in limit_req zone "api", client: 192.0.2.99, server: x, request: "GET / HTTP/1.1", host: "x"`,
			want: Group{Kind: KindLimitZoneFull, Zone: "api", Impact: Failed},
		},
		{
			name: "limit_conn zone full, slab allocator",
			line: `2026/11/26 03:46:30 [crit] 1234#1234: ngx_slab_alloc() failed: no memory in limit_conn zone "perip"`,
			want: Group{Kind: KindLimitZoneFull, Zone: "perip"},
		},
		{
			name: "exceed open file limit, nginx on the terminal",
			line: "nginx: [warn] 4096 worker_connections exceed open file resource limit: 1024",
			want: Group{Kind: KindExceedFileLimit, WorkerConnections: 4096, FileLimit: 1024, Impact: Info, First: ""},
		},
		{
			name: "exceed open file limit, headroom",
			line: "2026/11/26 09:00:00 [warn] 4321#0: 20000 worker_connections exceed open file resource limit: 20000, using 9980 per worker for 2 workers",
			want: Group{Kind: KindExceedFileLimit, WorkerConnections: 20000, FileLimit: 20000, Allowed: 9980, WorkerProcesses: 2},
		},
		{
			name: "setrlimit, nginx",
			line: "2026/11/26 09:00:00 [alert] 1300#1300: setrlimit(RLIMIT_NOFILE, 65536) failed (1: Operation not permitted)",
			want: Group{Kind: KindSetrlimit, FileLimit: 65536, Errno: 1},
		},
		{
			name: "setrlimit, headroom",
			line: "2026/11/26 09:00:00 [warn] 4400#0: setrlimit(RLIMIT_NOFILE, 65536) failed (operation not permitted), using 20000",
			want: Group{Kind: KindSetrlimit, FileLimit: 65536, Allowed: 20000},
		},
		{
			name: "accept paused",
			line: "2026/11/26 09:05:00 [warn] 4321#1: worker 1 out of connection slots, accept paused until connections close: 1022 of 1024 slots in use (511 client, 510 upstream), 0 requests queued; the open file limit allows worker_connections 9980",
			want: Group{Kind: KindAcceptPaused, WorkerConnections: 1024, Allowed: 9980, Impact: Slowed},
		},
		{
			name: "slot queued",
			line: "2026/11/26 09:05:20 [warn] 4321#1: worker 1 out of connection slots: 1024 of 1024 slots in use (511 client, 513 upstream), 7 requests queued; the open file limit allows worker_connections 9980",
			want: Group{Kind: KindSlotQueued, WorkerConnections: 1024, MaxQueued: 7},
		},
		{
			name: "slot queue timeout",
			line: "2026/11/26 09:06:20 [warn] 4321#1: worker 1 out of connection slots, request waited 1m0s: 1024 of 1024 slots in use (511 client, 513 upstream), 9 requests queued; the open file limit allows worker_connections 9980",
			want: Group{Kind: KindSlotTimeout, WorkerConnections: 1024, Waited: "1m0s", MaxQueued: 9, Impact: Failed},
		},
		{
			name: "max_conns queued",
			line: `2026/11/26 09:07:00 [warn] 4321#0: upstream "app": every server at max_conns, 12 requests queued`,
			want: Group{Kind: KindMaxConnsQueued, Upstream: "app", MaxQueued: 12, Impact: Slowed},
		},
		{
			name: "max_conns queue full",
			line: `2026/11/26 09:07:10 [warn] 4321#0: upstream "app": every server at max_conns and the queue of 100 is full`,
			want: Group{Kind: KindMaxConnsQueueFull, Upstream: "app", QueueSize: 100, Impact: Failed},
		},
		{
			name: "max_conns no queue",
			line: `2026/11/26 09:07:20 [warn] 4321#1: upstream "reports": every server at max_conns and no queue (add "queue N timeout=T;" to the upstream)`,
			want: Group{Kind: KindMaxConnsNoQueue, Upstream: "reports"},
		},
		{
			name: "max_conns queue timeout",
			line: `2026/11/26 09:07:30 [warn] 4321#0: upstream "app": request waited 10s in the queue for a server below max_conns`,
			want: Group{Kind: KindMaxConnsTimeout, Upstream: "app", Waited: "10s"},
		},
		{
			name: "derived",
			line: "2026/11/26 09:10:01 [notice] 4400#0: worker_connections 9980 derived from the open file limit 20000 for 2 workers",
			want: Group{Kind: KindDerived, WorkerConnections: 9980, FileLimit: 20000, WorkerProcesses: 2, Impact: Info},
		},
		{
			name: "started",
			line: "2026/11/26 09:10:01 [notice] 4400#0: headroom/0.1.0 started: 2 workers, 9980 connection slots each (4989 for clients, the rest for their upstream connections); open file limit 20000, which allows worker_connections 9980",
			want: Group{Kind: KindStarted, WorkerConnections: 9980, FileLimit: 20000, Allowed: 9980, WorkerProcesses: 2},
		},
		{
			name: "reloaded",
			line: "2026/11/26 09:20:00 [notice] 4400#0: configuration reloaded: 4 workers, 4990 connection slots each (2494 for clients, the rest for their upstream connections); open file limit 20000, which allows worker_connections 4990",
			want: Group{Kind: KindReloaded, WorkerConnections: 4990, FileLimit: 20000, Allowed: 4990, WorkerProcesses: 4, Impact: Info},
		},
		{
			name: "behind a container prefix",
			line: "web-1  | 2026/11/26 03:40:03 [alert] 1234#1234: 1024 worker_connections are not enough",
			want: Group{Kind: KindWorkerConnections, WorkerConnections: 1024},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Scan(strings.NewReader(tt.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Lines != 1 || rep.Recognised != 1 || len(rep.Groups) != 1 {
				t.Fatalf("lines %d, recognised %d, groups %d; want 1, 1, 1", rep.Lines, rep.Recognised, len(rep.Groups))
			}
			g := rep.Groups[0]
			w := tt.want
			if g.Kind != w.Kind {
				t.Errorf("kind %q, want %q", g.Kind, w.Kind)
			}
			if g.Count != 1 {
				t.Errorf("count %d, want 1", g.Count)
			}
			if g.Upstream != w.Upstream {
				t.Errorf("upstream %q, want %q", g.Upstream, w.Upstream)
			}
			if g.Zone != w.Zone {
				t.Errorf("zone %q, want %q", g.Zone, w.Zone)
			}
			checkInt := func(name string, got, want int) {
				if want != 0 && got != want {
					t.Errorf("%s %d, want %d", name, got, want)
				}
			}
			checkInt("worker_connections", g.WorkerConnections, w.WorkerConnections)
			checkInt("allowed", g.Allowed, w.Allowed)
			checkInt("file limit", g.FileLimit, w.FileLimit)
			checkInt("worker processes", g.WorkerProcesses, w.WorkerProcesses)
			checkInt("errno", g.Errno, w.Errno)
			checkInt("queue size", g.QueueSize, w.QueueSize)
			checkInt("max queued", g.MaxQueued, w.MaxQueued)
			checkInt("clients", g.Clients, w.Clients)
			if w.MaxExcess != 0 && g.MaxExcess != w.MaxExcess {
				t.Errorf("max excess %v, want %v", g.MaxExcess, w.MaxExcess)
			}
			if w.Waited != "" && g.Waited != w.Waited {
				t.Errorf("waited %q, want %q", g.Waited, w.Waited)
			}
			if w.Level != "" && g.Level != w.Level {
				t.Errorf("level %q, want %q", g.Level, w.Level)
			}
			if g.Impact != kinds[g.Kind].impact || (w.Impact != 0 && g.Impact != w.Impact) {
				t.Errorf("impact %v, want %v", g.Impact, w.Impact)
			}
			if g.Title == "" || g.Cause == "" || g.Fix == "" || g.Example == "" {
				t.Errorf("title %q, cause %q, fix %q, example %q: none may be empty", g.Title, g.Cause, g.Fix, g.Example)
			}
		})
	}
}

// TestScanNotCapacity checks that lines about other things, and lines
// that only look like the format, are counted and not recognised.
func TestScanNotCapacity(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		other bool // in the format, not about capacity; else unparsed
	}{
		{"file not found", `2026/11/26 03:47:06 [error] 1234#1234: *9 open() "/srv/favicon.ico" failed (2: No such file or directory), client: 1.2.3.4, server: x, request: "GET /favicon.ico HTTP/1.1", host: "x"`, true},
		{"premature close", "2026/11/26 03:47:07 [error] 1234#1234: *9 upstream prematurely closed connection while reading response header from upstream" + ctx, true},
		{"keepalive closed", "2026/11/26 03:47:08 [info] 1234#1234: *9 client 1.2.3.4 closed keepalive connection", true},
		{"worker process exited", "2026/11/26 03:47:09 [alert] 1200#1200: worker process 1234 exited on signal 9", true},
		{"connect() no route", "2026/11/26 03:47:09 [error] 1234#1234: *9 connect() failed (113: No route to host) while connecting to upstream" + ctx, true},
		{"starts with a number", "2026/11/26 03:47:09 [notice] 1234#1234: 42 is the answer", true},
		{"upstream config message", `2026/11/26 03:47:09 [emerg] 1200#1200: upstream "x" may not have port 80`, true},
		{"terminal emerg", `headroom: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)`, true},
		{"not reloaded", "2026/11/26 09:20:00 [notice] 4400#0: the configuration was not reloaded; the running one keeps serving", true},
		{"headroom version only", "2026/11/26 09:20:00 [notice] 4400#0: headroom/0.1.0", true},
		{"unknown level", "2026/11/26 03:47:09 [loud] 1234#1234: 1024 worker_connections are not enough", false},
		{"no pid", "2026/11/26 03:47:09 [alert] 1024 worker_connections are not enough", false},
		{"bare message", "1024 worker_connections are not enough", false},
		{"blank", "", false},
		{"stack trace", "\tat java.lang.Thread.run(Thread.java:750)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Scan(strings.NewReader(tt.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Recognised != 0 || len(rep.Groups) != 0 {
				t.Fatalf("recognised %d in %d groups, want none: %+v", rep.Recognised, len(rep.Groups), rep.Groups)
			}
			if got := rep.Other == 1; got != tt.other {
				t.Errorf("other %d, unparsed %d; want other=%v", rep.Other, rep.Unparsed, tt.other)
			}
			if rep.Lines != 1 {
				t.Errorf("lines %d, want 1", rep.Lines)
			}
		})
	}
}

// TestGrouping checks counting, timestamps and the split by backend,
// zone and slot count.
func TestGrouping(t *testing.T) {
	log := strings.Join([]string{
		"2026/11/26 03:40:05 [alert] 1234#1234: 1024 worker_connections are not enough",
		"2026/11/26 03:40:03 [alert] 1235#1235: *5 1024 worker_connections are not enough while connecting to upstream" + ctx,
		"2026/11/26 03:40:09 [alert] 1234#1234: 1024 worker_connections are not enough",
		"2026/11/26 03:50:00 [alert] 1300#1300: 4096 worker_connections are not enough",
		"2026/11/26 03:42:00 [error] 1234#1234: *1 upstream timed out (110: Connection timed out) while connecting to upstream, client: 1.1.1.1, server: x, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.1:80/\", host: \"x\"",
		"2026/11/26 03:42:01 [error] 1234#1234: *2 upstream timed out (110: Connection timed out) while connecting to upstream, client: 1.1.1.2, server: x, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.2:80/\", host: \"x\"",
		"2026/11/26 03:42:02 [error] 1234#1234: *3 upstream timed out (110: Connection timed out) while connecting to upstream, client: 1.1.1.3, server: x, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.1:80/\", host: \"x\"",
		`2026/11/26 03:45:00 [error] 1235#1235: *4 limiting requests, excess: 1.500 by zone "api", client: 2.2.2.2`,
		`2026/11/26 03:45:01 [error] 1235#1235: *5 limiting requests, excess: 3.250 by zone "api", client: 2.2.2.2`,
		`2026/11/26 03:45:02 [error] 1235#1235: *6 limiting requests, excess: 2.000 by zone "login", client: 2.2.2.3`,
	}, "\n")
	rep, err := Scan(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		count       int
		first, last string
		workers     int
		excess      float64
	}
	find := func(k Kind, upstream, zone string, slots int) *Group {
		for i := range rep.Groups {
			g := &rep.Groups[i]
			if g.Kind == k && g.Upstream == upstream && g.Zone == zone && (slots == 0 || g.WorkerConnections == slots) {
				return g
			}
		}
		t.Fatalf("no group %s %q %q %d in %+v", k, upstream, zone, slots, rep.Groups)
		return nil
	}
	tests := []struct {
		kind     Kind
		upstream string
		zone     string
		slots    int
		want     want
	}{
		{KindWorkerConnections, "", "", 1024, want{3, "2026/11/26 03:40:03", "2026/11/26 03:40:09", 2, 0}},
		{KindWorkerConnections, "", "", 4096, want{1, "2026/11/26 03:50:00", "2026/11/26 03:50:00", 1, 0}},
		{KindConnectTimeout, "10.0.0.1:80", "", 0, want{2, "2026/11/26 03:42:00", "2026/11/26 03:42:02", 1, 0}},
		{KindConnectTimeout, "10.0.0.2:80", "", 0, want{1, "2026/11/26 03:42:01", "2026/11/26 03:42:01", 1, 0}},
		{KindLimitReq, "", "api", 0, want{2, "2026/11/26 03:45:00", "2026/11/26 03:45:01", 1, 3.25}},
		{KindLimitReq, "", "login", 0, want{1, "2026/11/26 03:45:02", "2026/11/26 03:45:02", 1, 2}},
	}
	for _, tt := range tests {
		g := find(tt.kind, tt.upstream, tt.zone, tt.slots)
		got := want{g.Count, g.First, g.Last, g.Workers, g.MaxExcess}
		if got != tt.want {
			t.Errorf("%s %q %q %d: got %+v, want %+v", tt.kind, tt.upstream, tt.zone, tt.slots, got, tt.want)
		}
	}
	if len(rep.Groups) != len(tests) {
		t.Errorf("%d groups, want %d", len(rep.Groups), len(tests))
	}
	if rep.Lines != 10 || rep.Recognised != 10 {
		t.Errorf("lines %d, recognised %d; want 10, 10", rep.Lines, rep.Recognised)
	}
	if rep.First != "2026/11/26 03:40:03" || rep.Last != "2026/11/26 03:50:00" {
		t.Errorf("span %s to %s", rep.First, rep.Last)
	}
	// Failed before refused; within an impact the larger count first.
	order := []Kind{KindWorkerConnections, KindConnectTimeout, KindConnectTimeout, KindWorkerConnections, KindLimitReq, KindLimitReq}
	for i, k := range order {
		if rep.Groups[i].Kind != k {
			t.Errorf("group %d is %s, want %s", i, rep.Groups[i].Kind, k)
		}
	}
}

// TestExplanationFigures checks that the figures reach the text: the
// slot count and what it carries, the zone, the backend.
func TestExplanationFigures(t *testing.T) {
	tests := []struct {
		line  string
		title string
		cause []string
		fix   []string
	}{
		{
			line:  "2026/11/26 03:40:03 [alert] 1234#1234: 1024 worker_connections are not enough",
			title: "1024 worker_connections are not enough",
			cause: []string{"1024 connection slots", "1024 slots carry at most 511 proxied requests per worker with one listener", "500"},
			fix:   []string{"4096", "worker_rlimit_nofile", "headroom"},
		},
		{
			line:  "2026/11/26 03:43:00 [crit] 1235#1235: *7 connect() failed (99: Cannot assign requested address) while connecting to upstream" + ctx,
			cause: []string{"10.0.0.21:8080", "TIME_WAIT", "ip_local_port_range"},
			fix:   []string{"keepalive", "net.ipv4.ip_local_port_range", "tcp_tw_reuse", `proxy_set_header Connection "";`},
		},
		{
			line: "2026/11/26 03:47:05 [crit] 1234#1234: accept4() failed (23: Too many open files in system)",
			fix:  []string{"fs.file-max"},
		},
		{
			line:  `2026/11/26 03:45:00 [error] 1235#1235: *11 limiting requests, excess: 1.500 by zone "api", client: 192.0.2.66`,
			title: "limit_req refused requests (excess up to 1.500)",
			cause: []string{`zone "api"`, "1.500", "One client"},
			fix:   []string{"burst="},
		},
		{
			line:  "2026/11/26 09:05:00 [warn] 4321#1: worker 1 out of connection slots, accept paused until connections close: 1022 of 1024 slots in use (511 client, 510 upstream), 0 requests queued; the open file limit allows worker_connections 9980",
			cause: []string{"half its 1024 slots", "once a second"},
			fix:   []string{"toward 9980, what the open file limit allows"},
		},
	}
	for _, tt := range tests {
		rep, err := Scan(strings.NewReader(tt.line))
		if err != nil || len(rep.Groups) != 1 {
			t.Fatalf("%q: %v, %d groups", tt.line, err, len(rep.Groups))
		}
		g := rep.Groups[0]
		if tt.title != "" && g.Title != tt.title {
			t.Errorf("title %q, want %q", g.Title, tt.title)
		}
		for _, s := range tt.cause {
			if !strings.Contains(g.Cause, s) {
				t.Errorf("%s: cause lacks %q: %s", g.Kind, s, g.Cause)
			}
		}
		for _, s := range tt.fix {
			if !strings.Contains(g.Fix, s) {
				t.Errorf("%s: fix lacks %q: %s", g.Kind, s, g.Fix)
			}
		}
	}
}

// TestEveryKindExplained makes sure no kind is left with an empty title,
// cause or fix, with and without figures.
func TestEveryKindExplained(t *testing.T) {
	for _, k := range Kinds() {
		for _, headroom := range []bool{false, true} {
			for _, g := range []Group{{Kind: k}, {Kind: k, WorkerConnections: 1024, Allowed: 4000, FileLimit: 8192, WorkerProcesses: 2, Upstream: "u", Zone: "z", MaxExcess: 1, Count: 3, Waited: "5s"}} {
				if title(&g) == string(k) {
					t.Errorf("%s: no title", k)
				}
				cause, fix := explain(&g, headroom)
				if cause == "" || fix == "" {
					t.Errorf("%s (headroom %v): cause %q, fix %q", k, headroom, cause, fix)
				}
			}
		}
	}
}

// TestLongLines checks that lines beyond bufio's buffer and beyond
// maxLine are read whole, counted once and classified by their start.
func TestLongLines(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{"100 KiB", 100 << 10},
		{"past maxLine", maxLine + 300<<10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			long := "2026/11/26 03:40:03 [alert] 1234#1234: *5 1024 worker_connections are not enough while connecting to upstream, client: 1.2.3.4, server: x, request: \"GET /" +
				strings.Repeat("a", tt.size) + " HTTP/1.1\", host: \"x\""
			in := long + "\r\n" + "2026/11/26 03:40:04 [crit] 1234#1234: accept4() failed (24: Too many open files)\n" + strings.Repeat("z", tt.size) + "\n"
			rep, err := Scan(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Lines != 3 || rep.Recognised != 2 || rep.Unparsed != 1 {
				t.Fatalf("lines %d, recognised %d, unparsed %d; want 3, 2, 1", rep.Lines, rep.Recognised, rep.Unparsed)
			}
			for _, g := range rep.Groups {
				if len(g.Example) > maxExample+len("…") {
					t.Errorf("example of %d bytes", len(g.Example))
				}
			}
		})
	}
}

// TestNoFinalNewline checks that the last line counts without one.
func TestNoFinalNewline(t *testing.T) {
	rep, err := Scan(strings.NewReader("x\n2026/11/26 03:40:04 [crit] 1234#1234: accept4() failed (24: Too many open files)"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lines != 2 || rep.Recognised != 1 {
		t.Errorf("lines %d, recognised %d; want 2, 1", rep.Lines, rep.Recognised)
	}
}

// errReader fails after its data, as a broken pipe or a bad disk would.
type errReader struct{ data *strings.Reader }

func (r errReader) Read(p []byte) (int, error) {
	if r.data.Len() == 0 {
		return 0, os.ErrClosed
	}
	return r.data.Read(p)
}

// TestReadError checks that a reader's error is returned with the
// report of what was read before it.
func TestReadError(t *testing.T) {
	rep, err := Scan(errReader{strings.NewReader("2026/11/26 03:40:04 [crit] 1234#1234: accept4() failed (24: Too many open files)\n")})
	if err != os.ErrClosed {
		t.Fatalf("err %v, want %v", err, os.ErrClosed)
	}
	if rep == nil || rep.Recognised != 1 {
		t.Fatalf("report %+v, want the line read before the error", rep)
	}
}

// TestExampleCleaned checks that control characters from a request line
// do not reach a terminal.
func TestExampleCleaned(t *testing.T) {
	line := "2026/11/26 03:45:00 [error] 1235#1235: *11 limiting requests, excess: 1.500 by zone \"api\", client: 192.0.2.66, server: x, request: \"GET /\x1b[2J\xff HTTP/1.1\", host: \"x\""
	rep, _ := Scan(strings.NewReader(line))
	ex := rep.Groups[0].Example
	if strings.ContainsAny(ex, "\x1b") || !strings.Contains(ex, "GET /?[2J\uFFFD HTTP/1.1") {
		t.Errorf("example not cleaned: %q", ex)
	}
}

// TestJSON checks that the report marshals with its documented names and
// reads back the same.
func TestJSON(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "nginx.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Scan(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"lines": 65`, `"recognised":`, `"other":`, `"unparsed": 2`, `"groups": [`,
		`"kind": "worker_connections"`, `"impact": "failed"`, `"worker_connections": 1024`, `"upstream": "10.0.0.21:8080"`,
		`"zone": "api"`, `"max_excess": 12`, `"cause":`, `"fix":`, `"example":`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("JSON lacks %s", s)
		}
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, err := json.MarshalIndent(&back, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("JSON does not survive a round trip")
	}
	var bad Impact
	if err := bad.UnmarshalText([]byte("terrible")); err == nil {
		t.Errorf("unknown impact accepted")
	}
}

// TestWriteTextGolden compares WriteText on the sample logs with the
// files in testdata; go test -update rewrites them.
func TestWriteTextGolden(t *testing.T) {
	tests := []struct{ log, golden string }{
		{"nginx.log", "nginx.txt"},
		{"headroom.log", "headroom.txt"},
		{"empty.log", "empty.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.log, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tt.log))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Scan(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Lines != rep.Recognised+rep.Other+rep.Unparsed {
				t.Errorf("lines %d != %d + %d + %d", rep.Lines, rep.Recognised, rep.Other, rep.Unparsed)
			}
			var out bytes.Buffer
			if err := rep.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("WriteText differs from %s (go test -update rewrites it):\n%s", path, out.Bytes())
			}
		})
	}
}

// BenchmarkScan measures Scan on the sample log, so that a log of
// millions of lines stays a matter of seconds.
func BenchmarkScan(b *testing.B) {
	one, err := os.ReadFile(filepath.Join("testdata", "nginx.log"))
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat(one, 1000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Scan(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteTextForeignReport checks that WriteText copes with a report
// it did not make, such as one read back from JSON and edited.
func TestWriteTextForeignReport(t *testing.T) {
	tests := []Report{
		{},
		{First: "x", Last: "", Groups: []Group{{Kind: "unknown", Title: "t", First: "2026", Last: "y", Count: 1, Impact: 9}}},
		{First: "2026/11/26 03:40:03", Last: "2026/11/27 03:40:03", Groups: []Group{{First: "2026/11/26 03:40:03", Last: "short"}}},
	}
	for i, rep := range tests {
		if err := rep.WriteText(io.Discard); err != nil {
			t.Errorf("%d: %v", i, err)
		}
	}
}

// FuzzScan feeds Scan arbitrary input: it must not fail or panic, its
// counts must add up, and both output forms must work.
func FuzzScan(f *testing.F) {
	for _, name := range []string{"nginx.log", "headroom.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f.Add([]byte(line))
		}
		f.Add(b)
	}
	f.Add([]byte("nginx: ["))
	f.Add([]byte("2026/11/26 03:40:03 [alert] 1#0: *"))
	f.Add([]byte("2026/11/26 03:40:03 [alert] 1#0: 99999999999999999999 worker_connections are not enough"))
	f.Add([]byte(`2026/11/26 03:40:03 [error] 1#0: limiting requests, excess: 1.5 by zone "`))
	f.Add([]byte("2026/11/26 03:40:03 [error] 1#0: connect() to  failed (99: x), client: , server: , upstream: \"unix:\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Scan(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Lines != rep.Recognised+rep.Other+rep.Unparsed {
			t.Fatalf("lines %d != %d + %d + %d", rep.Lines, rep.Recognised, rep.Other, rep.Unparsed)
		}
		n := 0
		for _, g := range rep.Groups {
			n += g.Count
			if g.Count <= 0 || g.Cause == "" || g.Fix == "" {
				t.Fatalf("bad group %+v", g)
			}
		}
		if n != rep.Recognised {
			t.Fatalf("groups hold %d lines, recognised %d", n, rep.Recognised)
		}
		if err := rep.WriteText(io.Discard); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
	})
}
