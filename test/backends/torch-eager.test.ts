/**
 * The eager PyTorch CLIP (src/backends/torch/clip_model.py) built from the tiny bundle's
 * TorchScript weights, measured by test/reference/eager_check.py against values it did not
 * compute: reference.json (models/generate.py's eager OpenAI-architecture outputs) and the
 * TorchScript model itself, under both interpreters the project supports (test/helpers/python.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';
import { DEBIAN_PYTHON, venvPython } from '../helpers/python';

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'eager_check.py');

/** float32 on the same CPU: only a different order of the same operations may separate them. */
const TOL = 1e-5;
/**
 * Half precision on the CPU against float32: its kernels round at every step. Torch 2 keeps within
 * 0.999 (image 0.99993 on an AVX2-only AMD EPYC); Debian's torch 1.13 depends on the CPU: 0.999
 * or more on the machines of earlier rounds (this test passed there with that bound), 0.99821
 * (image; text 0.99951) on that EPYC, the same in every run. Its bound is that of bfloat16 itself,
 * 8 significant bits: 0.995.
 */
const HALF_COSINE = { torch2: 0.999, torch113: 0.995 } as const;

type Diff = { image: number; text: number };
type Skip = { skip: string };
type Failure = { type: string; message: string } | null;

interface Check {
  torch: string;
  has_sdpa: boolean;
  dynamo_imported: boolean;
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

async function measure(python: string): Promise<Check> {
  try {
    const { stdout } = await run(python, [SCRIPT, REPO_ROOT], { cwd: REPO_ROOT, timeout: 120_000, maxBuffer: 1 << 20 });
    const check = JSON.parse(stdout) as Check & Partial<Skip>;
    if (check.skip) throw new Error(check.skip);
    return check;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${python} ${SCRIPT} failed: ${err.stderr || err.message}`);
  }
}

const within = (d: number, tol: number, what: string) => assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);

/**
 * Each interpreter shows what its torch must: torch 2 (the venv) runs SDPA and both half
 * precisions; Debian's torch 1.13 runs the plain formula, refuses SDPA by name, and has no
 * float16 convolution on the CPU (which is why the worker refuses float16 there).
 */
const INTERPRETERS = [
  { name: "the project's venv (torch 2)", python: venvPython, torch2: true },
  { name: "Debian's python3-torch 1.13", python: () => DEBIAN_PYTHON, torch2: false },
] as const;

const checks = new Map<string, Check>();
before(async () => {
  await Promise.all(INTERPRETERS.map(async (i) => checks.set(i.name, await measure(i.python()))));
});

for (const interp of INTERPRETERS) {
  const c = () => checks.get(interp.name)!;

  describe(`eager CLIP from the tiny bundle, float32 on the CPU, ${interp.name}`, () => {
    test('runs the torch it should', () => {
      assert.equal(c().torch.startsWith('1.'), !interp.torch2, c().torch);
      assert.equal(c().has_sdpa, interp.torch2);
    });

    test('built as the caller asked: sizes, heads, frozen float32, OpenAI state-dict keys', () => {
      assert.deepEqual(c().attributes, { image_size: 336, patch_size: 14, context_length: 77, embed_dim: 32, vision_heads: 4, text_heads: 4 });
      assert.equal(c().attention, interp.torch2 ? 'sdpa' : 'math', 'attention="auto"');
      assert.ok(c().frozen, 'eval mode, requires_grad False');
      assert.deepEqual(c().dtypes, ['torch.float32']);
      assert.ok(c().state_dict_keys_equal, "its state_dict has OpenAI's keys (the causal mask is not one)");
    });

    test('building it does not import torch._dynamo (seconds of every worker start)', () => {
      assert.equal(c().dynamo_imported, false);
    });

    test(`reference.json (8 notebook images and captions): image_embeds and text_embeds within ${TOL}`, (t) => {
      const r = c().reference;
      assert.deepEqual([r.images, r.texts, r.image_shape, r.text_shape], [8, 8, [8, 32], [8, 32]]);
      within(r.image, TOL, 'image_embeds');
      within(r.text, TOL, 'text_embeds');
      t.diagnostic(`max |diff| image ${r.image}, text ${r.text}`);
    });

    test(`the TorchScript model on random inputs, batches of 1, 3 and 8: within ${TOL}`, (t) => {
      assert.deepEqual(c().torchscript.map((b) => b.batch), [1, 3, 8]);
      for (const b of c().torchscript) {
        within(b.image, TOL, `encode_image, batch ${b.batch}`);
        within(b.text, TOL, `encode_text, batch ${b.batch}`);
      }
      t.diagnostic(c().torchscript.map((b) => `batch ${b.batch}: image ${b.image}, text ${b.text}`).join('; '));
    });

    test('a torch.save\'d state_dict and {"state_dict": ...} load to the same model', () => {
      within(c().files.state_dict, TOL, 'state_dict file, encode_text');
      within(c().files.wrapped, TOL, '{"state_dict"} file, encode_text');
    });

    if (interp.torch2) {
      test(`"math" and "sdpa" agree within ${TOL}`, (t) => {
        const sdpa = c().sdpa;
        assert.ok(!('skip' in sdpa), JSON.stringify(sdpa));
        assert.deepEqual(sdpa.attentions, ['math', 'sdpa']);
        within(sdpa.image, TOL, 'encode_image math vs sdpa');
        within(sdpa.text, TOL, 'encode_text math vs sdpa');
        t.diagnostic(`max |diff| image ${sdpa.image}, text ${sdpa.text}`);
      });
    } else {
      test('attention="sdpa" where torch has no SDPA: a ValueError naming the need', () => {
        assert.equal(c().sdpa_error?.type, 'ValueError');
        assert.match(c().sdpa_error!.message, /scaled_dot_product_attention.*torch 2\.0/);
      });
      test('float16 has no CPU convolution in torch 1.13 (the worker refuses it there)', () => {
        const h = c().half.float16;
        assert.ok('skip' in h, JSON.stringify(h));
        assert.match(h.skip, /not implemented for 'Half'/);
      });
    }

    for (const dtype of interp.torch2 ? (['bfloat16', 'float16'] as const) : (['bfloat16'] as const)) {
      const bound = interp.torch2 ? HALF_COSINE.torch2 : HALF_COSINE.torch113;
      test(`a ${dtype} copy runs on the CPU: cosine >= ${bound} to float32`, (t) => {
        const h = c().half[dtype];
        assert.ok(!('skip' in h), JSON.stringify(h));
        assert.deepEqual(h.dtype, [`torch.${dtype}`, `torch.${dtype}`], 'outputs in the copy\'s dtype');
        assert.ok(h.image >= bound, `image: min cosine ${h.image} < ${bound}`);
        assert.ok(h.text >= bound, `text: min cosine ${h.text} < ${bound}`);
        t.diagnostic(`min cosine image ${h.image}, text ${h.text}`);
      });
    }
  });
}

describe('misuse: ValueErrors that say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['resnet', /ResNet.*only ViT/],
    ['garbage_dict', /not a CLIP ViT state dict: no visual\.proj \(keys: weight\)/],
    ['missing_key', /does not fit a CLIP ViT.*Missing key.*ln_final\.bias/],
    ['bad_heads', /vision width 64 is not divisible into 5 heads/],
    ['bad_attention', /attention must be one of auto, sdpa, math, got 'flash'/],
    ['missing_file', /nope\.pt: model file does not exist/],
    ['bad_act', /x\/config\.json: vision_config\.hidden_act is 'relu'; clipql computes quick_gelu, gelu, gelu_new, gelu_pytorch_tanh/],
    ['bad_type', /x\/config\.json: model_type 'siglip'; clipql serves CLIP/],
    ['stated_size', /the config states image_size 224 but the weights have 336/],
    ['hf_partial', /x\/model\.safetensors: transformers-style weights without .*: not a CLIPModel checkpoint/],
  ];
  for (const [name, pattern] of cases) {
    test(name, () => {
      const e = checks.get(INTERPRETERS[0].name)!.errors[name];
      assert.equal(e?.type, 'ValueError', `${name}: ${JSON.stringify(e)}`);
      assert.match(e!.message, pattern);
    });
  }

  test('garbage_file: names the file and both ways it was read', () => {
    const errors = checks.get(INTERPRETERS[0].name)!.errors;
    const e = errors.garbage_file;
    assert.equal(e?.type, 'ValueError', JSON.stringify(e));
    assert.ok(e!.message.startsWith(errors.garbage_file_name + ':'), e!.message);
    assert.match(e!.message, /neither a TorchScript archive \(torch\.jit\.load: .+\) nor a torch\.save'd state_dict \(torch\.load: .+\)/);
  });
});
