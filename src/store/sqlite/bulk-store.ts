import type Database from 'better-sqlite3';
import { CHANNELS, type Channel } from '../../consent/channels.js';
import {
  planImportedSubscription,
  STAGED_WIDTH,
  type ApplyOptions,
  type BulkStore,
  type ImportCounts,
  type ImportSession,
  type StagedBatch,
} from '../../consent/bulk.js';
import { ConsentError, notFound } from '../../consent/errors.js';
import type { SubscriptionStatus } from '../../consent/services.js';
import type { ProfileFilter } from '../../consent/store.js';
import { canonicalEvent, type BlockHasher, type ChangeContext } from '../../consent/ledger.js';
import { ErasedAddressMatcher, ERASURE_ENTRIES_SQL, PLAN_ADDRESSES_SQL } from '../shared/erasure.js';
import { grantCountSql, grantEventMask, grantEventsSql, markGrantedSql } from '../shared/import-grants.js';
import { CURRENT_POLICY_SQL } from '../shared/policy-sql.js';
import { canonicalTails } from '../shared/ledger-chain.js';
import { phoneChangeCountSql, phoneChangeEventsSql } from '../shared/phone-changes.js';
import { DIALECT as AS_OF_SQL } from './as-of-store.js';
import { basesFromRows } from '../../consent/policy.js';
import type { SqliteSuppressionRepository } from './suppression-store.js';
import type { SqliteStore } from './sqlite-store.js';
import {
  CHANNEL_BITS,
  changedSql,
  currentMaskSql,
  FLAG_COUNTS_SQL,
  foldedClear,
  newMaskSql,
  plannedEvents,
  SUB_SHIFT,
  wantedSubscription,
  ZERO_FLAG_COUNTS,
} from '../shared/import-rules.js';

/*
 * An import runs as: stage every valid row into a TEMP table (not the store
 * file: dropping it costs nothing and a crash leaves no trace), then plan and
 * write with set-based SQL in one IMMEDIATE transaction.
 *
 * Speed comes from two choices, both measured on a million random-order
 * emails: the rows reach `profiles` grouped by email, i.e. in the unique
 * index's order, so the index is appended to instead of being updated at
 * random places; and the seven opt-out flags travel as two bit masks (bit i
 * is CHANNELS[i]), so the plan is a few integer operations per row instead of
 * seven CASE expressions.
 */

const C = CHANNELS;
/** The opt-out bits of a staged mask (the subscription bits ride above them). */
const ALL_CHANNEL_BITS = (1 << CHANNELS.length) - 1;
const curMask = currentMaskSql;
const STAGE_ROWS_PER_STMT = 64;
/**
 * Helper threads for the sort that builds the email index after a first load
 * (`PRAGMA threads`): the parser thread is done by then, so a second core
 * would idle. Each costs sort memory, hence a small number, for that sort only.
 */
const INDEX_SORT_THREADS = 2;
const PAGE = 5000;
/** temp.cache_size during a direct first load (KiB, negative): see DirectLoad. */
const DIRECT_TEMP_CACHE = -2048;
const CONTACT_PAGE = 5000;

export class SqliteBulkStore implements BulkStore {
  constructor(private readonly store: SqliteStore) {}

  async beginImport(context: ChangeContext | null, options: { mayLoadDirectly: boolean }): Promise<ImportSession> {
    return new SqliteImportSession(this.store, context, options.mayLoadDirectly);
  }

  async *listContacts(filter: ProfileFilter): AsyncIterable<ReadonlyArray<readonly [number, string]>> {
    const { where, params } = this.store.filterSql(filter);
    const stmt = this.store.db.prepare(`SELECT id, email FROM main.profiles WHERE ${where} ORDER BY id LIMIT @limit`).raw();
    let remaining = filter.limit ?? Infinity;
    let after = 0;
    // Keyset pages (the caller may use the store between pages), as arrays: no object per row.
    while (remaining > 0) {
      const limit = Math.min(CONTACT_PAGE, remaining);
      const rows = this.store.read(() => stmt.all({ after, limit, ...params })) as [number, string][];
      if (rows.length > 0) yield rows;
      if (rows.length < limit) return;
      remaining -= rows.length;
      after = rows[rows.length - 1]![0];
    }
  }

  async serviceNames(): Promise<string[]> {
    return this.store.read(() => this.store.db.prepare('SELECT name FROM main.services ORDER BY name').pluck().all() as string[]);
  }

  async subscriptionsBetween(fromId: number, toId: number) {
    return this.store.read(() =>
      this.store.db
        .prepare<[number, number], { profileId: number; service: string; status: SubscriptionStatus; since: string }>(
          `SELECT s.profile_id AS profileId, v.name AS service, s.status, s.since
           FROM main.subscriptions s JOIN main.services v ON v.id = s.service_id
           WHERE s.profile_id BETWEEN ? AND ? ORDER BY s.profile_id, v.name`,
        )
        .all(fromId, toId),
    );
  }
}

class SqliteImportSession implements ImportSession {
  private readonly db: Database.Database;
  private readonly stageBatch: (batch: StagedBatch) => void;
  private readonly savedCache: number;
  private stagedRows = 0;
  /** Set while a first load goes straight into the store (see DirectLoad). */
  private direct: DirectLoad | null = null;

