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
  independent, so padding changes no row), and torch.compile of the eager towers.
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
        if opts.compile:
            self._compile()
        self.dim = self._warm_up()
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

    def _compile(self):
        torch = self.torch
        if not hasattr(torch, "compile"):
            raise ModelError("CLIP_TORCH_COMPILE needs torch 2.0 or later (this is torch %s)" % torch.__version__)
        if self.impl != "eager":
            raise ModelError("CLIP_TORCH_COMPILE compiles the eager model, but this model is served through its TorchScript graphs")
        # Static shapes: with CUDA graphs the batch sizes are the buckets; without, each new size compiles once.
        self.model.encode_image = torch.compile(self.model.encode_image, dynamic=False)
        self.model.encode_text = torch.compile(self.model.encode_text, dynamic=False)
        self.notes.append("torch.compile")

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
        pool = torch.cuda.graph_pool_handle()
        side = torch.cuda.Stream(self.device)
        for b in sorted(set(sizes), reverse=True):  # largest first: the smaller ones reuse its pool
            static_in = torch.zeros(b, s, s, 3, dtype=torch.uint8, device=self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up on a side stream, as capture requires
                    self._image(static_in)
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
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
        with self.context():
            return self.model.encode_image(self.normalise(x).to(self.dtype))

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
        with self.context():
            return self.model.encode_text(ids)
