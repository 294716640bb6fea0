#!/usr/bin/env bash
# The README's pictures of the served page and of a report: an autoencoder on MNIST digit 1
# (10 epochs), one on breastw and an OOD LeNet of the fixture's digits (3 epochs, 300 held
# out), served; headless Chromium uploads three digits and a garment and pastes four rows
# (tests/browser/page.mjs), then renders the two detectors' report. Also prints the README's
# curl answers. Needs Debian's chromium, `npm ci` in tests/browser, and NumPy in $PYTHON
# (python3 by default; bench/reference/.venv has it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
WORK=$(mktemp -d)
SERVER=
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
BIN=target/release/oddity
$BIN train --model autoencoder --dataset mnist --data fixtures/mnist --protocol one-class \
    --class 1 --epochs 10 --quiet --out "$WORK/mnist-1"
$BIN train --model autoencoder --dataset adbench --data fixtures/adbench/4_breastw.npz \
    --protocol tabular --epochs 20 --quiet --out "$WORK/breastw"
$BIN eval "$WORK/mnist-1" > /dev/null
$BIN ood train --dataset mnist --data fixtures/mnist --validation 300 \
    --classifier-config '{"epochs": 3}' --out "$WORK/digits-ood" 2> /dev/null
"${PYTHON:-python3}" - "$WORK" <<'PY'
import gzip, sys, struct, zlib
import numpy as np
work = sys.argv[1]
with gzip.open("fixtures/mnist/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open("fixtures/mnist/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
def png(a):
    raw = b"".join(b"\x00" + row.tobytes() for row in a)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for digit in (1, 7, 3):
    open(f"{work}/digit-{digit}.png", "wb").write(png(images[list(labels).index(digit)]))
with gzip.open("fixtures/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
    clothes = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
open(f"{work}/garment.png", "wb").write(png(clothes[0]))
X = np.load("fixtures/adbench/4_breastw.npz")["X"][:4]
open(f"{work}/rows.csv", "w").write("".join(",".join(map(str, r)) + "\n" for r in X))
PY
$BIN serve "$WORK/mnist-1" "$WORK/breastw" "$WORK/digits-ood" --port 0 > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do grep -q "http://" "$WORK/serve.log" && break; sleep 0.1; done
URL=$(grep -o "http://[0-9.:]*" "$WORK/serve.log")
node tests/browser/page.mjs "$URL" mnist-1 breastw digits-ood mahalanobis "$WORK/rows.csv" \
    docs/images/serve-page.png "$WORK/digit-1.png" "$WORK/digit-7.png" "$WORK/digit-3.png" \
    "$WORK/garment.png" > /dev/null
echo "curl of one breastw row:"
curl -s -XPOST -H 'Content-Type: application/json' -d '{"rows": [[5,1,1,1,2,1,3,1,1]]}' \
    "$URL/v1/models/breastw/score"
echo
for image in digit-7 garment; do
    echo "curl of $image.png to the OOD run:"
    curl -s -XPOST -H 'Content-Type: image/png' --data-binary "@$WORK/$image.png" \
        "$URL/v1/models/digits-ood/score"
    echo
done
$BIN report "$WORK/breastw" "$WORK/mnist-1" --out "$WORK/report.html" > /dev/null
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/chromium" --window-size=1200,1500 \
    --screenshot=docs/images/report.png "file://$WORK/report.html" 2> /dev/null
echo "wrote docs/images/serve-page.png, serve-page-ood.png and report.png"
