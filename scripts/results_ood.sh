#!/usr/bin/env bash
# The OOD target's results (docs/results/ood.md): a classifier trained on one data set's classes,
# its test accuracy, and MSP, ODIN, energy and Mahalanobis (ensemble and penultimate layer)
# against each out-of-distribution set, seeds SEEDS, mean ± std of AUROC and FPR at 95 % TPR
# (in-distribution positive), then a table of every metric (AUROC, AUPR-in, AUPR-out, FPR at
# 95 % TPR, detection error). PAIRS picks among:
#   mnist          MNIST (LeNet)           vs Fashion-MNIST, uniform, Gaussian
#   fashion-mnist  Fashion-MNIST (LeNet)   vs MNIST, uniform, Gaussian
#   cifar10        CIFAR-10 (WRN)          vs grey MNIST and Fashion-MNIST padded to 32, uniform, Gaussian
#   cifar10-6      CIFAR-10 classes 0–5    vs its classes 6–9 (near-OOD), uniform
# EPOCHS overrides the classifier's epochs; CLASSIFIER adds JSON settings (e.g. the WRN's
# '"depth": 10, "widen": 1' for a CPU budget); MAX_TRAIN and MAX_SAMPLES cap the images.
# GENERATIVE (a JSON object, '{}' for the defaults) also trains the generative scores' VAE and
# background VAE with those settings (likelihood, likelihood ratio, input complexity rows);
# they are recorded beside the run (PAIR-seedS.generative) and a run is reused only for the same.
# AUXILIARY (an --auxiliary set, e.g. image-folder:runs/aerial-patches from
# scripts/make_aerial_patches.py) trains every classifier with outlier exposure on it, λ 0.5;
# it is recorded beside the run (PAIR-seedS.auxiliary) and a run is reused only for the same.
# ORACLE=1 adds the papers' tuning on the OOD sets as named rows (`ood eval --oracle`: up to
# 1 000 images of each side tune, every row is measured on the rest), re-scoring a run whose
# evaluation has no oracle rows yet; a later run without ORACLE keeps that evaluation, and the
# summary refuses to average seeds evaluated with and without it (different test images).
#
#   PAIRS="mnist fashion-mnist" SEEDS="0 1 2" scripts/results_ood.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/ood}
BIN=${ODDITY:-target/release/oddity}
PAIRS=${PAIRS:-mnist fashion-mnist}
SEEDS=${SEEDS:-0 1 2}
EPOCHS=${EPOCHS:-}
CLASSIFIER=${CLASSIFIER:-}
MAX_TRAIN=${MAX_TRAIN:-}
MAX_SAMPLES=${MAX_SAMPLES:-}
GENERATIVE=${GENERATIVE:-}
ORACLE=${ORACLE:-}
AUXILIARY=${AUXILIARY:-}
case $ORACLE in "" | 0 | 1) ;; *) echo "ORACLE must be 1 (or empty, 0), not '$ORACLE'" >&2; exit 2 ;; esac
mkdir -p "$OUT"
settings="$CLASSIFIER"
[ -n "$EPOCHS" ] && settings="${settings:+$settings, }\"epochs\": $EPOCHS"
cifar() {
  local source=${CIFAR_DIR:-runs/cifar10-jpeg}
  if [ ! -d "$source/cifar10_jpg" ]; then
    mkdir -p "$source"
    tar xzf "$DATA/cifar10-jpeg.tar.gz" -C "$source"
  fi
  echo "$source"
}
for pair in $PAIRS; do
  classes=()
  case $pair in
    mnist) dataset=mnist; source="$DATA/mnist"
      against=(--against "fashion-mnist:$DATA/fashion-mnist" --against uniform --against gaussian) ;;
    fashion-mnist) dataset=fashion-mnist; source="$DATA/fashion-mnist"
      against=(--against "mnist:$DATA/mnist" --against uniform --against gaussian) ;;
    cifar10) dataset=cifar10; source=$(cifar)
      against=(--against "mnist:$DATA/mnist" --against "fashion-mnist:$DATA/fashion-mnist" --against uniform --against gaussian) ;;
    cifar10-6) dataset=cifar10; source=$(cifar); classes=(--classes 0,1,2,3,4,5)
      against=(--against held-out-classes --against uniform) ;;
    *) echo "unknown pair $pair" >&2; exit 2 ;;
  esac
  for seed in $SEEDS; do
    run="$OUT/$pair-seed$seed"
    # The generative settings a run was trained with, beside it: a run is reused only for the
    # same GENERATIVE (a VAE and a PixelCNN write the same file names).
    record="$OUT/$pair-seed$seed.generative"
    if [ -n "$GENERATIVE" ] && [ -f "$run/ood.json" ]; then
      if [ ! -f "$run/generative-vae.safetensors" ]; then
        echo "$run was trained without the generative models; remove it or choose another OUT_DIR" >&2
        exit 2
      fi
      if [ ! -f "$record" ]; then
        echo "$run has no record of its GENERATIVE settings ($record; they are in its ood.json); remove the run or write the record" >&2
        exit 2
      fi
      if [ "$(cat "$record")" != "$GENERATIVE" ]; then
        echo "$run was trained with GENERATIVE='$(cat "$record")', not '$GENERATIVE'; remove it or choose another OUT_DIR" >&2
        exit 2
      fi
    fi
    auxiliary_record="$OUT/$pair-seed$seed.auxiliary"
    if [ -f "$run/ood.json" ] && [ "$(cat "$auxiliary_record" 2>/dev/null)" != "$AUXILIARY" ]; then
      echo "$run was trained with AUXILIARY='$(cat "$auxiliary_record" 2>/dev/null)', not '$AUXILIARY'; remove it or choose another OUT_DIR" >&2
      exit 2
    fi
    if [ ! -f "$run/ood.json" ]; then
      args=(--dataset "$dataset" --data "$source" --seed "$seed" --out "$run" --force "${classes[@]}")
      [ -n "$settings" ] && args+=(--classifier-config "{$settings}")
      [ -n "$MAX_TRAIN" ] && args+=(--max-train "$MAX_TRAIN")
      [ -n "$GENERATIVE" ] && args+=(--generative --generative-config "$GENERATIVE")
      [ -n "$AUXILIARY" ] && args+=(--auxiliary "$AUXILIARY")
      start=$(date +%s.%N)
      "$BIN" ood train "${args[@]}" 2> "$OUT/$pair-seed$seed.train.log"
      python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$start" > "$OUT/$pair-seed$seed.seconds"
      if [ -n "$GENERATIVE" ]; then printf '%s\n' "$GENERATIVE" > "$record"; else rm -f "$record"; fi
      if [ -n "$AUXILIARY" ]; then printf '%s\n' "$AUXILIARY" > "$auxiliary_record"; else rm -f "$auxiliary_record"; fi
    fi
    metrics="$run/ood-eval/metrics.json"
    if [ ! -f "$metrics" ] || { [ "$ORACLE" = 1 ] && ! grep -q '"odin-oracle"' "$metrics"; }; then
      extra=()
      [ -n "$MAX_SAMPLES" ] && extra+=(--max-samples "$MAX_SAMPLES")
      [ "$ORACLE" = 1 ] && extra+=(--oracle)
      "$BIN" ood eval "$run" "${against[@]}" "${extra[@]}" > /dev/null
    fi
  done
