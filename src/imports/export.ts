/**
 * `profile export`: streams profiles out as CSV (the import's columns, so an
 * export imports back as is) or JSON lines. Constant memory: the store pages
 * through profiles by id.
 */
import { CHANNELS, type Channel, type ContactChannel } from '../consent/channels.js';
import type { Profile } from '../consent/profile.js';
import type { ConsentStore } from '../consent/store.js';
import { csvLine, EXPORT_COLUMNS, guardCell } from './columns.js';

export type ExportFormat = 'csv' | 'jsonl';

export interface ExportOptions {
  reachable?: ContactChannel;
  optedOut?: Channel;
  format: ExportFormat;
}

export function profileCells(p: Profile): string[] {
  return [p.email, p.phone ?? '', p.firstName ?? '', p.lastName ?? '', ...CHANNELS.map((c) => (p.optOut[c] ? '1' : '0'))].map(guardCell);
}

/** Writes the export; `write` may return a promise (back-pressure), which is awaited. */
export async function exportProfiles(
  store: ConsentStore,
  options: ExportOptions,
  write: (text: string) => unknown,
): Promise<{ profiles: number }> {
  let profiles = 0;
  let buf = options.format === 'csv' ? csvLine(EXPORT_COLUMNS) : '';
  for await (const p of store.listProfiles({ reachable: options.reachable, optedOut: options.optedOut })) {
    profiles++;
    buf +=
      options.format === 'csv'
        ? csvLine(profileCells(p))
        : JSON.stringify({
            id: p.id,
            email: p.email,
            phone: p.phone,
            firstName: p.firstName,
            lastName: p.lastName,
            optOut: p.optOut,
            createdAt: p.createdAt,
            updatedAt: p.updatedAt,
          }) + '\n';
    if (buf.length >= 1 << 16) {
      await write(buf);
      buf = '';
    }
  }
  if (buf) await write(buf);
  return { profiles };
}
