import { CONTACT_CHANNELS } from '../../../consent/channels.js';
import { overview, periodStart, SOURCE_KINDS, type ChangeRow, type Overview, type ProfileCounts } from '../../../consent/stats.js';
import type { ServiceSummary } from '../../../consent/services.js';
import type { ConsentStore } from '../../../consent/store.js';
import type { CommandContext } from '../../context.js';

/** Today's counts and the period's changes, from one store. */
export async function loadOverview(store: ConsentStore, at: string, since: string): Promise<{ view: Overview; counts: ProfileCounts; services: ServiceSummary[]; changes: ChangeRow[] }> {
  // Independent reads: on PostgreSQL each runs on its own connection, at once.
  const [counts, services, changes] = await Promise.all([store.stats.profileCounts(), store.services.list(), store.stats.changes(since, at)]);
  return { view: overview(at, since, counts, services, changes), counts, services, changes };
}

export async function stats(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const at = ctx.nowIso();
  const since = periodStart(String(o.since), ctx.deps.now());
  const { view } = await loadOverview(await ctx.store(), at, since);
  if (o.json) return ctx.json(view);
  const n = (x: number | null) => (x === null ? '-' : x.toLocaleString('en-US'));
  ctx.print(`${n(view.profiles)} profiles (${n(view.erased)} erased; ${n(view.optedOutAll)} opted out of every channel).`);
  await ctx.table(
    ['channel', 'reachable', 'opted out', 'suppressed', 'erased'],
    CONTACT_CHANNELS.map((c) => {
      const k = view.channels[c];
      return [c, n(k.reachable), n(k.optedOut), n(k.suppressed), n(k.erased)];
    }),
  );
  if (view.services.length > 0) {
    await ctx.table(['service', 'channel', 'subscribed', 'pending', 'receiving'], view.services.map((s) => [s.name, s.channel, n(s.subscribed), n(s.pending), n(s.receiving)]));
  }
  ctx.print(`Since ${since}: ${n(view.period.optOuts.total)} opt-outs, ${n(view.period.optIns.total)} opt-ins.`);
  await ctx.table(['source', 'opt-outs', 'opt-ins'], SOURCE_KINDS.map((k) => [k, n(view.period.optOuts.bySource[k]), n(view.period.optIns.bySource[k])]));
}
