# Sourced by the GPU scripts: sets $python to the interpreter that has torch (CLIP_TORCH_PYTHON,
# else Debian's /usr/bin/python3 when it imports torch, else python3 on the PATH), as the torch
# backend chooses it (src/backends/torch/settings.ts).
if [[ -n "${CLIP_TORCH_PYTHON:-}" ]]; then
  python="$CLIP_TORCH_PYTHON"
elif [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  python=/usr/bin/python3
else
  python=python3
fi
