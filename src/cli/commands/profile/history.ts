import { describeEvent, requireProfile } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';

export async function run(ctx: CommandContext, ref: string, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const profile = await requireProfile(store, parseRef(ref));
  const events = (await store.history(profile.id)).map(describeEvent);
  if (o.json) return ctx.json(events);
  if (events.length === 0) return ctx.notice(`No consent changes recorded for ${profile.email}.`);
  await ctx.table(
    ['when', 'channel', 'action', 'source', 'actor', 'reason'],
    events.map((e) => [e.occurredAt, e.channel, e.action, e.source, e.actor, e.reason ?? '']),
  );
}
