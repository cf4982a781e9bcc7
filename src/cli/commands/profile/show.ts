import { CHANNEL_INFO, CHANNELS, CONTACT_CHANNELS } from '../../../consent/channels.js';
import { describeProfile, requireProfile, type ProfileView } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';

export async function run(ctx: CommandContext, ref: string, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const view = await describeProfile(store, await requireProfile(store, parseRef(ref)));
  if (o.json) return ctx.json(view);
  await printProfile(ctx, view);
}

export async function printProfile(ctx: CommandContext, v: ProfileView): Promise<void> {
  const s = await ctx.style();
  const name = [v.firstName, v.lastName].filter(Boolean).join(' ');
  ctx.print(
    [
      `${s.bold(`Profile ${v.id}`)}  ${v.email}${name ? `  (${name})` : ''}`,
      `phone: ${v.phone ?? '-'}   created: ${v.createdAt}   updated: ${v.updatedAt}`,
      '',
      s.bold('No longer contact (on blocklist)'),
    ].join('\n'),
  );
  await ctx.table(
    ['flag', 'set', 'last changed', 'how'],
    CHANNELS.map((c) => {
      const last = v.lastChanged[c];
      return [
        CHANNEL_INFO[c].label.en,
        v.optOut[c] ? s.red('[x] yes') : '[ ] no',
        last ? last.occurredAt : '-',
        last ? `${last.action} by ${last.actor} (${last.source})` : '-',
      ];
    }),
  );
  const reach = CONTACT_CHANNELS.map((c) => (v.reachable[c] ? s.green(c) : s.dim(`${c}: no`)));
  ctx.print(`Reachable: ${reach.join('  ')}`);
  if (v.subscriptions.length > 0) {
    ctx.print(`Subscriptions: ${v.subscriptions.map((x) => `${x.service} (${x.status} since ${x.since})`).join(', ')}`);
  }
}
