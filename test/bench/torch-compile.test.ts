/**
 * torch.compile in the torch worker's runner compiles once per bucket, not once per batch size:
 * test/reference/compile_buckets.py runs the tiny model compiled (dynamo with its "eager"
 * backend: the recompilations are dynamo's whatever generates the code; inductor on the CPU would
 * take minutes here) at many batch sizes and reads the compilations from torch's own counters.
 * The expected counts come from the rule stated here, not from the runner: with a max batch of 8,
 * both towers compiled at start-up at 1, 2, 4 and 8; later image batches of 1-8 compile nothing;
 * text batches of 9 and 12 share one new bucket (16). Minutes of CPU: in test:bench, not npm test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';
import { venvPython } from '../helpers/python';

const run = promisify(execFile);

test('compiled towers: one compilation per bucket, made at start-up, and the eager embeddings', { timeout: 300_000 }, async () => {
  const script = path.join(REPO_ROOT, 'test', 'reference', 'compile_buckets.py');
  const { stdout } = await run(venvPython(), [script, REPO_ROOT, 'eager', '8'], { timeout: 290_000, maxBuffer: 1 << 22 });
  const r = JSON.parse(stdout) as { graphsAtStart: number; graphs: number; minCosine: number; shapesOk: boolean; recompileLimit: number; imageSizes: number[]; textSizes: number[] };
  const buckets = [1, 2, 4, 8];
  assert.equal(r.graphsAtStart, 2 * buckets.length, 'both towers at 1, 2, 4, 8 during start-up');
  assert.deepEqual(r.textSizes.filter((n) => n > 8), [12, 9], 'the script still sends two text batches past the max');
  assert.equal(r.graphs, r.graphsAtStart + 1, `compilations after start-up: ${r.graphs - r.graphsAtStart} (one, for text batches of 9-16)`);
  assert.ok(new Set(r.imageSizes).size > buckets.length, 'more image sizes than buckets were sent');
  assert.ok(r.recompileLimit >= r.graphs, `dynamo's recompile limit ${r.recompileLimit} below the compilations ${r.graphs}: it would fall back to eager`);
  assert.ok(r.shapesOk, 'a padded batch answers its own rows only');
  assert.ok(r.minCosine >= 0.9999, `cosine to the eager runner ${r.minCosine}`);
});
