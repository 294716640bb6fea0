#!/usr/bin/env bash
# RSRAE's contamination sweep on Fashion-MNIST (its paper's Fig. 2 setting): for each c in CS
# and each inlier class in CLASSES, the contaminated protocol's set (the class's 1 000 test
# images plus ⌊c·1000⌋ drawn from the other classes), trained on and scored as one set by
# RSRAE, RSRAE+ and the plain autoencoder (MODELS listed), inputs x/127.5 − 1 then unit norm;
# with PyOD's IForest and OC-SVM on the same sets (bench/reference/pyod_contaminated.py, run
# with PYTHON, which needs pyod and scikit-learn). Prints AUC and AP per c, averaged over the
# classes.
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
mkdir -p "$OUT"
echo '{"optimisation": "joint"}' > "$OUT/rsrae-plus.json"
for c in $CS; do
  for k in $CLASSES; do
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
  done
done
python3 - "$OUT" "$CS" "$CLASSES" "$MODELS" <<'PY'
import json, statistics, sys
out, cs, classes, models = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split()
names = models + ["iforest", "ocsvm"]
print("| c | " + " | ".join(f"{n} AUC / AP" for n in names) + " |")
print("|---|" + "---|" * len(names))
for c in cs:
    cells = []
    for n in names:
        auc, ap = [], []
        for k in classes:
            if n in models:
                m = json.load(open(f"{out}/{n}-c{c}-class{k}/eval-last/metrics.json"))
                auc.append(m["auroc"]); ap.append(m["auprc"])
            else:
                for line in open(f"{out}/pyod-c{c}-class{k}.jsonl"):
                    r = json.loads(line)
                    if r["model"] == n:
                        auc.append(r["auc"]); ap.append(r["ap"])
        cells.append(f"{statistics.mean(auc):.3f} / {statistics.mean(ap):.3f}")
    print(f"| {c} | " + " | ".join(cells) + " |")
PY
