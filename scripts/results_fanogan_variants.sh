#!/usr/bin/env bash
# f-AnoGAN's three encoder trainings side by side (ziz, izi, izi_f) on MNIST one-class at 64×64
# in [−1, 1]. The same seed gives the same WGAN-GP stage for all three; only the encoder
# training differs. Budget from the environment: WIDTH (base width, paper 64), GAN_EPOCHS,
# ENCODER_EPOCHS, CLASS, DATASET/DATA (default: the bundled MNIST subset); MODES (default all
# three); SPECTRAL=true adds spectral normalisation of the critic (an option, not the paper's).
#
#   scripts/results_fanogan_variants.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-runs/fanogan-variants}
BIN=${ODDITY:-target/release/oddity}
WIDTH=${WIDTH:-8}
GAN_EPOCHS=${GAN_EPOCHS:-10}
ENCODER_EPOCHS=${ENCODER_EPOCHS:-10}
CLASS=${CLASS:-1}
DATASET=${DATASET:-builtin-mnist}
DATA_ARGS=()
[ -n "${DATA:-}" ] && DATA_ARGS=(--data "$DATA")
SEED=${SEED:-0}
MODES=${MODES:-ziz izi izi-f}
SPECTRAL=${SPECTRAL:-false}
for mode in $MODES; do
  run="$OUT/$mode"
  if [ ! -f "$run/eval-best/metrics.json" ]; then
    mkdir -p "$OUT"
    echo "{\"width\": $WIDTH, \"gan_epochs\": $GAN_EPOCHS, \"encoder_epochs\": $ENCODER_EPOCHS, \"encoder_training\": \"$mode\", \"encoder_learning_rate\": 1e-3, \"spectral_norm\": $SPECTRAL}" > "$OUT/$mode.json"
    "$BIN" train --model fanogan --dataset "$DATASET" "${DATA_ARGS[@]}" --protocol one-class --class "$CLASS" \
      --model-config "$OUT/$mode.json" --scaling minus-one-to-one --seed "$SEED" --out "$run" --quiet
    "$BIN" eval "$run" --checkpoint best > /dev/null
  fi
  python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(f'| {sys.argv[2]} | {m[\"auroc\"]:.4f} | {m[\"auprc\"]:.4f} | {m[\"checkpoint_epoch\"]} |')" "$run/eval-best/metrics.json" "$mode"
done
