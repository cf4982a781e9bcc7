/**
 * The as-of replay in SQL, shared by both stores: the reachability predicate
 * (reachability-sql.ts) restated at a ledger position N and a time T, read
 * from the ledger alone (shared decisions 1–2; its domain mirror is
 * profileAt in src/consent/as-of.ts). Per profile p and contact channel c:
 *
 *   existed   p.created_at <= T
 *   erased    an `erase` event of p with id <= N (only probed when p.erased_at is set: an erasure is forever)
 *   refused   the last optin/optout event (service NULL) of p on `all`, or on c, with id <= N is an optout
 *   granted   the last such event on c itself is an optin
 *   suppressed  the last address event of (c, key of p's address) with id <= N is a `suppress`
 *             whose evidence expiresAt is NULL or after T (email: the email's key; sms, phone: the phone's);
 *             those keys are read first (suppressedKeysAtSql) and matched by address where the
 *             suppression list still holds it, by the profile's key otherwise; a profile erased
 *             after N (its addresses are placeholders) by the keys its erase event recorded
 *             (erasedKeysSql, erasedSuppressedIds); a profile whose phone changed after N (an
 *             `address` event) by the key of the phone it had at N on sms and phone (apartIds)
 *   reachable = existed AND NOT erased AND NOT suppressed AND NOT refused AND (basis(c) = opt-out OR granted)
 *
 * Each probe is one descent of an index: ledger_events_profile (profile_id,
 * channel, id) for the flags and the erasure; the suppressed addresses are a
 * list the query holds (a hash lookup per profile). The basis is one value per query (a
 * store-level event), read first and written into the SQL as a choice of rule.
 * The address key (HMAC-SHA256 with the store's secret) is the dialect's
 * expression (`keyOf`): a registered function on SQLite, built-in sha256 on PostgreSQL.
 */
import { CONTACT_CHANNELS, type ContactChannel } from '../../consent/channels.js';
import { basesAt, phoneKeysAfter, type Basis, type LedgerPosition, type PhoneKeys, type ReplayEvent } from '../../consent/as-of.js';
import { GENESIS_HASH } from '../../consent/ledger.js';
import { timeSql } from './reachability-sql.js';

export interface AsOfDialect {
  /** SQL giving the address key of `address` (an SQL expression) of this kind. */
  keyOf(kind: 'email' | 'phone', address: string): string;
  /** SQL giving a suppress event's evidence `expiresAt` (text or NULL), for the alias given. */
  expiry(alias: string): string;
  /** SQL testing that `expr` is in the list given by the parameter `list`. */
  inList(expr: string, list: string): string;
}

function checkChannel(c: string): void {
  // Interpolated into SQL: only ever a name from the channel list.
  if (!(CONTACT_CHANNELS as readonly string[]).includes(c) && c !== 'all') throw new Error(`not a channel: ${c}`);
}

