import { Argument, type Command } from 'commander';
import { CONTACT_CHANNELS } from '../../consent/channels.js';
import { BASES } from '../../consent/policy.js';
import type { Act } from '../run.js';

export function registerPolicy(program: Command, act: Act): void {
  const policy = program.command('policy').description("each channel's consent basis: opt-out (reachable unless opted out) or opt-in (reachable only with a grant)");

  policy
    .command('show')
    .description('the basis of every contact channel, since when, and the ledger event that set it')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await import('./policy/run.js')).show(ctx, o)));

  policy
    .command('set')
    .description("set a channel's basis (a ledger event of the store; no profile's flags change, only what they mean)")
    .addArgument(new Argument('<channel>', 'a contact channel').choices(CONTACT_CHANNELS))
    .addArgument(new Argument('<basis>', 'opt-in or opt-out').choices(BASES))
    .option('--reason <text>', 'why (required), kept in the ledger')
    .option('--dry-run', 'only say how many profiles would become unreachable (or reachable); write nothing')
    .option('--json', 'print the counts (and the event written) as JSON')
    .action(act(async (ctx, [channel, basis], o) => (await import('./policy/run.js')).set(ctx, channel!, basis!, o)));
}
