/**
 * The SQL of the change feed, the API keys and the check API's batch facts,
 * the same for both stores: each store gives a SqlRunner (its placeholders,
 * its list parameters, its clock), and adds what only it can do (waiting for
 * an append: PRAGMA data_version on SQLite, LISTEN on PostgreSQL).
 * Placeholders are numbered in the order they appear (SQLite's `?` is positional).
 */
import type { Channel, ContactChannel } from '../../consent/channels.js';
import { conflict, invalid, notFound } from '../../consent/errors.js';
import { basisOf, type ConsentTrailEvent, type FeedRow, type PolicyEvent } from '../../consent/feed.js';
import type { ApiKey, ApiKeyHash } from '../../consent/api-keys.js';
import type { Profile } from '../../consent/profile.js';
import { addressFor, lookupAddress, type LastConsent, type ReachFacts, type ReachLookup } from '../../consent/reach-check.js';
import type { Suppression, SuppressionChannel } from '../../consent/suppressions.js';
import { SUPPRESSION_COLUMNS, toSuppression, type SuppressionRow } from './suppression-rows.js';

export interface SqlRunner {
  all<T>(sql: string, params: unknown[]): Promise<T[]>;
  /** The placeholder of the i-th parameter (1-based). */
  p(i: number): string;
  /** `col` is in the list given as parameter i (see list()). */
  inList(col: string, i: number, type: 'text' | 'int'): string;
  /** A list as that parameter. */
  list(values: readonly (string | number)[]): unknown;
  nowSql(): string;
  /** The suppression list's keyed hash of an address (HMAC with the store's secret). */
  keyer(): Promise<(channel: SuppressionChannel, address: string) => string>;
  /** A profile row (PROFILE_COLUMNS) as a Profile. */
  toProfile(row: any): Profile;
  profileColumns: string;
}

interface FeedSqlRow {
  id: number;
  profile_id: number | null;
  channel: string;
  service: string | null;
  action: string;
  source: string;
  actor: string;
  occurred_at: string;
  block_id: number;
  block_hash: string;
  email: string | null;
  phone: string | null;
  erased_at: string | null;
}

/** The block holding an event: the first block whose last event is at or after it (ledger_blocks_last_event, migration 10). */
const BLOCK_OF = (runner: SqlRunner, i: number) =>
  `SELECT id, hash, first_event_id FROM ledger_blocks WHERE last_event_id >= ${runner.p(i)} ORDER BY last_event_id LIMIT 1`;

export class SqlFeed {
  constructor(private readonly r: SqlRunner) {}

  async storeId(): Promise<string> {
    const [row] = await this.r.all<{ value: string }>(`SELECT value FROM settings WHERE key = 'store_id'`, []);
    if (!row) throw new Error('the store has no store_id (migration 10)');
    return row.value;
  }

  async blockOf(eventId: number): Promise<{ id: number; hash: string } | null> {
    const [b] = await this.r.all<{ id: number; hash: string; first_event_id: number }>(BLOCK_OF(this.r, 1), [eventId]);
    return b && Number(b.first_event_id) <= eventId ? { id: Number(b.id), hash: b.hash } : null;
  }

  async page(afterId: number, channels: readonly Channel[] | null, limit: number): Promise<FeedRow[]> {
    const r = this.r;
    const only = channels ? ` AND ${r.inList('channel', 2, 'text')}` : '';
    // Each event's block: the first whose last event is at or after it (one index probe per event).
    const rows = await r.all<FeedSqlRow>(
      `SELECT e.id, e.profile_id, e.channel, e.service, e.action, e.source, e.actor, e.occurred_at,
              b.id AS block_id, b.hash AS block_hash, p.email, p.phone, p.erased_at
       FROM (SELECT * FROM ledger_events WHERE id > ${r.p(1)}${only} ORDER BY id LIMIT ${Math.trunc(limit)}) e
       JOIN ledger_blocks b ON b.id = (SELECT bb.id FROM ledger_blocks bb WHERE bb.last_event_id >= e.id ORDER BY bb.last_event_id LIMIT 1)
       LEFT JOIN profiles p ON p.id = e.profile_id
       ORDER BY e.id`,
      channels ? [afterId, r.list(channels)] : [afterId],
    );
    return rows.map((x) => ({
      id: Number(x.id),
      profileId: x.profile_id,
      channel: x.channel as Channel,
      service: x.service,
      action: x.action,
      source: x.source,
      actor: x.actor,
      occurredAt: x.occurred_at,
      blockId: Number(x.block_id),
      blockHash: x.block_hash,
      email: x.erased_at === null ? x.email : null,
      phone: x.erased_at === null ? x.phone : null,
      erased: x.erased_at !== null,
    }));
  }

