import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { notFound } from '../../../consent/errors.js';
import { loadKeyring } from '../../../landing/operations.js';
import type { Lang } from '../../../landing/page.js';
import { confirmationLinkMaker } from '../../../landing/services.js';
import { resolveBaseUrl } from '../../../landing/urls.js';
import type { CommandContext } from '../../context.js';
import { chunkedWriter, csvField } from '../landing/links.js';

/** `service confirmations <name>`: every pending subscription with its signed confirmation link, streamed. */
export async function confirmations(ctx: CommandContext, name: string, o: Record<string, unknown>): Promise<void> {
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const store = await ctx.store();
  const service = await store.services.get(name);
  if (!service) throw notFound(`No service ${name}.`, 'See `consent service list`.');
  const make = confirmationLinkMaker(await loadKeyring(store, ctx.env), service.name, { baseUrl, lang: o.lang as Lang });
  if (!baseUrl) ctx.notice('No --base-url (nor CONSENT_BASE_URL): the links are relative to the server root.');
  const file = typeof o.out === 'string' ? createWriteStream(resolve(ctx.deps.cwd, o.out)) : undefined;
  if (file) await once(file, 'open');
  const out = chunkedWriter(file ?? ctx.deps.stdout);
  const jsonl = o.format === 'jsonl';
  let count = 0;
  try {
    if (!jsonl) out.add('id,email,service,confirmUrl\n');
    for await (const p of store.services.pending(service.name)) {
      const confirmUrl = make(p.profileId);
      const due = out.add(
        jsonl
          ? JSON.stringify({ id: p.profileId, email: p.email, service: service.name, confirmUrl }) + '\n'
          : `${p.profileId},${csvField(p.email)},${service.name},${csvField(confirmUrl)}\n`,
      );
      if (due) await out.flush();
      count++;
    }
    await out.flush();
  } finally {
    if (file) {
      file.end();
      await once(file, 'close');
    }
  }
  ctx.notice(`${count} pending subscription(s) to ${service.name}${file ? `, written to ${resolve(ctx.deps.cwd, String(o.out))}` : ''}.`);
}
