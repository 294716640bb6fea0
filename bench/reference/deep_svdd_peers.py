"""The Python peers' Deep SVDD and Deep SAD on exactly the split of an oddity MNIST (or
Fashion-MNIST) one-class run, for side-by-side AUROC: PyOD's `DeepSVDD`, DeepOD's `DeepSVDD`
and, when the split has `labelled` rows (an oddity Deep SAD run's), DeepOD's `DeepSAD` fitted on
the training rows plus those labelled anomalies (y = 1), the others y = 0.

Each image goes through the Deep SVDD preprocessing as oddity's `--scaling gcn-l1` (global
contrast normalisation with the L1 norm, then min-max to the training images' range). The
peers are fully connected networks on the 784 pixels (neither library has the paper's LeNet
for tables of pixels); their own defaults are kept except the epochs (`--epochs`, to match
oddity's budget) and the device (CPU). Prints one JSON line a model: auroc and seconds.

    .venv/bin/python deep_svdd_peers.py --idx ../shared/data/mnist --split run/split.csv --epochs 20

Benchmarks only (install: bench/reference/install.sh); never a dependency of oddity.
"""

import argparse
import csv
import gzip
import json
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def images(idx, name):
    with gzip.open(f"{idx}/{name}-images-idx3-ubyte.gz") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--idx", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    files = {"0": images(a.idx, "train"), "1": images(a.idx, "t10k")}
    with open(a.split) as f:
        rows = list(csv.DictReader(f))

    def take(role):
        chosen = [r for r in rows if r["role"] == role]
        if not chosen:
            return np.zeros((0, 784)), np.zeros(0, dtype=int)
        x = np.stack([files[r["split"]][int(r["index"])] for r in chosen]).astype(np.float64)
        x -= x.mean(axis=1, keepdims=True)
        x /= np.maximum(np.abs(x).mean(axis=1, keepdims=True), 1e-300)
        return x, np.array([int(r["label"]) for r in chosen])

    x_train, _ = take("train")
    x_labelled, _ = take("labelled")
    x_test, y_test = take("test")
    lo, hi = x_train.min(), x_train.max()
    scale = lambda v: ((v - lo) / (hi - lo)).astype(np.float32)
    x_train, x_labelled, x_test = scale(x_train), scale(x_labelled), scale(x_test)

    from deepod.models.tabular import DeepSAD
    from deepod.models.tabular import DeepSVDD as DeepodSVDD
    from pyod.models.deep_svdd import DeepSVDD as PyodSVDD

    runs = [
        ("pyod-deep-svdd", PyodSVDD(n_features=784, epochs=a.epochs, verbose=0, random_state=a.seed), None),
        ("deepod-deep-svdd", DeepodSVDD(epochs=a.epochs, device="cpu", verbose=0, random_state=a.seed), None),
    ]
    if len(x_labelled):
        runs.append(("deepod-deep-sad", DeepSAD(epochs=a.epochs, device="cpu", verbose=0, random_state=a.seed), x_labelled))
    for name, model, labelled in runs:
        t0 = time.perf_counter()
        if labelled is None:
            model.fit(x_train)
        else:
            x = np.concatenate([x_train, labelled])
            y = np.concatenate([np.zeros(len(x_train), dtype=int), np.ones(len(labelled), dtype=int)])
            model.fit(x, y)
        t1 = time.perf_counter()
        scores = model.decision_function(x_test)
        t2 = time.perf_counter()
        print(json.dumps({"model": name, "auroc": float(roc_auc_score(y_test, scores)),
                          "fit_s": t1 - t0, "score_s": t2 - t1, "train_rows": len(x_train),
                          "labelled_rows": len(x_labelled) if labelled is not None else 0,
                          "test_rows": len(x_test)}), flush=True)


if __name__ == "__main__":
    main()
