import { CONTACT_CHANNELS, type ContactChannel } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import { parseBasis, setPolicy } from '../../../consent/policy.js';
import type { CommandContext } from '../../context.js';

export async function show(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const policy = await store.policy.current();
  const channels = CONTACT_CHANNELS.map((c) => policy[c]);
  if (o.json) return ctx.json({ channels });
  await ctx.table(
    ['channel', 'basis', 'since', 'event', 'reason'],
    channels.map((p) => [p.channel, p.basis, p.since ?? '(default)', p.eventId === null ? '-' : String(p.eventId), p.reason ?? '-']),
  );
}

export async function set(ctx: CommandContext, channel: string, basis: string, o: Record<string, unknown>): Promise<void> {
  const reason = typeof o.reason === 'string' ? o.reason.trim() : '';
  if (!reason && o.dryRun !== true) {
    throw invalid('policy set needs --reason: a change of basis is kept in the ledger with why it was made.', 'e.g. --reason "CNIL: prior consent for marketing SMS"');
  }
  const to = parseBasis(basis);
  const context = ctx.change('operator', reason || null);
  const store = await ctx.store();
  const change = await setPolicy(store.policy, channel as ContactChannel, to, context, { dryRun: o.dryRun === true });
  const count =
    to === 'opt-in'
      ? `${change.becomeUnreachable} profile(s) without a grant on ${channel} would become unreachable there`
      : `${change.becomeReachable} profile(s) without a grant on ${channel} would become reachable there`;
  if (change.from === to) ctx.notice(`Nothing changed: ${channel} is already ${to}. No ledger entry was written.`);
  if (o.json) return ctx.json({ ...change, dryRun: o.dryRun === true });
  if (change.from === to) return;
  if (o.dryRun) ctx.print(`Dry run: ${channel} ${change.from} → ${to}: ${count}. Nothing was written.`);
  else ctx.print(`${channel}: ${change.from} → ${to} (event ${change.eventId}): ${count.replace(' would become', ' became')}.`);
}
