import pg from 'pg';
import { busy, ConsentError, noSpace, notFound, notPermitted } from '../../consent/errors.js';
import { describeServer } from '../location.js';

export interface PgOpenOptions {
  /** How long to wait for a connection, or for another transaction's lock, before giving up (ms). */
  busyTimeoutMs?: number;
  /** Migrate only up to this version (tests of migrations). */
  targetVersion?: number;
  /** Create the store (its tables) when the database has none (default true); false: `not-found`. */
  create?: boolean;
  /** Called once when this open created the store's tables. */
  onCreate?: (location: string) => void;
  /**
   * The clock against which suppression expiries are judged (ISO 8601 UTC,
   * e.g. ctx.nowIso); default: the database's own clock.
   */
  now?: () => string;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** A statement running longer than this is cancelled (imports lift it for their own session). */
export const STATEMENT_TIMEOUT_MS = 60_000;
/**
 * A statement whose answer has not come this long after it was sent is given
 * up on the client's side, and its connection dropped: the server cancels any
 * statement at STATEMENT_TIMEOUT_MS, so no answer by then means the network to
 * it went silent (a crashed host, a dropped route: no reset ever comes).
 * Without it such a query would wait forever. Imports, which lift the
 * statement timeout, lift this too for their session (`withoutQueryTimeout`).
 */
export const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 5_000;
/** A session idle inside a transaction this long is ended by the server (a client that died mid-transaction). */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 300_000;

/** bigint and numeric results (count(), sum(), bigint ids) as JS numbers: every value the store reads is far below 2^53. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (v: string) => (v === null ? null : Number(v));
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export function createPool(url: string, options: PgOpenOptions): pg.Pool {
  const wait = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: Math.max(wait, 1000),
    idleTimeoutMillis: 10_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    lock_timeout: Math.max(wait, 1),
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    application_name: 'consent',
    types: types as pg.CustomTypesConfig,
  });
  // An idle connection the server closes (restart, shutdown) must not crash the process: the next query reports it.
  pool.on('error', () => {});
  return pool;
}

/** The client-side limit of QUERY_TIMEOUT_MS off (true) or back on (false), for one session (an import's). */
export function withoutQueryTimeout(client: pg.PoolClient, off: boolean): void {
  (client as unknown as { connectionParameters: { query_timeout: number | false } }).connectionParameters.query_timeout = off ? false : QUERY_TIMEOUT_MS;
}

/** The driver gave up waiting for an answer (QUERY_TIMEOUT_MS): the connection is dead, a ROLLBACK on it would wait as long. */
export function isSilentConnection(e: unknown): boolean {
  return e instanceof Error && e.message === 'Query read timeout';
}

/** Rolls back; false when the connection cannot (then it must not go back to the pool). */
export async function rollback(client: pg.PoolClient, cause?: unknown): Promise<boolean> {
  if (isSilentConnection(cause)) return false;
  return client.query('ROLLBACK').then(
    () => true,
    () => false,
  );
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ENOENT']);

/**
 * Turns the driver's and the server's errors of availability into the
 * domain's `busy` error (exit 5), naming host:port/database and never the
 * user's password; a missing database is `not-found`. Other errors pass through.
 */
export function translatePgError(e: unknown, location: string, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): unknown {
  if (e instanceof ConsentError) return e;
  const err = e as { code?: string; message?: string };
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = String(err?.message ?? '');
  const where = `the PostgreSQL server ${describeServer(location)}`;
  const retry = 'Check that the server runs and that --db (or CONSENT_DB) names it, then retry.';
  if (NETWORK_CODES.has(code) || /timeout exceeded when trying to connect|Query read timeout|Connection terminated|not queryable|connection error/i.test(message)) {
    const why = code ? ` (${code})` : /timeout/i.test(message) ? ' (no answer in time)' : ' (the connection was closed)';
    return busy(`Cannot reach ${where}${why}.`, retry, e);
  }
  // ALTER DATABASE … ALLOW_CONNECTIONS false (maintenance): 55000 is also other "wrong state" errors, so by its message.
  switch (code === '55000' && /not currently accepting connections/i.test(message) ? '55000_no_connections' : code) {
    case '28P01':
    case '28000':
      return busy(`${cap(where)} refused the login.`, 'Check the user and password (in the URL, PGPASSWORD or ~/.pgpass) and pg_hba.conf.', e);
    case '3D000':
      return notFound(`There is no database ${describeServer(location)}.`, 'Create it (createdb), or fix the name in --db (or CONSENT_DB).');
    case '57P01':
    case '57P02':
    case '57P03':
    case '08000':
    case '08003':
    case '08006':
    case '08001':
    case '08004':
    case '55000_no_connections':
      return busy(`${cap(where)} was shut down or is not accepting connections.`, 'Retry when it is back; nothing of an unfinished command was written.', e);
    case '42501':
      return notPermitted(`${cap(where)} refused: the role lacks a privilege (${message}).`, 'Grant the role the privileges the README lists, or use the owner of the database.', e);
    case '53100':
      return noSpace(`${cap(where)} has no disk space left.`, 'Free space on the database server; nothing of this command was written.', e);
    case '53300':
      return busy(`${cap(where)} has no free connection.`, 'Retry later, or raise max_connections (or use a pooler).', e);
    case '55P03':
      return busy(
        `The store is locked by another process and stayed locked for more than ${busyTimeoutMs} ms.`,
        'Retry when the other job (an import, a backup) is done, or raise CONSENT_BUSY_TIMEOUT_MS.',
        e,
      );
    case '57014':
      return busy(`A statement on ${where} took too long and was cancelled.`, 'Retry; if it keeps happening, the server is overloaded.', e);
    case '25P03':
      return busy(`${cap(where)} ended a transaction left idle too long.`, 'Retry.', e);
    case '40001':
    case '40P01':
      return busy(`Concurrent changes on ${where} kept conflicting.`, 'Retry.', e);
  }
  return e;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Serialization failures and deadlocks: the transaction can simply be run again. */
export function isRetryable(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === '40001' || code === '40P01';
}
