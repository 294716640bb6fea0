"""A Python peer's detector on exactly the split of an oddity run, for side-by-side AUROC:
PyOD's AnoGAN, ALAD, OCSVM, DeepSVDD and VAE, DeepOD's GOAD.

Reads the table (ADBench .npz with X, y) or the images (an MNIST-layout folder of IDX files,
`--idx`, each image a row of 784 pixels) and the run's split.csv (role,split,index,label), fits
PyOD's model on the run's training rows, scaled as the oddity run was (`--scaling`: standardise,
oddity's default on tables: mean and population std of the training rows, constant columns left
unscaled; or minus-one-to-one, `x/127.5 − 1`, the VAE's default on images), scores the test rows
and prints one JSON line: model, auroc, seconds for fit and for scoring.

    .venv/bin/python pyod_side_by_side.py --model anogan --npz X.npz --split run/split.csv --seed 0
    .venv/bin/python pyod_side_by_side.py --model vae --idx ../shared/data/mnist \
        --scaling minus-one-to-one --split run/split.csv

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


def rows(split_csv, role):
    """(split, index, label) of each row of `role`; split 0 is a data set's training file."""
    with open(split_csv) as f:
        return [(int(r["split"]), int(r["index"]), int(r["label"]))
                for r in csv.DictReader(f) if r["role"] == role]


def idx_images(folder):
    """The training and test images of an MNIST-layout folder, by split (0, 1), as rows."""
    def read(name):
        with gzip.open(f"{folder}/{name}-images-idx3-ubyte.gz") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    return {0: read("train"), 1: read("t10k")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["anogan", "alad", "ocsvm", "deep-svdd", "goad", "vae"], required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--npz")
    source.add_argument("--idx")
    p.add_argument("--split", required=True)
    p.add_argument("--scaling", choices=["standardise", "minus-one-to-one"], default="standardise")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    if a.npz:
        table = np.load(a.npz)["X"].astype(np.float64)
        files = {0: table}
    else:
        files = idx_images(a.idx)
    take = lambda chosen: np.stack([files[s][i] for s, i, _ in chosen]).astype(np.float64)
    train = rows(a.split, "train")
    test = rows(a.split, "test")
    x_train = take(train)
    if a.scaling == "standardise":
        mean = x_train.mean(axis=0)
        var = np.maximum((x_train**2).mean(axis=0) - mean**2, 0.0)
        factor = np.where(var > 1e-12, 1.0 / np.sqrt(np.where(var > 1e-12, var, 1.0)), 1.0)
        scale = lambda v: ((v - mean) * factor).astype(np.float32)
    else:
        scale = lambda v: (v / 127.5 - 1.0).astype(np.float32)
    x_test = scale(take(test))
    y_test = np.array([l for _, _, l in test])

    library = "pyod"
    if a.model == "anogan":
        from pyod.models.anogan import AnoGAN

        model = AnoGAN(device="cpu")  # the library's defaults otherwise
    elif a.model == "alad":
        from pyod.models.alad import ALAD

        model = ALAD(device="cpu")
    elif a.model == "ocsvm":
        from pyod.models.ocsvm import OCSVM

        model = OCSVM()
    elif a.model == "deep-svdd":
        from pyod.models.deep_svdd import DeepSVDD

        model = DeepSVDD(n_features=x_train.shape[1], verbose=0, random_state=a.seed)
    elif a.model == "vae":
        from pyod.models.vae import VAE

        # PyOD's defaults (MLP 128-64-32, latent 2, 30 epochs, reconstruction-error score); its
        # own standardisation is off, the rows being standardised above as oddity's are.
        model = VAE(preprocessing=False, random_state=a.seed, verbose=0, device="cpu")
    else:
        from deepod.models.tabular import GOAD

        library = "deepod"
        # The official Thyroid/Arrhythmia settings, as oddity's default preset (DeepOD's own
        # defaults, 100 epochs of five layers, take minutes a run on these CPUs).
        model = GOAD(epochs=1, n_trans=256, trans_dim=32, hidden_dim=8, n_layers=1,
                     device="cpu", random_state=a.seed, verbose=0)

    t0 = time.perf_counter()
    model.fit(scale(x_train))
    t1 = time.perf_counter()
    scores = model.decision_function(x_test)
    t2 = time.perf_counter()
    print(json.dumps({
        "model": f"{library}-{a.model}",
        "auroc": float(roc_auc_score(y_test, scores)),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "train_rows": len(train),
        "test_rows": len(test),
    }))


if __name__ == "__main__":
    main()
