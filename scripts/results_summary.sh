#!/usr/bin/env bash
# One table across families: oddity's detectors and the baselines on MNIST one-class (every
# digit) and on the five ADBench tables of the PyOD side by side, every model at its paper
# configuration and preprocessing (each model's own default `--scaling`, as `oddity models`
# lists), at a reduced budget stated in the output. AUROC of the last
# epoch; tables: mean over SEEDS (the seed also draws the split); MNIST: mean over the ten
# digits for DIGIT_SEED. Prints one markdown table; runs are kept and reused.
#
#   PARTS="tables mnist" scripts/results_summary.sh [SHARED_DATA_DIR] [OUT_DIR]
#
# Budget knobs: MAX_TRAIN (MNIST training images a digit, 1000), EPOCHS (5; the staged models
# split them, GEOM trains WIDEN-wide for 1 of its 72-fold epochs), SEEDS (tables, "0 1 2").
# DIGITS ("0 1 2 3 4 5 6 7 8 9") trains only those digits' runs, for a long column built over
# several sittings; a model's MNIST cell stays "–" until all ten digits have a run.
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/summary}
BIN=${ODDITY:-target/release/oddity}
PARTS=${PARTS:-tables mnist}
SEEDS=${SEEDS:-0 1 2}
DIGIT_SEED=${DIGIT_SEED:-0}
MAX_TRAIN=${MAX_TRAIN:-1000}
EPOCHS=${EPOCHS:-5}
DIGITS=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
[[ $DIGITS =~ [^[:space:]] ]] || { echo "DIGITS must list at least one digit 0–9" >&2; exit 2; }
for k in $DIGITS; do
  case $k in [0-9]) ;; *) echo "DIGITS must list digits 0–9, not '$k'" >&2; exit 2 ;; esac
done
WIDEN=${WIDEN:-1}
TABLES=${TABLES:-4_breastw 6_cardio 18_Ionosphere 29_Pima 38_thyroid}
TABLE_MODELS=${TABLE_MODELS:-autoencoder vae advae rsrae anogan alad egbad alae ocsvm rx goad}
IMAGE_MODELS=${IMAGE_MODELS:-autoencoder ganomaly skip-ganomaly adae fanogan alocc vae cavga constrained-aae alae rsrae ocsvm deep-svdd geom ocgan}
mkdir -p "$OUT"

# Settings for the budget: the staged models split EPOCHS between their stages.
settings_of() {
  local file="$OUT/settings-$1.json"
  case "$1" in
    deep-svdd) echo "{\"pretrain_epochs\": $((EPOCHS / 2)), \"svdd_epochs\": $((EPOCHS - EPOCHS / 2))}" > "$file" ;;
    fanogan) echo "{\"gan_epochs\": $((EPOCHS - EPOCHS / 2)), \"encoder_epochs\": $((EPOCHS / 2))}" > "$file" ;;
    geom) echo "{\"widen\": $WIDEN, \"epochs\": 1}" > "$file" ;;
    # 29 × 29 images; mining in the last fifth of the epochs, as the code's last quarter.
    ocgan) echo "{\"depth\": 2, \"mining_from_epoch\": $((EPOCHS - EPOCHS / 5 + 1))}" > "$file" ;;
    *) echo "{}" > "$file" ;;
  esac
  echo "$file"
}

epochs_of() {
  case "$1" in
    geom) echo 1 ;;
    ocsvm | rx | goad) echo 1 ;; # closed form; GOAD's default preset trains 1 epoch
    *) echo "$EPOCHS" ;;
  esac
}

train_and_eval() { # run model settings epochs args...
  local run=$1 model=$2 settings=$3 epochs=$4
  shift 4
  if [ ! -f "$run/run.json" ]; then
    rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
    "$BIN" train --model "$model" --model-config "$settings" --epochs "$epochs" --out "$run" \
      --quiet "$@" > /dev/null 2>&1 || { echo "failed: $run" >&2; return 0; }
  fi
  [ -f "$run/eval-last/metrics.json" ] || "$BIN" eval "$run" --checkpoint last > /dev/null ||
    echo "eval failed: $run" >&2
}

if [[ " $PARTS " == *" tables "* ]]; then
  for m in $TABLE_MODELS; do
    settings=$(settings_of "$m")
    for t in $TABLES; do
      for s in $SEEDS; do
        train_and_eval "$OUT/tables/$t/$m-seed$s" "$m" "$settings" "$(epochs_of "$m")" \
          --dataset adbench --data "$DATA/adbench-classical/$t.npz" --protocol tabular \
          --seed "$s"
      done
    done
  done
fi
if [[ " $PARTS " == *" mnist "* ]]; then
  for m in $IMAGE_MODELS; do
    settings=$(settings_of "$m")
    for k in $DIGITS; do
      train_and_eval "$OUT/mnist/$m-digit$k" "$m" "$settings" "$(epochs_of "$m")" \
        --dataset mnist --data "$DATA/mnist" --protocol one-class --class "$k" \
        --max-train "$MAX_TRAIN" --seed "$DIGIT_SEED"
    done
  done
fi

python3 - "$OUT" "$TABLES" "$TABLE_MODELS" "$IMAGE_MODELS" "$SEEDS" "$MAX_TRAIN" "$EPOCHS" <<'PY'
import json, os, statistics, sys
out, tables, table_models, image_models, seeds, max_train, epochs = sys.argv[1:]
tables, seeds = tables.split(), seeds.split()
def auroc(run):
    try:
        return json.load(open(os.path.join(run, "eval-last", "metrics.json")))["auroc"]
    except FileNotFoundError:
        return None
def mean(values):
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None
models = list(dict.fromkeys(image_models.split() + table_models.split()))
print(f"MNIST one-class: {max_train} training images a digit, {epochs} epochs (GEOM 1 of its 72-fold epochs), one seed; tables: seeds {' '.join(seeds)}. AUROC, last epoch.\n")
print("| model | MNIST (mean of 10 digits) | " + " | ".join(tables) + " | tables mean |")
print("|---|---|" + "---|" * (len(tables) + 1))
cell = lambda v: "–" if v is None else f"{v:.3f}"
for m in models:
    digits = [auroc(f"{out}/mnist/{m}-digit{k}") for k in range(10)]
    mnist = mean(digits) if all(d is not None for d in digits) else None
    per_table = [mean([auroc(f"{out}/tables/{t}/{m}-seed{s}") for s in seeds]) for t in tables]
    both = [v for v in per_table if v is not None]
    overall = statistics.mean(both) if len(both) == len(tables) else None
    print(f"| {m} | {cell(mnist)} | " + " | ".join(cell(v) for v in per_table) + f" | {cell(overall)} |")
PY
