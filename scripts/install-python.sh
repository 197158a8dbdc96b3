#!/usr/bin/env bash
# The project's Python environment: a venv at $CLIPQL_VENV (default .venv in the repository,
# git-ignored) with scripts/python-requirements.txt (torch 2, transformers, safetensors, onnx,
# onnxruntime, faiss). The torch backend, models/generate.py, models/export.py and the tests use
# it by default (scripts/python.sh says which interpreter each uses and why).
#
# Idempotent: a venv whose recorded requirements hash matches the file is left as it is.
# Indexes: PIP_INDEX_URL when you set it; else PyPI when it answers; else, when pip's
# configuration lists only local (file://) indexes, as on this project's machine image, those
# alone (pip would otherwise retry the unreachable public index for minutes).
# Needs Python 3.10+ with the venv module (Debian: python3-venv); CLIPQL_VENV_PYTHON picks it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CLIPQL_VENV:-.venv}"
req=scripts/python-requirements.txt
want="$(sha256sum "$req" | cut -d' ' -f1)"
stamp="$venv/.requirements.sha256"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "python environment up to date: $venv ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
  exit 0
fi

base="${CLIPQL_VENV_PYTHON:-python3}"
if ! "$base" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: $base is not Python 3.10+ with the venv module (Debian: apt-get install python3-venv; or set CLIPQL_VENV_PYTHON)" >&2
  exit 2
fi

if [[ -z "${PIP_INDEX_URL:-}" ]]; then
  if ! "$base" -c 'import urllib.request; urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=5)' 2>/dev/null; then
    extra="$("$base" -m pip config get global.extra-index-url 2>/dev/null || true)"
    local_only=1
    for url in $extra; do [[ "$url" == file://* ]] || local_only=0; done
    if [[ -n "$extra" && "$local_only" == 1 ]]; then
      read -r first rest <<<"$extra"
      export PIP_INDEX_URL="$first" PIP_EXTRA_INDEX_URL="${rest:-}"
      echo "PyPI does not answer: installing from the local indexes only ($extra)"
    else
      echo "warning: PyPI does not answer and pip has no local indexes configured; trying anyway" >&2
    fi
  fi
fi

rm -rf "$venv"
"$base" -m venv "$venv"
# Warnings about index folders a package is missing from are noise: keep errors only.
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" 2> >(grep -v "^WARNING: Location" >&2)
"$venv/bin/python" -c 'import torch, transformers, safetensors, onnx, onnxruntime, faiss; print("python environment ready:", "'"$venv"'", "torch", torch.__version__, "transformers", transformers.__version__)'
echo "$want" >"$stamp"
