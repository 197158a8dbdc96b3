#!/usr/bin/env python3
"""Turn a CLIP checkpoint into a clipql model bundle, and check the result on the spot.

Sources
  an OpenAI .pt        a TorchScript archive as OpenAI released them (ViT-L-14-336px.pt...), a
                       TorchScript file in clipql's layout (torch/model.pt), or a state_dict
                       saved with torch.save. Only the ViT models: the ResNet ones (RN50...) are not
                       supported.
  a Hugging Face       a folder with config.json and model.safetensors or pytorch_model.bin
  CLIP folder          (openai/clip-vit-large-patch14-336, LAION's gelu checkpoints and the like).
                       Its weights are mapped to OpenAI's layout and its config (hidden_act,
                       layer_norm_eps, heads, sizes) honoured by the torch backend's own reader
                       and model (src/backends/torch/checkpoint.py, clip_model.py); when
                       `transformers` is installed (the project's venv has it), the rebuilt model
                       is also compared with transformers' own CLIPModel.

What it writes (the Hugging Face / Transformers.js layout the service loads)
  OUT/onnx/vision_model.onnx   pixel_values float32 [batch, 3, S, S] -> image_embeds [batch, D]
  OUT/onnx/text_model.onnx     input_ids int64 [batch, 77] -> text_embeds [batch, D]
                               (projected, not normalised; opset 17; dynamic batch)
  OUT/torch/model.pt           TorchScript (traced, float32) with encode_image / encode_text
  OUT/config.json, preprocessor_config.json, tokenizer_config.json, special_tokens_map.json
  OUT/vocab.json, merges.txt   from --vocab (OpenAI's bpe_simple_vocab_16e6.txt.gz), or copied
                               from a Hugging Face folder
  The bundle is built in OUT's sibling .NAME.export-partial/ and renamed to OUT only when the
  check passes: a failed export never looks like a model.

The check (exit status 1 and the max difference when it fails)
  1. When the source is TorchScript, the model rebuilt from its weights must reproduce it (this
     catches wrong head counts, which the weights alone do not tell).
  2. ONNX in onnxruntime-node (node + node_modules/onnxruntime-node, as the service runs it) and
     the written torch/model.pt must match the PyTorch model within --tolerance (default 1e-4,
     relative to the embeddings' scale: max|a - b| / max(1, max|b|)) on a few images (the notebook
     images of ../shared when present, else generated ones) and captions, at batch N and 1.

Usage
  npm run models -- export SOURCE --out DIR [--vocab bpe_simple_vocab_16e6.txt.gz]
      [--config config.json] [--vision-heads N] [--text-heads N] [--images DIR] [--check-images N]
      [--tolerance 1e-4] [--no-torch] [--force] [--int8]
  (= .venv/bin/python models/export.py ...), e.g. npm run models -- export ~/.cache/clip/ViT-L-14-336px.pt --out models/ViT-L-14-336-export
Head counts: OpenAI's rule (width // 64) unless --vision-heads/--text-heads or a config.json says
otherwise (--config, else config.json beside the checkpoint or in the bundle folder it sits in).
Exit status: 0 ok, 1 the check failed, 2 usage or unreadable input, 3 a missing dependency.
Python: the project's venv (.venv/bin/python, scripts/install-python.sh), which `npm run models --
export` uses; Debian's /usr/bin/python3 with python3-torch 1.13, python3-onnx, numpy, PIL and
regex works too, without the transformers comparison and without safetensors.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(REPO_ROOT, "models")
TORCH_DIR = os.path.join(REPO_ROOT, "src", "backends", "torch")
CONTEXT_LENGTH = 77
SOT, EOT = 49406, 49407
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
CAPTIONS = ["a photo of a cat", "a diagram", "an astronaut on the moon", "a cup of coffee on a table"]


class ExportError(Exception):
    """A failure with an exit status and a message for the user."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def need(module, why):
    try:
        return __import__(module)
    except ImportError as e:
        raise ExportError(f"{why} needs the Python package `{module}` ({e}); on Debian: apt-get install python3-{module}", 3)


torch = None  # imported in main(), after the arguments are checked: importing torch takes seconds


# ---------------------------------------------------------------------------------------------
# Loading: OpenAI .pt (TorchScript or state_dict), Hugging Face folder
# ---------------------------------------------------------------------------------------------

