#!/usr/bin/env bash
# The Python package's tests, as CI runs them after `cargo test --release`: install the
# package the documented way (`pip install ./python`, which builds the abi3 wheel with maturin
# into the workspace's target/) into a fresh virtual environment, then run pytest against it
# and against the command line built by cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python3 -m venv --clear target/python-venv
. target/python-venv/bin/activate
pip install --quiet numpy pytest
pip install --quiet ./python
cd python/tests
ODDITY_BIN="$(pwd)/../../target/release/oddity" python -m pytest -q
