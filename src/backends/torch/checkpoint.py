"""
The weights of a CLIP ViT from the file forms users bring, under OpenAI's parameter names
(openai/CLIP clip/model.py, which clip_model.py follows), and the architecture that a Hugging
Face config.json states.

File forms (read_tensors):
  TorchScript archive     OpenAI's released .pt files, clipql's torch/model.pt: its state_dict
  torch.save'd .pt        a state_dict, or {"state_dict": ...}, under OpenAI's or transformers' names
  model.safetensors       transformers' CLIPModel (save_pretrained): memory-mapped by safetensors'
                          safe_open, so a tensor's pages are read when used and never copied on
                          the CPU unless a dtype cast or the q/k/v merge below needs it
  pytorch_model.bin       transformers' older form: torch.load(mmap=True) where torch has it (2.1+)

Names (to_openai): transformers' CLIPModel keeps q, k and v apart and names everything after its
own modules; OpenAI packs q/k/v into one in_proj (one matrix product, which SDPA wants) and stores
the projections transposed. hf_to_openai is that mapping; it copies only the merged in_proj
tensors (a third of the weights), once.

Architecture (architecture): transformers' CLIPConfig is the contract of a Hugging Face folder:
head counts, hidden_act (OpenAI's quick_gelu, or gelu as in LAION's checkpoints), layer_norm_eps,
image and patch size, projection_dim. Nothing is assumed that the config states otherwise.

Every failure is a ValueError whose message names the file and what is wrong.
"""
import json
import os
import sys

import torch

# Keys of OpenAI's checkpoints that are not weights (clip/model.py's build_model drops them too).
IGNORED_KEYS = ("input_resolution", "context_length", "vocab_size", "logit_scale")
# hidden_act values of transformers' ACT2FN that clip_model.py computes.
ACTIVATIONS = ("quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh")
HF_PREFIXES = ("text_model.", "vision_model.")


def unset_embedding(rows, width):
    """
    An nn.Embedding whose weight is left uninitialised, for the model builders (clip_model.py,
    siglip_model.py): the checkpoint fills it. nn.Embedding's own init draws normal_, which on the
    meta device imports torch._dynamo in torch 2 (1.5 s in every process that builds a model);
    uniform_ and fill_, the other modules' inits, do not.
    """
    return torch.nn.Embedding.from_pretrained(torch.empty(rows, width), freeze=True)

