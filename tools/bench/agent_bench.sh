#!/usr/bin/env bash
# The agent's machine benchmarks (issue 19; docs/AGENT.md "Benchmarks"):
# how much ten runs on this machine spread, and what running them costs.
#
#   tools/bench/agent_bench.sh                 # 10 runs, budget 500ms
#   tools/bench/agent_bench.sh --runs=20 --budget=2s
#
# Each run is `canopy-agent --once --bench=cpu,sqlite,disk,net` at the
# given --bench_budget (500ms is what each benchmark gets in the agent's
# loop at the default --interval=1s), the net one against a canopyd started
# here on 127.0.0.1 (loopback only). Per figure: median, min, max, the
# spread (max - min) / median and the relative standard deviation. Cost:
# the CPU time (user + system, from wait4) of a --once run with one
# benchmark minus that of a --once run with none, median of the runs; at
# --bench_interval=1h that is the share of a core the agent adds.
#
# Env: BUILD_DIR (default build; canopy-agent and canopyd are taken from
# $BUILD_DIR/bin).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=10
budget=500ms
for a in "$@"; do
  case "$a" in
    --runs=*) runs="${a#--runs=}" ;;
    --budget=*) budget="${a#--budget=}" ;;
    *) echo "agent_bench.sh: unknown option $a" >&2; exit 1 ;;
  esac
done
bin="${BUILD_DIR:-build}/bin"
tmp="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin/canopyd" --data_dir="$tmp/data" --http="127.0.0.1:$port" \
  --udp=127.0.0.1:0 --tcp=127.0.0.1:0 >"$tmp/canopyd.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
python3 - "$bin/canopy-agent" "$port" "$budget" "$runs" "$tmp" <<'PY'
import json, os, statistics, subprocess, sys
agent, port, budget, runs, tmp = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
kinds = ["cpu", "sqlite", "disk", "net"]

def once(bench):
    args = [agent, "--once", "--host=b", "--interval=100ms",
            "--bench_budget=" + budget, "--bench_dir=" + tmp + "/bench",
            "--bench_peer=http://127.0.0.1:" + port]
    if bench:
        args.append("--bench=" + ",".join(bench))
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    return out, err

def cpu_seconds(bench):
    args = [agent, "--once", "--host=b", "--interval=100ms",
            "--bench_budget=" + budget, "--bench_dir=" + tmp + "/bench",
            "--bench_peer=http://127.0.0.1:" + port]
    if bench:
        args.append("--bench=" + bench)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    return ru.ru_utime + ru.ru_stime

figures = {}
for i in range(runs):
    out, err = once(kinds)
    tree = json.loads(out)["host"]["b"]["bench"]
    for k in kinds:
        sub = tree.get(k, {})
        if sub.get("ok") != 1:
            print(f"run {i}: {k}: {sub.get('error')}", file=sys.stderr)
            continue
        for name, v in sub.items():
            if name in ("time", "seconds", "ok", "fall_percent", "threads",
                        "transactions") or not isinstance(v, (int, float)):
                continue
            figures.setdefault(f"{k},{name}", []).append(v)

print(f"| figure | median | min | max | spread (max-min)/median | rel. stdev |  ({runs} runs, --bench_budget={budget})")
print("| --- | --- | --- | --- | --- | --- |")
for key in sorted(figures):
    v = figures[key]
    med = statistics.median(v)
    sd = statistics.pstdev(v) / statistics.mean(v) * 100 if len(v) > 1 else 0
    print(f"| {key} | {med:.4g} | {min(v):.4g} | {max(v):.4g} | "
          f"{(max(v) - min(v)) / med * 100:.0f} % | {sd:.0f} % |")

base = statistics.median(cpu_seconds("") for _ in range(5))
total = 0
print()
print("| benchmark | CPU seconds per run (median of 5) |")
print("| --- | --- |")
for k in kinds:
    c = max(0.0, statistics.median(cpu_seconds(k) for _ in range(5)) - base)
    total += c
    print(f"| {k} | {c:.3f} |")
print(f"| all four, once an hour | {total:.3f} s = {total / 3600 * 100:.4f} % of a core |")
PY
