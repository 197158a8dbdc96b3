/**
 * Image uploads (GraphQL multipart request spec) over a real HTTP server: the same embeddings as
 * the base64 JSON path for the same bytes, the typed client's Blob path, and every malformed
 * request answered with its code while the server stays up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { EmbedImagesDocument, SimilarityDocument } from '../../client/operations';
import { request } from '../../client/request';
import type { Service } from '../../src/server/service';
import { gql, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';

const EMBED = 'query($i:[ImageInput!]!){embedImages(images:$i){sha256 embedding}}';
const MAX_IMAGE_BYTES = 2_000_000;

let service: Service;
before(async () => {
  service = await startTestService({ CLIP_MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES), CLIP_MAX_IMAGES: '4' });
});
after(async () => {
  await service?.stop();
});

interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
}

/** A multipart/form-data body written out by hand, independent of the client under test. */
function multipart(parts: Part[], boundary = 'clipql-test-boundary-7d1f'): { body: Buffer; type: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    const type = p.filename !== undefined ? '\r\nContent-Type: application/octet-stream' : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

async function post(parts: Part[], headers: Record<string, string> = { 'apollo-require-preflight': 'true' }, raw?: { body: Buffer; type: string }) {
  const { body, type } = raw ?? multipart(parts);
  const res = await fetch(`${service.url}/graphql`, { method: 'POST', headers: { 'content-type': type, ...headers }, body: new Uint8Array(body) });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> } };
}

const ops = (variables: unknown, query = EMBED) => ({ name: 'operations', value: JSON.stringify({ query, variables }) });
const map = (m: unknown) => ({ name: 'map', value: JSON.stringify(m) });

