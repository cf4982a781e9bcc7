import { invalid } from '../../../consent/errors.js';
import { receiveSms, type InboundSms, type InboundSummary } from '../../../consent/sms-inbound.js';
import { checkSmsFields, parseSmsFile } from '../../../imports/sms-file.js';
import type { CommandContext } from '../../context.js';

/** The summary's counts by outcome, in a stable order. */
function outcomes(summary: InboundSummary): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of summary.results) if (!r.duplicate) counts[r.message.outcome] = (counts[r.message.outcome] ?? 0) + 1;
  return counts;
}

export async function inbound(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const provider = String(o.provider ?? 'cli').trim();
  if (!/^[\w.+-]{1,64}$/.test(provider)) throw invalid(`--provider must be a short name (letters, digits, . _ + -), not "${String(o.provider)}".`);
  let messages: (InboundSms & { line?: number })[];
  if (typeof o.file === 'string') {
    if (o.from !== undefined || o.body !== undefined) throw invalid('--file and --from/--body are two ways of giving messages: give one.');
    messages = parseSmsFile(await ctx.readInput(o.file), o.file, provider);
  } else {
    if (o.from === undefined || o.body === undefined) throw invalid('Give the message with --from <E.164> and --body <text> (or a file with --file).');
    const r = checkSmsFields({ from: o.from, body: o.body, received_at: o.at ?? ctx.nowIso(), to: o.to, message_id: o.messageId }, 0, provider);
    if ('errors' in r) {
      const flag: Record<string, string> = { from: '--from', body: '--body', received_at: '--at', to: '--to', message_id: '--message-id' };
      throw invalid(r.errors.map((e) => `${flag[e.column] ?? e.column} ${e.reason}.`).join(' '));
    }
    messages = [r.message];
    delete messages[0]!.line;
  }
  const store = await ctx.store();
  const summary = await receiveSms(store, messages, { now: ctx.deps.now(), dryRun: Boolean(o.dryRun) });
  const duplicates = summary.results.filter((r) => r.duplicate).length;
  const view = {
    dryRun: summary.dryRun,
    messages: messages.length,
    recorded: summary.dryRun ? 0 : messages.length - duplicates,
    duplicates,
    changes: summary.changes,
    purged: summary.purged,
    outcomes: outcomes(summary),
    results: summary.results.map((r, i) => ({
      ...(messages[i]!.line !== undefined ? { line: messages[i]!.line } : {}),
      id: r.message.id,
      messageId: r.message.messageId,
      outcome: r.message.outcome,
      keyword: r.message.keyword,
      changes: r.message.changes,
      reply: r.message.reply,
      duplicate: r.duplicate,
    })),
  };
  if (o.json) return ctx.json(view);
  const by = Object.entries(view.outcomes).map(([k, n]) => `${n} ${k}`).join(', ') || 'none new';
  const verb = summary.dryRun ? 'Would record' : 'Recorded';
  ctx.print(
    `${verb} ${view.dryRun ? messages.length - duplicates : view.recorded} message${messages.length - duplicates === 1 ? '' : 's'} (${by})` +
      `${duplicates ? `, ${duplicates} already recorded` : ''}${summary.dryRun ? '' : `: ${summary.changes} consent change${summary.changes === 1 ? '' : 's'}`}.`,
  );
  if (messages.length === 1 && view.results[0]!.reply) ctx.print(`Reply: ${view.results[0]!.reply}`);
}
