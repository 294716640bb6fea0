"""Per-layer, per-kernel timing of the DCGAN-32 convolutions in PyTorch, batch 64, 2 threads:
forward alone, then forward with the input gradient only, with the weight gradient only, and
with both; counterpart of examples/conv_layers.rs (same layers, same columns)."""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)


def tm(f):
    """Best of five runs after two warm-ups, in milliseconds."""
    for _ in range(2):
        f()
    best = 1e9
    for _ in range(5):
        s = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - s)
    return best * 1e3


b = 64
layers = [("enc.first 1->64 32->16", 1, 64, 32, False, True), ("enc.p0 64->128 16->8", 64, 128, 16, False, True),
          ("enc.p1 128->256 8->4", 128, 256, 8, False, True), ("enc.last 256->100 4->1", 256, 100, 4, False, False),
          ("dec.p0 100->256 1->4", 100, 256, 1, True, False), ("dec.p1 256->128 4->8", 256, 128, 4, True, True),
          ("dec.p2 128->64 8->16", 128, 64, 8, True, True), ("dec.last 64->1 16->32", 64, 1, 16, True, True)]
print(f"{'layer':28} {'fwd':>8} {'dx':>8} {'dw':>8} {'fwd+both':>9}  (ms)")
for name, cin, cout, s, transposed, stride2 in layers:
    stride, pad = (2, 1) if stride2 else (1, 0)
    x = torch.randn(b, cin, s, s)
    w = torch.randn(*((cin, cout, 4, 4) if transposed else (cout, cin, 4, 4))) * 0.05
    conv = F.conv_transpose2d if transposed else F.conv2d

    def apply(x, w):
        return conv(x, w, None, stride, pad)

    with torch.no_grad():
        forward = tm(lambda: apply(x, w))

    def timed(grad_x, grad_w):
        def step():
            xg = x.clone().requires_grad_(grad_x)
            wg = w.clone().requires_grad_(grad_w)
            apply(xg, wg).sum().backward()
        return tm(step)

    with_dx, with_dw, both = timed(True, False), timed(False, True), timed(True, True)
    print(f"{name:28} {forward:8.2f} {with_dx - forward:8.2f} {with_dw - forward:8.2f} {both:9.2f}")
