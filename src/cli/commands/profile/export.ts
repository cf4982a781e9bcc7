import type { Channel, ContactChannel } from '../../../consent/channels.js';
import { checkProfileFilter, requireService } from '../../../consent/operations.js';
import { exportProfiles, type ExportFormat } from '../../../imports/export.js';
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
  const options = { ...filter, format: (o.format as ExportFormat | undefined) ?? 'csv' };
  if (typeof o.out !== 'string') {
    const stdout = ctx.deps.stdout;
    // A real stdout is a stream: wait for it to drain so memory stays flat on a slow pipe.
    const emitter = stdout as unknown as { once?: (event: string, cb: () => void) => void };
    const { profiles } = await exportProfiles(store, options, async (s) => {
      if (stdout.write(s) === false && typeof emitter.once === 'function') {
        await new Promise<void>((r) => emitter.once!('drain', r));
      }
    });
    ctx.notice(`Exported ${profiles} profile(s).`);
    return;
  }
  // Written under a temp name and renamed when whole: a sync job never sees a partial audience.
  const { profiles } = await writeOutputFile(ctx, o.out, (out) => exportProfiles(store, options, (s) => out.write(s)));
  ctx.notice(`Exported ${profiles} profile(s) to ${o.out}.`);
}
