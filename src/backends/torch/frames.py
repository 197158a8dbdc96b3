"""
The worker's half of the binary framing (framing.ts is the other half; the two must agree).

Every frame is a fixed 32-byte little-endian header followed by the payload:

    magic b"CLPQ" | version u8 | type u8 | dtype u8 | ndim u8 | request id u32 | shape 4 x u32 | payload bytes u32

Tensors travel as raw little-endian bytes; only the ready, fatal, failed and timing frames carry
a small JSON object. Reading and writing are separate objects because they run on separate
threads (worker.py: a reader thread, the compute thread, a writer thread).
"""
import ctypes
import json
import os
import struct
import sys

MAGIC = b"CLPQ"
VERSION = 2
HEADER = struct.Struct("<4sBBBBI4II")  # 32 bytes
assert HEADER.size == 32

# Frame types.
T_READY = 1  # worker -> backend, JSON
T_FATAL = 2  # worker -> backend, JSON; the worker exits after it
T_IMAGE = 3  # backend -> worker, uint8 [n, S, S, 3]: RGB crops, normalised on the device
T_TEXT = 4  # backend -> worker, int64 [n, L]
T_RESULT = 5  # worker -> backend, float32 [n, D] (or [n, 3, S, S] for T_NORMALISE)
T_FAILED = 6  # worker -> backend, JSON {"message"}; this request failed, the worker goes on
T_TIMING = 7  # worker -> backend, JSON {"id", "received", "started", "finished", "deviceMs"}; precedes its T_RESULT
T_NORMALISE = 8  # backend -> worker, uint8 [n, S, S, 3]: answer the normalised float32 tensor itself (tests)

# Payload element types.
D_JSON = 0
D_FLOAT32 = 1
D_INT64 = 2
D_UINT8 = 3
ITEMSIZE = {D_FLOAT32: 4, D_INT64: 8, D_UINT8: 1}

MAX_PAYLOAD = 1 << 31  # a header announcing more is corrupt, not a batch


class Reader:
    """Request frames from a binary stream: a header, then its payload into a buffer the caller chose."""

    def __init__(self, inp):
        self.inp = inp

    def fill(self, view):
        """Reads exactly len(view) bytes into view; False at end of input."""
        got, n = 0, len(view)
        while got < n:
            k = self.inp.readinto(view[got:])
            if not k:
                return False
            got += k
        return True

    def header(self):
        """(type, dtype, request id, shape, payload bytes), or None at a clean end of input."""
        head = bytearray(HEADER.size)
        if not self.fill(memoryview(head)):
            return None
        magic, version, ftype, dtype, ndim, rid, s0, s1, s2, s3, nbytes = HEADER.unpack(head)
        if magic != MAGIC or version != VERSION:
            raise ValueError("bad frame header (magic %r, version %d): the stream is out of step" % (magic, version))
        if ndim > 4 or nbytes > MAX_PAYLOAD:
            raise ValueError("bad frame header (ndim %d, %d payload bytes)" % (ndim, nbytes))
        shape = (s0, s1, s2, s3)[:ndim]
        if dtype in ITEMSIZE:
            count = 1
            for d in shape:
                count *= d
            if count * ITEMSIZE[dtype] != nbytes:
                raise ValueError("frame shape %r does not match its %d payload bytes" % (shape, nbytes))
        return ftype, dtype, rid, shape, nbytes

    def payload(self, view):
        if not self.fill(view):
            raise ValueError("input ended inside a frame")


class Writer:
    """Answer frames to a binary stream. Not thread-safe: one thread writes (worker.py's writer)."""

    def __init__(self, out):
        self.out = out

    def write(self, ftype, rid, dtype=D_JSON, shape=(), payload=b""):
        dims = list(shape) + [0] * (4 - len(shape))
        self.out.write(HEADER.pack(MAGIC, VERSION, ftype, dtype, len(shape), rid, *dims, len(payload)))
        if len(payload):
            self.out.write(payload)
        self.out.flush()

    def write_json(self, ftype, rid, obj):
        self.write(ftype, rid, D_JSON, (), json.dumps(obj).encode("utf-8"))


def tensor_view(t):
    """The memory of a contiguous CPU tensor (pinned or not) as a writable memoryview: no copy, no numpy."""
    assert t.is_contiguous() and t.device.type == "cpu"
    n = t.numel() * t.element_size()
    return memoryview((ctypes.c_char * n).from_address(t.data_ptr())).cast("B") if n else memoryview(bytearray(0))


def take_stdio():
    """The frame channel on private copies of fds 0 and 1; fd 1 itself then points at stderr, so
    that stray prints (ours, torch's, a C library's) land in the log instead of corrupting the stream."""
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
    return Reader(inp), Writer(out)


def brief(e):
    """An exception in one line: TorchScript's interpreter errors end with the real reason."""
    lines = [l for l in str(e).strip().splitlines() if l.strip()]
    text = lines[-1] if len(lines) > 1 and "TorchScript" in lines[0] else " ".join(lines)
    return "%s: %s" % (type(e).__name__, text) if text and not text.startswith(type(e).__name__) else text or type(e).__name__


def log(msg):
    sys.stderr.write("clipql torch worker [%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()
