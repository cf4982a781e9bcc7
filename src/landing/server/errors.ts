/**
 * Error answers: every 4xx/5xx is a page in the page's language (never a
 * stack trace), from one table of messages.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isConsentError } from '../../consent/errors.js';
import type { Lang } from '../page.js';
import { defaultLook, type PageLook } from '../look.js';
import { renderMessage } from '../render.js';
import type { PageStrings, StringKey } from '../strings.js';
import type { TokenFailure } from '../tokens.js';

const MESSAGE_KEYS = ['notFound', 'method', 'badLink', 'oldLink', 'badEmail', 'badRequest', 'tooLarge', 'mediaType', 'busy', 'error', 'oneClickBody'] as const;
export type MessageKey = (typeof MESSAGE_KEYS)[number];
const cap = (k: string) => k[0]!.toUpperCase() + k.slice(1);
/** An answer's title and text, from the page strings (`error<Key>Title`, `error<Key>Text`). */
function messageOf(s: PageStrings, key: MessageKey): [string, string] {
  return [s[`error${cap(key)}Title` as StringKey], s[`error${cap(key)}Text` as StringKey]];
}

/** A 4xx/5xx answer as a page (never a stack trace); `lang` is the page's when known. */
export class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    readonly key: MessageKey,
    readonly lang: Lang = 'en',
  ) {
    super(key);
  }
}

/** The status and message a failed token check deserves. */
export const TOKEN_STATUS: Record<TokenFailure, [number, MessageKey]> = {
  malformed: [400, 'badLink'], // empty, truncated, not base64url
  'bad-signature': [403, 'badLink'], // tampered, or a token for another page
  'unknown-key': [403, 'badLink'],
  'retired-key': [410, 'oldLink'],
  expired: [410, 'oldLink'],
};

/** The page of an answer: its title and message, escaped by renderMessage. */
export function renderAnswer(answer: HttpAnswer, lookOf: LookOf = defaultLook): string {
  const look = lookOf(answer.lang);
  const [title, message] = messageOf(look.strings, answer.key);
  return renderMessage(answer.lang, title, message, look);
}

/** The look of an error page in a language, known at once (the server's cached one, else the shipped strings). */
export type LookOf = (lang: Lang) => PageLook;

/** Methods answered 405 (with Allow) on each route; fastify answers HEAD with GET's handler. */
export const OTHER_METHODS = ['DELETE', 'PATCH', 'PUT', 'OPTIONS'] as const;

export function methodNotAllowed(allow: string) {
  return async (_req: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', allow);
    throw new HttpAnswer(405, 'method');
  };
}

/**
 * The answer an error deserves: an HttpAnswer as its page, a busy store as
 * 503 with Retry-After, fastify's own 4xx (bad body, 413, 415) as theirs,
 * anything else a logged 500. Shared by fastify's error handler and the fast paths.
 */
export function errorAnswer(error: unknown, log: (line: string) => void, lookOf: LookOf = defaultLook): { status: number; html: string; retryAfter: boolean } {
  let answer: HttpAnswer;
  let retryAfter = false;
  if (error instanceof HttpAnswer) answer = error;
  else if (isConsentError(error, 'busy')) {
    retryAfter = true;
    answer = new HttpAnswer(503, 'busy');
  } else {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const key: MessageKey = status === 413 ? 'tooLarge' : status === 415 ? 'mediaType' : status < 500 ? 'badRequest' : 'error';
    answer = new HttpAnswer(status >= 400 && status < 600 ? status : 500, key);
    if (answer.status >= 500) log(`error: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { status: answer.status, html: renderAnswer(answer, lookOf), retryAfter };
}

/** fastify's error and not-found handlers (errorAnswer). */
export function installErrorHandlers(app: FastifyInstance, log: (line: string) => void, lookOf: LookOf = defaultLook): void {
  app.setErrorHandler(async (error, _req, reply) => {
    const { status, html, retryAfter } = errorAnswer(error, log, lookOf);
    if (retryAfter) reply.header('retry-after', '5');
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  });
  app.setNotFoundHandler(async () => {
    throw new HttpAnswer(404, 'notFound');
  });
}
