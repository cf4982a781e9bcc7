import { tamper } from './helpers/raw-store.js';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

async function setup() {
  const db = (await tempStore(backend));
  for (const e of ['a@x.io', 'b@x.io', 'c@x.io']) await runJson(db, ['profile', 'add', '--email', e, '--json']);
  await runJson(db, ['service', 'create', 'news', '--label', 'Weekly news', '--json']);
  await runJson(db, ['service', 'create', 'offers', '--label', 'Offers by SMS', '--channel', 'sms', '--double-opt-in', '--description', 'Two a month', '--json']);
  return db;
}

describe('service create / list / show', () => {
  it('creates services with their channel and double opt-in', async () => {
    const db = await setup();
    const offers = await runJson(db, ['service', 'show', 'offers', '--json']);
    expect(offers).toMatchObject({
      name: 'offers', label: 'Offers by SMS', description: 'Two a month', channel: 'sms', doubleOptIn: true,
      subscribers: 0, pending: 0, receiving: 0, createdAt: '2026-01-02T03:04:05.000Z',
    });
    const list = await runJson(db, ['service', 'list', '--json']);
    expect(list.map((s: { name: string; channel: string }) => [s.name, s.channel])).toEqual([['news', 'email'], ['offers', 'sms']]);
  });

  it('refuses a bad name, a duplicate, an unknown channel and a missing label', async () => {
    const db = await setup();
    const bad = await runCli(['--db', db, 'service', 'create', '../x', '--label', 'X']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Invalid service name/);
    expect((await runCli(['--db', db, 'service', 'create', 'news', '--label', 'X'])).code).toBe(4);
    const ch = await runCli(['--db', db, 'service', 'create', 'x', '--label', 'X', '--channel', 'all']);
    expect(ch.code).toBe(2);
    expect(ch.stderr).toMatch(/email, sms, phone, postal, fax, push/);
    const blank = await runCli(['--db', db, 'service', 'create', 'z', '--label', '   ']);
    expect(blank.code).toBe(2);
    expect(blank.stderr).toMatch(/Invalid label/);
    const label = await runCli(['--db', db, 'service', 'create', 'y']);
    expect(label.code).toBe(2);
    expect(label.stderr).toMatch(/--label/);
    expect((await runCli(['--db', db, 'service', 'show', 'nope'])).code).toBe(3);
  });
});

describe('profile subscribe / unsubscribe', () => {
  it('subscribes at once to a single opt-in service, and records it in the ledger', async () => {
    const db = await setup();
    const r = await runJson(db, ['profile', 'subscribe', 'a@x.io', 'news', '--json']);
    expect(r).toEqual({ profileId: 1, service: 'news', before: null, after: 'subscribed', action: 'subscribe', receiving: true, blockedBy: [], suppressedBy: null });
    const p = await runJson(db, ['profile', 'show', '1', '--json']);
    expect(p.subscriptions).toEqual([{ service: 'news', status: 'subscribed', since: '2026-01-02T03:04:05.000Z' }]);
    const h = await runJson(db, ['profile', 'history', '1', '--json']);
    expect(h[0]).toMatchObject({ channel: 'email', service: 'news', action: 'subscribe', source: 'operator' });
  });

  it('makes a double opt-in subscription pending, unless --confirmed with a --reason', async () => {
    const db = await setup();
    const pending = await runCli(['--db', db, 'profile', 'subscribe', '1', 'offers']);
    expect(pending.code).toBe(0);
    expect(pending.stderr).toMatch(/stays pending/);
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).subscriptions[0].status).toBe('pending');

    const noReason = await runCli(['--db', db, 'profile', 'subscribe', '2', 'offers', '--confirmed']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--confirmed needs --reason/);
    expect((await runJson(db, ['profile', 'show', '2', '--json'])).subscriptions).toEqual([]);

    await runCli(['--db', db, '--actor', 'jane', 'profile', 'subscribe', '2', 'offers', '--confirmed', '--reason', 'signed paper form']);
    expect((await runJson(db, ['profile', 'show', '2', '--json'])).subscriptions[0].status).toBe('subscribed');
    const [e] = await runJson(db, ['profile', 'history', '2', '--json']);
    expect(e).toMatchObject({ service: 'offers', action: 'subscribe', actor: 'jane', reason: 'signed paper form', evidence: { proof: 'operator-statement', statement: 'signed paper form' } });
  });

  it('records nothing when nothing changes, and unsubscribes', async () => {
    const db = await setup();
    await runCli(['--db', db, 'profile', 'subscribe', '1', 'news']);
    const again = await runCli(['--db', db, 'profile', 'subscribe', '1', 'news']);
    expect(again.stderr).toMatch(/Nothing changed/);
    await runCli(['--db', db, 'profile', 'unsubscribe', '1', 'news', '--reason', 'too many mails']);
    const un2 = await runCli(['--db', db, 'profile', 'unsubscribe', '1', 'news']);
    expect(un2.stderr).toMatch(/Nothing changed/);
    const h = await runJson(db, ['profile', 'history', '1', '--json']);
    expect(h.map((e: { action: string }) => e.action)).toEqual(['unsubscribe', 'subscribe']);
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).subscriptions[0].status).toBe('unsubscribed');
  });

  it('unknown profile or service: exit 3, nothing written', async () => {
    const db = await setup();
    expect((await runCli(['--db', db, 'profile', 'subscribe', 'ghost@x.io', 'news'])).code).toBe(3);
    expect((await runCli(['--db', db, 'profile', 'subscribe', '1', 'ghost'])).code).toBe(3);
    expect((await runJson(db, ['ledger', 'verify', '--json'])).events).toBe(0);
  });
});

describe('an opt-out wins over a subscription', () => {
  it('list --subscribed and the receiving count leave out those opted out of the channel or of all', async () => {
    const db = await setup();
    for (const ref of ['1', '2', '3']) await runCli(['--db', db, 'profile', 'subscribe', ref, 'news']);
    await runCli(['--db', db, 'profile', 'optout', '2', '--channel', 'email']);
    await runCli(['--db', db, 'profile', 'optout', '3', '--all']);
    const list = await runJson(db, ['profile', 'list', '--subscribed', 'news', '--json']);
    expect(list.map((p: { email: string }) => p.email)).toEqual(['a@x.io']);
    expect(await runJson(db, ['service', 'show', 'news', '--json'])).toMatchObject({ subscribers: 3, receiving: 1 });
    const warn = await runCli(['--db', db, 'profile', 'subscribe', '2', 'offers', '--confirmed', '--reason', 'x']);
    expect(warn.stderr).not.toMatch(/opted out of/);
    const warn2 = await runCli(['--db', db, 'service', 'create', 'letters', '--label', 'L', '--channel', 'email']);
    expect(warn2.code).toBe(0);
    const w = await runCli(['--db', db, 'profile', 'subscribe', '2', 'letters']);
    expect(w.stderr).toMatch(/opted out of email: they will not receive letters \(email\) while that opt-out stands/);
    const ghost = await runCli(['--db', db, 'profile', 'list', '--subscribed', 'ghost', '--json']);
    expect(ghost.code).toBe(3);
    expect(ghost.stdout).toBe('');
  });

  it('subscription events are in the same hash chain', async () => {
    const db = await setup();
    await runCli(['--db', db, 'profile', 'subscribe', '1', 'news']);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'sms']);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true, events: 2 });
    await tamper(db, "UPDATE ledger_events SET service = 'offers' WHERE id = 1");
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/event 1 was edited/);
  });
});
});