def torch_modules():
    """The served model's modules (src/backends/torch): the checkpoint reader, the eager CLIP and
    the TorchScript loader. The export is made from the same model the torch backend runs."""
    sys.path.insert(0, TORCH_DIR)
    import checkpoint
    import clip_model
    import torchscript
    return checkpoint, clip_model, torchscript


def load_source(src):
    """Returns (state_dict in OpenAI's layout, the original TorchScript module or None, the config
    dict and its path (None when there is none), a description)."""
    checkpoint, _, _ = torch_modules()
    if os.path.isdir(src):
        config_path = os.path.join(src, "config.json")
        if not os.path.isfile(config_path):
            raise ExportError(f"{src}: not a Hugging Face model folder (no config.json)", 2)
        weights = [os.path.join(src, f) for f in ("model.safetensors", "pytorch_model.bin") if os.path.isfile(os.path.join(src, f))]
        if not weights:
            raise ExportError(f"{src}: no model.safetensors or pytorch_model.bin (sharded checkpoints are not supported)", 2)
        try:
            sd, config = checkpoint.load_state_dict(weights[0]), checkpoint.read_config(config_path)
        except ValueError as e:
            raise ExportError(str(e), 2)
        return sd, None, config, config_path, "Hugging Face CLIP folder (" + os.path.basename(weights[0]) + ")"
    if not os.path.isfile(src):
        raise ExportError(f"{src}: no such file or folder", 2)
    try:
        sd = checkpoint.load_state_dict(src)
    except ValueError as e:
        raise ExportError(str(e), 2)
    try:
        module = torch.jit.load(src, map_location="cpu").eval()
        kind = "TorchScript archive"
    except RuntimeError:
        module, kind = None, "state_dict"
    return sd, module, None, None, kind


# ---------------------------------------------------------------------------------------------
# Rebuilding the model: the torch backend's eager CLIP, plain attention, float32
# ---------------------------------------------------------------------------------------------

def find_config(src, explicit):
    """config.json: --config, else beside the checkpoint, else in the bundle it sits in (x/torch/model.pt)."""
    candidates = [explicit] if explicit else []
    if not explicit and os.path.isfile(src):
        here = os.path.dirname(os.path.abspath(src))
        candidates += [os.path.join(here, "config.json"), os.path.join(os.path.dirname(here), "config.json")]
    for c in candidates:
        if c and os.path.isfile(c):
            with open(c, encoding="utf-8") as f:
                return json.load(f), c
    if explicit:
        raise ExportError(f"--config {explicit}: no such file", 2)
    return None, None


def build_model(sd, config, config_name, vision_heads, text_heads):
    """(model, where each head count came from). Heads: the flags, else the config, else width // 64."""
    checkpoint, clip_model, _ = torch_modules()
    try:
        arch, stated = checkpoint.architecture(config or {}, display_path(config_name) if config_name else "config.json")
    except ValueError as e:
        raise ExportError(str(e), 2)
    sources = {}
    for tower, flag in (("vision", vision_heads), ("text", text_heads)):
        if flag:
            arch[tower + "_heads"], sources[tower] = flag, f"--{tower}-heads"
        elif arch[tower + "_heads"]:
            sources[tower] = display_path(config_name) if config_name else "config.json"
        else:
            sources[tower] = "OpenAI's rule, width / 64"
    try:
        model = clip_model.build_clip(sd, attention="math", linear="aten", stated=stated, **arch)
    except ValueError as e:
        raise ExportError(f"{e} (heads: vision from {sources['vision']}, text from {sources['text']})", 2)
    if model.context_length != CONTEXT_LENGTH:
        raise ExportError(f"the text tower takes {model.context_length} tokens; clipql expects CLIP's {CONTEXT_LENGTH}", 2)
    return model, sources


def display_path(p):
    rel = os.path.relpath(p)
    return p if rel.startswith("..") else rel


