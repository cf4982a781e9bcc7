/**
 * Landing-page use cases, written against the LandingStore interface only.
 * The CLI commands and the server (`landing serve`) both call these.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContactChannel } from '../consent/channels.js';
import { conflict, invalid, notFound } from '../consent/errors.js';
import type { Profile, ProfileRef } from '../consent/profile.js';
import { requireProfile } from '../consent/operations.js';
import { basesOf, ungrantedChannels } from '../consent/policy.js';
import type { ConsentStore } from '../consent/store.js';
import type { PageDefinition, PageRecord, PageVersion } from './page.js';
import type { SubscriptionStatus } from '../consent/services.js';
import { channelField, renderPage, type ServiceBox } from './render.js';
import { resolvePageServices, serviceOneClickMaker } from './services.js';
import { keyringFrom, tokenSigner, verifyToken, type Keyring, type TokenCheck } from './tokens.js';
import { oneClickUrl, pageUrl, personalUrl } from './urls.js';
import type { LinkFormat, LinkLineSpec } from './link-lines.js';
import type { LandingStore } from './repository.js';
import { canonicalDefinition } from './canonical.js';
import { withAtomicFile, writeFileAtomic } from '../io/atomic-file.js';
import { brandMissing, type Brand, type BrandInput } from './brand.js';
import { loadLook, type PageLook } from './look.js';

export async function requirePage(store: LandingStore, slug: string): Promise<PageRecord> {
  const page = await store.pages.get(slug);
  if (!page) throw notFound(`No page "${slug}".`, 'See `consent landing list`.');
  return page;
}

/** The latest published version of a page, or null (unknown or never published): what the server serves. */
export async function loadPublishedPage(store: LandingStore, slug: string): Promise<PageVersion | null> {
  return store.pages.latestVersion(slug);
}

/** Like loadPublishedPage, but a missing page is `not-found` and an unpublished one `conflict`. */
export async function requirePublishedPage(store: LandingStore, slug: string): Promise<PageVersion> {
  await requirePage(store, slug);
  const v = await store.pages.latestVersion(slug);
  if (!v) throw conflict(`The page "${slug}" is not published yet.`, `Run \`consent landing publish ${slug}\` first.`);
  return v;
}

/** The store's signing keys, with CONSENT_SECRET applied when set. Load once, reuse for every token. */
export async function loadKeyring(store: LandingStore, env: Record<string, string | undefined>): Promise<Keyring> {
  return keyringFrom(await store.keys.list(), env);
}

/** Checks a token for a page; never throws. `now` is a Date (the injected clock). */
export function checkToken(keyring: Keyring, token: unknown, slug: string, now: Date): TokenCheck {
  return verifyToken(keyring, token, slug, Math.floor(now.getTime() / 1000));
}

export interface LinkOptions {
  baseUrl: string;
  /** Seconds from `now`; undefined = never expires. */
  expiresInSeconds?: number;
  now: Date;
}

export interface PersonLinks {
  token: string;
  url: string;
  /** RFC 8058 one-click target; null unless the page is a blocklist page. */
  oneClickUrl: string | null;
}

/** Signs links with the current key. Build one per page and call it for each profile. */
/** Unix seconds when links made now expire; 0 = never. */
function expiryOf(options: LinkOptions): number {
  return options.expiresInSeconds ? Math.floor(options.now.getTime() / 1000) + options.expiresInSeconds : 0;
}

/**
 * A person's RFC 8058 one-click link for one service of a published page: it
 * unsubscribes from that service only. The page must offer the service.
 */
export function serviceOneClickLink(keyring: Keyring, page: PageVersion, service: string, options: LinkOptions): (profileId: number) => string {
  if (!page.definition.services.includes(service)) {
    throw invalid(
      `The page "${page.slug}" (version ${page.version}) does not offer the service ${service}.`,
      `Add it with \`consent landing edit ${page.slug} --services …\` and publish, or use a page that offers it.`,
    );
  }
  return serviceOneClickMaker(keyring, page.slug, service, { baseUrl: options.baseUrl, expiresAt: expiryOf(options) });
}

export function linkMaker(keyring: Keyring, page: PageDefinition, options: LinkOptions): (profileId: number) => PersonLinks {
  const sign = tokenSigner(keyring.current(), page.slug);
  const expiresAt = expiryOf(options);
  const blocklist = page.type === 'blocklist';
  return (profileId) => {
    const token = sign(profileId, expiresAt);
    return {
      token,
      url: personalUrl(options.baseUrl, page.slug, token),
      oneClickUrl: blocklist ? oneClickUrl(options.baseUrl, page.slug, token) : null,
    };
  };
}

