/**
 * The hot GET: a person's page, `/<slug>?t=<token>` (every mail's link),
 * answered before fastify's router when all goes well, since fastify's own
 * per-request work was half of its cost. Anything else, and any failure of
 * this path, goes to fastify (`fallback`), which gives the 4xx it deserves.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Profile } from '../../consent/profile.js';
import { basesOf, ungrantedChannels, type Bases } from '../../consent/policy.js';
import type { Service } from '../../consent/services.js';
import { subscriptionMap } from '../operations.js';
import { SLUG_RE, type PageVersion } from '../page.js';
import { PersonalPageRenderer } from '../render.js';
import { verifyToken, type Keyring } from '../tokens.js';
import { pageUrl, TOKEN_PARAM } from '../urls.js';
import { pageServices, type ServerContextWithCaches } from './context.js';
import type { PageLook } from '../look.js';

/** What the fast path keeps per page: rebuilt whenever the page or the keyring is reloaded. */
interface PersonalView {
  page: PageVersion;
  keyring: Keyring;
  look: PageLook;
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

/** Takes a request when it is a personal GET (true), or leaves it to `fallback`'s caller (false). */
export type FastPath = (req: IncomingMessage, res: ServerResponse, fallback: RequestListener) => boolean;

/**
 * The fast path for personal GETs. `pageHeaders` are the headers of every
 * answer (security headers and content type), as a flat [name, value, …] list.
 */
export function personalGetPath(ctx: ServerContextWithCaches, pageHeaders: () => readonly string[], log: (line: string) => void): FastPath {
  const { store, now } = ctx;
  // The personal-page views (token verifier and page renderer), rebuilt when the page or keyring cache reloads.
  const views = new Map<string, PersonalView>();
  const viewNow = (slug: string): PersonalView | undefined => {
    const page = ctx.freshPage(slug);
    const ring = ctx.freshKeyring();
    if (!page || !ring) return undefined;
    const look = ctx.freshLook(page.definition.lang);
    const v = views.get(slug);
    return v && v.page === page && v.keyring === ring && v.look === look ? v : undefined;
  };
  const buildView = async (slug: string): Promise<PersonalView | null> => {
    const page = await ctx.page(slug);
    if (!page) return null;
    const ring = await ctx.keyring();
    const look = await ctx.look(page.definition.lang);
    const boxes = page.definition.services.length > 0 ? await pageServices(ctx, page) : [];
    const view: PersonalView = {
      page,
      keyring: ring,
      look,
      boxes,
      renderer: new PersonalPageRenderer(page.definition, { action: pageUrl(ctx.baseUrl, slug), version: page.version, services: boxes, look }),
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
    g.res.writeHead(200, [...pageHeaders(), 'content-length', String(page.bytes)]);
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
    // The basis, read once for the batch (and only when a page has channels): opt-in channels without a grant show unticked.
    let bases: Bases | null = null;
    try {
      if (toRead.some(({ view }) => view.page.definition.channels.length > 0)) bases = basesOf(await store.policy.current());
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
          const ungranted = bases ? ungrantedChannels(view.page.definition.channels, bases, profile.granted) : [];
          answer(g, view.renderer.render({ token: g.token, optOut: profile.optOut, ungranted, firstName: profile.firstName, subscriptions }));
        }
      } catch {
        answer(g, null);
      }
    }
  };
  return (req, res, fallback) => {
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
}
