/**
 * Image preprocessing, OpenAI CLIP's `_transform(n_px)` reproduced bit for bit:
 * bytes → checks and decoding (decode.ts, with sharp) → PIL-exact resize and crop (transform.ts,
 * resample.ts) → normalised CHW float32 tensor.
 */
export { CLIP_IMAGE_DEFAULTS, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, clipTransformConfig, parsePreprocessorConfig, type ImageTransformConfig } from './config';
export { DEFAULT_DECODE_LIMITS, decodeImage, inspectImage, type DecodedImage, type DecodeLimits, type ImageInfo, type PixelLayout } from './decode';
export type { AcceptedFormat } from './headers';
export { Resampling, type ResampleFilter } from './resample';
export { configureSharp, sharpConcurrency, DEFAULT_SHARP_SETTINGS, type SharpSettings } from './sharp';
export { cropOffset, preprocessImage, preprocessPixels, resizeAndCrop, resizedSize, toTensor, type PreprocessedImage, type PreprocessedPixels, type PreprocessMode, type PreprocessOptions } from './transform';
