import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isPostgresLocation } from '../../store/location.js';
import type { Act } from '../run.js';

export function registerStore(program: Command, act: Act): void {
  const store = program.command('store').description('the store itself: create it, copy it to another store');

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

  store
    .command('copy')
    .description('copy a whole store (profiles, services, pages, keys, settings, the ledger verbatim) into an empty store; either may be a SQLite path or a PostgreSQL URL')
    .argument('<from>', 'the source store: a file path or a postgres:// URL (must exist, and its ledger must verify)')
    .argument('<to>', 'the target: a new file, an empty database, or a store just made by `store init`')
    .option('--json', 'print { from, to, profiles, events, blocks, head } as JSON')
    .action(
      act(async (ctx, [from, to], o) => {
        const where = (l: string) => (isPostgresLocation(l) ? l : resolve(ctx.deps.cwd, l));
        const stores = await import('../../store/index.js');
        (await import('../run.js')).registerStoreErrors(stores.translateStoreError);
        const { copyStore } = await import('../../store/copy.js');
        const tty = ctx.deps.stderr.isTTY === true;
        const shown = new Map<string, number>();
        const result = await copyStore(where(from!), where(to!), {
          busyTimeoutMs: ctx.busyTimeoutMs(),
          onCreate: (location) => ctx.notice(`Created a new consent store at ${location}.`),
          onVerifyProgress: tty ? (p) => ctx.notice(`Verifying the source: ${p.phase} ${'events' in p ? p.events : p.profiles}/${p.total}`) : undefined,
          onProgress: tty
            ? (table, rows) => {
                // A line every 100,000 rows of a table.
                if (rows - (shown.get(table) ?? 0) < 100_000 && shown.has(table)) return;
                shown.set(table, rows);
                ctx.notice(`Copying ${table}: ${rows} rows`);
              }
            : undefined,
        });
        if (o.json) return ctx.json(result);
        ctx.print(
          `Copied ${result.profiles} profiles and ${result.events} ledger events (${result.blocks} blocks) from ${result.from} to ${result.to}; the copy verifies and its ledger head is the source's (${result.head}).`,
        );
      }),
    );
}
