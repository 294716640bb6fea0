#!/usr/bin/env bash
# Run the test suite with burn-flex's SIMD kernels forced onto their AVX2 path, as on a CPU
# without AVX-512, on any x86-64 machine.
#
# Why this is enough: gemm (flex's matrix products) is built without its `x86-v4` feature, so
# its kernels are AVX2/FMA on every CPU; the one run-time choice of AVX-512 is macerator's
# (flex's element-wise and reduction kernels), enabled by macerator's default `avx512`
# feature. This script copies macerator from the local cargo registry into a temporary folder,
# drops `avx512` from its default features, and builds the tests against that copy with a
# `[patch]` given on the command line, in a separate target folder and a copy of the tree, so
# the project's own Cargo.lock and target/ are untouched. On an AVX2-only CPU the normal build
# runs the same kernels.
#
# usage: scripts/test_avx2.sh [cargo test arguments…]   e.g. scripts/test_avx2.sh --test detectors
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${AVX2_WORK:-/tmp/oddity-avx2}"
target="${AVX2_TARGET:-$root/target-avx2}"
version="$(grep -A1 '^name = "macerator"' "$root/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
source="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/macerator-"$version" | head -1)"
[ -d "$source" ] || { echo "macerator $version is not in the cargo registry: run cargo fetch first" >&2; exit 1; }
mkdir -p "$work"
rm -rf "$work/macerator" "$work/tree"
cp -r "$source" "$work/macerator"
# The default feature list without "avx512".
sed -i '/^default = \[/,/^\]/{/"avx512",/d}' "$work/macerator/Cargo.toml"
if grep -A4 '^default = \[' "$work/macerator/Cargo.toml" | grep -q avx512; then
  echo "could not remove avx512 from macerator's default features" >&2; exit 1
fi
mkdir -p "$work/tree"
cp -r "$root"/{Cargo.toml,Cargo.lock,src,tests,fixtures,assets,examples,bench,python,vendor} "$work/tree/"
cd "$work/tree"
CARGO_TARGET_DIR="$target" cargo test --release \
  --config "patch.crates-io.macerator.path=\"$work/macerator\"" "$@"
