#!/usr/bin/env python3
"""
clipql's GPU benchmark (scripts/gpu-bench.sh runs it), sized for at most 8 minutes on one GPU:
for ViT-L/14@336px and ViT-B/32 (full shapes, random weights; bundles.py finds or builds them)

  (a) the in-process limit: the worker's model (runner.Runner, eager, float16) on device-resident
      uint8 crops at the best of --batches, CUDA-event timing (measure.py)
  (b) through worker.py (client.py), uint8 crops over the pipe, several batches in flight, at (a)'s batch
  (c) end to end: the server (node dist/src/server/main.js, CLIP_BACKEND=torch) under autocannon,
      multipart uploads of distinct 640 x 480 JPEGs at high concurrency (server.py, e2e.ts);
      skipped with a message when there is no node (--node) or no dist/ (npm run build)
  (d) the peer: OpenAI-style PyTorch CLIP behind a PIL DataLoader, batch 64 (peer.py)

plus the matrix-product rate (bf16 and fp16 8192³ on a GPU, float32 on the CPU), the model's FLOP
utilisation (FLOPs from the shapes), the preprocessing ceiling (one thread's rate of the server's
preprocessing x CLIP_PREPROCESS_THREADS), every figure as a ratio to (a) and to (d), the targets
met or not, and one JSON file (--out).

  scripts/gpu-bench.sh                        ViT-L/14@336px and ViT-B/32 on cuda:0
  scripts/gpu-bench.sh --cpu --small          the tiny model on the torch CPU backend (CI; < 60 s)
  scripts/gpu-bench.sh --cpu --cpu-workers    two CPU workers against one (ViT-B/32, concurrency 8)
Ratios are what mean something: the same figures taken minutes apart differ (FACTS.md).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path[:0] = [HERE, os.path.join(REPO, "src", "backends", "torch")]

import torch  # noqa: E402

import bundles  # noqa: E402
import measure  # noqa: E402
import server  # noqa: E402
from client import Bundle, random_crops  # noqa: E402

NAMES = {"vit-l-14-336": "ViT-L/14@336px", "vit-b-32": "ViT-B/32", "tiny": "tiny-clip-336"}
T0 = time.time()


def log(msg):
    print("[%5.0fs] %s" % (time.time() - T0, msg), file=sys.stderr, flush=True)


def parse(argv):
    p = argparse.ArgumentParser(description="clipql GPU benchmark", epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true", help="the torch CPU backend (float32) instead of a GPU")
    p.add_argument("--small", action="store_true", help="the tiny model, few images, short runs (with --cpu: CI)")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--models", help="presets, comma-separated (default vit-l-14-336,vit-b-32; tiny with --small)")
    p.add_argument("--dtype", help="default float16 on a GPU, float32 on the CPU")
    p.add_argument("--batches", help="(a)'s batch sizes (default 16,32,64,128; 4,8 with --small)")
    p.add_argument("--seconds", type=float, help="per measurement (default 3; 1 with --small)")
    p.add_argument("--in-flight", type=int, default=2, help="(b) and the server: batches in flight per worker")
    p.add_argument("--node", default="node", help="Node.js for (c) (default: node on the PATH)")
    p.add_argument("--concurrency", type=int, help="(c) connections (default 256; 8 with --small)")
    p.add_argument("--per-request", type=int, default=1, help="(c) images per request (default 1)")
    p.add_argument("--preprocess-threads", type=int, help="(c) CLIP_PREPROCESS_THREADS (default cores - 2; 1 on the CPU)")
    p.add_argument("--peer-workers", type=int, default=os.cpu_count(), help="(d) DataLoader workers (default: cores)")
    p.add_argument("--peer-torchscript", action="store_true", help="(d) the bundle's TorchScript graphs instead of clip_model")
    p.add_argument("--cpu-workers", action="store_true", help="only the two-CPU-workers benchmark (ViT-B/32, concurrency 8)")
    p.add_argument("--rounds", type=int, default=2, help="--cpu-workers: interleaved rounds")
    p.add_argument("--budget", type=float, default=480, help="seconds; parts that would start later are skipped (default 480)")
    p.add_argument("--out", default=os.path.join(REPO, "test-artifacts", "gpu-bench.json"))
    a = p.parse_args(argv)
    if a.cpu:
        a.device = "cpu"
    a.dtype = a.dtype or ("float32" if a.cpu else "float16")
    a.models = (a.models or ("tiny" if a.small else "vit-l-14-336,vit-b-32")).split(",")
    a.batches = [int(x) for x in (a.batches or ("4,8" if a.small else "16,32,64,128")).split(",")]
    a.seconds = a.seconds or (1.0 if a.small else 3.0)
    a.concurrency = a.concurrency or (8 if a.small else 256)
    a.preprocess_threads = a.preprocess_threads or (1 if a.cpu else max(1, (os.cpu_count() or 2) - 2))
    return a


def in_budget(a, what):
    if time.time() - T0 > a.budget:
        log("SKIPPED %s: past the %.0f s budget" % (what, a.budget))
        return False
    return True


def matmul(a):
    dev = torch.device(a.device)
    if dev.type == "cuda":
        out = {d: measure.matmul_rate(torch, dev, getattr(torch, d), 8192) for d in ("bfloat16", "float16")}
        n = 8192
    else:
        n = 1024 if a.small else 2048
        out = {"float32": measure.matmul_rate(torch, dev, torch.float32, n, seconds=1.0)}
    log("matmul %d³: %s" % (n, ", ".join("%s %.3g TFLOP/s" % (k, v / 1e12) for k, v in out.items())))
    return {"n": n, "flopsPerSecond": out}


def run_model(a, preset, images, peak):
    folder = bundles.bundle_for(torch, preset, a.device, log)
    bundle = Bundle(folder)
    flops = measure.vit_flops(*bundle.vit_shape())
    r = {"bundle": os.path.relpath(folder, REPO), "flopsPerImage": flops, "dtype": a.dtype}
    crops = random_crops(torch, 1, bundle.image_size)
    rates, notes = measure.inprocess(torch, bundle, a.device, a.dtype, a.batches, a.seconds, crops, log)
    best = max(rates, key=rates.get)
    r["a"] = {"imagesPerSecond": rates[best], "batch": best, "byBatch": rates, "notes": notes, "flopUtilisation": rates[best] * flops / peak}
    log("(a) %s: best batch %d, %.1f images/s, %.3f of the matmul rate" % (preset, best, rates[best], r["a"]["flopUtilisation"]))
    threads = 0 if a.cpu else 2  # the backend's CLIP_TORCH_THREADS default on a GPU is 2
    if in_budget(a, "(b) %s" % preset):
        r["b"] = measure.through_worker(torch, bundle, a.device, a.dtype, best, a.seconds * 2, a.in_flight, threads, crops, rates[best], log)
    why = server.missing(a.node)
    if why:
        log("SKIPPED (c) %s: %s" % (preset, why))
        r["c"] = {"skipped": why}
    elif in_budget(a, "(c) %s" % preset):
        pre = server.preprocess_rate(a.node, folder, images, 1.0 if a.small else 3.0)
        r["ceiling"] = {"perThread": pre["imagesPerSecond"], "threads": a.preprocess_threads, "imagesPerSecond": pre["imagesPerSecond"] * a.preprocess_threads}
        env = {"CLIP_TORCH_DEVICES": "cpu" if a.cpu else a.device.replace("cuda:", ""), "CLIP_TORCH_DTYPE": a.dtype, "CLIP_TORCH_MAX_BATCH": str(best), "CLIP_TORCH_IN_FLIGHT": str(a.in_flight), "CLIP_PREPROCESS_THREADS": str(a.preprocess_threads)}
        seconds = 3 if a.small else 15
        r["c"] = server.end_to_end(a.node, folder, images, env, a.concurrency, seconds, 1 if a.small else 5, a.per_request, log)
    if in_budget(a, "(d) %s" % preset):
        r["d"] = peer(a, folder, images, rates[best])
    return r


def peer(a, folder, images, expected):
    batch = 8 if a.small else 64
    count = batch * (6 if a.small else max(10, int(expected * a.seconds * 2 / batch)))
    argv = [sys.executable, os.path.join(HERE, "peer.py"), "--bundle", folder, "--images", images, "--device", a.device, "--dtype", a.dtype, "--batch", str(batch), "--workers", str(a.peer_workers), "--count", str(count), "--warmup-batches", "1" if a.small else "2"]
    if a.peer_torchscript:
        argv.append("--torchscript")
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("peer.py failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
    out = server.result_line(p.stdout)
    log("(d) peer: %.1f images/s (batch %d, %d DataLoader workers)" % (out["imagesPerSecond"], batch, out["workers"]))
    return out


def rate(part):
    return part.get("imagesPerSecond") if isinstance(part, dict) else None


def ratios(r):
    out = {}
    for x in ("a", "b", "c", "d"):
        for base in ("a", "d"):
            if x != base and rate(r.get(x)) and rate(r.get(base)):
                out["%s/%s" % (x, base)] = rate(r[x]) / rate(r[base])
    if rate(r.get("c")) and r.get("ceiling"):
        out["c/ceiling"] = rate(r["c"]) / r["ceiling"]["imagesPerSecond"]
    return out


def targets(models):
    """(what, value, wanted, met): the issue's targets, for an H200 in float16."""
    t = []

    def add(what, value, want):
        t.append({"target": what, "value": value, "wanted": want, "met": value is not None and value >= want})

    if "vit-l-14-336" in models:
        r = models["vit-l-14-336"]
        add("ViT-L (a) images/s", rate(r.get("a")), 1200)
        add("ViT-L (a) FLOP utilisation", r["a"]["flopUtilisation"], 0.58)
        add("ViT-L (b)/(a)", r["ratios"].get("b/a"), 0.95)
        add("ViT-L (c)/(a)", r["ratios"].get("c/a"), 0.8)
        add("ViT-L (c)/(d)", r["ratios"].get("c/d"), 1.0)
    if "vit-b-32" in models:
        add("ViT-B/32 (c)/preprocessing ceiling", models["vit-b-32"]["ratios"].get("c/ceiling"), 0.9)
    return t


