#!/usr/bin/env bash
# Benchmark headroom against nginx and HAProxy doing the same job: proxy every
# request to one fast local upstream, by default with keep-alive on both sides
# (other ways of using the proxy: the modes below). For each proxy it reports
# requests/s, the proxy's CPU time per request, p99 latency and the memory each
# idle keep-alive client connection costs, as medians over several
# repetitions and as ratios to nginx's figures from the same run.
#
# Run "bench/run.sh --help" for the options. Everything listens on 127.0.0.1
# only; every load is bounded in time; every process started here is stopped
# on exit, Ctrl-C included. Files are written only under bench/.bin (binaries)
# and a temporary directory in /tmp that is removed at exit (unless --keep),
# plus docs/benchmarks.md with --append.
#
# Modes (-m): how clients and the proxy use their connections.
#   ka     clients keep their connections alive and the proxy keeps idle
#          upstream connections in a pool ("keepalive 64" in the upstream
#          block, proxy_http_version 1.1, Connection ""; HAProxy
#          "http-reuse always"). The default, and the only mode before -m.
#   close  a new client connection per request: wrk sends
#          "Connection: close", so the proxy answers, closes and accepts
#          again for every request; upstream connections as in ka.
#   noka   a new upstream connection per request: nginx's default HTTP/1.0
#          proxying, which most configurations use (no "keepalive" in the
#          upstream block, no proxy_http_version or Connection lines), with
#          client keep-alive. HAProxy: "option http-server-close" (the server
#          connection is closed after each response, client keep-alive
#          stays) and "http-reuse never" (no idle server connection is
#          shared).
# ka measures every worker count of -W and connection count of -c (1,2 and
# 64,1000 by default). close and noka measure one worker with 32 (close) or 64
# (noka) wrk connections, one point each, since opening a connection per
# request costs the same at any concurrency; a -c or -W given on the command
# line (or BENCH_CONNS, BENCH_WORKERS) applies to them too. Each mode gets its
# own table, with the same columns; the memory per idle connection is
# measured once per proxy, worker count and repetition, in the first mode of
# the list that runs that worker count. In close mode a connect() that fails
# in wrk (no free local port, for instance) takes that connection out of the
# run for good: wrk does not retry it. The script warns after such a run, the
# errors column shows the connect errors separately ("5 (connect 5)"), and a
# note under the mode's table says that fewer connections loaded the proxy.
#
# Each repetition starts every proxy afresh for every mode and worker count;
# the order of the proxies rotates from one repetition to the next (rep 1:
# headroom, nginx, haproxy; rep 2: nginx, haproxy, headroom; ...), so that
# the runs of different proxies alternate and none always runs first.
#
# All the code is in functions and runs from the last line, so that editing
# this file while it runs does not change what the running copy does.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=$BENCH_DIR/.bin

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
REPS=${BENCH_REPS:-3}
PROXIES=${BENCH_PROXIES:-headroom,nginx,haproxy}
CONNS=${BENCH_CONNS:-64,1000}
WORKERS=${BENCH_WORKERS:-1,2}
MODES=${BENCH_MODES:-ka}
# Whether -c / -W were given: close and noka then use them too.
CONNS_SET=0
WORKERS_SET=0
[ -z "${BENCH_CONNS:-}" ] || CONNS_SET=1
[ -z "${BENCH_WORKERS:-}" ] || WORKERS_SET=1
IDLE=${BENCH_IDLE:-9000}
PORT=${BENCH_PORT:-18080}
KEEPALIVE=${BENCH_KEEPALIVE:-64}
QUIET_WAIT=${BENCH_QUIET_WAIT:-0}
MAX_OTHER=${BENCH_MAX_OTHER:-30}
HEADROOM_BIN=${BENCH_HEADROOM_BIN:-}
NICE=${BENCH_NICE:-0}
APPEND=0
KEEP=0
REPORT_ONLY=""

# How many times a measured run is repeated when other programs disturbed it.
RETRIES=1
BODY=$'hello world\n'

