import type { Command } from 'commander';
import { ConsentError, invalid } from '../../consent/errors.js';
import { applyBlocklist, planBlocklist } from '../../consent/operations.js';
import { parseRef } from '../../consent/profile.js';
import type { CommandContext } from '../context.js';
import type { Act } from '../run.js';

export function registerBlocklistAll(program: Command, act: Act): void {
  program
    .command('blocklist-all')
    .description('set "no longer contact by any channel" on each profile given')
    .argument('[refs...]', 'profile ids or emails')
    .option('--file <path>', 'read refs from a file, one per line (- for stdin; blank lines and # comments skipped)')
    .option('--reason <text>', 'why, kept in the ledger')
    .option('--dry-run', 'show what would change; write nothing')
    .option('--skip-unknown', 'blocklist the known profiles even if some refs are unknown')
    .option('--json', 'print the outcome as JSON')
    .action(act(run));
}

async function run(ctx: CommandContext, refs: string[], o: Record<string, unknown>): Promise<void> {
  const raw = [...refs];
  if (typeof o.file === 'string') {
    const text = await ctx.readInput(o.file);
    for (const line of text.split(/\r?\n/)) {
      const t = line.trim();
      if (t && !t.startsWith('#')) raw.push(t);
    }
  } else if (raw.length === 0) {
    throw invalid('No profile given.', 'Name profiles as arguments, or pass --file <path> (- for stdin).');
  }
  const parsed = raw.map((r, i) => {
    try {
      return { raw: r, ref: parseRef(r) };
    } catch {
      throw invalid(`Entry ${i + 1} ("${r}") is neither a profile id nor an email address.`);
    }
  });
  const store = await ctx.store();
  const plan = await planBlocklist(store, parsed);
  const summary = {
    dryRun: Boolean(o.dryRun),
    blocklisted: plan.toChange.map((p) => ({ id: p.id, email: p.email })),
    alreadyBlocklisted: plan.alreadyBlocked.map((p) => ({ id: p.id, email: p.email })),
    unknown: plan.unknown,
  };
  if (plan.unknown.length > 0) {
    ctx.notice(`Unknown profiles (${plan.unknown.length}):\n${plan.unknown.map((u) => `  ${u}`).join('\n')}`);
    if (!o.skipUnknown) {
      throw new ConsentError(
        'not-found',
        `${plan.unknown.length} of ${raw.length} profiles are unknown; nothing was written.`,
        'Fix them, or pass --skip-unknown to blocklist the others.',
        { details: { unknown: plan.unknown } },
      );
    }
  }
  if (!o.dryRun) await applyBlocklist(store, plan.toChange, ctx.change('operator', (o.reason as string) ?? null));
  if (o.json) return ctx.json(summary);
  const verb = o.dryRun ? 'Would blocklist' : 'Blocklisted';
  for (const p of plan.toChange) ctx.print(`${o.dryRun ? 'would blocklist' : 'blocklisted'}\t${p.id}\t${p.email}`);
  ctx.notice(
    `${verb} ${plan.toChange.length} profile(s); ${plan.alreadyBlocked.length} already blocklisted; ${plan.unknown.length} unknown.`,
  );
}
