"""
The SigLIP half of `npm run models -- export` (models/export.py hands a folder whose config.json
says model_type "siglip" to `export`): a Hugging Face SiglipModel folder (SigLIP, or SigLIP 2
FixRes) as transformers loads it -> an ONNX bundle in the layout of the CLIP ones:

  OUT/onnx/vision_model.onnx   pixel_values float32 [batch, 3, S, S] -> image_embeds [batch, D]
                               (get_image_features: the attention-pooling head's output)
  OUT/onnx/text_model.onnx     input_ids int64 [batch, 64] -> text_embeds [batch, D]
                               (get_text_features: no attention mask, as SigLIP was trained:
                               captions come padded to the context)
  OUT/config.json              the folder's, plus "clipql": {"logit_scale", "logit_bias"} (they
                               live in the weights; clipql's probabilities need them)
  OUT/preprocessor_config.json and the tokenizer files, copied as they are

The towers are checked in onnxruntime-node against transformers' SiglipModel at batch N and 1
(--tolerance, default 1e-4, on embeddings scaled to their largest value), on the notebook images
through SiglipImageProcessor and a few captions through the folder's own tokenizer.
"""
import json
import os
import shutil

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spiece.model", "tokenizer.model")


def is_siglip(source):
    cfg = os.path.join(source, "config.json")
    if not os.path.isdir(source) or not os.path.isfile(cfg):
        return False
    with open(cfg) as f:
        return json.load(f).get("model_type") == "siglip"


def projected(out):
    """transformers 5 answers BaseModelOutputWithPooling (the features in pooler_output), 4 a tensor."""
    import torch
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def export(args, step, ort_embed, scaled_diff, legacy_exporter, fail, ExportError):
    import torch
    from PIL import Image
    from transformers import AutoTokenizer, SiglipImageProcessor, SiglipModel

    out = os.path.abspath(args.out)
    partial = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.export-partial")
    shutil.rmtree(partial, ignore_errors=True)
    step(f"loading {args.source} (transformers' SiglipModel)")
    model = SiglipModel.from_pretrained(args.source, dtype=torch.float32).eval()
    processor = SiglipImageProcessor.from_pretrained(args.source)
    tokenizer = AutoTokenizer.from_pretrained(args.source)
    n_ctx = model.config.text_config.max_position_embeddings

    names = sorted(f for f in os.listdir(args.images) if f.lower().endswith((".png", ".jpg", ".jpeg")))[: args.check_images] if args.images else []
    if not names:
        raise ExportError("the check needs images (--images, or ../shared/images/notebook)", 2)
    pixels = torch.tensor(processor([Image.open(os.path.join(args.images, n)) for n in names], return_tensors="np")["pixel_values"])
    captions = ["a photo of a cat", "ein Foto von einem Hund", "一张照片"][: max(1, args.check_images)]
    ids = torch.tensor(tokenizer(captions, padding="max_length", max_length=n_ctx, truncation=True)["input_ids"], dtype=torch.int64)

    class Tower(torch.nn.Module):
        """One tower as its own graph: get_image_features or get_text_features (first argument positional)."""

        def __init__(self, method):
            super().__init__()
            self.m, self.method = model, method

        def forward(self, x):
            return projected(getattr(self.m, self.method)(x))

    Vision, Text = (lambda: Tower("get_image_features")), (lambda: Tower("get_text_features"))

    with torch.no_grad():
        image_embeds, text_embeds = Vision()(pixels), Text()(ids)
    os.makedirs(os.path.join(partial, "onnx"))
    step("ONNX export (opset 17, dynamic batch)")
    for tower, x, inp, outp, name in ((Vision(), pixels[:2], "pixel_values", "image_embeds", "vision_model.onnx"),
                                      (Text(), ids[:2], "input_ids", "text_embeds", "text_model.onnx")):
        path = os.path.join(partial, "onnx", name)
        torch.onnx.export(tower, (x,), path, input_names=[inp], output_names=[outp], dynamic_axes={inp: {0: "batch"}, outp: {0: "batch"}},
                          opset_version=17, do_constant_folding=True, **legacy_exporter())

    with open(os.path.join(args.source, "config.json")) as f:
        config = json.load(f)
    own = dict(config.get("clipql") or {})
    own.update(exporter="models/export_siglip.py", exported_from=os.path.basename(os.path.abspath(args.source)),
               logit_scale=float(model.logit_scale.item()), logit_bias=float(model.logit_bias.item()))
    config["clipql"] = own
    with open(os.path.join(partial, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    copied = [n for n in ("preprocessor_config.json",) + TOKENIZER_FILES if os.path.isfile(os.path.join(args.source, n))]
    for n in copied:
        shutil.copyfile(os.path.join(args.source, n), os.path.join(partial, n))
    print(f"  copied: {', '.join(copied)}")

    step(f"check: onnxruntime-node against transformers, batch {len(ids)} and 1")
    got = ort_embed(os.path.join(partial, "onnx"), pixels, ids)
    d = {"image_embeds": max(scaled_diff(got["image"], image_embeds), scaled_diff(got["image1"], image_embeds[-1:])),
         "text_embeds": max(scaled_diff(got["text"], text_embeds), scaled_diff(got["text1"], text_embeds[-1:]))}
    print(f"  ONNX vs transformers: max diff image_embeds {d['image_embeds']:.3g}, text_embeds {d['text_embeds']:.3g}")
    if max(d.values()) > args.tolerance:
        return fail([f"ONNX (onnxruntime-node) differs from transformers: max diff {max(d.values()):.3g} > {args.tolerance:g}"], partial)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(partial, out)
    step(f"check passed (tolerance {args.tolerance:g}); bundle in {out}")
    return 0
