/**
 * The grants of an import's `consent_<channel>=1` cells, written once for
 * both stores (issue 15, design decision 2): planned from the import's plan
 * table (one row per email: setm, clearm, curm, newm, profile_id) in the
 * import's own transaction and block, with the import's context, so that the
 * flags and the grants of one import commit together or not at all.
 *
 * A `1` cell of `consent_<c>` is a clear bit of c's opt-out (see parse.ts).
 * Where it clears a flag, the flag's `optin` event is the grant (as for any
 * optin). Where the flag is clear before and after, a grant-only `optin`
 * event (it changes no flag) is recorded only when c's basis is `opt-in` and
 * the profile holds no grant on c yet: the rule of planGrants
 * (src/consent/profile.ts), as a set-based mask expression.
 */
import { CHANNELS, CONTACT_CHANNELS } from '../../consent/channels.js';
import type { Bases } from '../../consent/policy.js';
import { CHANNEL_BITS, popcountSql } from './import-rules.js';

/**
 * Of the file's `consent_<channel>` columns (`grantable`: a mask of CHANNELS
 * bits), the channels under an opt-in basis: only they may take grant-only
 * events. 0 means no grant SQL at all (a file without consent_ columns, or
 * none of its channels opt-in).
 */
export function grantEventMask(grantable: number, bases: Bases): number {
  let mask = 0;
  for (const c of CONTACT_CHANNELS) {
    const bit = 1 << CHANNELS.indexOf(c);
    if (grantable & bit && bases[c] === 'opt-in') mask |= bit;
  }
  return mask;
}

/** The grants a profile holds (`<p>.granted_<c>`) as a mask of CHANNELS bits; 0 for no profile (a new one). */
function heldGrantsSql(p: string): string {
  return CONTACT_CHANNELS.map((c) => `(coalesce(${p}.granted_${c}, 0) << ${CHANNELS.indexOf(c)})`).join(' | ');
}

/**
 * The grant-only events of a plan row (`ip`, its current profile `p`, LEFT
 * JOINed on ip.profile_id) as a mask: a `1` cell (a clear bit no row of the
 * email overrides with a set bit), on a channel of `mask`, whose flag was
 * clear (a cleared flag's optin is the grant) and stays clear, and that the
 * profile does not hold yet. Evaluated before or after the import's flag
 * events, it gives the same: those only touch the grants of channels whose
 * flag changes, which this excludes.
 */
function grantBitsSql(mask: number, ip = 'ip', p = 'p'): string {
  const m = Math.trunc(mask);
  return `(${ip}.clearm & ~${ip}.setm & ${m} & ~${ip}.curm & ~${ip}.newm & ~(${heldGrantsSql(p)}))`;
}

/**
 * profile_id, channel, service, action of the grant-only events, ordered by
 * the plan's own order then channel bit. `plan` and `profiles` are the
 * store's table names, `pid` the expression of a plan row's profile id once
 * the profiles are written, `order` the plan's order column.
 */
export function grantEventsSql(o: { plan: string; profiles: string; pid: string; order: string; mask: number }): string {
  return `SELECT x.pid, c.name, NULL, 'optin'
    FROM (SELECT ${o.pid} AS pid, ${grantBitsSql(o.mask)} AS g, ${o.order} AS ord
          FROM ${o.plan} ip LEFT JOIN ${o.profiles} p ON p.id = ip.profile_id
          WHERE ${grantBitsSql(o.mask)} <> 0) x
    CROSS JOIN ${CHANNEL_BITS} c
    WHERE ((x.g >> c.bit) & 1) = 1
    ORDER BY x.ord, c.bit`;
}

/** How many grant-only events grantEventsSql would give (a dry run's count), from the same expression. */
export function grantCountSql(o: { plan: string; profiles: string; mask: number }): string {
  return `SELECT coalesce(sum(${popcountSql('x.g')}), 0) AS n
    FROM (SELECT ${grantBitsSql(o.mask)} AS g FROM ${o.plan} ip LEFT JOIN ${o.profiles} p ON p.id = ip.profile_id
          WHERE ${grantBitsSql(o.mask)} <> 0) x`;
}

/**
 * Marks as changed the plan rows of existing profiles that take a grant-only
 * event: the import changes them (a grant), so they count as updated, not
 * unchanged, and their updated_at moves, as `profile optin` does. Run after
 * the plan, before its counts (a dry run too, so that both count alike).
 */
export function markGrantedSql(o: { plan: string; profiles: string; mask: number }): string {
  return `UPDATE ${o.plan} AS ip SET changed = TRUE
    WHERE NOT ip.changed AND NOT ip.is_new
      AND EXISTS (SELECT 1 FROM ${o.profiles} p WHERE p.id = ip.profile_id AND ${grantBitsSql(o.mask)} <> 0)`;
}
