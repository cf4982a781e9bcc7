import { CHANNEL_INFO, CHANNELS, CONTACT_CHANNELS, type Channel, type OptOutFlags } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import { describeProfile, requireProfile, setConsent, suppressionView, wantedFlags } from '../../../consent/operations.js';
import { blockedBy, isReachable, parseRef, suppressionOn, type Profile } from '../../../consent/profile.js';
import { parseChannels, type CommandContext } from '../../context.js';
import { blockedNotice, suppressedNotice } from './blocked.js';

export async function run(
  ctx: CommandContext,
  verb: 'optout' | 'optin',
  ref: string,
  o: Record<string, unknown>,
): Promise<void> {
  if (o.all && o.channel) throw invalid('Give either --channel or --all, not both.', 'Use --channel all,email to name the any-channel flag with others.');
  const store = await ctx.store();
  const profile = await requireProfile(store, parseRef(ref));

  let wanted: Partial<OptOutFlags>;
  if (o.all) wanted = wantedFlags(['all'], verb === 'optout');
  else if (typeof o.channel === 'string') wanted = wantedFlags(parseChannels(o.channel), verb === 'optout');
  else {
    // As on the profile screen: one box per flag, ticked when opted out.
    const prompter = ctx.prompter('pass --channel <channels> or --all');
    const ticked = await prompter.checkbox<Channel>(
      `No longer contact ${profile.email} (ticked = opted out):`,
      CHANNELS.map((c) => ({ value: c, name: CHANNEL_INFO[c].label.en, checked: profile.optOut[c] })),
    );
    wanted = {};
    for (const c of CHANNELS) wanted[c] = ticked.includes(c);
  }

  // An operator's opt-in of channels named with --channel is a grant (policy.ts): under an opt-in basis it is
  // recorded even when no flag changes, and it needs the operator's statement (--reason) as its proof.
  const grant = verb === 'optin' && typeof o.channel === 'string' ? CONTACT_CHANNELS.filter((c) => wanted[c] === false) : [];
  if (grant.length > 0) {
    const policy = await store.policy.current();
    const optIn = grant.filter((c) => policy[c].basis === 'opt-in');
    if (optIn.length > 0 && !(typeof o.reason === 'string' && o.reason.trim())) {
      throw invalid(
        `${optIn.join(', ')} ${optIn.length > 1 ? 'are' : 'is'} opt-in: an operator's opt-in there is a grant, and needs --reason (the proof of consent, kept in the ledger).`,
        'e.g. --reason "signed paper form, 2026-11-02"',
      );
    }
  }
  const result = await setConsent(store, profile, wanted, ctx.change('operator', (o.reason as string | undefined) ?? null), grant);
  if (result.changes.length === 0) {
    ctx.notice(`Nothing changed: ${profile.email} already had those flags. No ledger entry was written.`);
  } else {
    const list = result.changes.map((c) => `${c.action} ${c.channel}`).join(', ');
    if (!o.json) ctx.print(`${profile.email}: ${list}.`);
  }
  if (verb === 'optin') {
    stillBlocked(ctx, result.profile, wanted);
    // An opt-in clears the person's flags, never the suppression list (an address's, not a person's).
    const suppressions = await store.suppressions.blocking(result.profile.email, result.profile.phone);
    for (const c of CONTACT_CHANNELS) {
      const s = wanted[c] === false || wanted.all === false ? suppressionOn(suppressions, c) : undefined;
      if (s) ctx.notice(suppressedNotice(suppressionView(s), `they are still not reachable on ${c}`));
    }
  }
  if (o.json) ctx.json({ ...(await describeProfile(store, result.profile)), changes: result.changes });
}

/**
 * After an opt-in, the channels asked for that are still not reachable: an
 * opt-in of email does not make someone opted out of `all` reachable, and
 * clearing `all` leaves each channel's own flag. Said on stderr, with the
 * command that would clear what remains.
 */
function stillBlocked(ctx: CommandContext, profile: Profile, wanted: Partial<OptOutFlags>): void {
  const asked = CONTACT_CHANNELS.filter((c) => wanted[c] === false);
  const blocked = asked.filter((c) => !isReachable(profile.optOut, c));
  if (blocked.length > 0) {
    // The named channels were just cleared, so what blocks them is `all` (which wins over every channel).
    const flags = [...new Set(blocked.flatMap((c) => blockedBy(profile.optOut, c)))];
    ctx.notice(blockedNotice(profile, flags, `they are still not reachable on ${blocked.join(', ')} (all wins over every channel)`));
  } else if (wanted.all === false && !profile.optOut.all) {
    const remaining = CONTACT_CHANNELS.filter((c) => profile.optOut[c]);
    if (remaining.length > 0) {
      ctx.notice(
        `"No longer contact by any channel" is clear; ${profile.email} stays opted out of ${remaining.join(', ')} (each channel's own flag). ` +
          `Only if they ask for it, clear those with: consent profile optin ${profile.email} --channel ${remaining.join(',')}`,
      );
    }
  }
}
