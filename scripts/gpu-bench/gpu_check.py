#!/usr/bin/env python3
"""
The torch backend's GPU check (run through scripts/gpu-check.sh): on a machine with a GPU, runs
worker.py (through client.py, in its binary frames, as the service runs it) on each GPU in
float32 and float16, for both model paths (CLIP_TORCH_IMPL: eager, the model built from the
file's weights, and torchscript, the file's graphs), against the CPU reference: worker.py on the
CPU, eager, float32 (and onnxruntime on the CPU when its Python package is installed). Bundles:
models/tiny-clip-336 and, when present and on a GPU, models/bench-vit-b-32 (--bench builds others). Prints,
per bundle, device, dtype and impl: the largest absolute difference of the raw embeddings, the
lowest cosine, the largest absolute difference of the similarity matrix (normalised text @
image.T), how many best matches agree, and images per second through the worker (several
batches in flight, uint8 crops) and in-process (runner.Runner alone, CUDA events on a GPU).

Exits 0 when every float32 run matches the CPU to a cosine of 0.9999 and similarities to 1e-4,
and every float16 run to a cosine of 0.995 and similarities to 1e-2; 1 when one does not; 2 when
there is no GPU or no PyTorch (with the reason). `--devices cpu` runs the whole check on the CPU
(float32; eager and torchscript), to try the script itself on a machine without a GPU.
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True  # no __pycache__ beside worker.py or models/generate.py
sys.path[:0] = [HERE, os.path.join(REPO, "src", "backends", "torch")]
import worker as W  # noqa: E402
from client import Bundle, Worker, WorkerError, random_crops, random_ids  # noqa: E402

TOLERANCE = {"float32": (0.9999, 1e-4), "float16": (0.995, 1e-2)}
IMPLS = ("eager", "torchscript")


def compare(torch, ref, got):
    """(max |diff| of raw embeddings, min cosine, max |diff| of similarities, best matches agreeing, of)."""
    ri, rt = ref
    gi, gt = got
    raw = max(float((ri - gi).abs().max()), float((rt - gt).abs().max()))
    cos = min(float(torch.nn.functional.cosine_similarity(ri, gi).min()), float(torch.nn.functional.cosine_similarity(rt, gt).min()))
    n = lambda x: x / x.norm(dim=-1, keepdim=True)  # noqa: E731
    sr, sg = n(rt) @ n(ri).T, n(gt) @ n(gi).T
    sim = float((sr - sg).abs().max())
    agree = int((sr.argmax(1) == sg.argmax(1)).sum()) + int((sr.argmax(0) == sg.argmax(0)).sum())
    return raw, cos, sim, agree, sr.shape[0] + sr.shape[1]


def inproc_rate(torch, runner, batch, seconds):
    """Images/s of runner.encode_image on a device-resident uint8 batch (measure.timed_rate: CUDA
    events on the runner's device's stream on a GPU, after warm-up and a synchronize)."""
    from measure import timed_rate

    x = batch.to(runner.device)
    return timed_rate(torch, runner.device, lambda: runner.encode_image(x), x.shape[0], seconds)


def onnx_reference(bundle, pixels, ids):
    """onnxruntime (Python) on the CPU, fed the normalised tensor the worker computes; None without it."""
    try:
        import onnxruntime as ort
    except Exception:
        return None
    out = []
    for name, feed, x in (("vision_model.onnx", "pixel_values", pixels.numpy()), ("text_model.onnx", "input_ids", ids.numpy())):
        path = os.path.join(bundle.dir, "onnx", name)
        if not os.path.isfile(path):
            return None
        out.append(ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {feed: x})[0])
    return out


def bench_bundle(torch, preset, tmp):
    """models/bench-<preset> when it exists, else a TorchScript-only bundle built from
    models/generate.py's model (same seed and architecture; no vocabulary or ONNX needed)."""
    existing = os.path.join(REPO, "models", "bench-" + preset)
    if os.path.isfile(os.path.join(existing, "torch", "model.pt")):
        return existing
    sys.path.insert(0, os.path.join(REPO, "models"))
    import generate as G

    t0 = time.time()
    out = os.path.join(tmp, "bench-" + preset)
    os.makedirs(out, exist_ok=True)
    model = G.build_model(preset, G.SEED)
    s = G.PRESETS[preset]["image_resolution"]
    g = torch.Generator().manual_seed(0)
    G.export_torchscript(model, out, torch.randn(2, 3, s, s, generator=g), random_ids(torch, 2))
    G.write_configs(out, preset, G.SEED, model)
    print("built %s with models/generate.py (TorchScript only) in %.0f s" % (out, time.time() - t0), flush=True)
    return out


