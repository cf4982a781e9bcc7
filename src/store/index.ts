import type { LandingStore } from '../landing/repository.js';
import { isPostgresLocation } from './location.js';
import type { OpenOptions } from './sqlite/open.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export type { OpenOptions };

/**
 * Opens the store at `location`: a `postgres://` or `postgresql://` URL opens
 * a PostgreSQL database, anything else a SQLite file. Both are created (the
 * schema) and migrated on first use; `location` of the result never shows a password.
 */
export async function openStore(location: string, options: OpenOptions = {}): Promise<LandingStore> {
  if (isPostgresLocation(location)) {
    const { PgStore } = await import('./postgres/pg-store.js');
    return PgStore.open(location, options);
  }
  return SqliteStore.open(location, options);
}
