/**
 * The bounded ONNX graph read (src/families/onnx-graph.ts) and SigLIP's logits in it
 * (src/families/siglip/logits.ts), on ONNX files written byte by byte here with a protobuf encoder
 * of this test's own (so the reader is not checked against itself), and on optimum-style exports of
 * a seeded SiglipModel (test/reference/siglip_models.py: constants as the exporter left them, and
 * the same model with every tensor in model.onnx_data).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ErrorCode, isClipqlError } from '../../src/errors';
import { readOnnxGraph } from '../../src/families/onnx-graph';
import { siglipLogits } from '../../src/families/siglip/logits';
import { siglipModelAnswers, siglipModels } from '../helpers/siglip';
import { tempDir } from '../helpers/temp';

// --- a protobuf writer: key = field << 3 | wire type; 0 varint, 2 length-delimited, 5 fixed32 ---
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const bytes = (num: number, b: Buffer) => Buffer.concat([Buffer.from(varint(num * 8 + 2)), Buffer.from(varint(b.length)), b]);
const str = (num: number, s: string) => bytes(num, Buffer.from(s, 'utf8'));
const int = (num: number, v: number) => Buffer.from([...varint(num * 8), ...varint(v)]);
const f32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return b;
};

/** TensorProto: dims 1, data_type 2, float_data 4 (packed), name 8, raw_data 9, external_data 13, data_location 14. */
function tensor(name: string, data: Buffer | { location: string; offset: number }, opts: { dims?: number[]; type?: number; floatData?: boolean } = {}): Buffer {
  const parts = [...(opts.dims ?? []).map((d) => int(1, d)), int(2, opts.type ?? 1), str(8, name)];
  if (Buffer.isBuffer(data)) parts.push(opts.floatData ? bytes(4, data) : bytes(9, data));
  else {
    const entry = (k: string, v: string) => bytes(13, Buffer.concat([str(1, k), str(2, v)]));
    parts.push(entry('location', data.location), entry('offset', String(data.offset)), entry('length', '4'), int(14, 1));
  }
  return Buffer.concat(parts);
}
/** NodeProto: input 1, output 2, op_type 4, attribute 5 (AttributeProto: name 1, f 2 fixed32, t 5, type 20). */
function node(op: string, inputs: string[], outputs: string[], attr?: { name: string; f?: number; t?: Buffer }): Buffer {
  const parts = [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(4, op)];
  if (attr) {
    const a = [str(1, attr.name)];
    if (attr.f !== undefined) a.push(Buffer.concat([Buffer.from(varint(2 * 8 + 5)), f32(attr.f)]), int(20, 1));
    if (attr.t) a.push(bytes(5, attr.t), int(20, 4));
    parts.push(bytes(5, Buffer.concat(a)));
  }
  return Buffer.concat(parts);
}
/** ModelProto: ir_version 1, graph 7 (GraphProto: node 1, name 2, initializer 5), opset_import 8. */
function model(nodes: Buffer[], initializers: Buffer[]): Buffer {
  const graph = Buffer.concat([...nodes.map((n) => bytes(1, n)), str(2, 'g'), ...initializers.map((t) => bytes(5, t))]);
  return Buffer.concat([int(1, 8), str(2, 'test'), bytes(7, graph), bytes(8, Buffer.concat([str(1, ''), int(2, 17)]))]);
}

const dir = tempDir('clipql-onnx-graph-');
function write(name: string, b: Buffer): string {
  writeFileSync(path.join(dir, name), b);
  return path.join(dir, name);
}
const BIG = tensor('vision.weight', Buffer.alloc(200_000, 7), { dims: [50_000] });

test('constants folded (optimum): Add(Mul(cosine, exp(logit_scale)), logit_bias) under made-up names, a Constant bias, big tensors skipped', async () => {
  const file = write('folded.onnx', model(
    [
      node('MatMul', ['text_embeds', 'image_t'], ['mm']),
      node('Constant', [], ['bias_c'], { name: 'value', t: tensor('', f32(-12.5)) }),
      node('Mul', ['mm', 'onnx::Mul_9'], ['scaled']),
      node('Add', ['bias_c', 'scaled'], ['logits_per_text']),
      node('Transpose', ['logits_per_text'], ['logits_per_image']),
    ],
    [BIG, tensor('onnx::Mul_9', f32(117.33), { dims: [1] })],
  ));
  const g = await readOnnxGraph(file);
  assert.equal(g.scalars.has('vision.weight'), false);
  assert.deepEqual(siglipLogits(g), { scale: Math.fround(117.33), bias: -12.5, via: 'graph' });
});

