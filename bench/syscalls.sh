#!/usr/bin/env bash
# Count the system calls each proxy makes per request, headroom against
# nginx (and HAProxy) doing the same job, with strace -c -f attached to the
# proxy's worker (all its threads: the Go runtime's monitor and idle
# threads count too) while wrk loads it:
#
#   ka      keep-alive on both sides (upstream "keepalive 64"), 64 connections
#   close   a new client connection per request (wrk sends
#           "Connection: close"), upstream keep-alive, 32 connections
#   noka    a new upstream connection per request (nginx's default HTTP/1.0
#           proxying, no "keepalive"), client keep-alive, 64 connections
#   static  a 1 KiB file, keep-alive, sendfile on, 8 connections
#
# strace slows every traced server alike, so the figures are counts, not
# speeds: calls per request, by name, and their total. docs/architecture.md
# quotes them as the worker's budget; nginx's sequence is the reference.
#
# Each proxy runs one worker pinned to core 0; wrk and the upstream
# (bench/upstream) run on core 1. Everything listens on 127.0.0.1 only,
# every process started is stopped on exit, and files are written only to a
# temporary directory in /tmp, removed at exit unless --keep. Needs strace,
# wrk, taskset and Go; nginx and HAProxy are measured where installed.
#
# The code is all functions run from the last line, so editing this file
# while it runs does not change the running copy.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

DURATION=${SYSCALLS_DURATION:-3}
PROXIES=${SYSCALLS_PROXIES:-headroom,nginx}
MODES=${SYSCALLS_MODES:-ka,close,noka,static}
PORT=${SYSCALLS_PORT:-18680}
HEADROOM_BIN=${SYSCALLS_HEADROOM_BIN:-}
KEEP=0

usage() {
	cat <<EOF
Usage: bench/syscalls.sh [options]

Counts the system calls per request of headroom, nginx and HAProxy under the
same load (strace -c -f on the worker, wrk for a few seconds) and prints one
table per mode: calls per request by name, and the total.

Options (each also settable by the environment variable shown):
  -p, --proxies LIST    comma list of headroom,nginx,haproxy
                                                 (SYSCALLS_PROXIES, headroom,nginx)
  -m, --modes LIST      comma list of ka,close,noka,static
                                                 (SYSCALLS_MODES, all four)
  -d, --duration S      seconds of traced load   (SYSCALLS_DURATION, 3)
      --port N          upstream port; the proxy uses N+1
                                                 (SYSCALLS_PORT, 18680)
      --headroom-bin F  trace this headroom binary instead of building
                        ./cmd/headroom           (SYSCALLS_HEADROOM_BIN)
      --keep            keep the temporary directory
  -h, --help            this text

HAProxy has no static mode. One run of the defaults takes about a minute.
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "syscalls.sh: $*"
	exit 1
}

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-p | --proxies) PROXIES=$2; shift 2 ;;
		-m | --modes) MODES=$2; shift 2 ;;
		-d | --duration) DURATION=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=$2; shift 2 ;;
		--keep) KEEP=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (--help lists them)" ;;
		esac
	done
	[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "not a whole number of seconds: $DURATION"
	IFS=, read -r -a PROXY_LIST <<<"$PROXIES"
	IFS=, read -r -a MODE_LIST <<<"$MODES"
	local p m
	for p in "${PROXY_LIST[@]}"; do
		case $p in headroom | nginx | haproxy) ;; *) die "unknown proxy: $p" ;; esac
	done
	for m in "${MODE_LIST[@]}"; do
		case $m in ka | close | noka | static) ;; *) die "unknown mode: $m" ;; esac
	done
	PROXY_PORT=$((PORT + 1))
}

