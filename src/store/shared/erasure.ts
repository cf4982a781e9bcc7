/** What both stores share of an erasure (ConsentStore.eraseProfile). */
import { conflict, notFound } from '../../consent/errors.js';
import type { Profile } from '../../consent/profile.js';
import type { NewSuppression, SuppressionChannel } from '../../consent/suppressions.js';

/** The checks before anything is written. */
export function checkErasable(profileId: number, profile: Profile | null): Profile {
  if (!profile) throw notFound(`No profile id ${profileId}.`, 'Check the id with `consent profile list`.');
  if (profile.erasedAt !== null) {
    throw conflict(`Profile ${profileId} was already erased (${profile.erasedAt}).`, 'Nothing to do: its personal data is gone.');
  }
  return profile;
}

/** The keyed-only `erasure` entries of those addresses. */
export function erasureEntries(keys: readonly { channel: SuppressionChannel; addressKey: string }[]): NewSuppression[] {
  return keys.map((k) => ({ channel: k.channel, address: null, addressKey: k.addressKey, reason: 'erasure', note: null }));
}

/** Profile addresses to restore into keyed-only entries (a profile added, imported or signed up): email, and the phone on sms and phone. */
export function profileAddresses(email: string, phone: string | null): { channel: SuppressionChannel; address: string }[] {
  const out: { channel: SuppressionChannel; address: string }[] = [{ channel: 'email', address: email }];
  if (phone) out.push({ channel: 'sms', address: phone }, { channel: 'phone', address: phone });
  return out;
}