/** What `landing links` signs and prints for `page` now (see link-lines.ts): the current key, the same expiry and URLs as linkMaker. */
export function linkLineSpec(keyring: Keyring, page: PageDefinition, options: LinkOptions, format: LinkFormat): LinkLineSpec {
  const key = keyring.current();
  return { key: { id: key.id, secret: key.secret }, slug: page.slug, oneClick: page.type === 'blocklist', baseUrl: options.baseUrl, expiresAt: expiryOf(options), format };
}

/** A person's page: boxes from their current flags, their token in the form. */
export function renderPersonalPage(
  page: PageDefinition,
  version: number | null,
  profile: Pick<Profile, 'id' | 'optOut' | 'firstName'>,
  token: string,
  baseUrl: string,
  services: { boxes: readonly ServiceBox[]; subscriptions: Readonly<Record<string, SubscriptionStatus>> } = { boxes: [], subscriptions: {} },
  ungranted: readonly ContactChannel[] = [],
  look?: PageLook,
): string {
  return renderPage(page, {
    action: pageUrl(baseUrl, page.slug),
    version,
    personal: { token, optOut: profile.optOut, ungranted, firstName: profile.firstName, subscriptions: services.subscriptions },
    services: services.boxes,
    look,
  });
}

/** The generic page (an email field, no personal data). `services`: the page's services (resolvePageServices). */
export function renderGenericPage(page: PageDefinition, version: number | null, baseUrl: string, services: readonly ServiceBox[] = [], look?: PageLook): string {
  return renderPage(page, { action: pageUrl(baseUrl, page.slug), version, services, look });
}

export interface PreviewOptions {
  /** Which definition: undefined = the draft; `latest` or a number = that published version. */
  pageVersion?: string;
  /** A person's page for this profile, with a link signed now; else the generic page. */
  profile?: ProfileRef;
  /** For the keyring (CONSENT_SECRET), when a profile is given. */
  env: Record<string, string | undefined>;
  baseUrl: string;
  expiresInSeconds?: number;
  now: Date;
}

/** `landing render`: the draft or a published version, generic or for one person, as HTML. */
export async function renderPreview(store: LandingStore, slug: string, o: PreviewOptions): Promise<string> {
  const page = await requirePage(store, slug);
  let definition = page.draft;
  let version: number | null = null;
  if (o.pageVersion !== undefined) {
    const raw = o.pageVersion;
    const n = raw === 'latest' ? page.latestVersion : /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n)) throw invalid(`--page-version must be a version number or "latest", not "${raw}".`);
    const v = n > 0 ? await store.pages.version(slug, n) : null;
    if (!v) throw notFound(`The page "${slug}" has no published version ${raw}.`, `Its latest version is ${page.latestVersion || 'none'}.`);
    definition = v.definition;
    version = v.version;
  }
  const services = await resolvePageServices(store, definition);
  const look = await loadLook(store, definition.lang);
  if (o.profile === undefined) return renderGenericPage(definition, version, o.baseUrl, services, look);
  const profile = await requireProfile(store, o.profile);
  const keyring = await loadKeyring(store, o.env);
  const { token } = linkMaker(keyring, definition, { baseUrl: o.baseUrl, expiresInSeconds: o.expiresInSeconds, now: o.now })(profile.id);
  return renderPersonalPage(
    definition,
    version,
    profile,
    token,
    o.baseUrl,
    { boxes: services, subscriptions: await subscriptionMap(store, profile.id) },
    await ungrantedOnPage(store, definition, profile),
    look,
  );
}

/** The page's opt-in channels the profile holds no grant on: shown unticked (boxTicked). No read of the basis for a page without channels. */
export async function ungrantedOnPage(store: Pick<ConsentStore, 'policy'>, definition: PageDefinition, profile: Pick<Profile, 'granted'>): Promise<ContactChannel[]> {
  if (definition.channels.length === 0) return [];
  return ungrantedChannels(definition.channels, basesOf(await store.policy.current()), profile.granted);
}

/** A profile's subscriptions as `{ service: status }`, for rendering its page. */
export async function subscriptionMap(store: LandingStore, profileId: number): Promise<Record<string, SubscriptionStatus>> {
  const map: Record<string, SubscriptionStatus> = {};
  for (const s of await store.services.subscriptionsOf(profileId)) map[s.service] = s.status;
  return map;
}

export interface PublishResult {
  version: PageVersion;
  created: boolean;
  file: string;
  /** The brand version the page shows; null when no brand is set (then `warning` says so). */
  brandVersion: number | null;
  /** Set when the page was published without a brand: pages then name no organisation and link no privacy notice. */
  warning: string | null;
}

