#!/usr/bin/env python3
"""RSRAE's contamination sweep over seeds, from the record scripts/results_rsrae.sh appends to
(a CSV: seed, c, class, column, epochs, auc, ap). Per contamination level c and column: AUC and
AP averaged over the inlier classes within a seed, then mean ± std over the seeds; a last table
counts, per c, the seeds in which each column has the best class-mean AUC. A level enters a
seed's figures only when all its classes are recorded for that seed; the first table says which
seeds each level holds.

  python3 scripts/results_rsrae_seeds.py docs/results/rsrae-sweep.csv
  (SEEDS default every seed in the record; EPOCHS default 20; CS and CLASSES as the sweep's,
  default all five levels and all ten classes)
"""
import csv, os, statistics, sys

if len(sys.argv) != 2:
    sys.exit(__doc__)
cs = os.environ.get("CS", "0.1 0.3 0.5 0.7 0.9").split()
classes = os.environ.get("CLASSES", "0 1 2 3 4 5 6 7 8 9").split()
models = os.environ.get("MODELS", "rsrae rsrae-plus autoencoder").split()
epochs = os.environ.get("EPOCHS", "20")
names = models + ["iforest", "ocsvm"]

figures = {}  # (seed, c, class, column) -> (auc, ap)
with open(sys.argv[1]) as f:
    for row in csv.DictReader(f):
        if row["epochs"] == epochs:
            key = (row["seed"], row["c"], row["class"], row["column"])
            figures[key] = (float(row["auc"]), float(row["ap"]))
seeds = os.environ.get("SEEDS", " ".join(sorted({k[0] for k in figures}, key=int))).split()


def complete(seed, c):
    return all((seed, c, k, n) in figures for k in classes for n in names)


def class_mean(seed, c, name, index):
    return statistics.mean(figures[(seed, c, k, name)][index] for k in classes)


def fmt(values):
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


held = {c: [s for s in seeds if complete(s, c)] for c in cs}
print(f"\nSeeds with all {len(classes)} classes recorded ({epochs} epochs)\n")
print("| c | seeds |")
print("|---|---|")
for c in cs:
    print(f"| {c} | {', '.join(held[c]) or 'none'} |")
for index, metric in ((0, "AUC"), (1, "AP")):
    print(f"\n{metric}, mean over {len(classes)} inlier classes, ± over the seeds above\n")
    print("| c | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for c in cs:
        cells = [fmt([class_mean(s, c, n, index) for s in held[c]]) for n in names]
        print(f"| {c} | " + " | ".join(cells) + " |")
print("\nSeeds in which the column has the best class-mean AUC\n")
print("| c | " + " | ".join(names) + " |")
print("|---|" + "---|" * len(names))
for c in cs:
    wins = {n: 0 for n in names}
    for s in held[c]:
        wins[max(names, key=lambda n: class_mean(s, c, n, 0))] += 1
    print(f"| {c} | " + " | ".join(str(wins[n]) for n in names) + " |")
