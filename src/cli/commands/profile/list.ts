import type { Channel, ContactChannel } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import { checkProfileFilter, describeProfiles, requireService } from '../../../consent/operations.js';
import type { Profile } from '../../../consent/profile.js';
import type { CommandContext } from '../../context.js';
import { openTableStream, writeOut, type StreamColumn } from '../../table-stream.js';

export async function run(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  let limit: number | undefined;
  if (o.limit !== undefined) {
    limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw invalid(`--limit must be a whole number of at least 1, not "${String(o.limit)}".`);
  }
  const filter = checkProfileFilter({
    reachable: o.reachable as ContactChannel | undefined,
    unreachable: o.unreachable as ContactChannel | undefined,
    optedOut: o.optedOut as Channel | undefined,
    subscribed: o.subscribed as string | undefined,
    limit,
  });
  const store = await ctx.store();
  // Checked before the first byte: on an error stdout stays empty, even with --json.
  if (typeof o.subscribed === 'string') await requireService(store, o.subscribed);
  const profiles = typeof o.asOf === 'string' ? await (await import('./as-of-source.js')).asOfProfiles(ctx, store, o, limit) : store.listProfiles(filter);
  if (o.json) {
    // Streamed as one JSON array, a page of objects per write, so a large list never sits whole in memory;
    // each page's last changes and subscriptions are two reads of the store, not two per profile.
    const out = ctx.deps.stdout;
    let first = true;
    let page: Profile[] = [];
    const flush = async (end: string) => {
      let text = '';
      for (const v of await describeProfiles(store, page)) {
        text += (first ? '[\n' : ',\n') + JSON.stringify(v);
        first = false;
      }
      page = [];
      await writeOut(out, text + end);
    };
    for await (const p of profiles) {
      page.push(p);
      if (page.length === DESCRIBE_PAGE) await flush('');
    }
    if (page.length > 0) await flush('\n]\n');
    else await writeOut(out, first ? '[]\n' : '\n]\n');
    return;
  }
  // Streamed a page at a time, on a terminal as in a pipe: a million profiles never sit in memory.
  const table = openTableStream(ctx.deps.stdout, LIST_COLUMNS);
  for await (const p of profiles) {
    const out = Object.entries(p.optOut)
      .filter(([, v]) => v)
      .map(([c]) => c);
    await table.row([String(p.id), p.email, p.phone ?? '', [p.firstName, p.lastName].filter(Boolean).join(' '), out.join(',') || '-']);
  }
  await table.end();
  if (table.rows === 0) ctx.notice('No profiles match.');
}

/** Profiles described per pair of reads (their last changes, their subscriptions). */
const DESCRIBE_PAGE = 1000;

/** On a terminal, long emails and names are cut (with "…") so that one long value does not widen every row. */
const LIST_COLUMNS: StreamColumn[] = [
  { head: 'id', align: 'right' },
  { head: 'email', max: 40 },
  { head: 'phone', max: 16 },
  { head: 'name', max: 30 },
  { head: 'opted out' },
];
