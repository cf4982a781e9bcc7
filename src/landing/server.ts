/**
 * `consent landing serve`: the published pages, their form submissions and
 * RFC 8058 one-click unsubscribe, over HTTP (fastify).
 *
 *   GET  /<slug>                 the generic page (email field)
 *   GET  /<slug>?t=<token>       a person's page, boxes from their profile now
 *   POST /<slug>                 the form: with `t`, that person's choices; without, an email address
 *   POST /<slug>/one-click?t=…   RFC 8058 one-click: `List-Unsubscribe=One-Click` sets `all`
 *   POST /<slug>/one-click?s=<service>&t=…  the same for one service: unsubscribes from it only
 *   GET  /<slug>/one-click?…     a page whose one button POSTs the one-click (changes nothing)
 *   GET  /confirm/<service>?t=…  a page with a Confirm button (changes nothing: mail scanners)
 *   POST /confirm/<service>      confirms a pending subscription (`t` in the form)
 *
 * A GET never changes anything. Every change goes through the group
 * committer and is answered only once committed.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { OptOutFlags } from '../consent/channels.js';
import type { Service, SubscriptionChange } from '../consent/services.js';
import { isConsentError } from '../consent/errors.js';
import type { ChangeContext } from '../consent/ledger.js';
import { normaliseEmail, type Profile } from '../consent/profile.js';
import { GroupCommitter } from './group-commit.js';
import { checkToken, loadKeyring, loadPublishedPage, renderGenericPage, renderPersonalPage, subscriptionMap } from './operations.js';
import { SLUG_RE, type Lang, type PageVersion } from './page.js';
import { contentSecurityPolicy, FORM_FIELDS, PersonalPageRenderer, renderConfirmation, renderMessage } from './render.js';
import { formString, wantedWithoutToken, wantedWithToken, type Form } from './submit.js';
import { verifyToken, type Keyring, type TokenFailure } from './tokens.js';
import { ONE_CLICK_SEGMENT, oneClickUrl, pageUrl, TOKEN_PARAM } from './urls.js';
import { ONE_CLICK_FIELD, ONE_CLICK_VALUE, renderOneClickPrompt, renderServiceOneClickPrompt } from './one-click-page.js';
import {
  CONFIRM_SEGMENT,
  confirmNamespace,
  LANG_PARAM,
  renderConfirmed,
  renderConfirmPrompt,
  renderServiceUnsubscribed,
  SERVICE_PARAM,
  serviceOneClickUrl,
  subscriptionsWithoutToken,
  subscriptionsWithToken,
  unsubscribeNamespace,
} from './services.js';
import type { LandingStore } from './repository.js';

/** Bodies larger than this are refused with 413, whatever their type. */
export const BODY_LIMIT = 64 * 1024;
/** Signing keys are re-read at most this often, so `keys rotate` / `keys retire` take effect without a restart. */
export const KEYRING_TTL_MS = 5_000;
/** Published pages are re-read at most this often: a new version is served within a second of `landing publish`. */
export const PAGE_TTL_MS = 1_000;
/** After this long, close() drops the connections still open. */
const CLOSE_GRACE_MS = 4_000;

/** Who made a change, as the ledger's `actor`. */
export const ACTORS = {
  /** The person themself, identified by their signed link (a token, or a one-click POST to it). */
  subject: 'subject',
  /** Whoever typed an address in a static page's email field: unverified, so it may only add opt-outs. */
  emailForm: 'email-form',
} as const;

export interface ServerOptions {
  store: LandingStore;
  host: string;
  /** 0 = an ephemeral port (tests). */
  port: number;
  /** Form targets and links: '' = relative to this server's root. */
  baseUrl: string;
  env: Record<string, string | undefined>;
  now: () => Date;
  /** One line per request (no query string, never a token or an email). */
  log: (line: string) => void;
  /**
   * Behind a reverse proxy: which X-Forwarded-For hops to believe for the
   * client address (its salted hash is part of each change's evidence): a
   * number of hops, or the proxies' addresses / CIDR ranges, comma-separated.
   * Unset: the connection's own address.
   */
  trustProxy?: number | string;
}

