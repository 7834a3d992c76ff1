#!/usr/bin/env bash
# Replay the seed scenario, nginx's "[alert] 1024 worker_connections are not
# enough while connecting to upstream", against headroom, nginx, HAProxy and
# Caddy, and check each against the scenario's acceptance line:
#
#   1. seed replay: worker_processes 1, worker_connections 1024 (HAProxy:
#      maxconn 512; Caddy, which has no such setting, under "ulimit -n 1024",
#      as the seed measured it), 2000 keep-alive clients for 5 s, an upstream
#      that answers after 200 ms. Pass: no socket error, every answer 200 or
#      503 with Retry-After, at least 12,800 x 200, p99 of the 200s <= 1.5 s.
#   2. automatic budget: the same without worker_connections (headroom
#      derives it from the open-file limit; nginx uses its default of 512;
#      HAProxy derives maxconn from the limit; Caddy has only the open-file
#      limit). Pass: at least 45,000 x 200, no socket error and no answer
#      other than 200.
#   3. starved of descriptors: scenario 2 with the proxy started under
#      "ulimit -n 256". Pass: the proxy is still running afterwards, uses
#      under 10% of a core during 2 s without clients after the load (no
#      busy loop), every answer is 200 or 503 with Retry-After, and one
#      request sent right after the load gets 200 within 1 s.
#
# The proxy runs on core 0; the upstream (bench/slowupstream) and wrk (or
# loadc, below) on core 1. Every proxy gets one core's worth: one worker
# process (nginx, headroom), one thread (HAProxy, nbthread 1), GOMAXPROCS=1
# (Caddy, a Go program). Caddy is configured by a Caddyfile in the
# temporary directory: only 127.0.0.1, no admin endpoint, no automatic
# HTTPS, keep-alive to the upstream, its log and its data and config
# directories (HOME, XDG_DATA_HOME, XDG_CONFIG_HOME) in the temporary
# directory.
#
# wrk runs "-t2 -c2000 -d5s --timeout 10s --latency" with a Lua script that
# counts the answers by status, checks Retry-After on each 503 and times
# each 200 through a header the upstream echoes, so that the percentiles
# shown are those of the 200s; it also counts the requests still unanswered
# when the run stops, which wrk's own figures leave out.
# For every run it also reads the proxy's CPU time, the listen backlog and
# how many connections wait in it, and the proxy's error log.
#
# With --client loadc the load comes from loadc (/work/shared/tools/loadc,
# or --tools DIR), built into the temporary directory at each run and run
# where wrk runs (core 1, the same open-file limit) as "loadc -addr
# 127.0.0.1:PORT -c 2000 -d 5s -timeout 10s": one goroutine per connection,
# keep-alive GETs one at a time, a new connection when the server closes
# one. Same scenarios, same acceptance lines. Its outcome classes go to the
# table's columns thus: status_200 is a 200, status_503 a 503, any other
# status_NNN an "other non-2xx"; dial_error, eof, reset_or_error and timeout
# are socket errors (any other class loadc may print is counted with
# reset_or_error). loadc reads no header, so the Retry-After of the 503s is
# not checked (a verdict says so when there were 503s); it times the 200s
# itself (from writing the request to reading the answer) and prints their
# p50, p99 and maximum, shown in place of wrk's p99 over every answer. It
# lets every request in flight at the end of the 5 s finish (its answer or
# its 10 s timeout), so nothing is left unanswered and the counts include
# answers that came after the 5 s; req/s is the answers over loadc's whole
# run, which is reported. After a 503 it waits 20 ms before its next
# request on that connection, and 50 ms after a failed connect. loadc
# speaks plain HTTP only: --https with loadc is refused.
#
# With --https the same scenarios run over TLS between wrk and the proxy;
# the upstream stays plaintext, and the acceptance lines do not change. At
# each run the script makes a self-signed ECDSA P-256 certificate (CN
# localhost, "openssl req -x509 -newkey ec -pkeyopt
# ec_paramgen_curve:P-256", as bench/tls.sh) in the temporary directory.
# nginx and headroom read the same configuration as in plaintext with
# "listen 127.0.0.1:PORT ssl;", ssl_certificate, ssl_certificate_key and
# "ssl_protocols TLSv1.2 TLSv1.3;" added (the rest of TLS at each one's
# default: session tickets on, its own groups and suites); HAProxy binds
# with "ssl crt FILE" (certificate and key in one PEM file) and its
# defaults (TLS 1.2 and up). Caddy is not measured over TLS (skipped with a
# message). wrk (OpenSSL 3, no certificate check) opens its 2000
# connections with a full TLS 1.3 handshake each at the start of
# the run, and makes a new handshake on every reconnection (after a
# "Connection: close" or an error; it may resume the session it kept);
# the requests then go over TLS keep-alive. curl -k makes the requests
# that wait for the proxy to start and the request after the load, each a
# new connection and a full handshake, so "200 within 1 s" includes one.
# Before the first run of each proxy one "openssl s_client -brief" (core 1)
# asks what an OpenSSL client negotiates: protocol, suite and key exchange
# group, printed with the report.
#
# Run "bench/seed.sh --help" for the options. Everything listens on
# 127.0.0.1 only; every load is bounded in time; every process started here
# is stopped on exit, Ctrl-C included. Files are written only under
# bench/.bin (binaries) and a temporary directory in /tmp that is removed at
# exit (unless --keep).
#
# All the code is in functions and runs from the last line, so that editing
# this file while it runs does not change what the running copy does.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=$BENCH_DIR/.bin

REPS=${SEED_REPS:-1}
PROXIES=${SEED_PROXIES:-headroom,nginx,haproxy,caddy}
SCENARIOS=${SEED_SCENARIOS:-1,2,3}
PORT=${SEED_PORT:-18180}
HEADROOM_BIN=${SEED_HEADROOM_BIN:-}
HTTPS=${SEED_HTTPS:-0}
CLIENT=${SEED_CLIENT:-wrk}
TOOLS_DIR=${SEED_TOOLS_DIR:-/work/shared/tools}
KEEP=0

# The scenario itself; the acceptance lines below are written for these.
DURATION=5
CONNS=2000
THREADS=2
CLIENT_TIMEOUT=10 # wrk --timeout, loadc -timeout (seconds)
DELAY=200ms
STARVED_NOFILE=256
CADDY_SEED_NOFILE=1024 # Caddy's stand-in for worker_connections 1024 in scenario 1
CLIENT_NOFILE=19000

