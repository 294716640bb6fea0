#!/usr/bin/env python3
"""Per-run mean ± std of test AUROC over several seeds' result folders (same run names in each).

  python3 scripts/results_seeds.py TITLE ROOT_SEED0 ROOT_SEED1 ...
"""
import json, os, statistics, sys

title, roots = sys.argv[1], sys.argv[2:]
names = sorted(n for n in os.listdir(roots[0]) if os.path.isfile(os.path.join(roots[0], n, "train-log.json")))


def auroc(root, name, ck):
    return json.load(open(os.path.join(root, name, f"eval-{ck}", "metrics.json")))["auroc"]


def fmt(values):
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


print(f"### {title} ({len(roots)} seeds, mean ± std)\n")
print("| run | AUROC last | AUROC best-by-val |")
print("|---|---|---|")
means = {"last": [], "best": []}
for n in names:
    cells = []
    for ck in ("last", "best"):
        v = [auroc(r, n, ck) for r in roots]
        means[ck].append(statistics.mean(v))
        cells.append(fmt(v))
    print(f"| {n} | {cells[0]} | {cells[1]} |")
print(f"| **mean over runs** | **{statistics.mean(means['last']):.3f}** | **{statistics.mean(means['best']):.3f}** |")
