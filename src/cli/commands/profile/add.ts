import { describeProfile } from '../../../consent/operations.js';
import { parseNewProfile } from '../../../consent/profile-schema.js';
import type { CommandContext } from '../../context.js';
import { defaultCountry } from './country.js';

export async function run(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const input = parseNewProfile({ email: o.email, phone: o.phone, firstName: o.firstName, lastName: o.lastName }, { defaultCountry: defaultCountry(ctx, o) });
  const store = await ctx.store();
  const profile = await store.addProfile(input, ctx.nowIso());
  // An address erased before (GDPR art. 17) stays unreachable: say so.
  const erased = (await store.suppressions.blocking(profile.email, profile.phone, ctx.nowIso())).filter((s) => s.reason === 'erasure').map((s) => s.channel);
  if (erased.length > 0) {
    ctx.notice(`This profile's ${erased.includes('email') ? 'email' : 'phone'}${erased.includes('email') && erased.length > 1 ? ' and phone' : ''} belonged to an erased profile: it is unreachable on ${erased.join(', ')} until the person confirms a double opt-in.`);
  }
  if (o.json) {
    const view = await describeProfile(store, profile);
    for (const c of erased) view.reachable[c] = false;
    ctx.json({ ...view, erasedAddresses: erased });
  } else ctx.print(`Added profile ${profile.id} (${profile.email}).`);
}
