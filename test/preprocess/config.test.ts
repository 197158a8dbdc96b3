/** parsePreprocessorConfig: Hugging Face CLIPImageProcessor keys, defaults, and abuse. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, isClipqlError } from '../../src/errors';
import { CLIP_IMAGE_DEFAULTS, clipTransformConfig, parsePreprocessorConfig } from '../../src/preprocess/image';

const FILE = '/models/x/preprocessor_config.json';

describe('parsePreprocessorConfig', () => {
  test("openai/clip-vit-large-patch14-336's file", () => {
    const cfg = parsePreprocessorConfig(
      {
        crop_size: { height: 336, width: 336 },
        do_center_crop: true,
        do_convert_rgb: true,
        do_normalize: true,
        do_rescale: true,
        do_resize: true,
        image_mean: [0.48145466, 0.4578275, 0.40821073],
        image_processor_type: 'CLIPImageProcessor',
        image_std: [0.26862954, 0.26130258, 0.27577711],
        resample: 3,
        rescale_factor: 0.00392156862745098,
        size: { shortest_edge: 336 },
      },
      FILE,
    );
    assert.deepEqual(cfg, clipTransformConfig(336));
  });

  test('the older CLIPFeatureExtractor form (numbers for size and crop_size)', () => {
    const cfg = parsePreprocessorConfig({ crop_size: 224, size: 224, do_center_crop: true, feature_extractor_type: 'CLIPFeatureExtractor', resample: 3 }, FILE);
    assert.deepEqual(cfg, CLIP_IMAGE_DEFAULTS);
  });

  test("absent keys take CLIPImageProcessor's defaults", () => {
    assert.deepEqual(parsePreprocessorConfig({}, FILE), CLIP_IMAGE_DEFAULTS);
    const cfg = parsePreprocessorConfig({ size: { shortest_edge: 256 }, crop_size: { height: 240, width: 200 }, resample: 2, image_mean: 0.5, do_normalize: false }, FILE);
    assert.equal(cfg.shortestEdge, 256);
    assert.deepEqual([cfg.cropHeight, cfg.cropWidth], [240, 200]);
    assert.equal(cfg.resample, 2);
    assert.deepEqual(cfg.mean, [0.5, 0.5, 0.5]);
    assert.equal(cfg.doNormalize, false);
    assert.equal(cfg.doResize, true);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /\(root\)/],
    ['size with a height alone', { size: { height: 224 } }, /"size.width" must be an integer from 1 to 8192, got nothing/],
    ['negative shortest edge', { size: { shortest_edge: -3 } }, /"size.shortest_edge" must be an integer from 1 to 8192, got -3/],
    ['fractional size', { size: 224.5 }, /"size" must be an integer/],
    ['crop without width', { crop_size: { height: 224 } }, /"crop_size.width" must be an integer from 1 to 8192, got nothing/],
    ['unknown filter', { resample: 7 }, /"resample" must be one of Pillow's filter ids/],
    ['filter as a name', { resample: 'bicubic' }, /"resample"/],
    ['two means', { image_mean: [0.5, 0.5] }, /"image_mean" must be three finite numbers/],
    ['zero std', { image_std: [0.2, 0, 0.2] }, /"image_std" must be three positive numbers/],
    ['flag as a string', { do_resize: 'yes' }, /"do_resize" must be true or false, got "yes"/],
    ['zero rescale factor', { rescale_factor: 0 }, /"rescale_factor" must be a positive number/],
  ];
  for (const [name, json, message] of bad) {
    test(`refuses ${name}: BAD_MODEL naming the file and the key`, () => {
      assert.throws(
        () => parsePreprocessorConfig(json, FILE),
        (e: unknown) => isClipqlError(e) && e.code === ErrorCode.BAD_MODEL && e.message.startsWith(FILE) && message.test(e.message),
      );
    });
  }
});
