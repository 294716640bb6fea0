#!/usr/bin/env python3
"""Cut the small real fixtures the tests and `oddity demo` use from ../shared/data.

Standard library only. Deterministic: rerunning it rewrites byte-identical files.

  python3 scripts/make_fixtures.py [SHARED_DATA_DIR]

- fixtures/mnist/: the first 300 training and first 100 test images of each digit, as IDX gzip
  files with the canonical names (so the real IDX parser reads them).
- fixtures/fashion-mnist/: the first 10 training and first 50 test images of each class, the same
  way (the out-of-distribution set of the OOD tests).
- fixtures/kddcup99/kddcup.data_10_percent.gz: 4000 rows drawn with seed 0 from the 10 % file.
- fixtures/adbench/: two small ADBench tables copied as they are (42_WBC, 4_breastw).
- fixtures/magnetic-tile/: the first 48 MT_Free images and the first 4 images of each defect
  type (by file name), each with its mask, copied as they are.
"""
import gzip, os, random, shutil, struct, sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
out = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def read_idx(path):
    data = gzip.open(path, "rb").read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return dims, data[4 + 4 * ndim :]


def write_idx(path, dims, body):
    header = bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    # mtime=0 keeps the gzip bytes reproducible
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
            g.write(header + body)


def cut_mnist(split, per_class, name="mnist"):
    (n, h, w), images = read_idx(os.path.join(src, name, f"{split}-images-idx3-ubyte.gz"))
    _, labels = read_idx(os.path.join(src, name, f"{split}-labels-idx1-ubyte.gz"))
    taken, count = [], [0] * 10
    for i in range(n):
        if count[labels[i]] < per_class:
            count[labels[i]] += 1
            taken.append(i)
    os.makedirs(os.path.join(out, name), exist_ok=True)
    size = h * w
    write_idx(os.path.join(out, name, f"{split}-images-idx3-ubyte.gz"), (len(taken), h, w),
              b"".join(images[i * size : (i + 1) * size] for i in taken))
    write_idx(os.path.join(out, name, f"{split}-labels-idx1-ubyte.gz"), (len(taken),),
              bytes(labels[i] for i in taken))


cut_mnist("train", 300)
cut_mnist("t10k", 100)
cut_mnist("train", 10, "fashion-mnist")
cut_mnist("t10k", 50, "fashion-mnist")

lines = gzip.open(os.path.join(src, "kddcup99", "kddcup.data_10_percent.gz"), "rt").read().splitlines()
rows = sorted(random.Random(0).sample(range(len(lines)), 4000))
os.makedirs(os.path.join(out, "kddcup99"), exist_ok=True)
with open(os.path.join(out, "kddcup99", "kddcup.data_10_percent.gz"), "wb") as f:
    with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
        g.write(("\n".join(lines[i] for i in rows) + "\n").encode())

os.makedirs(os.path.join(out, "adbench"), exist_ok=True)
for name in ["42_WBC.npz", "4_breastw.npz"]:
    shutil.copyfile(os.path.join(src, "adbench-classical", name), os.path.join(out, "adbench", name))
for kind in sorted(os.listdir(os.path.join(src, "magnetic-tile"))):
    images = os.path.join(src, "magnetic-tile", kind, "Imgs")
    if not os.path.isdir(images):
        continue
    target = os.path.join(out, "magnetic-tile", kind, "Imgs")
    os.makedirs(target, exist_ok=True)
    jpgs = sorted(f for f in os.listdir(images) if f.endswith(".jpg"))
    for name in jpgs[: 48 if kind == "MT_Free" else 4]:
        for ext in [".jpg", ".png"]:
            shutil.copyfile(os.path.join(images, name[:-4] + ext), os.path.join(target, name[:-4] + ext))
print("fixtures written to", os.path.normpath(out))
