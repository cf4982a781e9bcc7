/** The ledger read at a past position, on SQLite (AsOfRepository; the SQL is shared: as-of-sql.ts). */
import type Database from 'better-sqlite3';
import { addressKey } from '../../consent/suppressions.js';
import type { AsOfRepository } from '../../consent/as-of-repository.js';
import { phoneKeyAt, type Basis, type LedgerPosition, type Moment, type ReplayEvent } from '../../consent/as-of.js';
import { CONTACT_CHANNELS, type ContactChannel } from '../../consent/channels.js';
import type { Profile } from '../../consent/profile.js';
import { changedCounts, reachableOverTime, type QuietGroup } from '../../consent/reach-over-time.js';
import { changedReachableSql, quietBucketsSql, suppressedBucketsSql, toQuietGroups, type QuietGroupRow } from '../shared/reach-over-time-sql.js';
import {
  ADDRESS_EVENTS_SQL,
  addressKeyPairs,
  ERASED_BY_EMAIL_KEY_SQL,
  ERASED_BY_RECORDED_KEY_SQL,
  erasedKeyPairs,
  erasedKeysOf,
  erasedKeysSql,
  apartIds,
  PHONE_CHANGES_AFTER_SQL,
  PROFILE_PHONE_CHANGES_SQL,
  phoneKeysOf,
  withPhoneAt,
  laterThan,
  type ApartRows,
  type PhoneChangeRow,
  audienceAtSql,
  splitSuppressed,
  suppressedKeysAtSql,
  basesOf,
  HEAD_SQL,
  POLICY_EVENTS_SQL,
  POSITION_AT_SQL,
  PROFILE_EVENTS_SQL,
  PROFILES_AT_SQL,
  toPosition,
  toReplayEvent,
  type AsOfDialect,
  type AudienceLists,
  type ErasedKeyRow,
  type SuppressedKeyRow,
  type PositionRow,
} from '../shared/as-of-sql.js';
import type { EventRow } from '../shared/ledger-chain.js';
import { PROFILE_COLUMNS, rowToProfile, type ProfileRow, type SqliteStore } from './sqlite-store.js';

const PAGE = 5000;

/** Named parameters as better-sqlite3 takes them: none when there are none. */
const named = (params: Record<string, unknown>) => (Object.keys(params).length > 0 ? [params] : []);
const KEY_FUNCTION = 'consent_address_key';

export const DIALECT: AsOfDialect = {
  keyOf: (kind, address) => `${KEY_FUNCTION}('${kind}', ${address})`,
  expiry: (a) => `json_extract(${a}.evidence, '$.expiresAt')`,
  // A list given as a JSON array parameter: SQLite builds its lookup table once per query.
  inList: (expr, list) => `${expr} IN (SELECT value FROM json_each(${list}))`,
};

export class SqliteAsOfRepository implements AsOfRepository {
  constructor(private readonly store: SqliteStore) {
    // The address key as an SQL function, so that the replay (and an import's `address` events)
    // match a profile's address to the ledger's keys inside the query. The secret is read before
    // any query that calls it runs (suppressions.secretKey(), cached: a function may not use the
    // connection while its statement runs).
    store.db.function(KEY_FUNCTION, { deterministic: true }, (kind: unknown, address: unknown) =>
      typeof address === 'string' ? addressKey(store.suppressions.secretKey(), kind === 'email' ? 'email' : 'phone', address) : null,
    );
  }

  private get db(): Database.Database {
    return this.store.db;
  }

  private loadSecret(): void {
    this.store.suppressions.secretKey();
  }

  async head(): Promise<LedgerPosition> {
    return this.store.read(() => toPosition(this.db.prepare<[], PositionRow>(HEAD_SQL).get()));
  }

  async positionAt(at: string): Promise<LedgerPosition> {
    return this.store.read(() => toPosition(this.db.prepare<[], PositionRow>(POSITION_AT_SQL(at)).get()));
  }

  async block(blockId: number): Promise<LedgerPosition | null> {
    const r = this.store.read(() =>
      this.db.prepare<[number], PositionRow>('SELECT id, last_event_id, hash, created_at FROM ledger_blocks WHERE id = ?').get(blockId),
    );
    return r ? toPosition(r) : null;
  }

  async profileEvents(profileId: number, eventId: number): Promise<ReplayEvent[]> {
    return this.store.read(() => this.db.prepare<[number, number], EventRow>(PROFILE_EVENTS_SQL('?', '?')).all(profileId, eventId).map(toReplayEvent));
  }

  async policyEvents(eventId: number): Promise<ReplayEvent[]> {
    return this.store.read(() => this.db.prepare<[number], EventRow>(POLICY_EVENTS_SQL('?')).all(eventId).map(toReplayEvent));
  }

