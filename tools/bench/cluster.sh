#!/usr/bin/env bash
# Issue 13 benchmark: what forwarding costs. The same StatsD load over UDP
# (canopy-statsd-blast), first to one canopyd alone, then spread over the
# three shards of a cluster (nats-server and three canopyd, --shard_depth=3
# so that the generator's names spread), taking turns, ROUNDS times each.
# A third arm, "apart", is the floor of any cluster on this machine: three
# canopyd that know nothing of each other, each sent a third of the load
# over its own third of the names (as many series in all as the others
# hold, nothing forwarded). It is what spreading the
# work over three processes costs by itself (more wake-ups, each with less
# to do); cluster / apart is what forwarding adds to that.
# For each run: lines accepted (by their owners) against lines sent, and the
# CPU time of every server process (canopyd, and nats-server in the cluster)
# per million lines; the ratio cluster / alone is the forwarding's price.
# Loopback only; every process it starts it stops.
#
# Usage: tools/bench/cluster.sh
# Environment: BUILD (build dir, default build), RATE (lines/s in all,
#   default 300000), SECONDS_ (default 5), ROUNDS (default 3), KEYS (default
#   30000), BATCH_MS (the shards' --cluster_batch_ms, default 25).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
RATE=${RATE:-300000}
SECS=${SECONDS_:-5}
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-30000}
BATCH_MS=${BATCH_MS:-25}
TMP=$(mktemp -d /tmp/canopy-cluster-bench.XXXXXX)
. "$(dirname "$0")/lib.sh"
die() { echo "cluster.sh: $*" >&2; exit 1; }
command -v nats-server >/dev/null || die "needs nats-server (apt-get install nats-server)"
for b in canopyd canopy-statsd-blast; do
  [ -x "$BIN/$b" ] || die "needs $BIN/$b (cmake --build $BUILD --target $b)"
done

