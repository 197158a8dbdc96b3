"""
SigLIP and SigLIP 2 (FixRes) as transformers' SiglipModel computes them, eager PyTorch, from a
Hugging Face folder's weights as they are (names as stored: the modules below are named like
transformers' so the state dict loads strictly) and its config.json (SiglipConfig: widths,
heads, layers, hidden_act, layer_norm_eps, image and patch size, projection size):

  vision  patch conv + learned positions, pre-LN encoder, post LayerNorm, the attention-pooling
          head (a learned probe attends to every patch; LayerNorm; residual MLP): [n, D]
  text    token + learned positions, bidirectional encoder (no mask: captions arrive padded to
          the context, as SigLIP was trained), final LayerNorm, the last position through the
          head (Linear): [n, D]

Attention is torch's scaled_dot_product_attention (the scale 1/sqrt(head_dim), as transformers').
"""

import torch
import torch.nn.functional as F
from torch import nn

from checkpoint import unset_embedding

ACTIVATIONS = {
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu": F.gelu,
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
}
# SiglipVisionConfig / SiglipTextConfig defaults, for keys a config.json leaves out.
DEFAULTS = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)


def is_siglip(config):
    return config.get("model_type") == "siglip" or "SiglipModel" in (config.get("architectures") or [])


def tower_config(config, name):
    c = dict(DEFAULTS, **(config.get(name) or {}))
    if c["hidden_act"] not in ACTIVATIONS:
        raise ValueError("config.json %s.hidden_act %r is not one clipql computes (%s)" % (name, c["hidden_act"], ", ".join(ACTIVATIONS)))
    if c["hidden_size"] % c["num_attention_heads"]:
        raise ValueError("config.json %s: hidden_size %d is not a multiple of num_attention_heads %d" % (name, c["hidden_size"], c["num_attention_heads"]))
    return c


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        w = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(w, w) for _ in range(4))

    def forward(self, x):
        n, length, w = x.shape
        split = lambda t: t.view(n, length, self.heads, w // self.heads).transpose(1, 2)  # noqa: E731
        y = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.out_proj(y.transpose(1, 2).reshape(n, length, w))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = ACTIVATIONS[c["hidden_act"]]
        self.fc1 = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.fc2 = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.self_attn = Attention(c)
        self.layer_norm2 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.mlp = Mlp(c)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Head(nn.Module):
    """SiglipMultiheadAttentionPoolingHead: nn.MultiheadAttention of a learned probe over the patches."""

    def __init__(self, c):
        super().__init__()
        self.probe = nn.Parameter(torch.empty(1, 1, c["hidden_size"]))
        self.attention = nn.MultiheadAttention(c["hidden_size"], c["num_attention_heads"], batch_first=True)
        self.layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.mlp = Mlp(c)

    def forward(self, x):
        h = self.attention(self.probe.expand(x.shape[0], -1, -1), x, x, need_weights=False)[0]
        return (h + self.mlp(self.layernorm(h)))[:, 0]


class VisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        p, s = c["patch_size"], c["image_size"]
        self.patch_embedding = nn.Conv2d(c.get("num_channels", 3), c["hidden_size"], kernel_size=p, stride=p)
        self.position_embedding = unset_embedding((s // p) ** 2, c["hidden_size"])

    def forward(self, pixels):
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        return x + self.position_embedding.weight


class VisionModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = VisionEmbeddings(c)
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.head = Head(c)

    def forward(self, pixels):
        return self.head(self.post_layernorm(self.encoder(self.embeddings(pixels))))


class TextEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = unset_embedding(c["vocab_size"], c["hidden_size"])
        self.position_embedding = unset_embedding(c["max_position_embeddings"], c["hidden_size"])


class TextModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = TextEmbeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.head = nn.Linear(c["hidden_size"], c.get("projection_size") or c["hidden_size"])

    def forward(self, ids):
        e = self.embeddings
        x = e.token_embedding(ids) + e.position_embedding.weight[: ids.shape[1]]
        # LayerNorm acts per token: normalising the last position alone is the same number
        return self.head(self.final_layer_norm(self.encoder(x)[:, -1]))


class Siglip(nn.Module):
    def __init__(self, config):
        super().__init__()
        v, t = tower_config(config, "vision_config"), tower_config(config, "text_config")
        v.setdefault("image_size", 224)
        v.setdefault("patch_size", 16)
        t.setdefault("vocab_size", 32000)
        t.setdefault("max_position_embeddings", 64)
        self.vision_model = VisionModel(v)
        self.text_model = TextModel(t)
        self.logit_scale = nn.Parameter(torch.zeros(1))
        self.logit_bias = nn.Parameter(torch.zeros(1))
        self.image_size, self.context_length = v["image_size"], t["max_position_embeddings"]
        self.arch = {tower: {"act": c["hidden_act"], "eps": c["layer_norm_eps"], "mlp": c["intermediate_size"]} for tower, c in (("vision", v), ("text", t))}
        self.attention = "sdpa"

    def encode_image(self, image):
        """[n, 3, S, S], normalised -> [n, D], not normalised."""
        return self.vision_model(image)

    def encode_text(self, ids):
        """int64 [n, context_length], padded with the pad token -> [n, D]."""
        return self.text_model(ids)


def build_siglip(tensors, config, dtype=torch.float32):
    """The model from a SiglipModel state dict as stored (strict: every weight used, none missing)."""
    with torch.device("meta"):
        model = Siglip(config)
    state = {k: v for k, v in tensors.items() if not k.endswith("position_ids")}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise ValueError("the weights are not those of the SiglipModel config.json describes: %s" % str(e).splitlines()[0 if len(str(e).splitlines()) < 2 else 1].strip())
    return model.to(dtype).eval()


