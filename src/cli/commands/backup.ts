import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Act } from '../run.js';

export function registerBackup(program: Command, act: Act): void {
  program
    .command('backup')
    .description('write a consistent, checked copy of the store (safe while others write); never overwrites')
    .argument('<file>', 'the new file')
    .option('--json', 'print the result as JSON')
    .action(
      act(async (ctx, [file], o) => {
        const result = await (await ctx.store()).backup(resolve(ctx.deps.cwd, file!));
        if (o.json) return ctx.json(result);
        ctx.print(`Backed up ${result.profiles} profiles and ${result.events} ledger events to ${result.path} (${result.bytes} bytes, verified).`);
      }),
    );
}
