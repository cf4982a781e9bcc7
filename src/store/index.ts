import type { LandingStore } from '../landing/repository.js';
import { DEFAULT_BUSY_TIMEOUT_MS, translateSqliteError, type OpenOptions } from './sqlite/open.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export type { OpenOptions };

/** Opens the store at `location` (a SQLite file path for now): consent data and landing pages. */
export async function openStore(location: string, options: OpenOptions = {}): Promise<LandingStore> {
  return SqliteStore.open(location, options);
}

/**
 * A store's own error (SQLite's codes today) that escaped a store method,
 * as the domain's typed error; anything else is returned unchanged. The CLI's
 * one catch calls it so that a full disk or a read-only file found mid-import
 * is reported as such, not as a bug.
 */
export function translateStoreError(e: unknown): unknown {
  return translateSqliteError(e, DEFAULT_BUSY_TIMEOUT_MS);
}
