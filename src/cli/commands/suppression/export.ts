import type { Suppression } from '../../../consent/suppressions.js';
import { csvLine, guardCell } from '../../../imports/columns.js';
import type { CommandContext } from '../../context.js';
import { inPages, streamRows } from '../landing/links.js';

export const EXPORT_HEADER = ['channel', 'address', 'reason', 'origin', 'created_at', 'expires_at', 'note'];

/**
 * The entries in force with an address, as CSV (guarded against formula
 * injection) or JSON lines; keyed-only entries (erased addresses) have no
 * address to give a sending system and are left out (counted on stderr).
 */
export async function exportList(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const jsonl = o.format === 'jsonl';
  let keyedOnly = 0;
  async function* withAddress(): AsyncIterable<Suppression> {
    for await (const s of store.suppressions.list()) {
      if (s.address === null) keyedOnly++;
      else yield s;
    }
  }
  const { count, file } = await streamRows(ctx, o.out, jsonl ? null : csvLine(EXPORT_HEADER), inPages(withAddress()), (s) =>
    jsonl
      ? JSON.stringify({ channel: s.channel, address: s.address, reason: s.reason, origin: s.origin, createdAt: s.createdAt, expiresAt: s.expiresAt, note: s.note }) + '\n'
      : csvLine([s.channel, s.address!, s.reason, s.origin, s.createdAt, s.expiresAt ?? '', s.note ?? ''].map(guardCell)),
  );
  ctx.notice(`Exported ${count} suppression entr${count === 1 ? 'y' : 'ies'}${file ? ` to ${file}` : ''}.`);
  if (keyedOnly > 0) ctx.notice(`${keyedOnly} entr${keyedOnly === 1 ? 'y is' : 'ies are'} kept only as a keyed hash (erased addresses) and not exported: the store keeps blocking them.`);
}
