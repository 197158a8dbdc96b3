#!/usr/bin/env python3
"""
Seeded SigLIP checkpoints made by transformers 5 itself, and what transformers computes with
them, for test/families/siglip-models.test.ts. Nothing here is clipql's code.

  siglip_models.py OUT TOKENIZERS SHARED     (TOKENIZERS: siglip_tokenizers.py's output)

OUT/<name>/ is a folder as save_pretrained writes it (config.json, model.safetensors,
preprocessor_config.json from SiglipImageProcessor) plus the tokenizer files of TOKENIZERS/<kind>:
  siglip-p16    patch 16, 224 px, the unigram spiece.model (SiglipTokenizer)
  siglip2-p14   patch 14, 224 px, the Gemma-style tokenizer.json (Siglip2Tokenizer)
every parameter perturbed (no zero bias, no identity LayerNorm; logit_scale and a non-zero
logit_bias too). OUT/siglip-p16-tjs*/: siglip-p16 in Transformers.js' ONNX layout (transformers_js_layout). OUT/<name>.json: for the eight notebook images and CAPTIONS, transformers'
ids (padding="max_length", max_length=64), get_image_features on SiglipImageProcessor's pixels,
get_text_features, and sigmoid(logits_per_image) from SiglipModel.forward.
"""
import json
import os
import shutil
import sys

import torch
from PIL import Image
from transformers import AutoTokenizer, SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipTokenizer

OUT, TOKENIZERS, SHARED = sys.argv[1], sys.argv[2], sys.argv[3]
CAPTIONS = ["a photo of an astronaut", "Ein Foto einer Katze", "一杯咖啡", "صورة حصان", "фотография ракеты", "🏍️ motorcycle", "Ça, c'est une caméra", "a page of text"]
SPECS = {
    "siglip-p16": dict(tokenizer="siglip", patch=16, vision=(48, 3, 144), text=(32, 2, 96), seed=11),
    "siglip2-p14": dict(tokenizer="siglip2", patch=14, vision=(56, 4, 112), text=(40, 4, 120), seed=12),
}


def projected(out):
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def make(name, spec):
    src = os.path.join(TOKENIZERS, spec["tokenizer"])
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    if spec["tokenizer"] == "siglip":  # google/siglip-*'s files: spiece.model + tokenizer_config.json
        SiglipTokenizer(vocab_file=os.path.join(src, "spiece.model")).save_pretrained(folder)
    else:
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(src, f), os.path.join(folder, f))
    tok = AutoTokenizer.from_pretrained(folder)
    (vw, vh, vm), (tw, th, tm) = spec["vision"], spec["text"]
    config = SiglipConfig(
        text_config=dict(hidden_size=tw, num_attention_heads=th, intermediate_size=tm, num_hidden_layers=2, max_position_embeddings=64,
                         vocab_size=len(tok), projection_size=vw, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, layer_norm_eps=1e-6),
        vision_config=dict(hidden_size=vw, num_attention_heads=vh, intermediate_size=vm, num_hidden_layers=2, image_size=224, patch_size=spec["patch"],
                           layer_norm_eps=1e-6))
    torch.manual_seed(spec["seed"])
    model = SiglipModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        model.logit_scale.fill_(2.1)
        model.logit_bias.fill_(-3.7)
    model.save_pretrained(folder)
    SiglipImageProcessor().save_pretrained(folder)
    return folder, model, tok


