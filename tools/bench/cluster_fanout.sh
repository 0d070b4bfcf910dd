#!/usr/bin/env bash
# Issue 13 benchmark: viewers past one process. One change written to a
# shard reaches WAITERS long-poll waiters on each of PROCS edges (canopyd
# --cluster, one nats-server, one shard), against nginx + nchan with PROCS
# workers holding the same number of waiters; taking turns, ROUNDS times.
#
# A process here may open 20 000 files, so the waiters are held by PROCS
# server processes and parked by PROCS client processes
# (canopy-pull-fanout --ready_file), one per edge (nchan: one per listening
# port, each port shared by the workers with SO_REUSEPORT, so that each
# worker holds about a third). The clients park one after the other (the
# nchan status counts every client's subscribers), each then idling on its
# sockets; canopy-fanout-push waits until all are parked, sends the one
# change (to the shard; to nginx's publisher), and reckons every reply's
# latency from its wall-clock time of the push: the last reply of all is
# the figure, with the servers' CPU time over the delivery.
# A third side, "floor", is the least any server can do here with the same
# clients: PROCS canopy-comet-floor processes (one epoll loop each that
# only writes one reply built once), the first writing the publish on to the
# others over TCP before answering its own waiters (--relay).
# Loopback only; every process it starts it stops.
#
# Usage: tools/bench/cluster_fanout.sh
# Environment: BUILD (build dir, default build), WAITERS (per process,
#   default 18000), PROCS (default 3), ROUNDS (default 3), SIDES (default
#   "canopy nchan floor"; ONLY=canopy or nchan still picks one), EDGE_FLAGS
#   (more flags for the edges, e.g. --comet_threads=1), FLOOR_THREADS (each
#   floor process's loops, default 1).
# Needs: nats-server, nginx with the nchan module (scripts/deps.sh --bench),
#   canopyd, canopy-pull-fanout and canopy-fanout-push in $BUILD/bin.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
WAITERS=${WAITERS:-18000}
PROCS=${PROCS:-3}
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-}
SIDES=${SIDES:-${ONLY:-canopy nchan floor}}
FLOOR_THREADS=${FLOOR_THREADS:-1}
KEY=bench,fanout
TMP=$(mktemp -d /tmp/canopy-cluster-fanout.XXXXXX)
. "$(dirname "$0")/lib.sh"
say() { printf '== %s\n' "$*" >&2; }
die() { echo "cluster_fanout.sh: $*" >&2; exit 1; }

command -v nats-server >/dev/null || die "needs nats-server (apt-get install nats-server)"
command -v nginx >/dev/null || die "needs nginx (scripts/deps.sh --bench)"
NCHAN_MODULE=
for f in /usr/lib/nginx/modules/ngx_nchan_module.so \
  /usr/share/nginx/modules/ngx_nchan_module.so; do
  [ -f "$f" ] && NCHAN_MODULE=$f && break
done
[ -n "$NCHAN_MODULE" ] || die "needs nginx's nchan module (apt-get install libnginx-mod-nchan)"
for b in canopyd canopy-pull-fanout canopy-fanout-push canopy-comet-floor; do
  [ -x "$BIN/$b" ] || die "needs $BIN/$b (cmake --build $BUILD --target $b)"
done
[ "$(ulimit -Hn)" -ge $((WAITERS + 100)) ] ||
  die "the open-file limit ($(ulimit -Hn)) is below WAITERS + 100"

# start_node NAME EXTRA...: canopyd with a ready file; sets NODE_PID, NODE_HTTP
start_node() {
  local name=$1
  shift
  mkdir -p "$TMP/$name"
  "$BIN/canopyd" --http=127.0.0.1:0 --udp=off --tcp=off \
    --data_dir="$TMP/$name/data" --ready_file="$TMP/$name/ready" "$@" \
    2>"$TMP/$name/log" &
  NODE_PID=$!
  STARTED+=("$NODE_PID")
  for _ in $(seq 1 100); do [ -s "$TMP/$name/ready" ] && break; sleep 0.1; done
  [ -s "$TMP/$name/ready" ] || die "$name did not start: $(tail -n 3 "$TMP/$name/log")"
  NODE_HTTP=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$TMP/$name/ready")
}

