#!/usr/bin/env python3
"""
clipql's PyTorch worker: one process per device (or several per device), started by the `torch`
backend (torch-backend.ts). It builds CLIP on its device (runner.py: the eager model from the
file's weights, or the TorchScript graphs), warms it up, says ready, and then answers batches
until its stdin closes. Frames: frames.py (and framing.ts on the other side).

Consecutive batches overlap (the "pipelined worker"); three threads, so that the device never
waits for the pipe:

    reader   reads request frames; image payloads land straight in a staging buffer (pinned
             host memory on a GPU, so that the upload is asynchronous); at most --in-flight + 1
             buffers exist, which is the back pressure on the pipe
    compute  (the main thread) uploads on a copy stream, normalises and encodes on the compute
             stream once the upload's event fired, and queues the small download of the result;
             CUDA calls return at once, so it is already uploading batch N+1 while N computes
    writer   waits for each batch's completion event, then writes its timing and result frames

Results keep their request ids and may leave in any order; a batch that fails answers FAILED for
its own id only and the worker serves on, except after an error that leaves the device unusable
(a sticky CUDA error), when it exits so that the backend restarts it.

Start-up failures (no torch, no GPU, a bad device index, an unusable model file) are reported
twice: a FATAL frame with {"kind", "message", "file"?} for the backend, and the message on stderr
for a human; then the worker exits with status 2.

Python 3.9+ and torch 1.13+: the project's venv (torch 2: SDPA, half precision on the CPU,
torch.compile) or Debian's python3-torch 1.13 (plain attention); numpy is not needed.
"""
import argparse
import ctypes
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import frames as F  # noqa: E402
from pipeline import Pipeline  # noqa: E402

TORCH_INSTALL_HINT = (
    "Install PyTorch for this interpreter: `apt-get install python3-torch` (Debian/Ubuntu, CPU) or "
    "`pip install torch`; on AMD GPUs PyTorch's ROCm build: "
    "`pip install torch --index-url https://download.pytorch.org/whl/rocm6.2` "
    "(use the ROCm version pytorch.org/get-started lists for your driver). "
    "Set CLIP_TORCH_PYTHON to the Python that has torch (a virtual environment's bin/python, say)."
)

DTYPES = ("float32", "float16", "bfloat16")

class StartupError(Exception):
    """A reason the worker cannot serve. kind: python | torch-missing | no-gpu | bad-device | bad-model | bad-args | internal."""

    def __init__(self, kind, message, file=None):
        super().__init__(message)
        self.kind = kind
        self.file = file


# --------------------------------------------------------------------------------------------
# Start-up


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


def sizes(text):
    """'1,2,4' -> [1, 2, 4]; '' -> []."""
    try:
        out = sorted({int(p) for p in text.split(",") if p.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated batch sizes, got %r" % text)
    if any(s < 1 for s in out):
        raise argparse.ArgumentTypeError("batch sizes must be >= 1, got %r" % text)
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description="clipql's PyTorch worker (speaks binary frames on stdin/stdout)")
    p.add_argument("--model", required=True, help="the weights: TorchScript CLIP (OpenAI's checkpoints, torch/model.pt), a state_dict, model.safetensors or pytorch_model.bin (checkpoint.py)")
    p.add_argument("--config", default=None, help="the bundle's config.json (CLIPConfig): head counts, hidden_act, layer_norm_eps, sizes")
    p.add_argument("--device", default="cpu", help="cpu or cuda:N (ROCm builds expose AMD GPUs as cuda:N)")
    p.add_argument("--dtype", default="float32", choices=DTYPES)
    p.add_argument("--image-size", type=int, required=True, help="S: the square input of the vision tower")
    p.add_argument("--context-length", type=int, default=77)
    p.add_argument("--pixel-table", required=True, help="hex of 3 x 256 float32: each channel's normalised value of each byte (the backend's toTensor table)")
    p.add_argument("--impl", default="eager", choices=["eager", "torchscript"])
    p.add_argument("--attention", default="auto", choices=["auto", "sdpa", "math"], help="eager model: SDPA (fused kernels) or the plain formula")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--in-flight", type=int, default=2, help="batches the backend keeps in flight here; staging buffers are one more")
    p.add_argument("--cuda-graphs", type=sizes, default=[], help="image batch sizes to capture as CUDA graphs (GPU only)")
    p.add_argument("--compile", action="store_true", help="torch.compile the eager towers (torch 2)")
    p.add_argument("--max-batch", type=int, default=0, help="the largest image batch the backend sends (compile's buckets, warmed at start-up; 0: lazily)")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile's backend ('eager': dynamo's tracing without code generation, for tests)")
    p.add_argument("--nice", type=int, default=0, help="add this to the process's niceness before torch starts its threads (they inherit it)")
    return p.parse_args(argv)


