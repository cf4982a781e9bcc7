/** The ledger read at a past position, on PostgreSQL (AsOfRepository; the SQL is shared: as-of-sql.ts). */
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
  hmacPads,
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
import { PROFILE_COLUMNS, rowToProfile, type CursorPlan, type PgStore, type ProfileRow } from './pg-store.js';

const PAGE = 5000;

/**
 * The address key in SQL: HMAC-SHA256 (RFC 2104) from the built-in sha256 and the key's pads,
 * passed as parameters $1 (inner) and $2 (outer), never written into the SQL text.
 */
export const DIALECT: AsOfDialect = {
  keyOf: (kind, address) => `encode(sha256($2::bytea || sha256($1::bytea || convert_to('${kind}:' || ${address}, 'UTF8'))), 'hex')`,
  expiry: (a) => `(${a}.evidence::json ->> 'expiresAt')`,
  inList: (expr, list) => `${expr} = ANY(${list}::text[])`,
};

export class PgAsOfRepository implements AsOfRepository {
  private pads: { ipad: Buffer; opad: Buffer } | null = null;

  constructor(private readonly store: PgStore) {}

  private async loadPads(): Promise<{ ipad: Buffer; opad: Buffer }> {
    this.pads ??= hmacPads(await this.store.suppressions.secretKey());
    return this.pads;
  }

  async head(): Promise<LedgerPosition> {
    return toPosition((await this.store.query<PositionRow>(HEAD_SQL))[0]);
  }

  async positionAt(at: string): Promise<LedgerPosition> {
    return toPosition((await this.store.query<PositionRow>(POSITION_AT_SQL(at)))[0]);
  }

  async block(blockId: number): Promise<LedgerPosition | null> {
    if (!Number.isSafeInteger(blockId) || blockId < 1) return null;
    const [r] = await this.store.query<PositionRow>('SELECT id, last_event_id, hash, created_at FROM ledger_blocks WHERE id = $1', [blockId]);
    return r ? toPosition(r) : null;
  }

  async profileEvents(profileId: number, eventId: number): Promise<ReplayEvent[]> {
    return (await this.store.query<EventRow>(PROFILE_EVENTS_SQL('$1', '$2'), [profileId, eventId])).map(toReplayEvent);
  }

  async policyEvents(eventId: number): Promise<ReplayEvent[]> {
    return (await this.store.query<EventRow>(POLICY_EVENTS_SQL('$1'), [eventId])).map(toReplayEvent);
  }

  async addressEvents(profileId: number, email: string | null, phone: string | null, eventId: number): Promise<ReplayEvent[]> {
    const pairs = await addressKeyPairs((c, a) => this.store.suppressions.keyOf(c, a), email, phone);
    return this.keyEvents(withPhoneAt(pairs, await this.phoneKeyAt(profileId, eventId)), eventId);
  }

  async erasedAddressEvents(profileId: number, eventId: number): Promise<ReplayEvent[]> {
    if (!Number.isSafeInteger(profileId) || profileId < 1 || profileId > 2147483647) return [];
    const rows = await this.store.query<ErasedKeyRow>(erasedKeysSql(0, '$1'), [profileId]);
    return this.keyEvents(withPhoneAt(erasedKeyPairs(erasedKeysOf(rows).get(profileId)), await this.phoneKeyAt(profileId, eventId)), eventId);
  }

  /** The key of the profile's phone at `eventId` from its changes of phone (phoneKeyAt); undefined: none recorded. */
  private async phoneKeyAt(profileId: number, eventId: number): Promise<string | null | undefined> {
    if (!Number.isSafeInteger(profileId) || profileId < 1 || profileId > 2147483647) return undefined;
    return phoneKeyAt((await this.store.query<EventRow>(PROFILE_PHONE_CHANGES_SQL('$1'), [profileId])).map(toReplayEvent), eventId);
  }

  /**
   * The profiles matched apart at position n on `channel` (apartIds), given the keys suppressed
   * then; `read`: the erasures and changes of phone after an earlier position, read once (else read here).
   */
  private async apart(
    channel: ContactChannel,
    n: number,
    rows: readonly SuppressedKeyRow[],
    read?: () => Promise<ApartRows>,
    q: Parameters<CursorPlan>[0] = (sql, params) => this.store.query(sql, params),
  ): Promise<Pick<AudienceLists, 'movedIds' | 'suppressedIds'>> {
    if (rows.length === 0) return {};
    const r = read ? await read() : null;
    const erased = r ? laterThan(r.erased, n) : await q<ErasedKeyRow>(erasedKeysSql(n));
    const phones = channel === 'email' ? [] : r ? laterThan(r.phones, n) : await q<PhoneChangeRow>(PHONE_CHANGES_AFTER_SQL(n));
    return apartIds(channel, rows, erasedKeysOf(erased), phoneKeysOf(phones));
  }

  private async keyEvents(pairs: [string, string][], eventId: number): Promise<ReplayEvent[]> {
    if (pairs.length === 0) return [];
    const sql = ADDRESS_EVENTS_SQL(pairs.map((_, i) => [`$${2 * i + 1}`, `$${2 * i + 2}`]), `$${2 * pairs.length + 1}`);
    return (await this.store.query<EventRow>(sql, [...pairs.flat(), eventId])).map(toReplayEvent);
  }

  async basesAt(eventId: number): Promise<Record<ContactChannel, Basis>> {
    return basesOf(await this.policyEvents(eventId));
  }

