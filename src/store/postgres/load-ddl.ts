/*
 * Bulk loads (a first load, `store copy` into PostgreSQL) drop indexes and
 * keys inside their transaction and make them again after the rows: one sort
 * per index and one join per foreign key instead of a descent and a check
 * per row. Which ones is the caller's choice; how they are read back
 * (pg_get_indexdef, pg_get_constraintdef), dropped and made again exactly as
 * they were is here, once.
 */
import type pg from 'pg';

export type Query = <T extends pg.QueryResultRow = any>(sql: string, params?: unknown[]) => Promise<T[]>;

/**
 * Drops the indexes (`indexes`: a condition on pg_index `i`, its index's
 * pg_class `ic` and its table's pg_class `c`) and constraints (`constraints`:
 * a condition on pg_constraint `k` and its table's pg_class `c`) that the
 * conditions select (each with its own parameters), foreign keys before the primary keys they may need.
 * Returns the statements that make them again, in the other order: the
 * indexes, the primary keys, then the foreign keys.
 */
export async function dropForRebuild(
  q: Query,
  which: { indexes: string; constraints: string; indexParams?: unknown[]; constraintParams?: unknown[] },
): Promise<string[]> {
  const indexes = await q<{ name: string; def: string }>(
    `SELECT quote_ident(ic.relname) AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
      WHERE ${which.indexes} ORDER BY ic.relname`,
    which.indexParams ?? [],
  );
  const keys = await q<{ tbl: string; name: string; def: string; primary: boolean }>(
    `SELECT quote_ident(c.relname) AS tbl, quote_ident(k.conname) AS name, pg_get_constraintdef(k.oid) AS def, k.contype = 'p' AS primary
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
      WHERE ${which.constraints} ORDER BY k.contype = 'p', c.relname, k.conname`,
    which.constraintParams ?? [],
  );
  for (const k of keys) await q(`ALTER TABLE ${k.tbl} DROP CONSTRAINT ${k.name}`);
  for (const i of indexes) await q(`DROP INDEX ${i.name}`);
  const add = (k: (typeof keys)[number]) => `ALTER TABLE ${k.tbl} ADD CONSTRAINT ${k.name} ${k.def}`;
  return [...indexes.map((i) => i.def), ...keys.filter((k) => k.primary).map(add), ...keys.filter((k) => !k.primary).map(add)];
}
