import { parseAsOf } from '../../../consent/as-of.js';
import { momentOf, profileAsOf, profileAsOfView } from '../../../consent/audience.js';
import { CHANNEL_INFO, CHANNELS, CONTACT_CHANNELS } from '../../../consent/channels.js';
import type { Profile } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';

/** `profile show <ref> --as-of <time>`: the profile replayed from the ledger as recorded by then. */
export async function run(ctx: CommandContext, profile: Profile, rawAsOf: string, o: Record<string, unknown>): Promise<void> {
  const at = parseAsOf(rawAsOf);
  const store = await ctx.store();
  const moment = await momentOf(store, at, ctx.nowIso());
  const v = profileAsOfView(profile, moment, await profileAsOf(store, profile, moment));
  if (o.json) return ctx.json(v);
  const s = await ctx.style();
  ctx.print(
    [
      `${s.bold(`Profile ${v.id}`)}  ${v.email}  as of ${at}`,
      `ledger: block ${moment.position.blockId}, up to event ${moment.position.eventId} (${moment.position.hash.slice(0, 16)}…)`,
      ...(!v.existed ? [s.dim('The profile did not exist yet (created after that time).')] : []),
      ...(v.erased ? [s.red(`ERASED by event ${v.erasedBy}: unreachable on every channel`)] : []),
      '',
    ].join('\n'),
  );
  await ctx.table(
    ['flag', 'set', 'event'],
    CHANNELS.map((c) => [CHANNEL_INFO[c].label.en, v.optOut[c] ? s.red('[x] yes') : '[ ] no', String(v.flagEvents[c] ?? '-')]),
  );
  await ctx.table(
    ['channel', 'basis', 'consent', 'reachable', 'why', 'events'],
    CONTACT_CHANNELS.map((c) => {
      const x = v.channels[c];
      return [c, x.basis, x.state, x.reachable ? s.green('yes') : 'no', x.why, x.decidingEvents.join(', ') || '-'];
    }),
  );
  for (const x of v.suppressions) ctx.print(`Suppressed on ${x.channel}: ${x.reason ?? '-'} since ${x.since}${x.expiresAt ? ` until ${x.expiresAt}` : ''} (event ${x.eventId})`);
  if (v.subscriptions.length > 0) ctx.print(`Subscriptions: ${v.subscriptions.map((x) => `${x.service} (${x.status} since ${x.since}, event ${x.eventId})`).join(', ')}`);
}