export interface RunningServer {
  url: string;
  /** Stops accepting, finishes what is in flight and commits what is queued. */
  close(): Promise<void>;
  /** The group committer's counters: transactions, submissions, and consent changes (ledger events) written. */
  readonly stats: { commits: number; submissions: number; changes: number };
}

const MESSAGES: Record<Lang, Record<'notFound' | 'method' | 'badLink' | 'oldLink' | 'badEmail' | 'badRequest' | 'tooLarge' | 'mediaType' | 'busy' | 'error' | 'oneClickBody', [string, string]>> = {
  en: {
    notFound: ['Page not found', 'There is no page at this address.'],
    method: ['Method not allowed', 'This address does not accept this kind of request.'],
    badLink: ['Invalid link', 'This link is not valid, so nothing was changed. Please use the link exactly as you received it.'],
    oldLink: ['Link no longer valid', 'This link has expired or is no longer valid. Nothing was changed.'],
    badEmail: ['Invalid email address', 'Please go back and enter a valid email address. Nothing was changed.'],
    badRequest: ['Bad request', 'This request could not be understood. Nothing was changed.'],
    tooLarge: ['Request too large', 'This request is too large. Nothing was changed.'],
    mediaType: ['Unsupported request', 'This kind of content is not accepted here. Nothing was changed.'],
    busy: ['Please try again', 'We could not save your choices just now. Please try again in a moment.'],
    error: ['Something went wrong', 'Your request could not be completed. Please try again later.'],
    oneClickBody: ['Bad request', 'A one-click unsubscribe request carries List-Unsubscribe=One-Click. Nothing was changed.'],
  },
  fr: {
    notFound: ['Page introuvable', "Il n'y a pas de page à cette adresse."],
    method: ['Méthode non autorisée', "Cette adresse n'accepte pas ce type de requête."],
    badLink: ['Lien invalide', "Ce lien n'est pas valide : rien n'a été modifié. Utilisez le lien exactement tel que vous l'avez reçu."],
    oldLink: ['Lien expiré', "Ce lien a expiré ou n'est plus valide. Rien n'a été modifié."],
    badEmail: ['Adresse email invalide', "Revenez en arrière et saisissez une adresse email valide. Rien n'a été modifié."],
    badRequest: ['Requête invalide', "Cette requête n'a pas pu être comprise. Rien n'a été modifié."],
    tooLarge: ['Requête trop grande', "Cette requête est trop grande. Rien n'a été modifié."],
    mediaType: ['Requête non prise en charge', "Ce type de contenu n'est pas accepté ici. Rien n'a été modifié."],
    busy: ['Veuillez réessayer', "Vos choix n'ont pas pu être enregistrés à l'instant. Réessayez dans un moment."],
    error: ['Une erreur est survenue', "Votre demande n'a pas pu aboutir. Réessayez plus tard."],
    oneClickBody: ['Requête invalide', "Une désinscription en un clic porte List-Unsubscribe=One-Click. Rien n'a été modifié."],
  },
};
type MessageKey = keyof (typeof MESSAGES)['en'];

/** A 4xx/5xx answer as a page (never a stack trace); `lang` is the page's when known. */
class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    readonly key: MessageKey,
    readonly lang: Lang = 'en',
  ) {
    super(key);
  }
}

const TOKEN_STATUS: Record<TokenFailure, [number, MessageKey]> = {
  malformed: [400, 'badLink'], // empty, truncated, not base64url
  'bad-signature': [403, 'badLink'], // tampered, or a token for another page
  'unknown-key': [403, 'badLink'],
  'retired-key': [410, 'oldLink'],
  expired: [410, 'oldLink'],
};

const securityHeaders = (baseUrl: string) => ({
  // form-action also allows the base URL's origin, where the forms post when it is absolute.
  'content-security-policy': contentSecurityPolicy({ formAction: baseUrl || undefined, header: true }),
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
});

