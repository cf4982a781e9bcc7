import { requireService } from '../../../consent/operations.js';
import { confirmationRecipients } from '../../../consent/services.js';
import { loadKeyring } from '../../../landing/operations.js';
import type { Lang } from '../../../landing/page.js';
import { confirmationLinkMaker } from '../../../landing/services.js';
import { resolveBaseUrl } from '../../../landing/urls.js';
import type { CommandContext } from '../../context.js';
import { csvField, inPages, streamRows } from '../landing/links.js';

/** `service confirmations <name>`: every pending subscription with its signed confirmation link, streamed. */
export async function confirmations(ctx: CommandContext, name: string, o: Record<string, unknown>): Promise<void> {
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const store = await ctx.store();
  const service = await requireService(store, name);
  const make = confirmationLinkMaker(await loadKeyring(store, ctx.env), service.name, { baseUrl, lang: o.lang as Lang });
  if (!baseUrl) ctx.notice('No --base-url (nor CONSENT_BASE_URL): the links are relative to the server root.');
  const jsonl = o.format === 'jsonl';
  // Only those who may be contacted on the service's channel: a confirmation mail is a mail.
  const recipients = confirmationRecipients(store.services.pending(service.name));
  const { count, file } = await streamRows(ctx, o.out, jsonl ? null : 'id,email,service,confirmUrl\n', inPages(recipients.rows), (p) => {
    const confirmUrl = make(p.profileId);
    return jsonl
      ? JSON.stringify({ id: p.profileId, email: p.email, service: service.name, confirmUrl }) + '\n'
      : `${p.profileId},${csvField(p.email)},${service.name},${csvField(confirmUrl)}\n`;
  });
  ctx.notice(`${count} confirmation link(s) for pending subscriptions to ${service.name}${file ? `, written to ${file}` : ''}.`);
  const leftOut = recipients.leftOut();
  if (leftOut > 0) {
    const who = leftOut === 1 ? '1 pending subscriber who' : `${leftOut} pending subscribers who`;
    ctx.notice(
      `Left out ${who} may not be contacted on ${service.channel} (opted out of ${service.channel} or of all) or whose address is on the suppression list: ` +
        'a confirmation mail would contact someone who said no. Their subscriptions stay pending.',
    );
  }
}
