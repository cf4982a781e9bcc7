/**
 * The change feed (`consent changes`): every ledger event after a cursor, in
 * ledger (event id) order, each with whether the person may be contacted on
 * the channel after it. Pure: the store gives the rows (FeedRepository), this
 * module makes cursors and replays consent.
 *
 * A cursor names a ledger position: the store's identity (settings.store_id),
 * an event id, and the id and hash of the block holding that event (shared
 * decision 4). It is opaque text (`c1.` + base64url), stable, and means the
 * same thing after any restart; a cursor whose store id is not this store's,
 * or whose block is not this store's block, is refused.
 */
import { CONTACT_CHANNELS, type Channel, type ContactChannel, type OptOutFlags, noOptOuts } from './channels.js';
import { invalid } from './errors.js';
import { GENESIS_HASH, replayLedger } from './ledger.js';
import { isReachable, type SuppressionsInForce } from './profile.js';

export type { Basis } from './policy.js';
import { noGrants, optOutEverywhere, type Basis } from './policy.js';

/** A ledger position: after event `eventId` (0: before the first), which block `blockId` holds (0: none). */
export interface LedgerPosition {
  eventId: number;
  blockId: number;
  hash: string;
}

export const ORIGIN: LedgerPosition = { eventId: 0, blockId: 0, hash: GENESIS_HASH };

/** The part of the block hash a cursor carries: enough to tell another ledger's block from this one's. */
const HASH_CHARS = 16;

export function encodeCursor(storeId: string, p: LedgerPosition): string {
  return `c1.${Buffer.from(JSON.stringify([storeId, p.eventId, p.blockId, p.hash.slice(0, HASH_CHARS)])).toString('base64url')}`;
}

export interface DecodedCursor {
  storeId: string;
  eventId: number;
  blockId: number;
  hashPrefix: string;
}

/** A cursor's parts; an `invalid` error (exit 2) when it is not one. */
export function decodeCursor(raw: string): DecodedCursor {
  const bad = () => invalid(`"${raw.slice(0, 80)}" is not a change-feed cursor.`, 'Pass a cursor exactly as `consent changes` printed it (its last line, or stderr).');
  if (!/^c1\.[A-Za-z0-9_-]{8,400}$/.test(raw)) throw bad();
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(raw.slice(3), 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parts) || parts.length !== 4) throw bad();
  const [storeId, eventId, blockId, hashPrefix] = parts as unknown[];
  if (typeof storeId !== 'string' || !/^[0-9a-f]{32}$/.test(storeId)) throw bad();
  if (!Number.isSafeInteger(eventId) || (eventId as number) < 0 || !Number.isSafeInteger(blockId) || (blockId as number) < 0) throw bad();
  if (typeof hashPrefix !== 'string' || !/^[0-9a-f]{16}$/.test(hashPrefix)) throw bad();
  return { storeId, eventId: eventId as number, blockId: blockId as number, hashPrefix };
}

/**
 * The position a decoded cursor names, checked against this store: its store
 * id, and the block that holds its event (`block`, as the store found it:
 * null when no block holds that event) with the same id and hash.
 */
export function checkCursor(c: DecodedCursor, storeId: string, block: { id: number; hash: string } | null): LedgerPosition {
  if (c.storeId !== storeId) {
    throw invalid('This cursor is from another consent store.', 'A cursor is only valid on the store that gave it (or a copy of it): start without --since to read this store from its beginning.');
  }
  const ok = c.eventId === 0 ? c.blockId === 0 && GENESIS_HASH.startsWith(c.hashPrefix) : block !== null && block.id === c.blockId && block.hash.startsWith(c.hashPrefix);
  if (!ok) throw invalid(`This cursor names event ${c.eventId}, which is not in this store's ledger as the cursor says.`, 'Start without --since, or from a cursor this store printed.');
  return { eventId: c.eventId, blockId: c.blockId, hash: block?.hash ?? GENESIS_HASH };
}

/** A ledger event as the feed reads it: the event, its block, and its profile as it is now (no address for address and store events). */
export interface FeedRow {
  id: number;
  profileId: number | null;
  channel: Channel;
  service: string | null;
  action: string;
  source: string;
  actor: string;
  occurredAt: string;
  blockId: number;
  blockHash: string;
  /** The profile's email now (null: no profile, or erased: the placeholder is never shown). */
  email: string | null;
  /** The profile's phone now (for the suppression check; never printed). */
  phone: string | null;
  /** Erased now. */
  erased: boolean;
}

/** One line of `consent changes` (the documented `--format jsonl` shape). */
export interface FeedEvent {
  cursor: string;
  id: number;
  profileId: number | null;
  email: string | null;
  channel: Channel;
  service: string | null;
  action: string;
  source: string;
  actor: string;
  occurredAt: string;
  /** Null for events of no person (suppress/unsuppress of an address, policy of the store). */
  reachableAfter: boolean | null;
}

/** A profile's event that the consent replay needs: opt-outs, opt-ins (channel events) and erasures. */
export interface ConsentTrailEvent {
  id: number;
  profileId: number;
  channel: string;
  action: string;
}

export interface PolicyEvent {
  id: number;
  channel: string;
  basis: Basis;
}