/** The path as logged: the query (and its token) never; anything that is not a page path is redacted (it could carry an address). */
export function loggablePath(url: string): string {
  const path = url.split('?', 1)[0]!;
  return /^(\/[a-z0-9-]{1,64}){0,2}\/?$/.test(path) ? path : '/[other]';
}

/** The body as a flat form: urlencoded bodies are already; multipart fields arrive as `{ value }` parts. */
function formOf(body: unknown): Form {
  if (body === null || typeof body !== 'object') return {};
  const form: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const one = (x: unknown) => (x !== null && typeof x === 'object' && 'value' in x && (x as { type?: string }).type === 'field' ? (x as { value: unknown }).value : x);
    form[k] = Array.isArray(v) ? v.map(one) : one(v);
  }
  return form;
}

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
  /** The evidence every landing change carries. */
  evidence(req: FastifyRequest, page: PageVersion, via: string): Promise<Record<string, unknown>>;
  /** The same evidence without a page (a confirmation link): `fields` first, then time, user agent and client hash. */
  clientEvidence(req: FastifyRequest, fields: Record<string, unknown>): Record<string, unknown>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { store, now, log } = options;
  // Set once the context exists; requests only arrive after listen().
  let fastGet: ((req: IncomingMessage, res: ServerResponse, fallback: RequestListener) => boolean) | null = null;
  const app = Fastify({
    // A person's page is the one hot GET (every mail's link): it is answered
    // before fastify's router when all goes well, since fastify's own
    // per-request work was half of its cost. Anything else, and any failure
    // of that path, goes through fastify and its error handling.
    serverFactory: (handler) =>
      createServer((req, res) => {
        if (!fastGet?.(req, res, handler)) handler(req, res);
      }),
    logger: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A hop count as proxy-addr reads it: the first `n` addresses from the socket's end are proxies.
    ...(options.trustProxy === undefined
      ? {}
      : { trustProxy: typeof options.trustProxy === 'number' ? (_address: string, hop: number) => hop < (options.trustProxy as number) : options.trustProxy }),
  });

  let keyring: { value: Keyring; loadedAt: number } | null = null;
  const pages = new Map<string, { value: PageVersion | null; loadedAt: number }>();
  const services = new Map<string, { value: Service | null; loadedAt: number }>();
  const salt = await store.landing.clientSalt();
  const ctx: ServerContext = {
    store,
    baseUrl: options.baseUrl,
    now,
    committer: new GroupCommitter((groups) => store.landing.applyConsentGroups(groups)),
    async keyring() {
      const t = now().getTime();
      if (!keyring || t - keyring.loadedAt > KEYRING_TTL_MS || t < keyring.loadedAt) {
        keyring = { value: await loadKeyring(store, options.env), loadedAt: t };
      }
      return keyring.value;
    },
    async page(slug) {
      const t = now().getTime();
      const hit = pages.get(slug);
      if (hit && t - hit.loadedAt <= PAGE_TTL_MS && t >= hit.loadedAt) return hit.value;
      const value = await loadPublishedPage(store, slug);
      if (pages.size >= 1000) pages.clear(); // unknown slugs must not grow it without bound
      pages.set(slug, { value, loadedAt: t });
      return value;
    },
    async service(name) {
      const t = now().getTime();
      const hit = services.get(name);
      if (hit && t - hit.loadedAt <= PAGE_TTL_MS && t >= hit.loadedAt) return hit.value;
      const value = SLUG_RE.test(name) ? await store.services.get(name) : null;
      if (services.size >= 1000) services.clear();
      services.set(name, { value, loadedAt: t });
      return value;
    },
    async evidence(req, page, via) {
      return this.clientEvidence(req, { page: page.slug, version: page.version, via });
    },
    clientEvidence(req, fields) {
      const ua = req.headers['user-agent'];
      return {
        ...fields,
        submittedAt: now().toISOString(),
        userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null,
        // A salted hash, never the address: it tells submissions from one client apart without keeping the client.
        client: createHmac('sha256', salt).update(req.ip ?? '').digest('hex').slice(0, 32),
      };
    },
  };

  // Only what a form or a one-click client sends; anything else is 415.
  // (multipart is registered with the POST routes only: its hook would cost every GET.)
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: BODY_LIMIT });
  // Callback-style hooks: no promise per request on the hot path.
  const headers = securityHeaders(options.baseUrl);
  const pageHeaders = [...Object.entries(headers).flat(), 'content-type', 'text/html; charset=utf-8'];
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(headers); // on every answer, errors included
    // multipart reads the raw stream, past fastify's bodyLimit: bound it by its declared length.
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > BODY_LIMIT) return done(new HttpAnswer(413, 'tooLarge'));
    if (req.headers['transfer-encoding'] && /multipart\//i.test(req.headers['content-type'] ?? '')) {
      reply.header('connection', 'close');
      return done(new HttpAnswer(411, 'badRequest'));
    }
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    log(`${req.method} ${loggablePath(req.url)} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)}ms`);
    done();
  });

  const sendPage = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(body);

  app.setErrorHandler(async (error, _req, reply) => {
    let answer: HttpAnswer;
    if (error instanceof HttpAnswer) answer = error;
    else if (isConsentError(error, 'busy')) {
      reply.header('retry-after', '5');
      answer = new HttpAnswer(503, 'busy');
    } else {
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      const key: MessageKey = status === 413 ? 'tooLarge' : status === 415 ? 'mediaType' : status < 500 ? 'badRequest' : 'error';
      answer = new HttpAnswer(status >= 400 && status < 600 ? status : 500, key);
      if (answer.status >= 500) log(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    const [title, message] = MESSAGES[answer.lang][answer.key];
    return sendPage(reply, answer.status, renderMessage(answer.lang, title, message));
  });
  app.setNotFoundHandler(async () => {
    throw new HttpAnswer(404, 'notFound');
  });

  // Keys read (and CONSENT_SECRET checked) before listening: a bad secret stops `serve` at once, not every request.
  await ctx.keyring();
  registerPageRoutes(app, ctx);
  // The personal-page views (token verifier and page renderer), rebuilt when the page or keyring cache reloads.
  const views = new Map<string, PersonalView>();
  const viewNow = (slug: string): PersonalView | undefined => {
    const t = now().getTime();
    const p = pages.get(slug);
    if (!p?.value || !keyring || t - p.loadedAt > PAGE_TTL_MS || t < p.loadedAt || t - keyring.loadedAt > KEYRING_TTL_MS || t < keyring.loadedAt) {
      return undefined;
    }
    const v = views.get(slug);
    return v && v.page === p.value && v.keyring === keyring.value ? v : undefined;
  };
  const buildView = async (slug: string): Promise<PersonalView | null> => {
    const page = await ctx.page(slug);
    if (!page) return null;
    const ring = await ctx.keyring();
    const boxes = page.definition.services.length > 0 ? await pageServices(ctx, page) : [];
    const view: PersonalView = {
      page,
      keyring: ring,
      boxes,
      renderer: new PersonalPageRenderer(page.definition, { action: pageUrl(ctx.baseUrl, slug), version: page.version, services: boxes }),
    };
    if (views.size >= 1000) views.clear();
    views.set(slug, view);
    return view;
  };
  // The personal GETs of one event-loop turn are answered together: tokens
  // checked in one loop, profiles read in one read transaction (one snapshot,
  // the locking paid once), pages written in one loop. Under load a turn
  // brings many requests, and doing each step for all of them keeps its code
  // and data in the CPU's caches.
  let pending: PendingGet[] = [];
  const answer = (g: PendingGet, page: { html: string; bytes: number } | null) => {
    if (g.res.headersSent) return; // answered already: never twice
    if (page === null) return g.fallback(g.req, g.res);
    g.res.writeHead(200, [...pageHeaders, 'content-length', String(page.bytes)]);
    g.res.end(page.html);
    try {
      log(`GET /${g.slug} 200 ${(performance.now() - g.started).toFixed(1)}ms`);
    } catch {
      // a log that fails never touches an answer already sent
    }
  };
  const flushGets = async () => {
    const batch = pending;
    pending = [];
    const nowSeconds = Math.floor(now().getTime() / 1000);
    const ids: number[] = [];
    const toRead: { g: PendingGet; view: PersonalView }[] = [];
    for (const g of batch) {
      try {
        const view = viewNow(g.slug) ?? (await buildView(g.slug));
        const check = view && verifyToken(view.keyring, g.token, g.slug, nowSeconds);
        if (!view || !check?.ok) {
          answer(g, null);
          continue;
        }
        ids.push(check.profileId);
        toRead.push({ g, view });
      } catch {
        answer(g, null);
      }
    }
    if (toRead.length === 0) return;
    let profiles: (Profile | null)[];
    try {
      profiles = await store.findProfiles(ids);
    } catch {
      for (const { g } of toRead) answer(g, null);
      return;
    }
    for (let i = 0; i < toRead.length; i++) {
      const { g, view } = toRead[i]!;
      const profile = profiles[i];
      try {
        if (!profile) answer(g, null);
        else {
          const subscriptions = view.boxes.length > 0 ? await subscriptionMap(store, profile.id) : {};
          answer(g, view.renderer.render({ token: g.token, optOut: profile.optOut, firstName: profile.firstName, subscriptions }));
        }
      } catch {
        answer(g, null);
      }
    }
  };
  fastGet = (req, res, fallback) => {
    // A link, `/<slug>?t=<token>`, possibly with other parameters (a mailer's
    // utm_…, ignored as the route ignores them); anything else is fastify's.
    const url = req.url;
    if (req.method !== 'GET' || !url) return false;
    const q = url.indexOf('?');
    if (q < 2) return false;
    const slug = url.slice(1, q);
    if (!SLUG_RE.test(slug)) return false;
    let token: string;
    if (url.charCodeAt(q + 1) === 116 /* t */ && url.charCodeAt(q + 2) === 61 /* = */ && url.indexOf('&', q) < 0) token = url.slice(q + 3);
    else {
      const tokens = new URLSearchParams(url.slice(q + 1)).getAll(TOKEN_PARAM);
      if (tokens.length !== 1) return false;
      token = tokens[0]!;
    }
    pending.push({ req, res, fallback, slug, token, started: performance.now() });
    if (pending.length === 1) {
      setImmediate(() =>
        flushGets().catch((e: unknown) => {
          // Each request has its own fallback inside flushGets; this is only a last guard against a crash.
          log(`error: ${e instanceof Error ? e.message : String(e)}`);
        }),
      );
    }
    return true;
  };

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: `http://${host}:${port}`,
    stats: ctx.committer.stats,
    async close() {
      let timer: NodeJS.Timeout | undefined;
      const force = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          app.server.closeAllConnections();
          resolve();
        }, CLOSE_GRACE_MS);
      });
      try {
        await Promise.race([app.close(), force]);
      } finally {
        clearTimeout(timer);
      }
      await ctx.committer.drain();
    },
  };
}

