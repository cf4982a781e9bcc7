import { ErasedAddressMatcher, ERASURE_ENTRIES_SQL, PLAN_ADDRESSES_SQL } from '../shared/erasure.js';
import { grantCountSql, grantEventMask, grantEventsSql, markGrantedSql } from '../shared/import-grants.js';
import { CURRENT_POLICY_SQL } from '../shared/policy-sql.js';
import { canonicalTails } from '../shared/ledger-chain.js';
import { phoneChangeCountSql, phoneChangeEventsSql } from '../shared/phone-changes.js';
import { hmacPads } from '../shared/as-of-sql.js';
import { DIALECT as AS_OF_SQL } from './as-of-store.js';
import { basesFromRows } from '../../consent/policy.js';
import type pg from 'pg';
import { withoutQueryTimeout } from './connection.js';
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
import { notFound } from '../../consent/errors.js';
import { BlockHasher, GENESIS_HASH, type ChangeContext } from '../../consent/ledger.js';
import type { SubscriptionStatus } from '../../consent/services.js';
import type { ProfileFilter } from '../../consent/store.js';
import {
  CHANNEL_BITS,
  changedSql,
  currentMaskSql,
  FLAG_COUNTS_SQL,
  foldedClearSql,
  newMaskSql,
  plannedEvents,
  SUB_SHIFT,
  wantedSubscription,
  ZERO_FLAG_COUNTS,
} from '../shared/import-rules.js';
import { copyText, CopyIn } from './copy-in.js';
import { PgFirstLoad, PROFILES_EMAIL_INDEX } from './first-load.js';
import { CHAIN_LOCK, PgTx, type PgStore } from './pg-store.js';

/** Imports that write at least this many profiles refresh the planner's statistics after their commit. */
const ANALYZE_AFTER_ROWS = 10_000;

/*
 * An import on PostgreSQL: the valid rows are streamed with COPY … FROM STDIN
 * into a temporary table of the import's own session (nothing in the store:
 * a kill of the client or of the server leaves no trace), then planned and
 * written by set-based SQL in ONE transaction that holds an EXCLUSIVE lock on
 * `profiles` (readers carry on; writers wait, as for SQLite's write lock).
 * Duplicates are folded by GROUP BY with the shared rules (import-rules.ts),
 * so no row is upserted twice. The events are numbered and hashed into one
 * block under the chain lock, as the last statements before the commit.
 */

const C = CHANNELS;
const PAGE = 5000;
const HASH_PAGE = 20_000;
const CONTACT_PAGE = 5000;
const FLAG_COLUMNS = C.map((c) => `optout_${c}`).join(', ');
/** The foreign keys to profiles of the tables an import fills, as migrations 1 and 2 made them. */
const PROFILE_FKS = { ledger_events: 'ledger_events_profile_id_fkey', subscriptions: 'subscriptions_profile_id_fkey' } as const;
/** The plan's grouping and sorts, and a first load's index builds, in memory rather than in temporary files. */
const MEMORY = "SET LOCAL work_mem = '64MB'; SET LOCAL maintenance_work_mem = '256MB'";

/** CONSENT_DEBUG_TIMINGS=1: each phase of an import and its seconds on stderr (for profiling; never data). */
class PhaseTimer {
  private readonly on = !!process.env.CONSENT_DEBUG_TIMINGS;
  private last = performance.now();
  mark(phase: string): void {
    if (!this.on) return;
    const now = performance.now();
    process.stderr.write(`[import] ${phase} ${((now - this.last) / 1000).toFixed(3)} s\n`);
    this.last = now;
  }
}

export class PgBulkStore implements BulkStore {
  constructor(private readonly store: PgStore) {}

