import { invalid } from '../../../consent/errors.js';
import { normaliseEmail } from '../../../consent/profile.js';
import { isSuppressionChannel, type SuppressionChannel } from '../../../consent/suppressions.js';
import type { CommandContext } from '../../context.js';
import { defaultCountry } from '../profile/country.js';

/** An address of the command line on each channel it names. */
export interface Target {
  channel: SuppressionChannel;
  address: string;
}

function parseChannelOption(raw: unknown): SuppressionChannel[] | null {
  if (typeof raw !== 'string') return null;
  const list = [...new Set(raw.split(',').map((c) => c.trim().toLowerCase()).filter(Boolean))];
  if (list.length === 0) throw invalid('--channel is empty.', 'Give email, sms or phone (sms,phone for both).');
  for (const c of list) if (!isSuppressionChannel(c)) throw invalid(`--channel "${c}" is not a channel of the suppression list.`, 'Use email, sms or phone (sms,phone for both).');
  return list as SuppressionChannel[];
}

/**
 * Each address, normalised as profiles' are (emails lower-cased, phones E.164),
 * on its channels: an email on `email`; a phone number on the --channel given,
 * else on both `sms` and `phone` (a number someone must not be contacted on is
 * usually both). All are checked before anything is done.
 */
export async function parseTargets(ctx: CommandContext, raw: readonly string[], o: Record<string, unknown>): Promise<Target[]> {
  const channels = parseChannelOption(o.channel);
  const targets: Target[] = [];
  let phones: typeof import('../../../consent/phone.js') | null = null;
  for (const r of raw) {
    if (r.includes('@')) {
      const email = normaliseEmail(r);
      if (!email) throw invalid(`"${r}" is not an email address.`, 'Give an email address or a phone number.');
      if (channels && channels.some((c) => c !== 'email')) {
        throw invalid(`${email} is an email address: it can only be suppressed on email, not on ${channels.filter((c) => c !== 'email').join(', ')}.`);
      }
      targets.push({ channel: 'email', address: email });
      continue;
    }
    phones ??= await import('../../../consent/phone.js');
    const p = phones.normalisePhone(r, defaultCountry(ctx, o));
    if ('problem' in p) throw invalid(`Invalid phone: ${p.problem}.`, 'Give an email address, or a phone number (+33612345678, or national with --default-country).');
    if (channels?.includes('email')) throw invalid(`${p.phone} is a phone number: it can be suppressed on sms or phone, not on email.`);
    for (const c of channels ?? (['sms', 'phone'] as const)) targets.push({ channel: c, address: p.phone });
  }
  return targets;
}
