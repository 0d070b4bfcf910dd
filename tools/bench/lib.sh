# Sourced by the benchmark scripts (tools/bench/*.sh): the processes a
# script starts, stopped and waited for when it ends however it ends; its
# temporary directory removed; a free loopback port.
#
#   TMP=$(mktemp -d /tmp/canopy-X-bench.XXXXXX)
#   . "$(dirname "$0")/lib.sh"
#   some_server & STARTED+=($!)
#   stop "$pid"          # SIGTERM, wait, and no longer tracked
#   port=$(free_port)
#   push_leaves "$BIN" "$PORT" 333333   # a tree of 999 999 leaves
STARTED=()  # pids of what this script started

cleanup() {
  local pid
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# forget PID: takes a process that was stopped off STARTED, so that the
# clean-up never signals a pid the system may have given to another process.
forget() {
  local pid kept=()
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && [ "$pid" != "$1" ] && kept+=("$pid")
  done
  STARTED=("${kept[@]:-}")
}

# stop PID: SIGTERM, wait, forget.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget "$1"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nchan_conf DIR WORKERS CONNECTIONS LISTEN: writes DIR/nginx.conf for
# nginx with nchan serving long-poll subscribers on /sub/<channel> and
# publishers on /pub/<channel> (one message kept a channel), WORKERS worker
# processes, CONNECTIONS worker_connections (nginx closes idle keep-alive
# connections, and with them parked long polls, once fewer than 1/16 of
# them are free: callers ask for twice their waiters), and LISTEN the
# server's listen lines. Needs NCHAN_MODULE.
nchan_conf() {
  local dir=$1 workers=$2 connections=$3 listen=$4
  cat >"$dir/nginx.conf" <<EOF
load_module $NCHAN_MODULE;
worker_processes $workers;
worker_rlimit_nofile $(ulimit -Hn);
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $connections; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  default_type application/octet-stream;
  tcp_nodelay on;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  nchan_max_reserved_memory 32M;
  server {
$listen
    location ~ ^/sub/(\w+)\$ {
      nchan_subscriber longpoll;
      nchan_channel_id \$1;
      nchan_subscriber_timeout 300s;
    }
    location ~ ^/pub/(\w+)\$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_message_buffer_length 1;
      nchan_message_timeout 60s;
    }
    location = /nchan_status { nchan_stub_status; }
  }
}
EOF
  chmod -R a+rX "$dir"  # nginx's workers may run as another user
}

# push_leaves BIN PORT PER: pushes 3 x PER leaves through POST /push with
# BIN/canopy-push-load (10 000 leaves a request, 4 connections): PER gauges
# (mem,g,<host>,<i>), PER averages (mem,a) and PER counters (mem,c), 500 a
# host. Prints leaves a second over the three pushes (each run of
# canopy-push-load times itself: bodies are built before its clock starts).
push_leaves() {
  local bin=$1 port=$2 per=$3 k a out secs=0
  for k in g:last a:avg c:add; do
    a=${k#*:}
    out=$(timeout 600 "$bin/canopy-push-load" --server="127.0.0.1:$port" \
      --connections=4 --leaves=10000 --keyspace="$per" --fanout=500 \
      --prefix="mem,${k%%:*}" --action="$a" --requests=$(((per + 9999) / 10000)) \
      --seconds=600 | tail -1)
    secs=$(awk -v x="$secs" -v y="$(printf '%s\n' "$out" | tr ' ' '\n' | sed -n 's/^seconds=//p')" \
      'BEGIN {print x + y}')
  done
  awk -v n="$((per * 3))" -v s="$secs" 'BEGIN {if (s > 0) printf "%.0f", n / s; else print 0}'
}
