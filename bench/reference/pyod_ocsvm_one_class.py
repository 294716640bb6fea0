"""PyOD's OCSVM (scikit-learn's OneClassSVM underneath) on exactly the split of an oddity
one-class run: the run's `train` and `test` rows of split.csv, each image through the Deep SVDD
preprocessing as oddity's `--scaling gcn-l1` (global contrast normalisation with the L1 norm
over all of an image's values; then min-max per channel to the training images' range). Prints
one JSON line: auc, and the seconds fit and scoring took.

The images are MNIST's or Fashion-MNIST's IDX files (`--idx`), or a tree of class folders
`train/<class>/` and `test/<class>/` (`--folders`, as the CIFAR-10 JPEG copy unpacks), read in
oddity's order: class folders sorted by name, files sorted by name within each; values in
channel-major order. JPEG decoders may round a pixel differently from oddity's (the `image`
crate), so on JPEG images the AUROC agrees closely rather than to the last digit.

    python pyod_ocsvm_one_class.py --idx ../shared/data/mnist --split run/split.csv
    python pyod_ocsvm_one_class.py --folders runs/cifar10-jpeg/cifar10_jpg --split run/split.csv

Benchmarks only (install: `pip install pyod scikit-learn pillow`); never a dependency of oddity.
"""

import argparse
import csv
import gzip
import json
import os
import time

import numpy as np
from pyod.models.ocsvm import OCSVM
from sklearn.metrics import roc_auc_score

parser = argparse.ArgumentParser()
source = parser.add_mutually_exclusive_group(required=True)
source.add_argument("--idx", help="folder of MNIST-style IDX files")
source.add_argument("--folders", help="folder with train/<class>/ and test/<class>/ images")
parser.add_argument("--split", required=True)
parser.add_argument("--nu", type=float, default=0.1)
args = parser.parse_args()


def idx_images(name):
    with gzip.open(f"{args.idx}/{name}-images-idx3-ubyte.gz") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 784)


class FolderImages:
    """One split's images in oddity's order, decoded when asked for."""

    def __init__(self, root):
        # Hidden entries (a name starting with a dot) are not data to oddity either.
        visible = lambda folder: sorted(n for n in os.listdir(folder) if not n.startswith("."))
        self.paths = [
            os.path.join(root, c, f)
            for c in visible(root) if os.path.isdir(os.path.join(root, c))
            for f in visible(os.path.join(root, c))
            if f.lower().endswith((".jpg", ".jpeg", ".png"))
        ]

    def __getitem__(self, i):
        from PIL import Image
        with Image.open(self.paths[i]) as image:
            pixels = np.asarray(image.convert("RGB"))
        return pixels.transpose(2, 0, 1).reshape(3, -1)


if args.idx:
    files = {"0": idx_images("train"), "1": idx_images("t10k")}
else:
    files = {"0": FolderImages(os.path.join(args.folders, "train")),
             "1": FolderImages(os.path.join(args.folders, "test"))}
rows = list(csv.DictReader(open(args.split)))


def take(role):
    """The role's images as (samples, channels, pixels) after GCN-L1, and their labels."""
    chosen = [r for r in rows if r["role"] == role]
    x = np.stack([files[r["split"]][int(r["index"])] for r in chosen]).astype(np.float64)
    x -= x.mean(axis=(1, 2), keepdims=True)
    x /= np.maximum(np.abs(x).mean(axis=(1, 2), keepdims=True), 1e-300)
    return x, np.array([int(r["label"]) for r in chosen])


x_train, _ = take("train")
x_test, y_test = take("test")
lo = x_train.min(axis=(0, 2), keepdims=True)
hi = x_train.max(axis=(0, 2), keepdims=True)
span = np.where(hi > lo, hi - lo, 1.0)  # a constant channel is left unscaled, as oddity does
x_train, x_test = [((x - lo) / span).reshape(len(x), -1) for x in (x_train, x_test)]
start = time.time()
model = OCSVM(nu=args.nu, gamma="scale").fit(x_train)
scores = model.decision_function(x_test)
print(json.dumps({"model": "pyod-ocsvm", "auc": roc_auc_score(y_test, scores),
                  "seconds": time.time() - start}))
