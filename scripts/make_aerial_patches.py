#!/usr/bin/env python3
"""Cut colour aerial patches from the hyperspectral scenes: an auxiliary outlier set for outlier
exposure on CIFAR-10 (docs/results/ood.md), where the paper's 80 Million Tiny Images are not at
hand and every other image set here is a test set (grey digits and clothes, noise).

Needs numpy, scipy and Pillow (bench/reference/install.sh's venv has them):

  bench/reference/.venv/bin/python scripts/make_aerial_patches.py [SHARED_DATA_DIR] [OUT_DIR]

Each scene (one copy of Pavia, one of HYDICE Urban; 16 scenes) is rendered in approximate true
colour from three bands near 650, 550 and 460 nm (the files carry no wavelengths: the indices
below assume each sensor's nominal, evenly spaced range), each band stretched between its 2nd
and 98th percentile over the scene. Crops of 32 pixels (stride 8) and 64 pixels (stride 12), in
four rotations (an aerial view has no up), are written as PNGs to OUT_DIR (runs/aerial-patches);
the classifier's loader resizes them to its 32 × 32. The scenes' labelled anomalies (planes,
vehicles) stay in: they are outliers too. Deterministic: the same files every run.
"""
import os, sys
import numpy as np
import scipy.io as sio
from PIL import Image

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
out = sys.argv[2] if len(sys.argv) > 2 else "runs/aerial-patches"
root = os.path.join(src, "hyperspectral")

# (file, bands for red, green, blue; 0-based). AVIRIS: 224 bands over ≈ 370–2500 nm (≈ 10 nm
# apart; these files drop some, mostly the water bands, so the visible indices are near their
# nominal places); HYDICE: 210 over 400–2500 nm; ROSIS: 102 kept of 115 over 430–860 nm. Which
# bands each file dropped is not recorded, so the colours are approximate: checked by eye on a
# contact sheet (grass green, water dark, roofs and runways grey).
AVIRIS = (28, 18, 8)
SCENES = [(f"abu/abu-{name}.mat", AVIRIS) for name in (
    "airport-1", "airport-2", "airport-3", "airport-4", "beach-1", "beach-2", "beach-3",
    "urban-1", "urban-2", "urban-3", "urban-4", "urban-5")] + [
    ("san-diego/sandiego_100x100x189_58px.mat", AVIRIS),
    ("san-diego/sandiego_plane_100x100x189_134px.mat", AVIRIS),
    ("hydice-urban/hydice_urban_80x100x175_21px.mat", (25, 15, 6)),
    ("pavia-center/pavia_100x100x102_71px_lzw.mat", (52, 28, 8)),
]
CROPS = [(32, 8), (64, 12)]  # (size, stride)


def cube_of(path):
    """The file's one three-dimensional array (the cube), as float64 H × W × B."""
    arrays = [v for k, v in sio.loadmat(path).items() if not k.startswith("__") and np.ndim(v) == 3]
    if len(arrays) != 1:
        raise SystemExit(f"{path}: expected one 3-D array, found {len(arrays)}")
    return arrays[0].astype(np.float64)


def true_colour(cube, bands):
    """Three bands as an H × W × 3 uint8 image, each stretched over its 2–98 % range."""
    planes = []
    for b in bands:
        plane = cube[:, :, b]
        low, high = np.percentile(plane, [2, 98])
        planes.append(np.clip((plane - low) / max(high - low, 1e-12), 0, 1))
    return (np.stack(planes, axis=2) * 255).round().astype(np.uint8)


os.makedirs(out, exist_ok=True)
count = 0
for name, bands in SCENES:
    image = true_colour(cube_of(os.path.join(root, name)), bands)
    stem = os.path.splitext(os.path.basename(name))[0]
    h, w, _ = image.shape
    for size, stride in CROPS:
        for top in range(0, h - size + 1, stride):
            for left in range(0, w - size + 1, stride):
                crop = image[top:top + size, left:left + size]
                for turn in range(4):
                    path = os.path.join(out, f"{stem}-{size}-{top:03d}-{left:03d}-r{turn}.png")
                    Image.fromarray(np.ascontiguousarray(np.rot90(crop, turn))).save(path)
                    count += 1
print(f"{count} patches from {len(SCENES)} scenes in {out}")
