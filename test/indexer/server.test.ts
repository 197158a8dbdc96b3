/**
 * `clipql index --server URL` (src/cli/server-target.ts) against a real clipql server on the
 * embedded store, and the itemDigests query it reads: nested folders, a corrupt file (refused by
 * the server, the rest of its request stored), a duplicate, a changed file, a second run that
 * sends nothing, --prune; a server that takes fewer images per request than the client sends
 * (CLIP_MAX_IMAGES 3: the client splits its requests). Expected ids and sha256s are computed here
 * from the files with node:crypto, never read back from the indexer.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Io } from '../../src/cli/index-command';
import { main } from '../../src/cli/main';
import type { Service } from '../../src/server/service';
import { patternImage } from '../helpers/images';
import { freshPgliteDir } from '../helpers/pglite';
import { gql, startTestService } from '../helpers/server';
import { runIndex } from '../helpers/index-run';
import { BPE_VOCAB } from '../helpers/shared';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let tmp: string;
let storeDir: string;
let service: Service;
before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-index-server-'));
  storeDir = await freshPgliteDir('clipql-index-server-store-');
  process.env.CLIP_VOCAB = BPE_VOCAB();
  service = await startTestService({ CLIP_STORE: storeDir, CLIP_MAX_IMAGES: '3' });
});
after(async () => {
  await service?.stop();
  rmSync(tmp, { recursive: true, force: true });
  rmSync(storeDir, { recursive: true, force: true });
});

const index = (...args: string[]) => runIndex(args, ['--server', service.url]);

/** Every id -> sha256 on the server, read two at a time through itemDigests' pages. */
async function digests(collection: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 100, 'itemDigests pages end');
    const r = await gql(service.url, 'query($c:String!,$a:ID){itemDigests(collection:$c,after:$a,first:2){items{id sha256} hasNextPage endCursor}}', { c: collection, a: cursor });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const page = r.body.data.itemDigests;
    assert.ok(page.items.length <= 2);
    for (const d of page.items) {
      assert.equal(out.has(d.id), false, `${d.id} on two pages`);
      out.set(d.id, d.sha256);
    }
    if (!page.hasNextPage) return out;
    assert.equal(page.endCursor, page.items.at(-1).id);
    cursor = page.endCursor;
  }
}

describe('clipql index --server', { concurrency: false }, () => {
  test('a folder into a running server: nested folders, a corrupt file, a duplicate; run twice; a changed file; --prune', async () => {
    const root = path.join(tmp, 'library');
    const files: Record<string, Buffer> = {
      'a.png': await patternImage(11),
      'b.jpg': await patternImage(12, 'jpeg'),
      'trips/c.png': await patternImage(13),
      'trips/2024/d.webp': await patternImage(14, 'webp'),
      'trips/2024/e.png': await patternImage(15),
      'trips/2024/f.png': await patternImage(16),
      'trips/2024/g.png': await patternImage(17),
      'trips/2024/copy-of-a.png': await patternImage(11), // the same bytes under another name
    };
    for (const [rel, bytes] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), bytes);
    }
    writeFileSync(path.join(root, 'trips', 'broken.jpg'), Buffer.from('not a jpeg at all'));

    const first = await index(root, '--collection', 'remote', '--batch', '8');
    assert.equal(first.code, 0, first.err);
    assert.match(first.err, /created collection remote on http:\/\/127\.0\.0\.1:\d+\/graphql/);
    assert.deepEqual([first.result.total, first.result.stored, first.result.skipped, first.result.bad], [9, 8, 0, 1]);
    assert.match(first.err, /bad file .*trips\/broken\.jpg: \[BAD_IMAGE\]/, 'the server refused it by its place in the request');
    const want = new Map(Object.entries(files).map(([rel, bytes]) => [rel, sha(bytes)]));
    assert.deepEqual(new Map([...(await digests('remote'))].sort()), new Map([...want].sort()), 'ids are paths relative to the root; the server hashed the same bytes');

    const second = await index(root, '--collection', 'remote');
    assert.deepEqual([second.code, second.result.stored, second.result.skipped, second.result.bad], [0, 0, 8, 1], 'the second run sends only the file the server refused');

    const changed = await patternImage(99);
    writeFileSync(path.join(root, 'trips', 'c.png'), changed);
    unlinkSync(path.join(root, 'b.jpg'));
    const third = await index(root, '--collection', 'remote');
    assert.deepEqual([third.result.stored, third.result.replaced, third.result.skipped, third.result.pruned], [1, 1, 6, 0]);
    assert.equal((await digests('remote')).get('trips/c.png'), sha(changed));

    const pruned = await index(root, '--collection', 'remote', '--prune');
    assert.equal(pruned.result.pruned, 1);
    assert.equal((await digests('remote')).has('b.jpg'), false);

    // The stored items are searchable, with the metadata the indexer sent.
    const hits = await gql(service.url, 'query{search(collection:"remote",text:"a photo",k:10,exact:true){exact hits{id metadata}}}');
    assert.equal(hits.body.data.search.exact, true);
    assert.equal(hits.body.data.search.hits.length, 7);
    for (const h of hits.body.data.search.hits) assert.deepEqual(h.metadata, { path: h.id, bytes: (h.id === 'trips/c.png' ? changed : files[h.id]).length });
  });

  test('refusals the run cannot go on from fail it with the server\'s code; usage errors exit 2', async () => {
    const root = path.join(tmp, 'one');
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, 'x.png'), await patternImage(21));
    const otherModel = await index(root, '--collection', 'remote2', '--model', 'no-such-model');
    assert.deepEqual([otherModel.code, /error \[MODEL_NOT_FOUND\]: the server at http/.test(otherModel.err)], [1, true], otherModel.err);

    let err = '';
    const io: Io = { out: () => undefined, err: (s) => (err += s), tty: false };
    assert.equal(await main(['index', root, '--collection', 'c', '--server', service.url, '--store', tmp], undefined, io), 2);
    assert.match(err, /--server and --store: give one/);
    assert.equal(await main(['index', root, '--collection', 'c', '--api-key', 'k'], undefined, io), 2);
    assert.match(err, /go with --server/);
  });

  test('itemDigests: bounds and a missing collection are refused with codes', async () => {
    const zero = await gql(service.url, 'query{itemDigests(collection:"remote",first:0){hasNextPage}}');
    assert.equal(zero.body.errors?.[0].extensions.code, 'BAD_USER_INPUT');
    const big = await gql(service.url, 'query{itemDigests(collection:"remote",first:10001){hasNextPage}}');
    assert.equal(big.body.errors?.[0].extensions.code, 'BAD_USER_INPUT');
    const missing = await gql(service.url, 'query{itemDigests(collection:"nothing-here"){hasNextPage}}');
    assert.equal(missing.body.errors?.[0].extensions.code, 'COLLECTION_NOT_FOUND');
    const past = await gql(service.url, 'query{itemDigests(collection:"remote",after:"zzzz"){items{id} hasNextPage endCursor}}');
    assert.deepEqual(past.body.data.itemDigests, { items: [], hasNextPage: false, endCursor: null });
  });
});
