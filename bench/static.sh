#!/usr/bin/env bash
# Benchmark headroom against nginx serving static files and gzipping a
# proxied JSON answer, side by side in the same run:
#
#   static1k       a 1 KiB file, keep-alive, 64 connections, sendfile on
#   static1k-nosf  the same with sendfile off
#   static1m       a 1 MiB file, keep-alive, 16 connections, sendfile on
#   cache1k        a 1 KiB answer from proxy_cache (a HIT: the upstream is
#                  asked once), keep-alive, 64 connections, sendfile on
#   static1m-nopush  the same with tcp_nopush on for both: nginx then sends
#                  the head in the file's first packet, as headroom always
#                  does (see "client CPU" below)
#   gzip1, gzip6   a 100 KB JSON answer from an upstream (nginx serving a
#                  file), gzipped at gzip_comp_level 1 or 6, 64 connections
#                  sending "Accept-Encoding: gzip"
#   mem1, mem6     memory per concurrent gzip stream: RSS of the proxy with N
#                  clients each holding an 8 MB JSON answer gzipped at level
#                  1 or 6 in progress (they read its first 512 KiB, then stop
#                  reading), minus its RSS before, divided by N; the listening
#                  socket has sndbuf=64k (see proxy_conf)
#   memplain       the same without Accept-Encoding: what a held stream costs
#                  without the compressor (the difference is the compressor's)
#   ssi            a 1 KiB HTML page with SSI: two includes (a file, and a
#                  location answering with return) and an echo of an
#                  argument, 64 connections
#   subfilter      a 10 KiB HTML page through sub_filter: a script put
#                  before </head> and 40 links rewritten from http:// to
#                  https:// (sub_filter_once off), 64 connections, sendfile
#                  on (nginx then sends each unchanged span of the file with
#                  a sendfile call of its own)
#   subfilter-nosf the same with sendfile off
#   fastcgi        a 1 KiB page from a FastCGI application (bench/fcgiapp,
#                  Go's net/http/fcgi on core 1) over kept connections
#                  (fastcgi_keep_conn on, keepalive 64), 64 connections
#   rewrite        the request language: a request that passes 20 regex
#                  locations that do not match, to one whose regex captures,
#                  10 ifs (variable, =, !=, ~, ~*, -f forms) that do not hold,
#                  and an answer (return) naming a capture and a variable of
#                  a map of 1,000 keys, 64 connections
#
# The "paired" columns are the median over the repetitions of headroom's
# figure divided by nginx's in the same repetition, a few seconds apart: on
# a machine whose speed drifts between repetitions they are steadier than
# the ratio of the two medians.
#
# For each it reports requests/s, the proxy's CPU time per request (utime +
# stime from /proc/PID/stat over the run, divided by wrk's requests), the
# client's (wrk's own CPU time over the run, divided the same way: on
# loopback the kernel does a packet's receiving work in the context of
# whichever side sends it or acknowledges it, so how a server cuts its
# answer into packets moves CPU between its core and the client's), the size
# of one gzipped answer (curl, byte count, checked by gunzip against the
# file), medians over the repetitions and ratios to nginx.
#
# Each proxy runs one worker pinned to core 0; wrk (one thread) and the
# upstream nginx run on core 1. The two proxies read the same configuration
# text (nginx's also points its temp paths into the run's directory), each
# proxy is started afresh for every mode and repetition, and the order
# alternates: headroom then nginx in odd repetitions, nginx then headroom in
# even ones.
#
# Run "bench/static.sh --help" for the options. Everything listens on
# 127.0.0.1 only, every process started is stopped on exit (Ctrl-C
# included), and files are written only to a temporary directory in /tmp,
# removed at exit unless --keep. The code is all functions run from the last
# line, so editing this file while it runs does not change the running copy.

set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
HELPER=$BENCH_DIR/statichelp.py

DURATION=${STATIC_DURATION:-4}
WARMUP=${STATIC_WARMUP:-1}
REPS=${STATIC_REPS:-5}
PROXIES=${STATIC_PROXIES:-headroom,nginx}
MODES=${STATIC_MODES:-static1k,static1k-nosf,static1m,static1m-nopush,cache1k,gzip1,gzip6,mem1,mem6,memplain,rewrite,ssi,subfilter,subfilter-nosf,fastcgi}
STREAMS=${STATIC_STREAMS:-100}
READ=${STATIC_READ:-524288}
PORT=${STATIC_PORT:-18480}
MAX_OTHER=${STATIC_MAX_OTHER:-30}
HEADROOM_BIN=${STATIC_HEADROOM_BIN:-}
NICE=${STATIC_NICE:-0}
RETRIES=${STATIC_RETRIES:-1}
KEEP=0
REPORT_ONLY=""

