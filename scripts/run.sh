#!/usr/bin/env bash
# The README's first command: installs what canopy needs, builds it in
# Release, and runs canopyd on loopback with its data under ./var/canopy,
# and beside it a canopy-agent pushing this machine's figures to it over UDP
# every second (CANOPY_AGENT=0 leaves the agent out). Ctrl-C (or SIGTERM)
# stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCANOPY_BUILD_TESTS=OFF >/dev/null
# The programs, the pages (build/web: every page, with uPlot) and ua-parser's
# regexes.yaml (build/share/canopy) that name browsers.
cmake --build build -j "$(nproc)" --target canopyd canopy-cli canopy-agent canopy_web canopy_data

mkdir -p var/canopy
http="${CANOPY_HTTP:-127.0.0.1:7575}"
rm -f var/canopy/ready
build/bin/canopyd --http="$http" --data_dir=var/canopy --ready_file=var/canopy/ready "$@" &
server=$!
agent=
stop() {
  trap - INT TERM EXIT
  if [ -n "$agent" ]; then kill -TERM "$agent" 2>/dev/null; wait "$agent" || true; fi
  kill -TERM $server 2>/dev/null
  wait $server || true
}
trap stop INT TERM EXIT

# Ready when this canopyd says so (its ready file), not when something
# answers on the port: that may be another canopyd left running.
for _ in $(seq 300); do
  [ -s var/canopy/ready ] && break
  kill -0 $server 2>/dev/null || exit 1
  sleep 0.1
done
[ -s var/canopy/ready ] || { echo "run.sh: canopyd did not start" >&2; exit 1; }
udp=127.0.0.1:8125  # canopyd's default, unless --udp= is given
for arg in "$@"; do
  case "$arg" in --udp=*) udp="${arg#--udp=}" ;; esac
done
if [ "${CANOPY_AGENT:-1}" != 0 ] && [ "$udp" != off ]; then
  build/bin/canopy-agent --server="udp://$udp" --interval=1s &
  agent=$!
fi
echo
echo "canopy is live:  http://$http/"
echo "push something:  build/bin/canopy push hello,world=1"
echo "watch it:        build/bin/canopy watch hello"
[ -n "$agent" ] && echo "this machine:    build/bin/canopy watch host,$(hostname | tr , _),cpu"
echo
wait $server
