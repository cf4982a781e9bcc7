import { invalid } from '../../../consent/errors.js';
import { retentionCutoff } from '../../../consent/sms-inbound.js';
import { effectiveSmsSettings, type SmsMessage } from '../../../consent/sms.js';
import type { CommandContext } from '../../context.js';

export function parseLimit(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const s = String(raw);
  if (!/^\d{1,9}$/.test(s)) throw invalid(`--limit must be a whole number, not "${s}".`);
  return Number(s);
}

/** A message as a table row: the sender only as the start of its keyed hash. */
export function messageRow(m: SmsMessage): string[] {
  const body = m.body === null ? '(removed)' : m.body.replace(/\s+/g, ' ').slice(0, 60);
  return [String(m.id), m.receivedAt, m.fromKey.slice(0, 12), m.outcome, m.keyword ?? '', String(m.changes), m.review ? m.review.status : '', m.messageId ?? '', body];
}

export const MESSAGE_HEAD = ['id', 'received', 'from (key)', 'outcome', 'keyword', 'changes', 'review', 'message id', 'body'];

export async function log(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const limit = parseLimit(o.limit);
  const store = await ctx.store();
  if (o.purge) {
    const s = effectiveSmsSettings(await store.sms.settings());
    const n = await store.sms.purgeBodies(retentionCutoff(ctx.deps.now(), s));
    ctx.notice(`Removed the bodies of ${n} message${n === 1 ? '' : 's'} received more than ${s.retentionDays} days ago.`);
  }
  const messages = await store.sms.list({ limit });
  if (o.json) return ctx.json(messages);
  if (messages.length === 0) return ctx.notice('No SMS messages yet.');
  await ctx.table(MESSAGE_HEAD, messages.map(messageRow));
}
