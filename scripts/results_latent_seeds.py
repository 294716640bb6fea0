#!/usr/bin/env python3
"""The latent models' MNIST one-class table over seeds: one OUT folder of
scripts/results_latent_models.sh per seed; per digit and column the mean ± std of the seeds'
AUROCs, and the ten-digit mean as mean ± std of the seeds' ten-digit means.

  python3 scripts/results_latent_seeds.py runs/latent-models-seed0 runs/latent-models-seed1 ...
"""
import json, statistics, sys

outs = sys.argv[1:]
digits = range(10)
# column -> run folder prefix and eval folder
columns = {
    "constrained-aae": ("constrained-aae", "eval-last"),
    "plain AAE": ("plain-aae", "eval-last"),
    "ALAE pixel": ("alae", "eval-last"),
    "ALAE latent": ("alae", "eval-last-alae-latent"),
    "autoencoder": ("autoencoder", "eval-last"),
}


def auroc(out, model, folder, k):
    return json.load(open(f"{out}/{model}-class{k}/{folder}/metrics.json"))["auroc"]


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


table = {c: {o: [auroc(o, m, f, k) for k in digits] for o in outs} for c, (m, f) in columns.items()}
print(f"| digit ({len(outs)} seeds) | " + " | ".join(columns) + " |")
print("|---|" + "---|" * len(columns))
for k in digits:
    print(f"| {k} | " + " | ".join(fmt([table[c][o][k] for o in outs]) for c in columns) + " |")
means = [fmt([statistics.mean(table[c][o]) for o in outs]) for c in columns]
print("| mean | " + " | ".join(means) + " |")
