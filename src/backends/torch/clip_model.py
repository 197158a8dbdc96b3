"""
An eager PyTorch CLIP ViT built from OpenAI-named weights (checkpoint.py reads them from
TorchScript archives, state_dicts, model.safetensors and pytorch_model.bin, mapping transformers'
names).

It computes what OpenAI's clip/model.py computes (float32 LayerNorm, pre-norm blocks,
nn.MultiheadAttention's math), batch-first inside, with attention through
torch.nn.functional.scaled_dot_product_attention (fused kernels on CUDA/ROCm) where torch has it
(2.0+) and the plain formula otherwise. What OpenAI's code fixes and transformers' CLIPConfig
states per tower is a parameter here: the MLP's activation (quick_gelu, or gelu as in LAION's
checkpoints), LayerNorm's eps, head counts; the MLP width comes from the weights. `dtype` gives
float16 or bfloat16; forward has no data-dependent Python branches, no .item() and no per-call
masks, so it can be captured in a CUDA graph or handed to torch.compile.

Import it after torch imported (the worker checks that first and reports why not).

Longer than the usual ~300 lines on purpose: the two towers, their blocks and the weight-name
mapping they need are one model, kept side by side with OpenAI's clip/model.py so that it can be
read against it; the checkpoint formats are checkpoint.py, SigLIP is siglip_model.py.
"""
import inspect
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from checkpoint import ACTIVATIONS, IGNORED_KEYS, load_state_dict, unset_embedding  # noqa: F401 (load_state_dict: the tests' entry point)

ATTENTION = ("auto", "sdpa", "math")
# Where torch can build modules without memory (2.0's device context) and adopt a state dict's
# tensors as parameters (2.1's assign=True), a checkpoint's tensors become the model's own:
# memory-mapped pages stay mapped, nothing is copied on the CPU.
ADOPTS = hasattr(torch.device, "__enter__") and "assign" in inspect.signature(nn.Module.load_state_dict).parameters


def has_sdpa(torch):
    return hasattr(torch.nn.functional, "scaled_dot_product_attention")


def _onednn_linear():
    """
    oneDNN's linear (torch.ops.mkldnn._linear_pointwise) where this torch has it and it agrees
    with F.linear, else None. On the CPU in float32 torch's F.linear goes to MKL's sgemm, which on
    this project's AMD EPYC machine ran a ViT-B/32 at half of onnxruntime's speed; oneDNN's
    float32 GEMM on the same shapes ([800, 768] x [768, 3072], 2 threads) ran 277 GFLOP/s against
    MKL's 143 (BENCHMARKS.md, "The torch backend as a CPU peer", has the model figures). bfloat16
    already goes to oneDNN inside F.linear.
    """
    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return None
    try:
        g = torch.Generator().manual_seed(0)
        x, w, b = torch.randn(2, 3, 16, generator=g), torch.randn(8, 16, generator=g), torch.randn(8, generator=g)
        return op if torch.allclose(op(x, w, b, "none", [], ""), F.linear(x, w, b), atol=1e-5) else None
    except Exception:  # built without it, or a signature this code does not know
        return None


ONEDNN_LINEAR = _onednn_linear()


def _traced():
    """Under torch.jit.trace / the ONNX exporter or torch.compile: they see F.linear (an ONNX Gemm; inductor's own choice)."""
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return torch.jit.is_tracing() or bool(compiling and compiling())


def linear(x, weight, bias, onednn=True):
    """F.linear, through oneDNN for float32 on the CPU where torch has it (_onednn_linear) and `onednn`, except under tracing."""
    if onednn and ONEDNN_LINEAR is not None and x.dtype == torch.float32 and x.device.type == "cpu" and not _traced():
        return ONEDNN_LINEAR(x, weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    onednn = True  # build_clip(linear="aten") turns it off

    def forward(self, x):
        return linear(x, self.weight, self.bias, self.onednn)


class LayerNorm(nn.LayerNorm):
    """OpenAI's: computed in float32 whatever the module's dtype, then cast back."""

    def forward(self, x):
        w, b = self.weight.float(), self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


class QuickGELU(nn.Module):
    """OpenAI's activation (transformers' quick_gelu)."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class GELU(nn.Module):
    """transformers' gelu (the exact erf form) and gelu_new / gelu_pytorch_tanh (the tanh form)."""

    def __init__(self, approximate):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate) if self.approximate != "none" else F.gelu(x)


