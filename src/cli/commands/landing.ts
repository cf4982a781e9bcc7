import { Option, type Command } from 'commander';
import { CONTACT_CHANNELS } from '../../consent/channels.js';
import type { Act } from '../run.js';

const definitionOptions = (cmd: Command) =>
  cmd
    .option('--type <type>', 'acquisition (one box per channel) or blocklist (opt out of everything)')
    .option('--title <text>', 'the page title')
    .option('--intro <text>', 'a paragraph under the title')
    .option('--channels <list>', `acquisition pages: comma-separated channels shown, of ${CONTACT_CHANNELS.join(', ')}`)
    .option('--services <list>', 'acquisition pages: comma-separated services (newsletters) offered as boxes; publish refuses unknown ones')
    .option('--lang <lang>', 'the language of every text of the page (default en): en, fr, de, es, it, nl shipped, or any language imported with `landing strings import`')
    .option('--wording <wording>', 'consent ("Email", ticked = may contact; default) or optout ("No longer contact by email", ticked = opted out)')
    .option('--confirmation <text>', 'the message shown after a submission (default: a built-in one)')
    .option('--ask-reason', 'blocklist pages: after the opt-out is recorded, offer an optional "why?" survey (kept as a reason ledger event)')
    .option('--no-ask-reason', 'no unsubscribe-reason survey (the default)')
    .option('--from <file>', 'read the page definition from a JSON file (- for stdin); flags override its fields');

const baseUrl = '(default: $CONSENT_BASE_URL, else relative to the server root)';
const expiresIn = 'links expire after this long: 30d or more, e.g. 90d, 13w, 1y (default: never)';

export function registerLanding(program: Command, act: Act): void {
  const landing = program.command('landing').description('create, publish and render landing pages, and sign links to them');

  definitionOptions(
    landing
      .command('create')
      .description('create a page (a draft until published); on a terminal, missing options are asked for')
      .argument('<slug>', 'lower-case letters, digits and hyphens, at most 64'),
  )
    .option('--json', 'print the page as JSON')
    .action(act(async (ctx, [slug], o) => (await import('./landing/define.js')).create(ctx, slug!, o)));

  definitionOptions(
    landing.command('edit').description("change a page's draft (published versions stay as they are)").argument('<slug>', 'the page'),
  )
    .option('--json', 'print the page as JSON')
    .action(act(async (ctx, [slug], o) => (await import('./landing/define.js')).edit(ctx, slug!, o)));

  landing
    .command('show')
    .description('show a page: its draft and its latest published version')
    .argument('<slug>', 'the page')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, [slug], o) => (await import('./landing/show.js')).show(ctx, slug!, o)));

  landing
    .command('list')
    .description('list pages')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _args, o) => (await import('./landing/show.js')).list(ctx, o)));

  landing
    .command('publish')
    .description('freeze the draft as a new version and write <out-dir>/<slug>/index.html')
    .argument('<slug>', 'the page')
    .option('--out-dir <dir>', 'where to write the static page', 'public')
    .option('--base-url <url>', `the URL the pages are served from, for the form target ${baseUrl}`)
    .option('--json', 'print the outcome as JSON')
    .action(act(async (ctx, [slug], o) => (await import('./landing/publish.js')).publish(ctx, slug!, o)));

  landing
    .command('render')
    .description("print a page's HTML (the draft, unless --page-version); with --profile, that person's page")
    .argument('<slug>', 'the page')
    .option('--profile <ref>', "a person's page: boxes from their profile, their signed token in the form")
    .option('--page-version <n>', 'render this published version (or "latest") instead of the draft')
    .option('--base-url <url>', `the URL the pages are served from ${baseUrl}`)
    .option('--expires-in <duration>', expiresIn)
    .option('--out <file>', 'write to this file instead of stdout')
    .action(act(async (ctx, [slug], o) => (await import('./landing/publish.js')).render(ctx, slug!, o)));

  landing
    .command('link')
    .description("a person's signed link to a published page")
    .argument('<slug>', 'the page')
    .requiredOption('--profile <ref>', 'profile id or email')
    .option('--base-url <url>', baseUrl)
    .option('--expires-in <duration>', expiresIn)
    .option('--service <name>', 'oneClickUrl unsubscribes from this service only (it must be on the page)')
    .option('--json', 'print { url, oneClickUrl } as JSON')
    .action(act(async (ctx, [slug], o) => (await import('./landing/links.js')).link(ctx, slug!, o)));

  landing
    .command('links')
    .description('every profile\'s signed links to a published page, streamed as CSV (id,email,url,oneClickUrl) or JSON lines')
    .argument('<slug>', 'the page')
    .addOption(
      new Option('--reachable <channel>', 'only profiles that may be contacted on this channel (opted out of neither it nor all)').choices(CONTACT_CHANNELS),
    )
    .option('--base-url <url>', baseUrl)
    .option('--expires-in <duration>', expiresIn)
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--threads <n>', 'threads that sign the links, 0 = the main thread (default: the cores available but one, at least 1, at most 4)')
    .addHelpText(
      'after',
      '\nFor pages, not for mailing: without --reachable it lists everyone, including those who may not be\n' +
        'contacted (opted out of the channel or of all). To mail the links, use --reachable <channel>.',
    )
    .action(act(async (ctx, [slug], o) => (await import('./landing/links.js')).links(ctx, slug!, o)));

  const strings = landing.command('strings').description('the texts of the pages, one strings file per language');
  strings
    .command('export')
    .description('print the strings of a language as JSON (imported ones if any, else the shipped file): a start for your own')
    .option('--lang <lang>', 'the language', 'en')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(act(async (ctx, _args, o) => (await import('./landing/strings.js')).exportStrings(ctx, o)));
  strings
    .command('import')
    .description('store a language\'s strings (overriding the shipped file, or adding a language); every key must be there, with its placeholders')
    .argument('<file>', 'a JSON strings file (- for stdin), e.g. fr.json')
    .option('--lang <lang>', 'its language (default: the file name, e.g. pt-BR.json)')
    .option('--json', 'print the outcome as JSON')
    .action(act(async (ctx, [file], o) => (await import('./landing/strings.js')).importStrings(ctx, file!, o)));
  strings
    .command('list')
    .description('the languages that have strings, shipped and imported')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _args, o) => (await import('./landing/strings.js')).listStrings(ctx, o)));

  landing
    .command('serve')
    .description('serve the published pages: personal pages, form submissions, RFC 8058 one-click unsubscribe (until Ctrl-C)')
    .option('--port <n>', 'the port to listen on (0 = any free port)', '8080')
    .option('--host <host>', 'the address to listen on', '127.0.0.1')
    .option('--base-url <url>', `the public URL of the pages, for form targets ${baseUrl}`)
    .option(
      '--trust-proxy <hops|addresses>',
      'behind a reverse proxy: believe X-Forwarded-For for this many hops, or from these proxy addresses/CIDRs (default: $CONSENT_TRUST_PROXY, else none)',
    )
    .option(
      '--twilio-auth-token-file <file>',
      "take Twilio's SMS webhook at <base-url>/sms/inbound, verified with the auth token in this file (default: $CONSENT_TWILIO_AUTH_TOKEN, else not served)",
    )
    .option('--api', 'also serve the check API, GET/POST /api/v1/reachable, for keys made by `consent api-key create` (default: $CONSENT_API=1)')
    .action(act(async (ctx, _args, o) => (await import('./landing/serve.js')).serve(ctx, o)));
}
