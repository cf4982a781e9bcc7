/**
 * Webhooks delivered by `landing serve` (the built binary, a real clock):
 * a receiver that fails twice then takes it (three attempts, one success,
 * the backoff shortened by CONSENT_WEBHOOK_BACKOFF_MS), a server killed
 * with kill -9 in the middle of a delivery (sent again after the restart,
 * same id), and two servers on one PostgreSQL database sharing the outbox
 * (each delivery sent once).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.js';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';
import { serve as serveBinary, type Instance } from './helpers/serve-binary.js';
import { receiver, signatureValid } from './helpers/webhook-receiver.js';

/** A server that looks at the ledger every 100 ms. */
const serve = (db: string, env: Record<string, string> = {}) => serveBinary(db, { CONSENT_WEBHOOK_POLL_MS: '100', ...env });

async function ok(db: string, ...argv: string[]) {
  const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' }, now: new Date() });
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function deliveries(db: string, webhook: number) {
  const store = await openStore(db, {});
  try {
    return await store.webhooks.deliveries(webhook);
  } finally {
    await store.close();
  }
}

/** The webhook's deliveries once none is pending (the receiver answers before the server records it). */
async function settled(db: string, webhook: number, count = 1) {
  for (let i = 0; ; i++) {
    const list = await deliveries(db, webhook);
    if ((list.length >= count && list.every((d) => d.status !== 'pending')) || i === 150) return list;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(BACKENDS)('landing serve delivers webhooks on %s', (backend) => {
  it('retries a receiver that fails twice, then it takes it: three attempts, one success, in order; a server killed -9 mid-delivery sends it again after restart', async () => {
    const db = await tempStore(backend);
    await ok(db, 'profile', 'add', '--email', 'ann@example.com');
    await ok(db, 'profile', 'add', '--email', 'bob@example.com');
    const rx = await receiver((n) => (n < 2 ? 500 : 200));
    const { secret } = await runJson(db, ['webhook', 'add', rx.url, '--json']);
    const server = await serve(db, { CONSENT_WEBHOOK_BACKOFF_MS: '100' });
    await ok(db, 'profile', 'optout', 'ann@example.com', '--channel', 'email', '--reason', 'one');
    await ok(db, 'profile', 'optout', 'ann@example.com', '--channel', 'sms', '--reason', 'two');
    const got = await rx.waitFor(4);
    // Three attempts of the first (same id), then the second: never out of order.
    expect(got.map((r) => r.body.data.channel)).toEqual(['email', 'email', 'email', 'sms']);
    expect(new Set(got.slice(0, 3).map((r) => r.body.id)).size).toBe(1);
    for (const r of got) expect(signatureValid(secret, r.headers['consent-signature'], r.raw, Math.floor(Date.now() / 1000))).toBe(true);
    expect((await settled(db, 1)).map((d) => [d.status, d.attempts])).toEqual([
      ['delivered', 3],
      ['delivered', 1],
    ]);
    expect(rx.received).toHaveLength(4);
    expect(server.stderr()).toMatch(/attempt 1\): the receiver answered 500; retry at/);
    server.child.kill('SIGTERM');
    expect(await server.exit).toEqual({ code: 0, signal: null });

    // kill -9 while the receiver holds the request: nothing recorded, the lease runs out, the next server sends it.
    const slow = await receiver((n) => (n === 0 ? 'hang' : 200));
    await ok(db, 'webhook', 'remove', '1');
    await runJson(db, ['webhook', 'add', slow.url, '--json']);
    const first = await serve(db, { CONSENT_WEBHOOK_LEASE_MS: '1500' });
    await ok(db, 'profile', 'optout', 'bob@example.com', '--channel', 'email', '--reason', 'three');
    const [held] = await slow.waitFor(1);
    first.child.kill('SIGKILL');
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await serve(db, { CONSENT_WEBHOOK_LEASE_MS: '1500' });
    const again = await slow.waitFor(2);
    expect(again[1]!.body.id).toBe(held!.body.id);
    expect(again[1]!.body.data).toMatchObject({ email: 'bob@example.com', channel: 'email', action: 'optout' });
    expect((await settled(db, 2)).map((d) => [d.status, d.attempts])).toEqual([['delivered', 1]]);
  });
});

describe('two landing servers on one PostgreSQL database', () => {
  it('share the outbox: every delivery sent exactly once, by one or the other', async () => {
    const db = await tempStore('postgres');
    const dir = tempDir();
    const rx = await receiver();
    await ok(db, 'store', 'init');
    await ok(db, 'webhook', 'add', rx.url);
    const [a, b] = await Promise.all([serve(db), serve(db)]);
    const n = 60;
    const csv = join(dir, 'people.csv');
    writeFileSync(csv, 'email,optout_email\n' + Array.from({ length: n }, (_, i) => `p${i}@example.com,1`).join('\n') + '\n');
    await ok(db, 'profile', 'import', csv);
    for (let i = 0; i < 5; i++) await ok(db, 'profile', 'optout', `p${i}@example.com`, '--channel', 'sms', '--reason', 'more');
    const expected = n + 5;
    expect((await settled(db, 1, expected)).map((d) => d.status)).toEqual(Array(expected).fill('delivered'));
    const ids = rx.received.map((r) => r.body.id);
    expect(ids.length).toBe(expected);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(rx.received.map((r) => r.body.data.eventId)).size).toBe(ids.length);
    for (const s of [a, b]) {
      s.child.kill('SIGTERM');
      expect(await s.exit).toEqual({ code: 0, signal: null });
    }
    const sentBy = (s: Instance) => (s.stderr().match(/: delivered \(200\)/g) ?? []).length;
    expect(sentBy(a) + sentBy(b)).toBe(expected);
  });
});
