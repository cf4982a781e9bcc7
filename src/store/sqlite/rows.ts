/** RowStore's two methods on SQLite (see src/store/rows.ts for what they promise). */
import { conflict, ConsentError } from '../../consent/errors.js';
import type { LedgerVerification } from '../../consent/ledger.js';
import { MUST_BE_EMPTY, STORE_TABLES, storeTable, type ImportAllOptions, type RawBatch, type RawValue } from '../rows.js';
import type { SqliteStore } from './sqlite-store.js';
import { verifyStore } from './verify.js';

const BATCH = 5000;

export async function* exportSqliteRows(store: SqliteStore): AsyncIterable<RawBatch> {
  const db = store.db;
  store.guard(() => db.exec('BEGIN'));
  try {
    // The snapshot starts at the first read and lasts until the end of the transaction.
    for (const t of STORE_TABLES) {
      const stmt = db.prepare(`SELECT ${t.columns.join(', ')} FROM ${t.name} ORDER BY ${t.order}`).raw();
      let rows: RawValue[][] = [];
      for (const r of store.guard(() => stmt.iterate()) as Iterable<RawValue[]>) {
        rows.push(r);
        if (rows.length === BATCH) {
          yield { table: t.name, rows };
          rows = [];
        }
      }
      if (rows.length > 0) yield { table: t.name, rows };
    }
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}

/** Throws `conflict` unless the store holds nothing but what a new store is made with. */
export function assertEmpty(count: (table: string) => number, retiredKeys: number, location: string): void {
  const filled = MUST_BE_EMPTY.filter((t) => count(t) > 0);
  if (count('signing_keys') > 1 || retiredKeys > 0) filled.push('signing_keys');
  if (filled.length > 0) {
    throw conflict(
      `The target store ${location} is not empty (it has rows in ${filled.join(', ')}); store copy only writes into an empty store.`,
      'Give a new file or an empty database as the target (a store just made by `store init` is empty).',
    );
  }
}

export function verificationFailed(v: Exclude<LedgerVerification, { ok: true }>, location: string): ConsentError {
  const what = 'disagreement' in v ? 'state disagrees with its ledger' : 'ledger does not verify';
  return new ConsentError('integrity', `The copy's ${what} in ${location}: ${v.problem}.`, 'Nothing was written to the target. Run `consent ledger verify` on the source.');
}

export async function importSqliteRows(store: SqliteStore, batches: AsyncIterable<RawBatch>, options: ImportAllOptions = {}) {
  const db = store.db;
  store.guard(() => db.exec('BEGIN IMMEDIATE'));
  try {
    const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    const retired = (db.prepare('SELECT count(*) AS n FROM signing_keys WHERE retired_at IS NOT NULL').get() as { n: number }).n;
    store.guard(() => assertEmpty(count, retired, store.location));
    db.exec('DELETE FROM signing_keys; DELETE FROM settings');
    const inserts = new Map(
      STORE_TABLES.map((t) => [t.name, db.prepare(`INSERT INTO ${t.name} (${t.columns.join(', ')}) VALUES (${t.columns.map(() => '?').join(', ')})`)]),
    );
    const written = new Map<string, number>();
    for await (const b of batches) {
      const insert = inserts.get(b.table);
      if (!insert) storeTable(b.table); // throws: not a table of ours
      store.guard(() => {
        for (const r of b.rows) insert!.run(...r);
      });
      const n = (written.get(b.table) ?? 0) + b.rows.length;
      written.set(b.table, n);
      options.onProgress?.(b.table, n);
    }
    // Generated ids: SQLite's rowids already continue after the largest one.
    const v = store.guard(() => verifyStore(db));
    if (!v.ok) throw verificationFailed(v, store.location);
    options.accept?.(v);
    store.guard(() => db.exec('COMMIT'));
    return v;
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}
