/**
 * SQL behind the tool's back, on either backend: what an attacker or a
 * careless admin with direct database access could do. The statements must be
 * plain SQL both dialects read.
 */
import Database from 'better-sqlite3';
import { isPostgresLocation } from '../../src/store/location.js';

/**
 * Runs `sql` (one or more statements) with the ledger's append-only triggers
 * out of the way: dropped on SQLite, disabled for the session on PostgreSQL
 * (`session_replication_role = replica`, which needs a superuser).
 */
export async function tamper(db: string, sql: string): Promise<void> {
  if (isPostgresLocation(db)) {
    const { pgAdminQuery } = await import('./pg.js');
    await pgAdminQuery(db, `SET session_replication_role = replica; ${sql}; SET session_replication_role = DEFAULT`);
    return;
  }
  const raw = new Database(db);
  try {
    const triggers = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_%'").pluck().all() as string[];
    for (const t of triggers) raw.exec(`DROP TRIGGER ${t}`);
    raw.pragma('foreign_keys = OFF'); // as session_replication_role = replica does on PostgreSQL
    raw.exec(sql);
  } finally {
    raw.close();
  }
}

/** Runs plain SQL on the store's database (the triggers stay), returning the rows of the last statement if any. */
export async function rawSql(db: string, sql: string, params: unknown[] = []): Promise<any[]> {
  if (isPostgresLocation(db)) {
    const { pgAdminQuery } = await import('./pg.js');
    let i = 0;
    return pgAdminQuery(db, sql.replace(/\?/g, () => `$${++i}`), params);
  }
  const raw = new Database(db);
  try {
    const stmt = raw.prepare(sql);
    return stmt.reader ? stmt.all(...params) : (stmt.run(...params), []);
  } finally {
    raw.close();
  }
}

/**
 * Another process holding the store's write lock for `ms`: an IMMEDIATE
 * transaction on SQLite, an EXCLUSIVE lock on `profiles` on PostgreSQL (what
 * an import holds: readers carry on, writers wait). Resolves once it holds it;
 * `released` settles when the process is gone.
 */
export async function holdWriteLock(db: string, ms: number): Promise<{ released: Promise<unknown> }> {
  const { spawn } = await import('node:child_process');
  const code = isPostgresLocation(db)
    ? `const c = new (require('pg').Client)({ connectionString: process.argv[1] });
       (async () => { await c.connect(); await c.query('BEGIN'); await c.query('LOCK TABLE profiles IN EXCLUSIVE MODE');
         process.stdout.write('locked\\n');
         setTimeout(async () => { await c.query('COMMIT'); await c.end(); }, ${ms}); })();`
    : `const db = new (require('better-sqlite3'))(process.argv[1]);
       db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n');
       setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});`;
  const holder = spawn(process.execPath, ['-e', code, db], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
  const released = new Promise((resolve) => holder.on('close', resolve));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('close', (c) => reject(new Error(`the lock holder exited (${c})`)));
  });
  return { released };
}
