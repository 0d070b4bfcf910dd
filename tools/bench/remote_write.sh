#!/usr/bin/env bash
# Issue 14 benchmark (remote_write), on loopback only:
#   1. CPU per sample sent: canopyd's remote_write threads (rw-intake,
#      rw-send) sending every closed window of SERIES gauges (10 s windows)
#      to VictoriaMetrics, against a Prometheus that scrapes the same leaves
#      from canopyd's /metrics?key= every 10 s and forwards them to the same
#      VictoriaMetrics by its own remote_write. Turns alternate, ROUNDS
#      times; the median is reported.
#   2. Catch-up: VictoriaMetrics stopped for OUTAGE seconds while the load
#      goes on, then started again: the seconds until canopyd's lag is 0.
# Prints a Markdown table at the end. See docs/BENCHMARKS.md.
#
# Usage: tools/bench/remote_write.sh
# Environment: BUILD (build dir with bin/canopyd, default build), SERIES
#   (default 100000), WINDOWS (10 s windows measured per turn, default 6),
#   ROUNDS (default 3; 0 runs the catch-up alone), OUTAGE (seconds, default
#   60).
# Needs: victoria-metrics, prometheus, curl, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CANOPYD=${CANOPYD:-$BUILD/bin/canopyd}
SERIES=${SERIES:-100000}
WINDOWS=${WINDOWS:-6}
ROUNDS=${ROUNDS:-3}
OUTAGE=${OUTAGE:-60}
CLK=$(getconf CLK_TCK)

TMP=$(mktemp -d /tmp/canopy-rw-bench.XXXXXX)
. "$(dirname "$0")/lib.sh"



# CPU seconds of PID, or of its threads whose name starts with PREFIX.
cpu() {
  local pid=$1 prefix=${2:-} ticks=0 t
  for t in /proc/"$pid"/task/*; do
    local comm
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    [[ -n "$prefix" && "$comm" != "$prefix"* ]] && continue
    # utime and stime: fields 14 and 15, after the ")" that ends comm.
    ticks=$((ticks + $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')))
  done
  python3 -c "print($ticks / $CLK)"
}

metric() {  # metric URL NAME-PREFIX: the sum of the matching samples
  curl -s "$1" | awk -v n="$2" 'index($0, n) == 1 { s += $NF } END { printf "%.0f\n", s }'
}

wait_http() {
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "remote_write.sh: $1 did not come up" >&2
  return 1
}

# Two bodies of SERIES gauges, bench,<g>,<i> with 10 groups, values that
# change between them.
python3 - "$SERIES" "$TMP" <<'PY'
import json, sys
n, tmp = int(sys.argv[1]), sys.argv[2]
per = (n + 9) // 10
for variant in (0, 1):
    tree = {}
    for i in range(n):
        tree.setdefault(str(i // per), {})[str(i % per)] = round(i * 0.01 + variant * 0.5, 2)
    with open(f"{tmp}/body{variant}.json", "w") as f:
        json.dump({"bench": tree}, f)
PY

start_vm() {  # start_vm PORT DIR
  victoria-metrics -storageDataPath="$2" -httpListenAddr=127.0.0.1:"$1" \
    -retentionPeriod=100y -loggerLevel=ERROR >"$TMP/vm.log" 2>&1 &
  VM_PID=$!
  STARTED+=("$VM_PID")
  wait_http "http://127.0.0.1:$1/health"
}

start_canopyd() {  # start_canopyd DATA_DIR FLAGS...
  local dir=$1
  shift
  rm -f "$dir/ready"
  mkdir -p "$dir"
  "$CANOPYD" --http=127.0.0.1:0 --udp=off --tcp=off --data_dir="$dir" \
    --retention=10s:1h,1m:1d --ready_file="$dir/ready" "$@" >"$dir/log" 2>&1 &
  CANOPY_PID=$!
  STARTED+=("$CANOPY_PID")
  for _ in $(seq 1 300); do [ -s "$dir/ready" ] && break; sleep 0.1; done
  CANOPY_PORT=$(sed 's/.*http=\([0-9]*\).*/\1/' "$dir/ready")
}

pusher() {  # pusher PORT: the bodies in turn, every 10 s, until killed
  local v=0
  while true; do
    curl -s -o /dev/null -XPOST "http://127.0.0.1:$1/push" --data-binary @"$TMP/body$v.json"
    v=$((1 - v))
    sleep 10
  done
}

MEASURE=$((WINDOWS * 10))
results_canopy=()
results_prom=()

