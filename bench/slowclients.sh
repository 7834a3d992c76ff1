#!/usr/bin/env bash
# Slow clients: do ordinary clients still get served while 1000 slow clients
# attack the proxy? An acceptance benchmark for headroom, compared with nginx
# and HAProxy doing the same job.
#
# Every proxy runs one worker (HAProxy: nbthread 1) pinned to core 0 and
# proxies "location /" to slowup (from /work/shared/tools, built into the
# temporary directory at run time), an upstream on core 1 that reads each
# request body whole and answers after 10 ms; /big answers 1 MB. nginx and
# headroom read the same configuration: worker_processes 1;
# worker_connections 1024; no keep-alive to the upstream (nginx's defaults);
# nginx alone also gets writable temp paths (they include fastcgi, uwsgi
# and scgi paths, which headroom does not take; headroom makes
# client_body_temp and proxy_temp under its prefix).
# HAProxy gets "maxconn 1024": the closest equivalent, 1024 client
# connections at once (it does not count the upstream connections against
# it, nginx's worker_connections does), and "timeout client 60s" for nginx's
# 60 s client_header_timeout, client_body_timeout and send_timeout
# ("timeout http-request" is not set, so it falls back to "timeout client");
# everything else is HAProxy's default, so it streams request bodies to the
# upstream and answers back to the client without buffering them whole.
#
# Ordinary clients: wrk -t1 -c50 -d10s --timeout 5s on core 1, keep-alive
# GETs (of /rT, T the send time, which the upstream echoes), with a Lua
# script that counts the answers by status and the requests left without
# an answer for over 5 s (wrk counts a timeout only when the answer comes
# late, never for a client left waiting to the end). They run
# first alone (the baseline), then during each attack, which slowhttptest
# (also on core 1) makes with 1000 connections opened at 250 a second:
#
#   headers  slowhttptest -H -c 1000 -r 250 -i 5 -l 28 -p 3 -u http://127.0.0.1:PORT/
#            (slowloris: a header line every 5 s, the request never ends)
#   bodies   slowhttptest -B -c 1000 -r 250 -i 5 -s 65536 -l 28 -p 3 -u http://127.0.0.1:PORT/
#            (POSTs announcing 64 KiB, a few bytes of body every 5 s)
#   readers  slowhttptest -X -c 1000 -r 250 -w 1 -y 2 -n 5 -z 32 -k 1 -l 28 -p 3 -u http://127.0.0.1:PORT/big
#            (GET /big, then read 32 bytes every 5 s through a tiny window)
#
# The attack starts, wrk starts 5 s later (when the 1000 connections are
# open), and the attack is stopped when wrk ends. Every run starts a fresh
# proxy. For each run the script records the ordinary clients' 200s, their
# other statuses, wrk's socket errors (connect / read / write / timeout),
# the upstream's peak open connections and requests in progress during the
# run (slowup's /__stats, reset before the run; the upstream's leftover
# connections from the last run are waited for first), and how many attack
# connections were open and closed during the load (slowhttptest's CSV).
#
# PASS, per attack and proxy: 200s >= 90% of the same proxy's baseline, no
# socket error (timeouts included), no request left waiting over 5 s and no
# 5xx among the ordinary clients, the upstream's peak open connections
# <= 100, and the proxy still running.
#
# With --https the same runs go over TLS between the clients and the
# proxy; the upstream stays plaintext, and the acceptance line does not
# change (the baseline is the same proxy's over TLS). At each run the
# script makes a self-signed ECDSA P-256 certificate (CN localhost,
# "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256", as
# bench/tls.sh) in the temporary directory. nginx and headroom read the
# same configuration as in plaintext with "listen 127.0.0.1:PORT ssl;",
# ssl_certificate, ssl_certificate_key and "ssl_protocols TLSv1.2
# TLSv1.3;" added (the rest of TLS at each one's default); HAProxy binds
# with "ssl crt FILE" (certificate and key in one PEM file) and its
# defaults (TLS 1.2 and up). wrk (OpenSSL 3, no certificate check) makes a
# full TLS 1.3 handshake on each of its 50 connections, then keep-alive
# requests over TLS. slowhttptest gets https:// URLs: each of its 1000
# connections makes a non-blocking TLS handshake (OpenSSL 3, its own
# SSL_CTX per connection, no SNI, no certificate check) and only then
# sends its slow request; its CSV counts a connection as connected once
# the first bytes of the request went out, so after a completed handshake.
# Over TLS the slow-read attack reads 32 bytes of plaintext every 5 s, but
# OpenSSL takes a whole TLS record (up to 16 KB) off the socket when the
# bytes it holds run out. curl -k makes the start-up probe. Before the
# baseline of each proxy one "openssl s_client -brief" (core 1) asks what
# an OpenSSL client negotiates: protocol, suite and key exchange group,
# printed with the report.
#
# Run "bench/slowclients.sh --help" for the options. Everything listens on
# 127.0.0.1 only; every load is bounded in time; every process started here
# is stopped on exit, Ctrl-C included. Files are written only under
# bench/.bin (the headroom binary) and a temporary directory in /tmp that is
# removed at exit (unless --keep).
#
# All the code is in functions and runs from the last line, so that editing
# this file while it runs does not change what the running copy does.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=$BENCH_DIR/.bin

