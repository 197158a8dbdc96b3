/**
 * Trusted documents over real HTTP: a server started with CLIP_TRUSTED_DOCUMENTS set to the
 * committed manifest runs every operation of client/operations.ts sent by id (JSON and multipart
 * upload), Apollo's hash form, GET, and a manifest document sent as text; it refuses an ad-hoc
 * query with FORBIDDEN_DOCUMENT (403), an unknown id or hash with PERSISTED_QUERY_NOT_FOUND (400),
 * and never lets a client register a document (Apollo's automatic persisted queries are off).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClassifyDocument, EmbedCaptionsDocument, EmbedImagesDocument, ServiceInfoDocument, SimilarityDocument } from '../../client/operations';
import { GraphQLRequestError, request, type Endpoint } from '../../client/request';
import { TrustedDocuments } from '../../src/access/trusted-documents';
import { REPO_ROOT } from '../../src/paths';
import type { Service } from '../../src/server/service';
import { startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';

const MANIFEST = path.join(REPO_ROOT, 'client', 'gql', 'persisted-documents.json');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('with CLIP_TRUSTED_DOCUMENTS', () => {
  let service: Service;
  let byId: Endpoint;
  before(async () => {
    service = await startTestService({ CLIP_TRUSTED_DOCUMENTS: MANIFEST });
    byId = { url: `${service.url}/graphql`, documents: 'id' };
  });
  after(async () => {
    await service?.stop();
  });

  test('an ad-hoc query is refused with FORBIDDEN_DOCUMENT (403), before it runs', async () => {
    const r = await post(service.url, { query: '{ models { name } }' });
    assert.equal(r.status, 403);
    assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN_DOCUMENT');
    assert.equal(r.body.data, undefined);
    // Not even a syntax error gets through to be parsed by Apollo.
    const junk = await post(service.url, { query: '{ models { name }' });
    assert.equal(junk.status, 403);
    assert.equal(junk.body.errors[0].extensions.code, 'FORBIDDEN_DOCUMENT');
  });

  test('unknown ids and hashes get PERSISTED_QUERY_NOT_FOUND (400)', async () => {
    for (const body of [{ documentId: `sha256:${sha('nope')}` }, { extensions: { persistedQuery: { version: 1, sha256Hash: sha('nope') } } }, { documentId: 'not-a-hash' }]) {
      const r = await post(service.url, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
    }
  });

  test('no client can register a document: Apollo\'s hash + query registration is refused, and the hash stays unknown', async () => {
    const query = '{ models { name } }';
    const register = await post(service.url, { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha(query) } } });
    assert.equal(register.status, 403);
    assert.equal(register.body.errors[0].extensions.code, 'FORBIDDEN_DOCUMENT');
    const again = await post(service.url, { extensions: { persistedQuery: { version: 1, sha256Hash: sha(query) } } });
    assert.equal(again.body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
  });

  test('every operation of client/operations.ts runs by id through the typed client, uploads included', async () => {
    const items = notebook().slice(0, 2);
    const images = items.map((it) => ({ base64: readFileSync(it.path).toString('base64') }));
    const captions = items.map((it) => `It is ${it.caption}`);
    const sim = await request(byId, SimilarityDocument, { images, captions });
    assert.equal(sim.similarity.scores.length, 2);
    const cls = await request(byId, ClassifyDocument, { image: images[0], labels: ['cat', 'dog'] });
    assert.deepEqual(cls.classify.labels.map((l) => l.rank), [1, 2]);
    const emb = await request(byId, EmbedImagesDocument, { images: [images[0]] });
    assert.equal(emb.embedImages[0].sha256, sha256Of(items[0].path));
    const cap = await request(byId, EmbedCaptionsDocument, { captions: [captions[0]] });
    assert.equal(cap.embedCaptions[0].tokens.length, 77);
    const info = await request(byId, ServiceInfoDocument);
    assert.equal(info.models.length, 1);
    // A multipart upload names its document by id in the operations part.
    const file = new Blob([readFileSync(items[1].path)], { type: 'image/png' });
    const up = await request(byId, EmbedImagesDocument, { images: [{ file }] });
    assert.equal(up.embedImages[0].sha256, sha256Of(items[1].path));
    // The same scores as the matrix: the operation really ran.
    const dot = cap.embedCaptions[0].embedding.reduce((s, v, i) => s + v * emb.embedImages[0].embedding[i], 0);
    assert.ok(Math.abs(dot - sim.similarity.scores[0][0]) < 1e-5);
  });

  test('the same operations sent as text (the source, not the manifest\'s normalised form) run too', async () => {
    const info = await request(`${service.url}/graphql`, ServiceInfoDocument);
    assert.equal(info.backends[0].name, 'onnx');
  });

  test('Apollo\'s persistedQuery hash and GET with documentId run manifest documents', async () => {
    const hex = ServiceInfoDocument.__meta__!.hash.slice('sha256:'.length);
    const r = await post(service.url, { extensions: { persistedQuery: { version: 1, sha256Hash: hex } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.models.length, 1);
    const res = await fetch(`${service.url}/graphql?documentId=${encodeURIComponent(ServiceInfoDocument.__meta__!.hash)}`, { headers: { 'apollo-require-preflight': 'true' } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.data.models.length, 1);
    const adhoc = await fetch(`${service.url}/graphql?query=${encodeURIComponent('{ models { name } }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    assert.equal(adhoc.status, 403);
  });

  test('a request that names its document twice is refused', async () => {
    const r = await post(service.url, { documentId: ServiceInfoDocument.__meta__!.hash, query: '{ models { name } }' });
    assert.equal(r.status, 400);
    assert.equal(r.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  });
});

describe('without CLIP_TRUSTED_DOCUMENTS', () => {
  let service: Service;
  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service?.stop();
  });

  test('ad-hoc queries run, and an id-sending client is told so by Apollo', async () => {
    const r = await post(service.url, { query: '{ models { name } }' });
    assert.equal(r.status, 200);
    assert.equal(r.body.data.models.length, 1);
    await assert.rejects(request({ url: `${service.url}/graphql`, documents: 'id' }, ServiceInfoDocument), (e: unknown) => e instanceof GraphQLRequestError && e.status === 400);
  });
});

describe('the manifest file', () => {
  test('a document that does not hash to its id fails at load, naming the entry', () => {
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
    const [id] = Object.keys(manifest);
    assert.equal(TrustedDocuments.parse(JSON.stringify(manifest)).size, Object.keys(manifest).length);
    manifest[id] = manifest[id].replace('{', '{ __typename ');
    assert.throws(() => TrustedDocuments.parse(JSON.stringify(manifest), 'm.json'), (e: Error) => e.message.includes(id) && e.message.includes('does not hash'));
    assert.throws(() => TrustedDocuments.parse('{}'), /no documents/);
    assert.throws(() => TrustedDocuments.parse('[1]'), /expected an object/);
  });

  test('a server does not start on a missing manifest', async () => {
    await assert.rejects(startTestService({ CLIP_TRUSTED_DOCUMENTS: path.join(REPO_ROOT, 'no-such-manifest.json') }), /CLIP_TRUSTED_DOCUMENTS: cannot read/);
  });
});

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
