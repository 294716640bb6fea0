#!/usr/bin/env bash
# The Python peers' Deep SVDD and Deep SAD (PyOD's DeepSVDD, DeepOD's DeepSVDD and DeepSAD) on
# exactly the splits of oddity's MNIST one-class runs of scripts/results_deep_svdd.sh, beside
# oddity's AUROC and seconds: for each digit, oddity's Deep SVDD run (digitK-P-S-seedN) and Deep
# SAD run (digitK-sad0.05-P-S-seedN) must exist; the peers read the Deep SAD run's split.csv (the
# same training and test rows, plus the labelled anomalies DeepSAD takes) and train for the same
# number of epochs as oddity's Deep SVDD phase (SVDD). Needs bench/reference/install.sh.
#
#   PRETRAIN=20 SVDD=20 SEEDS="0" scripts/results_deep_svdd_peers.sh [SHARED_DATA_DIR] [RUNS_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
RUNS=${2:-runs/deep-svdd-mnist}
PRETRAIN=${PRETRAIN:-20}
SVDD=${SVDD:-20}
SEEDS=${SEEDS:-0}
PY=${PY:-bench/reference/.venv/bin/python}
for k in 0 1 2 3 4 5 6 7 8 9; do
  for seed in $SEEDS; do
    sad="$RUNS/digit$k-sad0.05-$PRETRAIN-$SVDD-seed$seed"
    one="$RUNS/digit$k-$PRETRAIN-$SVDD-seed$seed"
    for run in "$one" "$sad"; do
      [ -f "$run/eval-best/metrics.json" ] || { echo "missing $run: run scripts/results_deep_svdd.sh first" >&2; exit 1; }
    done
    # The two oddity runs must share their training and test rows for the table to compare.
    cmp -s <(grep -v '^labelled' "$one/split.csv") <(grep -v '^labelled' "$sad/split.csv") ||
      { echo "$one and $sad have different splits" >&2; exit 1; }
    out="$RUNS/peers-digit$k-$SVDD-seed$seed.jsonl"
    [ -s "$out" ] || "$PY" bench/reference/deep_svdd_peers.py --idx "$DATA/mnist" --split "$sad/split.csv" \
      --epochs "$SVDD" --seed "$seed" 2>/dev/null > "$out"
  done
done
python3 - "$RUNS" "$PRETRAIN" "$SVDD" $SEEDS <<'PY'
import json, statistics, sys
runs, pre, svdd, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
cols = ["oddity-deep-svdd", "pyod-deep-svdd", "deepod-deep-svdd", "oddity-deep-sad", "deepod-deep-sad"]
print("| digit | oddity Deep SVDD | PyOD DeepSVDD | DeepOD DeepSVDD | oddity Deep SAD | DeepOD DeepSAD | seconds oddity SVDD / PyOD / DeepOD / oddity SAD / DeepOD SAD |")
print("|---|---|---|---|---|---|---|")
means = {c: [] for c in cols}
for k in range(10):
    auc = {c: [] for c in cols}
    secs = {c: [] for c in cols}
    for s in seeds:
        for c, run in [("oddity-deep-svdd", f"{runs}/digit{k}-{pre}-{svdd}-seed{s}"),
                       ("oddity-deep-sad", f"{runs}/digit{k}-sad0.05-{pre}-{svdd}-seed{s}")]:
            auc[c].append(json.load(open(f"{run}/eval-best/metrics.json"))["auroc"])
            secs[c].append(float(open(f"{run}.seconds").read()))
        for line in open(f"{runs}/peers-digit{k}-{svdd}-seed{s}.jsonl"):
            r = json.loads(line)
            auc[r["model"]].append(r["auroc"])
            secs[r["model"]].append(r["fit_s"] + r["score_s"])
    row = []
    for c in cols:
        means[c].append(statistics.mean(auc[c]))
        row.append(f"{means[c][-1]:.4f}" + (f" ± {statistics.stdev(auc[c]):.4f}" if len(auc[c]) > 1 else ""))
    t = " / ".join(f"{statistics.mean(secs[c]):.0f}" for c in cols)
    print(f"| {k} | " + " | ".join(row) + f" | {t} |")
print("| **mean** | " + " | ".join(f"**{statistics.mean(means[c]):.4f}**" for c in cols) + " | |")
PY