done
python3 - "$OUT" "$PAIRS" $SEEDS <<'PY'
import json, os, statistics, sys
out, pairs, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3:]

def fmt(values, digits=3):
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"

for pair in pairs:
    reports = [json.load(open(os.path.join(out, f"{pair}-seed{s}", "ood-eval", "metrics.json"))) for s in seeds]
    runs = [json.load(open(os.path.join(out, f"{pair}-seed{s}", "classifier.json"))) for s in seeds]
    accuracy = fmt([r["test_accuracy"] for r in reports], 4)
    minutes = fmt([r["training_seconds"] / 60 for r in runs], 1)
    odin = sorted({r["odin_epsilon"] for r in runs})
    maha = sorted({r["mahalanobis_epsilon"] for r in runs})
    auxiliary = set()
    for s in seeds:
        record = os.path.join(out, f"{pair}-seed{s}.auxiliary")
        auxiliary.add(open(record).read().strip() if os.path.exists(record) else "none")
    print(f"### {pair} ({len(seeds)} seeds; test accuracy {accuracy}; training {minutes} min; ODIN ε {odin}, Mahalanobis ε {maha}; outlier exposure: {', '.join(sorted(auxiliary))})\n")
    oracle = {bool(r.get("oracle")) for r in reports}
    if len(oracle) > 1:
        sys.exit(f"{pair}: some seeds were evaluated with --oracle and some without; re-run with ORACLE=1")
    names = [s["name"] for s in reports[0]["sets"]]
    print("| score | " + " | ".join(f"{n} AUROC | {n} FPR@95" for n in names) + " |")
    print("|---|" + "---|---|" * len(names))
    scores = [name for name, _ in reports[0]["sets"][0]["scores"]]
    for score in scores:
        cells = []
        for j in range(len(names)):
            rows = [dict(map(tuple, r["sets"][j]["scores"]))[score] for r in reports]
            cells.append(fmt([m["auroc"] for m in rows]))
            cells.append(fmt([m["fpr_at_95_tpr"] for m in rows]))
        print(f"| {score} | " + " | ".join(cells) + " |")
    print()
    print(f"Every metric, in-distribution positive ({pair}):\n")
    metrics = [("auroc", "AUROC"), ("aupr_in", "AUPR-in"), ("aupr_out", "AUPR-out"),
               ("fpr_at_95_tpr", "FPR@95"), ("detection_error", "detection error")]
    print("| against | score | " + " | ".join(label for _, label in metrics) + " |")
    print("|---|---|" + "---|" * len(metrics))
    for j, name in enumerate(names):
        for score in scores:
            rows = [dict(map(tuple, r["sets"][j]["scores"]))[score] for r in reports]
            print(f"| {name} | {score} | " + " | ".join(fmt([m[key] for m in rows]) for key, _ in metrics) + " |")
    print()
PY
