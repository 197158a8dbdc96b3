# Sourced by the scripts: sets $python to the interpreter that has torch, as the torch backend
# chooses it (src/paths.ts defaultPython): CLIP_TORCH_PYTHON, else the project's venv
# (scripts/install-python.sh), else Debian's /usr/bin/python3 when it imports torch, else python3.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${CLIP_TORCH_PYTHON:-}" ]]; then
  python="$CLIP_TORCH_PYTHON"
elif [[ -x "$root/.venv/bin/python" ]]; then
  python="$root/.venv/bin/python"
elif [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  python=/usr/bin/python3
else
  python=python3
fi
