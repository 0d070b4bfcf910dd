#!/usr/bin/env bash
# `cpack -G DEB`: the four packages, their contents, control fields,
# conffiles and maintainer scripts (dpkg-deb), lintian without errors, and
# canopyd run from the unpacked /usr tree (dpkg -x) serving its pages.
# Installing for real needs a Debian 12 machine or chroot (docs/QUICKSTART.md
# says how); the maintainer scripts are checked here as text and with sh -n.
#
#   tests/packaging/deb_test.sh BUILD_DIR
# Exit 77 (skipped) when dpkg-deb or cpack is missing.
set -euo pipefail
build=$(cd "$1" && pwd)
command -v dpkg-deb >/dev/null || { echo "skipped: no dpkg-deb"; exit 77; }
command -v cpack >/dev/null || { echo "skipped: no cpack"; exit 77; }
tmp=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/debs" >"$tmp/cpack.log" 2>&1) ||
  fail "cpack: $(tail -5 "$tmp/cpack.log")"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
deb() { ls "$tmp"/debs/"$1"_"$version"_*.deb 2>/dev/null | head -1; }
for pkg in canopy-common canopyd canopy-agent canopy-cli; do
  [ -n "$(deb $pkg)" ] || fail "no $pkg package: $(ls "$tmp/debs")"
done
[ "$(dpkg-deb -f "$(deb canopy-common)" Architecture)" = all ] || fail "canopy-common is not arch all"

contents() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}' | sed 's|^\./|/|'; }
expect_files() {
  local pkg=$1; shift
  local list; list=$(contents "$pkg")
  for f in "$@"; do
    grep -qx "$f" <<<"$list" || fail "$pkg has no $f"
  done
}
expect_files canopy-common /usr/share/canopy/regexes.yaml /usr/share/doc/canopy-common/copyright
expect_files canopyd /usr/bin/canopyd /etc/canopy/canopyd.conf /lib/systemd/system/canopyd.service \
  /usr/share/canopy/web/realtime.html /usr/share/canopy/web/trend.html \
  /usr/share/canopy/web/settings.html /usr/share/canopy/web/diff.html \
  /usr/share/canopy/web/assets/uplot/uPlot.esm.js /usr/share/doc/canopyd/copyright \
  /usr/share/doc/canopyd/changelog.gz
expect_files canopy-agent /usr/bin/canopy-agent /etc/canopy/canopy-agent.conf \
  /lib/systemd/system/canopy-agent.service
expect_files canopy-cli /usr/bin/canopy
if command -v help2man >/dev/null; then
  expect_files canopyd /usr/share/man/man1/canopyd.1.gz
  expect_files canopy-agent /usr/share/man/man1/canopy-agent.1.gz
  expect_files canopy-cli /usr/share/man/man1/canopy.1.gz
fi
# Nothing outside the Debian tree (no staging or build path).
for pkg in canopy-common canopyd canopy-agent canopy-cli; do
  bad=$(contents "$pkg" | grep -v -e '^/usr/' -e '^/etc/canopy/' -e '^/lib/systemd/system/' \
        -e '^/$' -e '^/etc/$' -e '^/lib/$' -e '^/lib/systemd/$' || true)
  [ -z "$bad" ] || fail "$pkg installs outside /usr, /etc/canopy, /lib/systemd: $bad"
done

# Control: dependencies and the daemons' scripts.
for pkg in canopyd canopy-agent; do
  d=$(deb $pkg)
  depends=$(dpkg-deb -f "$d" Depends)
  for dep in "canopy-common (= $version)" adduser libc6; do
    [[ "$depends" == *"$dep"* ]] || fail "$pkg does not depend on $dep: $depends"
  done
  mkdir -p "$tmp/control/$pkg"
  dpkg-deb -e "$d" "$tmp/control/$pkg"
  c=$tmp/control/$pkg
  [ "$(cat "$c/conffiles")" = "/etc/canopy/$pkg.conf" ] || fail "$pkg conffiles: $(cat "$c/conffiles")"
  for s in postinst prerm postrm; do
    [ -x "$c/$s" ] || fail "$pkg has no executable $s"
    sh -n "$c/$s" || fail "$pkg $s does not parse"
    grep -q "^unit=$pkg.service\$" "$c/$s" || fail "$pkg $s is not about $pkg.service"
  done
  grep -q 'adduser --system --group --home /var/lib/canopy' "$c/postinst" || fail "$pkg postinst makes no canopy user"
  grep -q 'chown canopy:canopy /var/lib/canopy' "$c/postinst" || fail "$pkg postinst makes no /var/lib/canopy"
  grep -q 'deb-systemd-helper enable' "$c/postinst" || fail "$pkg postinst does not enable the unit"
  grep -q 'deb-systemd-invoke stop' "$c/prerm" || fail "$pkg prerm does not stop the unit"
done

if command -v lintian >/dev/null; then
  # Errors fail; warnings are printed.
  lintian --fail-on error --tag-display-limit 0 "$tmp"/debs/*.deb >"$tmp/lintian" 2>&1 ||
    fail "lintian: $(grep -v 'root privileges' "$tmp/lintian")"
  grep -v 'root privileges' "$tmp/lintian" || true
else
  echo "skipped: lintian (not installed; scripts/deps.sh installs it)"
fi

# The unpacked /usr tree: canopyd finds its pages under /usr/share/canopy.
root=$tmp/root
for pkg in canopy-common canopyd canopy-cli; do dpkg -x "$(deb $pkg)" "$root"; done
grep -q "^canopyd $version (commit " <<<"$("$root/usr/bin/canopyd" --version)" || fail "canopyd --version"
mkdir "$tmp/elsewhere" && cd "$tmp/elsewhere"
"$root/usr/bin/canopyd" --config="$root/etc/canopy/canopyd.conf" --data_dir="$tmp/data" \
  --http=127.0.0.1:0 --udp=off --tcp=off --history=false --ready_file="$tmp/ready" 2>"$tmp/log" &
server=$!
for _ in $(seq 200); do
  [ -s "$tmp/ready" ] && break
  kill -0 "$server" 2>/dev/null || fail "canopyd exited: $(cat "$tmp/log")"
  sleep 0.05
done
port=$(sed -n 's/^http=\([0-9]*\).*/\1/p' "$tmp/ready")
for page in /realtime/ /trend/view/ /setting/view /diff/; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$page")
  [ "$code" = 200 ] || fail "GET $page from the unpacked package: $code"
done
CANOPY_SERVER=http://127.0.0.1:$port "$root/usr/bin/canopy" push deb,ok=1 >/dev/null ||
  fail "canopy push from the unpacked package"
echo "ok: $(cd "$tmp/debs" && ls *.deb | tr '\n' ' ')"