usage() {
	cat <<'EOF'
Usage: bench/seed.sh [options]

Replays the seed scenario (2000 keep-alive clients, one worker, an upstream
that answers after 200 ms) against headroom, nginx, HAProxy and Caddy and
prints one table per scenario with PASS/FAIL against its acceptance line.
Each proxy runs on core 0 with one core's worth: one worker, HAProxy one
thread, Caddy GOMAXPROCS=1.

Options (each also settable by the environment variable shown):
  -p, --proxies LIST    comma list of headroom,nginx,haproxy,caddy
                                                     (SEED_PROXIES, all four)
  -s, --scenarios LIST  comma list of 1,2,3          (SEED_SCENARIOS, 1,2,3)
  -r, --reps N          runs of each scenario and proxy, one row each
                                                     (SEED_REPS, 1)
      --port N          upstream port; the proxy uses N+1
                                                     (SEED_PORT, 18180)
      --headroom-bin F  measure this headroom binary instead of building
                        ./cmd/headroom               (SEED_HEADROOM_BIN)
      --https           the same over TLS: the proxy listens with TLS (a
                        self-signed ECDSA P-256 certificate made at each
                        run; nginx and headroom: ssl_protocols TLSv1.2
                        TLSv1.3; HAProxy: bind ... ssl crt, its defaults),
                        wrk connects with https:// (OpenSSL, TLS 1.3); the
                        upstream stays plaintext; Caddy is skipped
                                                     (SEED_HTTPS=1)
      --client NAME     the load client, wrk or loadc (see below)
                                                     (SEED_CLIENT, wrk)
      --tools DIR       where loadc's source is, with --client loadc
                                                     (SEED_TOOLS_DIR,
                                                      /work/shared/tools)
      --keep            keep the temporary directory (configs, logs, raw data)
  -h, --help            this text

Scenarios:
  1  seed replay: worker_processes 1; worker_connections 1024 (HAProxy:
     maxconn 512; Caddy, which has no such setting: "ulimit -n 1024").
     PASS: zero socket errors, only 200 and 503 with Retry-After,
     >= 12,800 x 200, p99 of the 200s <= 1.5 s.
  2  automatic budget: no worker_connections (nginx: its default 512;
     headroom: derived from the open-file limit; HAProxy: maxconn derived
     from the limit; Caddy: the open-file limit alone). PASS: >= 45,000 x
     200, zero socket errors, no answer other than 200.
  3  starved of descriptors: scenario 2 under "ulimit -n 256" (soft and
     hard) for the proxy. PASS: still running, under 10% of a core during
     2 s without clients after the load, only 200 and 503 with Retry-After,
     and a request right after the load answered 200 within 1 s.

Clients: wrk runs "-t2 -c2000 -d5s --timeout 10s" with a Lua script that
counts the answers by status, checks Retry-After on each 503, times each
200 and counts the requests left unanswered at the end. With --client
loadc, loadc (from --tools DIR, built into the temporary directory at each
run) runs where wrk does, core 1, as "loadc -c 2000 -d 5s -timeout 10s";
same scenarios and acceptance lines. Its outcomes are mapped thus:
  status_200            200
  status_503            503 (loadc reads no header: Retry-After is not
                        checked, and a verdict with 503s says so)
  other status_NNN      other non-2xx
  dial_error, eof, reset_or_error, timeout
                        socket errors, one column each (any other class
                        counted with reset_or_error)
  ok_p50_ms, ok_p99_ms, ok_max_ms
                        p50, p99 and max of the 200s (max in place of
                        wrk's p99 over every answer)
loadc lets the requests in flight at the end of the 5 s finish (answer or
10 s timeout), so none is left unanswered, its counts include answers after
the 5 s and req/s is over its whole run; "unanswered" and "Connection:
close" columns show "-". It waits 20 ms after a 503 before the next request
on that connection. loadc has no TLS: --https needs wrk.

Needs wrk (with LuaJIT, as Debian's; not with --client loadc), taskset, curl
and Go (and openssl with --https); nginx, HAProxy and Caddy are measured
when installed and skipped with a message otherwise (Debian: apt-get install
wrk nginx haproxy caddy curl openssl).
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "seed.sh: $*"
	exit 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-p | --proxies) PROXIES=$2; shift 2 ;;
		-s | --scenarios) SCENARIOS=$2; shift 2 ;;
		-r | --reps) REPS=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=$2; shift 2 ;;
		--https) HTTPS=1; shift ;;
		--client) CLIENT=${2:?}; shift 2 ;;
		--tools) TOOLS_DIR=${2:?}; shift 2 ;;
		--keep) KEEP=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done
	local p s
	is_uint "$REPS" && [ "$REPS" -ge 1 ] || die "--reps must be a whole number, at least 1"
	is_uint "$PORT" && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65000 ] || die "--port must be in 1024..65000"
	case $HTTPS in 0 | 1) ;; *) die "SEED_HTTPS must be 0 or 1" ;; esac
	case $CLIENT in wrk | loadc) ;; *) die "unknown client: $CLIENT (--client wrk or loadc)" ;; esac
	if [ "$CLIENT" = loadc ] && [ "$HTTPS" = 1 ]; then
		die "--https needs --client wrk: loadc speaks plain HTTP only (it has no TLS)"
	fi
	IFS=, read -r -a PROXY_LIST <<<"$PROXIES"
	IFS=, read -r -a SCENARIO_LIST <<<"$SCENARIOS"
	for p in "${PROXY_LIST[@]}"; do
		case $p in headroom | nginx | haproxy | caddy) ;; *) die "unknown proxy: $p" ;; esac
	done
	for s in "${SCENARIO_LIST[@]}"; do
		case $s in 1 | 2 | 3) ;; *) die "unknown scenario: $s (1, 2 or 3)" ;; esac
	done
	UPSTREAM_PORT=$PORT
	PROXY_PORT=$((PORT + 1))
	# The proxy's scheme; the upstream is always plain http.
	SCHEME=http
	[ "$HTTPS" = 0 ] || SCHEME=https
}

# ---------------------------------------------------------------- processes

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"
# shellcheck source=bench/tlsproc.sh
. "$BENCH_DIR/tlsproc.sh"

# ---------------------------------------------------------------- checks and build

declare -A SKIP=()
declare -A VERSION=()

check_machine() {
	local c
	[ "$(nproc)" -ge 2 ] || die "needs at least 2 CPUs (the proxy and the load run on separate cores)"
	for c in taskset go curl timeout $([ "$CLIENT" = loadc ] || echo wrk); do
		command -v "$c" >/dev/null || die "$c not found (Debian: apt-get install wrk curl util-linux coreutils golang)"
	done
	if [ "$CLIENT" = loadc ]; then
		[ -d "$TOOLS_DIR/loadc" ] || die "$TOOLS_DIR/loadc not found (give its parent with --tools DIR)"
	fi
	if [ "$HTTPS" = 1 ]; then
		command -v openssl >/dev/null || die "openssl not found, needed by --https (Debian: apt-get install openssl)"
	fi
	HARD_NOFILE=$(ulimit -Hn)
	if [ "$HARD_NOFILE" != unlimited ] && [ "$HARD_NOFILE" -lt $((CLIENT_NOFILE + 100)) ]; then
		die "the open-file hard limit is $HARD_NOFILE; $CLIENT needs $CLIENT_NOFILE"
	fi
	for c in "$UPSTREAM_PORT" "$PROXY_PORT"; do
		if port_busy "$c"; then
			die "127.0.0.1:$c is already in use (choose another base port with --port)"
		fi
	done
}

