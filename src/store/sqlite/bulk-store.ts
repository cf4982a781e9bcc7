import type Database from 'better-sqlite3';
import { CHANNELS, type Channel } from '../../consent/channels.js';
import type { ChangeContext } from '../../consent/ledger.js';
import type { BulkStore, ImportCounts, ImportSession, StagedRow } from '../../consent/bulk.js';
import type { SqliteStore } from './sqlite-store.js';

/*
 * Imports run as: stage every valid row into a TEMP table (not the store file:
 * dropping it costs nothing and a crash leaves no trace), then plan and write
 * with set-based SQL in one IMMEDIATE transaction. The rows reach
 * `profiles` grouped by email, i.e. in the unique index's order, so the index
 * is appended to instead of being updated at random places: that is what
 * makes a million random-order emails cheap.
 */

const C = CHANNELS;
const oCols = C.map((c) => `o_${c}`);
/** The flag a row leaves in place: clear only when allowed. */
const newFlag = (c: Channel, allowOptin: boolean) =>
  `CASE WHEN g.o_${c} IS NULL THEN coalesce(p.optout_${c}, 0) WHEN g.o_${c} = 1 THEN 1 ` +
  `WHEN coalesce(p.optout_${c}, 0) = 0 THEN 0 ELSE ${allowOptin ? 0 : 1} END`;
const textChanged = (col: string, cur: string) => `(${col} IS NOT NULL AND ${col} IS NOT ${cur})`;
const anyChange = [
  textChanged('phone', 'cur_phone'),
  textChanged('first_name', 'cur_first_name'),
  textChanged('last_name', 'cur_last_name'),
  ...C.map((c) => `n_${c} <> coalesce(was_${c}, 0)`),
].join(' OR ');

const STAGE_BATCH = 2000;

export class SqliteBulkStore implements BulkStore {
  private sessions = 0;
  constructor(private readonly store: SqliteStore) {}

  async beginImport(): Promise<ImportSession> {
    return new SqliteImportSession(this.store, ++this.sessions);
  }
}

class SqliteImportSession implements ImportSession {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly stageBatch: (rows: readonly StagedRow[]) => void;
  private readonly savedCache: number;

  constructor(
    private readonly store: SqliteStore,
    _id: number,
  ) {
    this.db = store.db;
    // More cache for the sorts and joins of a big import; still a fixed bound.
    this.savedCache = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma('cache_size = -32768');
    this.db.pragma('temp.cache_size = -32768');
    this.db.exec(`DROP TABLE IF EXISTS temp.import_raw; DROP TABLE IF EXISTS temp.import_plan;
      CREATE TEMP TABLE import_raw (line INTEGER NOT NULL, email TEXT NOT NULL, phone TEXT, first_name TEXT, last_name TEXT,
        ${oCols.map((c) => `${c} INTEGER`).join(', ')})`);
    this.insert = this.db.prepare(
      `INSERT INTO temp.import_raw VALUES (?, ?, ?, ?, ?, ${oCols.map(() => '?').join(', ')})`,
    );
    // Staging writes only the temp schema, so this deferred transaction never
    // takes the store's write lock: other processes carry on meanwhile.
    this.stageBatch = this.db.transaction((rows: readonly StagedRow[]) => {
      const ins = this.insert;
      for (const r of rows) ins.run(r.line, r.email, r.phone, r.firstName, r.lastName, ...r.optOut);
    });
  }

