/**
 * The state at a past moment, replayed from the ledger alone (issue 15,
 * shared decisions 1–2). A moment is a ledger position: every event up to
 * `eventId` (a prefix of the chain, ending on a block's last event) plus the
 * time `at` against which suppression expiries are judged and profiles are
 * known (created at or before it).
 *
 * "As of T" is the ledger as it was recorded by T: the longest prefix of the
 * chain whose blocks were all created at or before T (a block's created_at is
 * the time of its transaction). It is a prefix, so it only grows with T, and
 * an import carrying an odd time cannot pull later events into the past.
 *
 * This module is the domain mirror of the SQL replay (src/store/shared/as-of-sql.ts):
 * `profile show --as-of` and `audience prove` use it; the audience queries use the SQL.
 */
import { CONTACT_CHANNELS, type Channel, type ContactChannel } from './channels.js';
import { invalid } from './errors.js';
import { addressChangeOf, SUBSCRIPTION_STATUS_AFTER, type LedgerEvent, type SubscriptionAction } from './ledger.js';

export type Basis = 'opt-in' | 'opt-out';
export const BASES: readonly Basis[] = ['opt-in', 'opt-out'];

/** A point of the chain: its last block (id, hash) and that block's last event. Block 0 / event 0: the empty ledger. */
export interface LedgerPosition {
  blockId: number;
  eventId: number;
  hash: string;
  /** When that block was created (null for the empty ledger). */
  createdAt: string | null;
}

/** A replay's moment: the ledger up to `position`, expiries and profile creation judged at `at`. */
export interface Moment {
  position: LedgerPosition;
  at: string;
}

/** A ledger row as the replay needs it (evidence parsed): any action, on any channel name, of a profile or not. */
export type ReplayEvent = Omit<LedgerEvent, 'profileId' | 'channel' | 'action'> & { channel: string; action: string };

/** `--as-of`: an ISO 8601 time (a date alone is its start, UTC); the canonical UTC text. */
export function parseAsOf(raw: string): string {
  const s = raw.trim();
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(s)) {
    throw invalid(`--as-of "${raw}" is not an ISO 8601 time.`, 'Give e.g. 2026-03-03T09:00:00Z or 2026-03-03 (midnight UTC).');
  }
  const t = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(t)) throw invalid(`--as-of "${raw}" is not a valid time.`);
  return new Date(t).toISOString();
}

/** The basis of each contact channel after the policy events given (id order): the evidence of the last one (none: opt-out). */
export function basesAt(policies: readonly ReplayEvent[]): Record<ContactChannel, { basis: Basis; eventId: number | null }> {
  const out = {} as Record<ContactChannel, { basis: Basis; eventId: number | null }>;
  for (const c of CONTACT_CHANNELS) out[c] = { basis: 'opt-out', eventId: null };
  for (const e of policies) {
    if (e.action !== 'policy' || !(CONTACT_CHANNELS as readonly string[]).includes(e.channel)) continue;
    const basis = e.evidence?.basis;
    if (basis === 'opt-in' || basis === 'opt-out') out[e.channel as ContactChannel] = { basis, eventId: e.id };
  }
  return out;
}

/**
 * The key of the phone a profile had at ledger position `eventId`, from its
 * `address` events (`changes`, id order, every one of the profile's, before
 * and after the position): the `to` of its last change up to the position,
 * else the `from` of its first change after it; `undefined` when it has none
 * (its phone never changed since schema 15: the phone it has now, or, erased,
 * the one its erasure recorded). Null: it had no phone then. Sms and phone
 * suppressions are matched by this key (one number, one key on both).
 */
export function phoneKeyAt(changes: readonly Pick<ReplayEvent, 'id' | 'action' | 'evidence'>[], eventId: number): string | null | undefined {
  let before: string | null | undefined;
  let after: string | null | undefined;
  for (const e of changes) {
    const change = e.action === 'address' ? addressChangeOf(e.evidence) : null;
    if (!change) continue;
    if (e.id <= eventId) before = change.to;
    else after ??= change.from;
  }
  return before !== undefined ? before : after;
}

/**
 * Per profile whose phone changed after position N, the key of the phone it
 * had at N: the `from` of its first `address` event after N (`changes`: every
 * `address` event after N, id order). This is phoneKeyAt for the audiences:
 * the `to` of a profile's last change up to N is the `from` of its next one,
 * since every change from schema 15 on is recorded; a profile without a later
 * change has at N the phone it has now.
 */
export function phoneKeysAfter(changes: Iterable<{ profileId: number; evidence: Record<string, unknown> | null }>): PhoneKeys {
  const then = new Map<number, string | null>();
  const now = new Map<number, string | null>();
  for (const c of changes) {
    const change = addressChangeOf(c.evidence);
    if (!change) continue;
    if (!then.has(c.profileId)) then.set(c.profileId, change.from);
    now.set(c.profileId, change.to);
  }
  return { then, now };
}

/**
 * phoneKeysAfter: per profile whose phone changed after N, the key of its phone
 * at N (`then`) and of the phone its last change gave it, which is the phone it
 * has now (`now`: ledger verify checks that a live profile's phone is its last
 * change's).
 */
export interface PhoneKeys {
  then: ReadonlyMap<number, string | null>;
  now: ReadonlyMap<number, string | null>;
}

/** A suppression entry as the address events replay it: the last event of (channel, key) up to the position. */
export interface SuppressionAt {
  channel: ContactChannel;
  /** The `suppress` event that put it in force. */
  eventId: number;
  reason: string | null;
  since: string;
  expiresAt: string | null;
}

