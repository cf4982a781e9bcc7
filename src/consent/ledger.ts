import { createHash } from 'node:crypto';
import { CONTACT_CHANNELS, type Channel } from './channels.js';

export type ConsentAction = 'optout' | 'optin';
/**
 * Address events (profile id NULL, `addressKey` set): an entry of the
 * suppression list added or lifted (src/consent/suppressions.ts).
 */
export type SuppressionAction = 'suppress' | 'unsuppress';
/** A profile's personal data erased (GDPR art. 17); changes no flag or subscription. */
export type ErasureAction = 'erase';
/** Every action a ledger event may have (the schemas' CHECK lists exactly these). */
/**
 * A store-level event (profile id and address key NULL): `policy`, a
 * channel's consent basis set (evidence `{ basis: 'opt-in' | 'opt-out' }`).
 */
export type StoreAction = 'policy';
/** A person's optional answer to "why did you opt out?", recorded after the opt-out (evidence: the coded reason); changes no flag. */
export type ReasonAction = 'reason';
/**
 * A profile's phone number changed (schema 15; `profile import` is the one
 * writer that changes an existing profile's phone): channel `all`, evidence
 * `{"from":"<key>"|null,"to":"<key>"|null}`, the address keys of the old and
 * the new number (addressKey, kind `phone`), never a number in clear. It
 * changes no flag; the as-of replay reads it to match sms and phone
 * suppressions with the number the profile had at the moment asked.
 */
export type AddressChangeAction = 'address';
export const LEDGER_ACTIONS = ['optout', 'optin', 'subscribe', 'request', 'confirm', 'unsubscribe', 'suppress', 'unsuppress', 'erase', 'policy', 'reason', 'address'] as const;
/**
 * The profile events that change no flag, grant or subscription (an erasure, a
 * survey answer, a change of phone): every reader of consent state leaves them out.
 */
export const NON_CONSENT_PROFILE_ACTIONS = ['erase', 'reason', 'address'] as const;

/** The evidence of an `address` event: the keys of the old and new phone (null: none). Keys only, never a number. */
export interface AddressChangeEvidence {
  from: string | null;
  to: string | null;
}

/** An `address` event's evidence read back; null when it is not one (a key is 64 hex digits or null). */
export function addressChangeOf(evidence: Record<string, unknown> | null | undefined): AddressChangeEvidence | null {
  if (!evidence) return null;
  const key = (v: unknown) => (v === null ? null : typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? v : undefined);
  const from = key(evidence.from);
  const to = key(evidence.to);
  return from === undefined || to === undefined ? null : { from, to };
}
/** Subscription events: `request` makes a double opt-in subscription pending. */
export type SubscriptionAction = 'subscribe' | 'request' | 'confirm' | 'unsubscribe';

/** Who, when and how; shared by all events written in one change. */
export interface ChangeContext {
  /** `operator`, `import:<file>`, `landing:<slug>@v<n>`, `one-click`, … */
  source: string;
  actor: string;
  reason?: string | null;
  /** What the person saw and sent, for landing pages (page version, user agent, hashed address). */
  evidence?: Record<string, unknown> | null;
  occurredAt: string;
}

export interface LedgerEvent {
  id: number;
  profileId: number;
  channel: Channel;
  /** Set on subscription events: the service's name (channel is then the service's channel). */
  service: string | null;
  action: ConsentAction | SubscriptionAction | ErasureAction | AddressChangeAction;
  source: string;
  actor: string;
  reason: string | null;
  evidence: Record<string, unknown> | null;
  occurredAt: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/**
 * A page submission's user agent is personal data, and the ledger's hashed
 * text can never change: so from schema 7 on, the hashed evidence holds
 * `userAgentDigest` = SHA-256 of `<salt>\n<user agent>` in place of
 * `userAgent`, and the user agent itself and its random salt live beside the
 * event (ledger_user_agents), where an erasure deletes them. Without the salt
 * the digest cannot be tested against guessed user agents. `ledger verify`
 * checks the digest wherever the side row exists.
 */
export function userAgentDigest(salt: string, userAgent: string): string {
  return createHash('sha256').update(`${salt}\n${userAgent}`).digest('hex');
}

/**
 * The evidence as hashed (same keys in the same order, a string `userAgent`
 * replaced by `userAgentDigest`), and the user agent taken out; `userAgent`
 * null when there was none to take out (the evidence is then unchanged).
 */
export function detachUserAgent(
  evidence: Record<string, unknown> | null | undefined,
  salt: string,
): { evidence: Record<string, unknown> | null; userAgent: string | null } {
  if (!evidence || typeof evidence.userAgent !== 'string') return { evidence: evidence ?? null, userAgent: null };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(evidence)) {
    if (k === 'userAgent') out.userAgentDigest = userAgentDigest(salt, v as string);
    else out[k] = v;
  }
  return { evidence: out, userAgent: evidence.userAgent };
}

