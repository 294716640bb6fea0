#!/usr/bin/env bash
# Builds, here (a machine with the Rust toolchain), what scripts/gpu-check.sh needs on a GPU
# machine that has none: oddity and the detector test programs built with burn's Vulkan backend
# (`--features vulkan,bench`), stripped and packed into one archive small enough to travel.
#
#   scripts/gpu-bundle.sh [OUT_DIR]     (default gpu-bundle/)
#
# On 2 cores: about 17 min to build the first time, then 5 min to pack. gpu-bundle/ is ignored
# by git: name it in what travels to the GPU machine (a device call's `carry`). The build uses
# its own target folder (target/gpu), so the CPU build in target/release is left as it is.
# Then, on the GPU machine, from a copy of this repository:
#   scripts/gpu-check.sh gpu-bundle/oddity-gpu.tar.xz [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-bundle}
TARGET=${CARGO_TARGET_DIR:-target/gpu}
FEATURES=vulkan,bench
TESTS=(detectors localisation hyperspectral)

CARGO_TARGET_DIR=$TARGET cargo build --release --features "$FEATURES" --bin oddity
test_args=()
for t in "${TESTS[@]}"; do test_args+=(--test "$t"); done
# The test programs' paths, from cargo's JSON messages (their names carry a hash); cargo's
# own messages go to a log, shown if the build fails.
log=$(mktemp)
mapfile -t programs < <(CARGO_TARGET_DIR=$TARGET cargo test --release --features "$FEATURES" \
  "${test_args[@]}" --no-run --message-format json 2> "$log" |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"] + "\t" + m["executable"])
')
[ "${#programs[@]}" -eq "${#TESTS[@]}" ] || {
  tail -30 "$log" >&2
  echo "gpu-bundle: expected ${#TESTS[@]} test programs, cargo built ${#programs[@]}" >&2
  exit 1
}
rm -f "$log"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$TARGET/release/oddity" "$stage/oddity"
for p in "${programs[@]}"; do cp "${p#*$'\t'}" "$stage/${p%%$'\t'*}"; done
strip "$stage"/*
# What was built: the commit, marked -dirty when the working tree had changes.
git describe --always --dirty > "$stage/commit"
mkdir -p "$OUT"
# The four programs share most of their code (burn, cubecl, oddity): a dictionary larger than
# one program lets xz find it again in the next, 60.6 → 32.5 MB (so the bundle and the
# repository travel together under a 64 MiB limit). About 5 min; `tar -xJf` unpacks it. Written
# aside and moved into place, so a failed run leaves no truncated archive under the real name.
tar -C "$stage" -cf - . | xz --lzma2=preset=9e,dict=256MiB > "$OUT/oddity-gpu.tar.xz.tmp"
mv "$OUT/oddity-gpu.tar.xz.tmp" "$OUT/oddity-gpu.tar.xz"
ls -la "$OUT/oddity-gpu.tar.xz"
echo "built at $(cat "$stage/commit"): oddity ${TESTS[*]} ($FEATURES)"