type App = FastifyInstance;

/** Methods answered 405 (with Allow) on each route; fastify answers HEAD with GET's handler. */
const OTHER_METHODS = ['DELETE', 'PATCH', 'PUT', 'OPTIONS'] as const;

function methodNotAllowed(allow: string) {
  return async (_req: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', allow);
    throw new HttpAnswer(405, 'method');
  };
}

type SlugParams = { Params: { slug: string }; Querystring: Record<string, unknown>; Body: unknown };
type ServiceParams = { Params: { service: string }; Querystring: Record<string, unknown>; Body: unknown };

async function knownService(ctx: ServerContext, name: string, lang: Lang): Promise<Service> {
  const service = await ctx.service(name);
  if (!service) throw new HttpAnswer(404, 'notFound', lang);
  return service;
}

/** The profile of a token signed for `slug` (a page, or a service namespace `service:<name>:confirm|unsubscribe`), or the 4xx its failure deserves. */
async function profileFromSigned(ctx: ServerContext, token: unknown, slug: string, lang: Lang): Promise<Profile> {
  const check = checkToken(await ctx.keyring(), token, slug, ctx.now());
  if (!check.ok) {
    const [status, key] = TOKEN_STATUS[check.reason];
    throw new HttpAnswer(status, key, lang);
  }
  const profile = await ctx.store.findProfile({ id: check.profileId });
  if (!profile) throw new HttpAnswer(410, 'oldLink', lang);
  return profile;
}