  constructor(
    private readonly store: SqliteStore,
    private readonly context: ChangeContext | null,
    private readonly mayLoadDirectly: boolean,
  ) {
    const db = (this.db = store.db);
    // More cache for the sorts and joins of a big import; still a fixed bound.
    this.savedCache = db.pragma('cache_size', { simple: true }) as number;
    db.pragma('cache_size = -16384');
    db.pragma('temp.cache_size = -16384');
    db.exec(`DROP TABLE IF EXISTS temp.import_raw; DROP TABLE IF EXISTS temp.import_plan;
      CREATE TEMP TABLE import_raw (email TEXT NOT NULL, phone TEXT, first_name TEXT, last_name TEXT,
        setm INTEGER NOT NULL, clearm INTEGER NOT NULL)`);
    const tuple = `(${Array(STAGED_WIDTH).fill('?').join(', ')})`;
    const many = db.prepare(`INSERT INTO temp.import_raw VALUES ${Array(STAGE_ROWS_PER_STMT).fill(tuple).join(', ')}`);
    const one = db.prepare(`INSERT INTO temp.import_raw VALUES ${tuple}`);
    const width = STAGED_WIDTH * STAGE_ROWS_PER_STMT;
    // Staging writes only the temp schema, so this deferred transaction never
    // takes the store's write lock: other processes carry on meanwhile.
    this.stageBatch = db.transaction((batch: StagedBatch) => {
      const v = batch.values;
      const end = batch.rows * STAGED_WIDTH;
      let i = 0;
      // Many rows per statement: the per-call cost dominates a narrow insert.
      for (; i + width <= end; i += width) many.run(v.slice(i, i + width));
      for (; i < end; i += STAGED_WIDTH) one.run(v.slice(i, i + STAGED_WIDTH));
    });
  }

  async header(header: { services: readonly string[]; grantable: number }): Promise<void> {
    // Not for a dry run (it writes nothing), nor for subscription columns (planned against the store's
    // services), nor for consent_ columns (their grants are planned: the direct load keeps no clear mask),
    // nor for a stream of unknown pace such as stdin (the lock would be held as long as it lasts).
    if (this.context === null || header.services.length > 0 || header.grantable !== 0 || !this.mayLoadDirectly) return;
    this.direct = DirectLoad.begin(this.store, this.context);
  }

  async stage(batch: StagedBatch): Promise<void> {
    if (this.direct) this.store.guard(() => this.direct!.load(batch));
    else this.stageBatch(batch);
    this.stagedRows += batch.rows;
  }

  /**
   * temp.import_plan: one row per email (new emails first, in the order they
   * first appear in the file, then the profiles that exist, by id), with the current
   * profile (if any), the flags it will have (`newm`) and whether anything
   * changes.
   */
  private plan(allowOptin: boolean): void {
    const db = this.db;
    db.exec('DROP TABLE IF EXISTS temp.import_plan');
    // Grouping sorts by email. Bare columns come from the row holding
    // max(rowid), the last one in the file (rows are staged in file order); sum() of a single row's mask is the
    // mask. Groups of several rows are folded properly afterwards.
    // An opt-out in the file is set; a cleared one only with --allow-optin;
    // a flag the file asks to set and clear (duplicates) stays set.
    const newm = newMaskSql(allowOptin);
    const changed = changedSql('IS NOT');
    // Computed in the one pass that builds the table (updating it afterwards
    // would rewrite a million rows). The current profiles are read in id
    // order: each email's id comes from the email index alone (no table
    // access), the groups are sorted by it, and the profile rows are then
    // read in the table's own order rather than at random (profiles are in
    // the order they were loaded, not in email order). New emails sort first,
    // in the order they first appear in the file (the order of their ids, as
    // on PostgreSQL). (With min() beside max(), the bare columns of a group of
    // several rows may come from either: those groups are folded again below.)
    db.exec(`CREATE TEMP TABLE import_plan AS
      WITH g AS MATERIALIZED (
        SELECT g0.*, (SELECT id FROM main.profiles WHERE email = g0.email) AS pid
        FROM (SELECT email, count(*) AS n, max(rowid) AS last_row, min(rowid) AS first_row, phone, first_name, last_name, sum(setm) AS setm, sum(clearm) AS clearm
              FROM temp.import_raw GROUP BY email) g0
        ORDER BY pid, first_row)
      SELECT y.*, ${changed} AS changed FROM (
        SELECT x.*, ${newm} AS newm FROM (
          SELECT g.email, g.n, g.phone, g.first_name, g.last_name, g.setm, g.clearm,
            p.id AS profile_id, p.id IS NULL AS is_new,
            p.phone AS cur_phone, p.first_name AS cur_first_name, p.last_name AS cur_last_name,
            coalesce(${curMask('p')}, 0) AS curm
          FROM g LEFT JOIN main.profiles p ON p.id = g.pid) x) y`);
    const dups = (db.prepare('SELECT count(*) AS k FROM temp.import_plan WHERE n > 1').get() as { k: number }).k;
    if (dups > 0) {
      // The plan has no email index: the repeated emails' plan rows are found through a small one of their own.
      db.exec(`DROP TABLE IF EXISTS temp.import_plan_dups;
        CREATE TEMP TABLE import_plan_dups (email TEXT PRIMARY KEY, plan_row INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO temp.import_plan_dups SELECT email, rowid FROM temp.import_plan WHERE n > 1;`);
      const update = db.prepare(
        `UPDATE temp.import_plan SET phone = ?, first_name = ?, last_name = ?, setm = ?, clearm = ?
         WHERE rowid = (SELECT plan_row FROM temp.import_plan_dups WHERE email = ?)`,
      );
      this.foldDuplicates('SELECT email FROM temp.import_plan_dups', (g) => update.run(g.phone, g.first, g.last, g.set, g.clear, g.email));
      db.exec('DROP TABLE temp.import_plan_dups');
      db.exec(`UPDATE temp.import_plan SET newm = ${newm} WHERE n > 1`);
      db.exec(`UPDATE temp.import_plan SET changed = ${changed} WHERE n > 1`);
    }
  }

