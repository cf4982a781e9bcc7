/**
 * The check API (issue 17: `landing serve --api`) over real HTTP on both
 * stores: API keys (valid, wrong, missing, revoked: refused within 5 s),
 * the single and batch checks (order, unknown addresses, suppression,
 * opt-out reasons, a service), bad requests naming the field, no CORS, and
 * neither key nor address in the log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LandingStore } from '../src/landing/repository.js';
import { startServer, type RunningServer } from '../src/landing/server.js';
import { openStore } from '../src/store/index.js';
import { BACKENDS, runCli, runJson, tempStore } from './helpers/run-cli.js';

const open: { server: RunningServer; store: LandingStore }[] = [];
afterEach(async () => {
  while (open.length) {
    const o = open.pop()!;
    await o.server.close();
    await o.store.close();
  }
});

async function ok(db: string, ...argv: string[]) {
  const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' } });
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** ann (opted out of email, then of all), bob (email suppressed), cy (subscribed to news), and the server with the API. */
async function fixture(backend: (typeof BACKENDS)[number], api = true) {
  const db = await tempStore(backend);
  await ok(db, 'profile', 'add', '--email', 'ann@x.io', '--phone', '+33611111111');
  await ok(db, 'profile', 'add', '--email', 'bob@x.io');
  await ok(db, 'profile', 'add', '--email', 'cy@x.io', '--phone', '+33622222222');
  await ok(db, 'profile', 'optout', 'ann@x.io', '--channel', 'email', '--reason', 'r1');
  await ok(db, 'profile', 'optout', 'ann@x.io', '--channel', 'all', '--reason', 'r2');
  await ok(db, 'suppression', 'add', 'bob@x.io', 'gone@x.io', '--reason', 'hard-bounce');
  await ok(db, 'service', 'create', 'news', '--label', 'News');
  await ok(db, 'profile', 'subscribe', 'cy@x.io', 'news');
  await ok(db, 'profile', 'add', '--email', 'dee@x.io');
  await ok(db, 'profile', 'erase', 'dee@x.io', '--reason', 'asked', '--yes'); // her address: a keyed-only erasure entry
  const key = (await ok(db, 'api-key', 'create', '--name', 'mailer')).trim();
  const store = (await openStore(db)) as LandingStore;
  const logs: string[] = [];
  const server = await startServer({ store, host: '127.0.0.1', port: 0, baseUrl: '', env: {}, now: () => new Date(), log: (l) => logs.push(l), api });
  open.push({ server, store });
  const get = (query: string, auth: string | null = key) =>
    fetch(`${server.url}/api/v1/reachable?${query}`, { headers: auth === null ? {} : { authorization: `Bearer ${auth}` } });
  const post = (body: unknown, auth: string | null = key) =>
    fetch(`${server.url}/api/v1/reachable`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth === null ? {} : { authorization: `Bearer ${auth}` }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { db, key, server, logs, get, post };
}

describe.each(BACKENDS)('the check API on %s', (backend) => {
  it('answers a valid key; a wrong, a missing and a revoked key get a bare 401 (the revoked one within 5 s)', async () => {
    const f = await fixture(backend);
    const good = await f.get('email=bob@x.io&channel=email');
    expect(good.status).toBe(200);
    for (const auth of [null, 'ck_wrongwrongwrongwrongwrongwrongwrongwrongwro', f.key.slice(0, -1)]) {
      const r = await f.get('email=bob@x.io&channel=email', auth);
      expect(r.status).toBe(401);
      expect(await r.text()).toBe('');
      expect(r.headers.get('set-cookie')).toBeNull();
    }
    // Basic, or the key as a cookie: not accepted.
    const cookie = await fetch(`${f.server.url}/api/v1/reachable?email=bob@x.io&channel=email`, { headers: { cookie: `key=${f.key}` } });
    expect(cookie.status).toBe(401);

    const keys = await runJson(f.db, ['api-key', 'list', '--json']);
    expect(keys).toEqual([{ id: 1, name: 'mailer', status: 'active', createdAt: expect.any(String), revokedAt: null }]);
    expect(JSON.stringify(keys)).not.toContain(f.key);
    expect((await runCli(['--db', f.db, 'api-key', 'create', '--name', 'mailer'])).code).toBe(4); // a key in force has that name
    expect((await runCli(['--db', f.db, 'api-key', 'revoke', 'nosuch'])).code).toBe(3);
    await ok(f.db, 'api-key', 'revoke', 'mailer');
    const revoked = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revoked < 7_000) {
      status = (await f.get('email=bob@x.io&channel=email')).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(401);
    expect(Date.now() - revoked).toBeLessThan(5_500);
    // The log names neither the key nor an address.
    expect(f.logs.join('\n')).not.toContain(f.key);
    expect(f.logs.join('\n')).not.toMatch(/@|bob/);
  });

  it('checks one address (opt-outs with since and source, suppression, unknown, a service, by profile and phone)', async () => {
    const f = await fixture(backend);
    const json = async (q: string) => {
      const r = await f.get(q);
      expect(r.status, q).toBe(200);
      return (await r.json()) as any;
    };
    expect(await json('email=ANN@x.io&channel=email')).toEqual({
      reachable: false,
      reasons: [
        { kind: 'optout', channel: 'all', since: expect.any(String), source: 'operator' },
        { kind: 'optout', channel: 'email', since: expect.any(String), source: 'operator' },
      ],
    });
    expect(await json('email=bob@x.io&channel=email')).toEqual({
      reachable: false,
      reasons: [{ kind: 'suppressed', channel: 'email', since: expect.any(String), source: 'operator' }],
    });
    expect(await json('email=bob@x.io&channel=postal')).toEqual({ reachable: true, reasons: [] });
    expect(await json('email=new@x.io&channel=email')).toEqual({ reachable: true, reasons: [{ kind: 'unknown-profile', channel: 'email', since: null, source: null }] });
    expect((await json('email=gone@x.io&channel=email')).reachable).toBe(false); // unknown but suppressed
    expect(await json('email=dee@x.io&channel=email')).toEqual({
      reachable: false,
      reasons: [
        { kind: 'unknown-profile', channel: 'email', since: null, source: null },
        { kind: 'suppressed', channel: 'email', since: expect.any(String), source: 'operator' },
      ],
    });
    expect((await json('profile=4&channel=postal')).reasons).toEqual([{ kind: 'erased', channel: 'all', since: expect.any(String), source: null }]);
    expect(await json('profile=3&channel=email&service=news')).toEqual({ reachable: true, reasons: [] });
    expect(await json('profile=2&channel=email&service=news')).toEqual({
      reachable: false,
      reasons: [
        { kind: 'suppressed', channel: 'email', since: expect.any(String), source: 'operator' },
        { kind: 'not-subscribed', channel: 'email', since: null, source: null },
      ],
    });
    expect((await json('phone=%2B33611111111&channel=sms')).reasons.map((r: { kind: string }) => r.kind)).toEqual(['optout']);
    expect((await json('phone=%2B33622222222&channel=sms')).reachable).toBe(true);

    for (const [q, field] of [
      ['email=nope&channel=email', 'email'],
      ['email=a@x.io&channel=carrier-pigeon', 'channel'],
      ['email=a@x.io&profile=1&channel=email', 'email, phone or profile'],
      ['email=a@x.io&channel=email&service=nosuch', 'service'],
    ]) {
      const r = await f.get(q!);
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as any).error, q).toMatch(new RegExp(`^${field}`));
    }
  });

  it('checks a batch in order (known, unknown, suppressed, opted out); refuses bad JSON, over 1,000, a bad address by index; no CORS', async () => {
    const f = await fixture(backend);
    const emails = ['cy@x.io', 'new@x.io', 'bob@x.io', 'ann@x.io', 'gone@x.io', 'CY@x.io', 'dee@x.io'];
    const r = await f.post({ channel: 'email', emails });
    expect(r.status).toBe(200);
    const { results } = (await r.json()) as any;
    expect(results.map((x: { email: string; reachable: boolean; reasons: { kind: string }[] }) => [x.email, x.reachable, x.reasons.map((y) => y.kind)])).toEqual([
      ['cy@x.io', true, []],
      ['new@x.io', true, ['unknown-profile']],
      ['bob@x.io', false, ['suppressed']],
      ['ann@x.io', false, ['optout', 'optout']],
      ['gone@x.io', false, ['unknown-profile', 'suppressed']],
      ['CY@x.io', true, []],
      ['dee@x.io', false, ['unknown-profile', 'suppressed']], // erased: found by its keyed hash
    ]);
    const phones = (await (await f.post({ channel: 'sms', phones: ['+33611111111', '+33622222222', '+33633333333'] })).json()) as any;
    expect(phones.results.map((x: { phone: string; reachable: boolean }) => [x.phone, x.reachable])).toEqual([
      ['+33611111111', false],
      ['+33622222222', true],
      ['+33633333333', true],
    ]);
    const big = Array.from({ length: 1000 }, (_, i) => `p${i}@x.io`);
    expect((await f.post({ channel: 'email', emails: big })).status).toBe(200);
    for (const [body, field] of [
      ['{"channel": "email", "emails": [', 'body'],
      [{ channel: 'email', emails: [...big, 'one@x.io'] }, 'emails'],
      [{ channel: 'email', emails: ['a@x.io', 'not an address'] }, 'emails\\[1\\]'],
      [{ channel: 'email' }, 'emails or phones'],
      [{ channel: 'fax2', emails: [] }, 'channel'],
    ] as const) {
      const res = await f.post(body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(((await res.json()) as any).error).toMatch(new RegExp(`^${field}`));
    }
    const preflight = await fetch(`${f.server.url}/api/v1/reachable`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', authorization: `Bearer ${f.key}` },
    });
    expect(preflight.status).toBe(405);
    expect([...preflight.headers.keys()].filter((h) => h.startsWith('access-control'))).toEqual([]);
    expect([...r.headers.keys()].filter((h) => h.startsWith('access-control'))).toEqual([]);
  });

  it('is not served without --api', async () => {
    const f = await fixture(backend, false);
    expect((await f.get('email=bob@x.io&channel=email')).status).toBe(404);
  });
});
