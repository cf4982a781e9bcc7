import { describeProfile } from '../../../consent/operations.js';
import { parseNewProfile } from '../../../consent/profile-schema.js';
import type { CommandContext } from '../../context.js';
import { defaultCountry } from './country.js';

export async function run(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const input = parseNewProfile({ email: o.email, phone: o.phone, firstName: o.firstName, lastName: o.lastName }, { defaultCountry: defaultCountry(ctx, o) });
  const store = await ctx.store();
  const profile = await store.addProfile(input, ctx.nowIso());
  if (o.json) ctx.json(await describeProfile(store, profile));
  else ctx.print(`Added profile ${profile.id} (${profile.email}).`);
}
