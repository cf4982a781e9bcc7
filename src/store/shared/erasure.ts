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

/**
 * The erase event's evidence: the keys of the addresses it erases (never an address), so that
 * the as-of replay finds what was suppressed for that person before the erasure whatever entry
 * was in force (an erasure writes a `suppress … erasure` event only where it adds or replaces
 * an entry). `addressKeys.phone` is the phone's key, shared by sms and phone. The context's
 * evidence, if any, is kept beside it (a user agent stays out: an erasure is an operator's act).
 */
export function erasureEvidence(
  keys: readonly { channel: SuppressionChannel; addressKey: string }[],
  contextEvidence: Record<string, unknown> | null | undefined,
): Record<string, unknown> {
  const { userAgent: _ignored, ...rest } = contextEvidence ?? {};
  const email = keys.find((k) => k.channel === 'email')?.addressKey ?? null;
  const phone = keys.find((k) => k.channel !== 'email')?.addressKey ?? null;
  return { ...rest, addressKeys: { email, phone } };
}

/** Profile addresses to restore into keyed-only entries (a profile added, imported or signed up): email, and the phone on sms and phone. */
export function profileAddresses(email: string, phone: string | null): { channel: SuppressionChannel; address: string }[] {
  const out: { channel: SuppressionChannel; address: string }[] = [{ channel: 'email', address: email }];
  if (phone) out.push({ channel: 'sms', address: phone }, { channel: 'phone', address: phone });
  return out;
}

/**
 * What an import matches its rows against (few rows): the erasure entries, and
 * every entry kept only as its key whatever its reason (e.g. an `sms-stop` of
 * a number known only by its key, from `sms review --optout`), so that a
 * profile imported with that address is unreachable from its first second.
 */
export const ERASURE_ENTRIES_SQL = `SELECT channel, address, address_key FROM suppressions WHERE reason = 'erasure' OR address IS NULL`;
/** An import's rows, as the matcher reads them (the phone the profile will have). */
export const PLAN_ADDRESSES_SQL = (plan: string) => `SELECT email, coalesce(phone, cur_phone) AS phone FROM ${plan}`;

/**
 * Counts an import's profiles whose email or phone is an erased address
 * (`erasedAddresses`), and collects the keyed-only entries they match, to be
 * restored (restoreInTransaction) so that the reachability join finds them. A
 * key is computed only when keyed-only entries exist; a store without any
 * erasure entry does not build a matcher at all.
 */
export class ErasedAddressMatcher {
  private readonly keyed = new Set<string>();
  private readonly plain = new Set<string>();
  readonly restore: { channel: SuppressionChannel; address: string }[] = [];
  count = 0;
  constructor(
    entries: readonly { channel: string; address: string | null; address_key: string }[],
    private readonly keyOf: (channel: SuppressionChannel, address: string) => string,
  ) {
    for (const e of entries) {
      if (e.address === null) this.keyed.add(`${e.channel}:${e.address_key}`);
      else this.plain.add(`${e.channel}:${e.address}`);
    }
  }

  add(email: string, phone: string | null): void {
    let hit = false;
    let phoneKey: string | null = null; // sms and phone share one key
    for (const a of profileAddresses(email, phone)) {
      if (this.plain.has(`${a.channel}:${a.address}`)) hit = true;
      else if (this.keyed.size > 0) {
        const key = a.channel === 'email' ? this.keyOf(a.channel, a.address) : (phoneKey ??= this.keyOf(a.channel, a.address));
        if (this.keyed.has(`${a.channel}:${key}`)) {
          hit = true;
          this.restore.push(a);
        }
      }
    }
    if (hit) this.count++;
  }
}
