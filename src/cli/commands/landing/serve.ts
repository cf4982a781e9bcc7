import { isIP } from 'node:net';
import { conflict, invalid } from '../../../consent/errors.js';
import { startServer } from '../../../landing/server.js';
import { resolveBaseUrl } from '../../../landing/urls.js';
import type { CommandContext } from '../../context.js';
import { Deliverer, webhookSettings } from '../../../webhooks/deliverer.js';

function parsePort(raw: unknown): number {
  const s = String(raw ?? '8080');
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 65535) throw invalid(`--port must be a port number (0-65535), not "${s}".`, '0 picks a free port.');
  return n;
}

/** `--trust-proxy` (else CONSENT_TRUST_PROXY): a number of hops, or proxy addresses / CIDR ranges. */
function parseTrustProxy(raw: unknown): number | string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const s = String(raw).trim();
  if (/^\d{1,2}$/.test(s)) return Number(s);
  const parts = s.split(',').map((p) => p.trim());
  const valid = (p: string) => {
    if (p === 'loopback' || p === 'linklocal' || p === 'uniquelocal') return true;
    const [ip, bits, extra] = p.split('/');
    const family = isIP(ip ?? '');
    if (family === 0 || extra !== undefined) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  };
  if (!parts.every(valid)) {
    throw invalid(
      `--trust-proxy must be a number of proxy hops or the proxies' addresses, not "${s}".`,
      'E.g. --trust-proxy 1 (one proxy in front), or --trust-proxy 10.0.0.0/8,127.0.0.1 (also: loopback, linklocal, uniquelocal).',
    );
  }
  return parts.join(',');
}

/**
 * Log lines gathered during one turn of the event loop and written together:
 * under load one write per turn instead of one per request.
 */
function batchedLog(write: (text: string) => void) {
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.join('\n') + '\n';
    pending = [];
    write(text);
  };
  return {
    line(line: string) {
      if (pending.push(line) === 1) setImmediate(flush);
    },
    flush,
  };
}

/**
 * Twilio's auth token: `--twilio-auth-token-file` (its first line), else
 * CONSENT_TWILIO_AUTH_TOKEN; none: the SMS webhook is not served. A secret:
 * no message ever quotes it.
 */
async function twilioToken(ctx: CommandContext, file: unknown): Promise<string | undefined> {
  let token: string | undefined;
  let from: string;
  if (typeof file === 'string') {
    token = (await ctx.readInput(file)).split(/\r?\n/, 1)[0];
    from = `--twilio-auth-token-file ${file}`;
  } else {
    token = ctx.env.CONSENT_TWILIO_AUTH_TOKEN;
    from = 'CONSENT_TWILIO_AUTH_TOKEN';
    if (token === undefined || token === '') return undefined;
  }
  token = token?.trim();
  if (!token) throw invalid(`${from} is empty: the SMS webhook needs Twilio's auth token.`, "Copy the Auth Token from the Twilio console (Account > API keys & tokens) into it.");
  return token;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Serves until SIGINT/SIGTERM, then stops accepting, finishes in-flight requests and returns (exit 0). */
export async function serve(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const port = parsePort(o.port);
  const host = String(o.host ?? '127.0.0.1');
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const trustProxy = parseTrustProxy(o.trustProxy ?? ctx.env.CONSENT_TRUST_PROXY);
  if (!ctx.deps.interrupts) throw invalid('landing serve needs a process to run in (use the consent binary).');
  const twilioAuthToken = await twilioToken(ctx, o.twilioAuthTokenFile);
  const api = o.api === true || ctx.env.CONSENT_API === '1';
  const webhooks = webhookSettings(ctx.env);
  const store = await ctx.store();
  const log = batchedLog((text) => ctx.deps.stderr.write(text));
  let server;
  try {
    server = await startServer({ store, host, port, baseUrl, env: ctx.env, now: ctx.deps.now, log: log.line, trustProxy, twilioAuthToken, api });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw conflict(`Port ${port} on ${host} is already in use.`, 'Choose another --port (0 picks a free one).');
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') throw invalid(`Cannot listen on ${host}:${port} (${code}).`);
    throw e;
  }
  ctx.notice(`Serving landing pages at ${server.url} from ${store.location} (Ctrl-C to stop).`);
  if (twilioAuthToken) ctx.notice(`Taking Twilio's SMS webhook at ${baseUrl}/sms/inbound.`);
  if (api) ctx.notice(`Serving the check API at ${server.url}/api/v1/reachable (Authorization: Bearer <key from \`consent api-key create\`>).`);
  // Outbound webhooks, in the background: a timer, never in a request's way.
  const deliverer = new Deliverer({ store, now: ctx.deps.now, settings: webhooks, log: log.line });
  deliverer.start();
  const stop = ctx.deps.interrupts();
  const signal = await new Promise<string>((resolve) => {
    if (stop.aborted) resolve(String(stop.reason));
    else stop.addEventListener('abort', () => resolve(String(stop.reason)), { once: true });
  });
  ctx.notice(`${signal}: stopping (finishing requests in flight)…`);
  await deliverer.stop();
  await server.close();
  log.flush();
  // Changes as the ledger counts them (one per flag or subscription changed), not submissions: a repeat changes nothing.
  const { changes, commits } = server.stats;
  ctx.notice(`Stopped. ${plural(changes, 'change')} committed in ${plural(commits, 'transaction')}.`);
}
