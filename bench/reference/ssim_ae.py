"""A PyTorch SSIM autoencoder (Bergmann et al., VISAPP 2019) on the very split of an oddity run,
for the side-by-side table of docs/results/localisation.md. Benchmarks only; never a dependency
of oddity. Written for this project from the paper (no official code exists), mirroring
oddity's `ssim-ae` by tiles: the paper's layer table (4×4 stride-2 and 3×3 stride-1 convolutions,
LeakyReLU 0.2, a bottom convolution to the latent), SSIM with an 11×11 Gaussian window (σ 1.5,
K1 0.01, K2 0.03, window renormalised at the border), Adam 2e-4 with weight decay 1e-5, PyTorch's
default initialisation, training on every tile of the training images, the map of an image its
tiles' 1 − SSIM maps averaged where they overlap, the image score the highest tile maximum.

  bench/reference/.venv/bin/python bench/reference/ssim_ae.py --run RUN --data fixtures/magnetic-tile

RUN is an oddity run of `ssim-ae` by tiles on Magnetic Tile: its run.json gives the decode size,
tile, stride, epochs, batch size, latent size, loss and seed, its split.csv the images of each
role. Images are decoded with Pillow (bilinear) rather than oddity's `image` crate, so pixel
values differ slightly. Prints one JSON object: training seconds, images per second, image AUROC,
pixel AUROC and AUPRO (to FPR 0.3, 8-connected regions), the last two computed here by
scikit-learn and an exact sweep.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from sklearn.metrics import roc_auc_score
from torch import nn

ENCODER = [(32, 4, 2), (32, 4, 2), (32, 3, 1), (64, 4, 2), (64, 3, 1), (128, 4, 2), (64, 3, 1), (32, 3, 1)]


class SsimAutoencoder(nn.Module):
    def __init__(self, channels, side, latent):
        super().__init__()
        bottom = side // 16
        layers, previous = [], channels
        for out, k, s in ENCODER:
            layers += [nn.Conv2d(previous, out, k, s, (k - 1) // 2), nn.LeakyReLU(0.2)]
            previous = out
        layers.append(nn.Conv2d(previous, latent, bottom))
        self.encoder = nn.Sequential(*layers)
        layers = [nn.ConvTranspose2d(latent, previous, bottom), nn.LeakyReLU(0.2)]
        mirrored = [(channels if i == 0 else ENCODER[i - 1][0], k, s) for i, (_, k, s) in enumerate(ENCODER)][::-1]
        for j, (out, k, s) in enumerate(mirrored):
            pad = (k - 1) // 2
            layers.append(nn.Conv2d(previous, out, k, 1, pad) if s == 1 else nn.ConvTranspose2d(previous, out, k, s, pad))
            if j + 1 < len(mirrored):
                layers.append(nn.LeakyReLU(0.2))
            previous = out
        self.decoder = nn.Sequential(*layers)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def gaussian_window():
    line = torch.exp(-((torch.arange(11, dtype=torch.float32) - 5) ** 2) / (2 * 1.5**2))
    line = line / line.sum()
    return (line[:, None] * line[None, :])[None, None]


def ssim_map(x, y, window, dynamic_range=1.0):
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, w)
    y = y.reshape(b * c, 1, h, w)
    conv = lambda v: nn.functional.conv2d(v, window, padding=5)
    mass = conv(torch.ones(1, 1, h, w))
    mean = lambda v: conv(v) / mass
    mx, my = mean(x), mean(y)
    xx = mean(x * x) - mx * mx
    yy = mean(y * y) - my * my
    xy = mean(x * y) - mx * my
    c1, c2 = (0.01 * dynamic_range) ** 2, (0.03 * dynamic_range) ** 2
    s = (2 * mx * my + c1) * (2 * xy + c2) / ((mx * mx + my * my + c1) * (xx + yy + c2))
    return s.reshape(b, c, h, w)


def starts(length, tile, stride):
    last = length - tile
    out = list(range(0, last + 1, stride))
    if out[-1] != last:
        out.append(last)
    return out


def load_magnetic_tile(root, side):
    """Every MT_<Type>/Imgs/*.jpg in oddity's order, grey, resized; masks binarised at 128."""
    images, masks = [], []
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name, "Imgs")
        if not name.startswith("MT_") or not os.path.isdir(folder):
            continue
        for file in sorted(f for f in os.listdir(folder) if f.lower().endswith(".jpg")):
            path = os.path.join(folder, file)
            img = Image.open(path).convert("L").resize((side, side), Image.BILINEAR)
            mask = Image.open(path[:-4] + ".png").convert("L").resize((side, side), Image.NEAREST)
            images.append(np.asarray(img, dtype=np.float32))
            masks.append((np.asarray(mask) >= 128).astype(np.uint8))
    return np.stack(images), np.stack(masks)


def aupro(maps, masks, limit=0.3):
    """Per-region overlap against the normal pixels' FPR, swept over every distinct score,
    integrated to `limit` (last segment interpolated) and normalised."""
    regions, region_sizes = np.zeros(maps.shape, dtype=np.int64), []
    offset = 0
    for i, m in enumerate(masks):
        labelled, n = ndimage.label(m, structure=np.ones((3, 3)))
        regions[i] = np.where(labelled > 0, labelled + offset, 0)
        region_sizes += [int((labelled == k).sum()) for k in range(1, n + 1)]
        offset += n
    scores, region_of = maps.ravel(), regions.ravel()
    normal = masks.ravel() == 0
    order = np.argsort(-scores, kind="stable")
    scores, region_of, normal = scores[order], region_of[order], normal[order]
    sizes = np.array([1] + region_sizes, dtype=np.float64)
    n_normal, n_regions = normal.sum(), len(region_sizes)
    covered = np.zeros(n_regions + 1)
    fpr, pro, false_pos, overlap = [0.0], [0.0], 0, 0.0
    i = 0
    while i < len(scores):
        j = i
        while j < len(scores) and scores[j] == scores[i]:
            if normal[j]:
                false_pos += 1
            elif region_of[j] > 0:
                overlap += 1.0 / sizes[region_of[j]]
            j += 1
        fpr.append(false_pos / n_normal)
        pro.append(overlap / n_regions)
        i = j
    fpr, pro = np.array(fpr), np.array(pro)
    area, k = 0.0, 1
    while k < len(fpr) and fpr[k] <= limit:
        area += (fpr[k] - fpr[k - 1]) * (pro[k] + pro[k - 1]) / 2
        k += 1
    if k < len(fpr) and fpr[k - 1] < limit:
        t = (limit - fpr[k - 1]) / (fpr[k] - fpr[k - 1])
        end = pro[k - 1] + t * (pro[k] - pro[k - 1])
        area += (limit - fpr[k - 1]) * (pro[k - 1] + end) / 2
    return area / limit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = json.load(open(os.path.join(args.run, "run.json")))
    model, tiling = config["model"], config["preprocess"]["tiling"]
    side, tile, stride = config["dataset"]["image_size"], tiling["tile"], tiling["stride"]
    epochs, batch, seed = config["train"]["epochs"], config["train"]["batch_size"], config["train"]["seed"]
    assert model["model"] == "ssim-ae" and model["loss"] in ("ssim", "l2")
    assert model["image_size"] == tile
    torch.manual_seed(seed)
    images, masks = load_magnetic_tile(args.data, side)
    roles = {"train": [], "test": []}
    labels = []
    for line in open(os.path.join(args.run, "split.csv")).read().splitlines()[1:]:
        role, _, index, label = line.split(",")
        if role in roles:
            roles[role].append(int(index))
            if role == "test":
                labels.append(int(label))
    train = images[roles["train"]]
    low, high = train.min(), train.max()
    scale = lambda x: (x - low) / (high - low if high > low else 1.0)
    rows, cols = starts(side, tile, stride), starts(side, tile, stride)
    corners = [(r, c) for r in rows for c in cols]
    cut = lambda x: np.stack([im[r : r + tile, c : c + tile] for im in x for (r, c) in corners])[:, None]
    tiles = torch.from_numpy(cut(scale(train)))
    net = SsimAutoencoder(1, tile, model["latent_dim"])
    optim = torch.optim.Adam(net.parameters(), lr=model["learning_rate"], weight_decay=model["weight_decay"])
    window = gaussian_window()
    loss_of = (
        (lambda x, y: 1 - ssim_map(x, y, window, model["dynamic_range"]).mean())
        if model["loss"] == "ssim"
        else (lambda x, y: ((x - y) ** 2).mean())
    )
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(tiles))
        for k in range(0, len(tiles), batch):
            x = tiles[order[k : k + batch]]
            optim.zero_grad()
            loss = loss_of(x, net(x))
            loss.backward()
            optim.step()
    train_seconds = time.perf_counter() - start
    test = scale(images[roles["test"]])
    maps, scores = [], []
    with torch.no_grad():
        for im in test:
            x = torch.from_numpy(cut(im[None]))
            y = net(x)
            tile_maps = (1 - ssim_map(x, y, window, model["dynamic_range"])) if model["loss"] == "ssim" else (x - y) ** 2
            tile_maps = tile_maps.mean(1).numpy()
            total, count = np.zeros((side, side)), np.zeros((side, side))
            for m, (r, c) in zip(tile_maps, corners):
                total[r : r + tile, c : c + tile] += m
                count[r : r + tile, c : c + tile] += 1
            maps.append(total / count)
            reduce = np.max if model["image_score"] == "max" else np.mean
            scores.append(max(float(reduce(m)) for m in tile_maps))
    maps, test_masks = np.stack(maps), masks[roles["test"]]
    print(
        json.dumps(
            {
                "implementation": f"pytorch {torch.__version__}",
                "threads": torch.get_num_threads(),
                "train_seconds": round(train_seconds, 3),
                "train_tiles_per_second": round(epochs * len(tiles) / train_seconds, 1),
                "image_auroc": roc_auc_score(labels, scores),
                "pixel_auroc": roc_auc_score(test_masks.ravel(), maps.ravel()),
                "aupro": aupro(maps, test_masks),
            }
        )
    )


if __name__ == "__main__":
    main()
