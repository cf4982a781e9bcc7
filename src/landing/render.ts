import { createHash, randomBytes } from 'node:crypto';
import type { ContactChannel, OptOutFlags } from '../consent/channels.js';
import { escapeText, html, trustedHtml, type SafeHtml } from './html.js';
import type { Service, SubscriptionStatus } from '../consent/services.js';
import { logoDataUri, type Brand } from './brand.js';
import { defaultLook, type PageLook } from './look.js';
import { surveyForm, type SurveyForm } from './reason-page.js';
import type { Lang, PageDefinition, Wording } from './page.js';
import { channelName, channelOptoutLabel, type PageStrings } from './strings.js';

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
  /** The brand version the form was rendered with (absent without a brand): the evidence names what the person was shown. */
  brand: 'b',
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
  // A box's label wraps beside its box, never under it (a long label on a 360-px phone): the box in the first column, the text (and a description) in the second.
  'label:has(>input[type=checkbox]),label:has(>input[type=radio]){display:grid;grid-template-columns:auto 1fr;column-gap:.5rem;align-items:start}',
  'input[type=checkbox],input[type=radio]{width:1.25rem;height:1.25rem;margin:.15rem 0 0 0}',
  'input[type=email]{display:block;box-sizing:border-box;width:100%;font:inherit;padding:.5rem;margin-top:.25rem;border:1px solid #888;border-radius:.375rem}',
  'button{font:inherit;padding:.65rem 1.25rem;border:0;border-radius:.375rem;background:#1f5fbf;color:#fff;cursor:pointer}',
  '.desc{display:block;grid-column:2;font-size:.9rem;color:#555}',
  'textarea{display:block;box-sizing:border-box;width:100%;font:inherit;padding:.5rem;margin-top:.25rem;border:1px solid #888;border-radius:.375rem}',
  '.org{max-width:36rem;margin:0 auto;padding:1rem 1rem 0;display:flex;align-items:center;gap:.75rem}',
  '.org img{max-height:3rem;max-width:10rem;width:auto;height:auto}',
  '.org-name{font-weight:600;margin:0}',
  'footer{max-width:36rem;margin:0 auto;padding:0 1rem 1.5rem;font-size:.9rem;color:#444}',
  'footer p{margin:0 0 .25rem}',
  'a{color:#1f5fbf}',
  '.note{font-size:.9rem;color:#444}',
  'button:focus-visible,input:focus-visible{outline:3px solid #f0a000;outline-offset:2px}',
].join('');

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** The CSP source of the auto-submit script and the page style: hashes, never 'unsafe-inline'. */
export const SCRIPT_HASH = sha256(AUTO_SUBMIT_SCRIPT);
export const STYLE_HASH = sha256(PAGE_CSS);

/**
 * The brand's accent (buttons, links), as a second style element of its own,
 * so that PAGE_CSS and its hash never change: '' without a colour.
 */
export function brandCss(brand: Brand | null): string {
  if (!brand?.color) return '';
  return `button{background:${brand.color}}a{color:${brand.color}}`;
}

/** The CSP hash of a brand's style element ('' without one). */
export function brandStyleHash(brand: Brand | null): string {
  const css = brandCss(brand);
  return css ? sha256(css) : '';
}

/**
 * The Content-Security-Policy of every page. `formAction` is the form's
 * target: when it is absolute, its origin is allowed besides 'self'.
 * `header: true` adds what only works as a header (frame-ancestors); the
 * server sends that, a static page carries the rest in a <meta>.
 */