usage() {
	cat <<'EOF'
Usage: bench/static.sh [options]

Options (each also settable by the environment variable shown):
  -m, --modes LIST      comma list of static1k, static1k-nosf, static1m,
                        static1m-nopush, cache1k, gzip1, gzip6, mem1, mem6, ssi, subfilter, subfilter-nosf, fastcgi,
                        memplain, rewrite
                                                             (STATIC_MODES, all)
  -d, --duration SEC    measured wrk run length              (STATIC_DURATION, 4)
  -w, --warmup SEC      wrk warm-up before each run          (STATIC_WARMUP, 1)
  -r, --reps N          repetitions; medians are reported    (STATIC_REPS, 5)
  -p, --proxies LIST    comma list of headroom,nginx         (STATIC_PROXIES, both)
  -n, --streams N       held gzip streams in the mem modes   (STATIC_STREAMS, 100)
      --read BYTES      body bytes each held stream's client reads
                        before it stops reading              (STATIC_READ, 524288)
      --port N          upstream port; the proxy uses N+1    (STATIC_PORT, 18480)
      --max-other PCT   measure a run again when other programs used more
                        than PCT% of one core during it; 0 never does
                                                             (STATIC_MAX_OTHER, 30)
      --retries N       at most N such measurements more     (STATIC_RETRIES, 1)
      --nice N          run the proxies, the upstream and the clients at
                        niceness N, e.g. -10 (needs root), so that other
                        programs on a shared machine disturb less; with
                        autogroup scheduling (sched_autogroup_enabled=1)
                        the niceness of this session's autogroup is set
                        too, and restored at exit              (STATIC_NICE, 0)
      --headroom-bin F  measure this headroom binary instead of building
                        ./cmd/headroom into the temporary directory
                                                             (STATIC_HEADROOM_BIN)
      --quick           -d 2 -w 1 -r 1
      --keep            keep the temporary directory (configs, logs, raw data)
      --report FILE     only print the tables for a raw results file kept
                        by an earlier --keep run
  -h, --help            this text

Needs Linux with 2 CPUs or more, nginx, wrk, taskset, curl, gzip, python3
and (unless --headroom-bin) Go.
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "static.sh: $*"
	exit 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-m | --modes) MODES=$2; shift 2 ;;
		-d | --duration) DURATION=$2; shift 2 ;;
		-w | --warmup) WARMUP=$2; shift 2 ;;
		-r | --reps) REPS=$2; shift 2 ;;
		-p | --proxies) PROXIES=$2; shift 2 ;;
		-n | --streams) STREAMS=$2; shift 2 ;;
		--read) READ=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--max-other) MAX_OTHER=$2; shift 2 ;;
		--retries) RETRIES=$2; shift 2 ;;
		--nice) NICE=$2; shift 2 ;;
		--headroom-bin) HEADROOM_BIN=$2; shift 2 ;;
		--quick) DURATION=2; WARMUP=1; REPS=1; shift ;;
		--keep) KEEP=1; shift ;;
		--report) REPORT_ONLY=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done
	local v m p
	for v in "$DURATION" "$WARMUP" "$REPS" "$STREAMS" "$READ" "$PORT" "$MAX_OTHER" "$RETRIES"; do
		is_uint "$v" || die "not a whole number: $v"
	done
	if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
		die "--nice must be in -20..19"
	fi
	if [ "$NICE" -lt 0 ] && [ "$(nice -n "$NICE" nice 2>/dev/null)" != "$(($(nice) + NICE))" ]; then
		die "--nice $NICE needs the right to raise priority (root)"
	fi
	[ "$DURATION" -ge 1 ] || die "--duration must be at least 1"
	[ "$REPS" -ge 1 ] || die "--reps must be at least 1"
	[ "$STREAMS" -ge 1 ] && [ "$STREAMS" -le 2000 ] || die "--streams must be in 1..2000"
	if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65000 ]; then
		die "--port must be in 1024..65000"
	fi
	IFS=, read -r -a MODE_LIST <<<"$MODES"
	IFS=, read -r -a PROXY_LIST <<<"$PROXIES"
	for m in "${MODE_LIST[@]}"; do
		case $m in static1k | static1k-nosf | static1m | static1m-nopush | cache1k | gzip1 | gzip6 | mem1 | mem6 | memplain | rewrite | ssi | subfilter | subfilter-nosf | fastcgi) ;; *) die "unknown mode: $m" ;; esac
	done
	for p in "${PROXY_LIST[@]}"; do
		case $p in headroom | nginx) ;; *) die "unknown proxy: $p" ;; esac
	done
	UPSTREAM_PORT=$PORT
	PROXY_PORT=$((PORT + 1))
	FCGI_PORT=$((PORT + 2))
}

# shellcheck source=bench/proc.sh
. "$BENCH_DIR/proc.sh"

