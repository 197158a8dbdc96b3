/**
 * SiglipImageProcessor (transformers 5, its PIL backend): convert("RGB"), resize straight to
 * size.height × size.width (squash, aspect ratio not kept), bicubic, no crop, rescale 1/255 in
 * float64, normalise with mean = std = 0.5 unless preprocessor_config.json says otherwise.
 */
import { CLIP_IMAGE_DEFAULTS, parsePreprocessorConfig, type ImageTransformConfig } from '../../preprocess/image/config';

/** transformers' IMAGENET_STANDARD_MEAN / _STD, SiglipImageProcessor's defaults. */
const HALF = [0.5, 0.5, 0.5] as const;

export const SIGLIP_IMAGE_DEFAULTS: ImageTransformConfig = {
  ...CLIP_IMAGE_DEFAULTS,
  resizeTo: { width: 224, height: 224 },
  doCenterCrop: false,
  mean: HALF,
  std: HALF,
  convertRgbFirst: true,
  rescaleInFloat64: true,
};

export function siglipImageTransform(json: unknown, file: string): ImageTransformConfig {
  return parsePreprocessorConfig(json, file, SIGLIP_IMAGE_DEFAULTS);
}