def report(res):
    print("\nclipql GPU benchmark on %s (torch %s), matmul %s" % (res["device"], res["torch"], ", ".join("%s %.3g TFLOP/s" % (k, v / 1e12) for k, v in res["matmul"]["flopsPerSecond"].items())))
    print("%-16s %-26s %12s %8s %8s" % ("model", "part", "images/s", "/(a)", "/(d)"))
    for preset, r in res["models"].items():
        for x, label in (("a", "(a) in-process"), ("b", "(b) worker"), ("c", "(c) end to end"), ("d", "(d) peer")):
            v = rate(r.get(x))
            shown = "%12.1f %8s %8s" % (v, "%.3f" % (v / rate(r["a"])), "%.3f" % (v / rate(r["d"])) if rate(r.get("d")) else "-") if v else "%12s" % (r.get(x) or {}).get("skipped", "skipped")[:60]
            print("%-16s %-26s %s" % (NAMES.get(preset, preset), label + (" batch %d" % r["a"]["batch"] if x == "a" else ""), shown))
        print("%-16s %-26s %12.3f   (%.1f GFLOP an image)" % ("", "FLOP utilisation of (a)", r["a"]["flopUtilisation"], r["flopsPerImage"] / 1e9))
        if r.get("ceiling"):
            c = r["ceiling"]
            print("%-16s %-26s %12.1f   (%.1f per thread x %d); (c)/ceiling %.3f" % ("", "preprocessing ceiling", c["imagesPerSecond"], c["perThread"], c["threads"], r["ratios"].get("c/ceiling", float("nan"))))
    if res["targets"]:
        print("\ntargets (H200, ViT-L float16)%s:" % (" - this is not that configuration" if res["device"] == "cpu" else ""))
        for t in res["targets"]:
            v = t["value"]
            print("  %-40s %10s  >= %-6g %s" % (t["target"], "%.3f" % v if v is not None else "-", t["wanted"], "met" if t["met"] else "NOT met"))


