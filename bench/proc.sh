# Process handling shared by the benchmark scripts (sourced, not run):
# every process started in the background is recorded, and cleanup stops
# it and its descendants on exit. The sourcing script sets KEEP and say().

WORK=""
STARTED=() # every process started in the background, stopped on exit

# descendants PID: PID and all its descendants, parents first.
descendants() {
	local pid=$1 f c
	local -a kids
	[ -d "/proc/$pid" ] || return 0
	echo "$pid"
	for f in /proc/"$pid"/task/*/children; do
		[ -r "$f" ] || continue
		read -r -a kids <"$f" 2>/dev/null || true
		for c in "${kids[@]}"; do
			descendants "$c"
		done
	done
}

alive() { [ -d "/proc/$1" ] && [ "$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# stop_tree PID: TERM the process and its descendants, KILL what is left
# after 3 s.
stop_tree() {
	local pid=$1 p i left
	local -a tree
	mapfile -t tree < <(descendants "$pid")
	[ "${#tree[@]}" -gt 0 ] || return 0
	kill -TERM "${tree[@]}" 2>/dev/null || true
	for ((i = 0; i < 30; i++)); do
		left=0
		for p in "${tree[@]}"; do
			if alive "$p"; then
				left=1
			fi
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	kill -KILL "${tree[@]}" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

forget() {
	local pid=$1 i
	for i in "${!STARTED[@]}"; do
		if [ "${STARTED[$i]}" = "$pid" ]; then
			unset 'STARTED[i]'
		fi
	done
}

cleanup() {
	local rc=$? i
	local -a idx
	trap - EXIT INT TERM HUP
	idx=("${!STARTED[@]}")
	for ((i = ${#idx[@]} - 1; i >= 0; i--)); do
		stop_tree "${STARTED[${idx[$i]}]}"
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$KEEP" = 1 ]; then
			say "kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# run_bg LOG CMD...: start CMD in the background, output to LOG, and wait for
# it; a trapped signal interrupts the wait.
run_bg() {
	local log=$1 pid rc=0
	shift
	"$@" >"$log" 2>&1 &
	pid=$!
	STARTED+=("$pid")
	wait "$pid" || rc=$?
	forget "$pid"
	return "$rc"
}

CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PID...: utime+stime of the processes (all their threads), in
# clock ticks.
cpu_ticks() {
	local p sum=0 t
	for p in "$@"; do
		t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null) || t=0
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

# nginx_temp_paths DIR: the http{} lines that keep nginx's temporary files
# in DIR instead of under /var/lib/nginx (headroom writes none).
nginx_temp_paths() {
	cat <<EOF
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy_temp;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
EOF
}

# stop_proxy: stop the proxy started as PROXY_PID and wait until its port
# PROXY_PORT is free again.
stop_proxy() {
	local i
	[ -n "$PROXY_PID" ] || return 0
	stop_tree "$PROXY_PID"
	forget "$PROXY_PID"
	PROXY_PID=""
	for ((i = 0; i < 50; i++)); do
		port_busy "$PROXY_PORT" || return 0
		sleep 0.1
	done
	die "127.0.0.1:$PROXY_PORT still answers after the proxy was stopped"
}

# find_installed NAME: for nginx or haproxy, set VERSION[NAME] to its
# version ("nginx/1.22.1", "HAProxy 2.6.12") when it is installed, else
# SKIP[NAME] to the reason. The caller declares the VERSION and SKIP
# associative arrays.
find_installed() {
	local name=$1
	if ! command -v "$name" >/dev/null; then
		SKIP[$name]="not installed (Debian: apt-get install $name)"
		return
	fi
	case $name in
	nginx) VERSION[nginx]=$(nginx -v 2>&1 | sed 's/^nginx version: //') ;;
	haproxy) VERSION[haproxy]=$({ haproxy -v 2>/dev/null || true; } | awk 'NR == 1 {print "HAProxy " $3}') ;;
	esac
}
