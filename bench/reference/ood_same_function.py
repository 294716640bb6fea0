"""Same function as pytorch-ood: oddity's OOD scores against pytorch-ood's detectors on one
trained classifier and the same images.

The LeNet or WRN (BatchNorm on its running statistics, as PyTorch's evaluation mode, while
ODIN's and Mahalanobis' input gradients flow) of an `oddity ood train` run (weights.safetensors, its input normalisation from
classifier.json) is rebuilt in PyTorch; the images `oddity ood eval` scored (ood-eval/scores.csv:
the in-distribution test images and every data-set --against, by index; the synthetic sets are
drawn by oddity's own generator and left out) are read from the same IDX files; pytorch-ood's
MaxSoftmax, EnergyBased, ODIN (oddity's T and ε) and MahalanobisODIN (oddity's ε; fitted on the
run's training images from split.csv) score them; each is compared with oddity's column.

pytorch-ood returns outlier scores (higher = more OOD): MSP, ODIN and energy are oddity's
negated. Its Mahalanobis precision is the inverse of the class-centred scatter matrix (not
divided by N) plus 1e-6·I, where oddity (as the paper's code) takes the pseudo-inverse of the
covariance with scikit-learn's float32 cut-off: nearly constant features (dying ReLUs) weigh
~1e6 times more in pytorch-ood's. That estimator is swapped into pytorch-ood's detector before
the comparison (`fitted`), its distance, input step and score left as they are; its score is
then half oddity's squared distance (oddity's confidence = −2 × pytorch-ood's). Images active
in directions where every training feature is exactly constant are counted and left out.

Exits 1 when a score differs by more than its tolerance, measured as the largest difference
over the largest score (at least 1): 1e-5 for MSP, energy and ODIN; 1e-4 for Mahalanobis (a
float32 quadratic form in 128 dimensions, and pytorch-ood's 1e-6 ridge), on the images not
active in dead directions — for ODIN and Mahalanobis, when oddity's scores at ε = 0 are given
(the fifth argument), on those, the step being checked by its effect below (a stepped score
also carries the sign of gradient components near zero, which float32 rounding decides
differently in each framework); when the input step's effect (score with the step minus
pytorch-ood's score without it) differs by more than 1e-2 of its largest value; when fewer than
90 % of a set's images are compared; and when a control — pytorch-ood with the step reversed —
matches as well (then the check could not tell a wrong step).

  bench/reference/.venv/bin/python bench/reference/ood_same_function.py RUN IN_DATA OUT_DATA [OUT.json [UNSTEPPED_SCORES.csv]]
"""
import copy, csv, gzip, json, os, struct, sys

import numpy as np
import torch
from safetensors.numpy import load_file
from pytorch_ood.detector import MaxSoftmax, EnergyBased, ODIN, MahalanobisODIN
from pytorch_ood.metrics import OODMetrics

torch.set_num_threads(2)
torch.manual_seed(0)
run, in_data, out_data = sys.argv[1], sys.argv[2], sys.argv[3]
out_json = sys.argv[4] if len(sys.argv) > 4 else None
# oddity's scores.csv of the same run evaluated with ODIN's and Mahalanobis' ε at 0.
unstepped_csv = sys.argv[5] if len(sys.argv) > 5 else None


def read_idx(path):
    data = gzip.open(path, "rb").read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim :], dtype=np.uint8).reshape(dims)