/** A side row against its event's evidence text: null when they agree, else what is wrong. */
export function userAgentProblem(r: { event_id: number; salt: string; user_agent: string; evidence: string | null }): string | null {
  const digest = r.evidence === null ? undefined : (JSON.parse(r.evidence) as Record<string, unknown>).userAgentDigest;
  if (digest === undefined) return `event ${r.event_id}: a user agent is kept for it but its evidence has no userAgentDigest`;
  if (digest !== userAgentDigest(r.salt, r.user_agent)) return `event ${r.event_id}: the user agent kept beside it does not match its evidence's userAgentDigest`;
  return null;
}

/**
 * The exact bytes an event contributes to the chain. An array, not an object,
 * so that key order can never change the hash. `evidence` is hashed as stored
 * (its JSON text), so the store's text is what is proven.
 */
export function canonicalEvent(e: {
  id: number;
  /** Null for address events (suppress/unsuppress). */
  profileId: number | null;
  channel: string;
  action: string;
  source: string;
  actor: string;
  reason: string | null;
  evidenceJson: string | null;
  occurredAt: string;
  /** Set on subscription events only; left out otherwise so channel events hash as they always did. */
  service?: string | null;
  /**
   * Set on address events (suppress/unsuppress) only, whose profileId is
   * null. Appended after the service's place (null there), so that a value
   * can never move between the two without changing the hash; events without
   * it hash as they always did.
   */
  addressKey?: string | null;
}): string {
  const fields: unknown[] = [e.id, e.profileId, e.channel, e.action, e.source, e.actor, e.reason, e.evidenceJson, e.occurredAt];
  if (e.addressKey != null) fields.push(e.service ?? null, e.addressKey);
  else if (e.service != null) fields.push(e.service);
  return JSON.stringify(fields);
}

/**
 * The ledger is a chain of blocks, one per transaction: a block's hash covers
 * the previous block's hash and every event of the block in id order. An
 * operator's change is a block of one or a few events; an import is a block of
 * many, which keeps a million-row import from paying a million chain links.
 */
export class BlockHasher {
  private readonly h = createHash('sha256');
  private count = 0;
  constructor(readonly prevHash: string) {
    this.h.update(prevHash);
  }
  add(canonical: string): void {
    this.h.update('\n');
    this.h.update(canonical);
    this.count++;
  }
  /**
   * The same bytes as add() for each of `count` canonical texts joined by
   * newlines (as text or as its UTF-8 bytes), in one update: for events hashed in bulk.
   */
  addJoined(joined: string | Uint8Array, count: number): void {
    if (count === 0) return;
    this.h.update('\n');
    this.h.update(joined);
    this.count += count;
  }
  get size(): number {
    return this.count;
  }
  digest(): string {
    return this.h.digest('hex');
  }
}

/** A failure of the chain itself: an event or block edited, deleted or added behind the tool's back. */
export interface ChainBroken {
  ok: false;
  blocks: number;
  events: number;
  brokenEventId: number | null;
  blockId: number | null;
  problem: string;
}

/**
 * The chain is intact but the state kept beside it disagrees with the
 * replay of the ledger (see replayLedger): `blocks`, `events` and `head` are
 * the intact chain's; `problem` is `disagreement.detail`.
 */
export interface StateDisagrees {
  ok: false;
  check: 'state';
  blocks: number;
  events: number;
  head: string;
  problem: string;
  disagreement: StateDisagreement;
}

