#!/usr/bin/env bash
# Global RX on the 18 hyperspectral scenes of ../shared/data/hyperspectral, scene protocol
# (every pixel fits the statistics and is scored), no preprocessing (--scaling none), against
# the AUROCs the data's README recomputed with numpy (cov, pinv) and scikit-learn. Prints
# each scene's AUROC to 6 decimals beside the README's, the difference, and the seconds the
# fit and the scoring took; exits non-zero if any scene differs by 5e-5 or more (4 decimals).
#
#   scripts/results_hyperspectral_rx.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}/hyperspectral
OUT=${2:-runs/hyperspectral-rx}
BIN=${ODDITY:-target/release/oddity}
mkdir -p "$OUT"
# scene file (under $DATA) and the README's AUROC to 6 decimals
SCENES="
abu/abu-airport-1 0.822085
abu/abu-airport-2 0.840381
abu/abu-airport-3 0.928811
abu/abu-airport-4 0.952599
abu/abu-beach-1 0.980721
abu/abu-beach-2 0.910579
abu/abu-beach-3 0.999845
abu/abu-urban-1 0.990655
abu/abu-urban-2 0.994626
abu/abu-urban-3 0.951282
abu/abu-urban-4 0.988718
abu/abu-urban-5 0.969206
hydice-urban/hydice_urban_80x100x162_17px 0.993177
hydice-urban/hydice_urban_80x100x175_21px 0.985689
san-diego/sandiego_100x100x189_58px 0.888536
san-diego/sandiego_plane_100x100x189_134px 0.940292
pavia-center/pavia_100x100x102_68px_LREN 0.988666
pavia-center/pavia_100x100x102_71px_lzw 0.993425
"
printf '%-42s %9s %9s %9s %7s\n' scene oddity readme diff seconds
worst=0
while read -r scene expected; do
  [ -z "$scene" ] && continue
  run="$OUT/$(basename "$scene")"
  rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
  start=$(date +%s.%N)
  "$BIN" train --model rx --dataset hyperspectral --data "$DATA/$scene.mat" --protocol scene \
    --scaling none --out "$run" --quiet > /dev/null 2>&1
  "$BIN" eval "$run" > /dev/null
  end=$(date +%s.%N)
  python3 - "$run/eval-best/metrics.json" "$scene" "$expected" "$start" "$end" <<'PY'
import json, sys
auroc = json.load(open(sys.argv[1]))["auroc"]
expected = float(sys.argv[3])
seconds = float(sys.argv[5]) - float(sys.argv[4])
print(f"{sys.argv[2].split('/')[-1]:42s} {auroc:9.6f} {expected:9.6f} {auroc - expected:+9.6f} {seconds:7.2f}")
sys.exit(0 if abs(auroc - expected) < 5e-5 else 1)
PY
done <<< "$SCENES"
