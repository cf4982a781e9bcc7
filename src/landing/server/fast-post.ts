/**
 * The POSTs a campaign brings, a page's form and RFC 8058 one-click, when
 * their body is urlencoded: read and parsed here (with fast-querystring,
 * the parser @fastify/formbody uses) and handed to the very handlers
 * fastify's routes call (submissions.ts, one-click.ts), without fastify's
 * routing, hooks and reply. Anything else (multipart, a chunked or too large
 * body, another path, a server behind a trusted proxy, a server closing) is
 * left to fastify before a byte of the body is read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse } from 'fast-querystring';
import { SLUG_RE } from '../page.js';
import { CONFIRM_SEGMENT } from '../services.js';
import { ONE_CLICK_SEGMENT } from '../urls.js';
import { BODY_LIMIT, type Client, type ServerContext } from './context.js';
import { errorAnswer } from './errors.js';
import { oneClick } from './one-click.js';
import type { FastPath } from './personal-get.js';
import { submitForm } from './submissions.js';

const URLENCODED_RE = /^application\/x-www-form-urlencoded\s*(;|$)/i;
const ONE_CLICK_SUFFIX = `/${ONE_CLICK_SEGMENT}`;

export function fastPostPath(
  ctx: ServerContext,
  pageHeaders: () => readonly string[],
  log: (line: string) => void,
  options: { behindProxy: boolean; closing: () => boolean; loggablePath: (url: string) => string },
): FastPath {
  const send = (res: ServerResponse, status: number, html: string, extra: readonly string[] = []) => {
    if (res.headersSent) return;
    res.writeHead(status, [...pageHeaders(), ...extra, 'content-length', String(Buffer.byteLength(html))]);
    res.end(html);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, url: string, slug: string, isOneClick: boolean, body: string, started: number) => {
    const q = url.indexOf('?');
    const query = q < 0 ? {} : (parse(url.slice(q + 1)) as Record<string, unknown>);
    const form = parse(body) as Record<string, unknown>;
    const client: Client = { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] };
    let status = 200;
    try {
      send(res, 200, await (isOneClick ? oneClick : submitForm)(ctx, slug, form, query, client));
    } catch (e) {
      const a = errorAnswer(e, log, (lang) => ctx.lookNow(lang));
      status = a.status;
      send(res, a.status, a.html, a.retryAfter ? ['retry-after', '5'] : []);
    }
    try {
      log(`POST ${options.loggablePath(url)} ${status} ${(performance.now() - started).toFixed(1)}ms`);
    } catch {
      // a log that fails never touches an answer already sent
    }
  };
  return (req, res) => {
    if (req.method !== 'POST' || options.behindProxy || options.closing()) return false;
    const url = req.url;
    if (!url) return false;
    const h = req.headers;
    if (h['transfer-encoding'] !== undefined || !URLENCODED_RE.test(h['content-type'] ?? '')) return false;
    const length = Number(h['content-length']);
    if (!(length >= 0 && length <= BODY_LIMIT)) return false;
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const isOneClick = path.endsWith(ONE_CLICK_SUFFIX);
    const slug = path.slice(1, isOneClick ? -ONE_CLICK_SUFFIX.length : undefined);
    if (!SLUG_RE.test(slug) || slug === CONFIRM_SEGMENT) return false;
    const started = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {}); // a client gone mid-body: nothing to answer, nothing was done
    req.on('end', () => {
      handle(req, res, url, slug, isOneClick, Buffer.concat(chunks).toString(), started).catch((e: unknown) => {
        log(`error: ${e instanceof Error ? e.message : String(e)}`);
      });
    });
    return true;
  };
}
