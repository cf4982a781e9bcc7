import { cancelled, invalid } from '../../../consent/errors.js';
import type { SigningKeyRecord } from '../../../landing/repository.js';
import { keyringFrom } from '../../../landing/tokens.js';
import type { CommandContext } from '../../context.js';

/** The stable JSON of a key: never its secret. */
function keyView(k: SigningKeyRecord, currentId: number | null) {
  return {
    id: k.id,
    status: k.retiredAt ? ('retired' as const) : ('active' as const),
    current: k.id === currentId,
    createdAt: k.createdAt,
    retiredAt: k.retiredAt,
  };
}

async function currentId(ctx: CommandContext, keys: SigningKeyRecord[]): Promise<number | null> {
  try {
    return keyringFrom(keys, ctx.env).current().id;
  } catch {
    return null;
  }
}

export async function list(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const keys = await store.keys.list();
  const cur = await currentId(ctx, keys);
  const views = keys.map((k) => keyView(k, cur));
  if (o.json) return ctx.json(views);
  await ctx.table(
    ['id', 'status', 'created', 'retired'],
    views.map((k) => [String(k.id), k.current ? 'active (signing)' : k.status, k.createdAt, k.retiredAt ?? '-']),
  );
  if (ctx.env.CONSENT_SECRET) ctx.notice('CONSENT_SECRET is set: each key\'s secret is derived from it, not read from the store.');
}

export async function rotate(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const key = await store.keys.rotate(ctx.nowIso());
  if (o.json) return ctx.json(keyView(key, key.id));
  ctx.print(String(key.id));
  ctx.notice(`Key ${key.id} signs new links from now on; links signed with older active keys keep working.`);
}

export async function retire(ctx: CommandContext, rawId: string, o: Record<string, unknown>): Promise<void> {
  if (!/^\d+$/.test(rawId)) throw invalid(`"${rawId}" is not a key id.`, 'See `consent keys list`.');
  const id = Number(rawId);
  const store = await ctx.store();
  if (!o.yes) {
    const keys = await store.keys.list();
    const key = keys.find((k) => k.id === id);
    // Unknown, already retired, or the signing key: nothing to confirm; retire() says what is wrong (or does nothing).
    if (key && !key.retiredAt && key.id !== (await currentId(ctx, keys))) {
      // Links are not stored, so how many were mailed with it is not known: say what is.
      const warning =
        `Every link signed with key ${key.id} (made ${key.createdAt}) will stop working, ` +
        'including unsubscribe and one-click links already mailed (links are not stored, so how many is not known).';
      const prompter = ctx.prompter('pass --yes to retire a key (every link signed with it stops working)');
      ctx.notice(warning);
      if (!(await prompter.confirm(`Retire key ${key.id}?`, false))) throw cancelled(`Key ${key.id} is not retired.`);
    }
  }
  const key = await store.keys.retire(id, ctx.nowIso());
  if (o.json) return ctx.json(keyView(key, await currentId(ctx, await store.keys.list())));
  ctx.notice(`Key ${key.id} is retired: links signed with it no longer work.`);
}
