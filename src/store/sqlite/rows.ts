/** RowStore's two methods on SQLite (see src/store/rows.ts for what they promise). */
import { conflict, ConsentError } from '../../consent/errors.js';
import type { LedgerVerification } from '../../consent/ledger.js';
import { MUST_BE_EMPTY, STORE_TABLES, storeTable, type ExportAllOptions, type ImportAllOptions, type RawBatch, type RawValue, type StoreTable } from '../rows.js';
import type { SqliteStore } from './sqlite-store.js';
import { verifyStore } from './verify.js';

const BATCH = 5000;

export async function* exportSqliteRows(store: SqliteStore, options: ExportAllOptions = {}): AsyncIterable<RawBatch> {
  const db = store.db;
  store.guard(() => db.exec('BEGIN'));
  try {
    // The snapshot starts at the first read and lasts until the end of the transaction.
    for (const t of STORE_TABLES) {
      if (options.copyText) {
        yield* copyTextBatches(store, t);
        continue;
      }
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

/** A column as one field of PostgreSQL's COPY text format, formatted by SQLite (see RawBatch). */
const copyField = (c: string) =>
  `CASE typeof(${c}) WHEN 'null' THEN '\\N' WHEN 'blob' THEN '\\\\x' || lower(hex(${c})) WHEN 'text' THEN ` +
  `replace(replace(replace(replace(${c}, '\\', '\\\\'), char(9), '\\t'), char(10), '\\n'), char(13), '\\r') ELSE CAST(${c} AS TEXT) END`;

/**
 * A table as COPY text: each row one string built by SQLite (no JavaScript
 * value per cell), BATCH lines joined to a batch.
 */
function* copyTextBatches(store: SqliteStore, t: StoreTable): Iterable<RawBatch> {
  const stmt = store.db.prepare(`SELECT ${t.columns.map(copyField).join(" || char(9) || ")} FROM ${t.name} ORDER BY ${t.order}`).pluck();
  let lines: string[] = [];
  for (const line of store.guard(() => stmt.iterate()) as Iterable<string>) {
    lines.push(line);
    if (lines.length === BATCH) {
      yield { table: t.name, copyText: lines.join('\n') + '\n', count: BATCH };
      lines = [];
    }
  }
  if (lines.length > 0) yield { table: t.name, copyText: lines.join('\n') + '\n', count: lines.length };
}

/** Inserts rows of `t`, ROWS_PER_INSERT to a statement (fewer calls into SQLite), the rest one by one. */
function multiRowInsert(db: SqliteStore['db'], t: StoreTable): (rows: RawValue[][]) => void {
  const per = Math.max(1, Math.floor(ROWS_PER_INSERT_PARAMS / t.columns.length));
  const tuple = `(${t.columns.map(() => '?').join(', ')})`;
  const head = `INSERT INTO ${t.name} (${t.columns.join(', ')}) VALUES `;
  const one = db.prepare(head + tuple);
  const many = db.prepare(head + Array(per).fill(tuple).join(', '));
  return (rows) => {
    let i = 0;
    for (; i + per <= rows.length; i += per) many.run(rows.slice(i, i + per).flat());
    for (; i < rows.length; i++) one.run(rows[i]!);
  };
}

/** Parameters of one multi-row INSERT (SQLite allows 32766). */
const ROWS_PER_INSERT_PARAMS = 1000;

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
    // The tables are empty: their secondary indexes are made again after the rows (one sort each, not a
    // million random inserts), from their own stored SQL, still inside the transaction.
    const indexes = db
      .prepare<[string], { name: string; sql: string }>(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (SELECT value FROM json_each(?)) ORDER BY name",
      )
      .all(JSON.stringify(STORE_TABLES.map((t) => t.name)));
    for (const i of indexes) db.exec(`DROP INDEX "${i.name.replace(/"/g, '""')}"`);
    const savedCache = db.pragma('cache_size', { simple: true }) as number;
    db.pragma('cache_size = -32768');
    const inserts = new Map(STORE_TABLES.map((t) => [t.name, multiRowInsert(db, t)]));
    const written = new Map<string, number>();
    for await (const b of batches) {
      const insert = inserts.get(b.table);
      if (!insert) storeTable(b.table); // throws: not a table of ours
      if (!('rows' in b)) throw new Error('store copy: a SQLite store takes rows, not COPY text');
      store.guard(() => insert!(b.rows));
      const n = (written.get(b.table) ?? 0) + b.rows.length;
      written.set(b.table, n);
      options.onProgress?.(b.table, n);
    }
    store.guard(() => {
      for (const i of indexes) db.exec(i.sql);
    });
    db.pragma(`cache_size = ${savedCache}`);
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
