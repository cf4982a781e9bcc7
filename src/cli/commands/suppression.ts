import { Option, type Command } from 'commander';
import { SUPPRESSION_CHANNELS } from '../../consent/suppressions.js';
import type { Act } from '../run.js';

export function registerSuppression(program: Command, act: Act): void {
  const suppression = program
    .command('suppression')
    .description('the suppression list: addresses (emails, phone numbers) that must not be contacted on a channel, whoever holds them');

  suppression
    .command('add')
    .description('suppress addresses (an email on email; a phone number on sms and phone, or --channel)')
    .argument('<address...>', 'emails, or phone numbers (+33612345678, or national with --default-country)')
    .requiredOption('--reason <reason>', 'why: hard-bounce, complaint, unsubscribe, manual, … (lower-case letters, digits, hyphens)')
    .option('--channel <channels>', `the channel(s) blocked: ${SUPPRESSION_CHANNELS.join(', ')} (default: email for an email, sms,phone for a number)`)
    .option('--expires <when>', 'stop blocking after 90d, 12h, 2w, or at an ISO 8601 time (default: never)')
    .option('--note <text>', 'a note kept with the entry (not in the ledger)')
    .option('--default-country <code>', 'country of national phone numbers, e.g. FR (default $CONSENT_DEFAULT_COUNTRY)')
    .option('--json', 'print the outcome as JSON')
    .action(act(async (ctx, args, o) => (await import('./suppression/add.js')).add(ctx, args, o)));

  suppression
    .command('remove')
    .description('lift the suppression of addresses (a complaint or erasure entry needs --force); recorded in the ledger')
    .argument('<address...>', 'emails or phone numbers')
    .requiredOption('--reason <text>', 'why it is lifted, kept in the ledger')
    .option('--channel <channels>', `the channel(s) to lift: ${SUPPRESSION_CHANNELS.join(', ')} (default: email for an email, sms,phone for a number)`)
    .option('--force', 'also lift complaint and erasure entries (the lift is recorded as forced)')
    .option('--default-country <code>', 'country of national phone numbers (default $CONSENT_DEFAULT_COUNTRY)')
    .option('--json', 'print the outcome as JSON')
    .action(act(async (ctx, args, o) => (await import('./suppression/remove.js')).remove(ctx, args, o)));

  suppression
    .command('list')
    .description('list the entries in force (by channel, then address)')
    .option('--reason <reason>', 'only entries with this reason')
    .addOption(new Option('--channel <channel>', 'only entries of this channel').choices(SUPPRESSION_CHANNELS))
    .option('--include-expired', 'also entries past their expiry')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await import('./suppression/list.js')).list(ctx, o)));

  suppression
    .command('import')
    .description('import a suppression list: Amazon SES, Postmark, SendGrid or this tool\'s own export; validated first, written in one transaction')
    .argument('<file>', 'the file (- for stdin)')
    .addOption(new Option('--format <format>', 'the file\'s shape (auto: from its content)').choices(['auto', 'consent', 'ses', 'postmark', 'sendgrid']).default('auto'))
    .option('--dry-run', 'say what would be added, write nothing')
    .option('--skip-invalid', 'import the valid entries and skip the invalid ones (listed on stderr)')
    .option('--default-country <code>', 'country of national phone numbers (consent format)')
    .option('--json', 'print the summary as JSON')
    .action(act(async (ctx, [file], o) => (await import('./suppression/import.js')).importFile(ctx, file!, o)));

  suppression
    .command('export')
    .description('write the entries in force, with their addresses, for a sending system (the `consent` format `suppression import` reads)')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .option('--out <file>', 'write to this file (whole or not at all) instead of stdout')
    .action(act(async (ctx, _a, o) => (await import('./suppression/export.js')).exportList(ctx, o)));
}
