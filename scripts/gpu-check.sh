#!/usr/bin/env bash
# oddity on an NVIDIA GPU (H200 class) with no Rust toolchain and no network: the detector tests
# on `--device gpu`, then `oddity bench speed --device gpu` against PyTorch on CUDA (the same
# networks, float32), within one time budget (BUDGET, 570 s). Run from the root of a copy of
# this repository (the tests read fixtures/, the benchmark bench/reference/reference.py):
#
#   scripts/gpu-check.sh BUNDLE [RESULTS_DIR]
#
# BUNDLE: the archive scripts/gpu-bundle.sh made (oddity and the test programs built with
# `--features vulkan,bench`), or the folder it unpacks to. RESULTS_DIR (default gpu-results/)
# receives summary.txt, one log per test program, speed-gpu.json / .md (the four cases with a
# PyTorch twin) and speed-gpu-models.json / .md (every other model, ours alone, if time is left).
# Environment: PYTHON (with PyTorch that sees CUDA, numpy and safetensors; default python3),
# THREADS (16), BUDGET (570 s in all), TEST_TIMEOUT (300 s for the tests).
#
# The Vulkan loader (libvulkan.so.1) must be installed; where it is not, put Debian's libvulkan1
# .deb files in .gl/ and run as root: they are unpacked first. The adapter must be a discrete
# GPU (CUBECL_WGPU_DEFAULT_DEVICE=DiscreteGpu(0) unless set), so a CPU Vulkan driver is never
# measured by mistake. Where no GPU can be used the script stops at its first step, saying why,
# with status 2; anything else that fails gives status 1 after the other steps have run.
#
# The tests' AUROC floors and exact-equality checks (same seed, same scores; a checkpoint's
# scores after loading) were set on the CPU: on a GPU a different summation order, or autotune
# picking another kernel between two runs, can fail them without a bug. Read the logs.
set -uo pipefail
BUNDLE=${1:?usage: scripts/gpu-check.sh BUNDLE [RESULTS_DIR]}
RESULTS=${2:-gpu-results}
THREADS=${THREADS:-16}
BUDGET=${BUDGET:-570}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
# Smallest suites first: if the budget runs out, only the largest is cut.
TESTS=(hyperspectral localisation detectors)
TWINS=ganomaly-mnist,ganomaly-cifar,autoencoder-cifar,autoencoder-kdd
END=$((SECONDS + BUDGET))
left() { echo $((END - SECONDS)); }
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
[ -f "$BIN/commit" ] && say "bundle built at $(cat "$BIN/commit")"

# 1. A GPU, a driver, a Vulkan loader, and oddity able to use them.
command -v nvidia-smi > /dev/null || stop "no NVIDIA driver here (nvidia-smi not found): no GPU to check"
gpu=$(timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1) ||
  stop "nvidia-smi finds no GPU: $gpu"
say "GPU: $gpu"
# grep reads the whole list (a pipe would let ldconfig die of SIGPIPE under pipefail).
has_vulkan() { grep -q libvulkan.so.1 < <(ldconfig -p); }
if ! has_vulkan; then
  if compgen -G ".gl/*.deb" > /dev/null && [ "$(id -u)" = 0 ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  has_vulkan || stop "no Vulkan loader (libvulkan.so.1): install libvulkan1, or put its .deb in .gl/ and run as root"
fi
# The NVIDIA driver's Vulkan manifest, where the loader does not find it by itself.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
export CUBECL_WGPU_DEFAULT_DEVICE=${CUBECL_WGPU_DEFAULT_DEVICE:-DiscreteGpu(0)}
if ! probe=$(timeout -k 10 120 "$BIN/oddity" bench measure autoencoder-kdd --device gpu --repeats 1 \
    --warmup-steps 1 --min-repeat-seconds 0.1 2>&1); then
  case $probe in
    *"no usable GPU"* | *"without a GPU backend"* | *adapter* | *Adapter*)
      stop "oddity cannot use the GPU: $(echo "$probe" | tail -3)" ;;
    *) say "oddity's first GPU measurement failed: $(echo "$probe" | tail -5)"; exit 1 ;;
  esac
fi
say "oddity reaches the GPU (CUBECL_WGPU_DEFAULT_DEVICE=$CUBECL_WGPU_DEFAULT_DEVICE)"

status=0
# 2. The detector tests, every model's training floor and round trip, on the GPU. The bench
# needs about 200 s: the tests get what is left before that, TEST_TIMEOUT at most.
export ODDITY_TEST_DEVICE=gpu ODDITY_REPO=$PWD
test_end=$((SECONDS + TEST_TIMEOUT))
[ $((END - 220)) -lt "$test_end" ] && test_end=$((END - 220))
for t in "${TESTS[@]}"; do
  log="$RESULTS/tests-$t.log"
  budget=$((test_end - SECONDS))
  if [ "$budget" -le 0 ]; then
    say "tests: $t not run (no time left in the budget)"
    status=1
    continue
  fi
  start=$SECONDS
  timeout -k 10 "$budget" "$BIN/$t" --test-threads 4 > "$log" 2>&1
  rc=$?
  line=$(grep "^test result:" "$log" | tail -1)
  case $rc in
    0) say "tests: $t passed in $((SECONDS - start)) s: $line" ;;
    124 | 137) say "tests: $t stopped after $((SECONDS - start)) s (out of time)"; status=1 ;;
    *) say "tests: $t FAILED ($rc) in $((SECONDS - start)) s: ${line:-no result line}"; status=1 ;;
  esac
  grep -E "^test .* FAILED|panicked" "$log" | head -10 | tee -a "$summary"
done

# 3. Speed against PyTorch on CUDA (its same-function check traced on our GPU run), then every
# other model, ours alone, if time is left.
PYTHON=$(command -v "${PYTHON:-python3}") || PYTHON=
if [ -n "$PYTHON" ] && timeout 60 "$PYTHON" -c "
import sys, numpy, safetensors.numpy, torch
sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
  reference=(--python "$PYTHON")
else
  say "bench: no Python here with PyTorch that sees CUDA, numpy and safetensors: ours alone"
  reference=(--no-reference)
  status=1
fi
bench() { # OUT_NAME SECONDS ARGS...
  local name=$1 seconds=$2
  shift 2
  timeout -k 10 "$seconds" "$BIN/oddity" bench speed --device gpu --threads "$THREADS" \
    --out "$RESULTS/$name.json" --work-dir "$RESULTS/traces" "$@" \
    > "$RESULTS/$name.md" 2> "$RESULTS/$name.log"
}
if bench speed-gpu $(($(left) > 30 ? $(left) : 30)) --cases "$TWINS" "${reference[@]}" \
    --repeats 3 --min-repeat-seconds 0.5; then
  say "bench: speed-gpu.json written"
  tee -a "$summary" < "$RESULTS/speed-gpu.md"
else
  say "bench FAILED ($?): $(tail -5 "$RESULTS/speed-gpu.log")"
  status=1
fi
rest=$("$BIN/oddity" bench cases | awk -F'\t' '$3 == "no" { print $1 }' | paste -sd, -)
if [ "$(left)" -gt 60 ] && [ -n "$rest" ]; then
  if bench speed-gpu-models $(($(left) - 5)) --cases "$rest" --no-reference --repeats 1 \
      --warmup-steps 1 --min-repeat-seconds 0.3; then
    say "bench: every other model in speed-gpu-models.json"
  else
    say "bench: every other model stopped or failed ($?); the cases finished are in speed-gpu-models.json"
  fi
else
  say "bench: no time left for the other models"
fi
say "done in ${SECONDS} s, status $status"
exit $status
