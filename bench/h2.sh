#!/usr/bin/env bash
# Benchmark headroom against nginx speaking HTTP/2, side by side in the same
# run, both reading the same configuration text: one server with two
# listeners, "listen ... ssl http2" (HTTP/2 over TLS, ALPN h2) and
# "listen ... http2" (cleartext HTTP/2 with prior knowledge),
# ssl_protocols TLSv1.2 TLSv1.3 and everything else TLS and HTTP/2 at its
# default. The tests:
#
#   h2-idle-mem  memory per idle HTTP/2 connection over TLS 1.3: N clients
#                (bench/h2help, crypto/tls and its own framing) each
#                complete a handshake, the HTTP/2 preface and settings and
#                one GET of a 100-byte file, then stay open and idle; the
#                server's RSS (nginx: its worker's; headroom: its
#                process's) 2 s after the last one, minus its RSS before,
#                divided by N.
#   h2-return    server CPU per request over HTTP/2 over TLS keep-alive:
#                h2load -c 16 -m 10 (16 connections, 10 streams in flight
#                on each; OpenSSL, TLS 1.3, ALPN h2 only) against
#                return 200 "ok"; the server's CPU time (utime + stime)
#                over the run divided by the requests h2load completed;
#                and requests/s.
#   h2-1k        the same against a 1 KiB static file.
#   h2c-return   the same as h2-return over cleartext HTTP/2 (h2load's
#                prior knowledge for http:// URIs).
#   h2-proxy     the same as h2-return, the request proxied over HTTP/1.1
#                to an upstream (nginx, one worker on core 1, serving a
#                100-byte file) with "keepalive 32" in the upstream block,
#                proxy_http_version 1.1 and proxy_set_header Connection "";
#                the report also shows how many connections the upstream
#                accepted during the run (its stub_status).
#
# Before the tests each server answers /params, whose body is
# "$server_protocol $http2 $ssl_protocol $ssl_cipher", to h2help over TLS
# and over cleartext; every h2load run records the protocol it spoke
# (h2load is given only h2 to offer over TLS, so it never falls back to
# HTTP/1.1), and the report shows both.
#
# Each server runs one worker pinned to core 0; the clients (h2help,
# h2load) and the upstream run on core 1. Each server is started afresh for
# every repetition and runs every test once in it (h2-idle-mem first, on
# the fresh process, when it is in the list); the order alternates:
# headroom then nginx in odd repetitions, nginx then headroom in even ones.
# The report shows medians over the repetitions, ratios to nginx's
# medians, and "paired" ratios: the median of headroom's figure divided by
# nginx's in the same repetition, a few seconds apart.
#
# Run "bench/h2.sh --help" for the options. Everything listens on
# 127.0.0.1 only, every process started is stopped on exit (Ctrl-C
# included), and files are written only to bench/.bin (headroom and
# h2help) and a temporary directory in /tmp (certificate, configurations,
# logs, raw results), removed at exit unless --keep. The code is all
# functions run from the last line, so editing this file while it runs
# does not change the running copy.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=$BENCH_DIR/.bin

ALL_TESTS=h2-idle-mem,h2-return,h2-1k,h2c-return,h2-proxy
REPS=${H2_REPS:-3}
TESTS=${H2_TESTS:-$ALL_TESTS}
PROXIES=${H2_PROXIES:-headroom,nginx}
IDLE=${H2_IDLE:-1000}
DURATION=${H2_DURATION:-5}
WARMUP=${H2_WARMUP:-1}
CLIENTS=${H2_CLIENTS:-16}
STREAMS=${H2_STREAMS:-10}
PORT=${H2_PORT:-18680}
MAX_OTHER=${H2_MAX_OTHER:-30}
RETRIES=${H2_RETRIES:-1}
NICE=${H2_NICE:-0}
HEADROOM_BIN=${H2_HEADROOM_BIN:-}
KEEP=0
REPORT_ONLY=""

