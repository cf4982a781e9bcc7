import type { Command } from 'commander';
import type { Act } from '../run.js';

export function registerStore(program: Command, act: Act): void {
  const store = program.command('store').description('the store itself: create it');

  store
    .command('init')
    .description('create an empty store (schema migrated) at --db, or migrate an existing one; other commands that write create it on first use too')
    .option('--json', 'print { location, created } as JSON')
    .action(
      act(async (ctx, _args, o) => {
        let created = false;
        const s = await ctx.store({ onCreate: () => (created = true) });
        if (o.json) return ctx.json({ location: s.location, created });
        ctx.print(created ? `Created a new consent store at ${s.location}.` : `A consent store already exists at ${s.location}; its schema is up to date.`);
      }),
    );
}
