import type { Channel } from '../../../consent/channels.js';
import type { Profile } from '../../../consent/profile.js';

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
