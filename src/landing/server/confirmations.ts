/**
 * A service's confirmation link (double opt-in): GET /confirm/<service>?t=…
 * only shows the Confirm button (mail scanners' GETs change nothing); the
 * POST confirms the pending subscription.
 */
import type { FastifyInstance } from 'fastify';
import { FORM_FIELDS } from '../render.js';
import { CONFIRM_SEGMENT, confirmNamespace, LANG_PARAM, renderConfirmed, renderConfirmPrompt } from '../services.js';
import { TOKEN_PARAM } from '../urls.js';
import { ACTORS, clientOf, commit, first, formOf, knownService, langOf, profileFromSigned, sendHtml, type ServerContext, type ServiceParams } from './context.js';

export function registerConfirmPrompt(root: FastifyInstance, ctx: ServerContext): void {
  root.get<ServiceParams>(`/${CONFIRM_SEGMENT}/:service`, async (req, reply) => {
    const lang = langOf(req.query[LANG_PARAM]);
    const service = await knownService(ctx, req.params.service, lang);
    const token = first(req.query[TOKEN_PARAM]);
    await profileFromSigned(ctx, token, confirmNamespace(service.name), lang);
    return sendHtml(reply, renderConfirmPrompt(lang, service, String(token), ctx.baseUrl));
  });
}

/** The person pressed Confirm. Idempotent: nothing pending → nothing recorded, the same answer. */
export function registerConfirmRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<ServiceParams>(`/${CONFIRM_SEGMENT}/:service`, async (req, reply) => {
    const form = formOf(req.body);
    const lang = langOf(form[LANG_PARAM] ?? req.query[LANG_PARAM]);
    const service = await knownService(ctx, req.params.service, lang);
    const profile = await profileFromSigned(ctx, first(form[FORM_FIELDS.token] ?? req.query[TOKEN_PARAM]), confirmNamespace(service.name), lang);
    const evidence = ctx.clientEvidence(clientOf(req), { service: service.name, via: 'confirmation-link' });
    await commit(ctx, profile.id, {}, { source: `confirm:${service.name}`, actor: ACTORS.subject, reason: null, evidence, occurredAt: ctx.now().toISOString() }, [
      { service: service.name, intent: 'confirm' },
    ]);
    return sendHtml(reply, renderConfirmed(lang, service));
  });
}
