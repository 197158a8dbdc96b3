/**
 * `clipql duplicates`: every near-duplicate group of a collection, in process, on the store
 * CLIP_STORE names (or --store). Nothing is encoded, so no model is loaded.
 *
 *   clipql duplicates NAME [--threshold T] [--k N] [--scan N] [--json] [--store DIR|URL]
 *
 * Walks the whole collection a page at a time (CollectionStore.duplicates; --scan items a page,
 * default 1,000) and prints each group as it is found: its items, the first with the smallest
 * id, each with its cosine to that first one and "same bytes" for exact byte duplicates. --json
 * prints one JSON object per group, then a summary object. Progress (items walked) goes to stderr
 * on a terminal. Exit status: 0 done, 1 error, 2 usage.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config/config';
import { cosineThreshold } from '../config/settings';
import { ClipqlError, ErrorCode, isClipqlError } from '../errors';
import type { DuplicateGroup } from '../store/duplicates';
import { openStore } from '../store/open';
import type { CollectionStore } from '../store/store';
import type { Io } from './index-command';

export const DUPLICATES_USAGE = 'usage: clipql duplicates NAME [--threshold T] [--k N] [--scan N] [--json] [--store DIR|URL]';

function whole(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `--${what} must be a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

function threshold(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return cosineThreshold.parse(v);
  } catch (e) {
    throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `--threshold ${JSON.stringify(v)}: ${(e as Error).message}`);
  }
}

function formatGroup(g: DuplicateGroup, n: number): string {
  const note = g.identical ? ', all the same bytes' : '';
  let s = `group ${n} (${g.items.length} items${note}${g.complete ? '' : ', cut at 200'}):\n`;
  for (const i of g.items) s += `  ${i.score.toFixed(4)}  ${i.id}${i.sameBytes && !g.identical ? '  (same bytes as another)' : ''}\n`;
  return s;
}

export async function duplicatesCommand(argv: string[], config: Config, io: Io): Promise<number> {
  let a;
  try {
    a = parseArgs({ args: argv, allowPositionals: true, options: { store: { type: 'string' }, threshold: { type: 'string' }, k: { type: 'string' }, scan: { type: 'string' }, json: { type: 'boolean', default: false } } });
  } catch (e) {
    io.err(`error [${ErrorCode.BAD_USER_INPUT}]: ${(e as Error).message}\n${DUPLICATES_USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = a;
  if (positionals.length !== 1) {
    io.err(`error [${ErrorCode.BAD_USER_INPUT}]: give one collection\n${DUPLICATES_USAGE}\n`);
    return 2;
  }
  const [name] = positionals;
  let store: CollectionStore | undefined;
  try {
    const options = { threshold: threshold(v.threshold), k: whole(v.k, 'k'), scan: whole(v.scan, 'scan'), first: 100 };
    store = await openStore(v.store === undefined ? config : { ...config, CLIP_STORE: v.store });
    const started = performance.now();
    let after: string | null = null;
    let groups = 0;
    let items = 0;
    let scanned = 0;
    let used = NaN;
    do {
      const page = await store.duplicates(name, { ...options, after });
      used = page.threshold;
      scanned += page.scanned;
      for (const g of page.groups) {
        groups++;
        items += g.items.length;
        io.out(v.json ? `${JSON.stringify({ group: groups, identical: g.identical, complete: g.complete, items: g.items.map((i) => ({ id: i.id, score: i.score, sha256: i.sha256, sameBytes: i.sameBytes })) })}\n` : formatGroup(g, groups));
      }
      if (io.tty) io.err(`\r\x1b[K${scanned} items walked, ${groups} groups`);
      after = page.endCursor;
    } while (after !== null);
    if (io.tty) io.err('\r\x1b[K');
    const seconds = (performance.now() - started) / 1000;
    const summary = { collection: name, threshold: used, k: options.k ?? null, scanned, groups, itemsInGroups: items, seconds: +seconds.toFixed(2) };
    io.out(v.json ? `${JSON.stringify(summary)}\n` : `${groups} group${groups === 1 ? '' : 's'} (${items} items) among ${scanned} items of ${name} at cosine >= ${used}, in ${seconds.toFixed(1)} s\n`);
    return 0;
  } catch (e) {
    io.err(`error [${isClipqlError(e) ? e.code : ErrorCode.INTERNAL_SERVER_ERROR}]: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await store?.close().catch(() => undefined);
  }
}
