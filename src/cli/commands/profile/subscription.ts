import { operatorSubscription, requireProfile, requireService } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';

export async function run(
  ctx: CommandContext,
  verb: 'subscribe' | 'unsubscribe',
  ref: string,
  serviceName: string,
  o: Record<string, unknown>,
): Promise<void> {
  const reason = typeof o.reason === 'string' ? o.reason : null;
  const store = await ctx.store();
  const profile = await requireProfile(store, parseRef(ref));
  const service = await requireService(store, serviceName);
  const r = await operatorSubscription(store, profile, service, verb, { confirmed: Boolean(o.confirmed) }, ctx.change('operator', reason));
  if (!r.action) ctx.notice(`Nothing changed: ${profile.email} is already ${r.before ?? 'not subscribed'} for ${service.name}. No ledger entry was written.`);
  else if (!o.json) ctx.print(`${profile.email}: ${service.name} ${r.before ?? 'none'} -> ${r.after}.`);
  if (r.after === 'pending' && r.action) ctx.notice(`${service.name} needs double opt-in: the subscription stays pending until ${profile.email} confirms (see \`consent service confirmations\`).`);
  if (r.after === 'subscribed' && !r.mayReceive) {
    ctx.notice(`Note: ${profile.email} is opted out of ${service.channel}; the opt-out wins and ${service.name} will not be sent.`);
  }
  if (o.json) {
    const { mayReceive: _, ...result } = r;
    ctx.json(result);
  }
}
