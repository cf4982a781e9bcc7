/**
 * `profile export`: streams profiles out as CSV (the import's columns, so an
 * export imports back as is) or JSON lines. Constant memory: the store pages
 * through profiles by id, and the subscriptions of each chunk of profiles are
 * read in one range query.
 *
 * Subscriptions become one `subscribe_<service>` column per service of the
 * store: `1` subscribed or pending, `0` unsubscribed, empty for none. Pending
 * is `1` because that is what re-creates it: imported, a `1` requests the
 * subscription, which is `pending` for a double opt-in service. (A subscribed
 * person of a double opt-in service also comes back `pending`: an import
 * proves no confirmation.) JSON lines carry the exact statuses.
 */
import { CHANNELS, type Channel, type ContactChannel } from '../consent/channels.js';
import type { Profile } from '../consent/profile.js';
import type { SubscriptionStatus } from '../consent/services.js';
import type { ConsentStore } from '../consent/store.js';
import { csvLine, EXPORT_COLUMNS, guardCell, SUBSCRIBE_PREFIX } from './columns.js';

export type ExportFormat = 'csv' | 'jsonl';

export interface ExportOptions {
  reachable?: ContactChannel;
  unreachable?: ContactChannel;
  optedOut?: Channel;
  /** Only those who may receive this service (subscribed and reachable on its channel). */
  subscribed?: string;
  format: ExportFormat;
  /** The profiles to write, in id order, in place of the filters' listing (an audience replayed `--as-of`). */
  source?: AsyncIterable<Profile>;
}

type Subs = { service: string; status: SubscriptionStatus; since: string }[];

export function profileCells(p: Profile): string[] {
  return [p.email, p.phone ?? '', p.firstName ?? '', p.lastName ?? '', ...CHANNELS.map((c) => (p.optOut[c] ? '1' : '0'))].map(guardCell);
}

const SUB_CELL: Record<SubscriptionStatus, string> = { subscribed: '1', pending: '1', unsubscribed: '0' };

/** Profiles whose subscriptions are fetched together (one range query). */
const CHUNK = 1000;

/** Writes the export; `write` may return a promise (back-pressure), which is awaited. */
export async function exportProfiles(
  store: ConsentStore,
  options: ExportOptions,
  write: (text: string) => unknown,
): Promise<{ profiles: number }> {
  const services = await store.bulk.serviceNames();
  const column = new Map(services.map((s, i) => [s, i]));
  let profiles = 0;
  let buf = options.format === 'csv' ? csvLine([...EXPORT_COLUMNS, ...services.map((s) => SUBSCRIBE_PREFIX + s)]) : '';
  let chunk: Profile[] = [];

  const flush = async () => {
    const byProfile = new Map<number, Subs>();
    if (services.length > 0 && chunk.length > 0) {
      for (const s of await store.bulk.subscriptionsBetween(chunk[0]!.id, chunk[chunk.length - 1]!.id)) {
        let list = byProfile.get(s.profileId);
        if (!list) byProfile.set(s.profileId, (list = []));
        list.push({ service: s.service, status: s.status, since: s.since });
      }
    }
    for (const p of chunk) {
      const subs = byProfile.get(p.id) ?? [];
      if (options.format === 'csv') {
        const cells = new Array<string>(services.length).fill('');
        for (const s of subs) cells[column.get(s.service)!] = SUB_CELL[s.status];
        buf += csvLine([...profileCells(p), ...cells]);
      } else {
        buf +=
          JSON.stringify({
            id: p.id,
            email: p.email,
            phone: p.phone,
            firstName: p.firstName,
            lastName: p.lastName,
            optOut: p.optOut,
            subscriptions: subs,
            createdAt: p.createdAt,
            updatedAt: p.updatedAt,
          }) + '\n';
      }
      if (buf.length >= 1 << 16) {
        await write(buf);
        buf = '';
      }
    }
    chunk = [];
  };

  for await (const p of options.source ??
    store.listProfiles({
      reachable: options.reachable,
      unreachable: options.unreachable,
      optedOut: options.optedOut,
      subscribed: options.subscribed,
    })) {
    profiles++;
    chunk.push(p);
    if (chunk.length >= CHUNK) await flush();
  }
  await flush();
  if (buf) await write(buf);
  return { profiles };
}
