/**
 * Key scopes over real HTTP (CLIP_API_KEYS_FILE with actions=, collections=, expires=): a read key
 * searches its collection and is refused (403 FORBIDDEN) elsewhere, with nothing changed in the
 * store and no image charged; a write key adds but cannot drop; a query mixing allowed and
 * forbidden fields is refused whole; an expired key is 401; the listing shows a key's collections
 * only; /v1 needs read and /metrics metrics or admin. What the store holds is read from the store
 * itself (service.store), not through the API under test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isObjectType } from 'graphql';
import { CreateCollectionDocument, SearchDocument } from '../../client/operations';
import { GraphQLRequestError, request } from '../../client/request';
import { ApiKeys } from '../../src/access/api-keys';
import { REPO_ROOT } from '../../src/paths';
import { buildClipSchema } from '../../src/schema/build';
import { FIELD_SCOPES } from '../../src/schema/field-scopes';
import type { Service } from '../../src/server/service';
import { runIndex } from '../helpers/index-run';
import { freshPgliteDir } from '../helpers/pglite';
import { gql, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';

const KEYS = { root: 'sk-root-1c9e', web: 'sk-web-7d21', indexer: 'sk-indexer-5a0f', team: 'sk-team-93b4', old: 'sk-old-2e6c', prom: 'sk-prom-44d8' };
const hex = (key: string) => createHash('sha256').update(key).digest('hex');
const keyLine = (name: string, key: string, fields = '') => `${name}:${hex(key)}${fields ? `:${fields}` : ''}`;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

const png = (i: number) => readFileSync(notebook()[i].path).toString('base64');
const ADD = 'mutation($c: String!, $i: [ImageInput!]!, $ids: [ID!]!) { addImages(collection: $c, images: $i, ids: $ids) { count } }';
const SEARCH = 'query($c: String!) { search(collection: $c, text: "a cat", k: 5) { hits { id } } }';

describe('scoped keys', () => {
  let dir: string;
  let storeDir: string;
  let service: Service;
  const count = async (c: string) => (await service.store.get()).count(c);
  const names = async () => (await (await service.store.get()).collections()).map((c) => c.name);

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-scopes-'));
    storeDir = await freshPgliteDir('clipql-scopes-store-');
    const keysFile = path.join(dir, 'keys');
    writeFileSync(
      keysFile,
      [
        keyLine('root', KEYS.root),
        keyLine('web', KEYS.web, 'actions=read,collections=photos'),
        keyLine('indexer', KEYS.indexer, 'requests=0,actions=read+write,collections=photos+idx-*'),
        keyLine('team', KEYS.team, 'actions=read,collections=team-*'),
        keyLine('old', KEYS.old, 'actions=read,expires=2020-01-01T00:00:00Z'),
        keyLine('prom', KEYS.prom, 'actions=metrics'),
      ].join('\n'),
    );
    service = await startTestService({ CLIP_API_KEYS_FILE: keysFile, CLIP_STORE: storeDir });
    for (const c of ['photos', 'other', 'team-a']) {
      const r = await gql(service.url, 'mutation($n: String!) { createCollection(name: $n) { name } }', { n: c }, auth(KEYS.root));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    for (const [c, i] of [['photos', 0], ['photos', 1], ['other', 2]] as const) {
      const r = await gql(service.url, ADD, { c, i: [{ base64: png(i) }], ids: [`img${i}`] }, auth(KEYS.root));
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    }
  });
  after(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  });

  const forbidden = (r: { status: number; body: { data?: unknown; errors?: any[] } }, missing: { actions?: string[]; collections?: string[] }) => {
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.data, undefined, 'nothing ran: no data');
    assert.equal(r.body.errors?.length, 1);
    const e = r.body.errors![0];
    assert.equal(e.extensions.code, 'FORBIDDEN');
    assert.deepEqual(e.extensions.actions, missing.actions);
    assert.deepEqual(e.extensions.collections, missing.collections);
    for (const name of [...(missing.actions ?? []), ...(missing.collections ?? [])]) assert.ok(e.message.includes(name), `the message names ${name}: ${e.message}`);
  };

  test('a read key searches its collection (200) and is refused on another, on addImages and on dropCollection, with nothing changed', async () => {
    const ok = await gql(service.url, SEARCH, { c: 'photos' }, auth(KEYS.web));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.data.search.hits.map((h: { id: string }) => h.id).sort(), ['img0', 'img1']);

    forbidden(await gql(service.url, SEARCH, { c: 'other' }, auth(KEYS.web)), { collections: ['other'] });
    // The same with the name in the document, behind a fragment.
    forbidden(await gql(service.url, '{ ...F } fragment F on Query { search(collection: "other", text: "x") { hits { id } } }', {}, auth(KEYS.web)), { collections: ['other'] });
    forbidden(await gql(service.url, ADD, { c: 'photos', i: [{ base64: png(3) }], ids: ['new'] }, auth(KEYS.web)), { actions: ['write'] });
    forbidden(await gql(service.url, 'mutation { dropCollection(name: "photos") }', {}, auth(KEYS.web)), { actions: ['admin'] });
    forbidden(await gql(service.url, 'mutation { createCollection(name: "photos2") { name } }', {}, auth(KEYS.web)), { actions: ['write'] });

    assert.equal(await count('photos'), 2);
    assert.deepEqual(await names(), ['other', 'photos', 'team-a']);
    // Refused before any work: the image of the refused addImages was never charged to the key.
    const metrics = await service.metrics.registry.metrics();
    assert.doesNotMatch(metrics, /clipql_api_images_total\{key="web"/);
  });

  test('a query mixing allowed and forbidden fields is refused whole', async () => {
    forbidden(await gql(service.url, '{ models { name } a: search(collection: "photos", text: "x") { hits { id } } b: search(collection: "other", text: "x") { hits { id } } }', {}, auth(KEYS.web)), { collections: ['other'] });
    // A write key's mutation that adds (allowed) and drops (not): the add does not happen either.
    forbidden(await gql(service.url, 'mutation($i: [ImageInput!]!) { addImages(collection: "photos", images: $i, ids: ["mixed"]) { count } dropCollection(name: "other") }', { i: [{ base64: png(4) }] }, auth(KEYS.indexer)), { actions: ['admin'] });
    assert.equal(await count('photos'), 2);
    assert.deepEqual(await names(), ['other', 'photos', 'team-a']);
  });

  test('a write key adds and deletes in its collection but cannot drop it, nor write elsewhere', async () => {
    const add = await gql(service.url, ADD, { c: 'photos', i: [{ base64: png(5) }], ids: ['img5'] }, auth(KEYS.indexer));
    assert.equal(add.status, 200, JSON.stringify(add.body));
    assert.equal(add.body.data.addImages.count, 3);
    assert.equal(await count('photos'), 3);
    forbidden(await gql(service.url, 'mutation { dropCollection(name: "photos") }', {}, auth(KEYS.indexer)), { actions: ['admin'] });
    forbidden(await gql(service.url, ADD, { c: 'other', i: [{ base64: png(5) }], ids: ['x'] }, auth(KEYS.indexer)), { collections: ['other'] });
    const del = await gql(service.url, 'mutation { deleteItems(collection: "photos", ids: ["img5"]) { count } }', {}, auth(KEYS.indexer));
    assert.equal(del.body.data?.deleteItems.count, 2, JSON.stringify(del.body));
    assert.deepEqual(await names(), ['other', 'photos', 'team-a']);
    assert.equal(await count('other'), 1);
  });

  test('an expired key is 401 UNAUTHENTICATED', async () => {
    const r = await gql(service.url, '{ models { name } }', {}, auth(KEYS.old));
    assert.equal(r.status, 401);
    assert.equal(r.body.errors?.[0].extensions.code, 'UNAUTHENTICATED');
    assert.match(r.body.errors![0].message, /expired/);
  });

  test('the listing shows only the key\'s collections (names and prefixes)', async () => {
    const list = async (key: string) => (await gql(service.url, '{ collections { name count } }', {}, auth(key))).body.data.collections.map((c: { name: string }) => c.name);
    assert.deepEqual(await list(KEYS.web), ['photos']);
    assert.deepEqual(await list(KEYS.team), ['team-a']);
    assert.deepEqual(await list(KEYS.root), ['other', 'photos', 'team-a']);
  });

  test('/v1 needs read; /metrics needs metrics or admin (no key: 401)', async () => {
    const v1 = (key: string) => fetch(`${service.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth(key) }, body: JSON.stringify({ input: 'a cat' }) });
    assert.equal((await v1(KEYS.web)).status, 200);
    const refused = await v1(KEYS.prom);
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as { error: { code: string; type: string } };
    assert.deepEqual([body.error.code, body.error.type], ['FORBIDDEN', 'permission_error']);
    const metrics = (headers: Record<string, string>) => fetch(`${service.url}/metrics`, { headers });
    assert.equal((await metrics({})).status, 401);
    assert.equal((await metrics(auth(KEYS.web))).status, 403);
    assert.equal((await metrics(auth(KEYS.prom))).status, 200);
    assert.equal((await metrics(auth(KEYS.root))).status, 200);
    for (const route of ['/healthz', '/healthz/live', '/healthz/ready']) assert.equal((await fetch(`${service.url}${route}`)).status, 200, route);
  });

  test('clipql index --server: the indexer key (read+write on idx-*) creates and fills its collection; the read key is refused, nothing stored', async () => {
    const folder = path.join(dir, 'photos');
    mkdirSync(folder);
    for (const i of [6, 7]) copyFileSync(notebook()[i].path, path.join(folder, notebook()[i].file));
    const run = await runIndex([folder, '--collection', 'idx-run', '--api-key', KEYS.indexer], ['--server', service.url]);
    assert.equal(run.code, 0, run.err);
    assert.equal(run.result.stored, 2);
    assert.equal(await count('idx-run'), 2);
    for (const collection of ['photos', 'idx-web']) {
      const refused = await runIndex([folder, '--collection', collection, '--api-key', KEYS.web], ['--server', service.url]);
      assert.equal(refused.code, 1, refused.err);
      assert.match(refused.err, /FORBIDDEN.*the action write/);
    }
    assert.equal(await count('photos'), 2);
    assert.ok(!(await names()).includes('idx-web'));
  });
});

test('with trusted documents and rate limits: scopes apply to trusted operations, and a refused request spends its token', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-scopes-trusted-'));
  const storeDir = await freshPgliteDir('clipql-scopes-trusted-store-');
  writeFileSync(path.join(dir, 'keys'), [keyLine('root', KEYS.root), keyLine('web', KEYS.web, 'requests=4,actions=read,collections=photos')].join('\n'));
  const service = await startTestService({ CLIP_API_KEYS_FILE: path.join(dir, 'keys'), CLIP_STORE: storeDir, CLIP_TRUSTED_DOCUMENTS: path.join(REPO_ROOT, 'client', 'gql', 'persisted-documents.json') });
  const endpoint = (key: string) => ({ url: `${service.url}/graphql`, documents: 'id' as const, headers: auth(key) });
  const refused = (status: number, code: string) => (e: unknown) => e instanceof GraphQLRequestError && e.status === status && e.errors[0].extensions?.code === code;
  try {
    await request(endpoint(KEYS.root), CreateCollectionDocument, { name: 'photos' });
    // The web key's four requests a minute: each of these spends one, refused or not.
    const found = await request(endpoint(KEYS.web), SearchDocument, { collection: 'photos', text: 'a cat' });
    assert.deepEqual(found.search.hits, []);
    await assert.rejects(request(endpoint(KEYS.web), CreateCollectionDocument, { name: 'photos2' }), refused(403, 'FORBIDDEN'));
    await assert.rejects(request(endpoint(KEYS.web), SearchDocument, { collection: 'other', text: 'a cat' }), refused(403, 'FORBIDDEN'));
    // Not a trusted document: refused as before, whatever the key may do.
    assert.equal((await gql(service.url, '{ models { name } }', {}, auth(KEYS.web))).body.errors?.[0].extensions.code, 'FORBIDDEN_DOCUMENT');
    await assert.rejects(request(endpoint(KEYS.web), SearchDocument, { collection: 'photos', text: 'a cat' }), refused(429, 'RATE_LIMITED'));
    assert.deepEqual((await (await service.store.get()).collections()).map((c) => c.name), ['photos']);
  } finally {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  }
});

test('every root field of the schema has a declared scope, and the table names no other', () => {
  const schema = buildClipSchema();
  const fields = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) => (t && isObjectType(t) ? Object.keys(t.getFields()).map((f) => `${t.name}.${f}`) : []));
  assert.deepEqual(fields.filter((f) => !(f in FIELD_SCOPES)), [], 'root fields without a scope in src/schema/field-scopes.ts');
  assert.deepEqual(Object.keys(FIELD_SCOPES).filter((f) => !fields.includes(f)), [], 'scopes of fields the schema does not have');
  for (const [field, scope] of Object.entries(FIELD_SCOPES)) {
    if (scope.collection === undefined) continue;
    const [type, name] = field.split('.');
    const args = (schema.getType(type) as import('graphql').GraphQLObjectType).getFields()[name].args.map((a) => a.name);
    assert.ok(args.includes(scope.collection), `${field} has no argument ${scope.collection}`);
  }
});

test('the keys file grammar: scopes parsed, mistakes named with their line', () => {
  const h = hex('k');
  const [key] = ApiKeys.parse(`a:${h}:images=3,actions=read+write,collections=photos+web-*,expires=2027-01-01T12:30:00+02:00`).list();
  assert.deepEqual([...key.scopes.actions], ['read', 'write']);
  assert.equal(key.scopes.explicit, true);
  assert.deepEqual(key.scopes.collections, ['photos', 'web-*']);
  assert.equal(key.scopes.expiresAt, Date.UTC(2027, 0, 1, 10, 30));
  assert.deepEqual(key.limits, { imagesPerMinute: 3 });
  const [plain] = ApiKeys.parse(`b:${h}`).list();
  assert.equal(plain.scopes.explicit, false);
  assert.deepEqual([...plain.scopes.actions].sort(), ['admin', 'metrics', 'read', 'write']);
  assert.equal(ApiKeys.parse(`c:${h}:expires=2027-03-01`).list()[0].scopes.expiresAt, Date.UTC(2027, 2, 1));
  for (const [fields, why] of [
    ['actions=read+delete', /unknown action "delete"/],
    ['actions=', /unknown action ""/],
    ['collections=photos+*x', /bad collection "\*x"/],
    ['collections=a b', /bad collection/],
    ['expires=2027-02-31', /bad expiry/],
    ['expires=2027-01-01T12:00:00', /bad expiry/],
    ['actions=read,actions=write', /actions is given twice/],
    ['colour=red', /unknown field "colour=red"/],
    ['requests=x', /bad limit "requests=x"/],
  ] as const) {
    assert.throws(() => ApiKeys.parse(`# keys\nd:${h}:${fields}`, 'keys'), (e: Error) => /^keys line 2: /.test(e.message) && why.test(e.message), fields);
  }
});