build() {
	local p rev dirty=""
	mkdir -p "$BIN_DIR"
	say "building bench/slowupstream"
	(cd "$REPO_DIR" && go build -o "$BIN_DIR/slowupstream" ./bench/slowupstream) || die "could not build bench/slowupstream"
	if [ "$CLIENT" = loadc ]; then
		mkdir -p "$WORK/tools"
		say "building loadc ($TOOLS_DIR) into the temporary directory"
		(cd "$TOOLS_DIR" && go build -o "$WORK/tools/" ./loadc) >"$WORK/tools-build.log" 2>&1 ||
			die "could not build $TOOLS_DIR/loadc: $(head -n 3 "$WORK/tools-build.log" | tr '\n' ' ')"
		LOADC=$WORK/tools/loadc
		[ -x "$LOADC" ] || die "building $TOOLS_DIR/loadc gave no loadc"
		VERSION[loadc]="loadc ($TOOLS_DIR/loadc, $(go env GOVERSION))"
	fi
	for p in "${PROXY_LIST[@]}"; do
		case $p in
		headroom)
			if [ -n "$HEADROOM_BIN" ]; then
				if [ -x "$HEADROOM_BIN" ]; then
					VERSION[headroom]="headroom ($HEADROOM_BIN)"
				else
					SKIP[headroom]="$HEADROOM_BIN is not an executable file"
				fi
				continue
			fi
			HEADROOM_BIN=$BIN_DIR/headroom-seed
			say "building headroom (go build -o bench/.bin/headroom-seed ./cmd/headroom)"
			rm -f "$HEADROOM_BIN"
			if (cd "$REPO_DIR" && go build -o "$HEADROOM_BIN" ./cmd/headroom) >"$WORK/headroom-build.log" 2>&1; then
				rev=$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null) || rev=unknown
				if ! (cd "$REPO_DIR" && git diff --quiet HEAD -- cmd internal 2>/dev/null) ||
					[ -n "$(cd "$REPO_DIR" && git status --porcelain -- cmd internal 2>/dev/null)" ]; then
					dirty=" with local changes"
				fi
				VERSION[headroom]="headroom $rev$dirty"
			else
				SKIP[headroom]="./cmd/headroom does not build: $({ grep -v '^#' "$WORK/headroom-build.log" || true; } | head -n 1)"
			fi
			;;
		nginx | haproxy) find_installed "$p" ;;
		caddy)
			if [ "$HTTPS" = 1 ]; then
				SKIP[caddy]="not measured over TLS (--https): the script has no TLS configuration for it"
			elif command -v caddy >/dev/null; then
				# Debian's prints "2.6.2", upstream's "v2.6.2 h1:...".
				VERSION[caddy]=$({ caddy version 2>/dev/null || true; } | awk 'NR == 1 {v = $1; sub(/^v/, "", v); print "Caddy " v}')
			else
				SKIP[caddy]="not installed (Debian: apt-get install caddy)"
			fi
			;;
		esac
	done
	[ "$CLIENT" != wrk ] || VERSION[wrk]=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {v = $2; if (v ~ /^debian\//) {sub(/^debian\//, "", v); d = v; sub(/-.*/, "", v); print "wrk " v " (Debian " d ")"} else print "wrk " v}')
	for p in "${PROXY_LIST[@]}"; do
		if [ -n "${SKIP[$p]:-}" ]; then
			say "$p: skipped: ${SKIP[$p]}"
		fi
	done
}

# ---------------------------------------------------------------- configs

# make_cert and tls_params are in tlsproc.sh.

# nginx_conf SCENARIO DIR FOR: the proxy configuration, in nginx's language,
# read by nginx and headroom alike. Only nginx gets the temp-path lines,
# which keep it from writing under /var/lib/nginx.
nginx_conf() {
	local scen=$1 dir=$2 for=$3
	cat <<EOF
worker_processes 1;
daemon off;
pid $dir/logs/proxy.pid;
error_log $dir/logs/error.log notice;

events {
EOF
	if [ "$scen" = 1 ]; then
		echo "    worker_connections 1024;"
	fi
	cat <<EOF
}

http {
    access_log off;
EOF
	if [ "$for" = nginx ]; then
		nginx_temp_paths "$dir"
	fi
	cat <<EOF

EOF
	server_open
	cat <<EOF

        location / {
            proxy_pass http://127.0.0.1:$UPSTREAM_PORT;
        }
    }
}
EOF
}

# haproxy_conf SCENARIO: HAProxy doing the same job with one thread;
# maxconn 512 in scenario 1 (the same 512 requests in flight as nginx's
# 1024 worker_connections), derived from the open-file limit otherwise.
haproxy_conf() {
	local scen=$1
	cat <<EOF
global
    nbthread 1
EOF
	if [ "$scen" = 1 ]; then
		echo "    maxconn 512"
	fi
	cat <<EOF

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend fe
    bind 127.0.0.1:$PROXY_PORT$([ "$HTTPS" = 0 ] || echo " ssl crt $WORK/certs/proxy.pem")
    default_backend be

backend be
    server up 127.0.0.1:$UPSTREAM_PORT
EOF
}

# caddy_conf SCENARIO DIR: Caddy doing the same job. Caddy has no
# worker_connections or maxconn; its limit in scenario 1 is the open-file
# limit it is started under. Only 127.0.0.1 (bind), no admin endpoint, no
# automatic HTTPS, plain HTTP on the proxy port; the upstream connections
# are kept alive (Caddy's own defaults, written out: 2 min idle, up to 32
# idle per upstream). The log goes to DIR/logs/error.log, as JSON.
caddy_conf() {
	local dir=$2
	cat <<EOF
{
	admin off
	auto_https off
	grace_period 1s
	storage file_system $dir/caddy-data
	log {
		output file $dir/logs/error.log
		format json
		level INFO
	}
}

http://127.0.0.1:$PROXY_PORT {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$UPSTREAM_PORT {
		transport http {
			keepalive 2m
			keepalive_idle_conns_per_host 32
		}
	}
}
EOF
}

# The wrk script: per-status counts, Retry-After on 503s, and the latency of
# each 200 from the send time the upstream echoes in X-Seed-T (wrk's own
# histogram mixes every status). One "SEED" line and one "SEEDSTATUS" line
# per status come out of done().
wrk_script() {
	cat <<'EOF'
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } seed_timespec_t;
int clock_gettime(int clk_id, seed_timespec_t *tp);
]]
local ts = ffi.new("seed_timespec_t")
local function now_us()
	ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
	return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local function header(h, name, canon)
	local v = h[canon] or h[name]
	if v then return v end
	for k, val in pairs(h) do
		if string.lower(k) == name then return val end
	end
	return nil
end

