import type { Command } from 'commander';
import { ConsentError } from '../../consent/errors.js';
import type { VerifyProgress } from '../../consent/ledger.js';
import type { CommandContext } from '../context.js';
import type { Act } from '../run.js';

export function registerLedger(program: Command, act: Act): void {
  const ledger = program.command('ledger').description('the append-only, hash-chained record of every consent change');
  ledger
    .command('verify')
    .description('check the hash chain and that every profile\'s flags and subscriptions are what the ledger says; exit 6 naming the first failure')
    .option('--json', 'print the result as JSON')
    .action(
      act(async (ctx, _args, o) => {
        const progress = ctx.deps.stderr.isTTY && !o.json ? progressLine(ctx) : undefined;
        let result;
        try {
          result = await (await ctx.store()).verifyLedger({ onProgress: progress?.update });
        } finally {
          progress?.done();
        }
        if (!result.ok) {
          if ('disagreement' in result) {
            throw new ConsentError(
              'integrity',
              `The ledger is intact but does not vouch for the state: ${result.problem}.`,
              `The chain itself is intact (${result.blocks} blocks, ${result.events} events): the profile or subscription rows were changed behind the tool's back. Restore from a backup and investigate who wrote to the store.`,
              { details: result },
            );
          }
          throw new ConsentError(
            'integrity',
            `The ledger is broken at event ${result.brokenEventId ?? '?'}: ${result.problem}.`,
            `${result.blocks} blocks (${result.events} events) before it verified. Restore from a backup and investigate who wrote to the store.`,
            { details: result },
          );
        }
        if (o.json) return ctx.json(result);
        ctx.print(`Ledger intact: ${result.events} events in ${result.blocks} blocks, and every profile's state agrees with it. Head hash: ${result.head}`);
      }),
    );
}

/** "Verifying chain… 400,000 / 1,300,000 events", redrawn in place on stderr; only on a terminal. */
function progressLine(ctx: CommandContext) {
  let drawn = false;
  const n = (x: number) => x.toLocaleString('en');
  return {
    update(p: VerifyProgress) {
      const line =
        p.phase === 'chain'
          ? `Verifying chain… ${n(p.events)} / ${n(p.total)} events`
          : p.phase === 'replay'
            ? `Replaying ledger… ${n(p.events)} / ${n(p.total)} events`
            : `Checking state of profiles… ${n(p.profiles)} / ${n(p.total)}`;
      ctx.deps.stderr.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) ctx.deps.stderr.write('\r\x1b[K');
    },
  };
}
