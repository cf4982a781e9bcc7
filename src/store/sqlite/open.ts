import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { busy, ConsentError, invalid, noSpace, notFound, notPermitted } from '../../consent/errors.js';
import { LATEST_VERSION, migrate } from './migrations.js';

export interface OpenOptions {
  /** How long to wait for another process's lock before giving up. */
  busyTimeoutMs?: number;
  /** Migrate only up to this version (tests of migrations). */
  targetVersion?: number;
  /**
   * Create the store when there is none (default true). Read commands pass
   * false: a mistyped path must never look like an empty store.
   */
  create?: boolean;
  /** Called once when this open created a new store. */
  onCreate?: (location: string) => void;
  /**
   * The clock against which suppression expiries are judged (ISO 8601 UTC,
   * e.g. ctx.nowIso); default: the database's own clock.
   */
  now?: () => string;
}

/** Where the store would be created, and whether one is already there. */
function storeExists(path: string): boolean {
  if (path === ':memory:') return false;
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      throw invalid(`${path} is a folder, not a consent store file.`, 'Give --db (or CONSENT_DB) the path of a file, e.g. ./consent.db.');
    }
    // An empty file is what `touch` leaves: not a store yet.
    return st.size > 0;
  } catch (e) {
    if (e instanceof ConsentError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR') throw notFound(`No folder for the store ${path}: a part of that path is a file.`, 'Check the --db path (or CONSENT_DB).');
    if (code === 'EACCES' || code === 'EPERM') {
      throw notPermitted(`Not permitted to read the store ${path}.`, 'Check the permissions of the file and its folder.', e);
    }
    throw e;
  }
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Turns SQLite's lock errors into the domain's `busy` error; passes others through. */
export function translateSqliteError(e: unknown, busyTimeoutMs: number, path?: string): unknown {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return e;
  const store = path ? `the store ${path}` : 'the store';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return busy(
      `The store is locked by another process and stayed locked for more than ${busyTimeoutMs} ms.`,
      'Retry when the other job (an import, a backup) is done, or raise CONSENT_BUSY_TIMEOUT_MS.',
      e,
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return notPermitted(
      `Cannot write to ${store}: it (or its folder) is read-only.`,
      'Make the file and its folder writable by this user (SQLite also writes a -wal and a -shm file beside it).',
      e,
    );
  }
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' && /space|full/i.test((e as Error).message)) {
    return noSpace(`The disk holding ${store} is full; nothing of this change was written.`, 'Free some space and run the command again.', e);
  }
  if (code === 'SQLITE_NOTADB') {
    return new ConsentError('invalid', `${path ?? 'The file'} is not a consent store (not a SQLite database).`, 'Check the --db path (or CONSENT_DB).', {
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new ConsentError('integrity', `${path ?? 'The store'} is damaged (SQLite reports corruption).`, 'Restore it from a backup (`consent backup` makes checked copies).', {
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return notPermitted(`Cannot open ${store}.`, 'Check that its folder exists and that this user may read and write it.', e);
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
  const existed = storeExists(path);
  if (!existed && options.create === false) {
    throw notFound(
      `No consent store at ${path}.`,
      'Check the --db path (or CONSENT_DB). Commands that write (profile add, profile import, service create, landing create, keys rotate) create one.',
    );
  }
  if (!existed && path !== ':memory:') {
    try {
      if (!statSync(dirname(path)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw notFound(`Cannot create the store ${path}: there is no folder ${dirname(path)}.`, 'Create the folder first, or check the --db path (or CONSENT_DB).');
      }
      throw e;
    }
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: busyTimeoutMs });
    if (existed) assertConsentStore(db, path);
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
    if (!existed) options.onCreate?.(path);
    return db;
  } catch (e) {
    db?.close();
    throw translateSqliteError(e, busyTimeoutMs, path);
  }
}

/**
 * A SQLite file that another program made (user_version 0 and tables of its
 * own) is not ours to migrate: adding our tables to it would be a surprise.
 */
function assertConsentStore(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > 0) return;
  const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").get() as { n: number };
  if (tables.n > 0) {
    throw invalid(`${path} is a SQLite database but not a consent store.`, 'Check the --db path (or CONSENT_DB).');
  }
}
