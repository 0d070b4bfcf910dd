#!/usr/bin/env bash
# Installs the Debian packages canopy builds and tests with. Idempotent: does
# nothing when they are all there already.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libevent-dev libhttp-parser-dev rapidjson-dev libleveldb-dev libsnappy-dev libabsl-dev libgtest-dev
  libcairo2-dev
  # pdftotext reads the texts of the charts canopyd draws (tests/server/graph_test.cc)
  poppler-utils
  libcurl4-openssl-dev
  libsqlite3-dev
  libnats-dev nats-server carbon-c-relay
  libprotobuf-dev protobuf-compiler
  libre2-dev libyaml-cpp-dev
  clang libclang-rt-14-dev
  curl
  # man pages from --help (packaging/install.cmake); the .deb's checks
  # (tests/packaging/deb_test.sh)
  help2man lintian
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk nginx-light libnginx-mod-nchan)
  # tools/bench/render.sh: the Graphite /render peer
  packages+=(victoria-metrics)
  # tools/bench/live_charts.mjs: Netdata's dashboard, the live-chart peer
  packages+=(netdata)
fi

# --- real clients (tests/server/clients_test.cc) ---------------------------
# collectd (write_graphite), Node.js with npm for the hot-shots StatsD client,
# and promtool (in Debian's prometheus package). Node.js may come from
# elsewhere than Debian with its own npm: then neither is taken from Debian.
packages+=(collectd-core prometheus)
# VictoriaMetrics, a remote_write receiver (tests/server/remote_test.cc).
packages+=(victoria-metrics)
if ! command -v node >/dev/null; then
  packages+=(nodejs)
fi
if ! command -v npm >/dev/null; then
  packages+=(npm)
fi
# ---------------------------------------------------------------------------
# The browser tests (tests/web) drive Debian's chromium with playwright-core.
packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the daemons of collectd-core, prometheus, victoria-metrics,
  # nats-server and carbon-c-relay on install where it can; the tests run
  # their own, so those just started are stopped.
  for service in collectd prometheus victoria-metrics nats-server carbon-c-relay; do
    [[ " ${missing[*]} " == *" $service"[-\ ]* ]] || continue
    if service "$service" status >/dev/null 2>&1; then
      $sudo service "$service" stop >/dev/null 2>&1 || true
    fi
  done
fi

# hot-shots for the client tests, pinned by tests/clients/package-lock.json.
clients_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/clients"
if [[ ! -f "$clients_dir/node_modules/hot-shots/package.json" ||
      "$clients_dir/package-lock.json" -nt "$clients_dir/node_modules/.package-lock.json" ]]; then
  echo "deps: npm ci in tests/clients" >&2
  (cd "$clients_dir" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
fi

# uPlot for the pages and playwright-core for the browser tests, pinned by
# web/package-lock.json (the canopy_web build target copies uPlot from here).
web_dir="$(cd "$(dirname "$0")/.." && pwd)/web"
if [[ ! -f "$web_dir/node_modules/uplot/package.json" ||
      ! -f "$web_dir/node_modules/playwright-core/package.json" ||
      "$web_dir/package-lock.json" -nt "$web_dir/node_modules/.package-lock.json" ]]; then
  echo "deps: npm ci in web" >&2
  (cd "$web_dir" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
fi

# ua-parser's regexes.yaml for the user-agent pipe (pipes/ua.cc), pinned by
# pipes/package-lock.json (npm package uap-core).
pipes_dir="$(cd "$(dirname "$0")/.." && pwd)/pipes"
if [[ ! -f "$pipes_dir/node_modules/uap-core/regexes.yaml" ||
      "$pipes_dir/package-lock.json" -nt "$pipes_dir/node_modules/.package-lock.json" ]]; then
  echo "deps: npm ci in pipes" >&2
  (cd "$pipes_dir" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
fi
