"""
The model on its device, as the worker runs it: uint8 crops in, embeddings out, all on the
device (the worker moves bytes to and from it, worker.py).

- Normalisation: ToTensor + Normalize as a lookup in the backend's own 3 x 256 table (it sends
  the float32 values toTensor uses, so the normalised tensor is byte-identical to the onnx
  backend's; the tests compare them), gathered on the device from the uint8 crop.
- The model: eager PyTorch (clip_model.py, fused attention through SDPA where torch has it) from
  the file's weights (checkpoint.py: TorchScript, state_dict, model.safetensors, pytorch_model.bin)
  and the bundle's config.json, or the TorchScript graphs themselves (torchscript.py), in float32,
  float16 or bfloat16. A TorchScript file whose weights the eager model cannot read (other
  parameter names) is served through its own graphs, and the notes say so.
- Options, each switchable because each has to earn its place by measurement: CUDA graphs of the
  image tower at fixed batch sizes ("buckets": a batch is padded up to the next one; ViT rows are
  independent, so padding changes no row), and torch.compile of the eager towers, which compiles
  once per input shape: compiled towers see only bucket sizes too (the graph sizes, else powers of
  two and --max-batch), so a service compiles a handful of shapes, not one per batch size; both
  towers' buckets are compiled at start-up when --max-batch is given, and dynamo's recompile
  limit is raised above the bucket count, past which it would silently run eager.
"""
import contextlib

import checkpoint
import clip_model
import siglip_model
from frames import log
from torchscript import ModelError, load_torchscript



