import type { Channel } from '../../../consent/channels.js';
import type { SuppressionView } from '../../../consent/operations.js';
import type { Profile } from '../../../consent/profile.js';

/** The sentence for a suppressed address: what blocks, why, and how it is lifted. */
export function suppressedNotice(s: SuppressionView, what: string): string {
  return (
    `${s.address ?? 'The address'} is on the suppression list for ${s.channel} (${s.reason}, ${s.origin}, since ${s.since}${s.expiresAt ? `, until ${s.expiresAt}` : ''}): ${what} while it stands. ` +
    `Lift it only if it no longer applies: consent suppression remove ${s.address ?? '<address>'} --channel ${s.channel} --reason <why>`
  );
}

/**
 * The sentence shared by commands that find someone still blocked by an
 * opt-out (subscribe, optin): what blocks them and the command that clears it.
 * Clearing is the person's decision, which the sentence says.
 */
export function blockedNotice(profile: Profile, flags: readonly Channel[], what: string): string {
  const described = flags.map((f) => (f === 'all' ? 'all channels ("no longer contact by any channel")' : f)).join(' and of ');
  const clear = flags.length === 1 && flags[0] === 'all' ? '--all' : `--channel ${flags.join(',')}`;
  return (
    `${profile.email} is opted out of ${described}: ${what} while ${flags.length === 1 ? 'that opt-out stands' : 'those opt-outs stand'}. ` +
    `Only if they ask for it again, clear it with: consent profile optin ${profile.email} ${clear}`
  );
}
