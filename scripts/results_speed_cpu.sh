#!/usr/bin/env bash
# GANomaly training throughput and peak memory on the CPU (burn flex backend), MNIST at 32×32,
# batch 64: one run of EPOCHS epochs on MAX_TRAIN images under GNU time. The epochs' samples/s
# come from train-log.json; peak resident memory from `time -v`.
#
#   scripts/results_speed_cpu.sh [MNIST_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data/mnist}
OUT=${2:-runs/speed-cpu}
BIN=${ODDITY:-target/release/oddity}
EPOCHS=${EPOCHS:-2}
MAX_TRAIN=${MAX_TRAIN:-3200}
rm -rf "$OUT"
/usr/bin/time -v "$BIN" train --model ganomaly --dataset mnist --data "$DATA" --protocol leave-one-out \
  --class 1 --epochs "$EPOCHS" --max-train "$MAX_TRAIN" --max-test 2000 --out "$OUT" --quiet 2> "$OUT.time"
/usr/bin/time -v "$BIN" eval "$OUT" --checkpoint last > /dev/null 2> "$OUT.eval.time"
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
log = json.load(open(f"{out}/train-log.json"))
rates = [e["samples_per_second"] for e in log["epochs"]]
def peak(path):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read()).group(1)) / 1024
def wall(path):
    t = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", open(path).read()).group(1)
    parts = [float(p) for p in t.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
m = json.load(open(f"{out}/eval-last/metrics.json"))
print(f"| GANomaly-32, MNIST, batch 64, 2 threads | training {max(rates):.0f} samples/s (epochs: {', '.join(f'{r:.0f}' for r in rates)}) "
      f"| peak RSS training {peak(out + '.time'):.0f} MiB | eval of {m['samples']} images (load + preprocess + score): {wall(out + '.eval.time'):.1f} s, peak RSS {peak(out + '.eval.time'):.0f} MiB |")
PY
