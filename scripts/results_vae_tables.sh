#!/usr/bin/env bash
# The VAE's five scores side by side on the five ADBench tables of the adVAE paper (tabular
# protocol: train on 60 % of the normals, test on the rest and every anomaly), SEEDS seeds: one
# VAE trained per table and seed (EPOCHS epochs, last checkpoint), each score by `eval
# --model-config` on the same weights. Prints AUROC mean ± std over seeds, with the plain
# autoencoder's and PyOD's VAE (at PyOD's defaults, bench/reference/pyod_side_by_side.py) on the
# same splits (the VAE run's split.csv); PyOD needs bench/reference/install.sh.
#
#   SEEDS="0 1 2" EPOCHS=50 scripts/results_vae_tables.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/vae-tables}
BIN=${ODDITY:-target/release/oddity}
PY=${PY:-bench/reference/.venv/bin/python}
SEEDS=${SEEDS:-0 1 2}
EPOCHS=${EPOCHS:-50}
SCORES="reconstruction kl elbo iwae reconstruction-probability"
mkdir -p "$OUT/settings"
for s in $SCORES; do echo "{\"score\": \"$s\"}" > "$OUT/settings/$s.json"; done
for t in 6_cardio 20_letter 30_satellite 26_optdigits 28_pendigits; do
  for seed in $SEEDS; do
    for model in vae autoencoder; do
      run="$OUT/$model-$t-seed$seed"
      if [ ! -f "$run/eval-last/metrics.json" ]; then
        rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
        "$BIN" train --model "$model" --dataset adbench --data "$DATA/adbench-classical/$t.npz" \
          --protocol tabular --epochs "$EPOCHS" --seed "$seed" --out "$run" --quiet > /dev/null
        "$BIN" eval "$run" --checkpoint last > /dev/null
      fi
    done
    run="$OUT/vae-$t-seed$seed"
    for s in $SCORES; do
      [ -f "$run/eval-last-$s/metrics.json" ] || \
        "$BIN" eval "$run" --checkpoint last --model-config "$OUT/settings/$s.json" > /dev/null
    done
    if [ ! -f "$run/pyod-vae.json" ]; then
      "$PY" bench/reference/pyod_side_by_side.py --model vae --npz "$DATA/adbench-classical/$t.npz" \
        --split "$run/split.csv" --seed "$seed" > "$run/pyod-vae.json.tmp"
      mv "$run/pyod-vae.json.tmp" "$run/pyod-vae.json"
    fi
  done
done
python3 - "$OUT" $SEEDS <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
scores = ["reconstruction", "kl", "elbo", "iwae", "reconstruction-probability"]
print("| table | " + " | ".join(scores) + " | autoencoder | PyOD VAE |")
print("|---|" + "---|" * (len(scores) + 2))
def cell(paths):
    v = [json.load(open(p))["auroc"] for p in paths]
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.3f} ± {sd:.3f}"
for t in ["6_cardio", "20_letter", "30_satellite", "26_optdigits", "28_pendigits"]:
    row = [cell([f"{out}/vae-{t}-seed{s}/eval-last-{sc}/metrics.json" for s in seeds]) for sc in scores]
    row.append(cell([f"{out}/autoencoder-{t}-seed{s}/eval-last/metrics.json" for s in seeds]))
    row.append(cell([f"{out}/vae-{t}-seed{s}/pyod-vae.json" for s in seeds]))
    print(f"| {t} | " + " | ".join(row) + " |")
PY