usage() {
	cat <<'EOF'
Usage: bench/h2.sh [options]

Options (each also settable by the environment variable shown):
  -t, --tests LIST      comma list of h2-idle-mem, h2-return, h2-1k,
                        h2c-return, h2-proxy          (H2_TESTS, all)
  -r, --reps N          repetitions; medians are reported (H2_REPS, 3)
  -p, --proxies LIST    comma list of headroom,nginx      (H2_PROXIES, both)
  -n, --idle N          idle HTTP/2 connections held in h2-idle-mem,
                        at most 4000                      (H2_IDLE, 1000)
  -d, --duration SEC    measured h2load run length        (H2_DURATION, 5)
  -w, --warmup SEC      h2load warm-up before each run    (H2_WARMUP, 1)
  -c, --clients N       h2load connections (-c)           (H2_CLIENTS, 16)
  -m, --streams N       h2load streams in flight on each
                        connection (-m)                   (H2_STREAMS, 10)
      --port N          HTTP/2 over TLS; cleartext HTTP/2 on N+1, the
                        upstream on N+2                   (H2_PORT, 18680)
      --max-other PCT   measure a CPU test again when other programs used
                        more than PCT% of one core during it (the upstream
                        and the clients excluded); 0 never does
                                                          (H2_MAX_OTHER, 30)
      --retries N       at most N such measurements more  (H2_RETRIES, 1)
      --nice N          run the servers, the upstream and the clients at
                        niceness N, e.g. -10 (needs root), so that other
                        programs on a shared machine disturb less; with
                        autogroup scheduling the niceness of this session's
                        autogroup is set too, and restored at exit
                                                          (H2_NICE, 0)
      --headroom-bin F  measure this headroom binary instead of building
                        ./cmd/headroom into bench/.bin    (H2_HEADROOM_BIN)
      --quick           -r 1 -n 500 -d 2
      --keep            keep the temporary directory (certificate,
                        configurations, logs, raw data)
      --report FILE     only print the tables for a raw results file kept
                        by an earlier --keep run
  -h, --help            this text

Needs Linux with 2 CPUs or more, Go, openssl, h2load and taskset (Debian:
apt-get install nghttp2-client openssl util-linux); nginx (/usr/sbin/nginx,
Debian: apt-get install nginx) is measured when installed and skipped with
a message otherwise; without it h2-proxy, whose upstream is an nginx, is
skipped too.
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "h2.sh: $*"
	exit 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-t | --tests) TESTS=$2; shift 2 ;;
		-r | --reps) REPS=$2; shift 2 ;;
		-p | --proxies) PROXIES=$2; shift 2 ;;
		-n | --idle) IDLE=$2; shift 2 ;;
		-d | --duration) DURATION=$2; shift 2 ;;
		-w | --warmup) WARMUP=$2; shift 2 ;;
		-c | --clients) CLIENTS=$2; shift 2 ;;
		-m | --streams) STREAMS=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--max-other) MAX_OTHER=$2; shift 2 ;;
		--retries) RETRIES=$2; shift 2 ;;
		--nice) NICE=$2; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=$2; shift 2 ;;
		--quick) REPS=1; IDLE=500; DURATION=2; shift ;;
		--keep) KEEP=1; shift ;;
		--report) REPORT_ONLY=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done
	local v t p
	for v in "$REPS" "$IDLE" "$DURATION" "$WARMUP" "$CLIENTS" "$STREAMS" "$PORT" "$MAX_OTHER" "$RETRIES"; do
		is_uint "$v" || die "not a whole number: $v"
	done
	if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
		die "--nice must be in -20..19"
	fi
	if [ "$NICE" -lt 0 ] && [ "$(nice -n "$NICE" nice 2>/dev/null)" != "$(($(nice) + NICE))" ]; then
		die "--nice $NICE needs the right to raise priority (root)"
	fi
	[ "$REPS" -ge 1 ] || die "--reps must be at least 1"
	[ "$IDLE" -ge 1 ] && [ "$IDLE" -le 4000 ] || die "--idle must be in 1..4000"
	[ "$DURATION" -ge 1 ] || die "--duration must be at least 1"
	[ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le 1000 ] || die "--clients must be in 1..1000"
	[ "$STREAMS" -ge 1 ] && [ "$STREAMS" -le 100 ] || die "--streams must be in 1..100 (both servers allow 128 streams at a time)"
	if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65000 ]; then
		die "--port must be in 1024..65000"
	fi
	IFS=, read -r -a TEST_LIST <<<"$TESTS"
	IFS=, read -r -a PROXY_LIST <<<"$PROXIES"
	[ "${#TEST_LIST[@]}" -gt 0 ] || die "no test given"
	for t in "${TEST_LIST[@]}"; do
		case $t in h2-idle-mem | h2-return | h2-1k | h2c-return | h2-proxy) ;; *) die "unknown test: $t" ;; esac
	done
	for p in "${PROXY_LIST[@]}"; do
		case $p in headroom | nginx) ;; *) die "unknown proxy: $p" ;; esac
	done
	TLS_PORT=$PORT
	H2C_PORT=$((PORT + 1))
	UP_PORT=$((PORT + 2))
	# stop_proxy (proc.sh) waits for this port to be free.
	PROXY_PORT=$TLS_PORT
}

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"

has_test() {
	local t
	for t in "${TEST_LIST[@]}"; do
		[ "$t" = "$1" ] && return 0
	done
	return 1
}

check_machine() {
	local c
	NCPU=$(nproc)
	[ "$NCPU" -ge 2 ] || die "needs at least 2 CPUs (the server and the clients run on separate cores)"
	for c in taskset h2load openssl timeout; do
		command -v "$c" >/dev/null || die "$c not found (Debian: apt-get install nghttp2-client openssl util-linux coreutils)"
	done
	if has_test h2-proxy && ! command -v nginx >/dev/null; then
		say "h2-proxy: skipped: its upstream is an nginx, which is not installed (Debian: apt-get install nginx)"
		local -a kept=()
		for c in "${TEST_LIST[@]}"; do
			[ "$c" = h2-proxy ] || kept+=("$c")
		done
		[ "${#kept[@]}" -gt 0 ] || die "nothing to measure"
		TEST_LIST=("${kept[@]}")
	fi
	# The idle test's client holds IDLE connections: raise the soft limit.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	NOFILE=$(ulimit -n)
	if [ "$NOFILE" != unlimited ] && [ "$IDLE" -gt $((NOFILE - 500)) ]; then
		die "$IDLE idle connections do not fit the open-file limit $NOFILE"
	fi
	for c in "$TLS_PORT" "$H2C_PORT" "$UP_PORT"; do
		if port_busy "$c"; then
			die "127.0.0.1:$c is already in use (choose another base port with --port)"
		fi
	done
}

