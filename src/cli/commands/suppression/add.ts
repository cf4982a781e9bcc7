import { invalid } from '../../../consent/errors.js';
import { isValidReason, parseExpiry, type SuppressionAddResult } from '../../../consent/suppressions.js';
import type { CommandContext } from '../../context.js';
import { parseTargets } from './targets.js';

export function checkReason(raw: unknown): string {
  const reason = String(raw).trim();
  if (!isValidReason(reason)) {
    throw invalid(`--reason "${String(raw)}" is not a reason.`, 'Use lower-case letters, digits and hyphens, e.g. hard-bounce, complaint, unsubscribe, manual.');
  }
  return reason;
}

export async function add(ctx: CommandContext, raw: string[], o: Record<string, unknown>): Promise<void> {
  const reason = checkReason(o.reason);
  const now = ctx.nowIso();
  let expiresAt: string | null = null;
  if (typeof o.expires === 'string') {
    expiresAt = parseExpiry(o.expires, now);
    if (!expiresAt) throw invalid(`--expires "${o.expires}" is neither a duration (90d, 12h, 2w) nor a future ISO 8601 time.`);
  }
  const note = typeof o.note === 'string' && o.note.trim() !== '' ? o.note.trim() : null;
  const targets = await parseTargets(ctx, raw, o);
  const store = await ctx.store();
  const results = await store.suppressions.add(
    targets.map((t) => ({ ...t, reason, note, expiresAt })),
    ctx.change('operator'),
  );
  if (o.json) return ctx.json(addSummary(results));
  for (const r of results) ctx.print(describeAdd(r));
}

export function addSummary(results: readonly SuppressionAddResult[]) {
  const count = (o: string) => results.filter((r) => r.outcome === o).length;
  return {
    added: count('added'),
    replaced: count('replaced'),
    already: count('already'),
    entries: results.map((r) => ({ outcome: r.outcome, ...r.entry })),
  };
}

function describeAdd(r: SuppressionAddResult): string {
  const e = r.entry;
  const what = `${e.address} on ${e.channel}`;
  const until = e.expiresAt ? ` until ${e.expiresAt}` : '';
  if (r.outcome === 'already') return `Already suppressed: ${what} (${e.reason}, ${e.origin}, since ${e.createdAt}${until}). Nothing recorded.`;
  return `${r.outcome === 'added' ? 'Suppressed' : 'Suppressed (replacing a weaker entry)'} ${what}: ${e.reason}${until}.`;
}
