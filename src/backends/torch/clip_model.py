"""
An eager PyTorch CLIP ViT built from the weights of a TorchScript CLIP (OpenAI's released
checkpoints, models/generate.py's torch/model.pt) or of a saved state_dict with OpenAI's keys.

It computes what OpenAI's clip/model.py computes (float32 LayerNorm, QuickGELU, pre-norm blocks,
nn.MultiheadAttention's math), batch-first inside, with attention through
torch.nn.functional.scaled_dot_product_attention (fused kernels on CUDA/ROCm) where torch has it
(2.0+) and the plain formula otherwise. `.to(dtype)` gives float16 or bfloat16; forward has no
data-dependent Python branches, no .item() and no per-call masks, so it can be captured in a CUDA
graph or handed to torch.compile.

Import it after torch imported (the worker checks that first and reports why not).
"""
import os
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

ATTENTION = ("auto", "sdpa", "math")
# Keys of OpenAI's checkpoints that are not weights (clip/model.py's build_model drops them too).
IGNORED_KEYS = ("input_resolution", "context_length", "vocab_size", "logit_scale")


def has_sdpa(torch):
    return hasattr(torch.nn.functional, "scaled_dot_product_attention")


def load_state_dict(path):
    """{name: tensor} (on the CPU) from a TorchScript archive or a torch.save'd (state_dict or {"state_dict": ...})."""
    if not os.path.isfile(path):
        raise ValueError("%s: model file does not exist" % path)
    try:
        return dict(torch.jit.load(path, map_location="cpu").state_dict())
    except Exception as e:
        jit_error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain containers only: no code runs
    except Exception as e:
        # weights_only failures put the reason after this marker, behind advice we do not want to relay.
        text = str(e).split("WeightsUnpickler error:")[-1].strip()
        first = text.splitlines()[0] if text else type(e).__name__
        raise ValueError("%s: neither a TorchScript archive (torch.jit.load: %s) nor a torch.save'd state_dict (torch.load: %s)" % (path, jit_error, first))
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError("%s: torch.load gave %s, not a state_dict ({name: tensor}, or {\"state_dict\": {name: tensor}})" % (path, type(obj).__name__))
    return dict(obj)


class LayerNorm(nn.LayerNorm):
    """OpenAI's: computed in float32 whatever the module's dtype, then cast back."""

    def forward(self, x):
        w, b = self.weight.float(), self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """nn.MultiheadAttention's self-attention (packed in_proj, scale 1/sqrt(head_dim), out_proj) on [N, L, D]."""

    def __init__(self, width, heads, sdpa, causal):
        super().__init__()
        self.heads, self.sdpa, self.causal = heads, sdpa, causal
        self.scale = (width // heads) ** -0.5
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask):
        n, l, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(n, l, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if self.sdpa:
            # is_causal rather than the mask buffer: a float mask rules out the flash kernel and
            # makes the others read an L x L tensor per head (reasoned from torch's kernel rules,
            # not measured: no torch 2.x here). For square attention, as here, is_causal is
            # exactly the -inf triu(1) mask.
            o = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        else:
            a = (q * self.scale) @ k.transpose(-2, -1)
            if self.causal:
                a = a + mask
            o = a.softmax(dim=-1) @ v
        return self.out_proj(o.transpose(1, 2).reshape(n, l, d))


class Block(nn.Module):
    def __init__(self, width, heads, sdpa, causal):
        super().__init__()
        self.attn = Attention(width, heads, sdpa, causal)
        self.ln_1 = LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, 4 * width)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(4 * width, width))]))
        self.ln_2 = LayerNorm(width)

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, sdpa, causal):
        super().__init__()
        self.resblocks = nn.ModuleList([Block(width, heads, sdpa, causal) for _ in range(layers)])

    def forward(self, x, mask=None):
        for block in self.resblocks:
            x = block(x, mask)
        return x


