/**
 * A service's confirmation link (double opt-in): GET /confirm/<service>?t=…
 * only shows the Confirm button (mail scanners' GETs change nothing); the
 * POST confirms the pending subscription.
 */
import type { ContactChannel } from '../../consent/channels.js';
import type { FastifyInstance } from 'fastify';
import { isSuppressionChannel } from '../../consent/suppressions.js';
import type { Profile } from '../../consent/profile.js';
import type { Service } from '../../consent/services.js';
import { FORM_FIELDS } from '../render.js';
import { CONFIRM_SEGMENT, confirmNamespace, LANG_PARAM, renderConfirmed, renderConfirmPrompt } from '../services.js';
import { TOKEN_PARAM } from '../urls.js';
import { ACTORS, lookOrEnglish, clientOf, commit, first, formOf, knownService, langOf, profileFromSigned, sendHtml, type ServerContext, type ServiceParams } from './context.js';

export function registerConfirmPrompt(root: FastifyInstance, ctx: ServerContext): void {
  root.get<ServiceParams>(`/${CONFIRM_SEGMENT}/:service`, async (req, reply) => {
    const lang = langOf(req.query[LANG_PARAM]);
    const service = await knownService(ctx, req.params.service, lang);
    const token = first(req.query[TOKEN_PARAM]);
    await profileFromSigned(ctx, token, confirmNamespace(service.name), lang);
    return sendHtml(reply, renderConfirmPrompt(lang, service, String(token), ctx.baseUrl, await lookOrEnglish(ctx, lang)));
  });
}

/** The person pressed Confirm. Idempotent: nothing pending → nothing recorded, the same answer. */
export function registerConfirmRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<ServiceParams>(`/${CONFIRM_SEGMENT}/:service`, async (req, reply) => {
    const form = formOf(req.body);
    const lang = langOf(form[LANG_PARAM] ?? req.query[LANG_PARAM]);
    const service = await knownService(ctx, req.params.service, lang);
    const profile = await profileFromSigned(ctx, first(form[FORM_FIELDS.token] ?? req.query[TOKEN_PARAM]), confirmNamespace(service.name), lang);
    const look = await lookOrEnglish(ctx, lang);
    const evidence = ctx.clientEvidence(clientOf(req), { service: service.name, brandVersion: look.brand?.version ?? null, via: 'confirmation-link' });
    const occurredAt = ctx.now().toISOString();
    // A confirmed double opt-in is also a grant of the service's channel (recorded only under an opt-in
    // basis, never clearing an opt-out: ConsentRequest.grant), and only when there was a request to confirm.
    const pending = (await ctx.store.services.subscriptionsOf(profile.id)).some((x) => x.service === service.name && x.status === 'pending');
    await commit(
      ctx,
      profile.id,
      {},
      { source: `confirm:${service.name}`, actor: ACTORS.subject, reason: null, evidence, occurredAt },
      [{ service: service.name, intent: 'confirm' }],
      pending ? [service.channel as ContactChannel] : [],
    );
    await liftErasure(ctx, profile, service, occurredAt);
    return sendHtml(reply, renderConfirmed(lang, service, look));
  });
}

/**
 * A person whose address was erased and who came back by themself may be
 * contacted again once they confirm a double opt-in for it: the confirmation
 * lifts the `erasure` entry of that address on the service's channel (forced,
 * recorded as an `unsuppress` event by the confirmation), once the
 * subscription is confirmed. Nothing else lifts it without --force.
 */
async function liftErasure(ctx: ServerContext, profile: Profile, service: Service, occurredAt: string): Promise<void> {
  const address = service.channel === 'email' ? profile.email : service.channel === 'sms' || service.channel === 'phone' ? profile.phone : null;
  if (!address || !isSuppressionChannel(service.channel)) return;
  const entry = await ctx.store.suppressions.findByAddress(service.channel, address);
  if (entry?.reason !== 'erasure') return;
  const subscribed = (await ctx.store.services.subscriptionsOf(profile.id)).some((s) => s.service === service.name && s.status === 'subscribed');
  if (!subscribed) return;
  await ctx.store.suppressions.lift(
    [{ channel: service.channel, address }],
    { source: `confirm:${service.name}`, actor: ACTORS.subject, reason: 'double opt-in confirmed', evidence: null, occurredAt },
    { force: true },
  );
}
