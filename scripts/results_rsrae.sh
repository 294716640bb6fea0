#!/usr/bin/env bash
# RSRAE's contamination sweep on Fashion-MNIST (its paper's Fig. 2 setting): for each c in CS
# and each inlier class in CLASSES, the contaminated protocol's set (the class's 1 000 test
# images plus ⌊c·1000⌋ drawn from the other classes), trained on and scored as one set by
# RSRAE, RSRAE+ and the plain autoencoder (MODELS listed), inputs x/127.5 − 1 then unit norm;
# with PyOD's IForest and OC-SVM on the same sets (bench/reference/pyod_contaminated.py, run
# with PYTHON, which needs pyod and scikit-learn). Prints AUC and AP per c, averaged over the
# classes. Each finished set's figures are appended to RECORD (a CSV: seed, c, class, column,
# epochs, auc, ap; default docs/results/rsrae-sweep.csv), and a set already recorded for this
# seed and number of epochs is skipped, so a sweep of many hours survives a lost machine: the
# record is committed as it grows, and scripts/results_rsrae_seeds.py aggregates it.
#
#   CLASSES="0 1 2 3 4 5 6 7 8 9" CS="0.1 0.3 0.5 0.7 0.9" EPOCHS=200 \
#     PYTHON=/path/to/venv/bin/python scripts/results_rsrae.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/rsrae-sweep}
BIN=${ODDITY:-target/release/oddity}
CLASSES=${CLASSES:-0 1 2 3 4 5 6 7 8 9}
CS=${CS:-0.1 0.3 0.5 0.7 0.9}
EPOCHS=${EPOCHS:-200}
MODELS=${MODELS:-rsrae rsrae-plus autoencoder}
PYTHON=${PYTHON:-python3}
SEED=${SEED:-0}
RECORD=${RECORD:-docs/results/rsrae-sweep.csv}
mkdir -p "$OUT"
[ -s "$RECORD" ] || echo "seed,c,class,column,epochs,auc,ap" > "$RECORD"
# Whether every column of one set (c, class) is in the record for this seed and epochs.
recorded() {
  local n
  n=$(grep -c "^$SEED,$1,$2,[^,]*,$EPOCHS," "$RECORD" || true)
  [ "$n" -ge $(( $(echo $MODELS | wc -w) + 2 )) ]
}
echo '{"optimisation": "joint"}' > "$OUT/rsrae-plus.json"
for c in $CS; do
  for k in $CLASSES; do
    recorded "$c" "$k" && continue
    for m in $MODELS; do
      run="$OUT/$m-c$c-class$k"
      [ -f "$run/eval-last/metrics.json" ] && continue
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      case $m in
        rsrae-plus) model=(--model rsrae --model-config "$OUT/rsrae-plus.json") ;;
        *) model=(--model "$m") ;;
      esac
      "$BIN" train "${model[@]}" --dataset fashion-mnist --data "$DATA/fashion-mnist" \
        --protocol contaminated --class "$k" --contamination "$c" --scaling minus-one-to-one \
        --epochs "$EPOCHS" --seed "$SEED" --out "$run" --quiet > /dev/null 2>&1
      "$BIN" eval "$run" --checkpoint last > /dev/null 2>&1
    done
    first=$(echo $MODELS | cut -d' ' -f1)
    pyod="$OUT/pyod-c$c-class$k.jsonl"
    [ -s "$pyod" ] || "$PYTHON" bench/reference/pyod_contaminated.py --idx "$DATA/fashion-mnist" \
      --split "$OUT/$first-c$c-class$k/split.csv" --seed "$SEED" > "$pyod"
    # Appended only once every column is read, so a failure leaves no partial set behind.
    rows=$(python3 - "$OUT" "$c" "$k" "$SEED" "$EPOCHS" "$MODELS" <<'PY'
import json, sys
out, c, k, seed, epochs, models = sys.argv[1:7]
for m in models.split():
    r = json.load(open(f"{out}/{m}-c{c}-class{k}/eval-last/metrics.json"))
    print(f"{seed},{c},{k},{m},{epochs},{r['auroc']:.6f},{r['auprc']:.6f}")
for line in open(f"{out}/pyod-c{c}-class{k}.jsonl"):
    r = json.loads(line)
    print(f"{seed},{c},{k},{r['model']},{epochs},{r['auc']:.6f},{r['ap']:.6f}")
PY
    )
    echo "$rows" >> "$RECORD"
  done
done
# This seed's table from the record.
SEEDS="$SEED" EPOCHS="$EPOCHS" CS="$CS" CLASSES="$CLASSES" MODELS="$MODELS" \
  python3 scripts/results_rsrae_seeds.py "$RECORD"
