#!/usr/bin/env bash
# The host agent's cost side by side (DESIGN.md "Figures to reach": ≤ 0.5 %
# of a core, ≤ 10 MB RSS at a 1 s interval): canopy-agent, Netdata and
# collectd collecting this machine at the same time for the same minutes,
# loopback only, each measured from /proc.
#
#   tools/bench/agent.sh                  # 300 s
#   tools/bench/agent.sh --seconds=120    # shorter
#
# Options: --seconds=N (60..600; default 300), --out=FILE (Markdown table;
# default $BUILD_DIR/agent-results.md).
# Env: BUILD_DIR (default build-bench; relative to the repository or
# absolute; canopy-agent and canopyd are built there unless AGENT and
# CANOPYD name binaries to use).
#
# What runs (each with its config in a temp dir):
#   canopy-agent   --interval=1s, default collectors, pushing over UDP to a
#                  canopyd on 127.0.0.1 (canopyd is not measured)
#   canopy-agent+url  the same plus one --check_url (canopyd's /healthz), to
#                  show what loading libcurl costs (it is dlopen()ed only
#                  when a URL or nginx check is configured)
#   netdata        Debian's netdata-core with its default collectors
#                  (update every 1 s, memory mode ram), web API on
#                  127.0.0.1 only, statsd on 127.0.0.1 only; measured alone
#                  and with its plugin processes (apps.plugin etc.)
#   collectd       Debian's collectd-core: cpu, memory, load, disk,
#                  interface, df, processes at Interval 1, writing csv into
#                  the temp dir
# After a 20 s warm-up it takes utime+stime (/proc/PID/stat fields 14+15) of
# each at the start and the end of the window (% of one core = ticks /
# CLK_TCK / seconds * 100), and every 5 s VmRSS (/proc/PID/status) and Pss
# (/proc/PID/smaps_rollup): mean and max. Processes are summed over their
# live descendants where noted. Needs root for smaps_rollup of daemons run
# as root. Every process it starts is stopped on exit (the system-wide
# netdata/collectd services are not touched, only the ones it starts);
# the whole run stops itself after SECONDS + 3 minutes.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-bench}
SECS=300
OUT=""
for arg in "$@"; do
  case "$arg" in
    --seconds=*) SECS=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "agent.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
if ! [[ "$SECS" =~ ^[0-9]+$ ]] || ((SECS < 60 || SECS > 600)); then
  echo "agent.sh: --seconds must be 60..600" >&2
  exit 2
fi
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
OUT=${OUT:-$BUILD_DIR/agent-results.md}
log() { echo "agent.sh: $*" >&2; }

for cmd in netdata collectd; do
  command -v "$cmd" >/dev/null ||
    log "$cmd is not installed (apt-get install netdata-core collectd-core); left out"
done

# ---------------------------------------------------------------- build
if [[ -z "${AGENT:-}" || -z "${CANOPYD:-}" ]]; then
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  ninja -C "$BUILD_DIR" -j2 canopy-agent canopyd >/dev/null
fi
AGENT=${AGENT:-$BUILD_DIR/bin/canopy-agent}
CANOPYD=${CANOPYD:-$BUILD_DIR/bin/canopyd}

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d /tmp/canopy-agentbench-XXXXXX)
PIDS=()
descendants() {  # PID and its live descendants
  local p=$1 c
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do descendants "$c"; done
}
cleanup() {
  local pid all=()
  [[ -n "${WATCHDOG:-}" ]] && kill "$WATCHDOG" 2>/dev/null || true
  # netdata's plugins are its children: they go too.
  for pid in "${PIDS[@]}"; do all+=($(descendants "$pid")); done
  for pid in "${all[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${all[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Bound the whole run.
(
  trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep $((SECS + 180)) &
  s=$!
  wait $s
  log "time limit reached"
  kill -TERM $$
) &
WATCHDOG=$!

# ---------------------------------------------------------------- start
CD_UDP=18135 CD_HTTP=18136 ND_WEB=19989 ND_STATSD=18137
declare -A PID=()

mkdir -p "$TMP/canopyd"
"$CANOPYD" --data_dir="$TMP/canopyd" --history=false \
  --http=127.0.0.1:$CD_HTTP --udp=127.0.0.1:$CD_UDP --tcp=off \
  >"$TMP/canopyd.log" 2>&1 &
PIDS+=($!)

"$AGENT" --interval=1s --server=udp://127.0.0.1:$CD_UDP --host=bench \
  --spool_dir="$TMP/spool-a" >"$TMP/agent.log" 2>&1 &
PID[canopy-agent]=$!
PIDS+=($!)
"$AGENT" --interval=1s --server=udp://127.0.0.1:$CD_UDP --host=benchurl \
  --spool_dir="$TMP/spool-b" \
  --check_url=healthz=http://127.0.0.1:$CD_HTTP/healthz \
  >"$TMP/agent-url.log" 2>&1 &
PID[canopy-agent+url]=$!
PIDS+=($!)

if command -v netdata >/dev/null; then
  d=$TMP/netdata
  mkdir -p "$d"/{cache,lib,log}
  # Defaults everywhere but the directories, the ports (127.0.0.1 only)
  # and memory mode ram (no dbengine files).
  cat >"$d/netdata.conf" <<EOF
[global]
  run as user = root
  memory mode = ram
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
[statsd]
  bind to = udp:127.0.0.1:$ND_STATSD tcp:127.0.0.1:$ND_STATSD
EOF
  netdata -c "$d/netdata.conf" -D -u root >"$d/out.log" 2>&1 &
  PID[netdata]=$!
  PIDS+=($!)
fi

if command -v collectd >/dev/null; then
  d=$TMP/collectd
  mkdir -p "$d/csv"
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
LoadPlugin cpu
LoadPlugin memory
LoadPlugin load
LoadPlugin disk
LoadPlugin interface
LoadPlugin df
LoadPlugin processes
LoadPlugin csv
<Plugin csv>
  DataDir "$d/csv"
  StoreRates true
</Plugin>
EOF
  collectd -f -C "$d/collectd.conf" >"$d/out.log" 2>&1 &
  PID[collectd]=$!
  PIDS+=($!)
fi

# ---------------------------------------------------------------- measure
HZ=$(getconf CLK_TCK)
ticks() {  # utime+stime of the pids given
  local s=0 p f
  for p in "$@"; do
    f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    f=${f##*) }  # fields from 3 on
    set -- $f
    s=$((s + ${12} + ${13}))
  done
  echo $s
}
kb() {  # FIELD FILE-NAME PIDS...: the sum of FIELD (kB) over the pids
  local field=$1 file=$2 s=0 p v
  shift 2
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2; exit}' /proc/"$p"/"$file" 2>/dev/null)
    s=$((s + ${v:-0}))
  done
  echo $s
}

# Rows: name and how to find its pids.
ROWS=()
for n in canopy-agent canopy-agent+url netdata collectd; do
  [[ -n "${PID[$n]:-}" ]] && ROWS+=("$n")
done
[[ -n "${PID[netdata]:-}" ]] && ROWS+=("netdata+plugins")
pids_of() {
  case "$1" in
    netdata+plugins) descendants "${PID[netdata]}" ;;
    *) echo "${PID[$1]}" ;;
  esac
}