REPS=${SLOW_REPS:-1}
PROXIES=${SLOW_PROXIES:-headroom,nginx,haproxy}
ATTACKS=${SLOW_ATTACKS:-headers,bodies,readers}
PORT=${SLOW_PORT:-18380}
HEADROOM_BIN=${SLOW_HEADROOM_BIN:-}
TOOLS_DIR=${SLOW_TOOLS_DIR:-/work/shared/tools}
HTTPS=${SLOW_HTTPS:-0}
KEEP=0

# The measurement itself; the acceptance line below is written for these.
DURATION=10       # wrk's run, seconds
CLIENTS=50        # ordinary keep-alive clients
WRK_TIMEOUT=5     # seconds
DELAY=10ms        # the upstream's answer delay
BIG=1048576       # bytes of /big
ATTACK_CONNS=1000 # slowhttptest -c
ATTACK_RATE=250   # slowhttptest -r: connections opened per second
ATTACK_WARMUP=5   # seconds between the attack's start and wrk's
ATTACK_LENGTH=28  # slowhttptest -l: it stops by itself after this
MIN_RATIO=90      # percent of the baseline's 200s
MAX_UPSTREAM=100  # the upstream's peak open connections

usage() {
	cat <<'EOF'
Usage: bench/slowclients.sh [options]

Runs 50 ordinary keep-alive clients (wrk, 10 s) against headroom, nginx and
HAProxy, first alone, then while 1000 slow clients (slowhttptest) attack:
slow headers, slow bodies, slow readers of a 1 MB answer. Prints one table
with PASS/FAIL per proxy and attack. Each proxy runs one worker (HAProxy one
thread, maxconn 1024) on core 0; wrk, slowhttptest and the upstream on
core 1.

Options (each also settable by the environment variable shown):
  -p, --proxies LIST    comma list of headroom,nginx,haproxy
                                                    (SLOW_PROXIES, all three)
  -a, --attacks LIST    comma list of headers,bodies,readers (the baseline
                        is always measured)         (SLOW_ATTACKS, all three)
  -r, --reps N          runs of each; the table shows medians
                                                    (SLOW_REPS, 1)
      --port N          upstream port; the proxy uses N+1
                                                    (SLOW_PORT, 18380)
      --headroom-bin F  measure this headroom binary instead of building
                        ./cmd/headroom              (SLOW_HEADROOM_BIN)
      --tools DIR       where slowup's source is    (SLOW_TOOLS_DIR,
                                                     /work/shared/tools)
      --https           the same over TLS: the proxy listens with TLS (a
                        self-signed ECDSA P-256 certificate made at each
                        run; nginx and headroom: ssl_protocols TLSv1.2
                        TLSv1.3; HAProxy: bind ... ssl crt, its defaults);
                        wrk and slowhttptest connect with https:// (OpenSSL,
                        TLS 1.3); the upstream stays plaintext
                                                    (SLOW_HTTPS=1)
      --keep            keep the temporary directory (configs, logs, raw data)
  -h, --help            this text

Acceptance, per proxy and attack: 200s >= 90% of the same proxy's baseline;
no socket error (connect, read, write, timeout), no request left waiting
over 5 s and no 5xx among the ordinary clients; the upstream's peak open
connections <= 100; the proxy still running after the run. With -r N > 1
every run must pass.

One run of everything (-r 1) takes about 3.5 minutes. Needs wrk (with
LuaJIT, as Debian's), slowhttptest, taskset, stdbuf, curl and Go (and
openssl with --https); nginx and HAProxy are measured when installed and
skipped with a message otherwise (Debian: apt-get install wrk slowhttptest
nginx haproxy curl openssl).
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "slowclients.sh: $*"
	exit 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-p | --proxies) PROXIES=${2:?}; shift 2 ;;
		-a | --attacks) ATTACKS=${2:?}; shift 2 ;;
		-r | --reps) REPS=${2:?}; shift 2 ;;
		--port) PORT=${2:?}; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=${2:?}; shift 2 ;;
		--tools) TOOLS_DIR=${2:?}; shift 2 ;;
		--https) HTTPS=1; shift ;;
		--keep) KEEP=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done
	local p a
	is_uint "$REPS" && [ "$REPS" -ge 1 ] || die "--reps must be a whole number, at least 1"
	is_uint "$PORT" && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65000 ] || die "--port must be in 1024..65000"
	case $HTTPS in 0 | 1) ;; *) die "SLOW_HTTPS must be 0 or 1" ;; esac
	IFS=, read -r -a PROXY_LIST <<<"$PROXIES"
	IFS=, read -r -a ATTACK_LIST <<<"$ATTACKS"
	[ "${#PROXY_LIST[@]}" -gt 0 ] || die "no proxy given"
	for p in "${PROXY_LIST[@]}"; do
		case $p in headroom | nginx | haproxy) ;; *) die "unknown proxy: $p (headroom, nginx or haproxy)" ;; esac
	done
	for a in "${ATTACK_LIST[@]}"; do
		case $a in headers | bodies | readers) ;; *) die "unknown attack: $a (headers, bodies or readers)" ;; esac
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
	for c in taskset wrk slowhttptest stdbuf go curl timeout; do
		command -v "$c" >/dev/null || die "$c not found (Debian: apt-get install wrk slowhttptest curl util-linux coreutils golang)"
	done
	if [ "$HTTPS" = 1 ]; then
		command -v openssl >/dev/null || die "openssl not found, needed by --https (Debian: apt-get install openssl)"
	fi
	[ -d "$TOOLS_DIR/slowup" ] || die "$TOOLS_DIR/slowup not found (give its parent with --tools DIR)"
	# slowhttptest, the proxies and the upstream each hold over a thousand
	# descriptors: every process started here gets the soft limit raised
	# to the hard one.
	NOFILE=$(ulimit -Hn)
	[ "$NOFILE" = unlimited ] && NOFILE=65536
	if [ "$NOFILE" -lt $((ATTACK_CONNS + CLIENTS + 200)) ]; then
		die "the open-file hard limit is $NOFILE; slowhttptest needs $((ATTACK_CONNS + CLIENTS + 200))"
	fi
	for c in "$UPSTREAM_PORT" "$PROXY_PORT"; do
		if port_busy "$c"; then
			die "127.0.0.1:$c is already in use (choose another base port with --port)"
		fi
	done
}