local threads = {}
function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	statuses = {}
	ra503 = 0
	sent = 0
	hist = {} -- latency of the 200s, in whole milliseconds -> count
	timed = 0
	pending = {} -- send time of each request not answered yet -> count
	unmatched = 0 -- answers that could not be paired with their request
	closes = 0 -- answers with "Connection: close"
end

-- wrk calls request() once in the first thread before the run, to check
-- the script; that call's entry is taken out again in done().
function request()
	local t = now_us()
	if not first then first = t end
	sent = sent + 1
	pending[t] = (pending[t] or 0) + 1
	return wrk.format(nil, nil, { ["X-Seed-T"] = string.format("%.0f", t) })
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
	local conn = header(headers, "connection", "Connection")
	if conn and string.find(string.lower(conn), "close", 1, true) then closes = closes + 1 end
	local t = tonumber(header(headers, "x-seed-t", "X-Seed-T") or "")
	if t and pending[t] then
		if pending[t] == 1 then pending[t] = nil else pending[t] = pending[t] - 1 end
	else
		unmatched = unmatched + 1
	end
	if status == 200 and t then
		local ms = math.floor((now_us() - t) / 1000)
		hist[ms] = (hist[ms] or 0) + 1
		timed = timed + 1
	elseif status == 503 then
		if header(headers, "retry-after", "Retry-After") then ra503 = ra503 + 1 end
	end
end

local function pct(h, total, p)
	if total == 0 then return -1 end
	local keys = {}
	for k in pairs(h) do keys[#keys + 1] = k end
	table.sort(keys)
	local want = math.ceil(total * p / 100)
	local cum = 0
	for _, k in ipairs(keys) do
		cum = cum + h[k]
		if cum >= want then return k end
	end
	return keys[#keys]
end

-- Requests still unanswered when the run ends were sent, but wrk neither got
-- an answer nor saw an error on their connection: clients left waiting (in
-- the listen backlog, or inside the proxy). Their ages are known exactly
-- when every answer was paired with its request and no connection failed;
-- "p99 incl. unanswered" then counts each at its age at the end of the run.
function done(summary, latency, requests)
	local now = now_us()
	local st, h, waiting = {}, {}, {}
	local ra, snt, tm, um, stale, cl = 0, 0, 0, 0, 0, 0
	for i, t in ipairs(threads) do
		for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
		for k, v in pairs(t:get("hist")) do h[k] = (h[k] or 0) + v end
		local pend = t:get("pending")
		local f = t:get("first")
		if i == 1 and f and pend[f] then
			pend[f] = pend[f] - 1
			snt = snt - 1
		end
		for k, v in pairs(pend) do
			if v > 0 then
				local age = math.floor((now - k) / 1000)
				waiting[age] = (waiting[age] or 0) + v
				stale = stale + v
			end
		end
		ra = ra + t:get("ra503")
		snt = snt + t:get("sent")
		tm = tm + t:get("timed")
		um = um + t:get("unmatched")
		cl = cl + t:get("closes")
	end
	local e = summary.errors
	local p50all, p99all = -1, -1
	if summary.requests > 0 then
		p50all, p99all = latency:percentile(50) / 1000, latency:percentile(99) / 1000
	end
	local unanswered = snt - summary.requests - e.read - e.write
	local p99incl, oldest, over1s = -1, -1, -1
	if um == 0 and e.read + e.write == 0 and stale == unanswered then
		local all = {}
		for k, v in pairs(h) do all[k] = (all[k] or 0) + v end
		oldest, over1s = 0, 0
		for k, v in pairs(waiting) do
			all[k] = (all[k] or 0) + v
			if k > oldest then oldest = k end
			if k > 1000 then over1s = over1s + v end
		end
		p99incl = pct(all, tm + stale, 99)
	end
	io.write(string.format("SEED duration_us=%d requests=%d sent=%d connect=%d read=%d write=%d timeout=%d " ..
		"ra503=%d timed200=%d p50_200_ms=%d p99_200_ms=%d p50_all_ms=%.1f p99_all_ms=%.1f " ..
		"unanswered=%d oldest_wait_ms=%d waiting_over_1s=%d p99_incl_ms=%d unmatched=%d closes=%d\n",
		summary.duration, summary.requests, snt, e.connect, e.read, e.write, e.timeout,
		ra, tm, pct(h, tm, 50), pct(h, tm, 99), p50all, p99all,
		unanswered, oldest, over1s, p99incl, um, cl))
	local codes = {}
	for k in pairs(st) do codes[#codes + 1] = k end
	table.sort(codes)
	for _, k in ipairs(codes) do
		io.write(string.format("SEEDSTATUS %d %d\n", k, st[k]))
	end
end
EOF
}

# ---------------------------------------------------------------- measuring

# pct_of_core TICKS T0 T1: TICKS as a percentage of one core over T0..T1
# (EPOCHREALTIME values).
pct_of_core() {
	awk -v d="$1" -v hz="$CLK_TCK" -v a="$2" -v b="$3" 'BEGIN {printf "%.0f", d * 100 / hz / (b - a)}'
}

start_upstream() {
	local i
	say "starting bench/slowupstream on 127.0.0.1:$UPSTREAM_PORT (core 1, answers after $DELAY)"
	(
		ulimit -n "$CLIENT_NOFILE"
		exec taskset -c 1 "$BIN_DIR/slowupstream" -addr "127.0.0.1:$UPSTREAM_PORT" -delay "$DELAY"
	) >"$WORK/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	STARTED+=("$UPSTREAM_PID")
	for ((i = 0; i < 50; i++)); do
		[ "$(probe "$UPSTREAM_PORT" 2 | cut -d' ' -f1)" = 200 ] && return 0
		sleep 0.1
	done
	die "the upstream does not answer: $(cat "$WORK/upstream.log")"
}

# probe PORT MAXSEC: one GET; prints "STATUS MILLISECONDS" (status 000 when
# nothing came back in time).
probe() {
	local out
	local scheme=http
	[ "$1" != "$PROXY_PORT" ] || scheme=$SCHEME
	out=$(curl -s -k -o /dev/null -m "$2" -w '%{http_code} %{time_total}' "$scheme://127.0.0.1:$1/" 2>/dev/null) || true
	[ -n "$out" ] || out="000 $2"
	awk '{printf "%s %.0f\n", $1, $2 * 1000}' <<<"$out"
}

PROXY_PID=""

# start_proxy NAME SCENARIO DIR: start the proxy pinned to core 0 and wait
# until it proxies a request. Returns 1, with the reason in START_ERROR,
# when it does not.
start_proxy() {
	local name=$1 scen=$2 dir=$3 nofile i rc msg
	nofile=$HARD_NOFILE
	[ "$scen" = 1 ] && [ "$name" = caddy ] && nofile=$CADDY_SEED_NOFILE
	[ "$scen" = 3 ] && nofile=$STARVED_NOFILE
	mkdir -p "$dir/logs"
	case $name in
	nginx)
		nginx_conf "$scen" "$dir" nginx >"$dir/nginx.conf"
		(
			ulimit -n "$nofile"
			exec taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
		) >"$dir/stdout.log" 2>&1 &
		;;
	headroom)
		nginx_conf "$scen" "$dir" headroom >"$dir/nginx.conf"
		(
			ulimit -n "$nofile"
			exec taskset -c 0 "$HEADROOM_BIN" -p "$dir/" -c "$dir/nginx.conf"
		) >"$dir/stdout.log" 2>&1 &
		;;
	haproxy)
		haproxy_conf "$scen" >"$dir/haproxy.cfg"
		(
			ulimit -n "$nofile"
			exec taskset -c 0 haproxy -db -f "$dir/haproxy.cfg"
		) >"$dir/stdout.log" 2>&1 &
		;;
	caddy)
		caddy_conf "$scen" "$dir" >"$dir/Caddyfile"
		mkdir -p "$dir/caddy-home"
		(
			ulimit -n "$nofile"
			exec env GOMAXPROCS=1 HOME="$dir/caddy-home" XDG_DATA_HOME="$dir/caddy-home/data" \
				XDG_CONFIG_HOME="$dir/caddy-home/config" \
				taskset -c 0 caddy run --config "$dir/Caddyfile" --adapter caddyfile
		) >"$dir/stdout.log" 2>&1 &
		;;
	esac
	PROXY_PID=$!
	STARTED+=("$PROXY_PID")
	for ((i = 0; i < 100; i++)); do
		[ "$(probe "$PROXY_PORT" 2 | cut -d' ' -f1)" = 200 ] && return 0
		if ! alive "$PROXY_PID"; then
			rc=0
			wait "$PROXY_PID" 2>/dev/null || rc=$?
			msg=$({ cat "$dir/stdout.log" "$dir/logs/error.log" 2>/dev/null || true; } | { grep . || true; } | tail -n 2 | tr '\n' ' ')
			START_ERROR="exited at start with status $rc: ${msg:-no output}"
			return 1
		fi
		sleep 0.1
	done
	START_ERROR="does not answer GET / with 200 on 127.0.0.1:$PROXY_PORT within 10 s"
	return 1
}

