#!/usr/bin/env python3
"""
The torch backend's model against onnxruntime on the CPU, in one process, in interleaved rounds
(scripts/bench/backends/torch-cpu.ts runs it; `npm run bench:torch`):

  - torch: the worker's own runner.Runner (uint8 lookup-normalise + clipql's eager CLIP from the
    bundle's torch/model.pt and config.json) in each mode: float32, bfloat16, and each of those
    under torch.compile (CLIP_TORCH_COMPILE) — the model the torch backend serves, minus the pipe;
  - onnxruntime (its Python binding, the same library as onnxruntime-node) on the bundle's
    onnx/vision_model.onnx, with the onnx backend's session options
    (src/backends/onnx/session-options.ts: intra-op threads, one inter-op thread, all graph
    optimisations, no spinning), and onnx/vision_model_int8.onnx when quantize.py made it.

Each path gets the same pixels (the runner's normalised float32 crops of random uint8 images) at
the same batch and threads. Reported per path: images/s in every round and their median; the
seconds to be ready (model load + warm-up; with compile, the first call at the batch size too,
since each new shape compiles once); the cosine of each embedding to torch float32's (min/mean);
and onnx float32's cosine to torch float32 (two implementations of the same weights).

  .venv/bin/python scripts/bench/backends/torch_cpu.py --model DIR [--batch 16] [--seconds 6] [--rounds 3]
        [--threads 2] [--modes float32,bfloat16,float32+compile,bfloat16+compile] [--no-onnx]
Answers RESULT {...} on stdout; progress on stderr.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path[:0] = [os.path.join(REPO, "src", "backends", "torch"), os.path.join(REPO, "scripts", "gpu-bench")]

import torch  # noqa: E402

from client import Bundle, random_crops  # noqa: E402
from measure import timed_rate  # noqa: E402

T0 = time.time()


def log(msg):
    print("[torch-cpu %5.0fs] %s" % (time.time() - T0, msg), file=sys.stderr, flush=True)


def torch_path(bundle, mode, x):
    dtype, compiled = mode.split("+")[0], mode.endswith("+compile")
    t = time.perf_counter()
    runner = bundle.runner(torch, device="cpu", dtype=dtype, impl="eager", compile=compiled)
    runner.encode_image(x)  # with compile: this batch size compiles here
    ready = time.perf_counter() - t
    log("%s ready in %.1f s (%s)" % (mode, ready, "; ".join(runner.notes)))
    return {"name": "torch " + mode, "ready": ready, "run": lambda: runner.encode_image(x).float(), "notes": runner.notes}


def onnx_path(bundle, file, threads, pixels, name):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    t = time.perf_counter()
    s = ort.InferenceSession(file, o, providers=["CPUExecutionProvider"])
    feed = {s.get_inputs()[0].name: pixels.numpy()}
    s.run(None, feed)
    ready = time.perf_counter() - t
    log("%s ready in %.1f s" % (name, ready))
    return {"name": name, "ready": ready, "run": lambda: torch.from_numpy(s.run(None, feed)[0]), "notes": [os.path.relpath(file, bundle.dir)]}


def cosines(a, b):
    c = torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1)
    return {"min": float(c.min()), "mean": float(c.mean())}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--modes", default="float32,bfloat16,float32+compile,bfloat16+compile")
    p.add_argument("--no-onnx", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    bundle = Bundle(a.model)
    crops = random_crops(torch, a.batch, bundle.image_size)
    paths = [torch_path(bundle, m, crops) for m in a.modes.split(",")]
    if not a.no_onnx:
        with torch.inference_mode():
            pixels = bundle.runner(torch, device="cpu", dtype="float32", impl="eager").normalise(crops)
        for suffix, name in (("", "onnxruntime float32"), ("_int8", "onnxruntime int8")):
            f = os.path.join(bundle.dir, "onnx", "vision_model%s.onnx" % suffix)
            if os.path.exists(f):
                paths.append(onnx_path(bundle, f, a.threads, pixels, name))
    reference = paths[0]["run"]()  # torch float32 (the first mode)
    for q in paths:
        q["cosine"] = cosines(q["run"](), reference)
        q["rates"] = []
    for r in range(a.rounds):
        for q in paths:
            q["rates"].append(timed_rate(torch, torch.device("cpu"), q["run"], a.batch, a.seconds, warmup=1))
            log("round %d: %s %.2f images/s" % (r + 1, q["name"], q["rates"][-1]))
    out = {
        "model": os.path.relpath(bundle.dir, REPO), "batch": a.batch, "threads": a.threads, "seconds": a.seconds, "torch": torch.__version__,
        "paths": [{k: q[k] for k in ("name", "ready", "cosine", "rates", "notes")} | {"median": statistics.median(q["rates"])} for q in paths],
    }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
