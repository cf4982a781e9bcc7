import type { Command } from 'commander';
import type { Act } from '../run.js';

export function registerKeys(program: Command, act: Act): void {
  const keys = program.command('keys').description('the keys that sign landing-page links');

  keys
    .command('list')
    .description('list the signing keys (never their secrets)')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _args, o) => (await import('./keys/run.js')).list(ctx, o)));

  keys
    .command('rotate')
    .description('make a new key that signs from now on; links signed with older keys keep working')
    .option('--json', 'print the new key as JSON')
    .action(act(async (ctx, _args, o) => (await import('./keys/run.js')).rotate(ctx, o)));

  keys
    .command('retire')
    .description('retire a key: links signed with it stop working (rotate first if it is the current one)')
    .argument('<id>', 'the key id')
    .option('--yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option('--json', 'print the key as JSON')
    .action(act(async (ctx, [id], o) => (await import('./keys/run.js')).retire(ctx, id!, o)));
}