class Visual(nn.Module):
    def __init__(self, image_size, patch_size, width, layers, heads, embed_dim, sdpa):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(width))
        self.positional_embedding = nn.Parameter(torch.empty((image_size // patch_size) ** 2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, sdpa, causal=False)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(torch.empty(width, embed_dim))

    def forward(self, x):
        x = self.conv1(x.to(self.conv1.weight.dtype)).flatten(2).transpose(1, 2)  # [n, grid², width]
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
        x = self.transformer(x)
        return self.ln_post(x[:, 0, :]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, h, sdpa):
        super().__init__()
        self.visual = Visual(h["image_size"], h["patch_size"], h["vision_width"], h["vision_layers"], h["vision_heads"], h["embed_dim"], sdpa)
        self.transformer = Transformer(h["text_width"], h["text_layers"], h["text_heads"], sdpa, causal=True)
        self.token_embedding = nn.Embedding(h["vocab_size"], h["text_width"])
        self.positional_embedding = nn.Parameter(torch.empty(h["context_length"], h["text_width"]))
        self.ln_final = LayerNorm(h["text_width"])
        self.text_projection = nn.Parameter(torch.empty(h["text_width"], h["embed_dim"]))
        # Built once; a buffer so that .to(dtype) / .to(device) move it (-inf survives half casts).
        L = h["context_length"]
        self.register_buffer("attn_mask", torch.full((L, L), float("-inf")).triu_(1), persistent=False)
        for name in ("image_size", "patch_size", "context_length", "embed_dim", "vision_heads", "text_heads"):
            setattr(self, name, h[name])
        self.attention = "sdpa" if sdpa else "math"

    @property
    def dtype(self):
        return self.visual.conv1.weight.dtype

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


def hyper_parameters(sd, vision_heads, text_heads):
    """As OpenAI's build_model infers them from the shapes (ViT only)."""
    if "visual.proj" not in sd:
        if any(k.startswith(("visual.layer1.", "visual.attnpool.")) for k in sd):
            raise ValueError("this is a ResNet CLIP checkpoint (visual.layer1 / visual.attnpool); only ViT checkpoints are supported")
        raise ValueError("not a CLIP ViT state dict: no visual.proj (%s)" % ("keys: " + ", ".join(sorted(sd)[:5]) + (", ..." if len(sd) > 5 else "") if sd else "no keys"))
    try:
        conv = sd["visual.conv1.weight"].shape
        h = dict(
            vision_width=conv[0], patch_size=conv[-1],
            image_size=conv[-1] * round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5),
            vision_layers=count_layers(sd, "visual.transformer.resblocks."),
            embed_dim=sd["text_projection"].shape[1], context_length=sd["positional_embedding"].shape[0],
            vocab_size=sd["token_embedding.weight"].shape[0], text_width=sd["ln_final.weight"].shape[0],
            text_layers=count_layers(sd, "transformer.resblocks."),
        )
    except (KeyError, IndexError) as e:
        raise ValueError("not a CLIP ViT state dict: %s is missing or has the wrong shape" % e)
    h["vision_heads"] = vision_heads or h["vision_width"] // 64
    h["text_heads"] = text_heads or h["text_width"] // 64
    for tower in ("vision", "text"):
        width, heads = h[tower + "_width"], h[tower + "_heads"]
        if heads < 1 or width % heads:
            raise ValueError("%s width %d is not divisible into %d heads" % (tower, width, heads))
    return {k: int(v) for k, v in h.items()}


def build_clip(state_dict, vision_heads=None, text_heads=None, attention="auto"):
    """An eval-mode, frozen, float32 CPU CLIP from OpenAI-keyed weights; heads default to width // 64."""
    if attention not in ATTENTION:
        raise ValueError("attention must be one of %s, got %r" % (", ".join(ATTENTION), attention))
    if attention == "sdpa" and not has_sdpa(torch):
        raise ValueError("attention='sdpa' needs torch.nn.functional.scaled_dot_product_attention (torch 2.0+); torch %s lacks it: use 'math' or 'auto'" % torch.__version__)
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError("state_dict must be a dict of tensors, got %s" % type(state_dict).__name__)
    sd = {k: v for k, v in state_dict.items() if k not in IGNORED_KEYS}
    model = CLIP(hyper_parameters(sd, vision_heads, text_heads), sdpa=attention != "math" and has_sdpa(torch))
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as e:  # missing, unexpected or mis-shaped keys, all listed by torch
        raise ValueError("the state dict does not fit a CLIP ViT: %s" % " ".join(str(e).split()))
    model.eval().requires_grad_(False)
    return model
