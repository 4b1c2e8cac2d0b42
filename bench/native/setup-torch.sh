#!/usr/bin/env bash
# The PyTorch anchor as its users install it: the newest torch (and torchvision, Pillow) from the
# Python package index into a venv of its own, bench/.venv-torch (git-ignored). The Linux wheel pulls
# the CUDA runtime wheels (several GB) even though the benchmarks train on the CPU. Quick when done.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/.venv-torch"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch, torchvision, PIL' 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --progress-bar off --upgrade torch torchvision pillow
"$venv/bin/python" -c 'import torch; print("[bench] PyTorch", torch.__version__)'
