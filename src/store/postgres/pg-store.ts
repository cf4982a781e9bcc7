import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { CHANNELS, CONTACT_CHANNELS, type Channel, type ContactChannel, type OptOutFlags } from '../../consent/channels.js';
import { ConsentError, conflict, invalid, notFound } from '../../consent/errors.js';
import {
  BlockHasher,
  canonicalEvent,
  detachUserAgent,
  GENESIS_HASH,
  type ChangeContext,
  type LedgerEvent,
  type LedgerVerification,
  type VerifyOptions,
  userAgentProblem,
} from '../../consent/ledger.js';
import { checkErasable, erasureEntries, erasureEvidence, profileAddresses } from '../shared/erasure.js';
import { applyChanges, erasedEmail, planChanges, planGrants, type NewProfile, type Profile, type ProfileRef } from '../../consent/profile.js';
import type { ConsentRequest, ConsentResult, ErasureResult, LastChanges, ProfileFilter } from '../../consent/store.js';
import type { ImportAllOptions, RawBatch, RowStore } from '../rows.js';
import { maskLocation } from '../location.js';
import { basesFromRows, grantsAfter, someGrants, type GrantFlags } from '../../consent/policy.js';
import { CONSENT_EVENTS_WHERE, CURRENT_POLICY_SQL } from '../shared/policy-sql.js';
import { PgPolicyRepository } from './policy-store.js';
import { ChainVerifier, eventFields, evidenceOf, HISTORY_SQL, NON_CONSENT_PROFILE_ACTIONS_SQL, type BlockRow, type EventRow, type PendingEvent } from '../shared/ledger-chain.js';
import { optedOutSql, reachableSql, timeSql, unreachableSql } from '../shared/reachability-sql.js';

/** The server's clock in the tool's time format. */
const PG_NOW = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
import { PgAsOfRepository } from './as-of-store.js';
import { verifyPgGrants, verifyPgPhones, verifyPgState } from './verify-state.js';
import { byProfile } from '../shared/by-profile.js';
import { PgBulkStore } from './bulk-store.js';
import { createPool, DEFAULT_BUSY_TIMEOUT_MS, isRetryable, rollback, translatePgError, type PgOpenOptions } from './connection.js';
import { PgKeyRepository, PgPageRepository } from './landing-repository.js';
import { PgLandingSubmissions } from './landing-submissions.js';
import { PgFeedbackRepository } from './feedback-store.js';
import { PgStatsRepository } from './stats-store.js';
import { PgBrandRepository } from './brand-store.js';
import { PgReasonRepository } from './reason-store.js';
import { PgPageStringsRepository } from './page-strings-store.js';
import { migratePg } from './migrations.js';
import { PgServiceRepository } from './service-store.js';
import type { ServiceRow } from '../shared/service-rows.js';
import type { SubscriptionStatus } from '../../consent/services.js';
import { PgSmsRepository } from './sms-store.js';
import { PgFeed, pgApiKeys, pgReach } from './integrations-store.js';
import type { ApiKeyRepository } from '../../consent/api-keys.js';
import type { ReachRepository } from '../../consent/reach-check.js';
import { PgWebhookRepository } from './webhook-store.js';
import { PgDigestRepository } from './digest-store.js';
import { PgSuppressionRepository, verifyPgSuppressions } from './suppression-store.js';

export const PROFILE_COLUMNS =
  'id, email, phone, first_name, last_name, optout_all, optout_email, optout_sms, optout_phone, optout_postal, optout_fax, optout_push, created_at, updated_at, erased_at, ' +
  'granted_email, granted_sms, granted_phone, granted_postal, granted_fax, granted_push';

export interface ProfileRow {
  id: number;
  email: string;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  optout_all: number;
  optout_email: number;
  optout_sms: number;
  optout_phone: number;
  optout_postal: number;
  optout_fax: number;
  optout_push: number;
  created_at: string;
  updated_at: string;
  erased_at: string | null;
  granted_email?: number;
  granted_sms?: number;
  granted_phone?: number;
  granted_postal?: number;
  granted_fax?: number;
  granted_push?: number;
}

export function rowToProfile(r: ProfileRow): Profile {
  const optOut: OptOutFlags = {
    all: r.optout_all === 1,
    email: r.optout_email === 1,
    sms: r.optout_sms === 1,
    phone: r.optout_phone === 1,
    postal: r.optout_postal === 1,
    fax: r.optout_fax === 1,
    push: r.optout_push === 1,
  };
  const granted = Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, r[`granted_${c}`] === 1])) as GrantFlags;
  return {
    id: r.id,
    email: r.email,
    phone: r.phone,
    firstName: r.first_name,
    lastName: r.last_name,
    optOut,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    erasedAt: r.erased_at,
    // Undefined unless some channel is granted: a profile without a grant keeps the shape it always had.
    granted: someGrants(granted),
  };
}

