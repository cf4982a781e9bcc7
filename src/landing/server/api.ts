/**
 * The check API (`landing serve --api`, or CONSENT_API=1), for sending
 * systems at send time:
 *
 *   GET  /api/v1/reachable?email=…|phone=…|profile=…&channel=c[&service=s]  → { reachable, reasons }
 *   POST /api/v1/reachable  { channel, emails: [...] } or { channel, phones: [...] } (≤ 1,000)  → { results: [...] }
 *
 * Authenticated by `Authorization: Bearer <key>` (`consent api-key create`):
 * no key or a wrong one is a bare 401. Keys in force are re-read at most
 * every API_KEY_TTL_MS, so a revoked key stops working within that time on
 * every server of the store. Never a cookie; no CORS header, and an OPTIONS
 * preflight is refused (405), so a browser on another origin can never call it.
 * Neither the key nor any address is logged (the request line is logged as
 * the server logs every path, without its query).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { matchApiKey, type ApiKeyHash } from '../../consent/api-keys.js';
import { CONTACT_CHANNELS, type ContactChannel } from '../../consent/channels.js';
import { isConsentError } from '../../consent/errors.js';
import { normalisePhone } from '../../consent/phone.js';
import { normaliseEmail } from '../../consent/profile.js';
import { checkReachable, MAX_BATCH, type ReachLookup } from '../../consent/reach-check.js';
import type { LandingStore } from '../repository.js';

export const API_PATH = '/api/v1/reachable';
/** Keys in force are re-read at most this often: a revoked key is refused within this time. */
export const API_KEY_TTL_MS = 5_000;
/** A batch of 1,000 of the longest addresses fits. */
export const API_BODY_LIMIT = 512 * 1024;

/** A 4xx of the API: a JSON body naming the field (none for 401). */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
const bad = (message: string) => new ApiError(400, message);

function one(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(`${field}: give it once`);
  return v;
}

function parseChannel(v: unknown): ContactChannel {
  if (typeof v !== 'string' || !(CONTACT_CHANNELS as readonly string[]).includes(v)) {
    throw bad(`channel: one of ${CONTACT_CHANNELS.join(', ')}`);
  }
  return v as ContactChannel;
}

function parseService(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(v)) throw bad('service: a service name');
  return v;
}

function email(v: unknown, field: string): ReachLookup {
  const e = typeof v === 'string' ? normaliseEmail(v) : null;
  if (e === null) throw bad(`${field}: not an email address`);
  return { kind: 'email', value: e };
}

function phone(v: unknown, field: string): ReachLookup {
  const r = typeof v === 'string' ? normalisePhone(v) : null;
  if (!r || !('phone' in r) || !r.phone) throw bad(`${field}: not an international phone number (+<country code>…)`);
  return { kind: 'phone', value: r.phone };
}

export function registerApiRoutes(root: FastifyInstance, store: LandingStore, log: (line: string) => void): void {
  let keys: { value: ApiKeyHash[]; loadedAt: number } | null = null;
  const activeKeys = async () => {
    if (!keys || Date.now() - keys.loadedAt >= API_KEY_TTL_MS) keys = { value: await store.apiKeys.active(), loadedAt: Date.now() };
    return keys.value;
  };

  root.register(async (app) => {
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: API_BODY_LIMIT }, (_req, body, done) => done(null, body));
    app.setErrorHandler(async (error, _req, reply) => {
      if (error instanceof ApiError) {
        return error.status === 401 ? reply.code(401).header('www-authenticate', 'Bearer').send() : reply.code(error.status).send({ error: error.message });
      }
      if (isConsentError(error, 'invalid')) return reply.code(400).send({ error: error.message });
      if (isConsentError(error, 'busy')) return reply.code(503).header('retry-after', '5').send({ error: 'the store is busy or unavailable: try again' });
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      if (status === 413) return reply.code(413).send({ error: `body: larger than ${API_BODY_LIMIT} bytes` });
      if (status === 415) return reply.code(415).send({ error: 'body: send application/json' });
      if (status >= 400 && status < 500) return reply.code(status).send({ error: 'bad request' });
      log(`error: ${error instanceof Error ? error.message : String(error)}`);
      return reply.code(500).send({ error: 'internal error' });
    });
    app.addHook('onRequest', async (req: FastifyRequest) => {
      const auth = req.headers.authorization;
      const m = typeof auth === 'string' ? /^Bearer ([A-Za-z0-9_-]{10,200})$/.exec(auth) : null;
      if (!m || !matchApiKey(m[1]!, await activeKeys())) throw new ApiError(401, '');
    });

    app.get(API_PATH, async (req: FastifyRequest<{ Querystring: Record<string, unknown> }>, reply: FastifyReply) => {
      const q = req.query;
      const given = (['email', 'phone', 'profile'] as const).filter((k) => q[k] !== undefined);
      if (given.length !== 1) throw bad('email, phone or profile: give exactly one');
      const channel = parseChannel(one(q.channel, 'channel'));
      const service = parseService(one(q.service, 'service'));
      const field = given[0]!;
      const raw = one(q[field], field);
      let lookup: ReachLookup;
      if (field === 'email') lookup = email(raw, 'email');
      else if (field === 'phone') lookup = phone(raw, 'phone');
      else {
        if (!/^\d{1,9}$/.test(raw ?? '')) throw bad('profile: a profile id');
        lookup = { kind: 'profile', value: Number(raw) };
      }
      const [result] = checkReachable([lookup], channel, await store.reach.facts([lookup], channel, service));
      return reply.send(result);
    });

    app.post(API_PATH, { bodyLimit: API_BODY_LIMIT }, async (req: FastifyRequest, reply: FastifyReply) => {
      let body: unknown;
      try {
        body = JSON.parse(String(req.body ?? ''));
      } catch {
        throw bad('body: not JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body: a JSON object');
      const b = body as Record<string, unknown>;
      const channel = parseChannel(b.channel);
      const service = parseService(b.service);
      if ((b.emails === undefined) === (b.phones === undefined)) throw bad('emails or phones: give exactly one');
      const field = b.emails !== undefined ? 'emails' : 'phones';
      const list = b[field];
      if (!Array.isArray(list)) throw bad(`${field}: an array`);
      if (list.length > MAX_BATCH) throw bad(`${field}: at most ${MAX_BATCH} addresses per request (${list.length} given)`);
      const lookups = list.map((v, i) => (field === 'emails' ? email(v, `${field}[${i}]`) : phone(v, `${field}[${i}]`)));
      const results = lookups.length === 0 ? [] : checkReachable(lookups, channel, await store.reach.facts(lookups, channel, service));
      const key = field === 'emails' ? 'email' : 'phone';
      return reply.send({ results: results.map((r, i) => ({ [key]: list[i], reachable: r.reachable, reasons: r.reasons })) });
    });

    // No CORS: a preflight is refused like any other method.
    app.route({
      method: ['OPTIONS', 'PUT', 'PATCH', 'DELETE'],
      url: API_PATH,
      handler: async (_req, reply) => reply.code(405).header('allow', 'GET, HEAD, POST').send({ error: 'method not allowed' }),
    });
  });
}