# With autogroup scheduling, a process's niceness only weighs against the
# processes of its own session: other sessions' programs share the CPU with
# this whole session as equals. --nice then also sets the niceness of this
# session's autogroup (restored at exit).
AUTOGROUP_OLD=""
raise_autogroup() {
	local f=/proc/self/autogroup
	[ "$NICE" -lt 0 ] || return 0
	[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" = 1 ] || return 0
	[ -w "$f" ] || return 0
	AUTOGROUP_OLD=$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\).*/\1/p' "$f")
	if echo "$NICE" >"$f" 2>/dev/null; then
		say "autogroup niceness $AUTOGROUP_OLD -> $NICE for this session (restored at exit)"
	else
		AUTOGROUP_OLD=""
	fi
}
restore_autogroup() {
	if [ -n "$AUTOGROUP_OLD" ]; then
		echo "$AUTOGROUP_OLD" >/proc/self/autogroup 2>/dev/null || true
		AUTOGROUP_OLD=""
	fi
}
# errexit is switched off first: under set -e the "(exit $rc)" that hands
# a non-zero status to cleanup would end the shell before cleanup runs,
# leaving the servers running.
on_exit() {
	local rc=$?
	set +e
	restore_autogroup
	(exit "$rc")
	cleanup # reads the exit status from $?
}

# ---------------------------------------------------------------- build

declare -A SKIP=()
declare -A VERSION=()

build() {
	local rev dirty="" p
	mkdir -p "$BIN_DIR"
	command -v go >/dev/null || die "go not found: it builds bench/h2help"
	say "building bench/h2help"
	(cd "$REPO_DIR" && go build -o "$BIN_DIR/h2help" ./bench/h2help) >"$WORK/h2help-build.log" 2>&1 ||
		die "bench/h2help does not build: $(head -n 3 "$WORK/h2help-build.log")"
	for p in "${PROXY_LIST[@]}"; do
		case $p in
		nginx) find_installed nginx ;;
		headroom)
			if [ -n "$HEADROOM_BIN" ]; then
				[ -x "$HEADROOM_BIN" ] || die "$HEADROOM_BIN is not an executable file"
				VERSION[headroom]="headroom ($HEADROOM_BIN)"
				continue
			fi
			HEADROOM_BIN=$BIN_DIR/headroom
			say "building headroom (go build -o bench/.bin/headroom ./cmd/headroom)"
			rm -f "$HEADROOM_BIN"
			if (cd "$REPO_DIR" && go build -o "$HEADROOM_BIN" ./cmd/headroom) >"$WORK/headroom-build.log" 2>&1; then
				rev=$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null) || rev=unknown
				if ! (cd "$REPO_DIR" && git diff --quiet HEAD -- cmd internal go.mod 2>/dev/null); then
					dirty="+local changes"
				fi
				VERSION[headroom]="headroom $rev$dirty"
			else
				SKIP[headroom]="./cmd/headroom does not build: $({ grep -v '^#' "$WORK/headroom-build.log" || true; } | head -n 1)"
			fi
			;;
		esac
	done
	for p in "${PROXY_LIST[@]}"; do
		if [ -n "${SKIP[$p]:-}" ]; then
			say "$p: skipped: ${SKIP[$p]}"
		fi
	done
	VERSION[h2load]=$({ h2load --version 2>&1 || true; } | awk 'NR == 1 {print $1 " " $2}')
	VERSION[openssl]=$(openssl version | awk '{print "OpenSSL " $2}')
}

# ---------------------------------------------------------------- data

make_data() {
	say "writing the certificate (ECDSA P-256) and the files (100 B, 1 KiB)"
	# Started as root, nginx runs its worker as nobody: it must reach the
	# files through the temporary directory (the master reads the key).
	chmod 711 "$WORK"
	mkdir -p "$WORK/www" "$WORK/certs" "$WORK/up/up"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
		-keyout "$WORK/certs/ecdsa.key" -out "$WORK/certs/ecdsa.crt" >"$WORK/openssl.log" 2>&1 ||
		die "openssl could not make the ECDSA certificate: $(tail -n 2 "$WORK/openssl.log")"
	head -c 100 /dev/urandom >"$WORK/www/100.bin"
	head -c 1024 /dev/urandom >"$WORK/www/1k.bin"
	head -c 100 /dev/urandom >"$WORK/up/up/100.bin"
	chmod -R a+rX "$WORK/www" "$WORK/up"
}

# ---------------------------------------------------------------- configs