  async stage(rows: readonly StagedRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += STAGE_BATCH) this.stageBatch(rows.slice(i, i + STAGE_BATCH));
  }

  /** Merges duplicate emails and joins with the current profiles into temp.import_plan. */
  private plan(allowOptin: boolean): void {
    const db = this.db;
    db.exec(`DROP TABLE IF EXISTS temp.import_plan;
      CREATE INDEX IF NOT EXISTS temp.import_raw_email ON import_raw (email, line);`);
    // Bare columns of a group come from the row holding max(line), the last
    // one in the file; for duplicates they are corrected below. An opt-out in
    // any row of a group wins: sum() of 0/1/NULL is >0, 0, or NULL (no value).
    db.exec(`CREATE TEMP TABLE import_plan AS
      SELECT g.email, g.n, g.line, g.phone, g.first_name, g.last_name,
        p.id AS profile_id, p.id IS NULL AS is_new,
        p.phone AS cur_phone, p.first_name AS cur_first_name, p.last_name AS cur_last_name,
        ${C.map((c) => `g.o_${c}, p.optout_${c} AS was_${c}, ${newFlag(c, allowOptin)} AS n_${c}`).join(',\n        ')}
      FROM (SELECT email, count(*) AS n, max(line) AS line, phone, first_name, last_name,
              ${C.map((c) => `min(1, sum(o_${c})) AS o_${c}`).join(', ')}
            FROM temp.import_raw GROUP BY email) g
      LEFT JOIN main.profiles p ON p.email = g.email
      ORDER BY g.email`);
    // For an email given more than once, each text field takes the last
    // non-empty value in the file.
    const last = (col: string) =>
      `(SELECT r.${col} FROM temp.import_raw r WHERE r.email = import_plan.email AND r.${col} IS NOT NULL ORDER BY r.line DESC LIMIT 1)`;
    db.exec(`UPDATE temp.import_plan SET phone = ${last('phone')}, first_name = ${last('first_name')},
      last_name = ${last('last_name')} WHERE n > 1`);
  }

  private counts(): Omit<ImportCounts, 'events'> {
    const sumOver = (expr: (c: Channel) => string) => C.map((c) => `coalesce(${expr(c)}, 0)`).join(' + ');
    const row = this.db
      .prepare(
        `SELECT count(*) AS profiles,
          coalesce(sum(is_new), 0) AS new,
          coalesce(sum(NOT is_new AND (${anyChange})), 0) AS updated,
          coalesce(sum(NOT is_new AND NOT (${anyChange})), 0) AS unchanged,
          coalesce(sum(n - 1), 0) AS duplicatesMerged,
          coalesce(sum(${sumOver((c) => `n_${c} = 1 AND coalesce(was_${c}, 0) = 0`)}), 0) AS optOutsSet,
          coalesce(sum(${sumOver((c) => `n_${c} = 0 AND was_${c} = 1`)}), 0) AS optInsApplied,
          coalesce(sum(${sumOver((c) => `o_${c} = 0 AND was_${c} = 1 AND n_${c} = 1`)}), 0) AS optInsNotApplied
        FROM temp.import_plan`,
      )
      .get() as Omit<ImportCounts, 'events'>;
    return row;
  }

  async apply(options: { allowOptin: boolean }, context: ChangeContext | null): Promise<ImportCounts> {
    if (context === null) {
      // A dry run reads one consistent snapshot and writes only temp tables.
      return this.db.transaction(() => {
        this.plan(options.allowOptin);
        return { ...this.counts(), events: 0 };
      })();
    }
    return this.store.writeTransaction(() => {
      // Planned under the write lock, so no other process can change a
      // profile between the plan and the write.
      this.plan(options.allowOptin);
      const counts = this.counts();
      const at = context.occurredAt;
      this.db
        .prepare(
          `UPDATE main.profiles SET phone = coalesce(ip.phone, profiles.phone),
            first_name = coalesce(ip.first_name, profiles.first_name), last_name = coalesce(ip.last_name, profiles.last_name),
            ${C.map((c) => `optout_${c} = ip.n_${c}`).join(', ')}, updated_at = ?
          FROM temp.import_plan ip
          WHERE profiles.id = ip.profile_id AND NOT ip.is_new AND (${anyChange.replace(/\b(phone|first_name|last_name|n_\w+|cur_\w+|was_\w+)\b/g, 'ip.$1')})`,
        )
        .run(at);
      this.db
        .prepare(
          `INSERT INTO main.profiles (email, phone, first_name, last_name, ${C.map((c) => `optout_${c}`).join(', ')}, created_at, updated_at)
          SELECT email, phone, first_name, last_name, ${C.map((c) => `n_${c}`).join(', ')}, ?, ? FROM temp.import_plan
          WHERE is_new ORDER BY email`,
        )
        .run(at, at);
      this.db.exec(`UPDATE temp.import_plan SET profile_id = (SELECT id FROM main.profiles p WHERE p.email = import_plan.email) WHERE is_new`);
      const events = this.store.appendEvents(this.changes(), context);
      return { ...counts, events };
    });
  }

  /** The flag changes, read in pages: no statement stays open while events are written. */
  private *changes(): Generator<{ profileId: number; channel: Channel; action: string }> {
    const differs = C.map((c) => `n_${c} <> coalesce(was_${c}, 0)`).join(' OR ');
    const page = this.db
      .prepare(
        `SELECT rowid AS rid, profile_id, ${C.map((c) => `n_${c}, coalesce(was_${c}, 0) AS c_${c}`).join(', ')}
        FROM temp.import_plan WHERE rowid > ? AND (${differs}) ORDER BY rowid LIMIT 5000`,
      )
      .raw();
    let after = 0;
    for (;;) {
      const rows = page.all(after) as number[][];
      for (const r of rows) {
        for (let i = 0; i < C.length; i++) {
          const next = r[2 + 2 * i];
          if (next !== r[3 + 2 * i]) yield { profileId: r[1]!, channel: C[i]!, action: next === 1 ? 'optout' : 'optin' };
        }
      }
      if (rows.length < 5000) return;
      after = rows[rows.length - 1]![0]!;
    }
  }

  async discard(): Promise<void> {
    if (!this.db.open) return;
    if (this.db.inTransaction) return; // the failing transaction rolls back the temp tables with it
    this.db.exec('DROP TABLE IF EXISTS temp.import_plan; DROP TABLE IF EXISTS temp.import_raw;');
    this.db.pragma(`cache_size = ${this.savedCache}`);
  }
}
