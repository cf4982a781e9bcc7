import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LandingStore } from '../src/landing/repository.js';
import { openStore } from '../src/store/index.js';
import { BACKENDS, runCli, tempDir, tempStore, type Backend } from './helpers/run-cli.js';

/**
 * Issue 11: `profile list --json` read two things per profile (its last
 * changes, its subscriptions); it now reads them a page at a time. Its bytes
 * must stay exactly what they were: each profile as `profile show --json`
 * describes it, one per line, in one JSON array.
 */

const cli = async (db: string, ...argv: string[]) => {
  const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' } });
  expect(r.code, `consent ${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};

/** The real store, counting every call of its methods and of its services' (the reads a command makes). */
function countingStore(): { open: (location: string, o: object) => Promise<LandingStore>; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const counted = <T extends object>(target: T, prefix: string): T =>
    new Proxy(target, {
      get(t, key) {
        const v = Reflect.get(t, key, t);
        if (key === 'services') return counted(v as object, 'services.');
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.set(prefix + String(key), (calls.get(prefix + String(key)) ?? 0) + 1);
          return (v as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  return { calls, open: async (location, o) => counted(await openStore(location, o), '') };
}

describe.each(BACKENDS)('profile list --json on %s', (backend: Backend) => {
  it('gives every profile byte for byte as `profile show --json` describes it (flags, reachability, last changes, subscriptions), filtered and limited too', async () => {
    const db = await tempStore(backend);
    await cli(db, 'profile', 'add', '--email', 'ann@example.com', '--first-name', 'Ann', '--phone', '+33612345678');
    await cli(db, 'profile', 'add', '--email', 'bob@example.com', '--last-name', "O'Hara, Jr");
    await cli(db, 'profile', 'add', '--email', 'cy@example.com');
    await cli(db, 'profile', 'add', '--email', 'dee@example.com');
    await cli(db, 'profile', 'optout', 'ann@example.com', '--channel', 'sms,fax', '--reason', 'asked');
    await cli(db, 'profile', 'optin', 'ann@example.com', '--channel', 'sms');
    await cli(db, 'profile', 'optout', 'cy@example.com', '--channel', 'all');
    await cli(db, 'profile', 'optout', 'dee@example.com', '--channel', 'email');
    await cli(db, 'service', 'create', 'news', '--label', 'News');
    await cli(db, 'service', 'create', 'alerts', '--label', 'Alerts', '--channel', 'sms', '--double-opt-in');
    await cli(db, 'profile', 'subscribe', 'bob@example.com', 'news');
    await cli(db, 'profile', 'subscribe', 'bob@example.com', 'alerts');
    await cli(db, 'profile', 'subscribe', 'ann@example.com', 'news');
    await cli(db, 'profile', 'unsubscribe', 'ann@example.com', 'news');
    await cli(db, 'profile', 'subscribe', 'dee@example.com', 'alerts');

    const shown = async (ids: number[]) => {
      const views = [];
      for (const id of ids) views.push(JSON.stringify(JSON.parse(await cli(db, 'profile', 'show', String(id), '--json'))));
      return views.length === 0 ? '[]\n' : `[\n${views.join(',\n')}\n]\n`;
    };
    const all = await cli(db, 'profile', 'list', '--json');
    expect(all).toBe(await shown([1, 2, 3, 4]));
    expect(JSON.parse(all)[1].subscriptions.map((s: { service: string }) => s.service)).toEqual(['alerts', 'news']);
    expect(Object.keys(JSON.parse(all)[0].lastChanged)).toEqual(['email', 'sms', 'fax']);
    expect(await cli(db, 'profile', 'list', '--json', '--reachable', 'email')).toBe(await shown([1, 2]));
    expect(await cli(db, 'profile', 'list', '--json', '--limit', '3')).toBe(await shown([1, 2, 3]));
    expect(await cli(db, 'profile', 'list', '--json', '--subscribed', 'news')).toBe(await shown([2]));
    expect(await cli(db, 'profile', 'list', '--json', '--opted-out', 'push')).toBe(await shown([3]));
    expect(await cli(db, 'profile', 'list', '--json', '--subscribed', 'alerts')).toBe('[]\n'); // pending: double opt-in
  });

  it('reads the store a page of profiles at a time, not twice per profile, and stays whole across pages', async () => {
    const db = await tempStore(backend);
    const n = 2100; // three pages of the listing's reads
    const lines = ['email,optout_sms'];
    for (let i = 1; i <= n; i++) lines.push(`p${i}@example.com,${i % 3 === 0 ? 1 : 0}`);
    const csv = join(tempDir(), 'people.csv');
    writeFileSync(csv, lines.join('\n') + '\n');
    await cli(db, 'profile', 'import', csv);
    const store = countingStore();
    const r = await runCli(['--db', db, 'profile', 'list', '--json'], { openStore: store.open });
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { id: number; lastChanged: Record<string, unknown> }[];
    expect(list.map((p) => p.id)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(list.filter((p) => 'sms' in p.lastChanged)).toHaveLength(n / 3);
    const total = [...store.calls.values()].reduce((a, b) => a + b, 0);
    expect(total, JSON.stringify(Object.fromEntries(store.calls))).toBeLessThanOrEqual(20);
  });
});
