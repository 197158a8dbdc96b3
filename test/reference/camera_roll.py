"""A folder shaped like a phone's camera roll, for test/indexer/camera-roll.test.ts and
scripts/bench/collections/camera-roll.ts. Run by Debian's python3 (Pillow 9.4, numpy):

    camera_roll.py DIR [--width 1792 --height 1344] [--photos 1] [--heic 2] [--heic-width 640 --heic-height 480]
    camera_roll.py DIR --bench      (scripts/bench/collections/camera-roll.ts: issue 35's folder, below)

DIR/roll/ gets:
  photo-K.jpg              an upright photo-like image (smooth fields, shapes, grain), quality 100, 4:4:4
  photo-K-o{2..8}.jpg      the same photo stored as a phone stores it with EXIF orientation o:
                           pixels turned by the inverse of o (losslessly, by jpegtran), tag 0x0112 = o
  IMG_K.heic               the photo made HEIC by Debian's heif-enc (libheif, HEVC)
  screenshot.png           an RGBA screenshot-like PNG
  photo-1-small.jpg        a small re-encoded copy of photo 1
DIR/upright/photo-K-o{o}.png: PIL's ImageOps.exif_transpose of each oriented file, the
independent reference of what "upright" means. Prints a JSON manifest on stdout.

--bench makes the folder of the benchmark instead, DIR/roll only: 24 photos of 4032 x 3024
(quality 92, 4:2:0 as phones write), every third stored sideways with orientation 6; four HEIC
photos of 4032 x 3024; a 1170 x 2532 RGBA screenshot PNG; a 1008 x 756 re-encoded copy.
"""
import argparse, json, os, subprocess
import numpy as np
from PIL import Image, ImageDraw, ImageOps

# The transpose that turns an upright image into what a camera stores with orientation o:
# exif_transpose applies the inverse of these.
STORE = {2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM, 5: Image.TRANSPOSE,
         6: Image.ROTATE_90, 7: Image.TRANSVERSE, 8: Image.ROTATE_270}


# jpegtran's lossless transform for each of STORE (PIL's ROTATE_90 is counter-clockwise, jpegtran's
# -rotate clockwise).
JPEGTRAN = {2: ['-flip', 'horizontal'], 3: ['-rotate', '180'], 4: ['-flip', 'vertical'], 5: ['-transpose'],
            6: ['-rotate', '270'], 7: ['-transverse'], 8: ['-rotate', '90']}


def turned_losslessly(upright_jpeg, o):
    """The upright JPEG as a camera stores it with orientation o: its DCT blocks turned by jpegtran
    (libjpeg-turbo-progs; -perfect: the size is a multiple of the MCU, so nothing is trimmed) and
    an EXIF block with tag 0x0112 = o. The pixels are the upright photo's, turned, with no second
    JPEG encoding: what is left between a file and its twin is the decoder's own rounding."""
    turned = subprocess.run(['jpegtran', '-perfect', '-copy', 'none', *JPEGTRAN[o], upright_jpeg], check=True, capture_output=True).stdout
    exif = Image.Exif()
    exif[0x0112] = o
    body = exif.tobytes()  # starts with Exif\0\0
    return turned[:2] + b'\xff\xe1' + (len(body) + 2).to_bytes(2, 'big') + body + turned[2:]


