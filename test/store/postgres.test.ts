/** The store suite on the server engine: a real PostgreSQL 15 + pgvector (test/helpers/postgres.ts). */
import { PostgresDriver } from '../../src/store/postgres-driver';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { storeSuite } from './suite';

let db: TestDatabase | undefined;
storeSuite('PostgreSQL', {
  driver: async (session) => {
    db = await createTestDatabase();
    return new PostgresDriver({ connectionString: db.url, session });
  },
  cleanup: async () => db?.drop(),
});
