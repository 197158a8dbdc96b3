#!/usr/bin/env python3
"""
The torch worker's failure paths on the CPU, for test/backends/torch-faults.test.ts, printed as
one JSON object (the test holds the expectations). The failures a GPU raises are injected as
exceptions with the runtimes' own messages into src/backends/torch/pipeline.py's loops, driven
with a fake runner, reader and writer; and the patch embedding as a matrix product is measured
against torch's own convolution (F.conv2d in float64), which that path does not use.

  worker_faults.py REPO_ROOT
"""
import json
import os
import sys
import threading
import time
import weakref


def main(root):
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(root, "src", "backends", "torch"))
    import torch

    import frames as F
    import pipeline as P

    S = 4  # crop side of the fake model

    class Writer:
        def __init__(self):
            self.frames = []

        def write_json(self, ftype, rid, obj):
            self.frames.append((ftype, rid, obj))

        def write(self, ftype, rid, dtype, shape, view):
            self.frames.append((ftype, rid, list(shape)))

    class Reader:
        """`count` image frames of one crop each; before frame `wait_before` it waits for `gate`."""

        def __init__(self, count, gate=None, wait_before=None):
            self.count, self.sent, self.gate, self.wait_before = count, 0, gate, wait_before

        def header(self):
            if self.sent == self.count:
                return None
            self.sent += 1
            if self.gate is not None and self.sent == self.wait_before:
                self.gate()
            return (F.T_IMAGE, F.D_UINT8, self.sent, (1, S, S, 3), S * S * 3)

        def payload(self, view):
            view[:] = bytes(len(view))

    class Runner:
        """encode_image fails for the ids in `fail` with `message`, after allocating a tensor whose
        life the test follows; other batches answer zeros."""

        device = torch.device("cpu")

        def __init__(self, fail=(), message=""):
            self.fail, self.message, self.calls, self.refs = set(fail), message, 0, []

        def encode_image(self, x):
            self.calls += 1
            if self.calls in self.fail:
                activations = torch.ones(1 << 20)  # 4 MiB held by this frame, as a forward pass's would be
                self.refs.append(weakref.ref(activations))
                raise RuntimeError(self.message)
            return torch.zeros(x.shape[0], 8)

    def answers(w):
        return [[rid, {F.T_FAILED: "failed", F.T_RESULT: "result"}[t]] for t, rid, _ in w.frames if t in (F.T_FAILED, F.T_RESULT)]

    out = {}

    # 1. Out of memory: the failed batch's memory is unreferenced once the compute loop moved on,
    # with its failure still queued for the writer (no gc.collect: empty_cache runs right then).
    runner, w = Runner(fail={1}, message="CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total capacity)"), Writer()
    pipe = P.Pipeline(torch, runner, Reader(2), w, 2)
    pipe.read_loop()
    pipe.compute_loop()
    queued = [pipe.done.get_nowait() for _ in range(pipe.done.qsize())]
    failure = queued[0][7]
    out["oom"] = {"freed": runner.refs[0]() is None, "queued": len(queued), "oom": failure.oom, "sticky": failure.sticky,
                  "failureType": type(failure).__name__, "secondOk": queued[1][7] is None}
    # The control: the same failure kept as an exception (what the worker queued before) keeps it alive.
    kept = []
    try:
        Runner(fail={1}, message="CUDA out of memory").encode_image(torch.zeros(1, S, S, 3))
    except RuntimeError as e:
        kept.append(e)
    frame_locals = kept[0].__traceback__.tb_next.tb_frame.f_locals
    out["oom"]["controlAlive"] = isinstance(frame_locals.get("activations"), torch.Tensor)

    def served(pipe, runner, w, message, timeout):
        """pipe.serve() in a thread, waited for at most `timeout` s: what it raised ("hung" if it did not return), what ran, what was answered."""
        result = {}

        def go():
            try:
                pipe.serve()
                result["raised"] = None
            except Exception as e:  # noqa: BLE001
                result["raised"] = type(e).__name__

        t = threading.Thread(target=go, daemon=True)
        t.start()
        t.join(timeout)
        return {"message": message, "raised": result.get("raised", "hung"), "computed": runner.calls, "answers": answers(w)}

    # 2. Messages seen by the compute thread: sticky ones stop the worker after answering their own
    # batch; others fail their batch only.
    def serve(message, timeout=30):
        runner, w = Runner(fail={1}, message=message), Writer()
        pipe = P.Pipeline(torch, runner, Reader(3), w, 2)
        return served(pipe, runner, w, message, timeout)

    out["compute"] = [serve(m) for m in (
        "CUDA error: an illegal memory access was encountered",
        "CUDA error: an illegal instruction was encountered",
        "CUDA error: the launch timed out and was terminated",
        "CUDA error: unknown error",
        "CUDA error: uncorrectable ECC error encountered",
        "CUDA error: unspecified launch failure",
        "HIP error: hipErrorIllegalAddress",
        "CUDA out of memory. Tried to allocate 20.00 MiB",
        "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)",
        "unknown error in a user's own code",
    )]

    # 3. A sticky error seen by the writer thread (an asynchronous fault surfaces at the batch's
    # completion event): the compute loop must stop taking batches. The reader holds back batch 2
    # until the writer has seen the fault, so the order is fixed.
    class Events:
        def __init__(self, message):
            self.message = message

        def synchronize(self):
            raise RuntimeError(self.message)

        def elapsed_time(self, other):
            return 0.0

    def writer_fault(message, timeout=30):
        runner, w = Runner(), Writer()

        # Batch 2 is read only once the writer answered batch 1 (or 5 s passed): after stop() where
        # the fault is sticky (the writer stops the pipeline before it answers), at once where not.
        def gate():
            t0 = time.time()
            while not answers(w) and time.time() - t0 < 5:
                time.sleep(0.01)

        pipe = P.Pipeline(torch, runner, Reader(3, gate, 2), w, 2)
        real_run = pipe.run

        def run(*args):
            y, _ = real_run(*args)
            return y, (Events(message), Events(message)) if runner.calls == 1 else None

        pipe.run = run
        return served(pipe, runner, w, message, timeout)

    out["writer"] = [writer_fault(m) for m in ("CUDA error: the launch timed out and was terminated", "CUDA error: unknown error", "an event error that is not the device's")]

    # 4. The error path's staging buffer: returned only after its upload's event completed; when
    # that wait fails, dropped and replaced by a fresh slot.
    class Upload:
        def __init__(self, log, fails):
            self.log, self.fails = log, fails

        def synchronize(self):
            self.log.append("synchronized")
            if self.fails:
                raise RuntimeError("CUDA error: an illegal memory access was encountered")

    staging = {}
    for fails in (False, True):
        pipe = P.Pipeline(torch, Runner(), Reader(0), Writer(), 2)
        slots = pipe.free.qsize()
        log = []
        pipe.upload = Upload(log, fails)
        buf = torch.zeros(8, dtype=torch.uint8)
        got = pipe.after_failure(buf)
        staging["failing" if fails else "ok"] = {"synchronized": log, "returned": got is buf, "slots": pipe.free.qsize() - slots, "cleared": pipe.upload is None}
    out["staging"] = staging

    # 5. The patch embedding: reshape + matrix product against the convolution, float32.
    import torch.nn.functional as TF

    import clip_model as cm

    g = torch.Generator().manual_seed(0)
    patches = []
    for s, p, width in ((336, 14, 64), (224, 32, 48), (336, 28, 16)):
        visual = cm.Visual({"vision": {"width": width, "layers": 0, "heads": 1, "act": "quick_gelu", "eps": 1e-5, "mlp": width}, "patch_size": p, "image_size": s, "embed_dim": 8}, sdpa=False)
        with torch.no_grad():
            visual.conv1.weight.copy_(torch.randn(visual.conv1.weight.shape, generator=g) * 0.02)
        x = (torch.rand(3, 3, s, s, generator=g) - 0.45) / 0.27  # normalised pixels' range
        with torch.no_grad():
            # The reference: the convolution in float64; float32's own convolution beside it.
            ref = TF.conv2d(x.double(), visual.conv1.weight.double(), stride=p).flatten(2).transpose(1, 2)
            conv = visual.patches(x)
            visual.patch_matmul = True
            got = visual.patches(x)
        patches.append({"size": s, "patch": p, "width": width, "shape": list(got.shape), "refShape": list(ref.shape), "maxAbs": float((got.double() - ref).abs().max()),
                        "convMaxAbs": float((conv.double() - ref).abs().max()), "refMaxAbs": float(ref.abs().max())})
    out["patches"] = patches

    # The tiny bundle end to end (both ways on the same weights): image embeddings.
    bundle = os.path.join(root, "models", "tiny-clip-336")
    cfg = json.load(open(os.path.join(bundle, "config.json")))
    model = cm.build_clip(cm.load_state_dict(os.path.join(bundle, "torch", "model.pt")), vision_heads=cfg["vision_config"]["num_attention_heads"], text_heads=cfg["text_config"]["num_attention_heads"])
    x = (torch.rand(4, 3, model.image_size, model.image_size, generator=g) - 0.45) / 0.27
    with torch.no_grad():
        conv = model.encode_image(x)
        model.patch_matmul = True
        mm = model.encode_image(x)
    out["tinyImage"] = {"maxAbs": float((conv - mm).abs().max()), "refMaxAbs": float(conv.abs().max())}
    return out


if __name__ == "__main__":
    print(json.dumps(main(os.path.abspath(sys.argv[1]))))
