/**
 * RFC 8058 one-click unsubscribe, `/<slug>/one-click?t=…` (a blocklist page:
 * `all`) or `?s=<service>&t=…` (any page: that service only). A POST with
 * `List-Unsubscribe=One-Click` changes; a GET (a mail client without RFC
 * 8058, a scanner) only shows a page whose one button POSTs it.
 */
import type { FastifyInstance } from 'fastify';
import type { ChangeContext } from '../../consent/ledger.js';
import type { Profile } from '../../consent/profile.js';
import type { Service } from '../../consent/services.js';
import { ONE_CLICK_FIELD, ONE_CLICK_VALUE, renderOneClickPrompt, renderServiceOneClickPrompt } from '../one-click-page.js';
import type { PageVersion } from '../page.js';
import { renderServiceUnsubscribed, SERVICE_PARAM, serviceOneClickUrl, unsubscribeNamespace } from '../services.js';
import { formString, type Form } from '../submit.js';
import { ONE_CLICK_SEGMENT, oneClickUrl, TOKEN_PARAM } from '../urls.js';
import {
  ACTORS,
  clientOf,
  commit,
  first,
  formOf,
  knownService,
  profileFromSigned,
  profileFromToken,
  publishedPage,
  sendHtml,
  type Client,
  type ServerContext,
  type SlugParams,
} from './context.js';
import { HttpAnswer } from './errors.js';
import { blocklistAnswer } from './reasons.js';

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

/** GET: a one-click link opened in a browser. The GET itself changes nothing. */
export function registerOneClickPrompt(root: FastifyInstance, ctx: ServerContext): void {
  root.get<SlugParams>(`/:slug/${ONE_CLICK_SEGMENT}`, async (req, reply) => {
    const page = await oneClickPage(ctx, req.params.slug, req.query);
    const { service, token } = await oneClickSubject(ctx, page, req.query);
    if (service) {
      return sendHtml(reply, renderServiceOneClickPrompt(page.definition.lang, service, serviceOneClickUrl(ctx.baseUrl, page.slug, service.name, token), await ctx.look(page.definition.lang)));
    }
    return sendHtml(reply, renderOneClickPrompt(page.definition, oneClickUrl(ctx.baseUrl, page.slug, token), await ctx.look(page.definition.lang)));
  });
}

/** POST (RFC 8058): no cookie, no login, no Origin check; 200, never a redirect. */
export function registerOneClickRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<SlugParams>(`/:slug/${ONE_CLICK_SEGMENT}`, async (req, reply) =>
    sendHtml(reply, await oneClick(ctx, req.params.slug, formOf(req.body), req.query, clientOf(req))),
  );
}

/**
 * A one-click POST, whatever carried it (fastify, or the fast path for
 * urlencoded bodies): resolves to its page once committed, or throws the
 * HttpAnswer the request deserves.
 */
export async function oneClick(ctx: ServerContext, slug: string, form: Form, query: Record<string, unknown>, client: Client): Promise<string> {
  const page = await oneClickPage(ctx, slug, query);
  if (formString(form, ONE_CLICK_FIELD) !== ONE_CLICK_VALUE) throw new HttpAnswer(400, 'oneClickBody', page.definition.lang);
  const { service, profile } = await oneClickSubject(ctx, page, query);
  const evidence = await ctx.evidence(client, page, 'one-click');
  const context = (evidence: Record<string, unknown>): ChangeContext => ({ source: 'one-click', actor: ACTORS.subject, reason: null, evidence, occurredAt: ctx.now().toISOString() });
  if (service) {
    // One service only; the token is bound to it (another service's token fails), the page only gives the language and evidence.
    await commit(ctx, profile.id, {}, context({ ...evidence, service: service.name }), [{ service: service.name, intent: 'unsubscribe' }]);
    return renderServiceUnsubscribed(page.definition.lang, service, await ctx.look(page.definition.lang));
  }
  await commit(ctx, profile.id, { all: true }, context(evidence));
  return blocklistAnswer(ctx, page, profile.id, await ctx.look(page.definition.lang));
}
