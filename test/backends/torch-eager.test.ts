/**
 * The eager PyTorch CLIP (src/backends/torch/clip_model.py) built from the tiny bundle's
 * TorchScript weights, measured by test/reference/eager_check.py against values it did not
 * compute: reference.json (models/generate.py's eager OpenAI-architecture outputs) and the
 * TorchScript model itself. Skipped, with the reason, where the Python has no torch.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';

const run = promisify(execFile);
const PYTHON = process.env.CLIP_TORCH_PYTHON || '/usr/bin/python3';
const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'eager_check.py');

/** float32 on the same CPU: only a different order of the same operations may separate them. */
const TOL = 1e-5;
/** Half precision on the CPU against float32: its kernels round at every step. */
const HALF_COSINE = 0.999;

type Diff = { image: number; text: number };
type Skip = { skip: string };
type Failure = { type: string; message: string } | null;

interface Check {
  skip?: string;
  torch: string;
  has_sdpa: boolean;
  attention: string;
  attributes: Record<string, number>;
  frozen: boolean;
  dtypes: string[];
  state_dict_keys_equal: boolean;
  reference: Diff & { images: number; texts: number; image_shape: number[]; text_shape: number[] };
  torchscript: (Diff & { batch: number })[];
  sdpa: (Diff & { attentions: string[] }) | Skip;
  sdpa_error?: Failure;
  half: Record<'bfloat16' | 'float16', (Diff & { dtype: string[] }) | Skip>;
  files: { state_dict: number; wrapped: number };
  errors: Record<string, Failure> & { garbage_file_name: string };
}

let check: Check;

before(async () => {
  try {
    const { stdout } = await run(PYTHON, [SCRIPT, REPO_ROOT], { cwd: REPO_ROOT, timeout: 120_000, maxBuffer: 1 << 20 });
    check = JSON.parse(stdout) as Check;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') check = { skip: `${PYTHON} does not exist (set CLIP_TORCH_PYTHON)` } as Check;
    else throw new Error(`${PYTHON} ${SCRIPT} failed: ${err.stderr || err.message}`);
  }
});

/** True (and the test skipped with the reason) when there is no torch to measure. */
function noTorch(t: TestContext): boolean {
  if (check.skip) t.skip(check.skip);
  return Boolean(check.skip);
}

const within = (d: number, tol: number, what: string) => assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);

describe('eager CLIP from the tiny bundle, float32 on the CPU', () => {
  test('built as the caller asked: sizes, heads, frozen float32, OpenAI state-dict keys', (t) => {
    if (noTorch(t)) return;
    assert.deepEqual(check.attributes, { image_size: 336, patch_size: 14, context_length: 77, embed_dim: 32, vision_heads: 4, text_heads: 4 });
    assert.equal(check.attention, check.has_sdpa ? 'sdpa' : 'math', 'attention="auto"');
    assert.ok(check.frozen, 'eval mode, requires_grad False');
    assert.deepEqual(check.dtypes, ['torch.float32']);
    assert.ok(check.state_dict_keys_equal, "its state_dict has OpenAI's keys (the causal mask is not one)");
  });

  test(`reference.json (8 notebook images and captions): image_embeds and text_embeds within ${TOL}`, (t) => {
    if (noTorch(t)) return;
    const r = check.reference;
    assert.deepEqual([r.images, r.texts, r.image_shape, r.text_shape], [8, 8, [8, 32], [8, 32]]);
    within(r.image, TOL, 'image_embeds');
    within(r.text, TOL, 'text_embeds');
    t.diagnostic(`max |diff| image ${r.image}, text ${r.text}`);
  });

  test(`the TorchScript model on random inputs, batches of 1, 3 and 8: within ${TOL}`, (t) => {
    if (noTorch(t)) return;
    assert.deepEqual(check.torchscript.map((b) => b.batch), [1, 3, 8]);
    for (const b of check.torchscript) {
      within(b.image, TOL, `encode_image, batch ${b.batch}`);
      within(b.text, TOL, `encode_text, batch ${b.batch}`);
    }
    t.diagnostic(check.torchscript.map((b) => `batch ${b.batch}: image ${b.image}, text ${b.text}`).join('; '));
  });

  test('a torch.save\'d state_dict and {"state_dict": ...} load to the same model', (t) => {
    if (noTorch(t)) return;
    within(check.files.state_dict, TOL, 'state_dict file, encode_text');
    within(check.files.wrapped, TOL, '{"state_dict"} file, encode_text');
  });
});

describe('attention paths and precisions', () => {
  test(`"math" and "sdpa" agree within ${TOL}`, (t) => {
    if (noTorch(t)) return;
    if ('skip' in check.sdpa) return t.skip(check.sdpa.skip);
    assert.deepEqual(check.sdpa.attentions, ['math', 'sdpa']);
    within(check.sdpa.image, TOL, 'encode_image math vs sdpa');
    within(check.sdpa.text, TOL, 'encode_text math vs sdpa');
  });

  test('attention="sdpa" where torch has no SDPA: a ValueError naming the need', (t) => {
    if (noTorch(t)) return;
    if (check.has_sdpa) return t.skip(`torch ${check.torch} has SDPA`);
    assert.equal(check.sdpa_error?.type, 'ValueError');
    assert.match(check.sdpa_error!.message, /scaled_dot_product_attention.*torch 2\.0/);
  });

  for (const dtype of ['bfloat16', 'float16'] as const) {
    test(`a ${dtype} copy runs on the CPU: cosine >= ${HALF_COSINE} to float32`, (t) => {
      if (noTorch(t)) return;
      const h = check.half[dtype];
      if ('skip' in h) return t.skip(h.skip);
      assert.deepEqual(h.dtype, [`torch.${dtype}`, `torch.${dtype}`], 'outputs in the copy\'s dtype');
      assert.ok(h.image >= HALF_COSINE, `image: min cosine ${h.image} < ${HALF_COSINE}`);
      assert.ok(h.text >= HALF_COSINE, `text: min cosine ${h.text} < ${HALF_COSINE}`);
      t.diagnostic(`min cosine image ${h.image}, text ${h.text}`);
    });
  }
});

describe('misuse: ValueErrors that say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['resnet', /ResNet.*only ViT/],
    ['garbage_dict', /not a CLIP ViT state dict: no visual\.proj \(keys: weight\)/],
    ['missing_key', /does not fit a CLIP ViT.*Missing key.*ln_final\.bias/],
    ['bad_heads', /vision width 64 is not divisible into 5 heads/],
    ['bad_attention', /attention must be one of auto, sdpa, math, got 'flash'/],
    ['missing_file', /nope\.pt: model file does not exist/],
  ];
  for (const [name, pattern] of cases) {
    test(name, (t) => {
      if (noTorch(t)) return;
      const e = check.errors[name];
      assert.equal(e?.type, 'ValueError', `${name}: ${JSON.stringify(e)}`);
      assert.match(e!.message, pattern);
    });
  }

  test('garbage_file: names the file and both ways it was read', (t) => {
    if (noTorch(t)) return;
    const e = check.errors.garbage_file;
    assert.equal(e?.type, 'ValueError', JSON.stringify(e));
    assert.ok(e!.message.startsWith(check.errors.garbage_file_name + ':'), e!.message);
    assert.match(e!.message, /neither a TorchScript archive \(torch\.jit\.load: .+\) nor a torch\.save'd state_dict \(torch\.load: .+\)/);
  });
});
