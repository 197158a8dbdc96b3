#!/usr/bin/env bash
# Runs the project's Python (the one the torch backend would choose, scripts/torch-python.sh):
# CLIP_TORCH_PYTHON, else .venv (torch 2, transformers; scripts/install-python.sh), else Debian's
# /usr/bin/python3 (torch 1.13), else python3. `bash scripts/python.sh models/generate.py tiny`.
set -euo pipefail
source "$(dirname "$0")/torch-python.sh"
exec "$python" "$@"