export type LedgerVerification =
  | { ok: true; blocks: number; events: number; /** The last block's hash: note it somewhere else to anchor the chain. */ head: string }
  | ChainBroken
  | StateDisagrees;

/** Where a verification stands, for a progress display. */
export type VerifyProgress =
  | { phase: 'chain'; events: number; total: number }
  | { phase: 'replay'; events: number; total: number }
  | { phase: 'state'; profiles: number; total: number };

export interface VerifyOptions {
  /** Called now and then (every 20,000 to 100,000 events or profiles), never after the result. */
  onProgress?: (p: VerifyProgress) => void;
}

/**
 * The first thing found, for the lowest profile id concerned, where the state
 * of a profile is not what its ledger events make it:
 * - `flag`: a channel flag (`channel`); `stored`/`ledger` are `optout` or `optin`;
 * - `subscription`: the subscription to `service`; `stored`/`ledger` are a
 *   status (`pending`, `subscribed`, `unsubscribed`) or null for no subscription row;
 * - `profile`: the ledger has events for a profile id that has no profile row
 *   (`stored` null, `ledger` `events`);
 * - `suppression` (checked after every profile): the suppression list entry of
 *   (`channel`, `addressKey`) is not what its address events say; `stored`/`ledger`
 *   are its reason, or null for no entry; `profileId` is null.
 * - `grant` (checked after every profile's flags and subscriptions): the
 *   granted_<channel> column of a contact channel (`channel`) is not what the
 *   profile's last optin/optout event on that channel says; `stored`/`ledger`
 *   are `granted` or `none`.
 * - `phone` (checked last): a live profile whose phone is not the number its
 *   last `address` event (a change of phone) recorded; `stored`/`ledger` are
 *   the keys of the two numbers (null: none), never a number.
 * `eventId` is the last event that set what the ledger says (null: no event, the initial state).
 */
export interface StateDisagreement {
  /** Null for a `suppression` disagreement (an address, not a profile). */
  profileId: number | null;
  kind: 'flag' | 'subscription' | 'profile' | 'suppression' | 'grant' | 'phone';
  channel: Channel | null;
  service: string | null;
  /** For `suppression`: the entry's key (the address is never shown). */
  addressKey?: string;
  stored: string | null;
  ledger: string | null;
  eventId: number | null;
  /** One sentence, e.g. "profile 42: optout_all is 0 but the ledger says optout (event 1234)". */
  detail: string;
}

/**
 * The replay rule, which every store's state check applies. A profile starts
 * with every flag `optin` (false) and no subscription. Taking its events in
 * id order, a channel event (service null) sets its channel's flag to its
 * action (`optout` → true, `optin` → false); a subscription event (service
 * set) sets that service's subscription to SUBSCRIPTION_STATUS_AFTER[action].
 * So each flag and each subscription is what its last event says. An
 * `erase` event changes neither. Address events (profile id NULL) belong to
 * no profile: they are replayed against the suppression list instead (see
 * SuppressionRepository in suppressions.ts).
 */
export const SUBSCRIPTION_STATUS_AFTER = {
  subscribe: 'subscribed',
  confirm: 'subscribed',
  request: 'pending',
  unsubscribe: 'unsubscribed',
} as const satisfies Record<SubscriptionAction, string>;

export interface ReplayedState {
  /** Per channel, the last event's id and whether it opted out; absent: no event (opted in). */
  flags: Partial<Record<Channel, { optOut: boolean; eventId: number }>>;
  subscriptions: Map<string, { status: (typeof SUBSCRIPTION_STATUS_AFTER)[SubscriptionAction]; eventId: number }>;
}

/** The state one profile's events (in id order) leave it in. */
export function replayLedger(events: Iterable<{ id: number; channel: string; service: string | null; action: string }>): ReplayedState {
  const state: ReplayedState = { flags: {}, subscriptions: new Map() };
  for (const e of events) {
    if (e.service === null) {
      // `erase` (and any address event) changes no flag.
      if (e.action !== 'optout' && e.action !== 'optin') continue;
      state.flags[e.channel as Channel] = { optOut: e.action === 'optout', eventId: e.id };
    } else {
      const status = SUBSCRIPTION_STATUS_AFTER[e.action as SubscriptionAction];
      state.subscriptions.set(e.service, { status, eventId: e.id });
    }
  }
  return state;
}

