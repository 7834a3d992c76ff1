#!/usr/bin/env bash
# Benchmark headroom against nginx terminating TLS, side by side in the same
# run, both reading the same configuration text (ssl_protocols TLSv1.2
# TLSv1.3, everything else TLS at its default: session tickets on, the
# server's own key exchange groups). The tests:
#
#   mem          memory per idle TLS 1.3 keep-alive connection: N clients
#                (bench/tlshelp, crypto/tls, no resumption) each complete a
#                handshake and one GET of a 100-byte file, then stay open
#                and idle; the server's RSS (nginx: its worker's; headroom:
#                its process's) 2 s after the last one, minus its RSS
#                before, divided by N. The request and the answer are
#                small, so every record is small: the idle case of a
#                browser's connection, not of one that has just moved a
#                full 16 KB record (crypto/tls then keeps a 16 KB buffer).
#   hs13-ecdsa   server CPU per full TLS 1.3 handshake with an ECDSA P-256
#   hs13-rsa     or an RSA-2048 certificate, and the same with TLS 1.2:
#   hs12-ecdsa   M connections, at most C at a time, each of which makes
#   hs12-rsa     the handshake, one GET / (return 200 "ok"), reads the
#                answer and closes; the server's CPU time over the run
#                divided by M. It is the cost of a new connection: accept,
#                handshake, one small request, close.
#   req-return   server CPU per request over TLS keep-alive (HTTP/1.1):
#   req-1k       wrk -c 64 (OpenSSL, TLS 1.3, ECDSA certificate) against
#                return 200 "ok" and a 1 KiB static file.
#
# Before the tests each server answers /params, whose body is
# "$ssl_protocol $ssl_curve $ssl_cipher", to tlshelp (TLS 1.3 and 1.2) and
# to curl (OpenSSL, as wrk): the report shows what was negotiated.
#
# Each server runs one worker pinned to core 0; the clients (tlshelp, wrk)
# run on core 1. Each server is started afresh for every repetition and
# runs every test once in it (mem first, on the fresh process); the order
# alternates: headroom then nginx in odd repetitions, nginx then headroom
# in even ones. The report shows medians over the repetitions, ratios to
# nginx's medians, and "paired" ratios: the median of headroom's figure
# divided by nginx's in the same repetition, a few seconds apart.
#
# Run "bench/tls.sh --help" for the options. Everything listens on
# 127.0.0.1 only, every process started is stopped on exit (Ctrl-C
# included), and files are written only to bench/.bin (headroom and
# tlshelp) and a temporary directory in /tmp (certificates, configurations,
# logs, raw results), removed at exit unless --keep. The code is all
# functions run from the last line, so editing this file while it runs
# does not change the running copy.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=$BENCH_DIR/.bin

REPS=${TLS_REPS:-3}
TESTS=${TLS_TESTS:-mem,hs13-ecdsa,hs13-rsa,hs12-ecdsa,hs12-rsa,req-return,req-1k}
PROXIES=${TLS_PROXIES:-headroom,nginx}
IDLE=${TLS_IDLE:-2000}
HANDSHAKES=${TLS_HANDSHAKES:-3000}
CONCURRENCY=${TLS_CONCURRENCY:-32}
DURATION=${TLS_DURATION:-5}
WARMUP=${TLS_WARMUP:-1}
WRK_CONNS=${TLS_WRK_CONNS:-64}
PORT=${TLS_PORT:-18580}
MAX_OTHER=${TLS_MAX_OTHER:-30}
RETRIES=${TLS_RETRIES:-1}
NICE=${TLS_NICE:-0}
HEADROOM_BIN=${TLS_HEADROOM_BIN:-}
KEEP=0
REPORT_ONLY=""