def photo(w, h, seed):
    r = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = 60 + 120 * (x / w) ** (1 + c) + 50 * (y / h)
        for _ in range(4):
            cx, cy, s = r.rand() * w, r.rand() * h, (0.05 + 0.2 * r.rand()) * w
            img[..., c] += (r.rand() - 0.3) * 120 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    im = Image.fromarray(np.clip(img + r.normal(0, 3, img.shape), 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for k in range(6):  # asymmetric shapes: every turn and flip changes the picture
        x0, y0 = int(r.rand() * w * 0.8), int(r.rand() * h * 0.8)
        d.ellipse([x0, y0, x0 + int(w * 0.08 * (k + 1) / 3), y0 + int(h * 0.05 * (k + 2) / 3)], fill=tuple(int(v) for v in r.randint(0, 255, 3)))
    d.rectangle([int(w * 0.05), int(h * 0.1), int(w * 0.3), int(h * 0.18)], fill=(250, 240, 20))
    return im


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--width', type=int, default=1792)
    ap.add_argument('--height', type=int, default=1344)
    ap.add_argument('--heic-width', type=int, default=640)
    ap.add_argument('--heic-height', type=int, default=480)
    ap.add_argument('--photos', type=int, default=1)
    ap.add_argument('--heic', type=int, default=2)
    ap.add_argument('--bench', action='store_true')
    a = ap.parse_args()
    if a.bench:
        return bench(a.dir)
    roll, up = os.path.join(a.dir, 'roll'), os.path.join(a.dir, 'upright')
    os.makedirs(roll, exist_ok=True)
    os.makedirs(up, exist_ok=True)
    files = []
    for k in range(1, a.photos + 1):
        im = photo(a.width, a.height, k)
        im.save(os.path.join(roll, f'photo-{k}.jpg'), quality=100, subsampling=0)
        files.append(f'photo-{k}.jpg')
        for o in STORE:
            name = f'photo-{k}-o{o}.jpg'
            with open(os.path.join(roll, name), 'wb') as f:
                f.write(turned_losslessly(os.path.join(roll, f'photo-{k}.jpg'), o))
            files.append(name)
            ImageOps.exif_transpose(Image.open(os.path.join(roll, name))).save(os.path.join(up, name.replace('.jpg', '.png')), compress_level=1)
    for k in range(1, a.heic + 1):
        src = os.path.join(a.dir, f'heic-src-{k}.png')
        photo(a.heic_width, a.heic_height, 100 + k).save(src)
        subprocess.run(['heif-enc', '-q', '90', src, '-o', os.path.join(roll, f'IMG_{k:04d}.heic')], check=True, stdout=subprocess.DEVNULL)
        files.append(f'IMG_{k:04d}.heic')
    shot = photo(800, 600, 999).convert('RGBA')
    ImageDraw.Draw(shot).rectangle([0, 0, 800, 40], fill=(30, 30, 30, 200))
    shot.save(os.path.join(roll, 'screenshot.png'))
    files.append('screenshot.png')
    Image.open(os.path.join(roll, 'photo-1.jpg')).resize((a.width // 4, a.height // 4), Image.BICUBIC).save(os.path.join(roll, 'photo-1-small.jpg'), quality=80)
    files.append('photo-1-small.jpg')
    print(json.dumps({'files': sorted(files)}))


def bench(d):
    roll = os.path.join(d, 'roll')
    os.makedirs(roll, exist_ok=True)
    files = []
    for k in range(1, 25):
        im, name = photo(4032, 3024, k), f'IMG_{k:04d}.jpg'
        if k % 3 == 0:
            exif = Image.Exif()
            exif[0x0112] = 6
            im.transpose(STORE[6]).save(os.path.join(roll, name), quality=92, exif=exif)
        else:
            im.save(os.path.join(roll, name), quality=92)
        files.append(name)
    for k in range(1, 5):
        src = os.path.join(d, f'heic-src-{k}.png')
        photo(4032, 3024, 100 + k).save(src, compress_level=1)
        subprocess.run(['heif-enc', '-q', '80', src, '-o', os.path.join(roll, f'IMG_{100 + k:04d}.heic')], check=True, stdout=subprocess.DEVNULL)
        os.remove(src)
        files.append(f'IMG_{100 + k:04d}.heic')
    shot = photo(1170, 2532, 999).convert('RGBA')
    ImageDraw.Draw(shot).rectangle([0, 0, 1170, 120], fill=(30, 30, 30, 200))
    shot.save(os.path.join(roll, 'Screenshot.png'))
    Image.open(os.path.join(roll, 'IMG_0001.jpg')).resize((1008, 756), Image.BICUBIC).save(os.path.join(roll, 'IMG_0001-small.jpg'), quality=80)
    files += ['Screenshot.png', 'IMG_0001-small.jpg']
    print(json.dumps({'files': sorted(files)}))


main()