check_machine() {
	local c
	NCPU=$(nproc)
	[ "$NCPU" -ge 2 ] || die "needs at least 2 CPUs (the proxy and the load run on separate cores)"
	for c in taskset wrk nginx curl gzip python3 timeout ss; do
		command -v "$c" >/dev/null || die "$c not found"
	done
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	for c in "$UPSTREAM_PORT" "$PROXY_PORT"; do
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

declare -A VERSION=()

build() {
	local rev dirty=""
	VERSION[nginx]=$(nginx -v 2>&1 | sed 's/^nginx version: //')
	VERSION[wrk]=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {print "wrk " $2}')
	if [ -n "$HEADROOM_BIN" ]; then
		[ -x "$HEADROOM_BIN" ] || die "$HEADROOM_BIN is not an executable file"
		VERSION[headroom]="headroom ($HEADROOM_BIN)"
		return 0
	fi
	command -v go >/dev/null || die "go not found (or give --headroom-bin)"
	HEADROOM_BIN=$WORK/headroom
	say "building headroom (go build ./cmd/headroom)"
	(cd "$REPO_DIR" && go build -o "$HEADROOM_BIN" ./cmd/headroom) >"$WORK/headroom-build.log" 2>&1 ||
		die "./cmd/headroom does not build: $(head -n 3 "$WORK/headroom-build.log")"
	rev=$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null) || rev=unknown
	if ! (cd "$REPO_DIR" && git diff --quiet HEAD -- cmd internal go.mod 2>/dev/null); then
		dirty="+local changes"
	fi
	VERSION[headroom]="headroom $rev$dirty"
}

# ---------------------------------------------------------------- data

make_data() {
	say "writing the files (1 KiB, 1 MiB, 100 KB and 8 MB JSON)"
	# Started as root, nginx runs its workers as nobody: they must reach
	# the files through the temporary directory.
	chmod 711 "$WORK"
	mkdir -p "$WORK/www" "$WORK/up/api"
	head -c 1024 /dev/urandom >"$WORK/www/1k.bin"
	head -c 1024 /dev/urandom >"$WORK/up/api/1k.bin"
	head -c 1048576 /dev/urandom >"$WORK/www/1m.bin"
	mkdir -p "$WORK/www/ssi"
	{
		printf '<html><head><title>page</title></head><body>\n'
		head -c 300 /dev/zero | tr '\0' 'a'
		printf '\n<!--#include virtual="/ssi/part.html" -->\n'
		head -c 300 /dev/zero | tr '\0' 'b'
		printf '\n<!--#include virtual="/ssi-return" -->\n<p><!--#echo var="arg_name" default="nobody" --></p>\n'
		head -c 200 /dev/zero | tr '\0' 'c'
		printf '\n</body></html>\n'
	} >"$WORK/www/ssi/page.html"
	head -c 100 /dev/zero | tr '\0' 'p' >"$WORK/www/ssi/part.html"
	mkdir -p "$WORK/www/sub"
	{
		printf '<html><head><title>page</title></head><body>\n'
		for i in $(seq 1 40); do
			printf '<p>paragraph %s with some text of the page, and <a href="http://example.com/item/%s">a link</a> to it.</p>\n' "$i" "$i"
			head -c 110 /dev/zero | tr '\0' 't'
			printf '\n'
		done
		printf '</body></html>\n'
	} >"$WORK/www/sub/page.html"
	python3 "$HELPER" json 102400 "$WORK/up/api/100k.json"
	python3 "$HELPER" json 8388608 "$WORK/up/api/big.json"
	chmod -R a+rX "$WORK/www" "$WORK/up"
	JSON_SIZE=$(stat -c %s "$WORK/up/api/100k.json")
}

# ---------------------------------------------------------------- configs

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
    types { application/json json; }
    default_type application/octet-stream;
EOF
	nginx_temp_paths "$dir"
	cat <<EOF

    server {
        listen 127.0.0.1:$UPSTREAM_PORT backlog=4096;
        root $WORK/up;
    }
}
EOF
}

# proxy_conf NAME LEVEL SENDFILE DIR: the configuration both proxies read;
# nginx's alone gets the temp paths (headroom makes its own in its prefix).
# In the mem modes the listening socket gets "sndbuf=64k": on loopback the
# kernel's send buffer otherwise grows past 1 MB per connection, enough to
# take a whole compressed 8 MB answer, and the proxy would be done
# compressing (its compressor freed) while the client still reads.
proxy_conf() {
	local name=$1 level=$2 sendfile=$3 dir=$4
	cat <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
pid $dir/proxy.pid;
error_log $dir/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    sendfile $sendfile;
    tcp_nopush $NOPUSH;
    types {
        application/octet-stream bin;
        application/json json;
    }
    default_type application/octet-stream;
EOF
	if [ "$name" = nginx ]; then
		nginx_temp_paths "$dir"
	fi
	printf '    proxy_cache_path %s/cache levels=1:2 keys_zone=bench:1m;\n' "$dir"
	cat <<EOF

    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }

    upstream fcgiapp {
        server 127.0.0.1:$FCGI_PORT;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }

EOF
	rewrite_conf
	cat <<EOF

    server {
        listen 127.0.0.1:$PROXY_PORT backlog=4096$LISTEN_EXTRA;
        root $WORK/www;
EOF
	rewrite_locations
	cat <<EOF

        location /ssi/ {
            ssi on;
            types { text/html html; }
        }

        location /sub/ {
            types { text/html html; }
            sub_filter '</head>' '<script src="/x.js"></script></head>';
            sub_filter 'http://example.com' 'https://example.com';
            sub_filter_once off;
        }

        location /fcgi/ {
            fastcgi_pass fcgiapp;
            fastcgi_keep_conn on;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param SERVER_PROTOCOL \$server_protocol;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_param SCRIPT_NAME \$fastcgi_script_name;
            fastcgi_param QUERY_STRING \$query_string;
        }

        location = /ssi-return {
            return 200 "returned";
        }

        location /cached/ {
            proxy_pass http://backend/api/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_valid 200 1h;
        }

        location /api/ {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            gzip on;
            gzip_comp_level $level;
            gzip_types application/json;
        }
    }
}
EOF
}

# rewrite_conf: the rewrite mode's map of 1,000 keys (http level).
rewrite_conf() {
	local i
	printf '    map $arg_k $mapped {\n        default none;\n'
	for ((i = 0; i < 1000; i++)); do
		printf '        key%d v%d;\n' "$i" "$i"
	done
	printf '    }\n'
}

# rewrite_locations: the rewrite mode's 20 regex locations that do not
# match its request, and the one that does, with 10 ifs that do not hold.
rewrite_locations() {
	local i
	for ((i = 0; i < 20; i++)); do
		printf '        location ~ ^/r%d/(\\d+)/(\\w+)$ { return 404; }\n' "$i"
	done
	cat <<'EOF'
        location ~ ^/app/item/(?<id>\d+)$ {
            if ($http_x_a) { return 403; }
            if ($arg_b = "1") { return 403; }
            if ($arg_k != "key500") { return 403; }
            if ($http_user_agent ~ "^curl-no") { return 403; }
            if ($http_user_agent ~* "badbot") { return 403; }
            if ($uri ~ "\.php$") { return 403; }
            if ($request_method = "DELETE") { return 403; }
            if ($http_x_b ~ "^(yes|on)$") { return 403; }
            if (-f /nonexistent/$id) { return 403; }
            if ($args ~ "debug") { return 403; }
            default_type text/plain;
            return 200 "item $id $mapped\n";
        }
EOF
}

# ---------------------------------------------------------------- processes

UPSTREAM_PID=""

start_upstream() {
	local dir=$WORK/upstream i
	mkdir -p "$dir"
	upstream_conf "$dir" >"$dir/nginx.conf"
	say "starting the upstream (nginx serving the JSON) on 127.0.0.1:$UPSTREAM_PORT (core 1)"
	taskset -c 1 nice -n "$NICE" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
	UPSTREAM_PID=$!
	STARTED+=("$UPSTREAM_PID")
	for ((i = 0; i < 50; i++)); do
		if curl -sf -o /dev/null "http://127.0.0.1:$UPSTREAM_PORT/api/100k.json"; then
			return 0
		fi
		sleep 0.1
	done
	die "the upstream does not answer: $(cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null | tail -n 3)"
}

FCGI_PID=""

# start_fcgiapp: the fastcgi mode's application, built from bench/fcgiapp,
# on core 1 beside the upstream and the clients.
start_fcgiapp() {
	local dir=$WORK/fcgiapp
	mkdir -p "$dir"
	(cd "$REPO_DIR" && go build -o "$dir/fcgiapp" ./bench/fcgiapp) >"$dir/build.log" 2>&1 ||
		die "could not build bench/fcgiapp: $(tail -n 3 "$dir/build.log")"
	say "starting the FastCGI application (bench/fcgiapp) on 127.0.0.1:$FCGI_PORT (core 1)"
	taskset -c 1 nice -n "$NICE" "$dir/fcgiapp" -listen "127.0.0.1:$FCGI_PORT" >"$dir/stdout.log" 2>&1 &
	FCGI_PID=$!
	STARTED+=("$FCGI_PID")
}

PROXY_PID=""
PROXY_DIR=""
START_COUNT=0

# start_proxy NAME LEVEL SENDFILE: start the proxy in the foreground pinned
# to core 0 and wait until it serves /1k.bin.
start_proxy() {
	local name=$1 level=$2 sendfile=$3 i other
	START_COUNT=$((START_COUNT + 1))
	PROXY_DIR=$WORK/$name-$START_COUNT
	mkdir -p "$PROXY_DIR"
	proxy_conf "$name" "$level" "$sendfile" "$PROXY_DIR" >"$PROXY_DIR/nginx.conf"
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
		if curl -sf -o /dev/null "http://127.0.0.1:$PROXY_PORT/1k.bin"; then
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
	die "$name does not serve /1k.bin on 127.0.0.1:$PROXY_PORT within 10 s"
}