usage() {
	cat <<'EOF'
Usage: bench/tls.sh [options]

Options (each also settable by the environment variable shown):
  -t, --tests LIST      comma list of mem, hs13-ecdsa, hs13-rsa, hs12-ecdsa,
                        hs12-rsa, req-return, req-1k      (TLS_TESTS, all)
  -r, --reps N          repetitions; medians are reported (TLS_REPS, 3)
  -p, --proxies LIST    comma list of headroom,nginx      (TLS_PROXIES, both)
  -n, --idle N          idle TLS 1.3 connections held in the mem test,
                        at most 4000                      (TLS_IDLE, 2000)
  -m, --handshakes M    connections per handshake test    (TLS_HANDSHAKES, 3000)
  -c, --concurrency C   handshakes in progress at a time  (TLS_CONCURRENCY, 32)
  -d, --duration SEC    measured wrk run length           (TLS_DURATION, 5)
  -w, --warmup SEC      wrk warm-up before each run       (TLS_WARMUP, 1)
      --wrk-conns N     wrk connections in the req tests  (TLS_WRK_CONNS, 64)
      --port N          the ECDSA listener; RSA is on N+1 (TLS_PORT, 18580)
      --max-other PCT   measure a CPU test again when other programs used
                        more than PCT% of one core during it; 0 never does
                                                          (TLS_MAX_OTHER, 30)
      --retries N       at most N such measurements more  (TLS_RETRIES, 1)
      --nice N          run the servers and the clients at niceness N, e.g.
                        -10 (needs root), so that other programs on a
                        shared machine disturb less; with autogroup
                        scheduling the niceness of this session's
                        autogroup is set too, and restored at exit
                                                          (TLS_NICE, 0)
      --headroom-bin F  measure this headroom binary instead of building
                        ./cmd/headroom into bench/.bin    (TLS_HEADROOM_BIN)
      --quick           -r 1 -n 500 -m 500 -d 2
      --keep            keep the temporary directory (certificates,
                        configurations, logs, raw data)
      --report FILE     only print the tables for a raw results file kept
                        by an earlier --keep run
  -h, --help            this text

Needs Linux with 2 CPUs or more, Go, openssl, wrk and taskset (Debian:
apt-get install wrk openssl util-linux); nginx (/usr/sbin/nginx, Debian:
apt-get install nginx) is measured when installed and skipped with a
message otherwise; curl, when installed, shows what an OpenSSL client
negotiates.
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "tls.sh: $*"
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
		-m | --handshakes) HANDSHAKES=$2; shift 2 ;;
		-c | --concurrency) CONCURRENCY=$2; shift 2 ;;
		-d | --duration) DURATION=$2; shift 2 ;;
		-w | --warmup) WARMUP=$2; shift 2 ;;
		--wrk-conns) WRK_CONNS=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--max-other) MAX_OTHER=$2; shift 2 ;;
		--retries) RETRIES=$2; shift 2 ;;
		--nice) NICE=$2; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=$2; shift 2 ;;
		--quick) REPS=1; IDLE=500; HANDSHAKES=500; DURATION=2; shift ;;
		--keep) KEEP=1; shift ;;
		--report) REPORT_ONLY=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done
	local v t p
	for v in "$REPS" "$IDLE" "$HANDSHAKES" "$CONCURRENCY" "$DURATION" "$WARMUP" "$WRK_CONNS" "$PORT" "$MAX_OTHER" "$RETRIES"; do
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
	[ "$HANDSHAKES" -ge 1 ] || die "--handshakes must be at least 1"
	[ "$CONCURRENCY" -ge 1 ] && [ "$CONCURRENCY" -le 1000 ] || die "--concurrency must be in 1..1000"
	[ "$DURATION" -ge 1 ] || die "--duration must be at least 1"
	[ "$WRK_CONNS" -ge 1 ] && [ "$WRK_CONNS" -le 1000 ] || die "--wrk-conns must be in 1..1000"
	if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65000 ]; then
		die "--port must be in 1024..65000"
	fi
	IFS=, read -r -a TEST_LIST <<<"$TESTS"
	IFS=, read -r -a PROXY_LIST <<<"$PROXIES"
	for t in "${TEST_LIST[@]}"; do
		case $t in mem | hs13-ecdsa | hs13-rsa | hs12-ecdsa | hs12-rsa | req-return | req-1k) ;; *) die "unknown test: $t" ;; esac
	done
	for p in "${PROXY_LIST[@]}"; do
		case $p in headroom | nginx) ;; *) die "unknown proxy: $p" ;; esac
	done
	EC_PORT=$PORT
	RSA_PORT=$((PORT + 1))
	# stop_proxy (proc.sh) waits for this port to be free.
	PROXY_PORT=$EC_PORT
}

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"

