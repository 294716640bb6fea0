#!/usr/bin/env bash
# The 18 hyperspectral scenes of ../shared/data/hyperspectral under the scene protocol (every
# pixel trains, unlabelled, and is scored): global and local RX (no preprocessing; local RX with
# its default windows 25 and 9), the MLP autoencoder on
# spectra and HADGAN (both min-max scaled from the scene itself, their default budgets, seeds
# SEEDS, last epoch), HADGAN's three scores from each trained run. Prints per scene the AUROC
# of each (mean ± std over seeds) and the seconds a run takes (train + eval), then the means
# over scenes; the README's RX AUROCs are reproduced by scripts/results_hyperspectral_rx.sh.
#
#   SEEDS="0 1 2" scripts/results_hyperspectral.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}/hyperspectral
OUT=${2:-runs/hyperspectral}
BIN=${ODDITY:-target/release/oddity}
SEEDS=${SEEDS:-0 1 2}
mkdir -p "$OUT"
for score in combined residual rx-residual; do
  echo "{\"score\": \"$score\"}" > "$OUT/$score.json"
done
timed() { # timed FILE COMMAND…: run, append the seconds it took to FILE
  local start end
  start=$(date +%s.%N)
  "${@:2}" > /dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "print($end - $start)" >> "$1"
}
for file in $(cd "$DATA" && ls */*.mat); do
  scene=$(basename "$file" .mat)
  for model in rx lrx; do
    run="$OUT/$scene/$model"
    if [ ! -f "$run/eval-last/metrics.json" ]; then
      rm -rf "$run" "$run.seconds" "$(dirname "$run")/.$(basename "$run").partial"
      timed "$run.seconds" "$BIN" train --model $model --dataset hyperspectral --data "$DATA/$file" \
        --protocol scene --scaling none --out "$run" --quiet
      timed "$run.seconds" "$BIN" eval "$run" --checkpoint last
    fi
  done
  for model in autoencoder hadgan; do
    for seed in $SEEDS; do
      run="$OUT/$scene/$model-seed$seed"
      if [ ! -f "$run/eval-last/metrics.json" ]; then
        rm -rf "$run" "$run.seconds" "$(dirname "$run")/.$(basename "$run").partial"
        timed "$run.seconds" "$BIN" train --model $model --dataset hyperspectral \
          --data "$DATA/$file" --protocol scene --scaling min-max --seed "$seed" --out "$run" --quiet
        timed "$run.seconds" "$BIN" eval "$run" --checkpoint last
        if [ $model = hadgan ]; then
          for score in residual rx-residual; do
            "$BIN" eval "$run" --checkpoint last --model-config "$OUT/$score.json" > /dev/null 2>&1
          done
        fi
      fi
    done
  done
done
python3 - "$OUT" $SEEDS <<'PY'
import json, os, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
def auroc(run, sub="eval-last"):
    return json.load(open(os.path.join(out, run, sub, "metrics.json")))["auroc"]
def seconds(run):
    return sum(float(l) for l in open(os.path.join(out, run + ".seconds")))
def ms(values):
    m = statistics.mean(values)
    return (m, statistics.stdev(values) if len(values) > 1 else 0.0)
cols = ["RX", "LRX", "AE", "HADGAN", "HADGAN residual", "HADGAN RX(r)"]
print("| scene | " + " | ".join(cols) + " | seconds RX / LRX / AE / HADGAN |")
print("|---" * (len(cols) + 2) + "|")
means = {c: [] for c in cols}
for scene in sorted(os.listdir(out)):
    if not os.path.isdir(os.path.join(out, scene)):
        continue
    rows = {"RX": [auroc(f"{scene}/rx")], "LRX": [auroc(f"{scene}/lrx")]}
    rows["AE"] = [auroc(f"{scene}/autoencoder-seed{s}") for s in seeds]
    rows["HADGAN"] = [auroc(f"{scene}/hadgan-seed{s}") for s in seeds]
    rows["HADGAN residual"] = [auroc(f"{scene}/hadgan-seed{s}", "eval-last-residual") for s in seeds]
    rows["HADGAN RX(r)"] = [auroc(f"{scene}/hadgan-seed{s}", "eval-last-rx-residual") for s in seeds]
    cells = []
    for c in cols:
        m, sd = ms(rows[c])
        means[c].append(m)
        cells.append(f"{m:.4f}" if c in ("RX", "LRX") else f"{m:.4f} ± {sd:.4f}")
    t = [seconds(f"{scene}/rx"), seconds(f"{scene}/lrx")] + [statistics.mean(seconds(f"{scene}/{m}-seed{s}") for s in seeds) for m in ("autoencoder", "hadgan")]
    print(f"| {scene} | " + " | ".join(cells) + " | " + " / ".join(f"{v:.1f}" for v in t) + " |")
print("| **mean** | " + " | ".join(f"**{statistics.mean(means[c]):.4f}**" for c in cols) + " | |")
# The other per-scene metrics of metrics.json, as means over the scenes (each scene's value the
# mean over seeds).
def metric(run, key, sub="eval-last"):
    return json.load(open(os.path.join(out, run, sub, "metrics.json")))[key]
runs = {
    "RX": lambda sc: [f"{sc}/rx"], "LRX": lambda sc: [f"{sc}/lrx"],
    "AE": lambda sc: [f"{sc}/autoencoder-seed{s}" for s in seeds],
    "HADGAN": lambda sc: [f"{sc}/hadgan-seed{s}" for s in seeds],
}
scenes = sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)))
print()
print("| mean over the scenes | " + " | ".join(runs) + " |")
print("|---" * (len(runs) + 1) + "|")
for key, label in [("auroc", "AUROC"), ("auprc", "AUPRC"), ("fpr_at_95_tpr", "FPR at 95 % TPR")]:
    cells = [statistics.mean(statistics.mean(metric(r, key) for r in runs[m](sc)) for sc in scenes) for m in runs]
    print(f"| {label} | " + " | ".join(f"{v:.4f}" for v in cells) + " |")
PY