# fanout DIR PUSH_ARGS... -- CLIENT1_ARGS -- CLIENT2_ARGS ...: the clients
# park in turn, the pusher pushes; prints the pusher's RESULT line.
fanout() {
  local dir=$1
  shift
  local push_args=()
  while [ "$1" != -- ]; do push_args+=("$1"); shift; done
  shift
  local pids=() i=0 args=()
  mkdir -p "$dir"
  "$BIN/canopy-fanout-push" "${push_args[@]}" --go_file="$dir/go" \
    --end_file="$dir/end" \
    --ready_files="$(seq -s, -f "$dir/ready%g" 1 "$PROCS")" \
    --done_files="$(seq -s, -f "$dir/done%g" 1 "$PROCS")" \
    >"$dir/push.out" 2>&1 &
  local pusher=$!
  STARTED+=("$pusher")
  while [ $# -gt 0 ]; do
    args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    i=$((i + 1))
    timeout 900 "$BIN/canopy-pull-fanout" "${args[@]}" --waiters="$WAITERS" \
      --ready_file="$dir/ready$i" --go_file="$dir/go" \
      --done_file="$dir/done$i" --end_file="$dir/end" \
      >"$dir/client$i.out" 2>&1 &
    pids+=($!)
    STARTED+=("$!")
    # The next client starts once this one's waiters are parked.
    while [ ! -s "$dir/ready$i" ]; do
      kill -0 "${pids[-1]}" 2>/dev/null ||
        die "client $i stopped: $(tail -n 3 "$dir/client$i.out")"
      sleep 0.2
    done
    say "  client $i: $(cat "$dir/ready$i")"
  done
  wait "$pusher" || say "not every waiter was served: $(tail -n 4 "$dir/push.out")"
  forget "$pusher"
  for p in "${pids[@]}"; do wait "$p" || true; forget "$p"; done
  cat "$dir/push.out" >&2
  grep '^RESULT' "$dir/push.out" || die "no result in $dir/push.out"
}

run_canopy() {  # $1: round
  local r=$1 nats_port
  nats_port=$(free_port)
  nats-server -a 127.0.0.1 -p "$nats_port" >"$TMP/nats-$r.log" 2>&1 &
  local nats_pid=$!
  STARTED+=("$nats_pid")
  for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break; sleep 0.1; done
  local cluster=(--cluster="nats://127.0.0.1:$nats_port" --shards=a)
  start_node "canopy-$r-a" "${cluster[@]}" --node=a
  local shard_pid=$NODE_PID shard_http=$NODE_HTTP
  local pids=("$nats_pid" "$shard_pid") clients=() e
  for e in $(seq 1 "$PROCS"); do
    # shellcheck disable=SC2086 # EDGE_FLAGS: words
    start_node "canopy-$r-e$e" "${cluster[@]}" --node="e$e" ${EDGE_FLAGS:-}
    pids+=("$NODE_PID")
    clients+=(-- --server="127.0.0.1:$NODE_HTTP" --key="$KEY" --poll_timeout=300)
  done
  # The key, once, on its owner; each client waits for its edge's copy.
  curl -sf -X POST --data-binary "{\"$KEY\": 0}" "http://127.0.0.1:$shard_http/push" >/dev/null ||
    die "the shard refused the first push"
  say "round $r: canopyd, a shard and $PROCS edges, $PROCS x $WAITERS waiters"
  fanout "$TMP/canopy-$r" --server="127.0.0.1:$shard_http" --key="$KEY" \
    --server_pid="$(IFS=,; echo "${pids[*]}")" "${clients[@]}"
  for p in "${pids[@]}"; do stop "$p"; done
}

run_nchan() {  # $1: round
  local r=$1 dir=$TMP/nchan-$1 ports=() listen="" p i
  mkdir -p "$dir"
  for i in $(seq 1 "$PROCS"); do
    p=$(free_port)
    ports+=("$p")
    listen+="    listen 127.0.0.1:$p reuseport backlog=4096;"$'\n'
  done
  # PROCS workers and a port per client.
  nchan_conf "$dir" "$PROCS" $((2 * WAITERS + 1000)) "$listen"
  nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/error.log" &
  local master=$!
  STARTED+=("$master")
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:${ports[0]}/nchan_status" >/dev/null && break
    sleep 0.1
  done
  for _ in $(seq 1 50); do
    [ "$(pgrep -P "$master" | wc -l)" -ge "$PROCS" ] && break
    sleep 0.1
  done
  local workers
  workers=$(pgrep -P "$master" | paste -sd, -)
  [ -n "$workers" ] || die "nginx did not start: $(tail -n 3 "$dir/error.log")"
  local channel="fanout_$r" clients=()
  for p in "${ports[@]}"; do
    clients+=(-- --target=nchan --server="127.0.0.1:$p" --subscribe_path="/sub/$channel"
      --publish_path="/pub/$channel" --status_path=/nchan_status)
  done
  say "round $r: nginx + nchan, $PROCS workers ($workers), $PROCS x $WAITERS waiters"
  fanout "$dir/run" --target=nchan --server="127.0.0.1:${ports[0]}" \
    --publish_path="/pub/$channel" --server_pid="$workers" "${clients[@]}"
  kill -TERM "$master" 2>/dev/null || true
  timeout 30 tail --pid="$master" -f /dev/null || kill -KILL "$master" 2>/dev/null || true
  wait "$master" 2>/dev/null || true
  forget "$master"
}

run_floor() {  # $1: round
  local r=$1 ports=() pids=() clients=() i
  for i in $(seq 1 "$PROCS"); do ports+=("$(free_port)"); done
  # The others first: the first connects to them to relay each publish.
  for i in $(seq "$PROCS" -1 1); do
    local relay=()
    ((i == 1 && PROCS > 1)) && relay=(--relay="$(IFS=,; echo "${ports[*]:1}")")
    "$BIN/canopy-comet-floor" --port="${ports[i - 1]}" --threads="$FLOOR_THREADS" \
      "${relay[@]}" 2>>"$TMP/floor-$r.log" &
    pids+=($!)
    STARTED+=("$!")
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:${ports[i - 1]}/nchan_status" >/dev/null && break
      sleep 0.1
    done
  done
  for i in $(seq 1 "$PROCS"); do
    clients+=(-- --target=nchan --server="127.0.0.1:${ports[i - 1]}" --subscribe_path=/sub/floor
      --publish_path=/pub/floor --status_path=/nchan_status)
  done
  say "round $r: the floor, $PROCS canopy-comet-floor processes, $PROCS x $WAITERS waiters"
  fanout "$TMP/floor-$r" --target=nchan --server="127.0.0.1:${ports[0]}" \
    --publish_path=/pub/floor --server_pid="$(IFS=,; echo "${pids[*]}")" "${clients[@]}"
  for p in "${pids[@]}"; do stop "$p"; done
}

results=()
for r in $(seq 1 "$ROUNDS"); do
  order=$SIDES
  ((r % 2)) || order=$(printf '%s\n' $SIDES | tac | paste -sd' ')
  for side in $order; do
    # Not in a $(...): the processes it starts stay on this shell's list.
    run_"$side" "$r" >"$TMP/result-$side-$r"
    # The floor speaks as nchan; its lines are named for their side.
    results+=("$(sed "s/target=[a-z]*/target=$side/" "$TMP/result-$side-$r") round=$r")
  done
done

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
echo
echo "| round | server | waiters parked | delivered | first ms | p50 ms | p99 ms | last ms | servers' CPU ms | µs per delivery |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for line in "${results[@]}"; do
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
    "$(field "$line" round)" "$(field "$line" target)" "$(field "$line" parked)" \
    "$(field "$line" delivered)" "$(field "$line" first_ms)" "$(field "$line" p50_ms)" \
    "$(field "$line" p99_ms)" "$(field "$line" max_ms)" "$(field "$line" server_cpu_ms)" \
    "$(field "$line" cpu_us_per_delivery)"
done
printf '%s\n' "${results[@]}" | awk '
  { t = ""; m = ""; for (i = 1; i <= NF; i++) { split($i, kv, "=");
      if (kv[1] == "target") t = kv[2]; if (kv[1] == "max_ms") m = kv[2] }
    if (t == "canopy") c[++nc] = m; else if (t == "nchan") n[++nn] = m; else if (t == "floor") f[++nf] = m }
  function median(x, k,   i, j, tmp) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (x[j] < x[i]) { tmp = x[i]; x[i] = x[j]; x[j] = tmp }
    return (k % 2) ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2 }
  END { if (nc && nn) { mc = median(c, nc); mn = median(n, nn)
        printf "\nmedian last reply: canopy %.1f ms, nginx + nchan %.1f ms: **%.2fx** (goal <= 0.5x)\n", mc, mn, mc / mn }
        if (nf && nn) { mf = median(f, nf)
        printf "the floor %.1f ms: floor / nchan %.2fx, canopy / floor %.2fx\n", mf, mf / mn, (nc ? mc / mf : 0) } }'
