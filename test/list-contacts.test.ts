import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConsentStore } from '../src/consent/store.js';
import { openStore } from '../src/store/index.js';
import { runJson, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

async function collect(store: ConsentStore, filter: Parameters<ConsentStore['bulk']['listContacts']>[0]) {
  const pages: (readonly (readonly [number, string])[])[] = [];
  for await (const page of store.bulk.listContacts(filter)) pages.push(page);
  return pages;
}

describe('bulk.listContacts', () => {
  it('lists [id, email] in id order, in pages, filtered exactly like listProfiles', async () => {
    const db = (await tempStore(backend));
    const n = 12_345;
    let csv = 'email,optout_email,optout_all,subscribe_news\n';
    for (let i = 0; i < n; i++) csv += `p${String(i).padStart(5, '0')}@x.io,${i % 3 === 0 ? 1 : 0},${i % 7 === 0 ? 1 : 0},${i % 2}\n`;
    const f = join(tempDir(), 'p.csv');
    writeFileSync(f, csv);
    await runJson(db, ['service', 'create', 'news', '--label', 'News', '--json']);
    await runJson(db, ['profile', 'import', f, '--json']);
    const store = await openStore(db);
    try {
      for (const filter of [{}, { reachable: 'email' as const }, { optedOut: 'all' as const }, { optedOut: 'email' as const }, { unreachable: 'email' as const }, { subscribed: 'news' }, { reachable: 'sms' as const, limit: 5001 }]) {
        const pages = await collect(store, filter);
        const expected: [number, string][] = [];
        for await (const p of store.listProfiles(filter)) expected.push([p.id, p.email]);
        expect(pages.flat()).toEqual(expected);
        expect(pages.every((p) => p.length > 0 && p.length <= 5000)).toBe(true);
      }
      expect((await collect(store, {})).flat()).toHaveLength(n);
      expect((await collect(store, { limit: 5001 })).map((p) => p.length)).toEqual([5000, 1]);
      await expect(collect(store, { subscribed: 'nope' })).rejects.toThrow('No service nope');
    } finally {
      await store.close();
    }
  });
});
});