/** A person's page, boxes from their profile as it is now; a bad token is the 4xx it deserves. */
async function personalPage(ctx: ServerContext, page: PageVersion, token: unknown, boxes: Service[]): Promise<string> {
  const profile = await profileFromToken(ctx, token, page);
  const subscriptions = boxes.length > 0 ? await subscriptionMap(ctx.store, profile.id) : {};
  return renderPersonalPage(page.definition, page.version, profile, String(token), ctx.baseUrl, { boxes, subscriptions });
}

/** What the fast path keeps per page: rebuilt whenever the page or the keyring is reloaded. */
interface PersonalView {
  page: PageVersion;
  keyring: Keyring;
  boxes: Service[];
  renderer: PersonalPageRenderer;
}

/** A personal GET waiting for its turn's batch; `fallback` hands it to fastify (any failure: fastify gives the 4xx). */
interface PendingGet {
  req: IncomingMessage;
  res: ServerResponse;
  fallback: RequestListener;
  slug: string;
  token: string;
  started: number;
}

/** The latest published version of a page, or a 404. */
async function publishedPage(ctx: ServerContext, slug: string): Promise<PageVersion> {
  const page = SLUG_RE.test(slug) ? await ctx.page(slug) : null;
  if (!page) throw new HttpAnswer(404, 'notFound');
  return page;
}

