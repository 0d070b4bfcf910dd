#!/bin/bash
# The query of issue 18 against two canopyd binaries, side by side, taking
# turns: the deep tree (8 010 leaves 29 segments deep) pushed to each, then
# /get?key=**,**,**,**&limit=1 and a pattern that matches nothing, timed by
# curl. Loopback only; each server is stopped at the end.
#
#   tools/bench/deep_query.sh OLD_CANOPYD NEW_CANOPYD [ROUNDS]
set -eu
old=$1 new=$2 rounds=${3:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - > "$work/deep.json" <<'PY'
import json
d = {}
for i in range(8010):
    segs = ["deep"] + ["c%d" % j for j in range(1, 16)] + \
           ["b%d" % ((i >> j) & 1) for j in range(13)]
    d[",".join(segs)] = i
print(json.dumps(d))
PY
run() {
  local bin=$1 name=$2 port=17570 dir
  dir=$(mktemp -d -p "$work")
  "$bin" --http=127.0.0.1:$port --udp=off --tcp=off --data_dir="$dir" \
    --history=false >"$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
  done
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    --data-binary @"$work/deep.json" "http://127.0.0.1:$port/push"
  for q in '**,**,**,**&limit=1' '**,b1,**,b0,**,zz'; do
    curl -s -o /dev/null -w "$name /get?key=$q -> %{http_code} %{time_total} s\n" \
      --max-time 120 "http://127.0.0.1:$port/get?key=$q"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
for _ in $(seq "$rounds"); do
  run "$old" old
  run "$new" new
done