/** The basis of `channel` at ledger position `eventId` (shared decision 1): the last `policy` event's, else opt-out. */
export function basisAt(policies: readonly PolicyEvent[], channel: ContactChannel, eventId: number): Basis {
  let basis: Basis = 'opt-out';
  for (const p of policies) if (p.channel === channel && p.id <= eventId) basis = p.basis;
  return basis;
}

/** The basis named by a policy event's evidence (anything else: opt-out, today's rule). */
export function basisOf(evidence: unknown): Basis {
  return typeof evidence === 'object' && evidence !== null && (evidence as { basis?: unknown }).basis === 'opt-in' ? 'opt-in' : 'opt-out';
}

/**
 * Shared decision 2 for one channel, as the domain's isReachable
 * (profile.ts) decides it: not erased, no flag (`all` or the channel's), no
 * suppression in force, AND, under an opt-in basis, a grant (the last channel
 * event on the channel itself is an opt-in).
 */
export function isReachableUnder(
  state: { optOut: OptOutFlags; granted: boolean; erased: boolean },
  channel: ContactChannel,
  basis: Basis,
  suppressions: SuppressionsInForce,
): boolean {
  // The one rule: profile.ts's isReachable with this channel's basis and grant.
  return !state.erased && isReachable(state.optOut, channel, suppressions, { bases: { ...optOutEverywhere(), [channel]: basis }, granted: { ...noGrants(), [channel]: state.granted } });
}

/**
 * Replays one page of the feed: for each row, whether its person may be
 * contacted on `channelFor(row)` after it. `trail`: the consent events of the
 * page's profiles up to the page's last id, in id order; `suppressions`: the
 * entries in force NOW for each profile's addresses (suppression is judged at
 * read time; flags, grants, erasure and the basis as of the event).
 * For a channel `all` row (and `--channel` not given) the answer is whether
 * the person may be contacted on at least one contact channel.
 */
export function reachableAfterPage(
  rows: readonly FeedRow[],
  trail: readonly ConsentTrailEvent[],
  policies: readonly PolicyEvent[],
  suppressions: ReadonlyMap<number, SuppressionsInForce>,
  askedChannel: ContactChannel | null,
): (boolean | null)[] {
  const byProfile = new Map<number, ConsentTrailEvent[]>();
  for (const e of trail) {
    let list = byProfile.get(e.profileId);
    if (!list) byProfile.set(e.profileId, (list = []));
    list.push(e);
  }
  const seen = new Map<number, number>(); // events of the profile taken so far
  return rows.map((row) => {
    if (row.profileId === null) return null;
    const events = byProfile.get(row.profileId) ?? [];
    let n = seen.get(row.profileId) ?? 0;
    while (n < events.length && events[n]!.id <= row.id) n++;
    seen.set(row.profileId, n);
    const upTo = events.slice(0, n);
    const replayed = replayLedger(upTo.map((e) => ({ ...e, service: null })));
    const optOut = noOptOuts();
    for (const [c, f] of Object.entries(replayed.flags)) optOut[c as Channel] = f!.optOut;
    const erased = upTo.some((e) => e.action === 'erase');
    const inForce = suppressions.get(row.profileId) ?? [];
    const on = (c: ContactChannel) =>
      isReachableUnder({ optOut, granted: replayed.flags[c]?.optOut === false, erased }, c, basisAt(policies, c, row.id), inForce);
    const channel = askedChannel ?? (row.channel === 'all' ? null : (row.channel as ContactChannel));
    return channel === null ? CONTACT_CHANNELS.some(on) : on(channel);
  });
}

/** The CSV columns of `--format csv`, in this order (the JSON keys). */
export const FEED_COLUMNS = ['cursor', 'id', 'profileId', 'email', 'channel', 'service', 'action', 'source', 'actor', 'occurredAt', 'reachableAfter'] as const;

/** What a feed reads from a store. */
export interface FeedRepository {
  /** This store's identity (settings.store_id, made by migration 10; copied by `store copy`). */
  storeId(): Promise<string>;
  /** The block holding event `eventId`, or null. */
  blockOf(eventId: number): Promise<{ id: number; hash: string } | null>;
  /**
   * At most `limit` events with id > `afterId`, in id order (only those of
   * `channels` when given), each with its block and its profile as it is now.
   */
  page(afterId: number, channels: readonly Channel[] | null, limit: number): Promise<FeedRow[]>;
  /** The opt-out, opt-in (service NULL) and erase events of these profiles with id ≤ `upToId`, in id order: one query. */
  trail(profileIds: readonly number[], upToId: number): Promise<ConsentTrailEvent[]>;
  /** Every `policy` event with id ≤ `upToId`, in id order. */
  policies(upToId: number): Promise<PolicyEvent[]>;
  /**
   * Resolves when the ledger may have grown, after at most `maxWaitMs`, or
   * when `signal` is aborted (SQLite: PRAGMA data_version polled every
   * ~200 ms; PostgreSQL: LISTEN consent_ledger, notified by a trigger at each
   * append's commit). The caller reads the next page either way.
   */
  waitForAppend(signal: AbortSignal, maxWaitMs: number): Promise<void>;
  /** Ends waiting (the LISTEN connection on PostgreSQL). */
  stopWaiting(): Promise<void>;
}
