#!/usr/bin/env python3
"""
torch.compile in the worker's runner (src/backends/torch/runner.py) on the tiny bundle, for
test/bench/torch-compile.test.ts: batches of many sizes, the number of compilations read from
torch's own counters (torch._dynamo.utils.counters: unique graphs captured), the recompile
limit, and the compiled embeddings against the eager runner's (a separate runner, not compiled).
Printed as one JSON object; the test holds the expectations.

  compile_buckets.py REPO_ROOT BACKEND [MAX_BATCH]

BACKEND "eager" is dynamo's tracing without code generation (the recompilations are dynamo's,
whatever the backend); "inductor" generates code as a GPU run would (slow on the CPU).
"""
import json
import os
import sys


def main(root, backend, max_batch):
    sys.dont_write_bytecode = True
    sys.path[:0] = [os.path.join(root, "scripts", "gpu-bench"), os.path.join(root, "src", "backends", "torch")]
    import torch
    import torch._dynamo.utils as du

    from client import Bundle, random_crops, random_ids

    torch.set_num_threads(1)
    bundle = Bundle(os.path.join(root, "models", "tiny-clip-336"))
    eager = bundle.runner(torch)
    du.counters.clear()
    compiled = bundle.runner(torch, compile=True, max_batch=max_batch, compile_backend=backend)
    at_start = du.counters["stats"]["unique_graphs"]
    image_sizes, text_sizes = [1, 2, 3, 5, 6, 7, 8, 3, 1], [1, 2, 3, 5, 12, 9]
    crops = random_crops(torch, max(image_sizes), bundle.image_size, seed=3)
    ids = random_ids(torch, max(text_sizes), bundle.context_length, seed=4)
    worst = 1.0
    shapes_ok = True
    for n in image_sizes:
        a, b = eager.encode_image(crops[:n]), compiled.encode_image(crops[:n])
        shapes_ok = shapes_ok and tuple(a.shape) == tuple(b.shape)
        worst = min(worst, float(torch.nn.functional.cosine_similarity(a.float(), b.float()).min()))
    for n in text_sizes:
        a, b = eager.encode_text(ids[:n]), compiled.encode_text(ids[:n])
        shapes_ok = shapes_ok and tuple(a.shape) == tuple(b.shape)
        worst = min(worst, float(torch.nn.functional.cosine_similarity(a.float(), b.float()).min()))
    config = torch._dynamo.config
    limit = getattr(config, "recompile_limit", getattr(config, "cache_size_limit", None))
    return {"torch": torch.__version__, "backend": backend, "maxBatch": max_batch, "graphsAtStart": at_start, "graphs": du.counters["stats"]["unique_graphs"],
            "imageSizes": image_sizes, "textSizes": text_sizes, "minCosine": worst, "shapesOk": shapes_ok, "recompileLimit": limit, "notes": compiled.notes}


if __name__ == "__main__":
    print(json.dumps(main(os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)))
