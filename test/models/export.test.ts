/**
 * models/export.py on the committed tiny model: its TorchScript file, the same weights as a plain
 * state_dict, and as a Hugging Face folder (model.safetensors with transformers' parameter names,
 * made here from the tiny weights). Each export must pass export.py's own check, and its ONNX
 * towers must give the committed tiny bundle's embeddings in onnxruntime-node.
 *
 * Needs Debian's /usr/bin/python3 with torch and onnx (python3-torch, python3-onnx): skipped, with
 * the reason, when they are not there. The Hugging Face path is checked against our own mapping
 * only: `transformers` is not installable here, so the comparison with its CLIPModel is not run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { BPE_VOCAB } from '../helpers/shared';

const PYTHON = '/usr/bin/python3';
const EXPORT = path.join(REPO_ROOT, 'models', 'export.py');
const TINY_PT = path.join(TINY_MODEL_DIR, 'torch', 'model.pt');

function pythonProblem(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  // find_spec, not import: importing torch takes seconds.
  const probe = "import importlib.util as u; m = [n for n in ('torch', 'onnx', 'torchvision', 'PIL', 'regex') if u.find_spec(n) is None]; print(' '.join(m))";
  const r = spawnSync(PYTHON, ['-c', probe], { encoding: 'utf8' });
  const missing = r.status === 0 ? r.stdout.trim() : `(${r.stderr.trim()})`;
  if (missing) return `${PYTHON} lacks ${missing} (apt-get install python3-torch python3-onnx python3-torchvision python3-pil python3-regex)`;
  if (!existsSync(TINY_PT)) return `${TINY_PT} is missing (npm run fixtures)`;
  return undefined;
}
const SKIP = pythonProblem();
if (SKIP) console.log(`# export.py tests skipped: ${SKIP}`);

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // One thread each: the tests run side by side, and the tiny model gains nothing from more.
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, CLIP_VOCAB: BPE_VOCAB(), OMP_NUM_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'clipql-export-'));

/** Deterministic pixels and ids, the same for both bundles. */
function inputs() {
  const s = 336;
  const pixels = new Float32Array(2 * 3 * s * s);
  let seed = 7;
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pixels[i] = (seed / 2 ** 32) * 4 - 2;
  }
  const rows = [
    [49406, 320, 1125, 539, 320, 2368, 49407],
    [49406, 320, 22697, 49407],
  ];
  const ids = new BigInt64Array(2 * 77);
  rows.forEach((r, b) => r.forEach((v, i) => (ids[b * 77 + i] = BigInt(v))));
  return { pixels: new ort.Tensor('float32', pixels, [2, 3, s, s]), ids: new ort.Tensor('int64', ids, [2, 77]) };
}

async function embeddings(bundle: string) {
  const { pixels, ids } = inputs();
  const vision = await ort.InferenceSession.create(path.join(bundle, 'onnx', 'vision_model.onnx'));
  const text = await ort.InferenceSession.create(path.join(bundle, 'onnx', 'text_model.onnx'));
  assert.deepEqual([vision.inputNames, vision.outputNames, text.inputNames, text.outputNames], [['pixel_values'], ['image_embeds'], ['input_ids'], ['text_embeds']]);
  const image = (await vision.run({ pixel_values: pixels })).image_embeds!.data as Float32Array;
  const txt = (await text.run({ input_ids: ids })).text_embeds!.data as Float32Array;
  return { image, text: txt };
}

async function assertSameEmbeddings(exported: string): Promise<void> {
  const a = await embeddings(exported);
  const b = await embeddings(TINY_MODEL_DIR);
  for (const k of ['image', 'text'] as const) {
    assert.equal(a[k].length, b[k].length);
    let worst = 0;
    let at = 0;
    for (let i = 0; i < a[k].length; i++) {
      const d = Math.abs(a[k][i]! - b[k][i]!);
      if (d > worst) [worst, at] = [d, i];
    }
    assert.ok(worst <= 1e-4, `${k} embeddings: index ${at}: exported ${a[k][at]}, committed ${b[k][at]} (|diff| ${worst} > 1e-4)`);
  }
}

// The tiny weights as a torch.save'd state_dict, and under transformers' CLIPModel names (the
// inverse of export.py's mapping) as a model.safetensors written by hand, with the tiny bundle's
// config.json (HF layout, head counts inside).
const TO_HF = String.raw`
import json, os, struct, sys, shutil, torch
src, out, state_dict_file = sys.argv[1], sys.argv[2], sys.argv[3]
sd = torch.jit.load(src, map_location="cpu").state_dict()
torch.save({"state_dict": sd}, state_dict_file)  # the same weights as a plain state_dict
hf = {}
def tower(oa, hfp):
    layers = sorted({int(k.split(".")[len(oa.split("."))+1]) for k in sd if k.startswith(oa + ".resblocks.")})
    for i in layers:
        o, p = f"{oa}.resblocks.{i}", f"{hfp}.encoder.layers.{i}"
        for x, w, b in zip("qkv", sd[f"{o}.attn.in_proj_weight"].chunk(3), sd[f"{o}.attn.in_proj_bias"].chunk(3)):
            hf[f"{p}.self_attn.{x}_proj.weight"], hf[f"{p}.self_attn.{x}_proj.bias"] = w, b
        for h, n in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
            hf[f"{p}.{h}.weight"], hf[f"{p}.{h}.bias"] = sd[f"{o}.{n}.weight"], sd[f"{o}.{n}.bias"]
tower("transformer", "text_model")
tower("visual.transformer", "vision_model")
m = {"text_model.embeddings.token_embedding.weight": "token_embedding.weight", "text_model.embeddings.position_embedding.weight": "positional_embedding",
     "text_model.final_layer_norm.weight": "ln_final.weight", "text_model.final_layer_norm.bias": "ln_final.bias",
     "vision_model.embeddings.class_embedding": "visual.class_embedding", "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
     "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding", "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight",
     "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias", "vision_model.post_layernorm.weight": "visual.ln_post.weight",
     "vision_model.post_layernorm.bias": "visual.ln_post.bias", "logit_scale": "logit_scale"}
for h, o in m.items(): hf[h] = sd[o]
hf["text_projection.weight"] = sd["text_projection"].t()
hf["visual_projection.weight"] = sd["visual.proj"].t()
hf["text_model.embeddings.position_ids"] = torch.arange(77)[None]
os.makedirs(out, exist_ok=True)
header, blobs, off = {}, [], 0
for k, v in hf.items():
    v = v.contiguous()
    b = v.numpy().tobytes()
    header[k] = {"dtype": "F32" if v.dtype == torch.float32 else "I64", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(header).encode()
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]
shutil.copyfile(os.path.join(os.path.dirname(os.path.dirname(src)), "config.json"), os.path.join(out, "config.json"))
`;