/** The token's profile, or the 4xx its failure deserves; never throws anything else. */
async function profileFromToken(ctx: ServerContext, token: unknown, page: PageVersion): Promise<Profile> {
  return profileFromSigned(ctx, token, page.slug, page.definition.lang);
}

async function commit(
  ctx: ServerContext,
  profileId: number,
  wanted: Partial<OptOutFlags>,
  context: ChangeContext,
  subscriptions: readonly Pick<SubscriptionChange, 'service' | 'intent'>[] = [],
): Promise<void> {
  await ctx.committer.submit({
    requests: Object.keys(wanted).length > 0 ? [{ profileId, wanted }] : [],
    subscriptions: subscriptions.map((c) => ({ ...c, profileId })),
    context,
  });
}

/** A page's services as boxes; a name that is no longer a service (none can be deleted today) fails loudly. */
async function pageServices(ctx: ServerContext, page: PageVersion): Promise<Service[]> {
  const found = await Promise.all(page.definition.services.map((n) => ctx.service(n)));
  if (found.some((v) => !v)) throw new Error(`page ${page.slug} v${page.version} names a service that does not exist`);
  return found as Service[];
}

/** The page of a one-click URL: a blocklist page, or any page with `s=<service>`; else 404. */
async function oneClickPage(ctx: ServerContext, slug: string, query: Record<string, unknown>): Promise<PageVersion> {
  const page = await publishedPage(ctx, slug);
  if (first(query[SERVICE_PARAM]) === undefined && page.definition.type !== 'blocklist') throw new HttpAnswer(404, 'notFound', page.definition.lang);
  return page;
}

/**
 * Whom a one-click URL is for, and for what: its service (`s`, null for the
 * blocklist page's "everything") and the profile of its token, signed for
 * that service's unsubscribe namespace or for the page; a failure is the 4xx it deserves.
 */
async function oneClickSubject(
  ctx: ServerContext,
  page: PageVersion,
  query: Record<string, unknown>,
): Promise<{ service: Service | null; profile: Profile; token: string }> {
  const lang = page.definition.lang;
  const serviceName = first(query[SERVICE_PARAM]);
  const token = first(query[TOKEN_PARAM]);
  if (serviceName === undefined) return { service: null, profile: await profileFromToken(ctx, token, page), token: String(token) };
  const service = await knownService(ctx, String(serviceName), lang);
  const profile = await profileFromSigned(ctx, token, unsubscribeNamespace(service.name), lang);
  return { service, profile, token: String(token) };
}

