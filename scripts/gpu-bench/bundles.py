"""
The GPU benchmark's inputs: full-size random-weight bundles and COCO-sized JPEGs.

Bundles: models/bench-<preset> when models/generate.py made it (TorchScript + ONNX), else
models/bench-<preset>-torch (git-ignored, like every models/bench-*/), built here with torch
alone (no numpy, no PIL, no models/generate.py: the GPU stages run before anything else is
needed): clip_model's CLIP at the preset's shapes, its parameters drawn on the GPU (ViT-L/14@336px's
428 M parameters take a while on a CPU) with std 0.02, saved as a state_dict, and the tiny
bundle's JSON files with the preset's sizes. Random weights: the figures are speeds, not numbers.
The JPEGs (make_jpegs) need PIL: a later stage.
"""
import json
import os
import shutil
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TINY = os.path.join(REPO, "models", "tiny-clip-336")
# models/generate.py's presets (OpenAI's ViT-B/32 and ViT-L/14@336px shapes).
PRESETS = {
    "vit-b-32": dict(embed=512, size=224, patch=32, vision=(768, 12, 12), text=(512, 12, 8)),
    "vit-l-14-336": dict(embed=768, size=336, patch=14, vision=(1024, 24, 16), text=(768, 12, 12)),
}


def find(preset):
    """The bundle folder of a preset, or None when none was made yet."""
    if preset == "tiny":
        return TINY
    for folder in (os.path.join(REPO, "models", "bench-" + preset), os.path.join(REPO, "models", "bench-%s-torch" % preset)):
        if os.path.isfile(os.path.join(folder, "torch", "model.pt")):
            return folder
    return None


def bundle_for(torch, preset, device, log):
    return find(preset) or build(torch, preset, device, os.path.join(REPO, "models", "bench-%s-torch" % preset), log)


def build(torch, preset, device, out, log):
    import clip_model  # src/backends/torch, on sys.path

    if preset not in PRESETS:
        raise ValueError("no preset %r (known: tiny, %s)" % (preset, ", ".join(PRESETS)))
    t0 = time.time()
    c = PRESETS[preset]
    tower = lambda t: dict(width=t[0], layers=t[1], heads=t[2], act="quick_gelu", eps=1e-5, mlp=4 * t[0])  # noqa: E731
    h = dict(patch_size=c["patch"], image_size=c["size"], embed_dim=c["embed"], context_length=77, vocab_size=49408, vision=tower(c["vision"]), text=tower(c["text"]))
    on_gpu = device.startswith("cuda")
    g = torch.Generator(device=device if on_gpu else "cpu").manual_seed(0)
    with torch.no_grad():
        with torch.device(device if on_gpu else "cpu"):
            model = clip_model.CLIP(h, sdpa=True)
            for p in model.parameters():
                p.normal_(0.0, 0.02, generator=g)
            for m in model.modules():  # LayerNorm: weight 1, bias 0, as a trained model's are near
                if isinstance(m, torch.nn.LayerNorm):
                    m.weight.fill_(1.0)
                    m.bias.zero_()
    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(os.path.join(partial, "torch"))
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items() if k != "attn_mask"}, os.path.join(partial, "torch", "model.pt"))
    write_configs(partial, preset, c)
    for name in ("vocab.json", "merges.txt"):  # else the server builds them from CLIP_VOCAB
        if os.path.isfile(os.path.join(TINY, name)):
            shutil.copy(os.path.join(TINY, name), partial)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(partial, out)
    log("built %s (weights drawn on %s, state_dict) in %.0f s" % (os.path.relpath(out, REPO), device if on_gpu else "cpu", time.time() - t0))
    return out


def write_configs(folder, preset, c):
    """The tiny bundle's JSON files with the preset's sizes (the same keys models/generate.py writes)."""
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TINY, name), folder)
    with open(os.path.join(TINY, "config.json")) as f:
        config = json.load(f)
    config["projection_dim"] = c["embed"]
    for key, (width, layers, heads) in (("vision_config", c["vision"]), ("text_config", c["text"])):
        config[key].update(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers, num_attention_heads=heads, projection_dim=c["embed"])
    config["vision_config"].update(image_size=c["size"], patch_size=c["patch"])
    config["clipql"] = {"random_weights": True, "preset": preset, "generator": "scripts/gpu-bench/bundles.py", "note": "random weights (std 0.02): for speed measurements only"}
    with open(os.path.join(TINY, "preprocessor_config.json")) as f:
        pre = json.load(f)
    pre["size"] = {"shortest_edge": c["size"]}
    pre["crop_size"] = {"height": c["size"], "width": c["size"]}
    for name, obj in (("config.json", config), ("preprocessor_config.json", pre)):
        with open(os.path.join(folder, name), "w") as f:
            json.dump(obj, f, indent=2)


def make_jpegs(torch, folder, count, width=640, height=480, quality=90):
    """`count` distinct photo-like JPEGs (smooth random colour fields, edges and grain) of COCO's
    usual size, about 100-200 KB each at quality 90; made once into `folder`."""
    from frames import tensor_view  # src/backends/torch, on sys.path (bench.py)
    from PIL import Image

    done = os.path.join(folder, ".complete")
    tag = "%d %dx%d q%d" % (count, width, height, quality)
    if os.path.isfile(done) and open(done).read() == tag:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    g = torch.Generator().manual_seed(1)
    for i in range(count):
        low = torch.rand(1, 3, 6, 8, generator=g)
        x = torch.nn.functional.interpolate(low, size=(height, width), mode="bicubic", align_corners=False)[0]
        blocks = torch.nn.functional.interpolate(torch.rand(1, 3, 24, 32, generator=g), size=(height, width), mode="nearest")[0]
        x = (x * 200 + blocks * 55 + torch.randn(3, height, width, generator=g) * 10).clamp(0, 255).to(torch.uint8)
        Image.frombytes("RGB", (width, height), bytes(tensor_view(x.permute(1, 2, 0).contiguous()))).save(os.path.join(folder, "coco-%03d.jpg" % i), quality=quality)
    with open(done, "w") as f:
        f.write(tag)
    return folder
