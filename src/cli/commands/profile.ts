import { Option, type Command } from 'commander';
import { CHANNEL_INFO, CHANNELS, CONTACT_CHANNELS } from '../../consent/channels.js';
import type { Act } from '../run.js';

/** The filters `profile list` and `profile export` share (a ProfileFilter), worded once. */
const FILTERS = {
  reachable: () =>
    new Option('--reachable <channel>', 'only those who may be contacted on this channel (opted out of neither it nor all): the audience').choices(
      CONTACT_CHANNELS,
    ),
  unreachable: () =>
    new Option('--unreachable <channel>', 'only those who may not be contacted on this channel, exactly the rest of --reachable: the suppression list').choices(
      CONTACT_CHANNELS,
    ),
  optedOut: () =>
    new Option('--opted-out <channel>', 'only those opted out of this channel or of all (--opted-out all: of all itself)').choices(CHANNELS),
  subscribed: () => new Option('--subscribed <service>', 'only those who may receive this service (subscribed and reachable on its channel)'),
  asOf: () =>
    new Option('--as-of <time>', 'as it stood then, replayed from the ledger: the ledger as recorded by that time (ISO 8601, e.g. 2026-03-03T09:00:00Z)'),
};

export function registerProfile(program: Command, act: Act): void {
  const profile = program.command('profile').description('add, show, list and change the consent of profiles');

  profile
    .command('add')
    .description('add a profile')
    .requiredOption('--email <email>', 'email address (the key; compared case-insensitively)')
    .option('--phone <phone>', 'phone number: +33612345678, or national with --default-country')
    .option('--default-country <code>', 'country of national phone numbers, e.g. FR (default $CONSENT_DEFAULT_COUNTRY)')
    .option('--first-name <name>', 'first name')
    .option('--last-name <name>', 'last name')
    .option('--json', 'print the new profile as JSON')
    .action(act(async (ctx, args, o) => (await import('./profile/add.js')).run(ctx, o)));

  profile
    .command('show')
    .description('show a profile, its "No longer contact" flags and where it is reachable')
    .argument('<ref>', 'profile id, email, or phone (+…, 00…, or national with a default country)')
    .option('--default-country <code>', 'country of a national phone number given as <ref> (default $CONSENT_DEFAULT_COUNTRY)')
    .addOption(FILTERS.asOf())
    .option('--json', 'print as JSON')
    .action(act(async (ctx, [ref], o) => (await import('./profile/show.js')).run(ctx, ref!, o)));

  profile
    .command('report')
    .description('everything the store holds about a person (GDPR art. 15): profile, choices and how each was made, every event with its proof, pages seen, suppressions, ledger digest')
    .argument('<ref>', 'profile id, email, or phone (+…, 00…, or national with a default country)')
    .addOption(new Option('--format <format>', 'json (Kantara Consent Receipt fields where they fit) or html (a page for the person)').choices(['json', 'html']).default('json'))
    .addOption(
      new Option('--lang <lang>', "the language of the report (the HTML page's text, the channel labels); default: the language of the last page the person used, else en").choices(['en', 'fr']),
    )
    .option('--out <file>', 'write it to this file (atomically) instead of stdout')
    .option('--default-country <code>', 'country of a national phone number given as <ref> (default $CONSENT_DEFAULT_COUNTRY)')
    .option('--json', 'the same as --format json (the report is one JSON document)')
    .action(act(async (ctx, [ref], o) => (await import('./profile/report.js')).run(ctx, ref!, o)));

  for (const verb of ['optout', 'optin'] as const) {
    const cmd = profile
      .command(verb)
      .description(
        verb === 'optout'
          ? 'opt a profile out of channels (on a terminal with no option: tick the boxes)'
          : 'opt a profile back in to channels (on a terminal with no option: untick the boxes)',
      )
      .argument('<ref>', 'profile id or email')
      .option('--channel <channels>', `comma-separated channels: ${CHANNELS.join(', ')}`)
      .option('--all', verb === 'optout' ? 'set "no longer contact by any channel"' : 'clear "no longer contact by any channel" (per-channel flags stay)');
    cmd.option('--reason <text>', 'why, kept in the ledger');
    cmd
      .option('--json', 'print the profile after the change as JSON')
      .action(act(async (ctx, [ref], o) => (await import('./profile/set-consent.js')).run(ctx, verb, ref!, o)));
  }

  profile
    .command('subscribe')
    .description('subscribe a profile to a service (pending until confirmed, for a double-opt-in service)')
    .argument('<ref>', 'profile id or email')
    .argument('<service>', 'service name')
    .option('--confirmed', 'the person already confirmed (double opt-in): needs --reason, the proof')
    .option('--reason <text>', 'why, kept in the ledger')
    .option('--json', 'print the outcome as JSON')
    .action(act(async (ctx, [ref, service], o) => (await import('./profile/subscription.js')).run(ctx, 'subscribe', ref!, service!, o)));

  profile
    .command('unsubscribe')
    .description('unsubscribe a profile from a service')
    .argument('<ref>', 'profile id or email')
    .argument('<service>', 'service name')
    .option('--reason <text>', 'why, kept in the ledger')
    .option('--json', 'print the outcome as JSON')
    .action(act(async (ctx, [ref, service], o) => (await import('./profile/subscription.js')).run(ctx, 'unsubscribe', ref!, service!, o)));

  profile
    .command('erase')
    .description('erase a profile\'s personal data (GDPR art. 17): email, phone, names; its addresses stay unreachable')
    .argument('<ref>', 'profile id or email')
    .option('--reason <text>', 'why (needed), kept in the ledger; never the address itself')
    .option('--yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option('--json', 'print the erased profile as JSON')
    .action(act(async (ctx, [ref], o) => (await import('./profile/erase.js')).run(ctx, ref!, o)));

  profile
    .command('history')
    .description("the profile's consent ledger, newest first")
    .argument('<ref>', 'profile id or email')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, [ref], o) => (await import('./profile/history.js')).run(ctx, ref!, o)));

  profile
    .command('list')
    .description('list profiles')
    .addOption(FILTERS.reachable())
    .addOption(FILTERS.unreachable())
    .addOption(FILTERS.optedOut())
    .addOption(FILTERS.subscribed())
    .addOption(FILTERS.asOf())
    .option('--limit <n>', 'at most this many')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _args, o) => (await import('./profile/list.js')).run(ctx, o)));

  profile
    .command('import')
    .description('import profiles and opt-outs from CSV (one atomic change; opt-outs are never cleared without --allow-optin)')
    .argument('<file>', 'CSV file with a header line, or - for stdin')
    .option('--delimiter <char>', 'field delimiter, tab for a tab (default: detected from the header among , ; and tab)')
    .option('--encoding <name>', 'the file\'s encoding: utf-8 (default; a UTF-16 BOM is recognised), windows-1252, latin1, utf-16le')
    .option('--default-country <code>', 'country of national phone numbers, e.g. FR (default $CONSENT_DEFAULT_COUNTRY)')
    .option('--allow-optin', 'let 0/false/no cells clear existing opt-outs, and 1 cells resubscribe the unsubscribed')
    .option('--proof <statement>', 'what proves the consent that consent_<channel>=1 cells grant (kept as the evidence of the import\'s events; needs --allow-optin)')
    .option('--skip-invalid', 'import the valid rows and skip the invalid ones (see --rejects)')
    .option('--rejects <file>', 'write invalid rows there, with a reason column')
    .option('--dry-run', 'print the plan; write nothing')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `\nColumns (by header name): email (required), phone, first_name|firstName, last_name|lastName,\n` +
        `${CHANNELS.map((c) => `optout_${c}|${CHANNEL_INFO[c].adobeField}`).join(', ')}.\n` +
        'Opt-out values: 1/0, true/false, yes/no, y/n; an empty cell leaves the value as is.\n' +
        'subscribe_<service>: 1 subscribes (pending for a double opt-in service), 0 unsubscribes.\n' +
        `consent_<channel> (${CONTACT_CHANNELS.join(', ')}): 1 grants consent (needs --allow-optin and --proof), 0 refuses it (an opt-out).`,
    )
    .action(act(async (ctx, [file], o) => (await import('./profile/import.js')).run(ctx, file!, o)));

  profile
    .command('export')
    .description('stream profiles as CSV (the import columns, subscribe_<service> included) or JSON lines')
    .addOption(FILTERS.reachable())
    .addOption(FILTERS.unreachable())
    .addOption(FILTERS.optedOut())
    .addOption(FILTERS.subscribed())
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .option('--out <file>', 'write to this file instead of stdout')
    .addOption(FILTERS.asOf())
    .option('--manifest <file.json>', 'with --reachable: also write a send manifest (ledger head, count, Merkle root of the ids) for `audience prove|verify`')
    .addHelpText(
      'after',
      '\nWithout a filter it exports everyone, with their flags (a backup, or another system\'s import).\n' +
        'To send: --reachable <channel> is the audience; --unreachable <channel> the suppression list.',
    )
    .action(act(async (ctx, _args, o) => (await import('./profile/export.js')).run(ctx, o)));
}