# upstream_conf DIR: the upstream of h2-proxy, an nginx serving
# /up/100.bin and its counters at /status.
upstream_conf() {
	local dir=$1
	cat <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    sendfile on;
    default_type application/octet-stream;
EOF
	nginx_temp_paths "$dir"
	cat <<EOF

    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        root $WORK/up;

        location = /status {
            stub_status;
        }
    }
}
EOF
}

# proxy_conf NAME DIR: the configuration both servers read; nginx's alone
# gets the temp paths (headroom writes none). headroom lets clients hold
# half its worker_connections, so 8192 holds h2-idle-mem's 4000 at most.
proxy_conf() {
	local name=$1 dir=$2
	cat <<EOF
worker_processes 1;
worker_rlimit_nofile 10000;
daemon off;
pid $dir/proxy.pid;
error_log $dir/error.log warn;

events {
    worker_connections 8192;
}

http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    sendfile on;
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;
EOF
	if [ "$name" = nginx ]; then
		nginx_temp_paths "$dir"
	fi
	cat <<EOF

    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 32;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }

    server {
        listen 127.0.0.1:$TLS_PORT ssl http2 backlog=4096;
        listen 127.0.0.1:$H2C_PORT http2 backlog=4096;
        ssl_certificate $WORK/certs/ecdsa.crt;
        ssl_certificate_key $WORK/certs/ecdsa.key;
        root $WORK/www;

        location = /r {
            return 200 "ok";
        }
        location = /params {
            return 200 "\$server_protocol \$http2 \$ssl_protocol \$ssl_cipher\n";
        }
        location /up/ {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

# ---------------------------------------------------------------- processes

UPSTREAM_PID=""
PROXY_PID=""
PROXY_DIR=""
START_COUNT=0

# h2help ARGS...: the client, on core 1.
h2help() { taskset -c 1 nice -n "$NICE" "$BIN_DIR/h2help" "$@"; }

# start_upstream: h2-proxy's upstream, one nginx worker on core 1.
start_upstream() {
	local dir=$WORK/upstream i
	mkdir -p "$dir"
	upstream_conf "$dir" >"$dir/nginx.conf"
	say "starting the upstream (nginx serving 100 bytes) on 127.0.0.1:$UP_PORT (core 1)"
	taskset -c 1 nice -n "$NICE" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
	UPSTREAM_PID=$!
	STARTED+=("$UPSTREAM_PID")
	for ((i = 0; i < 50; i++)); do
		if [ -n "$(upstream_accepts)" ]; then
			return 0
		fi
		alive "$UPSTREAM_PID" || break
		sleep 0.1
	done
	die "the upstream does not answer: $(cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null | tail -n 3)"
}

# upstream_accepts: the connections the upstream has accepted (stub_status
# "accepts"; the connection that asks is one of them), or nothing.
upstream_accepts() {
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
		awk "f {print \$1; exit} /accepts handled requests/ {f = 1}" <&3' _ "$UP_PORT" 2>/dev/null || true
}

# start_proxy NAME: start the server in the foreground pinned to core 0 and
# wait until both its listeners answer GET /r over HTTP/2.
start_proxy() {
	local name=$1 i other
	START_COUNT=$((START_COUNT + 1))
	PROXY_DIR=$WORK/$name-$START_COUNT
	mkdir -p "$PROXY_DIR"
	proxy_conf "$name" "$PROXY_DIR" >"$PROXY_DIR/nginx.conf"
	case $name in
	nginx)
		taskset -c 0 nice -n "$NICE" nginx -p "$PROXY_DIR/" -c "$PROXY_DIR/nginx.conf" -e "$PROXY_DIR/error.log" \
			>"$PROXY_DIR/stdout.log" 2>&1 &
		;;
	headroom)
		taskset -c 0 nice -n "$NICE" "$HEADROOM_BIN" -p "$PROXY_DIR/" -c "$PROXY_DIR/nginx.conf" \
			>"$PROXY_DIR/stdout.log" 2>&1 &
		;;
	esac
	PROXY_PID=$!
	STARTED+=("$PROXY_PID")
	for ((i = 0; i < 100; i++)); do
		if [ "$(timeout 5 "$BIN_DIR/h2help" get -addr "127.0.0.1:$TLS_PORT" -path /r -timeout 2s 2>/dev/null)" = ok ] &&
			[ "$(timeout 5 "$BIN_DIR/h2help" get -addr "127.0.0.1:$H2C_PORT" -path /r -h2c -timeout 2s 2>/dev/null)" = ok ]; then
			return 0
		fi
		if ! alive "$PROXY_PID"; then
			other=$(cat "$PROXY_DIR/proxy.pid" 2>/dev/null || true)
			if [ -n "$other" ] && [ "$other" != "$PROXY_PID" ] && alive "$other"; then
				PROXY_PID=$other
				STARTED+=("$other")
				continue
			fi
			die "$name exited at start: $(cat "$PROXY_DIR/stdout.log" "$PROXY_DIR/error.log" 2>/dev/null | tail -n 3)"
		fi
		sleep 0.1
	done
	die "$name does not answer GET /r over HTTP/2 on 127.0.0.1:$TLS_PORT (TLS) and :$H2C_PORT (cleartext) within 10 s"
}

