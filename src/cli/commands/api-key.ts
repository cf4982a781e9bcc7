import type { Command } from 'commander';
import type { Act } from '../run.js';

export function registerApiKey(program: Command, act: Act): void {
  const key = program.command('api-key').description('keys of the check API (`landing serve --api`): shown once, stored as a hash');

  key
    .command('create')
    .description('make a key and print it once (only its SHA-256 is kept)')
    .requiredOption('--name <name>', 'what uses it, e.g. mailer-prod (unique among keys in force)')
    .option('--json', 'print the key and its record as JSON')
    .action(act(async (ctx, _a, o) => (await import('./api-key/run.js')).create(ctx, o)));

  key
    .command('list')
    .description('list the keys (never the keys themselves)')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await import('./api-key/run.js')).list(ctx, o)));

  key
    .command('revoke')
    .description('revoke a key: the API refuses it within 5 seconds, on every server')
    .argument('<key>', 'its id or its name')
    .option('--json', 'print the revoked key as JSON')
    .action(act(async (ctx, [ref], o) => (await import('./api-key/run.js')).revoke(ctx, ref!, o)));
}
