import type { LandingStore } from '../landing/repository.js';
import type { OpenOptions } from './sqlite/open.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export type { OpenOptions };

/** Opens the store at `location` (a SQLite file path for now): consent data and landing pages. */
export async function openStore(location: string, options: OpenOptions = {}): Promise<LandingStore> {
  return SqliteStore.open(location, options);
}
