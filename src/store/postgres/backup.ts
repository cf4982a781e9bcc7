import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, statSync, unlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { ConsentError, conflict, notFound } from '../../consent/errors.js';
import { STORE_TABLES } from '../rows.js';
import { openDatabase } from '../sqlite/open.js';
import { verifyStore } from '../sqlite/verify.js';
import type { PgStore } from './pg-store.js';

/** Every table, parents first (the list store copy uses too); rows copied verbatim (ids, hashes, times as stored). */
const TABLES: readonly [table: string, order: string][] = STORE_TABLES.map((t) => [t.name, t.order]);
const PAGE = 5000;

/**
 * `backup` of a PostgreSQL store: one REPEATABLE READ snapshot (writers carry
 * on, nothing is half-copied) written as a SQLite consent store file, then
 * checked as SQLite's own backup is (integrity, the chain, and the same head
 * as the source's snapshot). A portable, checked copy; pg_dump remains the
 * tool for full-database backups.
 */
export async function backupPgToSqlite(store: PgStore, path: string): Promise<{ path: string; bytes: number; profiles: number; events: number }> {
  const exists = () => conflict(`${path} already exists; a backup never overwrites a file.`, 'Choose a new file name.');
  if (existsSync(path)) throw exists();
  const folder = dirname(path);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw notFound(`Cannot write the backup ${path}: there is no folder ${folder}.`, 'Create the folder first, or choose another path.');
  }
  const tmp = `${path}.partial-${randomBytes(6).toString('hex')}`;
  try {
    const target = openDatabase(tmp);
    try {
      // The new file's own first key and settings (its suppression key): the source's replace them.
      target.exec('DELETE FROM signing_keys; DELETE FROM settings');
      await copySnapshot(store, target);
      target.pragma('journal_mode = DELETE'); // one self-contained file, as VACUUM INTO writes
    } finally {
      target.close();
    }
    const copy = new Database(tmp, { readonly: true });
    let counts: { profiles: number; events: number };
    try {
      const check = copy.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new ConsentError('integrity', `The backup copy failed its integrity check: ${String(check)}.`);
      const chain = copy.transaction(() => verifyStore(copy))();
      if (!chain.ok) {
        const what = 'disagreement' in chain ? 'state disagrees with its ledger' : 'ledger does not verify';
        throw new ConsentError('integrity', `The backup copy's ${what}: ${chain.problem}.`, 'No backup was written. Run `consent ledger verify` on the store.');
      }
      counts = { profiles: (copy.prepare('SELECT count(*) AS n FROM profiles').get() as { n: number }).n, events: chain.events };
    } finally {
      copy.close();
    }
    try {
      linkSync(tmp, path); // fails rather than overwrite a file created meanwhile
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw exists();
      throw e;
    }
    return { path, bytes: statSync(path).size, ...counts };
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) if (existsSync(f)) unlinkSync(f);
  }
}

async function copySnapshot(store: PgStore, target: Database.Database): Promise<void> {
  const client = await store.connect();
  let dead = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    target.exec('BEGIN');
    for (const [table, order] of TABLES) {
      const columns = (target.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
      const insert = target.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
      await client.query(`DECLARE copy_${table} NO SCROLL CURSOR FOR SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${order}`);
      for (;;) {
        const { rows } = await client.query<unknown[]>({ text: `FETCH ${PAGE} FROM copy_${table}`, rowMode: 'array' });
        for (const r of rows) insert.run(...r);
        if (rows.length < PAGE) break;
      }
    }
    target.exec('COMMIT');
    await client.query('COMMIT');
  } catch (e) {
    if (target.inTransaction) target.exec('ROLLBACK');
    await client.query('ROLLBACK').catch(() => (dead = true));
    throw store.translate(e);
  } finally {
    client.release(dead || undefined);
  }
}
