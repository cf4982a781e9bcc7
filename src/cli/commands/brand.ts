import type { Command } from 'commander';
import { LOGO_MAX_BYTES } from '../../landing/brand.js';
import type { Act } from '../run.js';

export function registerBrand(program: Command, act: Act): void {
  const brand = program.command('brand').description('the organisation shown on every page: name, logo, colour, privacy notice, contact (versioned)');

  brand
    .command('set')
    .description('store a new version of the brand; options not given keep their value from the latest version')
    .option('--name <name>', "the organisation's name (required the first time)")
    .option('--logo <file>', `a PNG or SVG logo, at most ${LOGO_MAX_BYTES / 1024} KiB, inlined into pages (an SVG with script, event handlers, foreign objects or external references is refused)`)
    .option('--no-logo', 'remove the logo')
    .option('--color <hex>', 'the accent colour of buttons and headings, e.g. #1f5fbf ("" to clear)')
    .option('--privacy-url <url>', 'the privacy notice linked from every page (required to publish once a brand exists; "" to clear)')
    .option('--contact <text>', 'how to reach the organisation, e.g. privacy@example.org ("" to clear)')
    .option('--address <text>', 'postal address shown in the footer ("" to clear)')
    .option('--json', 'print the new version as JSON')
    .action(act(async (ctx, _args, o) => (await import('./brand/run.js')).set(ctx, o)));

  brand
    .command('show')
    .description('show the latest brand version (or --brand-version n)')
    .option('--brand-version <n>', 'a given version (1, 2, …)')
    .option('--json', 'print as JSON (null when no brand was ever set)')
    .action(act(async (ctx, _args, o) => (await import('./brand/run.js')).show(ctx, o)));
}
