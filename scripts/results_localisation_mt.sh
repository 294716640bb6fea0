#!/usr/bin/env bash
# Localisation on Magnetic Tile: every image model with a map, trained 20 epochs on the
# defect-free images (one-class MT_Free: a seeded 80 % trains and validates, the other 20 % and
# every defect image test), images decoded at 64 × 64; models with 32-pixel inputs see them
# resized (rows "resized") or as 32-pixel tiles with stride 16 (rows "tiles"). Prints one row per
# model and seed (image AUROC of the model's score, pixel AUROC, AUPRO, then image AUROC and
# AUPRO per defect type), then the mean ± standard deviation over seeds. CAVGA-Dw's labelled
# anomalies (10 % of the training set: 4 defect images) come out of the test set, which is
# smaller by as many for that row.
#
#   DATA=fixtures/magnetic-tile SEEDS="0 1 2" ONLY="" scripts/results_localisation_mt.sh [OUT_DIR]
#
# ONLY (an extended regular expression) keeps the cases whose name matches it.
#
# DATA=../shared/data/magnetic-tile runs the whole data set (1 344 images; hours on 2 cores).
set -euo pipefail
OUT=${1:-runs/localisation-mt}
BIN=${ODDITY:-target/release/oddity}
SEEDS=${SEEDS:-0 1 2}
DATA=${DATA:-fixtures/magnetic-tile}
EPOCHS=${EPOCHS:-20}
ONLY=${ONLY:-}
mkdir -p "$OUT"
echo '{"image_size": 32}' > "$OUT/ssim-32.json"
echo '{"image_size": 32, "loss": "l2"}' > "$OUT/ssim-l2-32.json"
echo '{"supervision": "weak"}' > "$OUT/cavga-weak.json"
echo '{"consistency": false}' > "$OUT/plain-aae.json"
# f-AnoGAN and AnoGAN at base width 16 (CPU budget; the papers: 64); f-AnoGAN's 20 epochs are
# 14 WGAN-GP and 6 encoder epochs.
echo '{"width": 16, "gan_epochs": 14, "encoder_epochs": 6}' > "$OUT/fanogan-16.json"
echo '{"base_width": 16}' > "$OUT/anogan-16.json"
echo '{"networks": "cifar10"}' > "$OUT/alad-images.json"

# name | model | extra train options. ALOCC's and the (plain) AAE's rows were measured
# standardised, before those models declared their own default scaling (min-max, [−1, 1]): the
# flag keeps them reproducible.
CASES=(
  "autoencoder resized|autoencoder|"
  "autoencoder tiles|autoencoder|--tile 32 --stride 16"
  "ssim-ae (SSIM) tiles|ssim-ae|--model-config $OUT/ssim-32.json --scaling min-max --batch-size 32 --tile 32 --stride 16"
  "ssim-ae (L2) tiles|ssim-ae|--model-config $OUT/ssim-l2-32.json --scaling min-max --batch-size 32 --tile 32 --stride 16"
  "cavga-du resized|cavga|"
  "cavga-dw resized|cavga|--model-config $OUT/cavga-weak.json --labelled-anomalies 10%"
  "ganomaly resized|ganomaly|"
  "skip-ganomaly resized|skip-ganomaly|"
  "adae resized|adae|"
  "alocc resized|alocc|--scaling standardise"
  "constrained-aae resized|constrained-aae|--scaling standardise"
  "plain aae resized|constrained-aae|--model-config $OUT/plain-aae.json --scaling standardise"
  "constrained-aae tiles|constrained-aae|--tile 32 --stride 16 --scaling standardise"
  "plain aae tiles|constrained-aae|--model-config $OUT/plain-aae.json --tile 32 --stride 16 --scaling standardise"
  "f-anogan 64 px|fanogan|--model-config $OUT/fanogan-16.json --scaling minus-one-to-one"
  "anogan 64 px|anogan|--model-config $OUT/anogan-16.json --scaling minus-one-to-one"
  "egbad resized to 28|egbad|--image-size 28 --scaling minus-one-to-one"
  "alad resized|alad|--model-config $OUT/alad-images.json --image-size 32 --scaling minus-one-to-one"
  "vae resized|vae|--scaling minus-one-to-one"
  "rsrae resized|rsrae|--scaling minus-one-to-one"
  "ocgan resized|ocgan|--scaling minus-one-to-one"
  "alae resized|alae|--scaling minus-one-to-one"
)

for case in "${CASES[@]}"; do
  IFS='|' read -r name model extra <<< "$case"
  if [ -n "$ONLY" ] && ! [[ "$name" =~ $ONLY ]]; then
    continue
  fi
  slug=$(echo "$name" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9\n' '-')
  for seed in $SEEDS; do
    run="$OUT/$slug-seed$seed"
    if [ ! -f "$run/eval-last/metrics.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      # shellcheck disable=SC2086
      "$BIN" train --model "$model" --dataset magnetic-tile --data "$DATA" --decode-size 64 \
        --protocol one-class --class MT_Free --epochs "$EPOCHS" --seed "$seed" --out "$run" \
        --quiet $extra > /dev/null
      "$BIN" eval "$run" --checkpoint last > /dev/null
    fi
    echo "$name|$seed|$run/eval-last/metrics.json"
  done
done > "$OUT/index.txt"

python3 - "$OUT/index.txt" <<'PY'
import json, statistics, sys
rows = [line.rstrip("\n").split("|") for line in open(sys.argv[1])]
defects = None
by_case = {}
print("| model | seed | image AUROC | pixel AUROC | AUPRO | per defect: image AUROC / AUPRO |")
print("|---|---|---|---|---|---|")
for name, seed, path in rows:
    m = json.load(open(path))
    per = m.get("per_defect", [])
    cells = ", ".join(f"{d['defect'][3:]} {d['image_auroc']:.2f}/{d['aupro']:.2f}" for d in per)
    print(f"| {name} | {seed} | {m['auroc']:.3f} | {m['pixel_auroc']:.3f} | {m['aupro']:.3f} | {cells} |")
    by_case.setdefault(name, []).append((m["auroc"], m["pixel_auroc"], m["aupro"]))
print()
print("| model | image AUROC | pixel AUROC | AUPRO |")
print("|---|---|---|---|")
for name, values in by_case.items():
    def ms(i):
        xs = [v[i] for v in values]
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return f"{statistics.mean(xs):.3f} ± {sd:.3f}"
    print(f"| {name} | {ms(0)} | {ms(1)} | {ms(2)} |")
PY
