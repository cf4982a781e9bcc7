/**
 * Outbound webhooks in-process, on both stores (issue 17): the secret shown
 * once, signed deliveries a real receiver verifies, filters, retries with
 * backoff then `failed`, `failures` and `retry`, one profile's deliveries in
 * ledger order, a rolled-back change never delivered, and the SSRF rules
 * (at add time through the CLI, at delivery time against a name that
 * resolves elsewhere by then).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.js';
import { Deliverer, webhookSettings } from '../src/webhooks/deliverer.js';
import { send } from '../src/webhooks/send.js';
import { resolveTarget } from '../src/webhooks/target.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, FIXED_NOW, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';
import { receiver, signatureValid } from './helpers/webhook-receiver.js';

const at = (s: number) => new Date(FIXED_NOW.getTime() + s * 1000);
const nowS = (d: Date) => Math.floor(d.getTime() / 1000);

async function ok(db: string, argv: string[], options: Parameters<typeof runCli>[1] = {}) {
  const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' }, ...options });
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

/** `webhook deliver --once` at a time (seconds after FIXED_NOW). */
const deliverAt = (db: string, s: number, env: Record<string, string> = {}) => runJson(db, ['webhook', 'deliver', '--once', '--json'], { now: at(s), env });

describe.each(BACKENDS)('webhooks on %s', (backend) => {
  it('shows the secret once; delivers each later change signed, with its id, type and data; filters; test; remove', async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'ann@example.com']);
    await ok(db, ['profile', 'add', '--email', 'bob@example.com']);
    await ok(db, ['profile', 'optout', 'ann@example.com', '--channel', 'sms', '--reason', 'before the webhook']);
    const rx = await receiver();

    const added = await ok(db, ['webhook', 'add', rx.url]);
    const secret = /Secret: (whsec_[A-Za-z0-9_-]{43})\n/.exec(added.stdout)?.[1];
    expect(secret, added.stdout).toBeDefined();
    expect(added.stdout.split(secret!).length - 1).toBe(1);
    const subsOnly = await runJson(db, ['webhook', 'add', rx.url.replace('/hook', '/subs'), '--events', 'subscribe,unsubscribe', '--json']);
    expect(subsOnly).toMatchObject({ id: 2, events: ['subscribe', 'unsubscribe'], channels: null, secret: expect.stringMatching(/^whsec_/) });
    const smsOnly = await runJson(db, ['webhook', 'add', rx.url.replace('/hook', '/sms'), '--channel', 'sms', '--json']);
    // Never again: not in list (human or JSON), not in failures, not in test's output.
    const listed = [await ok(db, ['webhook', 'list']), await ok(db, ['webhook', 'list', '--json'])].map((r) => r.stdout + r.stderr).join('');
    expect(listed).toContain(rx.url);
    for (const s of [secret!, subsOnly.secret, smsOnly.secret]) expect(listed).not.toContain(s);

    await ok(db, ['profile', 'optout', 'bob@example.com', '--channel', 'email', '--reason', 'asked']);
    await ok(db, ['profile', 'optout', 'ann@example.com', '--channel', 'all', '--reason', 'asked']);
    const r = await deliverAt(db, 1);
    const hook = rx.received.filter((x) => x.path === '/hook');
    const sms = rx.received.filter((x) => x.path === '/sms');
    expect(r.delivered).toBe(rx.received.length);
    // The opt-out made before the webhook existed is not delivered (no backfill without --from-start).
    expect(hook.map((x) => x.body.data.reason ?? x.body.data.channel)).not.toContain('before the webhook');
    const bob = hook.find((x) => x.body.data.email === 'bob@example.com')!;
    expect(bob.body).toMatchObject({
      type: 'consent.optout',
      occurredAt: FIXED_NOW.toISOString(),
      data: { profileId: 2, email: 'bob@example.com', channel: 'email', service: null, action: 'optout', source: 'operator', actor: 'op' },
    });
    expect(bob.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(bob.headers['consent-delivery']).toBe(bob.body.id);
    expect(bob.headers['content-type']).toBe('application/json');
    expect(signatureValid(secret!, bob.headers['consent-signature'], bob.raw, nowS(at(1)))).toBe(true);
    expect(signatureValid(secret!, bob.headers['consent-signature'], bob.raw.replace('bob', 'bib'), nowS(at(1)))).toBe(false);
    expect(signatureValid(subsOnly.secret, bob.headers['consent-signature'], bob.raw, nowS(at(1)))).toBe(false);
    expect(rx.received.filter((x) => x.path === '/subs')).toEqual([]);
    // The sms webhook: only sms (or all) events; bob's email opt-out is not among them.
    expect(sms.every((x) => x.body.data.channel === 'sms' || x.body.data.channel === 'all')).toBe(true);
    expect(sms.find((x) => x.body.data.email === 'bob@example.com')).toBeUndefined();
    expect(sms.map((x) => [x.body.data.email, x.body.data.channel, x.body.type])).toEqual([['ann@example.com', 'all', 'consent.optout']]);
    // Nothing sent twice: the next pass has nothing.
    expect(await deliverAt(db, 2)).toMatchObject({ delivered: 0, retrying: 0, failed: 0 });

    // test: a signed webhook.test, the result printed.
    const t = await ok(db, ['webhook', 'test', '1', '--json']);
    expect(JSON.parse(t.stdout)).toMatchObject({ webhookId: 1, delivered: true, status: 200 });
    expect(t.stdout + t.stderr).not.toContain(secret!);
    const test = rx.received.at(-1)!;
    expect(test.body).toMatchObject({ type: 'webhook.test', data: { webhookId: 1 } });
    expect(signatureValid(secret!, test.headers['consent-signature'], test.raw, nowS(FIXED_NOW))).toBe(true);

    // remove: nothing more is sent to it.
    await ok(db, ['webhook', 'remove', '1']);
    expect((await runJson(db, ['webhook', 'list', '--json'])).map((w: { id: number }) => w.id)).toEqual([2, 3]);
    const before = rx.received.length;
    await ok(db, ['profile', 'optin', 'bob@example.com', '--channel', 'email', '--reason', 'back']);
    await deliverAt(db, 3);
    expect(rx.received.slice(before).filter((x) => x.path === '/hook')).toEqual([]);
    expect((await runCli(['--db', db, 'webhook', 'remove', '1'])).code).toBe(3);
    expect((await runCli(['--db', db, 'webhook', 'test', '9'])).code).toBe(3);

    // --secret-file: that secret signs, and is never printed.
    const file = join(tempDir(), 'secret');
    const given = 'a-long-secret-from-the-receiver-team';
    writeFileSync(file, `${given}\n`);
    const withFile = await ok(db, ['webhook', 'add', rx.url.replace('/hook', '/given'), '--secret-file', file]);
    expect(withFile.stdout + withFile.stderr).not.toContain(given);
    // An erased profile: its erasure is delivered without its address.
    await ok(db, ['profile', 'erase', 'bob@example.com', '--reason', 'ticket 12', '--yes']);
    await deliverAt(db, 4);
    const erased = rx.received.filter((x) => x.path === '/given');
    expect(erased.map((x) => [x.body.type, x.body.data.profileId, x.body.data.email])).toContainEqual(['profile.erase', 2, null]);
    expect(JSON.stringify(erased)).not.toContain('bob@');
    for (const x of erased) expect(signatureValid(given, x.headers['consent-signature'], x.raw, nowS(at(4)))).toBe(true);
  });

  it('retries a receiver that fails (backoff with jitter, the same id), keeps one profile in ledger order, gives up after the period; failures and retry', async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'ann@example.com']);
    await ok(db, ['profile', 'add', '--email', 'bob@example.com']);
    // Ann's first delivery fails twice; everything else is taken at once.
    let annFailures = 0;
    const rx = await receiver((_n, r) => (r.body.data.email === 'ann@example.com' && r.body.data.channel === 'email' && annFailures++ < 2 ? 503 : 200));
    await ok(db, ['webhook', 'add', rx.url, '--json']);
    await ok(db, ['profile', 'optout', 'ann@example.com', '--channel', 'email', '--reason', 'one']);
    await ok(db, ['profile', 'optout', 'ann@example.com', '--channel', 'sms', '--reason', 'two']);
    await ok(db, ['profile', 'optout', 'bob@example.com', '--channel', 'email', '--reason', 'three']);
    await ok(db, ['profile', 'optin', 'ann@example.com', '--channel', 'email', '--reason', 'four']);
    const annEvents = () => rx.received.filter((x) => x.body.data.email === 'ann@example.com').map((x) => x.body.data.eventId);

    expect(await deliverAt(db, 0)).toMatchObject({ fannedOut: 4, delivered: 1, retrying: 1 });
    // Bob's went; Ann's later changes wait behind her first.
    expect(rx.received.map((x) => x.body.data.email)).toEqual(['ann@example.com', 'bob@example.com']);
    // Not due again before the first backoff (5 to 7.5 s), due by 10 s.
    expect(await deliverAt(db, 4)).toMatchObject({ delivered: 0, retrying: 0 });
    expect(await deliverAt(db, 8)).toMatchObject({ delivered: 0, retrying: 1 });
    // Second backoff: 10 to 15 s after the second attempt.
    expect(await deliverAt(db, 17)).toMatchObject({ delivered: 0, retrying: 0 });
    expect(await deliverAt(db, 24)).toMatchObject({ delivered: 3 });
    const ids = annEvents();
    expect(ids).toHaveLength(5); // three attempts of the first, then the two later ones
    expect(ids.slice(0, 3)).toEqual([ids[0], ids[0], ids[0]]);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const first = rx.received.filter((x) => x.body.data.eventId === ids[0]);
    expect(new Set(first.map((x) => x.body.id)).size).toBe(1);
    expect(first.map((x) => x.body.id)).toEqual([first[0]!.body.id, first[0]!.body.id, first[0]!.body.id]);

    // A receiver down for good: given up once the next attempt would fall past the period (24 h; 60 s here).
    const down = await receiver(() => 500);
    const hook = await runJson(db, ['webhook', 'add', down.url, '--json']);
    await ok(db, ['profile', 'optout', 'bob@example.com', '--channel', 'postal', '--reason', 'five'], { now: at(30) });
    const env = { CONSENT_WEBHOOK_GIVE_UP_MS: '60000' };
    let failed = 0;
    for (let s = 30; s < 200 && failed === 0; s += 10) failed += (await deliverAt(db, s, env)).failed;
    expect(failed).toBe(1);
    const attempts = down.received.length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    const failures = await runJson(db, ['webhook', 'failures', '--json']);
    expect(failures).toEqual([
      expect.objectContaining({ webhookId: hook.id, status: 'failed', attempts, type: 'consent.optout', lastStatus: 500, lastError: 'the receiver answered 500' }),
    ]);
    expect((await ok(db, ['webhook', 'failures'])).stdout).toContain(failures[0].deliveryId);
    // Not retried any more by itself.
    await deliverAt(db, 400, env);
    expect(down.received.length).toBe(attempts);
    // retry: pending again (by its id), sent by the next pass, same id; a delivery not failed cannot be retried.
    expect((await runCli(['--db', db, 'webhook', 'retry', failures[0].deliveryId], { now: at(500) })).code).toBe(0);
    expect((await runCli(['--db', db, 'webhook', 'retry', failures[0].deliveryId], { now: at(500) })).code).toBe(4);
    expect((await runCli(['--db', db, 'webhook', 'retry', '999'])).code).toBe(3);
    await deliverAt(db, 500, env);
    expect(down.received.length).toBe(attempts + 1);
    expect(down.received.at(-1)!.body.id).toBe(failures[0].deliveryId);
    // test against a receiver that refuses: exit 5, the answer printed.
    const t = await runCli(['--db', db, 'webhook', 'test', String(hook.id)]);
    expect(t.code).toBe(5);
    expect(t.stdout).toMatch(/Not delivered .*the receiver answered 500/);
  });

  it("gives each delivery its whole retry period from its own first attempt: one held back behind a profile's earlier delivery is not failed on its first try", async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'ann@example.com']);
    const down = await receiver(() => 500);
    await ok(db, ['webhook', 'add', down.url, '--json']);
    await ok(db, ['profile', 'optout', 'ann@example.com', '--channel', 'email', '--reason', 'first']);
    await ok(db, ['profile', 'optout', 'ann@example.com', '--channel', 'sms', '--reason', 'second']);
    const env = { CONSENT_WEBHOOK_GIVE_UP_MS: '60000' };
    let failed = 0;
    for (let s = 0; s < 600 && failed < 2; s += 10) failed += (await deliverAt(db, s, env)).failed;
    expect(failed).toBe(2);
    const byEvent = new Map<number, number[]>();
    // When each attempt was sent: the signature's t= (the deliverer's clock, injected).
    const sentAt = (x: (typeof down.received)[number]) => Number(/^t=(\d+),/.exec(String(x.headers['consent-signature']))![1]);
    for (const x of down.received) (byEvent.get(x.body.data.eventId) ?? byEvent.set(x.body.data.eventId, []).get(x.body.data.eventId)!).push(sentAt(x));
    const [first, second] = [...byEvent.keys()].sort((a, b) => a - b).map((id) => byEvent.get(id)!);
    // The second waited behind the first (never sent before the first was given up), then had retries of its own for the whole period.
    expect(second![0]!).toBeGreaterThanOrEqual(first!.at(-1)!);
    expect(second!.length).toBeGreaterThanOrEqual(3);
    // Each one's attempts span at least the period (60 s here, 24 h by default).
    for (const times of [first!, second!]) expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(60);
  });

  it('never delivers a change that rolled back (a failed transaction, an import refused by validation); store copy keeps webhooks and cursors', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['profile', 'add', '--email', 'ann@example.com']);
    const rx = await receiver();
    const secret = /Secret: (\S+)/.exec((await ok(db, ['webhook', 'add', rx.url])).stdout)?.[1];
    const store = await openStore(db, {});
    try {
      // One transaction: Ann's opt-out, then a request for a profile that does not exist: all rolled back.
      await expect(
        store.applyConsent(
          [
            { profileId: 1, wanted: { email: true } },
            { profileId: 999, wanted: { sms: true } },
          ],
          { source: 'operator', actor: 'op', occurredAt: FIXED_NOW.toISOString() },
        ),
      ).rejects.toThrow(/999/);
    } finally {
      await store.close();
    }
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'email,optout_email\nnew@example.com,1\nnot-an-email,1\n');
    expect((await runCli(['--db', db, 'profile', 'import', csv])).code).toBe(2);
    expect(await deliverAt(db, 1)).toMatchObject({ fannedOut: 0, delivered: 0 });
    expect(rx.received).toEqual([]);
    // The next committed change is delivered, alone.
    await ok(db, ['profile', 'optout', 'ann@example.com', '--channel', 'push', '--reason', 'real']);
    expect(await deliverAt(db, 2)).toMatchObject({ fannedOut: 1, delivered: 1 });
    expect(rx.received.map((x) => [x.body.data.channel, x.body.data.action])).toEqual([['push', 'optout']]);
    expect((await rawSql(db, 'SELECT count(*) AS n FROM webhook_deliveries')).map((r) => Number(r.n))).toEqual([1]);

    // store copy takes the webhooks (secret, cursor) and their deliveries to the other store: nothing is sent again there.
    const copy = await tempStore(backend === 'sqlite' ? 'postgres' : 'sqlite');
    await ok(db, ['store', 'copy', db, copy]);
    expect(await runJson(copy, ['webhook', 'list', '--json'])).toEqual(await runJson(db, ['webhook', 'list', '--json']));
    await ok(copy, ['profile', 'optout', 'ann@example.com', '--channel', 'fax', '--reason', 'after the copy']);
    expect(await deliverAt(copy, 3)).toMatchObject({ fannedOut: 1, delivered: 1 });
    expect(rx.received.map((x) => x.body.data.channel)).toEqual(['push', 'fax']);
    expect(signatureValid(secret!, rx.received[1]!.headers['consent-signature'], rx.received[1]!.raw, nowS(at(3)))).toBe(true);
  });
});