setup() {
	local t
	for t in strace wrk taskset go; do
		command -v "$t" >/dev/null || die "$t is not installed"
	done
	WORK=$(mktemp -d /tmp/headroom-syscalls.XXXXXX)
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	if [ -z "$HEADROOM_BIN" ]; then
		(cd "$REPO_DIR" && go build -o "$WORK/headroom" ./cmd/headroom) || die "cannot build headroom"
		HEADROOM_BIN=$WORK/headroom
	fi
	(cd "$REPO_DIR" && go build -o "$WORK/upstream" ./bench/upstream) || die "cannot build bench/upstream"
	mkdir -p "$WORK/www"
	head -c 1024 /dev/zero | tr '\0' x >"$WORK/www/1k.txt"
	declare -gA VERSION=() SKIP=()
	local p
	for p in nginx haproxy; do
		find_installed "$p"
	done
	port_busy "$PORT" && die "127.0.0.1:$PORT is in use"
	port_busy "$PROXY_PORT" && die "127.0.0.1:$PROXY_PORT is in use"
	taskset -c 1 "$WORK/upstream" -addr "127.0.0.1:$PORT" >"$WORK/upstream.log" 2>&1 &
	STARTED+=("$!")
	local i
	for ((i = 0; i < 50; i++)); do
		port_busy "$PORT" && return 0
		sleep 0.1
	done
	die "the upstream did not start"
}

# nginx_conf MODE DIR: the configuration nginx and headroom both read.
nginx_conf() {
	local mode=$1 dir=$2 ka="" px="" loc
	if [ "$mode" = ka ] || [ "$mode" = close ]; then
		ka="keepalive 64;"
		px='proxy_http_version 1.1; proxy_set_header Connection "";'
	fi
	loc="proxy_pass http://u; $px"
	[ "$mode" = static ] && loc="root $WORK/www; sendfile on;"
	cat <<EOF
worker_processes 1;
error_log $dir/error.log;
pid $dir/proxy.pid;
events { worker_connections 4096; }
http {
$(nginx_temp_paths "$dir")
    access_log off;
    upstream u { server 127.0.0.1:$PORT; $ka }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / { $loc }
    }
}
EOF
}

haproxy_conf() {
	local mode=$1 extra="http-reuse always"
	[ "$mode" = noka ] && extra=$'http-reuse never\n    option http-server-close'
	cat <<EOF
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend f
    bind 127.0.0.1:$PROXY_PORT
    default_backend b
backend b
    $extra
    server s1 127.0.0.1:$PORT
EOF
}

# start_proxy PROXY MODE DIR: start it on core 0; sets PROXY_PID and
# TRACE_PID (the process whose threads are traced: nginx's worker).
start_proxy() {
	local proxy=$1 mode=$2 dir=$3 i
	mkdir -p "$dir"
	case $proxy in
	headroom)
		nginx_conf "$mode" "$dir" | grep -v '_temp_path' >"$dir/proxy.conf"
		taskset -c 0 "$HEADROOM_BIN" -p "$dir" -c "$dir/proxy.conf" -g 'daemon off;' >"$dir/out.log" 2>&1 &
		;;
	nginx)
		nginx_conf "$mode" "$dir" >"$dir/proxy.conf"
		taskset -c 0 nginx -p "$dir" -c "$dir/proxy.conf" -g 'daemon off;' >"$dir/out.log" 2>&1 &
		;;
	haproxy)
		haproxy_conf "$mode" >"$dir/proxy.conf"
		taskset -c 0 haproxy -f "$dir/proxy.conf" -db >"$dir/out.log" 2>&1 &
		;;
	esac
	PROXY_PID=$!
	STARTED+=("$PROXY_PID")
	for ((i = 0; i < 50; i++)); do
		port_busy "$PROXY_PORT" && break
		sleep 0.1
	done
	port_busy "$PROXY_PORT" || die "$proxy did not start ($dir/out.log)"
	TRACE_PID=$PROXY_PID
	if [ "$proxy" = nginx ]; then
		TRACE_PID=$(cat "/proc/$PROXY_PID/task/$PROXY_PID/children" | awk '{print $1}')
		[ -n "$TRACE_PID" ] || die "nginx has no worker"
	fi
}