# log_summary DIR: the proxy's log lines at warn level and above, grouped by
# their text with the time, process and connection numbers removed and the
# other numbers ignored; the most frequent 4 kinds, each with its count and
# its first line. Caddy's JSON lines are read as "[level] logger: msg
# (status N): error" first, leaving out the two warnings that only restate
# its configuration (admin endpoint and automatic HTTPS disabled).
log_summary() {
	local dir=$1
	{ cat "$dir/logs/error.log" "$dir/stdout.log" 2>/dev/null || true; } |
		awk '/^\{"level":"/ {
			l = $0; sub(/^\{"level":"/, "", l); sub(/".*/, "", l)
			g = ""; if (match($0, /"logger":"[^"]*"/)) g = substr($0, RSTART + 10, RLENGTH - 11) ": "
			m = ""; if (match($0, /"msg":"([^"\\]|\\.)*"/)) m = substr($0, RSTART + 7, RLENGTH - 8)
			s = ""; if (match($0, /"status":[0-9]+/)) s = " (status " substr($0, RSTART + 9, RLENGTH - 9) ")"
			e = ""; if (match($0, /"error":"([^"\\]|\\.)*"/)) e = ": " substr($0, RSTART + 9, RLENGTH - 10)
			if (m == "admin endpoint disabled" || m ~ /^automatic HTTPS is completely disabled/) next
			print "[" l "] " g m s e
			next
		} {print}' |
		{ grep -E '\[(warn|error|crit|alert|emerg)\]|^\[(WARNING|ALERT)\]|[Tt]oo many open files' || true; } |
		sed -E 's/^[0-9]{4}\/[0-9]{2}\/[0-9]{2} [0-9:]{8} //; s/^(\[[a-z]+\]) [0-9]+#[0-9]+: (\*[0-9]+ )?/\1 /;
			s/^\[(WARNING|ALERT)\] +\([0-9]+\) : /[\1] /; s/,? client: 127\.0\.0\.1, .*$//' |
		awk '{
			k = $0; gsub(/[0-9]+/, "#", k)
			if (!(k in n)) { first[k] = $0; order[++m] = k }
			n[k]++
		} END {
			for (i = 1; i <= m; i++) printf "%d\t%d\t%s\n", n[order[i]], i, first[order[i]]
		}' | sort -t "$(printf '\t')" -k1,1nr -k2,2n | head -n 4 |
		awk -F '\t' '{printf "%d × %s\n", $1, $3}'
}

# cpu_snapshot: the cpu0 and cpu1 lines of /proc/stat on one line.
cpu_snapshot() { awk '$1 == "cpu0" || $1 == "cpu1"' /proc/stat | tr '\n' ' '; }

# core_busy BEFORE AFTER: "core0=P core1=Q", how busy each core was between
# two snapshots, in percent.
core_busy() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		na = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= na; i += 11) {
			tot = 0
			for (j = 1; j <= 10; j++) tot += y[i + j] - x[i + j]
			if (tot <= 0) continue
			idle = y[i + 4] - x[i + 4] + y[i + 5] - x[i + 5]
			printf "%s=%.0f ", x[i], 100 * (tot - idle) / tot
		}
	}'
}

# run_client LOG: the load, by wrk or loadc, pinned to core 1, its output
# to LOG; fails as the client does.
run_client() {
	local log=$1
	case $CLIENT in
	wrk)
		run_bg "$log" bash -c 'ulimit -n "$1" && shift && exec "$@"' _ "$CLIENT_NOFILE" \
			timeout -k 5 $((DURATION + 30)) taskset -c 1 \
			wrk -t"$THREADS" -c"$CONNS" -d"$DURATION"s --timeout "$CLIENT_TIMEOUT"s --latency -s "$WORK/seed.lua" \
			"$SCHEME://127.0.0.1:$PROXY_PORT/"
		;;
	loadc)
		# At most DURATION + 2 x CLIENT_TIMEOUT: a connect started just
		# before the end, then its request.
		run_bg "$log" bash -c 'ulimit -n "$1" && shift && exec "$@"' _ "$CLIENT_NOFILE" \
			timeout -k 5 $((DURATION + 2 * CLIENT_TIMEOUT + 10)) taskset -c 1 \
			"$LOADC" -addr "127.0.0.1:$PROXY_PORT" -path / -c "$CONNS" -d "$DURATION"s -timeout "$CLIENT_TIMEOUT"s
		;;
	esac
}

