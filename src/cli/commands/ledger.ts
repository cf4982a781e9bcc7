import type { Command } from 'commander';
import { ConsentError } from '../../consent/errors.js';
import type { Act } from '../run.js';

export function registerLedger(program: Command, act: Act): void {
  const ledger = program.command('ledger').description('the append-only, hash-chained record of every consent change');
  ledger
    .command('verify')
    .description('check the whole hash chain; exit 6 naming the first broken event')
    .option('--json', 'print the result as JSON')
    .action(
      act(async (ctx, _args, o) => {
        const result = await (await ctx.store()).verifyLedger();
        if (!result.ok) {
          throw new ConsentError(
            'integrity',
            `The ledger is broken at event ${result.brokenEventId ?? '?'}: ${result.problem}.`,
            `${result.blocks} blocks (${result.events} events) before it verified. Restore from a backup and investigate who wrote to the store.`,
          );
        }
        if (o.json) return ctx.json(result);
        ctx.print(`Ledger intact: ${result.events} events in ${result.blocks} blocks. Head hash: ${result.head}`);
      }),
    );
}