/** The state a store holds for one profile: null flags when the profile row is gone. */
export interface StoredState {
  optOut: Record<Channel, boolean> | null;
  /** Every subscription row of the profile, by service name. */
  subscriptions: ReadonlyMap<string, string>;
}

/**
 * The first disagreement between a profile's stored state and its replayed
 * ledger, or null: a missing profile row first, then the flags in channel
 * order, then subscriptions by service name.
 */
export function compareState(
  profileId: number,
  stored: StoredState,
  replayed: ReplayedState,
  channels: readonly Channel[],
  lastEventId: number | null,
): StateDisagreement | null {
  const base = { profileId, channel: null, service: null } as const;
  if (stored.optOut === null) {
    if (lastEventId === null && stored.subscriptions.size === 0) return null;
    return {
      ...base,
      kind: 'profile',
      stored: null,
      ledger: 'events',
      eventId: lastEventId,
      detail:
        lastEventId === null
          ? `profile ${profileId}: subscriptions remain for a profile that does not exist`
          : `profile ${profileId}: the profile row is missing but the ledger has events for it (the last is event ${lastEventId})`,
    };
  }
  const word = (optOut: boolean) => (optOut ? 'optout' : 'optin');
  for (const c of channels) {
    const ledger = replayed.flags[c];
    const want = ledger?.optOut ?? false;
    if (stored.optOut[c] !== want) {
      const says = ledger ? `the ledger says ${word(want)} (event ${ledger.eventId})` : 'the ledger has no event for it (so optin)';
      return {
        ...base,
        kind: 'flag',
        channel: c,
        stored: word(stored.optOut[c]),
        ledger: word(want),
        eventId: ledger?.eventId ?? null,
        detail: `profile ${profileId}: optout_${c} is ${stored.optOut[c] ? 1 : 0} but ${says}`,
      };
    }
  }
  const services = [...new Set([...stored.subscriptions.keys(), ...replayed.subscriptions.keys()])].sort();
  for (const service of services) {
    const have = stored.subscriptions.get(service) ?? null;
    const ledger = replayed.subscriptions.get(service) ?? null;
    if (have !== (ledger?.status ?? null)) {
      const says = ledger ? `the ledger says ${ledger.status} (event ${ledger.eventId})` : 'the ledger has no event for it';
      return {
        ...base,
        kind: 'subscription',
        service,
        stored: have,
        ledger: ledger?.status ?? null,
        eventId: ledger?.eventId ?? null,
        detail: `profile ${profileId}: the subscription to ${service} is ${have ?? 'absent'} but ${says}`,
      };
    }
  }
  return null;
}

/**
 * The first contact channel (in `channels` order) whose stored grant
 * (granted_<channel>) is not what the replay gives: granted iff the last
 * optin/optout event on the channel itself is an `optin` (policy.ts). Null
 * when they agree.
 */
export function compareGrants(
  profileId: number,
  stored: Readonly<Record<string, boolean>>,
  replayed: ReplayedState,
  channels: readonly Channel[],
): StateDisagreement | null {
  const word = (g: boolean) => (g ? 'granted' : 'none');
  for (const c of channels) {
    if (c === 'all') continue;
    const ledger = replayed.flags[c];
    const want = ledger !== undefined && !ledger.optOut;
    if (stored[c] === want) continue;
    const says = ledger ? `its last event on ${c} is an ${ledger.optOut ? 'optout' : 'optin'} (event ${ledger.eventId})` : `the ledger has no optin or optout on ${c}`;
    return {
      profileId,
      kind: 'grant',
      channel: c,
      service: null,
      stored: word(stored[c] === true),
      ledger: word(want),
      eventId: ledger?.eventId ?? null,
      detail: `profile ${profileId}: granted_${c} is ${stored[c] ? 1 : 0} but ${says}`,
    };
  }
  return null;
}

/**
 * A live profile's phone (`phoneKey`, the key of the number it has now; null:
 * none) against its last `address` event: the number that change recorded
 * (its `to`). Null when they agree. Every change of phone since schema 15 is
 * recorded, so a disagreement is a phone changed behind the tool (which the
 * as-of replay would then take for the number the profile had).
 */
