#!/usr/bin/env bash
# The README's second command: installs what canopy needs, builds, and runs
# every test: the format check, the Release suite, the suite again under
# ASan+UBSan, the tests where threads meet under ThreadSanitizer (a clang
# build, which also checks the lock annotations with -Wthread-safety), and
# each fuzz target for a bounded time.
#   FUZZ_SECONDS=N  seconds per fuzz target (default 30)
#   QUICK=1         only the Release suite
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/deps.sh

echo "== clang-format (.clang-format: Google style)"
unformatted=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done < <(git ls-files '*.cc' '*.h' '*.c')
if ((${#unformatted[@]})); then
  echo "not formatted (run clang-format -i): ${unformatted[*]}" >&2
  exit 1
fi
echo "format: $(git ls-files '*.cc' '*.h' '*.c' | wc -l) files formatted"

echo "== Release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCANOPY_BUILD_TESTS=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --no-tests=error --output-on-failure -j "$jobs" --timeout 300)

echo "== The README's first command, in a fresh clone"
scripts/first_command_check.sh

[[ "${QUICK:-0}" == 1 ]] && exit 0

echo "== ASan + UBSan build and tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCANOPY_SANITIZE=ON -DCANOPY_BUILD_TESTS=ON >/dev/null
cmake --build build-asan -j "$jobs"
# The browser tests drive the pages, not the sanitizers, and their timing
# checks assume an optimized server: they run in the Release suite only, as
# does the .deb's (packaging, not memory).
# Third-party caches are suppressed for LSan.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" \
  ctest --no-tests=error --output-on-failure -j "$jobs" --timeout 600 \
    -E 'web_browser_tests|deb_test')

echo "== ThreadSanitizer (clang, -Wthread-safety -Werror): where threads meet"
# The server (its loop, the comet workers and their mailboxes, the trend
# thread, remote_write's intake and sender threads) and the agent (its sender,
# checks, modules and log followers) under TSan, black-box tests included:
# they start the TSan-built canopyd and canopy-agent. Only these targets are
# built; the others' tests show as *_NOT_BUILT and are left out.
tsan_targets=(canopyd canopy-agent canopy-example-module hub_test trend_thread_test
  trend_test trend_server_test server_test ingest_test agent_test agent_checks_test
  agent_modules_test agent_accesslog_test agent_api_test mutex_test
  workers_test cluster_test cluster_reads_test cluster_live_test robustness_test remote_test remote_outbox_test
  agent_bench_test graphite_functions_test)
CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCANOPY_TSAN=ON -DCANOPY_BUILD_TESTS=ON -DCANOPY_BUILD_WEB=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target "${tsan_targets[@]}"
# tests/tsan.supp: reports from inside uninstrumented third-party libraries.
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 \
suppressions=$PWD/../tests/tsan.supp" \
  ctest --no-tests=error --output-on-failure -j "$jobs" --timeout 600 \
    -E '_NOT_BUILT|web_browser_tests|install_test|deb_test')

echo "== Fuzz targets (libFuzzer, ${FUZZ_SECONDS:-30} s each)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCANOPY_FUZZ=ON -DCANOPY_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$jobs"
for target in build-fuzz/bin/*_fuzz; do
  name=$(basename "$target")
  corpus="build-fuzz/corpus/$name"
  mkdir -p "$corpus"
  seeds="tests/fuzz/seeds/${name%_fuzz}"
  [[ -d "$seeds" ]] || seeds=""
  echo "-- $name"
  log="build-fuzz/$name.log"
  if ! (cd build-fuzz && "../$target" -max_total_time="${FUZZ_SECONDS:-30}" \
    -max_len=65536 -print_final_stats=1 "../$corpus" ${seeds:+"../$seeds"}) \
    >"$log" 2>&1; then
    # The crash, its stack and the input libFuzzer saved (crash-*, leak-*,
    # timeout-* in build-fuzz/), which belongs in tests/fuzz/seeds/ once fixed.
    grep -v '^"' "$log" | tail -n 60 >&2
    echo "fuzz: $name failed (log: $log)" >&2
    exit 1
  fi
  tail -n 4 "$log"
done
echo "fuzz: no crash in $(ls build-fuzz/bin/*_fuzz | wc -l) targets"