describe('multipart uploads', () => {
  test('a file part gives exactly the embedding of the same bytes sent as base64', async () => {
    const items = notebook().slice(0, 2);
    const bytes = items.map((it) => readFileSync(it.path));
    const up = await post([ops({ i: [{ file: null }, { file: null }] }), map({ a: ['variables.i.0.file'], b: ['variables.i.1.file'] }), { name: 'a', value: bytes[0], filename: 'a.png' }, { name: 'b', value: bytes[1], filename: 'b.jpg' }]);
    assert.equal(up.status, 200, JSON.stringify(up.body.errors));
    const b64 = await gql(service.url, EMBED, { i: bytes.map((b) => ({ base64: b.toString('base64') })) });
    assert.deepEqual(up.body.data.embedImages, b64.body.data.embedImages);
    assert.notDeepEqual(up.body.data.embedImages[0].embedding, up.body.data.embedImages[1].embedding);
  });

  test('one file mapped to two places is read once and used twice', async () => {
    const bytes = readFileSync(notebook()[2].path);
    const r = await post([ops({ i: [{ file: null }, { file: null }] }), map({ 0: ['variables.i.0.file', 'variables.i.1.file'] }), { name: '0', value: bytes, filename: 'x' }]);
    assert.equal(r.status, 200, JSON.stringify(r.body.errors));
    assert.deepEqual(r.body.data.embedImages[0], r.body.data.embedImages[1]);
  });

  test('the typed client sends Blob images as a multipart upload, with the same matrix as base64', async () => {
    const items = notebook().slice(0, 3);
    const bytes = items.map((it) => readFileSync(it.path));
    const captions = items.map((it) => `It is ${it.caption}`);
    const endpoint = `${service.url}/graphql`;
    const variables = { images: bytes.map((b, i) => ({ file: new File([b], `img-${i}.png`) })), captions };
    const viaUpload = await request(endpoint, SimilarityDocument, variables);
    assert.ok(variables.images[0].file instanceof File, 'the caller\'s variables are left as they were');
    const viaJson = await request(endpoint, SimilarityDocument, { images: bytes.map((b) => ({ base64: b.toString('base64') })), captions });
    assert.deepEqual(viaUpload.similarity.scores, viaJson.similarity.scores);
    assert.deepEqual(viaUpload.similarity.images, viaJson.similarity.images);
    const [e] = (await request(endpoint, EmbedImagesDocument, { images: [{ file: new Blob([bytes[0]]) }] })).embedImages;
    assert.equal(e.sha256, viaJson.similarity.images[0].sha256);
  });

  test('without a preflight header Apollo\'s CSRF prevention refuses the upload', async () => {
    const r = await post([ops({ i: [{ file: null }] }), map({ 0: ['variables.i.0.file'] }), { name: '0', value: readFileSync(notebook()[0].path), filename: 'x' }], {});
    assert.equal(r.status, 400);
    assert.match(r.body.errors![0].message, /CSRF/);
  });

  const png = () => readFileSync(notebook()[0].path);
  const cases: Array<[string, () => Parameters<typeof post>, number, string, RegExp]> = [
    ['no boundary in the content-type', () => [[], undefined, { body: Buffer.from('x'), type: 'multipart/form-data' }], 400, 'BAD_USER_INPUT', /multipart/],
    ['map before operations', () => [[map({ 0: ['variables.i.0.file'] }), ops({ i: [{ file: null }] })]], 400, 'BAD_USER_INPUT', /first part must be the operations field/],
    ['operations not JSON', () => [[{ name: 'operations', value: '{nope' }, map({})]], 400, 'BAD_USER_INPUT', /not valid JSON/],
    ['no map', () => [[ops({ i: [{ file: null }] })]], 400, 'BAD_USER_INPUT', /no map field/],
    ['a map entry that is not a list', () => [[ops({ i: [{ file: null }] }), map({ 0: 'variables.i.0.file' })]], 400, 'BAD_USER_INPUT', /non-empty array/],
    ['the map names a missing file', () => [[ops({ i: [{ file: null }] }), map({ 0: ['variables.i.0.file'] })]], 400, 'BAD_USER_INPUT', /does not have/],
    ['a file the map does not name', () => [[ops({ i: [{ file: null }] }), map({ 0: ['variables.i.0.file'] }), { name: '0', value: png(), filename: 'a' }, { name: '9', value: png(), filename: 'b' }]], 400, 'BAD_USER_INPUT', /not in the map/],
    ['a path outside variables', () => [[ops({ i: [{ file: null }] }), map({ 0: ['query'] }), { name: '0', value: png(), filename: 'a' }]], 400, 'BAD_USER_INPUT', /into variables/],
    ['a path to a non-null value', () => [[ops({ i: [{ file: 'x' }] }), map({ 0: ['variables.i.0.file'] }), { name: '0', value: png(), filename: 'a' }]], 400, 'BAD_USER_INPUT', /must hold null/],
    ['a path through __proto__', () => [[ops({ i: [{ file: null }] }), map({ 0: ['variables.__proto__.polluted'] }), { name: '0', value: png(), filename: 'a' }]], 400, 'BAD_USER_INPUT', /does not exist/],
    ['a file over the image limit', () => [[ops({ i: [{ file: null }] }), map({ 0: ['variables.i.0.file'] }), { name: '0', value: Buffer.alloc(MAX_IMAGE_BYTES + 1), filename: 'big' }]], 413, 'IMAGE_TOO_LARGE', /larger than the limit/],
    ['more files than images allowed', () => [[ops({ i: [0, 1, 2, 3, 4].map(() => ({ file: null })) }), map(Object.fromEntries([0, 1, 2, 3, 4].map((k) => [k, [`variables.i.${k}.file`]]))), ...[0, 1, 2, 3, 4].map((k) => ({ name: String(k), value: png(), filename: 'a' }))]], 400, 'TOO_MANY_INPUTS', /more than 4 files/],
    ['an empty file', () => [[ops({ i: [{ file: null }] }), map({ 0: ['variables.i.0.file'] }), { name: '0', value: Buffer.alloc(0), filename: 'a' }]], 200, 'BAD_IMAGE', /empty/],
    ['a file that is not an image', () => [[ops({ i: [{ file: null }] }), map({ 0: ['variables.i.0.file'] }), { name: '0', value: Buffer.from('hello, world'), filename: 'a' }]], 200, 'BAD_IMAGE', /./],
    ['a file and base64 in one image', () => [[ops({ i: [{ file: null, base64: 'AAAA' }] }), map({ 0: ['variables.i.0.file'] }), { name: '0', value: png(), filename: 'a' }]], 200, 'BAD_USER_INPUT', /exactly one of file, base64 and url/],
  ];
  for (const [name, args, status, code, message] of cases) {
    test(`refused with ${code}: ${name}`, async () => {
      const r = await post(...args());
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.errors?.[0]?.extensions?.code, code, JSON.stringify(r.body));
      assert.match(r.body.errors![0].message, message);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  test('an Upload in a JSON request or in the query text is refused with BAD_USER_INPUT', async () => {
    const asVariable = await gql(service.url, EMBED, { i: [{ file: 'aGVsbG8=' }] });
    assert.equal(asVariable.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(asVariable.body.errors![0].message, /multipart/);
    const inQuery = await gql(service.url, '{ embedImages(images: [{ file: "x" }]) { sha256 } }');
    assert.ok(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED'].includes(inQuery.body.errors?.[0]?.extensions?.code), JSON.stringify(inQuery.body));
  });

  test('the server still answers after every refusal', async () => {
    const r = await gql(service.url, '{ models { name } }');
    assert.equal(r.status, 200);
  });
});

test('JSON bodies: ASCII (decoded as latin1) and UTF-8 captions read the same', async () => {
  const q = 'query($c:[String!]!){embedCaptions(captions:$c){text tokens}}';
  const r = await gql(service.url, q, { c: ['a café with a ☕ and 🐈', 'plain ascii'] });
  assert.equal(r.status, 200, JSON.stringify(r.body.errors));
  assert.equal(r.body.data.embedCaptions[0].text, 'a café with a ☕ and 🐈');
  assert.equal(r.body.data.embedCaptions[1].text, 'plain ascii');
});