  async *audience(channel: ContactChannel, moment: Moment): AsyncIterable<Profile[]> {
    const n = moment.position.eventId;
    const basis = (await this.basesAt(n))[channel];
    // One cursor, one snapshot, which the suppressed lists and the profiles matched apart are read in too: an
    // import that changes phones or an erasure committed meanwhile is in all of it or in none.
    const plan: CursorPlan = async (q) => {
      // $1 and $2 are the HMAC pads (DIALECT.keyOf), sent only when a key must be computed.
      const params: unknown[] = [];
      const lists: AudienceLists = { addresses: null, keys: null };
      if (channel === 'email' || channel === 'sms' || channel === 'phone') {
        const rows = await q<SuppressedKeyRow>(suppressedKeysAtSql(channel, n, moment.at, DIALECT));
        const { addresses, keys } = splitSuppressed(rows);
        // Profiles erased since (the keys their erasure recorded) and whose phone changed since (its key at n): matched apart.
        Object.assign(lists, await this.apart(channel, n, rows, undefined, q));
        if (keys.length > 0) {
          const { ipad, opad } = await this.loadPads();
          params.push(ipad, opad, keys);
          lists.keys = '$3';
        }
        if (addresses.length > 0) {
          params.push(addresses);
          lists.addresses = `$${params.length}`; // $4 after the pads and keys, else $1
        }
      }
      return { sql: audienceAtSql(channel, n, moment.at, basis, lists, DIALECT, '0', 'ALL', PROFILE_COLUMNS), params };
    };
    for await (const rows of this.store.cursor<ProfileRow>(plan, [], PAGE)) yield rows.map(rowToProfile);
  }

  async reachableOverTime(moments: readonly Moment[]): Promise<Record<ContactChannel, number[]>> {
    const points = moments.map((m) => ({ at: m.at, eventId: m.position.eventId }));
    const bases = await Promise.all(moments.map((m) => this.basesAt(m.position.eventId)));
    // The suppressed lists of a point, and the profiles matched apart there (apartIds); the erasures and
    // changes of phone after the first point are read once, when a point first needs them.
    let read: Promise<ApartRows> | undefined;
    const apartRows = () =>
      (read ??= (async () => ({
        erased: await this.store.query<ErasedKeyRow>(erasedKeysSql(points[0]!.eventId)),
        phones: await this.store.query<PhoneChangeRow>(PHONE_CHANGES_AFTER_SQL(points[0]!.eventId)),
      }))());
    const suppressedOf = async (c: 'email' | 'sms' | 'phone', m: Moment) => {
      const rows = await this.store.query<SuppressedKeyRow>(suppressedKeysAtSql(c, m.position.eventId, m.at, DIALECT));
      return { ...splitSuppressed(rows), ...(await this.apart(c, m.position.eventId, rows, apartRows)) };
    };
    const buckets = toQuietGroups(await this.store.query<QuietGroupRow>(quietBucketsSql('postgres', points)));
    const candidates = changedCounts(buckets, points.length);
    const suppressed: Partial<Record<ContactChannel, QuietGroup[]>>[] = [];
    const changed: Record<ContactChannel, number>[] = [];
    for (const [k, moment] of moments.entries()) {
      const found = { email: await suppressedOf('email', moment), sms: await suppressedOf('sms', moment), phone: await suppressedOf('phone', moment) };
      // Parameters: the HMAC pads first ($1, $2: DIALECT.keyOf) when a key must be computed, then the lists.
      const bind = async (channels: readonly ('email' | 'sms' | 'phone')[]) => {
        const params: unknown[] = [];
        if (channels.some((c) => found[c].keys.length > 0)) {
          const { ipad, opad } = await this.loadPads();
          params.push(ipad, opad);
        }
        const lists: Partial<Record<ContactChannel, AudienceLists>> = {};
        for (const c of channels) {
          const l: AudienceLists = { addresses: null, keys: null, movedIds: found[c].movedIds, suppressedIds: found[c].suppressedIds };
          if (found[c].keys.length > 0) l.keys = `$${params.push(found[c].keys)}`;
          if (found[c].addresses.length > 0) l.addresses = `$${params.push(found[c].addresses)}`;
          lists[c] = l;
        }
        return { params, lists };
      };
      suppressed[k] = {};
      for (const c of ['email', 'sms', 'phone'] as const) {
        const { params, lists } = await bind([c]);
        const sql = suppressedBucketsSql('postgres', points, c, lists[c]!, DIALECT);
        suppressed[k]![c] = sql ? toQuietGroups(await this.store.query<QuietGroupRow>(sql, params)) : [];
      }
      // Only where some profile existed without being quiet: elsewhere nobody needs replaying.
      const { params, lists } = await bind(['email', 'sms', 'phone']);
      const [row] = candidates[k] === 0 ? [] : await this.store.query<Record<ContactChannel, string>>(changedReachableSql(points[k]!, bases[k]!, lists, DIALECT), params);
      changed[k] = Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, Number(row?.[c] ?? 0)])) as Record<ContactChannel, number>;
    }
    return reachableOverTime({ bases, buckets, suppressed, changed });
  }

  async erasedProfileByEmail(email: string): Promise<number | null> {
    const key = await this.store.suppressions.keyOf('email', email);
    const r =
      // The last erasure that recorded the key (an address erased twice: its second profile), else an older erasure's events.
      (await this.store.query<{ profile_id: number }>(ERASED_BY_RECORDED_KEY_SQL(`(x.evidence::json -> 'addressKeys' ->> 'email')`, '$1'), [key]))[0] ??
      (await this.store.query<{ profile_id: number }>(ERASED_BY_EMAIL_KEY_SQL('$1'), [key]))[0];
    return r ? Number(r.profile_id) : null;
  }

  async profilesAt(moment: Moment): Promise<number> {
    return Number((await this.store.query<{ n: number }>(PROFILES_AT_SQL(moment.at)))[0]!.n);
  }
}