describe('models/export.py', { skip: SKIP, concurrency: 2 }, () => {
  const sources = tmp();
  const sdFile = path.join(sources, 'weights.pth');
  const hfDir = path.join(sources, 'hf-tiny');
  let prepared: Promise<void> | undefined;
  const prepare = () =>
    (prepared ??= run(PYTHON, ['-c', TO_HF, TINY_PT, hfDir, sdFile]).then((r) => {
      assert.equal(r.code, 0, r.stderr);
    }));

  test('converts the tiny TorchScript model; the check passes; the bundle matches the committed one', async () => {
    const out = path.join(tmp(), 'tiny-export');
    const r = await run(PYTHON, [EXPORT, TINY_PT, '--out', out]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /rebuilt vs original: max diff image_embeds 0, text_embeds 0/);
    assert.match(r.stdout, /ONNX vs PyTorch: max diff image_embeds \S+, text_embeds \S+/);
    assert.match(r.stdout, /check passed \(tolerance 0\.0001\)/);
    for (const f of ['config.json', 'preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'torch/model.pt']) {
      assert.ok(existsSync(path.join(out, f)), `${f} missing`);
    }
    assert.ok(!existsSync(path.join(path.dirname(out), '.tiny-export.export-partial')), 'the partial folder was renamed into place');
    const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(config.clipql.random_weights, true, 'random weights stay flagged');
    assert.equal(config.vision_config.image_size, 336);
    assert.equal(config.text_config.num_attention_heads, 4);
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'preprocessor_config.json'), 'utf8')), JSON.parse(readFileSync(path.join(TINY_MODEL_DIR, 'preprocessor_config.json'), 'utf8')));
    const vocab = JSON.parse(readFileSync(path.join(out, 'vocab.json'), 'utf8')) as Record<string, number>;
    assert.equal(Object.keys(vocab).length, 49408);
    assert.equal(vocab['<|startoftext|>'], 49406);
    assert.equal(vocab['<|endoftext|>'], 49407);
    const merges = readFileSync(path.join(out, 'merges.txt'), 'utf8').split('\n');
    assert.equal(merges[0], '#version: 0.2');
    assert.equal(merges.length, 1 + 48894 + 1, 'header, 48894 merges, final newline');
    await assertSameEmbeddings(out);
  });

  test('wrong head counts: the check against the original fails, names the max diff, writes nothing', async () => {
    const dir = tmp();
    const out = path.join(dir, 'bad');
    const r = await run(PYTHON, [EXPORT, TINY_PT, '--out', out, '--text-heads', '2', '--check-images', '1']);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /differs from the original TorchScript: max diff \d\S* > 0\.0001 \(wrong head counts\?.*text 2 from --text-heads/);
    assert.match(r.stderr, /check FAILED/);
    assert.ok(!existsSync(out) && !existsSync(path.join(dir, '.bad.export-partial')));
  });

  test('a state_dict (torch.save) with --config', async () => {
    await prepare();
    const out = path.join(tmp(), 'from-state-dict');
    const r = await run(PYTHON, [EXPORT, sdFile, '--out', out, '--config', path.join(TINY_MODEL_DIR, 'config.json'), '--no-torch', '--check-images', '1']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /state_dict: ViT, 336 px, patch 14, vision 64 x 2 layers \(4 heads/);
    assert.ok(!existsSync(path.join(out, 'torch')), '--no-torch');
    await assertSameEmbeddings(out);
  });

  test('a Hugging Face folder (model.safetensors, transformers names) without transformers installed', async () => {
    await prepare();
    const out = path.join(tmp(), 'from-hf');
    const r = await run(PYTHON, [EXPORT, hfDir, '--out', out, '--no-torch', '--check-images', '1']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Hugging Face CLIP folder: ViT, 336 px/);
    assert.match(r.stdout, /transformers' CLIPModel|`transformers` is not installed/);
    await assertSameEmbeddings(out);
  });

  test('usage and input errors exit 2', async () => {
    const dir = tmp();
    const missing = await run(PYTHON, [EXPORT, path.join(dir, 'nope.pt'), '--out', path.join(dir, 'x')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.pt: no such file or folder/);
    const exists = await run(PYTHON, [EXPORT, TINY_PT, '--out', TINY_MODEL_DIR]);
    assert.equal(exists.code, 2);
    assert.match(exists.stderr, /exists; pass --force to replace it/);
  });
});
