import { Option, type Command } from 'commander';
import { CONTACT_CHANNELS } from '../../consent/channels.js';
import type { Act } from '../run.js';

export function registerService(program: Command, act: Act): void {
  const service = program.command('service').description('services (newsletters, offers, alerts) that profiles subscribe to');

  service
    .command('create')
    .description('create a service')
    .argument('<name>', 'lower-case letters, digits and hyphens, at most 64')
    .requiredOption('--label <label>', 'the name people see, e.g. "Weekly newsletter"')
    .option('--description <text>', 'what it sends and how often')
    .addOption(new Option('--channel <channel>', 'the channel its messages use').choices(CONTACT_CHANNELS).default('email'))
    .option('--double-opt-in', 'subscriptions stay pending until the person confirms')
    .option('--json', 'print the new service as JSON')
    .action(act(async (ctx, [name], o) => (await import('./service/service.js')).create(ctx, name!, o)));

  service
    .command('list')
    .description('list services with their counts of subscribers')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await import('./service/service.js')).list(ctx, o)));

  service
    .command('confirmations')
    .description('one row per pending subscription with its signed confirmation link (id,email,service,confirmUrl), for the sending system to mail')
    .argument('<name>', 'service name')
    .option('--base-url <url>', 'the URL `landing serve` is reached at (default: $CONSENT_BASE_URL, else relative to the server root)')
    .addOption(new Option('--lang <lang>', 'the language of the confirmation page').choices(['en', 'fr']).default('en'))
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .option('--out <file>', 'write to this file instead of stdout')
    .action(act(async (ctx, [name], o) => (await import('./service/confirmations.js')).confirmations(ctx, name!, o)));

  service
    .command('show')
    .description('show a service and its counts')
    .argument('<name>', 'service name')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, [name], o) => (await import('./service/service.js')).show(ctx, name!, o)));
}
