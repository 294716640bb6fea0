#!/usr/bin/env bash
# Installs the PyTorch reference into bench/reference/.venv (benchmarks only; never a
# dependency of oddity). PyPI's Linux wheel brings its CUDA libraries: a few GB.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "torch==2.15.0" "numpy<3" "safetensors>=0.4"
# The peers of the side-by-side tables (scripts/results_pyod_side_by_side.sh).
"$venv/bin/pip" install --quiet "pyod==3.6.7" pandas
# DeepOD's GOAD, DeepSVDD and DeepSAD beside ours (scripts/results_goad_tables.sh). Its metadata
# pins torch < 1.13.1, which would replace the torch above: installed without its dependencies
# (numpy, pandas, scikit-learn, scipy, torch are here already; tqdm is its one other).
"$venv/bin/pip" install --quiet --no-deps "deepod==0.4.1" tqdm
# pytorch-ood's MSP, ODIN, Mahalanobis and energy, the OOD same-function check (scripts/ood_same_function.sh).
"$venv/bin/pip" install --quiet --no-deps "pytorch-ood==0.4.0" "torchvision==0.29.2"
# The SSIM autoencoder's side by side (bench/reference/ssim_ae.py): images and its metrics.
"$venv/bin/pip" install --quiet pillow scipy scikit-learn
"$venv/bin/python" -c "import torch; print('torch', torch.__version__, 'threads', torch.get_num_threads())"
