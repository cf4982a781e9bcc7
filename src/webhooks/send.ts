/**
 * One POST of a signed body to a webhook's target, with a short timeout,
 * to the address checked by resolveTarget (never a second resolution), no
 * redirect followed. Never throws: the outcome says what happened.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { ConsentError } from '../consent/errors.js';
import { signatureHeader } from './signature.js';
import { checkUrl, resolveTarget, systemLookup, type Lookup, type TargetRules } from './target.js';

export const DEFAULT_TIMEOUT_MS = 5_000;

export type SendResult = { ok: true; status: number; ms: number } | { ok: false; status: number | null; error: string; ms: number };

export interface SendOptions {
  url: string;
  secret: string;
  body: string;
  rules: TargetRules;
  /** Unix seconds for the signature. */
  unixSeconds: number;
  timeoutMs?: number;
  lookup?: Lookup;
  /** Extra headers (the delivery id). */
  headers?: Record<string, string>;
}

export async function send(o: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let url: URL;
  let target: { address: string; family: number };
  try {
    url = checkUrl(o.url, o.rules);
    target = await resolveTarget(url, o.rules, o.lookup ?? systemLookup);
  } catch (e) {
    return { ok: false, status: null, error: (e instanceof ConsentError ? e.message : String(e)).replace(/\.$/, ''), ms: ms() };
  }
  const tls = url.protocol === 'https:';
  const signal = AbortSignal.timeout(o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return new Promise<SendResult>((resolve) => {
    const done = (r: SendResult) => resolve(r);
    const bare = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const req = (tls ? https : http).request(
      {
        // The checked address, and the URL's host for the Host header and the certificate.
        host: target.address,
        family: target.family,
        port: url.port || (tls ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: {
          host: url.host,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(o.body),
          'user-agent': 'consent-webhooks/1',
          'consent-signature': signatureHeader(o.secret, o.unixSeconds, o.body),
          ...o.headers,
        },
        signal,
        agent: false,
        ...(tls && !isIP(bare) ? { servername: bare } : {}),
      },
      (res) => {
        // The answer's body is not read past a few kilobytes: only its status counts.
        let seen = 0;
        res.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen > 65_536) res.destroy();
        });
        res.on('error', () => {});
        res.on('close', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) done({ ok: true, status, ms: ms() });
          else done({ ok: false, status, error: `the receiver answered ${status}`, ms: ms() });
        });
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => {
      const why = signal.aborted ? `no answer within ${o.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms` : e.code ? `${e.code}` : e.message;
      done({ ok: false, status: null, error: why, ms: ms() });
    });
    req.end(o.body);
  });
}
