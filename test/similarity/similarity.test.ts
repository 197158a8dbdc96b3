import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyse, argmax, normalizeRows, softmax } from '../../src/similarity/similarity';

test('normalizeRows gives unit rows and leaves a zero row at zero', () => {
  const out = normalizeRows(new Float32Array([3, 4, 0, 0, 1, 0]), 3, 2);
  assert.deepEqual(Array.from(out), [0.6000000238418579, 0.800000011920929, 0, 0, 1, 0]);
  assert.throws(() => normalizeRows(new Float32Array(5), 2, 3), /expected 2x3/);
});

test('softmax(100 x) matches the closed form and is stable for large inputs', () => {
  // softmax of [0, 0.01] at scale 100 is [1/(1+e), e/(1+e)].
  const [a, b] = softmax([0, 0.01]);
  assert.ok(Math.abs(a - 1 / (1 + Math.E)) < 1e-15);
  assert.ok(Math.abs(b - Math.E / (1 + Math.E)) < 1e-15);
  const big = softmax([1000, 1000]);
  assert.deepEqual(big, [0.5, 0.5]);
  assert.deepEqual(softmax([]), []);
});

test('analyse reads rows as captions and columns as images', () => {
  // 2 captions × 3 images
  const scores = [
    [0.3, 0.1, 0.2],
    [0.1, 0.4, 0.25],
  ];
  const r = analyse(scores);
  assert.deepEqual(r.bestCaptionPerImage, [0, 1, 1]);
  assert.deepEqual(r.bestImagePerCaption, [0, 1]);
  assert.equal(r.probsPerImage.length, 3);
  assert.equal(r.probsPerCaption.length, 2);
  for (const p of [...r.probsPerImage, ...r.probsPerCaption]) assert.ok(Math.abs(p.reduce((x, y) => x + y) - 1) < 1e-12);
  // image 0 over captions: softmax(100*[0.3, 0.1]) = [1/(1+e^-20), ...]
  assert.ok(Math.abs(r.probsPerImage[0][0] - 1 / (1 + Math.exp(-20))) < 1e-15);
  assert.equal(argmax([1, 3, 3]), 1, 'ties go to the first index, like torch.argmax');
});
