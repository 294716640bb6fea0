#!/usr/bin/env python3
"""Does a trained MNIST detector score the class or just the amount of ink?

For an evaluated run (its `split.csv` and `eval-<checkpoint>/scores.csv`), prints the Spearman
rank correlation between each test image's score and its mean pixel intensity, and the mean
intensity of the test normals and anomalies. A detector whose scores follow the ink (|ρ| near 1)
ranks the classes by how much ink they carry, which inverts it whenever the normal digit is
the inkier one. Standard library only.

    python3 scripts/score_vs_ink.py RUN_DIR [MNIST_DIR] [CHECKPOINT]
"""
import csv
import gzip
import sys


def images(path):
    raw = gzip.open(path).read()
    return [raw[16 + i * 784:16 + (i + 1) * 784] for i in range((len(raw) - 16) // 784)]


def ranks(values):
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2  # ties share their mean rank
        i = j + 1
    return out


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / (va * vb) ** 0.5


def main():
    run = sys.argv[1]
    mnist = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/mnist"
    checkpoint = sys.argv[3] if len(sys.argv) > 3 else "last"
    # split.csv's `split` column: 0 = MNIST training file, 1 = test file.
    files = [images(f"{mnist}/train-images-idx3-ubyte.gz"), images(f"{mnist}/t10k-images-idx3-ubyte.gz")]
    test = [r for r in csv.DictReader(open(f"{run}/split.csv")) if r["role"] == "test"]
    scored = list(csv.DictReader(open(f"{run}/eval-{checkpoint}/scores.csv")))
    if len(test) != len(scored):
        sys.exit(f"error: {run}: split.csv has {len(test)} test rows, scores.csv {len(scored)}")
    ink = [sum(files[int(r["split"])][int(r["index"])]) / 784 for r in test]
    labels = [int(r["label"]) for r in test]
    if labels != [int(r["label"]) for r in scored]:
        sys.exit(f"error: {run}: split.csv and scores.csv disagree on the labels")
    scores = [float(r["score"]) for r in scored]
    rho = pearson(ranks(scores), ranks(ink))
    mean = lambda label: sum(v for v, l in zip(ink, labels) if l == label) / labels.count(label)
    print(f"{run}: spearman(score, ink) = {rho:.3f}; mean ink normal {mean(0):.1f}, anomaly {mean(1):.1f}")


if __name__ == "__main__":
    main()
