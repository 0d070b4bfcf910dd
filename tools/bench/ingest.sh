#!/usr/bin/env bash
# Side-by-side ingest benchmarks (DESIGN.md "Figures to reach"): StatsD lines
# over UDP against Netdata, collectd and Etsy statsd, Graphite plaintext over
# TCP against VictoriaMetrics and carbon-cache, and canopyd on both, in one
# run on this machine, loopback only.
#
#   tools/bench/ingest.sh                       # everything, ~6-8 minutes
#   tools/bench/ingest.sh --quick               # 2 rates, 3 s each
#   tools/bench/ingest.sh --peers="canopyd netdata" --rates="1000000"
#
# Options: --rates="100000 300000 ..." (StatsD lines/s), --tcp_rates="..."
# (Graphite lines/s; 0 = as fast as the server reads), --seconds=N per step
# (at most 60), --peers="netdata collectd etsy canopyd victoria carbon",
# --rounds=N (the StatsD steps N times over, the daemons taking turns, for
# ratios that hold up on a noisy machine: each round's and their median),
# --out=FILE (Markdown table; default build-bench/ingest-results.md).
# Env: BUILD_DIR (default build-bench; relative to the repository or
# absolute), CANOPYD (a canopyd to use; default: $BUILD_DIR/bin/canopyd, built
# first), ETSY_DIR (an npm install of statsd to reuse; default
# $BUILD_DIR/peers/etsy-statsd).
#
# It installs what is missing (Debian: netdata-core, collectd-core,
# victoria-metrics, graphite-carbon; npm: statsd into $BUILD_DIR/peers), stops
# the services a fresh install may have started, and runs its own instance
# of each peer on 127.0.0.1 with config files in a temp dir, one at a time.
# For every peer and rate it records the lines sent, the lines the daemon
# says it took in, the loss, and the daemon's CPU time (utime+stime from
# /proc/PID/stat, over the send and the drain after it) per million lines.
# How each daemon counts:
#   netdata   netdata.statsd_events (sum of all types), /api/v1/allmetrics
#   collectd  no counter of its own for statsd: lines sent less the datagrams
#             the kernel dropped on its socket (/proc/net/udp "drops")
#   etsy      statsd.metrics_received, added up over every flush by a tiny
#             backend (the counter itself resets at each flush)
#   canopyd   /metrics canopy_ingest_accepted_total{protocol="udp"|"tcp"}
#   victoria  /metrics vm_rows_inserted_total{type="graphite"}
#   carbon    carbon.agents.HOST-a.metricsReceived, summed from its whisper file
# Every process it starts is stopped on exit; the whole run stops itself
# after 14 minutes.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-bench}
RATES="100000 300000 1000000 2000000 3000000"
TCP_RATES="100000 300000 1000000 0"
SECS=5
PEERS="netdata collectd etsy canopyd victoria carbon"
ROUNDS=1
ROUND=1
OUT=""
for arg in "$@"; do
  case "$arg" in
    --quick) RATES="300000 1000000"; TCP_RATES="300000 0"; SECS=3 ;;
    --rates=*) RATES=${arg#*=} ;;
    --tcp_rates=*) TCP_RATES=${arg#*=} ;;
    --seconds=*) SECS=${arg#*=} ;;
    --peers=*) PEERS=${arg#*=} ;;
    --rounds=*) ROUNDS=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "ingest.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$BUILD_DIR/ingest-results.md}
if ! [[ "$SECS" =~ ^[0-9]+$ ]] || ((SECS < 1 || SECS > 60)); then
  echo "ingest.sh: --seconds must be 1..60" >&2
  exit 2
fi
if ! [[ "$ROUNDS" =~ ^[0-9]+$ ]] || ((ROUNDS < 1 || ROUNDS > 9)); then
  echo "ingest.sh: --rounds must be 1..9" >&2
  exit 2
