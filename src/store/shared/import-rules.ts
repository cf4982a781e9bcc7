/**
 * The import plan's rules, written once for both stores. Staged rows carry
 * two masks (see StagedBatch in src/consent/bulk.ts): bit i < CHANNELS.length
 * is the opt-out of CHANNELS[i], the bits above are the file's
 * `subscribe_<service>` columns. The SQL expressions use only integer
 * operators that SQLite and PostgreSQL spell alike (`&`, `|`, `~`, `<<`, `>>`).
 */
import type { ImportCounts } from '../../consent/bulk.js';
import { CHANNELS } from '../../consent/channels.js';

export const ALL_BITS = (1 << CHANNELS.length) - 1;
/** Subscription bits sit above the opt-out bits in the staged masks. */
export const SUB_SHIFT = CHANNELS.length;

/**
 * Folding the rows of an email given more than once: an opt-out in any row
 * wins over a row clearing it; for subscriptions an unsubscribe (`0`) in any
 * row wins, so those clear bits stay. `set` and `clear` are the OR of the
 * rows' masks; text fields take the last non-empty value in file order.
 */
export function foldedClear(set: number, clear: number): number {
  return (clear & ~set & ALL_BITS) | (clear & ~ALL_BITS);
}

/** foldedClear as a SQL expression over two integer expressions. */
export function foldedClearSql(set: string, clear: string): string {
  return `((${clear} & ~(${set}) & ${ALL_BITS}) | (${clear} & ~${ALL_BITS}))`;
}

/**
 * The flags a profile will have (`curm`: its current mask, 0 for a new one):
 * an opt-out in the file is set; a cleared one only with --allow-optin; a flag
 * the file asks to set and clear (duplicates) stays set.
 */
export function newMaskSql(allowOptin: boolean, curm = 'curm', setm = 'setm', clearm = 'clearm'): string {
  return `((${curm} | (${setm} & ${ALL_BITS})) & ~(${clearm} & ~(${setm}) & ${allowOptin ? ALL_BITS : 0}))`;
}

/**
 * Whether a planned profile changes: its flags, or a text field the file
 * gives (an empty cell leaves the field as is). `isDistinct` is the
 * dialect's null-safe inequality (`IS NOT` in SQLite, `IS DISTINCT FROM` in PostgreSQL).
 */
export function changedSql(isDistinct: string): string {
  return `(newm <> curm
      OR (phone IS NOT NULL AND phone ${isDistinct} cur_phone)
      OR (first_name IS NOT NULL AND first_name ${isDistinct} cur_first_name)
      OR (last_name IS NOT NULL AND last_name ${isDistinct} cur_last_name))`;
}

/** The profile's flags (`<p>.optout_<channel>`, 0 or 1) as a mask. */
export function currentMaskSql(p: string): string {
  return CHANNELS.map((c, i) => `(${p}.optout_${c} << ${i})`).join(' | ');
}

/** Number of bits set among the opt-out bits of a mask expression. */
export function popcountSql(x: string): string {
  return CHANNELS.map((_, i) => `((${x} >> ${i}) & 1)`).join(' + ');
}

/** The channel registry as a SQL table expression (bit, name): bit i is CHANNELS[i]. */
export const CHANNEL_BITS = `(SELECT column1 AS bit, column2 AS name FROM (VALUES ${CHANNELS.map((c, i) => `(${i}, '${c}')`).join(', ')}) cb)`;

/** The opt-out counts an import reports, from the plan's masks: set, cleared, and refused (kept set without --allow-optin). */
export const FLAG_COUNTS_SQL = (from: string) =>
  `SELECT coalesce(sum(${popcountSql('(newm & ~curm)')}), 0), coalesce(sum(${popcountSql('(curm & ~newm)')}), 0),
     coalesce(sum(${popcountSql('(clearm & curm & newm)')}), 0)
   FROM ${from} WHERE newm <> curm OR (clearm & curm & newm) <> 0`;

/**
 * What a plan row's subscription bits ask of service k: 0 (unsubscribe, which
 * wins), 1 (subscribe) or null (nothing); `sub`/`unsub` are the masks shifted by SUB_SHIFT.
 */
export function wantedSubscription(sub: number, unsub: number, k: number): 0 | 1 | null {
  return (unsub >> k) & 1 ? 0 : (sub >> k) & 1 ? 1 : null;
}

export const ZERO_FLAG_COUNTS = {
  optOutsSet: 0, optInsApplied: 0, optInsNotApplied: 0,
  subscriptionsSet: 0, subscriptionsPending: 0, unsubscribed: 0, subscriptionsNotApplied: 0, erasedAddresses: 0, events: 0, grantEvents: 0, phoneChanges: 0,
} as const;

/**
 * The ledger events an import's counts stand for: one per opt-out flag set or
 * cleared, one per subscription set, requested or unsubscribed. What a dry run
 * reports as `events` (a real run counts the events it wrote, which is the same).
 */
export function plannedEvents(c: Pick<ImportCounts, 'optOutsSet' | 'optInsApplied' | 'subscriptionsSet' | 'subscriptionsPending' | 'unsubscribed'>): number {
  return c.optOutsSet + c.optInsApplied + c.subscriptionsSet + c.subscriptionsPending + c.unsubscribed;
}
