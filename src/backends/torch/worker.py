#!/usr/bin/env python3
"""
clipql's PyTorch worker: one process per device, started by the `torch` backend
(src/backends/torch/torch-backend.ts). It loads a TorchScript CLIP (methods
encode_image(pixel_values float32 [n, 3, S, S]) and encode_text(input_ids int64 [n, 77]), the
interface of OpenAI's released checkpoints and of models/generate.py's torch/model.pt), warms it
up, and then answers batches until its stdin closes.

Transport: binary frames on stdin (requests) and stdout (answers), each a fixed 32-byte
little-endian header followed by the payload (see framing.ts, which must agree with HEADER here):

    magic b"CLPQ" | version u8 | type u8 | dtype u8 | ndim u8 | request id u32 | shape 4 x u32 | payload bytes u32

Tensors travel as raw little-endian bytes; only the ready and error frames carry a small JSON
object. Nothing else may reach the real stdout: fd 1 is pointed at stderr at start-up, so stray
prints (ours, torch's, a C library's) land in the log instead of corrupting the stream.

Start-up failures (no torch, no GPU, a bad device index, an unusable model file) are reported
twice: a FATAL frame with {"kind", "message", "file"?} for the backend, and the message on stderr
for a human; then the worker exits with status 2.

Python 3.9+ and torch 1.13+ (Debian's python3-torch); numpy is not needed.
"""
import argparse
import contextlib
import ctypes
import json
import os
import signal
import struct
import sys
import time

MAGIC = b"CLPQ"
VERSION = 1
HEADER = struct.Struct("<4sBBBBI4II")  # 32 bytes
assert HEADER.size == 32

# Frame types.
T_READY = 1  # worker -> backend, JSON
T_FATAL = 2  # worker -> backend, JSON; the worker exits after it
T_IMAGE = 3  # backend -> worker, float32 [n, 3, S, S]
T_TEXT = 4  # backend -> worker, int64 [n, L]
T_RESULT = 5  # worker -> backend, float32 [n, D]
T_FAILED = 6  # worker -> backend, JSON {"message"}; this request failed, the worker goes on

# Payload element types.
D_JSON = 0
D_FLOAT32 = 1
D_INT64 = 2
ITEMSIZE = {D_FLOAT32: 4, D_INT64: 8}

MAX_PAYLOAD = 1 << 31  # a header announcing more is corrupt, not a batch

SOT, EOT = 49406, 49407

TORCH_INSTALL_HINT = (
    "Install PyTorch for this interpreter: `apt-get install python3-torch` (Debian/Ubuntu, CPU) or "
    "`pip install torch`; on AMD GPUs PyTorch's ROCm build: "
    "`pip install torch --index-url https://download.pytorch.org/whl/rocm6.2` "
    "(use the ROCm version pytorch.org/get-started lists for your driver). "
    "Set CLIP_TORCH_PYTHON to the Python that has torch (a virtual environment's bin/python, say)."
)


class StartupError(Exception):
    """A reason the worker cannot serve. kind: python | torch-missing | no-gpu | bad-device | bad-model | bad-args | internal."""

    def __init__(self, kind, message, file=None):
        super().__init__(message)
        self.kind = kind
        self.file = file


# --------------------------------------------------------------------------------------------
# Framing