def activation(name):
    if name == "quick_gelu":
        return QuickGELU()
    return GELU("none" if name == "gelu" else "tanh")


class Attention(nn.Module):
    """nn.MultiheadAttention's self-attention (packed in_proj, scale 1/sqrt(head_dim), out_proj) on [N, L, D]."""

    onednn = True

    def __init__(self, width, heads, sdpa, causal):
        super().__init__()
        self.heads, self.sdpa, self.causal = heads, sdpa, causal
        self.scale = (width // heads) ** -0.5
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = Linear(width, width)

    def forward(self, x, mask):
        n, l, d = x.shape
        q, k, v = linear(x, self.in_proj_weight, self.in_proj_bias, self.onednn).view(n, l, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if self.sdpa:
            # is_causal rather than the mask buffer: a float mask rules out the flash kernel and
            # makes the others read an L x L tensor per head (torch's kernel selection rules). For
            # square attention, as here, is_causal is exactly the -inf triu(1) mask.
            o = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        else:
            a = (q * self.scale) @ k.transpose(-2, -1)
            if self.causal:
                a = a + mask
            o = a.softmax(dim=-1) @ v
        return self.out_proj(o.transpose(1, 2).reshape(n, l, d))


class Block(nn.Module):
    def __init__(self, t, sdpa, causal):
        super().__init__()
        width = t["width"]
        self.attn = Attention(width, t["heads"], sdpa, causal)
        self.ln_1 = LayerNorm(width, eps=t["eps"])
        self.mlp = nn.Sequential(OrderedDict([("c_fc", Linear(width, t["mlp"])), ("gelu", activation(t["act"])), ("c_proj", Linear(t["mlp"], width))]))
        self.ln_2 = LayerNorm(width, eps=t["eps"])

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, t, sdpa, causal):
        super().__init__()
        self.resblocks = nn.ModuleList([Block(t, sdpa, causal) for _ in range(t["layers"])])

    def forward(self, x, mask=None):
        for block in self.resblocks:
            x = block(x, mask)
        return x


class Visual(nn.Module):
    def __init__(self, h, sdpa):
        super().__init__()
        t, width, patch = h["vision"], h["vision"]["width"], h["patch_size"]
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.patch_matmul = False  # CLIP.patch_matmul sets it
        self.class_embedding = nn.Parameter(torch.empty(width))
        self.positional_embedding = nn.Parameter(torch.empty((h["image_size"] // patch) ** 2 + 1, width))
        self.ln_pre = LayerNorm(width, eps=t["eps"])
        self.transformer = Transformer(t, sdpa, causal=False)
        self.ln_post = LayerNorm(width, eps=t["eps"])
        self.proj = nn.Parameter(torch.empty(width, h["embed_dim"]))

    def patches(self, x):
        """[n, 3, S, S] -> [n, grid², width]: the patch embedding. conv1 (a convolution with
        stride = kernel = patch) is the same as cutting the image into patches and one matrix
        product with conv1's weights, [n·grid², 3·p·p] @ [3·p·p, width]; CLIP.patch_matmul picks
        the product (the runner sets it on GPUs: no per-shape convolution search by MIOpen or
        cuDNN, nothing fragile inside graph capture). Equal within 1e-6 in float32
        (test/reference/patch_check.py); the CPU keeps the convolution, whose numbers the
        reference tests hold to 0."""
        x = x.to(self.conv1.weight.dtype)
        if not self.patch_matmul:
            return self.conv1(x).flatten(2).transpose(1, 2)
        n, c, s, _ = x.shape
        p = self.conv1.kernel_size[0]
        g = s // p
        x = x[:, :, : g * p, : g * p].reshape(n, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(n, g * g, c * p * p)
        return x @ self.conv1.weight.reshape(self.conv1.weight.shape[0], -1).t()

    def forward(self, x):
        x = self.patches(x)  # [n, grid², width]
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
        x = self.transformer(x)
        return self.ln_post(x[:, 0, :]) @ self.proj


def causal_mask(length):
    # On the CPU even under `with torch.device("meta")`: triu_ on meta is a Python reference
    # implementation that imports torch._dynamo (1.5 s).
    return torch.full((length, length), float("-inf"), device="cpu").triu_(1)


class CLIP(nn.Module):
    def __init__(self, h, sdpa):
        super().__init__()
        t = h["text"]
        self.visual = Visual(h, sdpa)
        self.transformer = Transformer(t, sdpa, causal=True)
        self.token_embedding = unset_embedding(h["vocab_size"], t["width"])
        self.positional_embedding = nn.Parameter(torch.empty(h["context_length"], t["width"]))
        self.ln_final = LayerNorm(t["width"], eps=t["eps"])
        self.text_projection = nn.Parameter(torch.empty(t["width"], h["embed_dim"]))
        # A buffer so that .to(dtype) / .to(device) move it (-inf survives half casts).
        self.register_buffer("attn_mask", causal_mask(h["context_length"]), persistent=False)
        for name in ("image_size", "patch_size", "context_length", "embed_dim"):
            setattr(self, name, h[name])
        self.vision_heads, self.text_heads = h["vision"]["heads"], t["heads"]
        self.hyper = h  # all of it, for models/export.py's config.json
        self.arch = {tower: {k: h[tower][k] for k in ("act", "eps", "mlp")} for tower in ("vision", "text")}
        self.attention = "sdpa" if sdpa else "math"

    @property
    def dtype(self):
        return self.visual.conv1.weight.dtype

    @property
    def patch_matmul(self):
        """The patch embedding as a matrix product instead of a convolution (Visual.patches)."""
        return self.visual.patch_matmul

    @patch_matmul.setter
    def patch_matmul(self, on):
        self.visual.patch_matmul = bool(on)

    def encode_image(self, image):
        """[n, 3, S, S] -> [n, embed_dim], projected, not normalised."""
        return self.visual(image)

    def encode_text(self, ids):
        """int64 [n, context_length] -> [n, embed_dim], pooled at the end-of-text token (the largest id)."""
        x = self.token_embedding(ids) + self.positional_embedding
        x = self.transformer(x, self.attn_mask)
        # Pool first, then ln_final: LayerNorm acts per token, so this is OpenAI's result for 1/L of the work.
        x = x[torch.arange(x.shape[0], device=x.device), ids.argmax(dim=-1)]
        return self.ln_final(x) @ self.text_projection


def count_layers(state_dict, prefix):
    return len({k[len(prefix):].split(".")[0] for k in state_dict if k.startswith(prefix)})


def hyper_parameters(sd, vision_heads=None, text_heads=None, vision_act="quick_gelu", text_act="quick_gelu", vision_eps=1e-5, text_eps=1e-5):
    """Sizes as OpenAI's build_model infers them from the shapes (ViT only), plus what shapes do not tell."""
    if "visual.proj" not in sd:
        if any(k.startswith(("visual.layer1.", "visual.attnpool.")) for k in sd):
            raise ValueError("this is a ResNet CLIP checkpoint (visual.layer1 / visual.attnpool); only ViT checkpoints are supported")
        raise ValueError("not a CLIP ViT state dict: no visual.proj (%s)" % ("keys: " + ", ".join(sorted(sd)[:5]) + (", ..." if len(sd) > 5 else "") if sd else "no keys"))
    try:
        conv = sd["visual.conv1.weight"].shape
        h = dict(
            patch_size=int(conv[-1]),
            image_size=int(conv[-1]) * round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5),
            embed_dim=int(sd["text_projection"].shape[1]), context_length=int(sd["positional_embedding"].shape[0]),
            vocab_size=int(sd["token_embedding.weight"].shape[0]),
        )
        towers = (("vision", "visual.transformer.resblocks.", int(conv[0]), vision_heads, vision_act, vision_eps),
                  ("text", "transformer.resblocks.", int(sd["ln_final.weight"].shape[0]), text_heads, text_act, text_eps))
        for tower, prefix, width, heads, act, eps in towers:
            h[tower] = dict(width=width, layers=count_layers(sd, prefix), heads=int(heads or width // 64), act=act, eps=float(eps),
                            mlp=int(sd[prefix + "0.mlp.c_fc.weight"].shape[0]))
    except (KeyError, IndexError) as e:
        raise ValueError("not a CLIP ViT state dict: %s is missing or has the wrong shape" % e)
    for tower in ("vision", "text"):
        t = h[tower]
        if t["heads"] < 1 or t["width"] % t["heads"]:
            raise ValueError("%s width %d is not divisible into %d heads" % (tower, t["width"], t["heads"]))
        if t["act"] not in ACTIVATIONS:
            raise ValueError("%s activation %r is not one of %s" % (tower, t["act"], ", ".join(ACTIVATIONS)))
    return h


def build_clip(state_dict, attention="auto", dtype=None, stated=None, linear="auto", **arch):
    """
    An eval-mode, frozen CPU CLIP from OpenAI-keyed weights, in `dtype` (default float32). `arch`:
    {vision,text}_{heads,act,eps} (checkpoint.architecture reads them from a config.json; heads
    default to width // 64, act to quick_gelu, eps to 1e-5). `stated`: sizes a config states
    (image_size, patch_size, embed_dim), which the weights must match. `linear`: "auto" (oneDNN's
    float32 CPU linear where torch has it, _onednn_linear) or "aten" (F.linear everywhere: what
    OpenAI's code computes, to the bit; models/export.py's check wants that).
    """
    if linear not in ("auto", "aten"):
        raise ValueError("linear must be auto or aten, got %r" % (linear,))
    if attention not in ATTENTION:
        raise ValueError("attention must be one of %s, got %r" % (", ".join(ATTENTION), attention))
    if attention == "sdpa" and not has_sdpa(torch):
        raise ValueError("attention='sdpa' needs torch.nn.functional.scaled_dot_product_attention (torch 2.0+); torch %s lacks it: use 'math' or 'auto'" % torch.__version__)
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError("state_dict must be a dict of tensors, got %s" % type(state_dict).__name__)
    dtype = dtype or torch.float32
    sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items() if k not in IGNORED_KEYS}
    h = hyper_parameters(sd, **arch)
    for name, value in (stated or {}).items():
        if h[name] != value:
            raise ValueError("the config states %s %d but the weights have %d" % (name, value, h[name]))
    sdpa = attention != "math" and has_sdpa(torch)
    try:
        if ADOPTS:
            with torch.device("meta"):
                model = CLIP(h, sdpa)
            model.load_state_dict(sd, strict=True, assign=True)
            model.register_buffer("attn_mask", causal_mask(h["context_length"]).to(dtype), persistent=False)
        else:
            model = CLIP(h, sdpa).to(dtype)
            model.load_state_dict(sd, strict=True)
    except RuntimeError as e:  # missing, unexpected or mis-shaped keys, all listed by torch
        raise ValueError("the state dict does not fit a CLIP ViT: %s" % " ".join(str(e).split()))
    if linear == "aten":
        for m in model.modules():
            if isinstance(m, (Linear, Attention)):
                m.onednn = False
    model.linear = "onednn" if linear == "auto" and ONEDNN_LINEAR is not None else "aten"
    model.eval().requires_grad_(False)
    return model