def main(argv):
    # SIGTERM as an exception, so that the finally blocks stop the servers this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    a = parse(argv)
    res = {"device": a.device if a.cpu else "%s (%s)" % (a.device, torch.cuda.get_device_name(torch.device(a.device))), "torch": torch.__version__, "args": {k: v for k, v in vars(a).items()}}
    images = bundles.make_jpegs(torch, os.path.join(REPO, "test-artifacts", "gpu-bench-jpegs"), 16 if a.small else 64)
    if a.cpu_workers:
        why = server.missing(a.node)
        if why:
            log("cpu-workers needs the server: %s" % why)
            return 2
        folder = bundles.bundle_for(torch, "tiny" if a.small else "vit-b-32", "cpu", log)
        res["cpuWorkers"] = w = server.cpu_workers(a.node, folder, images, a.rounds, 16 if a.small else 12, 8, 2, log)
        print("two CPU workers / one at concurrency 8 (%s): %.2f (rounds %s; target >= 1.6: %s)" % (os.path.relpath(folder, REPO), w["ratio"], ", ".join("%.2f" % x for x in w["roundRatios"]), "met" if w["ratio"] >= 1.6 else "NOT met"))
    else:
        res["matmul"] = matmul(a)
        peak = res["matmul"]["flopsPerSecond"].get(a.dtype) or max(res["matmul"]["flopsPerSecond"].values())
        res["models"] = {}
        for preset in a.models:
            if not in_budget(a, preset):
                break
            r = run_model(a, preset, images, peak)
            r["ratios"] = ratios(r)
            res["models"][preset] = r
        res["targets"] = targets(res["models"])
        report(res)
    res["seconds"] = time.time() - T0
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1, default=str)
    log("wrote %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
