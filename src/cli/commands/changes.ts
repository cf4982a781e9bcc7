import { Option, type Command } from 'commander';
import type { Act } from '../run.js';

export function registerChanges(program: Command, act: Act): void {
  program
    .command('changes')
    .description('the change feed: every ledger event after a cursor, in ledger order, with whether the person may be contacted after it (then the next cursor)')
    .option('--since <cursor>', 'start after this cursor (as a previous run printed it); default: the first event')
    .option('--follow', 'keep streaming new events until SIGINT/SIGTERM (within a second of their commit)')
    .option('--channel <channel>', "only this channel's events (with those of `all`, which apply to every channel); reachableAfter is then for it")
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
    .action(act(async (ctx, _a, o) => (await import('./changes/run.js')).changes(ctx, o)));
}