# measure PROXY MODE: trace the proxy under load; writes DIR/calls.tsv
# (name, calls per request).
measure() {
	local proxy=$1 mode=$2 dir=$WORK/$1-$2 conns=64 url sp reqs
	local -a hdr=()
	url=http://127.0.0.1:$PROXY_PORT/
	case $mode in
	close) conns=32; hdr=(-H "Connection: close") ;;
	static) conns=8; url=${url}1k.txt ;;
	esac
	start_proxy "$proxy" "$mode" "$dir"
	taskset -c 1 wrk -t1 -c"$conns" -d1s "${hdr[@]}" "$url" >"$dir/warmup.txt" 2>&1
	strace -c -f -p "$TRACE_PID" -o "$dir/strace.txt" 2>"$dir/strace.err" &
	sp=$!
	STARTED+=("$sp")
	sleep 0.5
	taskset -c 1 wrk -t1 -c"$conns" -d"${DURATION}s" "${hdr[@]}" "$url" >"$dir/wrk.txt" 2>&1
	kill -INT "$sp" 2>/dev/null || true
	wait "$sp" 2>/dev/null || true
	forget "$sp"
	stop_proxy
	reqs=$(awk '/requests in/ {print $1}' "$dir/wrk.txt")
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || die "wrk made no requests against $proxy ($dir/wrk.txt)"
	# strace -c: "% time seconds usecs/call calls [errors] syscall".
	awk -v r="$reqs" 'NR > 2 && $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {printf "%s\t%.2f\n", $NF, $4 / r}' \
		"$dir/strace.txt" >"$dir/calls.tsv"
	say "  $proxy $mode: $reqs requests traced"
}

report_mode() {
	local mode=$1 p name
	local -a shown=()
	for p in "${PROXY_LIST[@]}"; do
		[ -f "$WORK/$p-$mode/calls.tsv" ] && shown+=("$p")
	done
	[ "${#shown[@]}" -gt 0 ] || return 0
	printf '\n**%s** (system calls per request)\n\n| call |' "$mode"
	for p in "${shown[@]}"; do printf ' %s |' "$p"; done
	printf '\n|---|'
	for p in "${shown[@]}"; do printf -- '---:|'; done
	printf '\n'
	# Names by their largest count over the proxies, then each proxy's count.
	for p in "${shown[@]}"; do cat "$WORK/$p-$mode/calls.tsv"; done |
		awk -F'\t' '{if ($2 > m[$1]) m[$1] = $2} END {for (n in m) if (m[n] >= 0.01) printf "%s\t%s\n", m[n], n}' |
		sort -k1,1nr | cut -f2 | while read -r name; do
		printf '| %s |' "$name"
		for p in "${shown[@]}"; do
			printf ' %s |' "$(awk -F'\t' -v n="$name" '$1 == n {v = $2} END {print (v == "" ? "–" : v)}' "$WORK/$p-$mode/calls.tsv")"
		done
		printf '\n'
	done
	printf '| **total** |'
	for p in "${shown[@]}"; do
		printf ' **%s** |' "$(awk -F'\t' '{s += $2} END {printf "%.2f", s}' "$WORK/$p-$mode/calls.tsv")"
	done
	printf '\n'
}

main() {
	parse_args "$@"
	setup
	local mode p
	printf '%s; %s; strace -c -f on the worker, %s s of wrk per proxy and mode\n' \
		"$(date -u '+%Y-%m-%d %H:%M UTC')" "$(uname -sr)" "$DURATION"
	for mode in "${MODE_LIST[@]}"; do
		for p in "${PROXY_LIST[@]}"; do
			if [ "$p" != headroom ] && [ -n "${SKIP[$p]:-}" ]; then
				say "  $p: ${SKIP[$p]}"
				continue
			fi
			[ "$p" = haproxy ] && [ "$mode" = static ] && continue
			measure "$p" "$mode"
		done
		report_mode "$mode"
	done
}

main "$@"
