#!/usr/bin/env python3
"""The VAE one-class tables over seeds: for each score (and PyOD's VAE), the per-class AUROC as
mean ± std over the seeds, and the ten-class mean as mean ± std of the seeds' ten-class means.
Reads the runs of scripts/results_vae_one_class.sh and scripts/results_vae_pyod_one_class.sh.

  python3 scripts/results_vae_seeds.py OUT DATASET SCALING SEED [SEED ...]
  python3 scripts/results_vae_seeds.py runs/vae-one-class-m11 mnist minus-one-to-one 0 1 2
"""
import json, os, statistics, sys

out, dataset, scaling, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
classes = range(10)
# row label -> file inside a run folder
rows = {
    "iwae": "eval-last/metrics.json",
    "reconstruction": "eval-last-reconstruction/metrics.json",
    "kl": "eval-last-kl/metrics.json",
    "elbo (k = 10)": "eval-last-elbo/metrics.json",
    "reconstruction-probability": "eval-last-reconstruction-probability/metrics.json",
    "*PyOD VAE*": "pyod-vae.json",
}


def auroc(seed, k, file):
    path = os.path.join(out, f"{dataset}-{k}-{scaling}-seed{seed}", file)
    return json.load(open(path))["auroc"]


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


print(f"| score ({len(seeds)} seeds) | " + " | ".join(map(str, classes)) + " | mean |")
print("|---|" + "---|" * (len(classes) + 1))
for label, file in rows.items():
    table = {s: [auroc(s, k, file) for k in classes] for s in seeds}
    cells = [fmt([table[s][k] for s in seeds]) for k in classes]
    means = [statistics.mean(table[s]) for s in seeds]
    print(f"| {label} | " + " | ".join(cells) + f" | {fmt(means)} |")
