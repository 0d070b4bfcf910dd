#!/usr/bin/env bash
# Issue 14 benchmark: Graphite /render of 1 000 series over a day on
# canopyd, beside VictoriaMetrics answering the same question over the same
# data with /api/v1/query_range, on loopback only.
#
# The data: SERIES series bench.hostN.cpu, one value every 10 s for the day
# that ended a minute ago (8 640 points each), sent with their timestamps
# over the Graphite plaintext protocol (TCP) to canopyd and to
# VictoriaMetrics' -graphiteListenAddr, the same bytes to both.
# The question: every series over the day at about 1 000 points, each point
# the average of its interval: what Grafana asks,
#   canopyd:          POST /render target=bench.*.cpu&from=..&until=..
#                          &format=json&maxDataPoints=1000 (120 s points)
#   VictoriaMetrics:  GET /api/v1/query_range?query=avg_over_time(
#                          {__name__=~"bench[.].*[.]cpu"}[120s])&step=120
# Both answer 1 000 series x ~720 points as JSON. VictoriaMetrics runs with
# -search.disableCache so that both compute every answer (canopyd keeps no
# result cache).
#
# Method: ROUNDS rounds, each QUERIES requests to one then QUERIES to the
# other (the order alternating by round), one at a time, timed by curl
# (time_total: connect, answer, body read). p50 and p99 over every request
# of each server, and their ratios, as a Markdown table.
#
# Usage: tools/bench/render.sh
# Environment: BUILD (build dir, default build-bench), JOBS (default 2),
#   CANOPYD (a canopyd binary instead of building one), SERIES (default
#   1000), ROUNDS (default 5), QUERIES (per server per round, default 10).
# Needs: victoria-metrics (Debian), curl, awk; scripts/deps.sh --bench.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
JOBS=${JOBS:-2}
SERIES=${SERIES:-1000}
ROUNDS=${ROUNDS:-5}
QUERIES=${QUERIES:-10}
TMP=$(mktemp -d /tmp/canopy-render-bench.XXXXXX)
. "$(dirname "$0")/lib.sh"

command -v victoria-metrics >/dev/null ||
  { echo "render.sh: victoria-metrics is not installed (scripts/deps.sh --bench)" >&2; exit 1; }

