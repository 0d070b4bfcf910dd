#!/usr/bin/env bash
# The README's first command: installs what canopy needs, builds it in
# Release, and runs canopyd on loopback with its data under ./var/canopy.
# Ctrl-C (or SIGTERM) stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCANOPY_BUILD_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)" --target canopyd canopy-cli

mkdir -p var/canopy
http="${CANOPY_HTTP:-127.0.0.1:7575}"
build/bin/canopyd --http="$http" --data_dir=var/canopy "$@" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM EXIT

for _ in $(seq 100); do
  curl -fsS "http://$http/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || exit 1
  sleep 0.1
done
echo
echo "canopy is live:  http://$http/realtime/"
echo "push something:  build/bin/canopy push hello,world=1"
echo "watch it:        build/bin/canopy watch hello"
echo
wait $server
