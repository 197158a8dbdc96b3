"""
The torch worker's serving loop (worker.py starts it once the model is ready): the reader,
compute and writer threads that worker.py's header describes, over one device, with the failure
handling of faults.py (a failed batch answers FAILED for its own id; a sticky error stops the
worker so that the backend restarts it).

Every torch.cuda branch here runs only on a GPU; on the CPU the same loop computes synchronously
(test/backends/worker_faults.py drives it there with injected failures).
"""
import queue
import threading
import time

import frames as F
from faults import DeviceError, Failure


class Pipeline:
    """The three threads described at the top, over one device."""

    REQUESTS = {F.T_IMAGE: (F.D_UINT8, 4), F.T_NORMALISE: (F.D_UINT8, 4), F.T_TEXT: (F.D_INT64, 2)}

    def __init__(self, torch, runner, reader, writer, in_flight):
        self.torch = torch
        self.runner = runner
        self.reader = reader
        self.writer = writer
        self.cuda = runner.device.type == "cuda"
        self.work = queue.Queue()
        self.done = queue.Queue()
        self.free = queue.Queue()
        for _ in range(in_flight + 1):
            self.free.put(None)  # a staging buffer, allocated (or grown) when a frame needs it
        self.broken = None  # why the stream or the device cannot go on
        self.upload = None  # the current batch's upload event (compute thread)
        if self.cuda:
            self.copy_stream = torch.cuda.Stream(runner.device)
            self.compute_stream = torch.cuda.Stream(runner.device)

    def bind(self):
        """The current device is per host thread in the CUDA and HIP runtimes: each thread names
        the worker's own before its first CUDA call (else it is GPU 0's; GPU only)."""
        if self.cuda:
            self.torch.cuda.set_device(self.runner.device)

    def staging(self, buf, nbytes):
        if buf is not None and buf.numel() >= nbytes:
            return buf
        return self.torch.empty(max(nbytes, 1), dtype=self.torch.uint8, pin_memory=self.cuda)

    def read_loop(self):
        self.bind()
        try:
            while True:
                head = self.reader.header()
                if head is None:
                    return
                ftype, dtype, rid, shape, nbytes = head
                want = self.REQUESTS.get(ftype)
                if want is None or want != (dtype, len(shape)):
                    raise ValueError("unexpected request frame (type %d, dtype %d, shape %r)" % (ftype, dtype, shape))
                if ftype == F.T_TEXT:
                    buf, data = None, bytearray(nbytes)
                    self.reader.payload(memoryview(data))
                else:
                    buf = self.staging(self.free.get(), nbytes)
                    data = None
                    self.reader.payload(F.tensor_view(buf)[:nbytes])
                self.work.put((ftype, rid, shape, buf, data, nbytes, time.time()))
        except Exception as e:
            self.broken = e
        finally:
            self.work.put(None)

    def compute_loop(self):
        self.bind()
        while True:
            item = self.work.get()
            if item is None or isinstance(self.broken, DeviceError):
                return  # the end of the input, or a sticky error the writer saw: no batch runs after it
            ftype, rid, shape, buf, data, nbytes, received = item
            started = time.time()
            self.upload = None
            try:
                out, events = self.run(ftype, shape, buf, data, nbytes)
                failure = None
            except Exception as e:
                failure = Failure(e)  # text only: `e`, its traceback and the failed call's frames go here
            if failure is not None:
                buf = self.after_failure(buf)
                if failure.oom and self.cuda:
                    self.torch.cuda.empty_cache()  # the failed batch's blocks are unreferenced by now
                self.done.put((rid, shape[0], None, None, buf, received, started, failure))
                if failure.sticky:
                    self.broken = DeviceError(failure.brief)
                    return
                continue
            if not self.cuda and buf is not None:
                self.free.put(buf)  # the CPU computed from it synchronously
                buf = None
            self.done.put((rid, shape[0], out, events, buf, received, started, None))

    def after_failure(self, buf):
        """The staging buffer of a failed batch, safe to reuse: its upload (queued on the copy
        stream before the failure) may still be reading it, so wait for that upload's event first.
        If even that fails, the buffer is dropped and a fresh one takes its slot. (GPU only.)"""
        upload, self.upload = self.upload, None
        if buf is None or upload is None:
            return buf
        try:
            upload.synchronize()
            return buf
        except Exception:
            self.free.put(None)
            return None

    def run(self, ftype, shape, buf, data, nbytes):
        torch, runner = self.torch, self.runner
        if ftype == F.T_TEXT:
            host = torch.frombuffer(data, dtype=torch.int64).reshape(shape) if nbytes else torch.zeros(shape, dtype=torch.int64)
        else:
            host = buf[:nbytes].view(*shape)
        if not self.cuda:
            y = runner.encode_text(host) if ftype == F.T_TEXT else runner.normalise(host) if ftype == F.T_NORMALISE else runner.encode_image(host)
            return y.float().contiguous(), None
        with torch.cuda.stream(self.copy_stream):
            x = host.to(runner.device, non_blocking=True)
            uploaded = torch.cuda.Event()
            uploaded.record(self.copy_stream)
            self.upload = uploaded
        with torch.cuda.stream(self.compute_stream):
            self.compute_stream.wait_event(uploaded)
            x.record_stream(self.compute_stream)  # allocated on the copy stream, used here
            # blocking=True (cudaEventBlockingSync): the writer's synchronize() sleeps instead of
            # spinning a core that the preprocessing threads were counted on (GPU only).
            begin = torch.cuda.Event(enable_timing=True, blocking=True)
            end = torch.cuda.Event(enable_timing=True, blocking=True)
            begin.record(self.compute_stream)
            y = runner.encode_text(x) if ftype == F.T_TEXT else runner.normalise(x) if ftype == F.T_NORMALISE else runner.encode_image(x)
            out = torch.empty(tuple(y.shape), dtype=torch.float32, pin_memory=True)
            out.copy_(y.float(), non_blocking=True)
            end.record(self.compute_stream)
        return out, (begin, end)

    def stop(self, failure):
        """A sticky error seen by the writer: the compute loop, woken by a None, takes no more
        batches; serve() raises, the worker exits (status 4) and the backend restarts it."""
        if self.broken is None:
            self.broken = DeviceError(failure.brief)
        self.work.put(None)

    def write_loop(self):
        self.bind()
        w = self.writer
        while True:
            item = self.done.get()
            if item is None:
                return
            rid, n, out, events, buf, received, started, failure = item
            device_ms = None
            if failure is None and events is not None:
                try:
                    events[1].synchronize()
                    device_ms = round(events[0].elapsed_time(events[1]), 3)
                except Exception as e:
                    failure = Failure(e)
                if failure is not None and failure.sticky:
                    self.stop(failure)
            if buf is not None:
                self.free.put(buf)
            if failure is not None:
                F.log("batch %d failed: %s" % (rid, failure.message))
                w.write_json(F.T_FAILED, rid, {"message": "a batch of %d failed: %s" % (n, failure.brief)})
                continue
            finished = time.time()
            w.write_json(F.T_TIMING, rid, {"id": rid, "received": received * 1e3, "started": started * 1e3, "finished": finished * 1e3, "deviceMs": device_ms})
            w.write(F.T_RESULT, rid, F.D_FLOAT32, tuple(out.shape), F.tensor_view(out))

    def serve(self):
        reader = threading.Thread(target=self.read_loop, name="reader", daemon=True)
        writer = threading.Thread(target=self.write_loop, name="writer", daemon=True)
        reader.start()
        writer.start()
        try:
            self.compute_loop()
        finally:
            self.done.put(None)
            writer.join()
        if self.broken is not None:
            raise self.broken
