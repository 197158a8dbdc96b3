"""
A small Python client of src/backends/torch/worker.py, for the GPU check (gpu_check.py) and the
GPU benchmark (bench.py), both beside it in scripts/gpu-bench/: it starts the worker the way the TypeScript backend does (worker-process.ts
builds the same arguments from the same bundle files) and speaks its frames (frames.py).

    from client import Bundle, Worker
    b = Bundle("models/tiny-clip-336")
    w = Worker(b, device="cuda:0", dtype="float16")       # blocks until READY (or raises)
    emb = w.encode_images(crops)                          # uint8 [n, S, S, 3] -> float32 [n, D]
    rate = w.stream([crops] * 20, in_flight=2)            # several batches in flight
    w.close()

Contract kept here, because the worker trusts it:
- the pixel table is tensor.ts's tensorTable to the bit: per channel, float32((v/255 - mean)/std)
  with every step rounded to float32 (rescale by a factor other than 1/255 multiplies; do_rescale
  and do_normalize false skip their step), channel-major, 3 x 256 little-endian float32;
- heads come from config.json (vision_config / text_config num_attention_heads), because the
  eager model cannot infer them from weight shapes (the tiny model has 4 heads of width 16);
- images are RGB crops, uint8 [n, S, S, 3], contiguous; captions int64 [n, context length].
Frames may answer out of order; a reader thread collects them, so that writing a large batch can
never deadlock against the worker writing a result.
"""
import json
import os
import queue
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_DIR = os.path.abspath(os.path.join(HERE, "..", "..", "src", "backends", "torch"))  # the worker and its modules
sys.dont_write_bytecode = True
if TORCH_DIR not in sys.path:
    sys.path.insert(0, TORCH_DIR)
import frames as F  # noqa: E402

WORKER = os.path.join(TORCH_DIR, "worker.py")


class Bundle:
    """What the worker needs to know about a model bundle folder (config files and torch/model.pt)."""

    def __init__(self, folder, model=None):
        self.dir = os.path.abspath(folder)
        with open(os.path.join(self.dir, "preprocessor_config.json")) as f:
            self.pre = json.load(f)
        with open(os.path.join(self.dir, "config.json")) as f:
            self.config = json.load(f)
        crop = self.pre.get("crop_size", 224)
        self.image_size = int(crop if isinstance(crop, (int, float)) else crop["height"])
        text = self.config.get("text_config") or {}
        self.context_length = int(text.get("max_position_embeddings", 77))
        self.model = os.path.abspath(model) if model else os.path.join(self.dir, "torch", "model.pt")

    def vit_shape(self):
        """(S, patch, width, layers, embed_dim) of the vision tower, from config.json."""
        v = self.config["vision_config"]
        return self.image_size, int(v["patch_size"]), int(v["hidden_size"]), int(v["num_hidden_layers"]), int(self.config.get("projection_dim", v.get("projection_dim", 0)))

    def pixel_table(self, torch):
        """float32 [3, 256]: tensor.ts's tensorTable, computed with float32 torch ops (see the top)."""
        p = self.pre
        mean = p.get("image_mean", [0.48145466, 0.4578275, 0.40821073])
        std = p.get("image_std", [0.26862954, 0.26130258, 0.27577711])
        mean = [mean] * 3 if isinstance(mean, (int, float)) else mean
        std = [std] * 3 if isinstance(std, (int, float)) else std
        factor = p.get("rescale_factor", 1 / 255)
        v = torch.arange(256).float()
        if p.get("do_rescale", True):
            v = v.div(255) if factor == 1 / 255 else v.mul(torch.tensor(factor, dtype=torch.float32))
        rows = v.unsqueeze(0).expand(3, 256)
        if p.get("do_normalize", True):
            rows = rows.sub(torch.tensor(mean, dtype=torch.float32).view(3, 1)).div(torch.tensor(std, dtype=torch.float32).view(3, 1))
        return rows.contiguous()

    def worker_argv(self, torch, device="cpu", dtype="float32", impl="eager", attention="auto", threads=0, in_flight=2, cuda_graphs=None, compile=False, max_batch=0, compile_backend=None):
        """worker.py's arguments, as worker-process.ts builds them."""
        table = self.pixel_table(torch)
        argv = ["--model", self.model, "--device", device, "--dtype", dtype, "--image-size", str(self.image_size), "--context-length", str(self.context_length)]
        argv += ["--pixel-table", bytes(F.tensor_view(table)).hex(), "--impl", impl, "--attention", attention, "--threads", str(threads), "--in-flight", str(in_flight)]
        argv += ["--config", os.path.join(self.dir, "config.json")]
        if cuda_graphs:
            argv += ["--cuda-graphs", ",".join(map(str, cuda_graphs))]
        if compile:
            argv.append("--compile")
        if max_batch:
            argv += ["--max-batch", str(max_batch)]
        if compile_backend:
            argv += ["--compile-backend", compile_backend]
        return argv

    def runner(self, torch, **kw):
        """The worker's runner.Runner in this process (the in-process limit: no pipe, no threads)."""
        import worker as W
        from runner import Runner

        W.keep_freed_memory()  # as worker.main does: the same allocator behaviour as the worker
        opts = W.parse_args(self.worker_argv(torch, **kw))
        return Runner(torch, opts, W.resolve_device(torch, opts.device), getattr(torch, opts.dtype))


