#!/usr/bin/env bash
# Issue 2 benchmarks ("the live tree"), on loopback only:
#   1. POST /push throughput (canopy-push-load);
#   2. GET /get of a ~1 KB subtree under wrk, beside nginx serving the same
#      bytes from a file with one worker;
#   3. one change fanned out to 10 000 parked long-poll waiters, and the
#      server's memory per waiter (canopy-pull-fanout);
#   4. memory per leaf with 1 000 000 leaves pushed through /push.
# Prints a Markdown table at the end. See docs/BENCHMARKS.md.
#
# Usage: tools/bench/run.sh
# Environment: BUILD (build dir, default build-bench), JOBS (default 2),
#   RUN_SECONDS (per throughput run, default 10), WAITERS (default 10000),
#   MEM_LEAVES (default 1000000), CANOPYD (a canopyd binary to use instead
#   of building one).
# Needs: cmake, ninja, wrk, nginx (Debian nginx-light), curl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
JOBS=${JOBS:-2}
RUN_SECONDS=${RUN_SECONDS:-10}
WAITERS=${WAITERS:-10000}
MEM_LEAVES=${MEM_LEAVES:-1000000}

TMP=$(mktemp -d /tmp/canopy-bench.XXXXXX)
STARTED=()  # pids of what this script started

cleanup() {
  local pid
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

for tool in cmake ninja wrk nginx curl; do
  command -v "$tool" >/dev/null || die "needs $tool (apt-get install $tool)"
done

# --- build --------------------------------------------------------------------
say "building Release in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCANOPY_BUILD_TESTS=OFF >/dev/null
targets="canopy-cli canopy-push-load canopy-pull-fanout"
[ -z "${CANOPYD:-}" ] && targets="canopyd $targets"
timeout 900 ninja -C "$BUILD" -j"$JOBS" $targets >&2
BIN=$BUILD/bin
CANOPYD=${CANOPYD:-$BIN/canopyd}

# 10 000 waiters need as many descriptors in canopyd and in the client.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((WAITERS + 100)) ] ||
  die "open-file limit $(ulimit -n) is too low for $WAITERS waiters"

# UDP and TCP ingest are not measured here: switch them off where canopyd
# has them.
INGEST_OFF=()
for proto in udp tcp; do
  "$CANOPYD" --helpfull 2>&1 | grep -q -- "--$proto[ =]" &&
    INGEST_OFF+=("--$proto=off")
done

# --- helpers ------------------------------------------------------------------
CANOPYD_PID=
PORT=

start_canopyd() {  # $1: name of the run
  local dir=$TMP/$1
  mkdir -p "$dir"
  "$CANOPYD" --http=127.0.0.1:0 "${INGEST_OFF[@]}" --data_dir="$dir/data" \
    --ready_file="$dir/ready" --max_waiters=$((WAITERS + 1000)) \
    2>"$dir/canopyd.log" &
  CANOPYD_PID=$!
  STARTED+=("$CANOPYD_PID")
  local i
  for i in $(seq 1 300); do
    [ -s "$dir/ready" ] && break
    kill -0 "$CANOPYD_PID" 2>/dev/null ||
      die "canopyd exited: $(tail -n 3 "$dir/canopyd.log")"
    sleep 0.1
  done
  [ -s "$dir/ready" ] || die "canopyd did not start within 30 s"
  PORT=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$dir/ready")
  [ -n "$PORT" ] || die "cannot read the port from $dir/ready"
}

stop_canopyd() {
  kill -TERM "$CANOPYD_PID" 2>/dev/null || true
  timeout 30 tail --pid="$CANOPYD_PID" -f /dev/null || kill -KILL "$CANOPYD_PID"
  wait "$CANOPYD_PID" 2>/dev/null || true
}

rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }

metric() {  # $1: metric name
  curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

field() {  # $1: RESULT line, $2: key
  printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# num 1234567.8 -> 1,234,568
num() {
  awk -v v="$1" 'BEGIN {
    if (v == "") { print "n/a"; exit }
    s = sprintf("%.0f", v); sign = ""
    if (substr(s, 1, 1) == "-") { sign = "-"; s = substr(s, 2) }
    out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    print sign s out
  }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# verdict VALUE OP LIMIT: "yes" or "**no**".
verdict() {
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0)
    print ((v != "" && ok) ? "yes" : "**no**")
  }'
}

# run_tool NAME COMMAND...: runs a benchmark program, shows its output on
# stderr and prints its RESULT line.
run_tool() {
  local name=$1
  shift
  "$@" >"$TMP/$name.out" 2>&1 || {
    cat "$TMP/$name.out" >&2
    die "$name failed"
  }
  cat "$TMP/$name.out" >&2
  grep '^RESULT' "$TMP/$name.out"
}

printf 'machine: %s, %s cores, Linux %s\n' \
  "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)" \
  "$(uname -r)" >&2

# --- 1. push throughput -------------------------------------------------------
start_canopyd main
say "push: 8 connections, 1000 leaves per request, 100 000 leaves, ${RUN_SECONDS}s"
push_big=$(run_tool push_big timeout 120 "$BIN/canopy-push-load" \
  --server="127.0.0.1:$PORT" --connections=8 --leaves=1000 --keyspace=100000 \
  --seconds="$RUN_SECONDS")
say "push: 8 connections, 10 leaves per request, ${RUN_SECONDS}s"
push_small=$(run_tool push_small timeout 120 "$BIN/canopy-push-load" \
  --server="127.0.0.1:$PORT" --connections=8 --leaves=10 --keyspace=100000 \
  --prefix=bench,small --seconds="$RUN_SECONDS")

# --- 2. /get beside nginx -----------------------------------------------------
# 32 leaves of about 31 bytes each ({"bench,get,metric_07":1007.25},): a
# reply of about 1 KB.
args=()
for i in $(seq 10 41); do args+=("bench,get,metric_$i=$((1000 + i)).25"); done
"$BIN/canopy" --server="127.0.0.1:$PORT" push "${args[@]}" >/dev/null
GET_PATH="/get?key=bench,get"
mkdir -p "$TMP/www" "$TMP/nginx"
curl -sf "http://127.0.0.1:$PORT$GET_PATH" >"$TMP/www/get.json"
get_bytes=$(stat -c %s "$TMP/www/get.json")
NGINX_PORT=$(free_port)
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  types { application/json json; }
  default_type application/json;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $TMP/www;
  }
}
EOF
chmod -R a+rX "$TMP"  # nginx's worker may run as another user
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
STARTED+=("$!")
for i in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$NGINX_PORT/get.json" >/dev/null && break
  sleep 0.1
done
cmp -s "$TMP/www/get.json" <(curl -sf "http://127.0.0.1:$NGINX_PORT/get.json") ||
  die "nginx does not serve the file: $(cat "$TMP/nginx/error.log")"

run_wrk() {  # $1: URL; prints requests/s, fails on errors
  local out
  out=$(timeout $((RUN_SECONDS + 30)) wrk -t1 -c50 -d"${RUN_SECONDS}s" "$1")
  printf '%s\n' "$out" >&2
  if printf '%s\n' "$out" | grep -q 'Non-2xx'; then die "wrk saw errors on $1"; fi
  printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}'
}
say "wrk: canopyd $GET_PATH ($get_bytes bytes)"
get_canopy=$(run_wrk "http://127.0.0.1:$PORT$GET_PATH")
say "wrk: nginx, the same $get_bytes bytes from a file, 1 worker"
get_nginx=$(run_wrk "http://127.0.0.1:$NGINX_PORT/get.json")

stop_canopyd

