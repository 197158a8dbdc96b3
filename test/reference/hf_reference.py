#!/usr/bin/env python3
"""
Hugging Face CLIP checkpoints made by transformers itself, and what transformers computes with
them, for test/models/transformers.test.ts. Nothing here is clipql's code except the one mapping
the test checks in both directions (src/backends/torch/checkpoint.py's hf_to_openai).

  hf_reference.py OUT SHARED      (the project's venv: torch 2, transformers, safetensors)

For each spec in SPECS, OUT/<name>/ is a folder as `save_pretrained` writes it: config.json and
model.safetensors from a seeded CLIPModel with every parameter perturbed (no zero bias, no
identity LayerNorm), preprocessor_config.json from CLIPImageProcessor, the tokenizer files from
CLIPTokenizer (over OpenAI's vocabulary from SHARED). OUT/<name>.json holds transformers' answers
for the notebook's eight images and captions ("It is " + caption): CLIPTokenizer's ids,
CLIPImageProcessor's pixels through get_image_features, get_text_features, the cosine matrix;
and the same with the crop at OpenAI's offset (openai_crop: where the two crop rules part).
OUT/<name>-openai.pt is the same weights under OpenAI's names (hf_to_openai), torch.save'd.

The other direction: OUT/tiny-as-hf/ is the committed tiny model's OpenAI-named weights under
transformers' names (openai_to_hf, written here, independently of hf_to_openai), loaded into
transformers' CLIPModel with strict=True and saved; OUT/tiny-as-hf.json says how far transformers'
outputs on the fixture's own pixels are from the fixture's reference.json (models/generate.py's
PyTorch).
"""
import gzip
import json
import os
import sys

import torch
from PIL import Image
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "src", "backends", "torch"))
sys.path.insert(0, os.path.join(ROOT, "models"))
from checkpoint import hf_to_openai  # noqa: E402
from simple_tokenizer import SimpleTokenizer  # noqa: E402

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

# Small widths, the shapes that matter: each activation, patch 14/16/32, 224 and 336 px, an MLP
# that is not 4 x the width, a LayerNorm eps that is not 1e-5, head counts no rule would guess.
SPECS = {
    "quick-gelu-p32": dict(act="quick_gelu", patch=32, size=224, vision=(64, 4, 256, 1e-5), text=(32, 4, 128, 1e-5), layers=2, dim=32),
    "gelu-p16": dict(act="gelu", patch=16, size=224, vision=(48, 3, 144, 1e-6), text=(32, 2, 96, 1e-5), layers=2, dim=24),
    "quick-gelu-p14-336": dict(act="quick_gelu", patch=14, size=336, vision=(64, 8, 256, 1e-5), text=(32, 4, 128, 1e-5), layers=2, dim=32),
}


def projected(out):
    """transformers 5 answers BaseModelOutputWithPooling (the projection in pooler_output), 4 a tensor."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def make_model(spec, seed):
    (vw, vh, vm, veps), (tw, th, tm, teps) = spec["vision"], spec["text"]
    config = CLIPConfig(
        text_config=dict(hidden_size=tw, num_attention_heads=th, intermediate_size=tm, layer_norm_eps=teps, num_hidden_layers=spec["layers"],
                         hidden_act=spec["act"], max_position_embeddings=77, vocab_size=49408, bos_token_id=49406, eos_token_id=49407, pad_token_id=0),
        vision_config=dict(hidden_size=vw, num_attention_heads=vh, intermediate_size=vm, layer_norm_eps=veps, num_hidden_layers=spec["layers"],
                           hidden_act=spec["act"], image_size=spec["size"], patch_size=spec["patch"]),
        projection_dim=spec["dim"],
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:  # matrices, embeddings, the patch convolution: unit gain, so that each image and caption tells
                fan_in = p[0].numel() if "embedding.weight" not in name or "patch" in name else 1
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)
            elif name.endswith("class_embedding"):
                p.copy_(torch.randn_like(p))
            else:  # biases and LayerNorms start at 0 and 1: moved, so that a dropped or misplaced one shows
                p.add_(torch.randn_like(p) * 0.2)
            # As models/generate.py argues for its tiny models: sharper attention and residual
            # branches that outweigh the class token, or every image gets nearly one embedding.
            if name.endswith(("q_proj.weight", "k_proj.weight")):
                p.mul_(2.5)
            elif name.endswith(("out_proj.weight", "fc2.weight")):
                p.mul_(4.0)
    return model


def processor(size):
    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}, resample=3, do_resize=True,
                              do_center_crop=True, do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=MEAN,
                              image_std=STD, do_convert_rgb=True)


def tokenizer(out, bpe):
    """CLIPTokenizer over OpenAI's vocabulary (vocab.json + merges.txt as the Hugging Face repositories have them)."""
    folder = os.path.join(out, "vocab")
    os.makedirs(folder, exist_ok=True)
    tok = SimpleTokenizer(bpe)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(tok.encoder, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(["#version: 0.2"] + [" ".join(m) for m in tok.merges]) + "\n")
    return CLIPTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"))


