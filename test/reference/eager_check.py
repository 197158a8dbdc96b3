#!/usr/bin/python3
"""
Measurements of src/backends/torch/clip_model.py for test/backends/torch-eager.test.ts, printed
as one JSON object; the test holds the tolerances. The expected values never come from the code
under test: reference.json (models/generate.py's eager OpenAI-architecture outputs) and the
TorchScript model.pt itself.

  eager_check.py REPO_ROOT

Runs under the project's venv (torch 2: SDPA, half precision on the CPU) and under Debian's
torch 1.13 (the plain-attention fallback); the test says what each must show. Without torch it
prints {"skip": reason}. No torchvision: it is not installable beside the venv's CPU torch.
"""
import gzip
import json
import os
import sys
import tempfile


def main(root):
    try:
        import torch
    except Exception as e:
        return {"skip": "torch is not importable by %s (%s: %s)" % (sys.executable, type(e).__name__, e)}
    from PIL import Image

    sys.path.insert(0, os.path.join(root, "src", "backends", "torch"))
    import checkpoint as ck
    import clip_model as cm

    bundle = os.path.join(root, "models", "tiny-clip-336")
    cfg = json.load(open(os.path.join(bundle, "config.json")))
    pre = json.load(open(os.path.join(bundle, "preprocessor_config.json")))
    heads = dict(vision_heads=cfg["vision_config"]["num_attention_heads"], text_heads=cfg["text_config"]["num_attention_heads"])
    pt = os.path.join(bundle, "torch", "model.pt")
    sd = cm.load_state_dict(pt)
    model = cm.build_clip(sd, **heads)
    out = {"torch": torch.__version__, "has_sdpa": cm.has_sdpa(torch), "attention": model.attention}
    # Building a model must not import torch._dynamo (1.5 s of every worker's start in torch 2).
    out["dynamo_imported"] = "torch._dynamo" in sys.modules
    out["attributes"] = {k: getattr(model, k) for k in ("image_size", "patch_size", "context_length", "embed_dim", "vision_heads", "text_heads")}
    out["frozen"] = not model.training and not any(p.requires_grad for p in model.parameters())
    out["dtypes"] = sorted({str(p.dtype) for p in model.parameters()})
    out["state_dict_keys_equal"] = set(model.state_dict()) == set(sd) - set(cm.IGNORED_KEYS)

    def maxdiff(a, b):
        return float((a.float() - b.float()).abs().max())

    # 1. reference.json: the fixture's uint8 crops normalised as torchvision's ToTensor + Normalize
    # do it (float32: x / 255, then (x - mean) / std per channel).
    fixtures = os.path.join(root, "test", "fixtures", "tiny-clip-336")
    ref = json.load(open(os.path.join(fixtures, "reference.json")))
    s = model.image_size
    mean = torch.tensor(pre["image_mean"], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(pre["image_std"], dtype=torch.float32).view(3, 1, 1)

    def transform(im):
        x = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(s, s, 3).permute(2, 0, 1).contiguous()
        return (x.float().div(255) - mean) / std

    pixels = torch.stack([transform(Image.frombytes("RGB", (s, s), gzip.open(os.path.join(fixtures, im["pixels"])).read())) for im in ref["images"]])
    ids = torch.tensor(ref["tokens"], dtype=torch.int64)
    with torch.no_grad():
        img, txt = model.encode_image(pixels), model.encode_text(ids)
    out["reference"] = {
        "images": len(ref["images"]), "texts": len(ref["tokens"]),
        "image_shape": list(img.shape), "text_shape": list(txt.shape),
        "image": maxdiff(img, torch.tensor(ref["image_embeds"])), "text": maxdiff(txt, torch.tensor(ref["text_embeds"])),
    }

    # 2. The TorchScript model on random inputs (the profiling executor off: its first calls differ from later ones).
    scripted = torch.jit.load(pt, map_location="cpu")
    gen = torch.Generator().manual_seed(7)

    def random_inputs(n):
        x = torch.randn(n, 3, s, s, generator=gen) * 1.2
        t = torch.zeros(n, model.context_length, dtype=torch.int64)
        for i in range(n):  # captions of different lengths, the last one filling the context
            length = model.context_length if i == n - 1 else int(torch.randint(2, model.context_length, (1,), generator=gen))
            t[i, 0] = 49406
            t[i, 1:length - 1] = torch.randint(1, 49406, (length - 2,), generator=gen)
            t[i, length - 1] = 49407
        return x, t

    out["torchscript"] = []
    with torch.no_grad(), torch.jit.optimized_execution(False):
        for n in (1, 3, 8):
            x, t = random_inputs(n)
            out["torchscript"].append({
                "batch": n,
                "image": maxdiff(model.encode_image(x), scripted.encode_image(x)),
                "text": maxdiff(model.encode_text(t), scripted.encode_text(t)),
            })
        x, t = random_inputs(3)
        want_image, want_text = scripted.encode_image(x), scripted.encode_text(t)

    # 3. math against sdpa, where torch has it; else what asking for sdpa says.
    if cm.has_sdpa(torch):
        math, sdpa = cm.build_clip(sd, attention="math", **heads), cm.build_clip(sd, attention="sdpa", **heads)
        with torch.no_grad():
            out["sdpa"] = {"attentions": [math.attention, sdpa.attention],
                           "image": maxdiff(math.encode_image(x), sdpa.encode_image(x)), "text": maxdiff(math.encode_text(t), sdpa.encode_text(t))}
    else:
        out["sdpa"] = {"skip": "torch %s has no torch.nn.functional.scaled_dot_product_attention (added in 2.0)" % torch.__version__}
        out["sdpa_error"] = error_of(lambda: cm.build_clip(sd, attention="sdpa", **heads))

    # 4. Half precision on the CPU: loose cosines to the TorchScript float32 outputs.
    out["half"] = {}
    for name in ("bfloat16", "float16"):
        dtype = getattr(torch, name)
        try:
            half = cm.build_clip(sd, **heads).to(dtype)
            with torch.no_grad():
                hi, ht = half.encode_image(x.to(dtype)), half.encode_text(t)
            cos = torch.nn.functional.cosine_similarity
            out["half"][name] = {"dtype": [str(hi.dtype), str(ht.dtype)], "image": float(cos(hi.float(), want_image).min()), "text": float(cos(ht.float(), want_text).min())}
        except RuntimeError as e:
            out["half"][name] = {"skip": "torch %s on the CPU: %s" % (torch.__version__, str(e).strip().splitlines()[0])}

    # 5. Other file forms, and what misuse says.
    with tempfile.TemporaryDirectory() as tmp:
        plain, wrapped, garbage = (os.path.join(tmp, f) for f in ("sd.pt", "wrapped.pt", "garbage.pt"))
        torch.save(sd, plain)
        torch.save({"state_dict": sd, "epoch": 3}, wrapped)
        with open(garbage, "wb") as f:
            f.write(b"not a model at all\n")
        with torch.no_grad():
            out["files"] = {
                "state_dict": maxdiff(cm.build_clip(cm.load_state_dict(plain), **heads).encode_text(t), want_text),
                "wrapped": maxdiff(cm.build_clip(cm.load_state_dict(wrapped), **heads).encode_text(t), want_text),
            }
        resnet = {"visual.layer1.0.conv1.weight": torch.zeros(64, 64, 1, 1), "visual.attnpool.positional_embedding": torch.zeros(50, 2048)}
        resnet.update({k: v for k, v in sd.items() if not k.startswith("visual.")})
        out["errors"] = {
            "resnet": error_of(lambda: cm.build_clip(resnet, **heads)),
            "garbage_dict": error_of(lambda: cm.build_clip({"weight": torch.zeros(3)})),
            "missing_key": error_of(lambda: cm.build_clip({k: v for k, v in sd.items() if k != "ln_final.bias"}, **heads)),
            "bad_heads": error_of(lambda: cm.build_clip(sd, vision_heads=5, text_heads=4)),
            "bad_attention": error_of(lambda: cm.build_clip(sd, attention="flash", **heads)),
            "garbage_file": error_of(lambda: cm.load_state_dict(garbage)),
            "missing_file": error_of(lambda: cm.load_state_dict(os.path.join(tmp, "nope.pt"))),
            "garbage_file_name": garbage,
            "bad_act": error_of(lambda: ck.architecture({"vision_config": {"hidden_act": "relu"}}, "x/config.json")),
            "bad_type": error_of(lambda: ck.architecture({"model_type": "siglip"}, "x/config.json")),
            "stated_size": error_of(lambda: cm.build_clip(sd, stated={"image_size": 224}, **heads)),
            "hf_partial": error_of(lambda: ck.to_openai({"vision_model.embeddings.class_embedding": torch.zeros(4)}, "x/model.safetensors")),
        }
    return out


def error_of(fn):
    """{type, message} of what fn raises, or None when it returns."""
    try:
        fn()
    except Exception as e:
        return {"type": type(e).__name__, "message": str(e)}
    return None


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
