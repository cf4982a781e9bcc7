import { operatorSubscription, requireProfile, requireService } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';
import { blockedNotice, suppressedNotice } from './blocked.js';

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
  // The subscription is recorded (it is the person's wish), but an opt-out wins: say so plainly.
  if ((r.after === 'subscribed' || r.after === 'pending') && (r.blockedBy.length > 0 || r.suppressedBy)) {
    const what =
      r.after === 'pending'
        ? `they will not receive ${service.name} (${service.channel}), nor its confirmation mail,`
        : `they will not receive ${service.name} (${service.channel})`;
    if (r.blockedBy.length > 0) ctx.notice(blockedNotice(profile, r.blockedBy, what));
    if (r.suppressedBy) ctx.notice(suppressedNotice(r.suppressedBy, what));
  }
  if (o.json) ctx.json(r);
}
