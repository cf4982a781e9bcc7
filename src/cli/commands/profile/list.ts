import type { Channel, ContactChannel } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import { checkProfileFilter, describeProfile, requireService } from '../../../consent/operations.js';
import type { CommandContext } from '../../context.js';

export async function run(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  let limit: number | undefined;
  if (o.limit !== undefined) {
    limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw invalid(`--limit must be a whole number of at least 1, not "${String(o.limit)}".`);
  }
  const filter = checkProfileFilter({
    reachable: o.reachable as ContactChannel | undefined,
    unreachable: o.unreachable as ContactChannel | undefined,
    optedOut: o.optedOut as Channel | undefined,
    subscribed: o.subscribed as string | undefined,
    limit,
  });
  const store = await ctx.store();
  // Checked before the first byte: on an error stdout stays empty, even with --json.
  if (typeof o.subscribed === 'string') await requireService(store, o.subscribed);
  const profiles = store.listProfiles(filter);
  if (o.json) {
    // Streamed as one JSON array, so a large list never sits whole in memory.
    let first = true;
    ctx.deps.stdout.write('[');
    for await (const p of profiles) {
      ctx.deps.stdout.write((first ? '\n' : ',\n') + JSON.stringify(await describeProfile(store, p)));
      first = false;
    }
    ctx.deps.stdout.write(first ? ']\n' : '\n]\n');
    return;
  }
  const rows: string[][] = [];
  for await (const p of profiles) {
    const out = Object.entries(p.optOut)
      .filter(([, v]) => v)
      .map(([c]) => c);
    rows.push([String(p.id), p.email, p.phone ?? '', [p.firstName, p.lastName].filter(Boolean).join(' '), out.join(',') || '-']);
  }
  if (rows.length === 0) return ctx.notice('No profiles match.');
  await ctx.table(['id', 'email', 'phone', 'name', 'opted out'], rows);
}