usage() {
	cat <<'EOF'
Usage: bench/run.sh [options]

Options (each also settable by the environment variable shown):
  -d, --duration SEC    measured wrk run length            (BENCH_DURATION, 10)
  -w, --warmup SEC      wrk warm-up before each run        (BENCH_WARMUP, 2)
  -r, --reps N          repetitions; medians are reported  (BENCH_REPS, 3)
  -p, --proxies LIST    comma list of headroom,nginx,haproxy
                                                           (BENCH_PROXIES, all three)
  -m, --modes LIST      comma list of ka, close, noka      (BENCH_MODES, ka)
                          ka     client keep-alive, upstream keep-alive
                                 pool ("keepalive N"; HAProxy http-reuse
                                 always)
                          close  a new client connection per request (wrk
                                 -H "Connection: close"); upstream as in ka
                          noka   a new upstream connection per request:
                                 nginx's default HTTP/1.0 proxying, no
                                 "keepalive" (HAProxy: option
                                 http-server-close, http-reuse never);
                                 client keep-alive
                        ka runs every -c and -W; close runs 1 worker with 32
                        connections and noka 1 worker with 64, unless -c or
                        -W is given (then they use those). One table per mode.
  -c, --conns LIST      wrk connection counts              (BENCH_CONNS, 64,1000)
  -W, --workers LIST    worker counts, 1 and/or 2          (BENCH_WORKERS, 1,2)
  -i, --idle N          idle keep-alive connections for the memory figure;
                        0 skips it                         (BENCH_IDLE, 9000)
      --port N          upstream port; the proxy uses N+1  (BENCH_PORT, 18080)
      --keepalive N     nginx/headroom "keepalive N" in the upstream block
                                                           (BENCH_KEEPALIVE, 64)
      --max-other PCT   measure a run once more when programs other
                        than the benchmark's used more than PCT% of one core
                        during it; 0 never does             (BENCH_MAX_OTHER, 30)
      --quiet-wait SEC  before each proxy start, wait up to SEC s for other
                        programs to leave the CPU idle     (BENCH_QUIET_WAIT, 0)
      --nice N          run the proxy, upstream and clients at niceness N,
                        e.g. -10 (needs root), so that other programs on a
                        shared machine disturb less        (BENCH_NICE, 0)
      --headroom-bin F  measure this headroom binary instead of building
                        ./cmd/headroom                     (BENCH_HEADROOM_BIN)
      --quick           -d 3 -w 1 -r 1 (about a minute)
      --append          also append the tables to docs/benchmarks.md
      --keep            keep the temporary directory (configs, logs, raw data)
      --report FILE     only print the tables for a raw results file kept
                        by an earlier --keep run
  -h, --help            this text

Needs wrk and taskset; nginx and HAProxy are benchmarked when installed
(Debian: apt-get install wrk nginx haproxy). headroom is built from
./cmd/headroom and skipped with a message while it does not build or serve.
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "run.sh: $*"
	exit 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-d | --duration) DURATION=$2; shift 2 ;;
		-w | --warmup) WARMUP=$2; shift 2 ;;
		-r | --reps) REPS=$2; shift 2 ;;
		-p | --proxies) PROXIES=$2; shift 2 ;;
		-m | --modes) MODES=$2; shift 2 ;;
		-c | --conns) CONNS=$2; CONNS_SET=1; shift 2 ;;
		-W | --workers) WORKERS=$2; WORKERS_SET=1; shift 2 ;;
		-i | --idle) IDLE=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--keepalive) KEEPALIVE=$2; shift 2 ;;
		--max-other) MAX_OTHER=$2; shift 2 ;;
		--quiet-wait) QUIET_WAIT=$2; shift 2 ;;
		--nice) NICE=$2; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=$2; shift 2 ;;
		--quick) DURATION=3; WARMUP=1; REPS=1; shift ;;
		--append) APPEND=1; shift ;;
		--keep) KEEP=1; shift ;;
		--report) REPORT_ONLY=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done

	local v c w p m
	for v in "$DURATION" "$WARMUP" "$REPS" "$IDLE" "$PORT" "$KEEPALIVE" "$QUIET_WAIT" "$MAX_OTHER"; do
		is_uint "$v" || die "not a whole number: $v"
	done
	[ "$DURATION" -ge 1 ] || die "--duration must be at least 1"
	[ "$REPS" -ge 1 ] || die "--reps must be at least 1"
	if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
		die "--nice must be in -20..19"
	fi
	if [ "$NICE" -lt 0 ] && [ "$(nice -n "$NICE" nice 2>/dev/null)" != "$(($(nice) + NICE))" ]; then
		die "--nice $NICE needs the right to raise priority (root)"
	fi
	if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65000 ]; then
		die "--port must be in 1024..65000"
	fi
	IFS=, read -r -a CONN_LIST <<<"$CONNS"
	IFS=, read -r -a WORKER_LIST <<<"$WORKERS"
	IFS=, read -r -a PROXY_LIST <<<"$PROXIES"
	IFS=, read -r -a MODE_LIST <<<"$MODES"
	[ "${#MODE_LIST[@]}" -gt 0 ] || die "--modes needs at least one of ka, close, noka"
	for m in "${MODE_LIST[@]}"; do
		case $m in ka | close | noka) ;; *) die "unknown mode: $m (ka, close or noka)" ;; esac
		[ "$(printf '%s\n' "${MODE_LIST[@]}" | grep -cx "$m")" = 1 ] || die "mode $m is listed twice"
	done
	for c in "${CONN_LIST[@]}"; do
		if ! is_uint "$c" || [ "$c" -lt 1 ]; then
			die "bad connection count: $c"
		fi
	done
	for w in "${WORKER_LIST[@]}"; do
		[ "$w" = 1 ] || [ "$w" = 2 ] || die "worker counts must be 1 or 2, not $w"
	done
	for p in "${PROXY_LIST[@]}"; do
		case $p in headroom | nginx | haproxy) ;; *) die "unknown proxy: $p" ;; esac
	done
	UPSTREAM_PORT=$PORT
	PROXY_PORT=$((PORT + 1))
}

# mode_params MODE: set MODE_WORKERS and MODE_CONNS, the worker and wrk
# connection counts the mode measures, and WRK_EXTRA, wrk's extra arguments.
mode_params() {
	MODE_WORKERS=("${WORKER_LIST[@]}")
	MODE_CONNS=("${CONN_LIST[@]}")
	WRK_EXTRA=()
	case $1 in
	close)
		[ "$WORKERS_SET" = 1 ] || MODE_WORKERS=(1)
		[ "$CONNS_SET" = 1 ] || MODE_CONNS=(32)
		WRK_EXTRA=(-H "Connection: close")
		;;
	noka)
		[ "$WORKERS_SET" = 1 ] || MODE_WORKERS=(1)
		[ "$CONNS_SET" = 1 ] || MODE_CONNS=(64)
		;;
	esac
}

# mode_title MODE: the title of the mode's table.
mode_title() {
	case $1 in
	ka) echo "Mode ka: client keep-alive, upstream keep-alive pool" ;;
	close) echo "Mode close: a new client connection per request (wrk -H \"Connection: close\"), upstream keep-alive pool" ;;
	noka) echo "Mode noka: a new upstream connection per request (no upstream keepalive: HTTP/1.0 to the upstream; HAProxy http-server-close, http-reuse never), client keep-alive" ;;
	*) echo "Mode $1" ;;
	esac
}

