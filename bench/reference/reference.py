#!/usr/bin/env python3
"""PyTorch reference of oddity's benchmarked models, for speed comparisons only.

The networks, losses, optimizer settings and update order are those of oddity's Rust models
(which follow the papers' official PyTorch code):

- GANomaly-32 (Akcay et al. 2018; official `samet-akcay/ganomaly`): DCGAN encoder G_E, decoder
  G_D, encoder E; discriminator = DCGAN encoder with one output. Generator loss
  w_adv*MSE(f(x), f(x_hat)) + w_con*L1(x, x_hat) + w_enc*MSE(z, z_hat) with weights 1/50/1;
  discriminator loss (BCE(D(x),1) + BCE(D(x_hat.detach()),0))/2; Adam 2e-4 (0.5, 0.999), batch 64;
  G step, then D step on the same x_hat. Score mean_k (z - z_hat)^2 in eval mode.
- Autoencoder: DCGAN encoder + decoder (images) or MLP D-64-16-64-D with ReLU (tables); loss and
  score = per-sample mean squared error; Adam 1e-3 (0.9, 0.999), batch 64.

`--device cuda` runs on the GPU in float32 (TF32 off, as oddity computes in float32; cuDNN's
kernel search on for `speed`), timing after a synchronise; peak GPU memory comes from
PyTorch's allocator.

Sub-commands (each prints one JSON line last):
  speed --case NAME   training and scoring samples/s, peak RSS, FLOPs per training step
  check --case NAME --dir DIR   same-function check against `oddity bench trace` output
  peak                measured fp32 matmul GFLOP/s at --threads
"""

import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

CASES = {
    "ganomaly-mnist": ("ganomaly", (1, 32, 32)),
    "ganomaly-cifar": ("ganomaly", (3, 32, 32)),
    "autoencoder-cifar": ("autoencoder", (3, 32, 32)),
    "autoencoder-kdd": ("autoencoder", (121,)),
}


class Block(nn.Module):
    def __init__(self, conv, channels):
        super().__init__()
        self.conv = conv
        self.norm = nn.BatchNorm2d(channels)


class DcganEncoder(nn.Module):
    """[B, C, S, S] -> [B, nz, 1, 1]; `features` is the 4x4 map before the last convolution."""

    def __init__(self, size, channels, width, nz):
        super().__init__()
        self.first = nn.Conv2d(channels, width, 4, 2, 1, bias=False)
        blocks, s = [], size // 2
        while s > 4:
            blocks.append(Block(nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), width * 2))
            width, s = width * 2, s // 2
        self.pyramid = nn.ModuleList(blocks)
        self.last = nn.Conv2d(width, nz, 4, 1, 0, bias=False)

    def features(self, x):
        h = F.leaky_relu(self.first(x), 0.2)
        for b in self.pyramid:
            h = F.leaky_relu(b.norm(b.conv(h)), 0.2)
        return h

    def forward(self, x):
        return self.last(self.features(x))


class DcganDecoder(nn.Module):
    def __init__(self, size, channels, width, nz):
        super().__init__()
        width = width * (size // 8)
        blocks = [Block(nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), width)]
        s = 4
        while s < size // 2:
            blocks.append(Block(nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), width // 2))
            width, s = width // 2, s * 2
        self.pyramid = nn.ModuleList(blocks)
        self.last = nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False)

    def forward(self, z):
        h = z
        for b in self.pyramid:
            h = F.relu(b.norm(b.conv(h)))
        return torch.tanh(self.last(h))


class Mlp(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


def adam(params, lr, betas):
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=1e-8)


class Ganomaly:
    def __init__(self, shape):
        c, s, _ = shape
        self.shape = shape
        self.generator = nn.Module()
        self.generator.encoder1 = DcganEncoder(s, c, 64, 100)
        self.generator.decoder = DcganDecoder(s, c, 64, 100)
        self.generator.encoder2 = DcganEncoder(s, c, 64, 100)
        self.discriminator = DcganEncoder(s, c, 64, 1)
        self.nets = nn.ModuleDict({"generator": self.generator, "discriminator": self.discriminator})
        self.opt_g = adam(self.generator.parameters(), 2e-4, (0.5, 0.999))
        self.opt_d = adam(self.discriminator.parameters(), 2e-4, (0.5, 0.999))

    def images(self, x):
        return x.reshape(x.shape[0], *self.shape)

    def g_forward(self, x):
        g = self.generator
        z = g.encoder1(x)
        x_hat = g.decoder(z)
        return x_hat, z, g.encoder2(x_hat)

    def train_step(self, batch):
        x = self.images(batch)
        d = self.discriminator
        x_hat, z, z_hat = self.g_forward(x)
        adv = F.mse_loss(d.features(x), d.features(x_hat))
        con = F.l1_loss(x_hat, x)
        enc = F.mse_loss(z_hat, z)
        loss_g = adv + 50.0 * con + enc
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        logit_real = d(x)
        logit_fake = d(x_hat.detach())
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
            + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
        )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return {"g": loss_g.item(), "adv": adv.item(), "con": con.item(), "enc": enc.item(), "d": loss_d.item()}

    def score(self, batch):
        self.generator.eval()
        _, z, z_hat = self.g_forward(self.images(batch))
        self.generator.train()
        return ((z - z_hat) ** 2).flatten(1).mean(1)


