import { createHash } from 'node:crypto';
import type { Channel, ContactChannel } from '../../../consent/channels.js';
import { checkProfileFilter, requireService } from '../../../consent/operations.js';
import { exportProfiles, type ExportFormat, type ExportOptions } from '../../../imports/export.js';
import type { CommandContext } from '../../context.js';
import { writeOutputFile } from '../../output-file.js';

export async function run(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const filter = checkProfileFilter({
    reachable: o.reachable as ContactChannel | undefined,
    unreachable: o.unreachable as ContactChannel | undefined,
    optedOut: o.optedOut as Channel | undefined,
    subscribed: o.subscribed as string | undefined,
  });
  const store = await ctx.store();
  // Checked before --out is opened or anything is written.
  if (typeof o.subscribed === 'string') await requireService(store, o.subscribed);
  const options: ExportOptions = { ...filter, format: (o.format as ExportFormat | undefined) ?? 'csv' };
  // --as-of / --manifest: the audience replayed from the ledger at one position (the head now, or
  // the prefix recorded by --as-of), so that the export and the manifest's head are of one snapshot.
  const replayed = typeof o.asOf === 'string' || typeof o.manifest === 'string' ? await import('./export-manifest.js') : null;
  const plan = replayed ? await replayed.plan(ctx, store, o) : null;
  if (plan) options.source = plan.source;
  // What was written is hashed on the way, for the manifest.
  const sha = createHash('sha256');
  let bytes = 0;
  const seen = (s: string) => {
    sha.update(s);
    bytes += Buffer.byteLength(s);
  };
  let profiles: number;
  if (typeof o.out !== 'string') {
    const stdout = ctx.deps.stdout;
    // A real stdout is a stream: wait for it to drain so memory stays flat on a slow pipe.
    const emitter = stdout as unknown as { once?: (event: string, cb: () => void) => void };
    ({ profiles } = await exportProfiles(store, options, async (s) => {
      seen(s);
      if (stdout.write(s) === false && typeof emitter.once === 'function') {
        await new Promise<void>((r) => emitter.once!('drain', r));
      }
    }));
  } else {
    // Written under a temp name and renamed when whole: a sync job never sees a partial audience.
    ({ profiles } = await writeOutputFile(ctx, o.out, (out) =>
      exportProfiles(store, options, (s) => {
        seen(s);
        return out.write(s);
      }),
    ));
  }
  const leftOut = plan ? await plan.finish(profiles, { format: options.format, sha256: sha.digest('hex'), bytes }) : null;
  const where = typeof o.out === 'string' ? ` to ${o.out}` : '';
  ctx.notice(`Exported ${profiles} profile(s)${where}.${leftOut !== null ? ` Left out ${leftOut} profile(s) not reachable on ${String(o.reachable)} then.` : ''}`);
}
