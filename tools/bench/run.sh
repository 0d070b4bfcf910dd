#!/usr/bin/env bash
# Issue 2 benchmarks ("the live tree"), on loopback only:
#   1. POST /push throughput (canopy-push-load);
#   2. GET /get of a ~1 KB subtree under wrk, beside nginx serving the same
#      bytes from a file with one worker;
#   3. one change fanned out to 10 000 and to 18 000 parked long-poll
#      waiters, canopyd, nginx + nchan and canopy-comet-floor back to back,
#      ROUNDS rounds alternating, and each server's memory per waiter
#      (canopy-pull-fanout); medians and ratios;
#   4. memory per leaf with 1 000 000 leaves pushed through /push.
# Prints Markdown tables at the end. See docs/BENCHMARKS.md.
#
# Usage: tools/bench/run.sh
# Environment: BUILD (build dir, default build-bench), JOBS (default 2),
#   RUN_SECONDS (per throughput run, default 10), WAITERS (fan-out sizes,
#   default "10000 18000"), MEM_LEAVES (default 1000000), CANOPYD (a
#   canopyd binary to use instead of building one), ONLY=fanout (run the
#   fan-out comparison alone), ONLY=steady (the steady mode alone: 10
#   changes a second for STEADY_SECONDS (default 10) to STEADY_WAITERS
#   (default 10000) waiters that each poll again from the seq of their last
#   reply on their connection, canopyd and the floor in turn), ROUNDS
#   (rounds of each comparison, default 3), COMET_THREADS (canopyd's --comet_threads; default
#   its own: one per core), NCHAN_WORKERS (nginx's worker_processes for the
#   fan-out, default 1: compare like with like). The fan-out also runs
#   canopy-comet-floor with as many threads as canopyd has workers: the
#   least any server does on this machine (its own epoll loops, one write
#   per delivery, nothing else), so that a ratio shows what is left to win.
# Needs: cmake, ninja, wrk, nginx (Debian nginx-light) with the nchan
#   module (libnginx-mod-nchan), curl; scripts/deps.sh --bench installs them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
JOBS=${JOBS:-2}
RUN_SECONDS=${RUN_SECONDS:-10}
WAITERS=${WAITERS:-10000 18000}
ONLY=${ONLY:-}
case "$ONLY" in "" | fanout | steady) ;; *) echo "run.sh: ONLY must be empty, fanout or steady" >&2; exit 1 ;; esac
ROUNDS=${ROUNDS:-3}
STEADY_WAITERS=${STEADY_WAITERS:-10000}
STEADY_SECONDS=${STEADY_SECONDS:-10}
[ "$ONLY" = steady ] && WAITERS=$STEADY_WAITERS
MAX_WAITERS=0
for w in $WAITERS; do [ "$w" -gt "$MAX_WAITERS" ] && MAX_WAITERS=$w; done
MEM_LEAVES=${MEM_LEAVES:-1000000}

TMP=$(mktemp -d /tmp/canopy-bench.XXXXXX)
. "$(dirname "$0")/lib.sh"

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

for tool in cmake ninja wrk nginx curl; do
  command -v "$tool" >/dev/null || die "needs $tool (apt-get install $tool)"
done
NCHAN_MODULE=
for f in /usr/lib/nginx/modules/ngx_nchan_module.so \
  /usr/share/nginx/modules/ngx_nchan_module.so; do
  [ -f "$f" ] && NCHAN_MODULE=$f && break
done
[ -n "$NCHAN_MODULE" ] ||
  die "needs nginx's nchan module (apt-get install libnginx-mod-nchan)"

# --- build --------------------------------------------------------------------
say "building Release in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCANOPY_BUILD_TESTS=OFF >/dev/null
targets="canopy-cli canopy-push-load canopy-pull-fanout canopy-comet-floor"
[ -z "${CANOPYD:-}" ] && targets="canopyd $targets"
timeout 900 ninja -C "$BUILD" -j"$JOBS" $targets >&2
BIN=$BUILD/bin
CANOPYD=${CANOPYD:-$BIN/canopyd}

# W waiters need as many descriptors in canopyd (or nginx) and in the client.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((MAX_WAITERS + 100)) ] ||
  die "open-file limit $(ulimit -n) is too low for $MAX_WAITERS waiters"

# UDP and TCP ingest are not measured here: switch them off where canopyd
# has them.
# (The help is read whole first: grep -q on a pipe may end canopyd with
# SIGPIPE, which pipefail would take for "no such flag".)
INGEST_OFF=()
CANOPYD_HELP=$("$CANOPYD" --helpfull 2>&1 || true)
for proto in udp tcp; do
  grep -q -- "--${proto}[ =]" <<<"$CANOPYD_HELP" && INGEST_OFF+=("--$proto=off")
