#!/usr/bin/env bash
# Ours against PyOD's AnoGAN and ALAD on ADBench tables, same split and seed: oddity trains under
# the tabular protocol and writes its split (split.csv); PyOD (bench/reference/.venv, `pip
# install pyod`) fits on exactly those training rows, standardised the same way, and scores the
# same test rows. Each at its own defaults. Prints one markdown row per table, model and seed:
# AUROC (ours last epoch, ours best-by-validation epoch, PyOD) and wall seconds (train + score).
#
#   scripts/results_pyod_side_by_side.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/pyod-side-by-side}
BIN=${ODDITY:-target/release/oddity}
PY=${PY:-bench/reference/.venv/bin/python}
SEEDS=${SEEDS:-0 1 2}
MODELS=${MODELS:-anogan alad}
TABLES=${TABLES:-4_breastw 6_cardio 18_Ionosphere 29_Pima 38_thyroid}

now() { date +%s.%N; }
echo "| table | model | seed | ours AUROC (last) | ours AUROC (best by val.) | PyOD AUROC | ours s | PyOD s |"
echo "|---|---|---|---|---|---|---|---|"
for t in $TABLES; do
  npz="$DATA/adbench-classical/$t.npz"
  for m in $MODELS; do
    for s in $SEEDS; do
      run="$OUT/$t/$m-seed$s"
      if [ ! -f "$run/eval-best/metrics.json" ]; then
        t0=$(now)
        "$BIN" train --model "$m" --dataset adbench --data "$npz" --protocol tabular \
          --seed "$s" --out "$run" --quiet
        "$BIN" eval "$run" --checkpoint last > /dev/null
        t1=$(now)
        "$BIN" eval "$run" --checkpoint best > /dev/null
        python3 -c "print(f'{$t1 - $t0:.1f}')" > "$run/ours-seconds.txt"
      fi
      # The split depends on the table, protocol and seed only, so PyOD's figure stays valid
      # when ours is rerun; it is kept in a file of its own.
      if [ ! -f "$run/../pyod-$m-seed$s.json" ]; then
        "$PY" bench/reference/pyod_side_by_side.py --model "$m" --npz "$npz" \
          --split "$run/split.csv" --seed "$s" > "$run/../pyod.json.tmp"
        mv "$run/../pyod.json.tmp" "$run/../pyod-$m-seed$s.json"
      fi
      python3 - "$run" "$t" "$m" "$s" <<'PY'
import json, sys
run, t, m, s = sys.argv[1:]
last = json.load(open(f"{run}/eval-last/metrics.json"))["auroc"]
best = json.load(open(f"{run}/eval-best/metrics.json"))["auroc"]
p = json.load(open(f"{run}/../pyod-{m}-seed{s}.json"))
ours_s = open(f"{run}/ours-seconds.txt").read().strip()
print(f"| {t} | {m} | {s} | {last:.4f} | {best:.4f} | {p['auroc']:.4f} | {ours_s} | {p['fit_s'] + p['score_s']:.1f} |")
PY
    done
  done
done
