#!/usr/bin/env bash
# clipql's GPU benchmark (scripts/gpu-bench/bench.py; --help lists every option), at most about
# 8 minutes on one GPU: ViT-L/14@336px and ViT-B/32 in-process, through the worker, end to end
# through the server (needs node and `npm run build`; --node PATH) and against a PyTorch
# DataLoader peer, as ratios, with the targets met or not; the JSON goes to
# test-artifacts/gpu-bench.json (--out).
#
#   scripts/gpu-bench.sh                        cuda:0 (--device cuda:N)
#   scripts/gpu-bench.sh --cpu --small          the tiny model on the CPU (CI, under a minute)
#   scripts/gpu-bench.sh --cpu --cpu-workers    two CPU workers against one (ViT-B/32)
#   CLIP_TORCH_PYTHON=/opt/venv/bin/python scripts/gpu-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-python.sh
exec "$python" -u scripts/gpu-bench/bench.py "$@"
