#!/usr/bin/env bash
# ALAD's four anomaly scores on the same trained weights (the paper computes fm, l1, l2 and ch;
# fm is its headline): each run's CHECKPOINT is re-scored with `oddity eval --model-config`
# (threshold refitted on the run's validation split). Prints AUROC per score, and with
# PERCENTILE set, F1 at that percentile of the test scores (the papers' KDD99 80 /
# Arrhythmia 85 protocol) as well.
#
#   [PERCENTILE=80] [CHECKPOINT=last] scripts/results_alad_scores.sh RUN_DIR...
set -euo pipefail
BIN=${ODDITY:-target/release/oddity}
CHECKPOINT=${CHECKPOINT:-last}
PERCENTILE=${PERCENTILE:-}
SCORES="fm l1 l2 ch"
configs=$(mktemp -d)
trap 'rm -rf "$configs"' EXIT
for s in $SCORES; do echo "{\"score\": \"$s\"}" > "$configs/score-$s.json"; done

header="| run |"; rule="|---|"
for s in $SCORES; do
  header+=" AUROC $s |"; rule+="---|"
  [ -n "$PERCENTILE" ] && header+=" F1 $s |" && rule+="---|"
done
echo "$header"; echo "$rule"
for run in "$@"; do
  row="| $run |"
  for s in $SCORES; do
    eval_dir="$run/eval-$CHECKPOINT-score-$s"
    if [ ! -f "$eval_dir/metrics.json" ]; then
      "$BIN" eval "$run" --checkpoint "$CHECKPOINT" --model-config "$configs/score-$s.json" > /dev/null
    fi
    row+=" $(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["auroc"])' "$eval_dir/metrics.json") |"
    if [ -n "$PERCENTILE" ]; then
      "$BIN" metrics --scores "$eval_dir/scores.csv" --score-percentile "$PERCENTILE" \
        --json "$eval_dir/paper-threshold.json" > /dev/null
      row+=" $(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["f1"])' "$eval_dir/paper-threshold.json") |"
    fi
  done
  echo "$row"
done
