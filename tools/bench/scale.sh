#!/usr/bin/env bash
# Issue 17: what a big tree costs the requests that are not about its size.
# Two canopyd with history on, one holding SMALL leaves (default 1 M) and
# one BIG (default 10 M), side by side in one run, taking turns:
#
# - StatsD CPU a line: canopy-statsd-blast sends RATE lines/s for 5 s over
#   KEYS names (default 300 000/s over 100 000) to one server, then the
#   other, ROUNDS times (default 5). A round starts just after a window
#   boundary (both servers first left to finish the set-up's compactions)
#   and is measured until the lines are accepted and their windows
#   written to history, less the server's idle CPU over the same time; the
#   median of the rounds per server, and their ratio (goal: the big tree's
#   within 20 % of the small one's).
# - /trend of one series over a day: SERIES series (default 1 000) get a
#   day of dated Graphite lines (one every 10 s) in both servers; then wrk
#   asks GET /trend?key=day,s<random>&from=-1d over one connection for
#   10 s, three turns each; the p50 and p99 of the median turn (goal at the
#   big tree: p99 <= 5 ms).
#
# The leaves are those of tools/bench/memory.sh (lib.sh push_leaves). Both
# servers run with --snapshot_interval=0 (the tree is written at the stop
# only): a snapshot of 10 M leaves is a periodic cost of its own, measured
# by memory.sh, and would land in some rounds and not others.
#
#   tools/bench/scale.sh [SMALL] [BIG]
# Environment: BUILD (default build), ROUNDS, RATE, KEYS, SERIES.
# Needs wrk. Everything on loopback; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
SMALL=${1:-1000000}
BIG=${2:-10000000}
ROUNDS=${ROUNDS:-5}
RATE=${RATE:-300000}
KEYS=${KEYS:-100000}
SERIES=${SERIES:-1000}
BIN=${BUILD:-build}/bin
command -v wrk >/dev/null ||
  { echo "scale.sh: wrk is not installed (scripts/deps.sh --bench)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/canopy-scale-bench.XXXXXX)
. tools/bench/lib.sh
say() { printf '%s scale: %s\n' "$(date -u +%T)" "$*" >&2; }
die() {
  say "$*"
  exit 1
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
metric() {  # metric PORT NAME
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'
}
# await SECONDS COMMAND...: polls COMMAND every 0.2 s.
await() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $end ] || die "timed out: $*"
    sleep 0.2
  done
}
# History has caught up: nothing queued or pending, and no more than the
# server's own figures (canopy,self) in open windows.
caught_up() {
  [ "$(metric "$1" canopy_trend_queued_windows)" = 0 ] &&
    [ "$(metric "$1" canopy_trend_pending_windows)" = 0 ] &&
    [ "$(metric "$1" canopy_open_windows)" -lt 1000 ]
}
# written_settled PORT: the count of windows written has not moved for 1 s.
written_settled() {
  local a
  a=$(metric "$1" canopy_trend_windows_written_total)
  sleep 1
  [ "$a" = "$(metric "$1" canopy_trend_windows_written_total)" ]
}

# start NAME LEAVES: a canopyd in $TMP/NAME; sets PID_NAME, HTTP_NAME,
# UDP_NAME, TCP_NAME.
start() {
  local name=$1 leaves=$2 http udp tcp
  http=$(free_port)
  udp=$(free_port)
  tcp=$(free_port)
  mkdir -p "$TMP/$name"
  "$BIN/canopyd" --data_dir="$TMP/$name" --http=127.0.0.1:$http \
    --udp=127.0.0.1:$udp --tcp=127.0.0.1:$tcp --expire= \
    --snapshot_interval=0 --max_nodes=$((leaves * 2 + 1000000)) \
    --max_body=$((64 << 20)) >"$TMP/$name.log" 2>&1 &
  STARTED+=($!)
  printf -v "PID_$name" %s $!
  printf -v "HTTP_$name" %s "$http"
  printf -v "UDP_$name" %s "$udp"
  printf -v "TCP_$name" %s "$tcp"
  await 60 curl -sf -o /dev/null "http://127.0.0.1:$http/healthz"
}

say "load $(cut -d' ' -f1-3 /proc/loadavg); $SMALL and $BIG leaves"
NOW=$(date +%s)
END=$((NOW - NOW % 60))
awk -v e=$END -v n="$SERIES" 'BEGIN {
  for (t = e - 86400; t < e; t += 10)
    for (i = 0; i < n; i++)
      printf "day.s%d %d %d\n", i, (i * 7 + t / 10) % 1000, t
}' >"$TMP/day"
for name in small big; do
  leaves=$SMALL
  [ $name = big ] && leaves=$BIG
  start $name "$leaves"
  http_var=HTTP_$name
  tcp_var=TCP_$name
  lps=$(push_leaves "$BIN" "${!http_var}" $((leaves / 3)))
  exec 3>/dev/tcp/127.0.0.1/"${!tcp_var}"
  cat "$TMP/day" >&3
  exec 3>&-
  await 900 caught_up "${!http_var}"
  await 60 written_settled "${!http_var}"
  pid_var=PID_$name
  say "$name: $(metric "${!http_var}" canopy_leaves) leaves ($lps leaves/s pushed), a day of $SERIES series, history written; VmRSS $(awk '$1 == "VmRSS:" {print int($2 / 1024)}' "/proc/${!pid_var}/status") MB"
