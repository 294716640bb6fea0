#!/usr/bin/env bash
# The OOD scores against pytorch-ood's (bench/reference/ood_same_function.py): a LeNet and a
# WRN-10-1 (NETWORKS picks) trained on the MNIST fixture (3 epochs), each scored on its test
# digits and on the Fashion-MNIST fixture
# with ODIN at each T of TEMPERATURES (the paper's 1000, and 1 where the step's effect is large)
# and ε = ODIN_EPS, Mahalanobis at ε = MAHA_EPS (fixed here so that the input steps are
# exercised whatever training chose), and again at ε = 0 (the scores' formulas are compared
# there, the steps by their effect), then the same images through
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
NETWORKS=${NETWORKS:-lenet wrn}
mkdir -p "$OUT"
status=0
for network in $NETWORKS; do
case $network in
  lenet) settings='{"epochs": 3}' ;;
  wrn) settings='{"architecture": "wrn", "depth": 10, "widen": 1, "epochs": 3, "augment": false}' ;;
  *) echo "unknown network $network (lenet, wrn)" >&2; exit 2 ;;
esac
run="$OUT/$network-mnist-fixture"
[ -f "$run/ood.json" ] || "$BIN" ood train --dataset mnist --data fixtures/mnist --validation 300 \
  --classifier-config "$settings" --seed 0 --out "$run" --force 2> "$OUT/$network-train.log"
for t in $TEMPERATURES; do
  # First without the input steps (ε = 0): the scores' formulas; then with them: their effect.
  unstepped="$OUT/$network-T$t-unstepped-scores.csv"
  "$BIN" ood eval "$run" --against fashion-mnist:fixtures/fashion-mnist \
    --odin-temperature "$t" --odin-epsilon 0 --mahalanobis-epsilon 0 > /dev/null
  cp "$run/ood-eval/scores.csv" "$unstepped"
  "$BIN" ood eval "$run" --against fashion-mnist:fixtures/fashion-mnist \
    --odin-temperature "$t" --odin-epsilon "$ODIN_EPS" --mahalanobis-epsilon "$MAHA_EPS" > /dev/null
  report="$OUT/same-function-$network-T$t.json"
  "$PY" bench/reference/ood_same_function.py "$run" fixtures/mnist fixtures/fashion-mnist "$report" "$unstepped" > /dev/null || status=1
  "$PY" - "$report" "$network" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\n{sys.argv[2]}: settings {r['settings']}; {r['n_train']} training images; {r['dead_units']} dead penultimate units\n")
print("| set | score | images compared | max abs diff | error (of scale) | error at ε = 0 | step effect error | control (step reversed) | float64 error: oddity / pytorch-ood |")
print("|---|---|---|---|---|---|---|---|---|")
for s, e in r["sets"].items():
    for name in ("msp", "energy", "odin", "mahalanobis-penultimate"):
        v = e[name]
        effect = f"{v['effect_error']:.1e}" if "effect_error" in v else ""
        control = f"{v['reversed_step_effect_error']:.2f}" if "reversed_step_effect_error" in v else ""
        f64 = f"{v['float64_error']:.1e} / {v['float64_error_pytorch_ood']:.1e}" if "float64_error" in v else ""
        unstepped = f"{v['unstepped_error']:.1e}" if "unstepped_error" in v else ""
        print(f"| {s} | {name} | {v['compared']} | {v['max_abs_diff']:.1e} | {v['error']:.1e} | {unstepped} | {effect} | {control} | {f64} |")
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
done
exit $status
