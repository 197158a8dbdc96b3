/**
 * The server as users run it (`node dist/src/server/main.js`, a real child process): readiness,
 * structured logs, and graceful shutdown on SIGTERM: in-flight requests finish, new ones are
 * refused, the process exits 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { patternImage } from '../helpers/images';
import { gql, startChildServer } from '../helpers/server';

test('SIGTERM drains: the in-flight request finishes, new ones are refused, exit code 0', async () => {
  const server = await startChildServer({ LOG_LEVEL: 'debug' });
  try {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.ok(server.logs.some((l) => l.includes('RANDOM WEIGHTS')), 'the random-weights warning is in the log at start');
    // A request that takes a while: 12 distinct large images to decode, resize and encode.
    const images = await Promise.all(Array.from({ length: 12 }, (_, i) => patternImage(i + 1, 'png', 1000, 750)));
    const inflight = gql(server.url, `query($images: [ImageInput!]!) { similarity(images: $images, captions: ["It is a pattern"]) { scores } }`, { images: images.map((b) => ({ base64: b.toString('base64') })) });
    // SIGTERM once the server has the request (it logs each GraphQL request at debug level).
    while (!server.logs.some((l) => l.includes('"msg":"graphql request"'))) await sleep(20);
    await sleep(50);
    const exited = server.stop('SIGTERM');
    await sleep(100);
    const refused = await fetch(`${server.url}/healthz/live`).then((r) => r.status, () => 'refused');
    assert.ok(refused === 503 || refused === 'refused', `a new request during drain got ${refused}`);
    const { body } = await inflight;
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.equal(body.data.similarity.scores[0].length, 12, 'the in-flight request completed');
    assert.equal(await exited, 0);
    assert.ok(server.logs.some((l) => l.includes('"msg":"stopped"')));
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('a broken model folder fails at start with a clear message and exit code 1', async () => {
  await assert.rejects(startChildServer({ CLIP_MODEL: '/nonexistent/model' }, 20_000), /exited with 1[\s\S]*BAD_MODEL[\s\S]*\/nonexistent\/model: model bundle folder does not exist/);
});

test('without CLIP_MODEL and offline, it serves the tiny model and says so loudly', async () => {
  // The default model is not in models/ and the hub is unreachable (a closed port on loopback).
  const server = await startChildServer({ CLIP_MODEL: '', HF_ENDPOINT: 'http://127.0.0.1:9' });
  try {
    assert.ok(server.logs.some((l) => l.includes('SERVING THE TINY TEST MODEL WITH RANDOM WEIGHTS')), server.logs.join('\n'));
    const { body } = await gql(server.url, '{ models { name randomWeights warning } }');
    assert.equal(body.data.models[0].name, 'tiny-clip-336');
    assert.equal(body.data.models[0].randomWeights, true);
    assert.match(body.data.models[0].warning, /random weights/);
  } finally {
    await server.stop();
  }
});
