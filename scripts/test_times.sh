#!/usr/bin/env bash
# Where the test suite's time goes, to keep CI (`.ci/run`: a cold build of about 8 minutes, the
# tests, the Python package's tests) under its 20 minutes on 2 cores.
#
#   scripts/test_times.sh                 # seconds of each test binary in `cargo test --release`
#   scripts/test_times.sh detectors       # seconds of each test in tests/detectors.rs, one at a
#                                         # time (the sum is what two test threads share)
#   scripts/test_times.sh lib             # the same for the library's unit tests
#
# Each line is stamped with the seconds since the start; a test's time is the gap to the line
# before it. Builds first, so that compiling is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp() {
  local start
  start=$(date +%s.%N)
  while IFS= read -r line; do
    printf '%8.1f %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$line"
  done
}
if [ $# -eq 0 ]; then
  cargo test --release --no-run --quiet
  cargo test --release --no-fail-fast 2>&1 | stamp |
    awk '/Running|Doc-tests/ { if (name) printf "%7.1f s  %s\n", $1 - from, name
                               name = ($3 == "unittests") ? $4 : $3; from = $1 }
         END { if (name) printf "%7.1f s  %s\n", $1 - from, name }' | sort -rn
else
  target=(--test "$1")
  [ "$1" = lib ] && target=(--lib)
  cargo test --release "${target[@]}" --no-run --quiet
  cargo test --release "${target[@]}" -- --test-threads=1 2>&1 | stamp |
    awk '/^ *[0-9.]+ test .* \.\.\. / { printf "%7.1f s  %s\n", $1 - previous, $3 } { previous = $1 }' | sort -rn
fi
