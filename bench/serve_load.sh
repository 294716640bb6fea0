#!/usr/bin/env bash
# Load benchmark of `oddity serve` (requests/s, p50/p99 latency vs concurrent clients, one
# sample per request) beside batch scoring, for an image run (DCGAN autoencoder, MNIST 28 px)
# and a table run (MLP autoencoder, breastw). The clients run on the same machine as the
# server, so on few cores they compete with it for CPU.
#   bench/serve_load.sh [SECONDS_PER_LEVEL] [CLIENTS...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_LEVEL=${1:-5}
shift || true
LEVELS=${*:-1 2 4 8 16 32}
cargo build --release --quiet
cargo build --release --quiet --example serve_load
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
./target/release/oddity train --model autoencoder --dataset mnist --data fixtures/mnist \
    --protocol one-class --class 1 --epochs 10 --quiet --out "$WORK/mnist-1"
./target/release/oddity train --model autoencoder --dataset adbench \
    --data fixtures/adbench/4_breastw.npz --protocol tabular --epochs 20 --quiet --out "$WORK/breastw"
./target/release/oddity serve "$WORK/mnist-1" "$WORK/breastw" --port 0 > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do grep -q "http://" "$WORK/serve.log" && break; sleep 0.1; done
URL=$(grep -o "http://[0-9.:]*" "$WORK/serve.log")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for MODEL in mnist-1 breastw; do
    echo
    echo "### $MODEL"
    echo
    ./target/release/examples/serve_load "$URL" "$MODEL" "$WORK/$MODEL" "$SECONDS_PER_LEVEL" $LEVELS
done