# ---------------------------------------------------------------- processes

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"

# ---------------------------------------------------------------- checks

check_machine() {
	local c m
	NCPU=$(nproc)
	[ "$NCPU" -ge 2 ] || die "needs at least 2 CPUs (the proxy and the load run on separate cores)"
	command -v taskset >/dev/null || die "taskset not found (Debian: apt-get install util-linux)"
	command -v wrk >/dev/null || die "wrk not found (Debian: apt-get install wrk)"
	command -v go >/dev/null || die "go not found: it builds the upstream and the idle-connection client"
	command -v timeout >/dev/null || die "timeout not found (Debian: apt-get install coreutils)"

	# wrk and the idle client need more descriptors than the usual soft limit.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	NOFILE=$(ulimit -n)
	if [ "$NOFILE" != unlimited ] && [ "$IDLE" -gt $((NOFILE - 1000)) ]; then
		local fit=$((NOFILE - 1000))
		[ "$fit" -ge 0 ] || fit=0
		say "open-file limit is $NOFILE: using $fit idle connections instead of $IDLE"
		IDLE=$fit
	fi
	for m in "${MODE_LIST[@]}"; do
		mode_params "$m"
		for c in "${MODE_CONNS[@]}"; do
			if [ "$NOFILE" != unlimited ] && [ "$c" -gt $((NOFILE - 100)) ]; then
				die "$c connections do not fit the open-file limit $NOFILE"
			fi
		done
	done
	# Descriptors for the proxies: clients + upstream connections + spare,
	# under the hard limit that nginx and HAProxy may raise their own to.
	PROXY_NOFILE=19000
	if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt 20000 ]; then
		PROXY_NOFILE=$((NOFILE - 500))
	fi
	# headroom lets clients hold half its slots (the other half is kept
	# for their upstream connections), so it needs twice the idle
	# connections in slots; nginx and HAProxy take any slot for them.
	# headroom lowers the figure to what PROXY_NOFILE allows, with a
	# warning, which still holds IDLE clients as long as IDLE stays below
	# about PROXY_NOFILE / 2 (hence the default of 9000).
	PROXY_MAXCONN=$((2 * IDLE + 2000))
	[ "$PROXY_MAXCONN" -ge 3000 ] || PROXY_MAXCONN=3000

	for c in "$UPSTREAM_PORT" "$PROXY_PORT"; do
		if port_busy "$c"; then
			die "127.0.0.1:$c is already in use (choose another base port with --port)"
		fi
	done
}

# ---------------------------------------------------------------- build

declare -A SKIP=()
declare -A VERSION=()

build() {
	local p
	mkdir -p "$BIN_DIR"
	say "building bench helpers"
	(cd "$REPO_DIR" && go build -o "$BIN_DIR/upstream" ./bench/upstream && go build -o "$BIN_DIR/idleconns" ./bench/idleconns) ||
		die "could not build bench/upstream and bench/idleconns"

	for p in "${PROXY_LIST[@]}"; do
		case $p in
		headroom) build_headroom ;;
		nginx)
			if command -v nginx >/dev/null; then
				VERSION[nginx]=$(nginx -v 2>&1 | sed 's/^nginx version: //')
			else
				SKIP[nginx]="not installed (Debian: apt-get install nginx)"
			fi
			;;
		haproxy)
			if command -v haproxy >/dev/null; then
				VERSION[haproxy]=$({ haproxy -v 2>/dev/null || true; } | awk 'NR == 1 {print "haproxy/" $3}')
			else
				SKIP[haproxy]="not installed (Debian: apt-get install haproxy)"
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
}

build_headroom() {
	local rev dirty=""
	if [ -n "$HEADROOM_BIN" ]; then
		if [ -x "$HEADROOM_BIN" ]; then
			VERSION[headroom]="headroom ($HEADROOM_BIN)"
		else
			SKIP[headroom]="$HEADROOM_BIN is not an executable file"
		fi
		return 0
	fi
	HEADROOM_BIN=$BIN_DIR/headroom
	say "building headroom (go build -o bench/.bin/headroom ./cmd/headroom)"
	rm -f "$HEADROOM_BIN"
	if (cd "$REPO_DIR" && go build -o "$HEADROOM_BIN" ./cmd/headroom) >"$WORK/headroom-build.log" 2>&1; then
		rev=$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null) || rev=unknown
		if ! (cd "$REPO_DIR" && git diff --quiet HEAD -- cmd internal 2>/dev/null); then
			dirty="+local changes"
		fi
		VERSION[headroom]="headroom $rev$dirty"
	else
		SKIP[headroom]="./cmd/headroom does not build: $({ grep -v '^#' "$WORK/headroom-build.log" || true; } | head -n 1)"
	fi
}

# ---------------------------------------------------------------- configs

