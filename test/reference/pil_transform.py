#!/usr/bin/python3
"""
The reference for clipql's image preprocessing: OpenAI CLIP's `_transform(n_px)` run by PIL and
torchvision exactly as clip/clip.py does (Pillow 9.4 and torchvision 0.14 on Debian), plus a
generator of synthetic test images (made at test time, never committed).

  pil_transform.py transform --size N [--crop-height H --crop-width W] [--resample 3]
                             [--mean m m m --std s s s] [--tensor] [--grey16-high-byte]
                             --out DIR IMAGE...
      For the i-th IMAGE writes DIR/<i>.rgb: the uint8 RGB crop after Resize + CenterCrop +
      convert("RGB") (raw HWC), and with --tensor DIR/<i>.f32: the normalised float32 CHW
      tensor (little endian). Prints one JSON list: per image {file, format, mode, width, height}
      or {file, error} when PIL/torchvision fail on it.
      --grey16-high-byte: first turn 16-bit grey images (mode I / I;16) into mode L by keeping
      the high byte, the documented deviation of clipql (PIL would clip them to 0..255).

  pil_transform.py batch < JOBS.json
      Several transform runs in one process (torch takes seconds to import). JOBS.json is a list
      of {"size", "out", "images", and optionally "cropHeight", "cropWidth", "resample", "mean",
      "std", "tensor", "grey16HighByte"}; prints one JSON list of the runs' result lists.

  pil_transform.py synth DIR [--seed S]
      Writes the synthetic images and DIR/manifest.json: [{name, file, note}].
"""
import argparse
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RESAMPLE_IDS = (0, 1, 2, 3, 4, 5)  # PIL filter ids: NEAREST, LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING


def _convert_image_to_rgb(image):
    # clip/clip.py
    return image.convert("RGB")


def transform(size, out, images, crop_height=None, crop_width=None, resample=3, mean=CLIP_MEAN, std=CLIP_STD, tensor=False, grey16_high_byte=False):
    # imported here: torch takes seconds to import and `synth` does not need it
    import torch
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor

    interpolation = {
        0: InterpolationMode.NEAREST, 1: InterpolationMode.LANCZOS, 2: InterpolationMode.BILINEAR,
        3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING,
    }[resample]
    crop = (crop_height or size, crop_width or size)
    # clip/clip.py `_transform(n_px)`, with the sizes and filter as parameters, split in two to
    # keep the uint8 pixels that ToTensor receives.
    to_rgb = Compose([
        Resize(size, interpolation=interpolation),
        CenterCrop(crop),
        _convert_image_to_rgb,
    ])
    to_tensor = Compose([ToTensor(), Normalize(tuple(mean), tuple(std))])
    os.makedirs(out, exist_ok=True)
    results = []
    for i, path in enumerate(images):
        try:
            with open(path, "rb") as f:
                image = Image.open(io.BytesIO(f.read()))
            info = {"file": path, "format": image.format, "mode": image.mode, "width": image.size[0], "height": image.size[1]}
            if grey16_high_byte and image.mode in ("I", "I;16", "I;16B"):
                image = Image.fromarray((np.asarray(image).astype(np.int64) >> 8).clip(0, 255).astype(np.uint8), "L")
            rgb = to_rgb(image)
            with open(os.path.join(out, f"{i}.rgb"), "wb") as f:
                f.write(np.asarray(rgb, dtype=np.uint8).tobytes())
            if tensor:
                t = to_tensor(rgb)
                assert t.dtype == torch.float32
                with open(os.path.join(out, f"{i}.f32"), "wb") as f:
                    f.write(t.contiguous().numpy().astype("<f4").tobytes())
            results.append(info)
        except Exception as e:  # reported, not raised: some inputs are expected to fail
            results.append({"file": path, "error": f"{type(e).__name__}: {e}"})
    return results


def batch(jobs):
    keys = {"cropHeight": "crop_height", "cropWidth": "crop_width", "resample": "resample", "mean": "mean", "std": "std", "tensor": "tensor", "grey16HighByte": "grey16_high_byte"}
    return [transform(job["size"], job["out"], job["images"], **{keys[k]: v for k, v in job.items() if k in keys}) for job in jobs]


# ---------------------------------------------------------------- synthetic images

