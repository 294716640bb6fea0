#!/usr/bin/env bash
# oddity on an NVIDIA GPU (H200 class) with no Rust toolchain and no network: the detector tests
# on `--device gpu`, then `oddity bench speed --device gpu` against PyTorch on CUDA (the same
# networks, float32), in under 10 minutes. Run from the root of a copy of this repository
# (the tests read fixtures/, the benchmark bench/reference/reference.py):
#
#   scripts/gpu-check.sh BUNDLE [RESULTS_DIR]
#
# BUNDLE: the archive scripts/gpu-bundle.sh made (oddity and the test programs built with
# `--features vulkan,bench`), or the folder it unpacks to. RESULTS_DIR (default gpu-results/)
# receives tests.log, speed-gpu.json, speed-gpu.md and summary.txt.
# Environment: PYTHON (with PyTorch and CUDA; default python3), THREADS (default 16),
# TEST_TIMEOUT and BENCH_TIMEOUT (seconds; 330 and 210).
#
# The Vulkan loader (libvulkan.so.1) must be installed; where it is not, put Debian's libvulkan1
# .deb files in .gl/ and run as root: they are unpacked first. Where no GPU can be used the
# script stops at its first step, saying why, with status 2; a failing test or benchmark gives
# status 1 after the other step has run.
set -uo pipefail
BUNDLE=${1:?usage: scripts/gpu-check.sh BUNDLE [RESULTS_DIR]}
RESULTS=${2:-gpu-results}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-16}
TEST_TIMEOUT=${TEST_TIMEOUT:-330}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-210}
TESTS=(detectors localisation hyperspectral)
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
summary="$RESULTS/summary.txt"
: > "$summary"
say() { echo "gpu-check: $*" | tee -a "$summary"; }
stop() { say "$1"; exit 2; }

[ -f bench/reference/reference.py ] && [ -d fixtures ] ||
  stop "run me from the root of the oddity repository (fixtures/ and bench/reference/ not found)"
if [ -d "$BUNDLE" ]; then
  BIN=$(cd "$BUNDLE" && pwd)
elif [ -f "$BUNDLE" ]; then
  BIN=$(mktemp -d)
  tar -C "$BIN" -xJf "$BUNDLE" || stop "cannot unpack $BUNDLE"
else
  stop "no bundle at $BUNDLE (build one with scripts/gpu-bundle.sh)"
fi
for p in oddity "${TESTS[@]}"; do
  [ -x "$BIN/$p" ] || stop "the bundle has no $p program"
done
[ -f "$BIN/commit" ] && say "bundle built at commit $(cat "$BIN/commit")"

# 1. A GPU, a driver, a Vulkan loader, and oddity able to use them.
command -v nvidia-smi > /dev/null || stop "no NVIDIA driver here (nvidia-smi not found): no GPU to check"
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1) ||
  stop "nvidia-smi finds no GPU: $gpu"
say "GPU: $gpu"
if ! ldconfig -p | grep -q libvulkan.so.1; then
  if compgen -G ".gl/*.deb" > /dev/null && [ "$(id -u)" = 0 ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  ldconfig -p | grep -q libvulkan.so.1 ||
    stop "no Vulkan loader (libvulkan.so.1): install libvulkan1, or put its .deb in .gl/ and run as root"
fi
# The NVIDIA driver's Vulkan manifest, where the loader does not find it by itself.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
probe=$("$BIN/oddity" bench measure autoencoder-kdd --device gpu --repeats 1 --warmup-steps 1 \
  --min-repeat-seconds 0.1 2>&1) || stop "oddity cannot use the GPU: $(echo "$probe" | tail -3)"
say "oddity reaches the GPU"

status=0
# 2. The detector tests, every model's training floor and round trip, on the GPU. The floors
# were measured on the CPU; a GPU's different summation order may move an AUROC a little.
export ODDITY_TEST_DEVICE=gpu ODDITY_REPO=$PWD
: > "$RESULTS/tests.log"
deadline=$((SECONDS + TEST_TIMEOUT))
for t in "${TESTS[@]}"; do
  left=$((deadline - SECONDS))
  if [ "$left" -le 0 ]; then
    say "tests: $t not run (TEST_TIMEOUT of ${TEST_TIMEOUT} s spent)"
    status=1
    continue
  fi
  start=$SECONDS
  timeout "$left" "$BIN/$t" --test-threads 4 >> "$RESULTS/tests.log" 2>&1
  rc=$?
  line=$(grep "^test result:" "$RESULTS/tests.log" | tail -1)
  case $rc in
    0) say "tests: $t passed in $((SECONDS - start)) s: $line" ;;
    124) say "tests: $t stopped after $((SECONDS - start)) s (TEST_TIMEOUT)"; status=1 ;;
    *) say "tests: $t FAILED ($rc) in $((SECONDS - start)) s: $line"; status=1 ;;
  esac
done
grep -E "^test .* FAILED|panicked" "$RESULTS/tests.log" | head -20 | tee -a "$summary"

# 3. Speed against PyTorch on CUDA, in one run (its same-function check included).
if "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
  if timeout "$BENCH_TIMEOUT" "$BIN/oddity" bench speed --device gpu --threads "$THREADS" \
      --python "$PYTHON" --repeats 3 --out "$RESULTS/speed-gpu.json" \
      --work-dir "$RESULTS/traces" > "$RESULTS/speed-gpu.md" 2> "$RESULTS/bench.log"; then
    say "bench: written to speed-gpu.json"
    cat "$RESULTS/speed-gpu.md" | tee -a "$summary"
  else
    say "bench FAILED ($?): $(tail -5 "$RESULTS/bench.log")"
    status=1
  fi
else
  say "bench: not run ($PYTHON has no PyTorch that sees CUDA); ours alone:"
  timeout "$BENCH_TIMEOUT" "$BIN/oddity" bench speed --device gpu --threads "$THREADS" \
    --no-reference --repeats 3 --out "$RESULTS/speed-gpu.json" > "$RESULTS/speed-gpu.md" \
    2> "$RESULTS/bench.log" && cat "$RESULTS/speed-gpu.md" | tee -a "$summary" || status=1
fi
say "done, status $status"
exit $status
