#!/usr/bin/env bash
# GPU check for the torch backend, sized for a short lease on a GPU machine: runs the PyTorch
# worker (src/backends/torch/worker.py, through scripts/gpu-bench/client.py) on each GPU in float32 and float16, eager
# and TorchScript (CLIP_TORCH_IMPL), against the CPU
# reference, on models/tiny-clip-336 and, on GPUs when present, models/bench-vit-b-32 (made by
# `/usr/bin/python3 models/generate.py --preset vit-b-32`), and prints the largest differences of
# embeddings and similarities and images per second. ROCm and CUDA builds of PyTorch run the same
# code (torch.cuda).
#
#   scripts/gpu-check.sh                      every visible GPU (or CLIP_TORCH_DEVICES)
#   scripts/gpu-check.sh --devices 1          one GPU; see --help for the rest
#   scripts/gpu-check.sh --openai-style --bench vit-b-32,vit-l-14-336
#                                             also OpenAI-format copies of each model (float16,
#                                             "cuda" constants in the graph), and full-size
#                                             ViT-B/32 and ViT-L/14@336px models built on the fly
#                                             from models/generate.py (about 3 minutes on an H200)
#   CLIP_TORCH_PYTHON=/opt/venv/bin/python scripts/gpu-check.sh
#   scripts/gpu-check.sh --devices cpu        the script itself on a machine without a GPU
#
# Exit status: 0 all within tolerance, 1 a difference too large, 2 no GPU or no PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-python.sh
exec "$python" -u scripts/gpu-bench/gpu_check.py "$@"