def pattern(rng, w, h):
    """RGB uint8 h×w×3: gradients, a hard-edged checkerboard (bicubic overshoot) and noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127.5 + 127.5 * np.sin(x / max(w, 1) * 7.0 + rng.uniform(0, 6))
    g = 255.0 * (y / max(h - 1, 1))
    b = np.where(((x // 5).astype(int) + (y // 4).astype(int)) % 2 == 0, 255.0, 0.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 25, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path, w, h, bit_depth, colour_type, rows, extra=()):
    """A minimal PNG writer for what PIL cannot write (16-bit colour, tRNS on grey/RGB...)."""
    raw = b"".join(b"\x00" + row for row in rows)
    chunks = [png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0))]
    chunks += [png_chunk(k, d) for k, d in extra]
    chunks += [png_chunk(b"IDAT", zlib.compress(raw, 6)), png_chunk(b"IEND", b"")]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"".join(chunks))


def synth(args):
    out = args.dir
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(args.seed)
    manifest = []

    def save(name, image, note, **kw):
        image.save(os.path.join(out, name), **kw)
        manifest.append({"name": name, "file": os.path.join(out, name), "note": note})

    def raw_png(name, w, h, depth, ctype, array, note, extra=()):
        a = np.asarray(array)
        if depth == 16:
            a = a.astype(">u2")
        rows = [a[i].tobytes() for i in range(h)]
        write_png(os.path.join(out, name), w, h, depth, ctype, rows, extra)
        manifest.append({"name": name, "file": os.path.join(out, name), "note": note})

    rgb = pattern(rng, 300, 200)
    im = Image.fromarray(rgb, "RGB")
    save("rgb.png", im, "RGB PNG 300x200")
    save("rgb420.jpg", im, "JPEG 4:2:0", quality=90)
    save("rgb444.jpg", im, "JPEG 4:4:4", quality=95, subsampling=0)
    save("progressive.jpg", im, "progressive JPEG", quality=85, progressive=True)
    save("grey.jpg", im.convert("L"), "grey JPEG (mode L)", quality=90)
    save("cmyk.jpg", im.convert("CMYK"), "CMYK JPEG (Adobe marker, inverted)", quality=95)
    with open(os.path.join(out, "cmyk_noadobe.jpg"), "wb") as f:
        f.write(_strip_jpeg_app14(open(os.path.join(out, "cmyk.jpg"), "rb").read()))
    manifest.append({"name": "cmyk_noadobe.jpg", "file": os.path.join(out, "cmyk_noadobe.jpg"), "note": "CMYK JPEG without an Adobe marker (PIL still inverts)"})
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif6.jpg", Image.fromarray(pattern(rng, 240, 160), "RGB"), "JPEG with EXIF orientation 6 (must not rotate)", exif=exif.tobytes())
    icc = _non_srgb_icc()
    if icc:
        save("icc.png", Image.fromarray(pattern(rng, 260, 190), "RGB"), "PNG with an ICC profile (must not be colour-managed)", icc_profile=icc)
        save("icc.jpg", Image.fromarray(pattern(rng, 260, 190), "RGB"), "JPEG with an ICC profile", icc_profile=icc, quality=92)

    # palette images: resized by Pillow with NEAREST whatever the filter asked for
    pal = im.quantize(colors=200, method=Image.Quantize.MEDIANCUT)
    save("palette.png", pal, "P mode PNG, 200 colours")
    pal_t = pal.copy()
    pal_t.info["transparency"] = bytes(rng.randint(0, 256, 200).astype(np.uint8))
    save("palette_trns.png", pal_t, "P mode PNG with per-entry alpha (tRNS)", transparency=pal_t.info["transparency"])
    save("palette_trns1.png", pal, "P mode PNG with one transparent index", transparency=7)
    save("palette4.png", Image.fromarray(pattern(rng, 97, 61), "RGB").quantize(colors=16), "P mode PNG, 4-bit", bits=4)
    save("palette.gif", pal, "GIF (P mode)")
    save("palette_trns.gif", pal, "GIF with a transparent index", transparency=3)
    grey_gif = Image.fromarray(pattern(rng, 150, 110)[:, :, 1], "L")
    save("grey.gif", grey_gif, "GIF with an identity grey palette (PIL opens it as mode L)")
    frames = [Image.fromarray(pattern(rng, 120, 90), "RGB").quantize(colors=64) for _ in range(3)]
    frames[0].save(os.path.join(out, "animated.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
    manifest.append({"name": "animated.gif", "file": os.path.join(out, "animated.gif"), "note": "animated GIF: the first frame"})

    # GIF frames that do not cover the canvas, and a local palette (crafted from PIL's output)
    small = Image.fromarray(pattern(rng, 60, 40), "RGB").quantize(colors=32)
    for name, transparency, screen, at, local in [
        ("gif_rect.gif", None, (100, 80), (10, 20), False),
        ("gif_rect_trns.gif", 5, (100, 80), (10, 20), False),
        ("gif_beyond.gif", None, (50, 30), (5, 6), False),
        ("gif_local_palette.gif", 2, (60, 40), (0, 0), True),
    ]:
        buf = io.BytesIO()
        small.save(buf, "GIF", **({} if transparency is None else {"transparency": transparency}))
        with open(os.path.join(out, name), "wb") as f:
            f.write(_recanvas_gif(buf.getvalue(), screen, at, local))
        manifest.append({"name": name, "file": os.path.join(out, name), "note": f"GIF, first frame at {at} on a {screen} screen" + (", local palette" if local else "")})

    # alpha
    alpha = rng.randint(0, 256, (200, 300)).astype(np.uint8)
    alpha[:, :40] = 0
    alpha[:, 40:80] = 255
    alpha[50:60, :] = 1
    save("rgba.png", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "RGBA PNG, alpha 0, 1, 255 and random")
    save("la.png", Image.fromarray(np.dstack([rgb[:, :, 0], alpha]), "LA"), "LA PNG")
    save("rgba.webp", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "lossless RGBA WebP", lossless=True)
    save("rgba.tif", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "RGBA TIFF")

    # other formats
    save("rgb_lossless.webp", im, "lossless WebP", lossless=True)
    save("rgb_lossy.webp", im, "lossy WebP", quality=80)
    save("rgb.tif", im, "RGB TIFF")
    save("grey.tif", im.convert("L"), "grey TIFF")
    save("cmyk.tif", im.convert("CMYK"), "CMYK TIFF")
    save("palette.tif", pal, "palette TIFF")
    save("grey16.tif", Image.fromarray(rng.randint(0, 65536, (120, 170)).astype(np.uint16)), "16-bit grey TIFF (PIL mode I;16)")
    anim = [Image.fromarray(pattern(rng, 130, 100), "RGB") for _ in range(2)]
    anim[0].save(os.path.join(out, "animated.webp"), save_all=True, append_images=anim[1:], duration=100, lossless=True)
    manifest.append({"name": "animated.webp", "file": os.path.join(out, "animated.webp"), "note": "animated WebP: the first frame"})
    save("grey.png", im.convert("L"), "L PNG")
    save("bit1.png", im.convert("1"), "1-bit PNG (mode 1, NEAREST)")

    # PNG variants PIL cannot write itself
    g16 = (rng.randint(0, 65536, (180, 250))).astype(np.uint16)
    g16[:, :60] = np.linspace(0, 65535, 60).astype(np.uint16)[None, :]
    raw_png("grey16.png", 250, 180, 16, 0, g16, "16-bit grey PNG (PIL mode I)")
    rgb16 = (pattern(rng, 230, 170).astype(np.uint16) * 257 + rng.randint(0, 257, (170, 230, 3))).astype(np.uint16)
    raw_png("rgb16.png", 230, 170, 16, 2, rgb16.reshape(170, -1), "16-bit RGB PNG (PIL keeps the high byte)")
    a16 = (rng.randint(0, 65536, (170, 230, 1))).astype(np.uint16)
    raw_png("rgba16.png", 230, 170, 16, 6, np.concatenate([rgb16, a16], axis=2).reshape(170, -1), "16-bit RGBA PNG")
    raw_png("la16.png", 230, 170, 16, 4, np.concatenate([rgb16[:, :, :1], a16], axis=2).reshape(170, -1), "16-bit LA PNG (PIL: RGBA)")
    g8 = pattern(rng, 210, 150)[:, :, 0]
    raw_png("grey_trns.png", 210, 150, 8, 0, g8, "L PNG with tRNS (PIL: mode L)", [(b"tRNS", struct.pack(">H", int(g8[3, 3])))])
    c8 = pattern(rng, 210, 150)
    raw_png("rgb_trns.png", 210, 150, 8, 2, c8.reshape(150, -1), "RGB PNG with tRNS (PIL: mode RGB)",
            [(b"tRNS", struct.pack(">HHH", *[int(v) for v in c8[5, 5]]))])
    g2 = rng.randint(0, 4, (33, 64)).astype(np.uint8)
    packed = [bytes(np.packbits(np.unpackbits(row[:, None], axis=1)[:, 6:].reshape(-1))) for row in g2]
    write_png(os.path.join(out, "grey2.png"), 64, 33, 2, 0, packed)
    manifest.append({"name": "grey2.png", "file": os.path.join(out, "grey2.png"), "note": "2-bit grey PNG"})
    raw_png("gamma.png", 210, 150, 8, 2, c8.reshape(150, -1), "RGB PNG with gAMA 1.0 (ignored by PIL)", [(b"gAMA", struct.pack(">I", 100000))])

    # sizes: tiny, upscaled, extreme aspect, and crops whose offset is an exact .5
    for name, (w, h) in {
        "tiny1x1.png": (1, 1), "tiny2x3.png": (2, 3), "small17x11.png": (17, 11), "small200x150.png": (200, 150),
        "wide1000x3.png": (1000, 3), "tall3x1000.png": (3, 1000),
        "odd450x448.png": (450, 448), "odd454x448.png": (454, 448), "odd448x675.png": (448, 675),
        "exact224x300.png": (224, 300), "exact336x336.png": (336, 336),
    }.items():
        save(name, Image.fromarray(pattern(rng, w, h), "RGB"), f"RGB {w}x{h}")

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def _recanvas_gif(gif, screen, at, local):
    """Moves PIL's single-frame GIF to `at` on a `screen`-sized canvas; `local` turns the global palette into a local one."""
    b = bytearray(gif)
    flags = b[10]
    assert flags & 0x80, "PIL writes a global palette"
    palette_len = 3 << ((flags & 7) + 1)
    palette = bytes(b[13:13 + palette_len])
    b[6:10] = struct.pack("<HH", *screen)
    i = b.index(b",", 13 + palette_len)
    b[i + 1:i + 5] = struct.pack("<HH", *at)
    if local:
        b[i + 9] = (b[i + 9] & 0x40) | 0x80 | (flags & 7)  # keep interlace, add the local table
        b[i + 10:i + 10] = palette
        del b[13:13 + palette_len]
        b[10] = flags & 0x70  # no global table
    return bytes(b)


