import { checkApiKeyName, hashApiKey, newApiKey, type ApiKey } from '../../../consent/api-keys.js';
import type { CommandContext } from '../../context.js';

const view = (k: ApiKey) => ({ id: k.id, name: k.name, status: k.revokedAt ? ('revoked' as const) : ('active' as const), createdAt: k.createdAt, revokedAt: k.revokedAt });

export async function create(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const name = checkApiKeyName(String(o.name));
  const store = await ctx.store();
  const key = newApiKey();
  const record = await store.apiKeys.create(name, hashApiKey(key), ctx.nowIso());
  if (o.json) return ctx.json({ ...view(record), key });
  ctx.notice(`Created API key ${record.id} (${record.name}). It is shown this once: only its hash is kept.`);
  ctx.print(key);
}

export async function list(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const keys = (await store.apiKeys.list()).map(view);
  if (o.json) return ctx.json(keys);
  if (keys.length === 0) return ctx.notice('No API keys. Make one with `consent api-key create --name <name>`.');
  await ctx.table(['id', 'name', 'status', 'created', 'revoked'], keys.map((k) => [String(k.id), k.name, k.status, k.createdAt, k.revokedAt ?? '-']));
}

export async function revoke(ctx: CommandContext, ref: string, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const key = await store.apiKeys.revoke(/^\d{1,9}$/.test(ref) ? { id: Number(ref) } : { name: checkApiKeyName(ref) }, ctx.nowIso());
  if (o.json) return ctx.json(view(key));
  ctx.notice(`Revoked API key ${key.id} (${key.name}): servers refuse it within 5 seconds.`);
}