build() {
	local p rev dirty=""
	mkdir -p "$BIN_DIR" "$WORK/tools"
	say "building slowup ($TOOLS_DIR) into the temporary directory"
	(cd "$TOOLS_DIR" && go build -o "$WORK/tools/" ./...) >"$WORK/tools-build.log" 2>&1 ||
		die "could not build $TOOLS_DIR: $(head -n 3 "$WORK/tools-build.log" | tr '\n' ' ')"
	SLOWUP=$WORK/tools/slowup
	[ -x "$SLOWUP" ] || die "building $TOOLS_DIR gave no slowup"
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
			HEADROOM_BIN=$BIN_DIR/headroom
			say "building headroom (go build -o bench/.bin/headroom ./cmd/headroom)"
			rm -f "$HEADROOM_BIN"
			if (cd "$REPO_DIR" && go build -o "$HEADROOM_BIN" ./cmd/headroom) >"$WORK/headroom-build.log" 2>&1; then
				rev=$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null) || rev=unknown
				if [ -n "$(cd "$REPO_DIR" && git status --porcelain -- cmd internal 2>/dev/null)" ]; then
					dirty=" with local changes"
				fi
				VERSION[headroom]="headroom $rev$dirty"
			else
				SKIP[headroom]="./cmd/headroom does not build: $({ grep -v '^#' "$WORK/headroom-build.log" || true; } | head -n 1)"
			fi
			;;
		nginx | haproxy) find_installed "$p" ;;
		esac
	done
	VERSION[wrk]=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {v = $2; sub(/^debian\//, "", v); sub(/-.*/, "", v); print "wrk " v}')
	VERSION[slowhttptest]=$({ slowhttptest -h 2>&1 || true; } | awk '/version/ {print "slowhttptest " $NF; exit}')
	for p in "${PROXY_LIST[@]}"; do
		if [ -n "${SKIP[$p]:-}" ]; then
			say "$p: skipped: ${SKIP[$p]}"
		fi
	done
}

# ---------------------------------------------------------------- configs

# make_cert and tls_params are in tlsproc.sh.

# nginx_conf DIR FOR: the proxy configuration in nginx's language, read by
# nginx and headroom alike. Only nginx gets the temp-path lines: they name
# fastcgi, uwsgi and scgi paths too, which headroom does not take, and
# headroom makes its client_body_temp and proxy_temp under its prefix.
# Both keep request bodies over client_body_buffer_size and the answers
# their clients read too slowly in files there.
nginx_conf() {
	local dir=$1 for=$2
	cat <<EOF
worker_processes 1;
daemon off;
pid $dir/logs/proxy.pid;
error_log $dir/logs/error.log notice;

events {
    worker_connections 1024;
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

# haproxy_conf: HAProxy doing the same job with one thread (see the top of
# this file for maxconn and the timeouts).
haproxy_conf() {
	cat <<EOF
global
    nbthread 1
    maxconn 1024

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

# The wrk script: answers counted by status, and the requests left
# unanswered. Each request asks for /rT, T its send time in microseconds;
# the upstream answers "ok /rT", which pairs the answer with its request.
# When the run ends, the requests sent more than the timeout (5 s) before
# and not answered are clients left waiting: timeouts, which wrk itself
# counts only for answers that came late. An answer without T (one the
# proxy made itself) is paired with the oldest request waiting. The count
# is known only when no connection failed (a failed connection leaves its
# request unanswered too): -1 otherwise. One "SLOW" line and one
# "SLOWSTATUS" line per status come out of done().
wrk_script() {
	sed "s/@TIMEOUT_US@/$((WRK_TIMEOUT * 1000000))/" <<'EOF'
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } slow_timespec_t;
int clock_gettime(int clk_id, slow_timespec_t *tp);
]]
local ts = ffi.new("slow_timespec_t")
local function now_us()
	ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
	return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	statuses = {}
	sent = 0
	pending = {} -- send time of each request not answered yet -> count
	npending = 0
	unmatched = 0
end

-- wrk calls request() once in the first thread before the run, to check
-- the script; done() takes that call's entry out again.
function request()
	local t = now_us()
	if not first then first = t end
	sent = sent + 1
	pending[t] = (pending[t] or 0) + 1
	npending = npending + 1
	return wrk.format(nil, string.format("/r%.0f", t))
end

local function take(t)
	npending = npending - 1
	if pending[t] == 1 then pending[t] = nil else pending[t] = pending[t] - 1 end
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
	local t = tonumber(string.match(body or "", "^ok /r(%d+)") or "")
	if t and pending[t] then
		take(t)
	else
		unmatched = unmatched + 1
		-- Thousands waiting means failed connections: the count will not
		-- be known anyway, and the search would cost too much.
		local oldest
		if npending > 10000 then return end
		for k in pairs(pending) do
			if k ~= first and (not oldest or k < oldest) then oldest = k end
		end
		if oldest then take(oldest) end
	end
end

function done(summary, latency, requests)
	local now = now_us()
	local st = {}
	local snt, waiting, late, um = 0, 0, 0, 0
	for i, t in ipairs(threads) do
		for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
		local pend = t:get("pending")
		local f = t:get("first")
		if i == 1 and f and pend[f] then
			pend[f] = pend[f] - 1
			snt = snt - 1
		end
		for k, v in pairs(pend) do
			if v > 0 then
				waiting = waiting + v
				if now - k > @TIMEOUT_US@ then late = late + v end
			end
		end
		snt = snt + t:get("sent")
		um = um + t:get("unmatched")
	end
	local e = summary.errors
	if e.read + e.write > 0 then waiting, late = -1, -1 end
	local p99 = -1
	if summary.requests > 0 then p99 = latency:percentile(99) / 1000 end
	io.write(string.format("SLOW duration_us=%d requests=%d sent=%d connect=%d read=%d write=%d timeout=%d " ..
		"unanswered=%d unanswered_late=%d unmatched=%d p99_ms=%.1f\n",
		summary.duration, summary.requests, snt, e.connect, e.read, e.write, e.timeout,
		waiting, late, um, p99))
	local codes = {}
	for k in pairs(st) do codes[#codes + 1] = k end
	table.sort(codes)
	for _, k in ipairs(codes) do
		io.write(string.format("SLOWSTATUS %d %d\n", k, st[k]))
	end
end
EOF
}

# ---------------------------------------------------------------- measuring

# probe PORT MAXSEC [PATH]: one GET; prints its status (000 when nothing
# came back in time).
probe() {
	local out
	local scheme=http
	[ "$1" != "$PROXY_PORT" ] || scheme=$SCHEME
	out=$(curl -s -k -o /dev/null -m "$2" -w '%{http_code}' "$scheme://127.0.0.1:$1${3:-/}" 2>/dev/null) || true
	echo "${out:-000}"
}

start_upstream() {
	local i
	say "starting slowup on 127.0.0.1:$UPSTREAM_PORT (core 1, answers after $DELAY, /big $BIG bytes)"
	(
		ulimit -n "$NOFILE"
		exec taskset -c 1 "$SLOWUP" -addr "127.0.0.1:$UPSTREAM_PORT" -delay "$DELAY" -big "$BIG"
	) >"$WORK/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	STARTED+=("$UPSTREAM_PID")
	for ((i = 0; i < 50; i++)); do
		[ "$(probe "$UPSTREAM_PORT" 2)" = 200 ] && return 0
		sleep 0.1
	done
	die "the upstream does not answer: $(cat "$WORK/upstream.log")"
}

# upstream_stats: slowup's /__stats as "CONNS INFLIGHT" (peak open
# connections, peak requests in progress); "? ?" when it does not answer.
# The connection of this request counts in the first.
upstream_stats() {
	local out
	out=$(curl -s -m 2 "http://127.0.0.1:$UPSTREAM_PORT/__stats" 2>/dev/null) || true
	awk '{
		c = "?"; p = "?"
		if (match($0, /"peak_conns":[0-9]+/)) c = substr($0, RSTART + 13, RLENGTH - 13)
		if (match($0, /"peak":[0-9]+/)) p = substr($0, RSTART + 7, RLENGTH - 7)
		print c, p
	} END {if (NR == 0) print "? ?"}' <<<"$out"
}

# upstream_quiet: with no proxy running, wait up to 10 s for the
# upstream's connections left by the last run to close. /__reset sets the
# peak of open connections to those open now, which /__stats on the same
# connection reads: 1 is this request alone.
upstream_quiet() {
	local i out c=?
	for ((i = 0; i < 50; i++)); do
		out=$(curl -s -m 2 "http://127.0.0.1:$UPSTREAM_PORT/__reset" "http://127.0.0.1:$UPSTREAM_PORT/__stats" 2>/dev/null) || true
		c=$(sed -n 's/.*"peak_conns":\([0-9]*\).*/\1/p' <<<"$out")
		[ "$c" = 1 ] && return 0
		sleep 0.2
	done
	say "  the upstream still has $((${c:-1} - 1)) connections open from the last run"
}

# upstream_reset: clear slowup's peaks (the peak of open connections
# becomes those open now).
upstream_reset() {
	curl -s -o /dev/null -m 2 "http://127.0.0.1:$UPSTREAM_PORT/__reset" 2>/dev/null || say "  the upstream did not answer /__reset"
}

PROXY_PID=""

# start_proxy NAME DIR: start the proxy pinned to core 0 and wait until it
# proxies a request. Returns 1, with the reason in START_ERROR, when it
# does not.
start_proxy() {
	local name=$1 dir=$2 i rc msg
	mkdir -p "$dir/logs"
	case $name in
	nginx)
		nginx_conf "$dir" nginx >"$dir/nginx.conf"
		# Started as root, nginx runs its worker as nobody, which must reach
		# the temp paths under DIR to keep bodies and answers there
		# (mktemp -d makes the directory 0700).
		if [ "$(id -u)" = 0 ]; then
			chmod 711 "$WORK" "$dir"
		fi
		(
			ulimit -n "$NOFILE"
			exec taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
		) >"$dir/stdout.log" 2>&1 &
		;;
	headroom)
		nginx_conf "$dir" headroom >"$dir/nginx.conf"
		(
			ulimit -n "$NOFILE"
			exec taskset -c 0 "$HEADROOM_BIN" -p "$dir/" -c "$dir/nginx.conf"
		) >"$dir/stdout.log" 2>&1 &
		;;
	haproxy)
		haproxy_conf >"$dir/haproxy.cfg"
		(
			ulimit -n "$NOFILE"
			exec taskset -c 0 haproxy -db -f "$dir/haproxy.cfg"
		) >"$dir/stdout.log" 2>&1 &
		;;
	esac
	PROXY_PID=$!
	STARTED+=("$PROXY_PID")
	for ((i = 0; i < 100; i++)); do
		[ "$(probe "$PROXY_PORT" 2)" = 200 ] && return 0
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

