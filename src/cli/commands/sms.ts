import { Option, type Command } from 'commander';
import type { Act } from '../run.js';

export function registerSms(program: Command, act: Act): void {
  const sms = program.command('sms').description('SMS replies (STOP, START, HELP…): record them, review look-alikes, settings, the log');

  sms
    .command('inbound')
    .description("apply the SMS rules to a message received (or to a provider's export with --file), as the webhook does")
    .option('--from <E.164>', 'the sending number, e.g. +33612345678')
    .option('--body <text>', 'the text of the message')
    .option('--to <number>', 'the number it was sent to (the ledger source is sms:<to>)')
    .option('--at <time>', 'when it was received, ISO 8601 (default: now)')
    .option('--message-id <id>', "the provider's message id: the same id twice is recorded once")
    .option('--file <csv|jsonl>', 'messages in a file (columns from,body,received_at[,to,message_id]), all recorded in one transaction; - for stdin')
    .option('--provider <name>', 'the ledger source when there is no --to: sms:<provider>', 'cli')
    .option('--dry-run', 'say what would happen, record nothing')
    .option('--json', 'print the summary as JSON')
    .action(act(async (ctx, _a, o) => (await import('./sms/inbound.js')).inbound(ctx, o)));

  sms
    .command('settings')
    .description('show or set the texts answered to SMS replies and the retention of bodies')
    .option('--organisation <name>', 'the name the texts start with ("" removes it)')
    .addOption(new Option('--lang <lang>', 'the language of the built-in texts').choices(['en', 'fr']))
    .option('--help-text <text>', 'the answer to HELP and INFO ({organisation} is replaced by the name; "" for the built-in text)')
    .option('--confirm-optout-text <text>', 'the one confirmation of an opt-out ("" for the built-in text)')
    .option('--confirm-optin-text <text>', 'the one confirmation of an opt-in ("" for the built-in text)')
    .option('--retention-days <n>', 'bodies are removed this many days after they were received (default 30)')
    .option('--json', 'print the settings as JSON')
    .action(act(async (ctx, _a, o) => (await import('./sms/settings.js')).settings(ctx, o)));

  sms
    .command('review')
    .description('the messages that look like an opt-out ("please stop"); with an id, decide one')
    .argument('[id]', 'the message to decide')
    .option('--optout', 'apply the opt-out rule to its number')
    .option('--dismiss', 'change nothing')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, [id], o) => (await import('./sms/review.js')).review(ctx, id, o)));

  sms
    .command('log')
    .description('every inbound message with its outcome, newest first (numbers only as keyed hashes)')
    .option('--limit <n>', 'at most this many')
    .option('--purge', 'first remove the bodies past the retention period')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await import('./sms/log.js')).log(ctx, o)));
}
