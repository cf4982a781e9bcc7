import { Option, type Command } from 'commander';
import type { Act } from '../run.js';

export function registerStats(program: Command, act: Act): void {
  program
    .command('stats')
    .description('an overview: profiles; per channel reachable, opted out, suppressed, erased; per service subscribed and pending; opt-outs and opt-ins of a period by source')
    .option('--since <period>', 'the period of the opt-out and opt-in counts: days or weeks before now, e.g. 30d, 12w', '30d')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await import('./stats/stats.js')).stats(ctx, o)));

  program
    .command('report')
    .description('one self-contained HTML file of charts (opt-outs per week by channel and source, reachable audience over time, subscriptions, unsubscribe reasons, time to record an opt-out), or the same series as CSV')
    .option('--out <file>', 'the file to write (required for html; csv goes to stdout without it)')
    .option('--since <period>', 'the period shown: days or weeks before now, e.g. 90d, 13w', '90d')
    .addOption(new Option('--lang <lang>', 'the language of the HTML report').choices(['en', 'fr']).default('en'))
    .addOption(new Option('--format <format>', 'html, or csv: series,period,key,value').choices(['html', 'csv']).default('html'))
    .option('--json', 'print what was written (file, format, bytes, period) as JSON (needs --out)')
    .action(act(async (ctx, _a, o) => (await import('./stats/report.js')).report(ctx, o)));
}
