/**
 * `consent changes`: the ledger after a cursor, a page at a time (constant
 * memory), each event with its cursor and reachableAfter (feed.ts); the next
 * cursor last. `--follow` then waits for appends (store.feed.waitForAppend)
 * until SIGINT/SIGTERM, and exits 0 after printing the cursor it reached.
 */
import { type Channel, type ContactChannel } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import {
  checkCursor,
  decodeCursor,
  encodeCursor,
  FEED_COLUMNS,
  ORIGIN,
  reachableAfterPage,
  type FeedEvent,
  type LedgerPosition,
} from '../../../consent/feed.js';
import type { SuppressionsInForce } from '../../../consent/profile.js';
import { csvLine, guardCell } from '../../../imports/columns.js';
import { parseChannels, type CommandContext } from '../../context.js';
import { writeOut } from '../../table-stream.js';

const PAGE = 1000;
/** --follow's longest wait between two reads of the ledger (the fallback when no notification comes). */
const FOLLOW_WAIT_MS = 1000;

function csvCells(e: FeedEvent): string[] {
  return FEED_COLUMNS.map((k) => {
    const v = e[k];
    return v === null ? '' : guardCell(String(v));
  });
}

export async function changes(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const format = o.format === 'csv' ? 'csv' : 'jsonl';
  let channels: Channel[] | null = null;
  let asked: ContactChannel | null = null;
  if (typeof o.channel === 'string') {
    const [c] = parseChannels(o.channel);
    if (parseChannels(o.channel).length > 1) throw invalid('--channel takes one channel.', 'Run one feed per channel, or none for every channel.');
    channels = c === 'all' ? ['all'] : [c!, 'all'];
    asked = c === 'all' ? null : (c as ContactChannel);
  }
  const signal = o.follow ? ctx.deps.interrupts?.() : undefined;
  if (o.follow && !signal) throw invalid('--follow needs a process to run in (use the consent binary).');
  const store = await ctx.store();
  const storeId = await store.feed.storeId();
  let pos: LedgerPosition = ORIGIN;
  if (typeof o.since === 'string') {
    const c = decodeCursor(o.since);
    pos = checkCursor(c, storeId, c.eventId === 0 ? null : await store.feed.blockOf(c.eventId));
  }
  const out = ctx.deps.stdout;
  if (format === 'csv') await writeOut(out, csvLine([...FEED_COLUMNS]));
  try {
    for (;;) {
      const rows = await store.feed.page(pos.eventId, channels, PAGE);
      if (rows.length > 0) {
        const last = rows[rows.length - 1]!;
        const people = rows.filter((r) => r.profileId !== null);
        const ids = [...new Set(people.map((r) => r.profileId!))];
        const [trail, policies] = await Promise.all([store.feed.trail(ids, last.id), store.feed.policies(last.id)]);
        // Suppression as it is now, for each profile's current addresses (an erased profile has none, and is unreachable anyway).
        const firstRow = new Map(people.map((r) => [r.profileId!, r] as const));
        const profiles = [...firstRow.values()];
        const blocking = await store.suppressions.blockingMany(profiles.map((r) => ({ email: r.email, phone: r.phone })));
        const suppressions = new Map<number, SuppressionsInForce>(profiles.map((r, i) => [r.profileId!, blocking[i]!]));
        const reachable = reachableAfterPage(rows, trail, policies, suppressions, asked);
        let text = '';
        rows.forEach((r, i) => {
          const e: FeedEvent = {
            cursor: encodeCursor(storeId, { eventId: r.id, blockId: r.blockId, hash: r.blockHash }),
            id: r.id,
            profileId: r.profileId,
            email: r.email,
            channel: r.channel,
            service: r.service,
            action: r.action,
            source: r.source,
            actor: r.actor,
            occurredAt: r.occurredAt,
            reachableAfter: reachable[i]!,
          };
          text += format === 'csv' ? csvLine(csvCells(e)) : JSON.stringify(e) + '\n';
        });
        await writeOut(out, text);
        pos = { eventId: last.id, blockId: last.blockId, hash: last.blockHash };
      }
      if (rows.length === PAGE) continue;
      if (!signal || signal.aborted) break;
      await store.feed.waitForAppend(signal, FOLLOW_WAIT_MS);
      if (signal.aborted) break;
    }
  } finally {
    await store.feed.stopWaiting();
  }
  const cursor = encodeCursor(storeId, pos);
  if (format === 'jsonl') await writeOut(out, JSON.stringify({ cursor }) + '\n');
  ctx.notice(`Next cursor: ${cursor}`);
}

