#!/usr/bin/env bash
# Reload under load: how many requests fail while the proxy reloads its
# configuration again and again under a stream of new connections.
#
# HAProxy's documentation admits about one failed connection per reload per
# 10,000 new connections a second; nginx closes idle keep-alive connections
# at once when its old workers shut down. This script puts headroom, nginx
# and HAProxy (one worker or thread each, on core 0; HAProxy in
# master-worker mode, reloaded with SIGUSR2 as its documentation says)
# under wrk (on core 1) with both kinds of clients at once for DURATION
# seconds:
#
#   - "fresh": every request on a new connection (Connection: close), the
#     case HAProxy's figure is about;
#   - "keep-alive": long-lived connections, each sending its next request
#     as soon as the last is answered, the case nginx's shutdown races;
#
# and reloads the proxy once every INTERVAL (SIGHUP, each time with a
# configuration that really differs, so that new workers start). A failed
# request is any socket error wrk counts (connect, read, write, timeout) or
# any answer other than 200.
#
# Run "bench/reload.sh --help" for the options. Everything listens on
# 127.0.0.1 only; every process started here is stopped on exit.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=$BENCH_DIR/.bin

PROXIES=${RELOAD_PROXIES:-headroom,nginx,haproxy}
REPS=${RELOAD_REPS:-3}
DURATION=${RELOAD_DURATION:-10}
INTERVAL=${RELOAD_INTERVAL:-1}
PORT=${RELOAD_PORT:-18280}
HEADROOM_BIN=${RELOAD_HEADROOM_BIN:-}
KEEP=0

usage() {
	cat <<'EOF'
Usage: bench/reload.sh [options]

Reloads headroom, nginx and HAProxy once a second while wrk sends requests
on new connections and on keep-alive connections, and counts the failed
requests.

Options (each also settable by the environment variable shown):
  -p, --proxies LIST    comma list of headroom,nginx,haproxy
                                                      (RELOAD_PROXIES, all three)
  -r, --reps N          runs per proxy                (RELOAD_REPS, 3)
  -d, --duration SEC    length of each run            (RELOAD_DURATION, 10)
      --interval SEC    time between reloads          (RELOAD_INTERVAL, 1)
      --port N          upstream port; the proxy uses N+1 (RELOAD_PORT, 18280)
      --headroom-bin F  measure this headroom binary  (RELOAD_HEADROOM_BIN)
      --keep            keep the temporary directory
  -h, --help            this text
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "reload.sh: $*"
	exit 1
}

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-p | --proxies) PROXIES=$2; shift 2 ;;
		-r | --reps) REPS=$2; shift 2 ;;
		-d | --duration) DURATION=$2; shift 2 ;;
		--interval) INTERVAL=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=$2; shift 2 ;;
		--keep) KEEP=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
}

prepare() {
	command -v wrk >/dev/null || die "wrk not found (Debian: apt-get install wrk)"
	command -v taskset >/dev/null || die "taskset not found (Debian: apt-get install util-linux)"
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	WORK=$(mktemp -d /tmp/headroom-reload.XXXXXX)
	trap cleanup EXIT INT TERM HUP
	mkdir -p "$BIN_DIR"
	(cd "$REPO_DIR" && go build -o "$BIN_DIR/upstream" ./bench/upstream) || die "could not build bench/upstream"
	if [ -z "$HEADROOM_BIN" ]; then
		(cd "$REPO_DIR" && go build -o "$BIN_DIR/headroom" ./cmd/headroom) || die "could not build ./cmd/headroom"
		HEADROOM_BIN=$BIN_DIR/headroom
	fi
	NGINX_BIN=/usr/sbin/nginx
	HAPROXY_BIN=$(command -v haproxy || echo /usr/sbin/haproxy)
	for p in "$PORT" $((PORT + 1)); do
		port_busy "$p" && die "127.0.0.1:$p is already in use (choose another base port with --port)"
	done
	return 0
}

# proxy_conf NAME DIR GEN: one worker, keep-alive to the upstream, and a
# header that changes with every generation so that each reload is real.
proxy_conf() {
	local name=$1 dir=$2 gen=$3
	cat <<EOF
worker_processes 1;
daemon off;
pid $dir/proxy.pid;
error_log $dir/error.log notice;
events {
    worker_connections 4096;
}
http {
    access_log off;
EOF
	if [ "$name" = nginx ]; then
		nginx_temp_paths "$dir"
	fi
	cat <<EOF
    upstream backend {
        server 127.0.0.1:$PORT;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$((PORT + 1));
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Generation $gen;
        }
    }
}
EOF
}