def images(folder, split):
    name = "train" if split == "train" else "t10k"
    return read_idx(os.path.join(folder, f"{name}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0


config = json.load(open(os.path.join(run, "ood.json")))
summary = json.load(open(os.path.join(run, "classifier.json")))
architecture = config["classifier"]["architecture"]
assert architecture in ("lenet", "wrn"), f"the check rebuilds the LeNet or the WRN, not {architecture}"
classes = len(summary["class_names"])
mean = torch.tensor(summary["normalisation"]["mean"]).view(1, -1, 1, 1)
std = torch.tensor(summary["normalisation"]["std"]).view(1, -1, 1, 1)


class LeNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = torch.nn.Linear(64 * 7 * 7, 128)
        self.fc2 = torch.nn.Linear(128, classes)

    def features(self, x):
        x = (x - mean) / std
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        return torch.relu(self.fc1(h.flatten(1)))

    def forward(self, x):
        return self.fc2(self.features(x))


def same_conv(conv, x):
    """A 3×3 convolution with TensorFlow's "same" padding, as oddity's Keras-style WRN: one
    pixel each side at stride 1; at stride 2 (even sides) none before and one after."""
    if conv.stride[0] == 2:
        x = torch.nn.functional.pad(x, (0, 1, 0, 1))
    elif conv.kernel_size[0] == 3:
        x = torch.nn.functional.pad(x, (1, 1, 1, 1))
    return conv(x)


class Block(torch.nn.Module):
    """oddity's pre-activation block (`WrnStyle::Keras`): BN → ReLU → conv (stride) → BN → ReLU
    → conv, plus the input, or a 1×1 convolution of the first BN–ReLU output where the width
    changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = torch.nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride=stride, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout, eps=1e-5)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, bias=False)
        self.shortcut = torch.nn.Conv2d(cin, cout, 1, stride=stride, bias=False) if cin != cout else None

    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        out = same_conv(self.conv2, torch.relu(self.bn2(same_conv(self.conv1, pre))))
        return out + (self.shortcut(pre) if self.shortcut is not None else x)


class WideResNet(torch.nn.Module):
    """oddity's WRN-d-k classifier (src/nn/wide_resnet.rs): stem conv → 16, three groups of
    16k, 32k, 64k (strides 1, 2, 2), BN → ReLU → global average pooling, dense."""

    def __init__(self, channels, depth, widen):
        super().__init__()
        n = (depth - 4) // 6
        self.stem = torch.nn.Conv2d(channels, 16, 3, bias=False)
        blocks, cin = [], 16
        for group, width in enumerate((16 * widen, 32 * widen, 64 * widen)):
            for i in range(n):
                blocks.append(Block(cin, width, 2 if group > 0 and i == 0 else 1))
                cin = width
        self.blocks = torch.nn.ModuleList(blocks)
        self.bn = torch.nn.BatchNorm2d(cin, eps=1e-5)
        self.dense = torch.nn.Linear(cin, classes)

    def features(self, x):
        h = same_conv(self.stem, (x - mean) / std)
        for block in self.blocks:
            h = block(h)
        return torch.relu(self.bn(h)).mean((2, 3))

    def forward(self, x):
        return self.dense(self.features(x))


def torch_name(key):
    """burn's record name of a parameter → the PyTorch module's: the BatchNorm's gamma and
    beta are PyTorch's weight and bias; `blocks.N.shortcut` as it is."""
    name = key.removeprefix("lenet.").removeprefix("wrn.")
    for burn, torch_ in ((".gamma", ".weight"), (".beta", ".bias")):
        if name.endswith(burn):
            name = name[: -len(burn)] + torch_
    return name


weights = load_file(os.path.join(run, "weights.safetensors"))
if architecture == "lenet":
    net = LeNet()
    dense = ("fc1.weight", "fc2.weight")
else:
    c = config["classifier"]
    net = WideResNet(summary["image"][0], c["depth"], c["widen"])
    dense = ("dense.weight",)
state = {}
for key, value in weights.items():
    name = torch_name(key)
    if name in dense:
        value = value.T  # burn stores a dense weight as [in, out]
    state[name] = torch.from_numpy(np.ascontiguousarray(value))
expected = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
assert set(state) == expected, f"not the run's weights: missing {sorted(expected - set(state))}, unknown {sorted(set(state) - expected)}"
net.load_state_dict(state, strict=False)
net = net.eval()

# The run's training images (split.csv, role train) with their class index.
split_rows = list(csv.DictReader(open(os.path.join(run, "split.csv"))))
train_pool = images(in_data, "train")
names = summary["class_names"]
train_idx = [int(r["index"]) for r in split_rows if r["role"] == "train"]
train_y = [names.index(r["class"]) for r in split_rows if r["role"] == "train"]
x_train = torch.from_numpy(train_pool[train_idx]).unsqueeze(1)
y_train = torch.tensor(train_y)

# What oddity scored, by set.
rows = list(csv.DictReader(open(os.path.join(run, "ood-eval", "scores.csv"))))
metrics = json.load(open(os.path.join(run, "ood-eval", "metrics.json")))
settings = metrics["settings"]
T, eps_odin, eps_maha = settings["odin_temperature"], settings["odin_epsilon"], settings["mahalanobis_epsilon"]

def fitted(detector, network=None, dtype=torch.float32):
    """pytorch-ood's MahalanobisODIN fitted on the run's training images, its precision then
    replaced by the one estimator oddity (and the paper's code) uses instead of pytorch-ood's:
    the pseudo-inverse of the covariance (scatter / N) with scikit-learn's float32 `pinvh`
    cut-off, where pytorch-ood inverts the scatter plus 1e-6·I. Its distance, step and score
    stay pytorch-ood's; its score is then half oddity's squared distance. `network` and
    `dtype`: the float64 copy of the classifier for the reference below."""
    network = network or net
    x_fit = x_train.to(dtype)
    detector.fit_features(torch.cat([network.features(x_fit[i : i + 500]).detach() for i in range(0, len(x_fit), 500)]), y_train)
    base = detector._base
    dim = base.cov.shape[0]
    covariance = (base.cov.double() - torch.eye(dim, dtype=torch.float64) * 1e-6) / n_train
    values, vectors = torch.linalg.eigh(covariance)
    cutoff = dim * float(np.finfo(np.float32).eps) * values.abs().max()
    inverse = torch.where(values.abs() > cutoff, 1.0 / values, torch.zeros_like(values))
    base.precision = (vectors * inverse) @ vectors.T
    base.precision = base.precision.to(dtype)
    return detector


n_train = len(train_idx)
# name: (pytorch-ood detector, factor mapping its score to oddity's, the same detector without
# the input step, the same with the step reversed (a control that must not match)).
detectors = {
    "msp": (MaxSoftmax(net), -1.0, None, None),
    "energy": (EnergyBased(net), -1.0, None, None),
    "odin": (
        ODIN(net, eps=eps_odin, temperature=T),
        -1.0,
        ODIN(net, eps=0.0, temperature=T),
        ODIN(net, eps=-eps_odin, temperature=T),
    ),
    "mahalanobis-penultimate": (
        fitted(MahalanobisODIN(net.features, eps=eps_maha)),
        -2.0,
        fitted(MahalanobisODIN(net.features, eps=0.0)),
        fitted(MahalanobisODIN(net.features, eps=-eps_maha)),
    ),
}

# The float64 reference of the Mahalanobis score (reported, not a criterion): the same
# classifier and pytorch-ood detector in double precision, each side's float32 distance to it.
net64 = copy.deepcopy(net).double()
mahalanobis64 = fitted(MahalanobisODIN(net64.features, eps=eps_maha), net64, torch.float64)

# Dead directions: penultimate units constant over the training images.
with torch.no_grad():
    f_train = torch.cat([net.features(x_train[i : i + 500]) for i in range(0, len(x_train), 500)])
dead = (f_train.std(0) == 0).nonzero().flatten()


def predict(detector, x):
    return torch.cat([detector.predict(x[i : i + 250]).detach() for i in range(0, len(x), 250)]).numpy().astype(np.float64)


def worst(a, b, scale):
    """The largest difference between a and b over the scale (at least 1e-12)."""
    return float(np.abs(a - b).max() / max(scale, 1e-12)) if len(a) else float("inf")


unstepped_by_set = None
if unstepped_csv:
    unstepped_by_set = {}
    for r in csv.DictReader(open(unstepped_csv)):
        unstepped_by_set.setdefault(r["set"], {})[int(r["index"])] = r
report = {"n_train": n_train, "dead_units": int(len(dead)), "sets": {}}
sets = sorted({r["set"] for r in rows})
theirs_all, ours_all = {}, {}
for set_name in sets:
    if set_name == "in-distribution":
        pool = images(in_data, "test")
    elif set_name in ("uniform", "gaussian", "held-out-classes"):
        continue
    else:
        pool = images(out_data, "test")
    picked = [r for r in rows if r["set"] == set_name]
    x = torch.from_numpy(pool[[int(r["index"]) for r in picked]]).unsqueeze(1)
    with torch.no_grad():
        active_dead = (net.features(x)[:, dead] != 0).any(1).numpy() if len(dead) else np.zeros(len(x), bool)
    entry = {"images": len(picked), "active_in_dead_units": int(active_dead.sum())}
    for name, (detector, factor, unstepped, reversed_step) in detectors.items():
        theirs = factor * predict(detector, x)
        ours = np.array([float(r[name]) for r in picked])
        keep = ~active_dead if name.startswith("mahalanobis") else np.ones(len(x), bool)
        # Scores: the largest difference relative to the largest score (at least 1).
        result = {
            "compared": int(keep.sum()),
            "max_abs_diff": float(np.abs(theirs - ours)[keep].max()) if keep.any() else float("inf"),
            "error": worst(theirs[keep], ours[keep], max(1.0, float(np.abs(ours[keep]).max(initial=0.0)))),
        }
        if name == "mahalanobis-penultimate":
            reference = factor * predict(mahalanobis64, x.double())
            scale = max(1.0, float(np.abs(reference[keep]).max(initial=0.0)))
            result["float64_error"] = worst(ours[keep], reference[keep], scale)
            result["float64_error_pytorch_ood"] = worst(theirs[keep], reference[keep], scale)
        if unstepped is not None:
            # The input step's effect, on each side from its own unstepped score where oddity's
            # is given (else from pytorch-ood's): the step is small at T = 1000, so the scores
            # alone would hide a wrong step.
            base = factor * predict(unstepped, x)
            control = factor * predict(reversed_step, x)
            ours_base = base
            if unstepped_by_set is not None:
                ours_base = np.array([float(unstepped_by_set[set_name][int(r["index"])][name]) for r in picked])
                score_scale = max(1.0, float(np.abs(ours_base[keep]).max(initial=0.0)))
                result["unstepped_error"] = worst(base[keep], ours_base[keep], score_scale)
            effect = (theirs - base)[keep]
            scale = float(np.abs(effect).max(initial=0.0))
            result["effect_error"] = worst((ours - ours_base)[keep], effect, scale)
            result["reversed_step_effect_error"] = worst((control - base)[keep], effect, scale)
        entry[name] = result
        theirs_all.setdefault(name, {})[set_name] = theirs / factor
        ours_all.setdefault(name, {})[set_name] = ours
    report["sets"][set_name] = entry

# Metrics side by side: pytorch-ood's (OOD positive, trapezoid areas) beside oddity's (in-distribution positive).
side = {}
for set_name in sets:
    if set_name == "in-distribution" or set_name not in report["sets"]:
        continue
    side[set_name] = {}
    ours_set = next(s for s in metrics["sets"] if s["name"] == set_name)
    for name in detectors:
        m = OODMetrics()
        scores = np.concatenate([theirs_all[name]["in-distribution"], theirs_all[name][set_name]])
        labels = np.concatenate([np.zeros(len(theirs_all[name]["in-distribution"])), -np.ones(len(theirs_all[name][set_name]))])
        m.update(torch.from_numpy(scores), torch.from_numpy(labels).long())
        theirs_m = {k: float(v) for k, v in m.compute().items()}
        ours_m = dict(next(v for k, v in ours_set["scores"] if k == name))
        side[set_name][name] = {"pytorch-ood": theirs_m, "oddity": ours_m}
report["metrics"] = side
tolerance = {"msp": 1e-5, "energy": 1e-5, "odin": 1e-5, "mahalanobis-penultimate": 1e-4}
failures = []
for set_name, entry in report["sets"].items():
    for name, tol in tolerance.items():
        r = entry[name]
        if r["compared"] < 0.9 * entry["images"]:
            failures.append(f"{set_name} {name}: only {r['compared']} of {entry['images']} images compared")
        # With oddity's unstepped scores, the formula is checked on them and the step by its
        # effect: a stepped score also carries the sign of gradient components near zero,
        # which float32 rounding decides differently in each framework.
        error = r.get("unstepped_error", r["error"])
        if error > tol:
            failures.append(f"{set_name} {name}: scores differ by {error:.2e} of their scale > {tol:.0e}")
        if "effect_error" in r:
            if r["effect_error"] > 1e-2:
                failures.append(f"{set_name} {name}: the input step's effect differs by {r['effect_error']:.2e} > 1e-2")
            if r["reversed_step_effect_error"] < 0.5:
                failures.append(f"{set_name} {name}: the control (step reversed) matches too ({r['reversed_step_effect_error']:.2e}): the check cannot tell")
report["settings"] = settings
report["same_function"] = not failures
print(json.dumps(report, indent=1))
if out_json:
    json.dump(report, open(out_json, "w"), indent=1)
for line in failures:
    print("DIFFERENT:", line, file=sys.stderr)
sys.exit(1 if failures else 0)
