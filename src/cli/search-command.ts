/**
 * `clipql search NAME CAPTION`: a caption against a collection, in process, on the store
 * CLIP_STORE names (or --store), with the collection's model: best first, one line a hit, or
 * JSON with --json. --exact scans every item, --approximate uses the HNSW index; neither: the
 * store chooses by the collection's size (src/store/nearest.ts).
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config/config';
import { ErrorCode, isClipqlError } from '../errors';
import { COMMON, int, open, usage, type Io } from './index-command';

export async function searchCommand(argv: string[], config: Config, io: Io): Promise<number> {
  let a;
  try {
    a = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, k: { type: 'string', default: '10' }, exact: { type: 'boolean', default: false }, approximate: { type: 'boolean', default: false }, ef: { type: 'string' }, json: { type: 'boolean', default: false } } });
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const { values: v, positionals } = a;
  if (positionals.length !== 2) return usage(io, 'give the collection and one caption');
  if (v.exact && v.approximate) return usage(io, 'give --exact or --approximate, not both');
  const [name, caption] = positionals;
  let opened: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const k = int(v.k, 'k')!;
    const ef = int(v.ef, 'ef');
    opened = await open(config, v.model, v.store);
    const { pipeline, store } = opened;
    const query = await pipeline.embedText(caption);
    const r = await store.search(name, await pipeline.identity(undefined, query.length), query, { k, exact: v.exact ? true : v.approximate ? false : undefined, ef });
    if (v.json) io.out(`${JSON.stringify({ collection: name, caption, exact: r.exact, ef: r.ef, hits: r.hits.map((h) => ({ id: h.id, score: h.score })) })}\n`);
    else {
      io.out(`${r.exact ? 'exact' : `approximate (HNSW, ef ${r.ef})`} search of ${name} for ${JSON.stringify(caption)}:\n`);
      r.hits.forEach((h, i) => io.out(`${String(i + 1).padStart(3)}  ${h.score.toFixed(4)}  ${h.id}\n`));
    }
    return 0;
  } catch (e) {
    io.err(`error [${isClipqlError(e) ? e.code : ErrorCode.INTERNAL_SERVER_ERROR}]: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await opened?.store.close().catch(() => undefined);
    await opened?.pipeline.close();
  }
}