fi
BUDGET=$((14 * 60))  # seconds for the whole run
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }
log() { echo "ingest: $*" >&2; }

# ---------------------------------------------------------------- install
sudo=""
[[ $(id -u) -ne 0 ]] && sudo=sudo
declare -A PKG=([netdata]=netdata-core [collectd]=collectd-core
  [victoria]=victoria-metrics [carbon]=graphite-carbon [etsy]=nodejs)
declare -A SERVICE=([netdata-core]=netdata [collectd-core]=collectd
  [victoria-metrics]=victoria-metrics [graphite-carbon]=carbon-cache)
missing=()
for peer in $PEERS; do
  p=${PKG[$peer]:-}
  [[ -z "$p" ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    if [[ "$p" == nodejs ]] && command -v node >/dev/null; then continue; fi
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
  # A fresh install may start the system-wide daemon (on 0.0.0.0 and the
  # standard ports): stop it; ours run with their own configs.
  for p in "${missing[@]}"; do
    s=${SERVICE[$p]:-}
    [[ -z "$s" ]] && continue
    if $sudo service "$s" status >/dev/null 2>&1; then
      log "stopping the $s service the package started"
      $sudo service "$s" stop >/dev/null 2>&1 ||
        $sudo invoke-rc.d "$s" stop >/dev/null 2>&1 || true
    fi
  done
fi
# BUILD_DIR may be relative to the repository (the default) or absolute.
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
ETSY_DIR=${ETSY_DIR:-$BUILD_DIR/peers/etsy-statsd}
if has_peer etsy && [[ ! -f $ETSY_DIR/node_modules/statsd/stats.js ]]; then
  command -v npm >/dev/null || {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null
  }
  log "installing Etsy statsd from npm into $ETSY_DIR"
  mkdir -p "$ETSY_DIR"
  (cd "$ETSY_DIR" && npm install --no-audit --no-fund --ignore-scripts \
    statsd@0.9.0 >/dev/null 2>&1)
fi

# ---------------------------------------------------------------- build
if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C "$BUILD_DIR" -j2 canopy-statsd-blast canopy-graphite-blast >/dev/null
if [[ -z "${CANOPYD:-}" ]]; then
  CANOPYD=$BUILD_DIR/bin/canopyd
  if has_peer canopyd; then
    ninja -C "$BUILD_DIR" -j2 canopyd >/dev/null ||
      log "canopyd did not build; it is left out"
  fi
fi
STATSD_BLAST=$BUILD_DIR/bin/canopy-statsd-blast
GRAPHITE_BLAST=$BUILD_DIR/bin/canopy-graphite-blast

# ---------------------------------------------------------------- helpers
TMP=$(mktemp -d /tmp/canopy-ingest-XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for pid in "${PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$TMP/results.tsv
: >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK)

# utime+stime of PID in clock ticks (the comm field may hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# Datagrams the kernel dropped on the UDP socket bound to 127.0.0.1:PORT.
udp_drops() {
  awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a {d += $NF} END {print d + 0}' /proc/net/udp
}
udp_rcvbuf() {
  { ss -uamn "sport = :$1" 2>/dev/null || true; } | grep -o 'rb[0-9]*' | head -1 | tr -d rb || true
}
# A listener or a bound UDP socket on the port. Connections in TIME-WAIT
# from the last run (its curls to Netdata's web port) do not count: they do
# not stop a server from binding, and the check refused to start for a
# minute after every run.
port_free() { ! ss -Hltun "sport = :$1" | grep -q .; }
wait_port() {  # PROTO PORT: waits up to 30 s for a listener
  local _
  for _ in $(seq 1 300); do
    if [[ $1 == udp ]]; then
      ss -Hluan "sport = :$2" | grep -q . && return 0
    else
      ss -Hltn "sport = :$2" | grep -q . && return 0
    fi
    sleep 0.1
  done
  return 1
}
over_budget() { ((SECONDS > BUDGET - 2 * SECS - 20)); }

# Reads COUNT_FN until it has not changed for 2 s (the daemon has drained
# what it was sent); at least 3 s, at most 20 s.
settle() {
  local fn=$1 prev cur same=0
  sleep 1
  prev=$($fn)
  for _ in $(seq 1 19); do
    sleep 1
    cur=$($fn)
    if [[ "$cur" == "$prev" ]]; then
      same=$((same + 1))
      ((same >= 2)) && break
    else
      same=0
    fi
    prev=$cur
  done
  echo "$prev"
}

# run_step PROTO PEER PID COUNT_FN PORT RATE
run_step() {
  local proto=$1 peer=$2 pid=$3 fn=$4 port=$5 rate=$6 out threads
  local cpu0 cpu1 n0 n1 d0 d1 sent achieved
  if over_budget; then
    log "time budget reached: skipping $peer at $rate"
    return
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    log "$peer is not running any more: skipping $rate"
    return
  fi
  # The daemon's CPU with nothing to do, over 2 s, to tell apart below.
  local t0 idle0 idle1
  idle0=$(cpu_ticks "$pid")
  sleep 2
  idle1=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  cpu0=$(cpu_ticks "$pid")
  n0=$($fn)
  d0=0
  [[ $proto == udp ]] && d0=$(udp_drops "$port")
  if [[ $proto == udp ]]; then
    threads=1
    ((rate >= 2000000 || rate == 0)) && threads=2
    out=$("$STATSD_BLAST" --server="127.0.0.1:$port" --rate="$rate" \
      --seconds="$SECS" --threads="$threads" | tail -1)
  else
    out=$("$GRAPHITE_BLAST" --server="127.0.0.1:$port" --rate="$rate" \
      --seconds="$SECS" --connections=4 | tail -1)
  fi
  n1=$(settle "$fn")
  cpu1=$(cpu_ticks "$pid")
  local wall
  wall=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {print a - b}')
  d1=0
  [[ $proto == udp ]] && d1=$(udp_drops "$port")
  sent=$(grep -o ' lines=[0-9]*' <<<"$out" | cut -d= -f2)
  achieved=$(grep -o ' rate=[0-9]*' <<<"$out" | cut -d= -f2)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$proto" "$peer" \
    "$rate" "$achieved" "$sent" "$((n1 - n0))" "$((cpu1 - cpu0))" \
    "$((d1 - d0))" "$((idle1 - idle0))" "$wall" "$ROUND" >>"$RESULTS"
  log "$(printf '%-9s %-8s target %8s sent %9s (%8s/s) received %9s cpu %5s ticks kernel drops %s' \
    "$proto" "$peer" "$rate" "$sent" "$achieved" "$((n1 - n0))" \
    "$((cpu1 - cpu0))" "$((d1 - d0))")"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------- netdata
ND_STATSD=18125 ND_WEB=19998
netdata_count() {
  { curl -s --max-time 5 "http://127.0.0.1:$ND_WEB/api/v1/allmetrics?format=prometheus&source=as-collected&filter=netdata.statsd_events" || true; } |
    awk '/^netdata_netdata_statsd_events_total/ && !/dimension="(errors|unknown)"/ {s += $2} END {printf "%d\n", s}'
}
bench_netdata() {
  local d=$TMP/netdata
  mkdir -p "$d"/{cache,lib,log}
  cat >"$d/netdata.conf" <<EOF
[global]
  run as user = root
  memory mode = ram
  history = 120
  update every = 1
[directories]
  config = $d
  stock config = /usr/lib/netdata/conf.d
  log = $d/log
  cache = $d/cache
  lib = $d/lib
  home = $d
  web = /usr/share/netdata/web
  plugins = /usr/lib/netdata/plugins.d
[logs]
  debug log = none
  error log = $d/log/error.log
  access log = none
[web]
  bind to = 127.0.0.1:$ND_WEB
[plugins]
  enable running new plugins = no
  proc = no
  diskspace = no
  cgroups = no
  tc = no
  idlejitter = no
  timex = no
  checks = no
  apps = no
  statsd = yes
[health]
  enabled = no
[ml]
  enabled = no
[statsd]
  enabled = yes
  bind to = udp:127.0.0.1:$ND_STATSD
EOF
  netdata -c "$d/netdata.conf" -D -u root >"$d/out.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  if ! wait_port udp $ND_STATSD || ! wait_port tcp $ND_WEB; then
    log "netdata did not start: $(tail -3 "$d/out.log")"
    return
  fi
  sleep 1
  RCVBUF[netdata]=$(udp_rcvbuf $ND_STATSD)
  for r in $RATES; do run_step udp netdata "$pid" netdata_count $ND_STATSD "$r"; done
  stop_pid "$pid"
}

# ---------------------------------------------------------------- collectd
CD_STATSD=18126
collectd_count() {  # lines that reached collectd: sent less kernel drops
  echo 0
}
bench_collectd() {
  local d=$TMP/collectd
  mkdir -p "$d"
  cat >"$d/collectd.conf" <<EOF
Hostname "bench"
FQDNLookup false
BaseDir "$d"
PIDFile "$d/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$d/collectd.log"
</Plugin>
LoadPlugin statsd
<Plugin statsd>
  Host "127.0.0.1"
  Port "$CD_STATSD"
  TimerCount true
  TimerPercentile 90
</Plugin>
EOF
  collectd -f -C "$d/collectd.conf" >"$d/out.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  if ! wait_port udp $CD_STATSD; then
    log "collectd did not start: $(tail -3 "$d/collectd.log")"
    return
  fi
  RCVBUF[collectd]=$(udp_rcvbuf $CD_STATSD)
  for r in $RATES; do run_step udp collectd "$pid" collectd_count $CD_STATSD "$r"; done
  stop_pid "$pid"
}

# ---------------------------------------------------------------- etsy
ES_PORT=18127 ES_MGMT=18128
etsy_count() { cut -d' ' -f1 "$TMP/etsy/count" 2>/dev/null || echo 0; }
bench_etsy() {
  local d=$TMP/etsy
  mkdir -p "$d"
  cat >"$d/count_backend.js" <<'EOF'
// Adds statsd.metrics_received up over every flush (the counter itself is
// reset at each flush) and keeps the total in config.countFile.
const fs = require('fs');
let total = 0, packets = 0;
exports.init = function (startup, config, events) {
  const file = config.countFile;
  events.on('flush', function (ts, metrics) {
    total += metrics.counters['statsd.metrics_received'] || 0;
    packets += metrics.counters['statsd.packets_received'] || 0;
    fs.writeFileSync(file + '.tmp', total + ' ' + packets + '\n');
    fs.renameSync(file + '.tmp', file);
  });
  return true;
};
EOF
  cat >"$d/config.js" <<EOF
{ address: "127.0.0.1", port: $ES_PORT,
  mgmt_address: "127.0.0.1", mgmt_port: $ES_MGMT,
  flushInterval: 1000,
  backends: ["$d/count_backend.js"], countFile: "$d/count" }
EOF
  node "$ETSY_DIR/node_modules/statsd/stats.js" "$d/config.js" >"$d/out.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  if ! wait_port udp $ES_PORT; then
    log "Etsy statsd did not start: $(tail -3 "$d/out.log")"
    return
  fi
  sleep 1.5
  RCVBUF[etsy]=$(udp_rcvbuf $ES_PORT)
  for r in $RATES; do run_step udp etsy "$pid" etsy_count $ES_PORT "$r"; done
  stop_pid "$pid"
}

# ---------------------------------------------------------------- canopyd
CY_UDP=18129 CY_TCP=12007 CY_HTTP=0
canopyd_count() {
  { curl -s --max-time 5 "http://127.0.0.1:$CY_HTTP/metrics" || true; } |
    awk -v p="$CY_PROTO" '$1 ~ /^canopy_ingest_accepted_total\{/ && index($1, "protocol=\"" p "\"") {s += $2} END {printf "%d\n", s}'
}
canopyd_udp_count() { CY_PROTO=udp canopyd_count; }
canopyd_tcp_count() { CY_PROTO=tcp canopyd_count; }
start_canopyd() {
  local d=$TMP/canopyd
  rm -rf "$d"
  mkdir -p "$d/data"
  local help=""
  [[ -x $CANOPYD ]] && help=$("$CANOPYD" --helpfull 2>&1 || true)
  if [[ "$help" != *"--udp"* ]]; then
    log "canopyd ($CANOPYD) has no --udp/--tcp listeners yet: left out"
    return 1
  fi
  "$CANOPYD" --http=127.0.0.1:0 --udp=127.0.0.1:$CY_UDP --tcp=127.0.0.1:$CY_TCP \
    --data_dir="$d/data" --ready_file="$d/ready" >"$d/out.log" 2>&1 &
  CY_PID=$!
  PIDS+=("$CY_PID")
  for _ in $(seq 1 200); do
    [[ -s $d/ready ]] && break
    sleep 0.1
  done
  CY_HTTP=$(grep -o 'http=[0-9]*' "$d/ready" 2>/dev/null | cut -d= -f2)
  if [[ -z "$CY_HTTP" ]]; then
    log "canopyd did not start: $(tail -3 "$d/out.log")"
    return 1
  fi
}
bench_canopyd_udp() {
  start_canopyd || return 0
  RCVBUF[canopyd]=$(udp_rcvbuf $CY_UDP)
  for r in $RATES; do run_step udp canopyd "$CY_PID" canopyd_udp_count $CY_UDP "$r"; done
  stop_pid "$CY_PID"
}
bench_canopyd_tcp() {
  start_canopyd || return 0
  for r in $TCP_RATES; do run_step tcp canopyd "$CY_PID" canopyd_tcp_count $CY_TCP "$r"; done
  stop_pid "$CY_PID"
}

# ---------------------------------------------------------------- victoria
VM_GRAPHITE=12003 VM_HTTP=18428
victoria_count() {
  { curl -s --max-time 5 "http://127.0.0.1:$VM_HTTP/metrics" || true; } |
    awk '$1 == "vm_rows_inserted_total{type=\"graphite\"}" {printf "%d\n", $2}'
}
bench_victoria() {
  local d=$TMP/victoria
  mkdir -p "$d"
  victoria-metrics -graphiteListenAddr=127.0.0.1:$VM_GRAPHITE \
    -httpListenAddr=127.0.0.1:$VM_HTTP -storageDataPath="$d/data" \
    -loggerLevel=WARN >"$d/out.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  if ! wait_port tcp $VM_GRAPHITE || ! wait_port tcp $VM_HTTP; then
    log "VictoriaMetrics did not start: $(tail -3 "$d/out.log")"
    return
  fi
  for r in $TCP_RATES; do run_step tcp victoria "$pid" victoria_count $VM_GRAPHITE "$r"; done
  stop_pid "$pid"
}

# ---------------------------------------------------------------- carbon
CC_LINE=12004 CC_PICKLE=12005 CC_QUERY=12006
CC_WSP=""
carbon_count() {
  { whisper-fetch --from="$CC_START" "$CC_WSP" 2>/dev/null || true; } |
    awk '$2 != "None" {s += $2} END {printf "%d\n", s}'
}
bench_carbon() {
  local d=$TMP/carbon host
  mkdir -p "$d"/{conf,storage/whisper,storage/lists,log}
  cat >"$d/conf/carbon.conf" <<EOF
[cache]
STORAGE_DIR = $d/storage/
LOCAL_DATA_DIR = $d/storage/whisper/
WHITELISTS_DIR = $d/storage/lists/
CONF_DIR = $d/conf/
LOG_DIR = $d/log/
PID_DIR = $d/
USER =
DATABASE = whisper
ENABLE_TAGS = False
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 500
MAX_CREATES_PER_MINUTE = 50
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $CC_LINE
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $CC_PICKLE
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $CC_QUERY
USE_FLOW_CONTROL = True
CACHE_WRITE_STRATEGY = sorted
CARBON_METRIC_PREFIX = carbon
CARBON_METRIC_INTERVAL = 1
EOF
  cat >"$d/conf/storage-schemas.conf" <<'EOF'
[carbon]
pattern = ^carbon\.
retentions = 1s:2h
[default]
pattern = .*
retentions = 10s:1h
EOF
  # carbon counts what it received into its own metric; its whisper file is
  # made up front so that the create limit never holds it back.
  host=$(python3 -c 'import socket; print(socket.gethostname().replace(".", "_"))')
  mkdir -p "$d/storage/whisper/carbon/agents/$host-a"
  CC_WSP=$d/storage/whisper/carbon/agents/$host-a/metricsReceived.wsp
  whisper-create "$CC_WSP" 1s:2h >/dev/null
  CC_START=$(($(date +%s) - 1))
  carbon-cache --config="$d/conf/carbon.conf" --pidfile="$d/carbon.pid" \
    --logdir="$d/log" --nodaemon start >"$d/out.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  if ! wait_port tcp $CC_LINE; then
    log "carbon-cache did not start: $(tail -3 "$d/out.log")"
    return
  fi
  sleep 1
  for r in $TCP_RATES; do run_step tcp carbon "$pid" carbon_count $CC_LINE "$r"; done
  stop_pid "$pid"
}

# ---------------------------------------------------------------- run
declare -A RCVBUF=()
for port in $ND_STATSD $ND_WEB $CD_STATSD $ES_PORT $ES_MGMT $CY_UDP $CY_TCP \
  $VM_GRAPHITE $VM_HTTP $CC_LINE $CC_PICKLE $CC_QUERY; do
  port_free "$port" || { log "port $port is in use; stop what holds it"; exit 1; }
done
log "StatsD rates: $RATES; Graphite rates: $TCP_RATES (0 = unpaced); $SECS s each"
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  ((ROUNDS > 1)) && log "StatsD round $ROUND of $ROUNDS"
  has_peer canopyd && bench_canopyd_udp
  has_peer netdata && command -v netdata >/dev/null && bench_netdata
  has_peer collectd && command -v collectd >/dev/null && bench_collectd
  has_peer etsy && [[ -f $ETSY_DIR/node_modules/statsd/stats.js ]] && bench_etsy
done
ROUND=1
has_peer canopyd && bench_canopyd_tcp
has_peer victoria && command -v victoria-metrics >/dev/null && bench_victoria
has_peer carbon && command -v carbon-cache >/dev/null && bench_carbon

rcvbufs=""
for k in "${!RCVBUF[@]}"; do rcvbufs+="$k=${RCVBUF[$k]} "; done
mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$CLK_TCK" "$SECS" "$rcvbufs" >"$OUT" <<'EOF'
import sys, collections
path, tck, secs, rcvbufs = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
def fmt_rate(r):
    r = int(r)
    return "unpaced" if r == 0 else (f"{r/1e6:g} M" if r >= 1e6 else f"{r/1e3:g} k")
print(f"{secs} s per step; CPU is the daemon's utime+stime over the send and the drain after it;")
print("'net of idle' takes off what the daemon burns doing nothing (measured over 2 s before each step).")
if rcvbufs.strip():
    print(f"UDP receive buffers (bytes, as each daemon set them): {rcvbufs.strip()}")
print()
by = collections.defaultdict(dict)
rounds = max(int(r[10]) for r in rows) if rows else 1
for proto, peer, target, achieved, sent, recv, ticks, drops, idle, wall, rnd in rows:
    sent, recv, ticks, drops = int(sent or 0), int(recv or 0), int(ticks), int(drops)
    if peer == "collectd":  # no counter of its own: sent less kernel drops
        recv = sent - drops * 10
    cpu = ticks / tck
    idle_share = int(idle) / tck / 2.0  # CPU seconds per second when idle
    net = max(cpu - idle_share * float(wall), 0.0)
    by[(proto, target, int(rnd))][peer] = (sent, recv, cpu, int(achieved or 0), drops, idle_share, net)
order = lambda k: (int(k[1]) == 0, int(k[1]), k[2])
for proto, title in (("udp", "StatsD over UDP (10 lines per datagram)"),
                     ("tcp", "Graphite plaintext over TCP (4 connections)")):
    keys = [k for k in by if k[0] == proto]
    if not keys:
        continue
    many = proto == "udp" and rounds > 1
    print(f"### {title}\n")
    print(("| round " if many else "") + "| target lines/s | daemon | lines sent | sent/s | lines received | loss % | CPU s | CPU s per M lines | idle CPU % | CPU s per M, net of idle |")
    print(("| ---: " if many else "") + "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in sorted(keys, key=order):
        for peer, (sent, recv, cpu, ach, drops, idle, net) in by[k].items():
            loss = 100.0 * (sent - recv) / sent if sent else 0
            per_m = cpu / (recv / 1e6) if recv else float("nan")
            net_m = net / (recv / 1e6) if recv else float("nan")
            print((f"| {k[2]} " if many else "") + f"| {fmt_rate(k[1])} | {peer} | {sent:,} | {ach:,} | {recv:,} | {loss:.2f} | {cpu:.2f} | {per_m:.3f} | {100 * idle:.1f} | {net_m:.3f} |")
    print()
    # canopyd / peer ratios at each rate (and round)
    ratios, cpu_ratios = [], collections.defaultdict(list)
    for k in sorted(keys, key=order):
        c = by[k].get("canopyd")
        if not c:
            continue
        for peer, p in by[k].items():
            if peer == "canopyd" or not p[1] or not c[1]:
                continue
            cpm, ppm = c[2] / (c[1] / 1e6), p[2] / (p[1] / 1e6)
            if not ppm:
                continue
            cpu_ratios[(k[1], peer)].append(cpm / ppm)
            ratios.append((f"| {k[2]} " if many else "") + f"| {fmt_rate(k[1])} | {peer} | {c[1] / p[1]:.2f} | {cpm / ppm:.2f} |")
    if ratios:
        print(("| round " if many else "") + "| target lines/s | canopyd vs | lines received, canopyd/peer | CPU s per M lines, canopyd/peer |")
        print(("| ---: " if many else "") + "| --- | --- | ---: | ---: |")
        print("\n".join(ratios))
        print()
    if many and cpu_ratios:
        print(f"Over the {rounds} rounds:\n")
        print("| target lines/s | canopyd vs | CPU s per M lines, canopyd/peer: median | lowest | highest |")
        print("| --- | --- | ---: | ---: | ---: |")
        for (target, peer), rs in sorted(cpu_ratios.items(), key=lambda kv: (int(kv[0][0]) == 0, int(kv[0][0]), kv[0][1])):
            rs = sorted(rs)
            med = rs[len(rs) // 2] if len(rs) % 2 else (rs[len(rs) // 2 - 1] + rs[len(rs) // 2]) / 2
            print(f"| {fmt_rate(target)} | {peer} | {med:.2f} | {rs[0]:.2f} | {rs[-1]:.2f} |")
        print()
EOF
cat "$OUT"
log "table written to $OUT (whole run: ${SECONDS} s)"
