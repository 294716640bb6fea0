#!/usr/bin/env bash
# OC-SVM on CIFAR-10 one-class, every class: scripts/results_ocsvm.sh with DATASET=cifar10 (its
# SEEDS and ORACLE apply).
#
#   SEEDS="0 1 2" scripts/results_ocsvm_cifar10.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATASET=cifar10 exec "$(dirname "$0")/results_ocsvm.sh" "${1:-../shared/data}" "${2:-runs/ocsvm-cifar10}"