export function rowToEvent(r: EventRow): LedgerEvent {
  return {
    id: r.id,
    profileId: r.profile_id!,
    channel: r.channel as Channel,
    service: r.service,
    action: r.action as LedgerEvent['action'],
    source: r.source,
    actor: r.actor,
    reason: r.reason,
    evidence: evidenceOf(r),
    occurredAt: r.occurred_at,
  };
}

/** Key of the transaction-level advisory lock that serialises appends to the chain. */
export const CHAIN_LOCK = 0x6c656467; // "ledg"

export type { PendingEvent };

/**
 * One transaction on one connection. Ledger events are collected and written
 * as the transaction's last statements (see PgStore.transaction), so the
 * chain lock is held only from then to the commit.
 */
export class PgTx {
  readonly blocks: { events: PendingEvent[]; context: ChangeContext }[] = [];
  /** The profiles locked in this transaction, as this transaction has made them. */
  private readonly locked = new Map<number, Profile>();
  /** Profiles whose flags changed: written by one UPDATE in flush(). */
  private readonly dirty = new Map<number, Profile>();
  private readonly serviceRows = new Map<string, ServiceRow>();
  /** Subscription status by `profileId:serviceId` (null: no row), as read or as this transaction set it. */
  private readonly subscriptionStatus = new Map<string, SubscriptionStatus | null>();
  /** Subscription rows to upsert in flush(), by the same key. */
  private readonly subscriptionWrites = new Map<string, { profileId: number; serviceId: number; status: SubscriptionStatus; since: string }>();
  constructor(readonly client: pg.PoolClient) {}