def run_original(path, pixels, ids):
    """The source TorchScript archive on the CPU in float32, patched as the torch backend patches
    it (OpenAI's archives were traced on CUDA in float16: torchscript.py moves their device
    constants and float16 casts, as clip.load(jit=True, device="cpu") does)."""
    _, _, torchscript = torch_modules()
    module, _ = torchscript.load_torchscript(torch, path, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        return module.encode_image(pixels).float(), module.encode_text(ids).float()


# ---------------------------------------------------------------------------------------------
# Check inputs: OpenAI's preprocessing on a few images, captions through OpenAI's tokenizer
# ---------------------------------------------------------------------------------------------

def generate():
    """models/generate.py: OpenAI's preprocessing (openai_transform) and the ONNX / TorchScript writers."""
    sys.path.insert(0, MODELS_DIR)
    import generate as g
    return g


def check_images(folder, n, n_px):
    from PIL import Image
    resize, crop, to_tensor, normalize = generate().openai_transform(n_px)
    transform = lambda im: normalize(to_tensor(crop(resize(im)).convert("RGB")))  # noqa: E731
    files = sorted(glob.glob(os.path.join(folder, "*.png")) + glob.glob(os.path.join(folder, "*.jpg"))) if folder else []
    images = [transform(Image.open(f)) for f in files[:n]]
    names = [os.path.basename(f) for f in files[:n]]
    g = torch.Generator().manual_seed(0)
    while len(images) < n:  # generated: a colour gradient with noise, so no two are alike
        k = len(images)
        y, x = torch.meshgrid(torch.linspace(0, 1, 240), torch.linspace(0, 1, 320), indexing="ij")
        rgb = torch.stack([x * (k + 1) % 1, y, (x + y) / 2]) * 0.8 + 0.2 * torch.rand(3, 240, 320, generator=g)
        arr = (rgb.clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy()
        images.append(transform(Image.fromarray(arr, "RGB")))
        names.append(f"generated-{k}")
    return torch.stack(images), names


def check_tokens(vocab, n):
    if vocab:
        sys.path.insert(0, MODELS_DIR)
        from simple_tokenizer import SimpleTokenizer
        tok = SimpleTokenizer(vocab)
        return torch.tensor([tok.tokenize(c) for c in (CAPTIONS * n)[:n]], dtype=torch.int64), (CAPTIONS * n)[:n]
    g = torch.Generator().manual_seed(1)
    rows = []
    for i in range(n):  # no vocabulary: random ids, <|startoftext|> ... <|endoftext|>, zero-padded
        length = 5 + 3 * i
        ids = [SOT] + torch.randint(1, 49000, (length,), generator=g).tolist() + [EOT]
        rows.append(ids + [0] * (CONTEXT_LENGTH - len(ids)))
    return torch.tensor(rows, dtype=torch.int64), [f"random ids {i}" for i in range(n)]


def scaled_diff(a, b):
    """max|a - b| relative to the reference's scale (absolute when its values are within +-1)."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / max(1.0, float(b.abs().max())))


def ort_embed(onnx_dir, pixels, ids):
    """Runs the ONNX towers in onnxruntime-node at batch N and 1 (models/ort-embed.js)."""
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(REPO_ROOT, "node_modules", "onnxruntime-node")):
        raise ExportError("the ONNX check needs node and node_modules/onnxruntime-node (run `npm ci` in the repository)", 3)
    with tempfile.TemporaryDirectory(prefix="clipql-export-ort-") as tmp:
        runs = []
        for name, model, inp, outp, dtype, x in (
            ("image", "vision_model.onnx", "pixel_values", "image_embeds", "float32", pixels),
            ("image1", "vision_model.onnx", "pixel_values", "image_embeds", "float32", pixels[-1:]),
            ("text", "text_model.onnx", "input_ids", "text_embeds", "int64", ids),
            ("text1", "text_model.onnx", "input_ids", "text_embeds", "int64", ids[-1:]),
        ):
            with open(os.path.join(tmp, name + ".bin"), "wb") as f:
                f.write(x.contiguous().numpy().astype("<f4" if dtype == "float32" else "<i8").tobytes())
            runs.append(dict(name=name, model=os.path.join(onnx_dir, model), input=inp, output=outp, dtype=dtype, shape=list(x.shape), file=name + ".bin"))
        with open(os.path.join(tmp, "job.json"), "w") as f:
            json.dump({"runs": runs}, f)
        r = subprocess.run([node, os.path.join(MODELS_DIR, "ort-embed.js"), tmp], cwd=REPO_ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise ExportError(f"onnxruntime-node could not run the exported towers:\n{r.stderr.strip()}", 3 if r.returncode == 3 else 1)
        with open(os.path.join(tmp, "out.json")) as f:
            out = json.load(f)
    got = {k: torch.tensor(v["data"], dtype=torch.float64).reshape(v["dims"]) for k, v in out.items()}
    return got


# ---------------------------------------------------------------------------------------------
# Writing the bundle
# ---------------------------------------------------------------------------------------------

def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_configs(out, model, source, source_config):
    h = model.hyper
    s = h["image_size"]
    clipql = {"exported_from": os.path.basename(os.path.abspath(source)), "exporter": "models/export.py",
              "architecture": "CLIP ViT (OpenAI's clip/model.py, hidden_act and layer_norm_eps per tower); ONNX outputs are projected, not normalised"}
    # A source flagged as random (the generated test models) stays flagged: never silently real.
    if ((source_config or {}).get("clipql") or {}).get("random_weights"):
        clipql["random_weights"] = True

    def tower(name, t, extra):
        return dict({"model_type": f"clip_{name}_model", "hidden_size": t["width"], "intermediate_size": t["mlp"], "num_hidden_layers": t["layers"],
                     "num_attention_heads": t["heads"], "hidden_act": t["act"], "layer_norm_eps": t["eps"], "projection_dim": h["embed_dim"]}, **extra)

    write_json(os.path.join(out, "config.json"), {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": h["embed_dim"],
        "logit_scale_init_value": 2.6592,
        "torch_dtype": "float32",
        "text_config": tower("text", h["text"], {"max_position_embeddings": h["context_length"], "vocab_size": h["vocab_size"], "bos_token_id": SOT, "eos_token_id": EOT}),
        "vision_config": tower("vision", h["vision"], {"image_size": s, "patch_size": h["patch_size"], "num_channels": 3}),
        "clipql": clipql,
    })
    write_json(os.path.join(out, "preprocessor_config.json"), {
        "do_resize": True, "size": {"shortest_edge": s}, "resample": 3, "do_center_crop": True, "crop_size": {"height": s, "width": s},
        "do_rescale": True, "rescale_factor": 0.00392156862745098, "do_normalize": True, "image_mean": list(MEAN), "image_std": list(STD),
        "do_convert_rgb": True, "image_processor_type": "CLIPImageProcessor",
    })

    def token(content):
        return {"content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True}

    special = {"bos_token": token("<|startoftext|>"), "eos_token": token("<|endoftext|>"), "unk_token": token("<|endoftext|>"), "pad_token": "<|endoftext|>"}
    write_json(os.path.join(out, "special_tokens_map.json"), special)
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "add_prefix_space": False, "bos_token": dict(special["bos_token"], __type="AddedToken"), "do_lower_case": True,
        "eos_token": dict(special["eos_token"], __type="AddedToken"), "errors": "replace", "model_max_length": CONTEXT_LENGTH,
        "pad_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer", "unk_token": dict(special["unk_token"], __type="AddedToken"),
    })


def write_tokenizer(out, vocab, hf_folder):
    """vocab.json + merges.txt as Hugging Face's CLIP repositories have them: token -> id in
    OpenAI's order; "#version: 0.2", then one "a b" merge per line in rank order."""
    if hf_folder and all(os.path.isfile(os.path.join(hf_folder, f)) for f in ("vocab.json", "merges.txt")):
        for f in ("vocab.json", "merges.txt", "tokenizer.json"):
            if os.path.isfile(os.path.join(hf_folder, f)):
                shutil.copyfile(os.path.join(hf_folder, f), os.path.join(out, f))
        return "copied from the Hugging Face folder"
    if not vocab:
        return None
    sys.path.insert(0, MODELS_DIR)
    from simple_tokenizer import SimpleTokenizer
    tok = SimpleTokenizer(vocab)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(tok.encoder, ensure_ascii=False))
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(["#version: 0.2"] + [" ".join(m) for m in tok.merges]) + "\n")
    return f"built from {vocab}"


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="models/export.py", description=__doc__.split("\n\n")[0],
                                 epilog="See the top of models/export.py for details.")
    ap.add_argument("source", help="an OpenAI .pt (TorchScript or state_dict) or a Hugging Face CLIP folder")
    ap.add_argument("--out", required=True, help="the bundle folder to write")
    ap.add_argument("--vocab", help="OpenAI's bpe_simple_vocab_16e6.txt.gz (default $CLIP_VOCAB, else ../shared/clip/...)")
    ap.add_argument("--config", help="a config.json with the head counts (num_attention_heads)")
    ap.add_argument("--vision-heads", type=int)
    ap.add_argument("--text-heads", type=int)
    ap.add_argument("--images", help="images for the check (default: ../shared/images/notebook when present)")
    ap.add_argument("--check-images", type=int, default=3, help="how many images and captions the check runs (default 3)")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--no-torch", action="store_true", help="do not write torch/model.pt")
    ap.add_argument("--force", action="store_true", help="replace OUT if it exists")
    ap.add_argument("--int8", action="store_true", help="not implemented yet (dynamic int8 quantization)")
    args = ap.parse_args(argv)
    if args.check_images < 1:
        ap.error("--check-images must be at least 1")
    shared = os.environ.get("CLIPQL_SHARED") or os.path.join(REPO_ROOT, "..", "shared")
    if args.vocab is None:
        for candidate in (os.environ.get("CLIP_VOCAB"), os.path.join(shared, "clip", "bpe_simple_vocab_16e6.txt.gz")):
            if candidate and os.path.isfile(candidate):
                args.vocab = candidate
                break
    elif not os.path.isfile(args.vocab):
        ap.error(f"--vocab {args.vocab}: no such file")
    if args.images is None and os.path.isdir(os.path.join(shared, "images", "notebook")):
        args.images = os.path.join(shared, "images", "notebook")
    return args