# attack_args ATTACK: slowhttptest's arguments for one attack.
attack_args() {
	local base=(-c "$ATTACK_CONNS" -r "$ATTACK_RATE" -l "$ATTACK_LENGTH" -p 3)
	case $1 in
	headers) echo -H "${base[@]}" -i 5 -u "$SCHEME://127.0.0.1:$PROXY_PORT/" ;;
	bodies) echo -B "${base[@]}" -i 5 -s 65536 -u "$SCHEME://127.0.0.1:$PROXY_PORT/" ;;
	readers) echo -X "${base[@]}" -w 1 -y 2 -n 5 -z 32 -k 1 -u "$SCHEME://127.0.0.1:$PROXY_PORT/big" ;;
	esac
}

ATTACK_PID=""

# start_attack ATTACK DIR: slowhttptest in the background on core 1, its
# per-second statistics to DIR/attack.csv (written when it stops), its
# screen to DIR/attack.out. slowhttptest polls its sockets in a busy loop
# and takes a whole core for it; at nice 19 it yields that core to wrk and
# the upstream, whose speed is not what the run measures, while its
# connections are just as slow.
start_attack() {
	local attack=$1 dir=$2
	local -a args
	read -r -a args <<<"$(attack_args "$attack")"
	(
		ulimit -n "$NOFILE"
		exec timeout -k 5 $((ATTACK_LENGTH + 30)) taskset -c 1 nice -n 19 \
			stdbuf -oL slowhttptest "${args[@]}" -g -o "$dir/attack"
	) >"$dir/attack.out" 2>&1 &
	ATTACK_PID=$!
	STARTED+=("$ATTACK_PID")
}