log_problems() {
	local f
	for f in "$PROXY_DIR"/error.log "$PROXY_DIR"/stdout.log; do
		[ -f "$f" ] || continue
		grep -E '\[(alert|crit|emerg|error)\]|too many open files' "$f" | head -n 3 | sed "s/^/  $1 log: /" >&2 || true
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

rss_kb() {
	local p sum=0 t
	for p in "$@"; do
		t=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || t=0
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

# mode_params MODE: sets URL_PATH, CONNS, LEVEL, SENDFILE, GZ_HEADER,
# LISTEN_EXTRA and NOPUSH.
mode_params() {
	LEVEL=1 SENDFILE=on GZ_HEADER=0 CONNS=64 LISTEN_EXTRA="" NOPUSH=off
	case $1 in
	static1k) URL_PATH=/1k.bin ;;
	static1k-nosf) URL_PATH=/1k.bin SENDFILE=off ;;
	static1m) URL_PATH=/1m.bin CONNS=16 ;;
	static1m-nopush) URL_PATH=/1m.bin CONNS=16 NOPUSH=on ;;
	cache1k) URL_PATH=/cached/1k.bin ;;
	gzip1) URL_PATH=/api/100k.json GZ_HEADER=1 ;;
	gzip6) URL_PATH=/api/100k.json GZ_HEADER=1 LEVEL=6 ;;
	mem1) URL_PATH=/api/big.json GZ_HEADER=1 LISTEN_EXTRA=" sndbuf=64k" ;;
	mem6) URL_PATH=/api/big.json GZ_HEADER=1 LEVEL=6 LISTEN_EXTRA=" sndbuf=64k" ;;
	memplain) URL_PATH=/api/big.json LEVEL=6 LISTEN_EXTRA=" sndbuf=64k" ;;
	rewrite) URL_PATH='/app/item/12345?k=key500' ;;
	ssi) URL_PATH='/ssi/page.html?name=bench' ;;
	subfilter) URL_PATH='/sub/page.html' ;;
	subfilter-nosf) URL_PATH='/sub/page.html' SENDFILE=off ;;
	fastcgi) URL_PATH='/fcgi/index.php' ;;
	esac
}

# wrk_run CONNS SECONDS LOG
wrk_run() {
	local -a hdr=()
	if [ "$GZ_HEADER" = 1 ]; then
		hdr=(-H 'Accept-Encoding: gzip')
	fi
	run_bg "$3" timeout -k 5 $(($2 + 30)) taskset -c 1 nice -n "$NICE" \
		wrk -t1 -c"$1" -d"$2"s --timeout 5s --latency "${hdr[@]}" "http://127.0.0.1:$PROXY_PORT$URL_PATH"
}

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
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx responses:/ { err += $NF }
	END {
		if (req == "" || rps == "") exit 1
		printf "%s %s %s %d\n", rps, req, (p99 == "" ? "nan" : p99), err
	}' "$1"
}

# check_answer MODE NAME REP: one answer by curl, checked against the file;
# for the gzip modes its compressed size goes to the results.
check_answer() {
	local mode=$1 name=$2 rep=$3 f=$PROXY_DIR/answer h=$PROXY_DIR/answer.head size
	case $mode in
	static1k | static1k-nosf | static1m | static1m-nopush)
		curl -sf -o "$f" "http://127.0.0.1:$PROXY_PORT$URL_PATH" || die "$name: curl $URL_PATH failed"
		cmp -s "$f" "$WORK/www$URL_PATH" || die "$name: $URL_PATH differs from the file"
		;;
	cache1k)
		curl -sf -o "$f" "http://127.0.0.1:$PROXY_PORT$URL_PATH" || die "$name: curl $URL_PATH failed"
		cmp -s "$f" "$WORK/up/api/1k.bin" || die "$name: $URL_PATH differs from the upstream's file"
		;;
	rewrite)
		[ "$(curl -sf "http://127.0.0.1:$PROXY_PORT$URL_PATH")" = "item 12345 v500" ] ||
			die "$name: $URL_PATH did not answer \"item 12345 v500\""
		;;
	fastcgi)
		curl -sf -o "$f" "http://127.0.0.1:$PROXY_PORT$URL_PATH" || die "$name: curl $URL_PATH failed"
		[ "$(stat -c %s "$f")" = 1024 ] && grep -q '^<html><body>x' "$f" ||
			die "$name: $URL_PATH is not the application's page: $(head -c 100 "$f")"
		;;
	subfilter | subfilter-nosf)
		curl -sf -o "$f" "http://127.0.0.1:$PROXY_PORT$URL_PATH" || die "$name: curl $URL_PATH failed"
		[ "$(grep -c 'https://example.com' "$f")" = 40 ] && grep -q '<script src="/x.js"></script></head>' "$f" &&
			! grep -q 'http://example.com' "$f" || die "$name: $URL_PATH was not filtered: $(head -c 300 "$f")"
		;;
	ssi)
		curl -sf -o "$f" "http://127.0.0.1:$PROXY_PORT$URL_PATH" || die "$name: curl $URL_PATH failed"
		grep -q 'pppp' "$f" && grep -q 'returned' "$f" && grep -q '<p>bench</p>' "$f" ||
			die "$name: $URL_PATH was not processed: $(head -c 300 "$f")"
		;;
	gzip1 | gzip6)
		curl -sf -D "$h" -H 'Accept-Encoding: gzip' -o "$f" "http://127.0.0.1:$PROXY_PORT$URL_PATH" ||
			die "$name: curl $URL_PATH failed"
		grep -qi '^content-encoding: gzip' "$h" || die "$name: $URL_PATH is not gzipped"
		gzip -dc <"$f" | cmp -s - "$WORK/up$URL_PATH" || die "$name: the gunzipped answer differs from the file"
		size=$(stat -c %s "$f")
		printf 'size\t%s\t%s\t%s\t%s\n' "$mode" "$name" "$rep" "$size" >>"$RESULTS"
		say "  $name $mode: one answer is $size bytes gzipped ($JSON_SIZE before)"
		;;
	esac
}