export function contentSecurityPolicy(options: { formAction?: string; header?: boolean; brand?: Brand | null; images?: boolean } = {}): string {
  const formAction = ["'self'"];
  if (options.formAction && /^https?:\/\//.test(options.formAction)) formAction.push(new URL(options.formAction).origin);
  const brandHash = brandStyleHash(options.brand ?? null);
  const parts = [
    "default-src 'none'",
    `style-src ${STYLE_HASH}${brandHash ? ` ${brandHash}` : ''}`,
    `script-src ${SCRIPT_HASH}`,
    // Only the inlined logo (a data: URI; nothing is ever fetched), only when there is one.
    ...(options.images ? ['img-src data:'] : []),
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

export function channelLabel(wording: Wording, s: PageStrings, channel: ContactChannel): string {
  return wording === 'optout' ? channelOptoutLabel(s, channel) : channelName(s, channel);
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
  /** The strings and brand of the page (default: the shipped strings of its language, no brand). */
  look?: PageLook;
}

/** The organisation's name and logo above the page; nothing without a brand. */
function brandHeader(brand: Brand | null): SafeHtml | '' {
  if (!brand) return '';
  // The name is shown as text beside the logo, so the logo is decorative (empty alt).
  const logo = brand.logo ? html`<img src="${logoDataUri(brand.logo)}" alt="">` : '';
  return html`<header class="org">${logo}<p class="org-name">${brand.name}</p></header>\n`;
}

/** Who runs the page, its privacy notice and how to reach them; nothing without a brand. */
function brandFooter(brand: Brand | null, s: PageStrings): SafeHtml | '' {
  if (!brand) return '';
  const who = html`<p>${brand.name}${brand.address ? html` · ${brand.address}` : ''}</p>\n`;
  const links = [
    brand.privacyUrl ? html`<a href="${brand.privacyUrl}">${s.privacyLink}</a>` : null,
    brand.contact ? html`${s.contactLabel} ${brand.contact}` : null,
  ].filter((x): x is SafeHtml => x !== null);
  const second = links.length ? html`<p>${links.map((l, i) => (i ? html` · ${l}` : l))}</p>\n` : '';
  return html`<footer>
${who}${second}</footer>
`;
}

/** The page around a body: head, CSP meta, our style, the brand's header and footer; `action` is the form target (for the CSP). */
export function documentShell(lang: Lang, title: string, action: string, body: SafeHtml, script = false, look: PageLook = defaultLook(lang)): string {
  const brand = look.brand;
  const css = brandCss(brand);
  return html`<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy({ formAction: action, brand, images: Boolean(brand?.logo) })}">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${trustedHtml(PAGE_CSS)}</style>
${css ? html`<style>${trustedHtml(css)}</style>\n` : ''}</head>
<body>
${brandHeader(brand)}<main>
${body}
</main>
${brandFooter(brand, look.strings)}${script ? html`<script>${trustedHtml(AUTO_SUBMIT_SCRIPT)}</script>\n` : ''}</body>
</html>
`.value;
}

/**
 * A page as HTML: the generic page (an email field) or, with `personal`, a
 * person's page (boxes from their flags, their token in the form). Pure.
 */
export function renderPage(page: PageDefinition, options: RenderOptions): string {
  const look = options.look ?? defaultLook(page.lang);
  const s = look.strings;
  const p = options.personal;
  const hidden = html`${p ? html`<input type="hidden" name="${FORM_FIELDS.token}" value="${p.token}">\n` : ''}${
    options.version ? html`<input type="hidden" name="${FORM_FIELDS.version}" value="${options.version}">\n` : ''
  }${look.brand ? html`<input type="hidden" name="${FORM_FIELDS.brand}" value="${look.brand.version}">\n` : ''}`;
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
<label><input type="checkbox" name="${ALL_FIELD}" value="on" data-channel="all" checked>${page.wording === 'optout' ? channelOptoutLabel(s, 'all') : s.allBoxLabel}</label>\n`
      : '';
    const boxes = page.channels.map((c) => {
      const ticked = channelFlags ? boxTicked(page.wording, channelFlags, c, p?.ungranted) : false;
      return html`<label><input type="checkbox" name="${channelField(c)}" value="on" data-channel="${c}"${
        ticked ? html` checked` : ''
      }>${channelLabel(page.wording, s, c)}</label>\n`;
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
${hidden}${emailField}${channelSet}${serviceSet(page, s, options.services, p?.subscriptions)}<button type="submit">${s.saveChoices}</button>
</form>`;
  } else {
    const button = html`<button type="submit">${s.unsubscribeAll}</button>`;
    script = Boolean(p);
    body = html`<h1>${page.title}</h1>
${greeting}${intro}<form id="${FORM_ID}" method="post" action="${options.action}">
${hidden}<fieldset>
<legend>${s.blocklistLegend}</legend>
<p>${p ? s.blocklistPersonal : s.blocklistGeneric}</p>
${emailField}</fieldset>
${p ? html`<noscript>${button}</noscript>` : button}
</form>`;
  }
  return documentShell(page.lang, page.title, options.action, body, script, look);
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
  s: PageStrings,
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
<legend>${s.servicesLegend}</legend>
${boxes}</fieldset>
`;
}

/** What a blocklist confirmation may offer besides "done": the person's own link to an acquisition page (never an undo). */
export interface ConfirmationExtras {
  /** "Changed your mind? Choose what you receive": the person's signed link to an acquisition page. */
  changeMindUrl?: string | null;
  /** The optional unsubscribe-reason survey (--ask-reason), shown below the confirmation. */
  survey?: SurveyForm | null;
}

/** The answer to a submission, in the page's language. */
export function renderConfirmation(page: PageDefinition, look: PageLook = defaultLook(page.lang), extras: ConfirmationExtras = {}): string {
  const s = look.strings;
  if (page.type === 'blocklist') {
    const message = page.confirmation ?? s.blocklistConfirmation;
    const changeMind = extras.changeMindUrl
      ? html`<h2>${s.changeMindTitle}</h2>\n<p><a href="${extras.changeMindUrl}">${s.changeMindLink}</a></p>\n`
      : '';
    const survey = extras.survey ? surveyForm(s, extras.survey) : '';
    return documentShell(page.lang, page.title, extras.survey?.action ?? '', html`<h1>${s.blocklistConfirmationTitle}</h1>\n<p>${message}</p>\n${survey}${changeMind}`, false, look);
  }
  const message = page.confirmation ?? s.acquisitionConfirmation;
  return documentShell(page.lang, page.title, '', html`<h1>${s.thanksTitle}</h1>\n<p>${message}</p>`, false, look);
}

/** A plain message page (for the server's error answers), escaped like the rest. */
export function renderMessage(lang: Lang, title: string, message: string, look: PageLook = defaultLook(lang)): string {
  return documentShell(lang, title, '', html`<h1>${title}</h1>\n<p>${message}</p>`, false, look);
}
