import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/landing/server.js';
import { openStore } from '../src/store/index.js';
import { STORE_TABLES } from '../src/store/rows.js';
import { bigCsv, BIN, consent, ROWS } from './helpers/import-kill.js';
import { rawSql, tamper } from './helpers/raw-store.js';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

const servers: { server: RunningServer; close: () => Promise<void> }[] = [];
afterEach(async () => {
  while (servers.length) {
    const s = servers.pop()!;
    await s.server.close();
    await s.close();
  }
});

/** `landing serve` on `db` (in-process, real HTTP on 127.0.0.1). */
async function serve(db: string): Promise<string> {
  const store = await openStore(db);
  const server = await startServer({ store, host: '127.0.0.1', port: 0, baseUrl: '', env: {}, now: () => new Date('2026-06-01T10:00:00.000Z'), log: () => {} });
  servers.push({ server, close: () => store.close() });
  return server.url;
}

const cli = async (db: string, ...argv: string[]) => {
  const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' } });
  if (r.code !== 0) throw new Error(`consent ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};

/** A store with everything a store holds: profiles, flags, services, subscriptions, pages and versions, keys (one retired), the salt. */
async function richStore(db: string): Promise<{ link: { url: string; oneClickUrl: string } }> {
  const dir = tempDir();
  await cli(db, 'profile', 'add', '--email', 'ann@example.com', '--first-name', 'Ann', '--last-name', "O'Hara, Jr", '--phone', '+33612345678');
  await cli(db, 'profile', 'add', '--email', 'bob@example.com', '--first-name', 'Bob\tTab');
  await cli(db, 'profile', 'add', '--email', 'cy@example.com');
  await cli(db, 'profile', 'optout', 'ann@example.com', '--channel', 'sms,fax', '--reason', 'asked by phone\nline two');
  await cli(db, 'profile', 'optout', 'cy@example.com', '--channel', 'all');
  await cli(db, 'service', 'create', 'news', '--label', 'Weekly news', '--description', 'back\\slash');
  await cli(db, 'service', 'create', 'offers', '--label', 'Offers', '--channel', 'sms', '--double-opt-in');
  await cli(db, 'profile', 'subscribe', 'bob@example.com', 'news');
  await cli(db, 'profile', 'subscribe', 'bob@example.com', 'offers');
  await cli(db, 'profile', 'subscribe', 'ann@example.com', 'news');
  await cli(db, 'profile', 'unsubscribe', 'ann@example.com', 'news');
  await cli(db, 'landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop');
  await cli(db, 'landing', 'publish', 'stop', '--out-dir', join(dir, 'public'));
  await cli(db, 'landing', 'create', 'prefs', '--type', 'acquisition', '--title', 'Prefs', '--channels', 'email,sms');
  await cli(db, 'landing', 'publish', 'prefs', '--out-dir', join(dir, 'public'));
  await cli(db, 'keys', 'rotate');
  await cli(db, 'keys', 'retire', '1', '--yes');
  await cli(db, 'keys', 'rotate');
  const link = await runJson(db, ['landing', 'link', 'stop', '--profile', 'bob@example.com', '--json']);
  // The server makes the client-address salt (a setting) and records a one-click through a link of key 3.
  const url = await serve(db);
  const ann = await runJson(db, ['landing', 'link', 'stop', '--profile', 'ann@example.com', '--json']);
  const r = await fetch(`${url}${ann.oneClickUrl}`, { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) });
  expect(r.status).toBe(200);
  await servers.pop()!.server.close();
  return { link };
}

/** What a user sees of a store, through the commands. */
async function view(db: string) {
  const out: Record<string, string> = {};
  out.export = await cli(db, 'profile', 'export');
  for (const p of ['ann@example.com', 'bob@example.com', 'cy@example.com']) {
    out[`history ${p}`] = await cli(db, 'profile', 'history', p, '--json');
    out[`show ${p}`] = await cli(db, 'profile', 'show', p, '--json');
  }
  out.landing = await cli(db, 'landing', 'show', 'stop', '--json');
  out.prefs = await cli(db, 'landing', 'show', 'prefs', '--json');
  out.keys = await cli(db, 'keys', 'list', '--json');
  out.services = await cli(db, 'service', 'list', '--json');
  out.settings = JSON.stringify(await rawSql(db, 'SELECT key, value FROM settings ORDER BY key'));
  return out;
}

const head = async (db: string) => {
  const v = await runJson(db, ['ledger', 'verify', '--json']);
  expect(v.ok).toBe(true);
  return v.head as string;
};

describe('store copy <from> <to>', () => {
  it('both schemas have exactly the tables and columns of the shared table list', async () => {
    const sqlite = join(tempDir(), 's.db');
    const pg = await tempStore('postgres');
    await cli(sqlite, 'store', 'init');
    await cli(pg, 'store', 'init');
    const expected = Object.fromEntries(STORE_TABLES.map((t) => [t.name, [...t.columns].sort()]));
    const d = new Database(sqlite, { readonly: true });
    const sqliteTables = Object.fromEntries(
      (d.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[]).map((t) => [
        t,
        (d.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name).sort(),
      ]),
    );
    d.close();
    expect(sqliteTables).toEqual(expected);
    const rows = await rawSql(pg, "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migrations'");
    const pgTables: Record<string, string[]> = {};
    for (const r of rows) (pgTables[r.t] ??= []).push(r.c);
    for (const t of Object.keys(pgTables)) pgTables[t]!.sort();
    expect(pgTables).toEqual(expected);
  });

  it('round trip SQLite → PostgreSQL → SQLite: same ledger head, same exports, histories, pages, keys, settings; old links still verify', async () => {
    const a = join(tempDir(), 'a.db');
    const { link } = await richStore(a);
    // A soft bounce recorded (feedback_reports, soft_bounces): the copies know the report.
    const bounce = join(import.meta.dirname, '..', 'fixtures', 'feedback', 'exim-soft-bounce-4.2.2.eml');
    expect((await runJson(a, ['feedback', 'ingest', bounce, '--json'])).softBounces).toBe(1);
    const before = await view(a);
    const headA = await head(a);

    const pg = await tempStore('postgres');
    await cli(pg, 'store', 'init'); // a store just made is empty: its own first key is replaced
    const there = await runCli(['store', 'copy', a, pg, '--json']);
    expect(there.code).toBe(0);
    const summary = JSON.parse(there.stdout);
    expect(summary).toEqual({ from: a, to: pg, profiles: 3, events: expect.any(Number), blocks: expect.any(Number), head: headA });
    expect(summary.events).toBeGreaterThanOrEqual(8);
    expect(await head(pg)).toBe(headA);
    expect(await view(pg)).toEqual(before);
    // The copy leaves the planner's statistics of the filled tables behind (ANALYZE), not empty-table plans until autovacuum passes.
    expect(await rawSql(pg, "SELECT relname FROM pg_stat_user_tables WHERE relname IN ('profiles', 'ledger_events') AND last_analyze IS NOT NULL ORDER BY relname")).toEqual([
      { relname: 'ledger_events' },
      { relname: 'profiles' },
    ]);

    const b = join(tempDir(), 'b.db');
    const back = await runCli(['store', 'copy', pg, b, '--json']);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ from: pg, to: b, profiles: 3, head: headA });
    expect(await head(b)).toBe(headA);
    expect(await view(b)).toEqual(before);
    for (const db of [pg, b]) expect(await runJson(db, ['feedback', 'ingest', bounce, '--json'])).toMatchObject({ softBounces: 0, alreadyIngested: 1 });
    expect(await rawSql(b, 'SELECT report_key, bounced_at FROM soft_bounces')).toEqual(await rawSql(a, 'SELECT report_key, bounced_at FROM soft_bounces'));

    // A link signed before the copy still opens its page on the copies (same keys); a forged one does not.
    for (const db of [pg, b]) {
      const url = await serve(db);
      const ok = await fetch(`${url}${link.url}`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('Stop');
      const forged = link.url.replace(/t=([\w-])/, (_m, c: string) => `t=${c === 'A' ? 'B' : 'A'}`);
      expect((await fetch(`${url}${forged}`)).status).toBeGreaterThanOrEqual(400);
    }

    // Ids generated after the copy follow the copied ones (PostgreSQL: sequences advanced past them).
    const added = await runJson(pg, ['profile', 'add', '--email', 'dee@example.com', '--json']);
    expect(added.id).toBe(4);
    await cli(pg, 'service', 'create', 'third', '--label', 'Third');
    expect(await rawSql(pg, "SELECT id FROM services WHERE name = 'third'")).toEqual([{ id: 3 }]);
    expect((await runJson(pg, ['keys', 'rotate', '--json'])).id).toBe(4);
    expect((await runJson(pg, ['ledger', 'verify', '--json'])).ok).toBe(true);
  }, 60_000);

  it.each(BACKENDS)('a non-empty %s target is refused (exit 4, naming it) and left untouched', async (backend) => {
    const a = join(tempDir(), 'a.db');
    await cli(a, 'profile', 'add', '--email', 'ann@example.com');
    const target = await tempStore(backend);
    await cli(target, 'profile', 'add', '--email', 'zed@example.com');
    await cli(target, 'profile', 'optout', 'zed@example.com', '--channel', 'email');
    const exported = await cli(target, 'profile', 'export');
    const headBefore = await head(target);
    const r = await runCli(['store', 'copy', a, target]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`The target store ${target} is not empty`);
    expect(r.stderr).toContain('profiles');
    expect(r.stdout).toBe('');
    expect(await cli(target, 'profile', 'export')).toBe(exported);
    expect(await head(target)).toBe(headBefore);

    // Keys made after the store (rotate) also make it non-empty: they may have signed links.
    const keysOnly = await tempStore(backend);
    await cli(keysOnly, 'keys', 'rotate');
    const k = await runCli(['store', 'copy', a, keysOnly]);
    expect(k.code).toBe(4);
    expect(k.stderr).toContain('signing_keys');
  }, 30_000);

  it.each(BACKENDS)('a %s source that does not exist: exit 3, and no target is made', async (backend) => {
    const missing = backend === 'sqlite' ? join(tempDir(), 'typo.db') : await tempStore('postgres'); // a database without our tables
    const target = join(tempDir(), 'b.db');
    const r = await runCli(['store', 'copy', missing, target]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('No consent store at');
    expect(existsSync(target)).toBe(false);
    if (backend === 'sqlite') expect(existsSync(missing)).toBe(false);
  });

  it.each(BACKENDS)('a tampered %s source is refused before anything is written (exit 6)', async (backend) => {
    const a = await tempStore(backend);
    await cli(a, 'profile', 'add', '--email', 'ann@example.com');
    await cli(a, 'profile', 'optout', 'ann@example.com', '--channel', 'all');
    // The state edited behind the ledger's back: ann looks reachable again.
    await tamper(a, 'UPDATE profiles SET optout_all = 0');
    const sqliteTarget = join(tempDir(), 'b.db');
    const pgTarget = await tempStore('postgres');
    for (const target of [sqliteTarget, pgTarget]) {
      const r = await runCli(['store', 'copy', a, target, '--json']);
      expect(r.code).toBe(6);
      expect(r.stdout).toBe('');
      expect(JSON.parse(r.stderr).error.message).toContain('does not verify');
    }
    expect(existsSync(sqliteTarget)).toBe(false);
    expect(await rawSql(pgTarget, "SELECT to_regclass('profiles')::text AS t")).toEqual([{ t: null }]);
  });

  it('killed with kill -9 mid-way (built binary): the target stays empty, and a re-run completes the copy', async () => {
    const dir = tempDir();
    const file = join(dir, 'big.csv');
    bigCsv(file);
    const source = join(dir, 'source.db');
    expect(consent(source, 'profile', 'import', file).status).toBe(0);
    const sourceHead = await head(source);

    const copyOf = (to: string) => spawn(process.execPath, [BIN, 'store', 'copy', source, to], { stdio: 'ignore' });
    const probe = await tempStore('postgres');
    const t0 = performance.now();
    const done = copyOf(probe);
    expect(await new Promise((r) => done.on('exit', r))).toBe(0);
    const full = performance.now() - t0;

    const target = await tempStore('postgres');
    let killed = 0;
    let finished = false;
    for (const fraction of [0.2, 0.35, 0.5, 0.65]) {
      const child = copyOf(target);
      const timer = setTimeout(() => child.kill('SIGKILL'), Math.round(full * fraction));
      const signal = await new Promise((r) => child.on('exit', (_c, s) => r(s)));
      clearTimeout(timer);
      await settled(target);
      const tables = await rawSql(target, "SELECT to_regclass('profiles')::text AS t");
      if (signal !== 'SIGKILL') {
        finished = true; // it finished first: then it is whole (checked below)
        break;
      }
      killed++;
      if (tables[0].t === null) continue; // killed before the schema was made
      // As empty as a new store: no profile, no event, only the store's own first key.
      expect((await rawSql(target, 'SELECT count(*)::int AS n FROM profiles'))[0].n).toBe(0);
      expect((await rawSql(target, 'SELECT count(*)::int AS n FROM ledger_events'))[0].n).toBe(0);
      expect((await rawSql(target, 'SELECT count(*)::int AS n FROM signing_keys'))[0].n).toBe(1);
    }
    expect(killed).toBeGreaterThanOrEqual(2);

    if (!finished) {
      const rerun = await runCli(['store', 'copy', source, target, '--json']);
      expect(rerun.code).toBe(0);
      expect(JSON.parse(rerun.stdout)).toMatchObject({ profiles: ROWS, head: sourceHead });
    }
    expect(await head(target)).toBe(sourceHead);
    expect((await rawSql(target, 'SELECT count(*)::int AS n FROM profiles'))[0].n).toBe(ROWS);
  }, 180_000);
});

/** Waits until the server has ended the sessions of killed clients. */
async function settled(db: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await rawSql(db, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'consent'");
    if (rows.length === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a killed copy is still running on the server');
}


