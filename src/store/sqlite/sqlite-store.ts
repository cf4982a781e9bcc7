import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import BetterSqlite from 'better-sqlite3';
import { CHANNELS, type Channel, type ContactChannel, type OptOutFlags } from '../../consent/channels.js';
import { optedOutSql, reachableSql, timeSql, unreachableSql } from '../shared/reachability-sql.js';

/** SQLite's clock in the tool's time format. */
const SQLITE_NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
import { ConsentError, conflict, notFound } from '../../consent/errors.js';
import type { ServiceRepository } from '../../consent/services.js';
import { SqliteServiceRepository } from './service-store.js';
import { SqliteSuppressionRepository } from './suppression-store.js';
import type { SuppressionRepository } from '../../consent/suppressions.js';
import {
  BlockHasher,
  canonicalEvent,
  detachUserAgent,
  GENESIS_HASH,
  type ChangeContext,
  type LedgerEvent,
  type LedgerVerification,
  type VerifyOptions,
} from '../../consent/ledger.js';
import { SqliteAsOfRepository } from './as-of-store.js';
import { verifyStore } from './verify.js';
import { eventFields, evidenceOf, HISTORY_SQL, NON_CONSENT_PROFILE_ACTIONS_SQL, type PendingEvent } from '../shared/ledger-chain.js';
import { checkErasable, erasureEntries, erasureEvidence, profileAddresses } from '../shared/erasure.js';
import { applyChanges, erasedEmail, planChanges, planGrants, type NewProfile, type Profile, type ProfileRef } from '../../consent/profile.js';
import type {
  ConsentRequest,
  ConsentResult,
  ErasureResult,
  LastChanges,
  ProfileFilter,
} from '../../consent/store.js';
import { SqliteKeyRepository, SqlitePageRepository } from './landing-repository.js';
import type { ExportAllOptions, ImportAllOptions, RawBatch, RowStore } from '../rows.js';
import { exportSqliteRows, importSqliteRows } from './rows.js';
import type { BulkStore } from '../../consent/bulk.js';
import { SqliteBulkStore } from './bulk-store.js';
import { byProfile } from '../shared/by-profile.js';
import { SqliteLandingSubmissions } from './landing-submissions.js';
import { SqliteFeedbackRepository } from './feedback-store.js';
import { SqliteStatsRepository } from './stats-store.js';
import { SqliteBrandRepository } from './brand-store.js';
import { SqliteReasonRepository } from './reason-store.js';
import { SqlitePageStringsRepository } from './page-strings-store.js';
import { SqliteSmsRepository } from './sms-store.js';
import { SqliteDigestRepository } from './digest-store.js';
import { basesFromRows, grantsAfter, type GrantFlags } from '../../consent/policy.js';
import { CONSENT_EVENTS_WHERE, CURRENT_POLICY_SQL } from '../shared/policy-sql.js';
import { SqlitePolicyRepository } from './policy-store.js';
import { SqliteFeed, sqliteApiKeys, sqliteReach } from './integrations-store.js';
import type { ApiKeyRepository } from '../../consent/api-keys.js';
import type { ReachRepository } from '../../consent/reach-check.js';
import { SqliteWebhookRepository } from './webhook-store.js';
import { DEFAULT_BUSY_TIMEOUT_MS, openDatabase, translateSqliteError, type OpenOptions } from './open.js';

/**
 * A profile row as an array, in PROFILE_COLUMNS order: better-sqlite3's raw
 * mode, which skips building an object keyed by column name for every row
 * (a third of a point read's cost).
 */
export type ProfileRow = [
  id: number,
  email: string,
  phone: string | null,
  first_name: string | null,
  last_name: string | null,
  optout_all: number,
  optout_email: number,
  optout_sms: number,
  optout_phone: number,
  optout_postal: number,
  optout_fax: number,
  optout_push: number,
  created_at: string,
  updated_at: string,
  erased_at: string | null,
  granted_email: number,
  granted_sms: number,
  granted_phone: number,
  granted_postal: number,
  granted_fax: number,
  granted_push: number,
];