log "warming up 20 s ($TMP)"
sleep 20
for n in "${ROWS[@]}"; do
  p=${PID[${n%+plugins}]}
  kill -0 "$p" 2>/dev/null || log "$n is not running (see $TMP); its row will be empty"
done
declare -A T0=() T1=() RSS_SUM=() RSS_MAX=() PSS_SUM=() PSS_MAX=() NP=()
for n in "${ROWS[@]}"; do T0[$n]=$(ticks $(pids_of "$n")); done
start=$(date +%s.%N)
samples=0
log "measuring for $SECS s"
while :; do
  now=$(date +%s.%N)
  awk -v a="$now" -v b="$start" -v s="$SECS" 'BEGIN {exit !(a - b < s)}' || break
  samples=$((samples + 1))
  for n in "${ROWS[@]}"; do
    ps=$(pids_of "$n")
    r=$(kb VmRSS status $ps)
    q=$(kb Pss smaps_rollup $ps)
    RSS_SUM[$n]=$((${RSS_SUM[$n]:-0} + r))
    PSS_SUM[$n]=$((${PSS_SUM[$n]:-0} + q))
    ((r > ${RSS_MAX[$n]:-0})) && RSS_MAX[$n]=$r
    ((q > ${PSS_MAX[$n]:-0})) && PSS_MAX[$n]=$q
    NP[$n]=$(echo $ps | wc -w)
  done
  sleep 5
done
end=$(date +%s.%N)
for n in "${ROWS[@]}"; do T1[$n]=$(ticks $(pids_of "$n")); done
declare -A FILE_KB=() ANON_KB=()
for n in "${ROWS[@]}"; do
  ps=$(pids_of "$n")
  FILE_KB[$n]=$(kb RssFile status $ps)
  ANON_KB[$n]=$(kb RssAnon status $ps)
done

# ---------------------------------------------------------------- report
secs=$(awk -v a="$end" -v b="$start" 'BEGIN {printf "%.0f", a - b}')
{
  echo "Agent cost, $(date -u +%F), $secs s at a 1 s interval, all at once" \
    "($samples samples of memory; load average $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| process | pids | CPU, % of a core | VmRSS mean / max (MB) | PSS mean / max (MB) | RssFile / RssAnon at end (MB) |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for n in "${ROWS[@]}"; do
    awk -v n="$n" -v np="${NP[$n]:-0}" -v t0="${T0[$n]}" -v t1="${T1[$n]}" \
      -v hz="$HZ" -v s="$secs" -v k="$samples" \
      -v rs="${RSS_SUM[$n]:-0}" -v rm="${RSS_MAX[$n]:-0}" \
      -v qs="${PSS_SUM[$n]:-0}" -v qm="${PSS_MAX[$n]:-0}" \
      -v fk="${FILE_KB[$n]}" -v ak="${ANON_KB[$n]}" 'BEGIN {
        printf "| %s | %d | %.2f %% (%d ticks) | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f |\n",
          n, np, (t1 - t0) / hz / s * 100, t1 - t0, rs / k / 1024, rm / 1024,
          qs / k / 1024, qm / 1024, fk / 1024, ak / 1024 }'
  done
} | tee "$OUT"
log "table in $OUT"
