#!/usr/bin/env python3
"""Cut the two small hyperspectral scenes the tests use from ../shared/data/hyperspectral.

Needs numpy and scipy (e.g. python3 -m venv /tmp/scipy && /tmp/scipy/bin/pip install scipy):

  /tmp/scipy/bin/python scripts/make_hyperspectral_fixtures.py [SHARED_DATA_DIR]

- fixtures/hyperspectral/abu-beach-2-cut.mat: rows 16..47, columns 28..59 (0-based) of
  abu/abu-beach-2.mat, all 193 bands, as int16 under `data` and `map` (the file's own names),
  zlib-compressed (129 of the 1024 pixels are anomalies).
- fixtures/hyperspectral/hydice-urban-175-cut.mat: rows 48..79, columns 24..55 of
  hydice-urban/hydice_urban_80x100x175_21px.mat, all 175 bands, as uint16 under `hsi` and
  `hsi_gt` (its own names: a short one and a long one), uncompressed (6 anomalies).

The values are the originals', unchanged; the files differ from run to run only in the date
scipy writes into the header.
"""
import os, sys
import numpy as np
import scipy.io as sio

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hyperspectral")
os.makedirs(out, exist_ok=True)

CUTS = [
    ("abu/abu-beach-2.mat", "data", "map", 16, 28, "abu-beach-2-cut.mat", True),
    ("hydice-urban/hydice_urban_80x100x175_21px.mat", "hsi", "hsi_gt", 48, 24, "hydice-urban-175-cut.mat", False),
]
for path, cube_var, map_var, row, col, name, compress in CUTS:
    scene = sio.loadmat(os.path.join(src, "hyperspectral", path))
    cube = scene[cube_var][row : row + 32, col : col + 32, :]
    truth = scene[map_var][row : row + 32, col : col + 32].astype(np.uint8)
    sio.savemat(os.path.join(out, name), {cube_var: cube, map_var: truth}, do_compression=compress)
    print(name, cube.shape, cube.dtype, int(truth.sum()), "anomalies")
