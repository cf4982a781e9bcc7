import { createHash, randomBytes } from 'node:crypto';
import { CHANNEL_INFO, type ContactChannel, type OptOutFlags } from '../consent/channels.js';
import { escapeText, html, trustedHtml, type SafeHtml } from './html.js';
import type { Service, SubscriptionStatus } from '../consent/services.js';
import type { Lang, PageDefinition, Wording } from './page.js';
import { STRINGS } from './strings.js';

/** Form field names the server reads. */
export const FORM_FIELDS = {
  /** The signed token, on a person's page (instead of `email`). */
  token: 't',
  email: 'email',
  /** The page version the form was rendered from. */
  version: 'v',
  /**
   * Sent (hidden) with a person's acquisition page that shows the "any
   * channel" box, so the server can tell an unticked box from a box that was
   * never shown: only the former clears `all`.
   */
  allShown: 'all-shown',
} as const;

/** The "No longer contact (by any channel)" box, shown only to a person who has `all` set. */
export const ALL_FIELD = 'channel-all';

/** A ticked box sends `channel-<id>=on`; an unticked one sends nothing (one name per box keeps form parsing simple). */
export function channelField(channel: ContactChannel): string {
  return `channel-${channel}`;
}

/** A ticked service box sends `service-<name>=on`; an unticked one nothing. */
export function serviceField(name: string): string {
  return `service-${name}`;
}

/** What a page shows of a service. */
export type ServiceBox = Pick<Service, 'name' | 'label' | 'description'>;

/**
 * A service box is ticked when the person is subscribed OR pending: pending
 * means they asked for it (waiting for their confirmation), so showing it
 * unticked would invite a submit that unsubscribes them by accident.
 */
export function serviceTicked(status: SubscriptionStatus | null | undefined): boolean {
  return status === 'subscribed' || status === 'pending';
}

export const FORM_ID = 'consent-form';

/** The only script a page ever carries: the personal blocklist page submits itself. */
export const AUTO_SUBMIT_SCRIPT = `document.getElementById("${FORM_ID}").submit();`;

export const PAGE_CSS = [
  'body{margin:0;font:1.05rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f6f6f4}',
  'main{max-width:36rem;margin:0 auto;padding:1.5rem 1rem}',
  'h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}',
  'p{margin:0 0 1rem}',
  'fieldset{border:1px solid #bbb;border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem}',
  'legend{font-weight:600;padding:0 .25rem}',
  'label{display:block;padding:.4rem 0}',
  'input[type=checkbox]{width:1.25rem;height:1.25rem;margin:0 .5rem 0 0;vertical-align:middle}',
  'input[type=email]{display:block;box-sizing:border-box;width:100%;font:inherit;padding:.5rem;margin-top:.25rem;border:1px solid #888;border-radius:.375rem}',
  'button{font:inherit;padding:.65rem 1.25rem;border:0;border-radius:.375rem;background:#1f5fbf;color:#fff;cursor:pointer}',
  '.desc{display:block;margin-left:1.75rem;font-size:.9rem;color:#555}',
  'button:focus-visible,input:focus-visible{outline:3px solid #f0a000;outline-offset:2px}',
].join('');

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** The CSP source of the auto-submit script and the page style: hashes, never 'unsafe-inline'. */
export const SCRIPT_HASH = sha256(AUTO_SUBMIT_SCRIPT);
export const STYLE_HASH = sha256(PAGE_CSS);

/**
 * The Content-Security-Policy of every page. `formAction` is the form's
 * target: when it is absolute, its origin is allowed besides 'self'.
 * `header: true` adds what only works as a header (frame-ancestors); the
 * server sends that, a static page carries the rest in a <meta>.
 */