  /**
   * For an email given more than once: an opt-out in any row wins, and each
   * text field takes the last non-empty value in the file. Only the rows of
   * duplicated emails (`dupEmails`, a query) are read back, a page at a time.
   */
  private foldDuplicates(dupEmails: string, onGroup: (g: FoldedGroup) => void): void {
    const db = this.db;
    db.exec(`DROP TABLE IF EXISTS temp.import_dups;
      CREATE TEMP TABLE import_dups AS SELECT r.* FROM temp.import_raw r
        WHERE r.email IN (${dupEmails}) ORDER BY r.email, r.rowid`);
    const rows = db.prepare<[number], { rid: number; email: string; phone: string | null; first_name: string | null; last_name: string | null; setm: number; clearm: number }>(
      `SELECT rowid AS rid, * FROM temp.import_dups WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE}`,
    );
    let cur: FoldedGroup | null = null;
    // An opt-out in any row wins over a row clearing it; for subscriptions
    // (the bits above) an unsubscribe in any row wins, so those clear bits stay.
    const flush = () => {
      if (cur) onGroup({ ...cur, clear: foldedClear(cur.set, cur.clear) });
    };
    let after = 0;
    for (;;) {
      const page = rows.all(after);
      for (const r of page) {
        if (!cur || cur.email !== r.email) {
          flush();
          cur = { email: r.email, phone: null, first: null, last: null, set: 0, clear: 0 };
        }
        cur.phone = r.phone ?? cur.phone;
        cur.first = r.first_name ?? cur.first;
        cur.last = r.last_name ?? cur.last;
        cur.set |= r.setm;
        cur.clear |= r.clearm;
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.rid;
    }
    flush();
    db.exec('DROP TABLE temp.import_dups');
  }

  /** Counts the opt-out flags set, cleared and refused, from the plan (set-based, dry run or not). */
  private countFlags(counts: ImportCounts): void {
    const r = this.db
      .prepare(FLAG_COUNTS_SQL('temp.import_plan'))
      .raw()
      .get() as number[];
    counts.optOutsSet = r[0]!;
    counts.optInsApplied = r[1]!;
    counts.optInsNotApplied = r[2]!;
  }

  /**
   * The opt-out events of the plan, one per flag that changes, inserted by one
   * statement in plan order (new emails in first-appearance order, then the
   * profiles that exist, by id) then channel order, the scan's. After the
   * profiles are written: new profiles' ids come from the email index.
   * XOR is (a | b) - (a & b).
   */
  private insertFlagEvents(ledger: ImportLedger): number {
    return ledger.insertSelect(
      `SELECT x.pid, c.name, NULL, CASE WHEN (x.newm >> c.bit) & 1 THEN 'optout' ELSE 'optin' END
       FROM (SELECT coalesce(ip.profile_id, (SELECT p.id FROM main.profiles p WHERE p.email = ip.email)) AS pid, ip.curm, ip.newm
             FROM temp.import_plan ip WHERE ip.newm <> ip.curm) x
       CROSS JOIN ${CHANNEL_BITS} c
       WHERE (((x.curm | x.newm) - (x.curm & x.newm)) >> c.bit) & 1`,
    );
  }

  /**
   * The `address` events of the plan's changes of phone (phone-changes.ts): with a ledger, written
   * into its block; without (a dry run), counted. Returns how many.
   */
  private phoneChanges(ledger: ImportLedger | null): number {
    const n = this.db.prepare(phoneChangeCountSql('temp.import_plan')).pluck().get() as number;
    if (n === 0 || ledger === null) return n;
    this.store.suppressions.secretKey(); // read before the statement that calls the key function
    return ledger.insertSelectWithEvidence(phoneChangeEventsSql({ plan: 'temp.import_plan', order: 'ip.rowid', keyOf: (a) => AS_OF_SQL.keyOf('phone', a) }));
  }

  /** The plan's profiles with an erased address; with `restore`, their keyed-only entries get the address back. */
  private erasedAddresses(restore: boolean): number {
    const entries = this.db.prepare<[], { channel: string; address: string | null; address_key: string }>(ERASURE_ENTRIES_SQL).all();
    if (entries.length === 0) return 0;
    const suppressions = this.store.suppressions as SqliteSuppressionRepository;
    const matcher = new ErasedAddressMatcher(entries, (c, a) => suppressions.keyOfSync(c, a));
    for (const r of this.db.prepare<[], { email: string; phone: string | null }>(PLAN_ADDRESSES_SQL('temp.import_plan')).iterate()) matcher.add(r.email, r.phone);
    if (restore) suppressions.restoreInTransaction(matcher.restore);
    return matcher.count;
  }

  private baseCounts(): ImportCounts {
    const r = this.db
      .prepare(
        `SELECT count(*) AS profiles, coalesce(sum(is_new), 0) AS new, coalesce(sum(changed AND NOT is_new), 0) AS updated,
          coalesce(sum(NOT changed AND NOT is_new), 0) AS unchanged, coalesce(sum(n - 1), 0) AS duplicatesMerged
        FROM temp.import_plan`,
      )
      .get() as Pick<ImportCounts, 'profiles' | 'new' | 'updated' | 'unchanged' | 'duplicatesMerged'>;
    return { ...r, ...ZERO_FLAG_COUNTS };
  }

  private services(names: readonly string[]): ImportService[] {
    const get = this.db.prepare<[string], { id: number; channel: Channel; double_opt_in: number }>(
      'SELECT id, channel, double_opt_in FROM main.services WHERE name = ?',
    );
    return names.map((name) => {
      const r = get.get(name);
      if (!r) throw notFound(`No service ${name} (subscribe_${name} column).`, 'See `consent service list`.');
      return { id: r.id, name, channel: r.channel, doubleOptIn: r.double_opt_in === 1 };
    });
  }

  /**
   * Walks the plan rows with subscription cells, counting the changes and,
   * with `write` (after the profiles are written, so every email has an id),
   * writing each subscription and yielding its ledger event.
   */
  private *subscriptionChanges(
    counts: ImportCounts,
    services: readonly ImportService[],
    allowOptin: boolean,
    at: string,
    write: boolean,
  ): Generator<{ profileId: number; channel: Channel; service: string; action: string }> {
    if (services.length === 0) return;
    const db = this.db;
    const page = db
      .prepare(
        write
          ? `SELECT ip.rowid, p.id, ip.setm >> ${SUB_SHIFT}, ip.clearm >> ${SUB_SHIFT}
             FROM temp.import_plan ip JOIN main.profiles p ON p.email = ip.email
             WHERE ip.rowid > ? AND ((ip.setm | ip.clearm) >> ${SUB_SHIFT}) <> 0 ORDER BY ip.rowid LIMIT ${PAGE}`
          : `SELECT rowid, coalesce(profile_id, 0), setm >> ${SUB_SHIFT}, clearm >> ${SUB_SHIFT} FROM temp.import_plan
             WHERE rowid > ? AND ((setm | clearm) >> ${SUB_SHIFT}) <> 0 ORDER BY rowid LIMIT ${PAGE}`,
      )
      .raw();
    const current = db
      .prepare<[number, number], SubscriptionStatus>('SELECT status FROM main.subscriptions WHERE profile_id = ? AND service_id = ?')
      .pluck();
    const upsert = db.prepare(
      `INSERT INTO main.subscriptions (profile_id, service_id, status, since) VALUES (?, ?, ?, ?)
       ON CONFLICT (profile_id, service_id) DO UPDATE SET status = excluded.status, since = excluded.since`,
    );
    let after = 0;
    for (;;) {
      const rows = page.all(after) as number[][];
      for (const [, profileId, sub, unsub] of rows) {
        for (let k = 0; k < services.length; k++) {
          const want = wantedSubscription(sub!, unsub!, k);
          if (want === null) continue;
          const s = services[k]!;
          const step = planImportedSubscription(s, (current.get(profileId!, s.id) as SubscriptionStatus | undefined) ?? null, want, allowOptin);
          if (step === null) continue;
          if (step === 'not-applied') {
            counts.subscriptionsNotApplied++;
            continue;
          }
          if (step.next === 'subscribed') counts.subscriptionsSet++;
          else if (step.next === 'pending') counts.subscriptionsPending++;
          else counts.unsubscribed++;
          if (write) {
            upsert.run(profileId, s.id, step.next, at);
            yield { profileId: profileId!, channel: s.channel, service: s.name, action: step.action };
          }
        }
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]![0]!;
    }
  }

  /**
   * The channels whose `1` cells may take grant-only events (import-grants.ts):
   * the file's consent_ channels under an opt-in basis, read in the import's
   * transaction. No statement for a file without consent_ columns.
   */
  private grantMask(grantable: number): number {
    if (grantable === 0) return 0;
    const mask = grantEventMask(grantable, basesFromRows(this.db.prepare<[], { channel: string; evidence: string | null }>(CURRENT_POLICY_SQL).all()));
    this.optOutGrantable = grantable & ~mask;
    return mask;
  }

  private optOutGrantable = 0;

  optOutConsent(): number {
    return this.optOutGrantable;
  }

  private static readonly PLAN = { plan: 'temp.import_plan', profiles: 'main.profiles' };

  async apply(options: ApplyOptions, context: ChangeContext | null): Promise<ImportCounts> {
    if (this.direct && context) return this.store.guard(() => this.finishDirect(this.direct!, context));
    if (context === null) {
      // A dry run reads one consistent snapshot and writes only temp tables.
      return this.store.read(() =>
        this.db.transaction(() => {
          const services = this.services(options.services);
          this.plan(options.allowOptin);
          const mask = this.grantMask(options.grantable);
          if (mask !== 0) this.db.exec(markGrantedSql({ ...SqliteImportSession.PLAN, mask }));
          const counts = this.baseCounts();
          this.countFlags(counts);
          counts.erasedAddresses = this.erasedAddresses(false);
          counts.phoneChanges = this.phoneChanges(null);
          for (const _ of this.subscriptionChanges(counts, services, options.allowOptin, '', false));
          // What a real run would record: one event per flag set or cleared, one per subscription change, and the grants.
          counts.events = plannedEvents(counts);
          if (mask !== 0) counts.grantEvents = this.db.prepare(grantCountSql({ ...SqliteImportSession.PLAN, mask })).pluck().get() as number;
          return counts;
        })(),
      );
    }
    return this.store.writeTransaction(() => {
      const services = this.services(options.services);
      // Decided under the write lock, like the plan: no other process can
      // add or change a profile between the plan and the write. (A file with
      // subscription columns takes the general path: it plans subscriptions.)
      // A file whose consent_ cells may grant takes it too: it plans its grants.
      const grants = this.grantMask(options.grantable);
      if (services.length === 0 && grants === 0 && !this.db.prepare('SELECT 1 FROM main.profiles LIMIT 1').get()) return this.applyToEmptyStore(context);
      this.plan(options.allowOptin);
      if (grants !== 0) this.db.exec(markGrantedSql({ ...SqliteImportSession.PLAN, mask: grants }));
      const counts = this.baseCounts();
      const at = context.occurredAt;
      if (counts.updated > 0) {
        this.db
          .prepare(
            `UPDATE main.profiles SET phone = coalesce(ip.phone, profiles.phone),
              first_name = coalesce(ip.first_name, profiles.first_name), last_name = coalesce(ip.last_name, profiles.last_name),
              ${C.map((c, i) => `optout_${c} = (ip.newm >> ${i}) & 1`).join(', ')}, updated_at = ?
            FROM temp.import_plan ip
            WHERE profiles.id = ip.profile_id AND ip.changed AND NOT ip.is_new`,
          )
          .run(at);
      }
      if (counts.new > 0) {
        this.db
          .prepare(
            `INSERT INTO main.profiles (email, phone, first_name, last_name, ${C.map((c) => `optout_${c}`).join(', ')}, created_at, updated_at)
            SELECT email, phone, first_name, last_name, ${C.map((_, i) => `(newm >> ${i}) & 1`).join(', ')}, ?, ?
            FROM temp.import_plan WHERE is_new ORDER BY rowid`,
          )
          .run(at, at);
      }
      counts.erasedAddresses = this.erasedAddresses(true);
      // One block: the opt-out events, the grant-only events, then the subscription events.
      this.countFlags(counts);
      const ledger = new ImportLedger(this.store, context);
      this.insertFlagEvents(ledger);
      if (grants !== 0) {
        counts.grantEvents = ledger.insertSelect(
          grantEventsSql({ ...SqliteImportSession.PLAN, mask: grants, order: 'ip.rowid', pid: 'coalesce(ip.profile_id, (SELECT np.id FROM main.profiles np WHERE np.email = ip.email))' }),
        );
      }
      // The changes of phone (after the profiles are written: the plan keeps the phone each had before).
      counts.phoneChanges = this.phoneChanges(ledger);
      for (const e of this.subscriptionChanges(counts, services, options.allowOptin, at, true)) {
        ledger.insertOne(e.profileId, e.channel, e.service, e.action);
      }
      counts.events = ledger.seal() - counts.grantEvents - counts.phoneChanges;
      return counts;
    });
  }

  /**
   * The first load of a store: no profile to match, so no plan table. The
   * rows go into `profiles` as the sqlite3 shell would load them (see
   * loadWithoutIndex); a file that repeats an email is loaded grouped instead
   * (loadGrouped). Then every opt-out of the new profiles becomes an event.
   */
  private applyToEmptyStore(context: ChangeContext, repeatsEmails = false): ImportCounts {
    const db = this.db;
    const at = context.occurredAt;
    const firstNewId = (db.prepare('SELECT coalesce(max(id), 0) + 1 AS id FROM main.profiles').get() as { id: number }).id;
    const inserted = (repeatsEmails ? null : this.loadWithoutIndex(at)) ?? this.loadGrouped(at);
    const counts: ImportCounts = {
      profiles: inserted, new: inserted, updated: 0, unchanged: 0, duplicatesMerged: this.stagedRows - inserted,
      ...ZERO_FLAG_COUNTS,
    };
    this.newProfileEvents(counts, context, firstNewId);
    return counts;
  }

  /**
   * The end of a direct first load, in its open transaction: the email index,
   * the events, the commit. When the file repeats an email the index cannot
   * be built as loaded: the rows move to staging (in file order) and the
   * store is emptied again, then the grouped load merges them, all in the same
   * transaction.
   */
  private finishDirect(direct: DirectLoad, context: ChangeContext): ImportCounts {
    const db = this.db;
    try {
      let counts: ImportCounts;
      if (direct.index.build()) {
        counts = { profiles: this.stagedRows, new: this.stagedRows, updated: 0, unchanged: 0, duplicatesMerged: 0, ...ZERO_FLAG_COUNTS };
        // The events were made and hashed batch by batch, while the parser read on.
        counts.optOutsSet = direct.ledger.insertStaged();
        counts.events = direct.ledger.seal();
      } else {
        // The events staged so far name profiles about to go: the grouped load makes its own (and sorts in temp).
        db.pragma('temp.cache_size = -16384');
        db.exec(`DROP TABLE temp.import_events;
          INSERT INTO temp.import_raw SELECT email, phone, first_name, last_name, ${curMask('p')}, 0 FROM main.profiles p ORDER BY id;
          DELETE FROM main.profiles;`);
        direct.index.build(); // no profile left: it cannot fail
        counts = this.applyToEmptyStore(context, true);
      }
      db.exec('COMMIT');
      this.direct = null;
      return counts;
    } catch (e) {
      this.rollbackDirect();
      throw e;
    }
  }

  private rollbackDirect(): void {
    this.direct = null;
    if (this.db.open && this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  /** Every opt-out of the new profiles (ids from `firstNewId` on) is an event, in id order (the scan's: no sort). */
  private newProfileEvents(counts: ImportCounts, context: ChangeContext, firstNewId: number): void {
    // Each (profile, channel) pair tests one column.
    const ledger = new ImportLedger(this.store, context);
    counts.optOutsSet = ledger.insertSelect(newProfileEventsSql('p.id >= ?'), firstNewId);
    counts.events = ledger.seal();
  }

  /**
   * The fast first load, as the sqlite3 shell does it: the staged rows go
   * into `profiles` in file order with the email index dropped, and the index
   * is built afterwards in one sort of the emails alone (rather than sorting
   * whole rows, or keeping the index up to date row by row). In a savepoint of
   * the import's transaction: when the index cannot be built because the file
   * repeats an email, the savepoint is rolled back (the index is back, nothing
   * loaded) and null returned.
   */
  private loadWithoutIndex(at: string): number | null {
    const db = this.db;
    const index = new EmailIndex(db);
    try {
      return db.transaction(() => {
        index.drop();
        const n = db
          .prepare(
            `INSERT INTO main.profiles (email, phone, first_name, last_name, ${C.map((c) => `optout_${c}`).join(', ')}, created_at, updated_at)
            SELECT email, phone, first_name, last_name, ${C.map((_, i) => `(setm >> ${i}) & 1`).join(', ')}, ?, ? FROM temp.import_raw ORDER BY rowid`,
          )
          .run(at, at).changes;
        if (!index.build()) throw REPEATED_EMAILS; // rolls the savepoint back
        return n;
      })();
    } catch (e) {
      if (e === REPEATED_EMAILS) return null;
      throw e;
    }
  }

  /**
   * The first load of a file that repeats emails: grouped by email, duplicates
   * folded (an opt-out in any row wins), ids in the order the emails first appear in the file.
   */
  private loadGrouped(at: string): number {
    const db = this.db;
    // sum() is the mask for an email given once; duplicates are corrected below (their bare columns, with
    // min() beside max(), may come from any of their rows).
    const inserted = db
      .prepare(
        `INSERT INTO main.profiles (email, phone, first_name, last_name, ${C.map((c) => `optout_${c}`).join(', ')}, created_at, updated_at)
        SELECT email, phone, first_name, last_name, ${C.map((_, i) => `(setm >> ${i}) & 1`).join(', ')}, ?, ?
        FROM (SELECT email, max(rowid) AS last_row, min(rowid) AS first_row, phone, first_name, last_name, sum(setm) AS setm
              FROM temp.import_raw GROUP BY email)
        ORDER BY first_row`,
      )
      .run(at, at).changes;
    if (this.stagedRows > inserted) {
      const update = db.prepare(
        `UPDATE main.profiles SET phone = ?, first_name = ?, last_name = ?, ${C.map((c) => `optout_${c} = ?`).join(', ')} WHERE email = ?`,
      );
      this.foldDuplicates('SELECT email FROM temp.import_raw GROUP BY email HAVING count(*) > 1', (g) =>
        update.run(g.phone, g.first, g.last, ...C.map((_, i) => (g.set >> i) & 1), g.email),
      );
    }
    return inserted;
  }

  async discard(): Promise<void> {
    if (this.direct) this.rollbackDirect(); // never applied: nothing of it stays
    if (!this.db.open || this.db.inTransaction) return;
    this.db.exec('DROP TABLE IF EXISTS temp.import_plan; DROP TABLE IF EXISTS temp.import_raw; DROP TABLE IF EXISTS temp.import_events;');
    this.db.pragma(`cache_size = ${this.savedCache}`);
  }
}


const EVENT_COLUMNS = 'profile_id, channel, service, action, source, actor, reason, evidence, occurred_at';

/**
 * profile_id, channel, service, action of every opt-out of the profiles that
 * `where` selects (of `p`), in id then channel-bit order (the scan's: no sort).
 * Each (profile, channel) pair tests one column.
 */
function newProfileEventsSql(where: string): string {
  return `SELECT p.id, c.name, NULL, 'optout' FROM main.profiles p CROSS JOIN ${CHANNEL_BITS} c
     WHERE ${where} AND (${C.map((c) => `p.optout_${c}`).join(' OR ')})
       AND CASE c.bit ${C.map((c, i) => `WHEN ${i} THEN p.optout_${c}`).join(' ')} END`;
}
const HASH_PAGE = 20000;

/**
 * The first load of an empty store, straight into `profiles`: the rows go in
 * as the parser thread hands them over, in file order, with the email index
 * dropped, inside the import's write transaction (opened here, committed by
 * apply, rolled back by discard; a kill leaves an uncommitted transaction,
 * which SQLite discards). This is the sqlite3 shell's own way of loading, and
 * it saves copying every row from staging afterwards; the price is holding
 * the write lock while the file is read, acceptable for a store that has no
 * profile yet.
 */
class DirectLoad {
  private constructor(
    readonly index: EmailIndex,
    readonly ledger: ImportLedger,
    readonly load: (batch: StagedBatch) => void,
  ) {}

  /**
   * Opens the transaction and returns the load, or null (nothing held) when
   * the store has profiles. Each batch's opt-out events are staged and hashed
   * right after its profiles are inserted (ImportLedger.stageEvents): the
   * main thread would otherwise wait for the parser thread, and this work
   * would be left for the end.
   */
  static begin(store: SqliteStore, context: ChangeContext): DirectLoad | null {
    const db = store.db;
    const at = context.occurredAt;
    store.guard(() => db.exec('BEGIN IMMEDIATE'));
    try {
      if (db.prepare('SELECT 1 FROM main.profiles LIMIT 1').get()) {
        db.exec('ROLLBACK');
        return null;
      }
      const index = new EmailIndex(db);
      index.drop();
      // The temp schema holds only the staged events, appended: a small cache is enough (peak RSS).
      db.pragma(`temp.cache_size = ${DIRECT_TEMP_CACHE}`);
      // The time twice, then email, phone, first and last name and set mask per row; the flags come out of the mask in SQL.
      const insert = (rows: number) =>
        db.prepare(
          `INSERT INTO main.profiles (email, phone, first_name, last_name, ${C.map((c) => `optout_${c}`).join(', ')}, created_at, updated_at)
           SELECT column1, column2, column3, column4, ${C.map((_, i) => `(column5 >> ${i}) & 1`).join(', ')}, ?, ?
           FROM (VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')})`,
        );
      const many = insert(STAGE_ROWS_PER_STMT);
      const one = insert(1);
      const lastId = db.prepare('SELECT coalesce(max(id), 0) FROM main.profiles').pluck();
      const ledger = new ImportLedger(store, context);
      ledger.stageEvents();
      let loaded = lastId.get() as number;
      const args: (string | number | null)[] = Array(2 + 5 * STAGE_ROWS_PER_STMT).fill(at);
      const put = (v: StagedBatch['values'], row: number, k: number) => {
        const src = row * STAGED_WIDTH;
        const dst = 2 + 5 * k;
        for (let j = 0; j < 5; j++) args[dst + j] = v[src + j]!; // not the clear mask: nothing to clear in a new profile
      };
      return new DirectLoad(index, ledger, (batch) => {
        const v = batch.values;
        let row = 0;
        for (; row + STAGE_ROWS_PER_STMT <= batch.rows; row += STAGE_ROWS_PER_STMT) {
          for (let k = 0; k < STAGE_ROWS_PER_STMT; k++) put(v, row + k, k);
          many.run(args);
        }
        for (; row < batch.rows; row++) {
          put(v, row, 0);
          one.run(args.slice(0, 7));
        }
        // The rows took the ids after the last one, in order (rowids of a table without AUTOINCREMENT).
        const last = lastId.get() as number;
        if (last - loaded !== batch.rows) throw new ConsentError('integrity', `${batch.rows} profiles loaded as ids ${loaded + 1}–${last}`);
        ledger.addOptOuts(v, batch.rows, loaded + 1);
        loaded = last;
      });
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
  }

}

/** Thrown inside a savepoint to roll a load back when its rows repeat an email. */
const REPEATED_EMAILS = new Error('the loaded rows repeat an email');

/**
 * The unique email index of `profiles`, dropped for a first load and built
 * once afterwards in one sort of the emails alone, as the sqlite3 shell does
 * (the migration's own definition, read back from the schema); the table's
 * other indexes likewise, once the email index is built.
 */
class EmailIndex {
  private readonly sql: string;
  /**
   * The other indexes of profiles (migration 14's consent-state and phone
   * indexes, for `consent stats`), dropped and built after the rows with it:
   * kept up to date row by row they made a 1M-row first load a third slower.
   */
  private readonly others: { name: string; sql: string }[];
  constructor(private readonly db: Database.Database) {
    this.sql = db.prepare("SELECT sql FROM main.sqlite_master WHERE type = 'index' AND name = 'profiles_email'").pluck().get() as string;
    this.others = db
      .prepare("SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = 'profiles' AND sql IS NOT NULL AND name <> 'profiles_email' ORDER BY name")
      .all() as { name: string; sql: string }[];
  }

  drop(): void {
    this.db.exec('DROP INDEX main.profiles_email');
    for (const o of this.others) this.db.exec(`DROP INDEX main."${o.name.replace(/"/g, '""')}"`);
  }

  /**
   * Builds it; false (and no index) when the profiles repeat an email. The
   * sort keeps up to a cache's worth of keys in memory per thread (helpers
   * and this one): the cache is shared out between them for the build, so
   * the helpers cost no memory beyond the import's usual bound (peak RSS).
   */
  build(): boolean {
    const threads = this.db.pragma('threads', { simple: true }) as number;
    const cache = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma(`threads = ${INDEX_SORT_THREADS}`);
    this.db.pragma(`cache_size = ${Math.trunc(cache / (INDEX_SORT_THREADS + 1))}`);
    try {
      this.db.exec(this.sql);
      for (const o of this.others) this.db.exec(o.sql);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
      throw e;
    } finally {
      this.db.pragma(`threads = ${threads}`);
      this.db.pragma(`cache_size = ${cache}`);
    }
  }
}

/**
 * The ledger side of an import, set-based: events are inserted by
 * INSERT … SELECT (or one by one for the few computed in JavaScript), then the
 * whole range is read back in id order with a lean statement and hashed into
 * one block. The canonical text is built from the stored id, profile id,
 * channel, action and service, and from the context every row was inserted
 * with, so it is byte for byte what `ledger verify` recomputes from the rows
 * (canonicalEvent: a JSON array; the service only when set).
 */
class ImportLedger {
  readonly first: number;
  private readonly params: { source: string; actor: string; reason: string | null; evidence: string | null; at: string };
  private readonly one: Database.Statement;
  /** While events are staged (stageEvents): the block's hasher, fed as they come, and how many were staged. */
  private staged: { hasher: BlockHasher; count: number; many: Database.Statement; one: Database.Statement; after: string[] } | null = null;

  constructor(private readonly store: SqliteStore, private readonly context: ChangeContext) {
    const db = store.db;
    this.first = (db.prepare('SELECT coalesce(max(id), 0) + 1 FROM main.ledger_events').pluck().get() as number);
    this.params = {
      source: context.source,
      actor: context.actor,
      reason: context.reason ?? null,
      evidence: context.evidence ? JSON.stringify(context.evidence) : null,
      at: context.occurredAt,
    };
    this.one = db.prepare(
      `INSERT INTO main.ledger_events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, @source, @actor, @reason, @evidence, @at)`,
    );
  }

  /** `select` gives profile_id, channel, service, action, in the order the events are to be numbered. */
  insertSelect(select: string, ...params: unknown[]): number {
    const insert = this.store.db.prepare(`INSERT INTO main.ledger_events (${EVENT_COLUMNS}) SELECT sel.*, @source, @actor, @reason, @evidence, @at FROM (${select}) sel`);
    return checkedAfterwards(this.store.db, this.first, () => insert.run(...params, this.params).changes);
  }

  /** `select` gives profile_id, channel, service, action and each event's own evidence (text), in numbering order. */
  insertSelectWithEvidence(select: string): number {
    const insert = this.store.db.prepare(
      `INSERT INTO main.ledger_events (${EVENT_COLUMNS}) SELECT sel.profile_id, sel.channel, sel.service, sel.action, @source, @actor, @reason, sel.evidence, @at FROM (${select}) sel`,
    );
    return checkedAfterwards(this.store.db, this.first, () => insert.run(this.params).changes);
  }

  insertOne(profileId: number, channel: string, service: string | null, action: string): void {
    this.one.run(profileId, channel, service, action, this.params);
  }

  /**
   * Events are to be staged first (addOptOuts) and inserted at the end
   * (insertStaged): for a first load, which holds the write lock from start to
   * end. A staged event is a row of temp.import_events (its rowid is its place
   * in the block, its profile id, its channel's bit), and its canonical text
   * is hashed as it is staged: the same list gives the rows and the hash.
   */
  stageEvents(): void {
    const db = this.store.db;
    db.exec(`DROP TABLE IF EXISTS temp.import_events;
      CREATE TEMP TABLE import_events (profile_id INTEGER NOT NULL, bit INTEGER NOT NULL)`);
    const insert = (rows: number) => db.prepare(`INSERT INTO temp.import_events VALUES ${Array(rows).fill('(?, ?)').join(', ')}`);
    // canonicalEvent of an opt-out of each channel with ids 0: what follows the ids is the same for every event of the import.
    const p = this.params;
    const after = C.map((channel) =>
      canonicalEvent({ id: 0, profileId: 0, channel, action: 'optout', source: p.source, actor: p.actor, reason: p.reason, evidenceJson: p.evidence, occurredAt: p.at }).slice('[0,0'.length),
    );
    this.staged = { hasher: this.store.openBlock(), count: 0, many: insert(STAGE_ROWS_PER_STMT), one: insert(1), after };
  }

  /**
   * Stages the opt-out events of `rows` new profiles (their staged values,
   * STAGED_WIDTH per row, with ids from `firstId` on): one per bit of the set
   * mask, in profile then channel-bit order, as newProfileEventsSql lists them.
   */
  addOptOuts(values: StagedBatch['values'], rows: number, firstId: number): void {
    const s = this.staged!;
    const args: number[] = [];
    let text = '';
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const set = (values[r * STAGED_WIDTH + 4] as number) & ALL_CHANNEL_BITS;
      if (set === 0) continue;
      const pid = firstId + r;
      for (let k = 0; k < C.length; k++) {
        if (((set >> k) & 1) === 0) continue;
        args.push(pid, k);
        text += (n === 0 ? '[' : '\n[') + (this.first + s.count + n) + ',' + pid + s.after[k];
        n++;
      }
    }
    if (n === 0) return;
    const width = 2 * STAGE_ROWS_PER_STMT;
    let i = 0;
    for (; i + width <= args.length; i += width) s.many.run(args.slice(i, i + width));
    for (; i < args.length; i += 2) s.one.run(args[i], args[i + 1]);
    s.hasher.addJoined(text, n);
    s.count += n;
  }

  /** Inserts the staged events into the ledger, in their order; returns how many. */
  insertStaged(): number {
    const db = this.store.db;
    const insert = db.prepare(
      `INSERT INTO main.ledger_events (id, ${EVENT_COLUMNS})
       SELECT rowid + ${this.first - 1}, profile_id, CASE bit ${C.map((c, i) => `WHEN ${i} THEN '${c}'`).join(' ')} END, NULL, 'optout',
         @source, @actor, @reason, @evidence, @at
       FROM temp.import_events ORDER BY rowid`,
    );
    const n = checkedAfterwards(db, this.first, () => insert.run(this.params).changes);
    db.exec('DROP TABLE temp.import_events');
    if (n !== this.staged!.count) throw new ConsentError('integrity', `${n} staged import events inserted, ${this.staged!.count} hashed`);
    return n;
  }

  /** Adds the canonical texts of events `from`..`to` to `hasher`, a page at a time. */
  private hashPages(hasher: BlockHasher, page: Database.Statement, from: number, to: number): void {
    const p = this.params;
    const tails = canonicalTails(p.source, p.actor, p.reason, p.evidence, p.at);
    for (let at = from; at <= to; at += HASH_PAGE) {
      const [text, n] = page.get({ ...tails, from: at, to: Math.min(to, at + HASH_PAGE - 1) }) as [Uint8Array, number];
      hasher.addJoined(text, n);
    }
  }

  /** Seals every event inserted since construction into one block; returns how many. */
  seal(): number {
    const db = this.store.db;
    const last = (db.prepare('SELECT coalesce(max(id), 0) FROM main.ledger_events').pluck().get() as number);
    if (last < this.first) return 0;
    if (this.staged) {
      // Hashed as they were staged.
      this.store.sealBlock(this.first, last, this.staged.hasher, this.params.at);
    } else {
      const page = db.prepare(canonicalPageSql('(SELECT * FROM main.ledger_events WHERE id BETWEEN @from AND @to)')).raw();
      this.store.sealBlock(this.first, last, (hasher) => this.hashPages(hasher, page, this.first, last), this.params.at);
    }
    return last - this.first + 1;
  }
}


/**
 * Runs `insert` (a bulk insert of ledger events, ids from `first` on) with
 * the table's CHECK constraints checked once over the inserted rows rather
 * than row by row: SQLite's per-row check of `action IN (…)` cost 3.4 s of a
 * 5 s insert of 1.26M events (measured), one scan of the same expressions
 * 0.2 s. The expressions are the table's own, read from its schema; a row
 * that breaks one fails the import as the per-row check would (the
 * transaction is rolled back: nothing is written). A table whose CHECKs
 * cannot be read is left to SQLite's per-row check.
 */
function checkedAfterwards(db: Database.Database, first: number, insert: () => number): number {
  const checks = ledgerChecks(db);
  if (checks === null) return insert();
  const was = db.pragma('ignore_check_constraints', { simple: true }) as number;
  db.pragma('ignore_check_constraints = ON');
  let n: number;
  try {
    n = insert();
  } finally {
    db.pragma(`ignore_check_constraints = ${was ? 'ON' : 'OFF'}`);
  }
  const bad = db
    .prepare(`SELECT id FROM main.ledger_events WHERE id >= ? AND (${checks.map((c) => `NOT coalesce((${c}), 1)`).join(' OR ')}) ORDER BY id LIMIT 1`)
    .pluck()
    .get(first) as number | undefined;
  if (bad !== undefined) throw new ConsentError('integrity', `ledger event ${bad} breaks a CHECK constraint of ledger_events; nothing was written.`);
  return n;
}

/** The expressions of the CHECK constraints of main.ledger_events, from its CREATE TABLE; null if they cannot be read. */
function ledgerChecks(db: Database.Database): string[] | null {
  const sql = db.prepare("SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'ledger_events'").pluck().get() as string | undefined;
  if (!sql) return null;
  const text = sql.replace(/--[^\n]*/g, '');
  const checks: string[] = [];
  const re = /\bCHECK\s*\(/gi;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < text.length && depth > 0; i++) {
      const ch = text[i];
      if (ch === "'") i = text.indexOf("'", i + 1); // a string literal ('' inside one reads as two literals: same depth)
      else if (ch === '(') depth++;
      else if (ch === ')') depth--;
      if (i === -1) return null;
    }
    if (depth !== 0) return null;
    checks.push(text.slice(re.lastIndex, i - 1));
    re.lastIndex = i;
  }
  return checks.length > 0 ? checks : null;
}

/**
 * The canonical texts (canonicalEvent) of the events of `rows` (a subquery of
 * id, profile_id, channel, service, action, bounded by @from and @to), joined
 * by newlines (as UTF-8 bytes: no conversion to a JavaScript string and back), and their count; @tail holds the fields after `action`, the
 * same for the whole import but for `address` events, which carry evidence of their own (@head, the
 * evidence, @end). Built in SQL, a page of events per string:
 * integers print as in JavaScript, and json_quote matches JSON.stringify on
 * the channel, action and service names (fixed vocabularies and service-name rules) and on an
 * `address` event's evidence (JSON of hex keys: no character json_quote could escape otherwise).
 */
function canonicalPageSql(rows: string): string {
  return `SELECT CAST(group_concat('[' || id || ',' || profile_id || ',' || json_quote(channel) || ',' || json_quote(action)
      || CASE WHEN action = 'address' THEN @head || json_quote(evidence) || @end ELSE @tail END
      || CASE WHEN service IS NULL THEN ']' ELSE ',' || json_quote(service) || ']' END, char(10) ORDER BY id) AS BLOB), count(*)
    FROM ${rows} ev`;
}

interface ImportService {
  id: number;
  name: string;
  channel: Channel;
  doubleOptIn: boolean;
}

interface FoldedGroup {
  email: string;
  phone: string | null;
  first: string | null;
  last: string | null;
  set: number;
  clear: number;
}

