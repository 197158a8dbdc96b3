/**
 * The per-request cost of the scope check (src/server/gate.ts scopePlugin): operationNeeds on a
 * document Apollo has already parsed and cached (the walk of its root fields is cached with it)
 * plus refusal() against a key with actions and collection patterns. Side by side, in interleaved
 * rounds, with a cost every trusted-documents request already pays: the sha256 of its text.
 *
 *   node dist/scripts/bench/serving/scopes.js [rounds=5] [n=200000]
 */
import { createHash } from 'node:crypto';
import { parse, type OperationDefinitionNode } from 'graphql';
import { refusal, type KeyScopes } from '../../../src/access/scopes';
import { operationNeeds } from '../../../src/schema/field-scopes';

const TEXT = 'query Search($c: String!, $t: String) { search(collection: $c, text: $t, k: 8) { model hits { id rank score thumbnail width height } } models { name } }';
const doc = parse(TEXT);
const op = doc.definitions[0] as OperationDefinitionNode;
const scopes: KeyScopes = { actions: new Set(['read']), explicit: true, collections: ['photos', 'products', 'demo-*'] };

function time(n: number, f: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - t0) / n;
}

const rounds = Number(process.argv[2] ?? 5);
const n = Number(process.argv[3] ?? 200_000);
const check = () => {
  if (refusal('web', scopes, operationNeeds(doc, op, { c: 'demo-cats', t: 'a cat' }))) throw new Error('refused');
};
const hash = () => createHash('sha256').update(TEXT, 'utf8').digest('hex');
time(n, check); // warm-up: JIT, and the cached walk
time(n, hash);
for (let r = 1; r <= rounds; r++) {
  const a = time(n, check);
  const b = time(n, hash);
  console.log(`round ${r}: scope check ${a.toFixed(0)} ns, sha256 of the query text ${b.toFixed(0)} ns, ratio ${(a / b).toFixed(2)}`);
}
