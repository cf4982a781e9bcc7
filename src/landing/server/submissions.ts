/**
 * POST /<slug>: a page's form. With a token (a person's page), that person's
 * choices; without (the static page), an email address, which may only add
 * opt-outs (or, on an acquisition page, find-or-create the profile).
 */
import type { FastifyInstance } from 'fastify';
import { normaliseEmail } from '../../consent/profile.js';
import { FORM_FIELDS, renderConfirmation } from '../render.js';
import { subscriptionsWithoutToken, subscriptionsWithToken } from '../services.js';
import { formString, grantsFromForm, wantedWithoutToken, wantedWithToken, type Form } from '../submit.js';
import { TOKEN_PARAM } from '../urls.js';
import { ACTORS, clientOf, commit, first, formOf, profileFromToken, publishedPage, sendHtml, type Client, type ServerContext, type SlugParams } from './context.js';
import { HttpAnswer } from './errors.js';
import { blocklistAnswer } from './reasons.js';

export function registerFormRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<SlugParams>('/:slug', async (req, reply) => sendHtml(reply, await submitForm(ctx, req.params.slug, formOf(req.body), req.query, clientOf(req))));
}

/**
 * A page's form, whatever carried it (fastify, or the fast path for
 * urlencoded bodies): resolves to the confirmation page once committed, or
 * throws the HttpAnswer the request deserves.
 */
export async function submitForm(ctx: ServerContext, slug: string, form: Form, query: Record<string, unknown>, client: Client): Promise<string> {
  let page = await publishedPage(ctx, slug);
  const lang = page.definition.lang;
  // Apply the channels of the version the person saw (the form says which); versions are immutable.
  const v = formString(form, FORM_FIELDS.version);
  if (v !== undefined && v !== String(page.version)) {
    const n = /^[1-9]\d{0,8}$/.test(v) ? Number(v) : NaN;
    const seen = Number.isInteger(n) ? await ctx.store.pages.version(page.slug, n) : null;
    if (!seen) throw new HttpAnswer(400, 'badRequest', lang);
    page = seen;
  }
  const source = `landing:${page.slug}@v${page.version}`;
  const token = first(form[FORM_FIELDS.token] ?? query[TOKEN_PARAM]);
  const at = ctx.now().toISOString();
  const look = await ctx.look(page.definition.lang);
  if (token !== undefined) {
    const profile = await profileFromToken(ctx, token, page);
    const evidence = await ctx.evidence(client, page, 'link', form);
    await commit(
      ctx,
      profile.id,
      wantedWithToken(page.definition, form),
      { source, actor: ACTORS.subject, reason: null, evidence, occurredAt: at },
      subscriptionsWithToken(page.definition, form),
      grantsFromForm(page.definition, form),
    );
    if (page.definition.type === 'blocklist') return blocklistAnswer(ctx, page, profile.id, look);
  } else {
    const email = normaliseEmail(formString(form, FORM_FIELDS.email) ?? '');
    if (!email) throw new HttpAnswer(400, 'badEmail', lang);
    const wanted = wantedWithoutToken(page.definition, form);
    const subscriptions = subscriptionsWithoutToken(page.definition, form);
    const grant = grantsFromForm(page.definition, form);
    // Known or not, the answer is the same page with the same status: it never tells whether an address is known.
    const context = { source, actor: ACTORS.emailForm, reason: null, evidence: await ctx.evidence(client, page, 'email-form', form), occurredAt: at };
    if (page.definition.type === 'acquisition') {
      await ctx.committer.commitAlone(() => ctx.store.landing.createAndApply(email, { wanted, subscriptions, context, grant }));
    } else {
      const profile = await ctx.store.findProfile({ email });
      if (profile && Object.keys(wanted).length > 0) await commit(ctx, profile.id, wanted, context, subscriptions);
    }
  }
  if (page.definition.type === 'blocklist') return blocklistAnswer(ctx, page, null, look);
  return renderConfirmation(page.definition, look);
}
