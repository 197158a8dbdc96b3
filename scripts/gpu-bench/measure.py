"""
The in-process measurements of the GPU benchmark: the matrix-product rate, a ViT's FLOPs from its
shapes, (a) the eager model in this process and (b) the same model through worker.py.

Timing on a GPU is by CUDA events on the stream that does the work, after warm-up and with a
synchronize before the first event (so that queued work is not counted) and after the last (so
that launches are not mistaken for work); on the CPU, perf_counter around synchronous calls.
Not run here (no GPU on the machine this was written on): every torch.cuda branch below.
"""
import time


def vit_flops(image_size, patch, width, layers, embed_dim):
    """Multiply-adds x 2 of one image through the vision tower. Per block of N tokens of width w:
    QKV 6Nw², scores and weighted sum 4N²w, output projection 2Nw², MLP 16Nw²; plus the patch
    convolution and the final projection (LayerNorms, softmax and GELU are not counted).
    ViT-L/14@336px: N = 577, about 381 GFLOP."""
    grid = (image_size // patch) ** 2
    n = grid + 1
    per_block = 24 * n * width * width + 4 * n * n * width
    return 2 * grid * 3 * patch * patch * width + layers * per_block + 2 * width * embed_dim


class Clock:
    """Elapsed seconds of work on `device`: CUDA events there, perf_counter on the CPU."""

    def __init__(self, torch, device):
        self.torch, self.cuda = torch, device.type == "cuda"
        self.device = device

    def __enter__(self):
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
            self.begin = self.torch.cuda.Event(enable_timing=True)
            self.end = self.torch.cuda.Event(enable_timing=True)
            self.begin.record(self.torch.cuda.current_stream(self.device))  # this device's stream, not GPU 0's
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.cuda:
            self.end.record(self.torch.cuda.current_stream(self.device))
            self.end.synchronize()
            self.seconds = self.begin.elapsed_time(self.end) / 1e3
        else:
            self.seconds = time.perf_counter() - self.t0


def timed_rate(torch, device, fn, items, seconds, warmup=3):
    """items/s of fn() over about `seconds` (at least 3 calls), after `warmup` calls."""
    for _ in range(warmup):
        fn()
    with Clock(torch, device) as c:
        fn()
    calls = max(3, int(seconds / max(c.seconds, 1e-5)))
    with Clock(torch, device) as c:
        for _ in range(calls):
            fn()
    return calls * items / c.seconds


def matmul_rate(torch, device, dtype, n, seconds=2.0):
    """FLOP/s of an n x n x n matrix product (2 n³ FLOP) in `dtype` on `device`."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    out = torch.empty(n, n, device=device, dtype=dtype)
    return timed_rate(torch, device, lambda: torch.matmul(a, b, out=out), 2 * n ** 3, seconds)


def inprocess(torch, bundle, device, dtype, batches, seconds, crops, log):
    """(a): runner.Runner (the worker's model: uint8 lookup-normalise + eager CLIP, no CUDA
    graphs) on device-resident uint8 crops, at each batch size. Returns {batch: images/s}."""
    from faults import is_out_of_memory  # src/backends/torch: the worker's own test

    runner = bundle.runner(torch, device=device, dtype=dtype, impl="eager")
    rates, oom = {}, []
    for b in batches:
        x = crops[:1].expand(b, -1, -1, -1).contiguous().to(runner.device)
        try:
            rates[b] = timed_rate(torch, runner.device, lambda: runner.encode_image(x), b, seconds)
        except RuntimeError as e:
            if not is_out_of_memory(str(e)):
                raise  # a real fault, not a batch too large: the stage fails with it
            log("(a) batch %d ran out of memory; the smaller batches stand" % b)
            oom.append(b)
        if b in oom:
            del x
            if runner.device.type == "cuda":
                torch.cuda.empty_cache()  # outside the except block: its traceback no longer holds the batch
            continue
        log("(a) in-process %s %s batch %d: %.1f images/s" % (device, dtype, b, rates[b]))
    if not rates:
        raise RuntimeError("(a): every batch size (%s) ran out of memory" % ", ".join(map(str, batches)))
    notes = runner.notes
    del runner
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return rates, notes


def through_worker(torch, bundle, device, dtype, batch, seconds, in_flight, threads, crops, expected_rate, log):
    """(b): worker.py through client.py: uint8 crops over the pipe, `in_flight` batches
    outstanding; images/s from the first send to the last answer, after a warm-up."""
    from client import Worker

    w = Worker(bundle, device=device, dtype=dtype, impl="eager", in_flight=in_flight, threads=threads)
    try:
        host = crops[:1].expand(batch, -1, -1, -1).contiguous()  # one tensor, sent again and again
        w.stream([host] * (in_flight + 2), in_flight)
        count = max(in_flight + 3, int(expected_rate * seconds / batch))
        run = w.stream([host] * count, in_flight)
    finally:
        w.close()
    ms = sorted(run["deviceMs"])
    out = {"imagesPerSecond": run["perSecond"], "batches": count, "batch": batch, "inFlight": in_flight, "seconds": run["seconds"], "deviceMsMedian": ms[len(ms) // 2] if ms else None, "ready": w.info}
    log("(b) worker %s %s batch %d, %d in flight: %.1f images/s" % (device, dtype, batch, in_flight, out["imagesPerSecond"]))
    return out


def variants(torch, bundle, device, dtype, batch, seconds, log, compile_backend="inductor", progress=None):
    """The graphs stage: the eager runner against CUDA graph replay (CLIP_TORCH_CUDA_GRAPHS at
    this batch) and torch.compile (with the graph at the same size on a GPU, as the two settings
    together run; alone on the CPU, where there are no graphs), on the same distinct crops: each
    one's lowest cosine to eager (wanted >= 0.9999), its images/s, and its start-up seconds
    (compilation and capture included). A variant that fails is recorded and the others go on."""
    from client import random_crops

    cuda = device.startswith("cuda")
    x = random_crops(torch, batch, bundle.image_size, seed=7).to(device)
    kinds = {"eager": {}}
    if cuda:
        kinds["graphs"] = {"cuda_graphs": [batch]}
        kinds["compile+graphs"] = {"cuda_graphs": [batch], "compile": True, "compile_backend": compile_backend}
    else:
        kinds["compile"] = {"compile": True, "compile_backend": compile_backend}
    out, base, wanted = {}, None, 0.9999

    def summary():
        ok = all("error" not in v and v["minCosine"] >= wanted for v in out.values())
        return {"batch": batch, "compileBackend": compile_backend, "variants": dict(out), "wantedCosine": wanted, "pass": ok}

    for name, kw in kinds.items():
        t0 = time.perf_counter()
        try:
            runner = bundle.runner(torch, device=device, dtype=dtype, impl="eager", **kw)
            started = time.perf_counter() - t0
            y = runner.encode_image(x).float()
            base = y if base is None else base
            cos = float(torch.nn.functional.cosine_similarity(y, base).min())
            rate = timed_rate(torch, runner.device, lambda: runner.encode_image(x), batch, seconds)
            out[name] = {"imagesPerSecond": rate, "startSeconds": started, "minCosine": cos, "notes": runner.notes}
            log("graphs: %s batch %d: %.1f images/s, cosine to eager %.7f, started in %.1f s" % (name, batch, rate, cos, started))
        except Exception as e:  # noqa: BLE001 - recorded, the next variant runs
            out[name] = {"error": "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[-1] if str(e).strip() else "")}
            log("graphs: %s FAILED: %s" % (name, out[name]["error"]))
        runner = y = None  # this variant's memory goes before the next one's model
        if cuda:
            torch.cuda.empty_cache()
        if progress:
            progress(summary())
    return summary()
