#!/usr/bin/env bash
# Checks the README's first command as a new user meets it: a fresh clone of
# what is committed here, `scripts/run.sh` in it, and every page of the URL
# it prints answering, with this machine's figures arriving from the agent.
# Called by scripts/test.sh; alone: scripts/first_command_check.sh.
# Ports: free loopback ones (run.sh takes CANOPY_HTTP and canopyd flags).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/canopy-first-command.XXXXXX)
run_pid=
cleanup() {
  if [ -n "$run_pid" ]; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
die() {
  echo "first command: $*" >&2
  tail -n 20 "$work/run.log" >&2 || true
  exit 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

git clone -q --no-hardlinks "$PWD" "$work/canopy"
# The npm packages come from the registry as a new user's would (run.sh's
# deps.sh runs npm ci in the clone).
http=127.0.0.1:$(free_port)
(cd "$work/canopy" && CANOPY_HTTP=$http exec scripts/run.sh \
  --udp=127.0.0.1:$(free_port) --tcp=127.0.0.1:$(free_port)) \
  >"$work/run.log" 2>&1 &
run_pid=$!
# The build is from scratch: up to 20 minutes on a slow machine.
for _ in $(seq 1 2400); do
  grep -q '^canopy is live:' "$work/run.log" && break
  kill -0 "$run_pid" 2>/dev/null || die "scripts/run.sh ended before printing the URL"
  sleep 0.5
done
url=$(sed -n 's/^canopy is live: *//p' "$work/run.log")
[ -n "$url" ] || die "scripts/run.sh printed no URL"
[ "$url" = "http://$http/" ] || die "unexpected URL $url"
base=http://$http
for page in /overview/ /realtime/ /trend/view/ /setting/view /diff/; do
  body=$(curl -fsS "$base$page") || die "$page does not answer 200"
  grep -q "no such page" <<<"$body" && die "$page is the 404 page"
  grep -qi "<html" <<<"$body" || die "$page is not a page"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/")
[ "$code" = 302 ] || die "/ answers $code, not a redirect to the overview"
# The agent beside it feeds this machine's figures.
for _ in $(seq 1 60); do
  curl -fsS "$base/get?key=host,*,cpu" | grep -q '"items":\[{' && break
  sleep 0.5
done
curl -fsS "$base/get?key=host,*,cpu" | grep -q '"items":\[{' ||
  die "no host,*,cpu figures from the agent"
echo "first command: a fresh clone's scripts/run.sh serves $url, every page and the agent's figures"