  async beginImport(context: ChangeContext | null, options?: { mayLoadDirectly: boolean }): Promise<ImportSession> {
    const client = await this.store.connect();
    try {
      // An import is one long write: the per-statement limit of ordinary commands does not apply.
      // A client killed mid-import (kill -9) is noticed by the server within a second, even during
      // a long statement, and its transaction rolled back: its locks do not outlive it.
      // temp_buffers can only be set before the session's first temporary table: the staging and plan
      // tables then stay in memory instead of going through the OS a page at a time (default 8MB).
      await client.query("SET statement_timeout = 0; SET client_connection_check_interval = '1s'; SET temp_buffers = '128MB'");
      withoutQueryTimeout(client, true);
      await client.query(`DROP TABLE IF EXISTS pg_temp.import_raw;
        CREATE TEMP TABLE import_raw (rn bigint GENERATED ALWAYS AS IDENTITY, email text NOT NULL, phone text,
          first_name text, last_name text, setm bigint NOT NULL, clearm bigint NOT NULL)`);
    } catch (e) {
      client.release(true);
      throw this.store.translate(e);
    }
    return new PgImportSession(this.store, client, context, options?.mayLoadDirectly ?? false);
  }

  async *listContacts(filter: ProfileFilter): AsyncIterable<ReadonlyArray<readonly [number, string]>> {
    const params: unknown[] = [];
    const where = await this.store.filterSql(filter, params);
    const limit = filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : '';
    yield* this.store.cursor<[number, string] & pg.QueryResultRow>(
      `SELECT id, email FROM profiles WHERE ${where} ORDER BY id${limit}`,
      params,
      CONTACT_PAGE,
      'array',
    ) as AsyncIterable<[number, string][]>;
  }

  async serviceNames(): Promise<string[]> {
    return (await this.store.query<{ name: string }>('SELECT name FROM services ORDER BY name')).map((r) => r.name);
  }

  async subscriptionsBetween(fromId: number, toId: number) {
    return this.store.query<{ profileId: number; service: string; status: SubscriptionStatus; since: string }>(
      `SELECT s.profile_id AS "profileId", v.name AS service, s.status, s.since
       FROM subscriptions s JOIN services v ON v.id = s.service_id
       WHERE s.profile_id BETWEEN $1 AND $2 ORDER BY s.profile_id, v.name`,
      [fromId, toId],
    );
  }
}

/** A plan row's profile id: its current profile's, or the one reserved for it from `firstId` (an integer from the database). */
const profileIdSql = (ip: string, firstId: number) => `coalesce(${ip}.profile_id, ${Math.trunc(firstId)} + ${ip}.new_rank - 1)`;

interface ImportService {
  id: number;
  name: string;
  channel: Channel;
  doubleOptIn: boolean;
}

class PgImportSession implements ImportSession {
  private copy: CopyIn | null = null;
  private dead = false;
  private released = false;
  private readonly timer = new PhaseTimer();
  /** Set while a first load goes straight into the store, in its open transaction (see first-load.ts). */
  private first: PgFirstLoad | null = null;

  constructor(
    private readonly store: PgStore,
    private readonly client: pg.PoolClient,
    private readonly context: ChangeContext | null,
    private readonly mayLoadDirectly: boolean,
  ) {}

