#!/usr/bin/env bash
# OC-SVM on CIFAR-10 one-class, every class: scripts/results_ocsvm.sh with DATASET=cifar10 (its
# SEEDS, ORACLE, PYTHON and PYOD apply; PyOD's run needs the venv bench/reference/install.sh
# makes, or PYOD=0).
#
#   SEEDS="0 1 2" PYTHON=bench/reference/.venv/bin/python scripts/results_ocsvm_cifar10.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATASET=cifar10 exec "$(dirname "$0")/results_ocsvm.sh" "${1:-../shared/data}" "${2:-runs/ocsvm-cifar10}"