# loadc_seed LOG T0 T1: loadc's JSON line in LOG as the wrk script's lines,
# "SEED key=value..." and "SEEDSTATUS CODE COUNT", with loadc's own error
# classes (dial_error, eof, reset_or_error, timeout; any other class counted
# in reset_or_error and named in other_classes), ra503=-1 (not checked),
# duration_us over T0..T1 (EPOCHREALTIME values: loadc's whole run) and -1
# for a percentile without a 200. Nothing when LOG has no JSON line.
loadc_seed() {
	local json
	json=$({ grep '^{' "$1" || true; } | tail -n 1)
	[ -n "$json" ] || return 0
	tr -d '{}" ' <<<"$json" | tr ',' '\n' | awk -F: -v a="$2" -v b="$3" '
	BEGIN { p50 = -1; p99 = -1; mx = -1; oc = "-" }
	$1 ~ /^status_[0-9]+$/ { st[substr($1, 8)] += $2; req += $2; next }
	$1 == "ok_p50_ms" { p50 = $2; next }
	$1 == "ok_p99_ms" { p99 = $2; next }
	$1 == "ok_max_ms" { mx = $2; next }
	$1 == "dial_error" || $1 == "eof" || $1 == "reset_or_error" || $1 == "timeout" { e[$1] += $2; next }
	$1 != "" { e["reset_or_error"] += $2; oc = (oc == "-" ? "" : oc ",") $1 ":" $2 }
	END {
		printf "SEED duration_us=%.0f requests=%d dial_error=%d eof=%d reset_or_error=%d timeout=%d ra503=-1 " \
			"p50_200_ms=%d p99_200_ms=%d max_200_ms=%d other_classes=%s\n",
			(b - a) * 1e6, req, e["dial_error"], e["eof"], e["reset_or_error"], e["timeout"], p50, p99, mx, oc
		for (c in st) printf "SEEDSTATUS %d %d\n", c, st[c]
	}' | sort -k1,1 -k2,2n
}

