import { CHANNEL_INFO, CHANNELS, CONTACT_CHANNELS } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import { describeProfile, requireProfile, requireProfileByPhone, type ProfileView } from '../../../consent/operations.js';
import { looksLikePhone, parseRef, type Profile } from '../../../consent/profile.js';
import type { ConsentStore } from '../../../consent/store.js';
import type { CommandContext } from '../../context.js';

export async function run(ctx: CommandContext, ref: string, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const view = await describeProfile(store, await findByRef(ctx, store, ref, o));
  if (o.json) return ctx.json(view);
  await printProfile(ctx, view);
}

/** An id, an email, or a phone (`+…`, `00…`, or national with a default country): read as E.164 and looked up. */
export async function findByRef(ctx: CommandContext, store: ConsentStore, ref: string, o: Record<string, unknown>): Promise<Profile> {
  const national = typeof o.defaultCountry === 'string' || Boolean(ctx.env.CONSENT_DEFAULT_COUNTRY?.trim());
  if (!looksLikePhone(ref, national)) return requireProfile(store, parseRef(ref));
  // The phone metadata is loaded only for a phone ref: the id and email paths stay as fast as before.
  const { normalisePhone } = await import('../../../consent/phone.js');
  const { defaultCountry } = await import('./country.js');
  const r = normalisePhone(ref, national ? defaultCountry(ctx, o) : null);
  if ('problem' in r) throw invalid(`Invalid phone: ${r.problem}.`, 'Give the profile id, its email, or its phone number.');
  return requireProfileByPhone(store, r.phone);
}

export async function printProfile(ctx: CommandContext, v: ProfileView): Promise<void> {
  const s = await ctx.style();
  const name = [v.firstName, v.lastName].filter(Boolean).join(' ');
  ctx.print(
    [
      `${s.bold(`Profile ${v.id}`)}  ${v.email}${name ? `  (${name})` : ''}`,
      `phone: ${v.phone ?? '-'}   created: ${v.createdAt}   updated: ${v.updatedAt}`,
      ...(v.erased ? [s.red(`ERASED ${v.erasedAt}: personal data removed (GDPR art. 17); unreachable on every channel`)] : []),
      '',
      s.bold('No longer contact (on blocklist)'),
    ].join('\n'),
  );
  await ctx.table(
    ['flag', 'set', 'last changed', 'how'],
    CHANNELS.map((c) => {
      const last = v.lastChanged[c];
      return [
        CHANNEL_INFO[c].label.en,
        v.optOut[c] ? s.red('[x] yes') : '[ ] no',
        last ? last.occurredAt : '-',
        last ? `${last.action} by ${last.actor} (${last.source})` : '-',
      ];
    }),
  );
  const reach = CONTACT_CHANNELS.map((c) => (v.reachable[c] ? s.green(c) : s.dim(`${c}: no`)));
  ctx.print(`Reachable: ${reach.join('  ')}`);
  if (v.consent) {
    // The three states only say something once a channel is opt-in; under opt-out the flags above tell it all.
    for (const c of CONTACT_CHANNELS.filter((x) => v.consent![x].basis === 'opt-in')) {
      const x = v.consent[c];
      const why =
        x.eventId === null
          ? 'no grant recorded'
          : `event ${x.eventId}: ${x.action} by ${x.actor} (${x.source}) at ${x.occurredAt}${x.reason ? `, "${x.reason}"` : ''}`;
      ctx.print(`Consent on ${c} (opt-in): ${x.state === 'granted' ? s.green('granted') : x.state === 'refused' ? s.red('refused') : s.dim('unknown')}, ${why}`);
    }
  }
  for (const x of v.suppressions) {
    ctx.print(
      `Suppressed on ${x.channel}: ${x.address} (${x.reason}, ${x.origin}, since ${x.since}${x.expiresAt ? `, until ${x.expiresAt}` : ''}${x.note ? `; ${x.note}` : ''})`,
    );
  }
  if (v.subscriptions.length > 0) {
    ctx.print(`Subscriptions: ${v.subscriptions.map((x) => `${x.service} (${x.status} since ${x.since})`).join(', ')}`);
  }
}
