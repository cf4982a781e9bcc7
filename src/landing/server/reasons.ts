/**
 * The blocklist confirmation (issue 16): what happened in plain words; for a
 * person known by their signed link, their own link to choose what they
 * receive (when the store has an acquisition page; never an undo) and, on a
 * page with --ask-reason, the optional survey, POSTed to /<slug>/reason
 * after the opt-out was recorded and kept as a `reason` ledger event.
 */
import type { FastifyInstance } from 'fastify';
import { isConsentError } from '../../consent/errors.js';
import type { ChangeContext } from '../../consent/ledger.js';
import { parseReasonCode, parseReasonText } from '../../consent/reasons.js';
import type { PageLook } from '../look.js';
import { linkMaker } from '../operations.js';
import type { PageVersion } from '../page.js';
import { REASON_FIELDS, REASON_SEGMENT, REASON_TOKEN_SECONDS, reasonNamespace, reasonPath } from '../reason-page.js';
import { renderConfirmation, renderMessage } from '../render.js';
import { formString, type Form } from '../submit.js';
import { tokenSigner } from '../tokens.js';
import { ACTORS, clientOf, formOf, profileFromSigned, publishedPage, sendHtml, type Client, type ServerContext, type SlugParams } from './context.js';
import { HttpAnswer, methodNotAllowed, OTHER_METHODS } from './errors.js';

/** A published acquisition page to offer "Choose what you receive" on: the page's language first, then by slug. Re-read at most every few seconds. */
const acquisitionCache = new WeakMap<ServerContext, { at: number; pages: PageVersion[] }>();
const ACQUISITION_TTL_MS = 5_000;

async function acquisitionPage(ctx: ServerContext, lang: string): Promise<PageVersion | null> {
  const t = ctx.now().getTime();
  let hit = acquisitionCache.get(ctx);
  if (!hit || t - hit.at > ACQUISITION_TTL_MS || t < hit.at) {
    const records = (await ctx.store.pages.list()).filter((r) => r.latestVersion > 0);
    const versions = await Promise.all(records.map((r) => ctx.page(r.slug)));
    hit = { at: t, pages: versions.filter((v): v is PageVersion => v !== null && v.definition.type === 'acquisition') };
    acquisitionCache.set(ctx, hit);
  }
  return hit.pages.find((p) => p.definition.lang === lang) ?? hit.pages[0] ?? null;
}

/**
 * The answer to a blocklist submission. `profileId` is the person's when they
 * came by their signed link (a form with a token, or one-click); null for an
 * address typed into the static page: then neither a personal link nor a
 * survey is offered (nothing ties the answer to who typed it).
 */
export async function blocklistAnswer(ctx: ServerContext, page: PageVersion, profileId: number | null, look: PageLook): Promise<string> {
  if (profileId === null) return renderConfirmation(page.definition, look);
  const keyring = await ctx.keyring();
  const acquisition = await acquisitionPage(ctx, page.definition.lang);
  const changeMindUrl = acquisition
    ? linkMaker(keyring, acquisition.definition, { baseUrl: ctx.baseUrl, now: ctx.now() })(profileId).url
    : null;
  let survey = null;
  if (page.definition.askReason) {
    // The opt-out this answer explains: the person's last event on `all`, just recorded (or the earlier one, if they had opted out before).
    const last = (await ctx.store.lastChanges(profileId)).all;
    if (last && last.action === 'optout') {
      const expiresAt = Math.floor(ctx.now().getTime() / 1000) + REASON_TOKEN_SECONDS;
      const token = tokenSigner(keyring.current(), reasonNamespace(page.slug, last.id))(profileId, expiresAt);
      survey = { action: reasonPath(ctx.baseUrl, page.slug), token, eventId: last.id };
    }
  }
  return renderConfirmation(page.definition, look, { changeMindUrl, survey });
}

/** POST /<slug>/reason: one answer per opt-out; a bad token or event is the 4xx it deserves; nothing chosen and nothing written records nothing. */
export async function submitReason(ctx: ServerContext, slug: string, form: Form, client: Client): Promise<string> {
  const page = await publishedPage(ctx, slug);
  const lang = page.definition.lang;
  if (page.definition.type !== 'blocklist' || !page.definition.askReason) throw new HttpAnswer(404, 'notFound', lang);
  const e = formString(form, REASON_FIELDS.event) ?? '';
  if (!/^[1-9]\d{0,14}$/.test(e)) throw new HttpAnswer(400, 'badRequest', lang);
  const eventId = Number(e);
  const profile = await profileFromSigned(ctx, formString(form, REASON_FIELDS.token), reasonNamespace(page.slug, eventId), lang);
  const look = await ctx.look(lang);
  const s = look.strings;
  let text: string | null;
  let code;
  try {
    text = parseReasonText(formString(form, REASON_FIELDS.text));
    const rawCode = formString(form, REASON_FIELDS.code);
    if (rawCode === undefined && text === null) return renderMessage(lang, s.thanksTitle, s.surveyThanks, look); // sent empty: nothing to keep
    code = rawCode === undefined ? ('other' as const) : parseReasonCode(rawCode);
  } catch (err) {
    if (isConsentError(err, 'invalid')) throw new HttpAnswer(400, 'badRequest', lang);
    throw err;
  }
  const context: ChangeContext = {
    source: `landing:${page.slug}@v${page.version}`,
    actor: ACTORS.subject,
    reason: null,
    evidence: ctx.clientEvidence(client, { page: page.slug, version: page.version, brandVersion: look.brand?.version ?? null, via: 'reason-survey' }),
    occurredAt: ctx.now().toISOString(),
  };
  const outcome = await ctx.store.reasons.record({ profileId: profile.id, forEvent: eventId, channel: 'all', reasonCode: code, text }, context);
  if (outcome === 'no-such-opt-out') throw new HttpAnswer(400, 'badRequest', lang);
  return renderMessage(lang, s.thanksTitle, outcome === 'recorded' ? s.surveyThanks : s.surveyAlready, look);
}

export function registerReasonRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<SlugParams>(`/:slug/${REASON_SEGMENT}`, async (req, reply) => sendHtml(reply, await submitReason(ctx, req.params.slug, formOf(req.body), clientOf(req))));
  app.route({ method: ['GET', ...OTHER_METHODS], url: `/:slug/${REASON_SEGMENT}`, handler: methodNotAllowed('POST') });
}