# --- 3. fan-out ---------------------------------------------------------------
# A fresh server, so that its RSS growth is the waiters' and not memory
# freed by the runs above and reused.
start_canopyd fanout
say "fan-out to $WAITERS waiters"
fanout=$(run_tool fanout timeout 300 "$BIN/canopy-pull-fanout" \
  --server="127.0.0.1:$PORT" --waiters="$WAITERS" --server_pid="$CANOPYD_PID")
stop_canopyd

# --- 4. memory per leaf -------------------------------------------------------
start_canopyd memory
"$BIN/canopy" --server="127.0.0.1:$PORT" push bench,warmup=1 >/dev/null
sleep 0.5
rss_before=$(rss "$CANOPYD_PID")
leaves_before=$(metric canopy_leaves)
say "memory: $MEM_LEAVES new leaves through /push"
mem=$(run_tool memory timeout 300 "$BIN/canopy-push-load" \
  --server="127.0.0.1:$PORT" --connections=4 --leaves=1000 \
  --keyspace="$MEM_LEAVES" --prefix=bench,mem \
  --requests=$(((MEM_LEAVES + 999) / 1000)) --seconds=240)
sleep 1
rss_after=$(rss "$CANOPYD_PID")
leaves_after=$(metric canopy_leaves)
nodes_after=$(metric canopy_nodes)
leaves_added=$((leaves_after - leaves_before))
per_leaf=$(awk -v a="$rss_after" -v b="$rss_before" -v n="$leaves_added" \
  'BEGIN { if (n > 0) printf "%.0f", (a - b) / n; else print "n/a" }')
stop_canopyd

# --- the table ----------------------------------------------------------------
big_lps=$(field "$push_big" leaves_per_s)
big_rps=$(field "$push_big" requests_per_s)
small_lps=$(field "$push_small" leaves_per_s)
small_rps=$(field "$push_small" requests_per_s)
get_ratio=$(ratio "$get_canopy" "$get_nginx")
fan_max=$(field "$fanout" max_ms)
fan_p50=$(field "$fanout" p50_ms)
fan_p99=$(field "$fanout" p99_ms)
fan_delivered=$(field "$fanout" delivered)
per_waiter=$(field "$fanout" bytes_per_waiter)
mem_lps=$(field "$mem" leaves_per_s)

cat <<EOF

| benchmark | measured | goal (DESIGN.md) | met |
| --- | --- | --- | --- |
| \`/push\`, 8 connections, 1000 leaves/request | $(num "$big_lps") leaves/s ($(num "$big_rps") requests/s) | ≥ 1 000 000 leaves/s | $(verdict "$big_lps" ">=" 1000000) |
| \`/push\`, 8 connections, 10 leaves/request | $(num "$small_lps") leaves/s ($(num "$small_rps") requests/s) | — | |
| \`/get\` of a $get_bytes-byte subtree, wrk -t1 -c50 | $(num "$get_canopy") req/s vs nginx $(num "$get_nginx") req/s = ${get_ratio}× | ≥ 0.7× nginx | $(verdict "$get_ratio" ">=" 0.7) |
| fan-out of one change to $WAITERS waiters | last reply after $fan_max ms (p50 $fan_p50, p99 $fan_p99); $fan_delivered delivered | ≤ 89.5 ms (0.5 × nchan's 179 ms) | $( [ "$fan_delivered" = "$WAITERS" ] && verdict "$fan_max" "<=" 89.5 || echo "**no**") |
| server memory per parked waiter (RSS) | $per_waiter bytes | ≤ 8192 bytes | $(verdict "$per_waiter" "<=" 8192) |
| server memory per leaf, $(num "$leaves_added") leaves ($(num "$nodes_after") nodes) | $per_leaf bytes (RSS $((rss_before / 1048576)) → $((rss_after / 1048576)) MB; inserted at $(num "$mem_lps") leaves/s) | ≤ 150 bytes | $(verdict "$per_leaf" "<=" 150) |
EOF