# log_problems NAME: show alarming lines from the server's logs.
log_problems() {
	local f
	for f in "$PROXY_DIR"/error.log "$PROXY_DIR"/stdout.log; do
		[ -f "$f" ] || continue
		grep -E '\[(alert|crit|emerg|error)\]|too many open files|panic|fatal' "$f" | head -n 3 | sed "s/^/  $1 log: /" >&2 || true
	done
}

# ---------------------------------------------------------------- measuring

busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# children_ticks VAR: set VAR to the CPU time of this shell's finished
# children (the clients among them), in clock ticks.
children_ticks() {
	times >"$WORK/times"
	printf -v "$1" '%s' "$(awk -v hz="$CLK_TCK" 'NR == 2 {
		s = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
		printf "%.0f\n", s * hz
	}' "$WORK/times")"
}

rss_kb() {
	local p sum=0 t
	for p in "$@"; do
		t=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || t=0
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

# mem_pids NAME: the processes whose memory counts: nginx's worker (its
# master holds no connection), headroom's process.
mem_pids() {
	if [ "$1" = nginx ]; then
		descendants "$PROXY_PID" | tail -n +2
	else
		descendants "$PROXY_PID"
	fi
}

# record_params NAME REP: what the server says was negotiated, to h2help
# over TLS and over cleartext.
record_params() {
	local name=$1 rep=$2 text
	text=$(timeout 10 "$BIN_DIR/h2help" get -addr "127.0.0.1:$TLS_PORT" -path /params 2>&1 | head -n 1) || true
	printf 'param\t%s\t%s\t%s\t%s\n' "h2help-tls" "$name" "$rep" "$text" >>"$RESULTS"
	text=$(timeout 10 "$BIN_DIR/h2help" get -addr "127.0.0.1:$H2C_PORT" -path /params -h2c 2>&1 | head -n 1) || true
	printf 'param\t%s\t%s\t%s\t%s\n' "h2help-h2c" "$name" "$rep" "$text" >>"$RESULTS"
}

# measure_mem NAME REP: RSS growth of the server per idle HTTP/2
# connection over TLS 1.3.
measure_mem() {
	local name=$1 rep=$2 pid line before after opened failed done_line closed per i
	local -a pids
	# A few connections first, so that what the first ones allocate once
	# (and keep) is in the figure before.
	h2help hold -addr "127.0.0.1:$TLS_PORT" -path /100.bin -n 100 -parallel 8 -hold 0 >/dev/null 2>&1 || true
	sleep 1
	mapfile -t pids < <(mem_pids "$name")
	before=$(rss_kb "${pids[@]}")
	taskset -c 1 nice -n "$NICE" "$BIN_DIR/h2help" hold -addr "127.0.0.1:$TLS_PORT" -path /100.bin -n "$IDLE" \
		-parallel 64 -hold 120s -timeout 10s >"$WORK/hold.out" 2>"$WORK/hold.err" &
	pid=$!
	STARTED+=("$pid")
	line=""
	for ((i = 0; i < 900; i++)); do
		line=$(grep '^READY' "$WORK/hold.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		alive "$pid" || break
		sleep 0.1
	done
	if [ -z "$line" ]; then
		say "  $name h2-idle-mem: the connections were not open within 90 s: $(head -n 2 "$WORK/hold.err")"
		stop_tree "$pid"
		forget "$pid"
		return 0
	fi
	sleep 2
	mapfile -t pids < <(mem_pids "$name")
	after=$(rss_kb "${pids[@]}")
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget "$pid"
	opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' <<<"$line")
	failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
	done_line=$(grep '^DONE' "$WORK/hold.out" || true)
	closed=$(sed -n 's/.*closed_by_peer=\([0-9]*\).*/\1/p' <<<"$done_line")
	if [ "${failed:-0}" -gt 0 ]; then
		say "  $name h2-idle-mem: $failed of $IDLE connections failed ($(head -n 1 "$WORK/hold.err"))"
	fi
	[ "${opened:-0}" -gt 0 ] || return 0
	per=$(awk -v a="$after" -v b="$before" -v n="$opened" 'BEGIN {printf "%.2f", (a - b) / n}')
	printf 'mem\th2-idle-mem\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rep" "$opened" "${failed:-0}" "$before" "$after" "$per" "${closed:-0}" >>"$RESULTS"
	say "  $name h2-idle-mem: $opened HTTP/2 connections held ($failed failed, ${closed:-0} closed by the server meanwhile), RSS $before -> $after KiB, $per KiB per connection; ${line#READY }"
	# Give the server time to close them before the next test.
	sleep 1
}

# cpu_run LOG CMD...: run the client CMD in the background and measure the
# server's CPU over it. Sets RUN_TICKS (the server's), RUN_SECONDS and
# RUN_OTHER (percent of one core the rest of the machine used, the
# upstream excluded); returns the client's status.
cpu_run() {
	local log=$1 t0 t1 u0 u1 b0 b1 k0 k1 r0 r1 rc=0
	local -a tree up=()
	shift
	mapfile -t tree < <(descendants "$PROXY_PID")
	if [ -n "$UPSTREAM_PID" ]; then
		mapfile -t up < <(descendants "$UPSTREAM_PID")
	fi
	b0=$(busy_ticks)
	children_ticks k0
	t0=$(cpu_ticks "${tree[@]}")
	u0=$(cpu_ticks "${up[@]}")
	r0=$EPOCHREALTIME
	run_bg "$log" "$@" || rc=$?
	t1=$(cpu_ticks "${tree[@]}")
	u1=$(cpu_ticks "${up[@]}")
	r1=$EPOCHREALTIME
	children_ticks k1
	b1=$(busy_ticks)
	RUN_TICKS=$((t1 - t0))
	RUN_SECONDS=$(awk -v a="$r0" -v b="$r1" 'BEGIN {printf "%.3f", b - a}')
	RUN_OTHER=$(awk -v d="$(((b1 - b0) - (t1 - t0) - (u1 - u0) - (k1 - k0)))" -v hz="$CLK_TCK" -v s="$RUN_SECONDS" \
		'BEGIN {v = d * 100 / hz / s; if (v < 0) v = 0; printf "%.0f", v}')
	return "$rc"
}

# test_url TEST: the URL h2load asks for.
test_url() {
	case $1 in
	h2-return) echo "https://127.0.0.1:$TLS_PORT/r" ;;
	h2-1k) echo "https://127.0.0.1:$TLS_PORT/1k.bin" ;;
	h2c-return) echo "http://127.0.0.1:$H2C_PORT/r" ;;
	h2-proxy) echo "https://127.0.0.1:$TLS_PORT/up/100.bin" ;;
	esac
}