ticks() {  # utime + stime of a process, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
metric() {  # $1 http port, $2 metric line prefix: the sum of its values
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {printf "%.0f", s}'
}

# start_node NAME EXTRA...: canopyd with a ready file; sets NODE_PID, NODE_HTTP, NODE_UDP
start_node() {
  local name=$1
  shift
  mkdir -p "$TMP/$name"
  "$BIN/canopyd" --http=127.0.0.1:0 --udp=127.0.0.1:0 --tcp=off \
    --data_dir="$TMP/$name/data" --ready_file="$TMP/$name/ready" "$@" \
    2>"$TMP/$name/log" &
  NODE_PID=$!
  STARTED+=("$NODE_PID")
  for _ in $(seq 1 100); do [ -s "$TMP/$name/ready" ] && break; sleep 0.1; done
  [ -s "$TMP/$name/ready" ] || die "$name did not start: $(tail -n 3 "$TMP/$name/log")"
  NODE_HTTP=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$TMP/$name/ready")
  NODE_UDP=$(sed -n 's/.*udp=\([0-9]*\).*/\1/p' "$TMP/$name/ready")
}

# accepted(http ports...): lines the nodes applied as their owners.
accepted() {
  local total=0 p
  for p in "$@"; do
    total=$((total + $(metric "$p" 'canopy_ingest_accepted_total{protocol="udp"}') \
      + $(metric "$p" 'canopy_ingest_accepted_total{protocol="cluster"}')))
  done
  echo "$total"
}

run_alone() {
  start_node "alone-$1"
  local pid=$NODE_PID http=$NODE_HTTP udp=$NODE_UDP
  local before after
  before=$(ticks "$pid")
  "$BIN/canopy-statsd-blast" --server="127.0.0.1:$udp" --rate="$RATE" \
    --seconds="$SECS" --keys="$KEYS" >"$TMP/blast-alone-$1" 2>&1
  sleep 1  # the last datagrams are read
  after=$(ticks "$pid")
  local sent got
  sent=$(sed -n 's/^RESULT lines=\([0-9]*\).*/\1/p' "$TMP/blast-alone-$1")
  got=$(accepted "$http")
  stop "$pid"
  echo "alone $1 sent=$sent accepted=$got cpu_ticks=$((after - before))"
}

# blast_thirds ARM ROUND DISJOINT UDP_PORT...: a generator a node, each a
# third of RATE (DISJOINT=1: each over its own third of the names, else all
# over every name); returns when they are done.
blast_thirds() {
  local arm=$1 round=$2 disjoint=$3 i=0 u gens=()
  shift 3
  for u in "$@"; do
    local names=(--keys="$KEYS")
    ((disjoint)) && names=(--keys=$((KEYS / 3)) --prefix="bench$i")
    "$BIN/canopy-statsd-blast" --server="127.0.0.1:$u" --rate=$((RATE / 3)) \
      --seconds="$SECS" "${names[@]}" >"$TMP/blast-$arm-$round-$i" 2>&1 &
    gens+=($!)
    i=$((i + 1))
  done
  wait "${gens[@]}" || die "a generator failed: $(cat "$TMP"/blast-"$arm"-"$round"-*)"
}

# sent_lines ARM ROUND: the lines that arm's generators sent in that round.
sent_lines() {
  local sent=0 f
  for f in "$TMP"/blast-"$1"-"$2"-*; do
    sent=$((sent + $(sed -n 's/^RESULT lines=\([0-9]*\).*/\1/p' "$f")))
  done
  echo "$sent"
}

run_apart() {
  local pids=() https=() udps=() n
  for n in a b c; do
    start_node "apart-$1-$n"
    pids+=("$NODE_PID"); https+=("$NODE_HTTP"); udps+=("$NODE_UDP")
  done
  local before=0 after=0 p
  for p in "${pids[@]}"; do before=$((before + $(ticks "$p"))); done
  blast_thirds apart "$1" 1 "${udps[@]}"
  sleep 1  # the last datagrams are read
  for p in "${pids[@]}"; do after=$((after + $(ticks "$p"))); done
  local sent got
  sent=$(sent_lines apart "$1")
  got=$(accepted "${https[@]}")
  for p in "${pids[@]}"; do stop "$p"; done
  echo "apart $1 sent=$sent accepted=$got cpu_ticks=$((after - before))"
}

run_cluster() {
  local nats_port
  nats_port=$(free_port)
  nats-server -a 127.0.0.1 -p "$nats_port" >"$TMP/nats-$1.log" 2>&1 &
  local nats_pid=$!
  STARTED+=("$nats_pid")
  for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break; sleep 0.1; done
  local pids=() https=() udps=() n
  for n in a b c; do
    start_node "cluster-$1-$n" --cluster="nats://127.0.0.1:$nats_port" \
      --node="$n" --shards=a,b,c --shard_depth=3 --cluster_batch_ms="$BATCH_MS"
    pids+=("$NODE_PID"); https+=("$NODE_HTTP"); udps+=("$NODE_UDP")
  done
  sleep 1.5  # heartbeats: every node has heard the others
  local before=0 after=0 p
  for p in "${pids[@]}" "$nats_pid"; do before=$((before + $(ticks "$p"))); done
  local nats_before
  nats_before=$(ticks "$nats_pid")
  blast_thirds cluster "$1" 0 "${udps[@]}"
  # Until every forwarded batch is acknowledged (at most 10 s).
  for _ in $(seq 1 100); do
    local waiting=0
    for h in "${https[@]}"; do waiting=$((waiting + $(metric "$h" canopy_cluster_unacked_bytes))); done
    [ "$waiting" -eq 0 ] && break
    sleep 0.1
  done
  sleep 1
  for p in "${pids[@]}" "$nats_pid"; do after=$((after + $(ticks "$p"))); done
  local sent got
  sent=$(sent_lines cluster "$1")
  got=$(accepted "${https[@]}")
  local nats_ticks=$(($(ticks "$nats_pid") - nats_before))
  for p in "${pids[@]}" "$nats_pid"; do stop "$p"; done
  echo "cluster $1 sent=$sent accepted=$got cpu_ticks=$((after - before)) nats_ticks=$nats_ticks"
}

hz=$(getconf CLK_TCK)
results=()
for r in $(seq 1 "$ROUNDS"); do
  if ((r % 2)); then
    results+=("$(run_alone "$r")" "$(run_apart "$r")" "$(run_cluster "$r")")
  else
    results+=("$(run_cluster "$r")" "$(run_apart "$r")" "$(run_alone "$r")")
  fi
done
echo
echo "| run | round | lines sent | accepted by owners | server CPU s | CPU s per M lines | of it nats-server |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for line in "${results[@]}"; do
  set -- $line
  kind=$1 round=$2
  sent=${3#sent=} got=${4#accepted=} t=${5#cpu_ticks=} n=${6:-}
  n=${n#nats_ticks=}
  awk -v k="$kind" -v r="$round" -v s="$sent" -v g="$got" -v t="$t" -v n="${n:-}" -v hz="$hz" \
    'BEGIN { printf "| %s | %s | %d | %d | %.2f | %.3f | %s |\n", k, r, s, g, t / hz,
               (s > 0 ? t / hz / s * 1e6 : 0), (n == "" ? "" : sprintf("%.3f", n / hz / s * 1e6)) }'
done
# Each round's own ratios too (the machine's speed drifts over minutes:
# the three arms of a round ran within a minute of each other). "apart +
# NATS" is the floor of a cluster whose writes cross nats-server: three
# apart, plus what nats-server spent carrying the cluster's batches.
printf '%s\n' "${results[@]}" | awk -v hz="$hz" '
  { split($3, s, "="); split($5, t, "="); v[$1, $2] = t[2] / hz / s[2] * 1e6; r[$2] = 1
    if ($1 == "cluster") { split($6, n, "="); nats[$2] = n[2] / hz / s[2] * 1e6 } }
  END { for (k in r) printf "round %s: cluster / alone %.2fx, cluster / apart %.2fx, apart / alone %.2fx, (apart + NATS) / alone %.2fx\n",
          k, v["cluster", k] / v["alone", k], v["cluster", k] / v["apart", k], v["apart", k] / v["alone", k],
          (v["apart", k] + nats[k]) / v["alone", k] }' | sort
printf '%s\n' "${results[@]}" | awk -v hz="$hz" '
  { split($3, s, "="); split($5, t, "="); v = t[2] / hz / s[2] * 1e6
    if ($1 == "alone") a[++na] = v; else if ($1 == "apart") p[++np] = v
    else { c[++nc] = v; split($6, n, "="); q[++nq] = n[2] / hz / s[2] * 1e6 } }
  function median(x, n,   i, j, tmp) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { tmp = x[i]; x[i] = x[j]; x[j] = tmp }
    return (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }
  END { ma = median(a, na); mc = median(c, nc); mp = median(p, np); mq = median(q, nq)
        printf "\nmedian CPU s per M lines: alone %.3f, three apart %.3f, cluster of 3 %.3f (nats-server %.3f of it)\n", ma, mp, mc, mq
        printf "cluster / alone **%.2fx** (goal <= 1.3x); apart / alone %.2fx (the floor); (apart + NATS) / alone %.2fx (the floor over NATS); cluster / apart %.2fx (what forwarding adds)\n", mc / ma, mp / ma, (mp + mq) / ma, mc / mp
        # Throughput per core: lines a CPU second of all the servers takes.
        printf "throughput per core (M lines a CPU second): alone %.2f, three apart %.2f, cluster of 3 %.2f\n", 1 / ma, 1 / mp, 1 / mc }'