  async addressEvents(profileId: number, email: string | null, phone: string | null, eventId: number): Promise<ReplayEvent[]> {
    const pairs = await addressKeyPairs((c, a) => this.store.suppressions.keyOf(c, a), email, phone);
    return this.keyEvents(withPhoneAt(pairs, this.phoneKeyAt(profileId, eventId)), eventId);
  }

  async erasedAddressEvents(profileId: number, eventId: number): Promise<ReplayEvent[]> {
    const rows = this.store.read(() => this.db.prepare<[number], ErasedKeyRow>(erasedKeysSql(0, '?')).all(profileId));
    return this.keyEvents(withPhoneAt(erasedKeyPairs(erasedKeysOf(rows).get(profileId)), this.phoneKeyAt(profileId, eventId)), eventId);
  }

  /** The key of the profile's phone at `eventId` from its changes of phone (phoneKeyAt); undefined: none recorded. */
  private phoneKeyAt(profileId: number, eventId: number): string | null | undefined {
    return phoneKeyAt(this.store.read(() => this.db.prepare<[number], EventRow>(PROFILE_PHONE_CHANGES_SQL('?')).all(profileId)).map(toReplayEvent), eventId);
  }

  /**
   * The profiles matched apart at position n on `channel` (apartIds), given the keys suppressed
   * then; `read`: the erasures and changes of phone after an earlier position, read once (else read here).
   */
  private apart(channel: ContactChannel, n: number, rows: readonly SuppressedKeyRow[], readOnce?: () => ApartRows): Pick<AudienceLists, 'movedIds' | 'suppressedIds'> {
    if (rows.length === 0) return {};
    const read = readOnce?.();
    const erased = read ? laterThan(read.erased, n) : this.db.prepare<[], ErasedKeyRow>(erasedKeysSql(n)).all();
    const phones = channel === 'email' ? [] : read ? laterThan(read.phones, n) : this.db.prepare<[], PhoneChangeRow>(PHONE_CHANGES_AFTER_SQL(n)).all();
    return apartIds(channel, rows, erasedKeysOf(erased), phoneKeysOf(phones));
  }

  /** What apart() reads, after position n, for several later positions. */
  private apartRows(n: number): ApartRows {
    return { erased: this.db.prepare<[], ErasedKeyRow>(erasedKeysSql(n)).all(), phones: this.db.prepare<[], PhoneChangeRow>(PHONE_CHANGES_AFTER_SQL(n)).all() };
  }

  private keyEvents(pairs: [string, string][], eventId: number): ReplayEvent[] {
    if (pairs.length === 0) return [];
    const sql = ADDRESS_EVENTS_SQL(pairs.map(() => ['?', '?']), '?');
    return this.store.read(() => this.db.prepare(sql).all(...pairs.flat(), eventId).map((r) => toReplayEvent(r as EventRow)));
  }

  async basesAt(eventId: number): Promise<Record<ContactChannel, Basis>> {
    return basesOf(await this.policyEvents(eventId));
  }

  async *audience(channel: ContactChannel, moment: Moment): AsyncIterable<Profile[]> {
    // One snapshot for the lists and every page (a read transaction: WAL keeps it whatever commits meanwhile), so
    // an import that changes phones or an erasure between two pages cannot set a profile apart on one and not the other.
    const own = !this.db.inTransaction;
    if (own) this.store.read(() => this.db.exec('BEGIN DEFERRED'));
    try {
      yield* this.audienceIn(channel, moment);
    } finally {
      if (own && this.db.inTransaction) this.db.exec('COMMIT');
    }
  }

  private async *audienceIn(channel: ContactChannel, moment: Moment): AsyncIterable<Profile[]> {
    const n = moment.position.eventId;
    const basis = (await this.basesAt(n))[channel];
    const params: Record<string, unknown> = { after: 0 };
    const lists: AudienceLists = { addresses: null, keys: null };
    if (channel === 'email' || channel === 'sms' || channel === 'phone') {
      const rows = this.store.read(() => this.db.prepare<[], SuppressedKeyRow>(suppressedKeysAtSql(channel, n, moment.at, DIALECT)).all());
      const { addresses, keys } = splitSuppressed(rows);
      // Profiles erased since (the keys their erasure recorded) and whose phone changed since (its key at n): matched apart.
      Object.assign(lists, this.store.read(() => this.apart(channel, n, rows)));
      if (addresses.length > 0) [lists.addresses, params.addresses] = ['@addresses', JSON.stringify(addresses)];
      if (keys.length > 0) {
        this.store.read(() => this.loadSecret());
        [lists.keys, params.keys] = ['@keys', JSON.stringify(keys)];
      }
    }
    const sql = audienceAtSql(channel, n, moment.at, basis, lists, DIALECT, '@after', String(PAGE), PROFILE_COLUMNS);
    const stmt = this.db.prepare<[Record<string, unknown>], ProfileRow>(sql).raw();
    // Keyset pages: the position is fixed, so the pages are of one replay whatever is written between them.
    for (;;) {
      const rows = this.store.read(() => stmt.all(params));
      if (rows.length > 0) yield rows.map(rowToProfile);
      if (rows.length < PAGE) return;
      params.after = rows[rows.length - 1]![0];
    }
  }

