/**
 * The official `openai` npm client against a real clipql server on 127.0.0.1 (baseURL .../v1),
 * with API keys on (the client sends its apiKey as `Authorization: Bearer`). Its embeddings equal
 * GraphQL's embedCaptions / embedImages (normalised, their default) within 1e-6, for captions and
 * for an image data URI, in both encodings; and the PyTorch reference within 1e-4.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import type { Service } from '../../src/server/service';
import { tinyReference } from '../helpers/reference';
import { startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';

const KEY = 'sk-clipql-test-5d1f0c';
const dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-openai-'));
let service: Service;
let client: OpenAI;
let model: string;
/** Every JSON body the client sent, to see which encoding it asked for. */
const sent: Array<Record<string, unknown>> = [];

before(async () => {
  writeFileSync(path.join(dir, 'keys'), `tests:${createHash('sha256').update(KEY).digest('hex')}\n`);
  // CLIP_MAX_CAPTIONS=8: the same limits as GraphQL apply (a test below sends 9).
  service = await startTestService({ CLIP_API_KEYS_FILE: path.join(dir, 'keys'), CLIP_MAX_CAPTIONS: '8' });
  client = new OpenAI({
    apiKey: KEY,
    baseURL: `${service.url}/v1`,
    maxRetries: 0,
    fetch: async (url: string | URL | Request, init?: RequestInit) => {
      if (typeof init?.body === 'string') sent.push(JSON.parse(init.body) as Record<string, unknown>);
      return fetch(url, init);
    },
  });
  model = (await gqlWithKey('{ models { name } }')).models[0].name;
});
after(async () => {
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function gqlWithKey(query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(`${service.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

function assertWithin(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

const normalised = (v: number[]) => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
};

test('GET /v1/models lists the served model', async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), [model]);
  assert.equal(page.data[0].object, 'model');
});

test('captions: the client\'s embeddings (base64 by default, float when asked) equal embedCaptions\' within 1e-6', async () => {
  const captions = notebook().map((n) => `It is ${n.caption}`);
  const graphql = (await gqlWithKey('query($c: [String!]!) { embedCaptions(captions: $c) { embedding tokens } }', { c: captions })).embedCaptions as Array<{ embedding: number[]; tokens: number[] }>;
  sent.length = 0;
  const viaDefault = await client.embeddings.create({ model, input: captions });
  assert.equal(sent[0].encoding_format, 'base64', 'the client asked for base64 (its default)');
  const viaFloat = await client.embeddings.create({ model, input: captions, encoding_format: 'float' });
  for (const r of [viaDefault, viaFloat]) {
    assert.equal(r.model, model);
    assert.deepEqual(r.data.map((d) => d.index), captions.map((_, i) => i));
    r.data.forEach((d, i) => assertWithin(d.embedding, graphql[i].embedding, 1e-6, `caption ${i}`));
  }
  // CLIP tokens read, start and end included, as GraphQL's token ids show them.
  assert.equal(viaFloat.usage.prompt_tokens, graphql.reduce((n, c) => n + c.tokens.filter((t) => t !== 0).length, 0));
  // And the PyTorch reference, normalised (embeddings agree within 1e-4, docs/exactness.md).
  const ref = tinyReference();
  captions.forEach((c, i) => {
    const j = ref.texts.indexOf(c);
    assert.ok(j >= 0, c);
    assertWithin(viaDefault.data[i].embedding, normalised(ref.text_embeds[j]), 1e-4, `reference caption ${i}`);
  });
  // One string is one input.
  const one = await client.embeddings.create({ model, input: captions[0], encoding_format: 'float' });
  assertWithin(one.data[0].embedding, graphql[0].embedding, 1e-6, 'single string');
});

test('an image data URI (modality: "image") equals embedImages\' within 1e-6', async () => {
  const items = notebook().slice(0, 3);
  const base64 = items.map((it) => readFileSync(it.path).toString('base64'));
  const graphql = (await gqlWithKey('query($i: [ImageInput!]!) { embedImages(images: $i) { embedding } }', { i: base64.map((b) => ({ base64: b })) })).embedImages as Array<{ embedding: number[] }>;
  const input = items.map((it, i) => `data:image/${path.extname(it.file).slice(1) === 'jpg' ? 'jpeg' : 'png'};base64,${base64[i]}`);
  // `modality` is Infinity's field, not in the client's types: sent as an extra body field.
  const params = { model, input, modality: 'image' } as OpenAI.EmbeddingCreateParams;
  const viaDefault = await client.embeddings.create(params);
  const viaFloat = await client.embeddings.create({ ...params, encoding_format: 'float' });
  for (const r of [viaDefault, viaFloat]) r.data.forEach((d, i) => assertWithin(d.embedding, graphql[i].embedding, 1e-6, `image ${i}`));
  assert.equal(viaFloat.usage.prompt_tokens, 0);
  const ref = tinyReference();
  items.forEach((it, i) => assertWithin(viaFloat.data[i].embedding, normalised(ref.image_embeds[ref.images.findIndex((r) => r.file === it.file)]), 1e-4, `reference image ${i}`));
});

test('base64 is little-endian float32 of the float answer', async () => {
  const body = (e: string) => JSON.stringify({ model, input: ['a tabby cat'], encoding_format: e });
  const post = async (e: string) => (await (await fetch(`${service.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: body(e) })).json()) as any;
  const floats = (await post('float')).data[0].embedding as number[];
  const bytes = Buffer.from((await post('base64')).data[0].embedding as string, 'base64');
  assert.equal(bytes.length, floats.length * 4);
  floats.forEach((v, i) => assert.equal(bytes.readFloatLE(i * 4), v, `float ${i}`));
});