check_machine() {
	local c
	NCPU=$(nproc)
	[ "$NCPU" -ge 2 ] || die "needs at least 2 CPUs (the server and the clients run on separate cores)"
	for c in taskset wrk openssl timeout; do
		command -v "$c" >/dev/null || die "$c not found (Debian: apt-get install wrk openssl util-linux coreutils)"
	done
	# The mem test's client holds IDLE connections: raise the soft limit.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	NOFILE=$(ulimit -n)
	if [ "$NOFILE" != unlimited ] && [ "$IDLE" -gt $((NOFILE - 500)) ]; then
		die "$IDLE idle connections do not fit the open-file limit $NOFILE"
	fi
	for c in "$EC_PORT" "$RSA_PORT"; do
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
on_exit() {
	local rc=$?
	# A non-zero status must not end the handler before cleanup (set -e).
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
	command -v go >/dev/null || die "go not found: it builds bench/tlshelp"
	say "building bench/tlshelp"
	(cd "$REPO_DIR" && go build -o "$BIN_DIR/tlshelp" ./bench/tlshelp) >"$WORK/tlshelp-build.log" 2>&1 ||
		die "bench/tlshelp does not build: $(head -n 3 "$WORK/tlshelp-build.log")"
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
	VERSION[wrk]=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {print "wrk " $2}')
	VERSION[openssl]=$(openssl version | awk '{print "OpenSSL " $2}')
}

# ---------------------------------------------------------------- data

make_data() {
	say "writing the certificates (ECDSA P-256, RSA-2048) and the files (100 B, 1 KiB)"
	# Started as root, nginx runs its worker as nobody: it must reach the
	# files through the temporary directory (the master reads the keys).
	chmod 711 "$WORK"
	mkdir -p "$WORK/www" "$WORK/certs"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
		-keyout "$WORK/certs/ecdsa.key" -out "$WORK/certs/ecdsa.crt" >"$WORK/openssl.log" 2>&1 ||
		die "openssl could not make the ECDSA certificate: $(tail -n 2 "$WORK/openssl.log")"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
		-keyout "$WORK/certs/rsa.key" -out "$WORK/certs/rsa.crt" >"$WORK/openssl.log" 2>&1 ||
		die "openssl could not make the RSA certificate: $(tail -n 2 "$WORK/openssl.log")"
	head -c 100 /dev/urandom >"$WORK/www/100.bin"
	head -c 1024 /dev/urandom >"$WORK/www/1k.bin"
	chmod -R a+rX "$WORK/www"
}

# ---------------------------------------------------------------- configs

# server_block PORT KIND: one TLS server with the KIND (ecdsa, rsa)
# certificate.
server_block() {
	cat <<EOF

    server {
        listen 127.0.0.1:$1 ssl backlog=4096;
        ssl_certificate $WORK/certs/$2.crt;
        ssl_certificate_key $WORK/certs/$2.key;
        root $WORK/www;

        location = / {
            return 200 "ok";
        }
        location = /params {
            return 200 "\$ssl_protocol \$ssl_curve \$ssl_cipher\n";
        }
    }
EOF
}

# proxy_conf NAME DIR: the configuration both servers read; nginx's alone
# gets the temp paths (headroom writes none). headroom lets clients hold
# half its worker_connections, so 8192 holds the mem test's 4000 at most.
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
	server_block "$EC_PORT" ecdsa
	server_block "$RSA_PORT" rsa
	echo "}"
}

# ---------------------------------------------------------------- processes

PROXY_PID=""
PROXY_DIR=""
START_COUNT=0