  async trail(profileIds: readonly number[], upToId: number): Promise<ConsentTrailEvent[]> {
    if (profileIds.length === 0) return [];
    const rows = await this.r.all<{ id: number; profile_id: number; channel: string; action: string }>(
      `SELECT id, profile_id, channel, action FROM ledger_events
       WHERE ${this.r.inList('profile_id', 1, 'int')} AND id <= ${this.r.p(2)} AND service IS NULL AND action IN ('optin', 'optout', 'erase')
       ORDER BY id`,
      [this.r.list(profileIds), upToId],
    );
    return rows.map((x) => ({ id: Number(x.id), profileId: x.profile_id, channel: x.channel, action: x.action }));
  }

  async policies(upToId: number): Promise<PolicyEvent[]> {
    const rows = await this.r.all<{ id: number; channel: string; evidence: string | null }>(
      `SELECT id, channel, evidence FROM ledger_events WHERE action = 'policy' AND id <= ${this.r.p(1)} ORDER BY id`,
      [upToId],
    );
    return rows.map((x) => ({ id: Number(x.id), channel: x.channel, basis: basisOf(x.evidence ? JSON.parse(x.evidence) : null) }));
  }
}

interface ApiKeyRow {
  id: number;
  name: string;
  key_hash: string;
  created_at: string;
  revoked_at: string | null;
}
const toApiKey = (r: ApiKeyRow): ApiKey => ({ id: Number(r.id), name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at });

/** API keys (the writes go through the store's own transaction, `write`). */
export class SqlApiKeys {
  constructor(
    private readonly r: SqlRunner,
    private readonly write: <T>(fn: (all: SqlRunner['all']) => Promise<T>) => Promise<T>,
  ) {}

  async create(name: string, keyHash: string, at: string): Promise<ApiKey> {
    const p = (i: number) => this.r.p(i);
    return this.write(async (all) => {
      if ((await all(`SELECT 1 AS x FROM api_keys WHERE name = ${p(1)} AND revoked_at IS NULL`, [name])).length > 0) {
        throw conflict(`An API key named ${name} already exists.`, 'Choose another --name, or revoke that key first (`consent api-key revoke`).');
      }
      const [row] = await all<ApiKeyRow>(
        `INSERT INTO api_keys (name, key_hash, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}) RETURNING *`,
        [name, keyHash, at],
      );
      return toApiKey(row!);
    });
  }

  async list(): Promise<ApiKey[]> {
    return (await this.r.all<ApiKeyRow>('SELECT * FROM api_keys ORDER BY id', [])).map(toApiKey);
  }

  async revoke(ref: { id: number } | { name: string }, at: string): Promise<ApiKey> {
    const p = (i: number) => this.r.p(i);
    return this.write(async (all) => {
      const [row] = await all<ApiKeyRow>(
        `UPDATE api_keys SET revoked_at = ${p(1)} WHERE ${'id' in ref ? `id = ${p(2)}` : `name = ${p(2)}`} AND revoked_at IS NULL RETURNING *`,
        [at, 'id' in ref ? ref.id : ref.name],
      );
      if (!row) throw notFound(`No API key in force with ${'id' in ref ? `id ${ref.id}` : `name ${ref.name}`}.`, 'See `consent api-key list`.');
      return toApiKey(row);
    });
  }

  async active(): Promise<ApiKeyHash[]> {
    return (await this.r.all<ApiKeyRow>('SELECT id, key_hash FROM api_keys WHERE revoked_at IS NULL', [])).map((r) => ({ id: Number(r.id), keyHash: r.key_hash }));
  }
}

/** The check API's facts of one batch: one query each for the profiles, their last channel events, the suppressions (a second one by keyed hash for erased addresses), the basis and (with a service) the subscriptions. */
export class SqlReach {
  constructor(private readonly r: SqlRunner) {}

  async facts(lookups: readonly ReachLookup[], channel: ContactChannel, service: string | null): Promise<ReachFacts> {
    const r = this.r;
    // Independent reads run together (on PostgreSQL, on connections of the pool): the service, the basis, the profiles; then what depends on the profiles.
    const serviceChecked = (async () => {
      if (service === null) return;
      const [s] = await r.all<{ channel: string }>(`SELECT channel FROM services WHERE name = ${r.p(1)}`, [service]);
      if (!s) throw invalid(`service: there is no service ${service}.`);
      if (s.channel !== channel) throw invalid(`service: ${service} is a service of the ${s.channel} channel, not ${channel}.`);
    })();
    const basisRead = r
      .all<{ evidence: string | null }>(`SELECT evidence FROM ledger_events WHERE action = 'policy' AND channel = ${r.p(1)} ORDER BY id DESC LIMIT 1`, [channel])
      .then(([policy]) => basisOf(policy?.evidence ? JSON.parse(policy.evidence) : null));
    serviceChecked.catch(() => {});
    basisRead.catch(() => {});
    const values = { email: new Set<string>(), phone: new Set<string>(), profile: new Set<number>() };
    for (const l of lookups) (values[l.kind] as Set<string | number>).add(l.value);
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [kind, col, type] of [['email', 'email', 'text'], ['phone', 'phone', 'text'], ['profile', 'id', 'int']] as const) {
      if (values[kind].size === 0) continue;
      params.push(r.list([...values[kind]]));
      where.push(r.inList(col, params.length, type));
    }
    const found = where.length === 0 ? [] : (await r.all<any>(`SELECT ${r.profileColumns} FROM profiles WHERE ${where.join(' OR ')}`, params)).map((x) => r.toProfile(x));
    await serviceChecked;
    const byEmail = new Map<string, Profile[]>();
    const byPhone = new Map<string, Profile[]>();
    const byId = new Map<number, Profile[]>();
    const push = <K>(m: Map<K, Profile[]>, k: K, p: Profile) => (m.get(k) ?? m.set(k, []).get(k)!).push(p);
    for (const p of found.sort((a, b) => a.id - b.id)) {
      push(byEmail, p.email, p);
      if (p.phone !== null) push(byPhone, p.phone, p);
      push(byId, p.id, p);
    }
    const profiles = lookups.map((l) => (l.kind === 'email' ? byEmail.get(l.value) : l.kind === 'phone' ? byPhone.get(l.value) : byId.get(l.value)) ?? []);
    const ids = [...new Set(found.map((p) => p.id))];

