/**
 * What every route shares: the store, the group committer, the cached
 * keyring, pages and services, the evidence of a change; and the small
 * lookups every handler makes (a published page, a signed token's profile).
 */
import { createHmac } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ContactChannel, OptOutFlags } from '../../consent/channels.js';
import type { ChangeContext } from '../../consent/ledger.js';
import type { Profile } from '../../consent/profile.js';
import type { Service, SubscriptionChange } from '../../consent/services.js';
import { GroupCommitter } from '../group-commit.js';
import { checkToken, loadKeyring, loadPublishedPage } from '../operations.js';
import { SLUG_RE, type Lang, type PageVersion } from '../page.js';
import type { LandingStore } from '../repository.js';
import type { Form } from '../submit.js';
import type { Keyring } from '../tokens.js';
import { LANG_RE } from '../strings.js';
import { HttpAnswer, TOKEN_STATUS } from './errors.js';
import type { Brand } from '../brand.js';
import { defaultLook, loadLook, type PageLook } from '../look.js';
import { FORM_FIELDS } from '../render.js';
import { formString } from '../submit.js';

/** Bodies larger than this are refused with 413, whatever their type. */
export const BODY_LIMIT = 64 * 1024;
/** Signing keys are re-read at most this often, so `keys rotate` / `keys retire` take effect without a restart. */
export const KEYRING_TTL_MS = 5_000;
/** Published pages are re-read at most this often: a new version is served within a second of `landing publish`. */
export const PAGE_TTL_MS = 1_000;

/**
 * While other requests are being served, group commits start at most this
 * often (GroupCommitter's cadence): a commit blocks the event loop for its
 * fsync, so in a campaign's mix of GETs and a few POSTs fewer, larger commits
 * serve more people. A POST then waits at most this long more; when only
 * submissions are in flight it is committed at once.
 */
export const COMMIT_INTERVAL_MS = 10;

/** Who made a change, as the ledger's `actor`. */
export const ACTORS = {
  /** The person themself, identified by their signed link (a token, or a one-click POST to it). */
  subject: 'subject',
  /** Whoever typed an address in a static page's email field: unverified, so it may only add opt-outs. */
  emailForm: 'email-form',
} as const;

/** Everything the route handlers share; issue 6 (services) adds its routes on the same context. */
export interface ServerContext {
  store: LandingStore;
  baseUrl: string;
  now: () => Date;
  committer: GroupCommitter;
  keyring(): Promise<Keyring>;
  /** The latest published version of a page (null: unknown or never published), cached for PAGE_TTL_MS. */
  page(slug: string): Promise<PageVersion | null>;
  /** A service by name (null: unknown), cached for PAGE_TTL_MS. */
  service(name: string): Promise<Service | null>;
  /** The strings and brand of pages in a language, cached for PAGE_TTL_MS; a language without strings is a 404. */
  look(lang: Lang): Promise<PageLook>;
  /** The last look loaded for a language, at once (error pages): the shipped strings and no brand until one was loaded. */
  lookNow(lang: Lang): PageLook;
  /** The brand of the look loaded last (null before any, or without a brand): the CSP header follows it. */
  brandNow(): Brand | null;
  /**
   * The evidence every landing change carries: the page and its version, the
   * brand version the person was shown (the form's `b` when it names a
   * version that exists, else the current one; null without a brand).
   */
  evidence(client: Client, page: PageVersion, via: string, form?: Form): Promise<Record<string, unknown>>;
  /** The same evidence without a page (a confirmation link): `fields` first, then time, user agent and client hash. */
  clientEvidence(client: Client, fields: Record<string, unknown>): Record<string, unknown>;
}

/** Who sent a request, as evidence needs it: the client address (after trusted proxies) and the User-Agent header. */
export interface Client {
  ip: string | undefined;
  userAgent: string | string[] | undefined;
}

export const clientOf = (req: FastifyRequest): Client => ({ ip: req.ip, userAgent: req.headers['user-agent'] });

/** Client hashes kept (an HMAC per distinct address, not per request); cleared when full. */
const CLIENT_HASHES = 10_000;

/** The context, plus what the personal-GET fast path reads of its caches without loading anything. */
export interface ServerContextWithCaches extends ServerContext {
  /** The cached keyring while fresh, else undefined (nothing is loaded). */
  freshKeyring(): Keyring | undefined;
  /** The cached page while fresh (null: known not to exist), else undefined (nothing is loaded). */
  freshPage(slug: string): PageVersion | null | undefined;
  /** The cached look of a language while fresh, else undefined (nothing is loaded). */
  freshLook(lang: Lang): PageLook | undefined;
}

