import { cancelled, invalid } from '../../../consent/errors.js';
import { describeProfile, requireProfile } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';

/** `profile erase <ref> --reason R [--yes]`: GDPR art. 17 (see ConsentStore.eraseProfile). */
export async function run(ctx: CommandContext, ref: string, o: Record<string, unknown>): Promise<void> {
  const reason = typeof o.reason === 'string' ? o.reason.trim() : '';
  if (!reason) throw invalid('An erasure needs --reason: the ledger records why.', 'Give one, e.g. --reason "GDPR request 2026-118".');
  const store = await ctx.store();
  const profile = await requireProfile(store, parseRef(ref));
  // The ledger never holds an address in clear: a reason that names it would put it there for good.
  const leaks = [profile.email, profile.phone, profile.phone?.slice(1)].filter((x): x is string => Boolean(x));
  if (leaks.some((x) => reason.toLowerCase().includes(x.toLowerCase()))) {
    throw invalid('The --reason names the email or phone being erased; the ledger keeps reasons forever.', 'Give a reason without it, e.g. a ticket number.');
  }
  if (!o.yes && profile.erasedAt === null) {
    const prompter = ctx.prompter('pass --yes to erase a profile (its email, phone and names are removed for good)');
    ctx.notice(`Profile ${profile.id}'s email, phone and names will be removed for good; its flags, subscriptions and ledger stay, and its addresses stay unreachable.`);
    if (!(await prompter.confirm(`Erase profile ${profile.id}?`, false))) throw cancelled(`Profile ${profile.id} is not erased.`);
  }
  const result = await store.eraseProfile(profile.id, ctx.change('operator', reason));
  if (o.json) return ctx.json({ ...(await describeProfile(store, result.profile)), keptAsKeyedHash: result.suppressions.map((s) => s.entry.channel) });
  ctx.notice(
    `Profile ${profile.id} is erased: its email, phone and names are gone; its addresses stay unreachable (kept as keyed hashes on ${result.suppressions
      .map((s) => s.entry.channel)
      .join(', ')}).`,
  );
}