    const last = new Map<number, Partial<Record<Channel, LastConsent>>>();
    const lastRead = (async () => {
      if (ids.length === 0) return;
      const rows = await r.all<{ profile_id: number; channel: Channel; action: 'optin' | 'optout'; occurred_at: string; source: string }>(
        `SELECT profile_id, channel, action, occurred_at, source FROM ledger_events WHERE id IN (
           SELECT max(id) FROM ledger_events WHERE ${r.inList('profile_id', 1, 'int')} AND channel IN (${r.p(2)}, 'all')
             AND service IS NULL AND action IN ('optin', 'optout') GROUP BY profile_id, channel)`,
        [r.list(ids), channel],
      );
      for (const x of rows) (last.get(x.profile_id) ?? last.set(x.profile_id, {}).get(x.profile_id)!)[x.channel] = { action: x.action, occurredAt: x.occurred_at, source: x.source };
    })();

    // Suppression by address, as reachableSql matches it (suppressions_address index); an address of no
    // live profile may also have a keyed-only entry (an erased address, address NULL): found by its keyed
    // hash, computed only for those addresses and only when the channel has such entries.
    const suppressions = new Map<string, Suppression>();
    const suppressionsRead = (async () => {
      if (channel !== 'email' && channel !== 'sms' && channel !== 'phone') return;
      const addresses = new Set<string>();
      const strangers = new Set<string>();
      lookups.forEach((l, i) => {
        const list = profiles[i]!;
        if (list.length === 0) {
          const a = lookupAddress(channel, l);
          if (a !== null) strangers.add(a);
        }
        for (const p of list) {
          const a = p.erasedAt === null ? addressFor(channel, p) : null;
          if (a !== null) addresses.add(a);
        }
      });
      const inForce = `(expires_at IS NULL OR expires_at > ${r.nowSql()})`;
      const every = [...addresses, ...strangers];
      if (every.length > 0) {
        const rows = await r.all<SuppressionRow>(
          `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE channel = ${r.p(1)} AND ${r.inList('address', 2, 'text')} AND ${inForce}`,
          [channel, r.list(every)],
        );
        for (const x of rows) suppressions.set(x.address!, toSuppression(x));
      }
      const unmatched = [...strangers].filter((a) => !suppressions.has(a));
      if (unmatched.length > 0 && (await r.all(`SELECT 1 AS x FROM suppressions WHERE channel = ${r.p(1)} AND address IS NULL LIMIT 1`, [channel])).length > 0) {
        const key = await r.keyer();
        const byKey = new Map(unmatched.map((a) => [key(channel, a), a]));
        const rows = await r.all<SuppressionRow>(
          `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE channel = ${r.p(1)} AND ${r.inList('address_key', 2, 'text')} AND address IS NULL AND ${inForce}`,
          [channel, r.list([...byKey.keys()])],
        );
        for (const x of rows) suppressions.set(byKey.get(x.address_key)!, toSuppression(x));
      }
    })();

    const subscriptions: Map<number, { status: string; since: string }> | null = service === null ? null : new Map();
    const subscriptionsRead = (async () => {
      if (subscriptions !== null && ids.length > 0) {
        const rows = await r.all<{ profile_id: number; status: string; since: string }>(
          `SELECT s.profile_id, s.status, s.since FROM subscriptions s JOIN services v ON v.id = s.service_id
           WHERE v.name = ${r.p(1)} AND ${r.inList('s.profile_id', 2, 'int')}`,
          [service, r.list(ids)],
        );
        for (const x of rows) subscriptions.set(x.profile_id, { status: x.status, since: x.since });
      }
    })();
    const [basis] = await Promise.all([basisRead, lastRead, suppressionsRead, subscriptionsRead]);
    return { basis, profiles, last, suppressions, subscriptions };
  }
}
