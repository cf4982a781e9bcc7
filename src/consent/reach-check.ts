/**
 * "May we send to this address now, and if not, why?" for a sending system
 * at send time (the check API: GET/POST /api/v1/reachable). The store gives
 * the facts of a batch (ReachFacts, a few queries per batch whatever its
 * size); the answer follows the one reachability rule: the domain's
 * isReachable (profile.ts) under the channel's basis (isReachableUnder in
 * feed.ts, shared decision 2).
 */
import type { Channel, ContactChannel } from './channels.js';
import { blockedBy, type Profile } from './profile.js';
import { isReachableUnder, type Basis } from './feed.js';
import type { Suppression } from './suppressions.js';

export type ReachLookup = { kind: 'email'; value: string } | { kind: 'phone'; value: string } | { kind: 'profile'; value: number };

export type ReasonKind = 'optout' | 'suppressed' | 'erased' | 'not-granted' | 'not-subscribed' | 'unknown-profile';

export interface CheckReason {
  kind: ReasonKind;
  channel: Channel;
  since: string | null;
  source: string | null;
}

export interface CheckResult {
  reachable: boolean;
  reasons: CheckReason[];
}

/** The last channel event (service NULL, opt-out or opt-in) of a profile on a channel. */
export interface LastConsent {
  action: 'optin' | 'optout';
  occurredAt: string;
  source: string;
}

export interface ReachFacts {
  basis: Basis;
  /** Per lookup (same order): the profiles it names (several may share a phone; none: unknown). */
  profiles: Profile[][];
  /** Per profile id: its last channel event on the asked channel and on `all`. */
  last: ReadonlyMap<number, Partial<Record<Channel, LastConsent>>>;
  /** The entry in force on the asked channel for an address (email or E.164), by address. */
  suppressions: ReadonlyMap<string, Suppression>;
  /** With a service: each profile's subscription to it (absent: none). */
  subscriptions: ReadonlyMap<number, { status: string; since: string }> | null;
}

/** Suppression channels have an address; the others (postal, fax, push) none. */
export function addressFor(channel: ContactChannel, p: { email: string; phone: string | null }): string | null {
  return channel === 'email' ? p.email : channel === 'sms' || channel === 'phone' ? p.phone : null;
}

/** The address a lookup itself gives for the channel (an unknown address is still checked against the suppression list). */
export function lookupAddress(channel: ContactChannel, l: ReachLookup): string | null {
  if (l.kind === 'email') return channel === 'email' ? l.value : null;
  if (l.kind === 'phone') return channel === 'sms' || channel === 'phone' ? l.value : null;
  return null;
}

function suppressedReason(s: Suppression, channel: ContactChannel): CheckReason {
  return { kind: 'suppressed', channel, since: s.createdAt, source: s.origin };
}

function checkOne(p: Profile, channel: ContactChannel, facts: ReachFacts): CheckResult {
  const reasons: CheckReason[] = [];
  const last = facts.last.get(p.id) ?? {};
  if (p.erasedAt !== null) reasons.push({ kind: 'erased', channel: 'all', since: p.erasedAt, source: null });
  for (const flag of blockedBy(p.optOut, channel)) {
    reasons.push({ kind: 'optout', channel: flag, since: last[flag]?.occurredAt ?? null, source: last[flag]?.source ?? null });
  }
  const address = p.erasedAt === null ? addressFor(channel, p) : null;
  const entry = address === null ? undefined : facts.suppressions.get(address);
  if (entry) reasons.push(suppressedReason(entry, channel));
  const granted = last[channel]?.action === 'optin';
  if (facts.basis === 'opt-in' && !granted && !p.optOut[channel]) reasons.push({ kind: 'not-granted', channel, since: null, source: null });
  if (facts.subscriptions) {
    const sub = facts.subscriptions.get(p.id);
    if (sub?.status !== 'subscribed') reasons.push({ kind: 'not-subscribed', channel, since: sub?.since ?? null, source: null });
  }
  const reachable =
    isReachableUnder({ optOut: p.optOut, granted, erased: p.erasedAt !== null }, channel, facts.basis, entry ? [entry] : []) &&
    (facts.subscriptions === null || facts.subscriptions.get(p.id)?.status === 'subscribed');
  return { reachable, reasons };
}

/**
 * The answer for each lookup, in order. An unknown address: reachable under
 * the opt-out basis unless its address is suppressed (and not with a
 * service, to which it cannot be subscribed), never under opt-in; it says
 * `unknown-profile`. An address several profiles share (a phone): reachable
 * only if every one of them is, with all their reasons.
 */
export function checkReachable(lookups: readonly ReachLookup[], channel: ContactChannel, facts: ReachFacts): CheckResult[] {
  return lookups.map((l, i) => {
    const profiles = facts.profiles[i] ?? [];
    if (profiles.length === 0) {
      const reasons: CheckReason[] = [{ kind: 'unknown-profile', channel, since: null, source: null }];
      const address = lookupAddress(channel, l);
      const entry = address === null ? undefined : facts.suppressions.get(address);
      if (entry) reasons.push(suppressedReason(entry, channel));
      if (facts.basis === 'opt-in') reasons.push({ kind: 'not-granted', channel, since: null, source: null });
      if (facts.subscriptions) reasons.push({ kind: 'not-subscribed', channel, since: null, source: null });
      return { reachable: facts.basis === 'opt-out' && !entry && !facts.subscriptions, reasons };
    }
    const results = profiles.map((p) => checkOne(p, channel, facts));
    return { reachable: results.every((r) => r.reachable), reasons: results.flatMap((r) => r.reasons) };
  });
}

export const MAX_BATCH = 1000;

/** What the check API reads from a store: the facts of one batch, in a few queries (one each: profiles, last events, suppressions, basis, subscriptions). */
export interface ReachRepository {
  /** `service`: its name (an `invalid` error naming it when there is no such service or it is not on `channel`). */
  facts(lookups: readonly ReachLookup[], channel: ContactChannel, service: string | null): Promise<ReachFacts>;
}