test('Exp of the scale, behind Transpose and Identity on logits_per_image only; float_data and value_float', async () => {
  const file = write('exp.onnx', model(
    [
      node('Exp', ['s_id'], ['e']),
      node('Identity', ['onnx::Exp_3'], ['s_id']),
      node('Mul', ['e', 'mm'], ['scaled']),
      node('Constant', [], ['b'], { name: 'value_float', f: 0.25 }),
      node('Add', ['scaled', 'b'], ['lt']),
      node('Transpose', ['lt'], ['t1']),
      node('Identity', ['t1'], ['logits_per_image']),
    ],
    [tensor('onnx::Exp_3', f32(2.5), { floatData: true })],
  ));
  assert.deepEqual(siglipLogits(await readOnnxGraph(file)), { scale: Math.exp(2.5), bias: 0.25, via: 'graph' });
});

test('no such graph: the initializers named logit_scale and logit_bias, else nothing', async () => {
  const named = write('named.onnx', model([node('Relu', ['x'], ['logits_per_image'])], [tensor('logit_scale', f32(2)), tensor('logit_bias', f32(-3))]));
  assert.deepEqual(siglipLogits(await readOnnxGraph(named)), { scale: Math.exp(2), bias: -3, via: 'names' });
  const bare = write('bare.onnx', model([node('Mul', ['a', 'b'], ['logits_per_text'])], [tensor('logit_scale', f32(2)), tensor('w', Buffer.alloc(8), { dims: [2] })]));
  assert.equal(siglipLogits(await readOnnxGraph(bare)), undefined);
});

test('external data: the scalar read from its file at its offset; a location outside the folder refused', async () => {
  const data = Buffer.concat([Buffer.alloc(8, 0xee), f32(-7.25), f32(1.5)]);
  write('w.onnx_data', data);
  const file = write('ext.onnx', model(
    [node('Mul', ['mm', 's'], ['m']), node('Add', ['m', 'b'], ['logits_per_text'])],
    [tensor('s', { location: 'w.onnx_data', offset: 12 }), tensor('b', { location: 'w.onnx_data', offset: 8 })],
  ));
  assert.deepEqual(siglipLogits(await readOnnxGraph(file)), { scale: 1.5, bias: -7.25, via: 'graph' });
  const escape = write('escape.onnx', model([], [tensor('s', { location: '../etc/passwd', offset: 0 })]));
  await assert.rejects(readOnnxGraph(escape), (e: unknown) => isClipqlError(e) && e.code === ErrorCode.BAD_MODEL && /leaves the model's folder/.test(e.message));
});

test('not an ONNX model, or a cut one: BAD_MODEL naming the file', async () => {
  const whole = model([node('Add', ['a', 'b'], ['logits_per_text'])], [BIG]);
  for (const [name, b] of [['json.onnx', Buffer.from('{"not": "onnx"}')], ['cut.onnx', whole.subarray(0, whole.length - 1000)], ['empty.onnx', Buffer.alloc(0)]] as const) {
    const file = write(name, b);
    await assert.rejects(readOnnxGraph(file), (e: unknown) => isClipqlError(e) && e.code === ErrorCode.BAD_MODEL && e.message.startsWith(file), name);
  }
});

test('a seeded SiglipModel exported as optimum does (onnx/model.onnx), inline and in model.onnx_data: its logit_scale and logit_bias', async () => {
  const models = await siglipModels();
  const a = siglipModelAnswers(models, 'siglip-p16');
  for (const folder of ['siglip-p16-tjs', 'siglip-p16-tjs-ext']) {
    const l = siglipLogits(await readOnnxGraph(path.join(models, folder, 'onnx', 'model.onnx')));
    assert.ok(l, folder);
    assert.equal(l.via, 'graph');
    // float32 in the graph, transformers' values through .item() (float32 widened)
    assert.ok(Math.abs(l.scale - Math.exp(a.logit_scale)) < 1e-5 && Math.abs(l.bias - a.logit_bias) < 1e-6, `${folder}: ${JSON.stringify(l)} vs ${a.logit_scale}, ${a.logit_bias}`);
  }
  assert.equal(siglipLogits(await readOnnxGraph(path.join(models, 'siglip-p16-tjs', 'onnx', 'vision_model.onnx'))), undefined, 'a tower has no logits');
});
