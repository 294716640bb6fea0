#!/usr/bin/env bash
# PyOD's VAE (its defaults) on exactly the one-class splits of scripts/results_vae_one_class.sh:
# for each class's run in OUT, bench/reference/pyod_side_by_side.py fits PyOD's VAE on the run's
# training images (784 pixels a row, scaled as the run was) and scores its test images. Prints
# the row of test AUROCs to put beside the oddity VAE's table, and PyOD's fit time.
#
#   DATASET=mnist SEED=0 SCALING=minus-one-to-one scripts/results_vae_pyod_one_class.sh [OUT]
#
# Needs the reference environment (bench/reference/install.sh): PYTHON defaults to its Python.
set -euo pipefail
OUT=${1:-runs/vae-one-class}
DATASET=${DATASET:-mnist}
SHARED=${SHARED:-../shared/data}
SEED=${SEED:-0}
SCALING=${SCALING:-minus-one-to-one}
PYTHON=${PYTHON:-bench/reference/.venv/bin/python}
row="| PyOD VAE"
seconds=0
for class in 0 1 2 3 4 5 6 7 8 9; do
  run="$OUT/$DATASET-$class-$SCALING-seed$SEED"
  [ -f "$run/split.csv" ] || { echo "no run $run: run scripts/results_vae_one_class.sh first" >&2; exit 1; }
  result="$run/pyod-vae.json"
  [ -f "$result" ] || "$PYTHON" bench/reference/pyod_side_by_side.py --model vae \
    --idx "$SHARED/$DATASET" --scaling "$SCALING" --split "$run/split.csv" --seed "$SEED" > "$result"
  row+=" | $(python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['auroc']:.3f}\")" "$result")"
  seconds=$(python3 -c "import json,sys; print($seconds + json.load(open(sys.argv[1]))['fit_s'])" "$result")
done
echo "$row |"
echo "PyOD fit seconds, all classes: $seconds"