def first_line(e):
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def read_tensors(path):
    """{name: tensor} on the CPU from any of the forms above, names as stored."""
    if not os.path.isfile(path):
        raise ValueError("%s: model file does not exist" % path)
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    jit_error = None
    if not path.endswith(".bin"):
        try:
            return dict(torch.jit.load(path, map_location="cpu").state_dict())
        except Exception as e:
            jit_error = first_line(e)
    try:
        obj = torch_load(path)
    except Exception as e:
        # weights_only failures put the reason after this marker, behind advice we do not want to relay.
        text = str(e).split("WeightsUnpickler error:")[-1].strip()
        reason = text.splitlines()[0] if text else type(e).__name__
        if jit_error is None:
            raise ValueError("%s: not a torch.save'd state_dict (torch.load: %s)" % (path, reason))
        raise ValueError("%s: neither a TorchScript archive (torch.jit.load: %s) nor a torch.save'd state_dict (torch.load: %s)" % (path, jit_error, reason))
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError("%s: torch.load gave %s, not a state_dict ({name: tensor}, or {\"state_dict\": {name: tensor}})" % (path, type(obj).__name__))
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def torch_load(path):
    """torch.load of tensors and plain containers only (no code runs), memory-mapped where torch can."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except TypeError:  # torch < 2.1: no mmap argument
        return torch.load(path, map_location="cpu", weights_only=True)
    except RuntimeError as e:
        if "mmap" not in str(e):  # a file in the legacy (non-zip) format cannot be mapped
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def read_safetensors(path):
    try:
        from safetensors import safe_open
    except ImportError:
        raise ValueError(
            "%s: reading .safetensors needs the Python package safetensors, which %s lacks "
            "(pip install safetensors; the project's .venv has it: scripts/install-python.sh)" % (path, sys.executable)
        )
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise ValueError("%s: not a readable safetensors file (%s)" % (path, first_line(e)))


def is_hf(tensors):
    return any(k.startswith(HF_PREFIXES) for k in tensors)


def to_openai(tensors, path):
    """OpenAI-named weights: transformers' names are mapped, OpenAI's kept; non-weights dropped."""
    sd = hf_to_openai(tensors, path) if is_hf(tensors) else dict(tensors)
    return {k: v for k, v in sd.items() if k not in IGNORED_KEYS}


def load_state_dict(path):
    """OpenAI-named {name: tensor} (on the CPU) from any file form read_tensors reads."""
    return to_openai(read_tensors(path), path)


def hf_to_openai(hf, path="the checkpoint"):
    """transformers' CLIPModel state_dict -> openai/CLIP's names and layouts."""
    sd = {}

    def take(name):
        if name not in hf:
            raise ValueError("%s: transformers-style weights without %s: not a CLIPModel checkpoint (a vision- or text-only model?)" % (path, name))
        return hf[name]

    def tower(hf_prefix, oa_prefix):
        layers = sorted({int(k.split(".")[3]) for k in hf if k.startswith(hf_prefix + ".encoder.layers.")})
        for i in layers:
            p, o = "%s.encoder.layers.%d" % (hf_prefix, i), "%s.resblocks.%d" % (oa_prefix, i)
            sd[o + ".attn.in_proj_weight"] = torch.cat([take("%s.self_attn.%s_proj.weight" % (p, x)) for x in "qkv"])
            sd[o + ".attn.in_proj_bias"] = torch.cat([take("%s.self_attn.%s_proj.bias" % (p, x)) for x in "qkv"])
            for hf_name, oa_name in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
                sd["%s.%s.weight" % (o, oa_name)] = take("%s.%s.weight" % (p, hf_name))
                sd["%s.%s.bias" % (o, oa_name)] = take("%s.%s.bias" % (p, hf_name))

    tower("text_model", "transformer")
    tower("vision_model", "visual.transformer")
    sd["token_embedding.weight"] = take("text_model.embeddings.token_embedding.weight")
    sd["positional_embedding"] = take("text_model.embeddings.position_embedding.weight")
    sd["ln_final.weight"] = take("text_model.final_layer_norm.weight")
    sd["ln_final.bias"] = take("text_model.final_layer_norm.bias")
    sd["text_projection"] = take("text_projection.weight").t()  # a view: nn.Linear's weight is [out, in]
    sd["visual.class_embedding"] = take("vision_model.embeddings.class_embedding")
    sd["visual.conv1.weight"] = take("vision_model.embeddings.patch_embedding.weight")
    sd["visual.positional_embedding"] = take("vision_model.embeddings.position_embedding.weight")
    sd["visual.ln_pre.weight"] = take("vision_model.pre_layrnorm.weight")  # sic: transformers' name
    sd["visual.ln_pre.bias"] = take("vision_model.pre_layrnorm.bias")
    sd["visual.ln_post.weight"] = take("vision_model.post_layernorm.weight")
    sd["visual.ln_post.bias"] = take("vision_model.post_layernorm.bias")
    sd["visual.proj"] = take("visual_projection.weight").t()
    return sd


def read_config(path):
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("%s: cannot be read as JSON (%s)" % (path, first_line(e)))
    if not isinstance(config, dict):
        raise ValueError("%s: must hold a JSON object" % path)
    return config


def architecture(config, path="config.json"):
    """
    What the weights' shapes do not tell, from a CLIPConfig dict ({} for OpenAI's defaults):
    {vision,text}_{heads,act,eps}; heads None means OpenAI's rule (width // 64). Also the sizes the
    config states ({image_size, patch_size, projection_dim}), for checking against the weights.
    """
    if config.get("model_type") not in (None, "clip"):
        raise ValueError("%s: model_type %r; clipql serves CLIP (model_type \"clip\") only" % (path, config.get("model_type")))
    arch, stated = {}, {}
    for tower, key in (("vision", "vision_config"), ("text", "text_config")):
        sub = config.get(key) or {}
        if not isinstance(sub, dict):
            raise ValueError("%s: %s must be an object" % (path, key))
        heads = sub.get("num_attention_heads")
        if heads is not None and (not isinstance(heads, int) or heads < 1):
            raise ValueError("%s: %s.num_attention_heads must be a positive integer, got %r" % (path, key, heads))
        act = sub.get("hidden_act", "quick_gelu")  # transformers' CLIP default, and OpenAI's
        if act not in ACTIVATIONS:
            raise ValueError("%s: %s.hidden_act is %r; clipql computes %s" % (path, key, act, ", ".join(ACTIVATIONS)))
        eps = sub.get("layer_norm_eps", 1e-5)
        if not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError("%s: %s.layer_norm_eps must be a positive number, got %r" % (path, key, eps))
        arch.update({tower + "_heads": heads, tower + "_act": act, tower + "_eps": float(eps)})
    vision = config.get("vision_config") or {}
    for name, value in (("image_size", vision.get("image_size")), ("patch_size", vision.get("patch_size")), ("embed_dim", config.get("projection_dim"))):
        if isinstance(value, int):
            stated[name] = value
    return arch, stated
