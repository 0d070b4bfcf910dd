#!/usr/bin/env bash
# Memory with history on (issue 17): canopyd's RSS with N leaves whose
# windows have been handed to the trend thread and written, restart time,
# and RSS after DELETE of half the tree.
#
#   tools/bench/memory.sh [LEAVES] [STEP_SECONDS] [ROUNDS]
#   LEAVES=1000000 STEP=10 ROUNDS=3 by default; BUILD=build; CANOPYD=...
#   ROUNDS may be a time, "60m": rounds follow one another for that long
#   (an hour of updates), each round's RSS and the history's size on disk
#   logged, and the lowest and highest RSS after the first round printed.
#   EXPIRE=SECONDS: canopyd runs with --expire=mem,c=SECONDS; after the
#   DELETE, the counters (a third of the leaves) are left to expire and RSS
#   is read once they are gone (SECONDS must exceed a round).
#
# The leaves: a third gauges (mem,g,<host>,<i>), a third averages (mem,a)
# and a third counters (mem,c), 500 a host, pushed through POST /push with
# canopy-push-load (10 000 leaves a request). Each round pushes every leaf
# once, in a new window, then waits (polling /metrics) until history holds
# that window of every leaf; VmRSS and VmHWM are read then. After the last
# round: SIGTERM, restart on the same directory timed from fork until
# /healthz answers, leaves counted; then DELETE of half the hosts and RSS
# once the windows they had are written. Prints one "RESULT" line.
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
LEAVES=${1:-1000000}
STEP=${2:-10}
ROUNDS=${3:-3}
BIN=${BUILD:-build}/bin
CANOPYD=${CANOPYD:-$BIN/canopyd}
TMP=$(mktemp -d /tmp/canopy-memory-bench.XXXXXX)
. tools/bench/lib.sh
DATA="$TMP/data"
mkdir -p "$DATA"
PER=$((LEAVES / 3))
TOTAL=$((PER * 3))

say() { printf '%s memory: %s\n' "$(date -u +%T)" "$*" >&2; }
die() {
  say "$*"
  exit 1
}
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

start() {
  rm -f "$TMP/ready"
  T0=$(date +%s.%N)
  ${HEAPTRACK:+heaptrack -o "$HEAPTRACK"} "$CANOPYD" --data_dir="$DATA" --http=127.0.0.1:0 --udp=127.0.0.1:0 \
    --tcp=127.0.0.1:0 --ready_file="$TMP/ready" --expire="${EXPIRE:+mem,c=${EXPIRE}s}" \
    --max_nodes=$((TOTAL * 2 + 100000)) --max_body=$((64 << 20)) \
    --retention="${STEP}s:2d,1h:30d" ${EXTRA_FLAGS:-} \
    >>"$TMP/canopyd.log" 2>&1 &
  PID=$!
  STARTED+=("$PID")
  for _ in $(seq 1 6000); do
    [ -s "$TMP/ready" ] && break
    kill -0 "$PID" 2>/dev/null || die "canopyd exited: $(tail -3 "$TMP/canopyd.log")"
    sleep 0.05
  done
  PORT=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$TMP/ready")
  # Under heaptrack (HEAPTRACK=OUTPUT), canopyd is the script's child.
  [ -n "${HEAPTRACK:-}" ] && PID=$(pgrep -P "$PID" -x canopyd)
  until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.02; done
  UP=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
}

