import type { ConsentStore } from '../consent/store.js';
import type { OpenOptions } from './sqlite/open.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export type { OpenOptions };

/** Opens the store at `location` (a SQLite file path for now). */
export async function openStore(location: string, options: OpenOptions = {}): Promise<ConsentStore> {
  return SqliteStore.open(location, options);
}
