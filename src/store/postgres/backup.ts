import { invalid } from '../../consent/errors.js';
import type { PgStore } from './pg-store.js';

/** Not yet: a PostgreSQL store's backup as a SQLite consent store file (issue #11, a later step). */
export async function backupPgToSqlite(_store: PgStore, _path: string): Promise<never> {
  throw invalid('backup of a PostgreSQL store is not available yet; use pg_dump.', 'See "Choosing PostgreSQL" in the README.');
}
