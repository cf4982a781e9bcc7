/**
 * `consent landing serve`: the published pages, their form submissions and
 * RFC 8058 one-click unsubscribe, over HTTP (fastify).
 *
 *   GET  /<slug>                 the generic page (email field)
 *   GET  /<slug>?t=<token>       a person's page, boxes from their profile now      (personal-get.ts, routes.ts)
 *   POST /<slug>                 the form: with `t`, that person's choices; without, an email address   (submissions.ts)
 *   POST /<slug>/one-click?t=…   RFC 8058 one-click: `List-Unsubscribe=One-Click` sets `all`            (one-click.ts)
 *   POST /<slug>/one-click?s=<service>&t=…  the same for one service: unsubscribes from it only
 *   GET  /<slug>/one-click?…     a page whose one button POSTs the one-click (changes nothing)
 *   GET  /confirm/<service>?t=…  a page with a Confirm button (changes nothing: mail scanners)   (confirmations.ts)
 *   POST /confirm/<service>      confirms a pending subscription (`t` in the form)
 *   POST /sms/inbound            Twilio's Messaging webhook: STOP, START, HELP… (sms-inbound.ts; only with an auth token)
 *   GET|POST /api/v1/reachable   the check API for sending systems (api.ts; only with --api, API keys)
 *
 * A GET never changes anything. Every change goes through the group
 * committer and is answered only once committed. Error pages: errors.ts.
 */
import { createServer } from 'node:http';
import formbody from '@fastify/formbody';
import { invalid } from '../../consent/errors.js';
import Fastify from 'fastify';
import { contentSecurityPolicy } from '../render.js';
import type { LandingStore } from '../repository.js';
import { BODY_LIMIT, createContext } from './context.js';
import { HttpAnswer, installErrorHandlers } from './errors.js';
import { fastPostPath } from './fast-post.js';
import { personalGetPath, type FastPath } from './personal-get.js';
import { registerPageRoutes } from './routes.js';
import { registerSmsRoute } from './sms-inbound.js';
import { API_BODY_LIMIT, API_PATH, registerApiRoutes } from './api.js';

export { ACTORS, BODY_LIMIT, KEYRING_TTL_MS, PAGE_TTL_MS, type ServerContext } from './context.js';
export { registerPageRoutes } from './routes.js';

/** After this long, close() drops the connections still open. */
const CLOSE_GRACE_MS = 4_000;

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
  /** Twilio's auth token: with it, POST /sms/inbound takes Twilio's signed webhooks (else that path is 404). A secret: never logged. */
  twilioAuthToken?: string;
  /** Serve the check API (GET/POST /api/v1/reachable, API keys): api.ts. */
  api?: boolean;
}

export interface RunningServer {
  url: string;
  /** Stops accepting, finishes what is in flight and commits what is queued. */
  close(): Promise<void>;
  /** The group committer's counters: transactions, submissions, and consent changes (ledger events) written. */
  readonly stats: { commits: number; submissions: number; changes: number };
}

const securityHeaders = () => ({
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

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { log } = options;
  if (options.twilioAuthToken && !options.baseUrl) {
    throw invalid(
      'The SMS webhook needs the public URL Twilio calls: Twilio signs it, so it cannot be guessed from the request.',
      'Pass --base-url (or set CONSENT_BASE_URL) to the URL the server is reached at, e.g. https://pages.example.com.',
    );
  }
  // Set once the context exists; requests only arrive after listen().
  let fastPaths: FastPath[] = [];
  let closing = false;
  let inFlight = 0;
  const finished = () => void inFlight--;
  const app = Fastify({
    // Hot requests are answered before fastify's router when all goes well
    // (personal-get.ts, fast-post.ts); anything else, and any failure of that path, goes
    // through fastify and its error handling.
    serverFactory: (handler) =>
      createServer((req, res) => {
        inFlight++;
        res.once('close', finished);
        for (const path of fastPaths) if (path(req, res, handler)) return;
        handler(req, res);
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

  const ctx = await createContext({ ...options, inFlight: () => inFlight });

  // Only what a form or a one-click client sends; anything else is 415.
  // (multipart is registered with the POST routes only: its hook would cost every GET.)
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: BODY_LIMIT });
  // Callback-style hooks: no promise per request on the hot path.
  const headers = securityHeaders();
  // The CSP follows the brand (its colour's style hash; img-src data: only with a logo), read when the answer is sent.
  let csp = { brand: -1, value: '' };
  const cspNow = () => {
    const brand = ctx.brandNow();
    const key = brand?.version ?? 0;
    if (csp.brand !== key) {
      // form-action also allows the base URL's origin, where the forms post when it is absolute.
      csp = { brand: key, value: contentSecurityPolicy({ formAction: options.baseUrl || undefined, header: true, brand, images: Boolean(brand?.logo) }) };
    }
    return csp.value;
  };
  const staticHeaders = [...Object.entries(headers).flat(), 'content-type', 'text/html; charset=utf-8'];
  const pageHeaders = () => ['content-security-policy', cspNow(), ...staticHeaders];
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(headers); // on every answer, errors included
    reply.header('content-security-policy', cspNow());
    // multipart reads the raw stream, past fastify's bodyLimit: bound it by its declared length.
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > (options.api && req.url.startsWith(API_PATH) ? API_BODY_LIMIT : BODY_LIMIT)) return done(new HttpAnswer(413, 'tooLarge'));
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
  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.header('content-security-policy', cspNow()); // the brand may have been loaded by this very request
    done(null, payload);
  });
  installErrorHandlers(app, log, (lang) => ctx.lookNow(lang));

  // Keys read (and CONSENT_SECRET checked) before listening: a bad secret stops `serve` at once, not every request.
  await ctx.keyring();
  registerPageRoutes(app, ctx);
  if (options.twilioAuthToken) registerSmsRoute(app, ctx, options.twilioAuthToken);
  if (options.api) registerApiRoutes(app, options.store, log);
  fastPaths = [
    personalGetPath(ctx, pageHeaders, log),
    fastPostPath(ctx, pageHeaders, log, { behindProxy: options.trustProxy !== undefined, closing: () => closing, loggablePath }),
  ];

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: `http://${host}:${port}`,
    stats: ctx.committer.stats,
    async close() {
      closing = true; // new POSTs go to fastify, which answers 503 while closing
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
