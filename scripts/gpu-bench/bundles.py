"""
The GPU benchmark's inputs: full-size random-weight bundles and COCO-sized JPEGs.

Bundles: models/bench-<preset> when models/generate.py made it (TorchScript + ONNX), else
models/bench-<preset>-torch (git-ignored, like every models/bench-*/), built here from
generate.py's own model and configs but with the weights initialised on the GPU (ViT-L/14@336px's
428 M parameters take a while on a CPU) and saved as a state_dict, not traced: the eager model
(CLIP_TORCH_IMPL=eager, the default) and clip_model read a torch.save'd state_dict; the
TorchScript path needs generate.py's bundle. Random weights: the figures are speeds, not numbers.
"""
import os
import re
import shutil
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TINY = os.path.join(REPO, "models", "tiny-clip-336")


def bundle_for(torch, preset, device, log):
    if preset == "tiny":
        return TINY
    for folder in (os.path.join(REPO, "models", "bench-" + preset), os.path.join(REPO, "models", "bench-%s-torch" % preset)):
        if os.path.isfile(os.path.join(folder, "torch", "model.pt")):
            return folder
    return build(torch, preset, device, os.path.join(REPO, "models", "bench-%s-torch" % preset), log)


def build(torch, preset, device, out, log):
    t0 = time.time()
    if "regex" not in sys.modules:
        try:
            import regex  # noqa: F401  (generate.py's tokenizer needs it; building weights does not)
        except ImportError:
            sys.modules["regex"] = re  # never used here: the tokenizer is not instantiated
    sys.path.insert(0, os.path.join(REPO, "models"))
    import generate as G

    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(os.path.join(partial, "torch"))
    on_gpu = device.startswith("cuda") and hasattr(torch.device, "__enter__")  # torch 2: a device as default for new tensors
    if on_gpu:
        with torch.device(device):
            model = G.build_model(preset, G.SEED)
    else:
        model = G.build_model(preset, G.SEED)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(partial, "torch", "model.pt"))
    G.write_configs(partial, preset, G.SEED, model.cpu())
    for name in ("vocab.json", "merges.txt"):  # else the server builds them from CLIP_VOCAB
        if os.path.isfile(os.path.join(TINY, name)):
            shutil.copy(os.path.join(TINY, name), partial)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(partial, out)
    log("built %s (weights initialised on %s, state_dict) in %.0f s" % (os.path.relpath(out, REPO), device if on_gpu else "cpu", time.time() - t0))
    return out


def make_jpegs(torch, folder, count, width=640, height=480, quality=90):
    """`count` distinct photo-like JPEGs (smooth random colour fields, edges and grain) of COCO's
    usual size, about 100-200 KB each at quality 90; made once into `folder`."""
    from frames import tensor_view  # src/backends/torch, on sys.path (bench.py)
    from PIL import Image

    done = os.path.join(folder, ".complete")
    tag = "%d %dx%d q%d" % (count, width, height, quality)
    if os.path.isfile(done) and open(done).read() == tag:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    g = torch.Generator().manual_seed(1)
    for i in range(count):
        low = torch.rand(1, 3, 6, 8, generator=g)
        x = torch.nn.functional.interpolate(low, size=(height, width), mode="bicubic", align_corners=False)[0]
        blocks = torch.nn.functional.interpolate(torch.rand(1, 3, 24, 32, generator=g), size=(height, width), mode="nearest")[0]
        x = (x * 200 + blocks * 55 + torch.randn(3, height, width, generator=g) * 10).clamp(0, 255).to(torch.uint8)
        Image.frombytes("RGB", (width, height), bytes(tensor_view(x.permute(1, 2, 0).contiguous()))).save(os.path.join(folder, "coco-%03d.jpg" % i), quality=quality)
    with open(done, "w") as f:
        f.write(tag)
    return folder
