import { parseManifest, proveMember, requireProfileThen } from '../../../consent/audience.js';
import { parseRef } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';

export async function run(ctx: CommandContext, manifestPath: string, ref: string, o: Record<string, unknown>): Promise<void> {
  const manifest = parseManifest(await ctx.readInput(manifestPath), manifestPath);
  const store = await ctx.store();
  const profile = await requireProfileThen(store, parseRef(ref));
  const proof = await proveMember(store, manifest, profile);
  if (o.json) return ctx.json(proof);
  const head = `block ${proof.ledger.blockId}, event ${proof.ledger.eventId}, ${proof.ledger.at}`;
  if (proof.member) {
    ctx.print(
      [
        `Profile ${proof.profileId} WAS in the audience (reachable on ${proof.channel}) at ${head}: ${proof.why}.`,
        `Deciding events: ${proof.decidingEvents.join(', ') || '-'}`,
        `Leaf ${proof.leafIndex} of ${proof.size}; proof path (${proof.path!.length} hashes, leaf upwards), ${proof.verified ? 'checked against' : 'does NOT lead to'} the root ${proof.root}:`,
        ...proof.path!.map((h) => `  ${h}`),
      ].join('\n'),
    );
  } else {
    ctx.print(
      [
        `Profile ${proof.profileId} was NOT in the audience (not reachable on ${proof.channel}) at ${head}: ${proof.why}.`,
        `Deciding events: ${proof.decidingEvents.join(', ') || '-'}`,
        `The audience recomputed there has ${proof.size} profile(s) and the manifest's root ${proof.root}.`,
      ].join('\n'),
    );
  }
}
