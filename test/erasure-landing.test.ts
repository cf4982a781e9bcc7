/**
 * An erased address coming back through a static page (#13), on both stores:
 * the sign-up records the person, unreachable on email, and the answer is the
 * same as for anyone; a double opt-in confirmation for that address lifts the
 * erasure entry (recorded). And no ledger row ever holds an address in clear,
 * whatever kind of change wrote it.
 */
import { describe, expect, it } from 'vitest';
import { form, serverFixture } from './helpers/landing-server.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, runJson } from './helpers/run-cli.js';

const post = (url: string, body: URLSearchParams) => fetch(url, { method: 'POST', body, redirect: 'manual' });
const ids = (list: { id: number }[]) => list.map((p) => p.id);

describe.each(BACKENDS)('on %s', (backend) => {
  it('erase, then a static-page sign-up of the address: recorded, unreachable on email, same answer; the double opt-in confirmation lifts the erasure entry; no ledger row holds an address', async () => {
    const f = await serverFixture({ backend });
    await f.cli('service', 'create', 'news', '--label', 'News', '--double-opt-in');
    await f.cli('landing', 'create', 'club', '--type', 'acquisition', '--title', 'Club', '--channels', 'email,sms', '--services', 'news');
    await f.cli('landing', 'publish', 'club', '--out-dir', `${f.dir}/public`);
    await f.cli('profile', 'import', await writeCsv(f.dir));
    await f.cli('profile', 'optout', 'bob@example.com', '--channel', 'postal', '--reason', 'asked');
    // A one-click opt-out and a page submission with a user agent, before the erasure.
    const { oneClickUrl } = await f.link('stop', 'bob@example.com');
    expect((await fetch(`${f.url}${oneClickUrl}`, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(200);
    await f.cli('profile', 'erase', 'ann@example.com', '--reason', 'ticket-7', '--yes');

    const back = await post(`${f.url}/club`, form({ email: 'Ann@Example.com', v: '1', 'channel-email': 'on', 'service-news': 'on' }));
    const stranger = await post(`${f.url}/club`, form({ email: 'new@example.com', v: '1', 'channel-email': 'on', 'service-news': 'on' }));
    expect(back.status).toBe(200);
    expect(await back.text()).toBe(await stranger.text());
    const ann = await f.profile('ann@example.com');
    expect(ann.id).not.toBe(1);
    expect(ids(await runJson(f.db, ['profile', 'list', '--unreachable', 'email', '--json']))).toContain(ann.id);
    expect(ids(await runJson(f.db, ['profile', 'list', '--reachable', 'email', '--json']))).not.toContain(ann.id);
    expect(await rawSql(f.db, "SELECT address, reason FROM suppressions WHERE channel = 'email'")).toEqual([{ address: 'ann@example.com', reason: 'erasure' }]);

    // The confirmation mailing reaches them (the one list an erasure entry does not stop), the stranger too;
    // the person confirms the double opt-in for the address: the entry is lifted, recorded, and they are reachable again.
    // An operator who re-adds another erased address and subscribes it does not get it mailed: the request was not the person's.
    await f.cli('profile', 'erase', 'bob@example.com', '--reason', 'ticket-8', '--yes');
    await f.cli('profile', 'add', '--email', 'bob@example.com');
    await f.cli('profile', 'subscribe', 'bob@example.com', 'news');
    const mailing = await f.cli('service', 'confirmations', 'news', '--base-url', 'http://pages.example');
    const lines = mailing.trim().split('\n');
    expect(lines.slice(1).map((l: string) => l.split(',').slice(0, 3).join(','))).toEqual([`${ann.id},ann@example.com,news`, `${(await f.profile('new@example.com')).id},new@example.com,news`]);
    const confirmUrl = lines[1]!.split(',')[3]!.replace('http://pages.example', '');
    const c = await post(`${f.url}${confirmUrl.split('?')[0]}`, form({ t: new URL(confirmUrl, 'http://x').searchParams.get('t')! }));
    expect(c.status).toBe(200);
    expect(await rawSql(f.db, "SELECT address, reason FROM suppressions WHERE channel = 'email'")).toEqual([{ address: 'bob@example.com', reason: 'erasure' }]);
    expect(ids(await runJson(f.db, ['profile', 'list', '--reachable', 'email', '--json']))).toContain(ann.id);
    const lifted = await rawSql(f.db, "SELECT source, actor, reason, evidence FROM ledger_events WHERE action = 'unsuppress'");
    expect(lifted).toEqual([{ source: 'confirm:news', actor: 'subject', reason: 'double opt-in confirmed', evidence: JSON.stringify({ forced: true, liftedReason: 'erasure' }) }]);
    expect(await runJson(f.db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });

    // No ledger row holds an email or a phone, whatever wrote it (operator, import, page, one-click, confirmation, erasure, suppression).
    const rows = await rawSql(f.db, 'SELECT * FROM ledger_events ORDER BY id');
    expect(new Set(rows.map((r: { source: string }) => r.source.split(':')[0])).size).toBeGreaterThanOrEqual(5);
    const text = JSON.stringify(rows).toLowerCase();
    for (const address of ['ann@example.com', 'bob@example.com', 'new@example.com', 'imp@example.com', '+33612345678', '33612345678']) {
      expect(text, address).not.toContain(address);
    }
  });
});

async function writeCsv(dir: string): Promise<string> {
  const { writeFileSync } = await import('node:fs');
  const file = `${dir}/people.csv`;
  writeFileSync(file, 'email,phone,optout_sms\nimp@example.com,+33612345678,1\n');
  return file;
}