# measure SCENARIO NAME REP: one run; appends a record to RESULTS (kind,
# scenario, proxy, run, key=value figures, status:count list) and the
# proxy's log summary to NOTES.
measure() {
	local scen=$1 name=$2 rep=$3 dir log seed c0 c1 c2 c3 r0 r1 r2 r3 s0 s1 cpu_load cpu_after code ms up nofile t
	local rec_ms=-1 kvs backlog sampler queued res ran=""
	local -a tree
	dir=$WORK/s$scen-$name-$rep
	log=$dir/$CLIENT.out
	say "[scenario $scen, $name, run $rep]"
	if ! start_proxy "$name" "$scen" "$dir"; then
		say "  $name: not measured: $START_ERROR"
		printf 'skip\t%s\t%s\t%s\t%s\n' "$scen" "$name" "$rep" "$START_ERROR" >>"$RESULTS"
		stop_proxy
		return 0
	fi
	tls_params "$name"
	nofile=$(awk '/^Max open files/ {print $4}' "/proc/$PROXY_PID/limits" 2>/dev/null || echo "?")
	mapfile -t tree < <(descendants "$PROXY_PID")
	# The listening socket's backlog, and how many connections wait in it
	# (accepted by the kernel, not yet by the proxy), sampled 4 times a second.
	backlog=$(ss -Hltn "sport = :$PROXY_PORT" 2>/dev/null | awk 'NR == 1 {print $3}')
	(
		while :; do
			ss -Hltn "sport = :$PROXY_PORT" 2>/dev/null | awk 'NR == 1 {print $2}'
			sleep 0.25
		done
	) >"$dir/backlog.samples" 2>/dev/null &
	sampler=$!
	STARTED+=("$sampler")
	taskset -a -p -c 1 "$sampler" >/dev/null 2>&1 || true
	s0=$(cpu_snapshot)
	c0=$(cpu_ticks "${tree[@]}")
	r0=$EPOCHREALTIME
	run_client "$log" || say "  $CLIENT exited with status $?"
	r1=$EPOCHREALTIME
	c1=$(cpu_ticks "${tree[@]}")
	s1=$(cpu_snapshot)
	stop_tree "$sampler"
	forget "$sampler"
	queued=$(sort -n "$dir/backlog.samples" | tail -n 1)
	# One request right after the load, with 1 s to answer.
	read -r code ms <<<"$(probe "$PROXY_PORT" 1)"
	# If it failed, how long until the proxy answers 200 again (at most 15 s
	# after the load).
	if [ "$code" != 200 ]; then
		while :; do
			t=$(awk -v a="$r1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}')
			[ "$t" -lt 15000 ] || break
			if [ "$(probe "$PROXY_PORT" 2 | cut -d' ' -f1)" = 200 ]; then
				rec_ms=$(awk -v a="$r1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}')
				break
			fi
			sleep 0.2
		done
	else
		rec_ms=$ms
	fi
	# Then 2 s without clients: a proxy that spins on a failing accept or a
	# full descriptor table shows it here.
	c2=$(cpu_ticks "${tree[@]}")
	r2=$EPOCHREALTIME
	sleep 2
	c3=$(cpu_ticks "${tree[@]}")
	r3=$EPOCHREALTIME
	cpu_load=$(pct_of_core $((c1 - c0)) "$r0" "$r1")
	cpu_after=$(pct_of_core $((c3 - c2)) "$r2" "$r3")
	up=running
	for t in "${tree[@]}"; do
		alive "$t" || up=exited
	done
	kvs="cpu_load=$cpu_load cpu_after=$cpu_after probe_code=$code probe_ms=$ms recovered_ms=$rec_ms up=$up nofile=$nofile backlog=${backlog:-?} queued=${queued:-?} $(core_busy "$s0" "$s1")"

	# The client's figures as SEED and SEEDSTATUS lines (wrk's script
	# prints them; loadc's JSON line is rewritten so).
	res=$log
	if [ "$CLIENT" = loadc ]; then
		res=$dir/loadc.seed
		loadc_seed "$log" "$r0" "$r1" >"$res"
		ran="; loadc ran $(awk -v a="$r0" -v b="$r1" 'BEGIN {printf "%.1f", b - a}') s"
	fi
	seed=$(grep '^SEED ' "$res" || true)
	if [ -z "$seed" ]; then
		say "  $CLIENT gave no result: $(tail -n 3 "$log" | tr '\n' ' ')"
		printf 'nores\t%s\t%s\t%s\t%s\t\n' "$scen" "$name" "$rep" "$kvs" >>"$RESULTS"
	else
		printf 'run\t%s\t%s\t%s\t%s %s\t%s\n' "$scen" "$name" "$rep" "$kvs" "$(sed 's/^SEED //' <<<"$seed")" \
			"$(awk '$1 == "SEEDSTATUS" {printf "%s%s:%s", (n++ ? "," : ""), $2, $3}' "$res")" >>"$RESULTS"
		say "  $(sed 's/^SEED //' <<<"$seed")"
		say "  statuses: $(awk '$1 == "SEEDSTATUS" {printf "%s×%s ", $3, $2}' "$res")"
	fi
	say "  $kvs"
	{
		printf '%s\t%s\t%s\tlisten backlog %s, at most %s connections waiting in it during the load%s\t' "$scen" "$name" "$rep" "${backlog:-?}" "$(group "${queued:-0}")" "$ran"
		log_summary "$dir" | tr '\n' '\t'
		echo
	} >>"$NOTES"
	stop_proxy
}

run_all() {
	local scen name rep p
	local -a active=()
	for p in "${PROXY_LIST[@]}"; do
		[ -n "${SKIP[$p]:-}" ] || active+=("$p")
	done
	[ "${#active[@]}" -gt 0 ] || die "no proxy to measure"
	[ "$CLIENT" != wrk ] || wrk_script >"$WORK/seed.lua"
	start_upstream
	for scen in "${SCENARIO_LIST[@]}"; do
		for ((rep = 1; rep <= REPS; rep++)); do
			for name in "${active[@]}"; do
				measure "$scen" "$name" "$rep"
				# Let the upstream finish what the proxy left in flight.
				sleep 1
			done
		done
	done
	stop_tree "$UPSTREAM_PID"
	forget "$UPSTREAM_PID"
	say "upstream: $(grep '^DONE' "$WORK/upstream.log" || echo "no summary")"
}

# ---------------------------------------------------------------- report

# verdict SCENARIO RECORD: "PASS" or "FAIL: reasons" for one run record.
# The socket errors are wrk's (connect, read, write, timeout) or loadc's
# (dial_error, eof, reset_or_error, timeout); ra503=-1 (loadc) means the
# Retry-After of the 503s was not checked, which the verdict then says.
verdict() {
	awk -F '\t' -v scen="$1" '
	{
		n = split($5, kv, " ")
		for (i = 1; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
		n200 = 0; n503 = 0; other = 0
		m = split($6, st, ",")
		for (i = 1; i <= m; i++) {
			split(st[i], p, ":")
			if (p[1] == 200) n200 = p[2]; else if (p[1] == 503) n503 = p[2]; else other += p[2]
		}
		errs = v["connect"] + v["read"] + v["write"] + v["timeout"] + v["dial_error"] + v["eof"] + v["reset_or_error"]
		ra = v["ra503"] >= 0
		r = ""
		if (scen == 1) {
			if (errs > 0) r = r ", socket errors"
			if (other > 0) r = r ", other statuses"
			if (ra && n503 > v["ra503"]) r = r ", 503 without Retry-After"
			if (n200 < 12800) r = r ", < 12,800 × 200"
			if (v["p99_200_ms"] < 0) r = r ", no 200 at all"
			else if (v["p99_200_ms"] > 1500) r = r ", p99 > 1.5 s"
		} else if (scen == 2) {
			if (errs > 0) r = r ", socket errors"
			if (other + n503 > 0) r = r ", non-200 answers"
			if (n200 < 45000) r = r ", < 45,000 × 200"
		} else {
			if (v["up"] != "running") r = r ", proxy exited"
			if (v["cpu_after"] > 10) r = r ", busy after the load"
			if (other > 0) r = r ", other statuses"
			if (ra && n503 > v["ra503"]) r = r ", 503 without Retry-After"
			if (v["probe_code"] != 200 || v["probe_ms"] > 1000) r = r ", request after the load not 200 within 1 s"
		}
		note = ""
		if (!ra && n503 > 0 && scen != 2) note = " (Retry-After not checked)"
		if (r == "") print "PASS" note; else print "FAIL: " substr(r, 3) note
	}' <<<"$2"
}

secs() { awk -v m="$1" 'BEGIN {if (m < 0) print "-"; else printf "%.2f s\n", m / 1000}'; }

group() { awk -v n="$1" 'BEGIN {s = sprintf("%d", n); o = ""; while (length(s) > 3) {o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3)} print s o}'; }

# row RECORD SCENARIO: one table row.
row() {
	local line=$1 scen=$2
	local -A v=()
	local kind name rep kvs sts k n200=0 n503=0 other="" res rps p50 p99 unans incl after ra errs all closes
	local -a p
	IFS=$'\t' read -r kind _ name rep kvs sts <<<"$line"
	if [ "$kind" = skip ]; then
		printf '| %s | %s | not measured: %s |\n' "$name" "$rep" "$kvs"
		return
	fi
	for k in $kvs; do v[${k%%=*}]=${k#*=}; done
	if [ "$kind" = nores ]; then
		printf '| %s | %s | '"$CLIENT"' gave no result; proxy CPU %s%%, request after the load %s in %s ms, proxy %s |\n' \
			"$name" "$rep" "${v[cpu_load]}" "${v[probe_code]}" "${v[probe_ms]}" "${v[up]}"
		return
	fi
	IFS=, read -r -a p <<<"$sts"
	for k in "${p[@]}"; do
		case ${k%%:*} in
		200) n200=${k#*:} ;;
		503) n503=${k#*:} ;;
		*) other+="${other:+, }$(group "${k#*:}") × ${k%%:*}" ;;
		esac
	done
	res=$(verdict "$scen" "$line")
	rps=$(awk -v r="${v[requests]}" -v d="${v[duration_us]}" 'BEGIN {printf "%.0f", r * 1e6 / d}')
	p50=$(secs "${v[p50_200_ms]}")
	p99=$(secs "${v[p99_200_ms]}")
	if [ "$CLIENT" = loadc ]; then
		# loadc: its own error classes, the maximum of the 200s in place
		# of the p99 over every answer; Retry-After, the requests left
		# unanswered and the Connection: close answers are not known.
		ra=?
		[ "$n503" != 0 ] || ra=0
		errs="$(group "${v[dial_error]}") / $(group "${v[eof]}") / $(group "${v[reset_or_error]}") / $(group "${v[timeout]}")"
		all=$(secs "${v[max_200_ms]}") unans=- incl=- closes=-
	else
		ra=$(group "${v[ra503]}")
		errs="$(group "${v[connect]}") / $(group "${v[read]}") / $(group "${v[write]}") / $(group "${v[timeout]}")"
		all=$(secs "${v[p99_all_ms]}") closes=$(group "${v[closes]}")
		# Requests unanswered at the end are known only when no
		# connection failed (a failed connection leaves its request
		# unanswered too).
		unans=- incl=-
		if [ "${v[read]}" = 0 ] && [ "${v[write]}" = 0 ]; then
			unans=$(group "${v[unanswered]}")
			if [ "${v[oldest_wait_ms]}" -ge 0 ]; then
				unans+=" ($(group "${v[waiting_over_1s]}") > 1 s)"
				incl=$(secs "${v[p99_incl_ms]}")
			fi
		fi
	fi
	printf '| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% / %s%% |' \
		"$name" "$rep" "$(group "$n200")" "$(group "$n503")" "$ra" "${other:-0}" "$errs" \
		"$(group "$rps")" "$p50" "$p99" "$all" "$unans" "$incl" "$closes" \
		"${v[cpu_load]}" "${v[cpu0]:-?}" "${v[cpu1]:-?}"
	if [ "$scen" = 3 ]; then
		after="${v[probe_code]} in ${v[probe_ms]} ms"
		if [ "${v[probe_code]}" != 200 ]; then
			if [ "${v[recovered_ms]}" -ge 0 ]; then
				after+="; 200 again after $(secs "${v[recovered_ms]}")"
			else
				after+="; no 200 within 15 s"
			fi
		fi
		printf ' %s | %s%% | %s | %s |' "${v[nofile]}" "${v[cpu_after]}" "$after" "${v[up]}"
	fi
	printf ' %s |\n' "$res"
}

scenario_title() {
	local tls=""
	[ "$HTTPS" = 0 ] || tls=", over TLS"
	case $1 in
	1) echo "Scenario 1, seed replay$tls: worker_processes 1; worker_connections 1024 (HAProxy: maxconn 512; Caddy: ulimit -n $CADDY_SEED_NOFILE)" ;;
	2) echo "Scenario 2, automatic budget$tls: no worker_connections (nginx: default 512; headroom: derived from the open-file limit; HAProxy: maxconn derived; Caddy: the open-file limit alone)" ;;
	3) echo "Scenario 3, starved of descriptors$tls: scenario 2 with the proxy under ulimit -n $STARVED_NOFILE" ;;
	esac
}

scenario_acceptance() {
	case $1 in
	1) echo "Acceptance: zero socket errors; no status but 200 and 503 with Retry-After; at least 12,800 × 200; p99 of the 200s ≤ 1.5 s." ;;
	2) echo "Acceptance: at least 45,000 × 200; zero socket errors; no answer other than 200." ;;
	3) echo "Acceptance: proxy still running; under 10% of a core during 2 s without clients after the load; no status but 200 and 503 with Retry-After; a request right after the load answered 200 within 1 s." ;;
	esac
}