export async function createContext(options: {
  store: LandingStore;
  baseUrl: string;
  env: Record<string, string | undefined>;
  now: () => Date;
  /** Requests received and not yet answered (the commit cadence's signal); none when not given. */
  inFlight?: () => number;
}): Promise<ServerContextWithCaches> {
  const { store, now } = options;
  let keyring: { value: Keyring; loadedAt: number } | null = null;
  const pages = new Map<string, { value: PageVersion | null; loadedAt: number }>();
  const services = new Map<string, { value: Service | null; loadedAt: number }>();
  const looks = new Map<string, { value: PageLook; loadedAt: number }>();
  let lastBrand: Brand | null = null;
  const salt = await store.landing.clientSalt();
  const clientHashes = new Map<string, string>();
  // A salted hash, never the address: it tells submissions from one client apart without keeping the client.
  const clientHash = (ip: string) => {
    let h = clientHashes.get(ip);
    if (h === undefined) {
      h = createHmac('sha256', salt).update(ip).digest('hex').slice(0, 32);
      if (clientHashes.size >= CLIENT_HASHES) clientHashes.clear();
      clientHashes.set(ip, h);
    }
    return h;
  };
  const fresh = (loadedAt: number, ttl: number, t: number) => t - loadedAt <= ttl && t >= loadedAt;
  const ctx: ServerContextWithCaches = {
    store,
    baseUrl: options.baseUrl,
    now,
    committer: new GroupCommitter(
      (groups) => store.landing.applyConsentGroups(groups),
      500,
      options.inFlight && { minIntervalMs: COMMIT_INTERVAL_MS, othersInFlight: (queued) => options.inFlight!() > queued, clock: () => performance.now() },
    ),
    async keyring() {
      const t = now().getTime();
      if (!keyring || !fresh(keyring.loadedAt, KEYRING_TTL_MS, t)) {
        keyring = { value: await loadKeyring(store, options.env), loadedAt: t };
      }
      return keyring.value;
    },
    freshKeyring() {
      return keyring && fresh(keyring.loadedAt, KEYRING_TTL_MS, now().getTime()) ? keyring.value : undefined;
    },
    async page(slug) {
      const t = now().getTime();
      const hit = pages.get(slug);
      if (hit && fresh(hit.loadedAt, PAGE_TTL_MS, t)) return hit.value;
      const value = await loadPublishedPage(store, slug);
      if (pages.size >= 1000) pages.clear(); // unknown slugs must not grow it without bound
      pages.set(slug, { value, loadedAt: t });
      return value;
    },
    freshLook(lang) {
      const hit = looks.get(lang);
      return hit && fresh(hit.loadedAt, PAGE_TTL_MS, now().getTime()) ? hit.value : undefined;
    },
    freshPage(slug) {
      const hit = pages.get(slug);
      return hit && fresh(hit.loadedAt, PAGE_TTL_MS, now().getTime()) ? hit.value : undefined;
    },
    async service(name) {
      const t = now().getTime();
      const hit = services.get(name);
      if (hit && fresh(hit.loadedAt, PAGE_TTL_MS, t)) return hit.value;
      const value = SLUG_RE.test(name) ? await store.services.get(name) : null;
      if (services.size >= 1000) services.clear();
      services.set(name, { value, loadedAt: t });
      return value;
    },
    async look(lang) {
      const t = now().getTime();
      const hit = looks.get(lang);
      if (hit && fresh(hit.loadedAt, PAGE_TTL_MS, t)) return hit.value;
      let value: PageLook;
      try {
        value = await loadLook(store, lang);
      } catch (e) {
        if ((e as { kind?: string }).kind === 'invalid') throw new HttpAnswer(404, 'notFound');
        throw e;
      }
      // Looks are few (one per language); reuse the same object while nothing changed, so the page views built on it stay.
      const same = hit && sameLook(hit.value, value);
      lastBrand = value.brand;
      if (looks.size >= 100) looks.clear();
      looks.set(lang, { value: same ? hit.value : value, loadedAt: t });
      return same ? hit.value : value;
    },
    brandNow() {
      return lastBrand;
    },
    lookNow(lang) {
      return looks.get(lang)?.value ?? defaultLook(lang);
    },
    async evidence(client, page, via, form) {
      const brand = (await ctx.look(page.definition.lang)).brand;
      return ctx.clientEvidence(client, { page: page.slug, version: page.version, brandVersion: brandVersionShown(brand, form), via });
    },
    clientEvidence(client, fields) {
      const ua = client.userAgent;
      return {
        ...fields,
        submittedAt: now().toISOString(),
        userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null,
        client: clientHash(client.ip ?? ''),
      };
    },
  };
  return ctx;
}

