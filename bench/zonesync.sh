#!/usr/bin/env bash
# Benchmark headroom's zone_sync: limit_req zones whose buckets live in a
# Redis server ("limit_req_zone ... sync"), shared by every instance that
# names the same store. Two modes (-m):
#
#   cost   what a synced check costs. One headroom instance (one worker)
#          serves a 12-byte file from three locations, each measured in
#          turn with keep-alive wrk (64 connections by default):
#            sync   limit_req zone=s burst=1000 nodelay, the zone
#                   "rate=1000000r/s sync": every request is one EVALSHA
#            local  the same limit without sync (the bucket in the process)
#            none   no limit at all
#          For each: requests/s, headroom's CPU per request, Redis's CPU
#          per request (utime + stime from /proc/PID/stat over the run,
#          divided by wrk's requests), the non-2xx answers (must be 0:
#          nothing is refused), and the limit_req checks Redis ran per
#          request (the HMGET calls of the limit_req script, per request:
#          1.00 for sync, 0 for the others), plus the checks headroom's
#          fallback decided (must be 0: the store answered them all).
#          Reported: medians over -r repetitions, and sync - local, the
#          price of sharing the bucket, paired per repetition.
#          The burst is 1000, not 20: limit_req's arithmetic (nginx's) is
#          per millisecond, and every request within one millisecond adds
#          1 to the excess whatever the rate, so at 30,000 requests/s a
#          burst of 20 refuses more than half of them even at 1000000r/s.
#   flood  one key flooded. Every request comes from 127.0.0.1, so the
#          zone "$binary_remote_addr rate=100r/s sync" with "burst=20
#          nodelay" has one bucket for the whole fleet; wrk sends as fast
#          as it can to -n instances (one wrk per instance, at the same
#          time, the -c connections split between them). Reported:
#          requests/s answered, 200s/s (the fleet's limit: about 100),
#          Redis EVALSHA calls per second (delta of cmdstat_evalsha over
#          the run; it includes each instance's heartbeat, one a second)
#          and its ratio to N x rate, which the refusal cache should keep
#          it near; and how headroom decided the checks (store, cached
#          refusal, fallback), from its metrics.
#
# Where things run: headroom (every instance, one worker each) on core 0;
# redis-server and wrk on core 1. headroom has a core to itself, so its
# CPU per request is its own; Redis shares core 1 with wrk, so a round
# trip to it includes waiting for wrk to leave the core (the smoothed round
# trip is in the report). Refused requests are not logged (limit_req_log_level
# info under error_log notice), as a flood would otherwise write a line per
# refusal.
#
# Each repetition starts headroom afresh (and, in flood mode, empties the
# store first); in cost mode the order of the three locations rotates from
# one repetition to the next. Redis runs for the whole script, in its own
# directory, without persistence.
#
# Run "bench/zonesync.sh --help" for the options. Everything listens on
# 127.0.0.1 only, every process started is stopped on exit (Ctrl-C
# included), and files are written only to a temporary directory in /tmp,
# removed at exit unless --keep, and to the headroom binary's path
# (/tmp/hr-bench unless --headroom-bin). The code is all functions run from
# the last line, so editing this file while it runs does not change the
# running copy.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

MODES=${ZONESYNC_MODES:-cost}
DURATION=${ZONESYNC_DURATION:-5}
WARMUP=${ZONESYNC_WARMUP:-1}
REPS=${ZONESYNC_REPS:-5}
INSTANCES=${ZONESYNC_INSTANCES:-1}
CONNS=${ZONESYNC_CONNS:-64}
FLOOD_RATE=${ZONESYNC_RATE:-100}
PORT=${ZONESYNC_PORT:-18780}
TIMEOUT=${ZONESYNC_TIMEOUT:-20ms}
MAX_OTHER=${ZONESYNC_MAX_OTHER:-30}
RETRIES=${ZONESYNC_RETRIES:-2}
NICE=${ZONESYNC_NICE:-0}
HEADROOM_BIN=${ZONESYNC_HEADROOM_BIN:-}
DEFAULT_BIN=/tmp/hr-bench
KEEP=0
REPORT_ONLY=""

# The flood's burst, and the cost mode's rate and burst (see above).
FLOOD_BURST=20
COST_RATE=1000000
COST_BURST=1000
BODY=$'hello world\n'
COMMAND_LINE="bench/zonesync.sh $*"