def cosines(text, image):
    t = text / text.norm(dim=-1, keepdim=True)
    i = image / image.norm(dim=-1, keepdim=True)
    return t @ i.T


def openai_crop(spec_size, images):
    """
    transformers' own resize, rescale and normalize, with the crop at torchvision's offset: OpenAI's
    _transform centre-crops at int(round((side - crop) / 2)) (torchvision's CenterCrop), while
    CLIPImageProcessor's center_crop takes (side - crop) // 2. The two differ by one pixel when
    side - crop is 3 modulo 4, so this is what a model trained with OpenAI's preprocessing sees.
    """
    whole = processor(spec_size)
    whole.do_center_crop = False
    out = []
    for im in images:
        x = whole(images=[im], return_tensors="pt")["pixel_values"][0]
        h, w = x.shape[-2:]
        top, left = int(round((h - spec_size) / 2.0)), int(round((w - spec_size) / 2.0))
        out.append(x[:, top:top + spec_size, left:left + spec_size])
    return torch.stack(out)


def answers(model, proc, tok, images, texts, size):
    ids = tok(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")["input_ids"]
    pixels = proc(images=images, return_tensors="pt")["pixel_values"]
    openai_pixels = openai_crop(size, images)
    with torch.no_grad():
        image_embeds = projected(model.get_image_features(pixel_values=pixels))
        openai_embeds = projected(model.get_image_features(pixel_values=openai_pixels))
        text_embeds = projected(model.get_text_features(input_ids=ids))
    off = cosines(image_embeds, image_embeds)[~torch.eye(len(images), dtype=torch.bool)]
    return {
        "tokens": ids.tolist(), "text_embeds": text_embeds.tolist(),
        # CLIPImageProcessor's pixels as they are
        "image_embeds": image_embeds.tolist(), "scores": cosines(text_embeds, image_embeds).tolist(),
        # the same, cropped at OpenAI's (torchvision's) offset
        "openai_crop_image_embeds": openai_embeds.tolist(), "openai_crop_scores": cosines(text_embeds, openai_embeds).tolist(),
        "same_crop": [bool(torch.equal(a, b)) for a, b in zip(pixels, openai_pixels)],
        "max_off_diagonal_image_cosine": float(off.max()),
    }


def openai_to_hf(sd):
    """openai/CLIP names -> transformers' CLIPModel names (the inverse of hf_to_openai, written apart from it)."""
    hf = {}

    def tower(oa, hfp):
        n = len({k.split(".")[len(oa.split(".")) + 1] for k in sd if k.startswith(oa + ".resblocks.")})
        for i in range(n):
            o, p = "%s.resblocks.%d" % (oa, i), "%s.encoder.layers.%d" % (hfp, i)
            for x, w, b in zip("qkv", sd[o + ".attn.in_proj_weight"].chunk(3), sd[o + ".attn.in_proj_bias"].chunk(3)):
                hf["%s.self_attn.%s_proj.weight" % (p, x)], hf["%s.self_attn.%s_proj.bias" % (p, x)] = w, b
            for h, m in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
                for kind in ("weight", "bias"):
                    hf["%s.%s.%s" % (p, h, kind)] = sd["%s.%s.%s" % (o, m, kind)]

    tower("transformer", "text_model")
    tower("visual.transformer", "vision_model")
    for h, o in (("text_model.embeddings.token_embedding.weight", "token_embedding.weight"), ("text_model.embeddings.position_embedding.weight", "positional_embedding"),
                 ("text_model.final_layer_norm.weight", "ln_final.weight"), ("text_model.final_layer_norm.bias", "ln_final.bias"),
                 ("vision_model.embeddings.class_embedding", "visual.class_embedding"), ("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"),
                 ("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"), ("vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"),
                 ("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"), ("vision_model.post_layernorm.weight", "visual.ln_post.weight"),
                 ("vision_model.post_layernorm.bias", "visual.ln_post.bias"), ("logit_scale", "logit_scale")):
        hf[h] = sd[o]
    hf["text_projection.weight"] = sd["text_projection"].t()
    hf["visual_projection.weight"] = sd["visual.proj"].t()
    return {k: v.contiguous() for k, v in hf.items()}


def tiny_as_hf(out, tok):
    """The committed tiny model (OpenAI's names) loaded into transformers, against its own reference.json."""
    bundle = os.path.join(ROOT, "models", "tiny-clip-336")
    fixtures = os.path.join(ROOT, "test", "fixtures", "tiny-clip-336")
    sd = dict(torch.jit.load(os.path.join(bundle, "torch", "model.pt"), map_location="cpu").state_dict())
    config = CLIPConfig.from_json_file(os.path.join(bundle, "config.json"))
    model = CLIPModel(config).eval()
    missing, unexpected = model.load_state_dict(openai_to_hf(sd), strict=False)
    # transformers keeps position_ids as a non-persistent buffer in some versions: nothing else may be missing.
    missing = [k for k in missing if not k.endswith("position_ids")]
    assert not missing and not unexpected, (missing, unexpected)
    ref = json.load(open(os.path.join(fixtures, "reference.json")))
    s = config.vision_config.image_size
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    # The fixture's uint8 crops (PIL's), as ToTensor + Normalize make them.
    crops = [torch.frombuffer(bytearray(gzip.open(os.path.join(fixtures, im["pixels"])).read()), dtype=torch.uint8).view(s, s, 3).permute(2, 0, 1) for im in ref["images"]]
    pixels = torch.stack([(c.float().div(255) - mean) / std for c in crops])
    with torch.no_grad():
        image_embeds = projected(model.get_image_features(pixel_values=pixels))
        text_embeds = projected(model.get_text_features(input_ids=torch.tensor(ref["tokens"])))
    folder = os.path.join(out, "tiny-as-hf")
    model.save_pretrained(folder)
    processor(s).save_pretrained(folder)
    tok.save_pretrained(folder)
    return {
        "image": float((image_embeds - torch.tensor(ref["image_embeds"])).abs().max()),
        "text": float((text_embeds - torch.tensor(ref["text_embeds"])).abs().max()),
    }


def main(out, shared):
    os.makedirs(out, exist_ok=True)
    folder = os.path.join(shared, "images", "notebook")
    captions = json.load(open(os.path.join(folder, "captions.json"), encoding="utf-8"))
    images = [Image.open(os.path.join(folder, f)) for f in captions]
    texts = ["It is " + c for c in captions.values()]
    tok = tokenizer(out, os.path.join(shared, "clip", "bpe_simple_vocab_16e6.txt.gz"))
    summary = {"torch": torch.__version__, "transformers": __import__("transformers").__version__, "specs": {}}
    for seed, (name, spec) in enumerate(SPECS.items()):
        model = make_model(spec, seed)
        proc = processor(spec["size"])
        target = os.path.join(out, name)
        model.save_pretrained(target)
        proc.save_pretrained(target)
        tok.save_pretrained(target)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(answers(model, proc, tok, images, texts, spec["size"]), f)
        torch.save(hf_to_openai(dict(model.state_dict()), name), os.path.join(out, name + "-openai.pt"))
        summary["specs"][name] = sorted(os.listdir(target))
    summary["tiny_as_hf"] = tiny_as_hf(out, tok)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
