#!/usr/bin/env bash
# Debian packages the tests need: PyTorch/ONNX/PIL/torchvision for the reference model generator,
# the torch backend's worker and the PIL pixel references; Chromium for the browser test; fonts
# for the heatmap's text; heif-enc and heif-convert (libheif-examples) to make HEIC test files and decode them independently; jpegtran (libjpeg-turbo-progs) to turn test JPEGs losslessly; PostgreSQL 15 and its server headers for the collection store's server
# engine (the tests build pgvector from ../shared/vendor against them). Then the project's own Python
# environment (.venv: torch 2, transformers, faiss; scripts/install-python.sh). Idempotent; run as root
# (or through sudo). Debian's torch 1.13 stays installed: it is the tested plain-attention fallback.
set -euo pipefail
pkgs=(python3 python3-torch python3-torchvision python3-onnx python3-pil python3-numpy python3-regex python3-venv chromium fonts-dejavu-core postgresql-15 postgresql-server-dev-15 libheif-examples libjpeg-turbo-progs)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system packages present: ${pkgs[*]}"
bash "$(dirname "$0")/install-python.sh"