# stop_attack: SIGINT to slowhttptest, which then writes its CSV and its
# exit status (on SIGTERM it writes the CSV alone), up to 3 s to do so,
# then whatever is left is stopped.
stop_attack() {
	local p i
	[ -n "$ATTACK_PID" ] || return 0
	for p in $(descendants "$ATTACK_PID"); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slowhttptest ]; then
			kill -INT "$p" 2>/dev/null || true
		fi
	done
	for ((i = 0; i < 30; i++)); do
		alive "$ATTACK_PID" || break
		sleep 0.1
	done
	stop_tree "$ATTACK_PID"
	forget "$ATTACK_PID"
	ATTACK_PID=""
}

# attack_figures DIR: from slowhttptest's CSV (Seconds, Closed, Pending,
# Connected, Service Available), over the seconds wrk ran: "MIN MAX CLOSED
# DOWN", the fewest and most attack connections open, those closed by the
# end and the seconds its own probe found the service unavailable; then its
# exit status, as it printed it.
attack_figures() {
	local dir=$1 exit_status
	if [ -s "$dir/attack.csv" ]; then
		awk -F, -v lo="$ATTACK_WARMUP" -v hi=$((ATTACK_WARMUP + DURATION - 1)) '
			NR > 1 && $1 >= lo && $1 <= hi {
				if (n++ == 0 || $4 < mn) mn = $4
				if ($4 > mx) mx = $4
				cl = $2; last = $1
				if ($5 == 0) down++
			}
			END {
				if (n == 0) { print "0 0 ? ?"; exit }
				if (last < hi - 1) mn = 0 # it ended by itself before wrk did
				printf "%d %d %d %d\n", mn, mx, cl, down
			}' "$dir/attack.csv"
	else
		echo "? ? ? ?"
	fi
	exit_status=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$dir/attack.out" 2>/dev/null |
		awk '/^Exit status:/ {sub(/^Exit status: */, ""); s = $0} END {print s}')
	echo "${exit_status:-none printed}"
}