/**
 * Stores a new brand version. Published pages show the latest brand at once
 * (the server re-reads it), so while any page is published the brand must
 * have what `publishPage` requires of it (brandMissing): else every live page
 * would lose, say, its privacy link (GDPR art. 13). Refused before anything is stored.
 */
export async function setBrand(store: LandingStore, input: BrandInput, at: string, actor: string): Promise<Brand> {
  const missing = brandMissing(input);
  if (missing.length > 0) {
    const published = (await store.pages.list()).filter((p) => p.latestVersion > 0).map((p) => p.slug);
    if (published.length > 0) {
      // brandMissing names each item with its flag: "privacy URL (--privacy-url)".
      const [what, flags] = [missing.map((m) => m.replace(/ \(.*\)$/, '')), missing.map((m) => /\((--[a-z-]+)\)/.exec(m)?.[1] ?? m)];
      throw invalid(
        `A brand needs a ${what.join(' and a ')} while pages are published (${published.slice(0, 5).join(', ')}${published.length > 5 ? ', …' : ''}): every live page would lose it.`,
        `Pass ${flags.join(' and ')} (pages name who collects the data and link its privacy notice).`,
      );
    }
  }
  return store.brand.set(input, at, actor);
}

/**
 * Freezes the draft as a version (unless unchanged) and writes
 * `<outDir>/<slug>/index.html`, all or nothing: the page is rendered and
 * written (fsynced) to a temp file in its folder first; only then is the
 * version frozen, and the file renamed into place. A folder or file that
 * cannot be written freezes nothing (the file-system error is thrown as it
 * is, with its `path`); a failed freeze removes the temp file. A crash
 * between the freeze and the rename leaves a frozen version with its old
 * file (or none): a re-run finds the draft unchanged and rewrites the file.
 */
export async function publishPage(
  store: LandingStore,
  slug: string,
  options: { outDir: string; baseUrl: string; at: string; actor: string },
): Promise<PublishResult> {
  const record = await requirePage(store, slug);
  // Unknown services are refused before anything is frozen (exit 2, naming them).
  const services = await resolvePageServices(store, record.draft);
  // The page's language must have strings, and a brand, once there is one, must name the organisation and its privacy notice (GDPR art. 13).
  const look = await loadLook(store, record.draft.lang);
  if (look.brand) {
    const missing = brandMissing(look.brand);
    if (missing.length > 0) {
      throw invalid(
        `The page "${slug}" cannot be published: the brand (version ${look.brand.version}) has no ${missing.join(' and no ')}. Nothing was published.`,
        'Set it with `consent brand set --privacy-url https://…` (pages must name who collects the data and link its privacy notice).',
      );
    }
  }
  // What `pages.publish` will return: the latest version when the draft equals it, else the draft as the next one.
  const latest = await store.pages.latestVersion(slug);
  const expected = latest && !record.draftChanged ? latest : { definition: record.draft, version: (latest?.version ?? 0) + 1 };
  const dir = join(options.outDir, slug);
  const file = join(dir, 'index.html');
  await mkdir(dir, { recursive: true });
  const frozen = await withAtomicFile(file, async (out) => {
    await out.write(renderGenericPage(expected.definition, expected.version, options.baseUrl, services, look));
    await out.sync();
    return store.pages.publish(slug, options.at, options.actor);
  });
  const { version } = frozen;
  if (version.version !== expected.version || canonicalDefinition(version.definition) !== canonicalDefinition(expected.definition)) {
    // Another process edited or published the page in between: write what was really frozen.
    const html = renderGenericPage(version.definition, version.version, options.baseUrl, await resolvePageServices(store, version.definition), await loadLook(store, version.definition.lang));
    await writeFileAtomic(file, html);
  }
  const warning = look.brand
    ? null
    : 'No brand is set: the page names no organisation and links no privacy notice. Set one with `consent brand set --name N --privacy-url U` (GDPR art. 13), then publish again.';
  return { version, created: frozen.created, file, brandVersion: look.brand?.version ?? null, warning };
}

/**
 * The form's ticked boxes as the wanted flags, for the channels of this page
 * version only (others are never touched). Unknown values are ignored.
 * `all` is not touched either: whether ticking a box on an acquisition page
 * also clears "any channel" is the server's decision.
 */
export function wantedFromForm(page: PageDefinition, form: Readonly<Record<string, unknown>>): Partial<Record<ContactChannel, boolean>> {
  const wanted: Partial<Record<ContactChannel, boolean>> = {};
  for (const c of page.channels) {
    const ticked = form[channelField(c)] !== undefined;
    wanted[c] = page.wording === 'optout' ? ticked : !ticked;
  }
  return wanted;
}
