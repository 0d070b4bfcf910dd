#!/usr/bin/env bash
# Issue 17: the peak memory of a burst of dated Graphite lines, canopyd
# beside VictoriaMetrics in one run, on loopback only.
#
# The burst: SERIES series (default 10 000) burst.hostN.mM, POINTS points
# each (default 2 000, one a second: 2 000 seconds of history that ended a
# minute ago), 20 M lines in all, sent flat out over TCP to canopyd's
# Graphite listener, then the same bytes to VictoriaMetrics'
# -graphiteListenAddr (one server at a time, each alone on the machine).
# Each is awaited until it holds every line (canopyd: every line accepted
# and nothing waiting for history; VictoriaMetrics: count_over_time of
# every point after a flush), then its VmHWM (peak RSS) and VmRSS are read
# from /proc. Prints the figures and their ratio, and a "RESULT" line.
#
# Usage: tools/bench/burst.sh
# Environment: BUILD (default build), CANOPYD (a canopyd binary), SERIES,
#   POINTS. Needs: victoria-metrics (Debian), curl, awk.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CANOPYD=${CANOPYD:-$BUILD/bin/canopyd}
SERIES=${SERIES:-10000}
POINTS=${POINTS:-2000}
command -v victoria-metrics >/dev/null ||
  { echo "burst.sh: victoria-metrics is not installed (scripts/deps.sh --bench)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/canopy-burst-bench.XXXXXX)
. tools/bench/lib.sh

await() {  # await SECONDS COMMAND...
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $end ] || { echo "burst.sh: timed out: $*" >&2; exit 1; }
    sleep 0.5
  done
}
kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

NOW=$(date +%s)
END=$((NOW - NOW % 60 - 60))
START=$((END - POINTS))
LINES=$((SERIES * POINTS))
echo "== $SERIES series x $POINTS points = $LINES dated lines; load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v s=$START -v p=$POINTS -v n=$SERIES 'BEGIN {
  for (t = s; t < s + p; t++)
    for (i = 0; i < n; i++)
      printf "burst.host%d.m%d %d %d\n", i / 10, i % 10, (i * 7 + t) % 1000, t
}' >"$TMP/lines"
send() { exec 3>/dev/tcp/127.0.0.1/"$1"; cat "$TMP/lines" >&3; exec 3>&-; }

# --- canopyd ---------------------------------------------------------------
C_HTTP=$(free_port); C_TCP=$(free_port)
"$CANOPYD" --http=127.0.0.1:$C_HTTP --tcp=127.0.0.1:$C_TCP --udp=127.0.0.1:0 \
  --data_dir="$TMP/canopy" --expire= >"$TMP/canopyd.log" 2>&1 &
CPID=$!
STARTED+=($CPID)
await 30 curl -sf -o /dev/null "http://127.0.0.1:$C_HTTP/healthz"
canopy_loaded() {
  local m
  m=$(curl -s "http://127.0.0.1:$C_HTTP/metrics")
  [ "$(awk '$1 == "canopy_ingest_accepted_total{protocol=\"tcp\"}" { print $2 }' <<<"$m")" = "$LINES" ] &&
    [ "$(awk '$1 == "canopy_trend_queued_windows" { print $2 }' <<<"$m")" = 0 ] &&
    [ "$(awk '$1 == "canopy_trend_pending_windows" { print $2 }' <<<"$m")" = 0 ]
}
t0=$(date +%s.%N)
send $C_TCP
await 900 canopy_loaded
c_secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
c_hwm=$(kb $CPID VmHWM); c_rss=$(kb $CPID VmRSS); c_file=$(kb $CPID RssFile)
stop $CPID
echo "canopyd: loaded in ${c_secs}s; peak RSS $((c_hwm / 1024)) MB, RSS at the end $((c_rss / 1024)) MB, of it $((c_file / 1024)) MB file pages (its program and libraries; LevelDB's tables are read with pread, not mapped)"

# --- VictoriaMetrics -------------------------------------------------------
V_HTTP=$(free_port); V_GRAPHITE=$(free_port)
victoria-metrics -storageDataPath="$TMP/vm" -retentionPeriod=1y \
  -httpListenAddr=127.0.0.1:$V_HTTP -graphiteListenAddr=127.0.0.1:$V_GRAPHITE \
  -loggerLevel=ERROR >"$TMP/vm.log" 2>&1 &
VPID=$!
STARTED+=($VPID)
await 30 curl -sf -o /dev/null "http://127.0.0.1:$V_HTTP/health"
vm_loaded() {
  curl -s "http://127.0.0.1:$V_HTTP/internal/force_flush" >/dev/null
  local n
  n=$(curl -s "http://127.0.0.1:$V_HTTP/api/v1/query" \
    --data-urlencode "query=sum(count_over_time({__name__=~\"burst[.].*\"}[1d]))" \
    --data-urlencode "time=$END" | sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)".*/\1/p')
  [ "${n:-0}" -ge "$LINES" ] 2>/dev/null
}
t0=$(date +%s.%N)
send $V_GRAPHITE
await 900 vm_loaded
v_secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
v_hwm=$(kb $VPID VmHWM); v_rss=$(kb $VPID VmRSS); v_file=$(kb $VPID RssFile)
stop $VPID
echo "VictoriaMetrics: loaded in ${v_secs}s; peak RSS $((v_hwm / 1024)) MB, RSS at the end $((v_rss / 1024)) MB, of it $((v_file / 1024)) MB file pages"
ratio=$(awk -v a="$c_hwm" -v b="$v_hwm" 'BEGIN {printf "%.2f", a / b}')
echo "peak RSS canopyd / VictoriaMetrics: $ratio (goal <= 0.5)"
echo "RESULT lines=$LINES canopyd_peak=$((c_hwm * 1024)) canopyd_rss=$((c_rss * 1024)) canopyd_s=$c_secs vm_peak=$((v_hwm * 1024)) vm_rss=$((v_rss * 1024)) vm_s=$v_secs ratio=$ratio"
