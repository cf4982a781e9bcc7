/**
 * The consent basis in SQL (both stores): read from the ledger's last
 * `policy` event of a channel (index ledger_events_store), never from state
 * kept beside it. See src/consent/policy.ts.
 */
import { CONTACT_CHANNELS, type ContactChannel } from '../../consent/channels.js';
import { policyEvidenceText } from '../../consent/policy.js';

/** A channel known when the SQL is built, or an SQL expression holding a channel name. */
export type PolicyChannel = ContactChannel | { sql: string };

function channelSql(channel: PolicyChannel): string {
  if (typeof channel !== 'string') return channel.sql;
  // Interpolated into SQL: only ever a name from the channel list.
  if (!(CONTACT_CHANNELS as readonly string[]).includes(channel)) throw new Error(`not a contact channel: ${channel}`);
  return `'${channel}'`;
}

/**
 * "The channel's basis is opt-in": its last `policy` event's evidence is
 * exactly the text policy.ts writes for opt-in (never NULL). For a channel
 * known when the SQL is built the subquery is uncorrelated: both databases
 * evaluate it once per statement, not per row.
 */
export function optInBasisSql(channel: PolicyChannel): string {
  return `coalesce((SELECT pe.evidence FROM ledger_events pe WHERE pe.action = 'policy' AND pe.channel = ${channelSql(channel)}
    ORDER BY pe.id DESC LIMIT 1), '') = '${policyEvidenceText('opt-in')}'`;
}

/** The last `policy` event of each channel that has one (policy show). */
export const CURRENT_POLICY_SQL = `SELECT * FROM ledger_events
  WHERE id IN (SELECT max(id) FROM ledger_events WHERE action = 'policy' GROUP BY channel) ORDER BY channel`;

/** The granted_<channel> columns of profiles, in CONTACT_CHANNELS order. */
export const GRANT_COLUMNS = CONTACT_CHANNELS.map((c) => `granted_${c}`);

/** A profile's grants as one integer (bit i: CONTACT_CHANNELS[i] granted), from its columns. */
export const storedGrantMask = (p: string) => CONTACT_CHANNELS.map((c, i) => `(${p}granted_${c} << ${i})`).join(' | ');

/** The bit of a contact channel named by an SQL expression. */
export const grantBitOf = (column: string) => `CASE ${column} ${CONTACT_CHANNELS.map((c, i) => `WHEN '${c}' THEN ${1 << i}`).join(' ')} ELSE 0 END`;

/**
 * The lowest profile id whose granted_<channel> columns disagree with the
 * ledger (granted iff the last optin/optout event on the channel itself is an
 * optin), or NULL. `last` is a store's query of each (profile, contact
 * channel)'s last optin/optout event (profile_id, channel, action).
 */
export function grantMismatchSql(last: string): string {
  return `WITH last AS (${last}),
g AS (SELECT profile_id, sum(CASE WHEN action = 'optin' THEN ${grantBitOf('channel')} ELSE 0 END) AS mask FROM last GROUP BY profile_id)
SELECT min(p.id) AS pid FROM profiles p LEFT JOIN g ON g.profile_id = p.id WHERE (${storedGrantMask('p.')}) <> coalesce(g.mask, 0)`;
}

/** The events that decide grants: a profile's optin/optout events on a contact channel itself. */
export const GRANT_EVENTS_WHERE = "profile_id IS NOT NULL AND service IS NULL AND action IN ('optin', 'optout') AND channel <> 'all'";