# h2load_cmd SECONDS URL: the h2load command line, on core 1, in timeout.
# Over TLS only h2 is offered (ALPN), so h2load cannot fall back to
# HTTP/1.1; for http:// URIs h2load uses prior knowledge.
h2load_cmd() {
	local -a alpn=()
	case $2 in https:*) alpn=(--npn-list=h2) ;; esac
	H2LOAD=(timeout -k 5 $(($1 + 30)) taskset -c 1 nice -n "$NICE"
		h2load -t 1 -c "$CLIENTS" -m "$STREAMS" -D "$1" "${alpn[@]}" "$2")
}

# parse_h2load LOG: prints "rps done errors protocol", the protocol being
# "h2/TLSv1.3/cipher/group" or "h2c".
parse_h2load() {
	awk '
	/^finished in/ { rps = $4 }
	/^requests:/ { done = $6; err += $10 + $12 + $14 }
	/^status codes:/ { err += $5 + $7 + $9 }
	/^Application protocol:/ { proto = $3 }
	/^TLS Protocol:/ { tls = $3 }
	/^Cipher:/ { cipher = $2 }
	/^Server Temp Key:/ { group = $4 }
	END {
		if (rps == "" || done == "") exit 1
		if (proto == "") proto = "-"
		if (tls != "") proto = proto "/" tls "/" cipher "/" group
		printf "%s %s %d %s\n", rps, done, err, proto
	}' "$1"
}

