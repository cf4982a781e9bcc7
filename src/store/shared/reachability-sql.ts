/**
 * The SQL form of the domain's `isReachable` (src/consent/profile.ts): the one
 * predicate "this profile may be contacted on this channel" that every query
 * of either store uses (both read this one file) (the `reachable`, `unreachable` and `subscribed` filters,
 * the services' `receiving` counts, the confirmation mailing). A later rule of
 * reachability is added here, once, and `unreachable` (its negation) follows.
 * test/reachability-partition.test.ts checks it against the domain function.
 */
import { CONTACT_CHANNELS, type Channel, type ContactChannel } from '../../consent/channels.js';
import { optInBasisSql } from './policy-sql.js';

/** A channel known when the SQL is built, or an SQL expression holding a channel name (e.g. `v.channel`). */
export type ChannelOperand = ContactChannel | { sql: string };

function column(prefix: 'optout' | 'granted', profile: string, channel: ChannelOperand): string {
  if (typeof channel === 'string') {
    // Interpolated into SQL: only ever a name from the channel list.
    if (!(CONTACT_CHANNELS as readonly string[]).includes(channel)) throw new Error(`not a contact channel: ${channel}`);
    return `${profile}${prefix}_${channel}`;
  }
  return `CASE ${channel.sql} ${CONTACT_CHANNELS.map((c) => `WHEN '${c}' THEN ${profile}${prefix}_${c}`).join(' ')} END`;
}

const flag = (profile: string, channel: ChannelOperand) => column('optout', profile, channel);

/**
 * "Now" for the SQL, as an expression giving ISO 8601 text (the format every
 * time is stored in, so that times compare as text): a literal of the given
 * time (the injected clock: ctx.nowIso()), checked before it is interpolated.
 */
export function timeSql(iso: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(iso)) throw new Error(`not an ISO 8601 UTC time: ${iso}`);
  return `'${iso}'`;
}

export interface ReachableOptions {
  /**
   * Suppression entries with these reasons do not block. Only for the one
   * list that must reach such a person: the confirmation mailing of a double
   * opt-in, which is how a person whose address was erased (`erasure`) comes
   * back (CONFIRMATION_REACHABILITY). Every other list uses the full rule.
   */
  ignoreReasons?: readonly string[];
}

/** The confirmation mailing's rule: an `erasure` entry does not keep a person from confirming the subscription they asked for again. */
export const CONFIRMATION_REACHABILITY: ReachableOptions = { ignoreReasons: ['erasure'] };

/**
 * Reachability for a service's confirmation mailing (`pending`): the full
 * rule, except that an `erasure` entry does not block when the pending
 * request was the person's own (the subscription's last event is a `request`
 * by `subject` or `email-form`: a page they filled in themself). A request an
 * operator or an import made for an erased address is not mailed.
 * `profile`/`service`: the aliases of profiles and services (with their dot).
 */
export function confirmationReachableSql(profile: string, service: string, now: string): string {
  const channel = { sql: `${service}channel` };
  const own = `EXISTS (SELECT 1 FROM ledger_events e WHERE e.id = (SELECT max(e2.id) FROM ledger_events e2
      WHERE e2.profile_id = ${profile}id AND e2.channel = ${service}channel AND e2.service = ${service}name)
    AND e.action = 'request' AND e.actor IN ('subject', 'email-form'))`;
  return `CASE WHEN ${own} THEN ${reachableSql(channel, profile, now, CONFIRMATION_REACHABILITY)} ELSE ${reachableSql(channel, profile, now)} END`;
}

/**
 * "The profile's address for this channel has an entry in force on the
 * suppression list": an index probe of suppressions (channel, address) per
 * profile (a join on an index, not a scan). Email for `email`, the phone for
 * `sms` and `phone`; the other channels have no suppression list. `now` is an
 * SQL expression (timeSql, or the database's clock): an entry whose
 * expires_at is not after it no longer blocks.
 */
function suppressedSql(channel: ChannelOperand, profile: string, now: string, options: ReachableOptions = {}): string | null {
  const p = profile || 'profiles.';
  const ignored = (options.ignoreReasons ?? []).map((r) => {
    // Interpolated into SQL: only ever a reason name (the suppression list's reason pattern).
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(r)) throw new Error(`not a suppression reason: ${r}`);
    return `'${r}'`;
  });
  const inForce = `(s.expires_at IS NULL OR s.expires_at > ${now})${ignored.length > 0 ? ` AND s.reason NOT IN (${ignored.join(', ')})` : ''}`;
  if (typeof channel === 'string') {
    if (channel !== 'email' && channel !== 'sms' && channel !== 'phone') return null;
    const address = channel === 'email' ? `${p}email` : `${p}phone`;
    return `EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = '${channel}' AND s.address = ${address} AND ${inForce})`;
  }
  return `EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = ${channel.sql}
    AND s.address = CASE ${channel.sql} WHEN 'email' THEN ${p}email ELSE ${p}phone END AND ${inForce})`;
}

/**
 * "Reachable but for the basis": neither `all` nor the channel opted out, AND
 * the address not suppressed at `now`, AND not erased. The profiles of this
 * set without a grant are those a change of the channel's basis flips
 * (`policy set`'s counts).
 */
export function reachableButForBasisSql(channel: ChannelOperand, profile: string, now: string, options: ReachableOptions = {}): string {
  const suppressed = suppressedSql(channel, profile, now, options);
  // An erased profile (erased_at set) is reachable nowhere: its email is a placeholder, its phone gone.
  return `(${profile}optout_all = 0 AND ${flag(profile, channel)} = 0 AND ${profile || 'profiles.'}erased_at IS NULL${suppressed ? ` AND NOT ${suppressed}` : ''})`;
}

/** "The profile holds a grant on the channel" (granted_<channel>, kept by the ledger's insert trigger). */
export function grantedSql(channel: ChannelOperand, profile: string): string {
  return `${column('granted', profile, channel)} = 1`;
}

/**
 * `profile`: the alias of the profiles table with its dot (`'p.'`), or `''`
 * (the table is then `profiles`, unaliased). Reachable: neither `all` nor the
 * channel opted out, AND the profile's address for the channel not
 * suppressed at `now` (see suppressedSql), AND the profile not erased, AND,
 * when the channel's basis is `opt-in` (its last `policy` event), a grant on
 * the channel. The flags and grants are NOT NULL 0/1 columns, EXISTS is never
 * NULL and optInBasisSql is never NULL, so the negation is exact.
 */
export function reachableSql(channel: ChannelOperand, profile: string, now: string, options: ReachableOptions = {}): string {
  const base = reachableButForBasisSql(channel, profile, now, options);
  return `(${base} AND (NOT (${optInBasisSql(channel)}) OR ${grantedSql(channel, profile)}))`;
}

/** Exactly the profiles `reachableSql` leaves out. */
export function unreachableSql(channel: ChannelOperand, profile: string, now: string): string {
  return `NOT ${reachableSql(channel, profile, now)}`;
}

/** The SQL form of the domain's `isOptedOut`: `all` itself for `all`, else the channel's flag or `all`. */
export function optedOutSql(channel: Channel, profile = ''): string {
  return channel === 'all' ? `${profile}optout_all = 1` : `(${profile}optout_all = 1 OR ${flag(profile, channel)} = 1)`;
}