  /** The suppressed lists of a point for `channel` as named parameters (`@a_<c>`, `@k_<c>`), or null lists when none; the profiles matched apart. */
  private suppressedLists(channel: ContactChannel, moment: Moment, params: Record<string, unknown>, read: () => ApartRows): AudienceLists {
    const lists: AudienceLists = { addresses: null, keys: null };
    if (channel !== 'email' && channel !== 'sms' && channel !== 'phone') return lists;
    const rows = this.db.prepare<[], SuppressedKeyRow>(suppressedKeysAtSql(channel, moment.position.eventId, moment.at, DIALECT)).all();
    Object.assign(lists, this.apart(channel, moment.position.eventId, rows, read));
    const { addresses, keys } = splitSuppressed(rows);
    if (addresses.length > 0) [lists.addresses, params[`a_${channel}`]] = [`@a_${channel}`, JSON.stringify(addresses)];
    if (keys.length > 0) {
      this.loadSecret();
      [lists.keys, params[`k_${channel}`]] = [`@k_${channel}`, JSON.stringify(keys)];
    }
    return lists;
  }

  async reachableOverTime(moments: readonly Moment[]): Promise<Record<ContactChannel, number[]>> {
    const points = moments.map((m) => ({ at: m.at, eventId: m.position.eventId }));
    const bases = await Promise.all(moments.map((m) => this.basesAt(m.position.eventId)));
    // One snapshot: the profiles as they are now are read once for every point.
    return this.store.read(() => this.db.transaction(() => {
      const buckets = toQuietGroups(this.db.prepare<[], QuietGroupRow>(quietBucketsSql('sqlite', points)).all());
      const candidates = changedCounts(buckets, points.length);
      const suppressed: Partial<Record<ContactChannel, QuietGroup[]>>[] = [];
      const changed: Record<ContactChannel, number>[] = [];
      let read: ApartRows | undefined; // the erasures and changes of phone after the first point, read once
      moments.forEach((moment, k) => {
        const params: Record<string, unknown> = {};
        const lists: Partial<Record<ContactChannel, AudienceLists>> = {};
        suppressed[k] = {};
        for (const c of ['email', 'sms', 'phone'] as const) {
          const own: Record<string, unknown> = {};
          lists[c] = this.suppressedLists(c, moment, own, () => (read ??= this.apartRows(points[0]!.eventId)));
          Object.assign(params, own);
          const sql = suppressedBucketsSql('sqlite', points, c, lists[c]!, DIALECT);
          suppressed[k]![c] = sql ? toQuietGroups(this.db.prepare(sql).all(...named(own)) as QuietGroupRow[]) : [];
        }
        // Only where some profile existed without being quiet: elsewhere nobody needs replaying.
        const row = candidates[k] === 0 ? {} : (this.db.prepare(changedReachableSql(points[k]!, bases[k]!, lists, DIALECT)).get(...named(params)) as Partial<Record<ContactChannel, number>>);
        changed[k] = Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, Number(row[c] ?? 0)])) as Record<ContactChannel, number>;
      });
      return reachableOverTime({ bases, buckets, suppressed, changed });
    })());
  }

  async erasedProfileByEmail(email: string): Promise<number | null> {
    const key = await this.store.suppressions.keyOf('email', email);
    const r = this.store.read(
      () =>
        // The last erasure that recorded the key (an address erased twice: its second profile), else an older erasure's events.
        this.db.prepare<[string], { profile_id: number }>(ERASED_BY_RECORDED_KEY_SQL(`json_extract(x.evidence, '$.addressKeys.email')`, '?')).get(key) ??
        this.db.prepare<[string], { profile_id: number }>(ERASED_BY_EMAIL_KEY_SQL('?')).get(key),
    );
    return r ? Number(r.profile_id) : null;
  }

  async profilesAt(moment: Moment): Promise<number> {
    return this.store.read(() => this.db.prepare<[], { n: number }>(PROFILES_AT_SQL(moment.at)).get()!.n);
  }
}
