"""A Python peer's detector on exactly the split of an oddity run, for side-by-side AUROC:
PyOD's AnoGAN, ALAD, OCSVM, DeepSVDD and VAE, DeepOD's GOAD.

Reads the table (ADBench .npz with X, y; or KDDCUP99's 10 % file, `--kdd`, encoded as oddity's
`src/data/kdd.rs` encodes it) or the images (an MNIST-layout folder of IDX files, `--idx`, each
image a row of 784 pixels) and the run's split.csv (role,split,index,label), fits
PyOD's model on the run's training rows, scaled as the oddity run was (`--scaling`: standardise,
oddity's default on tables: mean and population std of the training rows, constant columns left
unscaled, and `--unscaled-columns A..B` left as they are, as oddity's option of that name; or
minus-one-to-one, `x/127.5 − 1`, the VAE's default on images), scores the test rows
and prints one JSON line: model, auroc, seconds for fit and for scoring.

    .venv/bin/python pyod_side_by_side.py --model anogan --npz X.npz --split run/split.csv --seed 0
    .venv/bin/python pyod_side_by_side.py --model goad --preset kdd \
        --kdd ../shared/data/kddcup99/kddcup.data_10_percent.gz --unscaled-columns 34..121 \
        --split run/split.csv --seed 0
    .venv/bin/python pyod_side_by_side.py --model vae --idx ../shared/data/mnist \
        --scaling minus-one-to-one --split run/split.csv

Benchmarks only (install: bench/reference/install.sh); never a dependency of oddity.
"""

import argparse
import csv
import gzip
import json
import os
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


# KDDCUP99's symbolic or binary columns (0-based), one-hot encoded after the 34 numeric ones.
KDD_SYMBOLIC = [1, 2, 3, 6, 11, 20, 21]


def kdd_table(path):
    """KDDCUP99's 10 % file as oddity encodes it (src/data/kdd.rs): the 34 numeric columns in file
    order, then each symbolic column one-hot over its categories in the file, sorted: 121 columns."""
    import pandas

    frame = pandas.read_csv(path, header=None)
    numeric = [c for c in range(41) if c not in KDD_SYMBOLIC]
    parts = [frame[numeric].to_numpy(np.float64)]
    for c in KDD_SYMBOLIC:
        values = frame[c].astype(str).str.strip()
        parts += [(values == v).to_numpy(np.float64)[:, None] for v in sorted(values.unique())]
    table = np.concatenate(parts, axis=1)
    if table.shape[1] != 121:
        raise SystemExit(f"{path}: {table.shape[1]} encoded columns, expected 121 (the 10 % file?)")
    return table


def column_range(text):
    """`A..B`, 0-based and B excluded, as oddity's --unscaled-columns."""
    start, _, end = text.partition("..")
    start, end = int(start), int(end)
    if not 0 <= start < end:
        raise argparse.ArgumentTypeError(f"{text!r}: expected A..B with 0 <= A < B")
    return range(start, end)


# DeepOD GOAD's settings for each of oddity's table presets (the official code's README commands).
# DeepOD's `ConvNet` builds `n_layers + 1` convolutions, so the code's one-layer netC1 (Thyroid,
# Arrhythmia) is `n_layers=0` and its five-layer netC5 (KDDCUP99) `n_layers=4`. What DeepOD's
# interface does not reach stays DeepOD's own: LeakyReLU's slope 0.01 between the convolutions
# (the code's 0.2), Adam's β₁ 0.9 and weight decay 1e-5 (the code's β₁ 0.5, no decay), and the
# centres taken from the final weights after training (the code's: over the last epoch).
GOAD_PRESETS = {
    "thyroid": dict(epochs=1, n_trans=256, trans_dim=32, hidden_dim=8, n_layers=0),
    "arrhythmia": dict(epochs=1, n_trans=256, trans_dim=32, hidden_dim=8, n_layers=0),
    "kdd": dict(epochs=25, n_trans=64, trans_dim=64, hidden_dim=32, n_layers=4),
    "kddrev": dict(epochs=25, n_trans=256, trans_dim=128, hidden_dim=128, n_layers=4),
}


# Test rows scored per call.
SCORE_CHUNK = 65536


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["anogan", "alad", "ocsvm", "deep-svdd", "goad", "vae"], required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--npz")
    source.add_argument("--idx")
    source.add_argument("--kdd")
    p.add_argument("--split", required=True)
    p.add_argument("--scaling", choices=["standardise", "minus-one-to-one"], default="standardise")
    p.add_argument("--unscaled-columns", type=column_range)
    p.add_argument("--preset", choices=sorted(GOAD_PRESETS),
                   help="GOAD only: the official settings of this data set (thyroid if not given)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.preset is not None and a.model != "goad":
        p.error("--preset is GOAD's")
    for option, path in [("--npz", a.npz), ("--kdd", a.kdd), ("--idx", a.idx), ("--split", a.split)]:
        if path is not None and not os.path.exists(path):
            p.error(f"{option} {path}: no such file or folder")
    if a.unscaled_columns is not None and a.scaling != "standardise":
        p.error("--unscaled-columns leaves columns out of standardisation; --scaling is not standardise")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    if a.npz:
        table = np.load(a.npz)["X"].astype(np.float64)
        files = {0: table}
    elif a.kdd:
        files = {0: kdd_table(a.kdd)}
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
        if a.unscaled_columns is not None:
            if a.unscaled_columns.stop > x_train.shape[1]:
                raise SystemExit(f"--unscaled-columns reaches past the table's {x_train.shape[1]} columns")
            mean[a.unscaled_columns] = 0.0
            factor[a.unscaled_columns] = 1.0
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
        # The official settings of the data set, as oddity's preset of that name (DeepOD's own
        # defaults, 100 epochs of five layers, take minutes a run on these CPUs); batches of 64
        # rows and Adam's learning rate 1e-3 are DeepOD's defaults and the code's.
        settings = GOAD_PRESETS[a.preset or "thyroid"]
        model = GOAD(**settings, device="cpu", random_state=a.seed, verbose=0)

    t0 = time.perf_counter()
    model.fit(scale(x_train))
    t1 = time.perf_counter()
    # In chunks: DeepOD's GOAD holds every transformed test row at once (KDDCUP99's 295 650
    # rows through 64 maps to 64 dimensions: 10 GB in float64). Every model here scores each row
    # alone; DeepOD's GOAD recomputes its centres in each call as the mean of the batch means
    # of a reshuffled pass over the training rows, which moves them only by which rows fall in
    # the last, partial batch (one batch in 2 790 on KDDCUP99; one call on smaller tables).
    scores = np.concatenate([model.decision_function(x_test[i:i + SCORE_CHUNK])
                             for i in range(0, len(x_test), SCORE_CHUNK)])
    t2 = time.perf_counter()
    print(json.dumps({
        "model": f"{library}-{a.model}",
        # What the peer ran with, so a kept result says which settings made it.
        "settings": settings if a.model == "goad" else None,
        "auroc": float(roc_auc_score(y_test, scores)),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "train_rows": len(train),
        "test_rows": len(test),
    }))


if __name__ == "__main__":
    main()