# helper ARGS...: tlshelp on core 1.
helper() { taskset -c 1 nice -n "$NICE" "$BIN_DIR/tlshelp" "$@"; }

# start_proxy NAME: start the server in the foreground pinned to core 0 and
# wait until both its listeners answer GET / over TLS 1.3.
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
		if [ "$(timeout 5 "$BIN_DIR/tlshelp" get -addr "127.0.0.1:$EC_PORT" -timeout 2s 2>/dev/null)" = ok ] &&
			[ "$(timeout 5 "$BIN_DIR/tlshelp" get -addr "127.0.0.1:$RSA_PORT" -timeout 2s 2>/dev/null)" = ok ]; then
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
	die "$name does not answer GET / over TLS on 127.0.0.1:$EC_PORT and :$RSA_PORT within 10 s"
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

# record_params NAME REP: what the server says was negotiated, to tlshelp
# over TLS 1.3 and 1.2 and to curl, on both listeners.
record_params() {
	local name=$1 rep=$2 kind port v text
	for kind in ecdsa rsa; do
		port=$EC_PORT
		[ "$kind" = ecdsa ] || port=$RSA_PORT
		for v in 1.3 1.2; do
			text=$(timeout 10 "$BIN_DIR/tlshelp" get -addr "127.0.0.1:$port" -path /params -tls "$v" 2>&1 | head -n 1) || true
			printf 'param\t%s\t%s\t%s\t%s\n' "tlshelp-$v-$kind" "$name" "$rep" "$text" >>"$RESULTS"
		done
		if command -v curl >/dev/null; then
			text=$(curl -sk --max-time 5 "https://127.0.0.1:$port/params" 2>&1 | head -n 1) || true
			printf 'param\t%s\t%s\t%s\t%s\n' "curl-$kind" "$name" "$rep" "$text" >>"$RESULTS"
		fi
	done
}

# measure_mem NAME REP: RSS growth of the server per idle TLS 1.3
# connection.
measure_mem() {
	local name=$1 rep=$2 pid line before after opened failed done_line closed per i
	local -a pids
	# A few handshakes first, so that what the first ones allocate once
	# (and keep) is in the figure before.
	helper handshakes -addr "127.0.0.1:$EC_PORT" -path /100.bin -n 100 -c 8 >/dev/null 2>&1 || true
	sleep 1
	mapfile -t pids < <(mem_pids "$name")
	before=$(rss_kb "${pids[@]}")
	taskset -c 1 nice -n "$NICE" "$BIN_DIR/tlshelp" hold -addr "127.0.0.1:$EC_PORT" -path /100.bin -n "$IDLE" \
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
		say "  $name mem: the connections were not open within 90 s: $(head -n 2 "$WORK/hold.err")"
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
		say "  $name mem: $failed of $IDLE connections failed ($(head -n 1 "$WORK/hold.err"))"
	fi
	[ "${opened:-0}" -gt 0 ] || return 0
	per=$(awk -v a="$after" -v b="$before" -v n="$opened" 'BEGIN {printf "%.2f", (a - b) / n}')
	printf 'mem\tmem\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rep" "$opened" "${failed:-0}" "$before" "$after" "$per" "${closed:-0}" >>"$RESULTS"
	say "  $name mem: $opened TLS 1.3 connections held ($failed failed, ${closed:-0} closed by the server meanwhile), RSS $before -> $after KiB, $per KiB per connection; ${line#READY }"
	# Give the server time to close them before the next test.
	sleep 1
}

