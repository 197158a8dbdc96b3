/** Image preprocessing: bytes → decoded pixels (sharp) → PIL-exact resize and crop → CLIP tensor. */
export { CLIP_IMAGE_DEFAULTS, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, clipTransformConfig, parsePreprocessorConfig, type ImageTransformConfig } from './config';
export { DEFAULT_DECODE_LIMITS, decodeImage, type DecodedImage, type DecodeLimits, type PixelLayout } from './decode';
export { Resampling, type ResampleFilter } from './resample';
export { configureSharp, sharpConcurrency, DEFAULT_SHARP_SETTINGS, type SharpSettings } from './sharp';
export { cropOffset, preprocessImage, resizeAndCrop, resizedSize, toTensor, type PreprocessedImage, type PreprocessMode, type PreprocessOptions } from './transform';
