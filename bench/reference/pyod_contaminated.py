"""PyOD's IForest and OC-SVM on exactly the sets of oddity's contaminated-protocol runs.

Reads Fashion-MNIST's test images (IDX, gzip) and a run's split.csv, takes the run's `test`
rows (the contaminated set, which that protocol also trains on), preprocesses them as RSRAE's
script does (x/127.5 − 1, then each image to unit L2 norm), fits each detector on the set,
scores the same set, and prints one JSON line per detector: model, auc, ap.

    python pyod_contaminated.py --idx ../shared/data/fashion-mnist --split run/split.csv

Benchmarks only (install: `pip install pyod scikit-learn`); never a dependency of oddity.
"""

import argparse
import csv
import gzip
import json

import numpy as np
from pyod.models.iforest import IForest
from pyod.models.ocsvm import OCSVM
from sklearn.metrics import average_precision_score, roc_auc_score

parser = argparse.ArgumentParser()
parser.add_argument("--idx", required=True)
parser.add_argument("--split", required=True)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

with gzip.open(f"{args.idx}/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
rows = [r for r in csv.DictReader(open(args.split)) if r["role"] == "test"]
assert all(r["split"] == "1" for r in rows), "expected the test file's images"
x = images[[int(r["index"]) for r in rows]].astype(np.float64) / 127.5 - 1
x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
y = np.array([int(r["label"]) for r in rows])
for name, model in [("iforest", IForest(random_state=args.seed)), ("ocsvm", OCSVM())]:
    model.fit(x)
    s = model.decision_function(x)
    print(json.dumps({"model": name, "auc": roc_auc_score(y, s),
                      "ap": average_precision_score(y, s)}))