/** The columns every profile read selects, in ProfileRow order. */
export const PROFILE_COLUMNS =
  'id, email, phone, first_name, last_name, optout_all, optout_email, optout_sms, optout_phone, optout_postal, optout_fax, optout_push, created_at, updated_at, erased_at, ' +
  'granted_email, granted_sms, granted_phone, granted_postal, granted_fax, granted_push';

interface EventRow {
  id: number;
  profile_id: number | null;
  channel: string;
  service: string | null;
  action: string;
  source: string;
  actor: string;
  reason: string | null;
  evidence: string | null;
  occurred_at: string;
  address_key: string | null;
  user_agent?: string | null;
}

export type { PendingEvent };

export function rowToProfile(r: ProfileRow): Profile {
  // CHANNELS order (all, email, sms, phone, postal, fax, push), spelt out: no per-row key building.
  const optOut: OptOutFlags = {
    all: r[5] === 1,
    email: r[6] === 1,
    sms: r[7] === 1,
    phone: r[8] === 1,
    postal: r[9] === 1,
    fax: r[10] === 1,
    push: r[11] === 1,
  };
  // Undefined unless some channel is granted: a profile without a grant keeps the shape it always had.
  const granted: GrantFlags | undefined =
    r[15] + r[16] + r[17] + r[18] + r[19] + r[20] === 0
      ? undefined
      : { email: r[15] === 1, sms: r[16] === 1, phone: r[17] === 1, postal: r[18] === 1, fax: r[19] === 1, push: r[20] === 1 };
  return { id: r[0], email: r[1], phone: r[2], firstName: r[3], lastName: r[4], optOut, createdAt: r[12], updatedAt: r[13], erasedAt: r[14], granted };
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

export function canonicalRow(r: EventRow): string {
  return canonicalEvent({
    id: r.id,
    profileId: r.profile_id,
    channel: r.channel,
    action: r.action,
    source: r.source,
    actor: r.actor,
    reason: r.reason,
    evidenceJson: r.evidence,
    occurredAt: r.occurred_at,
    service: r.service,
    addressKey: r.address_key,
  });
}

const PAGE = 1000;

export class SqliteStore implements RowStore {
  private readonly busyTimeoutMs: number;
  private readonly stmts;
  readonly services: ServiceRepository;
  readonly suppressions: SqliteSuppressionRepository;
  readonly pages: SqlitePageRepository;
  readonly keys: SqliteKeyRepository;
  readonly bulk: BulkStore;
  readonly landing: SqliteLandingSubmissions;
  readonly feedback: SqliteFeedbackRepository;
  readonly stats: SqliteStatsRepository;
  readonly sms: SqliteSmsRepository;
  readonly asOf: SqliteAsOfRepository;
  /** The organisation shown on pages, versioned (issue 16). */
  readonly brand: SqliteBrandRepository;
  readonly digests: SqliteDigestRepository;
  readonly policy: SqlitePolicyRepository;
  readonly feed: SqliteFeed;
  readonly apiKeys: ApiKeyRepository;
  readonly reach: ReachRepository;
  readonly webhooks: SqliteWebhookRepository;
  /** Unsubscribe-survey answers as `reason` ledger events (issue 16). */
  readonly reasons: SqliteReasonRepository;
  /** Page strings imported per language (issue 16). */
  readonly pageStrings: SqlitePageStringsRepository;

  constructor(
    readonly db: Database.Database,
    readonly location: string,
    busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
    private readonly clock?: () => string,
  ) {
    this.busyTimeoutMs = busyTimeoutMs;
    this.services = new SqliteServiceRepository(this);
    this.suppressions = new SqliteSuppressionRepository(this);
    this.bulk = new SqliteBulkStore(this);
    this.stmts = {
      byId: db.prepare<[number], ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE id = ?`).raw(),
      byEmail: db.prepare<[string], ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE email = ?`).raw(),
      insertProfile: db.prepare(
        `INSERT INTO profiles (email, phone, first_name, last_name, created_at, updated_at)
         VALUES (@email, @phone, @firstName, @lastName, @at, @at)`,
      ),
      insertEvent: db.prepare(
        `INSERT INTO ledger_events (profile_id, channel, service, action, source, actor, reason, evidence, occurred_at, address_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertUserAgent: db.prepare('INSERT INTO ledger_user_agents (event_id, salt, user_agent) VALUES (?, ?, ?)'),
      eventById: db.prepare<[number], EventRow>('SELECT * FROM ledger_events WHERE id = ?'),
      lastBlock: db.prepare<[], { hash: string; last_event_id: number }>(
        'SELECT hash, last_event_id FROM ledger_blocks ORDER BY id DESC LIMIT 1',
      ),
      insertBlock: db.prepare(
        `INSERT INTO ledger_blocks (first_event_id, last_event_id, event_count, prev_hash, hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      lastChanges: db.prepare<[number], EventRow>(
        `SELECT e.* FROM ledger_events e
         WHERE e.id IN (SELECT max(id) FROM ledger_events WHERE profile_id = ? AND action NOT IN ${NON_CONSENT_PROFILE_ACTIONS_SQL} GROUP BY channel)`,
      ),
      lastChangesOf: db.prepare<[string], EventRow>(
        `SELECT e.* FROM ledger_events e
         WHERE e.id IN (SELECT max(id) FROM ledger_events WHERE profile_id IN (SELECT value FROM json_each(?)) AND action NOT IN ${NON_CONSENT_PROFILE_ACTIONS_SQL} GROUP BY profile_id, channel)`,
      ),
      history: db.prepare<[number], EventRow>(HISTORY_SQL('?')),
    };
    this.pages = new SqlitePageRepository(this);
    this.keys = new SqliteKeyRepository(this);
    this.landing = new SqliteLandingSubmissions(this);
    this.feedback = new SqliteFeedbackRepository(this);
    this.stats = new SqliteStatsRepository(this);
    this.brand = new SqliteBrandRepository(this);
    this.reasons = new SqliteReasonRepository(this);
    this.pageStrings = new SqlitePageStringsRepository(this);
    this.sms = new SqliteSmsRepository(this);
    this.asOf = new SqliteAsOfRepository(this);
    this.digests = new SqliteDigestRepository(this);
    this.policy = new SqlitePolicyRepository(this);
    this.feed = new SqliteFeed(this);
    this.apiKeys = sqliteApiKeys(this);
    this.reach = sqliteReach(this);
    this.webhooks = new SqliteWebhookRepository(this);
  }

  static open(path: string, options: OpenOptions = {}): SqliteStore {
    const db = openDatabase(path, options);
    return new SqliteStore(db, path, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, options.now);
  }

  /** "Now" for reachability's expiry check: the injected clock, else SQLite's. */
  nowSql(): string {
    return this.clock ? timeSql(this.clock()) : SQLITE_NOW;
  }

  /** Now as ISO text: the injected clock, else SQLite's. */
  nowIso(): string {
    return this.clock ? this.clock() : (this.db.prepare(`SELECT ${SQLITE_NOW}`).pluck().get() as string);
  }

  /** Runs `fn` translating lock errors; every public method goes through here. */
  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw translateSqliteError(e, this.busyTimeoutMs, this.location);
    }
  }

  /** A read outside a transaction, with lock errors translated (for repositories). */
  read<T>(fn: () => T): T {
    return this.guard(fn);
  }

  /** A write transaction that takes the write lock at BEGIN, so it never fails half-way on a lock upgrade. */
  writeTransaction<T>(fn: () => T): T {
    return this.guard(() => this.db.transaction(fn).immediate());
  }

  async addProfile(input: NewProfile, at: string): Promise<Profile> {
    return this.writeTransaction(() => {
      if (this.stmts.byEmail.get(input.email)) {
        throw conflict(`A profile with email ${input.email} already exists.`, 'Use `consent profile show` to see it.');
      }
      const { lastInsertRowid } = this.stmts.insertProfile.run({ ...input, at });
      // An erased address that comes back: its keyed-only entries match it again (unreachable from its first second).
      (this.suppressions as SqliteSuppressionRepository).restoreInTransaction(profileAddresses(input.email, input.phone));
      return rowToProfile(this.stmts.byId.get(Number(lastInsertRowid))!);
    });
  }

  async eraseProfile(profileId: number, context: ChangeContext): Promise<ErasureResult> {
    const suppressions = this.suppressions as SqliteSuppressionRepository;
    // Freed bytes (the old row, its index entries, the entries' addresses) are zeroed, not left in free space.
    this.guard(() => this.db.pragma('secure_delete = ON'));
    try {
      const result = this.writeTransaction(() => {
        const row = this.stmts.byId.get(profileId);
        const profile = checkErasable(profileId, row ? rowToProfile(row) : null);
        const addresses = profileAddresses(profile.email, profile.phone);
        const keys = addresses.map((a) => ({ channel: a.channel, addressKey: suppressions.keyOfSync(a.channel, a.address) }));
        const added = suppressions.addInTransaction(erasureEntries(keys), context);
        this.db
          .prepare(`UPDATE suppressions SET address = NULL WHERE (channel = 'email' AND address = ?) OR (channel IN ('sms', 'phone') AND address = ?)`)
          .run(profile.email, profile.phone);
        this.db
          .prepare('UPDATE profiles SET email = ?, phone = NULL, first_name = NULL, last_name = NULL, erased_at = ?, updated_at = ? WHERE id = ?')
          .run(erasedEmail(profileId), context.occurredAt, context.occurredAt, profileId);
        // A phone another (live) profile still has is in the store anyway: its entries keep it, so that they block that profile too.
        if (profile.phone && this.db.prepare('SELECT 1 FROM profiles WHERE phone = ? AND erased_at IS NULL').get(profile.phone)) {
          suppressions.restoreInTransaction(profileAddresses(profile.email, profile.phone).filter((a) => a.channel !== 'email'));
        }
        // The texts this number sent (sms log, review queue) may name the person: their bodies go too (the log keeps the outcome).
        const phoneKey = keys.find((k) => k.channel !== 'email')?.addressKey;
        if (phoneKey) this.db.prepare('UPDATE sms_messages SET body = NULL WHERE from_key = ? AND body IS NOT NULL').run(phoneKey);
        const { changes } = this.db
          .prepare('DELETE FROM ledger_user_agents WHERE event_id IN (SELECT id FROM ledger_events WHERE profile_id = ?)')
          .run(profileId);
        this.appendEvents([{ profileId, channel: 'all', action: 'erase', evidence: erasureEvidence(keys, context.evidence) }], context);
        return { profile: rowToProfile(this.stmts.byId.get(profileId)!), suppressions: added, userAgentsDeleted: changes };
      });
      // The WAL still holds the pages as they were before: copy it into the file and empty it.
      this.guard(() => this.db.pragma('wal_checkpoint(TRUNCATE)'));
      return result;
    } finally {
      this.guard(() => this.db.pragma('secure_delete = OFF'));
    }
  }

  async findProfile(ref: ProfileRef): Promise<Profile | null> {
    return this.guard(() => {
      const row = 'id' in ref ? this.stmts.byId.get(ref.id) : this.stmts.byEmail.get(ref.email);
      return row ? rowToProfile(row) : null;
    });
  }

  /**
   * A scan, deliberately without an index on phone: building one costs a
   * million-row first load about as much again as the email index, and every
   * re-import maintains it, while a lookup by phone is an operator's
   * occasional query (a scan of a million profiles: a tenth of a second or so).
   */
  async findProfilesByPhone(phone: string): Promise<Profile[]> {
    return this.guard(() =>
      this.db.prepare<[string], ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE phone = ? ORDER BY id`).raw().all(phone).map(rowToProfile),
    );
  }

  async findProfiles(ids: readonly number[]): Promise<(Profile | null)[]> {
    const one = (id: number) => {
      const row = this.stmts.byId.get(id);
      return row ? rowToProfile(row) : null;
    };
    // One read transaction for all: one snapshot, and the locking paid once rather than per profile.
    return this.guard(() => (ids.length === 1 ? [one(ids[0]!)] : this.db.transaction(() => ids.map(one))()));
  }

  /** The SQL condition and parameters of a filter (listProfiles, and the bulk store's lean listing). */
  filterSql(filter: ProfileFilter): { where: string; params: { service?: string } } {
    const where = ['id > @after'];
    const now = this.nowSql();
    if (filter.reachable) where.push(reachableSql(filter.reachable, '', now));
    if (filter.unreachable) where.push(unreachableSql(filter.unreachable, '', now));
    if (filter.optedOut) where.push(optedOutSql(filter.optedOut));
    if (filter.subscribed) {
      const service = this.guard(() => this.db.prepare<[string], { channel: string }>('SELECT channel FROM services WHERE name = ?').get(filter.subscribed!));
      if (!service) throw notFound(`No service ${filter.subscribed}.`, 'See `consent service list`.');
      // Subscribed and reachable on the service's channel: an opt-out wins over a subscription.
      where.push(reachableSql(service.channel as ContactChannel, '', now));
      where.push(`id IN (SELECT s.profile_id FROM subscriptions s JOIN services v ON v.id = s.service_id
                  WHERE v.name = @service AND s.status = 'subscribed')`);
    }
    return { where: where.join(' AND '), params: filter.subscribed ? { service: filter.subscribed } : {} };
  }

  async *listProfiles(filter: ProfileFilter): AsyncIterable<Profile> {
    const { where, params: extra } = this.filterSql(filter);
    const stmt = this.db.prepare<[{ after: number; limit: number; service?: string }], ProfileRow>(
      `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE ${where} ORDER BY id LIMIT @limit`,
    ).raw();
    let remaining = filter.limit ?? Infinity;
    let after = 0;
    // Keyset pages, not one open cursor: the caller may use the store between rows.
    while (remaining > 0) {
      const params = { after, limit: Math.min(PAGE, remaining), ...extra };
      const rows = this.guard(() => stmt.all(params));
      for (const r of rows) yield rowToProfile(r);
      if (rows.length < PAGE) return;
      remaining -= rows.length;
      after = rows[rows.length - 1]![0];
    }
  }

  /**
   * Appends events and their block to the chain. Must run inside a write
   * transaction: the lock is what makes "the last block" well defined.
   */
  appendEvents(events: Iterable<PendingEvent>, context: ChangeContext): number {
    const prev = this.stmts.lastBlock.get();
    const hasher = new BlockHasher(prev?.hash ?? GENESIS_HASH);
    // A user agent goes beside the ledger, its salted digest into the hashed evidence (detachUserAgent).
    const salt = typeof context.evidence?.userAgent === 'string' ? randomBytes(16).toString('hex') : '';
    const detached = detachUserAgent(context.evidence, salt);
    const evidence = detached.evidence ? JSON.stringify(detached.evidence) : null;
    const reason = context.reason ?? null;
    let first = 0;
    let last = 0;
    for (const e of events) {
      const { reason: eventReason, evidence: eventEvidence, addressKey } = eventFields(e, reason, evidence);
      const id = Number(
        this.stmts.insertEvent.run(
          e.profileId,
          e.channel,
          e.service ?? null,
          e.action,
          context.source,
          context.actor,
          eventReason,
          eventEvidence,
          context.occurredAt,
          addressKey,
        ).lastInsertRowid,
      );
      if (first === 0) first = id;
      last = id;
      if (detached.userAgent !== null && e.evidence === undefined) this.stmts.insertUserAgent.run(id, salt, detached.userAgent);
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
    if (hasher.size > 0) {
      this.stmts.insertBlock.run(first, last, hasher.size, prev?.hash ?? GENESIS_HASH, hasher.digest(), context.occurredAt);
    }
    return hasher.size;
  }

  /**
   * The hasher of the next block, for a caller that feeds it over time while
   * it holds the write lock (an import's first load); then passed to sealBlock.
   */
  openBlock(): BlockHasher {
    return new BlockHasher(this.stmts.lastBlock.get()?.hash ?? GENESIS_HASH);
  }

  /**
   * Seals events that were inserted by set-based SQL (ids `first`..`last`,
   * contiguous, inside the current write transaction) into one block:
   * `hashEvents` adds their canonical texts to the hasher in id order (or is
   * the hasher of openBlock, already fed).
   */
  sealBlock(first: number, last: number, hashEvents: ((hasher: BlockHasher) => void) | BlockHasher, at: string): void {
    const prev = this.stmts.lastBlock.get();
    let hasher: BlockHasher;
    if (typeof hashEvents === 'function') hashEvents((hasher = new BlockHasher(prev?.hash ?? GENESIS_HASH)));
    else hasher = hashEvents;
    if (hasher.prevHash !== (prev?.hash ?? GENESIS_HASH)) throw new ConsentError('integrity', `block of events ${first}–${last}: opened after another block`);
    if (hasher.size !== last - first + 1) throw new ConsentError('integrity', `block of events ${first}–${last}: ${hasher.size} hashed`);
    this.stmts.insertBlock.run(first, last, hasher.size, prev?.hash ?? GENESIS_HASH, hasher.digest(), at);
  }

  async applyConsent(requests: readonly ConsentRequest[], context: ChangeContext): Promise<ConsentResult[]> {
    return this.writeTransaction(() => this.applyInTransaction(requests, context));
  }

  // A handful of distinct SET lists in practice; preparing one per change cost more than the change (landing serve).
  private readonly updates = new Map<string, Database.Statement>();
  private updateStatement(sets: string): Database.Statement {
    let stmt = this.updates.get(sets);
    if (!stmt) this.updates.set(sets, (stmt = this.db.prepare(`UPDATE profiles SET ${sets}, updated_at = ? WHERE id = ?`)));
    return stmt;
  }

  /** applyConsent's work; must run inside a write transaction (group commit runs several in one). */
  applyInTransaction(requests: readonly ConsentRequest[], context: ChangeContext): ConsentResult[] {
    {
      const results: ConsentResult[] = [];
      const events: { profileId: number; channel: Channel; action: string }[] = [];
      // The basis matters only to a grant: read (in this transaction) only when one is asked for.
      const bases = requests.some((r) => r.grant && r.grant.length > 0)
        ? basesFromRows(this.db.prepare<[], { channel: string; evidence: string | null }>(CURRENT_POLICY_SQL).all())
        : null;
      for (const req of requests) {
        const row = this.stmts.byId.get(req.profileId);
        if (!row) throw new ConsentError('not-found', `No profile id ${req.profileId}.`);
        const profile = rowToProfile(row);
        const planned = planChanges(profile.optOut, req.wanted);
        const changes = bases ? [...planned, ...planGrants(profile, planned, req.grant, bases)] : planned;
        if (changes.length > 0) {
          const next = applyChanges(profile.optOut, changes);
          const sets = changes.map((c) => `optout_${c.channel} = ${next[c.channel] ? 1 : 0}`).join(', ');
          this.updateStatement(sets).run(context.occurredAt, profile.id);
          // granted_<channel> follows from the events (the ledger's insert trigger); the profile returned says so too.
          for (const c of changes) events.push({ profileId: profile.id, channel: c.channel, action: c.action });
          results.push({ profile: { ...profile, optOut: next, granted: grantsAfter(profile.granted, changes), updatedAt: context.occurredAt }, changes });
        } else {
          results.push({ profile, changes });
        }
      }
      this.appendEvents(events, context);
      return results;
    }
  }

  async lastChanges(profileId: number): Promise<LastChanges> {
    return this.guard(() => {
      const last: LastChanges = {};
      for (const r of this.stmts.lastChanges.all(profileId)) last[r.channel as Channel] = rowToEvent(r);
      return last;
    });
  }

  async lastChangesOf(profileIds: readonly number[]): Promise<Map<number, LastChanges>> {
    const rows = this.guard(() => this.stmts.lastChangesOf.all(JSON.stringify(profileIds)));
    return byProfile(profileIds, rows, (): LastChanges => ({}), (last, r) => (last[r.channel as Channel] = rowToEvent(r)));
  }

  async lastConsentEventsOf(profileIds: readonly number[]): Promise<Map<number, LastChanges>> {
    const rows = this.guard(() =>
      this.db
        .prepare<[string], EventRow>(
          `SELECT e.* FROM ledger_events e WHERE e.id IN (SELECT max(id) FROM ledger_events
             WHERE profile_id IN (SELECT value FROM json_each(?)) AND ${CONSENT_EVENTS_WHERE} GROUP BY profile_id, channel)`,
        )
        .all(JSON.stringify(profileIds)),
    );
    return byProfile(profileIds, rows, (): LastChanges => ({}), (last, r) => (last[r.channel as Channel] = rowToEvent(r)));
  }

  async history(profileId: number): Promise<LedgerEvent[]> {
    return this.guard(() => this.stmts.history.all(profileId).map(rowToEvent));
  }

  async verifyLedger(options: VerifyOptions = {}): Promise<LedgerVerification> {
    // One read transaction: the chain and the state are checked on one snapshot.
    return this.guard(() => this.db.transaction(() => verifyStore(this.db, options))());
  }

  async backup(path: string) {
    const folder = dirname(path);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw notFound(`Cannot write the backup ${path}: there is no folder ${folder}.`, 'Create the folder first, or choose another path.');
    }
    if (existsSync(path)) {
      throw conflict(`${path} already exists; a backup never overwrites a file.`, 'Choose a new file name.');
    }
    const tmp = `${path}.partial-${randomBytes(6).toString('hex')}`;
    try {
      // VACUUM INTO reads one consistent snapshot (a read transaction), so
      // writers in other processes carry on and are not half-copied.
      this.guard(() => this.db.prepare('VACUUM INTO ?').run(tmp));
      const copy = new BetterSqlite(tmp, { readonly: true });
      let counts: { profiles: number; events: number };
      try {
        const check = copy.pragma('integrity_check', { simple: true });
        if (check !== 'ok') throw new ConsentError('integrity', `The backup copy failed its integrity check: ${String(check)}.`);
        const chain = copy.transaction(() => verifyStore(copy))();
        if (!chain.ok) {
          const what = 'disagreement' in chain ? 'state disagrees with its ledger' : 'ledger does not verify';
          throw new ConsentError('integrity', `The backup copy's ${what}: ${chain.problem}.`, 'No backup was written. Run `consent ledger verify` on the store and restore it from an earlier backup.');
        }
        counts = {
          profiles: (copy.prepare('SELECT count(*) AS n FROM profiles').get() as { n: number }).n,
          events: chain.events,
        };
      } finally {
        copy.close();
      }
      try {
        linkSync(tmp, path); // fails rather than overwrite a file created meanwhile
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw conflict(`${path} already exists; a backup never overwrites a file.`, 'Choose a new file name.');
        }
        throw e;
      }
      return { path, bytes: statSync(path).size, ...counts };
    } finally {
      if (existsSync(tmp)) unlinkSync(tmp);
    }
  }

  readonly takesCopyText = false;

  exportAll(options?: ExportAllOptions): AsyncIterable<RawBatch> {
    return exportSqliteRows(this, options);
  }

  importAll(batches: AsyncIterable<RawBatch>, options?: ImportAllOptions) {
    return importSqliteRows(this, batches, options);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

export { verifyChain, verifyState, verifyStore } from './verify.js';