export function comparePhone(profileId: number, phoneKey: string | null, last: { id: number; evidence: Record<string, unknown> | null }): StateDisagreement | null {
  const change = addressChangeOf(last.evidence);
  if (change && change.to === phoneKey) return null;
  const says = change ? (change.to === null ? 'no number' : `the number of key ${change.to.slice(0, 12)}…`) : 'evidence that is not a change of phone';
  return {
    profileId,
    kind: 'phone',
    channel: null,
    service: null,
    stored: phoneKey,
    ledger: change?.to ?? null,
    eventId: last.id,
    detail: `profile ${profileId}: its phone (${phoneKey === null ? 'none' : `key ${phoneKey.slice(0, 12)}…`}) is not what its last change of phone (event ${last.id}) recorded: ${says}`,
  };
}

/**
 * Two successive changes of a profile's phone (`address` events, id order):
 * the later must start from the number the earlier one left (its `from` is
 * the earlier's `to`); otherwise the phone was changed behind the tool between
 * them, and the replay of a moment between them could not say which number it
 * had (a disagreement of kind `phone`).
 */
export function comparePhoneChanges(
  profileId: number,
  earlier: { id: number; evidence: Record<string, unknown> | null },
  later: { id: number; evidence: Record<string, unknown> | null },
): StateDisagreement | null {
  const before = addressChangeOf(earlier.evidence);
  const after = addressChangeOf(later.evidence);
  if (before && after && before.to === after.from) return null;
  const key = (k: string | null | undefined) => (k === undefined ? 'evidence that is not a change of phone' : k === null ? 'no number' : `the number of key ${k.slice(0, 12)}…`);
  return {
    profileId,
    kind: 'phone',
    channel: null,
    service: null,
    stored: after?.from ?? null,
    ledger: before?.to ?? null,
    eventId: later.id,
    detail: `profile ${profileId}: its change of phone of event ${later.id} starts from ${key(after?.from)}, but its change of event ${earlier.id} left ${key(before?.to)} (a phone changed behind the tool between them)`,
  };
}

/**
 * compareGrants for a profile a store's set-based check found disagreeing;
 * when the domain's replay sees nothing wrong, a disagreement in a value no
 * write path makes (a grant of 2…).
 */
export function explainGrants(profileId: number, stored: Readonly<Record<string, boolean>>, replayed: ReplayedState): StateDisagreement {
  return (
    compareGrants(profileId, stored, replayed, CONTACT_CHANNELS) ?? {
      profileId,
      kind: 'grant',
      channel: null,
      service: null,
      stored: null,
      ledger: null,
      eventId: null,
      detail: `profile ${profileId}: its stored grants hold a value the ledger cannot give`,
    }
  );
}

/**
 * Whether a reason holds what looks like an email address or an
 * internationally written phone number (`+33 6 12 …`). Reasons are kept in
 * the ledger forever, and the ledger never holds an address in clear (so that
 * an erasure leaves no trace): such a reason is refused. A nationally written
 * number (`06 12 …`) cannot be told from a ticket number and is not caught.
 */
const EMAIL_IN_TEXT = /[^\s@<>(),;:"']+@[^\s@<>(),;:"']+\.[^\s@<>(),;:"']+/g;
const PHONE_IN_TEXT = /\+\s*\d(?:[\s.\-()]*\d){6,}/g;

/**
 * A person's own free text bound for the ledger (an unsubscribe-survey
 * answer), with every email address and internationally written phone number
 * (reasonCarriesAddress's patterns) replaced by `[address removed]`: the
 * ledger keeps its text forever, and an erasure could not take an address
 * out of it. The person's answer is kept; only the address goes.
 */
export function redactAddresses(text: string): string {
  return text.replace(EMAIL_IN_TEXT, '[address removed]').replace(PHONE_IN_TEXT, '[address removed]');
}

export function reasonCarriesAddress(reason: string): boolean {
  return /[^\s@<>(),;:"']+@[^\s@<>(),;:"']+\.[^\s@<>(),;:"']+/.test(reason) || /\+\s*\d(?:[\s.\-()]*\d){6,}/.test(reason);
}
