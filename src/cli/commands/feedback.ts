import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import type { Act } from '../run.js';

export function registerFeedback(program: Command, act: Act): void {
  const feedback = program.command('feedback').description("mailbox providers' bounces and complaints");
  feedback
    .command('ingest')
    .description('read bounces (RFC 3464 DSNs) and complaints (ARF, RFC 5965) from .eml files: suppress, opt out, count')
    .argument('<path>', 'a .eml file, a folder of them (every file in it), or - for one message on stdin')
    .option('--soft-bounces <n>', 'soft bounces of an address that suppress it', '3')
    .option('--soft-window <days>', 'within how many days those soft bounces count, e.g. 14d', '14d')
    .option('--json', 'print the counts as JSON')
    .action(act(async (ctx: CommandContext, [path], o) => (await import('./feedback/ingest.js')).ingest(ctx, path!, o)));
}