class Channel:
    """
    Reads request frames from `inp` and writes answer frames to `out` (binary streams).

    Payloads are read into one buffer that is reused from frame to frame (grown when a larger
    frame comes): fresh 40 MB allocations per batch cost more in page faults than the pipe
    itself. So a payload is valid only until the next read().
    """

    def __init__(self, inp, out):
        self.inp = inp
        self.out = out
        self.buffer = bytearray(0)

    def _fill(self, view):
        """Reads exactly len(view) bytes into view; False at end of input."""
        got, n = 0, len(view)
        while got < n:
            k = self.inp.readinto(view[got:])
            if not k:
                return False
            got += k
        return True

    def read(self):
        """(type, dtype, request id, shape, payload memoryview), or None at a clean end of input."""
        head = bytearray(HEADER.size)
        if not self._fill(memoryview(head)):
            return None
        magic, version, ftype, dtype, ndim, rid, s0, s1, s2, s3, nbytes = HEADER.unpack(head)
        if magic != MAGIC or version != VERSION:
            raise ValueError("bad frame header (magic %r, version %d): the stream is out of step" % (magic, version))
        if ndim > 4 or nbytes > MAX_PAYLOAD:
            raise ValueError("bad frame header (ndim %d, %d payload bytes)" % (ndim, nbytes))
        shape = (s0, s1, s2, s3)[:ndim]
        if nbytes > len(self.buffer):
            self.buffer = bytearray(max(nbytes, 2 * len(self.buffer)))
        payload = memoryview(self.buffer)[:nbytes]
        if not self._fill(payload):
            raise ValueError("input ended inside a frame")
        if dtype in ITEMSIZE:
            count = 1
            for d in shape:
                count *= d
            if count * ITEMSIZE[dtype] != nbytes:
                raise ValueError("frame shape %r does not match its %d payload bytes" % (shape, nbytes))
        return ftype, dtype, rid, shape, payload

    def write(self, ftype, rid, dtype=D_JSON, shape=(), payload=b""):
        dims = list(shape) + [0] * (4 - len(shape))
        self.out.write(HEADER.pack(MAGIC, VERSION, ftype, dtype, len(shape), rid, *dims, len(payload)))
        if payload:
            self.out.write(payload)
        self.out.flush()

    def write_json(self, ftype, rid, obj):
        self.write(ftype, rid, D_JSON, (), json.dumps(obj).encode("utf-8"))


def brief(e):
    """An exception in one line: TorchScript's interpreter errors end with the real reason."""
    lines = [l for l in str(e).strip().splitlines() if l.strip()]
    text = lines[-1] if len(lines) > 1 and "TorchScript" in lines[0] else " ".join(lines)
    return "%s: %s" % (type(e).__name__, text) if text and not text.startswith(type(e).__name__) else text or type(e).__name__


