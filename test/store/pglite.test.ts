/** The store suite on the embedded engine: PGlite on its worker thread, in a fresh folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgliteDriver } from '../../src/store/pglite-driver';
import { storeSuite } from './suite';

const dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-pglite-'));
storeSuite('PGlite', {
  driver: async (session) => new PgliteDriver(dir, session),
  cleanup: async () => rmSync(dir, { recursive: true, force: true }),
});
