/** The 220 strings of ../shared/clip/tokenizer-reference.json: OpenAI's ids, exactly. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertIds, loadTokenizer, referenceJsonPath, show } from './helpers';

interface ReferenceCase {
  readonly text: string;
  readonly ids: number[];
  readonly untruncated_length: number;
}

const reference = JSON.parse(readFileSync(referenceJsonPath(), 'utf8')) as { cases: ReferenceCase[] };

test('the reference file holds the 220 cases', () => {
  assert.equal(reference.cases.length, 220);
});

test('every reference string gives exactly the reference ids and untruncated_length', async () => {
  const tok = await loadTokenizer();
  const failures: string[] = [];
  for (const c of reference.cases) {
    const tokens = tok.tokenize(c.text);
    try {
      assertIds(tokens.subarray(0, c.ids.length), c.ids, c.text);
      // clip.tokenize pads with zeros after the end token.
      assert.ok(tokens.subarray(c.ids.length).every((v) => v === 0), `${show(c.text)}: padding after the end token is not all zeros`);
      assert.equal(tok.untruncatedLength(c.text), c.untruncated_length, `untruncated length of ${show(c.text)}`);
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${reference.cases.length} reference strings differ:\n${failures.join('\n')}`);
});

test('tokenizeBatch of all reference strings is the rows of tokenize, as int64', async () => {
  const tok = await loadTokenizer();
  const texts = reference.cases.map((c) => c.text);
  const batch = tok.tokenizeBatch(texts);
  assert.equal(batch.length, texts.length * 77);
  texts.forEach((t, i) => {
    const row = Array.from(batch.subarray(i * 77, (i + 1) * 77), Number);
    assertIds(row, Array.from(tok.tokenize(t)), t, 'batch row');
  });
});
