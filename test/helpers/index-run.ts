/** `clipql index` run in process (src/cli/main.ts with a captured Io), for the indexer's tests. */
import type { Io } from '../../src/cli/index-command';
import { main } from '../../src/cli/main';

export interface IndexRun {
  code: number;
  /** The summary line (stdout's last). */
  result: { total: number; stored: number; skipped: number; bad: number; replaced: number; pruned: number; interrupted: boolean };
  /** Progress, bad files and errors. */
  err: string;
}

/** `clipql index ARGS...` with `where` appended (--store DIR or --server URL). */
export async function runIndex(args: readonly string[], where: readonly string[]): Promise<IndexRun> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => (out += s), err: (s) => (err += s), tty: false };
  const code = await main(['index', ...args, ...where], undefined, io);
  return { code, result: JSON.parse(out.trim().split('\n').pop() || '{}'), err };
}
