#!/usr/bin/env bash
# oddity's SSIM autoencoder by tiles against a PyTorch one (bench/reference/ssim_ae.py: the same
# network, loss, optimizer and tiling, written from the paper) on the same Magnetic Tile splits:
# for each `ssim-ae` run that scripts/results_localisation_mt.sh made, the reference trains on
# that run's split.csv with its settings and is scored the same way. Prints one row per run:
# image AUROC, pixel AUROC, AUPRO and training throughput of both, and oddity's speed as a ratio.
# Needs bench/reference/install.sh (PyTorch; benchmarks only).
#
#   scripts/results_ssim_ae_side_by_side.sh runs/localisation-mt [fixtures/magnetic-tile]
set -euo pipefail
RUNS=${1:-runs/localisation-mt}
DATA=${2:-fixtures/magnetic-tile}
PY=${PY:-bench/reference/.venv/bin/python}
THREADS=${THREADS:-$(nproc)}

echo "| run | oddity image / pixel AUROC / AUPRO | PyTorch image / pixel AUROC / AUPRO | oddity tiles/s | PyTorch tiles/s | speed ratio |"
echo "|---|---|---|---|---|---|"
for run in "$RUNS"/ssim-ae-*-seed*; do
  [ -f "$run/eval-last/metrics.json" ] || continue
  reference=$("$PY" bench/reference/ssim_ae.py --run "$run" --data "$DATA" --threads "$THREADS")
  python3 - "$run" "$reference" <<'PY'
import json, sys
run, reference = sys.argv[1], json.loads(sys.argv[2])
m = json.load(open(f"{run}/eval-last/metrics.json"))
log = json.load(open(f"{run}/train-log.json"))
seconds = sum(e["train_seconds"] for e in log["epochs"])
samples = sum(e["train_seconds"] * e["samples_per_second"] for e in log["epochs"])
ours = samples / seconds
theirs = reference["train_tiles_per_second"]
print(f"| {run.rsplit('/', 1)[-1]} | {m['auroc']:.3f} / {m['pixel_auroc']:.3f} / {m['aupro']:.3f} | "
      f"{reference['image_auroc']:.3f} / {reference['pixel_auroc']:.3f} / {reference['aupro']:.3f} | "
      f"{ours:.0f} | {theirs:.0f} | {ours / theirs:.2f}× |")
PY
done