# cpu_run LOG CMD...: run the client CMD in the background and measure the
# server's CPU over it. Sets RUN_TICKS (the server's), RUN_SECONDS and
# RUN_OTHER (percent of one core the rest of the machine used); returns the
# client's status.
cpu_run() {
	local log=$1 t0 t1 b0 b1 k0 k1 r0 r1 rc=0
	local -a tree
	shift
	mapfile -t tree < <(descendants "$PROXY_PID")
	b0=$(busy_ticks)
	children_ticks k0
	t0=$(cpu_ticks "${tree[@]}")
	r0=$EPOCHREALTIME
	run_bg "$log" "$@" || rc=$?
	t1=$(cpu_ticks "${tree[@]}")
	r1=$EPOCHREALTIME
	children_ticks k1
	b1=$(busy_ticks)
	RUN_TICKS=$((t1 - t0))
	RUN_SECONDS=$(awk -v a="$r0" -v b="$r1" 'BEGIN {printf "%.3f", b - a}')
	RUN_OTHER=$(awk -v d="$(((b1 - b0) - (t1 - t0) - (k1 - k0)))" -v hz="$CLK_TCK" -v s="$RUN_SECONDS" \
		'BEGIN {v = d * 100 / hz / s; if (v < 0) v = 0; printf "%.0f", v}')
	return "$rc"
}

# test_params TEST: sets HS_PORT and HS_TLS for the handshake tests,
# URL_PATH for the request tests.
test_params() {
	case $1 in
	hs13-ecdsa) HS_PORT=$EC_PORT HS_TLS=1.3 ;;
	hs13-rsa) HS_PORT=$RSA_PORT HS_TLS=1.3 ;;
	hs12-ecdsa) HS_PORT=$EC_PORT HS_TLS=1.2 ;;
	hs12-rsa) HS_PORT=$RSA_PORT HS_TLS=1.2 ;;
	req-return) URL_PATH=/ ;;
	req-1k) URL_PATH=/1k.bin ;;
	esac
}

