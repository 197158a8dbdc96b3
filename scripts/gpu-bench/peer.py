#!/usr/bin/env python3
"""
(d) the peer: the walkthrough's own stack as a plain batch script. OpenAI-style PyTorch CLIP
(clip_model.py's eager CLIP from the bundle's weights, as clip.load(jit=False) builds it; or with
--torchscript the bundle's TorchScript graphs, loaded as torchscript.py does, patched for the
device) fed by a torch.utils.data.DataLoader whose workers (num_workers = cores) decode and
preprocess with PIL + torchvision exactly as scripts/bench/backends/torch_peer.py does (Resize bicubic,
CenterCrop, ToTensor, Normalize); batch 64, pinned memory, float16 on the GPU. Where torchvision
is not importable (the project's CPU venv: the CPU torch has no torchvision beside it), the same
four steps are written out on PIL and torch (pil_transform below), as torchvision runs them on a
PIL image.

  python scripts/gpu-bench/peer.py --bundle DIR --images DIR --device cuda:0 --dtype float16
         [--batch 64] [--workers N] [--seconds 6] [--count N] [--warmup-batches 2]
Prints RESULT {"imagesPerSecond", "images", "seconds", "batch", "workers"}: images after the
warm-up batches over the time from the end of the warm-up (synchronized) to the last batch's
embeddings (synchronized). Run as its own process, so that its DataLoader workers and GPU memory
go with it. Not run here on a GPU (none on the machine this was written on).
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "src", "backends", "torch"))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from client import Bundle  # noqa: E402


class Files(torch.utils.data.Dataset):
    """`count` items cycling over the JPEG files: each item is decoded and preprocessed afresh."""

    def __init__(self, folder, count, transform):
        self.files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg")))
        self.count, self.transform = count, transform

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        with Image.open(self.files[i % len(self.files)]) as im:
            return self.transform(im.convert("RGB"))


def openai_transform(n_px, mean, std):
    try:
        from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor
    except Exception:  # noqa: BLE001 - absent, or present but its C extension does not load
        return pil_transform(n_px, mean, std)
    return Compose([Resize(n_px, interpolation=InterpolationMode.BICUBIC), CenterCrop(n_px), ToTensor(), Normalize(mean, std)])


def pil_transform(n_px, mean, std):
    """torchvision's Resize(n_px, BICUBIC) + CenterCrop(n_px) + ToTensor + Normalize on a PIL RGB
    image: the shorter side to n_px and the longer to int(n_px * long / short), PIL's bicubic
    resize; the crop's offsets round((size - n_px) / 2); x / 255 in float32, then (x - mean) / std."""
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def transform(im):
        w, h = im.size
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(n_px * long / short)
        size = (n_px, new_long) if w <= h else (new_long, n_px)
        im = im.resize(size, Image.BICUBIC)
        left, top = int(round((size[0] - n_px) / 2.0)), int(round((size[1] - n_px) / 2.0))
        im = im.crop((left, top, left + n_px, top + n_px))
        x = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(n_px, n_px, 3).permute(2, 0, 1)
        return (x.to(torch.float32) / 255 - mean_t) / std_t

    return transform


def load_model(bundle, device, dtype, torchscript):
    if torchscript:
        from torchscript import load_torchscript

        model, _ = load_torchscript(torch, bundle.model, device, dtype)
        return model.encode_image
    import checkpoint
    import clip_model

    arch, stated = checkpoint.architecture(bundle.config)
    model = clip_model.build_clip(checkpoint.load_state_dict(bundle.model), stated=stated, **arch)
    model = model.to(device=device, dtype=dtype)
    return lambda x: model.encode_image(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--count", type=int, default=64 * 1000, help="images at most (the dataset's length)")
    ap.add_argument("--seconds", type=float, default=6.0, help="stop after this long past the warm-up (checked after each batch)")
    ap.add_argument("--warmup-batches", type=int, default=2)
    ap.add_argument("--torchscript", action="store_true")
    a = ap.parse_args()
    bundle = Bundle(a.bundle)
    device, dtype = torch.device(a.device), getattr(torch, a.dtype)
    cuda = device.type == "cuda"
    pre = bundle.pre
    transform = openai_transform(bundle.image_size, pre["image_mean"], pre["image_std"])
    encode = load_model(bundle, device, dtype, a.torchscript)
    loader = torch.utils.data.DataLoader(Files(a.images, a.count, transform), batch_size=a.batch, num_workers=a.workers, pin_memory=cuda)
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    images, t0 = 0, None
    with torch.inference_mode():
        for i, x in enumerate(loader):
            y = encode(x.to(device, non_blocking=True).to(dtype))
            if i + 1 == a.warmup_batches:
                sync()
                t0 = time.perf_counter()
            elif t0 is not None:
                images += x.shape[0]
                if images % (a.batch * 4) == 0 and time.perf_counter() - t0 >= a.seconds:
                    break  # launches run ahead of the device: the synchronize below counts the queued work
        sync()
    seconds = time.perf_counter() - t0
    assert y.dim() == 2 and torch.isfinite(y.float()).all(), "non-finite or misshapen embeddings"
    out = {"imagesPerSecond": images / seconds, "images": images, "seconds": seconds, "batch": a.batch, "workers": a.workers, "model": "torchscript" if a.torchscript else "clip_model eager"}
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
