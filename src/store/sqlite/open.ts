import Database from 'better-sqlite3';
import { busy, ConsentError } from '../../consent/errors.js';
import { LATEST_VERSION, migrate } from './migrations.js';

export interface OpenOptions {
  /** How long to wait for another process's lock before giving up. */
  busyTimeoutMs?: number;
  /** Migrate only up to this version (tests of migrations). */
  targetVersion?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Turns SQLite's lock errors into the domain's `busy` error; passes others through. */
export function translateSqliteError(e: unknown, busyTimeoutMs: number): unknown {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
    return busy(
      `The store is locked by another process and stayed locked for more than ${busyTimeoutMs} ms.`,
      'Retry when the other job (an import, a backup) is done, or raise CONSENT_BUSY_TIMEOUT_MS.',
      e,
    );
  }
  return e;
}

/**
 * Opens (creating if needed) and migrates a store file. Durability first:
 * WAL so readers never block the writer, synchronous=FULL so that a change
 * reported as recorded survives a power cut, and a busy timeout so that
 * concurrent processes wait for each other instead of failing.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Database.Database {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: busyTimeoutMs });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const target = options.targetVersion ?? LATEST_VERSION;
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > LATEST_VERSION) {
      throw new ConsentError(
        'invalid',
        `The store ${path} has schema version ${current}, newer than this consent knows (${LATEST_VERSION}).`,
        'Upgrade consent to open it.',
      );
    }
    if (current < target) {
      // Re-read inside the write lock: another process may have migrated meanwhile.
      db.transaction(() => migrate(db!, target)).immediate();
    }
    return db;
  } catch (e) {
    db?.close();
    const err = translateSqliteError(e, busyTimeoutMs);
    if (err instanceof ConsentError) throw err;
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new ConsentError('invalid', `Cannot open the store ${path}: ${(e as Error).message}.`, 'Check the --db path (or CONSENT_DB).', {
        cause: e,
      });
    }
    throw err;
  }
}
