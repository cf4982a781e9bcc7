import { invalid } from '../../../consent/errors.js';
import { requireProfile, requireService } from '../../../consent/operations.js';
import { parseRef, reachability } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';

export async function run(
  ctx: CommandContext,
  verb: 'subscribe' | 'unsubscribe',
  ref: string,
  serviceName: string,
  o: Record<string, unknown>,
): Promise<void> {
  const reason = typeof o.reason === 'string' ? o.reason : null;
  if (o.confirmed && !reason) {
    throw invalid('--confirmed needs --reason: the operator\'s statement is the proof of consent.', 'e.g. --reason "signed paper form, 2026-11-02"');
  }
  const store = await ctx.store();
  const profile = await requireProfile(store, parseRef(ref));
  const service = await requireService(store, serviceName);
  const intent = verb === 'unsubscribe' ? 'unsubscribe' : o.confirmed ? 'subscribe' : 'request';
  const evidence = o.confirmed ? { proof: 'operator-statement', statement: reason } : null;
  const [result] = await store.services.change(
    [{ profileId: profile.id, service: service.name, intent }],
    ctx.change('operator', reason, evidence),
  );
  const r = result!;
  if (!r.action) ctx.notice(`Nothing changed: ${profile.email} is already ${r.before ?? 'not subscribed'} for ${service.name}. No ledger entry was written.`);
  else if (!o.json) ctx.print(`${profile.email}: ${service.name} ${r.before ?? 'none'} -> ${r.after}.`);
  if (r.after === 'pending' && r.action) ctx.notice(`${service.name} needs double opt-in: the subscription stays pending until ${profile.email} confirms (see \`consent service confirmations\`).`);
  if (r.after === 'subscribed' && !reachability(profile.optOut)[service.channel]) {
    ctx.notice(`Note: ${profile.email} is opted out of ${service.channel}; the opt-out wins and ${service.name} will not be sent.`);
  }
  if (o.json) ctx.json(r);
}
