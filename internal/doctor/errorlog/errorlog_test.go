package errorlog

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
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
			name: "headroom closed slow heads",
			line: "2026/12/02 14:05:00 [warn] 4400#0: worker 0 closed 12 connections that had sent no complete request head for 250ms, to let waiting clients in: 4977 of 9980 slots in use (4977 client, 0 upstream), 0 requests queued; the open file limit allows worker_connections 9980",
			want: Group{Kind: KindSlowHeadsClosed, Impact: Slowed, Level: "warn", Closed: 12, Grace: "250ms", WorkerConnections: 9980, Allowed: 9980},
		},
		{
			name: "headroom closed slow heads, one connection",
			line: "2026/12/02 14:05:00 [warn] 4400#1: worker 1 closed 1 connection that had sent no complete request head for 1s, to let waiting clients in: 1022 of 1024 slots in use (511 client, 511 upstream), 0 requests queued; the open file limit allows worker_connections 2040",
			want: Group{Kind: KindSlowHeadsClosed, Closed: 1, Grace: "1s", WorkerConnections: 1024, Allowed: 2040},
		},
		{
			name: "headroom closed slow bodies",
			line: "2026/12/02 14:05:03 [warn] 4400#0: worker 0 closed 2 connections sending their request body slower than client_body_min_rate, to let waiting clients in: 4987 of 9980 slots in use (4987 client, 0 upstream), 3 requests queued; the open file limit allows worker_connections 9980",
			want: Group{Kind: KindSlowBodiesClosed, Impact: Refused, Closed: 2, WorkerConnections: 9980, MaxQueued: 3},
		},
		{
			name: "headroom closed slow readers",
			line: "2026/12/02 14:05:04 [warn] 4400#1: worker 1 closed 3 connections reading their response slower than send_min_rate, to let waiting clients in: 4986 of 9980 slots in use (4986 client, 0 upstream), 0 requests queued; the open file limit allows worker_connections 9980",
			want: Group{Kind: KindSlowReadersClosed, Impact: Refused, Closed: 3, WorkerConnections: 9980},
		},
		{
			name: "headroom closed one slow body",
			line: `2026/12/02 14:05:03 [info] 4400#0: client sent its request body too slowly while clients waited for a slot, client: 198.51.100.7, server: app.example.com, request: "POST /upload HTTP/1.1", upstream: "http://backend", host: "app.example.com"`,
			want: Group{Kind: KindSlowBodyClient, Impact: Refused, Level: "info", Clients: 1},
		},
		{
			name: "headroom closed one slow reader",
			line: `2026/12/02 14:05:04 [info] 4400#1: client read its response too slowly while clients waited for a slot, client: 203.0.113.5, server: app.example.com, request: "GET /export.csv HTTP/1.1", upstream: "http://127.0.0.1:9000/export.csv", host: "app.example.com"`,
			want: Group{Kind: KindSlowReaderClient, Impact: Refused, Clients: 1},
		},
		{
			name: "request body to a temporary file",
			line: `2026/12/02 15:03:00 [warn] 1234#1234: *130 a client request body is buffered to a temporary file /var/lib/nginx/body/0000000001, client: 203.0.113.80, server: x, request: "POST /u HTTP/1.1", host: "x"`,
			want: Group{Kind: KindBodyToFile, Impact: Info, TempPath: "/var/lib/nginx/body"},
		},
		{
			name: "request body to a temporary file with levels",
			line: `2026/12/02 15:03:00 [notice] 1234#1234: *130 a client request body is buffered to a temporary file /srv/tmp/body/1/32/0000000321, client: 203.0.113.80`,
			want: Group{Kind: KindBodyToFile, TempPath: "/srv/tmp/body", Level: "notice"},
		},
		{
			name: "response to a temporary file",
			line: "2026/12/02 15:03:10 [warn] 1235#1235: *131 an upstream response is buffered to a temporary file /var/lib/nginx/proxy/2/00/0000000002 while reading upstream" + ctx,
			want: Group{Kind: KindResponseToFile, Impact: Info, TempPath: "/var/lib/nginx/proxy"},
		},
		{
			name: "response to a temporary file, headroom's name",
			line: `2026/12/02 14:06:10 [warn] 4400#1: an upstream response is buffered to a temporary file /var/lib/headroom/proxy_temp/1/32/0441601321 while reading upstream, client: 203.0.113.5`,
			want: Group{Kind: KindResponseToFile, TempPath: "/var/lib/headroom/proxy_temp"},
		},
		{
			name: "body temporary file, permission denied",
			line: `2026/12/02 15:04:00 [crit] 1234#1234: *140 open() "/var/lib/nginx/body/0000000004" failed (13: Permission denied), client: 203.0.113.81, server: x, request: "POST /u HTTP/1.1", host: "x"`,
			want: Group{Kind: KindBodyTempFailed, Impact: Failed, Errno: 13, TempPath: "/var/lib/nginx/body", Level: "crit"},
		},
		{
			name: "body temporary file, no space, pwritev",
			line: `2026/12/02 15:05:00 [crit] 1234#1234: *150 pwritev() "/var/lib/nginx/body/0000000006" failed (28: No space left on device), client: 203.0.113.82`,
			want: Group{Kind: KindBodyTempFailed, Errno: 28, TempPath: "/var/lib/nginx/body"},
		},
		{
			name: "body temporary file, no space, headroom's pwrite",
			line: `2026/12/02 14:08:00 [crit] 4400#0: pwrite() "/var/lib/headroom/client_body_temp/0441601324" failed (28: No space left on device), client: 198.51.100.23`,
			want: Group{Kind: KindBodyTempFailed, Errno: 28, TempPath: "/var/lib/headroom/client_body_temp"},
		},
		{
			name: "response temporary file, permission denied",
			line: `2026/12/02 15:04:30 [crit] 1235#1235: *141 open() "/var/lib/nginx/proxy/5/00/0000000005" failed (13: Permission denied) while reading upstream` + ctx,
			want: Group{Kind: KindResponseTempFailed, Impact: Failed, Errno: 13, TempPath: "/var/lib/nginx/proxy"},
		},
		{
			name: "response temporary file, short write",
			line: `2026/12/02 15:05:02 [crit] 1235#1235: *152 pwritev() "/var/lib/nginx/proxy/8/00/0000000008" has written only 4096 of 32768 while reading upstream` + ctx,
			want: Group{Kind: KindResponseTempFailed, TempPath: "/var/lib/nginx/proxy"},
		},
		{
			name: "response temporary file, level directory",
			line: `2026/12/02 15:06:00 [crit] 1234#1234: *160 mkdir() "/var/lib/nginx/proxy/9" failed (13: Permission denied) while reading upstream` + ctx,
			want: Group{Kind: KindResponseTempFailed, Errno: 13, TempPath: "/var/lib/nginx/proxy"},
		},
		{
			name: "response temporary file, headroom's level directory",
			line: `2026/12/02 14:09:00 [crit] 4400#1: open() "/var/lib/headroom/proxy_temp/7/32" failed (13: Permission denied) while reading upstream` + ctx,
			want: Group{Kind: KindResponseTempFailed, Errno: 13, TempPath: "/var/lib/headroom/proxy_temp"},
		},
		{
			name: "response temporary file read back",
			line: `2026/12/02 14:09:30 [crit] 4400#0: pread() "/var/lib/headroom/proxy_temp/8/32/0441601328" failed (5: Input/output error) while sending to client` + ctx,
			want: Group{Kind: KindResponseTempFailed, Errno: 5, TempPath: "/var/lib/headroom/proxy_temp"},
		},
		{
			name: "temporary file out of descriptors stays an open file condition",
			line: `2026/12/02 15:07:00 [crit] 1234#1234: *170 open() "/var/lib/nginx/body/0000000010" failed (24: Too many open files), client: 203.0.113.83`,
			want: Group{Kind: KindOtherFiles, Errno: 24},
		},
		{
			name: "client header timeout",
			line: `2026/12/02 15:00:01 [info] 1234#1234: *101 client timed out (110: Connection timed out) while reading client request headers, client: 192.0.2.50, server: x, request: "GET / HTTP/1.1", host: "x"`,
			want: Group{Kind: KindClientHeaderTimeout, Impact: Refused, Level: "info", Errno: 110, Clients: 1},
		},
		{
			name: "client request line timeout",
			line: "2026/12/02 15:00:02 [info] 1234#1234: *102 client timed out (110: Connection timed out) while reading client request line, client: 192.0.2.50, server: 0.0.0.0:80",
			want: Group{Kind: KindClientHeaderTimeout},
		},
		{
			name: "client timed out waiting for request",
			line: "2026/12/02 15:00:03 [info] 1235#1235: *103 client timed out (110: Connection timed out) while waiting for request, client: 192.0.2.50, server: 0.0.0.0:80",
			want: Group{Kind: KindClientHeaderTimeout},
		},
		{
			name: "client timed out in the TLS handshake",
			line: "2026/12/02 15:00:03 [info] 1235#1235: *103 client timed out (110: Connection timed out) while SSL handshaking, client: 192.0.2.50, server: 0.0.0.0:443",
			want: Group{Kind: KindClientHeaderTimeout},
		},
		{
			name: "client send timeout, proxied",
			line: "2026/12/02 15:01:00 [info] 1234#1234: *110 client timed out (110: Connection timed out) while sending to client" + ctx,
			want: Group{Kind: KindClientSendTimeout, Impact: Refused, Errno: 110},
		},
		{
			name: "client send timeout, response",
			line: `2026/12/02 15:01:05 [info] 1235#1235: *111 client timed out (110: Connection timed out) while sending response to client, client: 198.51.100.31, server: x, request: "GET /a.jpg HTTP/1.1", host: "x"`,
			want: Group{Kind: KindClientSendTimeout},
		},
		{
			name: "too long header line",
			line: `2026/12/02 15:02:00 [info] 1234#1234: *120 client sent too long header line: "Cookie: session=3q2+7w..." while reading client request headers, client: 203.0.113.70, server: x, request: "GET /account HTTP/1.1", host: "x"`,
			want: Group{Kind: KindClientHeaderTooLarge, Impact: Refused, Level: "info"},
		},
		{
			name: "too large request",
			line: `2026/12/02 15:02:00 [info] 1234#1234: *121 client sent too large request while reading client request headers, client: 203.0.113.70, server: x, request: "GET / HTTP/1.1"`,
			want: Group{Kind: KindClientHeaderTooLarge},
		},
		{
			name: "too long URI",
			line: "2026/12/02 15:02:00 [info] 1234#1234: *122 client sent too long URI while reading client request line, client: 203.0.113.70, server: 0.0.0.0:80",
			want: Group{Kind: KindClientHeaderTooLarge},
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
			checkInt("closed", g.Closed, w.Closed)
			if w.Grace != "" && g.Grace != w.Grace {
				t.Errorf("grace %q, want %q", g.Grace, w.Grace)
			}
			if g.TempPath != w.TempPath {
				t.Errorf("temp path %q, want %q", g.TempPath, w.TempPath)
			}
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
		{"static file named like a temporary file", `2026/12/02 15:07:30 [error] 1234#1234: *171 open() "/srv/www/0000000001" failed (13: Permission denied), client: 1.2.3.4`, true},
		{"static file at crit", `2026/12/02 15:07:30 [crit] 1234#1234: *171 open() "/srv/www/index.html" failed (5: Input/output error), client: 1.2.3.4`, true},
		{"access log full", `2026/12/02 15:07:30 [alert] 1234#1234: *171 write() to "/var/log/nginx/access.log" failed (28: No space left on device) while logging request`, true},
		{"client timed out, other action", "2026/12/02 15:00:03 [info] 1235#1235: *103 client timed out (110: Connection timed out) while proxying upgraded connection", true},
		{"client closed keepalive", "2026/12/02 15:00:03 [info] 1235#1235: *103 client 1.2.3.4 closed keepalive connection", true},
		{"worker closed, unknown reason", "2026/12/02 14:05:00 [warn] 4400#0: worker 0 closed 3 connections for fun, to let waiting clients in: x", true},
		{"buffered to a file without a path", "2026/12/02 15:03:00 [warn] 1234#1234: *130 a client request body is buffered to a temporary file x", true},
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
		{
			line:  "2026/12/02 14:05:00 [warn] 4400#0: worker 0 closed 12 connections that had sent no complete request head for 250ms, to let waiting clients in: 1010 of 1024 slots in use (499 client, 511 upstream), 0 requests queued; the open file limit allows worker_connections 9980",
			title: "worker closed idle and slow-head clients for waiting ones",
			cause: []string{"at least 12 connections", "no complete request head for 250ms", "listen backlog", "Ordinary clients are unaffected", `reason="head"`, "once a second"},
			fix:   []string{"250ms rule is fixed", "toward 9980"},
		},
		{
			line:  "2026/12/02 14:05:03 [warn] 4400#0: worker 0 closed 2 connections sending their request body slower than client_body_min_rate, to let waiting clients in: 4987 of 9980 slots in use (4987 client, 0 upstream), 0 requests queued; the open file limit allows worker_connections 9980",
			cause: []string{"at least 2 connections", "client_body_min_rate", "408", "Ordinary clients are unaffected"},
			fix:   []string{"client_body_min_rate 120 5s", "0 turns the rule off", "already at the 9980"},
		},
		{
			line:  "2026/12/02 14:05:04 [warn] 4400#1: worker 1 closed 3 connections reading their response slower than send_min_rate, to let waiting clients in: 4986 of 9980 slots in use (4986 client, 0 upstream), 0 requests queued; the open file limit allows worker_connections 9980",
			cause: []string{"at least 3 connections", "send_min_rate", "cut short", "Ordinary clients are unaffected"},
			fix:   []string{"send_min_rate 120 5s"},
		},
		{
			line:  `2026/12/02 15:03:00 [warn] 1234#1234: *130 a client request body is buffered to a temporary file /var/lib/nginx/body/0000000001, client: 203.0.113.80`,
			cause: []string{"client_body_buffer_size", "/var/lib/nginx/body", "descriptor", "normal"},
			fix:   []string{"client_body_buffer_size", "client_max_body_size", "headroom doctor -c"},
		},
		{
			line:  `2026/12/02 15:03:00 [notice] 1234#1234: *130 a client request body is buffered to a temporary file /var/lib/nginx/body/0000000001, client: 203.0.113.80`,
			cause: []string{"client_body_in_file_only"},
		},
		{
			line:  "2026/12/02 15:03:10 [warn] 1235#1235: *131 an upstream response is buffered to a temporary file /var/lib/nginx/proxy/2/00/0000000002 while reading upstream" + ctx,
			cause: []string{"proxy_buffers", "/var/lib/nginx/proxy", "proxy_max_temp_file_size", "normal"},
			fix:   []string{"proxy_buffers", "proxy_max_temp_file_size", "headroom doctor -c"},
		},
		{
			line:  `2026/12/02 15:05:00 [crit] 1234#1234: *150 pwritev() "/var/lib/nginx/body/0000000006" failed (28: No space left on device), client: 203.0.113.82`,
			title: "request body temporary file failed: no space left",
			cause: []string{"/var/lib/nginx/body", "full", "500"},
			fix:   []string{"client_body_temp_path", "client_max_body_size", "headroom doctor -c"},
		},
		{
			line:  "2026/12/02 15:04:30 [crit] 1235#1235: *141 open() \"/var/lib/nginx/proxy/5/00/0000000005\" failed (13: Permission denied) while reading upstream" + ctx,
			title: "response temporary file failed: permission denied",
			cause: []string{"/var/lib/nginx/proxy", "cut short"},
			fix:   []string{"nginx's user directive", "proxy_temp_path", "chown"},
		},
		{
			line:  "2026/12/02 15:00:02 [info] 1234#1234: *102 client timed out (110: Connection timed out) while reading client request line, client: 192.0.2.50, server: 0.0.0.0:80",
			cause: []string{"client_header_timeout", "slot", "one client address", "info"},
			fix:   []string{"client_header_timeout", "limit_conn", "250 ms"},
		},
		{
			line:  "2026/12/02 15:01:00 [info] 1234#1234: *110 client timed out (110: Connection timed out) while sending to client" + ctx,
			cause: []string{"send_timeout", "cut short"},
			fix:   []string{"send_timeout", "proxy_buffering", "send_min_rate"},
		},
		{
			line:  `2026/12/02 15:02:00 [info] 1234#1234: *120 client sent too long header line: "Cookie: a..." while reading client request headers, client: 203.0.113.70`,
			cause: []string{"large_client_header_buffers", "494"},
			fix:   []string{"large_client_header_buffers"},
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

// TestTempFailureServer checks that the advice for a temporary file
// directory the workers may not write names the right user: nginx's user
// directive, or the user headroom runs as when the log is headroom's.
func TestTempFailureServer(t *testing.T) {
	failure := `2026/12/02 14:07:00 [crit] 4400#0: open() "/var/lib/headroom/client_body_temp/0441601323" failed (13: Permission denied), client: 198.51.100.22`
	headroomLine := "2026/12/02 14:05:00 [warn] 4400#0: worker 0 closed 1 connections that had sent no complete request head for 250ms, to let waiting clients in: 1 of 1024 slots in use (1 client, 0 upstream), 0 requests queued; the open file limit allows worker_connections 2040"
	tests := []struct {
		log, want, not string
	}{
		{failure, "nginx's user directive", "headroom runs as"},
		{headroomLine + "\n" + failure, "the user headroom runs as", "nginx's user directive"},
	}
	for _, tt := range tests {
		rep, err := Scan(strings.NewReader(tt.log))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range rep.Groups {
			if g.Kind != KindBodyTempFailed {
				continue
			}
			if !strings.Contains(g.Fix, tt.want) || strings.Contains(g.Fix, tt.not) {
				t.Errorf("headroom %v: fix %q, want %q and not %q", rep.Headroom, g.Fix, tt.want, tt.not)
			}
		}
	}
}

// TestSlowClosedSummed checks that the connections headroom's lines say
// it closed are added up per kind, and that each kind is its own group.
func TestSlowClosedSummed(t *testing.T) {
	report := ", to let waiting clients in: 1022 of 1024 slots in use (511 client, 511 upstream), 0 requests queued; the open file limit allows worker_connections 2040"
	log := strings.Join([]string{
		"2026/12/02 14:05:00 [warn] 4400#0: worker 0 closed 12 connections that had sent no complete request head for 250ms" + report,
		"2026/12/02 14:05:01 [warn] 4400#1: worker 1 closed 9 connections that had sent no complete request head for 250ms" + report,
		"2026/12/02 14:05:01 [warn] 4400#1: worker 1 closed 4 connections sending their request body slower than client_body_min_rate" + report,
		"2026/12/02 14:05:02 [warn] 4400#0: worker 0 closed 5 connections sending their request body slower than client_body_min_rate" + report,
		"2026/12/02 14:05:02 [warn] 4400#0: worker 0 closed 7 connections reading their response slower than send_min_rate" + report,
	}, "\n")
	rep, err := Scan(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := map[Kind][2]int{ // lines, connections
		KindSlowHeadsClosed:   {2, 21},
		KindSlowBodiesClosed:  {2, 9},
		KindSlowReadersClosed: {1, 7},
	}
	if len(rep.Groups) != len(want) || !rep.Headroom {
		t.Fatalf("%d groups, headroom %v; want %d, true", len(rep.Groups), rep.Headroom, len(want))
	}
	for _, g := range rep.Groups {
		if got := [2]int{g.Count, g.Closed}; got != want[g.Kind] {
			t.Errorf("%s: lines and connections %v, want %v", g.Kind, got, want[g.Kind])
		}
		if !strings.Contains(g.Cause, fmt.Sprintf("at least %d connections", g.Closed)) {
			t.Errorf("%s: cause does not give the count: %s", g.Kind, g.Cause)
		}
	}
}

// TestTempDir checks how the configured directory is taken from a
// temporary file's path: level directories made of the name's last
// digits go, anything else stays.
func TestTempDir(t *testing.T) {
	tests := []struct {
		path, dir string
		ok        bool
	}{
		{"/var/lib/nginx/body/0000000001", "/var/lib/nginx/body", true},
		{"/var/lib/nginx/proxy/5/00/0000000005", "/var/lib/nginx/proxy", true},
		{"/t/1/32/54/0000654321", "/t", true}, // levels 1 2 2
		{"/t/21/0000000321", "/t", true},      // level 2
		{"/t/99/0000000321", "/t/99", true},   // not the name's digits: part of the path
		{"/var/lib/nginx/proxy/9", "/var/lib/nginx/proxy", true},
		{"/var/lib/headroom/proxy_temp/7/32", "/var/lib/headroom/proxy_temp", true},
		{"/srv/www/index.html", "", false},
		{"/srv/www/123", "", false}, // three digits: not a level
		{"0000000001", "", false},
		{"/0000000001", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		dir, ok := tempDir(tt.path)
		if dir != tt.dir || ok != tt.ok {
			t.Errorf("tempDir(%q) = %q, %v; want %q, %v", tt.path, dir, ok, tt.dir, tt.ok)
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
// files in testdata, and for some the JSON form too (as doctor --json
// writes it); go test -update rewrites them.
func TestWriteTextGolden(t *testing.T) {
	tests := []struct{ log, golden, json string }{
		{"nginx.log", "nginx.txt", ""},
		{"headroom.log", "headroom.txt", ""},
		{"empty.log", "empty.txt", ""},
		// Slow clients, temporary files and their failures.
		{"headroom-slow.log", "headroom-slow.txt", "headroom-slow.json"},
		{"nginx-slow.log", "nginx-slow.txt", "nginx-slow.json"},
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
			compareGolden(t, tt.golden, out.Bytes())
			if tt.json == "" {
				return
			}
			out.Reset()
			enc := json.NewEncoder(&out)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, tt.json, out.Bytes())
		})
	}
}

// compareGolden compares got with testdata/name, or writes it there
// with -update.
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
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
	for _, name := range []string{"nginx.log", "headroom.log", "nginx-slow.log", "headroom-slow.log"} {
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
