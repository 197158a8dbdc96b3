/** Choosing the model family from config.json, as transformers' auto classes do. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isClipqlError } from '../../src/errors';
import { FAMILIES, familyOf } from '../../src/families/families';

const FILE = '/m/config.json';

test('model_type decides; architectures when it is absent; nothing at all is CLIP (older exports)', () => {
  assert.equal(familyOf({ model_type: 'clip' }, FILE).name, 'clip');
  assert.equal(familyOf({ model_type: 'siglip', architectures: ['CLIPModel'] }, FILE).name, 'siglip');
  assert.equal(familyOf({ architectures: ['SiglipModel'] }, FILE).name, 'siglip');
  assert.equal(familyOf({}, FILE).name, 'clip');
});

test('an unknown family: BAD_MODEL naming the file, what it says and what is served', () => {
  for (const config of [{ model_type: 'blip' }, { architectures: ['AlignModel'] }, { model_type: 7 }]) {
    assert.throws(
      () => familyOf(config, FILE),
      (e: unknown) => isClipqlError(e) && e.code === ErrorCode.BAD_MODEL && e.message.startsWith(FILE) && /served: clip \(clip\); siglip \(siglip\)/.test(e.message),
    );
  }
});

test('every family names itself, its types and its rules', async () => {
  assert.deepEqual(FAMILIES.map((f) => f.name), ['clip', 'siglip']);
  assert.deepEqual(await FAMILIES[0].probability({}, { config: FILE }), { kind: 'softmax', scale: 100 });
  const none = await FAMILIES[1].probability({}, { config: FILE });
  assert.ok(none.kind === 'unavailable' && /no logit_scale and logit_bias/.test(none.reason), 'nothing recorded, no weights: no probabilities made up');
  assert.deepEqual(await FAMILIES[1].probability({ clipql: { logit_scale: Math.log(10), logit_bias: -10 } }, { config: FILE }), { kind: 'sigmoid', scale: Math.exp(Math.log(10)), bias: -10 });
  assert.equal(FAMILIES[0].contextLength({}), 77);
  assert.equal(FAMILIES[1].contextLength({}), 64);
  assert.equal(FAMILIES[1].contextLength({ text_config: { max_position_embeddings: 32 } }), 32);
});
