import type { Suppression, SuppressionChannel } from '../../../consent/suppressions.js';
import type { CommandContext } from '../../context.js';
import { openTableStream, type StreamColumn } from '../../table-stream.js';

const COLUMNS: StreamColumn[] = [
  { head: 'channel' },
  { head: 'address', max: 40 },
  { head: 'reason' },
  { head: 'origin', max: 30 },
  { head: 'since' },
  { head: 'expires' },
  { head: 'note', max: 40 },
];

/** The JSON shape of an entry (`suppression list --json`, and the export's JSON lines without the key). */
export function entryJson(s: Suppression, now: string) {
  return { ...s, active: s.expiresAt === null || s.expiresAt > now };
}

/** How a keyed-only entry (an erased address) is shown: never an address, the start of its key. */
export const shownAddress = (s: Suppression) => s.address ?? `(erased ${s.addressKey.slice(0, 12)}…)`;

export async function list(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const now = ctx.nowIso();
  const entries = store.suppressions.list({
    channel: o.channel as SuppressionChannel | undefined,
    reason: typeof o.reason === 'string' ? o.reason : undefined,
    includeExpired: Boolean(o.includeExpired),
  });
  if (o.json) {
    const all = [];
    for await (const s of entries) all.push(entryJson(s, now));
    return ctx.json(all);
  }
  const table = openTableStream(ctx.deps.stdout, COLUMNS);
  for await (const s of entries) {
    await table.row([s.channel, shownAddress(s), s.reason, s.origin, s.createdAt, s.expiresAt ?? '-', s.note ?? '']);
  }
  await table.end();
  if (table.rows === 0) ctx.notice('No suppression entries match.');
}