class Autoencoder:
    def __init__(self, shape):
        self.shape = shape
        if len(shape) == 3:
            c, s, _ = shape
            self.encoder, self.decoder = DcganEncoder(s, c, 64, 100), DcganDecoder(s, c, 64, 100)
        else:
            (d,) = shape
            self.encoder, self.decoder = Mlp([d, 64, 16]), Mlp([16, 64, d])
        self.nets = nn.ModuleDict({"encoder": self.encoder, "decoder": self.decoder})
        self.opt = adam(self.nets.parameters(), 1e-3, (0.9, 0.999))

    def errors(self, batch):
        x = batch.reshape(batch.shape[0], *self.shape)
        x_hat = self.decoder(self.encoder(x))
        return ((x - x_hat) ** 2).flatten(1).mean(1)

    def train_step(self, batch):
        loss = self.errors(batch).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"mse": loss.item()}

    def score(self, batch):
        self.nets.eval()
        s = self.errors(batch)
        self.nets.train()
        return s


DEVICE = torch.device("cpu")


def build(case):
    model, shape = CASES[case]
    m = Ganomaly(shape) if model == "ganomaly" else Autoencoder(shape)
    m.nets.to(DEVICE)  # in place: the optimisers keep the same parameters
    return m


def load_oddity_weights(m, path):
    """Load oddity's safetensors (burn names) into the reference's modules."""
    from safetensors.numpy import load_file

    state = {}
    for key, value in load_file(path).items():
        parts = key.split(".")
        if parts[0] in ("Conv", "Dense"):  # the autoencoder's enum variant
            parts = parts[1:]
        if parts[-1] == "gamma":
            parts[-1] = "weight"
        elif parts[-1] == "beta":
            parts[-1] = "bias"
        if "layers" in parts and parts[-1] == "weight":  # burn Linear stores [in, out]
            value = value.T
        state[".".join(parts)] = torch.from_numpy(np.ascontiguousarray(value))
    missing, unexpected = m.nets.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"weights do not match: missing {missing}, unexpected {unexpected}")


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_steps(args, step):
    for i in range(args.warmup_steps):
        step(i)
    per_step, i = [], args.warmup_steps
    for _ in range(max(args.repeats, 1)):
        start, n = time.perf_counter(), 0
        while n == 0 or time.perf_counter() - start < args.min_repeat_seconds:
            step(i)
            i, n = i + 1, n + 1
        per_step.append((time.perf_counter() - start) / n)
    return statistics.median(per_step)


def synthetic(shape, batch, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, int(np.prod(shape)), generator=g) * 2 - 1).to(DEVICE)


def speed(args):
    torch.manual_seed(0)
    m = build(args.case)
    shape = CASES[args.case][1]
    pool = [synthetic(shape, 64, 100 + k) for k in range(4)]

    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        m.train_step(pool[0])
    flops = counter.get_total_flops()

    step = time_steps(args, lambda i: m.train_step(pool[i % len(pool)]))
    score_input = synthetic(shape, args.score_batch, 200)

    def score(_):
        with torch.inference_mode():
            m.score(score_input).tolist()

    score_step = time_steps(args, score)
    print(json.dumps({
        "train_samples_per_s": 64 / step,
        "train_step_ms": step * 1e3,
        "train_batch": 64,
        "score_samples_per_s": args.score_batch / score_step,
        "score_batch": args.score_batch,
        "peak_rss_mib": rss_mib(),
        "threads": torch.get_num_threads(),
        "flops_per_step": flops,
        "torch": torch.__version__,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if DEVICE.type == "cuda" else None,
    }))


def check(args):
    trace = json.load(open(f"{args.dir}/trace.json"))
    m = build(args.case)
    load_oddity_weights(m, f"{args.dir}/init.safetensors")
    batch, d = trace["batch"], int(np.prod(trace["shape"]))
    raw = np.fromfile(f"{args.dir}/batches.f32", dtype="<f4").reshape(-1, batch, d)
    rel_loss = 0.0
    for ours, b in zip(trace["losses"], raw):
        theirs = m.train_step(torch.from_numpy(b.copy()).to(DEVICE))
        for name, value in ours:
            rel_loss = max(rel_loss, abs(value - theirs[name]) / max(abs(value), 1e-6))
    with torch.no_grad():
        scores = m.score(torch.from_numpy(raw[0].copy()).to(DEVICE)).cpu().numpy()
    ours = np.asarray(trace["scores"])
    rel_score = float(np.max(np.abs(scores - ours)) / max(np.max(np.abs(ours)), 1e-12))
    print(json.dumps({"max_rel_loss_diff": rel_loss, "max_rel_score_diff": rel_score,
                      "steps": len(trace["losses"]), "ok": False}))


def peak(args):
    n = 2048 if DEVICE.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=DEVICE), torch.randn(n, n, device=DEVICE)
    best = float("inf")
    for _ in range(10):
        sync()
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"gflops": 2 * n**3 / best / 1e9}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["speed", "check", "peak"])
    p.add_argument("--case", choices=sorted(CASES))
    p.add_argument("--dir")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup-steps", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-repeat-seconds", type=float, default=1.0)
    p.add_argument("--score-batch", type=int, default=256)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: PyTorch finds no CUDA device")
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        # cuDNN picks its fastest kernels per shape, as burn's autotune does for ours.
        torch.backends.cudnn.benchmark = args.command == "speed"
    {"speed": speed, "check": check, "peak": peak}[args.command](args)


if __name__ == "__main__":
    main()
