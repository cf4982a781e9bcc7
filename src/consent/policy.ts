/**
 * The consent basis of each contact channel (issue 15): `opt-out` (the
 * default, the rule the tool always had: reachable unless opted out) or
 * `opt-in` (reachable only with a recorded grant and no later opt-out).
 *
 * The basis is not state kept beside the ledger: it IS the ledger. A store-level
 * `policy` event (profile id, address key and service NULL; channel the
 * channel; evidence `{"basis":"opt-in"}` or `{"basis":"opt-out"}`) sets it, and
 * the basis in force at ledger position N is the evidence of the channel's
 * last `policy` event with id ≤ N (none: opt-out).
 *
 * A grant is an `optin` event on the channel itself (service NULL). Per
 * contact channel, after the events up to N, a profile is:
 * - `refused` when the channel's flag or `all` is opted out;
 * - else `granted` when its last optin/optout event on that channel itself is an `optin`;
 * - else `unknown`.
 * Reachable on c = not erased AND its address not suppressed AND not refused
 * AND (basis(c) = opt-out OR granted): see isReachable in profile.ts.
 */
import { CONTACT_CHANNELS, type Channel, type ContactChannel, type OptOutFlags } from './channels.js';
import type { ChangeContext, LedgerEvent } from './ledger.js';
import { invalid } from './errors.js';

export const BASES = ['opt-out', 'opt-in'] as const;
export type Basis = (typeof BASES)[number];
/** The basis of every contact channel. */
export type Bases = Record<ContactChannel, Basis>;
/** Per contact channel, whether the profile's last optin/optout event on the channel itself is an `optin` (a grant). */
export type GrantFlags = Record<ContactChannel, boolean>;
export type ConsentState = 'granted' | 'refused' | 'unknown';

export function isBasis(value: string): value is Basis {
  return (BASES as readonly string[]).includes(value);
}

export function parseBasis(raw: string): Basis {
  if (!isBasis(raw)) throw invalid(`"${raw}" is not a consent basis.`, 'Give opt-in or opt-out.');
  return raw;
}

/** Every channel under `opt-out`: a store without any policy event. */
export function optOutEverywhere(): Bases {
  return Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, 'opt-out'])) as Bases;
}

export function noGrants(): GrantFlags {
  return Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, false])) as GrantFlags;
}

/**
 * The evidence of a `policy` event, exactly as stored (and hashed): the stores
 * compare the text itself when they read the basis in SQL, so it is always
 * written by this function.
 */
export function policyEvidence(basis: Basis): { basis: Basis } {
  return { basis };
}
export const policyEvidenceText = (basis: Basis) => JSON.stringify(policyEvidence(basis));

/** A channel's basis as `policy show` gives it. */
export interface ChannelPolicy {
  channel: ContactChannel;
  basis: Basis;
  /** When the deciding `policy` event was written; null: never set (the default). */
  since: string | null;
  /** The deciding `policy` event; null: never set. */
  eventId: number | null;
  reason: string | null;
  actor: string | null;
}

export type Policy = Record<ContactChannel, ChannelPolicy>;

export function basesOf(policy: Policy): Bases {
  return Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, policy[c].basis])) as Bases;
}

/**
 * Builds a channel's policy from its last `policy` event (or none). The
 * evidence of an event the tool did not write (no `basis`) is read as
 * opt-out: the default, never a stricter rule.
 */
export function channelPolicy(channel: ContactChannel, last: LedgerEvent | null): ChannelPolicy {
  if (!last) return { channel, basis: 'opt-out', since: null, eventId: null, reason: null, actor: null };
  const basis = last.evidence?.basis === 'opt-in' ? 'opt-in' : 'opt-out';
  return { channel, basis, since: last.occurredAt, eventId: last.id, reason: last.reason, actor: last.actor };
}

/** The state of one channel for one profile (decision 2 above). */
export function consentState(optOut: OptOutFlags, granted: GrantFlags | undefined, channel: ContactChannel): ConsentState {
  if (optOut.all || optOut[channel]) return 'refused';
  return granted?.[channel] ? 'granted' : 'unknown';
}

/** What `policy set` would do, or did. */
export interface PolicyChange {
  channel: ContactChannel;
  from: Basis;
  to: Basis;
  /**
   * Profiles whose reachability on the channel the change flips: those
   * reachable but for the basis (not erased, address not suppressed, not
   * refused) that have no grant. To opt-in they become unreachable; to
   * opt-out they become reachable.
   */
  becomeUnreachable: number;
  becomeReachable: number;
  /** The `policy` event written; null for a dry run or when the basis was already in force. */
  eventId: number | null;
  changed: boolean;
}

/** The store's policy: read from and written to its ledger. */
export interface PolicyRepository {
  /** The basis of every contact channel now, with the event that decided it. */
  current(): Promise<Policy>;
  /** The profiles reachable on `channel` but for its basis that have no grant (see PolicyChange). */
  ungranted(channel: ContactChannel): Promise<number>;
  /**
   * Appends a `policy` event for `channel` (evidence policyEvidence(basis),
   * the context's reason and source) as one block, in one transaction, and
   * returns it with `ungranted(channel)` counted in that transaction; when
   * `basis` is already in force, writes nothing (event null).
   */
  set(channel: ContactChannel, basis: Basis, context: ChangeContext): Promise<{ event: LedgerEvent | null; ungranted: number }>;
}

/** `policy set`'s plan and, unless a dry run, its write. */
export async function setPolicy(
  repo: PolicyRepository,
  channel: ContactChannel,
  to: Basis,
  context: ChangeContext,
  options: { dryRun: boolean },
): Promise<PolicyChange> {
  const from = (await repo.current())[channel].basis;
  let n = from === to ? 0 : await repo.ungranted(channel);
  let event: LedgerEvent | null = null;
  if (!options.dryRun && from !== to) ({ event, ungranted: n } = await repo.set(channel, to, context));
  return {
    channel,
    from,
    to,
    becomeUnreachable: to === 'opt-in' ? n : 0,
    becomeReachable: to === 'opt-out' ? n : 0,
    eventId: event?.id ?? null,
    changed: event !== null,
  };
}

/** The bases given by each channel's last `policy` event (stores' rows: channel and evidence text); channels without one: opt-out. */
export function basesFromRows(rows: Iterable<{ channel: string; evidence: string | null }>): Bases {
  const bases = optOutEverywhere();
  for (const r of rows) {
    if (!(CONTACT_CHANNELS as readonly string[]).includes(r.channel)) continue;
    bases[r.channel as ContactChannel] = r.evidence === policyEvidenceText('opt-in') ? 'opt-in' : 'opt-out';
  }
  return bases;
}

/** The grants after a profile's changes (in order): an optin on a contact channel grants it, an optout takes the grant back; `all` touches none. */
export function grantsAfter(granted: GrantFlags | undefined, changes: readonly { channel: Channel; action: 'optin' | 'optout' }[]): GrantFlags {
  const next = { ...noGrants(), ...granted };
  for (const c of changes) if (c.channel !== 'all') next[c.channel] = c.action === 'optin';
  return next;
}
