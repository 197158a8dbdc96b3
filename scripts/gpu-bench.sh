#!/usr/bin/env bash
# clipql's GPU benchmark (scripts/gpu-bench/bench.py; --help lists every option): about 300 s at
# most on one GPU (--budget), in stages that each have their own timeout and each write their
# result into test-artifacts/gpu-bench.json (--out) as they end: the torch stages first for
# ViT-L/14@336px and ViT-B/32 (matrix-product rate, in-process limit, graph/compile check, through
# the worker), then those needing PIL or node (the DataLoader peer, the preprocessing ceiling, end
# to end through the server: node 20+, `npm run build`, the production node_modules; --node PATH).
# docs/rocm.md has the first-run plan.
#
#   scripts/gpu-bench.sh                        cuda:0 (--device cuda:N)
#   scripts/gpu-bench.sh --cpu --small          the tiny model on the CPU (CI)
#   scripts/gpu-bench.sh --cpu --cpu-workers    two CPU workers against one (ViT-B/32)
#   CLIP_TORCH_PYTHON=/opt/venv/bin/python scripts/gpu-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-python.sh
exec "$python" -u scripts/gpu-bench/bench.py "$@"