test('errors come as OpenAI error objects with clipql\'s code, and the client maps their status', async () => {
  const refused = async (params: Record<string, unknown>, status: number, code: string, param?: string | null) => {
    await assert.rejects(client.embeddings.create({ model, input: 'x', ...params } as unknown as OpenAI.EmbeddingCreateParams), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, status, e.message);
      assert.equal(e.code, code);
      if (param !== undefined) assert.equal(e.param, param);
      return true;
    });
  };
  await refused({ model: 'text-embedding-3-small' }, 404, 'MODEL_NOT_FOUND', 'model');
  await refused({ input: [[1, 2, 3]] }, 400, 'BAD_USER_INPUT', 'input[0]');
  await refused({ input: 'x', encoding_format: 'int8' }, 400, 'BAD_USER_INPUT', 'encoding_format');
  await refused({ input: Array.from({ length: 9 }, (_, i) => `caption ${i}`) }, 400, 'TOO_MANY_INPUTS');
  await refused({ input: ['data:image/png;base64,AAAA'], modality: 'image' }, 400, 'BAD_IMAGE', 'input[0]');
  // URL inputs go through the same SSRF rules as GraphQL's.
  await refused({ input: ['http://127.0.0.1:1/cat.png'], modality: 'image' }, 400, 'FETCH_FAILED', 'input[0]');
  await refused({ input: ['cat.png'], modality: 'image' }, 400, 'BAD_USER_INPUT', 'input[0]');
  const wrongKey = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${service.url}/v1`, maxRetries: 0 });
  await assert.rejects(wrongKey.embeddings.create({ model, input: 'x' }), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.code === 'UNAUTHENTICATED');
});

test('the same cache as GraphQL: a caption embedded through /v1 is a cache hit for embedCaptions', async () => {
  const hits = async () => Number(/clipql_cache_hits\{model="tiny-clip-336",backend="onnx",tower="text"\} (\d+)/.exec(await (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text())![1]);
  const caption = `a caption seen once ${Date.now()}`;
  await client.embeddings.create({ model, input: caption, encoding_format: 'float' });
  const before = await hits();
  await gqlWithKey('query($c: [String!]!) { embedCaptions(captions: $c) { embedding } }', { c: [caption] });
  assert.equal(await hits(), before + 1);
  // /v1 answers are counted by route and outcome.
  const metrics = await (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
  assert.match(metrics, /clipql_openai_requests_total\{route="\/v1\/embeddings",outcome="ok"\} \d+/);
  assert.match(metrics, /clipql_openai_requests_total\{route="\/v1\/embeddings",outcome="MODEL_NOT_FOUND"\} 1/);
});