metric() {
  curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

push_all() { push_leaves "$BIN" "$PORT" "$PER"; }

# Waits until history holds `want` windows in all, at most 600 s.
await_written() {
  local want=$1 w
  for _ in $(seq 1 3000); do
    w=$(metric canopy_trend_windows_written_total)
    w=${w%.*}
    [ -n "$w" ] && [ "$w" -ge "$want" ] && return 0
    sleep 0.2
  done
  die "history wrote ${w:-?} of $want windows in 600 s"
}

written=0
start
say "canopyd up in ${UP}s; $TOTAL leaves, ${STEP}s windows, $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "$ROUNDS" == *m ]]; then
  UNTIL=$((SECONDS + ${ROUNDS%m} * 60))
  ROUNDS=1000000
else
  UNTIL=
fi
rss_lo=
rss_hi=0
rounds_run=0
for r in $(seq 1 "$ROUNDS"); do
  [ -n "$UNTIL" ] && [ "$SECONDS" -ge "$UNTIL" ] && break
  # Each round in a window of its own.
  now=$(date +%s)
  sleep $(awk -v n="$now" -v s="$STEP" 'BEGIN {print s - n % s + 0.05}')
  lps=$(push_all)
  base=$(metric canopy_trend_windows_written_total)
  written=$((written + TOTAL))
  await_written "$written"
  rss=$(status_kb "$PID" VmRSS)
  hwm=$(status_kb "$PID" VmHWM)
  rounds_run=$r
  if [ "$r" -gt 1 ]; then
    [ -z "$rss_lo" ] || [ "$rss" -lt "$rss_lo" ] && rss_lo=$rss
    [ "$rss" -gt "$rss_hi" ] && rss_hi=$rss
  fi
  say "round $r: pushed at $lps leaves/s; written; VmRSS $((rss / 1024)) MB, VmHWM $((hwm / 1024)) MB, $((rss * 1024 / TOTAL)) B a leaf; history $(du -sm "$DATA" | cut -f1) MB on disk; load $(cut -d' ' -f1 /proc/loadavg)"
done
[ -n "$rss_lo" ] && say "after round 1: VmRSS $((rss_lo / 1024)) - $((rss_hi / 1024)) MB over $((rounds_run - 1)) rounds"
if [ -n "${HEAPTRACK:-}" ]; then
  kill -TERM "$PID"
  wait
  echo "RESULT leaves=$TOTAL step=$STEP rss=$((rss * 1024)) hwm=$((hwm * 1024))"
  exit 0
fi
stop "$PID"
start
restart=$UP
sleep 0.5
leaves_back=$(metric canopy_leaves || true)
rss_restart=$(status_kb "$PID" VmRSS)
say "restart: serving in ${restart}s, ${leaves_back:-?} leaves, VmRSS $((rss_restart / 1024)) MB"
# Half the tree away: the gauges and half the averages' hosts... simply the
# gauges and the averages' first half of hosts = half the leaves.
lps=$(push_all)
written_now=$(metric canopy_trend_windows_written_total)
await_written $((${written_now%.*} + 0))
now=$(date +%s)
sleep $(awk -v n="$now" -v s="$STEP" 'BEGIN {print s - n % s + 1}')
await_written $((${written_now%.*} + TOTAL - 1))
rss_full=$(status_kb "$PID" VmRSS)
curl -sf -X DELETE "http://127.0.0.1:$PORT/api/q/mem,g" >/dev/null || true
half_hosts=$((PER / 500 / 2))
for h in $(seq 0 $((half_hosts - 1))); do
  printf 'url = "http://127.0.0.1:%s/api/q/mem,a,%s"\nrequest = "DELETE"\noutput = "/dev/null"\n' "$PORT" "$h"
done >"$TMP/deletes"
curl -sf -K "$TMP/deletes" >/dev/null || true
sleep 2
rss_half=$(status_kb "$PID" VmRSS)
left=$(metric canopy_leaves || true)
say "delete: ${left:-?} leaves left; VmRSS $((rss_full / 1024)) -> $((rss_half / 1024)) MB"
rss_expired=0
if [ -n "${EXPIRE:-}" ]; then
  for _ in $(seq 1 $((EXPIRE * 5 + 600))); do
    left_now=$(metric canopy_leaves || echo 0)
    [ "${left_now%.*}" -le $((${left%.*} - PER + 1000)) ] && break
    sleep 0.2
  done
  sleep 2
  rss_expired=$(status_kb "$PID" VmRSS)
  say "expire: $(metric canopy_leaves) leaves left; VmRSS $((rss_half / 1024)) -> $((rss_expired / 1024)) MB"
fi
echo "RESULT leaves=$TOTAL step=$STEP rounds=$rounds_run rss=$((rss * 1024)) hwm=$((hwm * 1024)) rss_low=$((${rss_lo:-0} * 1024)) rss_high=$((rss_hi * 1024)) per_leaf=$((rss * 1024 / TOTAL)) push_lps=$lps restart_s=$restart leaves_back=${leaves_back:-?} rss_restart=$((rss_restart * 1024)) rss_full=$((rss_full * 1024)) rss_half=$((rss_half * 1024)) leaves_left=${left:-?} rss_expired=$((rss_expired * 1024))"
