import { randomUUID } from 'node:crypto';
import { ConsentError, invalid, notFound } from '../../../consent/errors.js';
import { parseWebhookEvents, type Webhook, type WebhookDelivery } from '../../../consent/webhooks.js';
import { Deliverer, webhookSettings } from '../../../webhooks/deliverer.js';
import { send } from '../../../webhooks/send.js';
import { newWebhookSecret } from '../../../webhooks/signature.js';
import { checkUrl, resolveTarget } from '../../../webhooks/target.js';
import { parseChannels, type CommandContext } from '../../context.js';

function webhookId(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw invalid(`A webhook id is a number, not "${raw}".`, 'See `consent webhook list`.');
  return Number(raw);
}

/** The JSON shape of a webhook (`webhook list --json`): never its secret. */
const webhookJson = (w: Webhook) => ({
  id: w.id,
  url: w.url,
  events: w.events,
  channels: w.channels,
  allowHttp: w.allowHttp,
  allowPrivate: w.allowPrivate,
  cursor: w.cursor,
  createdAt: w.createdAt,
  removedAt: w.removedAt,
});

const deliveryJson = (d: WebhookDelivery) => ({ ...d });

async function secretFrom(ctx: CommandContext, file: unknown): Promise<{ secret: string; generated: boolean }> {
  if (typeof file !== 'string') return { secret: newWebhookSecret(), generated: true };
  const secret = (await ctx.readInput(file)).split(/\r?\n/, 1)[0]!.trim();
  // Never quoted in a message: it is a secret.
  if (secret.length < 16) throw invalid(`The secret in --secret-file ${file} is shorter than 16 characters.`, 'Use a long random secret (or leave --secret-file out: one is generated).');
  return { secret, generated: false };
}

export async function add(ctx: CommandContext, raw: string, o: Record<string, unknown>): Promise<void> {
  const rules = { allowHttp: Boolean(o.allowHttp), allowPrivate: Boolean(o.allowPrivate) };
  const url = checkUrl(raw, rules);
  await resolveTarget(url, rules);
  const events = typeof o.events === 'string' ? parseWebhookEvents(o.events) : null;
  const channels = typeof o.channel === 'string' ? parseChannels(o.channel) : null;
  const { secret, generated } = await secretFrom(ctx, o.secretFile);
  const store = await ctx.store();
  const w = await store.webhooks.add({ url: url.toString(), events, channels, secret, ...rules, fromStart: Boolean(o.fromStart) }, ctx.nowIso());
  if (o.json) return ctx.json({ ...webhookJson(w), ...(generated ? { secret } : {}) });
  ctx.print(`Webhook ${w.id}: ${w.url} (events: ${events?.join(',') ?? 'all'}; channels: ${channels?.join(',') ?? 'all'})`);
  if (generated) {
    ctx.print(`Secret: ${secret}`);
    ctx.notice('Keep the secret now: it is shown this once and never again (the receiver verifies Consent-Signature with it).');
  }
  ctx.notice(o.fromStart ? 'Every event already in the ledger will be delivered too.' : 'Changes from now on are delivered (not the events already in the ledger: --from-start for those).');
}

export async function list(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const hooks = await (await ctx.store()).webhooks.list();
  if (o.json) return ctx.json(hooks.map(webhookJson));
  if (hooks.length === 0) return ctx.notice('No webhooks. Add one with `consent webhook add <url>`.');
  await ctx.table(
    ['id', 'url', 'events', 'channels', 'since'],
    hooks.map((w) => [String(w.id), w.url, w.events?.join(',') ?? 'all', w.channels?.join(',') ?? 'all', w.createdAt]),
  );
}

export async function remove(ctx: CommandContext, raw: string, o: Record<string, unknown>): Promise<void> {
  const w = await (await ctx.store()).webhooks.remove(webhookId(raw), ctx.nowIso());
  if (o.json) return ctx.json(webhookJson(w));
  ctx.notice(`Removed webhook ${w.id} (${w.url}): nothing more is sent to it.`);
}

export async function test(ctx: CommandContext, raw: string, o: Record<string, unknown>): Promise<void> {
  const id = webhookId(raw);
  const w = await (await ctx.store()).webhooks.get(id);
  if (!w || w.removedAt) throw notFound(`No webhook ${id}.`, 'See `consent webhook list`.');
  const now = ctx.deps.now();
  const deliveryId = randomUUID();
  const body = JSON.stringify({ id: deliveryId, type: 'webhook.test', occurredAt: now.toISOString(), data: { webhookId: w.id } });
  const settings = webhookSettings(ctx.env);
  const r = await send({
    url: w.url,
    secret: w.secret,
    body,
    rules: w,
    unixSeconds: Math.floor(now.getTime() / 1000),
    timeoutMs: settings.timeoutMs,
    headers: { 'consent-delivery': deliveryId },
  });
  const result = { webhookId: w.id, id: deliveryId, delivered: r.ok, status: r.status, error: r.ok ? null : r.error, ms: r.ms };
  if (o.json) ctx.json(result);
  else ctx.print(r.ok ? `Delivered to ${w.url}: ${r.status} in ${r.ms} ms.` : `Not delivered to ${w.url}: ${r.error} (${r.ms} ms).`);
  if (!r.ok) throw new ConsentError('busy', `The receiver of webhook ${w.id} did not take the test delivery (${r.error}).`, 'Check that it runs, answers 2xx, and verifies the signature with the secret shown at `webhook add`.');
}

export async function failures(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const list = await (await ctx.store()).webhooks.failures();
  if (o.json) return ctx.json(list.map(deliveryJson));
  if (list.length === 0) return ctx.notice('No failed deliveries.');
  await ctx.table(
    ['delivery', 'id', 'webhook', 'event', 'type', 'attempts', 'last error', 'since'],
    list.map((d) => [String(d.id), d.deliveryId, String(d.webhookId), String(d.eventId), d.type, String(d.attempts), d.lastError ?? '', d.periodStart]),
  );
}

export async function retry(ctx: CommandContext, ref: string, o: Record<string, unknown>): Promise<void> {
  const d = await (await ctx.store()).webhooks.retry(ref.trim(), ctx.nowIso());
  if (o.json) return ctx.json(deliveryJson(d));
  ctx.notice(`Delivery ${d.id} (${d.deliveryId}) is pending again: the next \`landing serve\` or \`webhook deliver\` sends it.`);
}

export async function deliver(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const settings = webhookSettings(ctx.env);
  const store = await ctx.store();
  const deliverer = new Deliverer({ store, now: ctx.deps.now, settings, log: (l) => ctx.notice(l) });
  if (o.once) {
    const r = await deliverer.pass();
    if (o.json) return ctx.json(r);
    ctx.notice(`Delivered ${r.delivered}; ${r.retrying} to retry later; ${r.failed} failed.`);
    return;
  }
  if (!ctx.deps.interrupts) throw invalid('webhook deliver without --once needs a process to run in (use the consent binary).');
  const stop = ctx.deps.interrupts();
  deliverer.start();
  ctx.notice(`Delivering webhooks from ${store.location} (Ctrl-C to stop).`);
  const signal = await new Promise<string>((resolve) => {
    if (stop.aborted) resolve(String(stop.reason));
    else stop.addEventListener('abort', () => resolve(String(stop.reason)), { once: true });
  });
  await deliverer.stop();
  ctx.notice(`${signal}: stopped delivering.`);
}
