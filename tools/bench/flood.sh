#!/usr/bin/env bash
# Issue 18's floods against canopyd, loopback only, each bounded in time:
#   slowloris  20 000 slow HTTP connections (two canopy-flood processes of
#              10 000: one process's fd limit is 20 000) while /healthz and
#              /metrics are probed once a second
#   tcp_idle   5 000 idle TCP ingest connections, a new sender every second
#   hangup     100 000 /pull and /stream hang-ups, canopyd's RSS
# CANOPYD (default build/bin/canopyd) may name another build (e.g. main's,
# for the before); the runs of two builds take turns when both are given:
#   tools/bench/flood.sh slowloris [build/bin/canopyd /work/main/build/bin/canopyd]
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-slowloris}
shift || true
BINS=("${@:-build/bin/canopyd}")
FLOOD=${FLOOD:-build/bin/canopy-flood}
DURATION=${DURATION:-60}

run_one() {
  local bin=$1 dir
  dir=$(mktemp -d)
  "$bin" --http=127.0.0.1:0 --udp=127.0.0.1:0 --tcp=127.0.0.1:0 \
    --data_dir="$dir" --history=false --ready_file="$dir/ready" \
    >"$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -s "$dir/ready" ] && break; sleep 0.1; done
  local http tcp
  http=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$dir/ready")
  tcp=$(sed -n 's/.*tcp=\([0-9]*\).*/\1/p' "$dir/ready")
  echo "== $bin ($MODE) pid $pid"
  case $MODE in
    slowloris)
      "$FLOOD" --mode=slowloris --http=127.0.0.1:$http --connections=10000 \
        --interval=3 --duration="$DURATION" >"$dir/a" &
      local a=$!
      "$FLOOD" --mode=slowloris --http=127.0.0.1:$http --connections=10000 \
        --interval=3 --duration="$DURATION" >"$dir/b"
      wait $a
      cat "$dir/a" "$dir/b" | grep -v '^t='
      ;;
    tcp_idle)
      "$FLOOD" --mode=tcp_idle --http=127.0.0.1:$http --tcp=127.0.0.1:$tcp \
        --connections=5000 --duration="$DURATION" | grep -v "^t="
      ;;
    hangup)
      "$FLOOD" --mode=hangup --http=127.0.0.1:$http --pid=$pid --count=50000 \
        --duration=600
      "$FLOOD" --mode=hangup --stream --http=127.0.0.1:$http --pid=$pid \
        --count=50000 --duration=600
      ;;
  esac
  kill -TERM $pid
  wait $pid || true
  rm -rf "$dir"
}

for b in "${BINS[@]}"; do run_one "$b"; done