const langOf = (v: unknown): Lang => (first(v) === 'fr' ? 'fr' : 'en');

const MULTIPART_OPTIONS = {
  attachFieldsToBody: true,
  // Files are not expected: drained and ignored, like any unknown field.
  onFile: async (part: { file: { resume(): unknown } }) => {
    part.file.resume();
  },
  limits: { fieldNameSize: 200, fieldSize: BODY_LIMIT, fields: 200, fileSize: BODY_LIMIT, files: 10, parts: 220, headerPairs: 100 },
} as const;

export function registerPageRoutes(root: App, ctx: ServerContext): void {
  root.get<SlugParams>('/:slug', async (req, reply) => {
    const page = await publishedPage(ctx, req.params.slug);
    const token = first(req.query[TOKEN_PARAM]);
    const boxes = page.definition.services.length > 0 ? await pageServices(ctx, page) : [];
    if (token === undefined) return sendHtml(reply, renderGenericPage(page.definition, page.version, ctx.baseUrl, boxes));
    return sendHtml(reply, await personalPage(ctx, page, token, boxes));
  });

  // A confirmation link: only shows the Confirm button (a POST); mail scanners' GETs change nothing.
  root.get<ServiceParams>(`/${CONFIRM_SEGMENT}/:service`, async (req, reply) => {
    const lang = langOf(req.query[LANG_PARAM]);
    const service = await knownService(ctx, req.params.service, lang);
    const token = first(req.query[TOKEN_PARAM]);
    await profileFromSigned(ctx, token, confirmNamespace(service.name), lang);
    return sendHtml(reply, renderConfirmPrompt(lang, service, String(token), ctx.baseUrl));
  });

  // A one-click link opened in a browser (a mail client without RFC 8058): a
  // page whose one button POSTs the one-click. The GET itself changes nothing.
  root.get<SlugParams>(`/:slug/${ONE_CLICK_SEGMENT}`, async (req, reply) => {
    const page = await oneClickPage(ctx, req.params.slug, req.query);
    const { service, token } = await oneClickSubject(ctx, page, req.query);
    if (service) {
      return sendHtml(reply, renderServiceOneClickPrompt(page.definition.lang, service, serviceOneClickUrl(ctx.baseUrl, page.slug, service.name, token)));
    }
    return sendHtml(reply, renderOneClickPrompt(page.definition, oneClickUrl(ctx.baseUrl, page.slug, token)));
  });

  // The routes that take a body, in a scope of their own with the multipart parser.
  root.register(async (app) => {
    await app.register(multipart, MULTIPART_OPTIONS);
    registerPostRoutes(app, ctx);
  });
}