def transformers_js_layout(folder, model, pixels2, ids2):
    """OUT/siglip-p16-tjs/: the layout of Transformers.js' SigLIP repositories (Xenova/siglip-*,
    onnx-community/siglip*-ONNX), made as optimum exports them:
      onnx/vision_model.onnx, onnx/text_model.onnx   SiglipVisionModel / SiglipTextModel: outputs
                                                     last_hidden_state and pooler_output
      onnx/model.onnx                                SiglipModel (input_ids, pixel_values ->
                                                     logits_per_image, logits_per_text,
                                                     text_embeds, image_embeds), constants folded:
                                                     logit_scale and logit_bias only in its
                                                     initializers
      config.json as save_pretrained wrote it (no logit numbers), preprocessor_config.json,
      spiece.model, tokenizer.json (transformers' SentencePiece converter), tokenizer_config.json,
      special_tokens_map.json.
    OUT/siglip-p16-tjs-ext/: the same with model.onnx's tensors in model.onnx_data (as the large
    repositories keep them; every tensor, the scalars too). OUT/siglip-p16-tjs-towers/: the same
    without model.onnx (no logit numbers anywhere)."""
    from transformers.convert_slow_tokenizer import SpmConverter
    import onnx

    out = folder + "-tjs"
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)

    class Tower(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            o = self.m(x)
            return o.last_hidden_state, o.pooler_output

    class Full(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, pixel_values):
            o = self.m(input_ids=input_ids, pixel_values=pixel_values)
            return o.logits_per_image, o.logits_per_text, o.text_embeds, o.image_embeds

    for tower, x, inp, fname in ((Tower(model.vision_model), pixels2, "pixel_values", "vision_model.onnx"), (Tower(model.text_model), ids2, "input_ids", "text_model.onnx")):
        torch.onnx.export(tower, (x,), os.path.join(out, "onnx", fname), input_names=[inp], output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={inp: {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}}, opset_version=17, dynamo=False)
    outs = ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"]
    torch.onnx.export(Full(model), (ids2, pixels2), os.path.join(out, "onnx", "model.onnx"), input_names=["input_ids", "pixel_values"], output_names=outs,
                      dynamic_axes={"input_ids": {0: "text_batch_size"}, "pixel_values": {0: "image_batch_size"}, "logits_per_image": {0: "image_batch_size", 1: "text_batch_size"},
                                    "logits_per_text": {0: "text_batch_size", 1: "image_batch_size"}, "text_embeds": {0: "text_batch_size"}, "image_embeds": {0: "image_batch_size"}},
                      opset_version=17, do_constant_folding=True, dynamo=False)
    for f in ("preprocessor_config.json", "spiece.model", "tokenizer_config.json", "config.json"):
        shutil.copyfile(os.path.join(folder, f), os.path.join(out, f))
    tok = SiglipTokenizer.from_pretrained(folder)
    SpmConverter(tok).converted().save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({k: str(v) for k, v in tok.special_tokens_map.items()}, f)

    ext = folder + "-tjs-ext"
    shutil.copytree(out, ext)
    onnx.save_model(onnx.load(os.path.join(out, "onnx", "model.onnx")), os.path.join(ext, "onnx", "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=0)
    towers = folder + "-tjs-towers"
    shutil.copytree(out, towers)
    os.remove(os.path.join(towers, "onnx", "model.onnx"))


def main():
    os.makedirs(OUT, exist_ok=True)
    names = sorted(f for f in os.listdir(os.path.join(SHARED, "images", "notebook")) if f.endswith((".png", ".jpg")))
    images = [Image.open(os.path.join(SHARED, "images", "notebook", n)) for n in names]
    for name, spec in SPECS.items():
        folder, model, tok = make(name, spec)
        model = SiglipModel.from_pretrained(folder, dtype=torch.float32).eval()  # what was saved, read back
        pixels = torch.tensor(SiglipImageProcessor.from_pretrained(folder)(images, return_tensors="np")["pixel_values"])
        ids = torch.tensor(tok(CAPTIONS, padding="max_length", max_length=64, truncation=True)["input_ids"], dtype=torch.int64)
        with torch.no_grad():
            image_embeds = projected(model.get_image_features(pixel_values=pixels))
            text_embeds = projected(model.get_text_features(input_ids=ids))
            logits = model(input_ids=ids, pixel_values=pixels).logits_per_image  # [images, captions]
        answers = dict(images=names, captions=CAPTIONS, tokens=ids.tolist(), image_embeds=image_embeds.tolist(), text_embeds=text_embeds.tolist(),
                       probabilities_per_image=torch.sigmoid(logits).tolist(), logit_scale=model.logit_scale.item(), logit_bias=model.logit_bias.item())
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(answers, f)
        if name == "siglip-p16":
            transformers_js_layout(folder, model, pixels[:2], ids[:2])
    print(json.dumps({"models": list(SPECS)}))


main()