def main(argv=None):
    global torch
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.time()
    step = lambda what: print(f"[{time.time() - t0:6.1f}s] {what}", flush=True)  # noqa: E731
    if args.int8:
        raise ExportError("--int8 is not implemented yet (see issue 5, item 5); export the float32 bundle without it", 2)
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not args.force:
        raise ExportError(f"{out} exists; pass --force to replace it", 2)
    if not os.path.exists(args.source):
        raise ExportError(f"{args.source}: no such file or folder", 2)
    torch = need("torch", "export.py")
    need("numpy", "export.py")
    import export_siglip
    if export_siglip.is_siglip(args.source):  # another model family: its own exporter
        need("transformers", "exporting a SigLIP folder")
        return export_siglip.export(args, step, ort_embed, scaled_diff, generate().legacy_exporter, fail, ExportError)
    partial = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.export-partial")
    shutil.rmtree(partial, ignore_errors=True)

    step(f"loading {args.source}")
    sd, original, hf_config, hf_config_path, kind = load_source(args.source)
    config, config_name = (hf_config, hf_config_path) if hf_config is not None else find_config(args.source, args.config)
    model, head_sources = build_model(sd, config, config_name, args.vision_heads, args.text_heads)
    h = model.hyper
    describe = lambda t: f"{t['width']} x {t['layers']} layers, {t['heads']} heads, {t['act']}, eps {t['eps']:g}, MLP {t['mlp']}"  # noqa: E731
    print(f"  {kind}: ViT, {h['image_size']} px, patch {h['patch_size']}, vision {describe(h['vision'])} (heads: {head_sources['vision']}), "
          f"text {describe(h['text'])} (heads: {head_sources['text']}), D = {h['embed_dim']}")

    pixels, image_names = check_images(args.images, args.check_images, h["image_size"])
    ids, captions = check_tokens(args.vocab, args.check_images)
    print(f"  check inputs: images {', '.join(image_names)}; captions {captions}")
    step("PyTorch (eager, float32) on the check inputs")
    with torch.no_grad():
        image_embeds = model.encode_image(pixels)
        text_embeds = model.encode_text(ids)
    failures = []
    if not (torch.isfinite(image_embeds).all() and torch.isfinite(text_embeds).all()):
        failures.append("the rebuilt model gives non-finite embeddings")

    if original is not None:
        step("the rebuilt model against the original TorchScript")
        try:
            oi, ot = run_original(args.source, pixels, ids)
            d = {"image_embeds": scaled_diff(image_embeds, oi), "text_embeds": scaled_diff(text_embeds, ot)}
            print(f"  rebuilt vs original: max diff image_embeds {d['image_embeds']:.3g}, text_embeds {d['text_embeds']:.3g}")
            if max(d.values()) > args.tolerance:
                failures.append(f"the model rebuilt from the weights differs from the original TorchScript: max diff {max(d.values()):.3g} > {args.tolerance:g} "
                                f"(wrong head counts? vision {h['vision']['heads']} from {head_sources['vision']}, text {h['text']['heads']} "
                                f"from {head_sources['text']}; pass --vision-heads / --text-heads or --config)")
        except Exception as e:  # noqa: BLE001 - an archive we cannot run is reported, not fatal
            print(f"  note: the original TorchScript does not run on this CPU ({str(e).splitlines()[0][:200]}); the rebuilt model is the reference")
    if hf_config is not None:
        try:
            import transformers  # noqa: F401
        except ImportError:
            transformers = None
        if transformers is None:
            print("  note: `transformers` is not installed: the Hugging Face weights were mapped to OpenAI's layout without comparing "
                  "with transformers' CLIPModel (pip install transformers torch for that check)")
        else:
            step("the rebuilt model against transformers' CLIPModel")
            hf = transformers.CLIPModel.from_pretrained(args.source, dtype=torch.float32).eval()
            # transformers 5 answers BaseModelOutputWithPooling (projected features in pooler_output), 4 a tensor.
            projected = lambda out: out if isinstance(out, torch.Tensor) else out.pooler_output  # noqa: E731
            with torch.no_grad():
                d = {"image_embeds": scaled_diff(image_embeds, projected(hf.get_image_features(pixel_values=pixels))),
                     "text_embeds": scaled_diff(text_embeds, projected(hf.get_text_features(input_ids=ids)))}
            print(f"  rebuilt vs transformers: max diff image_embeds {d['image_embeds']:.3g}, text_embeds {d['text_embeds']:.3g}")
            if max(d.values()) > args.tolerance:
                failures.append(f"the rebuilt model differs from transformers' CLIPModel: max diff {max(d.values()):.3g} > {args.tolerance:g}")
    if failures:
        return fail(failures, None)

    os.makedirs(partial)
    step("ONNX export (opset 17, dynamic batch)")
    generate().export_onnx(model, partial, pixels[:2], ids[:2])
    write_configs(partial, model, args.source, config)
    source_pre = os.path.join(args.source, "preprocessor_config.json") if hf_config is not None else None
    if source_pre and os.path.isfile(source_pre):  # the folder's own mean, std and sizes, not CLIP's defaults
        shutil.copyfile(source_pre, os.path.join(partial, "preprocessor_config.json"))
    how = write_tokenizer(partial, args.vocab, args.source if hf_config is not None else None)
    print(f"  tokenizer files: {how or 'none (no --vocab and no $CLIP_VOCAB): the service builds them from CLIP_VOCAB at load'}")
    torch_path = os.path.join(partial, "torch", "model.pt")
    if not args.no_torch:
        step("TorchScript (traced, float32)")
        generate().export_torchscript(model, partial, pixels[:2], ids[:2])

    step(f"check: onnxruntime-node{' and torch/model.pt' if not args.no_torch else ''} against PyTorch, batch {len(ids)} and 1")
    got = ort_embed(os.path.join(partial, "onnx"), pixels, ids)
    d = {"image_embeds": max(scaled_diff(got["image"], image_embeds), scaled_diff(got["image1"], image_embeds[-1:])),
         "text_embeds": max(scaled_diff(got["text"], text_embeds), scaled_diff(got["text1"], text_embeds[-1:]))}
    scale = float(max(image_embeds.abs().max(), text_embeds.abs().max()))
    print(f"  ONNX vs PyTorch: max diff image_embeds {d['image_embeds']:.3g}, text_embeds {d['text_embeds']:.3g} (embeddings up to {scale:.3g})")
    if max(d.values()) > args.tolerance:
        failures.append(f"ONNX (onnxruntime-node) differs from PyTorch: max diff {max(d.values()):.3g} > {args.tolerance:g}")
    if not args.no_torch:
        loaded = torch.jit.load(torch_path)
        with torch.no_grad():
            td = max(scaled_diff(loaded.encode_image(pixels), image_embeds), scaled_diff(loaded.encode_text(ids), text_embeds),
                     scaled_diff(loaded.encode_image(pixels[-1:]), image_embeds[-1:]), scaled_diff(loaded.encode_text(ids[-1:]), text_embeds[-1:]))
        print(f"  torch/model.pt vs PyTorch: max diff {td:.3g}")
        if td > args.tolerance:
            failures.append(f"torch/model.pt differs from PyTorch: max diff {td:.3g} > {args.tolerance:g}")
    if failures:
        return fail(failures, partial)

    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(partial, out)
    for root, _, files in sorted(os.walk(out)):
        for name in sorted(files):
            p = os.path.join(root, name)
            print(f"  {os.path.getsize(p):>13,d}  {os.path.relpath(p, out)}")
    step(f"check passed (tolerance {args.tolerance:g}); bundle in {out}")
    return 0


def fail(failures, partial):
    for f in failures:
        print(f"error: {f}", file=sys.stderr)
    if partial:
        print(f"the export is left in {partial} for inspection; it is not a bundle the service would load", file=sys.stderr)
    print("check FAILED", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.status)