def _strip_jpeg_app14(jpeg):
    """Removes Adobe APP14 segments (before the scan) from a JPEG."""
    out, at = bytearray(jpeg[:2]), 2
    while at < len(jpeg):
        marker, length = jpeg[at + 1], struct.unpack(">H", jpeg[at + 2:at + 4])[0]
        if marker == 0xDA:
            out += jpeg[at:]
            break
        if marker != 0xEE:
            out += jpeg[at:at + 2 + length]
        at += 2 + length
    return bytes(out)


def _non_srgb_icc():
    """An RGB ICC profile far from sRGB (sRGB's red and blue primaries swapped): a decoder that
    colour-manages would visibly change the pixels; PIL does not."""
    try:
        from PIL import ImageCms
        icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    except Exception:
        return None
    tags = {}
    for i in range(struct.unpack(">I", icc[128:132])[0]):
        sig, offset, size = struct.unpack(">4sII", icc[132 + 12 * i:144 + 12 * i])
        tags[sig] = 132 + 12 * i
    r, b = tags[b"rXYZ"], tags[b"bXYZ"]
    icc[r + 4:r + 12], icc[b + 4:b + 12] = icc[b + 4:b + 12], icc[r + 4:r + 12]
    icc[84:100] = bytes(16)  # no profile ID
    return bytes(icc)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("transform")
    t.add_argument("--size", type=int, required=True)
    t.add_argument("--crop-height", type=int)
    t.add_argument("--crop-width", type=int)
    t.add_argument("--resample", type=int, default=3, choices=RESAMPLE_IDS)
    t.add_argument("--mean", type=float, nargs=3, default=CLIP_MEAN)
    t.add_argument("--std", type=float, nargs=3, default=CLIP_STD)
    t.add_argument("--tensor", action="store_true")
    t.add_argument("--grey16-high-byte", action="store_true")
    t.add_argument("--out", required=True)
    t.add_argument("images", nargs="+")
    sub.add_parser("batch")
    s = sub.add_parser("synth")
    s.add_argument("dir")
    s.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.cmd == "transform":
        result = transform(args.size, args.out, args.images, args.crop_height, args.crop_width, args.resample, args.mean, args.std, args.tensor, args.grey16_high_byte)
    elif args.cmd == "batch":
        result = batch(json.load(sys.stdin))
    else:
        synth(args)
        return
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