def check_bundle(torch, folder, devices, args):
    bundle = Bundle(folder)
    s = bundle.image_size
    big = s > 64 and os.path.getsize(bundle.model) > 100e6
    n = args.images or (8 if big else 16)
    crops, ids = random_crops(torch, n, s), random_ids(torch, 8, bundle.context_length)
    shown = os.path.relpath(folder, REPO) if folder.startswith(REPO + os.sep) else folder
    print("\n== %s (S=%d, %d images, 8 captions)" % (shown, s, n), flush=True)

    cpu = Worker(bundle, device="cpu", dtype="float32")
    ref = (cpu.encode(crops), cpu.encode(ids))
    small = crops[: min(n, 4)]
    cpu_rate = cpu.stream([small] * 3, in_flight=2)["perSecond"]
    cpu.close()
    print("reference: worker.py on cpu float32 eager (torch %s), D=%d, %.1f images/s" % (torch.__version__, ref[0].shape[1], cpu_rate))
    ort_out = onnx_reference(bundle, bundle.pixel_table(torch)[torch.arange(3).view(1, 3, 1, 1), crops.permute(0, 3, 1, 2).long()], ids)
    if ort_out is not None:
        raw, cos, sim, agree, of = compare(torch, ref, (torch.from_numpy(ort_out[0]), torch.from_numpy(ort_out[1])))
        print("onnxruntime cpu vs torch cpu: max|d emb| %.2e  min cos %.7f  max|d sim| %.2e  best matches %d/%d" % (raw, cos, sim, agree, of))

    print("%-8s %-8s %-11s %-7s %11s %10s %11s %8s %13s %13s  %s" % ("device", "dtype", "impl", "model", "max|d emb|", "min cos", "max|d sim|", "best", "img/s worker", "img/s inproc", "verdict"))
    batch = crops[:1].expand(args.batch, -1, -1, -1).contiguous()
    models = [("as-is", bundle, None)]
    if args.openai_style:
        # The same weights as OpenAI ships its checkpoints: float16, with "cuda" device constants
        # and float16 casts in the graphs. Compared with the float32 reference, so float16 tolerances.
        quirky = os.path.join(args.tmp, "openai-style-%d.pt" % len(os.listdir(args.tmp)))
        make_openai_style(torch, bundle.model, quirky)
        models.append(("openai", Bundle(folder, model=quirky), TOLERANCE["float16"]))
    ok = True
    for device in devices:
        variants = [(impl, {"impl": impl}) for impl in IMPLS]
        if args.graphs and device != "cpu":
            # CUDA graph replay, and torch.compile with the graphs, at the two batch sizes used here (GPU only).
            sizes = sorted({n, args.batch})
            variants += [("graphs", {"impl": "eager", "cuda_graphs": sizes}), ("compile", {"impl": "eager", "cuda_graphs": sizes, "compile": True})]
        for dtype in ("float32", "float16") if device != "cpu" else ("float32",):
            for impl, kw in variants:
                for label, b, tolerance in models:
                    ok = check_one(torch, b, label, device, dtype, impl, crops, ids, batch, ref, tolerance or TOLERANCE[dtype], args, kw) and ok
    return ok


def check_one(torch, bundle, label, device, dtype, impl, crops, ids, batch, ref, tolerance, args, kw):
    """One row of the table: worker.py on `device` in `dtype` with `impl` (worker options `kw`) against the reference."""
    head = "%-8s %-8s %-11s %-7s" % (device, dtype, impl, label)
    try:
        w = Worker(bundle, device=device, dtype=dtype, **kw)
    except WorkerError as e:
        print("%s FAILED: %s" % (head, e), flush=True)
        return False
    try:
        got = (w.encode(crops), w.encode(ids))
        w.stream([batch] * 2, in_flight=2)  # warm-up at this batch size
        t0, runs, rate = time.perf_counter(), [], 0.0
        while not runs or time.perf_counter() - t0 < args.seconds:
            runs.append(w.stream([batch] * 4, in_flight=2))
        rate = sum(r["items"] for r in runs) / sum(r["seconds"] for r in runs)
    except WorkerError as e:
        print("%s FAILED: %s" % (head, e), flush=True)
        w.close()
        return False
    notes = w.info.get("notes")
    w.close()
    rate_in = float("nan")
    try:
        runner = bundle.runner(torch, device=device, dtype=dtype, **kw)
        rate_in = inproc_rate(torch, runner, batch, args.seconds)
        del runner
    except Exception as e:
        print("(in-process run failed: %s)" % W.F.brief(e))
    raw, cos, sim, agree, of = compare(torch, ref, got)
    min_cos, max_sim = tolerance
    passed = cos >= min_cos and sim <= max_sim
    verdict = "ok" if passed else "FAIL (cos >= %g, |d sim| <= %g)" % (min_cos, max_sim)
    print("%s %11.2e %10.7f %11.2e %5d/%-2d %13.1f %13.1f  %s%s" % (head, raw, cos, sim, agree, of, rate, rate_in, verdict, "  [%s]" % "; ".join(notes) if notes else ""), flush=True)
    if device != "cpu":
        torch.cuda.empty_cache()
    return passed