class Runner:
    def __init__(self, torch, opts, device, dtype):
        self.torch = torch
        self.device = device
        self.dtype = dtype
        self.image_size = opts.image_size
        self.context_length = opts.context_length
        self.notes = []
        self.lut = self._table(opts.pixel_table).to(device)
        self.offsets = torch.tensor([0, 256, 512], dtype=torch.int64, device=device).view(1, 3, 1, 1)
        if device.type == "cuda" and dtype == torch.float32:
            # float32 means float32: no TF32 matrix products or convolutions (cuDNN allows them by default).
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self.impl = opts.impl
        self.model = self._load(opts)
        self.attention = getattr(self.model, "attention", "torchscript")
        self.buckets = []
        self.graphs = {}
        self.compiled = False
        max_batch = getattr(opts, "max_batch", 0) or 0
        # compile's buckets: the graph sizes (batches are padded to them anyway), else powers of two
        # below the max batch and the max batch itself (the graph sizes' "on"); past them, powers of two.
        powers = {1 << k for k in range(max_batch.bit_length()) if 1 << k < max_batch} | ({max_batch} if max_batch else set())
        self.compile_sizes = sorted(set(opts.cuda_graphs or []) or powers)
        if getattr(self.model, "patch_matmul", None) is not None and device.type == "cuda":
            # The patch embedding as a reshape and one matrix product (clip_model.Visual): no
            # per-shape convolution search (MIOpen on ROCm), nothing fragile inside graph capture.
            self.model.patch_matmul = True
            self.notes.append("patch embedding as a matrix product")
        if opts.compile:
            self._compile(opts)
        self.dim = self._warm_up()
        if opts.compile and max_batch:
            self._compile_buckets()
        if opts.cuda_graphs:
            self._capture(opts.cuda_graphs)

    # ---- set-up ------------------------------------------------------------------------------

    def _table(self, hexdigits):
        torch = self.torch
        raw = bytes.fromhex(hexdigits)
        if len(raw) != 3 * 256 * 4:
            raise ValueError("--pixel-table must hold 3 x 256 float32 values, got %d bytes" % len(raw))
        return torch.frombuffer(bytearray(raw), dtype=torch.float32).clone()

    def _load(self, opts):
        torch = self.torch
        if opts.impl == "torchscript":
            return self._torchscript(opts.model)
        try:
            config = checkpoint.read_config(opts.config)
            if siglip_model.is_siglip(config):  # another model family
                return self._siglip(opts, config)
            arch, stated = checkpoint.architecture(config, opts.config or "config.json")
        except ValueError as e:
            raise ModelError(str(e))
        try:
            state = checkpoint.load_state_dict(opts.model)
            model = clip_model.build_clip(state, attention=opts.attention, dtype=self.dtype, stated=stated, **arch)
        except ValueError as e:
            if not opts.model.endswith((".safetensors", ".bin")) and self._has_graphs(opts.model):
                note = "the eager model cannot read its weights (%s): serving the file's own TorchScript graphs" % e
                log(note)
                self.notes.append(note)
                return self._torchscript(opts.model)
            raise ModelError(str(e))
        self._check_sizes(model.image_size, model.context_length)
        self.notes.append("eager model, %s attention, %s float32 linear%s" % (model.attention, model.linear if self.device.type == "cpu" else "aten", "".join(
            ", %s %s" % (tower, ", ".join("%s %s" % (k, v) for k, v in a.items())) for tower, a in model.arch.items())))
        return model.to(device=self.device)

    def _siglip(self, opts, config):
        try:
            model = siglip_model.build_siglip(checkpoint.read_tensors(opts.model), config, self.dtype)
        except ValueError as e:
            raise ModelError("%s: %s" % (opts.model, e))
        self._check_sizes(model.image_size, model.context_length)
        self.notes.append("eager SigLIP, sdpa attention, %s" % ", ".join("%s %s" % (t, a) for t, a in model.arch.items()))
        return model.to(device=self.device)

    def _has_graphs(self, path):
        """A TorchScript archive with encode_image and encode_text."""
        try:
            m = self.torch.jit.load(path, map_location="cpu")
        except Exception:
            return False
        return hasattr(m, "encode_image") and hasattr(m, "encode_text")

    def _torchscript(self, path):
        model, notes = load_torchscript(self.torch, path, self.device, self.dtype)
        self.impl = "torchscript"
        self.notes += notes
        self._check_sizes(model.image_size, model.context_length)
        return model

    def _check_sizes(self, image_size, context_length):
        for value, want, what, bundle in ((image_size, self.image_size, "input resolution", "image size S"), (context_length, self.context_length, "context length", "context length")):
            if value is not None and value != want:
                raise ModelError("the model's %s is %d but the bundle's %s is %d" % (what, value, bundle, want))

    def _compile(self, opts):
        torch = self.torch
        if not hasattr(torch, "compile"):
            raise ModelError("CLIP_TORCH_COMPILE needs torch 2.0 or later (this is torch %s)" % torch.__version__)
        if self.impl != "eager":
            raise ModelError("CLIP_TORCH_COMPILE compiles the eager model, but this model is served through its TorchScript graphs")
        # Static shapes, padded to buckets (bucket() below): one compilation per bucket.
        backend = getattr(opts, "compile_backend", "inductor")
        self.model.encode_image = torch.compile(self.model.encode_image, dynamic=False, backend=backend)
        self.model.encode_text = torch.compile(self.model.encode_text, dynamic=False, backend=backend)
        self.compiled = True
        config = torch._dynamo.config
        limit = 2 * (len(self.compile_sizes) + 12)  # per tower: its buckets and powers of two to 2^11 past them, twice over
        for name in ("recompile_limit", "cache_size_limit"):  # the name before torch 2.6: cache_size_limit
            if hasattr(config, name) and getattr(config, name) < limit:
                setattr(config, name, limit)
        self.notes.append("torch.compile, batches padded to buckets")

    def bucket(self, n):
        """The batch size a compiled tower runs for n rows: the first of the compile sizes (the
        graph sizes and the max batch) that holds n, else the next power of two."""
        fit = next((b for b in self.compile_sizes if b >= n), None)
        return fit if fit is not None else 1 << max(0, n - 1).bit_length()

    def _pad(self, x, n):
        """x's first n rows followed by copies of its first row, up to bucket(n) rows."""
        b = self.bucket(n)
        return x if b == n else self.torch.cat([x, x[:1].expand(b - n, *x.shape[1:])])

    def _compile_buckets(self):
        """Compiles both towers at each bucket up to the max batch now, not inside a call with a
        deadline (CLIP_TORCH_CALL_TIMEOUT_MS); start-up waits for it. Text batches past the max
        image batch (the backend allows 4 x) compile on first use, one power of two each."""
        torch, s = self.torch, self.image_size
        for b in self.compile_sizes:
            self._image(torch.zeros(b, s, s, 3, dtype=torch.uint8, device=self.device))
            # id 0 is in every family's vocabulary (as in _warm_up); only the shape matters here
            self.encode_text(torch.zeros(b, self.context_length, dtype=torch.int64, device=self.device))
        self.notes.append("compiled at batches %s" % ", ".join(map(str, self.compile_sizes)))

    def _warm_up(self):
        """One run of each tower: pays first-run costs and learns D."""
        torch = self.torch
        s = self.image_size
        ids = torch.zeros(1, self.context_length, dtype=torch.int64, device=self.device)  # id 0: in every family's vocabulary
        try:
            img = self.encode_image(torch.zeros(1, s, s, 3, dtype=torch.uint8, device=self.device))
        except Exception as e:
            raise ModelError("encode_image failed on a [1, 3, %d, %d] input: %s" % (s, s, e))
        try:
            txt = self.encode_text(ids)
        except Exception as e:
            raise ModelError("encode_text failed on a [1, %d] int64 input: %s" % (self.context_length, e))
        if img.dim() != 2 or txt.dim() != 2 or img.shape[1] != txt.shape[1]:
            raise ModelError("encode_image gives %s but encode_text gives %s; both must be [n, D]" % (tuple(img.shape), tuple(txt.shape)))
        return int(img.shape[1])

    def _capture(self, sizes):
        """One CUDA graph (hipGraph on ROCm) of the image tower per batch size, with static buffers."""
        torch = self.torch
        if self.device.type != "cuda":
            raise ModelError("CLIP_TORCH_CUDA_GRAPHS needs a GPU (the worker runs on %s)" % self.device)
        s = self.image_size
        # Everything on this worker's device (cuda:N): the pool, the warm-up stream and the
        # capture stream, which torch.cuda.graph would otherwise take from the current device
        # (a class-wide default stream, made on GPU 0). GPU only: no CPU test reaches this.
        with torch.cuda.device(self.device):
            pool = torch.cuda.graph_pool_handle()
            side = torch.cuda.Stream(self.device)
            capture = torch.cuda.Stream(self.device)
            for b in sorted(set(sizes), reverse=True):  # largest first: the smaller ones reuse its pool
                static_in = torch.zeros(b, s, s, 3, dtype=torch.uint8, device=self.device)
                side.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(side):
                    for _ in range(2):  # warm-up on a side stream, as capture requires
                        self._image(static_in)
                torch.cuda.current_stream(self.device).wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=pool, stream=capture):
                    static_out = self._image(static_in)
                self.graphs[b] = (graph, static_in, static_out)
        self.buckets = sorted(self.graphs)
        self.notes.append("CUDA graphs of the image tower at batch %s" % ", ".join(map(str, self.buckets)))

    # ---- running (on the current stream; tensors already on the device) ------------------------

    def context(self):
        torch = self.torch
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode() if hasattr(torch, "inference_mode") else torch.no_grad())
        return stack

    def normalise(self, x):
        """uint8 [n, S, S, 3] -> float32 [n, 3, S, S]: toTensor's values, looked up."""
        torch = self.torch
        idx = x.permute(0, 3, 1, 2).to(torch.int64) + self.offsets
        return self.lut[idx].contiguous()

    def _image(self, x):
        n = x.shape[0]
        if self.compiled:
            x = self._pad(x, n)
        with self.context():
            return self.model.encode_image(self.normalise(x).to(self.dtype))[:n]

    def encode_image(self, x):
        """uint8 [n, S, S, 3] on the device -> [n, D] in the model's dtype (a graph's output is copied)."""
        n = x.shape[0]
        bucket = next((b for b in self.buckets if b >= n), None)
        if bucket is None:
            return self._image(x)
        graph, static_in, static_out = self.graphs[bucket]
        static_in[:n].copy_(x)
        graph.replay()
        return static_out[:n].clone()

    def encode_text(self, ids):
        n = ids.shape[0]
        if self.compiled:
            ids = self._pad(ids, n)
        with self.context():
            return self.model.encode_text(ids)[:n]
