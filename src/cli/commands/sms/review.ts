import { invalid } from '../../../consent/errors.js';
import { decideReview } from '../../../consent/sms-inbound.js';
import type { CommandContext } from '../../context.js';
import { MESSAGE_HEAD, messageRow } from './log.js';

export async function review(ctx: CommandContext, id: string | undefined, o: Record<string, unknown>): Promise<void> {
  if (id === undefined) {
    if (o.optout || o.dismiss) throw invalid('--optout and --dismiss decide one message: give its id (see `consent sms review`).');
    const pending = await (await ctx.store()).sms.list({ pendingReview: true });
    if (o.json) return ctx.json(pending);
    if (pending.length === 0) return ctx.notice('The review queue is empty.');
    return ctx.table(MESSAGE_HEAD, pending.map(messageRow));
  }
  if (!/^\d{1,9}$/.test(id)) throw invalid(`"${id}" is not a message id (a number from \`consent sms review\`).`);
  if (Boolean(o.optout) === Boolean(o.dismiss)) throw invalid('Say what to do with it: --optout (apply the opt-out rule) or --dismiss (change nothing).');
  const actor = ctx.actor();
  const { message, profiles } = await decideReview(await ctx.store(), Number(id), o.optout ? 'optout' : 'dismiss', { actor, now: ctx.deps.now() });
  if (o.json) return ctx.json({ message, profiles });
  ctx.print(
    o.optout
      ? `SMS message ${message.id}: opted out of sms (${profiles} profile${profiles === 1 ? '' : 's'} with that number, ${message.changes} change${message.changes === 1 ? '' : 's'}).`
      : `SMS message ${message.id}: dismissed, nothing changed.`,
  );
}