def make_openai_style(torch, src, dst):
    """Writes `src` the way OpenAI's released checkpoints are: float16 weights, float16 casts and
    "cuda" device constants traced into the graphs (what clip.load(jit=True) has to patch)."""
    from torchscript import method_graphs, node_value

    m = torch.jit.load(src, map_location="cpu")
    g1, g2 = torch._C.Graph(), torch._C.Graph()
    cuda, half = g1.insertConstant(torch.device("cuda")).node(), g2.insertConstant(5).node()
    for graph in method_graphs(m):
        for n in graph.findAllNodes("prim::Constant"):
            if "value" in n.attributeNames() and str(n.output().type()) == "Device":
                n.copyAttributes(cuda)
        for n in graph.findAllNodes("aten::to"):
            ins = list(n.inputs())
            for i in (1, 2):
                c = ins[i].node() if i < len(ins) else None
                if c is not None and c.kind() == "prim::Constant" and "value" in c.attributeNames() and str(c.output().type()) == "int" and node_value(c) == 6:
                    c.copyAttributes(half)
    m.half()
    m.save(dst)


def main(argv):
    p = argparse.ArgumentParser(description="GPU check for clipql's torch backend", epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", help="comma-separated: 0,1 or cuda:0 (default: CLIP_TORCH_DEVICES, else every visible GPU); 'cpu' tries the script on the CPU")
    p.add_argument("--bundle", action="append", help="bundle folder (repeatable; default models/tiny-clip-336 and, if present, models/bench-vit-b-32)")
    p.add_argument("--images", type=int, help="images compared per bundle (default 16; 8 for full-size models)")
    p.add_argument("--bench", default="", help="full-size presets of models/generate.py to check too, e.g. vit-b-32,vit-l-14-336: models/bench-<preset> when present, else built in a temporary folder")
    p.add_argument("--batch", type=int, help="batch size for images per second (default 32; 4 on the CPU)")
    p.add_argument("--seconds", type=float, default=3.0, help="time spent measuring each rate (default 3)")
    p.add_argument("--graphs", action="store_true", help="on GPUs, also the eager model with CUDA graphs, and with torch.compile and graphs (minutes: compilation)")
    p.add_argument("--openai-style", action="store_true", help="also run a copy of each model saved as OpenAI ships its checkpoints (float16, 'cuda' constants in the graph)")
    args = p.parse_args(argv)

    try:
        torch = W.import_torch()
        spec = args.devices or os.environ.get("CLIP_TORCH_DEVICES") or ""
        if spec.strip() == "cpu":
            devices = ["cpu"]
        else:
            if not spec:
                count = torch.cuda.device_count() if torch.cuda.is_available() else 0
                spec = ",".join(str(i) for i in range(count)) or "0"
            devices = ["cuda:%s" % d.strip().replace("cuda:", "") for d in spec.split(",")]
            for d in devices:
                W.resolve_device(torch, d)
    except W.StartupError as e:
        print("gpu-check: no GPU to check: %s" % e, file=sys.stderr)
        return 2
    if devices != ["cpu"]:
        names = ", ".join("%s = %s" % (d, torch.cuda.get_device_name(W.resolve_device(torch, d))) for d in devices)
        print("torch %s (%s); %s" % (torch.__version__, W.torch_build(torch), names))

    args.batch = args.batch or (4 if devices == ["cpu"] else 32)
    # On the CPU only the tiny bundle by default: a full-size ViT-B/32 takes seconds an image there.
    defaults = ("tiny-clip-336",) if devices == ["cpu"] else ("tiny-clip-336", "bench-vit-b-32")
    bundles = args.bundle or [b for b in (os.path.join(REPO, "models", d) for d in defaults) if os.path.isfile(os.path.join(b, "torch", "model.pt"))]
    if not bundles:
        print("gpu-check: no bundle with torch/model.pt (run npm run fixtures)", file=sys.stderr)
        return 2
    ok = True
    with tempfile.TemporaryDirectory(prefix="clipql-gpu-check-") as tmp:
        args.tmp = tmp
        for b in bundles:
            ok = check_bundle(torch, os.path.abspath(b), devices, args) and ok
        for preset in [p for p in args.bench.split(",") if p]:
            b = bench_bundle(torch, preset.strip(), tmp)
            if b not in [os.path.abspath(x) for x in bundles]:
                ok = check_bundle(torch, b, devices, args) and ok
    print("\ngpu-check: %s" % ("all within tolerance" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