done

# Both servers quiet before the rounds: LevelDB's compactions of what the
# set-up wrote, which would land in some rounds and not others (at most
# 5 minutes each).
quiet() {  # quiet PID: under 2 ticks of CPU in 2 s
  local a
  a=$(cpu_ticks "$1")
  sleep 2
  [ $(($(cpu_ticks "$1") - a)) -lt 2 ]
}
await 300 quiet "$PID_small"
await 300 quiet "$PID_big"
say "both quiet"

# --- StatsD CPU a line -------------------------------------------------------
statsd_round() {  # statsd_round NAME: prints CPU ns a line
  local name=$1 pid_var=PID_$1 http_var=HTTP_$1 udp_var=UDP_$1
  local pid=${!pid_var} http=${!http_var} n0 n1 c0 c1 i0 i1 t0 t1 now
  now=$(date +%s.%N)
  sleep "$(awk -v n="$now" 'BEGIN {print 10 - (n % 10) + 0.3}')"
  i0=$(cpu_ticks "$pid")
  sleep 2
  i1=$(cpu_ticks "$pid")
  n0=$(metric "$http" 'canopy_ingest_accepted_total{protocol="udp"}')
  n0=${n0:-0}
  t0=$(date +%s.%N)
  c0=$(cpu_ticks "$pid")
  "$BIN/canopy-statsd-blast" --server="127.0.0.1:${!udp_var}" --rate="$RATE" \
    --seconds=5 --keys="$KEYS" --prefix=sd >/dev/null
  await 60 caught_up "$http"
  await 60 written_settled "$http"
  c1=$(cpu_ticks "$pid")
  t1=$(date +%s.%N)
  n1=$(metric "$http" 'canopy_ingest_accepted_total{protocol="udp"}')
  awk -v c=$((c1 - c0)) -v i=$((i1 - i0)) -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
    -v n=$((n1 - n0)) -v hz="$CLK_TCK" \
    'BEGIN {x = (c - i / 2 * w) / hz; if (x < 0) x = 0; printf "%.0f %d %d %d %.1f\n", x * 1e9 / n, n, c, i, w}'
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
: >"$TMP/statsd.small"
: >"$TMP/statsd.big"
for r in $(seq 1 "$ROUNDS"); do
  for name in small big; do
    read -r ns lines busy idle wall < <(statsd_round $name)
    echo "$ns" >>"$TMP/statsd.$name"
    say "statsd round $r $name: $lines lines accepted in ${wall}s, $busy ticks of CPU ($idle in 2 s idle before): $ns ns a line"
  done
done
s_small=$(median <"$TMP/statsd.small")
s_big=$(median <"$TMP/statsd.big")
s_ratio=$(awk -v a="$s_big" -v b="$s_small" 'BEGIN {printf "%.2f", a / b}')

# --- /trend of one series over a day ----------------------------------------
cat >"$TMP/trend.lua" <<EOF
math.randomseed(7)
request = function()
  return wrk.format("GET", "/trend?key=day,s" .. math.random(0, $SERIES - 1) .. "&from=-1d")
end
done = function(summary, latency, requests)
  io.write(string.format("TREND p50_us=%d p99_us=%d requests=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read))
end
EOF
: >"$TMP/trend.small"
: >"$TMP/trend.big"
for r in 1 2 3; do
  for name in small big; do
    http_var=HTTP_$name
    line=$(wrk -t1 -c1 -d10s -s "$TMP/trend.lua" "http://127.0.0.1:${!http_var}" | grep '^TREND')
    say "trend turn $r $name: $line"
    p99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")
    p50=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$line")
    echo "$p99 $p50" >>"$TMP/trend.$name"
  done
done
# The turn with the median p99.
t_small=$(sort -n "$TMP/trend.small" | sed -n 2p)
t_big=$(sort -n "$TMP/trend.big" | sed -n 2p)
echo "StatsD CPU a line: $SMALL leaves ${s_small} ns, $BIG leaves ${s_big} ns; ratio $s_ratio (goal <= 1.2)"
echo "/trend a day of one series (p99 p50, us): $SMALL leaves $t_small; $BIG leaves $t_big (goal p99 <= 5000)"
echo "RESULT small=$SMALL big=$BIG statsd_ns_small=$s_small statsd_ns_big=$s_big statsd_ratio=$s_ratio trend_p99_us_small=${t_small%% *} trend_p50_us_small=${t_small##* } trend_p99_us_big=${t_big%% *} trend_p50_us_big=${t_big##* }"