done

# --- helpers ------------------------------------------------------------------
CANOPYD_PID=
PORT=

start_canopyd() {  # $1: name of the run
  local dir=$TMP/$1
  mkdir -p "$dir"
  "$CANOPYD" --http=127.0.0.1:0 "${INGEST_OFF[@]}" --data_dir="$dir/data" \
    --ready_file="$dir/ready" --max_waiters=$((MAX_WAITERS + 1000)) \
    ${COMET_THREADS:+--comet_threads=$COMET_THREADS} \
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
  forget "$CANOPYD_PID"
}

rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }

metric() {  # $1: metric name
  curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

field() {  # $1: RESULT line, $2: key
  printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
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

# median V1 V2 ...: the middle value (the mean of the two middle ones).
median() {
  printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
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

# run_fanout NAME COMMAND...: as run_tool, but a fan-out that lost waiters
# still gives its RESULT line (the tables show how many were delivered);
# only a run with no RESULT at all stops the script.
run_fanout() {
  local name=$1
  shift
  "$@" >"$TMP/$name.out" 2>&1 || say "$name: not every waiter was served"
  cat "$TMP/$name.out" >&2
  grep '^RESULT' "$TMP/$name.out" || die "$name failed"
}

printf 'machine: %s, %s cores, Linux %s\n' \
  "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)" \
  "$(uname -r)" >&2

# start_nchan NAME: nginx with the nchan module, one worker, on a free
# loopback port; sets NCHAN_PORT, NGINX_MASTER and NGINX_WORKER (the process
# that holds the subscribers).
NCHAN_PORT=
NGINX_MASTER=
NGINX_WORKER=
start_nchan() {
  local dir=$TMP/$1 i
  mkdir -p "$dir"
  NCHAN_PORT=$(free_port)
  # One message per channel is all the benchmark publishes; a channel id
  # per run keeps every run on an empty channel, so that a subscriber
  # without a message id waits for the next message.
  nchan_conf "$dir" "${NCHAN_WORKERS:-1}" $((2 * MAX_WAITERS + 1000)) \
    "    listen 127.0.0.1:$NCHAN_PORT backlog=4096;"
  nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/error.log" &
  NGINX_MASTER=$!
  STARTED+=("$NGINX_MASTER")
  for i in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$NCHAN_PORT/nchan_status" >/dev/null && break
    kill -0 "$NGINX_MASTER" 2>/dev/null ||
      die "nginx exited: $(tail -n 3 "$dir/error.log")"
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$NCHAN_PORT/nchan_status" | grep -q '^subscribers:' ||
    die "nginx + nchan does not answer: $(tail -n 3 "$dir/error.log")"
  # Every worker holds subscribers: their figures are summed.
  for i in $(seq 1 50); do
    [ "$(pgrep -P "$NGINX_MASTER" | wc -l)" -ge "${NCHAN_WORKERS:-1}" ] && break
    sleep 0.1
  done
  NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | paste -sd, -)
  [ -n "$NGINX_WORKER" ] || die "cannot find nginx's worker"
}

stop_nginx() {  # $1: master pid
  kill -TERM "$1" 2>/dev/null || true
  timeout 30 tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget "$1"
}

if [ -z "$ONLY" ]; then
  # --- 1. push throughput -----------------------------------------------------
  start_canopyd main
  say "push: 8 connections, 1000 leaves per request, 100 000 leaves, ${RUN_SECONDS}s"
  push_big=$(run_tool push_big timeout 120 "$BIN/canopy-push-load" \
    --server="127.0.0.1:$PORT" --connections=8 --leaves=1000 --keyspace=100000 \
    --seconds="$RUN_SECONDS")
  say "push: 8 connections, 10 leaves per request, ${RUN_SECONDS}s"
  push_small=$(run_tool push_small timeout 120 "$BIN/canopy-push-load" \
    --server="127.0.0.1:$PORT" --connections=8 --leaves=10 --keyspace=100000 \
    --prefix=bench,small --seconds="$RUN_SECONDS")

  # --- 2. /get beside nginx ---------------------------------------------------
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
  GET_NGINX=$!
  STARTED+=("$GET_NGINX")
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
  # Two rounds, alternating, keeping each server's best: a shared machine's
  # noise then hurts both sides alike.
  get_canopy=0
  get_nginx=0
  max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
  for round in 1 2; do
    say "wrk round $round: canopyd $GET_PATH ($get_bytes bytes)"
    get_canopy=$(max "$get_canopy" "$(run_wrk "http://127.0.0.1:$PORT$GET_PATH")")
    say "wrk round $round: nginx, the same $get_bytes bytes from a file, 1 worker"
    get_nginx=$(max "$get_nginx" "$(run_wrk "http://127.0.0.1:$NGINX_PORT/get.json")")
  done

  stop_nginx "$GET_NGINX"
  stop_canopyd
fi

# --- 3. fan-out, canopyd beside nginx + nchan --------------------------------
# Every run on a fresh server, so that its RSS growth is the waiters' and not
# memory freed by earlier runs and reused. At each size ROUNDS rounds, the
# order of the servers reversed every other round, so that a shared
# machine's noise hurts every side alike; medians reported.
declare -A FAN  # FAN[$waiters,$round,$target] = RESULT line
FLOOR_THREADS=${COMET_THREADS:-$(nproc)}
# start_floor: canopy-comet-floor on a free port; sets FLOOR_PORT, FLOOR_PID.
start_floor() {
  FLOOR_PORT=$(free_port)
  "$BIN/canopy-comet-floor" --port="$FLOOR_PORT" --threads="$FLOOR_THREADS" &
  FLOOR_PID=$!
  STARTED+=("$FLOOR_PID")
  local i
  for i in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$FLOOR_PORT/nchan_status" >/dev/null && break
    sleep 0.1
  done
}
stop_floor() {
  kill -TERM "$FLOOR_PID" 2>/dev/null || true
  wait "$FLOOR_PID" 2>/dev/null || true
  forget "$FLOOR_PID"
}
fanout_run() {  # $1: canopy, nchan or floor, $2: waiters, $3: round
  local name="fanout-$1-$2-$3"
  if [ "$1" = canopy ]; then
    start_canopyd "$name"
    say "fan-out round $3: canopyd, $2 waiters"
    FAN[$2,$3,$1]=$(run_fanout "$name" timeout 300 "$BIN/canopy-pull-fanout" \
      --server="127.0.0.1:$PORT" --waiters="$2" --server_pid="$CANOPYD_PID")
    stop_canopyd
  elif [ "$1" = nchan ]; then
    start_nchan "$name"
    say "fan-out round $3: nginx + nchan, $2 waiters (worker $NGINX_WORKER)"
    local channel="fanout_$2_$3"
    FAN[$2,$3,$1]=$(run_fanout "$name" timeout 300 "$BIN/canopy-pull-fanout" \
      --target=nchan --server="127.0.0.1:$NCHAN_PORT" --waiters="$2" \
      --server_pid="$NGINX_WORKER" --subscribe_path="/sub/$channel" \
      --publish_path="/pub/$channel" --status_path=/nchan_status)
    stop_nginx "$NGINX_MASTER"
  else
    start_floor
    say "fan-out round $3: the floor ($FLOOR_THREADS threads), $2 waiters"
    FAN[$2,$3,$1]=$(run_fanout "$name" timeout 300 "$BIN/canopy-pull-fanout" \
      --target=nchan --server="127.0.0.1:$FLOOR_PORT" --waiters="$2" \
      --server_pid="$FLOOR_PID" --subscribe_path=/sub/floor \
      --publish_path=/pub/floor --status_path=/nchan_status)
    stop_floor
  fi
}
# Each round in turn, the order reversed every other round.
round_order() {  # $1: round, then the targets
  local r=$1
  shift
  if [ $((r % 2)) = 1 ]; then
    printf '%s\n' "$@"
  else
    printf '%s\n' "$@" | tac
  fi
}
if [ "$ONLY" != steady ]; then
  for w in $WAITERS; do
    for round in $(seq 1 "$ROUNDS"); do
      for target in $(round_order "$round" canopy nchan floor); do
        fanout_run "$target" "$w" "$round"
      done
    done
  done
fi

# --- steady: 10 changes a second, every waiter polling again ------------------
declare -A STEADY  # STEADY[$round,$target] = RESULT line
steady_run() {  # $1: canopy or floor, $2: round
  local name="steady-$1-$2" pid port
  if [ "$1" = canopy ]; then
    start_canopyd "$name"
    pid=$CANOPYD_PID port=$PORT
  else
    start_floor
    pid=$FLOOR_PID port=$FLOOR_PORT
  fi
  say "steady round $2: $1, $STEADY_WAITERS waiters, 10 changes/s for ${STEADY_SECONDS}s"
  STEADY[$2,$1]=$("$BIN/canopy-pull-fanout" --server="127.0.0.1:$port" \
    --waiters="$STEADY_WAITERS" --server_pid="$pid" --changes_per_second=10 \
    --seconds="$STEADY_SECONDS" >"$TMP/$name.out" 2>&1 || say "$name: errors"
    cat "$TMP/$name.out" >&2
    grep '^RESULT' "$TMP/$name.out" || die "$name failed")
  if [ "$1" = canopy ]; then stop_canopyd; else stop_floor; fi
}
if [ "$ONLY" = steady ]; then
  for round in $(seq 1 "$ROUNDS"); do
    for target in $(round_order "$round" canopy floor); do
      steady_run "$target" "$round"
    done
  done
  echo
  echo "| round | server | deliveries / expected | p50 ms | p99 ms | max ms | server CPU ms | CPU µs per delivery |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  for round in $(seq 1 "$ROUNDS"); do
    for target in canopy floor; do
      r=${STEADY[$round,$target]}
      label=canopyd
      [ "$target" = floor ] && label="the floor ($FLOOR_THREADS threads)"
      printf '| %s | %s | %s / %s | %s | **%s** | %s | %s | %s |\n' "$round" "$label" \
        "$(num "$(field "$r" deliveries)")" "$(num "$(field "$r" expected)")" \
        "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" "$(field "$r" max_ms)" \
        "$(field "$r" server_cpu_ms)" \
        "$(awk -v c="$(field "$r" server_cpu_ms)" -v d="$(field "$r" deliveries)" \
          'BEGIN { if (d > 0) printf "%.1f", c * 1000 / d; else print "n/a" }')"
    done
  done
  echo
  for target in canopy floor; do
    p50s=() p99s=() dels=()
    for round in $(seq 1 "$ROUNDS"); do
      p50s+=("$(field "${STEADY[$round,$target]}" p50_ms)")
      p99s+=("$(field "${STEADY[$round,$target]}" p99_ms)")
      dels+=("$(field "${STEADY[$round,$target]}" deliveries)")
    done
    printf 'steady, %s, median of %s rounds: p50 %s ms, p99 %s ms, %s deliveries\n' \
      "$target" "$ROUNDS" "$(median "${p50s[@]}")" "$(median "${p99s[@]}")" \
      "$(num "$(median "${dels[@]}")")"
  done
  exit 0
fi

if [ -z "$ONLY" ]; then
  # --- 4. memory per leaf -----------------------------------------------------
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
fi

# --- the tables ---------------------------------------------------------------
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? a : b }'; }

# Every fan-out run, then the comparison at each size.
echo
echo "| waiters | round | server | last reply ms (first / p50 / p99) | delivered | server CPU ms | CPU µs per delivery | client CPU ms | server bytes per parked waiter |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for w in $WAITERS; do
  for round in $(seq 1 "$ROUNDS"); do
    for target in canopy nchan floor; do
      r=${FAN[$w,$round,$target]}
      label=canopyd
      [ "$target" = nchan ] && label="nginx + nchan"
      [ "$target" = floor ] && label="the floor ($FLOOR_THREADS threads)"
      printf '| %s | %s | %s | **%s** (%s / %s / %s) | %s | %s | %s | %s | %s |\n' \
        "$(num "$w")" "$round" "$label" "$(field "$r" max_ms)" \
        "$(field "$r" first_ms)" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" \
        "$(field "$r" delivered)" "$(field "$r" server_cpu_ms)" \
        "$(field "$r" cpu_us_per_delivery)" "$(field "$r" client_cpu_ms)" \
        "$(field "$r" bytes_per_waiter)"
    done
  done
done

echo
echo "| benchmark | measured | goal (DESIGN.md) | met |"
echo "| --- | --- | --- | --- |"
if [ -z "$ONLY" ]; then
  big_lps=$(field "$push_big" leaves_per_s)
  big_rps=$(field "$push_big" requests_per_s)
  small_lps=$(field "$push_small" leaves_per_s)
  small_rps=$(field "$push_small" requests_per_s)
  get_ratio=$(ratio "$get_canopy" "$get_nginx")
  cat <<EOF
| \`/push\`, 8 connections, 1000 leaves/request | $(num "$big_lps") leaves/s ($(num "$big_rps") requests/s) | ≥ 1 000 000 leaves/s | $(verdict "$big_lps" ">=" 1000000) |
| \`/push\`, 8 connections, 10 leaves/request | $(num "$small_lps") leaves/s ($(num "$small_rps") requests/s) | — | |
| \`/get\` of a $get_bytes-byte subtree, wrk -t1 -c50, best of 2 | $(num "$get_canopy") req/s vs nginx $(num "$get_nginx") req/s = ${get_ratio}× | ≥ 0.7× nginx | $(verdict "$get_ratio" ">=" 0.7) |
EOF
fi
for w in $WAITERS; do
  # The median of the rounds for each server, and each round's own ratio.
  declare -A MS CPU
  all_delivered=yes
  for target in canopy nchan floor; do
    ms=() cpu=()
    for round in $(seq 1 "$ROUNDS"); do
      ms+=("$(field "${FAN[$w,$round,$target]}" max_ms)")
      cpu+=("$(field "${FAN[$w,$round,$target]}" cpu_us_per_delivery)")
      [ "$target" = canopy ] && [ "$(field "${FAN[$w,$round,$target]}" delivered)" != "$w" ] &&
        all_delivered=no
    done
    MS[$target]=$(median "${ms[@]}")
    CPU[$target]=$(median "${cpu[@]}")
  done
  rounds_ratio() {  # $1 $2: targets; $3: field
    local round out=()
    for round in $(seq 1 "$ROUNDS"); do
      out+=("$(ratio "$(field "${FAN[$w,$round,$1]}" "$3")" "$(field "${FAN[$w,$round,$2]}" "$3")")×")
    done
    local IFS=,
    printf '%s' "${out[*]}" | sed 's/,/, /g'
  }
  t_ratio=$(ratio "${MS[canopy]}" "${MS[nchan]}")
  printf '| fan-out of one change to %s waiters, last reply, median of %s | canopyd %s ms vs nginx + nchan %s ms = **%s×** (rounds: %s) | ≤ 0.5× nchan | %s |\n' \
    "$(num "$w")" "$ROUNDS" "${MS[canopy]}" "${MS[nchan]}" "$t_ratio" \
    "$(rounds_ratio canopy nchan max_ms)" \
    "$([ "$all_delivered" = yes ] && verdict "$t_ratio" "<=" 0.5 || echo "**no**")"
  printf '| fan-out to %s waiters, server CPU per delivery, median of %s | canopyd %s µs vs nginx + nchan %s µs = **%s×** (rounds: %s) | ≤ 6 µs | %s |\n' \
    "$(num "$w")" "$ROUNDS" "${CPU[canopy]}" "${CPU[nchan]}" \
    "$(ratio "${CPU[canopy]}" "${CPU[nchan]}")" \
    "$(rounds_ratio canopy nchan cpu_us_per_delivery)" "$(verdict "${CPU[canopy]}" "<=" 6)"
  printf '| fan-out to %s waiters: the floor (%s threads), median of %s | %s ms, %s µs per delivery: canopyd is %s× the floor'"'"'s time (rounds: %s) and %s× its CPU, nchan %s× its time; the floor is %s× nchan | — | |\n' \
    "$(num "$w")" "$FLOOR_THREADS" "$ROUNDS" "${MS[floor]}" "${CPU[floor]}" \
    "$(ratio "${MS[canopy]}" "${MS[floor]}")" "$(rounds_ratio canopy floor max_ms)" \
    "$(ratio "${CPU[canopy]}" "${CPU[floor]}")" \
    "$(ratio "${MS[nchan]}" "${MS[floor]}")" "$(ratio "${MS[floor]}" "${MS[nchan]}")"
done
w1=${WAITERS%% *}
c_pw=$(field "${FAN[$w1,1,canopy]}" bytes_per_waiter)
n_pw=$(field "${FAN[$w1,1,nchan]}" bytes_per_waiter)
printf '| server memory per parked waiter (RSS), %s waiters, round 1 | canopyd %s bytes vs nginx + nchan %s bytes | ≤ 8192 bytes | %s |\n' \
  "$(num "$w1")" "$c_pw" "$n_pw" "$(verdict "$c_pw" "<=" 8192)"
if [ -z "$ONLY" ]; then
  mem_lps=$(field "$mem" leaves_per_s)
  cat <<EOF
| server memory per leaf, $(num "$leaves_added") leaves ($(num "$nodes_after") nodes) | $per_leaf bytes (RSS $((rss_before / 1048576)) → $((rss_after / 1048576)) MB; inserted at $(num "$mem_lps") leaves/s) | ≤ 150 bytes | $(verdict "$per_leaf" "<=" 150) |
EOF
fi
