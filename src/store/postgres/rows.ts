/** RowStore's two methods on PostgreSQL (see src/store/rows.ts for what they promise). */
import type pg from 'pg';
import { batchRows, GENERATED_ID_TABLES, MUST_BE_EMPTY, STORE_TABLES, storeTable, type ImportAllOptions, type RawBatch, type RawValue } from '../rows.js';
import { assertEmpty, verificationFailed } from '../sqlite/rows.js';
import { copyText, CopyIn } from './copy-in.js';
import { dropForRebuild } from './load-ddl.js';
import { CHAIN_LOCK, verifyPgLedger, type PgStore } from './pg-store.js';

const BATCH = 5000;

export async function* exportPgRows(store: PgStore): AsyncIterable<RawBatch> {
  const client = await store.connect();
  let open = false;
  let dead = false;
  try {
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      open = true;
      await client.query('SET LOCAL statement_timeout = 0');
    } catch (e) {
      throw store.translate(e);
    }
    for (const t of STORE_TABLES) {
      const cursor = `copy_${t.name}`;
      let rows: RawValue[][];
      try {
        await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${t.columns.join(', ')} FROM ${t.name} ORDER BY ${t.order}`);
      } catch (e) {
        throw store.translate(e);
      }
      do {
        try {
          rows = (await client.query<RawValue[]>({ text: `FETCH ${BATCH} FROM ${cursor}`, rowMode: 'array' })).rows;
        } catch (e) {
          throw store.translate(e);
        }
        if (rows.length > 0) yield { table: t.name, rows };
      } while (rows.length === BATCH);
    }
    await client.query('COMMIT');
    open = false;
  } finally {
    if (open) await client.query('ROLLBACK').catch(() => (dead = true));
    client.release(dead || undefined);
  }
}

/**
 * Drops, inside the copy's transaction, the secondary indexes and foreign
 * keys of the (empty) tables, and returns the statements that make them
 * again exactly as they were (pg_get_indexdef, pg_get_constraintdef). Primary
 * keys and unique constraints stay. A role that may not drop them (not the
 * tables' owner) keeps them: the copy is then only slower. The grants
 * trigger (migration 9) is not fired either: the profiles' grants are copied
 * as they are, and the copy's verification checks them against the ledger
 * before it commits (the trigger would group every copied event to rewrite
 * no row, and keep them all in its transition table).
 */
async function dropForLoad(client: pg.PoolClient): Promise<string[]> {
  const tables = STORE_TABLES.map((t) => t.name);
  await client.query('SAVEPOINT drop_for_load');
  try {
    const inStore = `c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)`;
    const rebuild = await dropForRebuild(
      async (sql, params) => (await client.query(sql, params)).rows,
      {
        indexes: `${inStore} AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid)`,
        constraints: `k.contype = 'f' AND ${inStore}`,
        indexParams: [tables],
        constraintParams: [tables],
      },
    );
    await client.query('ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_grant');
    await client.query('RELEASE SAVEPOINT drop_for_load');
    return [...rebuild, 'ALTER TABLE ledger_events ENABLE TRIGGER ledger_events_grant'];
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT drop_for_load');
    return [];
  }
}

export async function importPgRows(store: PgStore, batches: AsyncIterable<RawBatch>, options: ImportAllOptions = {}) {
  const client = await store.connect();
  let copy: CopyIn | null = null;
  let copyTable = '';
  const q = async (sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows;
  const endCopy = async () => {
    if (!copy) return;
    const c = copy;
    copy = null;
    await c.end();
  };
  try {
    // A client killed mid-copy is noticed within a second, even during a long statement, and its transaction rolled back.
    await q("SET statement_timeout = 0; SET client_connection_check_interval = '1s'");
    await q('BEGIN');
    await q('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    await q('LOCK TABLE profiles IN EXCLUSIVE MODE');
    const counts = new Map<string, number>();
    const [c] = await q(
      `SELECT ${[...MUST_BE_EMPTY, 'signing_keys'].map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')},
              (SELECT count(*) FROM signing_keys WHERE retired_at IS NOT NULL) AS retired`,
    );
    for (const [k, v] of Object.entries(c as Record<string, number>)) counts.set(k, Number(v));
    assertEmpty((t) => counts.get(t) ?? 0, counts.get('retired') ?? 0, store.location);
    await q('DELETE FROM signing_keys; DELETE FROM settings');
    const rebuild = await dropForLoad(client);
    const written = new Map<string, number>();
    for await (const b of batches) {
      const t = storeTable(b.table);
      if (copyTable !== t.name) {
        await endCopy();
        copyTable = t.name;
        copy = new CopyIn(client, `COPY ${t.name} (${t.columns.join(', ')}) FROM STDIN`);
      }
      let text = 'copyText' in b ? b.copyText : '';
      if ('rows' in b) for (const r of b.rows) text += r.map(copyText).join('\t') + '\n';
      await copy!.write(text);
      const n = (written.get(t.name) ?? 0) + batchRows(b);
      written.set(t.name, n);
      options.onProgress?.(t.name, n);
    }
    await endCopy();
    // One sort per index and one join per foreign key, on the whole table: cheaper than a million updates of each.
    for (const sql of rebuild) await q(sql);
    for (const t of GENERATED_ID_TABLES) {
      await q(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), coalesce(max(id), 0) + 1, false) FROM ${t}`);
    }
    const v = await verifyPgLedger(client);
    if (!v.ok) throw verificationFailed(v, store.location);
    options.accept?.(v);
    await q('COMMIT');
    // The planner's statistics of the tables just filled: without them, until autovacuum gets round to
    // it, every query of the new store is planned for empty tables (a sequential scan where an index
    // probe belongs). What pg_restore users are told to do after a load; VACUUM also sets the visibility
    // map, which the index-only counts of `consent stats` (migration 14) need.
    await q('VACUUM (ANALYZE)');
    return v;
  } catch (e) {
    if (copy) {
      // An unfinished COPY: the connection is dropped, which rolls the transaction back.
      (copy as CopyIn).destroy();
    } else {
      await client.query('ROLLBACK').catch(() => {});
    }
    throw store.translate(e);
  } finally {
    // Not given back to the pool: its session settings are the copy's.
    client.release(true);
  }
}