tables() {
	local scen line name rep l head
	# The columns that differ between the clients.
	if [ "$CLIENT" = loadc ]; then
		head='socket errors dial / eof / reset or other / timeout | req/s | p50 200s | p99 200s | max 200s'
	else
		head='socket errors connect / read / write / timeout | req/s | p50 200s | p99 200s | p99 all'
	fi
	for scen in "${SCENARIO_LIST[@]}"; do
		grep -q -P "^(run|nores|skip)\t$scen\t" "$RESULTS" || continue
		printf '\n%s\n\n' "$(scenario_title "$scen")"
		if [ "$scen" = 3 ]; then
			printf '| proxy | run | 200 | 503 (with Retry-After) | other non-2xx | %s | unanswered at end | p99 incl. unanswered | answers with Connection: close | proxy CPU | cores 0 / 1 busy | open-file limit | proxy CPU after | request after the load | proxy after | result |\n' "$head"
			printf '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n'
		else
			printf '| proxy | run | 200 | 503 (with Retry-After) | other non-2xx | %s | unanswered at end | p99 incl. unanswered | answers with Connection: close | proxy CPU | cores 0 / 1 busy | result |\n' "$head"
			printf '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
		fi
		while IFS= read -r line; do
			row "$line" "$scen"
		done < <(grep -P "^(run|nores|skip)\t$scen\t" "$RESULTS")
		printf '\n%s\n' "$(scenario_acceptance "$scen")"
		while IFS=$'\t' read -r _ name rep l; do
			[ -n "${l//$'\t'/}" ] || continue
			printf '\n%s run %s: %s\n' "$name" "$rep" "$(sed 's/\t$//; s/\t/; log: /; s/\t/; /g' <<<"$l")"
		done < <(grep -P "^$scen\t" "$NOTES")
	done
}

report() {
	local versions="" k cpu_model p load
	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	for k in headroom nginx haproxy caddy wrk loadc; do
		if [ -n "${VERSION[$k]:-}" ] && [ -z "${SKIP[$k]:-}" ]; then
			versions+="${versions:+, }${VERSION[$k]}"
		fi
	done
	if [ "$CLIENT" = loadc ]; then
		load="loadc -c $CONNS -d ${DURATION}s -timeout ${CLIENT_TIMEOUT}s"
	else
		load="wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout ${CLIENT_TIMEOUT}s"
	fi
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $(uname -r); $cpu_model, $(nproc) CPUs; $versions; open-file limit $HARD_NOFILE; proxy on core 0, upstream and $CLIENT on core 1; $load; upstream delay $DELAY"
	tls_summary "wrk"
	tables
	for p in "${PROXY_LIST[@]}"; do
		if [ -n "${SKIP[$p]:-}" ]; then
			printf '\n%s skipped: %s\n' "$p" "${SKIP[$p]}"
		fi
	done
	echo
	if [ "$CLIENT" = loadc ]; then
		cat <<'EOF'
Columns (client loadc): 200, 503 and "other non-2xx" are loadc's
status_200, status_503 and other status_NNN counts. loadc reads no
header: "?" for the 503s with Retry-After, not checked (a verdict with
503s says so; "0" when there was no 503). The socket errors are loadc's
classes: dial_error (each failed connect; loadc tries again after 50 ms),
eof (the connection ended before or within an answer), reset_or_error (a
reset or any other read or write error, with any class loadc may add) and
timeout (no answer within 10 s), all counted as socket errors. p50, p99 and max 200s are loadc's,
over the 200s alone, each timed from writing the request to reading the
answer. loadc lets the requests in flight at the end of the 5 s finish
(answer or timeout), so none is left unanswered ("-") and the counts
include answers that came after the 5 s; req/s is the answers over
loadc's whole run, given under the table ("loadc ran"). It does not report
Connection: close answers ("-"); it reconnects after them. After a 503 it
waits 20 ms before the next request on that connection. Proxy CPU is in %
of one core during loadc's run; "cores 0 / 1 busy" is the whole machine's
use of the proxy's core and of the core shared by loadc and the upstream.
EOF
		return
	fi
	cat <<'EOF'
Columns: "503 (with Retry-After)" counts the 503s and, in brackets, those
that carried Retry-After. Socket errors are wrk's. p50 and p99 200s are the
latencies of the 200s alone (each timed by the X-Seed-T header the upstream
echoes); p99 all is wrk's, over every answer. "Unanswered at end" counts the
requests sent but neither answered nor failed when the run stopped (about
one per client is normal: the request in progress), in brackets those sent
more than 1 s before; "-" when failed connections make the count unknown.
"p99 incl. unanswered" counts each of those at its age at the end of the
run, which shows clients that were never served. "Answers with Connection:
close" are those after which the proxy closed the client's connection (wrk
then reconnects). Proxy CPU is in % of one core during the load; "cores 0 /
1 busy" is the whole machine's use of the proxy's core and of the core
shared by wrk and the upstream.
EOF
}

main() {
	parse_args "$@"
	trap cleanup EXIT
	trap 'say "interrupted"; exit 130' INT TERM HUP
	check_machine
	WORK=$(mktemp -d /tmp/headroom-seed.XXXXXX)
	RESULTS=$WORK/results.tsv
	NOTES=$WORK/notes.tsv
	: >"$RESULTS"
	: >"$NOTES"
	build
	make_cert
	run_all
	report
}

main "$@"
