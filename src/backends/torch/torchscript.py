"""
OpenAI-format TorchScript CLIP (the released ViT-B-32.pt, ViT-L-14-336px.pt..., and
models/generate.py's torch/model.pt): loaded and patched for the worker's device and precision,
the way OpenAI's clip.load(jit=True) does it. The worker's eager model (clip_model.py) is built
from these files' weights; this path (CLIP_TORCH_IMPL=torchscript) runs the graphs themselves,
for checkpoints the eager builder cannot read.
"""
import contextlib
import os


class ModelError(Exception):
    """The model file cannot be served; the message names the file and says why."""


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
    # check_trace=False: the check re-runs the lambda through torch.testing, which imports
    # torch.distributed.tensor (0.9 s of every TorchScript load in torch 2) to compare one scalar.
    holder = torch.jit.trace(lambda: torch.ones([]).to(device), example_inputs=[], check_trace=False)
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
    holder = torch.jit.trace(lambda: torch.ones([]).float(), example_inputs=[], check_trace=False)
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



def load_torchscript(torch, path, device, dtype):
    """(module, notes): the archive at `path` on `device` in `dtype`, with encode_image and encode_text."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelError("%s: model file cannot be read (%s)" % (path, e))
    try:
        model = torch.jit.load(path, map_location=device)
    except Exception as e:
        what = "a zip archive, but not a TorchScript one" if magic[:2] == b"PK" else "not a TorchScript archive"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(
            "%s: %s (torch.jit.load failed: %s). The torch backend needs TorchScript with encode_image and encode_text, "
            "like OpenAI's released CLIP checkpoints (ViT-B-32.pt, ViT-L-14-336px.pt) or models/generate.py's torch/model.pt; "
            "a plain state_dict is not enough." % (path, what, first)
        )
    missing = [m for m in ("encode_image", "encode_text") if not hasattr(model, m)]
    if missing:
        try:
            has = ", ".join(sorted(model._c._method_names())) or "none"
        except Exception:
            has = "unknown"
        raise ModelError("%s: the TorchScript model lacks %s (its methods: %s)" % (path, " and ".join(missing), has))
    notes = []
    n = patch_devices(torch, model, device)
    if n:
        notes.append("%d device constant(s) moved to %s" % (n, device))
    saved = floating_dtypes(model)
    autocast = False
    if dtype == torch.float32:
        if torch.float16 in saved:
            n = patch_half_casts(torch, model)
            notes.append("float16 checkpoint converted to float32 (%d cast(s) patched)" % n)
        model = model.float()
    elif saved != {dtype}:
        # A float32 checkpoint run in half precision: half weights, and autocast so that float32
        # constants traced into the graph (a causal mask, say) meet half tensors safely.
        model = model.to(dtype)
        autocast = True
        notes.append("%s checkpoint run in %s (weights cast, autocast)" % ("/".join(sorted(str(d)[6:] for d in saved)), str(dtype)[6:]))
    model.eval()
    return TorchScriptCLIP(torch, model, dtype, autocast), notes


def model_attr(model, name):
    """An int attribute of a scripted model (input_resolution, context_length), or None."""
    value = getattr(model, name, None)
    if value is None:
        return None
    try:
        return int(value.item() if hasattr(value, "item") else value)
    except Exception:
        return None


class TorchScriptCLIP:
    """encode_image / encode_text of a loaded archive, run as the worker runs every model."""

    def __init__(self, torch, model, dtype, autocast):
        self.torch = torch
        self.model = model
        self.dtype = dtype
        self.autocast = autocast
        self.image_size = model_attr(model, "input_resolution")
        self.context_length = model_attr(model, "context_length")

    def context(self):
        """
        No TorchScript graph optimisation: its fusers compile kernels at run time, after the first
        calls (a latency spike in a server), and on CUDA torch 2.11 the float16 text tower's fused
        kernel failed to compile (nvrtc "duplicate parameter name"); matrix products and
        convolutions, where the time goes, are not fused anyway. Autocast when a float32
        checkpoint runs in half precision.
        """
        torch = self.torch
        stack = contextlib.ExitStack()
        stack.enter_context(torch.jit.optimized_execution(False))
        if self.autocast:
            stack.enter_context(torch.autocast(device_type="cuda", dtype=self.dtype))
        return stack

    def encode_image(self, x):
        with self.context():
            return self.model.encode_image(x)

    def encode_text(self, ids):
        with self.context():
            return self.model.encode_text(ids)
