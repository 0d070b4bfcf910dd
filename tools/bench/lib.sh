# Sourced by the benchmark scripts (tools/bench/*.sh): the processes a
# script starts, stopped and waited for when it ends however it ends; its
# temporary directory removed; a free loopback port.
#
#   TMP=$(mktemp -d /tmp/canopy-X-bench.XXXXXX)
#   . "$(dirname "$0")/lib.sh"
#   some_server & STARTED+=($!)
#   stop "$pid"          # SIGTERM, wait, and no longer tracked
#   port=$(free_port)
STARTED=()  # pids of what this script started

cleanup() {
  local pid
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# forget PID: takes a process that was stopped off STARTED, so that the
# clean-up never signals a pid the system may have given to another process.
forget() {
  local pid kept=()
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && [ "$pid" != "$1" ] && kept+=("$pid")
  done
  STARTED=("${kept[@]:-}")
}

# stop PID: SIGTERM, wait, forget.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget "$1"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