# haproxy_conf DIR GEN: the same job for HAProxy, one thread.
haproxy_conf() {
	local dir=$1 gen=$2
	cat <<EOF
global
    master-worker
    nbthread 1
    maxconn 4096
    pidfile $dir/proxy.pid

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    http-reuse always

frontend fe
    bind 127.0.0.1:$((PORT + 1))
    http-response set-header X-Generation $gen
    default_backend be

backend be
    server up 127.0.0.1:$PORT
EOF
}

# write_conf NAME DIR GEN: the proxy's configuration of generation GEN.
write_conf() {
	if [ "$1" = haproxy ]; then
		haproxy_conf "$2" "$3" >"$2/proxy.conf"
	else
		proxy_conf "$1" "$2" "$3" >"$2/proxy.conf"
	fi
}

# wrk_errors FILE: requests, socket errors and non-2xx answers of a wrk run.
wrk_counts() {
	awk '
		/requests in/ {req = $1}
		/Socket errors:/ {gsub(/,/, ""); err = $4 + $6 + $8 + $10}
		/Non-2xx or 3xx responses:/ {non = $5}
		END {printf "%d %d %d\n", req, err + 0, non + 0}' "$1"
}

run_one() {
	local name=$1 rep=$2 dir bin pid up gen=0 fresh keep i
	dir=$WORK/$name-$rep
	mkdir -p "$dir"
	chmod 777 "$dir"
	bin=$HEADROOM_BIN
	[ "$name" = nginx ] && bin=$NGINX_BIN
	[ "$name" = haproxy ] && bin=$HAPROXY_BIN
	write_conf "$name" "$dir" "$gen"
	taskset -c 1 "$BIN_DIR/upstream" -addr "127.0.0.1:$PORT" >"$dir/upstream.log" 2>&1 &
	up=$!
	STARTED+=("$up")
	local -a args=(-p "$dir/" -c "$dir/proxy.conf")
	[ "$name" = nginx ] && args+=(-e "$dir/error.log")
	[ "$name" = haproxy ] && args=(-W -db -f "$dir/proxy.conf")
	local sig=HUP
	[ "$name" = haproxy ] && sig=USR2
	taskset -c 0 "$bin" "${args[@]}" >"$dir/stderr.log" 2>&1 &
	pid=$!
	STARTED+=("$pid")
	for ((i = 0; i < 100; i++)); do
		port_busy $((PORT + 1)) && break
		sleep 0.05
	done
	port_busy $((PORT + 1)) || die "$name did not start: $(tail -n 3 "$dir/stderr.log" "$dir/error.log" 2>/dev/null)"
	taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --timeout 5s -H "Connection: close" \
		"http://127.0.0.1:$((PORT + 1))/" >"$dir/fresh.out" 2>&1 &
	fresh=$!
	STARTED+=("$fresh")
	taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --timeout 5s \
		"http://127.0.0.1:$((PORT + 1))/" >"$dir/keep.out" 2>&1 &
	keep=$!
	STARTED+=("$keep")
	sleep 1
	local reloads=0 end=$((SECONDS + DURATION - 2))
	while [ "$SECONDS" -lt "$end" ]; do
		gen=$((gen + 1))
		write_conf "$name" "$dir" "$gen"
		kill -"$sig" "$(cat "$dir/proxy.pid")"
		reloads=$((reloads + 1))
		sleep "$INTERVAL"
	done
	wait "$fresh" "$keep" 2>/dev/null || true
	forget "$fresh"
	forget "$keep"
	stop_tree "$pid"
	forget "$pid"
	stop_tree "$up"
	forget "$up"
	local f k
	read -r -a f < <(wrk_counts "$dir/fresh.out")
	read -r -a k < <(wrk_counts "$dir/keep.out")
	printf '| %s | %d | %d | %d | %d | %d | %d | %d | %d |\n' "$name" "$rep" "$reloads" \
		"${f[0]}" $((f[0] / DURATION)) $((f[1] + f[2])) "${k[0]}" $((k[1] + k[2])) \
		$((f[1] + f[2] + k[1] + k[2]))
}

main() {
	parse_args "$@"
	prepare
	say "reload.sh: ${DURATION}s per run, a reload every ${INTERVAL}s; proxy on core 0, wrk and upstream on core 1"
	printf '| proxy | run | reloads | fresh-connection requests | new connections/s | failed | keep-alive requests | failed | failed in all |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
	local name rep
	IFS=, read -r -a names <<<"$PROXIES"
	for rep in $(seq 1 "$REPS"); do
		for name in "${names[@]}"; do
			if [ "$name" = nginx ] && [ ! -x "$NGINX_BIN" ]; then
				say "nginx: skipped: not installed (Debian: apt-get install nginx)"
				continue
			fi
			if [ "$name" = haproxy ] && [ ! -x "$HAPROXY_BIN" ]; then
				say "haproxy: skipped: not installed (Debian: apt-get install haproxy)"
				continue
			fi
			run_one "$name" "$rep"
		done
	done
}

main "$@"
