#!/usr/bin/env python3
"""RSRAE's contamination sweep over seeds: one OUT folder of scripts/results_rsrae.sh per seed
(same CS, CLASSES and MODELS). Per contamination level c and column: AUC and AP averaged over the
inlier classes within a seed, then mean ± std over the seeds; a last table counts, per c, the
seeds in which each column has the best class-mean AUC.

  python3 scripts/results_rsrae_seeds.py runs/rsrae-seed0 runs/rsrae-seed1 runs/rsrae-seed2
  (CS and CLASSES as the sweep's, default all five levels and all ten classes)
"""
import json, os, statistics, sys

outs = sys.argv[1:]
if not outs:
    sys.exit(__doc__)
cs = os.environ.get("CS", "0.1 0.3 0.5 0.7 0.9").split()
classes = os.environ.get("CLASSES", "0 1 2 3 4 5 6 7 8 9").split()
models = os.environ.get("MODELS", "rsrae rsrae-plus autoencoder").split()
names = models + ["iforest", "ocsvm"]


def figures(out, name, c, k):
    """(AUC, AP) of one column on one contaminated set."""
    if name in models:
        m = json.load(open(f"{out}/{name}-c{c}-class{k}/eval-last/metrics.json"))
        return m["auroc"], m["auprc"]
    for line in open(f"{out}/pyod-c{c}-class{k}.jsonl"):
        r = json.loads(line)
        if r["model"] == name:
            return r["auc"], r["ap"]
    raise KeyError(f"{name} missing from {out}/pyod-c{c}-class{k}.jsonl")


def class_means(out, name, c):
    pairs = [figures(out, name, c, k) for k in classes]
    return statistics.mean(p[0] for p in pairs), statistics.mean(p[1] for p in pairs)


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


means = {(o, n, c): class_means(o, n, c) for o in outs for n in names for c in cs}
for index, metric in ((0, "AUC"), (1, "AP")):
    print(f"\n{metric}, mean over {len(classes)} inlier classes, ± over {len(outs)} seeds\n")
    print("| c | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for c in cs:
        cells = [fmt([means[(o, n, c)][index] for o in outs]) for n in names]
        print(f"| {c} | " + " | ".join(cells) + " |")
print(f"\nSeeds (of {len(outs)}) in which the column has the best class-mean AUC\n")
print("| c | " + " | ".join(names) + " |")
print("|---|" + "---|" * len(names))
for c in cs:
    wins = {n: 0 for n in names}
    for o in outs:
        wins[max(names, key=lambda n: means[(o, n, c)][0])] += 1
    print(f"| {c} | " + " | ".join(str(wins[n]) for n in names) + " |")