# measure_load MODE NAME REP: a warm-up and a measured wrk run; the result
# line goes to LOAD_RECORD, the other programs' CPU to LOAD_OTHER.
measure_load() {
	local mode=$1 name=$2 rep=$3 log=$WORK/wrk.out
	local -a tree utree
	local t0 t1 u0 u1 b0 b1 k0 k1 s0 s1 r0 r1 parsed rps req p99 errs cpu_us cpu_pct client_us
	LOAD_RECORD="" LOAD_OTHER=""
	if [ "$WARMUP" -gt 0 ]; then
		wrk_run "$CONNS" "$WARMUP" "$log" || true
	fi
	mapfile -t tree < <(descendants "$PROXY_PID")
	mapfile -t utree < <(descendants "$UPSTREAM_PID")
	s0=$(cpu_snapshot)
	b0=$(busy_ticks)
	children_ticks k0
	u0=$(cpu_ticks "${utree[@]}")
	t0=$(cpu_ticks "${tree[@]}")
	r0=$EPOCHREALTIME
	if ! wrk_run "$CONNS" "$DURATION" "$log"; then
		say "  $name: wrk failed: $(tail -n 2 "$log" | tr '\n' ' ')"
		return 0
	fi
	t1=$(cpu_ticks "${tree[@]}")
	r1=$EPOCHREALTIME
	u1=$(cpu_ticks "${utree[@]}")
	children_ticks k1
	b1=$(busy_ticks)
	s1=$(cpu_snapshot)
	if ! parsed=$(parse_wrk "$log"); then
		say "  $name: could not read wrk's output"
		return 0
	fi
	read -r rps req p99 errs <<<"$parsed"
	if [ "$req" -eq 0 ]; then
		say "  $name: no request completed"
		return 0
	fi
	cpu_us=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.3f", d * 1e6 / hz / n}')
	cpu_pct=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v s="$r1" -v s0="$r0" 'BEGIN {printf "%.0f", d * 100 / hz / (s - s0)}')
	LOAD_OTHER=$(awk -v d="$(((b1 - b0) - (t1 - t0) - (u1 - u0) - (k1 - k0)))" -v hz="$CLK_TCK" -v s="$r1" -v s0="$r0" \
		'BEGIN {v = d * 100 / hz / (s - s0); if (v < 0) v = 0; printf "%.0f", v}')
	# wrk is the only child that ended between the two readings.
	client_us=$(awk -v d="$((k1 - k0))" -v hz="$CLK_TCK" -v n="$req" 'BEGIN {printf "%.3f", d * 1e6 / hz / n}')
	LOAD_RECORD=$(printf 'load\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$mode" "$name" "$rep" "$CONNS" \
		"$rps" "$cpu_us" "$p99" "$errs" "$cpu_pct" "$LOAD_OTHER" "$client_us")
	say "  $name $mode c=$CONNS: $rps req/s, $cpu_us us/req, client $client_us us/req, p99 $p99 ms, proxy CPU $cpu_pct%, other CPU $LOAD_OTHER%, errors $errs; $(core_busy "$s0" "$s1")"
}

