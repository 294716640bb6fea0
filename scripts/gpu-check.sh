#!/usr/bin/env bash
# oddity on an NVIDIA GPU (H200 class) with no Rust toolchain and no network: `oddity bench
# speed --device gpu` against PyTorch on CUDA (the same networks, float32), then the detector
# tests on `--device gpu`, within one time budget (BUDGET, 570 s). Run from the root of a copy
# of this repository (the tests read fixtures/, the benchmark bench/reference/reference.py):
#
#   scripts/gpu-check.sh BUNDLE [RESULTS_DIR]
#
# BUNDLE: the archive scripts/gpu-bundle.sh made (oddity and the test programs built with
# `--features vulkan,bench`), or the folder it unpacks to. RESULTS_DIR (default gpu-results/)
# receives summary.txt, speed-gpu-CASE.json / .md / .log for each case with a PyTorch twin, one
# log per test program, and speed-gpu-models.json / .md (every other model, ours alone, if time
# is left). Logs carry the seconds since the start on each line.
# Environment: PYTHON (with PyTorch that sees CUDA, numpy and safetensors; default python3),
# THREADS (16), BUDGET (570 s in all), PARTS ("bench tests models": the twins, the tests,
# every other model; what runs, in that order), BENCH_BUDGET (300 s for the twins), TWINS (the
# cases, comma-separated, smallest first), TESTS ("hyperspectral detectors localisation", in
# that order, each given what is left), TEST_THREADS (4), TEST_AUTOTUNE (minimal).
#
# The first run (docs/perf-log.md entry 9; an H200 through Vulkan, the tests first, as the script
# was then): hyperspectral 107 s, localisation cut after 143 s, the bench's first case cut after
# about 290 s without a figure: one call does not hold everything, so choose PARTS, TESTS and
# TWINS for the time at hand.
#
# The Vulkan loader (libvulkan.so.1) must be installed; where it is not, put Debian's libvulkan1
# .deb files in .gl/ and run as root: they are unpacked first. The adapter must be a discrete
# GPU (CUBECL_WGPU_DEFAULT_DEVICE=DiscreteGpu(0) unless set), so a CPU Vulkan driver is never
# measured by mistake. Where no GPU can be used, or the bundle or the repository is not where it
# should be, the script stops at once, saying why, with status 2; where oddity's first GPU
# measurement fails it stops with status 1; a failed bench case or test program gives status 1
# after the other steps have run.
#
# The tests' AUROC floors and exact-equality checks (same seed, same scores; a checkpoint's
# scores after loading) were set on the CPU: on a GPU a different summation order, or autotune
# picking another kernel between two runs, can fail them without a bug. Read the logs.
set -uo pipefail
BUNDLE=${1:?usage: scripts/gpu-check.sh BUNDLE [RESULTS_DIR]}
RESULTS=${2:-gpu-results}
THREADS=${THREADS:-16}
BUDGET=${BUDGET:-570}
# What to run, in order: the speed twins (bench), the tests (tests), every other model (models).
PARTS=${PARTS:-bench tests models}
BENCH_BUDGET=${BENCH_BUDGET:-300}
TWINS=${TWINS:-autoencoder-kdd,ganomaly-mnist,autoencoder-cifar,ganomaly-cifar}
TESTS=${TESTS:-hyperspectral detectors localisation}
TEST_THREADS=${TEST_THREADS:-4}
TEST_AUTOTUNE=${TEST_AUTOTUNE:-minimal}
# The settings checked before any work, each error naming its variable.
bad() { echo "gpu-check: $*" >&2; exit 2; }
for var in BUDGET BENCH_BUDGET THREADS TEST_THREADS; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || bad "$var must be a positive whole number, not '${!var}'"
done
for part in $PARTS; do
  case $part in
    bench | tests | models) ;;
    *) bad "PARTS: unknown part '$part' (bench, tests, models)" ;;
  esac
done
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
programs=oddity
[[ " $PARTS " == *" tests "* ]] && programs="oddity $TESTS"
for p in $programs; do
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
# Progress lines with the seconds since the script began, so a run cut by the budget still
# says where its time went (the first GPU run spent minutes before any figure); a last line
# without its newline (a killed program's) is kept too.
stamp() {
  while IFS= read -r line || [ -n "$line" ]; do printf '%4d s  %s\n' "$SECONDS" "$line"; done
}

