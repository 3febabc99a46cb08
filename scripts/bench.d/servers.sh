# servers.sh starts and stops the servers scripts/bench compares. Sourced, not run.
#
# Every server listens on 127.0.0.1 only, logs to $work/logs, and is remembered in
# started[name]=pid so that stop and the exit trap end exactly the processes this run started.

declare -A started=()

# free_port prints the first port from $1 upward that nothing listens on (bounded to 200 tries).
free_port() {
	local p=$1 taken=" ${*:2} "
	for ((i = 0; i < 200; i++, p++)); do
		[[ $taken == *" $p "* ]] && continue
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	die "no free port from $1"
}

# wait_http waits until URL answers 200, for at most $2 seconds.
wait_http() {
	local url=$1 limit=${2:-30} name=$3
	local tries=$((limit * 10))
	for ((i = 0; i < tries; i++)); do
		[[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url") == 200 ]] && return 0
		if [[ -n $name ]] && ! kill -0 "${started[$name]}" 2>/dev/null; then
			tail -20 "$work/logs/$name.log" >&2
			die "$name exited before answering $url"
		fi
		sleep 0.1
	done
	tail -20 "$work/logs/$name.log" >&2
	die "$name did not answer $url within ${limit}s"
}

# start NAME CMD... runs CMD in the background with its output in $work/logs/NAME.log.
start() {
	local name=$1
	shift
	[[ -z ${started[$name]:-} ]] || die "$name is already running"
	"$@" >>"$work/logs/$name.log" 2>&1 &
	started[$name]=$!
}

# stop NAME ends the process start NAME began: TERM, then KILL after 10 seconds.
stop() {
	local name=$1 pid=${started[$1]:-}
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "started[$name]"
}

stop_all() {
	local name
	for name in "${!started[@]}"; do
		stop "$name"
	done
}

# hwm_kib prints the peak resident set size (VmHWM) of server NAME in KiB.
hwm_kib() {
	awk '/^VmHWM:/ {print $2}' "/proc/${started[$1]}/status"
}

# cpu_ms NAME prints the CPU time (user and system) that server NAME and its child processes
# (nginx's workers) have used so far, in milliseconds. On a busy machine it varies less than
# wall time does.
cpu_ms() {
	local pid=${started[$1]} p
	for p in "$pid" $(pgrep -P "$pid"); do
		# utime and stime are fields 14 and 15; the command name before them may hold spaces.
		sed 's/^.*) //' "/proc/$p/stat"
	done | awk -v hz="$(getconf CLK_TCK)" '{t += $12 + $13} END {printf "%d\n", t * 1000 / hz}'
}

# registry_config FILE ADDR ROOT [REMOTEURL] writes a distribution config: filesystem storage,
# quiet logs, and pull-through proxy mode when REMOTEURL is given.
registry_config() {
	local file=$1 addr=$2 root=$3 remote=${4:-}
	cat >"$file" <<-EOF
		version: 0.1
		log:
		  level: error
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $root
		  maintenance:
		    uploadpurging:
		      enabled: false
		http:
		  addr: $addr
	EOF
	[[ -z $remote ]] || printf 'proxy:\n  remoteurl: %s\n' "$remote" >>"$file"
}

# start_registry NAME PORT ROOT [REMOTEURL] starts a distribution registry and waits for /v2/.
start_registry() {
	local name=$1 port=$2 root=$3 remote=${4:-}
	local cfg=$work/conf/$name.yml
	mkdir -p "$root"
	registry_config "$cfg" "127.0.0.1:$port" "$root" "$remote"

	# v3 exports traces by default; nothing listens for them here.
	start "$name" env OTEL_TRACES_EXPORTER=none OTEL_SDK_DISABLED=true registry serve "$cfg"
	wait_http "http://127.0.0.1:$port/v2/" 30 "$name"
}

# start_nginx PORT ROOT serves ROOT with sendfile, the way a static file server is meant to.
start_nginx() {
	local port=$1 root=$2 prefix=$work/nginx
	mkdir -p "$prefix/tmp"
	cat >"$prefix/nginx.conf" <<-EOF
		worker_processes auto;
		pid $prefix/nginx.pid;
		error_log $work/logs/nginx.log warn;
		events { worker_connections 64; }
		http {
		  access_log off;
		  sendfile on;
		  tcp_nopush on;
		  default_type application/octet-stream;
		  client_body_temp_path $prefix/tmp/body;
		  proxy_temp_path $prefix/tmp/proxy;
		  fastcgi_temp_path $prefix/tmp/fastcgi;
		  server {
		    listen 127.0.0.1:$port;
		    root $root;
		    location / { }
		  }
		}
	EOF
	echo ok >"$root/ready"
	start nginx nginx -p "$prefix" -e "$work/logs/nginx.log" -c "$prefix/nginx.conf" -g 'daemon off;'
	wait_http "http://127.0.0.1:$port/ready" 10 nginx
}

# start_breakwater PORT DATA starts breakwater in front of the upstream and waits for /v2/.
start_breakwater() {
	local port=$1 data=$2
	mkdir -p "$data"
	start breakwater "$work/bin/breakwater" serve \
		--listen "127.0.0.1:$port" \
		--data "$data" \
		--upstream "http://127.0.0.1:$upstream_port"
	wait_http "http://127.0.0.1:$port/v2/" 30 breakwater
}

# start_proxy NAME DATA starts one of the two pull-through proxies on its port with DATA.
start_proxy() {
	case $1 in
	distribution) start_registry distribution "$dist_port" "$2" "http://127.0.0.1:$upstream_port" ;;
	breakwater) start_breakwater "$bw_port" "$2" ;;
	*) die "unknown proxy $1" ;;
	esac
}