# measure_mem MODE NAME REP: RSS of the proxy with STREAMS answers held in
# progress by clients that stopped reading, minus its RSS before.
measure_mem() {
	local mode=$1 name=$2 rep=$3 pid line before after opened heads gz ok reached held per i
	local -a tree
	# One answer of each kind first, so that what any request allocates
	# once (and keeps) is in the figure before.
	curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PROXY_PORT/api/100k.json" || true
	curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/api/100k.json" || true
	sleep 1
	mapfile -t tree < <(descendants "$PROXY_PID")
	before=$(rss_kb "${tree[@]}")
	taskset -c 1 nice -n "$NICE" python3 "$HELPER" slowread 127.0.0.1 "$PROXY_PORT" "$URL_PATH" "$STREAMS" "$GZ_HEADER" 120 "$READ" \
		>"$WORK/slow.out" 2>"$WORK/slow.err" &
	pid=$!
	STARTED+=("$pid")
	line=""
	for ((i = 0; i < 400; i++)); do
		line=$(grep '^READY' "$WORK/slow.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		alive "$pid" || break
		sleep 0.1
	done
	if [ -z "$line" ]; then
		say "  $name $mode: the slow readers did not get their heads: $(head -n 2 "$WORK/slow.err")"
		stop_tree "$pid"
		forget "$pid"
		return 0
	fi
	# Let the proxy fill the clients' windows and its buffers.
	sleep 2
	mapfile -t tree < <(descendants "$PROXY_PID")
	after=$(rss_kb "${tree[@]}")
	# Answers still in progress: the proxy's sockets with unsent bytes.
	held=$(ss -tnH state established "( sport = :$PROXY_PORT )" | awk '$2 > 0' | wc -l)
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget "$pid"
	opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' <<<"$line")
	heads=$(sed -n 's/.*heads=\([0-9]*\).*/\1/p' <<<"$line")
	gz=$(sed -n 's/.*gzip=\([0-9]*\).*/\1/p' <<<"$line")
	ok=$(sed -n 's/.*status200=\([0-9]*\).*/\1/p' <<<"$line")
	reached=$(sed -n 's/.*reached=\([0-9]*\).*/\1/p' <<<"$line")
	[ "${ok:-0}" -gt 0 ] || return 0
	per=$(awk -v a="$after" -v b="$before" -v n="$ok" 'BEGIN {printf "%.0f", (a - b) / n}')
	printf 'mem\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$name" "$rep" "$ok" "$before" "$after" "$per" "$held" "$gz" "$reached" >>"$RESULTS"
	say "  $name $mode: $ok answers held ($gz gzipped, $reached read $READ bytes, $held still sending), RSS $before -> $after KiB, $per KiB per stream"
	# Give the proxy time to drop the aborted answers before it is stopped.
	sleep 0.5
}

run_all() {
	local rep mode name attempt total n=0 best best_other
	local -a order
	start_upstream
	case ",${MODE_LIST[*]}," in *fastcgi*) start_fcgiapp ;; esac
	total=$((REPS * ${#MODE_LIST[@]} * ${#PROXY_LIST[@]}))
	for ((rep = 1; rep <= REPS; rep++)); do
		order=("${PROXY_LIST[@]}")
		if [ $((rep % 2)) = 0 ] && [ "${#order[@]}" = 2 ]; then
			order=("${order[1]}" "${order[0]}")
		fi
		for mode in "${MODE_LIST[@]}"; do
			mode_params "$mode"
			for name in "${order[@]}"; do
				n=$((n + 1))
				say "[$n/$total] rep $rep, $mode, $name"
				start_proxy "$name" "$LEVEL" "$SENDFILE"
				case $mode in
				mem*) measure_mem "$mode" "$name" "$rep" ;;
				*)
					check_answer "$mode" "$name" "$rep"
					# Of the attempts, the one least disturbed is kept.
					best="" best_other=""
					for ((attempt = 0; attempt <= RETRIES; attempt++)); do
						measure_load "$mode" "$name" "$rep"
						if [ -n "$LOAD_RECORD" ] && { [ -z "$best" ] || [ "$LOAD_OTHER" -lt "$best_other" ]; }; then
							best=$LOAD_RECORD best_other=$LOAD_OTHER
						fi
						if [ -z "$best" ] || [ "$MAX_OTHER" = 0 ] || [ "$best_other" -le "$MAX_OTHER" ]; then
							break
						fi
						if [ "$attempt" -lt "$RETRIES" ]; then
							say "  other programs used $LOAD_OTHER% of one core during that run; measuring it again"
						fi
					done
					if [ -n "$best" ]; then
						printf '%s\n' "$best" >>"$RESULTS"
					fi
					;;
				esac
				log_problems "$name"
				stop_proxy
			done
		done
	done
	stop_tree "$UPSTREAM_PID"
	forget "$UPSTREAM_PID"
	if [ -n "$FCGI_PID" ]; then
		stop_tree "$FCGI_PID"
		forget "$FCGI_PID"
	fi
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

# paired MODE NAME FIELD: the median over the repetitions of NAME's figure
# divided by nginx's in the same repetition (run next to it).
paired() {
	awk -F '\t' -v m="$1" -v n="$2" -v f="$3" '$1 == "load" && $2 == m && $3 == n {a[$4] = $f}
		$1 == "load" && $2 == m && $3 == "nginx" {b[$4] = $f}
		END {for (r in a) if ((r in b) && b[r] > 0) print a[r] / b[r]}' "$RESULTS" | median
}

# col KIND MODE NAME FIELD: one figure's values, one per repetition.
col() { awk -F '\t' -v k="$1" -v m="$2" -v n="$3" -v f="$4" '$1 == k && $2 == m && $3 == n {print $f}' "$RESULTS"; }

ratio() {
	if [ -z "$1" ] || [ -z "$2" ]; then
		echo "-"
	else
		awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'
	fi
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf f "\n", v }'; }
sum() { awk '{s += $1} END {print s + 0}'; }

tables() {
	local mode name rps cpu ref_rps ref_cpu ref_size size pct other errs sp conns ref per before after held ok gz reached client ref_client
	local ref_over over plain
	local -a modes
	mapfile -t modes < <(awk -F '\t' '$1 == "load" && !seen[$2]++ {print $2}' "$RESULTS")
	if [ "${#modes[@]}" -gt 0 ]; then
		printf '| mode | proxy | wrk conns | req/s | ×nginx | paired | CPU µs/req | ×nginx | paired | client CPU µs/req | ×nginx | gzipped bytes | ×nginx | proxy CPU | other CPU | spread req/s, CPU | errors |\n'
		printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for mode in "${modes[@]}"; do
			ref_rps=$(col load "$mode" nginx 6 | median)
			ref_cpu=$(col load "$mode" nginx 7 | median)
			ref_client=$(col load "$mode" nginx 12 | median)
			ref_size=$(col size "$mode" nginx 5 | median)
			for name in headroom nginx; do
				rps=$(col load "$mode" "$name" 6 | median)
				[ -n "$rps" ] || continue
				conns=$(col load "$mode" "$name" 5 | median)
				cpu=$(col load "$mode" "$name" 7 | median)
				client=$(col load "$mode" "$name" 12 | median)
				size=$(col size "$mode" "$name" 5 | median)
				pct=$(col load "$mode" "$name" 10 | median)
				other=$(col load "$mode" "$name" 11 | median)
				errs=$(col load "$mode" "$name" 9 | sum)
				sp="$(col load "$mode" "$name" 6 | spread), $(col load "$mode" "$name" 7 | spread)"
				printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s | %s |\n' \
					"$mode" "$name" "$conns" "$(fmt "$rps" %.0f)" "$(ratio "$rps" "$ref_rps")" "$(fmt "$(paired "$mode" "$name" 6)" %.2f)" \
					"$(fmt "$cpu" %.2f)" "$(ratio "$cpu" "$ref_cpu")" "$(fmt "$(paired "$mode" "$name" 7)" %.2f)" \
					"$(fmt "$client" %.1f)" "$(ratio "$client" "$ref_client")" \
					"$(fmt "$size" %.0f)" "$(ratio "$size" "$ref_size")" \
					"$(fmt "$pct" %.0f)" "$(fmt "$other" %.0f)" "$sp" "$errs"
			done
		done
	fi
	mapfile -t modes < <(awk -F '\t' '$1 == "mem" && !seen[$2]++ {print $2}' "$RESULTS")
	if [ "${#modes[@]}" -gt 0 ]; then
		printf '\n| mode | proxy | answers held | gzipped | read %s B | still sending | RSS idle MiB | RSS with them MiB | KiB per stream | ×nginx | KiB over memplain | ×nginx | spread |\n' "$READ"
		printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for mode in "${modes[@]}"; do
			ref=$(col mem "$mode" nginx 8 | median)
			ref_over=""
			plain=$(col mem memplain nginx 8 | median)
			if [ "$mode" != memplain ] && [ -n "$ref" ] && [ -n "$plain" ]; then
				ref_over=$(awk -v a="$ref" -v b="$plain" 'BEGIN {print a - b}')
			fi
			for name in headroom nginx; do
				per=$(col mem "$mode" "$name" 8 | median)
				[ -n "$per" ] || continue
				over=""
				plain=$(col mem memplain "$name" 8 | median)
				if [ "$mode" != memplain ] && [ -n "$plain" ]; then
					over=$(awk -v a="$per" -v b="$plain" 'BEGIN {print a - b}')
				fi
				ok=$(col mem "$mode" "$name" 5 | median)
				before=$(col mem "$mode" "$name" 6 | median)
				after=$(col mem "$mode" "$name" 7 | median)
				held=$(col mem "$mode" "$name" 9 | median)
				gz=$(col mem "$mode" "$name" 10 | median)
				reached=$(col mem "$mode" "$name" 11 | median)
				printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$mode" "$name" "$(fmt "$ok" %.0f)" \
					"$(fmt "$gz" %.0f)" "$(fmt "$reached" %.0f)" "$(fmt "$held" %.0f)" \
					"$(awk -v v="$before" 'BEGIN {printf "%.1f", v / 1024}')" "$(awk -v v="$after" 'BEGIN {printf "%.1f", v / 1024}')" \
					"$(fmt "$per" %.0f)" "$(ratio "$per" "$ref")" "$(fmt "$over" %.0f)" "$(ratio "$over" "$ref_over")" \
					"$(col mem "$mode" "$name" 8 | spread)"
			done
		done
	fi
}

report() {
	local cpu_model
	cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $(uname -r); $cpu_model, $NCPU CPUs; ${VERSION[headroom]:-}, ${VERSION[nginx]}, ${VERSION[wrk]}; $DURATION s runs after $WARMUP s warm-up, median of $REPS; niceness $NICE; JSON answer $JSON_SIZE bytes; $STREAMS held streams"
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
	WORK=$(mktemp -d /tmp/headroom-static.XXXXXX)
	RESULTS=$WORK/results.tsv
	: >"$RESULTS"
	build
	make_data
	run_all
	report
}

main "$@"