/** A ledger position (an event id, 0 before the first) as SQL text, checked: it is written into the SQL. */
export function position(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a ledger position: ${n}`);
  return String(n);
}

/** The action of p's last optin/optout event on `channel` up to N (NULL: none). */
export function lastFlagSql(p: string, channel: string, n: number): string {
  checkChannel(channel);
  return `(SELECT e.action FROM ledger_events e WHERE e.profile_id = ${p}id AND e.channel = '${channel}' AND e.service IS NULL
    AND e.action IN ('optout', 'optin') AND e.id <= ${position(n)} ORDER BY e.id DESC LIMIT 1)`;
}

/**
 * The keys suppressed at (N, T) on `channel`: the address events of each (channel, key)
 * whose last one up to N is a `suppress` in force at T, with the address the
 * suppression list holds for that key now (`address`), and whether it holds a row
 * for it at all (`has_row`): one pass over the channel's address events (far fewer
 * than the profiles). The audience then matches most keys by address, as today's
 * predicate does, and computes a profile's key only for keys whose row is gone
 * (lifted since): see suppressedAtSql.
 */
export function suppressedKeysAtSql(channel: ContactChannel, n: number, at: string, d: AsOfDialect): string {
  checkChannel(channel);
  return `SELECT a.address_key, s.address, CASE WHEN s.id IS NULL THEN 0 ELSE 1 END AS has_row FROM ledger_events a
    LEFT JOIN suppressions s ON s.channel = a.channel AND s.address_key = a.address_key
    WHERE a.channel = '${channel}' AND a.address_key IS NOT NULL AND a.id <= ${position(n)}
      AND a.id = (SELECT max(a2.id) FROM ledger_events a2 WHERE a2.channel = a.channel AND a2.address_key = a.address_key AND a2.id <= ${position(n)})
      AND a.action = 'suppress' AND (${d.expiry('a')} IS NULL OR ${d.expiry('a')} > ${timeSql(at)})`;
}

/** A row of suppressedKeysAtSql. */
export type SuppressedKeyRow = { address_key: string; address: string | null; has_row: number };

/** suppressedKeysAtSql's rows, split: addresses to match as they are, keys to match by computing the profile's key. */
export function splitSuppressed(rows: readonly SuppressedKeyRow[]): { addresses: string[]; keys: string[] } {
  const addresses: string[] = [];
  const keys: string[] = [];
  for (const r of rows) {
    if (r.address !== null) addresses.push(r.address);
    // No row now: lifted since; its address is known only as its key. A row kept only as a
    // key (an erased address) blocks no profile that lives now: a live profile with that
    // address has it filled in again (restoreAddresses), so it is matched by address.
    else if (Number(r.has_row) === 0) keys.push(r.address_key);
  }
  return { addresses, keys };
}

/**
 * p's address on `channel` was suppressed at (N, T): it is one of `addresses`
 * (SQL of a list, or null when empty), or its key is one of `keys` (likewise).
 */
export function suppressedAtSql(p: string, channel: ContactChannel, lists: { addresses: string | null; keys: string | null }, d: AsOfDialect): string | null {
  if (channel !== 'email' && channel !== 'sms' && channel !== 'phone') return null;
  const address = channel === 'email' ? `${p}email` : `${p}phone`;
  const tests: string[] = [];
  if (lists.addresses) tests.push(d.inList(address, lists.addresses));
  if (lists.keys) tests.push(d.inList(d.keyOf(channel === 'email' ? 'email' : 'phone', address), lists.keys));
  return tests.length === 0 ? null : `(${address} IS NOT NULL AND (${tests.join(' OR ')}))`;
}

/**
 * The suppressed addresses and keys at (N, T) as SQL lists (null: none), and the
 * profiles matched apart (apartIds): `movedIds`, whose phone changed after N (not
 * matched by the phone they have now), and `suppressedIds`, suppressed then by the keys
 * they had then (erased since: the keys their erasure recorded; moved: the phone's at N).
 */
export interface AudienceLists {
  addresses: string | null;
  keys: string | null;
  movedIds?: readonly number[];
  suppressedIds?: readonly number[];
}

/** The profile existed at T and was not erased at N. */
export function existedSql(p: string, n: number, at: string): string {
  return `${p}created_at <= ${timeSql(at)} AND (${p}erased_at IS NULL OR NOT EXISTS (SELECT 1 FROM ledger_events x
    WHERE x.profile_id = ${p}id AND x.channel = 'all' AND x.action = 'erase' AND x.id <= ${position(n)}))`;
}

/** THE reachability predicate at (N, T) with the channel's basis at N: see the module's comment. */
export function reachableAtSql(
  channel: ContactChannel,
  p: string,
  n: number,
  at: string,
  basis: Basis,
  lists: AudienceLists,
  d: AsOfDialect,
): string {
  checkChannel(channel);
  const own = lastFlagSql(p, channel, n);
  const consent =
    basis === 'opt-in' ? `coalesce(${own}, '') = 'optin'` : `coalesce(${own}, 'optin') <> 'optout'`;
  const current = suppressedAtSql(p, channel, lists, d);
  const moved = (lists.movedIds ?? []).map(position);
  // A profile whose phone changed after N is not matched by the phone it has now (its key at N: suppressedIds).
  const suppressed = current && moved.length > 0 ? `(${p}id NOT IN (${moved.join(', ')}) AND ${current})` : current;
  const apart = (lists.suppressedIds ?? []).map(position);
  return `(${existedSql(p, n, at)} AND coalesce(${lastFlagSql(p, 'all', n)}, 'optin') <> 'optout' AND ${consent}${suppressed ? ` AND NOT ${suppressed}` : ''}${
    apart.length > 0 ? ` AND ${p}id NOT IN (${apart.join(', ')})` : ''
  })`;
}

/** The audience at (N, T): its profiles' `columns` in id order, after a keyset `after` placeholder and up to a page. */
export function audienceAtSql(
  channel: ContactChannel,
  n: number,
  at: string,
  basis: Basis,
  lists: AudienceLists,
  d: AsOfDialect,
  after: string,
  limit: string,
  columns = 'p.id',
): string {
  return `SELECT ${columns} FROM profiles p WHERE p.id > ${after} AND ${reachableAtSql(channel, 'p.', n, at, basis, lists, d)} ORDER BY p.id LIMIT ${limit}`;
}

/** How many profiles existed at T (created then, whatever became of them). */
export const PROFILES_AT_SQL = (at: string) => `SELECT count(*) AS n FROM profiles WHERE created_at <= ${timeSql(at)}`;

/** "As of T": the block before the first block created after T (or the last block). */
export const POSITION_AT_SQL = (at: string) => `SELECT id, last_event_id, hash, created_at FROM ledger_blocks
  WHERE id < coalesce((SELECT min(id) FROM ledger_blocks WHERE created_at > ${timeSql(at)}), (SELECT max(id) FROM ledger_blocks) + 1)
  ORDER BY id DESC LIMIT 1`;

export const HEAD_SQL = 'SELECT id, last_event_id, hash, created_at FROM ledger_blocks ORDER BY id DESC LIMIT 1';

export interface PositionRow {
  id: number;
  last_event_id: number;
  hash: string;
  created_at: string;
}

/** The policy events up to N (placeholder `n`); the channels named so that the index ledger_events_store (channel, id) WHERE action = 'policy' serves it. */
export const POLICY_EVENTS_SQL = (n: string) =>
  `SELECT * FROM ledger_events WHERE action = 'policy' AND channel IN (${CONTACT_CHANNELS.map((c) => `'${c}'`).join(', ')}) AND id <= ${n} ORDER BY id`;
/** A profile's events up to N (placeholders). */
export const PROFILE_EVENTS_SQL = (profile: string, n: string) => `SELECT * FROM ledger_events WHERE profile_id = ${profile} AND id <= ${n} ORDER BY id`;
/** The address events of keys on channels, up to N: `(channel, key)` pairs are given as placeholders (before N's). */
export const ADDRESS_EVENTS_SQL = (pairs: [string, string][], n: string) =>
  `SELECT * FROM ledger_events WHERE address_key IS NOT NULL AND (${pairs.map(([c, k]) => `(channel = ${c} AND address_key = ${k})`).join(' OR ')}) AND id <= ${n} ORDER BY id`;

/** A stored event row as the replay reads it. */
export function toReplayEvent(r: { id: number; channel: string; service: string | null; action: string; source: string; actor: string; reason: string | null; evidence: string | null; occurred_at: string }): ReplayEvent {
  return {
    id: Number(r.id),
    channel: r.channel,
    service: r.service,
    action: r.action,
    source: r.source,
    actor: r.actor,
    reason: r.reason,
    evidence: r.evidence === null ? null : (JSON.parse(r.evidence) as Record<string, unknown>),
    occurredAt: r.occurred_at,
  };
}

/** A block row as a position; the empty ledger is block 0. */
export function toPosition(r: PositionRow | undefined): LedgerPosition {
  if (!r) return { blockId: 0, eventId: 0, hash: GENESIS_HASH, createdAt: null };
  return { blockId: Number(r.id), eventId: Number(r.last_event_id), hash: r.hash, createdAt: r.created_at };
}

/** The bases from the policy rows (the domain's rule). */
export function basesOf(rows: readonly ReplayEvent[]): Record<ContactChannel, Basis> {
  const b = basesAt(rows);
  const out = {} as Record<ContactChannel, Basis>;
  for (const c of CONTACT_CHANNELS) out[c] = b[c].basis;
  return out;
}

/** HMAC-SHA256's inner and outer pads of a key of at most 64 bytes (RFC 2104), for an HMAC made of two SHA-256 in SQL. */
export function hmacPads(secret: Buffer): { ipad: Buffer; opad: Buffer } {
  if (secret.length > 64) throw new Error('an HMAC key longer than the block is hashed first; not needed here');
  const ipad = Buffer.alloc(64, 0x36);
  const opad = Buffer.alloc(64, 0x5c);
  for (let i = 0; i < secret.length; i++) {
    ipad[i]! ^= secret[i]!;
    opad[i]! ^= secret[i]!;
  }
  return { ipad, opad };
}

/**
 * The erased profile whose email had this key (placeholder): an erasure writes the `erasure`
 * suppress events of its addresses (email first, then sms and phone) and then its `erase`
 * event, in one transaction, so the erase event follows the email's within three ids, at the
 * same time and from the same source. None when the erasure found the entry already there: the
 * erase event's recorded keys (ERASED_BY_RECORDED_KEY_SQL) are asked first; this is for erasures
 * recorded before those keys were.
 */
export const ERASED_BY_EMAIL_KEY_SQL = (key: string) => `SELECT x.profile_id FROM ledger_events s
  JOIN ledger_events x ON x.id > s.id AND x.id <= s.id + 3 AND x.action = 'erase' AND x.occurred_at = s.occurred_at AND x.source = s.source
  WHERE s.channel = 'email' AND s.address_key = ${key} AND s.action = 'suppress' AND s.reason = 'erasure' ORDER BY s.id DESC LIMIT 1`;

/**
 * The erase events after N (placeholder-free: N is a checked number), one row per address
 * key they name, for erasedKeysOf. The keys are the erase event's evidence `addressKeys`
 * (every erasure records them since session 6: erasureEvidence, src/store/shared/erasure.ts); an older
 * erasure is matched, as ERASED_BY_EMAIL_KEY_SQL does, with the `suppress … erasure` events
 * of its transaction (the ids just before it, same time and source), which it wrote only
 * where no stronger entry was already in force.
 */
export function erasedKeysSql(after: number, profile?: string): string {
  return `SELECT x.id, x.profile_id, x.evidence, s.channel AS s_channel, s.address_key AS s_key FROM ledger_events x
    LEFT JOIN ledger_events s ON s.id >= x.id - 3 AND s.id < x.id AND s.action = 'suppress' AND s.reason = 'erasure'
      AND s.address_key IS NOT NULL AND s.occurred_at = x.occurred_at AND s.source = x.source
    WHERE x.action = 'erase' AND x.channel = 'all' AND x.id > ${position(after)}${profile ? ` AND x.profile_id = ${profile}` : ''} ORDER BY x.id`;
}

/** The address keys an erased profile had (its email's; its phone's, shared by sms and phone). */
export interface ErasedKeys {
  email: string | null;
  phone: string | null;
}

/** A row of erasedKeysSql. */
export type ErasedKeyRow = { id: number | string; profile_id: number | null; evidence: string | null; s_channel: string | null; s_key: string | null };

/** erasedKeysSql's rows, per erased profile. */
export function erasedKeysOf(rows: readonly ErasedKeyRow[]): Map<number, ErasedKeys> {
  const out = new Map<number, ErasedKeys>();
  const recorded = new Set<number>(); // keys from the erase event's evidence: the suppress events add nothing
  for (const r of rows) {
    if (r.profile_id === null) continue;
    const id = Number(r.profile_id);
    let keys = out.get(id);
    if (!keys) {
      const ev = r.evidence === null ? undefined : (JSON.parse(r.evidence) as { addressKeys?: Partial<ErasedKeys> }).addressKeys;
      keys = { email: ev?.email ?? null, phone: ev?.phone ?? null };
      if (ev) recorded.add(id);
      out.set(id, keys);
    }
    if (recorded.has(id) || r.s_key === null) continue;
    if (r.s_channel === 'email') keys.email ??= r.s_key;
    else if (r.s_channel === 'sms' || r.s_channel === 'phone') keys.phone ??= r.s_key;
  }
  return out;
}

/**
 * The profiles erased after N whose address on `channel` was suppressed at (N, T): their
 * addresses are placeholders now, so they are matched by the keys their erasure recorded.
 * `suppressed` is every key of suppressedKeysAtSql (whatever the suppression list holds now).
 */
export function erasedSuppressedIds(channel: ContactChannel, suppressed: readonly { address_key: string }[], erased: Map<number, ErasedKeys>): number[] {
  if (erased.size === 0 || suppressed.length === 0) return [];
  const keys = new Set(suppressed.map((r) => r.address_key));
  const out: number[] = [];
  for (const [id, k] of erased) {
    const key = channel === 'email' ? k.email : k.phone;
    if (key !== null && keys.has(key)) out.push(id);
  }
  return out.sort((a, b) => a - b);
}

/** The `address` events (changes of phone) after N, in id order, through the index ledger_events_phone_changes. */
export const PHONE_CHANGES_AFTER_SQL = (n: number) => `SELECT id, profile_id, evidence FROM ledger_events WHERE action = 'address' AND id > ${position(n)} ORDER BY id`;
/** A profile's `address` events, in id order (placeholder), through ledger_events_profile (profile_id, channel, id). */
export const PROFILE_PHONE_CHANGES_SQL = (profile: string) =>
  `SELECT * FROM ledger_events WHERE profile_id = ${profile} AND channel = 'all' AND action = 'address' ORDER BY id`;

/** A row of PHONE_CHANGES_AFTER_SQL. */
export type PhoneChangeRow = { id: number | string; profile_id: number; evidence: string | null };

/**
 * The rows of PHONE_CHANGES_AFTER_SQL or erasedKeysSql after position n, from rows read once after
 * an earlier position (reach over time reads them once for all its points): id order kept.
 */
export function laterThan<T extends { id: number | string }>(rows: readonly T[], n: number): T[] {
  return rows.filter((r) => Number(r.id) > n);
}

/** The rows apartIds reads, read once after the earliest of several positions (laterThan). */
export interface ApartRows {
  erased: readonly ErasedKeyRow[];
  phones: readonly PhoneChangeRow[];
}

/** Per profile whose phone changed after N (PHONE_CHANGES_AFTER_SQL's rows), the keys of its phone at N and now (phoneKeysAfter). */
export function phoneKeysOf(rows: readonly PhoneChangeRow[]): PhoneKeys {
  return phoneKeysAfter(rows.map((r) => ({ profileId: Number(r.profile_id), evidence: r.evidence === null ? null : (JSON.parse(r.evidence) as Record<string, unknown>) })));
}

/**
 * The profiles the audience at (N, T) on `channel` matches apart from its lists of
 * addresses (AudienceLists): on sms and phone, those whose phone changed after N
 * (`moved`: the key each had at N) are never matched by the phone they have now, and
 * are suppressed when their key at N was; the profiles erased after N are suppressed
 * when the keys their erasure recorded were (on sms and phone, unless their phone
 * changed after N: then their key at N decides). `suppressed`: every key of
 * suppressedKeysAtSql.
 */
export function apartIds(
  channel: ContactChannel,
  suppressed: readonly { address_key: string }[],
  erased: Map<number, ErasedKeys>,
  phones: PhoneKeys,
): { movedIds: number[]; suppressedIds: number[] } {
  if (channel !== 'sms' && channel !== 'phone') return { movedIds: [], suppressedIds: erasedSuppressedIds(channel, suppressed, erased) };
  const moved = phones.then;
  const keys = new Set(suppressed.map((r) => r.address_key));
  const out = new Set(erasedSuppressedIds(channel, suppressed, erased).filter((id) => !moved.has(id)));
  for (const [id, key] of moved) if (key !== null && keys.has(key)) out.add(id);
  const byId = (a: number, b: number) => a - b;
  // Only the moved profiles that the phone they have now would match (its key suppressed at N) need keeping out of
  // that match: the lists stay as short as the suppressed keys they meet, however many phones changed since.
  const misled = [...moved.keys()].filter((id) => {
    const now = phones.now.get(id);
    return now === undefined || (now !== null && keys.has(now));
  });
  return { movedIds: misled.sort(byId), suppressedIds: [...out].sort(byId) };
}

/**
 * A profile's (channel, key) pairs (addressKeyPairs, erasedKeyPairs) with its phone's
 * replaced by the key of the phone it had at N (`phoneAtN`, phoneKeyAt: null for none;
 * undefined, no change of phone recorded: kept).
 */
export function withPhoneAt(pairs: [string, string][], phoneAtN: string | null | undefined): [string, string][] {
  if (phoneAtN === undefined) return pairs;
  const out = pairs.filter(([c]) => c === 'email');
  if (phoneAtN !== null) out.push(['sms', phoneAtN], ['phone', phoneAtN]);
  return out;
}

/** The (channel, key) pairs of an erased profile's recorded keys (as addressKeyPairs gives a live one's). */
export function erasedKeyPairs(keys: ErasedKeys | undefined): [string, string][] {
  const pairs: [string, string][] = [];
  if (keys?.email) pairs.push(['email', keys.email]);
  if (keys?.phone) pairs.push(['sms', keys.phone], ['phone', keys.phone]);
  return pairs;
}

/** The erased profile whose erase event recorded this email key (`keyAt`: the dialect's SQL of evidence.addressKeys.email of alias x). */
export const ERASED_BY_RECORDED_KEY_SQL = (keyAt: string, key: string) =>
  `SELECT x.profile_id FROM ledger_events x WHERE x.action = 'erase' AND x.channel = 'all' AND x.evidence IS NOT NULL AND ${keyAt} = ${key} ORDER BY x.id DESC LIMIT 1`;

/** The (channel, key) pairs of a profile's addresses: its email's key on email, its phone's on sms and phone. */
export async function addressKeyPairs(
  keyOf: (channel: 'email' | 'sms', address: string) => Promise<string>,
  email: string | null,
  phone: string | null,
): Promise<[string, string][]> {
  const pairs: [string, string][] = [];
  if (email !== null) pairs.push(['email', await keyOf('email', email)]);
  if (phone !== null) {
    const key = await keyOf('sms', phone); // sms and phone share the phone's key
    pairs.push(['sms', key], ['phone', key]);
  }
  return pairs;
}