# log_summary DIR: the proxy's log lines at warn level and above, grouped by
# their text with the numbers ignored; the 3 most frequent kinds, each with
# its count and its first line.
log_summary() {
	local dir=$1
	{ cat "$dir/logs/error.log" "$dir/stdout.log" 2>/dev/null || true; } |
		{ grep -E '\[(warn|error|crit|alert|emerg)\]|^\[(WARNING|ALERT)\]|[Tt]oo many open files' || true; } |
		sed -E 's/^[0-9]{4}\/[0-9]{2}\/[0-9]{2} [0-9:]{8} //; s/^(\[[a-z]+\]) [0-9]+#[0-9]+: (\*[0-9]+ )?/\1 /;
			s/^\[(WARNING|ALERT)\] +\([0-9]+\) : /[\1] /; s/,? client: 127\.0\.0\.1, .*$//' |
		awk '{
			k = $0; gsub(/[0-9]+/, "#", k)
			if (!(k in n)) { first[k] = $0; order[++m] = k }
			n[k]++
		} END {
			for (i = 1; i <= m; i++) printf "%d\t%d\t%s\n", n[order[i]], i, first[order[i]]
		}' | sort -t "$(printf '\t')" -k1,1nr -k2,2n | head -n 3 |
		awk -F '\t' '{printf "%d × %s\n", $1, $3}'
}

# measure NAME ATTACK REP: one run (ATTACK "baseline": no attack); appends
# a record to RESULTS and the proxy's log summary to NOTES.
#
# RESULTS columns (tab-separated): run NAME ATTACK REP 200s OTHER_STATUSES
# (code:count,... or -) 5XX CONNECT READ WRITE TIMEOUT REQUESTS P99_MS
# UPSTREAM_PEAK_CONNS UPSTREAM_PEAK_IN_PROGRESS ATTACK_MIN ATTACK_MAX
# ATTACK_CLOSED PROBE_DOWN_S PROXY_STATE ATTACK_EXIT SENT UNANSWERED
# UNANSWERED_LATE UNMATCHED (-1: unknown); or skip/nores NAME ATTACK REP
# REASON.
measure() {
	local name=$1 attack=$2 rep=$3 dir log res n200 other n5xx up_c up_p state t a_min a_max a_closed a_down a_exit
	local -a tree figs
	dir=$WORK/$name-$attack-$rep
	log=$dir/wrk.out
	say "[$name, $attack, run $rep]"
	upstream_quiet
	if ! start_proxy "$name" "$dir"; then
		say "  not measured: $START_ERROR"
		printf 'skip\t%s\t%s\t%s\t%s\n' "$name" "$attack" "$rep" "$START_ERROR" >>"$RESULTS"
		stop_proxy
		return 0
	fi
	tls_params "$name"
	mapfile -t tree < <(descendants "$PROXY_PID")
	upstream_reset
	if [ "$attack" != baseline ]; then
		start_attack "$attack" "$dir"
		sleep "$ATTACK_WARMUP"
		alive "$ATTACK_PID" || say "  slowhttptest stopped before the load: $(tail -n 2 "$dir/attack.out" | tr '\n' ' ')"
	fi
	run_bg "$log" bash -c 'ulimit -n "$1" && shift && exec "$@"' _ "$NOFILE" \
		timeout -k 5 $((DURATION + 30)) taskset -c 1 \
		wrk -t1 -c"$CLIENTS" -d"$DURATION"s --timeout "$WRK_TIMEOUT"s -s "$WORK/slow.lua" \
		"$SCHEME://127.0.0.1:$PROXY_PORT/" || say "  wrk exited with status $?"
	read -r up_c up_p <<<"$(upstream_stats)"
	a_min=- a_max=- a_closed=- a_down=- a_exit=-
	if [ "$attack" != baseline ]; then
		stop_attack
		mapfile -t figs < <(attack_figures "$dir")
		read -r a_min a_max a_closed a_down <<<"${figs[0]}"
		a_exit=${figs[1]}
	fi
	state=running
	for t in "${tree[@]}"; do
		alive "$t" || state=exited
	done
	res=$(grep '^SLOW ' "$log" || true)
	if [ -z "$res" ]; then
		say "  wrk gave no result: $(tail -n 3 "$log" | tr '\n' ' ')"
		printf 'nores\t%s\t%s\t%s\t%s\n' "$name" "$attack" "$rep" "wrk gave no result; proxy $state" >>"$RESULTS"
	else
		local -A v=()
		for t in ${res#SLOW }; do v[${t%%=*}]=${t#*=}; done
		n200=$(awk '$1 == "SLOWSTATUS" && $2 == 200 {print $3}' "$log")
		other=$(awk '$1 == "SLOWSTATUS" && $2 != 200 {printf "%s%s:%s", (n++ ? "," : ""), $2, $3}' "$log")
		n5xx=$(awk '$1 == "SLOWSTATUS" && $2 >= 500 {s += $3} END {print s + 0}' "$log")
		printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
			"$name" "$attack" "$rep" "${n200:-0}" "${other:--}" "$n5xx" \
			"${v[connect]}" "${v[read]}" "${v[write]}" "${v[timeout]}" "${v[requests]}" "${v[p99_ms]}" \
			"$up_c" "$up_p" "$a_min" "$a_max" "$a_closed" "$a_down" "$state" "$a_exit" \
			"${v[sent]}" "${v[unanswered]}" "${v[unanswered_late]}" "${v[unmatched]}" >>"$RESULTS"
		say "  200: ${n200:-0}; other: ${other:-none}; socket errors connect/read/write/timeout: ${v[connect]}/${v[read]}/${v[write]}/${v[timeout]}; unanswered at the end: ${v[unanswered]} (${v[unanswered_late]} for over ${WRK_TIMEOUT} s; -1: unknown); p99 ${v[p99_ms]} ms"
	fi
	say "  upstream peak: $up_c connections, $up_p requests in progress; proxy $state"
	if [ "$attack" != baseline ]; then
		say "  attack: $a_min-$a_max connections open during the load, $a_closed closed, probe down $a_down s; slowhttptest: $a_exit"
	fi
	{
		printf '%s\t%s\t%s\t' "$name" "$attack" "$rep"
		log_summary "$dir" | tr '\n' '\t'
		echo
	} >>"$NOTES"
	stop_proxy
}

run_all() {
	local name attack rep p
	local -a active=()
	for p in "${PROXY_LIST[@]}"; do
		[ -n "${SKIP[$p]:-}" ] || active+=("$p")
	done
	[ "${#active[@]}" -gt 0 ] || die "no proxy to measure"
	wrk_script >"$WORK/slow.lua"
	start_upstream
	for ((rep = 1; rep <= REPS; rep++)); do
		for name in "${active[@]}"; do
			for attack in baseline "${ATTACK_LIST[@]}"; do
				measure "$name" "$attack" "$rep"
				sleep 1
			done
		done
	done
	stop_tree "$UPSTREAM_PID"
	forget "$UPSTREAM_PID"
}

# ---------------------------------------------------------------- report

# median: the median of the numbers on stdin (empty if none).
median() {
	sort -g | awk '{a[NR] = $1} END {
		if (NR == 0) exit
		if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2
	}'
}