def log(msg):
    sys.stderr.write("clipql torch worker [%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# Loading


def import_torch():
    try:
        import torch  # noqa: F401
    except Exception as e:  # ImportError, or a broken install raising something else
        raise StartupError("torch-missing", "PyTorch is not importable by %s (%s: %s). %s" % (sys.executable, type(e).__name__, e, TORCH_INSTALL_HINT))
    return torch


def torch_build(torch):
    """A phrase naming the installed build: ROCm, CUDA or CPU-only."""
    hip = getattr(torch.version, "hip", None)
    cuda = getattr(torch.version, "cuda", None)
    if hip:
        return "a ROCm build (HIP %s)" % hip
    if cuda:
        return "a CUDA build (CUDA %s), which does not drive AMD GPUs" % cuda
    return "a CPU-only build (torch.version.hip and torch.version.cuda are both None)"


def resolve_device(torch, name):
    """torch.device for 'cpu' or 'cuda:N', after checking that it exists."""
    if name == "cpu":
        return torch.device("cpu")
    if not name.startswith("cuda:") or not name[5:].isdigit():
        raise StartupError("bad-args", "device must be 'cpu' or 'cuda:N', got %r" % name)
    index = int(name[5:])
    if not torch.cuda.is_available():
        raise StartupError(
            "no-gpu",
            "GPU %d was asked for (CLIP_TORCH_DEVICES) but torch.cuda.is_available() is False: %s has torch %s, %s. "
            "On AMD GPUs install PyTorch's ROCm build (`pip install torch --index-url https://download.pytorch.org/whl/rocm6.2`, "
            "or the ROCm version pytorch.org/get-started lists) and check that the GPU is visible (rocm-smi; HIP_VISIBLE_DEVICES; "
            "membership of the video and render groups); on NVIDIA GPUs the CUDA build. To run on the CPU instead, set CLIP_TORCH_DEVICES=cpu."
            % (index, sys.executable, torch.__version__, torch_build(torch)),
        )
    n = torch.cuda.device_count()
    if index >= n:
        seen = ", ".join("%d (%s)" % (i, torch.cuda.get_device_name(i)) for i in range(n)) or "none"
        visible = [v for v in ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES") if os.environ.get(v) is not None]
        note = "; %s renumber the visible GPUs from 0" % ", ".join("%s=%s" % (v, os.environ[v]) for v in visible) if visible else ""
        raise StartupError("bad-device", "GPU %d was asked for (CLIP_TORCH_DEVICES) but torch sees %d GPU(s): %s%s" % (index, n, seen, note))
    return torch.device("cuda", index)


def node_value(node, key="value"):
    """A constant node's value, whatever its kind (read as OpenAI's clip.load reads it; toIValue where that fails)."""
    try:
        return getattr(node, node.kindOf(key))(key)
    except Exception:
        return node.output().toIValue()


def method_graphs(module):
    """The graphs of every method of a loaded TorchScript module and all its submodules."""
    graphs = []
    for m in [module] + [m for _, m in module.named_modules()][1:]:
        try:
            names = m._c._method_names()
        except Exception:
            names = []
        for name in names:
            try:
                graphs.append(getattr(m, name).graph)
            except Exception:
                pass
    return graphs


def patch_devices(torch, model, device):
    """
    Point every device constant baked into the graphs at `device`. OpenAI's checkpoints were
    traced on CUDA, so their graphs create tensors on "cuda" whatever the map_location; a model
    traced on the CPU bakes in "cpu". clip.load(jit=True) patches the "cuda" nodes the same way.
    Returns how many constants were changed.
    """
    holder = torch.jit.trace(lambda: torch.ones([]).to(device), example_inputs=[])
    target = [n for n in holder.graph.findAllNodes("prim::Constant") if "Device" in repr(n)][-1]
    changed = 0
    for graph in method_graphs(model):
        for node in graph.findAllNodes("prim::Constant"):
            if "value" not in node.attributeNames() or str(node.output().type()) != "Device":
                continue
            if str(node_value(node)) != str(device):
                node.copyAttributes(target)
                changed += 1
    return changed


def patch_half_casts(torch, model):
    """
    Turn the float16 casts baked into a half-precision checkpoint's graphs (aten::to with dtype
    constant 5, OpenAI's `x.type(self.dtype)`) into float32 casts, as clip.load does on the CPU.
    Returns how many constants were changed.
    """
    holder = torch.jit.trace(lambda: torch.ones([]).float(), example_inputs=[])
    float_node = list(holder.graph.findNode("aten::to").inputs())[1].node()
    half = 5  # torch.float16's ScalarType number
    changed = 0
    for graph in method_graphs(model):
        for node in graph.findAllNodes("aten::to"):
            inputs = list(node.inputs())
            for i in (1, 2):  # the dtype is the second or the third argument of aten::to
                if i >= len(inputs):
                    continue
                const = inputs[i].node()
                if const.kind() != "prim::Constant" or "value" not in const.attributeNames():
                    continue
                if str(const.output().type()) == "int" and node_value(const) == half:
                    const.copyAttributes(float_node)
                    changed += 1
    return changed


def floating_dtypes(model):
    return {p.dtype for p in list(model.parameters()) + list(model.buffers()) if p.is_floating_point()}


class Model:
    """A loaded, patched, warmed-up TorchScript CLIP on one device."""

    def __init__(self, torch, path, device, dtype, image_size, context_length):
        self.torch = torch
        self.path = path
        self.device = device
        self.image_size = image_size
        self.context_length = context_length
        self.autocast = False
        self.notes = []
        if not os.path.isfile(path):
            raise StartupError("bad-model", "%s: model file does not exist" % path, path)
        try:
            with open(path, "rb") as f:
                magic = f.read(4)
        except OSError as e:
            raise StartupError("bad-model", "%s: model file cannot be read (%s)" % (path, e), path)
        try:
            model = torch.jit.load(path, map_location=device)
        except Exception as e:
            what = "a zip archive, but not a TorchScript one" if magic[:2] == b"PK" else "not a TorchScript archive"
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StartupError(
                "bad-model",
                "%s: %s (torch.jit.load failed: %s). The torch backend needs TorchScript with encode_image and encode_text, "
                "like OpenAI's released CLIP checkpoints (ViT-B-32.pt, ViT-L-14-336px.pt) or models/generate.py's torch/model.pt; "
                "a plain state_dict is not enough." % (path, what, first),
                path,
            )
        missing = [m for m in ("encode_image", "encode_text") if not hasattr(model, m)]
        if missing:
            try:
                has = ", ".join(sorted(model._c._method_names())) or "none"
            except Exception:
                has = "unknown"
            raise StartupError("bad-model", "%s: the TorchScript model lacks %s (its methods: %s)" % (path, " and ".join(missing), has), path)
        self.check_sizes(model)
        if device.type == "cuda" and dtype == torch.float32:
            # float32 means float32: no TF32 matrix products or convolutions (cuDNN allows them by default).
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False

        n = patch_devices(torch, model, device)
        if n:
            self.notes.append("%d device constant(s) moved to %s" % (n, device))
        saved = floating_dtypes(model)
        if dtype == torch.float32:
            if torch.float16 in saved:
                n = patch_half_casts(torch, model)
                self.notes.append("float16 checkpoint converted to float32 (%d cast(s) patched)" % n)
            model = model.float()
        elif saved != {torch.float16}:
            # A float32 checkpoint run in float16: half weights, and autocast so that float32
            # constants traced into the graph (a causal mask, say) meet half tensors safely.
            model = model.half()
            self.autocast = True
            self.notes.append("float32 checkpoint run in float16 (weights halved, autocast)")
        model.eval()
        self.model = model
        self.dtype = dtype
        self.dim = self.warm_up()

    def check_sizes(self, model):
        for attr, want, what in (("input_resolution", self.image_size, "image size S"), ("context_length", self.context_length, "context length")):
            value = getattr(model, attr, None)
            if value is None:
                continue
            try:
                value = int(value.item() if hasattr(value, "item") else value)
            except Exception:
                continue
            if value != want:
                raise StartupError("bad-model", "%s: the model's %s is %d but the bundle's %s is %d" % (self.path, attr, value, what, want), self.path)

    def context(self):
        """
        How every run goes: no autograd; no TorchScript graph optimisation (its fusers compile
        kernels at run time, after the first calls: a latency spike in a server, and on CUDA
        torch 2.11 the float16 text tower's fused kernel failed to compile (nvrtc "duplicate
        parameter name"); matrix products and convolutions, where the time goes, are not fused
        anyway); and autocast when a float32 checkpoint runs in float16.
        """
        torch = self.torch
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode() if hasattr(torch, "inference_mode") else torch.no_grad())
        stack.enter_context(torch.jit.optimized_execution(False))
        if self.autocast:
            stack.enter_context(torch.autocast(device_type="cuda", dtype=torch.float16))
        return stack

    def encode(self, tower, x):
        """float32 [n, D] on the CPU for a CPU input tensor (pixels float32, ids int64)."""
        torch = self.torch
        n = x.shape[0]
        x = x.to(self.device)
        if tower == "image":
            x = x.to(self.dtype)
        with self.context():
            out = self.model.encode_image(x) if tower == "image" else self.model.encode_text(x)
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != n:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise RuntimeError("encode_%s returned %s for %d inputs; expected [%d, D]" % (tower, got, n, n))
        return out.to(device="cpu", dtype=torch.float32).contiguous()

    def warm_up(self):
        """One run of each tower: pays first-run costs and learns D."""
        torch = self.torch
        s = self.image_size
        ids = torch.zeros(1, self.context_length, dtype=torch.int64)
        ids[0, 0], ids[0, 1] = SOT, EOT
        try:
            img = self.encode("image", torch.zeros(1, 3, s, s))
        except Exception as e:
            raise StartupError("bad-model", "%s: encode_image failed on a [1, 3, %d, %d] float32 input: %s" % (self.path, s, s, brief(e)), self.path)
        try:
            txt = self.encode("text", ids)
        except Exception as e:
            raise StartupError("bad-model", "%s: encode_text failed on a [1, %d] int64 input: %s" % (self.path, self.context_length, brief(e)), self.path)
        if img.shape[1] != txt.shape[1]:
            raise StartupError("bad-model", "%s: encode_image gives D=%d but encode_text gives D=%d" % (self.path, img.shape[1], txt.shape[1]), self.path)
        return int(img.shape[1])


def tensor_from(torch, payload, dtype_code, shape):
    """A CPU tensor over the payload's memory (no copy: use it before the next read)."""
    dtype = torch.float32 if dtype_code == D_FLOAT32 else torch.int64
    if len(payload) == 0:
        return torch.zeros(shape, dtype=dtype)
    return torch.frombuffer(payload, dtype=dtype).reshape(shape)


def tensor_view(t):
    """The memory of a contiguous CPU tensor as a memoryview (no copy, no numpy; keep t alive while using it)."""
    assert t.is_contiguous() and t.device.type == "cpu"
    n = t.numel() * t.element_size()
    return memoryview((ctypes.c_char * n).from_address(t.data_ptr())).cast("B") if n else b""


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv):
    p = argparse.ArgumentParser(description="clipql's PyTorch worker (speaks binary frames on stdin/stdout)")
    p.add_argument("--model", required=True, help="TorchScript file with encode_image / encode_text")
    p.add_argument("--device", default="cpu", help="cpu or cuda:N (ROCm builds expose AMD GPUs as cuda:N)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    p.add_argument("--image-size", type=int, required=True, help="S: the square input of encode_image")
    p.add_argument("--context-length", type=int, default=77)
    return p.parse_args(argv)


def set_parent_death_signal():
    """Linux: die with the backend's process even when it is killed without closing our stdin."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def take_stdio():
    """The frame channel on private copies of fds 0 and 1; fd 1 itself then points at stderr."""
    for fd in (0, 1):
        try:
            import fcntl

            fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ (Linux): 1 MB pipes move batches 2-4x faster than 64 KB ones
        except Exception:
            pass
    inp = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return Channel(inp, out)


def start(args):
    if sys.version_info < (3, 9):
        raise StartupError("python", "%s is Python %d.%d; the torch worker needs Python 3.9 or later" % ((sys.executable,) + tuple(sys.version_info[:2])))
    if sys.byteorder != "little":
        raise StartupError("python", "the torch worker's frames are little-endian; this machine is %s-endian" % sys.byteorder)
    torch = import_torch()
    device = resolve_device(torch, args.device)
    dtype = torch.float16 if args.dtype == "float16" else torch.float32
    if dtype == torch.float16 and device.type == "cpu":
        raise StartupError("bad-args", "float16 runs on GPUs only (PyTorch's CPU kernels lack half precision for parts of CLIP); use float32 on the CPU")
    return torch, Model(torch, args.model, device, dtype, args.image_size, args.context_length)


def serve(channel, torch, model):
    towers = {T_IMAGE: ("image", D_FLOAT32, 4), T_TEXT: ("text", D_INT64, 2)}
    while True:
        frame = channel.read()
        if frame is None:
            return
        ftype, dtype, rid, shape, payload = frame
        if ftype not in towers or towers[ftype][1] != dtype or len(shape) != towers[ftype][2]:
            raise ValueError("unexpected request frame (type %d, dtype %d, shape %r)" % (ftype, dtype, shape))
        tower = towers[ftype][0]
        try:
            out = model.encode(tower, tensor_from(torch, payload, dtype, shape))
        except Exception as e:
            if "out of memory" in str(e).lower() and model.device.type == "cuda":
                torch.cuda.empty_cache()
            log("encode_%s on %d input(s) failed: %s" % (tower, shape[0], e))
            channel.write_json(T_FAILED, rid, {"message": "encode_%s on %d input(s) failed: %s" % (tower, shape[0], brief(e))})
            continue
        channel.write(T_RESULT, rid, D_FLOAT32, tuple(out.shape), tensor_view(out))


def main(argv):
    channel = take_stdio()
    set_parent_death_signal()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    args = parse_args(argv)
    t0 = time.time()
    try:
        torch, model = start(args)
    except Exception as e:
        if not isinstance(e, StartupError):
            e = StartupError("internal", "start-up failed: %s" % brief(e))
        log(str(e))
        info = {"kind": e.kind, "message": str(e)}
        if e.file:
            info["file"] = e.file
        channel.write_json(T_FATAL, 0, info)
        return 2
    ready = {
        "dim": model.dim,
        "device": str(model.device),
        "deviceName": torch.cuda.get_device_name(model.device) if model.device.type == "cuda" else "cpu",
        "dtype": args.dtype,
        "torch": torch.__version__,
        "build": "rocm" if getattr(torch.version, "hip", None) else "cuda" if getattr(torch.version, "cuda", None) else "cpu",
        "python": sys.executable,
        "pid": os.getpid(),
        "notes": model.notes,
        "startSeconds": round(time.time() - t0, 3),
    }
    log("ready: %s %s, D=%d, %.1f s%s" % (ready["device"], args.dtype, model.dim, ready["startSeconds"], "; " + "; ".join(model.notes) if model.notes else ""))
    channel.write_json(T_READY, 0, ready)
    try:
        serve(channel, torch, model)
    except (ValueError, BrokenPipeError) as e:
        log("stopping: %s" % e)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