describe('webhook targets (SSRF)', () => {
  it('refuses plain http but to 127.0.0.1/localhost, and private, link-local, ULA and CGNAT addresses without --allow-private (exit 2, nothing added)', async () => {
    const db = await tempStore('sqlite');
    await ok(db, ['profile', 'add', '--email', 'ann@example.com']);
    const refused: [string[], RegExp][] = [
      [['http://8.8.8.8/hook'], /Plain http is refused/],
      [['http://10.1.2.3/hook', '--allow-http'], /private address/],
      [['https://10.1.2.3/hook'], /private address/],
      [['https://192.168.1.1/hook'], /private address/],
      [['https://169.254.169.254/latest/meta-data'], /linkLocal address/],
      [['https://100.64.0.1/hook'], /carrierGradeNat address/],
      [['https://[fd00::1]/hook'], /uniqueLocal address/],
      [['https://[fe80::1]/hook'], /linkLocal address/],
      [['https://[::ffff:10.0.0.1]/hook'], /private address/],
      [['https://0.0.0.0/hook'], /unspecified address/],
      [['https://127.0.0.2/hook'], /loopback address/],
      [['https://[::1]/hook'], /loopback address/],
      [['ftp://8.8.8.8/hook'], /must be https/],
      [['https://user:pw@8.8.8.8/hook'], /user name or password/],
      [['not a url'], /not a URL/],
    ];
    for (const [args, message] of refused) {
      const r = await runCli(['--db', db, 'webhook', 'add', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect((await rawSql(db, 'SELECT count(*) AS n FROM webhooks')).map((r) => Number(r.n))).toEqual([0]);
    for (const args of [
      ['http://127.0.0.1:9/hook'],
      ['http://localhost:9/hook'],
      ['https://8.8.8.8/hook'],
      ['https://[2001:4860:4860::8888]/hook'],
      ['http://10.1.2.3/hook', '--allow-http', '--allow-private'],
      ['https://169.254.169.254/x', '--allow-private'],
    ]) {
      const r = await runCli(['--db', db, 'webhook', 'add', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });

  it('checks again at delivery time, on what the name resolves to then (DNS rebinding), and connects to the address checked', async () => {
    const url = new URL('https://hooks.example.test/consent');
    const rules = { allowHttp: false, allowPrivate: false };
    await expect(resolveTarget(url, rules, async () => [{ address: '93.184.216.34', family: 4 }])).resolves.toEqual({ address: '93.184.216.34', family: 4 });
    // One private address among several refuses the name.
    await expect(resolveTarget(url, rules, async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }])).rejects.toThrow(/private/);
    await expect(resolveTarget(url, { ...rules, allowPrivate: true }, async () => [{ address: '10.0.0.7', family: 4 }])).resolves.toMatchObject({ address: '10.0.0.7' });

    // A webhook whose name now resolves to a loopback address: never posted to (a receiver there sees nothing).
    const rx = await receiver();
    const port = new URL(rx.url).port;
    const r = await send({ url: `http://rebind.example.test:${port}/hook`, secret: 's', body: '{}', rules: { allowHttp: true, allowPrivate: false }, unixSeconds: 1, lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
    expect(r).toMatchObject({ ok: false, status: null, error: expect.stringMatching(/loopback address/) });
    // The same with --allow-private: posted, to the address checked, with the URL's Host.
    const r2 = await send({ url: `http://rebind.example.test:${port}/hook`, secret: 's', body: '{}', rules: { allowHttp: true, allowPrivate: true }, unixSeconds: 1, lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
    expect(r2).toMatchObject({ ok: true, status: 200 });
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.headers.host).toBe(`rebind.example.test:${port}`);

    // Through the deliverer: the delivery is not sent and waits for a retry, saying why.
    const db = await tempStore('sqlite');
    await ok(db, ['profile', 'add', '--email', 'ann@example.com']);
    const store = await openStore(db, {});
    try {
      await store.webhooks.add({ url: `http://rebind.example.test:${port}/hook`, events: null, channels: null, secret: 'x'.repeat(20), allowHttp: true, allowPrivate: false, fromStart: false }, FIXED_NOW.toISOString());
      await store.applyConsent([{ profileId: 1, wanted: { email: true } }], { source: 'operator', actor: 'op', occurredAt: FIXED_NOW.toISOString() });
      const lines: string[] = [];
      const d = new Deliverer({ store, now: () => FIXED_NOW, settings: webhookSettings({}), log: (l) => lines.push(l), lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
      expect(await d.pass()).toMatchObject({ fannedOut: 1, delivered: 0, retrying: 1 });
      expect(lines.join('\n')).toMatch(/rebind\.example\.test resolves to 127\.0\.0\.1, a loopback address; retry at/);
      expect(rx.received).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});