usage() {
	cat <<'EOF'
Usage: bench/zonesync.sh [options]

Options (each also settable by the environment variable shown):
  -m, --mode LIST       cost, flood or cost,flood              (ZONESYNC_MODES, cost)
                          cost   headroom and Redis CPU per request with a
                                 synced limit_req, the same limit without
                                 sync, and no limit (one instance)
                          flood  one key flooded: 200s/s and Redis EVALSHA
                                 calls/s against N x rate
  -d, --duration SEC    measured wrk run length                (ZONESYNC_DURATION, 5)
  -w, --warmup SEC      wrk warm-up before each run            (ZONESYNC_WARMUP, 1)
  -r, --reps N          repetitions; medians are reported      (ZONESYNC_REPS, 5)
  -n, --instances N     headroom instances in flood mode, 1..8 (ZONESYNC_INSTANCES, 1)
  -c, --conns N         wrk connections in all (split between
                        the instances in flood mode)           (ZONESYNC_CONNS, 64)
      --rate N          the flood zone's rate, r/s             (ZONESYNC_RATE, 100)
      --timeout T       zone_sync's timeout=                   (ZONESYNC_TIMEOUT, 20ms)
      --port N          Redis's port; headroom uses N+1..N+n   (ZONESYNC_PORT, 18780)
      --max-other PCT   measure a run again when other programs used more
                        than PCT% of one core during it, or when the
                        fallback decided more than 1% of its synced
                        checks (the store did not answer within the
                        timeout); 0 never does                 (ZONESYNC_MAX_OTHER, 30)
      --retries N       at most N such measurements more       (ZONESYNC_RETRIES, 2)
      --nice N          run headroom, Redis and wrk at niceness N, e.g. -10
                        (needs root); with autogroup scheduling the
                        session's autogroup niceness is set too, and
                        restored at exit                       (ZONESYNC_NICE, 0)
      --headroom-bin F  measure this headroom binary instead of building
                        ./cmd/headroom into /tmp/hr-bench      (ZONESYNC_HEADROOM_BIN)
      --quick           -d 2 -w 1 -r 1
      --keep            keep the temporary directory (configs, logs, raw data)
      --report FILE     only print the tables for a raw results file kept
                        by an earlier --keep run
  -h, --help            this text

headroom (every instance) runs on core 0, redis-server and wrk on core 1.
Needs Linux with 2 CPUs or more, redis-server and redis-cli (Debian:
apt-get install redis-server), wrk, taskset, curl and (unless
--headroom-bin) Go. Run it under "flock /tmp/bench.lock" on a machine
where other benchmarks run.
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "zonesync.sh: $*"
	exit 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

parse_args() {
	local v m
	while [ $# -gt 0 ]; do
		case $1 in
		-m | --mode | --modes) MODES=${2:?}; shift 2 ;;
		-d | --duration) DURATION=${2:?}; shift 2 ;;
		-w | --warmup) WARMUP=${2:?}; shift 2 ;;
		-r | --reps) REPS=${2:?}; shift 2 ;;
		-n | --instances) INSTANCES=${2:?}; shift 2 ;;
		-c | --conns) CONNS=${2:?}; shift 2 ;;
		--rate) FLOOD_RATE=${2:?}; shift 2 ;;
		--timeout) TIMEOUT=${2:?}; shift 2 ;;
		--port) PORT=${2:?}; shift 2 ;;
		--max-other) MAX_OTHER=${2:?}; shift 2 ;;
		--retries) RETRIES=${2:?}; shift 2 ;;
		--nice) NICE=${2:?}; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=${2:?}; shift 2 ;;
		--quick) DURATION=2; WARMUP=1; REPS=1; shift ;;
		--keep) KEEP=1; shift ;;
		--report) REPORT_ONLY=${2:?}; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done
	for v in "$DURATION" "$WARMUP" "$REPS" "$INSTANCES" "$CONNS" "$FLOOD_RATE" "$PORT" "$MAX_OTHER" "$RETRIES"; do
		is_uint "$v" || die "not a whole number: $v"
	done
	[ "$DURATION" -ge 1 ] || die "--duration must be at least 1"
	[ "$REPS" -ge 1 ] || die "--reps must be at least 1"
	[ "$INSTANCES" -ge 1 ] && [ "$INSTANCES" -le 8 ] || die "--instances must be in 1..8"
	[ "$CONNS" -ge "$INSTANCES" ] || die "--conns must be at least the number of instances"
	[ "$FLOOD_RATE" -ge 1 ] || die "--rate must be at least 1"
	[[ $TIMEOUT =~ ^[0-9]+(ms|s)$ ]] || die "--timeout must be like 20ms or 1s"
	if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
		die "--nice must be in -20..19"
	fi
	if [ "$NICE" -lt 0 ] && [ "$(nice -n "$NICE" nice 2>/dev/null)" != "$(($(nice) + NICE))" ]; then
		die "--nice $NICE needs the right to raise priority (root)"
	fi
	if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65000 ]; then
		die "--port must be in 1024..65000"
	fi
	IFS=, read -r -a MODE_LIST <<<"$MODES"
	[ "${#MODE_LIST[@]}" -gt 0 ] || die "--mode needs cost or flood"
	for m in "${MODE_LIST[@]}"; do
		case $m in cost | flood) ;; *) die "unknown mode: $m (cost or flood)" ;; esac
	done
	REDIS_PORT=$PORT
}

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"

check_machine() {
	local c i
	NCPU=$(nproc)
	[ "$NCPU" -ge 2 ] || die "needs at least 2 CPUs (headroom and the load run on separate cores)"
	for c in taskset wrk redis-server redis-cli curl timeout; do
		command -v "$c" >/dev/null || die "$c not found (Debian: apt-get install redis-server wrk curl)"
	done
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	for ((i = 0; i <= INSTANCES; i++)); do
		if port_busy $((PORT + i)); then
			die "127.0.0.1:$((PORT + i)) is already in use (choose another base port with --port)"
		fi
	done
}

# With autogroup scheduling, a process's niceness only weighs against the
# processes of its own session; --nice then also sets the niceness of this
# session's autogroup (restored at exit). As in static.sh.
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
on_exit() {
	local rc=$?
	set +e
	if [ -n "$AUTOGROUP_OLD" ]; then
		echo "$AUTOGROUP_OLD" >/proc/self/autogroup 2>/dev/null
	fi
	(exit "$rc")
	cleanup # reads the exit status from $?
}

declare -A VERSION=()

