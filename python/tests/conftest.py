"""Shared fixtures: the repository's data fixtures and its `oddity` binary."""

import gzip
import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="session")
def oddity_bin():
    """The command line built from this checkout (`cargo build --release`)."""
    path = pathlib.Path(os.environ.get("ODDITY_BIN", ROOT / "target" / "release" / "oddity"))
    if not path.is_file():
        pytest.fail(f"{path} missing: run `cargo build --release` first (or set ODDITY_BIN)")
    return path


def run_cli(binary, *args):
    result = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="session")
def breastw():
    """ADBench breastw: X (683 × 9) and y (1 = anomaly)."""
    data = np.load(FIXTURES / "adbench" / "4_breastw.npz")
    return data["X"], data["y"].astype(int)


def idx_test_images(folder, count):
    """The first `count` test images of an IDX fixture (`mnist`, `fashion-mnist`), (n, 28, 28)
    uint8, and their labels."""
    with gzip.open(FIXTURES / folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(FIXTURES / folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return images[:count], labels[:count]


def mnist_test_images(count):
    """The first `count` test digits of the MNIST fixture, (n, 28, 28) uint8, and labels."""
    return idx_test_images("mnist", count)


def auroc(scores, labels):
    """Area under the ROC curve by ranks (ties averaged)."""
    scores = np.asarray(scores, dtype=float)
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
