"""
The GPU benchmark's stages, each run by bench.py in a child process of its own (`bench.py --stage
NAME`), so that a stage that fails or hangs is killed with everything it started (workers, the
server, DataLoader workers) and frees its GPU memory, while the stages before it stay on disk.

A stage reads what earlier stages found from the results file (--out: bench.py rewrites it after
every stage) and prints its own result as one line, `STAGE-RESULT {json}`, last on stdout; a
long stage (graphs) prints one such line after each part too, which bench.py keeps as the
stage's partial result if the stage is cut off or fails later.
Stage names are KIND or KIND:PRESET:

  env          torch, its build and the device (the first thing to read on a new machine)
  matmul       the matrix-product rate (bf16 and fp16 8192³ on a GPU, float32 on the CPU)
  bundle:P     the preset's bundle (built with torch alone when missing: bundles.py)
  a:P          (a) the in-process limit: the worker's runner at each --batches size
  b:P          (b) through worker.py, several batches in flight, at (a)'s best batch
  graphs:P     eager against CUDA graph replay and torch.compile at (a)'s best batch: cosine, rate
  jpegs        640 x 480 JPEGs for (c) and (d) (PIL)
  d:P          (d) the peer: PyTorch CLIP behind a PIL DataLoader (peer.py)
  ceiling:P    one Node thread's preprocessing rate x CLIP_PREPROCESS_THREADS (node)
  c:P          (c) end to end through the server under load (node, the project's dependencies)

torch, PIL and node are imported or started only by the stages that need them: a machine without
one of them loses those stages, not the run.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PREFIX = "STAGE-RESULT "
T0 = float(os.environ.get("CLIPQL_BENCH_T0") or time.time())  # the parent's clock, for one timeline in the log


def log(msg):
    print("[%5.0fs] %s" % (time.time() - T0, msg), file=sys.stderr, flush=True)


def prior(state, name):
    """An earlier stage's result, or None when it did not finish."""
    s = (state.get("stages") or {}).get(name) or {}
    return s.get("result") if s.get("status") == "ok" else None


def best_batch(a, state, preset):
    r = prior(state, "a:" + preset)
    return (r["batch"], "(a)'s best") if r else (a.batches[0], "--batches' first: (a) did not finish")


def torch_on(a):
    import torch

    if a.device.startswith("cuda"):
        torch.cuda.set_device(torch.device(a.device))  # events, pinned memory, streams: this GPU's
    return torch


def bundle_of(preset):
    import bundles
    from client import Bundle

    folder = bundles.find(preset)
    if folder is None:
        raise RuntimeError("no bundle for %s: the bundle:%s stage did not finish" % (preset, preset))
    return folder, Bundle(folder)


def env(a, preset, state):
    torch = torch_on(a)
    from worker import torch_build

    out = {"torch": torch.__version__, "build": torch_build(torch), "python": sys.executable, "cpus": os.cpu_count()}
    if a.device.startswith("cuda"):
        d = torch.device(a.device)
        p = torch.cuda.get_device_properties(d)
        out.update(device="%s (%s)" % (a.device, p.name), memoryGiB=round(p.total_memory / 2 ** 30, 1), gpus=torch.cuda.device_count())
    else:
        out["device"] = "cpu"
    log("env: %s, torch %s, %s" % (out["device"], out["torch"], out["build"]))
    return out


def matmul(a, preset, state):
    import measure

    torch = torch_on(a)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        n, rates = 8192, {d: measure.matmul_rate(torch, dev, getattr(torch, d), 8192) for d in ("bfloat16", "float16")}
    else:
        n = 1024 if a.small else 2048
        rates = {"float32": measure.matmul_rate(torch, dev, torch.float32, n, seconds=1.0)}
    log("matmul %d³: %s" % (n, ", ".join("%s %.3g TFLOP/s" % (k, v / 1e12) for k, v in rates.items())))
    return {"n": n, "flopsPerSecond": rates}


def bundle(a, preset, state):
    import bundles
    import measure
    from client import Bundle

    folder = bundles.bundle_for(torch_on(a), preset, a.device, log)
    b = Bundle(folder)
    return {"bundle": os.path.relpath(folder, REPO), "imageSize": b.image_size, "flopsPerImage": measure.vit_flops(*b.vit_shape())}


def inprocess(a, preset, state):
    import measure
    from client import random_crops

    torch = torch_on(a)
    folder, b = bundle_of(preset)
    rates, notes = measure.inprocess(torch, b, a.device, a.dtype, a.batches, a.seconds, random_crops(torch, 1, b.image_size), log)
    best = max(rates, key=rates.get)
    m = prior(state, "matmul")
    peak = (m["flopsPerSecond"].get(a.dtype) or max(m["flopsPerSecond"].values())) if m else None
    util = rates[best] * measure.vit_flops(*b.vit_shape()) / peak if peak else None
    log("(a) %s: best batch %d, %.1f images/s%s" % (preset, best, rates[best], ", %.3f of the matmul rate" % util if util else ""))
    return {"imagesPerSecond": rates[best], "batch": best, "byBatch": rates, "notes": notes, "flopUtilisation": util, "dtype": a.dtype}


def graphs(a, preset, state):
    import measure

    torch = torch_on(a)
    _, b = bundle_of(preset)
    batch, why = best_batch(a, state, preset)
    out = measure.variants(torch, b, a.device, a.dtype, batch, a.seconds, log, a.compile_backend, lambda r: partial(dict(r, batchFrom=why, partial=True)))
    out["batchFrom"] = why
    return out


