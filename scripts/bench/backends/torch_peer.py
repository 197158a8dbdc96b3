#!/usr/bin/python3
"""PyTorch CPU on the same weights, for information only: Debian's python3-torch 1.13 is built
with a generic BLAS, so it is no fair peer (FACTS: 4.6 s per ViT-B/32 image against 0.09 s in
onnxruntime). Runs the bundle's TorchScript (torch/model.pt) at batch 1 on a couple of notebook
images and captions, with OpenAI's preprocessing (PIL + torchvision) and tokenizer, after one
warm-up call per tower; items/s is items over the summed time of the calls.

  /usr/bin/python3 scripts/bench/backends/torch_peer.py --model DIR --images N --captions N [--budget S]
Prints one line: RESULT {"imagesPerSecond", "captionsPerSecond", "images", "captions", "threads"}
A run stops early once --budget seconds (default 120) are spent; what was measured is reported.
"""
import argparse
import json
import os
import sys
import time

import torch
from PIL import Image
from torchvision.transforms import CenterCrop, InterpolationMode, Normalize, Resize, ToTensor

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "models"))
from simple_tokenizer import SimpleTokenizer  # noqa: E402

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--captions", type=int, default=2)
    ap.add_argument("--budget", type=float, default=120)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.model, "preprocessor_config.json")) as f:
        n_px = json.load(f)["crop_size"]["height"]
    model = torch.jit.load(os.path.join(a.model, "torch", "model.pt")).eval()
    folder = os.path.join(REPO, "..", "shared", "images", "notebook")
    with open(os.path.join(folder, "captions.json")) as f:
        captions = json.load(f)
    transform = lambda im: Normalize(MEAN, STD)(ToTensor()(CenterCrop(n_px)(Resize(n_px, interpolation=InterpolationMode.BICUBIC)(im)).convert("RGB")))  # noqa: E731
    tok = SimpleTokenizer(os.path.join(REPO, "..", "shared", "clip", "bpe_simple_vocab_16e6.txt.gz"))
    start = time.time()
    out = {"threads": a.threads, "torch": torch.__version__}
    with torch.no_grad():
        # Text first: it is cheap, and the budget may stop the image loop.
        ids = [torch.tensor([tok.tokenize(c)]) for c in list(captions.values())[: a.captions]]
        model.encode_text(ids[0])  # warm-up
        times = []
        for x in ids:
            t = time.time()
            model.encode_text(x)
            times.append(time.time() - t)
        out["captions"] = len(times)
        out["captionsPerSecond"] = len(times) / sum(times)
        # Warm-up, as for text: TorchScript's first call runs its profiling pass (measured: the
        # first ViT-B/32 image 3.2 s, the next three 2.3-2.4 s).
        names = list(captions)
        if a.images > 0:
            model.encode_image(transform(Image.open(os.path.join(folder, names[-1]))).unsqueeze(0))
        times = []
        for name in names[: a.images]:
            if time.time() - start > a.budget and times:
                break
            t = time.time()
            model.encode_image(transform(Image.open(os.path.join(folder, name))).unsqueeze(0))
            times.append(time.time() - t)
            print(f"torch image {name}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
        out["images"] = len(times)
        if times:
            out["imagesPerSecond"] = len(times) / sum(times)
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
