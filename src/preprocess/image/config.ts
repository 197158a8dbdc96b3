/**
 * The image half of a model's preprocessing, read from Hugging Face's `preprocessor_config.json`
 * (CLIPImageProcessor, or the older CLIPFeatureExtractor with the same keys). Keys that are absent
 * take CLIPImageProcessor's defaults, which are OpenAI CLIP's ViT-B/32 settings.
 */
import { ClipqlError, ErrorCode } from '../../errors';
import { Resampling, type ResampleFilter } from './resample';

export interface ImageTransformConfig {
  /** `size.shortest_edge` (or `size` as a number): the shorter side after resizing. */
  readonly shortestEdge: number;
  /** `crop_size.height` / `.width` (or `crop_size` as a number): the model's input size. */
  readonly cropHeight: number;
  readonly cropWidth: number;
  /** `resample`: Pillow's filter id (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING). */
  readonly resample: ResampleFilter;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly doResize: boolean;
  /**
   * Without the centre crop the resized image must already be cropHeight × cropWidth (the vision
   * tower takes one size); other images are refused.
   */
  readonly doCenterCrop: boolean;
  readonly doRescale: boolean;
  /** 1/255 is applied as torchvision's ToTensor does it: x / 255 in float32. */
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  /** Informational: the output is always RGB, as the vision tower takes three channels. */
  readonly doConvertRgb: boolean;
  /**
   * `size: {"height": h, "width": w}`: resize to exactly w × h, aspect ratio not kept (what
   * transformers' image processors do with such a size; SigLIP's). Absent: `shortestEdge`.
   */
  readonly resizeTo?: { readonly width: number; readonly height: number };
  /**
   * transformers' order: convert("RGB") before the resize (no premultiplied alpha, palette
   * images resampled with the filter asked for). Absent: OpenAI's, resize in the image's own mode.
   */
  readonly convertRgbFirst?: boolean;
  /** transformers' rescale: float64 v × rescale_factor, then float32. Absent: torchvision's v / 255 in float32. */
  readonly rescaleInFloat64?: boolean;
}

export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** CLIPImageProcessor's defaults (transformers' image_processing_clip.py). */
export const CLIP_IMAGE_DEFAULTS: ImageTransformConfig = {
  shortestEdge: 224,
  cropHeight: 224,
  cropWidth: 224,
  resample: Resampling.BICUBIC,
  mean: OPENAI_CLIP_MEAN,
  std: OPENAI_CLIP_STD,
  doResize: true,
  doCenterCrop: true,
  doRescale: true,
  rescaleFactor: 1 / 255,
  doNormalize: true,
  doConvertRgb: true,
};

/** OpenAI's `_transform(n_px)`: resize the short side to n_px, crop n_px × n_px. */
export function clipTransformConfig(nPx: number): ImageTransformConfig {
  return { ...CLIP_IMAGE_DEFAULTS, shortestEdge: nPx, cropHeight: nPx, cropWidth: nPx };
}

const MAX_SIDE = 8192;
const FILTER_IDS: readonly number[] = Object.values(Resampling);

/**
 * Reads a parsed preprocessor_config.json; `file` names it in errors (BAD_MODEL). Absent keys take
 * `defaults` (a model family's image processor defaults; CLIPImageProcessor's unless given).
 */
export function parsePreprocessorConfig(json: unknown, file: string, defaults: ImageTransformConfig = CLIP_IMAGE_DEFAULTS): ImageTransformConfig {
  const bad = (key: string, rule: string, value: unknown): ClipqlError =>
    new ClipqlError(ErrorCode.BAD_MODEL, `${file}: "${key}" must be ${rule}, got ${show(value)}`, { details: { file, key } });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('(root)', 'a JSON object', json);
  const o = json as Record<string, unknown>;
  const d = defaults;

  const side = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SIDE) throw bad(key, `an integer from 1 to ${MAX_SIDE}`, v);
    return v;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw bad(key, 'true or false', v);
    return v;
  };
  const triple = (key: string, fallback: readonly [number, number, number], positive: boolean): readonly [number, number, number] => {
    let v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number') v = [v, v, v]; // transformers accepts one value for all channels
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      throw bad(key, positive ? 'three positive numbers' : 'three finite numbers', v);
    }
    return [v[0], v[1], v[2]];
  };

  let shortestEdge = d.shortestEdge;
  let resizeTo = d.resizeTo;
  const size = o.size;
  const sizeRule = '{"shortest_edge": n}, {"height": h, "width": w} or a number';
  if (typeof size === 'number') {
    shortestEdge = side('size', size);
    resizeTo = undefined;
  } else if (typeof size === 'object' && size !== null && !Array.isArray(size)) {
    const s = size as Record<string, unknown>;
    if (s.shortest_edge !== undefined) {
      shortestEdge = side('size.shortest_edge', s.shortest_edge);
      resizeTo = undefined;
    } else if (s.height !== undefined || s.width !== undefined) {
      resizeTo = { width: side('size.width', s.width), height: side('size.height', s.height) };
    } else throw bad('size', sizeRule, size);
  } else if (size !== undefined && size !== null) throw bad('size', sizeRule, size);

  let cropHeight = d.cropHeight;
  let cropWidth = d.cropWidth;
  const crop = o.crop_size;
  if (typeof crop === 'number') cropHeight = cropWidth = side('crop_size', crop);
  else if (typeof crop === 'object' && crop !== null && !Array.isArray(crop)) {
    const c = crop as Record<string, unknown>;
    cropHeight = side('crop_size.height', c.height);
    cropWidth = side('crop_size.width', c.width);
  } else if (crop !== undefined && crop !== null) throw bad('crop_size', '{"height": h, "width": w} or a number', crop);

  let resample = d.resample;
  if (o.resample !== undefined && o.resample !== null) {
    if (typeof o.resample !== 'number' || !FILTER_IDS.includes(o.resample)) throw bad('resample', `one of Pillow's filter ids ${FILTER_IDS.join(', ')}`, o.resample);
    resample = o.resample as ResampleFilter;
  }

  let rescaleFactor = d.rescaleFactor;
  if (o.rescale_factor !== undefined && o.rescale_factor !== null) {
    if (typeof o.rescale_factor !== 'number' || !Number.isFinite(o.rescale_factor) || o.rescale_factor <= 0) throw bad('rescale_factor', 'a positive number', o.rescale_factor);
    rescaleFactor = o.rescale_factor;
  }

  const doCenterCrop = flag('do_center_crop', d.doCenterCrop);
  // without the crop, an exact resize is the model's input size
  if (!doCenterCrop && resizeTo) ({ width: cropWidth, height: cropHeight } = resizeTo);
  const { resizeTo: _, ...rest } = d;
  return {
    ...rest,
    shortestEdge,
    ...(resizeTo ? { resizeTo } : {}),
    cropHeight,
    cropWidth,
    resample,
    mean: triple('image_mean', d.mean, false),
    std: triple('image_std', d.std, true),
    doResize: flag('do_resize', d.doResize),
    doCenterCrop,
    doRescale: flag('do_rescale', d.doRescale),
    rescaleFactor,
    doNormalize: flag('do_normalize', d.doNormalize),
    doConvertRgb: flag('do_convert_rgb', d.doConvertRgb),
  };
}

function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