# git_rev: the checked-out commit, read from .git's files (no git command).
git_rev() {
	local head ref rev=""
	head=$(cat "$REPO_DIR/.git/HEAD" 2>/dev/null) || { echo unknown; return; }
	if [[ $head == ref:\ * ]]; then
		ref=${head#ref: }
		rev=$(cat "$REPO_DIR/.git/$ref" 2>/dev/null ||
			awk -v r="$ref" '$2 == r {print $1}' "$REPO_DIR/.git/packed-refs" 2>/dev/null || true)
	else
		rev=$head
	fi
	echo "${rev:0:7}"
}

build() {
	VERSION[wrk]=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {print "wrk " $2}')
	VERSION[redis]=$(redis-server --version | awk '{print "Redis " substr($3, 3)}')
	if [ -n "$HEADROOM_BIN" ]; then
		[ -x "$HEADROOM_BIN" ] || die "$HEADROOM_BIN is not an executable file"
		VERSION[headroom]="headroom ($HEADROOM_BIN, sha256 $(sha256sum "$HEADROOM_BIN" | cut -c1-12))"
		return 0
	fi
	command -v go >/dev/null || die "go not found (or give --headroom-bin)"
	HEADROOM_BIN=$DEFAULT_BIN
	say "building headroom (go build -o $HEADROOM_BIN ./cmd/headroom)"
	(cd "$REPO_DIR" && go build -o "$HEADROOM_BIN" ./cmd/headroom) >"$WORK/headroom-build.log" 2>&1 ||
		die "./cmd/headroom does not build: $(head -n 3 "$WORK/headroom-build.log")"
	VERSION[headroom]="headroom built at $(git_rev) with the working tree (sha256 $(sha256sum "$HEADROOM_BIN" | cut -c1-12))"
}

make_data() {
	local d
	chmod 711 "$WORK"
	for d in sync local plain flood; do
		mkdir -p "$WORK/www/$d"
		printf '%s' "$BODY" >"$WORK/www/$d/a.txt"
	done
	chmod -R a+rX "$WORK/www"
}

# ---------------------------------------------------------------- configs

# headroom_conf MODE DIR PORT: one instance's configuration.
headroom_conf() {
	local mode=$1 dir=$2 port=$3
	cat <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
pid $dir/proxy.pid;
error_log $dir/error.log notice;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    default_type text/plain;
    # A refusal is logged at info, under error_log's notice: not written.
    limit_req_log_level info;

    zone_sync redis://127.0.0.1:$REDIS_PORT timeout=$TIMEOUT;
EOF
	if [ "$mode" = cost ]; then
		cat <<EOF
    limit_req_zone \$binary_remote_addr zone=s:1m rate=${COST_RATE}r/s sync;
    limit_req_zone \$binary_remote_addr zone=l:1m rate=${COST_RATE}r/s;

    server {
        listen 127.0.0.1:$port backlog=4096;
        root $WORK/www;

        location /sync/ { limit_req zone=s burst=$COST_BURST nodelay; }
        location /local/ { limit_req zone=l burst=$COST_BURST nodelay; }
        location /plain/ { }
        location = /metrics { metrics; }
    }
}
EOF
	else
		cat <<EOF
    limit_req_zone \$binary_remote_addr zone=s:1m rate=${FLOOD_RATE}r/s sync;

    server {
        listen 127.0.0.1:$port backlog=4096;
        root $WORK/www;

        location /flood/ { limit_req zone=s burst=$FLOOD_BURST nodelay; }
        location /plain/ { }
        location = /metrics { metrics; }
    }
}
EOF
	fi
}

# ---------------------------------------------------------------- processes

REDIS_PID=""
REDIS_DIR=""