def set_parent_death_signal():
    """Linux: die with the backend's process even when it is killed without closing our stdin."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def keep_freed_memory():
    """
    glibc malloc: keep freed blocks in the heap instead of returning them to the kernel. By default
    a block over the (dynamic) mmap threshold is mmap'd and unmapped when freed, and the heap top
    is trimmed, so every eager op's fresh 5-40 MB activation is page-faulted in again: measured
    here (ViT-B/32, float32, batch 16, 2 threads, torch 2.13 CPU), 9.3 images/s with 8 s of
    system time against 16.6 with 2.8 s, the same numbers. The worker's working set is the same
    from batch to batch, so holding it costs no more memory than the peak. M_TRIM_THRESHOLD (-1)
    as large as it goes, M_MMAP_THRESHOLD (-3) at its maximum, 32 MiB (which also fixes it: no
    dynamic threshold). Linux/glibc only; elsewhere nothing happens. Returns whether both took.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-1, 2 ** 31 - 1)) and bool(libc.mallopt(-3, 32 << 20))
    except (OSError, AttributeError):
        return False


def start(args):
    if sys.version_info < (3, 9):
        raise StartupError("python", "%s is Python %d.%d; the torch worker needs Python 3.9 or later" % ((sys.executable,) + tuple(sys.version_info[:2])))
    if sys.byteorder != "little":
        raise StartupError("python", "the torch worker's frames are little-endian; this machine is %s-endian" % sys.byteorder)
    torch = import_torch()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already fixed by an earlier parallel call; harmless
    device = resolve_device(torch, args.device)
    if device.type == "cuda":
        # cuda:N's own context for everything that uses "the current device": pinned buffers,
        # events, the graph capture stream. Without it they go to GPU 0 (GPU only: not testable here).
        torch.cuda.set_device(device)
    dtype = getattr(torch, args.dtype)
    if dtype == torch.float16 and device.type == "cpu" and int(torch.__version__.split(".")[0]) < 2:
        raise StartupError("bad-args", "float16 on the CPU needs torch 2 (torch %s has no half-precision convolution there); use bfloat16 or float32, or the project's venv (scripts/install-python.sh)" % torch.__version__)
    if not os.path.isfile(args.model):
        raise StartupError("bad-model", "%s: model file does not exist" % args.model, args.model)
    from runner import Runner  # after torch: its imports need it
    from torchscript import ModelError

    try:
        return torch, Runner(torch, args, device, dtype)
    except ModelError as e:
        raise StartupError("bad-model", "%s: %s" % (args.model, e) if not str(e).startswith(args.model) else str(e), args.model)
    except (ValueError, RuntimeError) as e:
        raise StartupError("bad-model", "%s: %s" % (args.model, F.brief(e)), args.model)


def main(argv):
    reader, writer = F.take_stdio()
    set_parent_death_signal()
    keep_freed_memory()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    t0 = time.time()
    try:
        args = parse_args(argv)
        if args.nice > 0:
            try:
                os.nice(args.nice)
            except OSError:
                pass  # best effort, as the onnx backend's lowerThreadPriority
        torch, runner = start(args)
    except SystemExit as e:  # argparse
        writer.write_json(F.T_FATAL, 0, {"kind": "bad-args", "message": "bad worker arguments (exit %s); see stderr" % e.code})
        return 2
    except Exception as e:
        if not isinstance(e, StartupError):
            e = StartupError("internal", "start-up failed: %s" % F.brief(e))
        F.log(str(e))
        info = {"kind": e.kind, "message": str(e)}
        if e.file:
            info["file"] = e.file
        writer.write_json(F.T_FATAL, 0, info)
        return 2
    ready = {
        "dim": runner.dim,
        "device": str(runner.device),
        "deviceName": torch.cuda.get_device_name(runner.device) if runner.device.type == "cuda" else "cpu",
        "dtype": args.dtype,
        "torch": torch.__version__,
        "build": "rocm" if getattr(torch.version, "hip", None) else "cuda" if getattr(torch.version, "cuda", None) else "cpu",
        "python": sys.executable,
        "pid": os.getpid(),
        "impl": runner.impl,
        "attention": runner.attention,
        "threads": torch.get_num_threads(),
        "cudaGraphs": runner.buckets,
        "notes": runner.notes,
        "startSeconds": round(time.time() - t0, 3),
    }
    F.log("ready: %s %s, D=%d, %.1f s%s" % (ready["device"], args.dtype, runner.dim, ready["startSeconds"], "; " + "; ".join(runner.notes) if runner.notes else ""))
    writer.write_json(F.T_READY, 0, ready)
    try:
        Pipeline(torch, runner, reader, writer, args.in_flight).serve()
    except (ValueError, BrokenPipeError) as e:
        F.log("stopping: %s" % e)
        return 3
    except Exception as e:
        F.log("stopping after a device error: %s" % F.brief(e))
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