/** The entries in force at `at` among the address events of a profile's keys (id order). */
export function suppressionsAt(events: readonly ReplayEvent[], at: string): SuppressionAt[] {
  const last = new Map<string, ReplayEvent>();
  for (const e of events) if (e.action === 'suppress' || e.action === 'unsuppress') last.set(e.channel, e);
  const out: SuppressionAt[] = [];
  for (const [channel, e] of last) {
    if (e.action !== 'suppress') continue;
    const expiresAt = typeof e.evidence?.expiresAt === 'string' ? e.evidence.expiresAt : null;
    if (expiresAt !== null && !(expiresAt > at)) continue;
    out.push({ channel: channel as ContactChannel, eventId: e.id, reason: e.reason, since: e.occurredAt, expiresAt });
  }
  return out.sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
}

export type ConsentState = 'granted' | 'refused' | 'unknown';

export interface ChannelAt {
  basis: Basis;
  /** refused: the channel or `all` opted out; granted: the channel's last flag event an optin; unknown: no flag event on it. */
  state: ConsentState;
  reachable: boolean;
  /** Why, in words: the first rule that decides. */
  why: string;
  /** The events that decided (flag events of the channel and of `all`, the basis, a suppression, the erasure), ascending. */
  decidingEvents: number[];
}

export interface ProfileAt {
  /** The profile existed then (created at or before `at`). */
  existed: boolean;
  erased: boolean;
  erasedBy: number | null;
  /** Each channel's flag as its last optin/optout event says (absent: no event, not opted out). */
  optOut: Record<Channel, boolean>;
  flagEvents: Partial<Record<Channel, number>>;
  subscriptions: { service: string; status: string; eventId: number; since: string }[];
  suppressions: SuppressionAt[];
  channels: Record<ContactChannel, ChannelAt>;
}

/**
 * A profile's state at a moment (THE rule at a ledger position, mirrored by
 * audienceAsOfSql): `events` its own events up to the position (id order),
 * `policies` the policy events up to it, `addressEvents` the address events
 * of its email's key (channel email) and phone's key (sms, phone) up to it.
 * Reachable on c = existed AND not erased AND not suppressed (entry in force
 * at `at`) AND not refused AND (basis(c) = opt-out OR granted). Reason
 * events, and every other action, change nothing.
 */
export function profileAt(input: {
  createdAt: string;
  at: string;
  events: readonly ReplayEvent[];
  policies: readonly ReplayEvent[];
  addressEvents: readonly ReplayEvent[];
}): ProfileAt {
  const existed = input.createdAt <= input.at;
  const flagEvents: Partial<Record<Channel, ReplayEvent>> = {};
  const subs = new Map<string, { service: string; status: string; eventId: number; since: string }>();
  let erasedBy: number | null = null;
  for (const e of input.events) {
    if (e.service === null) {
      if (e.action === 'optout' || e.action === 'optin') flagEvents[e.channel as Channel] = e;
      else if (e.action === 'erase') erasedBy ??= e.id;
    } else if (e.action in SUBSCRIPTION_STATUS_AFTER) {
      subs.set(e.service, { service: e.service, status: SUBSCRIPTION_STATUS_AFTER[e.action as SubscriptionAction], eventId: e.id, since: e.occurredAt });
    }
  }
  const optOut = {} as Record<Channel, boolean>;
  const flagIds: Partial<Record<Channel, number>> = {};
  for (const c of ['all', ...CONTACT_CHANNELS] as Channel[]) {
    optOut[c] = flagEvents[c]?.action === 'optout';
    if (flagEvents[c]) flagIds[c] = flagEvents[c]!.id;
  }
  const bases = basesAt(input.policies);
  const suppressions = suppressionsAt(input.addressEvents, input.at);
  const channels = {} as Record<ContactChannel, ChannelAt>;
  for (const c of CONTACT_CHANNELS) {
    const { basis, eventId: basisEvent } = bases[c];
    const all = flagEvents.all;
    const own = flagEvents[c];
    const state: ConsentState = optOut.all || optOut[c] ? 'refused' : own?.action === 'optin' ? 'granted' : 'unknown';
    const suppression = suppressions.find((s) => s.channel === c);
    const deciding = new Set<number>();
    const add = (id: number | null | undefined) => id != null && deciding.add(id);
    let why: string;
    let reachable = false;
    if (!existed) why = 'the profile did not exist yet';
    else if (erasedBy !== null) {
      why = `erased (event ${erasedBy})`;
      add(erasedBy);
    } else if (suppression) {
      why = `its address was suppressed on ${c} (${suppression.reason ?? 'no reason'}, event ${suppression.eventId})`;
      add(suppression.eventId);
    } else if (state === 'refused') {
      why = optOut.all ? `opted out of all (event ${all!.id})` : `opted out of ${c} (event ${own!.id})`;
      add(optOut.all ? all!.id : own!.id);
    } else if (basis === 'opt-in' && state !== 'granted') {
      why = `${c} is opt-in${basisEvent !== null ? ` (event ${basisEvent})` : ''} and no grant is recorded`;
      add(basisEvent);
      add(all?.id);
    } else {
      reachable = true;
      why = state === 'granted' ? `granted (event ${own!.id})` : `${basis} basis and not opted out`;
      add(own?.id);
      add(all?.id);
      add(basisEvent);
    }
    channels[c] = { basis, state, reachable, why, decidingEvents: [...deciding].sort((a, b) => a - b) };
  }
  return {
    existed,
    erased: erasedBy !== null,
    erasedBy,
    optOut,
    flagEvents: flagIds,
    subscriptions: [...subs.values()].sort((a, b) => (a.service < b.service ? -1 : 1)),
    suppressions,
    channels,
  };
}