turn_canopy() {
  local vm_port dir
  vm_port=$(free_port)
  dir="$TMP/c$1"
  start_vm "$vm_port" "$TMP/vm-c$1"
  local url="http://127.0.0.1:$vm_port/api/v1/write"
  start_canopyd "$dir" --remote_write="$url"
  pusher "$CANOPY_PORT" &
  local push_pid=$!
  STARTED+=("$push_pid")
  sleep 25  # two windows closed and sent: warm
  local m="http://127.0.0.1:$CANOPY_PORT/metrics"
  local c0 s0 p0 c1 s1 p1
  c0=$(cpu "$CANOPY_PID" rw-); p0=$(cpu "$CANOPY_PID")
  s0=$(metric "$m" canopy_remote_write_sent_samples_total)
  sleep "$MEASURE"
  c1=$(cpu "$CANOPY_PID" rw-); p1=$(cpu "$CANOPY_PID")
  s1=$(metric "$m" canopy_remote_write_sent_samples_total)
  stop "$push_pid"
  stop "$CANOPY_PID"
  stop "$VM_PID"
  local line
  line=$(python3 -c "
c=$c1-$c0; p=$p1-$p0; s=$s1-$s0
print(f'{c*1e6/s:.3f} {s} {c:.2f} {p:.2f}')")
  echo "canopy turn $1: us/sample samples rw-cpu-s canopyd-cpu-s = $line" >&2
  results_canopy+=("$line")
}

turn_prom() {
  local vm_port prom_port dir
  vm_port=$(free_port)
  prom_port=$(free_port)
  dir="$TMP/p$1"
  start_vm "$vm_port" "$TMP/vm-p$1"
  start_canopyd "$dir"
  local keys=""
  for g in 0 1 2 3 4 5 6 7 8 9; do keys="$keys\"bench,$g\", "; done
  cat >"$TMP/prom$1.yml" <<YML
global:
  scrape_interval: 10s
  scrape_timeout: 10s
scrape_configs:
  - job_name: canopy
    metrics_path: /metrics
    params:
      key: [${keys%, }]
    static_configs:
      - targets: ["127.0.0.1:$CANOPY_PORT"]
remote_write:
  - url: http://127.0.0.1:$vm_port/api/v1/write
YML
  prometheus --config.file="$TMP/prom$1.yml" --storage.tsdb.path="$TMP/prom-data$1" \
    --web.listen-address=127.0.0.1:"$prom_port" --log.level=error >"$TMP/prom.log" 2>&1 &
  local prom_pid=$!
  STARTED+=("$prom_pid")
  wait_http "http://127.0.0.1:$prom_port/-/ready"
  pusher "$CANOPY_PORT" &
  local push_pid=$!
  STARTED+=("$push_pid")
  sleep 25
  local m="http://127.0.0.1:$prom_port/metrics"
  local c0 s0 k0 c1 s1 k1
  c0=$(cpu "$prom_pid"); k0=$(cpu "$CANOPY_PID")
  s0=$(metric "$m" prometheus_remote_storage_samples_total)
  sleep "$MEASURE"
  c1=$(cpu "$prom_pid"); k1=$(cpu "$CANOPY_PID")
  s1=$(metric "$m" prometheus_remote_storage_samples_total)
  stop "$push_pid"
  stop "$prom_pid"
  stop "$CANOPY_PID"
  stop "$VM_PID"
  local line
  line=$(python3 -c "
c=$c1-$c0; k=$k1-$k0; s=$s1-$s0
print(f'{c*1e6/s:.3f} {s} {c:.2f} {k:.2f}')")
  echo "prometheus turn $1: us/sample samples prometheus-cpu-s canopyd-cpu-s = $line" >&2
  results_prom+=("$line")
}

for r in $(seq 1 "$ROUNDS"); do
  turn_canopy "$r"
  turn_prom "$r"
done

# Catch-up after an outage.
vm_port=$(free_port)
start_vm "$vm_port" "$TMP/vm-out"
start_canopyd "$TMP/out" --remote_write="http://127.0.0.1:$vm_port/api/v1/write"
pusher "$CANOPY_PORT" &
push_pid=$!
STARTED+=("$push_pid")
sleep 25
m="http://127.0.0.1:$CANOPY_PORT/metrics"
stop "$VM_PID"
sleep "$OUTAGE"
behind=$(metric "$m" canopy_remote_write_lag_seconds)
sent_before=$(metric "$m" canopy_remote_write_sent_samples_total)
t0=$(date +%s.%N)
start_vm "$vm_port" "$TMP/vm-out"
caught=""
for _ in $(seq 1 1200); do
  lag=$(metric "$m" canopy_remote_write_lag_seconds)
  if [ "$lag" = "0" ]; then caught=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')"); break; fi
  sleep 0.25
done
sent_after=$(metric "$m" canopy_remote_write_sent_samples_total)
stop "$push_pid"
stop "$CANOPY_PID"
stop "$VM_PID"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
if ((ROUNDS == 0)); then  # ROUNDS=0: the catch-up alone
  echo "catch-up: outage ${OUTAGE}s (lag at restart ${behind}s), caught up ${caught:-never} s after the receiver came back; $((sent_after - sent_before)) samples sent meanwhile"
  exit 0
fi
mc=$(printf '%s\n' "${results_canopy[@]}" | awk '{print $1}' | median)
mp=$(printf '%s\n' "${results_prom[@]}" | awk '{print $1}' | median)
echo
echo "| turn | canopyd rw threads: CPU us per sample (samples) | Prometheus: CPU us per sample (samples) |"
echo "| --- | --- | --- |"
for i in $(seq 0 $((ROUNDS - 1))); do
  read -r a b _ _ <<<"${results_canopy[$i]}"
  read -r c d _ _ <<<"${results_prom[$i]}"
  echo "| $((i + 1)) | $a ($b) | $c ($d) |"
done
echo "| median | $mc | $mp |"
echo "ratio canopyd / Prometheus (median): $(python3 -c "print(f'{$mc / $mp:.3f}')")"
echo "catch-up: outage ${OUTAGE}s (lag at restart ${behind}s), caught up ${caught:-never} s after the receiver came back; $((sent_after - sent_before)) samples sent meanwhile"