/** POST routes (and the 405s of their paths); issue 6 adds its confirmation and per-service one-click here. */
function registerPostRoutes(app: App, ctx: ServerContext): void {
  app.post<SlugParams>('/:slug', async (req, reply) => {
    let page = await publishedPage(ctx, req.params.slug);
    const form = formOf(req.body);
    const lang = page.definition.lang;
    // Apply the channels of the version the person saw (the form says which); versions are immutable.
    const v = formString(form, FORM_FIELDS.version);
    if (v !== undefined && v !== String(page.version)) {
      const n = /^[1-9]\d{0,8}$/.test(v) ? Number(v) : NaN;
      const seen = Number.isInteger(n) ? await ctx.store.pages.version(page.slug, n) : null;
      if (!seen) throw new HttpAnswer(400, 'badRequest', lang);
      page = seen;
    }
    const source = `landing:${page.slug}@v${page.version}`;
    const token = first(form[FORM_FIELDS.token] ?? req.query[TOKEN_PARAM]);
    const at = ctx.now().toISOString();
    if (token !== undefined) {
      const profile = await profileFromToken(ctx, token, page);
      const evidence = await ctx.evidence(req, page, 'link');
      await commit(
        ctx,
        profile.id,
        wantedWithToken(page.definition, form),
        { source, actor: ACTORS.subject, reason: null, evidence, occurredAt: at },
        subscriptionsWithToken(page.definition, form),
      );
    } else {
      const email = normaliseEmail(formString(form, FORM_FIELDS.email) ?? '');
      if (!email) throw new HttpAnswer(400, 'badEmail', lang);
      const wanted = wantedWithoutToken(page.definition, form);
      const subscriptions = subscriptionsWithoutToken(page.definition, form);
      // Known or not, the answer is the same page with the same status: it never tells whether an address is known.
      const context = { source, actor: ACTORS.emailForm, reason: null, evidence: await ctx.evidence(req, page, 'email-form'), occurredAt: at };
      if (page.definition.type === 'acquisition') {
        await ctx.committer.commitAlone(() => ctx.store.landing.createAndApply(email, { wanted, subscriptions, context }));
      } else {
        const profile = await ctx.store.findProfile({ email });
        if (profile && Object.keys(wanted).length > 0) await commit(ctx, profile.id, wanted, context, subscriptions);
      }
    }
    return sendHtml(reply, renderConfirmation(page.definition));
  });

  // RFC 8058: no cookie, no login, no Origin check; 200, never a redirect.
  app.post<SlugParams>(`/:slug/${ONE_CLICK_SEGMENT}`, async (req, reply) => {
    const page = await oneClickPage(ctx, req.params.slug, req.query);
    const form = formOf(req.body);
    if (formString(form, ONE_CLICK_FIELD) !== ONE_CLICK_VALUE) throw new HttpAnswer(400, 'oneClickBody', page.definition.lang);
    const { service, profile } = await oneClickSubject(ctx, page, req.query);
    const evidence = await ctx.evidence(req, page, 'one-click');
    const context = (evidence: Record<string, unknown>): ChangeContext => ({ source: 'one-click', actor: ACTORS.subject, reason: null, evidence, occurredAt: ctx.now().toISOString() });
    if (service) {
      // One service only; the token is bound to it (another service's token fails), the page only gives the language and evidence.
      await commit(ctx, profile.id, {}, context({ ...evidence, service: service.name }), [{ service: service.name, intent: 'unsubscribe' }]);
      return sendHtml(reply, renderServiceUnsubscribed(page.definition.lang, service));
    }
    await commit(ctx, profile.id, { all: true }, context(evidence));
    return sendHtml(reply, renderConfirmation(page.definition));
  });

  // A confirmation: the person pressed Confirm. Idempotent: nothing pending → nothing recorded, the same answer.
  app.post<ServiceParams>(`/${CONFIRM_SEGMENT}/:service`, async (req, reply) => {
    const form = formOf(req.body);
    const lang = langOf(form[LANG_PARAM] ?? req.query[LANG_PARAM]);
    const service = await knownService(ctx, req.params.service, lang);
    const profile = await profileFromSigned(ctx, first(form[FORM_FIELDS.token] ?? req.query[TOKEN_PARAM]), confirmNamespace(service.name), lang);
    const evidence = ctx.clientEvidence(req, { service: service.name, via: 'confirmation-link' });
    await commit(ctx, profile.id, {}, { source: `confirm:${service.name}`, actor: ACTORS.subject, reason: null, evidence, occurredAt: ctx.now().toISOString() }, [
      { service: service.name, intent: 'confirm' },
    ]);
    return sendHtml(reply, renderConfirmed(lang, service));
  });

  app.route({ method: [...OTHER_METHODS], url: '/:slug', handler: methodNotAllowed('GET, HEAD, POST') });
  app.route({ method: [...OTHER_METHODS], url: `/${CONFIRM_SEGMENT}/:service`, handler: methodNotAllowed('GET, HEAD, POST') });
  app.route({ method: [...OTHER_METHODS], url: `/:slug/${ONE_CLICK_SEGMENT}`, handler: methodNotAllowed('GET, HEAD, POST') });
}

/** A repeated field or parameter counts as its first value. */
function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

function sendHtml(reply: FastifyReply, body: string) {
  return reply.code(200).type('text/html; charset=utf-8').send(body);
}