# nginx_conf WORKERS DIR FOR MODE: the proxy configuration in nginx's
# language. headroom reads the same text; only the temp-path lines, which keep
# nginx from writing under /var/lib/nginx, are left out for it. In noka mode
# the upstream block has no keepalive and the location proxies with nginx's
# default HTTP/1.0, a new upstream connection per request.
nginx_conf() {
	local workers=$1 dir=$2 for=$3 mode=$4
	cat <<EOF
worker_processes $workers;
worker_rlimit_nofile $PROXY_NOFILE;
daemon off;
pid $dir/proxy.pid;
error_log $dir/error.log warn;

events {
    worker_connections $PROXY_MAXCONN;
}

http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
EOF
	if [ "$for" = nginx ]; then
		nginx_temp_paths "$dir"
	fi
	if [ "$mode" = noka ]; then
		cat <<EOF

    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
    }

    server {
        listen 127.0.0.1:$PROXY_PORT backlog=4096;

        location / {
            proxy_pass http://backend;
        }
    }
}
EOF
		return 0
	fi
	cat <<EOF

    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive $KEEPALIVE;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }

    server {
        listen 127.0.0.1:$PROXY_PORT backlog=4096;

        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

# haproxy_conf WORKERS MODE: HAProxy's configuration for the same job. In noka
# mode the backend closes the server connection after each response ("option
# http-server-close", client keep-alive stays) and shares no idle server
# connection ("http-reuse never"): one server connection per request.
haproxy_conf() {
	local workers=$1 mode=$2
	cat <<EOF
global
    nbthread $workers
    maxconn $PROXY_MAXCONN
    ulimit-n $PROXY_NOFILE
    # HAProxy sizes its descriptor needs as two per connection; idle client
    # connections need one, so a limit below that estimate is fine here.
    no strict-limits

defaults
    mode http
    maxconn $PROXY_MAXCONN
    timeout connect 5s
    timeout client 300s
    timeout server 60s
    timeout http-request 60s
    timeout http-keep-alive 300s
    http-reuse always

frontend fe
    bind 127.0.0.1:$PROXY_PORT
    backlog 4096
    default_backend be

backend be
    server up 127.0.0.1:$UPSTREAM_PORT
EOF
	if [ "$mode" = noka ]; then
		cat <<EOF
    http-reuse never
    option http-server-close
EOF
	fi
}

# ---------------------------------------------------------------- measuring

# rss_kb PID...: summed resident set size (VmRSS), in KiB. Pss would split
# shared pages fairly, but it also moves when unrelated processes map the
# same files (another nginx starting elsewhere on the machine), so the growth
# is taken from RSS.
rss_kb() {
	local p sum=0 t
	for p in "$@"; do
		t=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || t=0
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

# busy_ticks: non-idle clock ticks of the whole machine so far.
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# children_ticks VAR: set VAR to the CPU time of this shell's finished
# children (wrk among them), in clock ticks. "times" must run in this shell,
# not in a command substitution's subshell, which has no children of its own.
children_ticks() {
	times >"$WORK/times"
	printf -v "$1" '%s' "$(awk -v hz="$CLK_TCK" 'NR == 2 {
		s = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
		printf "%.0f\n", s * hz
	}' "$WORK/times")"
}

# cpu_snapshot: the cpu0 and cpu1 lines of /proc/stat on one line.
cpu_snapshot() { awk '$1 == "cpu0" || $1 == "cpu1"' /proc/stat | tr '\n' ' '; }

# core_busy BEFORE AFTER: how busy each core was between two snapshots, and
# how much of it was softirq (and steal, when there was any).
core_busy() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		na = split(a, x, " "); split(b, y, " ")
		out = ""
		for (i = 1; i <= na; i += 11) {
			tot = 0
			for (j = 1; j <= 10; j++) tot += y[i + j] - x[i + j]
			if (tot <= 0) continue
			idle = y[i + 4] - x[i + 4] + y[i + 5] - x[i + 5]
			sirq = y[i + 7] - x[i + 7]
			steal = y[i + 8] - x[i + 8]
			out = out sprintf("%s %.0f%% busy (softirq %.0f%%%s) ", x[i], 100 * (tot - idle) / tot, 100 * sirq / tot, steal > 0 ? sprintf(", steal %.0f%%", 100 * steal / tot) : "")
		}
		print out
	}'
}

# background_load SEC: percent of one core the machine used over SEC seconds.
background_load() {
	local b0 b1
	b0=$(busy_ticks)
	sleep "$1"
	b1=$(busy_ticks)
	awk -v d="$((b1 - b0))" -v hz="$CLK_TCK" -v s="$1" 'BEGIN {printf "%.0f", d * 100 / hz / s}'
}

# wait_quiet: with --quiet-wait, wait until the machine uses less than 10% of
# one core (only our idle upstream runs then), for at most QUIET_WAIT s.
wait_quiet() {
	local start=$SECONDS load
	[ "$QUIET_WAIT" -gt 0 ] || return 0
	while :; do
		load=$(background_load 1)
		[ "$load" -lt 10 ] && return 0
		if [ $((SECONDS - start)) -ge "$QUIET_WAIT" ]; then
			say "  machine still busy ($load% of one core) after $QUIET_WAIT s; going on"
			return 0
		fi
	done
}

# upstream_accepted: connections the upstream has accepted so far.
upstream_accepted() {
	local f=$WORK/upstream.stats i
	rm -f "$f"
	kill -USR1 "$UPSTREAM_PID"
	for ((i = 0; i < 100; i++)); do
		[ -s "$f" ] && break
		sleep 0.02
	done
	awk '{print $2}' "$f" 2>/dev/null || echo 0
}

# probe PORT: one GET must return 200 with the upstream's body.
probe() {
	timeout 10 "$BIN_DIR/idleconns" -addr "127.0.0.1:$1" -n 1 -hold 0 -timeout 2s -body "$BODY" >/dev/null 2>&1
}

# wrk_run CORES THREADS CONNS SECONDS LOG, with the mode's WRK_EXTRA.
wrk_run() {
	run_bg "$5" timeout -k 5 $(($4 + 30)) taskset -c "$1" nice -n "$NICE" \
		wrk -t"$2" -c"$3" -d"$4"s --timeout 5s --latency "${WRK_EXTRA[@]}" "http://127.0.0.1:$PROXY_PORT/"
}

