#!/usr/bin/env bash
# The baseline autoencoder on tables:
#  - KDDCUP99 under the EGBAD/ALAD protocol: precision / recall / F1 at the paper's threshold
#    (80th percentile of the test scores, transductive) and at ours (95th percentile of the
#    normal-only validation scores), plus AUROC;
#  - five ADBench tables (the ODDS sets of the adVAE paper) under the tabular protocol: AUROC.
#
#   scripts/results_autoencoder_tables.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/autoencoder-tables}
BIN=${ODDITY:-target/release/oddity}
SEED=${SEED:-0}
KDD_EPOCHS=${KDD_EPOCHS:-10}
TABLE_EPOCHS=${TABLE_EPOCHS:-50}

field() { python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))[sys.argv[2]]:.4f}\")" "$1" "$2"; }

run="$OUT/kdd99"
if [ ! -f "$run/eval-last/metrics.json" ]; then
  "$BIN" train --model autoencoder --dataset kdd99 --data "$DATA/kddcup99" --protocol kdd99 \
    --epochs "$KDD_EPOCHS" --seed "$SEED" --out "$run" --quiet
  "$BIN" eval "$run" --checkpoint last > /dev/null
  "$BIN" eval "$run" --checkpoint best > /dev/null
fi
"$BIN" metrics --scores "$run/eval-last/scores.csv" --score-percentile 80 --json "$run/eval-last/paper-threshold.json" > /dev/null
m="$run/eval-last/metrics.json"; p="$run/eval-last/paper-threshold.json"
echo "### Autoencoder, KDDCUP99 (EGBAD/ALAD protocol), seed $SEED, $KDD_EPOCHS epochs, last epoch"
echo
echo "| threshold | precision | recall | F1 | AUROC |"
echo "|---|---|---|---|---|"
echo "| paper: 80th percentile of test scores | $(field "$p" precision) | $(field "$p" recall) | $(field "$p" f1) | $(field "$m" auroc) |"
echo "| ours: 95th percentile of validation scores | $(field "$m" precision) | $(field "$m" recall) | $(field "$m" f1) | $(field "$m" auroc) |"
echo
echo "### Autoencoder, ADBench tables (tabular protocol), seed $SEED, $TABLE_EPOCHS epochs"
echo
echo "| table | AUROC last | AUROC best-by-val | AUPRC last |"
echo "|---|---|---|---|"
for t in 6_cardio 20_letter 30_satellite 26_optdigits 28_pendigits; do
  run="$OUT/$t"
  if [ ! -f "$run/eval-last/metrics.json" ]; then
    "$BIN" train --model autoencoder --dataset adbench --data "$DATA/adbench-classical/$t.npz" \
      --protocol tabular --epochs "$TABLE_EPOCHS" --seed "$SEED" --out "$run" --quiet
    "$BIN" eval "$run" --checkpoint last > /dev/null
    "$BIN" eval "$run" --checkpoint best > /dev/null
  fi
  echo "| $t | $(field "$run/eval-last/metrics.json" auroc) | $(field "$run/eval-best/metrics.json" auroc) | $(field "$run/eval-last/metrics.json" auprc) |"
done