# measure_hs TEST NAME REP: server CPU per new connection (full handshake,
# one request, close). Sets RECORD and OTHER.
measure_hs() {
	local test=$1 name=$2 rep=$3 log=$WORK/hs.out line ok failed rate group us pct
	RECORD="" OTHER=""
	if ! cpu_run "$log" timeout -k 5 300 taskset -c 1 nice -n "$NICE" "$BIN_DIR/tlshelp" handshakes \
		-addr "127.0.0.1:$HS_PORT" -tls "$HS_TLS" -n "$HANDSHAKES" -c "$CONCURRENCY" -timeout 10s; then
		say "  $name $test: tlshelp failed: $(tail -n 2 "$log" | tr '\n' ' ')"
		return 0
	fi
	line=$(grep '^DONE' "$log" || true)
	ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
	failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
	rate=$(sed -n 's/.*per_second=\([0-9]*\).*/\1/p' <<<"$line")
	group=$(sed -n 's/.*group=\([^ ]*\).*/\1/p' <<<"$line")
	if [ "${failed:-0}" -gt 0 ]; then
		say "  $name $test: $failed of $HANDSHAKES connections failed: $(grep -v '^DONE' "$log" | head -n 1)"
	fi
	[ "${ok:-0}" -gt 0 ] || return 0
	us=$(awk -v d="$RUN_TICKS" -v hz="$CLK_TCK" -v n="$ok" 'BEGIN {printf "%.1f", d * 1e6 / hz / n}')
	pct=$(awk -v d="$RUN_TICKS" -v hz="$CLK_TCK" -v s="$RUN_SECONDS" 'BEGIN {printf "%.0f", d * 100 / hz / s}')
	OTHER=$RUN_OTHER
	RECORD=$(printf 'hs\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$test" "$name" "$rep" "$ok" "${failed:-0}" "$us" "$rate" "$pct" "$OTHER" "$group")
	say "  $name $test: $ok connections ($failed failed), $rate/s, $us us server CPU each, server CPU $pct%, other CPU $OTHER%; ${line#DONE }"
}

# parse_wrk LOG: prints "rps requests errors".
parse_wrk() {
	awk '
	/requests in/ { req = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx responses:/ { err += $NF }
	END {
		if (req == "" || rps == "") exit 1
		printf "%s %s %d\n", rps, req, err
	}' "$1"
}

# measure_req TEST NAME REP: a warm-up and a measured wrk run over TLS
# keep-alive. Sets RECORD and OTHER.
measure_req() {
	local test=$1 name=$2 rep=$3 log=$WORK/wrk.out parsed rps req errs us pct
	local url="https://127.0.0.1:$EC_PORT$URL_PATH"
	RECORD="" OTHER=""
	if [ "$WARMUP" -gt 0 ]; then
		run_bg "$log" timeout -k 5 $((WARMUP + 30)) taskset -c 1 nice -n "$NICE" \
			wrk -t1 -c"$WRK_CONNS" -d"$WARMUP"s --timeout 5s "$url" || true
	fi
	if ! cpu_run "$log" timeout -k 5 $((DURATION + 30)) taskset -c 1 nice -n "$NICE" \
		wrk -t1 -c"$WRK_CONNS" -d"$DURATION"s --timeout 5s "$url"; then
		say "  $name $test: wrk failed: $(tail -n 2 "$log" | tr '\n' ' ')"
		return 0
	fi
	if ! parsed=$(parse_wrk "$log"); then
		say "  $name $test: could not read wrk's output"
		return 0
	fi
	read -r rps req errs <<<"$parsed"
	if [ "$req" -eq 0 ]; then
		say "  $name $test: no request completed"
		return 0
	fi
	if [ "$errs" -gt 0 ]; then
		say "  $name $test: wrk counted $errs errors: $(grep -E 'Socket errors|Non-2xx' "$log" | tr '\n' ' ')"
	fi
	us=$(awk -v d="$RUN_TICKS" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}')
	pct=$(awk -v d="$RUN_TICKS" -v hz="$CLK_TCK" -v s="$RUN_SECONDS" 'BEGIN {printf "%.0f", d * 100 / hz / s}')
	OTHER=$RUN_OTHER
	RECORD=$(printf 'req\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$test" "$name" "$rep" "$WRK_CONNS" "$rps" "$us" "$errs" "$pct" "$OTHER")
	say "  $name $test c=$WRK_CONNS: $rps req/s, $us us/req, server CPU $pct%, other CPU $OTHER%, errors $errs"
}

# measure_cpu TEST NAME REP: a CPU test, measured again (RETRIES times at
# most) while other programs used more than MAX_OTHER% of a core; the least
# disturbed measurement is kept.
measure_cpu() {
	local test=$1 name=$2 rep=$3 attempt best="" best_other=""
	test_params "$test"
	for ((attempt = 0; attempt <= RETRIES; attempt++)); do
		case $test in
		hs*) measure_hs "$test" "$name" "$rep" ;;
		req*) measure_req "$test" "$name" "$rep" ;;
		esac
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
				mem) measure_mem "$name" "$rep" ;;
				*) measure_cpu "$test" "$name" "$rep" ;;
				esac
				if ! alive "$PROXY_PID"; then
					say "  $name is no longer running after $test"
					log_problems "$name"
					die "$name exited during the run; its logs are in $PROXY_DIR (use --keep to keep them)"
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

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf f "\n", v }'; }
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
	local test name ref v per
	local -a tests
	if awk -F '\t' '$1 == "mem" {found = 1} END {exit !found}' "$RESULTS"; then
		ref=$(col mem mem nginx 9 | median)
		printf '| server | idle TLS 1.3 connections | failed | closed by the server | RSS before MiB | RSS with them MiB | KiB per connection | ×nginx | paired | spread |\n'
		printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for name in headroom nginx; do
			per=$(col mem mem "$name" 9 | median)
			[ -n "$per" ] || continue
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
				"$(fmt "$(col mem mem "$name" 5 | median)" %.0f)" "$(col mem mem "$name" 6 | sum)" "$(col mem mem "$name" 10 | sum)" \
				"$(awk -v v="$(col mem mem "$name" 7 | median)" 'BEGIN {printf "%.1f", v / 1024}')" \
				"$(awk -v v="$(col mem mem "$name" 8 | median)" 'BEGIN {printf "%.1f", v / 1024}')" \
				"$(fmt "$per" %.1f)" "$(ratio "$per" "$ref")" "$(pair_fmt "$name" mem mem 9)" "$(col mem mem "$name" 9 | spread)"
		done
		echo
	fi
	mapfile -t tests < <(awk -F '\t' '$1 == "hs" && !seen[$2]++ {print $2}' "$RESULTS")
	if [ "${#tests[@]}" -gt 0 ]; then
		printf '| test | server | connections | failed | group | conns/s | server CPU µs/conn | ×nginx | paired | server CPU | other CPU | spread |\n'
		printf '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n'
		for test in "${tests[@]}"; do
			ref=$(col hs "$test" nginx 7 | median)
			for name in headroom nginx; do
				v=$(col hs "$test" "$name" 7 | median)
				[ -n "$v" ] || continue
				printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s |\n' "$test" "$name" \
					"$(fmt "$(col hs "$test" "$name" 5 | median)" %.0f)" "$(col hs "$test" "$name" 6 | sum)" \
					"$(col hs "$test" "$name" 11 | sort -u | paste -sd/)" \
					"$(fmt "$(col hs "$test" "$name" 8 | median)" %.0f)" "$(fmt "$v" %.0f)" "$(ratio "$v" "$ref")" \
					"$(pair_fmt "$name" hs "$test" 7)" "$(fmt "$(col hs "$test" "$name" 9 | median)" %.0f)" \
					"$(fmt "$(col hs "$test" "$name" 10 | median)" %.0f)" "$(col hs "$test" "$name" 7 | spread)"
			done
		done
		echo
	fi
	mapfile -t tests < <(awk -F '\t' '$1 == "req" && !seen[$2]++ {print $2}' "$RESULTS")
	if [ "${#tests[@]}" -gt 0 ]; then
		printf '| test | server | wrk conns | req/s | ×nginx | CPU µs/req | ×nginx | paired | server CPU | other CPU | spread req/s, CPU | errors |\n'
		printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for test in "${tests[@]}"; do
			ref=$(col req "$test" nginx 7 | median)
			v=$(col req "$test" nginx 6 | median)
			for name in headroom nginx; do
				per=$(col req "$test" "$name" 7 | median)
				[ -n "$per" ] || continue
				printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s | %s |\n' "$test" "$name" \
					"$(col req "$test" "$name" 5 | median)" "$(fmt "$(col req "$test" "$name" 6 | median)" %.0f)" \
					"$(ratio "$(col req "$test" "$name" 6 | median)" "$v")" \
					"$(fmt "$per" %.2f)" "$(ratio "$per" "$ref")" "$(pair_fmt "$name" req "$test" 7)" \
					"$(fmt "$(col req "$test" "$name" 9 | median)" %.0f)" "$(fmt "$(col req "$test" "$name" 10 | median)" %.0f)" \
					"$(col req "$test" "$name" 6 | spread), $(col req "$test" "$name" 7 | spread)" "$(col req "$test" "$name" 8 | sum)"
			done
		done
		echo
	fi
	if awk -F '\t' '$1 == "param" {found = 1} END {exit !found}' "$RESULTS"; then
		printf '| client, TLS, certificate | server | $ssl_protocol $ssl_curve $ssl_cipher |\n'
		printf '|---|---|---|\n'
		awk -F '\t' '$1 == "param" && !seen[$2 "\t" $3 "\t" $5]++ {printf "| %s | %s | %s |\n", $2, $3, $5}' "$RESULTS" | sort
	fi
}

report() {
	local cpu_model
	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $(uname -r); $cpu_model, $NCPU CPUs; ${VERSION[headroom]:-headroom skipped}, ${VERSION[nginx]:-nginx skipped}, ${VERSION[wrk]}, ${VERSION[openssl]}; median of $REPS; $IDLE idle connections; $HANDSHAKES connections per handshake test, $CONCURRENCY at a time; wrk -c $WRK_CONNS, $DURATION s after $WARMUP s warm-up; niceness $NICE"
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
	WORK=$(mktemp -d /tmp/headroom-tls.XXXXXX)
	RESULTS=$WORK/results.tsv
	: >"$RESULTS"
	build
	make_data
	run_all
	report
}

main "$@"
