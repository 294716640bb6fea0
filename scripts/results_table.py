#!/usr/bin/env python3
"""Collect the metrics.json of every run folder under ROOT into a Markdown table.

  python3 scripts/results_table.py ROOT TITLE
"""
import json, os, sys

root, title = sys.argv[1], sys.argv[2]
rows = []
for name in sorted(os.listdir(root)):
    run = os.path.join(root, name)
    log = os.path.join(run, "train-log.json")
    if not os.path.isfile(log):
        continue
    train_log = json.load(open(log))
    row = {"run": name, "best_epoch": train_log["best_epoch"], "epochs": len(train_log["epochs"]),
           "samples_per_s": sum(e["samples_per_second"] for e in train_log["epochs"]) / len(train_log["epochs"])}
    for ck in ("last", "best"):
        p = os.path.join(run, f"eval-{ck}", "metrics.json")
        if os.path.isfile(p):
            row[ck] = json.load(open(p))
    rows.append(row)

print(f"### {title}\n")
print("| run | AUROC last | AUROC best-by-val (epoch) | AUPRC last | F1 last (p95 thr.) | train samples/s |")
print("|---|---|---|---|---|---|")
for r in rows:
    last, best = r.get("last", {}), r.get("best", {})
    print(f"| {r['run']} | {last.get('auroc', float('nan')):.4f} | {best.get('auroc', float('nan')):.4f} ({r['best_epoch']}/{r['epochs']}) "
          f"| {last.get('auprc', float('nan')):.4f} | {last.get('f1', float('nan')):.4f} | {r['samples_per_s']:.0f} |")
lasts = [r["last"]["auroc"] for r in rows if "last" in r]
bests = [r["best"]["auroc"] for r in rows if "best" in r]
if lasts:
    print(f"| **mean** | **{sum(lasts)/len(lasts):.4f}** | **{sum(bests)/max(len(bests),1):.4f}** | | | |")
