#!/usr/bin/env bash
# CAVGA-Du one-class on MNIST and Fashion-MNIST (class k normal; its training images train and
# validate, the whole test split tests, ~90 % anomalies), reduced budget: a seeded subset of
# MAX_TRAIN training normals, EPOCHS epochs of batch 32, MAX_TEST test images. Prints one row
# per data set: the AUROC of each class (last epoch) and their mean, to set against MODELS.md
# §14's approximate anchors (MNIST ≈ 0.98; the paper's full budget and CelebA-initialised
# networks).
#
#   MAX_TRAIN=1000 EPOCHS=5 MAX_TEST=2000 SEED=0 scripts/results_cavga_one_class.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-runs/cavga-one-class}
BIN=${ODDITY:-target/release/oddity}
SEED=${SEED:-0}
MAX_TRAIN=${MAX_TRAIN:-1000}
EPOCHS=${EPOCHS:-5}
MAX_TEST=${MAX_TEST:-2000}
SHARED=${SHARED:-../shared/data}

echo "| data set | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | mean |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for dataset in mnist fashion-mnist; do
  row="| $dataset"
  sum=0
  for class in 0 1 2 3 4 5 6 7 8 9; do
    run="$OUT/$dataset-$class-seed$SEED"
    if [ ! -f "$run/eval-last/metrics.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      "$BIN" train --model cavga --dataset "$dataset" --data "$SHARED/$dataset" \
        --protocol one-class --class "$class" --max-train "$MAX_TRAIN" --max-test "$MAX_TEST" \
        --epochs "$EPOCHS" --batch-size 32 --seed "$SEED" --out "$run" --quiet > /dev/null
      "$BIN" eval "$run" --checkpoint last > /dev/null
    fi
    auroc=$(python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['auroc']:.3f}\")" \
      "$run/eval-last/metrics.json")
    row="$row | $auroc"
    sum=$(python3 -c "print($sum + $auroc)")
  done
  echo "$row | $(python3 -c "print(f'{$sum / 10:.3f}')") |"
done
