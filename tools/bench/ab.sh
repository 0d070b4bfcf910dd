#!/usr/bin/env bash
# A/B: two canopyd binaries side by side in one run, taking turns, on
# loopback only, for the figures a change must not move (docs/BENCHMARKS.md,
# "Before and after"):
#   push    POST /push leaves/s (canopy-push-load: 8 connections, 1000 leaves
#           a request, 100 000 leaves)
#   get     GET /get of a ~1 KB subtree under wrk (-t1 -c50), requests/s
#   fanout  one change to WAITERS parked /pull waiters: the last reply's
#           time (ms) and server CPU per delivery (us) (canopy-pull-fanout)
#   statsd  canopyd's CPU seconds per million StatsD lines at 1 M lines/s
#           (canopy-statsd-blast, 10 lines a datagram, from /proc/PID/stat)
# Each round runs A then B (B then A in every other round); the table gives
# each side's median over ROUNDS and the ratio B/A of the medians.
#
# Usage: tools/bench/ab.sh OLD_CANOPYD NEW_CANOPYD
# Environment: BIN (the tools' bin dir, default build/bin), ROUNDS (default
#   3), SECONDS_EACH (default 5), WAITERS (default 10000), ONLY (a
#   space-separated subset of "push get fanout statsd").
# Needs: wrk (scripts/deps.sh --bench).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
A=${1:?usage: ab.sh OLD_CANOPYD NEW_CANOPYD}
B=${2:?usage: ab.sh OLD_CANOPYD NEW_CANOPYD}
BIN=${BIN:-$ROOT/build/bin}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS_EACH:-5}
WAITERS=${WAITERS:-10000}
ONLY=${ONLY:-push get fanout statsd}
TMP=$(mktemp -d /tmp/canopy-ab.XXXXXX)
PID=

say() { printf '== %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

cleanup() {
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in canopy-push-load canopy-pull-fanout canopy-statsd-blast canopy; do
  [ -x "$BIN/$tool" ] || die "no $BIN/$tool: build it (ninja -C build $tool)"
done
command -v wrk >/dev/null || die "wrk is missing: scripts/deps.sh --bench"

# start BINARY: canopyd on free loopback ports; sets PID, HTTP, UDP.
start() {
  local dir="$TMP/run.$RANDOM"
  mkdir -p "$dir"
  "$1" --http=127.0.0.1:0 --udp=127.0.0.1:0 --tcp=off --history=false \
    --data_dir="$dir/data" --ready_file="$dir/ready" 2>"$dir/log" &
  PID=$!
  for _ in $(seq 200); do
    [ -s "$dir/ready" ] && break
    kill -0 "$PID" 2>/dev/null || die "canopyd did not start: $(cat "$dir/log")"
    sleep 0.05
  done
  HTTP=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$dir/ready")
  UDP=$(sed -n 's/.*udp=\([0-9]*\).*/\1/p' "$dir/ready")
}

stop() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | tail -n 1; }
cpu_seconds() {  # utime + stime of PID, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

run_push() {
  "$BIN/canopy-push-load" --server="127.0.0.1:$HTTP" --connections=8 \
    --leaves=1000 --keyspace=100000 --seconds="$SECONDS_EACH" |
    field leaves_per_s
}

run_get() {
  local args=()
  for i in $(seq 10 41); do args+=("bench,get,metric_$i=$((1000 + i)).25"); done
  "$BIN/canopy" --server="127.0.0.1:$HTTP" push "${args[@]}" >/dev/null
  wrk -t1 -c50 -d"${SECONDS_EACH}s" "http://127.0.0.1:$HTTP/get?key=bench,get" |
    sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'
}

run_fanout() {
  local out
  out=$("$BIN/canopy-pull-fanout" --server="127.0.0.1:$HTTP" \
    --waiters="$WAITERS" --server_pid="$PID" 2>/dev/null || true)
  printf '%s %s\n' "$(printf '%s\n' "$out" | field max_ms)" \
    "$(printf '%s\n' "$out" | field cpu_us_per_delivery)"
}

run_statsd() {
  local before after out lines
  before=$(cpu_seconds "$PID")
  out=$("$BIN/canopy-statsd-blast" --server="127.0.0.1:$UDP" --rate=1000000 \
    --seconds="$SECONDS_EACH" --lines_per_datagram=10 2>&1)
  # The last datagrams are read within a few milliseconds.
  sleep 0.2
  after=$(cpu_seconds "$PID")
  lines=$(printf '%s\n' "$out" | field lines)
  awk -v b="$before" -v a="$after" -v n="$lines" \
    'BEGIN { printf "%.3f\n", (a - b) / (n / 1e6) }'
}

declare -A R  # R[bench,side] = space-separated results
one() {  # one BENCH SIDE BINARY
  start "$3"
  local v
  v=$("run_$1")
  stop
  say "$1 $2: $v"
  R[$1,$2]="${R[$1,$2]:-} $v"
}

for round in $(seq "$ROUNDS"); do
  for bench in $ONLY; do
    if ((round % 2)); then one "$bench" A "$A"; one "$bench" B "$B"
    else one "$bench" B "$B"; one "$bench" A "$A"; fi
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {
  if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$1" '{print $c}'; }  # the c-th of each pair

printf '\n| figure | A (%s) | B (%s) | B/A |\n|---|---|---|---|\n' \
  "$(basename "$(dirname "$(dirname "$A")")")" \
  "$(basename "$(dirname "$(dirname "$B")")")"
row() {  # row NAME A_MEDIAN B_MEDIAN
  awk -v n="$1" -v a="$2" -v b="$3" \
    'BEGIN { printf "| %s | %s | %s | %.2f |\n", n, a, b, (a > 0 ? b / a : 0) }'
}
for bench in $ONLY; do
  case $bench in
    fanout)
      pairs() { printf '%s\n' "${R[fanout,$1]}" | xargs -n 2; }
      row "fan-out to $WAITERS: last reply, ms (median of $ROUNDS)" \
        "$(pairs A | col 1 | median)" "$(pairs B | col 1 | median)"
      row "fan-out: server CPU per delivery, us" \
        "$(pairs A | col 2 | median)" "$(pairs B | col 2 | median)"
      ;;
    push) row "/push leaves/s" "$(echo ${R[push,A]} | median)" "$(echo ${R[push,B]} | median)" ;;
    get) row "/get of ~1 KB, requests/s" "$(echo ${R[get,A]} | median)" "$(echo ${R[get,B]} | median)" ;;
    statsd) row "StatsD CPU s per M lines at 1 M/s" "$(echo ${R[statsd,A]} | median)" "$(echo ${R[statsd,B]} | median)" ;;
  esac
done
