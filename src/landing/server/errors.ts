/**
 * Error answers: every 4xx/5xx is a page in the page's language (never a
 * stack trace), from one table of messages.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isConsentError } from '../../consent/errors.js';
import type { Lang } from '../page.js';
import { renderMessage } from '../render.js';
import type { TokenFailure } from '../tokens.js';

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
export type MessageKey = keyof (typeof MESSAGES)['en'];

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
export function renderAnswer(answer: HttpAnswer): string {
  const [title, message] = MESSAGES[answer.lang][answer.key];
  return renderMessage(answer.lang, title, message);
}

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
export function errorAnswer(error: unknown, log: (line: string) => void): { status: number; html: string; retryAfter: boolean } {
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
  return { status: answer.status, html: renderAnswer(answer), retryAfter };
}

/** fastify's error and not-found handlers (errorAnswer). */
export function installErrorHandlers(app: FastifyInstance, log: (line: string) => void): void {
  app.setErrorHandler(async (error, _req, reply) => {
    const { status, html, retryAfter } = errorAnswer(error, log);
    if (retryAfter) reply.header('retry-after', '5');
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  });
  app.setNotFoundHandler(async () => {
    throw new HttpAnswer(404, 'notFound');
  });
}