# 2. Speed against PyTorch on CUDA (its same-function check traced on our GPU run): one process
# a case, smallest first, each case's figures kept as soon as it finishes.
bench_twins() {
  local python reference case budget
  python=$(command -v "${PYTHON:-python3}") || python=
  if [ -n "$python" ] && timeout 60 "$python" -c "
import sys, numpy, safetensors.numpy, torch
sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
    reference=(--python "$python")
  else
    say "bench: no Python here with PyTorch that sees CUDA, numpy and safetensors: ours alone"
    reference=(--no-reference)
    status=1
  fi
  local bench_end=$((SECONDS + BENCH_BUDGET))
  for case in ${TWINS//,/ }; do
    budget=$((bench_end - SECONDS))
    [ "$budget" -gt "$(left)" ] && budget=$(left)
    if [ "$budget" -le 10 ]; then
      say "bench: $case not run (no time left in the bench's budget)"
      status=1
      continue
    fi
    if bench "speed-gpu-$case" "$budget" --cases "$case" "${reference[@]}" \
        --repeats 3 --min-repeat-seconds 0.5; then
      say "bench: $case measured"
      tee -a "$summary" < "$RESULTS/speed-gpu-$case.md"
    else
      say "bench: $case FAILED or stopped ($?): $(tail -3 "$RESULTS/speed-gpu-$case.log")"
      status=1
    fi
  done
}
bench() { # OUT_NAME SECONDS ARGS...; stdout to OUT_NAME.md, stamped stderr to OUT_NAME.log
  local name=$1 seconds=$2
  shift 2
  # A pipeline, so the log is complete when this returns (the pipe's end waits for stamp).
  timeout -k 10 "$seconds" "$BIN/oddity" bench speed --device gpu --threads "$THREADS" \
    --out "$RESULTS/$name.json" --work-dir "$RESULTS/traces" "$@" \
    2>&1 > "$RESULTS/$name.md" | stamp > "$RESULTS/$name.log"
  return "${PIPESTATUS[0]}"
}

# 3. The detector tests, every model's training floor and round trip, on the GPU. Kernel
# autotuning is cubecl's minimal level here (TEST_AUTOTUNE): the tests check what is computed,
# which every candidate kernel computes alike, and each new shape's tuning costs time.
run_tests() {
  local t log budget start rc line
  for t in $TESTS; do
    log="$RESULTS/tests-$t.log"
    budget=$(($(left) - 15))
    if [ "$budget" -le 0 ]; then
      say "tests: $t not run (no time left in the budget)"
      status=1
      continue
    fi
    start=$SECONDS
    ODDITY_TEST_DEVICE=gpu ODDITY_REPO=$PWD ODDITY_TEST_BIN="$BIN/oddity" \
      CUBECL_AUTOTUNE_LEVEL=$TEST_AUTOTUNE timeout -k 10 "$budget" "$BIN/$t" \
      --test-threads "$TEST_THREADS" 2>&1 | stamp > "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep "test result:" "$log" | tail -1)
    line=${line#* s  }
    line=${line:-no result line}
    case $rc in
      0) say "tests: $t passed in $((SECONDS - start)) s: $line" ;;
      124 | 137) say "tests: $t stopped after $((SECONDS - start)) s (out of time)"; status=1 ;;
      *) say "tests: $t FAILED ($rc) in $((SECONDS - start)) s: $line"
        status=1 ;;
    esac
    grep -E " FAILED$|panicked" "$log" | head -10 | tee -a "$summary"
  done
}

# 4. Every other model, ours alone, with what is left.
bench_models() {
  local rest rc
  rest=$("$BIN/oddity" bench cases | awk -F'\t' '$3 == "no" { print $1 }' | paste -sd, -)
  if [ "$(left)" -le 60 ] || [ -z "$rest" ]; then
    say "bench: no time left for the other models"
    return
  fi
  bench speed-gpu-models $(($(left) - 15)) --cases "$rest" --no-reference --repeats 1 \
    --warmup-steps 1 --min-repeat-seconds 0.3
  rc=$?
  case $rc in
    0) say "bench: every other model in speed-gpu-models.json" ;;
    124 | 137)
      say "bench: the other models stopped at the budget; those finished are in speed-gpu-models.json" ;;
    *)
      say "bench: the other models FAILED ($rc): $(tail -3 "$RESULTS/speed-gpu-models.log")"
      status=1 ;;
  esac
}

for part in $PARTS; do
  case $part in
    bench) bench_twins ;;
    tests) run_tests ;;
    models) bench_models ;;
  esac
done

say "done in ${SECONDS} s, status $status"
exit $status