  private q<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.client.query<T>(sql, params).then((r) => r.rows);
  }

  async header(header: { services: readonly string[]; grantable: number }): Promise<void> {
    // Only a real import (not a dry run), without subscription columns (planned against the store's services)
    // nor consent_ columns (their grants are planned against the basis), from a file (not a stream of unknown
    // pace such as stdin, which would hold the locks as long as it lasts), into a store with no profile, goes
    // straight into the store (as on SQLite). Otherwise staging holds no lock of the store.
    if (this.context === null || header.services.length > 0 || header.grantable !== 0 || !this.mayLoadDirectly || this.first) return;
    try {
      this.first = await PgFirstLoad.begin(this.client, (sql, params) => this.q(sql, params), this.context, `BEGIN; ${MEMORY}`);
    } catch (e) {
      throw this.fail(e);
    }
  }

  async stage(batch: StagedBatch): Promise<void> {
    if (batch.rows === 0) return;
    if (this.first) {
      try {
        return await this.first.load(batch);
      } catch (e) {
        throw this.fail(e);
      }
    }
    this.copy ??= new CopyIn(this.client, 'COPY pg_temp.import_raw (email, phone, first_name, last_name, setm, clearm) FROM STDIN');
    const v = batch.values;
    const lines: string[] = [];
    for (let r = 0; r < batch.rows; r++) {
      const o = r * STAGED_WIDTH;
      lines.push(`${copyText(v[o]!)}\t${copyText(v[o + 1]!)}\t${copyText(v[o + 2]!)}\t${copyText(v[o + 3]!)}\t${v[o + 4]}\t${v[o + 5]}\n`);
    }
    try {
      await this.copy.write(lines.join(''));
    } catch (e) {
      throw this.fail(e);
    }
  }

  private fail(e: unknown): unknown {
    this.dead = true;
    return this.store.translate(e);
  }

  private async endCopy(): Promise<void> {
    if (!this.copy) return;
    const copy = this.copy;
    this.copy = null;
    try {
      await copy.end();
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** pg_temp.import_plan: one row per email (duplicates folded), with its current profile and the flags it will have. */
  private async plan(allowOptin: boolean): Promise<void> {
    // Grouped by hashing, without ordered aggregates (each of which sorts every group): min() is
    // the value of an email given once; only emails given more than once (g1) are folded again
    // with "the last non-empty value in file order".
    const last = (col: string) => `(array_agg(r.${col} ORDER BY r.rn DESC) FILTER (WHERE r.${col} IS NOT NULL))[1] AS ${col}`;
    const pick = (col: string) => `CASE WHEN g0.n = 1 THEN g0.${col} ELSE g1.${col} END AS ${col}`;
    await this.q(`CREATE TEMP TABLE import_plan ON COMMIT DROP AS
      WITH g0 AS MATERIALIZED (
        SELECT email, count(*) AS n, min(rn) AS first_rn, min(phone) AS phone, min(first_name) AS first_name,
          min(last_name) AS last_name, bit_or(setm) AS setm, ${foldedClearSql('bit_or(setm)', 'bit_or(clearm)')} AS clearm
        FROM pg_temp.import_raw GROUP BY email),
      g1 AS (
        SELECT r.email, ${last('phone')}, ${last('first_name')}, ${last('last_name')}
        FROM pg_temp.import_raw r JOIN g0 ON g0.email = r.email AND g0.n > 1 GROUP BY r.email),
      g AS (
        SELECT g0.email, g0.n, g0.first_rn, ${pick('phone')}, ${pick('first_name')}, ${pick('last_name')}, g0.setm, g0.clearm
        FROM g0 LEFT JOIN g1 ON g1.email = g0.email)
      SELECT y.*, ${changedSql('IS DISTINCT FROM')} AS changed,
        -- A new profile's rank in file order: its id is the first id reserved for the import + new_rank - 1.
        CASE WHEN y.is_new THEN row_number() OVER (PARTITION BY y.is_new ORDER BY y.first_rn) END AS new_rank FROM (
        SELECT x.*, ${newMaskSql(allowOptin)} AS newm FROM (
          SELECT g.*, p.id AS profile_id, p.id IS NULL AS is_new,
            p.phone AS cur_phone, p.first_name AS cur_first_name, p.last_name AS cur_last_name,
            coalesce(${currentMaskSql('p')}, 0)::bigint AS curm
          FROM g LEFT JOIN profiles p ON p.email = g.email) x) y`);
  }

  /**
   * The `address` events of the plan's changes of phone (phone-changes.ts): with `write`, queued
   * into the import's block (the keys computed in SQL, the HMAC pads as parameters); else counted.
   */
  private async phoneChanges(write: boolean): Promise<number> {
    const n = Number((await this.q<{ n: string }>(phoneChangeCountSql('pg_temp.import_plan')))[0]!.n);
    if (!write || n === 0) return n;
    const { ipad, opad } = hmacPads(await this.store.suppressions.secretKey());
    const r = await this.client.query(
      `INSERT INTO pg_temp.import_events (profile_id, channel, service, action, evidence)
       ${phoneChangeEventsSql({ plan: 'pg_temp.import_plan', order: 'ip.first_rn', keyOf: (a) => AS_OF_SQL.keyOf('phone', a) })}`,
      [ipad, opad],
    );
    return r.rowCount ?? 0;
  }

  /** The plan's profiles with an erased address; with `restore`, their keyed-only entries get the address back. */
  private async erasedAddresses(restore: boolean, addresses = PLAN_ADDRESSES_SQL('pg_temp.import_plan')): Promise<number> {
    const entries = await this.q<{ channel: string; address: string | null; address_key: string }>(ERASURE_ENTRIES_SQL);
    if (entries.length === 0) return 0;
    const matcher = new ErasedAddressMatcher(entries, await this.store.suppressions.keyer());
    await this.q(`DECLARE import_erased NO SCROLL CURSOR FOR ${addresses}`);
    for (;;) {
      const rows = await this.q<{ email: string; phone: string | null }>(`FETCH ${PAGE} FROM import_erased`);
      if (rows.length === 0) break;
      for (const r of rows) matcher.add(r.email, r.phone);
    }
    await this.q('CLOSE import_erased');
    if (restore) await this.store.suppressions.restoreInTransaction(new PgTx(this.client), matcher.restore);
    return matcher.count;
  }

  private async baseCounts(): Promise<ImportCounts> {
    const [r] = await this.q<Pick<ImportCounts, 'profiles' | 'new' | 'updated' | 'unchanged' | 'duplicatesMerged'>>(
      `SELECT count(*) AS profiles, coalesce(sum(is_new::int), 0) AS new,
        coalesce(sum((changed AND NOT is_new)::int), 0) AS updated,
        coalesce(sum((NOT changed AND NOT is_new)::int), 0) AS unchanged, coalesce(sum(n - 1), 0) AS "duplicatesMerged"
       FROM pg_temp.import_plan`,
    );
    return { ...r!, ...ZERO_FLAG_COUNTS };
  }

  private async countFlags(counts: ImportCounts): Promise<void> {
    const r = await this.client.query<number[]>({ text: FLAG_COUNTS_SQL('pg_temp.import_plan'), rowMode: 'array' });
    const [set, cleared, refused] = r.rows[0]!;
    counts.optOutsSet = set!;
    counts.optInsApplied = cleared!;
    counts.optInsNotApplied = refused!;
  }

  private async services(names: readonly string[]): Promise<ImportService[]> {
    if (names.length === 0) return [];
    const rows = await this.q<{ id: number; name: string; channel: Channel; double_opt_in: number }>(
      'SELECT id, name, channel, double_opt_in FROM services WHERE name = ANY($1::text[])',
      [names],
    );
    return names.map((name) => {
      const r = rows.find((x) => x.name === name);
      if (!r) throw notFound(`No service ${name} (subscribe_${name} column).`, 'See `consent service list`.');
      return { id: r.id, name, channel: r.channel, doubleOptIn: r.double_opt_in === 1 };
    });
  }

  /**
   * Plans the subscription cells (the domain's planImportedSubscription, a
   * page of plan rows at a time), counting; with `write` (after the profiles
   * are written) also upserts them and queues their events.
   */
  private async subscriptions(counts: ImportCounts, services: readonly ImportService[], allowOptin: boolean, at: string, firstId: number | null): Promise<void> {
    if (services.length === 0) return;
    const write = firstId !== null;
    await this.q(
      write
        ? `DECLARE import_subs NO SCROLL CURSOR FOR
           SELECT ${profileIdSql('ip', firstId)}, ip.setm >> ${SUB_SHIFT}, ip.clearm >> ${SUB_SHIFT}
           FROM pg_temp.import_plan ip
           WHERE ((ip.setm | ip.clearm) >> ${SUB_SHIFT}) <> 0 ORDER BY ip.first_rn`
        : `DECLARE import_subs NO SCROLL CURSOR FOR
           SELECT coalesce(profile_id, 0), setm >> ${SUB_SHIFT}, clearm >> ${SUB_SHIFT}
           FROM pg_temp.import_plan WHERE ((setm | clearm) >> ${SUB_SHIFT}) <> 0 ORDER BY first_rn`,
    );
    const serviceIds = services.map((s) => s.id);
    for (;;) {
      const rows = (await this.client.query<number[]>({ text: `FETCH ${PAGE} FROM import_subs`, rowMode: 'array' })).rows;
      if (rows.length === 0) break;
      const current = new Map<string, SubscriptionStatus>();
      for (const r of await this.q<{ profile_id: number; service_id: number; status: SubscriptionStatus }>(
        'SELECT profile_id, service_id, status FROM subscriptions WHERE profile_id = ANY($1::int[]) AND service_id = ANY($2::int[])',
        [rows.map((r) => r[0]), serviceIds],
      )) {
        current.set(`${r.profile_id}:${r.service_id}`, r.status);
      }
      const up: unknown[][] = [[], [], []];
      const ev: unknown[][] = [[], [], [], []];
      for (const [profileId, sub, unsub] of rows) {
        for (let k = 0; k < services.length; k++) {
          const want = wantedSubscription(sub!, unsub!, k);
          if (want === null) continue;
          const s = services[k]!;
          const step = planImportedSubscription(s, current.get(`${profileId}:${s.id}`) ?? null, want, allowOptin);
          if (step === null) continue;
          if (step === 'not-applied') {
            counts.subscriptionsNotApplied++;
            continue;
          }
          if (step.next === 'subscribed') counts.subscriptionsSet++;
          else if (step.next === 'pending') counts.subscriptionsPending++;
          else counts.unsubscribed++;
          up[0]!.push(profileId);
          up[1]!.push(s.id);
          up[2]!.push(step.next);
          ev[0]!.push(profileId);
          ev[1]!.push(s.channel);
          ev[2]!.push(s.name);
          ev[3]!.push(step.action);
        }
      }
      if (write && up[0]!.length > 0) {
        await this.q(
          `INSERT INTO subscriptions (profile_id, service_id, status, since)
           SELECT u.p, u.s, u.st, $4 FROM unnest($1::int[], $2::int[], $3::text[]) AS u (p, s, st)
           ON CONFLICT (profile_id, service_id) DO UPDATE SET status = excluded.status, since = excluded.since`,
          [...up, at],
        );
        await this.q(
          `INSERT INTO pg_temp.import_events (profile_id, channel, service, action)
           SELECT u.p, u.c, u.s, u.a FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u (p, c, s, a, o) ORDER BY u.o`,
          ev,
        );
      }
    }
    await this.q('CLOSE import_subs');
  }

  /**
   * The channels whose `1` cells may take grant-only events (import-grants.ts):
   * the file's consent_ channels under an opt-in basis, read in the import's
   * transaction (after the lock, for a real run). No statement for a file without consent_ columns.
   */
  private async grantMask(grantable: number): Promise<number> {
    if (grantable === 0) return 0;
    const mask = grantEventMask(grantable, basesFromRows(await this.q<{ channel: string; evidence: string | null }>(CURRENT_POLICY_SQL)));
    this.optOutGrantable = grantable & ~mask;
    return mask;
  }

  private optOutGrantable = 0;

  optOutConsent(): number {
    return this.optOutGrantable;
  }

  async apply(options: ApplyOptions, context: ChangeContext | null): Promise<ImportCounts> {
    await this.endCopy();
    this.timer.mark('staging (parse, check, COPY)');
    try {
      if (context === null) {
        // A dry run plans against one snapshot and rolls back: only temporary tables were written.
        await this.q(`BEGIN ISOLATION LEVEL REPEATABLE READ; ${MEMORY}`);
        try {
          const services = await this.services(options.services);
          await this.plan(options.allowOptin);
          const mask = await this.grantMask(options.grantable);
          if (mask !== 0) await this.q(markGrantedSql({ plan: 'pg_temp.import_plan', profiles: 'profiles', mask }));
          const counts = await this.baseCounts();
          await this.countFlags(counts);
          counts.erasedAddresses = await this.erasedAddresses(false);
          counts.phoneChanges = await this.phoneChanges(false);
          await this.subscriptions(counts, services, options.allowOptin, '', null);
          counts.events = plannedEvents(counts);
          if (mask !== 0) counts.grantEvents = Number((await this.q<{ n: string }>(grantCountSql({ plan: 'pg_temp.import_plan', profiles: 'profiles', mask })))[0]!.n);
          return counts;
        } finally {
          await this.q('ROLLBACK');
        }
      }
      if (!this.first) await this.q(`BEGIN; ${MEMORY}`);
      try {
        const counts = this.first ? await this.writeFirstLoad(this.first, options, context) : await this.write(options, context);
        this.first = null;
        await this.q('COMMIT');
        this.timer.mark('commit');
        // A large import changes the tables' statistics: refreshed at once (a second or so at 1M rows), not
        // when autovacuum next passes, so that the next queries are planned for the store as it now is; the
        // VACUUM sets the visibility map, without which `consent stats`'s index-only counts (migration 14)
        // read every heap page.
        if (counts.new + counts.updated >= ANALYZE_AFTER_ROWS) await this.q('VACUUM (ANALYZE) profiles, ledger_events, ledger_blocks, subscriptions').catch(() => {});
        this.timer.mark('vacuum analyze');
        return counts;
      } catch (e) {
        this.first = null;
        await this.q('ROLLBACK').catch(() => (this.dead = true));
        throw e;
      }
    } catch (e) {
      throw this.store.translate(e);
    }
  }

  /**
   * The end of a first load (first-load.ts), in its open transaction. A file
   * that repeats an email is planned and written as usual from there (its
   * rows moved back to staging).
   */
  private async writeFirstLoad(first: PgFirstLoad, options: ApplyOptions, context: ChangeContext): Promise<ImportCounts> {
    if (!(await first.index('pg_temp.import_raw'))) {
      this.timer.mark('email index failed: the file repeats an email, rows moved to staging');
      return this.write(options, context);
    }
    this.timer.mark('email index');
    const erasedAddresses = await this.erasedAddresses(true, 'SELECT email, phone FROM profiles');
    this.timer.mark('erased addresses');
    const { profiles, events } = await first.finish((phase) => this.timer.mark(phase));
    return { ...ZERO_FLAG_COUNTS, profiles, new: profiles, updated: 0, unchanged: 0, duplicatesMerged: 0, optOutsSet: events, erasedAddresses, events };
  }

  private async write(options: ApplyOptions, context: ChangeContext): Promise<ImportCounts> {
    const at = context.occurredAt;
    // The chain lock first (held to the commit, as seal needs it), then the tables: the order of every other
    // ledger writer (policy set, suppression add, the servers' writes take the chain lock, then insert events
    // that touch profiles); the other order deadlocks with them.
    await this.q('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    const firstLoad = await this.lock();
    this.timer.mark('lock');
    const services = await this.services(options.services);
    await this.plan(options.allowOptin);
    // The basis read under the chain lock (taken above): the grants are planned for the position their block takes.
    const grants = await this.grantMask(options.grantable);
    if (grants !== 0) await this.q(markGrantedSql({ plan: 'pg_temp.import_plan', profiles: 'profiles', mask: grants }));
    this.timer.mark('plan');
    const counts = await this.baseCounts();
    this.timer.mark('counts');
    if (counts.updated > 0) {
      await this.q(
        `UPDATE profiles p SET phone = coalesce(ip.phone, p.phone),
          first_name = coalesce(ip.first_name, p.first_name), last_name = coalesce(ip.last_name, p.last_name),
          ${C.map((c, i) => `optout_${c} = (ip.newm >> ${i}) & 1`).join(', ')}, updated_at = $1
         FROM pg_temp.import_plan ip
         WHERE p.id = ip.profile_id AND ip.changed AND NOT ip.is_new`,
        [at],
      );
      this.timer.mark('update profiles');
    }
    let firstId = 0;
    if (counts.new > 0) {
      // New profiles get their ids in the order their emails first appear in the file, reserved from the
      // identity in one step (no other writer can take one meanwhile: they wait for the lock), so that
      // the plan knows every profile's id without reading the new rows back.
      const [r] = await this.q<{ first: string }>(
        `SELECT setval(s, nextval(s) + $1 - 1) - $1 + 1 AS first FROM CAST(pg_get_serial_sequence('profiles', 'id') AS regclass) AS s`,
        [counts.new],
      );
      firstId = Number(r!.first);
      // A first load builds the email index once after the rows (sorted) instead of inserting into it
      // in the file's random order; the plan has one row per email, so the unique index builds.
      if (firstLoad) await this.q('DROP INDEX profiles_email');
      this.timer.mark('reserve ids');
      await this.q(
        `INSERT INTO profiles (id, email, phone, first_name, last_name, ${FLAG_COLUMNS}, created_at, updated_at)
         SELECT ${profileIdSql('ip', firstId)}, email, phone, first_name, last_name, ${C.map((_, i) => `(newm >> ${i}) & 1`).join(', ')}, $1, $1
         FROM pg_temp.import_plan ip WHERE is_new ORDER BY new_rank`,
        [at],
      );
      this.timer.mark('insert profiles');
      if (firstLoad) await this.q(PROFILES_EMAIL_INDEX);
      this.timer.mark('email index');
    }
    counts.erasedAddresses = await this.erasedAddresses(true);
    this.timer.mark('erased addresses');
    await this.countFlags(counts);
    this.timer.mark('flag counts');
    await this.q(`CREATE TEMP TABLE import_events (seq bigint GENERATED ALWAYS AS IDENTITY, profile_id integer NOT NULL,
      channel text NOT NULL, service text, action text NOT NULL, evidence text) ON COMMIT DROP`);
    // One block: the opt-out events (one per flag that changes), then the subscription events.
    await this.q(
      `INSERT INTO pg_temp.import_events (profile_id, channel, service, action)
       SELECT x.pid, c.name, NULL, CASE WHEN (x.newm >> c.bit) & 1 = 1 THEN 'optout' ELSE 'optin' END
       FROM (SELECT ${profileIdSql('ip', firstId)} AS pid, ip.curm, ip.newm, ip.first_rn
             FROM pg_temp.import_plan ip WHERE ip.newm <> ip.curm) x
       CROSS JOIN ${CHANNEL_BITS} c
       WHERE ((x.curm # x.newm) >> c.bit) & 1 = 1
       ORDER BY x.first_rn, c.bit`,
    );
    // Then the grant-only events of consent_<channel>=1 cells, planned against the profiles as they were (import-grants.ts),
    // and against the basis at the chain position they will take (the chain lock is held since the start of the write,
    // so no `policy set` lands between the read of the basis and the block).
    if (grants !== 0) {
      const r = await this.client.query(
        `INSERT INTO pg_temp.import_events (profile_id, channel, service, action)
         ${grantEventsSql({ plan: 'pg_temp.import_plan', profiles: 'profiles', mask: grants, order: 'ip.first_rn', pid: profileIdSql('ip', firstId) })}`,
      );
      counts.grantEvents = r.rowCount ?? 0;
    }
    // Then the changes of phone (the plan keeps the phone each profile had before the update above).
    counts.phoneChanges = await this.phoneChanges(true);
    this.timer.mark('queue events');
    await this.checkedOnce('subscriptions', firstLoad && services.length > 0, () => this.subscriptions(counts, services, options.allowOptin, at, firstId));
    this.timer.mark('subscriptions');
    counts.events = (await this.seal(context, firstLoad)) - counts.grantEvents - counts.phoneChanges;
    return counts;
  }

  /**
   * Runs `write`; in a first load, with the table's foreign key to profiles
   * dropped and added back after, so that it is checked once by one join
   * rather than by a trigger call per row (half the time of the ledger's insert).
   */
  private async checkedOnce(table: keyof typeof PROFILE_FKS, firstLoad: boolean, write: () => Promise<unknown>): Promise<void> {
    if (firstLoad) await this.q(`ALTER TABLE ${table} DROP CONSTRAINT ${PROFILE_FKS[table]}`);
    await write();
    if (firstLoad) await this.q(`ALTER TABLE ${table} ADD CONSTRAINT ${PROFILE_FKS[table]} FOREIGN KEY (profile_id) REFERENCES profiles (id)`);
  }

  /**
   * Locks out every other writer between the plan and the write (EXCLUSIVE:
   * readers carry on). Into an empty store (checked again under the lock) the
   * lock is ACCESS EXCLUSIVE instead, so that the first load may drop and
   * rebuild the email index and the ledger's foreign key inside its
   * transaction: readers of an empty store then wait for the load. True for such a first load.
   */
  private async lock(): Promise<boolean> {
    const empty = async () => (await this.q('SELECT 1 FROM profiles LIMIT 1')).length === 0;
    if (!(await empty())) {
      await this.q('LOCK TABLE profiles IN EXCLUSIVE MODE');
      return false;
    }
    await this.q('LOCK TABLE profiles, ledger_events, subscriptions IN ACCESS EXCLUSIVE MODE');
    // No profile, so no event (every event references a profile) and no subscription.
    return empty();
  }

  /**
   * Numbers the queued events after the chain's head and hashes them into one
   * block, under the chain lock (held to the commit). The canonical text is
   * built in SQL a page at a time, byte for byte canonicalEvent's: a JSON
   * array, integers as JavaScript prints them, to_json() on the names (fixed
   * vocabularies and service-name rules), the context's fields as JSON.stringify writes them.
   */
  private async seal(context: ChangeContext, firstLoad: boolean): Promise<number> {
    const [{ n }] = (await this.q<{ n: number }>('SELECT count(*) AS n FROM pg_temp.import_events')) as [{ n: number }];
    if (n === 0) return 0;
    this.timer.mark('count events');
    await this.q('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    const [head] = await this.q<{ id: number; hash: string; last_event_id: number }>(
      'SELECT id, hash, last_event_id FROM ledger_blocks ORDER BY id DESC LIMIT 1',
    );
    const base = head?.last_event_id ?? 0;
    const prevHash = head?.hash ?? GENESIS_HASH;
    const reason = context.reason ?? null;
    const evidence = context.evidence ? JSON.stringify(context.evidence) : null;
    await this.checkedOnce('ledger_events', firstLoad, async () => {
      await this.q(
        `INSERT INTO ledger_events (id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at)
         SELECT $1 + seq, profile_id, channel, service, action, $2, $3, $4, CASE WHEN action = 'address' THEN evidence ELSE $5 END, $6
         FROM pg_temp.import_events ORDER BY seq`,
        [base, context.source, context.actor, reason, evidence, context.occurredAt],
      );
      this.timer.mark('insert ledger events');
    });
    this.timer.mark('ledger foreign key');
    // The pages below are read by seq range: without this index each page would scan the whole queue
    // (quadratic: 63 full scans of 1.26 million rows for a million-row first load).
    await this.q('CREATE INDEX ON pg_temp.import_events (seq); ANALYZE pg_temp.import_events');
    this.timer.mark('queue index');
    // The fields after `action`: the context's (tail), or for an `address` event its own evidence between head and end.
    const { tail, head: ownBefore, end: ownAfter } = canonicalTails(context.source, context.actor, reason, evidence, context.occurredAt);
    const hasher = new BlockHasher(prevHash);
    for (let from = 1; from <= n; from += HASH_PAGE) {
      const r = await this.client.query<[string, number]>({
        text: `SELECT string_agg('[' || ($1::bigint + seq) || ',' || profile_id || ',' || to_json(channel)::text || ',' || to_json(action)::text
                 || CASE WHEN action = 'address' THEN $5 || to_json(evidence)::text || $6 ELSE $2 END
                 || CASE WHEN service IS NULL THEN ']' ELSE ',' || to_json(service)::text || ']' END, E'\\n' ORDER BY seq), count(*)
               FROM pg_temp.import_events WHERE seq BETWEEN $3 AND $4`,
        values: [base, tail, from, Math.min(n, from + HASH_PAGE - 1), ownBefore, ownAfter],
        rowMode: 'array',
      });
      const [text, count] = r.rows[0]!;
      hasher.addJoined(text, count);
    }
    this.timer.mark('hash block');
    await this.q(
      `INSERT INTO ledger_blocks (id, first_event_id, last_event_id, event_count, prev_hash, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [(head?.id ?? 0) + 1, base + 1, base + n, n, prevHash, hasher.digest(), context.occurredAt],
    );
    return n;
  }

  async discard(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.first) {
      // A first load never applied (invalid rows, an interruption, a failure): its transaction goes
      // (with a COPY under way, by closing the connection).
      if (this.first.abandon()) this.dead = true;
      this.first = null;
      if (!this.dead) await this.q('ROLLBACK').catch(() => (this.dead = true));
    }
    if (this.copy) {
      // Never applied: abandon the COPY (the connection is then closed, which rolls it back).
      this.copy.destroy();
      this.copy = null;
      this.dead = true;
    }
    if (!this.dead) {
      try {
        await this.client.query('DROP TABLE IF EXISTS pg_temp.import_raw; RESET statement_timeout; RESET client_connection_check_interval');
        withoutQueryTimeout(this.client, false);
      } catch {
        this.dead = true;
      }
    }
    this.client.release(this.dead || undefined);
  }
}
