import type { ContactChannel } from '../../../consent/channels.js';
import { notFound } from '../../../consent/errors.js';
import { checkNewService, type ServiceSummary } from '../../../consent/services.js';
import type { CommandContext } from '../../context.js';

export async function create(ctx: CommandContext, name: string, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const service = await store.services.create(
    checkNewService({
      name,
      label: String(o.label),
      description: typeof o.description === 'string' ? o.description : null,
      channel: o.channel as ContactChannel,
      doubleOptIn: Boolean(o.doubleOptIn),
    }),
    ctx.nowIso(),
  );
  if (o.json) return ctx.json(service);
  ctx.print(`Created service ${service.name} (${service.channel}${service.doubleOptIn ? ', double opt-in' : ''}).`);
}

export async function list(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const services = await (await ctx.store()).services.list();
  if (o.json) return ctx.json(services);
  if (services.length === 0) return ctx.notice('No services yet: create one with `consent service create`.');
  await ctx.table(
    ['name', 'label', 'channel', 'double opt-in', 'subscribed', 'pending', 'receiving'],
    services.map((s) => [s.name, s.label, s.channel, s.doubleOptIn ? 'yes' : 'no', String(s.subscribers), String(s.pending), String(s.receiving)]),
  );
}

export async function show(ctx: CommandContext, name: string, o: Record<string, unknown>): Promise<void> {
  const s: ServiceSummary | null = await (await ctx.store()).services.summary(name);
  if (!s) throw notFound(`No service ${name}.`, 'See `consent service list`.');
  if (o.json) return ctx.json(s);
  ctx.print(
    [
      `${s.name}: ${s.label}`,
      s.description ?? '',
      `channel: ${s.channel}   double opt-in: ${s.doubleOptIn ? 'yes' : 'no'}   created: ${s.createdAt}`,
      `subscribed: ${s.subscribers}   pending: ${s.pending}   receiving (subscribed and reachable on ${s.channel}): ${s.receiving}`,
    ]
      .filter((l) => l !== '')
      .join('\n'),
  );
}
