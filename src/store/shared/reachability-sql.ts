/**
 * The SQL form of the domain's `isReachable` (src/consent/profile.ts): the one
 * predicate "this profile may be contacted on this channel" that every query
 * of either store uses (both read this one file) (the `reachable`, `unreachable` and `subscribed` filters,
 * the services' `receiving` counts, the confirmation mailing). A later rule of
 * reachability is added here, once, and `unreachable` (its negation) follows.
 * test/reachability-partition.test.ts checks it against the domain function.
 */
import { CONTACT_CHANNELS, type Channel, type ContactChannel } from '../../consent/channels.js';

/** A channel known when the SQL is built, or an SQL expression holding a channel name (e.g. `v.channel`). */
export type ChannelOperand = ContactChannel | { sql: string };

function flag(profile: string, channel: ChannelOperand): string {
  if (typeof channel === 'string') {
    // Interpolated into SQL: only ever a name from the channel list.
    if (!(CONTACT_CHANNELS as readonly string[]).includes(channel)) throw new Error(`not a contact channel: ${channel}`);
    return `${profile}optout_${channel}`;
  }
  return `CASE ${channel.sql} ${CONTACT_CHANNELS.map((c) => `WHEN '${c}' THEN ${profile}optout_${c}`).join(' ')} END`;
}

/**
 * `profile`: the alias of the profiles table with its dot (`'p.'`), or `''`.
 * The flags are NOT NULL 0/1 columns, so the negation is exact.
 */
export function reachableSql(channel: ChannelOperand, profile = ''): string {
  return `(${profile}optout_all = 0 AND ${flag(profile, channel)} = 0)`;
}

/** Exactly the profiles `reachableSql` leaves out. */
export function unreachableSql(channel: ChannelOperand, profile = ''): string {
  return `NOT ${reachableSql(channel, profile)}`;
}

/** The SQL form of the domain's `isOptedOut`: `all` itself for `all`, else the channel's flag or `all`. */
export function optedOutSql(channel: Channel, profile = ''): string {
  return channel === 'all' ? `${profile}optout_all = 1` : `(${profile}optout_all = 1 OR ${flag(profile, channel)} = 1)`;
}
