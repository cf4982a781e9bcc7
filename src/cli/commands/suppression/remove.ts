import { notFound } from '../../../consent/errors.js';
import type { CommandContext } from '../../context.js';
import { parseTargets } from './targets.js';

export async function remove(ctx: CommandContext, raw: string[], o: Record<string, unknown>): Promise<void> {
  const why = String(o.reason).trim();
  const targets = await parseTargets(ctx, raw, o);
  const store = await ctx.store();
  // A complaint or erasure entry among them without --force: an `invalid` error (exit 2), nothing lifted.
  const results = await store.suppressions.lift(targets, ctx.change('operator', why || null), { force: Boolean(o.force) });
  const lifted = results.filter((r) => r.outcome === 'lifted');
  if (lifted.length === 0) {
    throw notFound(
      `${[...new Set(targets.map((t) => t.address))].join(', ')} ${targets.length === 1 ? 'is' : 'are'} not on the suppression list (${[...new Set(targets.map((t) => t.channel))].join(', ')}). Nothing was changed.`,
      'See `consent suppression list`.',
    );
  }
  if (o.json) {
    return ctx.json({
      lifted: lifted.length,
      absent: results.length - lifted.length,
      entries: results.map((r, i) => ({ outcome: r.outcome, channel: targets[i]!.channel, address: targets[i]!.address, reason: r.entry?.reason ?? null })),
    });
  }
  results.forEach((r, i) => {
    const t = targets[i]!;
    if (r.outcome === 'lifted') ctx.print(`Lifted ${t.address} on ${t.channel} (was ${r.entry!.reason} since ${r.entry!.createdAt}${o.force ? ', forced' : ''}).`);
    else ctx.notice(`${t.address} was not suppressed on ${t.channel}.`);
  });
}