# parse_wrk LOG: prints "rps requests p99_ms errors connect_errors"; errors
# counts all of wrk's socket errors (connect, read, write, timeout) and the
# non-2xx/3xx answers.
parse_wrk() {
	awk '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
		if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
		return v + 0
	}
	/requests in/ { req = $1 }
	/^Requests\/sec:/ { rps = $2 }
	$1 == "99%" { p99 = ms($2) }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10; conn += $4 }
	/Non-2xx or 3xx responses:/ { err += $NF }
	END {
		if (req == "" || rps == "") exit 1
		printf "%s %s %s %d %d\n", rps, req, (p99 == "" ? "nan" : p99), err, conn
	}' "$1"
}

start_upstream() {
	local i
	say "starting the upstream on 127.0.0.1:$UPSTREAM_PORT (core 1)"
	taskset -c 1 nice -n "$NICE" "$BIN_DIR/upstream" -addr "127.0.0.1:$UPSTREAM_PORT" -stats "$WORK/upstream.stats" \
		>"$WORK/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	STARTED+=("$UPSTREAM_PID")
	for ((i = 0; i < 50; i++)); do
		probe "$UPSTREAM_PORT" && return 0
		sleep 0.1
	done
	die "the upstream does not answer: $(cat "$WORK/upstream.log")"
}

PROXY_PID=""
PROXY_DIR=""
START_COUNT=0
START_ERROR=""

# start_proxy NAME WORKERS CORES MODE: start the proxy in the foreground,
# configured for MODE and pinned to CORES, and wait until it proxies a
# request. Returns 1, with the reason in START_ERROR, when it does not.
start_proxy() {
	local name=$1 workers=$2 cores=$3 mode=$4 i other rc msg
	START_COUNT=$((START_COUNT + 1))
	PROXY_DIR=$WORK/$name-$mode-w$workers-$START_COUNT
	mkdir -p "$PROXY_DIR"
	case $name in
	nginx)
		nginx_conf "$workers" "$PROXY_DIR" nginx "$mode" >"$PROXY_DIR/nginx.conf"
		taskset -c "$cores" nice -n "$NICE" nginx -p "$PROXY_DIR/" -c "$PROXY_DIR/nginx.conf" -e "$PROXY_DIR/error.log" \
			>"$PROXY_DIR/stdout.log" 2>&1 &
		;;
	headroom)
		nginx_conf "$workers" "$PROXY_DIR" headroom "$mode" >"$PROXY_DIR/nginx.conf"
		taskset -c "$cores" nice -n "$NICE" "$HEADROOM_BIN" -p "$PROXY_DIR/" -c "$PROXY_DIR/nginx.conf" \
			>"$PROXY_DIR/stdout.log" 2>&1 &
		;;
	haproxy)
		haproxy_conf "$workers" "$mode" >"$PROXY_DIR/haproxy.cfg"
		taskset -c "$cores" nice -n "$NICE" haproxy -db -f "$PROXY_DIR/haproxy.cfg" \
			>"$PROXY_DIR/stdout.log" 2>&1 &
		;;
	esac
	PROXY_PID=$!
	STARTED+=("$PROXY_PID")
	for ((i = 0; i < 100; i++)); do
		probe "$PROXY_PORT" && return 0
		if ! alive "$PROXY_PID"; then
			# It may have put itself in the background despite "daemon off".
			other=$(cat "$PROXY_DIR/proxy.pid" 2>/dev/null || true)
			if [ -n "$other" ] && [ "$other" != "$PROXY_PID" ] && alive "$other"; then
				PROXY_PID=$other
				STARTED+=("$other")
				continue
			fi
			rc=0
			wait "$PROXY_PID" 2>/dev/null || rc=$?
			msg=$({ cat "$PROXY_DIR/stdout.log" "$PROXY_DIR/error.log" 2>/dev/null || true; } | { grep . || true; } | tail -n 2 | tr '\n' ' ')
			START_ERROR="exited at start with status $rc: ${msg:-no output}"
			return 1
		fi
		sleep 0.1
	done
	START_ERROR="does not answer GET / with the upstream's 200 on 127.0.0.1:$PROXY_PORT within 10 s"
	return 1
}

# log_problems NAME: show alarming lines from the proxy's logs.
log_problems() {
	local f
	for f in "$PROXY_DIR"/error.log "$PROXY_DIR"/stdout.log; do
		[ -f "$f" ] || continue
		# HAProxy's "FD limit too low" alert is expected: see haproxy_conf.
		grep -E '\[(alert|crit|emerg)\]|ALERT|too many open files|worker_connections are not enough|Cannot assign requested address' "$f" |
			grep -v 'FD limit .* too low for maxconn' | head -n 3 | sed "s/^/  $1 log: /" >&2 || true
	done
}

