/**
 * The routing table: which handler answers which method and path. The GET of
 * a page (generic, or a person's when the fast path left it to fastify) is
 * here; the others live in a file per responsibility.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { renderGenericPage, renderPersonalPage, subscriptionMap, ungrantedOnPage } from '../operations.js';
import type { PageVersion } from '../page.js';
import type { Service } from '../../consent/services.js';
import { CONFIRM_SEGMENT } from '../services.js';
import { ONE_CLICK_SEGMENT, TOKEN_PARAM } from '../urls.js';
import { registerConfirmPrompt, registerConfirmRoute } from './confirmations.js';
import { BODY_LIMIT, first, pageServices, profileFromToken, publishedPage, sendHtml, type ServerContext, type SlugParams } from './context.js';
import { methodNotAllowed, OTHER_METHODS } from './errors.js';
import { registerOneClickPrompt, registerOneClickRoute } from './one-click.js';
import { registerFormRoute } from './submissions.js';
import { registerReasonRoute } from './reasons.js';

/** A person's page, boxes from their profile as it is now; a bad token is the 4xx it deserves. */
async function personalPage(ctx: ServerContext, page: PageVersion, token: unknown, boxes: Service[]): Promise<string> {
  const profile = await profileFromToken(ctx, token, page);
  const subscriptions = boxes.length > 0 ? await subscriptionMap(ctx.store, profile.id) : {};
  const ungranted = await ungrantedOnPage(ctx.store, page.definition, profile);
  return renderPersonalPage(page.definition, page.version, profile, String(token), ctx.baseUrl, { boxes, subscriptions }, ungranted, await ctx.look(page.definition.lang));
}

const MULTIPART_OPTIONS = {
  attachFieldsToBody: true,
  // Files are not expected: drained and ignored, like any unknown field.
  onFile: async (part: { file: { resume(): unknown } }) => {
    part.file.resume();
  },
  limits: { fieldNameSize: 200, fieldSize: BODY_LIMIT, fields: 200, fileSize: BODY_LIMIT, files: 10, parts: 220, headerPairs: 100 },
} as const;

export function registerPageRoutes(root: FastifyInstance, ctx: ServerContext): void {
  root.get<SlugParams>('/:slug', async (req, reply) => {
    const page = await publishedPage(ctx, req.params.slug);
    const token = first(req.query[TOKEN_PARAM]);
    const boxes = page.definition.services.length > 0 ? await pageServices(ctx, page) : [];
    if (token === undefined) return sendHtml(reply, renderGenericPage(page.definition, page.version, ctx.baseUrl, boxes, await ctx.look(page.definition.lang)));
    return sendHtml(reply, await personalPage(ctx, page, token, boxes));
  });
  registerConfirmPrompt(root, ctx);
  registerOneClickPrompt(root, ctx);

  // The routes that take a body, in a scope of their own with the multipart parser.
  root.register(async (app) => {
    await app.register(multipart, MULTIPART_OPTIONS);
    registerPostRoutes(app, ctx);
  });
}

/** POST routes (and the 405s of their paths). */
function registerPostRoutes(app: FastifyInstance, ctx: ServerContext): void {
  registerFormRoute(app, ctx);
  registerOneClickRoute(app, ctx);
  registerConfirmRoute(app, ctx);
  registerReasonRoute(app, ctx);
  app.route({ method: [...OTHER_METHODS], url: '/:slug', handler: methodNotAllowed('GET, HEAD, POST') });
  app.route({ method: [...OTHER_METHODS], url: `/${CONFIRM_SEGMENT}/:service`, handler: methodNotAllowed('GET, HEAD, POST') });
  app.route({ method: [...OTHER_METHODS], url: `/:slug/${ONE_CLICK_SEGMENT}`, handler: methodNotAllowed('GET, HEAD, POST') });
}