# field NAME ATTACK COLUMN: the values of one column of the run records,
# one per repetition.
field() {
	awk -F '\t' -v n="$1" -v a="$2" -v f="$3" '$1 == "run" && $2 == n && $3 == a {print $f}' "$RESULTS"
}

group() { awk -v n="$1" 'BEGIN {if (n == "" || n == "?" || n == "-") {print (n == "" ? "-" : n); exit} s = sprintf("%d", n); o = ""; while (length(s) > 3) {o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3)} print s o}'; }

# verdict BASE200 RECORD: "PASS" or the reasons it fails, for one run
# record; BASE200 is the median 200s of the proxy's baseline (empty: the
# run is a baseline, or there is none).
verdict() {
	awk -F '\t' -v base="$1" -v min="$MIN_RATIO" -v maxup="$MAX_UPSTREAM" '
	{
		r = ""
		if ($3 != "baseline") {
			if (base == "" || base == 0) r = r ", no baseline to compare with"
			else if ($5 * 100 < base * min) r = r ", 200s < " min "% of the baseline"
		}
		if ($8 + $9 + $10 + $11 > 0) r = r ", socket errors"
		if ($24 > 0) r = r ", clients left waiting"
		if ($7 > 0) r = r ", 5xx"
		if ($14 == "?") r = r ", no upstream figures"
		else if ($14 > maxup) r = r ", upstream peak > " maxup " connections"
		if ($20 != "running") r = r ", proxy exited"
		if (r == "") print "PASS"; else print substr(r, 3)
	}' <<<"$2"
}

# row NAME ATTACK BASE200: one table row, medians of the runs.
row() {
	local name=$1 attack=$2 base=$3 n200 ratio others="" code m con rd wr to late p99 upc upp amin amax acl adown
	local line verdicts fails=0 nruns=0 reasons="" res
	if ! grep -q -P "^run\t$name\t$attack\t" "$RESULTS"; then
		line=$(grep -P "^(skip|nores)\t$name\t$attack\t" "$RESULTS" | head -n 1 | cut -f 5)
		printf '| %s | %s | not measured: %s |\n' "$name" "$attack" "${line:-no record}"
		return
	fi
	n200=$(field "$name" "$attack" 5 | median)
	if [ "$attack" = baseline ]; then
		ratio="100%"
	else
		ratio=$(awk -v a="$n200" -v b="$base" 'BEGIN {if (b == "" || b == 0) print "-"; else printf "%.0f%%\n", a * 100 / b}')
	fi
	# Each status other than 200: the median of its count (0 in a run
	# without it).
	for code in $(field "$name" "$attack" 6 | tr ',' '\n' | { grep -v '^-$' || true; } | cut -d: -f1 | sort -nu); do
		m=$(field "$name" "$attack" 6 | awk -v c="$code" '{n = 0; k = split($0, p, ","); for (i = 1; i <= k; i++) {split(p[i], q, ":"); if (q[1] == c) n = q[2]} print n}' | median)
		[ "$m" = 0 ] || others+="${others:+, }$(group "$m") × $code"
	done
	con=$(field "$name" "$attack" 8 | median)
	rd=$(field "$name" "$attack" 9 | median)
	wr=$(field "$name" "$attack" 10 | median)
	to=$(field "$name" "$attack" 11 | median)
	p99=$(field "$name" "$attack" 13 | median)
	# Left waiting: -1 (unknown) in any run makes it unknown.
	if field "$name" "$attack" 24 | grep -qx -- -1; then
		late=?
	else
		late=$(field "$name" "$attack" 24 | median)
	fi
	upc=$(field "$name" "$attack" 14 | { grep -v '?' || true; } | median)
	upp=$(field "$name" "$attack" 15 | { grep -v '?' || true; } | median)
	if [ "$attack" = baseline ]; then
		amin=- amax=- acl=- adown=-
	else
		amin=$(field "$name" "$attack" 16 | { grep -v '?' || true; } | median)
		amax=$(field "$name" "$attack" 17 | { grep -v '?' || true; } | median)
		acl=$(field "$name" "$attack" 18 | { grep -v '?' || true; } | median)
		adown=$(field "$name" "$attack" 19 | { grep -v '?' || true; } | median)
	fi
	# The result: every run must pass.
	while IFS= read -r line; do
		nruns=$((nruns + 1))
		verdicts=$(verdict "$([ "$attack" = baseline ] || echo "$base")" "$line")
		if [ "$verdicts" != PASS ]; then
			fails=$((fails + 1))
			reasons+=", $verdicts"
		fi
	done < <(grep -P "^run\t$name\t$attack\t" "$RESULTS")
	if [ "$fails" = 0 ]; then
		res=PASS
	else
		res="FAIL: $(sed 's/^, //' <<<"$reasons" | tr ',' '\n' | sed 's/^ *//' | awk '!s[$0]++' | paste -sd, | sed 's/,/, /g')"
		[ "$nruns" -gt 1 ] && res+=" ($fails of $nruns runs)"
	fi
	printf '| %s | %s | %s | %s | %s | %s / %s / %s / %s | %s | %s | %s (%s) | %s | %s | %s | %s |\n' \
		"$name" "$attack" "$(group "$n200")" "$ratio" "${others:-0}" \
		"$(group "$con")" "$(group "$rd")" "$(group "$wr")" "$(group "$to")" "$(group "$late")" \
		"$(awk -v p="$p99" 'BEGIN {if (p == "" || p < 0) print "-"; else printf "%.0f ms\n", p}')" \
		"$(group "${upc:-?}")" "$(group "${upp:-?}")" \
		"$([ "$attack" = baseline ] && echo - || echo "$(group "${amin:-?}")–$(group "${amax:-?}")")" \
		"$(group "${acl:-?}")" "${adown:-?}$([ "$attack" = baseline ] || echo " s")" "$res"
}

