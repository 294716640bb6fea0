"""PyOD's OCSVM (scikit-learn's OneClassSVM underneath) on exactly the split of an oddity
one-class run on MNIST or Fashion-MNIST: the run's `train` and `test` rows of split.csv, each
image through the Deep SVDD preprocessing as oddity's `--scaling gcn-l1` (global contrast
normalisation, L1; then min-max to the training images' range, which for one channel is
oddity's per-channel min-max). Prints one JSON line: auc, and the seconds fit and scoring took.

    python pyod_ocsvm_one_class.py --idx ../shared/data/mnist --split run/split.csv

Benchmarks only (install: `pip install pyod scikit-learn`); never a dependency of oddity.
"""

import argparse
import csv
import gzip
import json
import time

import numpy as np
from pyod.models.ocsvm import OCSVM
from sklearn.metrics import roc_auc_score

parser = argparse.ArgumentParser()
parser.add_argument("--idx", required=True)
parser.add_argument("--split", required=True)
parser.add_argument("--nu", type=float, default=0.1)
args = parser.parse_args()


def images(name):
    with gzip.open(f"{args.idx}/{name}-images-idx3-ubyte.gz") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)


files = {"0": images("train"), "1": images("t10k")}
rows = list(csv.DictReader(open(args.split)))


def take(role):
    chosen = [r for r in rows if r["role"] == role]
    x = np.stack([files[r["split"]][int(r["index"])] for r in chosen]).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.maximum(np.abs(x).mean(axis=1, keepdims=True), 1e-300)
    return x, np.array([int(r["label"]) for r in chosen])


x_train, _ = take("train")
x_test, y_test = take("test")
lo, hi = x_train.min(), x_train.max()
x_train, x_test = (x_train - lo) / (hi - lo), (x_test - lo) / (hi - lo)
start = time.time()
model = OCSVM(nu=args.nu, gamma="scale").fit(x_train)
scores = model.decision_function(x_test)
print(json.dumps({"model": "pyod-ocsvm", "auc": roc_auc_score(y_test, scores),
                  "seconds": time.time() - start}))