def worker(a, preset, state):
    import measure
    from client import random_crops

    torch = torch_on(a)
    _, b = bundle_of(preset)
    batch, why = best_batch(a, state, preset)
    r = prior(state, "a:" + preset)
    threads = 0 if a.device == "cpu" else 2  # the backend's CLIP_TORCH_THREADS default on a GPU is 2
    out = measure.through_worker(torch, b, a.device, a.dtype, batch, a.seconds * 2, a.in_flight, threads, random_crops(torch, 1, b.image_size), r["imagesPerSecond"] if r else 0, log)
    out["batchFrom"] = why
    return out


def jpegs(a, preset, state):
    import bundles

    folder = bundles.make_jpegs(torch_on(a), a.images, 16 if a.small else 64)
    return {"folder": os.path.relpath(folder, REPO), "count": len([f for f in os.listdir(folder) if f.endswith(".jpg")])}


def images(state):
    r = prior(state, "jpegs")
    if not r:
        raise RuntimeError("no JPEGs: the jpegs stage did not finish")
    return os.path.join(REPO, r["folder"])


def peer(a, preset, state):
    import server

    folder, _ = bundle_of(preset)
    batch = 8 if a.small else 64
    # Its length is a time, not a count derived from (a)'s rate (which made it minutes long).
    argv = [sys.executable, os.path.join(HERE, "peer.py"), "--bundle", folder, "--images", images(state), "--device", a.device, "--dtype", a.dtype, "--batch", str(batch),
            "--workers", str(a.peer_workers), "--seconds", str(a.seconds * 2), "--warmup-batches", "1" if a.small else "2"]
    if a.peer_torchscript:
        argv.append("--torchscript")
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("peer.py failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
    out = server.result_line(p.stdout)
    log("(d) peer: %.1f images/s (batch %d, %d DataLoader workers)" % (out["imagesPerSecond"], batch, out["workers"]))
    return out


def ceiling(a, preset, state):
    import server

    why = server.missing(a.node)
    if why:
        raise RuntimeError(why)
    folder, _ = bundle_of(preset)
    pre = server.preprocess_rate(a.node, folder, images(state), 1.0 if a.small else 3.0)
    return {"perThread": pre["imagesPerSecond"], "threads": a.preprocess_threads, "imagesPerSecond": pre["imagesPerSecond"] * a.preprocess_threads}


def end_to_end(a, preset, state):
    import server

    why = server.missing(a.node)
    if why:
        raise RuntimeError(why)
    folder, _ = bundle_of(preset)
    batch, _ = best_batch(a, state, preset)
    env = {"CLIP_TORCH_DEVICES": "cpu" if a.device == "cpu" else a.device.replace("cuda:", ""), "CLIP_TORCH_DTYPE": a.dtype, "CLIP_TORCH_MAX_BATCH": str(batch),
           "CLIP_TORCH_IN_FLIGHT": str(a.in_flight), "CLIP_PREPROCESS_THREADS": str(a.preprocess_threads)}
    out = server.end_to_end(a.node, folder, images(state), env, a.concurrency, 5 if a.small else 15, 2 if a.small else 5, a.per_request, log)
    if not out.get("imagesPerSecond"):
        raise RuntimeError("(c): no request completed in the measured window: %s" % json.dumps(out)[:500])
    return out


def cpu_workers(a, preset, state):
    import bundles
    import server

    why = server.missing(a.node)
    if why:
        raise RuntimeError("cpu-workers needs the server: %s" % why)
    folder = bundles.bundle_for(torch_on(a), "tiny" if a.small else "vit-b-32", "cpu", log)
    images_dir = bundles.make_jpegs(torch_on(a), a.images, 16 if a.small else 64)
    return server.cpu_workers(a.node, folder, images_dir, a.rounds, 16 if a.small else 12, 8, 2, log)


STAGES = {"env": env, "matmul": matmul, "bundle": bundle, "a": inprocess, "graphs": graphs, "b": worker, "jpegs": jpegs, "d": peer, "ceiling": ceiling, "c": end_to_end, "cpu-workers": cpu_workers}
GPU_STAGES = ("bundle", "a", "b")  # torch alone, per model
LATER_STAGES = ("d", "ceiling", "c")  # PIL or node, per model, after jpegs


def plan(a):
    """The stages in their order: every torch-only stage first (each model's figures, then the
    graph/compile checks, whose compilation is the longest and least certain part), then those
    needing PIL or node."""
    if a.cpu_workers:
        return ["env", "cpu-workers"]
    names = ["env", "matmul"] + ["%s:%s" % (k, p) for p in a.models for k in GPU_STAGES] + ["graphs:" + p for p in a.models] + ["jpegs"]
    return names + ["%s:%s" % (k, p) for p in a.models for k in LATER_STAGES]


def partial(result):
    """A result so far: printed as a stage goes, so that one cut off by its timeout keeps it."""
    print(PREFIX + json.dumps(result, default=str), flush=True)


def run(a, name):
    """The child's side: one stage, its result printed on stdout."""
    state = {}
    if os.path.isfile(a.out):
        with open(a.out) as f:
            state = json.load(f)
    kind, _, preset = name.partition(":")
    injected = dict(i.split("=", 1) for i in a.inject)
    if injected.get(name) == "fail":
        raise RuntimeError("injected failure (--inject %s=fail)" % name)
    if injected.get(name) == "hang":
        # As a stuck stage would: with a process of its own (a worker, a server) that must go too.
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        log("%s: hanging as injected (--inject %s=hang), with child pid %d" % (name, name, child.pid))
        while True:
            time.sleep(3600)
    partial(STAGES[kind](a, preset, state))