tables() {
	local name attack base l rep ex
	echo
	echo "| proxy | attack | 200 | of baseline | other statuses | socket errors connect / read / write / timeout | left waiting > ${WRK_TIMEOUT} s | p99 | upstream peak conns (in progress) | attack conns open during load | attack conns closed | slowhttptest probe down | result |"
	echo "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
	for name in "${PROXY_LIST[@]}"; do
		[ -z "${SKIP[$name]:-}" ] || continue
		base=$(field "$name" baseline 5 | median)
		for attack in baseline "${ATTACK_LIST[@]}"; do
			row "$name" "$attack" "$base"
		done
	done
	echo
	echo "Acceptance: 200s ≥ $MIN_RATIO% of the same proxy's baseline; no socket error (timeouts included), no request left waiting over $WRK_TIMEOUT s and no 5xx among the ordinary clients; the upstream's peak open connections ≤ $MAX_UPSTREAM; the proxy still running (with several runs: every run)."
	# What slowhttptest said when it stopped, when it was not us stopping it.
	while IFS=$'\t' read -r name attack rep ex; do
		printf '\n%s, %s, run %s: slowhttptest ended by itself: %s\n' "$name" "$attack" "$rep" "$ex"
	done < <(awk -F '\t' '$1 == "run" && $3 != "baseline" && $21 != "Cancelled by user" {print $2 "\t" $3 "\t" $4 "\t" $21}' "$RESULTS")
	while IFS=$'\t' read -r name attack rep l; do
		[ -n "${l//$'\t'/}" ] || continue
		printf '\n%s, %s, run %s: log: %s\n' "$name" "$attack" "$rep" "$(sed 's/\t$//; s/\t/; /g' <<<"$l")"
	done <"$NOTES"
}

report() {
	local versions="" k cpu_model p
	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	for k in headroom nginx haproxy wrk slowhttptest; do
		if [ -n "${VERSION[$k]:-}" ] && [ -z "${SKIP[$k]:-}" ]; then
			versions+="${versions:+, }${VERSION[$k]}"
		fi
	done
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $(uname -r); $cpu_model, $(nproc) CPUs; $versions; proxy on core 0, upstream, wrk and slowhttptest on core 1; wrk -t1 -c$CLIENTS -d${DURATION}s --timeout ${WRK_TIMEOUT}s, started ${ATTACK_WARMUP} s after the attack; upstream delay $DELAY; $ATTACK_CONNS attack connections at $ATTACK_RATE/s; median of $REPS run(s)"
	tls_summary "wrk and slowhttptest"
	tables
	for p in "${PROXY_LIST[@]}"; do
		if [ -n "${SKIP[$p]:-}" ]; then
			printf '\n%s skipped: %s\n' "$p" "${SKIP[$p]}"
		fi
	done
	echo
	cat <<'EOF'
Columns: 200 and other statuses are the ordinary clients' answers (wrk).
Socket errors are wrk's; its timeouts are answers that came after more
than 5 s. "Left waiting" counts the requests sent more than 5 s before the
end of the run and still unanswered: the clients that timed out without
an answer, which wrk does not count; "?" when failed connections make the
count unknown. p99 is wrk's, over the answered requests only. The upstream's
peak open connections include the one of the request that reads them. The
attack columns come from slowhttptest's per-second statistics over the
seconds wrk ran: the fewest and most of its connections open, how many it
had seen closed by the end, and how many seconds its own probe request got
no answer within 3 s.
EOF
}

main() {
	parse_args "$@"
	trap cleanup EXIT
	trap 'say "interrupted"; exit 130' INT TERM HUP
	check_machine
	WORK=$(mktemp -d /tmp/headroom-slowclients.XXXXXX)
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