# measure_idle NAME WORKERS REP CORES: RSS growth of the proxy per idle
# keep-alive client connection.
measure_idle() {
	local name=$1 workers=$2 rep=$3 cores=$4 pid before after line opened failed done_line closed per i
	local -a tree
	[ "$IDLE" -gt 0 ] || return 0
	mapfile -t tree < <(descendants "$PROXY_PID")
	sleep 1
	before=$(rss_kb "${tree[@]}")
	taskset -c "$cores" nice -n "$NICE" "$BIN_DIR/idleconns" -addr "127.0.0.1:$PROXY_PORT" -n "$IDLE" \
		-parallel 64 -hold 120s -timeout 10s >"$WORK/idle.out" 2>"$WORK/idle.err" &
	pid=$!
	STARTED+=("$pid")
	line=""
	for ((i = 0; i < 600; i++)); do
		line=$(grep '^READY' "$WORK/idle.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		alive "$pid" || break
		sleep 0.1
	done
	if [ -z "$line" ]; then
		say "  $name: the idle connections were not open within 60 s; no memory figure"
		stop_tree "$pid"
		forget "$pid"
		return 0
	fi
	sleep 1
	mapfile -t tree < <(descendants "$PROXY_PID")
	after=$(rss_kb "${tree[@]}")
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget "$pid"
	opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' <<<"$line")
	failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
	done_line=$(grep '^DONE' "$WORK/idle.out" || true)
	closed=$(sed -n 's/.*closed_by_peer=\([0-9]*\).*/\1/p' <<<"$done_line")
	if [ "${failed:-0}" -gt 0 ]; then
		say "  $name: $failed of $IDLE idle connections failed ($(head -n 1 "$WORK/idle.err"))"
	fi
	[ "${opened:-0}" -gt 0 ] || return 0
	per=$(awk -v a="$after" -v b="$before" -v n="$opened" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}')
	printf 'idle\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$workers" "$rep" "$opened" "$before" "$after" "$per" "${closed:-0}" >>"$RESULTS"
	say "  $name w=$workers idle: $opened conns, RSS $before -> $after KiB, $per B/conn, ${closed:-0} closed by the proxy"
}

# measure_load NAME WORKERS REP CONNS LOAD_CORES THREADS MODE: one warm-up
# and one measured wrk run (with the mode's WRK_EXTRA); the result line goes
# to LOAD_RECORD and its "other CPU" figure to LOAD_OTHER (both empty when the
# run failed).
measure_load() {
	local name=$1 workers=$2 rep=$3 conns=$4 load_cores=$5 threads=$6 mode=$7
	local -a tree
	local t0 t1 a0 a1 s0 s1 b0 b1 k0 k1 u0 u1 r0 r1 log=$WORK/wrk.out parsed rps req p99 errs cerrs cpu_us cpu_pct upc
	LOAD_RECORD="" LOAD_OTHER=""
	if [ "$WARMUP" -gt 0 ]; then
		wrk_run "$load_cores" "$threads" "$conns" "$WARMUP" "$log" || true
	fi
	mapfile -t tree < <(descendants "$PROXY_PID")
	a0=$(upstream_accepted)
	s0=$(cpu_snapshot)
	b0=$(busy_ticks)
	children_ticks k0
	u0=$(cpu_ticks "$UPSTREAM_PID")
	t0=$(cpu_ticks "${tree[@]}")
	r0=$EPOCHREALTIME
	if ! wrk_run "$load_cores" "$threads" "$conns" "$DURATION" "$log"; then
		say "  $name: wrk failed: $(tail -n 2 "$log" | tr '\n' ' ')"
		return 0
	fi
	t1=$(cpu_ticks "${tree[@]}")
	r1=$EPOCHREALTIME
	u1=$(cpu_ticks "$UPSTREAM_PID")
	children_ticks k1
	b1=$(busy_ticks)
	s1=$(cpu_snapshot)
	a1=$(upstream_accepted)
	if ! parsed=$(parse_wrk "$log"); then
		say "  $name: could not read wrk's output"
		return 0
	fi
	read -r rps req p99 errs cerrs <<<"$parsed"
	if [ "$req" -eq 0 ]; then
		say "  $name: no request completed"
		return 0
	fi
	cpu_us=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.3f", d * 1e6 / hz / n}')
	cpu_pct=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v s="$r1" -v s0="$r0" 'BEGIN {printf "%.0f", d * 100 / hz / (s - s0)}')
	upc=$((a1 - a0))
	# CPU the machine spent on anything but the proxy, the upstream and wrk:
	# other programs, and kernel work charged to no process.
	LOAD_OTHER=$(awk -v d="$(((b1 - b0) - (t1 - t0) - (u1 - u0) - (k1 - k0)))" -v hz="$CLK_TCK" -v s="$r1" -v s0="$r0" \
		'BEGIN {v = d * 100 / hz / (s - s0); if (v < 0) v = 0; printf "%.0f", v}')
	LOAD_RECORD=$(printf 'load\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$name" "$workers" "$conns" "$rep" \
		"$rps" "$cpu_us" "$p99" "$errs" "$cpu_pct" "$upc" "$LOAD_OTHER" "$mode" "$cerrs")
	say "  $name $mode w=$workers c=$conns: $rps req/s, $cpu_us us/req, p99 $p99 ms, proxy CPU $cpu_pct%, new upstream conns $upc, other CPU $LOAD_OTHER%, errors $errs (connect $cerrs)"
	say "    $(core_busy "$s0" "$s1")"
	if [ "$cerrs" -gt 0 ]; then
		say "  warning: wrk counted $cerrs connect errors ($(grep 'Socket errors' "$log" | sed 's/^ *//')): wrk does not retry a failed connect, so fewer than $conns connections loaded the proxy for part of the run"
	fi
	if [ "$mode" = noka ] && [ $((2 * upc)) -lt "$req" ]; then
		say "  warning: $upc new upstream connections for $req requests: $name reused upstream connections in noka mode"
	fi
}

run_all() {
	local -a active=() order
	local -A idle_done=()
	local p rep mode workers name conns total=0 n=0 attempt proxy_cores load_cores threads k
	for p in "${PROXY_LIST[@]}"; do
		[ -n "${SKIP[$p]:-}" ] || active+=("$p")
	done
	[ "${#active[@]}" -gt 0 ] || die "no proxy to benchmark"

	# Other programs using the CPU make every figure noisy: say so up front.
	p=$(background_load 2)
	if [ "$p" -ge 10 ]; then
		say "warning: before starting, other programs used $p% of one core; results will be noisy. Busiest:"
		{ ps -eo pcpu=,pid=,comm= --sort=-pcpu || true; } | head -n 3 | sed 's/^/    /' >&2
	fi

	start_upstream
	for mode in "${MODE_LIST[@]}"; do
		mode_params "$mode"
		total=$((total + REPS * ${#MODE_WORKERS[@]} * ${#active[@]}))
	done
	for ((rep = 1; rep <= REPS; rep++)); do
		# The proxies take turns at going first.
		k=$(((rep - 1) % ${#active[@]}))
		order=("${active[@]:k}" "${active[@]:0:k}")
		for mode in "${MODE_LIST[@]}"; do
			mode_params "$mode"
			for workers in "${MODE_WORKERS[@]}"; do
				if [ "$workers" = 1 ]; then
					proxy_cores=0 load_cores=1 threads=1
				else
					proxy_cores=0,1 load_cores=0,1 threads=2
				fi
				taskset -a -p -c "$load_cores" "$UPSTREAM_PID" >/dev/null
				for name in "${order[@]}"; do
					n=$((n + 1))
					if [ -n "${SKIP[$name]:-}" ]; then
						continue
					fi
					say "[$n/$total] rep $rep, $mode, $name, $workers worker(s) on core(s) $proxy_cores, load on $load_cores"
					wait_quiet
					if ! start_proxy "$name" "$workers" "$proxy_cores" "$mode"; then
						SKIP[$name]=$START_ERROR
						say "$name: skipped: $START_ERROR"
						stop_proxy
						continue
					fi
					if [ "$WARMUP" -gt 0 ]; then
						wrk_run "$load_cores" "$threads" "${MODE_CONNS[0]}" "$WARMUP" "$WORK/wrk.out" || true
					fi
					# The memory per idle connection: once per repetition, proxy
					# and worker count, in the first mode that runs them.
					if [ -z "${idle_done[$rep/$name/$workers]:-}" ]; then
						idle_done[$rep/$name/$workers]=1
						measure_idle "$name" "$workers" "$rep" "$load_cores"
					fi
					for conns in "${MODE_CONNS[@]}"; do
						for ((attempt = 0; attempt <= RETRIES; attempt++)); do
							measure_load "$name" "$workers" "$rep" "$conns" "$load_cores" "$threads" "$mode"
							if [ -z "$LOAD_RECORD" ] || [ "$MAX_OTHER" = 0 ] || [ "$LOAD_OTHER" -le "$MAX_OTHER" ]; then
								break
							fi
							if [ "$attempt" -lt "$RETRIES" ]; then
								say "  other programs used $LOAD_OTHER% of one core during that run; measuring it again"
								wait_quiet
							fi
						done
						if [ -n "$LOAD_RECORD" ]; then
							printf '%s\n' "$LOAD_RECORD" >>"$RESULTS"
						fi
					done
					log_problems "$name"
					stop_proxy
				done
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
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2
	}'
}

# spread: (max - min) / median of the numbers on stdin, in percent.
spread() {
	sort -g | awk '{a[NR] = $1} END {
		if (NR < 2) { print "-"; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		if (m == 0) { print "-"; exit }
		printf "%.0f%%\n", (a[NR] - a[1]) * 100 / m
	}'
}

# column_of load MODE NAME WORKERS CONNS FIELD | column_of idle NAME WORKERS
# FIELD: the values of one figure, one per repetition. Load lines without a
# mode (from before -m) are ka, and their connect errors 0.
column_of() {
	if [ "$1" = load ]; then
		awk -F '\t' -v m="$2" -v n="$3" -v w="$4" -v c="$5" -v f="$6" '$1 == "load" && $2 == n && $3 == w && $4 == c && ($13 == "" ? "ka" : $13) == m {print $f}' "$RESULTS"
	else
		awk -F '\t' -v n="$2" -v w="$3" -v f="$4" '$1 == "idle" && $2 == n && $3 == w {print $f}' "$RESULTS"
	fi
}

ratio() {
	if [ -z "$1" ] || [ -z "$2" ] || [ "$2" = nan ] || [ "$1" = nan ]; then
		echo "-"
	else
		awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'
	fi
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf f "\n", v }'; }
sum() { awk '{s += $1} END {print s + 0}'; }

# present KIND FIELD [MODE]: the distinct values of FIELD among KIND lines (of
# MODE, for load lines), in numeric order.
present() {
	awk -F '\t' -v k="$1" -v f="$2" -v m="${3:-}" '$1 == k && (m == "" || ($13 == "" ? "ka" : $13) == m) {print $f}' "$RESULTS" | sort -gu
}

# modes_present: the modes of the load lines, in the order ka, close, noka.
modes_present() {
	local m
	for m in ka close noka; do
		if [ -n "$(present load 3 "$m")" ]; then
			echo "$m"
		fi
	done
}

# tables: the markdown tables for RESULTS.
tables() {
	local mode workers conns name ref_rps ref_cpu ref_p99 rps cpu p99 errs cerrs pct upc other sp ref per opened before after closed first=1
	local -a workers_list conns_list
	for mode in $(modes_present); do
		mapfile -t workers_list < <(present load 3 "$mode")
		mapfile -t conns_list < <(present load 4 "$mode")
		[ "$first" = 1 ] || printf '\n'
		first=0
		printf '**%s**\n\n' "$(mode_title "$mode")"
		printf '| proxy | workers | wrk conns | req/s | ×nginx | CPU µs/req | ×nginx | p99 ms | ×nginx | proxy CPU | other CPU | new upstream conns | spread req/s, CPU | errors |\n'
		printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for workers in "${workers_list[@]}"; do
			for conns in "${conns_list[@]}"; do
				ref_rps=$(column_of load "$mode" nginx "$workers" "$conns" 6 | median)
				ref_cpu=$(column_of load "$mode" nginx "$workers" "$conns" 7 | median)
				ref_p99=$(column_of load "$mode" nginx "$workers" "$conns" 8 | median)
				for name in headroom nginx haproxy; do
					rps=$(column_of load "$mode" "$name" "$workers" "$conns" 6 | median)
					[ -n "$rps" ] || continue
					cpu=$(column_of load "$mode" "$name" "$workers" "$conns" 7 | median)
					p99=$(column_of load "$mode" "$name" "$workers" "$conns" 8 | median)
					errs=$(column_of load "$mode" "$name" "$workers" "$conns" 9 | sum)
					cerrs=$(column_of load "$mode" "$name" "$workers" "$conns" 14 | sum)
					[ "$cerrs" = 0 ] || errs="$errs (connect $cerrs)"
					pct=$(column_of load "$mode" "$name" "$workers" "$conns" 10 | median)
					upc=$(column_of load "$mode" "$name" "$workers" "$conns" 11 | median)
					other=$(column_of load "$mode" "$name" "$workers" "$conns" 12 | median)
					sp="$(column_of load "$mode" "$name" "$workers" "$conns" 6 | spread), $(column_of load "$mode" "$name" "$workers" "$conns" 7 | spread)"
					printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s | %s | %s |\n' \
						"$name" "$workers" "$conns" "$(fmt "$rps" %.0f)" "$(ratio "$rps" "$ref_rps")" \
						"$(fmt "$cpu" %.2f)" "$(ratio "$cpu" "$ref_cpu")" "$(fmt "$p99" %.2f)" "$(ratio "$p99" "$ref_p99")" \
						"$(fmt "$pct" %.0f)" "$(fmt "$other" %.0f)" "$(fmt "$upc" %.0f)" "$sp" "$errs"
				done
			done
		done
		cerrs=$(awk -F '\t' -v m="$mode" '$1 == "load" && ($13 == "" ? "ka" : $13) == m {print $14}' "$RESULTS" | sum)
		if [ "$cerrs" != 0 ]; then
			printf '\nwrk counted %s connect errors in this mode: wrk does not retry a failed connect(), so in those runs fewer connections than shown loaded the proxy.\n' "$cerrs"
		fi
	done
	mapfile -t workers_list < <(present idle 3)
	if grep -q '^idle' "$RESULTS"; then
		printf '\n| proxy | workers | idle conns | RSS before MiB | RSS with idle conns MiB | bytes per idle conn | ×nginx | closed by proxy |\n'
		printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
		for workers in "${workers_list[@]}"; do
			ref=$(column_of idle nginx "$workers" 8 | median)
			for name in headroom nginx haproxy; do
				per=$(column_of idle "$name" "$workers" 8 | median)
				[ -n "$per" ] || continue
				opened=$(column_of idle "$name" "$workers" 5 | median)
				before=$(column_of idle "$name" "$workers" 6 | median)
				after=$(column_of idle "$name" "$workers" 7 | median)
				closed=$(column_of idle "$name" "$workers" 9 | sum)
				printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$workers" "$(fmt "$opened" %.0f)" \
					"$(awk -v v="$before" 'BEGIN {printf "%.1f", v / 1024}')" "$(awk -v v="$after" 'BEGIN {printf "%.1f", v / 1024}')" \
					"$(fmt "$per" %.0f)" "$(ratio "$per" "$ref")" "$closed"
			done
		done
	fi
}

report() {
	local report=$WORK/report.md k versions="" settings cpu_model name
	{
		tables
		for name in "${PROXY_LIST[@]}"; do
			if [ -n "${SKIP[$name]:-}" ]; then
				printf '\n- %s skipped: %s\n' "$name" "${SKIP[$name]}"
			fi
		done
	} >"$report"

	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	for k in nginx haproxy headroom wrk; do
		if [ -n "${VERSION[$k]:-}" ] && [ -z "${SKIP[$k]:-}" ]; then
			versions+="${versions:+, }${VERSION[$k]}"
		fi
	done
	settings="$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $(uname -r); $cpu_model, $NCPU CPUs; $versions; $DURATION s runs after $WARMUP s warm-up, median of $REPS; upstream keepalive $KEEPALIVE; modes ${MODES//,/, }"

	echo
	echo "$settings"
	echo
	cat "$report"

	if ! [ -s "$RESULTS" ]; then
		say "nothing was measured"
		exit 1
	fi
	if [ "$APPEND" = 1 ]; then
		{
			echo
			echo "### Run of $(date -u '+%Y-%m-%d %H:%M UTC')"
			echo
			echo "$settings."
			echo
			cat "$report"
		} >>"$REPO_DIR/docs/benchmarks.md"
		say "appended to docs/benchmarks.md"
	fi
}

main() {
	parse_args "$@"
	if [ -n "$REPORT_ONLY" ]; then
		[ -r "$REPORT_ONLY" ] || die "cannot read $REPORT_ONLY"
		RESULTS=$REPORT_ONLY
		tables
		return 0
	fi
	trap cleanup EXIT
	trap 'say "interrupted"; exit 130' INT TERM HUP
	check_machine
	WORK=$(mktemp -d /tmp/headroom-bench.XXXXXX)
	RESULTS=$WORK/results.tsv
	: >"$RESULTS"
	build
	run_all
	report
}

main "$@"