/** Two looks are the same when their strings are the same object (shipped) or equal, and their brand the same version. */
function sameLook(a: PageLook, b: PageLook): boolean {
  return (a.brand?.version ?? 0) === (b.brand?.version ?? 0) && (a.strings === b.strings || JSON.stringify(a.strings) === JSON.stringify(b.strings));
}

/** The brand version a form says it was rendered with, when it names one that exists (versions run 1…latest), else the latest. */
function brandVersionShown(brand: Brand | null, form: Form | undefined): number | null {
  if (!brand) return null;
  const b = form ? formString(form, FORM_FIELDS.brand) : undefined;
  const n = b !== undefined && /^[1-9]\d{0,8}$/.test(b) ? Number(b) : NaN;
  return Number.isInteger(n) && n <= brand.version ? n : brand.version;
}

/** The look of a language from a link's parameter, English when that language has no strings (a link is never refused for its `lang`). */
export async function lookOrEnglish(ctx: ServerContext, lang: Lang): Promise<PageLook> {
  try {
    return await ctx.look(lang);
  } catch (e) {
    if (e instanceof HttpAnswer) return ctx.look('en');
    throw e;
  }
}

export type SlugParams = { Params: { slug: string }; Querystring: Record<string, unknown>; Body: unknown };
export type ServiceParams = { Params: { service: string }; Querystring: Record<string, unknown>; Body: unknown };

/** A repeated field or parameter counts as its first value. */
export function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** A `lang` parameter (confirmation links): a language tag, else English. */
export const langOf = (v: unknown): Lang => {
  const l = first(v);
  return typeof l === 'string' && LANG_RE.test(l) ? l : 'en';
};

export function sendHtml(reply: FastifyReply, body: string) {
  return reply.code(200).type('text/html; charset=utf-8').send(body);
}

/** The body as a flat form: urlencoded bodies are already; multipart fields arrive as `{ value }` parts. */
export function formOf(body: unknown): Form {
  if (body === null || typeof body !== 'object') return {};
  const form: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const one = (x: unknown) => (x !== null && typeof x === 'object' && 'value' in x && (x as { type?: string }).type === 'field' ? (x as { value: unknown }).value : x);
    form[k] = Array.isArray(v) ? v.map(one) : one(v);
  }
  return form;
}

/** The latest published version of a page, or a 404. */
export async function publishedPage(ctx: ServerContext, slug: string): Promise<PageVersion> {
  const page = SLUG_RE.test(slug) ? await ctx.page(slug) : null;
  if (!page) throw new HttpAnswer(404, 'notFound');
  return page;
}

export async function knownService(ctx: ServerContext, name: string, lang: Lang): Promise<Service> {
  const service = await ctx.service(name);
  if (!service) throw new HttpAnswer(404, 'notFound', lang);
  return service;
}

/** A page's services as boxes; a name that is no longer a service (none can be deleted today) fails loudly. */
export async function pageServices(ctx: ServerContext, page: PageVersion): Promise<Service[]> {
  const found = await Promise.all(page.definition.services.map((n) => ctx.service(n)));
  if (found.some((v) => !v)) throw new Error(`page ${page.slug} v${page.version} names a service that does not exist`);
  return found as Service[];
}

/** The profile of a token signed for `slug` (a page, or a service namespace `service:<name>:confirm|unsubscribe`), or the 4xx its failure deserves. */
export async function profileFromSigned(ctx: ServerContext, token: unknown, slug: string, lang: Lang): Promise<Profile> {
  const check = checkToken(await ctx.keyring(), token, slug, ctx.now());
  if (!check.ok) {
    const [status, key] = TOKEN_STATUS[check.reason];
    throw new HttpAnswer(status, key, lang);
  }
  const profile = await ctx.store.findProfile({ id: check.profileId });
  if (!profile) throw new HttpAnswer(410, 'oldLink', lang);
  return profile;
}

/** The token's profile, or the 4xx its failure deserves; never throws anything else. */
export async function profileFromToken(ctx: ServerContext, token: unknown, page: PageVersion): Promise<Profile> {
  return profileFromSigned(ctx, token, page.slug, page.definition.lang);
}

/** A change through the group committer: settles once committed. */
export async function commit(
  ctx: ServerContext,
  profileId: number,
  wanted: Partial<OptOutFlags>,
  context: ChangeContext,
  subscriptions: readonly Pick<SubscriptionChange, 'service' | 'intent'>[] = [],
  grant: readonly ContactChannel[] = [],
): Promise<void> {
  await ctx.committer.submit({
    requests: Object.keys(wanted).length > 0 || grant.length > 0 ? [{ profileId, wanted, ...(grant.length > 0 ? { grant } : {}) }] : [],
    subscriptions: subscriptions.map((c) => ({ ...c, profileId })),
    context,
  });
}
