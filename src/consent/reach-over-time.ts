/**
 * Reachability over time (the report's "reachable audience per channel"):
 * at each point (a moment: a ledger position N and a time T, as `--as-of T`
 * takes them), the count `profile list --reachable c --as-of T` gives, without
 * a full replay per point. The stores give, in a few set-based statements:
 *
 * - `buckets`: every profile per (state mask now, first quiet point): a
 *   profile is quiet at point k when it was created by T_k and has no
 *   decisive event of its own (optin, optout, erase, address) after N_k, so that its
 *   flags, grants and erasure at N_k are its columns now;
 * - `suppressed[k][c]`: the profiles whose address for c was suppressed at
 *   point k (the as-of engine's list of keys in force, joined to profiles), with
 *   their state mask and first quiet point;
 * - `changed[k][c]`: how many of the profiles NOT quiet at k (created by T_k,
 *   with a decisive event after N_k) the as-of predicate itself finds
 *   reachable (reachableAtSql, restricted to them).
 *
 * Count at k on c = the quiet profiles the rule admits now under the bases of
 * point k (`reachability`, the domain mirror), less the quiet ones suppressed
 * at k that it admits, plus `changed[k][c]`.
 */
import { CONTACT_CHANNELS, type ContactChannel } from './channels.js';
import type { Bases } from './policy.js';
import { reachability } from './profile.js';
import { decodeState } from './stats.js';

export interface QuietGroup {
  mask: number;
  /** The first point at which these profiles are quiet (points.length: none). */
  quietFrom: number;
  count: number;
}

/** How many profiles existed at each point without being quiet there (the ones the as-of predicate replays): `buckets` with their first existing point. */
export function changedCounts(buckets: readonly (QuietGroup & { existsFrom: number })[], points: number): number[] {
  const out = new Array<number>(points).fill(0);
  for (const b of buckets) for (let k = b.existsFrom; k < Math.min(b.quietFrom, points); k++) out[k]! += b.count;
  return out;
}

export interface ReachOverTimeInput {
  /** The bases in force at each point's position. */
  bases: readonly Bases[];
  buckets: readonly QuietGroup[];
  /** Per point, per suppressible channel: the suppressed profiles (count 1 each, or grouped). */
  suppressed: readonly Partial<Record<ContactChannel, readonly QuietGroup[]>>[];
  changed: readonly Record<ContactChannel, number>[];
}

export function reachableOverTime(input: ReachOverTimeInput): Record<ContactChannel, number[]> {
  const out = Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, input.bases.map(() => 0)])) as Record<ContactChannel, number[]>;
  const admits = (mask: number, bases: Bases) => {
    const s = decodeState(mask);
    return reachability(s.optOut, [], s.erased ? 'erased' : null, { bases, granted: s.granted });
  };
  input.bases.forEach((bases, k) => {
    const memo = new Map<number, ReturnType<typeof admits>>();
    const at = (mask: number) => memo.get(mask) ?? memo.set(mask, admits(mask, bases)).get(mask)!;
    for (const g of input.buckets) {
      if (g.quietFrom > k) continue;
      const r = at(g.mask);
      for (const c of CONTACT_CHANNELS) if (r[c]) out[c][k]! += g.count;
    }
    for (const c of CONTACT_CHANNELS) {
      for (const g of input.suppressed[k]?.[c] ?? []) if (g.quietFrom <= k && at(g.mask)[c]) out[c][k]! -= g.count;
      out[c][k]! += input.changed[k]?.[c] ?? 0;
    }
  });
  return out;
}
