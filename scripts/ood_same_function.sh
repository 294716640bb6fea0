#!/usr/bin/env bash
# The OOD scores against pytorch-ood's (bench/reference/ood_same_function.py): a LeNet trained
# on the MNIST fixture (3 epochs), scored on its test digits and on the Fashion-MNIST fixture
# with ODIN at each T of TEMPERATURES (the paper's 1000, and 1 where the step's effect is large)
# and ε = ODIN_EPS, Mahalanobis at ε = MAHA_EPS (fixed here so that the input steps are
# exercised whatever training chose), then the same images through
# pytorch-ood's MaxSoftmax, EnergyBased, ODIN and MahalanobisODIN on the same weights. Exits 1
# when a score differs beyond its tolerance. Needs bench/reference/install.sh.
#
#   scripts/ood_same_function.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-runs/ood-same-function}
BIN=${ODDITY:-target/release/oddity}
PY=${PYTHON:-bench/reference/.venv/bin/python}
TEMPERATURES=${TEMPERATURES:-1000 1}
ODIN_EPS=${ODIN_EPS:-0.002}
MAHA_EPS=${MAHA_EPS:-0.002}
run="$OUT/lenet-mnist-fixture"
mkdir -p "$OUT"
[ -f "$run/ood.json" ] || "$BIN" ood train --dataset mnist --data fixtures/mnist --validation 300 \
  --classifier-config '{"epochs": 3}' --seed 0 --out "$run" --force 2> "$OUT/train.log"
status=0
for t in $TEMPERATURES; do
  "$BIN" ood eval "$run" --against fashion-mnist:fixtures/fashion-mnist \
    --odin-temperature "$t" --odin-epsilon "$ODIN_EPS" --mahalanobis-epsilon "$MAHA_EPS" > /dev/null
  "$PY" bench/reference/ood_same_function.py "$run" fixtures/mnist fixtures/fashion-mnist "$OUT/same-function-T$t.json" > /dev/null || status=1
  "$PY" - "$OUT/same-function-T$t.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\nsettings {r['settings']}; {r['n_train']} training images; {r['dead_units']} dead penultimate units\n")
print("| set | score | images compared | max abs diff | error (of scale) | step effect error | control (step reversed) |")
print("|---|---|---|---|---|---|---|")
for s, e in r["sets"].items():
    for name in ("msp", "energy", "odin", "mahalanobis-penultimate"):
        v = e[name]
        effect = f"{v['effect_error']:.1e}" if "effect_error" in v else ""
        control = f"{v['reversed_step_effect_error']:.2f}" if "reversed_step_effect_error" in v else ""
        print(f"| {s} | {name} | {v['compared']} | {v['max_abs_diff']:.1e} | {v['error']:.1e} | {effect} | {control} |")
print()
print("| score | pytorch-ood AUROC | oddity AUROC | pytorch-ood AUPR-IN (trapezoid) | oddity AUPR-in (AP) | pytorch-ood AUPR-OUT | oddity AUPR-out | pytorch-ood FPR95TPR (OOD positive) | oddity FPR@95 (in positive) |")
print("|---|---|---|---|---|---|---|---|---|")
for s, scores in r["metrics"].items():
    for name, m in scores.items():
        t, o = m["pytorch-ood"], m["oddity"]
        print(f"| {name} | {t['AUROC']:.4f} | {o['auroc']:.4f} | {t['AUPR-IN']:.4f} | {o['aupr_in']:.4f} | {t['AUPR-OUT']:.4f} | {o['aupr_out']:.4f} | {t['FPR95TPR']:.4f} | {o['fpr_at_95_tpr']:.4f} |")
print("\nsame function:", r["same_function"])
PY
done
exit $status
