#!/usr/bin/env bash
# CAVGA-Du's attention map on the Magnetic Tile fixture under the settings a user would try
# first: the latent's resolution (halvings, 64-pixel input), tiles, the expansion loss's weight,
# a longer run, the attention one block earlier, smaller batches, the Grad-CAM weights from the
# score's gradient. One row per setting and seed: image AUROC, pixel AUROC, AUPRO (last epoch).
#
#   SEEDS="0 1 2" scripts/results_cavga_mt_settings.sh [OUT_DIR]
#   ONLY="9 10" ... runs only those settings (numbered from 1 in CASES' order)
set -euo pipefail
OUT=${1:-runs/cavga-mt-settings}
BIN=${ODDITY:-target/release/oddity}
SEEDS=${SEEDS:-0 1 2}
ONLY=${ONLY:-}
DATA=${DATA:-fixtures/magnetic-tile}
mkdir -p "$OUT"

# name | model config | epochs | extra train options
CASES=(
  "32 px, 3 halvings (4 × 4 latent)|{}|20|"
  "32 px, 2 halvings (8 × 8)|{\"downsamplings\": 2}|20|"
  "tiles 32/16, 3 halvings|{}|20|--tile 32 --stride 16"
  "tiles 32/16, 2 halvings|{\"downsamplings\": 2}|20|--tile 32 --stride 16"
  "64 px, 2 halvings (16 × 16)|{\"image_size\": 64, \"downsamplings\": 2}|20|"
  "64 px, 2 halvings, 60 epochs|{\"image_size\": 64, \"downsamplings\": 2}|60|"
  "32 px, w_ae = 1|{\"w_attention\": 1.0}|20|"
  "64 px, 2 halvings, w_ae = 1|{\"image_size\": 64, \"downsamplings\": 2, \"w_attention\": 1.0}|20|"
  "32 px, 3 halvings, attention 1 block earlier (8 × 8)|{\"attention_depth\": 1}|20|"
  "32 px, 3 halvings, attention 2 blocks earlier (16 × 16)|{\"attention_depth\": 2}|20|"
  "64 px, 3 halvings, attention 1 block earlier (16 × 16)|{\"image_size\": 64, \"attention_depth\": 1}|20|"
  "32 px, batch 8 (4 steps an epoch)|{\"batch_size\": 8}|20|"
  "32 px, batch 8, attention 1 block earlier|{\"batch_size\": 8, \"attention_depth\": 1}|20|"
  "32 px, attention from the score's gradient|{\"attention_target\": \"score\"}|20|"
  "32 px, batch 8, attention from the score's gradient|{\"batch_size\": 8, \"attention_target\": \"score\"}|20|"
  "64 px, 2 halvings, attention from the score's gradient|{\"image_size\": 64, \"downsamplings\": 2, \"attention_target\": \"score\"}|20|"
)

echo "| setting | seed | image AUROC | pixel AUROC | AUPRO |"
echo "|---|---|---|---|---|"
i=0
for case in "${CASES[@]}"; do
  IFS='|' read -r name config epochs extra <<< "$case"
  i=$((i + 1))
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $i "* ]]; then continue; fi
  echo "$config" > "$OUT/case$i.json"
  for seed in $SEEDS; do
    run="$OUT/case$i-seed$seed"
    if [ ! -f "$run/eval-last/metrics.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      # shellcheck disable=SC2086
      "$BIN" train --model cavga --dataset magnetic-tile --data "$DATA" --decode-size 64 \
        --protocol one-class --class MT_Free --epochs "$epochs" --seed "$seed" --out "$run" \
        --model-config "$OUT/case$i.json" --quiet $extra > /dev/null
      "$BIN" eval "$run" --checkpoint last > /dev/null
    fi
    python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))
print(f\"| {sys.argv[2]} | {sys.argv[3]} | {m['auroc']:.3f} | {m['pixel_auroc']:.3f} | {m['aupro']:.3f} |\")
" "$run/eval-last/metrics.json" "$name" "$seed"
  done
done