if [ -z "${CANOPYD:-}" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$JOBS" --target canopyd >/dev/null
  CANOPYD=$BUILD/bin/canopyd
fi

# A free loopback port (the kernel's pick, released at once).
await() {  # await SECONDS COMMAND...: polls until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || { echo "render.sh: timed out: $*" >&2; exit 1; }
    sleep 0.5
  done
}

C_HTTP=$(free_port); C_TCP=$(free_port); V_HTTP=$(free_port); V_GRAPHITE=$(free_port)
"$CANOPYD" --http=127.0.0.1:$C_HTTP --tcp=127.0.0.1:$C_TCP --udp=127.0.0.1:0 \
  --data_dir="$TMP/canopy" >"$TMP/canopyd.log" 2>&1 &
STARTED+=($!)
victoria-metrics -storageDataPath="$TMP/vm" -retentionPeriod=1y \
  -httpListenAddr=127.0.0.1:$V_HTTP -graphiteListenAddr=127.0.0.1:$V_GRAPHITE \
  -search.disableCache -loggerLevel=ERROR >"$TMP/vm.log" 2>&1 &
STARTED+=($!)
await 30 curl -sf -o /dev/null "http://127.0.0.1:$C_HTTP/healthz"
await 30 curl -sf -o /dev/null "http://127.0.0.1:$V_HTTP/health"

NOW=$(date +%s)
END=$((NOW - NOW % 60 - 60))
START=$((END - 86400))
POINTS=$((SERIES * 8640))
echo "== loading $SERIES series x 8640 points (10 s, a day) into both"
awk -v s=$START -v n=$SERIES 'BEGIN {
  for (t = s; t < s + 86400; t += 10)
    for (i = 0; i < n; i++)
      printf "bench.host%d.cpu %d %d\n", i, (i * 7 + t / 10) % 100, t
}' >"$TMP/lines"
send() { exec 3>/dev/tcp/127.0.0.1/"$1"; cat "$TMP/lines" >&3; exec 3>&-; }
send $C_TCP
send $V_GRAPHITE
rm -f "$TMP/lines"
canopy_loaded() {  # every line taken, nothing waiting for disk, the last
  local m n                # series whole in the store
  m=$(curl -s "http://127.0.0.1:$C_HTTP/metrics")
  [ "$(awk '$1 == "canopy_ingest_accepted_total{protocol=\"tcp\"}" { print $2 }' <<<"$m")" = "$POINTS" ] &&
    [ "$(awk '$1 == "canopy_trend_queued_windows" { print $2 }' <<<"$m")" = 0 ] &&
    [ "$(awk '$1 == "canopy_trend_pending_windows" { print $2 }' <<<"$m")" = 0 ] || return 1
  n=$(curl -s -X POST "http://127.0.0.1:$C_HTTP/render" \
    --data "target=bench.host$((SERIES - 1)).cpu&from=$START&until=$((END - 1))&noNullPoints=1" |
    grep -o '\],\[' | wc -l)
  [ $((n + 1)) -ge 8640 ]
}
vm_loaded() {
  curl -s "http://127.0.0.1:$V_HTTP/internal/force_flush" >/dev/null
  local n
  n=$(curl -s "http://127.0.0.1:$V_HTTP/api/v1/query" \
    --data-urlencode "query=sum(count_over_time({__name__=~\"bench[.].*[.]cpu\"}[2d]))" \
    --data-urlencode "time=$END" | sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)".*/\1/p')
  [ "${n:-0}" -ge "$POINTS" ] 2>/dev/null
}
await 900 canopy_loaded
await 900 vm_loaded
echo "   loaded"

canopy_query() {
  curl -s -o "$TMP/c.json" -w '%{time_total}\n' -X POST \
    "http://127.0.0.1:$C_HTTP/render" \
    --data "target=bench.*.cpu&from=$START&until=$((END - 1))&format=json&maxDataPoints=1000"
}
vm_query() {
  curl -s -o "$TMP/v.json" -w '%{time_total}\n' -G \
    "http://127.0.0.1:$V_HTTP/api/v1/query_range" \
    --data-urlencode "query=avg_over_time({__name__=~\"bench[.].*[.]cpu\"}[120s])" \
    --data-urlencode "start=$START" --data-urlencode "end=$((END - 1))" \
    --data-urlencode "step=120"
}
# One warm-up each, and a check that both answer every series.
canopy_query >/dev/null; vm_query >/dev/null
c_series=$(grep -o '"target"' "$TMP/c.json" | wc -l)
v_series=$(grep -o '"metric"' "$TMP/v.json" | wc -l)
echo "   canopyd answers $c_series series ($(wc -c <"$TMP/c.json") bytes)," \
  "VictoriaMetrics $v_series ($(wc -c <"$TMP/v.json") bytes)"

: >"$TMP/c.times"; : >"$TMP/v.times"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="c v"; else order="v c"; fi
  for who in $order; do
    for q in $(seq 1 "$QUERIES"); do
      if [ "$who" = c ]; then canopy_query >>"$TMP/c.times"; else vm_query >>"$TMP/v.times"; fi
    done
  done
  echo "   round $r of $ROUNDS done"
done

pct() {  # pct FILE P: the P-th percentile (nearest rank), in ms
  sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
    i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
    printf "%.1f", v[i] * 1000 }'
}
c50=$(pct "$TMP/c.times" 50); c99=$(pct "$TMP/c.times" 99)
v50=$(pct "$TMP/v.times" 50); v99=$(pct "$TMP/v.times" 99)
n=$((ROUNDS * QUERIES))
echo
echo "| $SERIES series over a day, ~720 points each ($n requests each) | p50 ms | p99 ms |"
echo "| --- | ---: | ---: |"
echo "| canopyd POST /render (maxDataPoints=1000) | $c50 | $c99 |"
echo "| VictoriaMetrics query_range avg_over_time[120s] step=120 | $v50 | $v99 |"
echo "| ratio canopyd / VictoriaMetrics | $(awk -v a="$c50" -v b="$v50" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$c99" -v b="$v99" 'BEGIN { printf "%.2f", a / b }') |"