# measure_req TEST NAME REP: a warm-up and a measured h2load run. Sets
# RECORD and OTHER.
measure_req() {
	local test=$1 name=$2 rep=$3 log=$WORK/h2load.out parsed rps req errs proto us pct a0 a1 newup=-
	local url
	url=$(test_url "$test")
	RECORD="" OTHER=""
	if [ "$WARMUP" -gt 0 ]; then
		h2load_cmd "$WARMUP" "$url"
		run_bg "$log" "${H2LOAD[@]}" || true
	fi
	[ "$test" != h2-proxy ] || a0=$(upstream_accepts)
	h2load_cmd "$DURATION" "$url"
	if ! cpu_run "$log" "${H2LOAD[@]}"; then
		say "  $name $test: h2load failed: $(grep -v '^progress' "$log" | tail -n 2 | tr '\n' ' ')"
		return 0
	fi
	if [ "$test" = h2-proxy ]; then
		a1=$(upstream_accepts)
		if [ -n "$a0" ] && [ -n "$a1" ]; then
			newup=$((a1 - a0 - 1))
		fi
	fi
	if ! parsed=$(parse_h2load "$log"); then
		say "  $name $test: could not read h2load's output"
		return 0
	fi
	read -r rps req errs proto <<<"$parsed"
	if [ "$req" -eq 0 ]; then
		say "  $name $test: no request completed: $(grep -iE 'error|fail' "$log" | head -n 2 | tr '\n' ' ')"
		return 0
	fi
	case $test:$proto in
	h2c-return:h2c | h2-*:h2/*) ;;
	*)
		say "  $name $test: h2load spoke $proto, not HTTP/2; not counted"
		return 0
		;;
	esac
	if [ "$errs" -gt 0 ]; then
		say "  $name $test: h2load counted $errs errors: $(grep -E '^(requests|status codes):' "$log" | tr '\n' ' ')"
	fi
	us=$(awk -v d="$RUN_TICKS" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}')
	pct=$(awk -v d="$RUN_TICKS" -v hz="$CLK_TCK" -v s="$RUN_SECONDS" 'BEGIN {printf "%.0f", d * 100 / hz / s}')
	OTHER=$RUN_OTHER
	RECORD=$(printf 'req\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$test" "$name" "$rep" "${CLIENTS}x$STREAMS" \
		"$rps" "$us" "$errs" "$pct" "$OTHER" "$proto" "$newup")
	say "  $name $test -c $CLIENTS -m $STREAMS: $rps req/s, $us us/req, server CPU $pct%, other CPU $OTHER%, errors $errs, $proto$([ "$newup" = - ] || echo ", $newup new upstream connections")"
}

# measure_cpu TEST NAME REP: a CPU test, measured again (RETRIES times at
# most) while other programs used more than MAX_OTHER% of a core; the least
# disturbed measurement is kept.
measure_cpu() {
	local test=$1 name=$2 rep=$3 attempt best="" best_other=""
	for ((attempt = 0; attempt <= RETRIES; attempt++)); do
		measure_req "$test" "$name" "$rep"
		if [ -n "$RECORD" ] && { [ -z "$best" ] || [ "$OTHER" -lt "$best_other" ]; }; then
			best=$RECORD best_other=$OTHER
		fi
		if [ -z "$best" ] || [ "$MAX_OTHER" = 0 ] || [ "$best_other" -le "$MAX_OTHER" ]; then
			break
		fi
		if [ "$attempt" -lt "$RETRIES" ]; then
			say "  other programs used $OTHER% of one core during that run; measuring it again"
		fi
	done
	if [ -n "$best" ]; then
		printf '%s\n' "$best" >>"$RESULTS"
	fi
}

run_all() {
	local rep name test n=0 total
	local -a order=() list=()
	for name in "${PROXY_LIST[@]}"; do
		if [ -z "${SKIP[$name]:-}" ]; then
			list+=("$name")
		fi
	done
	[ "${#list[@]}" -gt 0 ] || die "nothing to measure"
	if has_test h2-proxy; then
		start_upstream
	fi
	total=$((REPS * ${#list[@]}))
	for ((rep = 1; rep <= REPS; rep++)); do
		order=("${list[@]}")
		if [ $((rep % 2)) = 0 ] && [ "${#order[@]}" = 2 ]; then
			order=("${order[1]}" "${order[0]}")
		fi
		for name in "${order[@]}"; do
			n=$((n + 1))
			say "[$n/$total] rep $rep, $name"
			start_proxy "$name"
			record_params "$name" "$rep"
			for test in "${TEST_LIST[@]}"; do
				case $test in
				h2-idle-mem) measure_mem "$name" "$rep" ;;
				*) measure_cpu "$test" "$name" "$rep" ;;
				esac
				if ! alive "$PROXY_PID"; then
					say "  $name is no longer running after $test"
					log_problems "$name"
					die "$name exited during the run; its logs are in $PROXY_DIR (use --keep to keep them)"
				fi
				if [ -n "$UPSTREAM_PID" ] && ! alive "$UPSTREAM_PID"; then
					die "the upstream exited during the run; its logs are in $WORK/upstream (use --keep to keep them)"
				fi
			done
			log_problems "$name"
			stop_proxy
		done
	done
}

# ---------------------------------------------------------------- report

median() {
	sort -g | awk '{a[NR] = $1} END {
		if (NR == 0) exit
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2
	}'
}

# spread: (largest - smallest) / median, over the repetitions.
spread() {
	sort -g | awk '{a[NR] = $1} END {
		if (NR < 2) { print "-"; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		if (m == 0) { print "-"; exit }
		printf "%.0f%%\n", (a[NR] - a[1]) * 100 / m
	}'
}

# col KIND TEST NAME FIELD: one figure's values, one per repetition.
col() { awk -F '\t' -v k="$1" -v t="$2" -v n="$3" -v f="$4" '$1 == k && $2 == t && $3 == n {print $f}' "$RESULTS"; }

# paired KIND TEST FIELD: the median over the repetitions of headroom's
# figure divided by nginx's in the same repetition.
paired() {
	awk -F '\t' -v k="$1" -v t="$2" -v f="$3" '$1 == k && $2 == t && $3 == "headroom" {a[$4] = $f}
		$1 == k && $2 == t && $3 == "nginx" {b[$4] = $f}
		END {for (r in a) if ((r in b) && b[r] > 0) print a[r] / b[r]}' "$RESULTS" | median
}

ratio() {
	if [ -z "$1" ] || [ -z "$2" ]; then
		echo "-"
	else
		awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'
	fi
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "" || v == "nan" || v == "-") print "-"; else printf f "\n", v }'; }
sum() { awk '{s += $1} END {print s + 0}'; }

# pair_fmt NAME KIND TEST FIELD: the paired ratio for headroom, 1.00 for
# nginx.
pair_fmt() {
	if [ "$1" = nginx ]; then
		echo 1.00
	else
		fmt "$(paired "$2" "$3" "$4")" %.2f
	fi
}

tables() {
	local test name ref v per up
	local -a tests
	if awk -F '\t' '$1 == "mem" {found = 1} END {exit !found}' "$RESULTS"; then
		ref=$(col mem h2-idle-mem nginx 9 | median)
		printf '| server | idle h2 connections (TLS 1.3) | failed | closed by the server | RSS before MiB | RSS with them MiB | KiB per connection | ×nginx | paired | spread |\n'
		printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for name in headroom nginx; do
			per=$(col mem h2-idle-mem "$name" 9 | median)
			[ -n "$per" ] || continue
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
				"$(fmt "$(col mem h2-idle-mem "$name" 5 | median)" %.0f)" "$(col mem h2-idle-mem "$name" 6 | sum)" \
				"$(col mem h2-idle-mem "$name" 10 | sum)" \
				"$(awk -v v="$(col mem h2-idle-mem "$name" 7 | median)" 'BEGIN {printf "%.1f", v / 1024}')" \
				"$(awk -v v="$(col mem h2-idle-mem "$name" 8 | median)" 'BEGIN {printf "%.1f", v / 1024}')" \
				"$(fmt "$per" %.1f)" "$(ratio "$per" "$ref")" "$(pair_fmt "$name" mem h2-idle-mem 9)" \
				"$(col mem h2-idle-mem "$name" 9 | spread)"
		done
		echo
	fi
	mapfile -t tests < <(awk -F '\t' '$1 == "req" && !seen[$2]++ {print $2}' "$RESULTS")
	if [ "${#tests[@]}" -gt 0 ]; then
		printf '| test | server | h2load -c×-m | req/s | ×nginx | CPU µs/req | ×nginx | paired | server CPU | other CPU | new upstream conns | spread req/s, CPU | errors |\n'
		printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for test in "${tests[@]}"; do
			ref=$(col req "$test" nginx 7 | median)
			v=$(col req "$test" nginx 6 | median)
			for name in headroom nginx; do
				per=$(col req "$test" "$name" 7 | median)
				[ -n "$per" ] || continue
				up=$(col req "$test" "$name" 12 | grep -v '^-$' | median || true)
				printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s | %s | %s |\n' "$test" "$name" \
					"$(col req "$test" "$name" 5 | sort -u | paste -sd/)" "$(fmt "$(col req "$test" "$name" 6 | median)" %.0f)" \
					"$(ratio "$(col req "$test" "$name" 6 | median)" "$v")" \
					"$(fmt "$per" %.2f)" "$(ratio "$per" "$ref")" "$(pair_fmt "$name" req "$test" 7)" \
					"$(fmt "$(col req "$test" "$name" 9 | median)" %.0f)" "$(fmt "$(col req "$test" "$name" 10 | median)" %.0f)" \
					"$(fmt "$up" %.0f)" \
					"$(col req "$test" "$name" 6 | spread), $(col req "$test" "$name" 7 | spread)" "$(col req "$test" "$name" 8 | sum)"
			done
		done
		echo
		printf '| test | server | protocol h2load spoke (ALPN/TLS/cipher/group) |\n'
		printf '|---|---|---|\n'
		awk -F '\t' '$1 == "req" && !seen[$2 "\t" $3 "\t" $11]++ {printf "| %s | %s | %s |\n", $2, $3, $11}' "$RESULTS"
		echo
	fi
	if awk -F '\t' '$1 == "param" {found = 1} END {exit !found}' "$RESULTS"; then
		printf '| client | server | $server_protocol $http2 $ssl_protocol $ssl_cipher |\n'
		printf '|---|---|---|\n'
		awk -F '\t' '$1 == "param" && !seen[$2 "\t" $3 "\t" $5]++ {printf "| %s | %s | %s |\n", $2, $3, $5}' "$RESULTS" | sort
	fi
}

report() {
	local cpu_model
	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $(uname -r); $cpu_model, $NCPU CPUs; ${VERSION[headroom]:-headroom skipped}, ${VERSION[nginx]:-nginx skipped}, ${VERSION[h2load]}, ${VERSION[openssl]}; median of $REPS; $IDLE idle connections; h2load -c $CLIENTS -m $STREAMS, $DURATION s after $WARMUP s warm-up; niceness $NICE"
	echo
	tables
	[ -s "$RESULTS" ] || die "nothing was measured"
}

main() {
	parse_args "$@"
	if [ -n "$REPORT_ONLY" ]; then
		[ -r "$REPORT_ONLY" ] || die "cannot read $REPORT_ONLY"
		RESULTS=$REPORT_ONLY
		tables
		return 0
	fi
	trap on_exit EXIT
	trap 'say "interrupted"; exit 130' INT TERM HUP
	check_machine
	raise_autogroup
	WORK=$(mktemp -d /tmp/headroom-h2.XXXXXX)
	RESULTS=$WORK/results.tsv
	: >"$RESULTS"
	build
	make_data
	run_all
	report
}

main "$@"