export function contentSecurityPolicy(options: { formAction?: string; header?: boolean } = {}): string {
  const formAction = ["'self'"];
  if (options.formAction && /^https?:\/\//.test(options.formAction)) formAction.push(new URL(options.formAction).origin);
  const parts = [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    `script-src ${SCRIPT_HASH}`,
    `form-action ${formAction.join(' ')}`,
    "base-uri 'none'",
  ];
  if (options.header) parts.push("frame-ancestors 'none'");
  return parts.join('; ');
}

/**
 * Whether a channel's box is ticked for a person: the two wordings are exact
 * complements. `ungranted`: the opt-in channels the person holds no grant
 * on (policy.ts): under the consent wording their box is shown unticked, so
 * that only the person's own tick grants them.
 */
export function boxTicked(wording: Wording, optOut: OptOutFlags, channel: ContactChannel, ungranted: readonly ContactChannel[] = []): boolean {
  const unreachable = optOut.all || optOut[channel];
  return wording === 'optout' ? unreachable : !unreachable && !ungranted.includes(channel);
}

export function channelLabel(wording: Wording, lang: Lang, channel: ContactChannel): string {
  return wording === 'optout' ? CHANNEL_INFO[channel].label[lang] : CHANNEL_INFO[channel].name[lang];
}

export interface PersonalData {
  token: string;
  optOut: OptOutFlags;
  /** The page's opt-in channels the person holds no grant on (boxTicked): absent, none. */
  ungranted?: readonly ContactChannel[];
  firstName?: string | null;
  /** The person's subscriptions, by service name (absent = never subscribed). */
  subscriptions?: Readonly<Record<string, SubscriptionStatus>>;
}

export interface RenderOptions {
  /** The form's target URL (see pageUrl). */
  action: string;
  /** The published version rendered, sent back with the form; null for a draft preview. */
  version?: number | null;
  /** A person's page: boxes from their flags, the token instead of an email field. */
  personal?: PersonalData;
  /**
   * The page's services (`page.services`, resolved from the store), in page
   * order. Required when the page lists services: rendering without them fails.
   */
  services?: readonly ServiceBox[];
}

/** The page around a body: head, CSP meta, our style; `action` is the form target (for the CSP). */
export function documentShell(lang: Lang, title: string, action: string, body: SafeHtml, script = false): string {
  return html`<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy({ formAction: action })}">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${trustedHtml(PAGE_CSS)}</style>
</head>
<body>
<main>
${body}
</main>
${script ? html`<script>${trustedHtml(AUTO_SUBMIT_SCRIPT)}</script>\n` : ''}</body>
</html>
`.value;
}

/**
 * A page as HTML: the generic page (an email field) or, with `personal`, a
 * person's page (boxes from their flags, their token in the form). Pure.
 */
export function renderPage(page: PageDefinition, options: RenderOptions): string {
  const s = STRINGS[page.lang];
  const p = options.personal;
  const hidden = html`${p ? html`<input type="hidden" name="${FORM_FIELDS.token}" value="${p.token}">\n` : ''}${
    options.version ? html`<input type="hidden" name="${FORM_FIELDS.version}" value="${options.version}">\n` : ''
  }`;
  const greeting = p?.firstName ? html`<p>${s.hello} ${p.firstName},</p>\n` : '';
  const intro = page.intro ? html`<p>${page.intro}</p>\n` : '';
  const emailField = p
    ? ''
    : html`<p><label>${s.emailLabel}<input type="email" name="${FORM_FIELDS.email}" required autocomplete="email"></label></p>\n`;

  let body: SafeHtml;
  let script = false;
  if (page.type === 'acquisition') {
    // `all` is never cleared silently: a person who has it set sees it as a
    // box of its own, ticked, and clears it by unticking it. While it shows,
    // each channel box shows that channel's own flag, so saving without
    // touching anything changes nothing.
    const showAll = Boolean(p?.optOut.all);
    const channelFlags = showAll ? { ...p!.optOut, all: false } : p?.optOut;
    const allBox = showAll
      ? html`<input type="hidden" name="${FORM_FIELDS.allShown}" value="1">
<label><input type="checkbox" name="${ALL_FIELD}" value="on" data-channel="all" checked>${CHANNEL_INFO.all.label[page.lang]}</label>\n`
      : '';
    const boxes = page.channels.map((c) => {
      const ticked = channelFlags ? boxTicked(page.wording, channelFlags, c, p?.ungranted) : false;
      return html`<label><input type="checkbox" name="${channelField(c)}" value="on" data-channel="${c}"${
        ticked ? html` checked` : ''
      }>${channelLabel(page.wording, page.lang, c)}</label>\n`;
    });
    const channelSet =
      page.channels.length > 0 || allBox
        ? html`<fieldset>
<legend>${page.wording === 'optout' ? s.optoutLegend : s.consentLegend}</legend>
${allBox}${boxes}</fieldset>
`
        : '';
    body = html`<h1>${page.title}</h1>
${greeting}${intro}<form id="${FORM_ID}" method="post" action="${options.action}">
${hidden}${emailField}${channelSet}${serviceSet(page, options.services, p?.subscriptions)}<button type="submit">${s.saveChoices}</button>
</form>`;
  } else {
    const button = html`<button type="submit">${s.unsubscribeAll}</button>`;
    script = Boolean(p);
    body = html`<h1>${page.title}</h1>
${greeting}${intro}<form id="${FORM_ID}" method="post" action="${options.action}">
${hidden}<fieldset>
<legend>${CHANNEL_INFO.all.label[page.lang]}</legend>
<p>${p ? s.blocklistPersonal : s.blocklistGeneric}</p>
${emailField}</fieldset>
${p ? html`<noscript>${button}</noscript>` : button}
</form>`;
  }
  return documentShell(page.lang, page.title, options.action, body, script);
}

/** Markers standing for a person's token and first name while a page shape is rendered: letters and digits, which escaping leaves as they are. */
const TOKEN_MARK = `tokenmark${randomBytes(12).toString('hex')}`;
const NAME_MARK = `namemark${randomBytes(12).toString('hex')}`;
const MARKS_RE = new RegExp(`(${TOKEN_MARK}|${NAME_MARK})`);
/** Shapes kept per page version (2^7 flag sets x services x greeting at most; far fewer occur). */
const MAX_SHAPES = 4096;

interface Shape {
  /** Fixed HTML, one more than holes. */
  parts: string[];
  holes: ('token' | 'name')[];
  partBytes: number;
}

/**
 * A published page's personal pages, fast (the server's hot GET). The page is
 * rendered by renderPage once per shape (which boxes are ticked, whether it
 * greets by name) with markers in place of the token and first name, and cut
 * at the markers; a person's page is then their shape's fixed parts with their
 * token and name escaped in between (escapeText, the escaping of every html
 * template). The result is byte for byte what renderPage gives (tested).
 */
export class PersonalPageRenderer {
  private readonly shapes = new Map<string, Shape>();
  constructor(
    private readonly page: PageDefinition,
    private readonly options: Omit<RenderOptions, 'personal'>,
  ) {}

  /** The page for one person, with its length in UTF-8 bytes (for Content-Length). */
  render(p: PersonalData): { html: string; bytes: number } {
    const o = p.optOut;
    let key = `${+o.all}${+o.email}${+o.sms}${+o.phone}${+o.postal}${+o.fax}${+o.push}${p.firstName ? 1 : 0}`;
    if (p.ungranted && p.ungranted.length > 0) key += `/${p.ungranted.join(',')}/`;
    for (const name of this.page.services) key += serviceTicked(p.subscriptions?.[name]) ? '1' : '0';
    let shape = this.shapes.get(key);
    if (!shape) {
      shape = this.cut(renderPage(this.page, { ...this.options, personal: { ...p, token: TOKEN_MARK, firstName: p.firstName ? NAME_MARK : null } }));
      if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
      this.shapes.set(key, shape);
    }
    const token = escapeText(p.token);
    const name = p.firstName ? escapeText(p.firstName) : '';
    let out = shape.parts[0]!;
    let bytes = shape.partBytes;
    for (let i = 0; i < shape.holes.length; i++) {
      const v = shape.holes[i] === 'token' ? token : name;
      out += v + shape.parts[i + 1]!;
      bytes += Buffer.byteLength(v);
    }
    return { html: out, bytes };
  }

  private cut(rendered: string): Shape {
    const pieces = rendered.split(MARKS_RE);
    const parts: string[] = [];
    const holes: Shape['holes'] = [];
    for (let i = 0; i < pieces.length; i++) {
      if (i % 2 === 0) parts.push(pieces[i]!);
      else holes.push(pieces[i] === TOKEN_MARK ? 'token' : 'name');
    }
    return { parts, holes, partBytes: parts.reduce((n, s) => n + Buffer.byteLength(s), 0) };
  }
}

/** The services fieldset: one box per service, `data-service` (never `data-channel`), label and description escaped. */
function serviceSet(
  page: PageDefinition,
  services: readonly ServiceBox[] | undefined,
  subscriptions: Readonly<Record<string, SubscriptionStatus>> | undefined,
): SafeHtml | '' {
  if (page.services.length === 0) return '';
  const byName = new Map((services ?? []).map((v) => [v.name, v]));
  const boxes = page.services.map((name) => {
    const v = byName.get(name);
    if (!v) throw new Error(`renderPage: the service "${name}" of page "${page.slug}" was not given`);
    const ticked = serviceTicked(subscriptions?.[name]);
    return html`<label><input type="checkbox" name="${serviceField(name)}" value="on" data-service="${name}"${ticked ? html` checked` : ''}>${v.label}${
      v.description ? html`<span class="desc">${v.description}</span>` : ''
    }</label>\n`;
  });
  return html`<fieldset>
<legend>${STRINGS[page.lang].servicesLegend}</legend>
${boxes}</fieldset>
`;
}

/** The answer to a submission, in the page's language. */
export function renderConfirmation(page: PageDefinition): string {
  const s = STRINGS[page.lang];
  const message = page.confirmation ?? (page.type === 'blocklist' ? s.blocklistConfirmation : s.acquisitionConfirmation);
  return documentShell(page.lang, page.title, '', html`<h1>${s.thanksTitle}</h1>\n<p>${message}</p>`);
}

/** A plain message page (for the server's error answers), escaped like the rest. */
export function renderMessage(lang: Lang, title: string, message: string): string {
  return documentShell(lang, title, '', html`<h1>${title}</h1>\n<p>${message}</p>`);
}
