/**
 * Several `landing serve` processes (the built binary) on one PostgreSQL
 * database, and that database going away (issue 11).
 */
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEYRING_TTL_MS, PAGE_TTL_MS } from '../src/landing/server.js';
import { QUERY_TIMEOUT_MS } from '../src/store/postgres/connection.js';
import { pgAdminQuery, withDatabase } from './helpers/pg.js';
import { runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';
import { serve, type Instance } from './helpers/serve-binary.js';

const ONE_CLICK = () => new URLSearchParams({ 'List-Unsubscribe': 'One-Click' });

async function stop(s: Instance): Promise<number> {
  s.child.kill('SIGTERM');
  expect(await s.exit).toEqual({ code: 0, signal: null });
  const m = /Stopped\. (\d+) changes? committed/.exec(s.stderr());
  expect(m, s.stderr()).not.toBeNull();
  return Number(m![1]);
}

interface Links {
  email: string;
  url: string;
  oneClickUrl: string;
  token: string;
}

/** A store with `n` people (p0…), a blocklist page `stop` and an acquisition page `prefs` (email, sms, postal), both published. */
async function setup(n: number) {
  const db = await tempStore('postgres');
  const dir = tempDir();
  const cli = async (...argv: string[]) => {
    const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' } });
    expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const csv = join(dir, 'people.csv');
  writeFileSync(csv, 'email,first_name\n' + Array.from({ length: n }, (_, i) => `p${i}@example.com,P${i}`).join('\n') + '\n');
  await cli('profile', 'import', csv);
  await cli('landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop');
  await cli('landing', 'create', 'prefs', '--type', 'acquisition', '--title', 'Prefs', '--channels', 'email,sms,postal');
  await cli('landing', 'publish', 'stop', '--out-dir', join(dir, 'public'));
  await cli('landing', 'publish', 'prefs', '--out-dir', join(dir, 'public'));
  const links = async (slug: string): Promise<Links[]> =>
    (await cli('landing', 'links', slug, '--format', 'jsonl', '--threads', '0'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .map((l) => ({ ...l, token: new URL(l.url, 'http://x').searchParams.get('t')! }));
  const events = async () => {
    const v = await runJson(db, ['ledger', 'verify', '--json']);
    expect(v.ok, JSON.stringify(v)).toBe(true);
    return v.events as number;
  };
  return { db, dir, cli, links, events };
}

const post = (url: string, body: URLSearchParams) => fetch(url, { method: 'POST', body });
const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('two landing servers on one PostgreSQL database', () => {
  it('a person is served by either: a change through one is seen by the next GET on the other; pages, forms, one-click and confirmations work on both', async () => {
    const s = await setup(3);
    await s.cli('service', 'create', 'news', '--label', 'News', '--double-opt-in');
    await s.cli('profile', 'subscribe', 'p2@example.com', 'news');
    const [a, b] = await Promise.all([serve(s.db), serve(s.db)]);
    const prefs = await s.links('prefs');
    const stopLinks = await s.links('stop');
    const p0 = prefs.find((l) => l.email === 'p0@example.com')!;

    for (const inst of [a, b]) {
      expect((await fetch(`${inst.url}/prefs`)).status).toBe(200);
      const page = await (await fetch(`${inst.url}${p0.url}`)).text();
      expect(page).toMatch(/data-channel="sms" checked>/);
    }
    // Untick sms through A; B's very next GET shows it unticked (no cache of profiles).
    expect((await post(`${a.url}/prefs`, new URLSearchParams({ t: p0.token, v: '1', 'channel-email': 'on', 'channel-postal': 'on' }))).status).toBe(200);
    expect(await (await fetch(`${b.url}${p0.url}`)).text()).toMatch(/data-channel="sms">/);
    // And back through B, seen by A at once.
    expect((await post(`${b.url}/prefs`, new URLSearchParams({ t: p0.token, v: '1', 'channel-email': 'on', 'channel-sms': 'on', 'channel-postal': 'on' }))).status).toBe(200);
    expect(await (await fetch(`${a.url}${p0.url}`)).text()).toMatch(/data-channel="sms" checked>/);

    // One-click through B; A's next GET of the acquisition page shows "no longer contact".
    const p1stop = stopLinks.find((l) => l.email === 'p1@example.com')!;
    const p1prefs = prefs.find((l) => l.email === 'p1@example.com')!;
    expect((await post(`${b.url}${p1stop.oneClickUrl}`, ONE_CLICK())).status).toBe(200);
    expect(await (await fetch(`${a.url}${p1prefs.url}`)).text()).toMatch(/name="channel-all" value="on" data-channel="all" checked>/);
    // Repeated through A: 200, nothing recorded.
    const before = await s.events();
    expect((await post(`${a.url}${p1stop.oneClickUrl}`, ONE_CLICK())).status).toBe(200);
    expect(await s.events()).toBe(before);

    // A confirmation link: its page on A, its POST on B, the confirmed state seen by A.
    const confirmations = (await s.cli('service', 'confirmations', 'news')).trim().split('\n');
    const confirmUrl = confirmations[1]!.split(',').at(-1)!;
    expect((await fetch(`${a.url}${confirmUrl}`)).status).toBe(200);
    expect((await post(`${b.url}${confirmUrl}`, new URLSearchParams())).status).toBe(200);
    const show = await runJson(s.db, ['profile', 'show', 'p2@example.com', '--json']);
    expect(JSON.stringify(show)).toMatch(/"news".*"subscribed"|"subscribed".*"news"/);
    expect((await post(`${a.url}${confirmUrl}`, new URLSearchParams())).status).toBe(200); // again: nothing new
    await stop(a);
    await stop(b);
  });

  it('a few hundred concurrent one-click POSTs and forms spread over both: every 2xx, each real change exactly one ledger event, the chain whole', async () => {
    const N = 40;
    const s = await setup(N);
    const [a, b] = await Promise.all([serve(s.db), serve(s.db)]);
    const stopLinks = await s.links('stop');
    const prefs = await s.links('prefs');
    const before = await s.events();

    // p0..p29: one-click (1 change each: all), 5 times each; p10..p39: the form with email only (2 changes: sms, postal), 4 times each.
    // p10..p29 get both (3 changes). The same people on both servers at once.
    const requests: (() => Promise<Response>)[] = [];
    for (let rep = 0; rep < 5; rep++) for (let i = 0; i < 30; i++) requests.push(() => post(`${[a, b][(i + rep) % 2]!.url}${stopLinks[i]!.oneClickUrl}`, ONE_CLICK()));
    for (let rep = 0; rep < 4; rep++)
      for (let i = 10; i < N; i++) requests.push(() => post(`${[a, b][(i + rep + 1) % 2]!.url}/prefs`, new URLSearchParams({ t: prefs[i]!.token, v: '1', 'channel-email': 'on' })));
    requests.sort(() => Math.random() - 0.5);
    expect(requests.length).toBe(270);
    const statuses = await Promise.all(requests.map((r) => r().then((x) => x.status)));
    expect(statuses.filter((x) => x !== 200)).toEqual([]);

    const expected = 30 * 1 + 30 * 2;
    expect((await s.events()) - before).toBe(expected);
    const changes = (await stop(a)) + (await stop(b));
    expect(changes).toBe(expected); // what the servers counted as changed, exactly what the ledger holds
    for (let i = 0; i < N; i++) {
      const p = await runJson(s.db, ['profile', 'show', `p${i}@example.com`, '--json']);
      expect(p.optOut.all).toBe(i < 30);
      expect([p.optOut.sms, p.optOut.postal, p.optOut.email]).toEqual(i >= 10 ? [true, true, false] : [false, false, false]);
    }
  });

  it('kill -9 of one instance under load: every change it answered 2xx is in the database; the other keeps serving', async () => {
    const N = 160;
    const s = await setup(N);
    const [a, b] = await Promise.all([serve(s.db), serve(s.db)]);
    const stopLinks = await s.links('stop');
    const answeredByA: number[] = [];
    const answeredByB: number[] = [];
    let killed = false;
    const sendA = async (i: number) => {
      try {
        const r = await post(`${a.url}${stopLinks[i]!.oneClickUrl}`, ONE_CLICK());
        if (r.status === 200) answeredByA.push(i);
      } catch {
        // the connection died with the process: no answer, no promise
      }
    };
    const sendB = async (i: number) => {
      const r = await post(`${b.url}${stopLinks[i]!.oneClickUrl}`, ONE_CLICK());
      expect(r.status).toBe(200);
      answeredByB.push(i);
    };
    // A gets p0..p79 in waves of 8, B p80..p159; A is killed mid-way.
    const loadA = (async () => {
      for (let i = 0; i < 80 && !killed; i += 8) await Promise.all(Array.from({ length: 8 }, (_, k) => sendA(i + k)));
    })();
    const loadB = (async () => {
      for (let i = 80; i < 160; i += 8) await Promise.all(Array.from({ length: 8 }, (_, k) => sendB(i + k)));
    })();
    while (answeredByA.length < 16) await new Promise((r) => setTimeout(r, 5));
    a.child.kill('SIGKILL');
    killed = true;
    expect(await a.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all([loadA, loadB]);
    expect(answeredByB.length).toBe(80);
    expect((await fetch(`${b.url}/stop`)).status).toBe(200);

    const optedOut = new Set(
      (await s.cli('profile', 'export', '--opted-out', 'all', '--format', 'jsonl')).trim().split('\n').map((l) => JSON.parse(l).email as string),
    );
    for (const i of [...answeredByA, ...answeredByB]) expect(optedOut.has(`p${i}@example.com`), `p${i}`).toBe(true);
    expect(await s.events()).toBe(optedOut.size); // the chain whole, one event per opted-out person
    await stop(b);
  });

  it(`keys rotate / retire reach every instance within ${KEYRING_TTL_MS / 1000} s, landing publish within ${PAGE_TTL_MS / 1000} s`, async () => {
    const s = await setup(1);
    const [a, b] = await Promise.all([serve(s.db), serve(s.db)]);
    const [old] = await s.links('stop');
    for (const inst of [a, b]) expect((await fetch(`${inst.url}${old!.url}`)).status).toBe(200);

    /** Polls both instances until `ok` holds on each; returns the time it took (ms). */
    const within = async (path: string, ok: (status: number, body: string) => boolean, limitMs: number) => {
      const t0 = Date.now();
      for (const inst of [a, b]) {
        for (;;) {
          const r = await fetch(`${inst.url}${path}`);
          if (ok(r.status, await r.text())) break;
          expect(Date.now() - t0, `${inst.url}${path}`).toBeLessThan(limitMs);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return Date.now() - t0;
    };

    await s.cli('keys', 'rotate');
    const [fresh] = await s.links('stop');
    expect(fresh!.token).not.toBe(old!.token);
    await within(fresh!.url, (status) => status === 200, KEYRING_TTL_MS + 1500);

    const keys = await runJson(s.db, ['keys', 'list', '--json']);
    const oldId = (keys as { id: number }[]).map((k) => k.id).sort((x, y) => x - y)[0]!;
    await s.cli('keys', 'retire', String(oldId), '--yes');
    await within(old!.url, (status) => status === 410, KEYRING_TTL_MS + 1500);
    expect((await fetch(`${a.url}${fresh!.url}`)).status).toBe(200);

    await s.cli('landing', 'edit', 'prefs', '--title', 'Prefs two');
    await s.cli('landing', 'publish', 'prefs', '--out-dir', join(s.dir, 'public'));
    await within('/prefs', (status, body) => status === 200 && body.includes('Prefs two'), PAGE_TTL_MS + 1500);
    await stop(a);
    await stop(b);
  });
});

describe('landing serve while the PostgreSQL database is away', () => {
  it('answers 503 with Retry-After (no hang, no stack trace, nothing half-written) and recovers by itself when the database is back', async () => {
    const s = await setup(4);
    const inst = await serve(s.db);
    const stopLinks = await s.links('stop');
    const prefs = await s.links('prefs');
    expect((await fetch(`${inst.url}${prefs[0]!.url}`)).status).toBe(200);
    expect((await post(`${inst.url}${stopLinks[0]!.oneClickUrl}`, ONE_CLICK())).status).toBe(200);

    const dbName = new URL(s.db).pathname.slice(1);
    // Every connection of the server ended, and new ones refused: the database is away.
    const admin = withDatabase(s.db, 'postgres');
    await pgAdminQuery(admin, `ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
    await pgAdminQuery(admin, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
    try {
      const attempts = [
        () => fetch(`${inst.url}${prefs[1]!.url}`),
        () => post(`${inst.url}${stopLinks[1]!.oneClickUrl}`, ONE_CLICK()),
        () => post(`${inst.url}/prefs`, new URLSearchParams({ t: prefs[2]!.token, v: '1', 'channel-email': 'on' })),
        () => post(`${inst.url}/stop`, new URLSearchParams({ email: 'p3@example.com' })),
      ];
      for (const attempt of attempts) {
        const t0 = Date.now();
        const r = await attempt();
        expect(Date.now() - t0).toBeLessThan(8000); // the connection timeout, not a hang
        expect(r.status).toBe(503);
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
        const body = await r.text();
        expect(body).toContain('Please try again');
        noStackTrace(body);
      }
    } finally {
      await pgAdminQuery(admin, `ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
    }
    // Back: the same process serves again, and what it refused was not written.
    expect((await fetch(`${inst.url}${prefs[1]!.url}`)).status).toBe(200);
    expect((await post(`${inst.url}${stopLinks[1]!.oneClickUrl}`, ONE_CLICK())).status).toBe(200);
    const p2 = await runJson(s.db, ['profile', 'show', 'p2@example.com', '--json']);
    expect(p2.optOut.sms).toBe(false);
    const p1 = await runJson(s.db, ['profile', 'show', 'p1@example.com', '--json']);
    expect(p1.optOut.all).toBe(true);
    expect(await s.events()).toBe(2);
    noStackTrace(inst.stderr());
    expect(inst.stderr()).not.toContain('password');
    await stop(inst);
  });

  it('the server itself gone (its port stops listening, its connections cut): 503 with Retry-After within the connection timeout, and back by itself when it listens again', async () => {
    const s = await setup(3);
    // A TCP relay in front of the database server: closing it is the server going away for `landing serve`.
    const target = new URL(s.db);
    const sockets = new Set<Socket>();
    let relay: Server | null = null;
    const listen = (port: number) =>
      new Promise<number>((resolve) => {
        relay = createServer((client) => {
          const upstream = connect(Number(target.port), target.hostname);
          for (const x of [client, upstream]) {
            sockets.add(x);
            x.on('error', () => {});
            x.on('close', () => sockets.delete(x));
          }
          client.pipe(upstream).pipe(client);
        });
        relay.listen(port, '127.0.0.1', () => resolve((relay!.address() as { port: number }).port));
      });
    const close = () =>
      new Promise<void>((resolve) => {
        relay!.close(() => resolve());
        for (const x of sockets) x.destroy();
      });
    const port = await listen(0);
    const viaRelay = new URL(s.db);
    viaRelay.port = String(port);
    const inst = await serve(viaRelay.toString());
    const stopLinks = await s.links('stop');
    const prefs = await s.links('prefs');
    expect((await fetch(`${inst.url}${prefs[0]!.url}`)).status).toBe(200);

    await close();
    try {
      for (const attempt of [() => fetch(`${inst.url}${prefs[1]!.url}`), () => post(`${inst.url}${stopLinks[1]!.oneClickUrl}`, ONE_CLICK())]) {
        const t0 = Date.now();
        const r = await attempt();
        expect(Date.now() - t0).toBeLessThan(8000);
        expect(r.status).toBe(503);
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
        noStackTrace(await r.text());
      }
    } finally {
      await listen(port);
    }
    expect((await fetch(`${inst.url}${prefs[1]!.url}`)).status).toBe(200);
    expect((await post(`${inst.url}${stopLinks[1]!.oneClickUrl}`, ONE_CLICK())).status).toBe(200);
    expect(await s.events()).toBe(1);
    noStackTrace(inst.stderr());
    await stop(inst);
    await close();
  });

  it('the network to the database silent (packets dropped, no reset): 503 with Retry-After, not a hang, and back when it flows again', async () => {
    const s = await setup(3);
    const target = new URL(s.db);
    let silent = false;
    const relay = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const x of [client, upstream]) x.on('error', () => {});
      client.on('data', (d) => { if (!silent) upstream.write(d); });
      upstream.on('data', (d) => { if (!silent) client.write(d); });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const viaRelay = new URL(s.db);
    viaRelay.port = String((relay.address() as { port: number }).port);
    const inst = await serve(viaRelay.toString());
    const stopLinks = await s.links('stop');
    const prefs = await s.links('prefs');
    expect((await fetch(`${inst.url}${prefs[0]!.url}`)).status).toBe(200);

    silent = true;
    try {
      // Both on connections already open (the pool's): no reset ever comes, only QUERY_TIMEOUT_MS ends the wait.
      const t0 = Date.now();
      const answers = await Promise.all([fetch(`${inst.url}${prefs[1]!.url}`), post(`${inst.url}${stopLinks[1]!.oneClickUrl}`, ONE_CLICK())]);
      expect(Date.now() - t0).toBeLessThan(QUERY_TIMEOUT_MS + 10_000);
      for (const r of answers) {
        expect(r.status).toBe(503);
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
        noStackTrace(await r.text());
      }
    } finally {
      silent = false;
    }
    expect((await fetch(`${inst.url}${prefs[1]!.url}`)).status).toBe(200);
    expect((await post(`${inst.url}${stopLinks[1]!.oneClickUrl}`, ONE_CLICK())).status).toBe(200);
    noStackTrace(inst.stderr());
    await stop(inst);
    await new Promise((r) => relay.close(r));
  }, QUERY_TIMEOUT_MS + 60_000);
});
