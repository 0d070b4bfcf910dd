#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, moved elsewhere and run from a
# third directory with only the installed files: the layout, no path of the
# source or build tree in a binary, every page 200 (the built pages, not
# the fallback), browsers named from the installed regexes.yaml, the CLI
# against it through CANOPY_SERVER, the installed config file read back,
# and the units checked by systemd-analyze where it runs.
#
#   tests/packaging/install_test.sh SOURCE_DIR BUILD_DIR [SANITIZED]
#
# SANITIZED=1 (the ASan+UBSan build): the sanitizers' own records of globals
# name their source files whatever -ffile-prefix-map says, so the check for
# build paths is for unsanitized builds (the ones packaged) only.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
sanitized=${3:-0}
tmp=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# Relocatable: the tree works wherever it is moved.
mv "$tmp/prefix" "$tmp/moved"
p=$tmp/moved
for f in bin/canopyd bin/canopy-agent bin/canopy \
         share/canopy/web/realtime.html share/canopy/web/trend.html \
         share/canopy/web/settings.html share/canopy/web/diff.html \
         share/canopy/web/assets/uplot/uPlot.esm.js share/canopy/regexes.yaml \
         etc/canopy/canopyd.conf etc/canopy/canopy-agent.conf \
         lib/systemd/system/canopyd.service lib/systemd/system/canopy-agent.service; do
  [ -e "$p/$f" ] || fail "not installed: $f"
done
if command -v help2man >/dev/null; then
  for m in canopyd canopy-agent canopy; do
    [ -s "$p/share/man/man1/$m.1.gz" ] || fail "no man page for $m"
    grep -q -F -e '\-\-config' <<<"$(zcat "$p/share/man/man1/$m.1.gz")" || fail "$m.1 lists no flags"
  done
fi
for b in canopyd canopy-agent canopy; do
  [ "$sanitized" = 1 ] && break
  if grep -a -q -e "$src" -e "$build" "$p/bin/$b"; then
    fail "$b names a path of the source or build tree: $(grep -a -o -e "$src[^[:cntrl:]]*" -e "$build[^[:cntrl:]]*" "$p/bin/$b" | head -1)"
  fi
done
# The config files: every flag, the daemon's paths set.
grep -q '^data_dir=/var/lib/canopy$' "$p/etc/canopy/canopyd.conf" || fail "canopyd.conf: data_dir"
grep -q '^#http=127.0.0.1:7575$' "$p/etc/canopy/canopyd.conf" || fail "canopyd.conf: http"
grep -q '^spool_dir=/var/lib/canopy/agent/spool$' "$p/etc/canopy/canopy-agent.conf" || fail "canopy-agent.conf: spool_dir"
# The units.
for u in canopyd canopy-agent; do
  unit=$p/lib/systemd/system/$u.service
  # Units name absolute paths: the prefix given at install time.
  grep -qx "ExecStart=$tmp/prefix/bin/$u --config=$tmp/prefix/etc/canopy/$u.conf" "$unit" ||
    fail "$u.service: $(grep ExecStart "$unit")"
  for line in StateDirectory=canopy ProtectSystem=strict NoNewPrivileges=true \
              Restart=on-failure KillSignal=SIGTERM User=canopy; do
    grep -qx "$line" "$unit" || fail "$u.service has no $line"
  done
done
if command -v systemd-analyze >/dev/null; then
  # ExecStart names the prefix installed to: verify a copy pointing at the
  # moved tree.
  for u in canopyd canopy-agent; do
    sed "s|$tmp/prefix|$p|g" "$p/lib/systemd/system/$u.service" >"$tmp/$u.service"
  done
  if ! out=$(systemd-analyze verify --man=no "$tmp/canopyd.service" "$tmp/canopy-agent.service" 2>&1); then
    fail "systemd-analyze verify: $out"
  fi
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
else
  echo "skipped: systemd-analyze verify (not installed)"
fi

# Run from elsewhere, with the installed config file (and a data dir of ours).
mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere"
"$p/bin/canopyd" --config="$p/etc/canopy/canopyd.conf" --data_dir="$tmp/data" \
  --http=127.0.0.1:0 --udp=off --tcp=off --ready_file="$tmp/ready" 2>"$tmp/log" &
server=$!
for _ in $(seq 200); do
  [ -s "$tmp/ready" ] && break
  kill -0 "$server" 2>/dev/null || fail "canopyd exited: $(cat "$tmp/log")"
  sleep 0.05
done
[ -s "$tmp/ready" ] || fail "canopyd did not start: $(cat "$tmp/log")"
port=$(sed -n 's/^http=\([0-9]*\).*/\1/p' "$tmp/ready")
url=http://127.0.0.1:$port
for page in /realtime/ /trend/view/ /setting/view /diff/ \
            /assets/uplot/uPlot.esm.js /assets/realtime.js; do
  code=$(curl -s -o "$tmp/page" -w '%{http_code}' "$url$page")
  [ "$code" = 200 ] || fail "GET $page: $code"
done
grep -q 'uPlot.min.css' <<<"$(curl -s "$url/trend/view/")" || fail "/trend/view/ is not the built page"
grep -q '/assets/realtime.js' <<<"$(curl -s "$url/realtime/")" || fail "/realtime/ is the built-in fallback"

# Browsers, named by the installed regexes.yaml.
cat >"$tmp/access.log" <<'LOG'
10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
10.0.0.2 - - [20/Nov/2026:10:00:01 +0000] "GET /a HTTP/1.1" 200 100 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36"
LOG
export CANOPY_SERVER=$url
"$p/bin/canopy" pipe --prefix=web "$tmp/access.log" >/dev/null || fail "canopy pipe"
browsers=$("$p/bin/canopy" get 'web,browser,**' | tr -s ' ')
grep -q '^web,browser,Firefox,120 1$' <<<"$browsers" || fail "no Firefox 120: $browsers"
grep -q '^web,browser,Chrome,119 1$' <<<"$browsers" || fail "no Chrome 119: $browsers"
grep -q '^web,os,Linux 1$' <<<"$("$p/bin/canopy" get 'web,os,**' | tr -s ' ')" || fail "no Linux"

# The CLI through CANOPY_SERVER.
"$p/bin/canopy" push installed,check=42 >/dev/null
[ "$("$p/bin/canopy" get installed | tr -s ' ')" = "installed,check 42" ] || fail "canopy get installed"
grep -q 'Usage: canopy' <<<"$("$p/bin/canopy" help trend)" || fail "canopy help trend"

kill -TERM "$server"
wait "$server" || fail "canopyd did not stop cleanly: $(tail -3 "$tmp/log")"
server=
grep -q ' INFO canopyd stopped' "$tmp/log" || fail "no stop line: $(cat "$tmp/log")"
echo "ok: installed tree at $p works from $tmp/elsewhere"
