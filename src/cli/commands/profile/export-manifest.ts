import { makeManifest, positionView } from '../../../consent/audience.js';
import { MerkleBuilder } from '../../../consent/merkle.js';
import type { ConsentStore } from '../../../consent/store.js';
import type { CommandContext } from '../../context.js';
import { writeOutputFile } from '../../output-file.js';
import { asOfChannel, asOfMoment, asOfProfiles } from './as-of-source.js';

/**
 * `profile export --reachable c [--as-of T] [--manifest m.json]`: the source of the
 * export (the audience replayed at the moment, its Merkle root computed on the way)
 * and, once it is written, the manifest (atomically) and the count left out.
 */
export async function plan(ctx: CommandContext, store: ConsentStore, o: Record<string, unknown>) {
  const channel = asOfChannel(o, typeof o.asOf === 'string' ? '--as-of' : '--manifest');
  const moment = await asOfMoment(ctx, store, o);
  // The digest only for a manifest: two SHA-256 per profile are most of an as-of export's CPU otherwise.
  const tree = typeof o.manifest === 'string' ? new MerkleBuilder() : undefined;
  const source = await asOfProfiles(ctx, store, o, undefined, tree, moment);
  return {
    source,
    async finish(profiles: number, file: { format: string; sha256: string; bytes: number }): Promise<number> {
      const leftOut = (await store.asOf.profilesAt(moment)) - profiles;
      if (tree && typeof o.manifest === 'string') {
        const manifest = makeManifest({
          createdAt: ctx.nowIso(),
          moment,
          channel,
          count: tree.count,
          leftOut,
          root: tree.root(),
          file: typeof o.out === 'string' ? file : null,
        });
        await writeOutputFile(ctx, o.manifest, (out) => out.write(JSON.stringify(manifest, null, 2) + '\n'));
        ctx.notice(`Manifest ${o.manifest}: ${tree.count} profile(s) at block ${positionView(moment).blockId} (${moment.position.hash.slice(0, 12)}…), root ${manifest.digest.root.slice(0, 12)}….`);
      }
      return leftOut;
    },
  };
}