start_redis() {
	local i
	REDIS_DIR=$WORK/redis
	mkdir -p "$REDIS_DIR"
	say "starting redis-server on 127.0.0.1:$REDIS_PORT (core 1)"
	(cd "$REDIS_DIR" && exec taskset -c 1 nice -n "$NICE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
		--save "" --appendonly no --daemonize no --dir "$REDIS_DIR") >"$REDIS_DIR/redis.log" 2>&1 &
	REDIS_PID=$!
	STARTED+=("$REDIS_PID")
	for ((i = 0; i < 100; i++)); do
		if [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
			return 0
		fi
		alive "$REDIS_PID" || break
		sleep 0.1
	done
	die "redis-server does not answer PING: $(tail -n 3 "$REDIS_DIR/redis.log")"
}

redis() { redis-cli -p "$REDIS_PORT" "$@" | tr -d '\r'; }

# redis_stats: "EVALSHA HMGET" calls so far. Every limit_req check is one
# EVALSHA of the limit_req script, which calls HMGET once; the heartbeat
# script (an EVALSHA a second per worker) calls no HMGET.
redis_stats() {
	redis info commandstats | awk -F '[:=,]' '
		$1 == "cmdstat_evalsha" {e = $3}
		$1 == "cmdstat_hmget" {h = $3}
		END {printf "%d %d\n", e, h}'
}

HR_PIDS=()
HR_DIRS=()
HR_PORTS=()
START_COUNT=0

# start_instances MODE N: start N headroom instances on core 0, on ports
# PORT+1.., and wait until each has logged its start line and its
# connection to the store, and serves the file.
start_instances() {
	local mode=$1 n=$2 i j ok dir port pid other
	local -a m
	HR_PIDS=() HR_DIRS=() HR_PORTS=()
	for ((i = 0; i < n; i++)); do
		START_COUNT=$((START_COUNT + 1))
		port=$((PORT + 1 + i))
		dir=$WORK/headroom-$mode-$START_COUNT
		mkdir -p "$dir"
		headroom_conf "$mode" "$dir" "$port" >"$dir/nginx.conf"
		taskset -c 0 nice -n "$NICE" "$HEADROOM_BIN" -p "$dir/" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
		pid=$!
		STARTED+=("$pid")
		HR_PIDS+=("$pid") HR_DIRS+=("$dir") HR_PORTS+=("$port")
	done
	for ((i = 0; i < n; i++)); do
		dir=${HR_DIRS[$i]} port=${HR_PORTS[$i]} ok=0
		for ((j = 0; j < 100; j++)); do
			if grep -q 'started:' "$dir/error.log" 2>/dev/null &&
				grep -q 'zone_sync: connected' "$dir/error.log" 2>/dev/null &&
				[ "$(curl -s "http://127.0.0.1:$port/plain/a.txt" 2>/dev/null)" = "${BODY%$'\n'}" ]; then
				ok=1
				break
			fi
			if ! alive "${HR_PIDS[$i]}"; then
				# It may have put itself in the background despite "daemon off".
				other=$(cat "$dir/proxy.pid" 2>/dev/null || true)
				if [ -n "$other" ] && [ "$other" != "${HR_PIDS[$i]}" ] && alive "$other"; then
					HR_PIDS[i]=$other
					STARTED+=("$other")
					continue
				fi
				die "headroom exited at start: $(cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null | tail -n 3)"
			fi
			sleep 0.1
		done
		[ "$ok" = 1 ] || die "headroom on 127.0.0.1:$port did not log its start and its zone_sync connection, or serve /plain/a.txt, within 10 s: $(tail -n 3 "$dir/error.log" 2>/dev/null)"
	done
	# Each instance must see the whole fleet (heartbeats, once a second):
	# the share fallback would divide by it.
	for ((j = 0; j < 50; j++)); do
		ok=1
		for ((i = 0; i < n; i++)); do
			read -r -a m < <(metrics "${HR_PORTS[$i]}")
			if [ "${m[7]}" != 1 ] || [ "${m[8]}" != "$n" ]; then
				ok=0
			fi
		done
		[ "$ok" = 1 ] && return 0
		sleep 0.1
	done
	say "  warning: after 5 s not every instance sees $n live instance(s) and its store connection up"
}

stop_instances() {
	local i port j
	for ((i = 0; i < ${#HR_PIDS[@]}; i++)); do
		stop_tree "${HR_PIDS[$i]}"
		forget "${HR_PIDS[$i]}"
	done
	for port in "${HR_PORTS[@]}"; do
		for ((j = 0; j < 50; j++)); do
			port_busy "$port" || break
			sleep 0.1
		done
		! port_busy "$port" || die "127.0.0.1:$port still answers after headroom was stopped"
	done
}

log_problems() {
	local f dir
	for dir in "${HR_DIRS[@]}"; do
		for f in "$dir"/error.log "$dir"/stdout.log; do
			[ -f "$f" ] || continue
			grep -E '\[(alert|crit|emerg|error)\]|zone_sync: .*(unavailable|fall back)|too many open files' "$f" |
				head -n 3 | sed "s/^/  headroom log: /" >&2 || true
		done
	done
}

# ---------------------------------------------------------------- measuring

busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

children_ticks() {
	times >"$WORK/times"
	printf -v "$1" '%s' "$(awk -v hz="$CLK_TCK" 'NR == 2 {
		s = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
		printf "%.0f\n", s * hz
	}' "$WORK/times")"
}

cpu_snapshot() { awk '$1 == "cpu0" || $1 == "cpu1"' /proc/stat | tr '\n' ' '; }

core_busy() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		na = split(a, x, " "); split(b, y, " ")
		out = ""
		for (i = 1; i <= na; i += 11) {
			tot = 0
			for (j = 1; j <= 10; j++) tot += y[i + j] - x[i + j]
			if (tot <= 0) continue
			idle = y[i + 4] - x[i + 4] + y[i + 5] - x[i + 5]
			out = out sprintf("%s %.0f%% busy ", x[i], 100 * (tot - idle) / tot)
		}
		print out
	}'
}

# metrics PORT: "STORE FALLBACK CACHED ERRORS REQUESTS REJECTED RTT_S UP
# INSTANCES" from the instance's metrics: zone s's checks by who decided
# them, the requests read, zone s's refusals, the smoothed round trip to
# the store, the workers connected to it and the live instances.
metrics() {
	# Labels are matched one by one, in any order (zone_sync's checks also
	# carry kind="limit_req" in newer builds).
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk '
		function has(l) { return index($1, l) > 0 }
		$1 ~ /^headroom_zone_sync_checks_total[{]/ && has("zone=\"s\"") {
			if (has("decided_by=\"store\"")) st = $NF
			else if (has("decided_by=\"fallback\"")) fb = $NF
			else if (has("decided_by=\"cached_refusal\"")) ca = $NF
			else if (has("decided_by=\"error\"")) er = $NF
		}
		$1 == "headroom_requests_total" {rq = $NF}
		$1 ~ /^headroom_limit_rejected_total[{]/ && has("zone=\"s\"") {rj = $NF}
		$1 == "headroom_zone_sync_round_trip_seconds" {rtt = $NF}
		$1 == "headroom_zone_sync_up" {up = $NF}
		$1 == "headroom_zone_sync_instances" {ni = $NF}
		END {printf "%.0f %.0f %.0f %.0f %.0f %.0f %.9f %.0f %.0f\n", st, fb, ca, er, rq, rj, rtt, up, ni}'
}

# metrics_sum: the metrics of every instance, summed (the round trip
# averaged).
metrics_sum() {
	local port
	for port in "${HR_PORTS[@]}"; do
		metrics "$port"
	done | awk '{for (i = 1; i <= 9; i++) s[i] += $i} END {
		printf "%.0f %.0f %.0f %.0f %.0f %.0f %.9f %.0f %.0f\n", s[1], s[2], s[3], s[4], s[5], s[6], s[7] / NR, s[8], s[9] / NR}'
}

# wrk_all PATH SECONDS CONNS TAG: one wrk per instance at the same time,
# all pinned to core 1, the connections split between them; wrk i's output
# goes to $WORK/wrk-TAG-i.out. Fails when one of them does.
wrk_all() {
	local path=$1 secs=$2 conns=$3 tag=$4 n=${#HR_PORTS[@]} i c rc=0
	local -a pids=()
	for ((i = 0; i < n; i++)); do
		c=$((conns / n + (i < conns % n ? 1 : 0)))
		timeout -k 5 $((secs + 30)) taskset -c 1 nice -n "$NICE" \
			wrk -t1 -c"$c" -d"$secs"s --timeout 5s --latency "http://127.0.0.1:${HR_PORTS[$i]}$path" \
			>"$WORK/wrk-$tag-$i.out" 2>&1 &
		pids+=("$!")
		STARTED+=("$!")
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
		forget "$i"
	done
	return "$rc"
}

# parse_wrk LOG: prints "rps requests seconds socket_errors non2xx p99_ms".
parse_wrk() {
	awk '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
		if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
		return v + 0
	}
	/requests in/ { req = $1; secs = $4; sub(/s,?$/, "", secs) }
	/^Requests\/sec:/ { rps = $2 }
	$1 == "99%" { p99 = ms($2) }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx responses:/ { non += $NF }
	END {
		if (req == "" || rps == "") exit 1
		printf "%s %s %s %d %d %s\n", rps, req, secs, err, non, (p99 == "" ? "nan" : p99)
	}' "$1"
}

# parse_all TAG: the wrk outputs of one wrk_all, summed: prints "req/s
# requests 200s 200s/s socket_errors non2xx worst_p99_ms" (a 200 is a
# request that was not a non-2xx answer).
parse_all() {
	local tag=$1 i f
	for ((i = 0; i < ${#HR_PORTS[@]}; i++)); do
		f=$WORK/wrk-$tag-$i.out
		parse_wrk "$f" || return 1
	done | awk '{rps += $1; req += $2; ok += $2 - $5; okps += ($2 - $5) / $3; err += $4; non += $5; if ($6 > p) p = $6}
		END {printf "%.2f %d %d %.2f %d %d %s\n", rps, req, ok, okps, err, non, p}'
}

# measure TAG MODE REP KIND PATH: a warm-up and a measured run of wrk_all
# on PATH. Sets LOAD_RECORD (the result line), LOAD_OTHER and LOAD_SCORE
# (how disturbed the run was: LOAD_OTHER, plus 1000 when the fallback
# decided more than 1% of the synced checks), all empty when the run
# failed.
measure() {
	local tag=$1 mode=$2 rep=$3 kind=$4 path=$5
	local -a tree=() m0 m1
	local t0 t1 rd0 rd1 b0 b1 k0 k1 s0 s1 r0 r1 e0 h0 e1 h1 p parsed
	local rps req ok okps errs non p99 wall hr_us rd_us hr_pct rd_pct checks
	LOAD_RECORD="" LOAD_OTHER="" LOAD_SCORE="" LOAD_WHY=""
	if [ "$WARMUP" -gt 0 ]; then
		wrk_all "$path" "$WARMUP" "$CONNS" warm || true
	fi
	for p in "${HR_PIDS[@]}"; do
		mapfile -t -O "${#tree[@]}" tree < <(descendants "$p")
	done
	read -r -a m0 < <(metrics_sum)
	read -r e0 h0 < <(redis_stats)
	s0=$(cpu_snapshot)
	b0=$(busy_ticks)
	children_ticks k0
	rd0=$(cpu_ticks "$REDIS_PID")
	t0=$(cpu_ticks "${tree[@]}")
	r0=$EPOCHREALTIME
	if ! wrk_all "$path" "$DURATION" "$CONNS" "$tag"; then
		say "  $kind: wrk failed: $(tail -q -n 2 "$WORK"/wrk-"$tag"-*.out | tr '\n' ' ')"
		return 0
	fi
	t1=$(cpu_ticks "${tree[@]}")
	r1=$EPOCHREALTIME
	rd1=$(cpu_ticks "$REDIS_PID")
	children_ticks k1
	b1=$(busy_ticks)
	s1=$(cpu_snapshot)
	read -r e1 h1 < <(redis_stats)
	read -r -a m1 < <(metrics_sum)
	if ! parsed=$(parse_all "$tag"); then
		say "  $kind: could not read wrk's output"
		return 0
	fi
	read -r rps req ok okps errs non p99 <<<"$parsed"
	if [ "$req" -eq 0 ]; then
		say "  $kind: no request completed"
		return 0
	fi
	wall=$(awk -v a="$r1" -v b="$r0" 'BEGIN {printf "%.3f", a - b}')
	hr_us=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.3f", d * 1e6 / hz / n}')
	rd_us=$(awk -v d="$((rd1 - rd0))" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.3f", d * 1e6 / hz / n}')
	hr_pct=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v w="$wall" 'BEGIN {printf "%.0f", d * 100 / hz / w}')
	rd_pct=$(awk -v d="$((rd1 - rd0))" -v hz="$CLK_TCK" -v w="$wall" 'BEGIN {printf "%.0f", d * 100 / hz / w}')
	# CPU the machine spent on anything but headroom, Redis and this
	# script's children (wrk, curl, redis-cli).
	LOAD_OTHER=$(awk -v d="$(((b1 - b0) - (t1 - t0) - (rd1 - rd0) - (k1 - k0)))" -v hz="$CLK_TCK" -v w="$wall" \
		'BEGIN {v = d * 100 / hz / w; if (v < 0) v = 0; printf "%.0f", v}')
	checks=$((h1 - h0))
	LOAD_SCORE=$LOAD_OTHER
	LOAD_WHY="other programs used $LOAD_OTHER% of one core during that run"
	local decided=$(((m1[0] - m0[0]) + (m1[1] - m0[1]) + (m1[2] - m0[2]) + (m1[3] - m0[3])))
	if [ $((100 * (m1[1] - m0[1]))) -gt "$decided" ]; then
		LOAD_SCORE=$((LOAD_OTHER + 1000))
		LOAD_WHY="the fallback decided $((m1[1] - m0[1])) of $decided synced checks (the store did not answer within $TIMEOUT) and other programs used $LOAD_OTHER% of one core"
	fi
	# Fields: 1 kind of line, 2 instances, 3 rep, 4 location (cost) or
	# "flood", 5 req/s, 6 requests, 7 200s, 8 200s/s, 9 socket errors,
	# 10 non-2xx, 11 headroom us/req, 12 Redis us/req, 13 headroom CPU %,
	# 14 Redis CPU %, 15 EVALSHA calls, 16 limit_req checks in Redis
	# (HMGET), 17 wall s, 18-21 checks decided by store, fallback, cached
	# refusal, error (headroom's metrics), 22 round trip ms (smoothed, at
	# the end), 23 other CPU %, 24 p99 ms (worst wrk), 25 the zone's
	# rate r/s, 26 wrk connections in all.
	LOAD_RECORD=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' \
		"$mode" "${#HR_PORTS[@]}" "$rep" "$kind" "$rps" "$req" "$ok" "$okps" "$errs" "$non" "$hr_us" "$rd_us" "$hr_pct" "$rd_pct" \
		"$((e1 - e0))" "$checks" "$wall" "$((m1[0] - m0[0]))" "$((m1[1] - m0[1]))" "$((m1[2] - m0[2]))" "$((m1[3] - m0[3]))" \
		"$(awk -v v="${m1[6]}" 'BEGIN {printf "%.3f", v * 1000}')" "$LOAD_OTHER" "$p99" \
		"$([ "$mode" = cost ] && echo "$COST_RATE" || echo "$FLOOD_RATE")" "$CONNS")
	if [ "$mode" = cost ]; then
		say "  $kind: $rps req/s, headroom $hr_us us/req ($hr_pct% CPU), Redis $rd_us us/req ($rd_pct% CPU), non-2xx $non, errors $errs, limit checks in Redis $checks ($(awk -v c="$checks" -v n="$req" 'BEGIN {printf "%.3f", c / n}')/req), fallback $((m1[1] - m0[1])), other CPU $LOAD_OTHER%; $(core_busy "$s0" "$s1")"
	else
		say "  ${#HR_PORTS[@]} instance(s): $rps req/s, $ok x 200 ($okps/s), EVALSHA $((e1 - e0)) in $wall s ($(awk -v c="$((e1 - e0))" -v w="$wall" 'BEGIN {printf "%.0f", c / w}')/s), store $((m1[0] - m0[0])), cached refusals $((m1[2] - m0[2])), fallback $((m1[1] - m0[1])), headroom $hr_us us/req, Redis $rd_pct% CPU, round trip $(awk -v v="${m1[6]}" 'BEGIN {printf "%.3f", v * 1000}') ms, other CPU $LOAD_OTHER%; $(core_busy "$s0" "$s1")"
	fi
}

# measure_kept TAG MODE REP KIND PATH: measure, again when other programs
# disturbed the run (up to RETRIES more), keeping the least disturbed.
measure_kept() {
	local attempt best="" best_score=""
	for ((attempt = 0; attempt <= RETRIES; attempt++)); do
		measure "$@"
		if [ -n "$LOAD_RECORD" ] && { [ -z "$best" ] || [ "$LOAD_SCORE" -lt "$best_score" ]; }; then
			best=$LOAD_RECORD best_score=$LOAD_SCORE
		fi
		if [ -z "$best" ] || [ "$MAX_OTHER" = 0 ] || [ "$best_score" -le "$MAX_OTHER" ]; then
			break
		fi
		if [ "$attempt" -lt "$RETRIES" ]; then
			say "  $LOAD_WHY; measuring it again"
		else
			say "  $LOAD_WHY; keeping the least disturbed of $((RETRIES + 1)) measurements"
		fi
	done
	if [ -n "$best" ]; then
		printf '%s\n' "$best" >>"$RESULTS"
	fi
}

run_cost() {
	local rep k kind total=$((REPS * 3)) n=0
	local -a kinds=(sync local none) order
	for ((rep = 1; rep <= REPS; rep++)); do
		redis flushall >/dev/null
		start_instances cost 1
		k=$(((rep - 1) % 3))
		order=("${kinds[@]:k}" "${kinds[@]:0:k}")
		for kind in "${order[@]}"; do
			n=$((n + 1))
			say "[$n/$total] rep $rep, cost, $kind"
			case $kind in
			sync) measure_kept "cost-$kind" cost "$rep" sync /sync/a.txt ;;
			local) measure_kept "cost-$kind" cost "$rep" local /local/a.txt ;;
			none) measure_kept "cost-$kind" cost "$rep" none /plain/a.txt ;;
			esac
		done
		log_problems
		stop_instances
	done
}

run_flood() {
	local rep
	for ((rep = 1; rep <= REPS; rep++)); do
		say "[$rep/$REPS] rep $rep, flood, $INSTANCES instance(s)"
		# An empty store: no bucket, no instance left from the last
		# repetition in the fleet's set.
		redis flushall >/dev/null
		start_instances flood "$INSTANCES"
		measure_kept "flood" flood "$rep" flood /flood/a.txt
		log_problems
		stop_instances
	done
}

run_all() {
	local m
	start_redis
	for m in "${MODE_LIST[@]}"; do
		case $m in
		cost) run_cost ;;
		flood) run_flood ;;
		esac
	done
	redis info commandstats >"$WORK/redis-commandstats.txt"
	stop_tree "$REDIS_PID"
	forget "$REDIS_PID"
}

# ---------------------------------------------------------------- report

median() {
	sort -g | awk '{a[NR] = $1} END {
		if (NR == 0) exit
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2
	}'
}

