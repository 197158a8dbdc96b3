#!/usr/bin/env python3
"""
The torch backend's GPU check (run through scripts/gpu-check.sh): on a machine with a GPU, runs
worker.py on each GPU in float32 and float16 against the CPU reference (worker.py on the CPU in
float32, and onnxruntime on the CPU when the Python package is installed), for the tiny bundle
and, when present, the full-size bundle models/bench-vit-b-32 (--bench builds others). Prints, per bundle, device and
dtype: the largest absolute difference of the raw embeddings, the lowest cosine, the largest
absolute difference of the similarity matrix (normalised text @ image.T), how many best matches
agree, and images per second through the worker (binary frames over a pipe, as the service runs
it) and in-process (the model alone).

Exits 0 when every float32 run matches the CPU to a cosine of 0.9999 and similarities to 1e-4,
and every float16 run to a cosine of 0.995 and similarities to 1e-2; 1 when one does not; 2 when
there is no GPU or no PyTorch (with the reason). `--devices cpu` runs the whole check on the CPU
(float32 only), to try the script itself on a machine without a GPU.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.dont_write_bytecode = True  # no __pycache__ beside worker.py or models/generate.py
sys.path.insert(0, HERE)
import worker as W  # noqa: E402

TOLERANCE = {"float32": (0.9999, 1e-4), "float16": (0.995, 1e-2)}


class WorkerClient:
    """worker.py in a child process, spoken to in its binary frames (what the TypeScript backend does)."""

    def __init__(self, model, device, dtype, image_size):
        cmd = [sys.executable, "-u", os.path.join(HERE, "worker.py"), "--model", model, "--device", device, "--dtype", dtype, "--image-size", str(image_size)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.channel = W.Channel(self.proc.stdout, self.proc.stdin)
        self.next_id = 1
        ftype, _, _, _, payload = self.read()
        info = json.loads(payload)
        if ftype != W.T_READY:
            self.close()
            raise RuntimeError("worker on %s %s could not start: %s" % (device, dtype, info.get("message")))
        self.info = info

    def read(self):
        head = self.proc.stdout.read(W.HEADER.size)
        if len(head) < W.HEADER.size:
            raise RuntimeError("the worker closed its output (exit status %s)" % self.proc.wait())
        _, _, ftype, dtype, ndim, rid, s0, s1, s2, s3, n = W.HEADER.unpack(head)
        return ftype, dtype, rid, (s0, s1, s2, s3)[:ndim], self.proc.stdout.read(n)

    def encode(self, torch, tower, x):
        rid, self.next_id = self.next_id, self.next_id + 1
        ftype = W.T_IMAGE if tower == "image" else W.T_TEXT
        dtype = W.D_FLOAT32 if tower == "image" else W.D_INT64
        x = x.contiguous()
        self.channel.write(ftype, rid, dtype, tuple(x.shape), W.tensor_view(x))
        t, _, got, shape, payload = self.read()
        if t != W.T_RESULT or got != rid:
            raise RuntimeError("worker answered frame type %d for request %d: %s" % (t, got, bytes(payload[:500])))
        return W.tensor_from(torch, bytearray(payload), W.D_FLOAT32, shape)

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def inputs(torch, image_size, n_images, seed=0):
    g = torch.Generator().manual_seed(seed)
    pixels = (torch.randn(n_images, 3, image_size, image_size, generator=g) * 0.9).clamp(-1.8, 2.1)
    rows = []
    for i in range(8):
        length = 2 + int(torch.randint(1, 20, (1,), generator=g))
        ids = [W.SOT] + torch.randint(300, 40000, (length,), generator=g).tolist() + [W.EOT]
        rows.append(ids + [0] * (77 - len(ids)))
    return pixels, torch.tensor(rows, dtype=torch.int64)


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


def throughput(fn, batch, seconds):
    """Images per second of fn(batch) over at least 3 calls and about `seconds`, after one warm-up call."""
    fn()
    calls, t0 = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    return calls * batch / (time.perf_counter() - t0)


def onnx_reference(bundle, pixels, ids):
    try:
        import onnxruntime as ort
    except Exception:
        return None
    out = []
    for name, feed, x in (("vision_model.onnx", "pixel_values", pixels.numpy()), ("text_model.onnx", "input_ids", ids.numpy())):
        path = os.path.join(bundle, "onnx", name)
        if not os.path.isfile(path):
            return None
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        out.append(sess.run(None, {feed: x})[0])
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
    pixels, ids = inputs(torch, s, 2)
    G.export_torchscript(model, out, pixels, ids[:2])
    G.write_configs(out, preset, G.SEED, model)
    print("built %s with models/generate.py (TorchScript only) in %.0f s" % (out, time.time() - t0), flush=True)
    return out


def check_bundle(torch, bundle, devices, args):
    with open(os.path.join(bundle, "preprocessor_config.json")) as f:
        crop = json.load(f)["crop_size"]
    s = crop if isinstance(crop, int) else crop["height"]
    model = os.path.join(bundle, "torch", "model.pt")
    big = s > 64 and os.path.getsize(model) > 100e6
    n = args.images or (8 if big else 16)
    pixels, ids = inputs(torch, s, n)
    shown = os.path.relpath(bundle, REPO) if bundle.startswith(REPO + os.sep) else bundle
    print("\n== %s (S=%d, %d images, 8 captions)" % (shown, s, n), flush=True)

    cpu = WorkerClient(model, "cpu", "float32", s)
    ref = (cpu.encode(torch, "image", pixels), cpu.encode(torch, "text", ids))
    cpu_rate = throughput(lambda: cpu.encode(torch, "image", pixels[: min(n, 4)]), min(n, 4), 2.0)
    cpu.close()
    print("reference: worker.py on cpu float32 (torch %s), D=%d, %.1f images/s" % (torch.__version__, ref[0].shape[1], cpu_rate))
    ort_out = onnx_reference(bundle, pixels, ids)
    if ort_out is not None:
        raw, cos, sim, agree, of = compare(torch, ref, (torch.from_numpy(ort_out[0]), torch.from_numpy(ort_out[1])))
        print("onnxruntime cpu vs torch cpu: max|d emb| %.2e  min cos %.7f  max|d sim| %.2e  best matches %d/%d" % (raw, cos, sim, agree, of))

    print("%-8s %-8s %-7s %11s %10s %11s %8s %13s %13s  %s" % ("device", "dtype", "model", "max|d emb|", "min cos", "max|d sim|", "best", "img/s worker", "img/s inproc", "verdict"))
    batch = pixels[:1].expand(args.batch, -1, -1, -1).contiguous() + torch.linspace(0, 0.01, args.batch).view(-1, 1, 1, 1)
    models = [("as-is", model, None)]
    if args.openai_style:
        # The same weights as OpenAI ships its checkpoints: float16, with "cuda" device constants
        # and float16 casts in the graphs. Compared with the float32 reference, so float16 tolerances.
        quirky = os.path.join(args.tmp, "openai-style-%d.pt" % len(os.listdir(args.tmp)))
        make_openai_style(torch, model, quirky)
        models.append(("openai", quirky, TOLERANCE["float16"]))
    ok = True
    for device in devices:
        for dtype in ("float32", "float16") if device != "cpu" else ("float32",):
            for label, path, tolerance in models:
                ok = check_one(torch, path, label, device, dtype, s, pixels, ids, batch, ref, tolerance or TOLERANCE[dtype], args) and ok
    return ok


def check_one(torch, model, label, device, dtype, s, pixels, ids, batch, ref, tolerance, args):
    """One row of the table: worker.py on `device` in `dtype` against the reference."""
    try:
        w = WorkerClient(model, device, dtype, s)
    except RuntimeError as e:
        print("%-8s %-8s %-7s FAILED: %s" % (device, dtype, label, e))
        return False
    got = (w.encode(torch, "image", pixels), w.encode(torch, "text", ids))
    rate = throughput(lambda: w.encode(torch, "image", batch), args.batch, args.seconds)
    notes = w.info.get("notes")
    w.close()
    rate_in = float("nan")
    try:
        m = W.Model(torch, model, W.resolve_device(torch, device), torch.float16 if dtype == "float16" else torch.float32, s, 77)
        x = batch.to(m.device)

        def inproc():
            with m.context():
                m.model.encode_image(x.to(m.dtype))
            if m.device.type == "cuda":
                torch.cuda.synchronize(m.device)

        rate_in = throughput(inproc, args.batch, args.seconds)
        del m, x
    except Exception as e:
        print("(in-process run failed: %s)" % W.brief(e))
    raw, cos, sim, agree, of = compare(torch, ref, got)
    min_cos, max_sim = tolerance
    passed = cos >= min_cos and sim <= max_sim
    verdict = "ok" if passed else "FAIL (cos >= %g, |d sim| <= %g)" % (min_cos, max_sim)
    print("%-8s %-8s %-7s %11.2e %10.7f %11.2e %5d/%-2d %13.1f %13.1f  %s%s" % (device, dtype, label, raw, cos, sim, agree, of, rate, rate_in, verdict, "  [%s]" % "; ".join(notes) if notes else ""), flush=True)
    if device != "cpu":
        torch.cuda.empty_cache()
    return passed


def make_openai_style(torch, src, dst):
    """Writes `src` the way OpenAI's released checkpoints are: float16 weights, float16 casts and
    "cuda" device constants traced into the graphs (what clip.load(jit=True) has to patch)."""
    m = torch.jit.load(src, map_location="cpu")
    g1, g2 = torch._C.Graph(), torch._C.Graph()
    cuda, half = g1.insertConstant(torch.device("cuda")).node(), g2.insertConstant(5).node()
    for graph in W.method_graphs(m):
        for n in graph.findAllNodes("prim::Constant"):
            if "value" in n.attributeNames() and str(n.output().type()) == "Device":
                n.copyAttributes(cuda)
        for n in graph.findAllNodes("aten::to"):
            ins = list(n.inputs())
            for i in (1, 2):
                c = ins[i].node() if i < len(ins) else None
                if c is not None and c.kind() == "prim::Constant" and "value" in c.attributeNames() and str(c.output().type()) == "int" and W.node_value(c) == 6:
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
    bundles = args.bundle or [b for b in (os.path.join(REPO, "models", "tiny-clip-336"), os.path.join(REPO, "models", "bench-vit-b-32")) if os.path.isfile(os.path.join(b, "torch", "model.pt"))]
    if not bundles:
        print("gpu-check: no bundle with torch/model.pt (run /usr/bin/python3 models/generate.py tiny)", file=sys.stderr)
        return 2
    ok = True
    with tempfile.TemporaryDirectory(prefix="clipql-gpu-check-") as tmp:
        args.tmp = tmp
        for b in bundles:
            ok = check_bundle(torch, os.path.abspath(b), devices, args) and ok
        for preset in [p for p in args.bench.split(",") if p]:
            b = bench_bundle(torch, preset.strip(), tmp)
            if b not in bundles:
                ok = check_bundle(torch, b, devices, args) and ok
    print("\ngpu-check: %s" % ("all within tolerance" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