  async query<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.client.query<T>(sql, params)).rows;
  }

  /** Queues a block of events (none: nothing) to be appended at commit. */
  appendEvents(events: PendingEvent[], context: ChangeContext): void {
    if (events.length > 0) this.blocks.push({ events, context });
  }

  /**
   * Locks the given profiles (in id order: concurrent writers then queue, they
   * do not deadlock) and reads them; profiles this transaction locked before
   * cost no statement (group commit locks all of its profiles at once).
   */
  async lockProfiles(ids: Iterable<number>): Promise<Map<number, Profile>> {
    const sorted = [...new Set(ids)].filter(isInt4).sort((a, b) => a - b);
    const missing = sorted.filter((id) => !this.locked.has(id));
    if (missing.length > 0) {
      const rows = await this.query<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE`, [missing]);
      for (const r of rows) this.locked.set(r.id, rowToProfile(r));
    }
    const found = new Map<number, Profile>();
    for (const id of sorted) {
      const p = this.locked.get(id);
      if (p) found.set(id, p);
    }
    return found;
  }

  /** A locked profile's new flags (and updated_at), written with the others by flush(). */
  setProfile(p: Profile): void {
    this.locked.set(p.id, p);
    this.dirty.set(p.id, p);
  }

  /** The services of these names (one statement for those not read yet in this transaction); unknown names are absent. */
  async services(names: Iterable<string>): Promise<Map<string, ServiceRow>> {
    const wanted = [...new Set(names)];
    const missing = wanted.filter((n) => !this.serviceRows.has(n));
    if (missing.length > 0) {
      for (const r of await this.query<ServiceRow>('SELECT * FROM services WHERE name = ANY($1::text[])', [missing])) this.serviceRows.set(r.name, r);
    }
    return new Map(wanted.flatMap((n) => (this.serviceRows.has(n) ? [[n, this.serviceRows.get(n)!] as const] : [])));
  }

  /** Reads (one statement) the subscription statuses of these pairs not read yet; then subscription() answers for them. */
  async readSubscriptions(pairs: readonly { profileId: number; serviceId: number }[]): Promise<void> {
    const missing = pairs.filter((p) => !this.subscriptionStatus.has(`${p.profileId}:${p.serviceId}`));
    if (missing.length === 0) return;
    for (const p of missing) this.subscriptionStatus.set(`${p.profileId}:${p.serviceId}`, null);
    const rows = await this.query<{ profile_id: number; service_id: number; status: SubscriptionStatus }>(
      `SELECT s.profile_id, s.service_id, s.status FROM subscriptions s
       JOIN unnest($1::int[], $2::int[]) AS u (p, v) ON s.profile_id = u.p AND s.service_id = u.v`,
      [missing.map((p) => p.profileId), missing.map((p) => p.serviceId)],
    );
    for (const r of rows) this.subscriptionStatus.set(`${r.profile_id}:${r.service_id}`, r.status);
  }

  subscription(profileId: number, serviceId: number): SubscriptionStatus | null {
    return this.subscriptionStatus.get(`${profileId}:${serviceId}`) ?? null;
  }

  setSubscription(profileId: number, serviceId: number, status: SubscriptionStatus, since: string): void {
    const key = `${profileId}:${serviceId}`;
    this.subscriptionStatus.set(key, status);
    this.subscriptionWrites.set(key, { profileId, serviceId, status, since });
  }

  /** Writes the changed profiles (one UPDATE) and subscriptions (one upsert) before the ledger. */
  async flush(): Promise<void> {
    if (this.dirty.size > 0) {
      const ps = [...this.dirty.values()];
      this.dirty.clear();
      await this.query(
        `UPDATE profiles p SET ${CHANNELS.map((c) => `optout_${c} = u.optout_${c}`).join(', ')}, updated_at = u.at
         FROM unnest($1::int[], ${CHANNELS.map((_, i) => `$${i + 2}::int[]`).join(', ')}, $${CHANNELS.length + 2}::text[]) AS u (id, ${CHANNELS.map((c) => `optout_${c}`).join(', ')}, at)
         WHERE p.id = u.id`,
        [ps.map((p) => p.id), ...CHANNELS.map((c) => ps.map((p) => (p.optOut[c] ? 1 : 0))), ps.map((p) => p.updatedAt)],
      );
    }
    if (this.subscriptionWrites.size > 0) {
      const ws = [...this.subscriptionWrites.values()];
      this.subscriptionWrites.clear();
      await this.query(
        `INSERT INTO subscriptions (profile_id, service_id, status, since)
         SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[])
         ON CONFLICT (profile_id, service_id) DO UPDATE SET status = excluded.status, since = excluded.since`,
        [ws.map((w) => w.profileId), ws.map((w) => w.serviceId), ws.map((w) => w.status), ws.map((w) => w.since)],
      );
    }
  }
}

const PAGE = 1000;
const MAX_ATTEMPTS = 8;
const listening = new WeakSet<pg.PoolClient>();

/**
 * The PostgreSQL store: the same tables, rules and ledger as the SQLite one,
 * for several processes and machines on one database. Every change is one
 * transaction (READ COMMITTED, with the profiles it changes locked FOR
 * UPDATE); appends to the chain are serialised by an advisory lock taken at
 * the end of the transaction, and the schema refuses a fork.
 */
export class PgStore implements RowStore {
  readonly location: string;
  readonly services: PgServiceRepository;
  readonly suppressions: PgSuppressionRepository;
  readonly pages: PgPageRepository;
  readonly keys: PgKeyRepository;
  readonly bulk: PgBulkStore;
  readonly landing: PgLandingSubmissions;
  readonly feedback: PgFeedbackRepository;
  readonly stats: PgStatsRepository;
  readonly sms: PgSmsRepository;
  readonly asOf: PgAsOfRepository;
  /** The organisation shown on pages, versioned (issue 16). */
  readonly brand: PgBrandRepository;
  readonly digests: PgDigestRepository;
  readonly policy: PgPolicyRepository;
  readonly feed: PgFeed;
  readonly apiKeys: ApiKeyRepository;
  readonly reach: ReachRepository;
  readonly webhooks: PgWebhookRepository;
  /** Unsubscribe-survey answers as `reason` ledger events (issue 16). */
  readonly reasons: PgReasonRepository;
  /** Page strings imported per language (issue 16). */
  readonly pageStrings: PgPageStringsRepository;

  private constructor(
    readonly pool: pg.Pool,
    private readonly url: string,
    readonly busyTimeoutMs: number,
    private readonly clock?: () => string,
  ) {
    this.location = maskLocation(url);
    this.services = new PgServiceRepository(this);
    this.suppressions = new PgSuppressionRepository(this);
    this.pages = new PgPageRepository(this);
    this.keys = new PgKeyRepository(this);
    this.bulk = new PgBulkStore(this);
    this.landing = new PgLandingSubmissions(this);
    this.feedback = new PgFeedbackRepository(this);
    this.asOf = new PgAsOfRepository(this);
    this.stats = new PgStatsRepository(this);
    this.brand = new PgBrandRepository(this);
    this.reasons = new PgReasonRepository(this);
    this.pageStrings = new PgPageStringsRepository(this);
    this.sms = new PgSmsRepository(this);
    this.digests = new PgDigestRepository(this);
    this.policy = new PgPolicyRepository(this);
    this.feed = new PgFeed(this);
    this.apiKeys = pgApiKeys(this);
    this.reach = pgReach(this);
    this.webhooks = new PgWebhookRepository(this);
  }

  static async open(url: string, options: PgOpenOptions = {}): Promise<PgStore> {
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const pool = createPool(url, options);
    const store = new PgStore(pool, url, busyTimeoutMs, options.now);
    try {
      const c = await store.connect();
      try {
        const created = await migratePg(c, store.location, options.targetVersion, options.create ?? true);
        if (created) options.onCreate?.(store.location);
      } finally {
        c.release();
      }
    } catch (e) {
      await pool.end().catch(() => {});
      throw store.translate(e);
    }
    return store;
  }

  /** "Now" for reachability's expiry check: the injected clock, else the server's. */
  nowSql(): string {
    return this.clock ? timeSql(this.clock()) : PG_NOW;
  }

  /** Now as ISO text: the injected clock, else the server's. */
  async nowIso(): Promise<string> {
    return this.clock ? this.clock() : (await this.query<{ now: string }>(`SELECT ${PG_NOW} AS now`))[0]!.now;
  }

  translate(e: unknown): unknown {
    return translatePgError(e, this.url, this.busyTimeoutMs);
  }

  async connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.translate(e);
    }
    // A connection lost while checked out (server shut down) also emits 'error' on the client:
    // the query in flight reports it; unheard, the event would crash the process.
    if (!listening.has(client)) {
      listening.add(client);
      client.on('error', () => {});
    }
    return client;
  }

  /** A statement outside a transaction, errors translated. */
  async query<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /**
   * Runs `fn` in one transaction, then appends the ledger blocks it queued and
   * commits. A deadlock or serialization failure runs it again (nothing of
   * the failed attempt was committed). `fn` must not have effects outside the
   * database, since it may run more than once.
   */
  async transaction<T>(fn: (tx: PgTx) => Promise<T>, options: { isolation?: 'REPEATABLE READ' | 'SERIALIZABLE'; readOnly?: boolean } = {}): Promise<T> {
    const begin = `BEGIN${options.isolation ? ` ISOLATION LEVEL ${options.isolation}` : ''}${options.readOnly ? ' READ ONLY' : ''}`;
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let dead = false;
      try {
        await client.query(begin);
        const tx = new PgTx(client);
        const result = await fn(tx);
        await tx.flush();
        await this.writeBlocks(tx);
        await client.query('COMMIT');
        return result;
      } catch (e) {
        // A connection that cannot even roll back is not given back to the pool.
        dead = !(await rollback(client, e));
        if (isRetryable(e) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
          continue;
        }
        throw this.translate(e);
      } finally {
        client.release(dead || undefined);
      }
    }
  }

  /**
   * The queued blocks, appended under the chain lock: event ids follow the
   * last block's, each block's hash covers the one before it. The lock is
   * transaction-level, so it is released by the commit that follows.
   */
  private async writeBlocks(tx: PgTx): Promise<void> {
    if (tx.blocks.length === 0) return;
    // The lock, then the head, in one round trip: two statements of one simple query, each with its
    // own snapshot (READ COMMITTED), so the head is read after the lock is held.
    const r = (await tx.client.query(
      `SELECT pg_advisory_xact_lock(${CHAIN_LOCK}); SELECT id, hash, last_event_id FROM ledger_blocks ORDER BY id DESC LIMIT 1`,
    )) as unknown as pg.QueryResult<{ id: number; hash: string; last_event_id: number }>[];
    const head = r[1]!.rows[0];
    let blockId = head?.id ?? 0;
    let prevHash = head?.hash ?? GENESIS_HASH;
    let nextEventId = (head?.last_event_id ?? 0) + 1;
    // Every block's events and the blocks themselves in ONE statement (group commit: one round trip for any number of blocks).
    const ev: unknown[][] = Array.from({ length: 11 }, () => []);
    const bl: unknown[][] = [[], [], [], [], [], [], []];
    const agents: unknown[][] = [[], [], []]; // event id, salt, user agent: written after the events (their foreign key)
    for (const { events, context } of tx.blocks) {
      // A user agent goes beside the ledger, its salted digest into the hashed evidence (detachUserAgent).
      const salt = typeof context.evidence?.userAgent === 'string' ? randomBytes(16).toString('hex') : '';
      const detached = detachUserAgent(context.evidence, salt);
      const evidence = detached.evidence ? JSON.stringify(detached.evidence) : null;
      const reason = context.reason ?? null;
      const hasher = new BlockHasher(prevHash);
      const first = nextEventId;
      for (const e of events) {
        const id = nextEventId++;
        const { reason: eventReason, evidence: eventEvidence, addressKey } = eventFields(e, reason, evidence);
        if (detached.userAgent !== null && e.evidence === undefined) [id, salt, detached.userAgent].forEach((v, i) => agents[i]!.push(v));
        const row = [id, e.profileId, e.channel, e.service ?? null, e.action, context.source, context.actor, eventReason, eventEvidence, context.occurredAt, addressKey];
        row.forEach((v, i) => ev[i]!.push(v));
        hasher.add(
          canonicalEvent({
            id,
            profileId: e.profileId,
            channel: e.channel,
            action: e.action,
            source: context.source,
            actor: context.actor,
            reason: eventReason,
            evidenceJson: eventEvidence,
            occurredAt: context.occurredAt,
            service: e.service ?? null,
            addressKey,
          }),
        );
      }
      const hash = hasher.digest();
      [++blockId, first, nextEventId - 1, events.length, prevHash, hash, context.occurredAt].forEach((v, i) => bl[i]!.push(v));
      prevHash = hash;
    }
    await tx.query(
      `WITH e AS (
         INSERT INTO ledger_events (id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at, address_key)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]))
       INSERT INTO ledger_blocks (id, first_event_id, last_event_id, event_count, prev_hash, hash, created_at)
       SELECT * FROM unnest($12::bigint[], $13::bigint[], $14::bigint[], $15::int[], $16::text[], $17::text[], $18::text[])`,
      [...ev, ...bl],
    );
    if (agents[0]!.length > 0) {
      await tx.query('INSERT INTO ledger_user_agents (event_id, salt, user_agent) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])', agents);
    }
  }

  /**
   * Streams the rows of `sql` through a server-side cursor, a page at a time,
   * in one REPEATABLE READ READ ONLY transaction (one snapshot) on a
   * connection of its own: constant memory, and the caller may use the store
   * between pages.
   */
  /**
   * `sql` with `params`, in pages, from one cursor in one REPEATABLE READ snapshot; or `plan`: a function
   * that reads what the statement needs inside that same snapshot (its `q`) and returns it.
   */
  async *cursor<T extends pg.QueryResultRow>(sql: string | CursorPlan, params: unknown[], page = PAGE, rowMode?: 'array'): AsyncGenerator<T[]> {
    const client = await this.connect();
    let open = false;
    let dead = false;
    let failure: unknown;
    try {
      open = true;
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const planned = typeof sql === 'string' ? { sql, params } : await sql(async (text, values) => (await client.query(text, values)).rows);
      await client.query(`DECLARE consent_cursor NO SCROLL CURSOR FOR ${planned.sql}`, planned.params);
      for (;;) {
        const r = await client.query<T>({ text: `FETCH ${page} FROM consent_cursor`, ...(rowMode ? { rowMode } : {}) });
        if (r.rows.length > 0) yield r.rows;
        if (r.rows.length < page) break;
      }
      await client.query('COMMIT');
      open = false;
    } catch (e) {
      failure = e;
      throw this.translate(e);
    } finally {
      // Also when the caller stops early: the cursor's transaction ends here.
      if (open) dead = !(await rollback(client, failure));
      client.release(dead || undefined);
    }
  }

  async addProfile(input: NewProfile, at: string): Promise<Profile> {
    const exists = () => conflict(`A profile with email ${input.email} already exists.`, 'Use `consent profile show` to see it.');
    // Looked up first: an INSERT that conflicts would still use up an id.
    if (await this.findProfile({ email: input.email })) throw exists();
    try {
      return await this.transaction(async (tx) => {
        const rows = await tx.query<ProfileRow>(
          `INSERT INTO profiles (email, phone, first_name, last_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
           RETURNING ${PROFILE_COLUMNS}`,
          [input.email, input.phone ?? null, input.firstName ?? null, input.lastName ?? null, at],
        );
        // An erased address that comes back: its keyed-only entries match it again (unreachable from its first second).
        await this.suppressions.restoreInTransaction(tx, profileAddresses(input.email, input.phone ?? null));
        return rowToProfile(rows[0]!);
      });
    } catch (e) {
      if ((e as { cause?: { code?: string } }).cause?.code === '23505' || (e as { code?: string }).code === '23505') throw exists();
      throw e;
    }
  }

  async eraseProfile(profileId: number, context: ChangeContext): Promise<ErasureResult> {
    return this.transaction(async (tx) => {
      const profile = checkErasable(profileId, (await tx.lockProfiles([profileId])).get(profileId) ?? null);
      const addresses = profileAddresses(profile.email, profile.phone);
      const keys = await Promise.all(addresses.map(async (a) => ({ channel: a.channel, addressKey: await this.suppressions.keyOf(a.channel, a.address) })));
      const added = await this.suppressions.addInTransaction(tx, erasureEntries(keys), keys.map((k) => k.addressKey), context);
      await tx.query(`UPDATE suppressions SET address = NULL WHERE (channel = 'email' AND address = $1) OR (channel IN ('sms', 'phone') AND address = $2)`, [
        profile.email,
        profile.phone,
      ]);
      const rows = await tx.query<ProfileRow>(
        `UPDATE profiles SET email = $1, phone = NULL, first_name = NULL, last_name = NULL, erased_at = $2, updated_at = $2 WHERE id = $3
         RETURNING ${PROFILE_COLUMNS}`,
        [erasedEmail(profileId), context.occurredAt, profileId],
      );
      // A phone another (live) profile still has is in the store anyway: its entries keep it, so that they block that profile too.
      if (profile.phone && (await tx.query('SELECT 1 FROM profiles WHERE phone = $1 AND erased_at IS NULL LIMIT 1', [profile.phone])).length > 0) {
        await this.suppressions.restoreInTransaction(tx, profileAddresses(profile.email, profile.phone).filter((a) => a.channel !== 'email'));
      }
      // The texts this number sent (sms log, review queue) may name the person: their bodies go too (the log keeps the outcome).
      const phoneKey = keys.find((k) => k.channel !== 'email')?.addressKey;
      if (phoneKey) await tx.query('UPDATE sms_messages SET body = NULL WHERE from_key = $1 AND body IS NOT NULL', [phoneKey]);
      const deleted = await tx.client.query('DELETE FROM ledger_user_agents WHERE event_id IN (SELECT id FROM ledger_events WHERE profile_id = $1)', [profileId]);
      tx.appendEvents([{ profileId, channel: 'all', action: 'erase', evidence: erasureEvidence(keys, context.evidence) }], context);
      return { profile: rowToProfile(rows[0]!), suppressions: added, userAgentsDeleted: deleted.rowCount ?? 0 };
    });
  }

  async findProfile(ref: ProfileRef): Promise<Profile | null> {
    if ('id' in ref && !isInt4(ref.id)) return null;
    const [key, value] = 'id' in ref ? ['id', ref.id] : ['email', ref.email];
    const rows = await this.query<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE ${key} = $1`, [value]);
    return rows[0] ? rowToProfile(rows[0]) : null;
  }

  /** A scan, as on SQLite (no phone index: see SqliteStore.findProfilesByPhone). */
  async findProfilesByPhone(phone: string): Promise<Profile[]> {
    return (await this.query<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE phone = $1 ORDER BY id`, [phone])).map(rowToProfile);
  }

  async findProfiles(ids: readonly number[]): Promise<(Profile | null)[]> {
    if (ids.length === 0) return [];
    const valid = ids.filter(isInt4);
    const rows = await this.query<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE id = ANY($1::int[])`, [valid]);
    const byId = new Map(rows.map((r) => [r.id, rowToProfile(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** The SQL condition and parameters of a filter (the same filters as the SQLite store's filterSql). */
  async filterSql(filter: ProfileFilter, params: unknown[]): Promise<string> {
    const where: string[] = ['TRUE'];
    const now = this.nowSql();
    if (filter.reachable) where.push(reachableSql(filter.reachable, '', now));
    if (filter.unreachable) where.push(unreachableSql(filter.unreachable, '', now));
    if (filter.optedOut) where.push(optedOutSql(filter.optedOut));
    if (filter.subscribed) {
      const [service] = await this.query<{ channel: string }>('SELECT channel FROM services WHERE name = $1', [filter.subscribed]);
      if (!service) throw notFound(`No service ${filter.subscribed}.`, 'See `consent service list`.');
      // Subscribed and reachable on the service's channel: an opt-out wins over a subscription.
      where.push(reachableSql(service.channel as ContactChannel, '', now));
      params.push(filter.subscribed);
      where.push(`id IN (SELECT s.profile_id FROM subscriptions s JOIN services v ON v.id = s.service_id
                  WHERE v.name = $${params.length} AND s.status = 'subscribed')`);
    }
    return where.join(' AND ');
  }

  async *listProfiles(filter: ProfileFilter): AsyncIterable<Profile> {
    const params: unknown[] = [];
    const where = await this.filterSql(filter, params);
    const limit = filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : '';
    for await (const rows of this.cursor<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE ${where} ORDER BY id${limit}`, params)) {
      for (const r of rows) yield rowToProfile(r);
    }
  }

  async applyConsent(requests: readonly ConsentRequest[], context: ChangeContext): Promise<ConsentResult[]> {
    return this.transaction((tx) => this.applyInTransaction(tx, requests, context));
  }

  /** applyConsent's work inside the caller's transaction (group commit runs several in one). */
  async applyInTransaction(tx: PgTx, requests: readonly ConsentRequest[], context: ChangeContext): Promise<ConsentResult[]> {
    const profiles = await tx.lockProfiles(requests.map((r) => r.profileId));
    const results: ConsentResult[] = [];
    const events: PendingEvent[] = [];
    // The basis matters only to a grant: read (in this transaction) only when one is asked for.
    const bases = requests.some((r) => r.grant && r.grant.length > 0) ? basesFromRows(await tx.query(CURRENT_POLICY_SQL)) : null;
    for (const req of requests) {
      const profile = profiles.get(req.profileId);
      if (!profile) throw new ConsentError('not-found', `No profile id ${req.profileId}.`);
      const planned = planChanges(profile.optOut, req.wanted);
      const changes = bases ? [...planned, ...planGrants(profile, planned, req.grant, bases)] : planned;
      if (changes.length > 0) {
        const next = applyChanges(profile.optOut, changes);
        for (const c of changes) {
          checkChannel(c.channel);
          events.push({ profileId: profile.id, channel: c.channel, action: c.action });
        }
        // granted_<channel> follows from the events (the ledger's insert trigger); the profile returned says so too.
        const updated = { ...profile, optOut: next, granted: grantsAfter(profile.granted, changes), updatedAt: context.occurredAt };
        profiles.set(profile.id, updated);
        tx.setProfile(updated);
        results.push({ profile: updated, changes });
      } else {
        results.push({ profile, changes });
      }
    }
    tx.appendEvents(events, context);
    return results;
  }

  async lastChanges(profileId: number): Promise<LastChanges> {
    const rows = await this.query<EventRow>(
      `SELECT DISTINCT ON (channel) * FROM ledger_events WHERE profile_id = $1 AND action NOT IN ${NON_CONSENT_PROFILE_ACTIONS_SQL} ORDER BY channel, id DESC`,
      [profileId],
    );
    const last: LastChanges = {};
    for (const r of rows) last[r.channel as Channel] = rowToEvent(r);
    return last;
  }

  async lastChangesOf(profileIds: readonly number[]): Promise<Map<number, LastChanges>> {
    const rows = await this.query<EventRow>(
      `SELECT DISTINCT ON (profile_id, channel) * FROM ledger_events WHERE profile_id = ANY($1::int[]) AND action NOT IN ${NON_CONSENT_PROFILE_ACTIONS_SQL} ORDER BY profile_id, channel, id DESC`,
      [profileIds.filter(isInt4)],
    );
    return byProfile(profileIds, rows, (): LastChanges => ({}), (last, r) => (last[r.channel as Channel] = rowToEvent(r)));
  }

  async lastConsentEventsOf(profileIds: readonly number[]): Promise<Map<number, LastChanges>> {
    const rows = await this.query<EventRow>(
      `SELECT DISTINCT ON (profile_id, channel) * FROM ledger_events WHERE profile_id = ANY($1::int[]) AND ${CONSENT_EVENTS_WHERE} ORDER BY profile_id, channel, id DESC`,
      [profileIds.filter(isInt4)],
    );
    return byProfile(profileIds, rows, (): LastChanges => ({}), (last, r) => (last[r.channel as Channel] = rowToEvent(r)));
  }

  async history(profileId: number): Promise<LedgerEvent[]> {
    return (await this.query<EventRow>(HISTORY_SQL('$1'), [profileId])).map(rowToEvent);
  }

  /**
   * The chain checked by the shared ChainVerifier, read through two cursors
   * (blocks, events), then the state replayed and compared (verify-state.ts),
   * all from one REPEATABLE READ snapshot.
   */
  async verifyLedger(options: VerifyOptions = {}): Promise<LedgerVerification> {
    const client = await this.connect();
    let dead = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const verdict = await verifyPgLedger(client, options);
      await client.query('COMMIT');
      return verdict;
    } catch (e) {
      dead = !(await rollback(client, e));
      throw this.translate(e);
    } finally {
      client.release(dead || undefined);
    }
  }

  async backup(path: string): Promise<{ path: string; bytes: number; profiles: number; events: number }> {
    const { backupPgToSqlite } = await import('./backup.js');
    return backupPgToSqlite(this, path);
  }

  readonly takesCopyText = true;

  async *exportAll(): AsyncIterable<RawBatch> {
    const { exportPgRows } = await import('./rows.js');
    yield* exportPgRows(this);
  }

  async importAll(batches: AsyncIterable<RawBatch>, options?: ImportAllOptions) {
    const { importPgRows } = await import('./rows.js');
    return importPgRows(this, batches, options);
  }

  async close(): Promise<void> {
    await this.feed.stopWaiting();
    await this.pool.end();
  }
}

/** A cursor's statement, planned from reads made in the cursor's own snapshot (`q`). */
export type CursorPlan = (q: <R extends pg.QueryResultRow = any>(text: string, values?: unknown[]) => Promise<R[]>) => Promise<{ sql: string; params: unknown[] }>;

/** Channel names are interpolated into column names: only the registry's. */
export function checkChannel(c: string): string {
  if (!(CHANNELS as readonly string[]).includes(c)) throw invalid(`Unknown channel "${c}".`);
  return c;
}

/** Ids are PostgreSQL integers: a larger number names no profile (rather than failing the query). */
export const isInt4 = (id: number) => Number.isSafeInteger(id) && id <= 2147483647 && id >= -2147483648;

/**
 * verifyLedger's two steps on `client`, inside the caller's transaction (a
 * REPEATABLE READ snapshot, or the copy's own write transaction, which then
 * sees its uncommitted rows). Declares and uses the cursors `blocks` and `events`.
 */
export async function verifyPgLedger(client: pg.PoolClient, options: VerifyOptions = {}): Promise<LedgerVerification> {
  await client.query('DECLARE blocks NO SCROLL CURSOR FOR SELECT id, first_event_id, last_event_id, event_count, prev_hash, hash FROM ledger_blocks ORDER BY id');
  await client.query('DECLARE events NO SCROLL CURSOR FOR SELECT * FROM ledger_events ORDER BY id');
  const EVENTS_PAGE = 10_000;
  let events: EventRow[] = [];
  let at = 0;
  let eventsDone = false;
  const peek = async (): Promise<EventRow | null> => {
    if (at < events.length) return events[at]!;
    if (eventsDone) return null;
    events = (await client.query<EventRow>(`FETCH ${EVENTS_PAGE} FROM events`)).rows;
    at = 0;
    if (events.length < EVENTS_PAGE) eventsDone = true;
    return events[0] ?? null;
  };
  const v = new ChainVerifier();
  const [{ total }] = (await client.query<{ total: number }>('SELECT coalesce(max(last_event_id), 0) AS total FROM ledger_blocks')).rows as [{ total: number }];
  let reported = 0;
  options.onProgress?.({ phase: 'chain', events: 0, total });
  const result = await (async (): Promise<LedgerVerification> => {
    for (;;) {
      const page = (await client.query<BlockRow>('FETCH 1000 FROM blocks')).rows;
      for (const b of page) {
        const bad = v.block(b);
        if (bad) return bad;
        for (let e = await peek(); e && e.id <= b.last_event_id; e = await peek()) {
          at++;
          const broken = v.event(e);
          if (broken) return broken;
        }
        const wrong = v.endBlock();
        if (wrong) return wrong;
        if (options.onProgress && v.lastEventId - reported >= 100_000) {
          reported = v.lastEventId;
          options.onProgress({ phase: 'chain', events: reported, total });
        }
      }
      if (page.length < 1000) break;
    }
    const stray = await peek();
    return v.finish(stray ? stray.id : null);
  })();
  let verdict: LedgerVerification = result;
  if (result.ok) {
    const agents = await client.query<{ event_id: number; salt: string; user_agent: string; evidence: string | null }>(
      'SELECT u.event_id::int AS event_id, u.salt, u.user_agent, e.evidence FROM ledger_user_agents u LEFT JOIN ledger_events e ON e.id = u.event_id ORDER BY u.event_id',
    );
    for (const a of agents.rows) {
      const problem = userAgentProblem(a);
      if (problem) {
        await client.query('CLOSE blocks; CLOSE events');
        return { ok: false, blocks: result.blocks, events: result.events, brokenEventId: a.event_id, blockId: null, problem };
      }
    }
    const disagreement = (await verifyPgState(client, options)) ?? (await verifyPgGrants(client)) ?? (await verifyPgSuppressions(client)) ?? (await verifyPgPhones(client));
    if (disagreement) {
      verdict = { ok: false, check: 'state', blocks: result.blocks, events: result.events, head: result.head, problem: disagreement.detail, disagreement };
    }
  }
  await client.query('CLOSE blocks; CLOSE events');
  return verdict;
}