class WorkerError(RuntimeError):
    pass


class Worker:
    """worker.py in a child process. Not thread-safe: one thread submits (the reader is internal)."""

    def __init__(self, bundle, python=None, env=None, start_timeout=600, **kw):
        import torch

        self.torch = torch
        self.bundle = bundle
        cmd = [python or sys.executable, "-u", WORKER] + bundle.worker_argv(torch, **kw)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.writer = F.Writer(self.proc.stdin)
        self.frames = queue.Queue()
        self.next_id = 1
        threading.Thread(target=self._read, name="client-reader", daemon=True).start()
        ftype, _, _, payload = self._next(start_timeout)
        info = json.loads(bytes(payload)) if payload else {}
        if ftype != F.T_READY:
            self.close()
            raise WorkerError("worker on %s could not start: %s" % (kw.get("device", "cpu"), info.get("message", "frame type %d" % ftype)))
        self.info = info

    def _read(self):
        """Reader thread: every frame as (type, id, shape, payload bytearray); None at the end."""
        reader = F.Reader(self.proc.stdout)
        try:
            while True:
                head = reader.header()
                if head is None:
                    break
                ftype, _, rid, shape, nbytes = head
                payload = bytearray(nbytes)
                reader.payload(memoryview(payload))
                self.frames.put((ftype, rid, shape, payload))
        except Exception as e:  # a broken stream: reported to whoever waits
            self.frames.put((F.T_FATAL, 0, (), json.dumps({"message": "stream broken: %s" % e}).encode()))
        self.frames.put(None)

    def _next(self, timeout=600):
        try:
            item = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise WorkerError("no answer from the worker within %d s" % timeout)
        if item is None:
            self.frames.put(None)  # stays at the end for later callers
            raise WorkerError("the worker closed its output (exit status %s)" % self.proc.wait())
        return item

    def submit(self, x):
        """Sends one batch (uint8 [n, S, S, 3] images or int64 [n, L] ids); returns its request id."""
        torch = self.torch
        x = x.contiguous()
        if x.dtype == torch.uint8:
            ftype, dtype = F.T_IMAGE, F.D_UINT8
        elif x.dtype == torch.int64:
            ftype, dtype = F.T_TEXT, F.D_INT64
        else:
            raise TypeError("batches are uint8 [n, S, S, 3] crops or int64 [n, L] ids, got %s" % x.dtype)
        rid, self.next_id = self.next_id, self.next_id + 1
        self.writer.write(ftype, rid, dtype, tuple(x.shape), F.tensor_view(x))
        return rid

    def result(self):
        """The next answer: (id, timing dict, float32 [n, D]). A FAILED or FATAL frame raises."""
        timing = None
        while True:
            ftype, rid, shape, payload = self._next()
            if ftype == F.T_TIMING:
                timing = json.loads(bytes(payload))
            elif ftype == F.T_RESULT:
                return rid, timing, self.torch.frombuffer(payload, dtype=self.torch.float32).reshape(shape) if payload else self.torch.zeros(shape)
            else:
                msg = json.loads(bytes(payload)).get("message") if payload else ""
                raise WorkerError("request %d: worker answered frame type %d: %s" % (rid, ftype, msg))

    def encode(self, x):
        """One batch, waited for."""
        rid = self.submit(x)
        got, _, y = self.result()
        if got != rid:
            raise WorkerError("answer for request %d while waiting for %d" % (got, rid))
        return y

    def stream(self, batches, in_flight=2):
        """Sends `batches` keeping `in_flight` outstanding (what the backend does); returns
        {"images", "seconds", "perSecond", "deviceMs": [...]} from the first send to the last answer."""
        sent = done = items = 0
        device_ms = []
        t0 = time.perf_counter()
        while done < len(batches):
            while sent < len(batches) and sent - done < in_flight:
                self.submit(batches[sent])
                sent += 1
            _, timing, y = self.result()
            done += 1
            items += y.shape[0]
            if timing and timing.get("deviceMs") is not None:
                device_ms.append(timing["deviceMs"])
        seconds = time.perf_counter() - t0
        return {"items": items, "seconds": seconds, "perSecond": items / seconds, "deviceMs": device_ms}

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def random_crops(torch, n, size, seed=0):
    """uint8 [n, S, S, 3]: smooth random images (not white noise, which no photo resembles)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 8, 8, generator=g)
    x = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    x = (x * 255 + torch.randn(n, 3, size, size, generator=g) * 12).clamp(0, 255)
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def random_ids(torch, n, context_length=77, seed=0):
    """int64 [n, L]: <|startoftext|> random ids <|endoftext|>, zero padded (clip.tokenize's layout)."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        k = 2 + int(torch.randint(1, 20, (1,), generator=g))
        ids = [49406] + torch.randint(300, 40000, (k,), generator=g).tolist() + [49407]
        rows.append(ids + [0] * (context_length - len(ids)))
    return torch.tensor(rows, dtype=torch.int64)