spread() {
	sort -g | awk '{a[NR] = $1} END {
		if (NR < 2) { print "-"; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		if (m == 0) { print "-"; exit }
		printf "%.0f%%\n", (a[NR] - a[1]) * 100 / m
	}'
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf f "\n", v }'; }
sum() { awk '{s += $1} END {print s + 0}'; }

# col MODE N KIND FIELD: one figure's values, one per repetition.
col() { awk -F '\t' -v m="$1" -v n="$2" -v k="$3" -v f="$4" '$1 == m && $2 == n && $4 == k {print $f}' "$RESULTS"; }

# paired_diff N KIND_A KIND_B FIELD: per repetition, A's figure minus B's
# (run next to it), one per line.
paired_diff() {
	awk -F '\t' -v n="$1" -v a="$2" -v b="$3" -v f="$4" '$1 == "cost" && $2 == n && $4 == a {x[$3] = $f}
		$1 == "cost" && $2 == n && $4 == b {y[$3] = $f}
		END {for (r in x) if (r in y) printf "%d %.3f\n", r, x[r] - y[r]}' "$RESULTS" | sort -n | awk '{print $2}'
}

tables() {
	local kind rps hr rd tot checks non errs fb hrp rdp other rtt sp d a b n rate evs chk okps ratio store cached fbk verdict
	local -a ns
	if grep -q '^cost' "$RESULTS"; then
		printf '**cost**: one instance, one worker on core 0; Redis and wrk (-t1 -c%s) on core 1; the limit rate=%sr/s burst=%s nodelay (with and without sync); medians of %s\n\n' \
			"$(awk -F '\t' '$1 == "cost" {print $26; exit}' "$RESULTS")" "$COST_RATE" "$COST_BURST" \
			"$(awk -F '\t' '$1 == "cost" {print $3}' "$RESULTS" | sort -u | wc -l)"
		printf '| location | req/s | headroom CPU µs/req | Redis CPU µs/req | both µs/req | headroom CPU | Redis CPU | limit checks in Redis per request | checks by the fallback | non-2xx | socket errors | RTT ms | other CPU | spread req/s, headroom CPU |\n'
		printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for kind in sync local none; do
			rps=$(col cost 1 "$kind" 5 | median)
			[ -n "$rps" ] || continue
			hr=$(col cost 1 "$kind" 11 | median)
			rd=$(col cost 1 "$kind" 12 | median)
			tot=$(awk -F '\t' -v k="$kind" '$1 == "cost" && $4 == k {print $11 + $12}' "$RESULTS" | median)
			checks=$(awk -F '\t' -v k="$kind" '$1 == "cost" && $4 == k {c += $16; n += $6} END {if (n) printf "%.3f", c / n}' "$RESULTS")
			fb=$(col cost 1 "$kind" 19 | sum)
			non=$(col cost 1 "$kind" 10 | sum)
			errs=$(col cost 1 "$kind" 9 | sum)
			hrp=$(col cost 1 "$kind" 13 | median)
			rdp=$(col cost 1 "$kind" 14 | median)
			rtt=$(col cost 1 "$kind" 22 | median)
			[ "$kind" = sync ] || rtt=""
			other=$(col cost 1 "$kind" 23 | median)
			sp="$(col cost 1 "$kind" 5 | spread), $(col cost 1 "$kind" 11 | spread)"
			printf '| %s | %s | %s | %s | %s | %s%% | %s%% | %s | %s | %s | %s | %s | %s%% | %s |\n' \
				"$kind" "$(fmt "$rps" %.0f)" "$(fmt "$hr" %.2f)" "$(fmt "$rd" %.2f)" "$(fmt "$tot" %.2f)" \
				"$(fmt "$hrp" %.0f)" "$(fmt "$rdp" %.0f)" "$checks" "$fb" "$non" "$errs" "$(fmt "$rtt" %.3f)" "$(fmt "$other" %.0f)" "$sp"
		done
		printf '\n| difference (paired per repetition) | headroom CPU µs/req, median | per repetition | Redis CPU µs/req, median | headroom + Redis, median |\n'
		printf '|---|---:|---|---:|---:|\n'
		for d in "sync local" "sync none" "local none"; do
			read -r a b <<<"$d"
			[ -n "$(col cost 1 "$a" 5)" ] && [ -n "$(col cost 1 "$b" 5)" ] || continue
			printf '| %s − %s | %s | %s | %s | %s |\n' "$a" "$b" \
				"$(fmt "$(paired_diff 1 "$a" "$b" 11 | median)" %+.2f)" \
				"$(paired_diff 1 "$a" "$b" 11 | awk '{printf "%s%+.2f", (NR > 1 ? ", " : ""), $1}')" \
				"$(fmt "$(paired_diff 1 "$a" "$b" 12 | median)" %+.2f)" \
				"$(awk -F '\t' -v a="$a" -v b="$b" '$1 == "cost" && $4 == a {x[$3] = $11 + $12} $1 == "cost" && $4 == b {y[$3] = $11 + $12}
					END {for (r in x) if (r in y) print x[r] - y[r]}' "$RESULTS" | median | xargs -r printf '%+.2f')"
		done
		# The same, over the repetitions whose sync run had no check decided
		# by the fallback (a check that timed out costs headroom less
		# than one the store answered, and Redis nothing).
		d=$(awk -F '\t' '$1 == "cost" && $4 == "sync" && $19 == 0 {ok[$3] = $11} $1 == "cost" && $4 == "local" {l[$3] = $11}
			END {for (r in ok) if (r in l) print r, ok[r] - l[r]}' "$RESULTS" | sort -n | awk '{print $2}')
		n=$(awk -F '\t' '$1 == "cost" && $4 == "sync" && $19 > 0' "$RESULTS" | wc -l)
		if [ "$n" -gt 0 ]; then
			printf '
%s sync run(s) had checks decided by the fallback (the store did not answer within %s). Over the other %s: sync − local %s µs of headroom CPU per request (median; %s).
' \
				"$n" "$TIMEOUT" "$(printf '%s\n' "$d" | grep -c . || true)" "$(printf '%s\n' "$d" | median | xargs -r printf '%+.2f')" \
				"$(printf '%s\n' "$d" | grep . | awk '{printf "%s%+.2f", (NR > 1 ? ", " : ""), $1}')"
		fi
		d=$(paired_diff 1 sync local 11 | median)
		if [ -n "$d" ]; then
			verdict="does not hold"
			awk -v d="$d" 'BEGIN {exit !(d <= 5)}' && verdict="holds"
			printf '\nAcceptance, headroom CPU per request sync − local ≤ +5 µs (same run): %s (%s µs).' "$verdict" "$(fmt "$d" %+.2f)"
			non=$(awk -F '\t' '$1 == "cost" {s += $10 + $9} END {print s + 0}' "$RESULTS")
			checks=$(awk -F '\t' '$1 == "cost" && $4 == "sync" {c += $16; n += $6} END {if (n) printf "%.3f", c / n}' "$RESULTS")
			tot=$(awk -F '\t' '$1 == "cost" && $4 == "sync" {c += $16 + $19; n += $6} END {if (n) printf "%.3f", c / n}' "$RESULTS")
			fb=$(col cost 1 sync 19 | sum)
			printf ' Nothing refused: %s (non-2xx and socket errors %s). One check in Redis per request: %s (%s per request; with the %s checks decided by the fallback, %s).\n' \
				"$([ "$non" = 0 ] && echo yes || echo NO)" "$non" \
				"$(awk -v c="$checks" 'BEGIN {exit !(c >= 0.99 && c <= 1.01)}' && echo yes || echo NO)" "$checks" "$fb" "$tot"
		fi
	fi
	mapfile -t ns < <(awk -F '\t' '$1 == "flood" {print $2}' "$RESULTS" | sort -nu)
	if [ "${#ns[@]}" -gt 0 ]; then
		rate=$(awk -F '\t' '$1 == "flood" {print $25; exit}' "$RESULTS")
		[ -n "$rate" ] || rate=$FLOOD_RATE
		[ -z "$(col cost 1 sync 5)" ] || printf '\n'
		printf '**flood**: one key, rate=%sr/s burst=%s nodelay sync; every instance one worker on core 0; Redis and wrk (one per instance, the connections split) on core 1; medians of %s\n\n' \
			"$rate" "$FLOOD_BURST" "$(awk -F '\t' '$1 == "flood" {print $3}' "$RESULTS" | sort -u | wc -l)"
		printf '| instances | wrk conns | req/s answered | 200s/s | EVALSHA/s | of which limit checks/s | N × rate | EVALSHA/s ÷ (N × rate) | decided by the store | by a cached refusal | by the fallback | headroom CPU µs/req | Redis CPU | RTT ms | other CPU | spread EVALSHA/s |\n'
		printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for n in "${ns[@]}"; do
			rps=$(col flood "$n" flood 5 | median)
			okps=$(col flood "$n" flood 8 | median)
			evs=$(awk -F '\t' -v n="$n" '$1 == "flood" && $2 == n {print $15 / $17}' "$RESULTS" | median)
			chk=$(awk -F '\t' -v n="$n" '$1 == "flood" && $2 == n {print $16 / $17}' "$RESULTS" | median)
			ratio=$(awk -v e="$evs" -v n="$n" -v r="$rate" 'BEGIN {printf "%.1f", e / (n * r)}')
			store=$(awk -F '\t' -v n="$n" '$1 == "flood" && $2 == n {s += $18; t += $18 + $19 + $20 + $21} END {if (t) printf "%.2f%%", s * 100 / t}' "$RESULTS")
			cached=$(awk -F '\t' -v n="$n" '$1 == "flood" && $2 == n {s += $20; t += $18 + $19 + $20 + $21} END {if (t) printf "%.2f%%", s * 100 / t}' "$RESULTS")
			fbk=$(awk -F '\t' -v n="$n" '$1 == "flood" && $2 == n {s += $19} END {print s + 0}' "$RESULTS")
			hr=$(col flood "$n" flood 11 | median)
			rdp=$(col flood "$n" flood 14 | median)
			rtt=$(col flood "$n" flood 22 | median)
			other=$(col flood "$n" flood 23 | median)
			sp=$(awk -F '\t' -v n="$n" '$1 == "flood" && $2 == n {print $15 / $17}' "$RESULTS" | spread)
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s | %s%% | %s |\n' \
				"$n" "$(awk -F '\t' -v n="$n" '$1 == "flood" && $2 == n {print $26; exit}' "$RESULTS")" \
				"$(fmt "$rps" %.0f)" "$(fmt "$okps" %.1f)" "$(fmt "$evs" %.0f)" "$(fmt "$chk" %.0f)" "$((n * rate))" "$ratio" \
				"$store" "$cached" "$fbk" "$(fmt "$hr" %.2f)" "$(fmt "$rdp" %.0f)" "$(fmt "$rtt" %.3f)" "$(fmt "$other" %.0f)" "$sp"
		done
		printf '\nEVALSHA/s includes one heartbeat a second per instance; "limit checks/s" counts the limit_req script alone (its HMGET calls). 200s/s: the fleet'"'"'s limit is %s/s (plus the burst of %s once, which the warm-up takes).\n' "$rate" "$FLOOD_BURST"
	fi
}

report() {
	local cpu_model
	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $(uname -r); $cpu_model, $(nproc) CPUs; ${VERSION[headroom]:-}, ${VERSION[redis]}, ${VERSION[wrk]}; $DURATION s runs after $WARMUP s warm-up, $REPS repetitions; zone_sync timeout=$TIMEOUT; niceness $NICE"
	echo "command: $COMMAND_LINE"
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
	WORK=$(mktemp -d /tmp/headroom-zonesync.XXXXXX)
	RESULTS=$WORK/results.tsv
	: >"$RESULTS"
	build
	make_data
	run_all
	report
}

main "$@"
