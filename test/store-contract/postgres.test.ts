/**
 * What only the PostgreSQL store has to prove: its URL and password handling,
 * its errors when the server is away, its migrations under concurrency, the
 * schema's refusal of a fork, its connection settings.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { LandingStore } from '../../src/landing/repository.js';
import { maskLocation } from '../../src/store/location.js';
import { openStore } from '../../src/store/index.js';
import { PG_LATEST_VERSION, PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PgStore } from '../../src/store/postgres/pg-store.js';
import { pgAdminQuery, pgTestDatabase, withDatabase } from '../helpers/pg.js';
import { rawSql, tamper } from '../helpers/raw-store.js';
import { runCli, runJson, tempDir } from '../helpers/run-cli.js';

const opened: LandingStore[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

/** A database owned by the password role, and its URL with the password in it. */
async function passwordDatabase(): Promise<{ url: string; password: string }> {
  const admin = await pgTestDatabase({ owner: 'consent_pw' });
  const url = withDatabase(inject('pgPasswordUrl'), new URL(admin).pathname.slice(1));
  return { url, password: inject('pgPassword') };
}

describe('the PostgreSQL location', () => {
  it('masks the password of a URL, in the user-info part and as a parameter; paths are unchanged', () => {
    expect(maskLocation('postgres://ann:s3cret@db.example.com:5432/consent')).toBe('postgres://ann:***@db.example.com:5432/consent');
    expect(maskLocation('postgresql://ann:p%40ss@h/db?sslmode=require')).toBe('postgresql://ann:***@h/db?sslmode=require');
    expect(maskLocation('postgres://h/db?user=ann&password=s3cret&x=1')).toBe('postgres://h/db?user=ann&password=***&x=1');
    expect(maskLocation('postgres://ann@h/db')).toBe('postgres://ann@h/db');
    expect(maskLocation('/tmp/a:b@c.db')).toBe('/tmp/a:b@c.db');
  });

  it('is chosen by --db or CONSENT_DB; the password is never printed, not even with --debug, --json or in an error', async () => {
    const { url, password } = await passwordDatabase();
    const outputs: string[] = [];
    const run = async (argv: string[], env: Record<string, string> = {}) => {
      const r = await runCli(argv, { env });
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    expect((await run(['--db', url, 'profile', 'add', '--email', 'a@x.io', '--json'])).code).toBe(0);
    expect((await run(['profile', 'list', '--json'], { CONSENT_DB: url })).code).toBe(0);
    expect((await run(['--db', url, 'ledger', 'verify', '--json', '--debug'])).code).toBe(0);
    expect((await run(['--db', url, 'profile', 'show', 'nobody@x.io', '--debug'])).code).toBe(3);
    const wrong = url.replace(password, `${password}-wrong`);
    const refused = await run(['--db', wrong, 'profile', 'list', '--debug']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/refused the login/);
    expect(refused.stderr).toContain(`127.0.0.1:${new URL(url).port}/${new URL(url).pathname.slice(1)}`);
    const store = await openStore(url);
    opened.push(store);
    expect(store.location).toBe(url.replace(`:${password}@`, ':***@'));
    for (const o of outputs) expect(o).not.toContain(password);
    expect(outputs.join('')).toContain('a@x.io');
  });
  it("landing serve's startup line names the store with the password masked", async () => {
    const { url, password } = await passwordDatabase();
    expect((await runCli(['--db', url, 'profile', 'add', '--email', 'a@x.io'])).code).toBe(0);
    const child = spawn(process.execPath, [join(process.cwd(), 'bin/consent.js'), '--db', url, 'landing', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Ctrl-C')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const closed = new Promise((r) => child.on('close', r));
    child.kill('SIGTERM');
    await closed;
    expect(stderr).toContain(`from ${url.replace(`:${password}@`, ':***@')} (Ctrl-C to stop)`);
    expect(stderr).not.toContain(password);
  });
});

describe('a server that is away', () => {
  it('nothing listening: exit 5 at once, naming host and port, no stack trace', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const t0 = performance.now();
    const r = await runCli(['--db', `postgres://u:topsecret@127.0.0.1:${port}/consent`, 'profile', 'list']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`Cannot reach the PostgreSQL server 127\\.0\\.0\\.1:${port}/consent \\(ECONNREFUSED\\)`));
    expect(r.stderr).not.toMatch(/topsecret|at .*\.js/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a database that does not exist: exit 3, saying how to create it', async () => {
    const r = await runCli(['--db', withDatabase(inject('pgAdminUrl'), 'no_such_db_here'), 'profile', 'list']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/There is no database 127\.0\.0\.1:\d+\/no_such_db_here/);
    expect(r.stderr).toMatch(/createdb/);
  });

  it('the connection killed mid-command (the server shut down): exit 5, nothing written', async () => {
    const db = await pgTestDatabase();
    await runJson(db, ['profile', 'add', '--email', 'a@x.io', '--json']);
    // Hold the profile's row so the command waits inside its transaction, then end its session as a shutdown would.
    const holder = new pg.Client({ connectionString: db });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM profiles WHERE id = 1 FOR UPDATE');
      const running = runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'sms'], { env: { CONSENT_BUSY_TIMEOUT_MS: '20000' } });
      let killed = 0;
      for (let i = 0; i < 100 && killed === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const rows = await pgAdminQuery(
          db,
          "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'consent' AND wait_event_type = 'Lock'",
        );
        killed = rows.length;
      }
      expect(killed).toBe(1);
      const r = await running;
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/was shut down|Cannot reach/);
      expect(r.stderr).not.toMatch(/unexpected/);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).optOut.sms).toBe(false);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true, events: 0 });
  });

  it('a lock held longer than the busy timeout: exit 5 with the same message as SQLite', async () => {
    const db = await pgTestDatabase();
    await runJson(db, ['profile', 'add', '--email', 'a@x.io', '--json']);
    const holder = new pg.Client({ connectionString: db });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM profiles WHERE id = 1 FOR UPDATE');
      const r = await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'sms'], { env: { CONSENT_BUSY_TIMEOUT_MS: '300' } });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/locked by another process and stayed locked for more than 300 ms/);
      // Readers are not blocked.
      expect((await runCli(['--db', db, 'profile', 'show', '1'])).code).toBe(0);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });
});

describe('store creation', () => {
  it('a database without the tables is no store for a read command (exit 3); a command that writes creates them, saying so once', async () => {
    const db = await pgTestDatabase();
    for (const argv of [['profile', 'list'], ['ledger', 'verify'], ['keys', 'list']]) {
      const r = await runCli(['--db', db, ...argv]);
      expect(r.code, argv.join(' ')).toBe(3);
      expect(r.stderr).toContain(`No consent store at ${db}`);
    }
    expect(await rawSql(db, "SELECT to_regclass('profiles')::text AS t")).toEqual([{ t: null }]);
    const add = await runCli(['--db', db, 'profile', 'add', '--email', 'a@x.io']);
    expect(add.code).toBe(0);
    expect(add.stderr).toBe(`Created a new consent store at ${db}.\n`);
    const again = await runCli(['--db', db, 'profile', 'add', '--email', 'b@x.io']);
    expect(again.stderr).toBe('');
    expect((await runCli(['--db', db, 'profile', 'list'])).code).toBe(0);
  });
});

describe('connection settings', () => {
  it('statement, lock and idle-in-transaction timeouts are set on every connection', async () => {
    const store = (await openStore(await pgTestDatabase(), { busyTimeoutMs: 1234 })) as PgStore;
    opened.push(store);
    const [s] = await store.query('SHOW statement_timeout');
    const [l] = await store.query('SHOW lock_timeout');
    const [i] = await store.query('SHOW idle_in_transaction_session_timeout');
    expect([s.statement_timeout, l.lock_timeout, i.idle_in_transaction_session_timeout]).toEqual(['1min', '1234ms', '5min']);
    expect(store.pool.options.connectionTimeoutMillis).toBe(1234);
  });
});

describe('migrations', () => {
  it('are numbered 1, 2, … without gaps, and recorded in schema_migrations', async () => {
    expect(PG_MIGRATIONS.map((m) => m.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
    const db = await pgTestDatabase();
    await runCli(['--db', db, 'store', 'init']);
    expect((await rawSql(db, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
  });

  it('from every earlier version to the latest, keeping the data', async () => {
    for (const from of PG_MIGRATIONS.map((m) => m.version).filter((v) => v < PG_LATEST_VERSION)) {
      const db = await pgTestDatabase();
      const old = await PgStore.open(db, { targetVersion: from });
      await old.close();
      await rawSql(db, "INSERT INTO profiles (email, first_name, optout_sms, created_at, updated_at) VALUES ('old@example.com', 'Old', 1, 'x', 'x')");
      expect(await rawSql(db, 'SELECT max(version) AS v FROM schema_migrations')).toEqual([{ v: from }]);
      expect(await runJson(db, ['profile', 'show', 'old@example.com', '--json'])).toMatchObject({ firstName: 'Old', optOut: { sms: true } });
      expect(await rawSql(db, 'SELECT max(version) AS v FROM schema_migrations')).toEqual([{ v: PG_LATEST_VERSION }]);
      expect((await runJson(db, ['keys', 'list', '--json'])).length).toBeGreaterThan(0);
    }
  });

  it('two processes opening an empty database at once: one migrates, both work', async () => {
    const db = await pgTestDatabase();
    const bin = join(process.cwd(), 'bin/consent.js');
    const codes = await Promise.all(
      [0, 1, 2, 3].map(
        (i) =>
          new Promise<{ code: number | null; err: string }>((resolve) => {
            const c = spawn(process.execPath, [bin, '--db', db, 'profile', 'add', '--email', `p${i}@x.io`], { stdio: ['ignore', 'ignore', 'pipe'] });
            let err = '';
            c.stderr.on('data', (d) => (err += d));
            c.on('close', (code) => resolve({ code, err }));
          }),
      ),
    );
    expect(codes).toEqual([0, 1, 2, 3].map(() => ({ code: 0, err: expect.any(String) })));
    expect((await rawSql(db, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
    expect(await rawSql(db, 'SELECT count(*)::int AS n FROM signing_keys')).toEqual([{ n: 1 }]);
    expect(await rawSql(db, 'SELECT count(*)::int AS n FROM profiles')).toEqual([{ n: 4 }]);
  });

  it('refuses a database made by a newer version of consent', async () => {
    const db = await pgTestDatabase();
    await runCli(['--db', db, 'store', 'init']);
    await rawSql(db, `INSERT INTO schema_migrations (version, description, applied_at) VALUES (${PG_LATEST_VERSION + 1}, 'future', 'x')`);
    const r = await runCli(['--db', db, 'profile', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/newer than this consent knows/);
  });
});

describe('the chain in the schema', () => {
  it('refuses a second block after the same block (a fork), even with the triggers off', async () => {
    const db = await pgTestDatabase();
    await runJson(db, ['profile', 'add', '--email', 'a@x.io', '--json']);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'sms']);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'email']);
    const [b2] = await rawSql(db, 'SELECT * FROM ledger_blocks WHERE id = 2');
    await expect(
      tamper(db, `INSERT INTO ledger_blocks (id, first_event_id, last_event_id, event_count, prev_hash, hash, created_at)
        VALUES (3, 2, 2, 1, '${b2.prev_hash}', 'forked', 'x')`),
    ).rejects.toThrow(/duplicate key value violates unique constraint/);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true, blocks: 2 });
  });

  it('the same history on SQLite and PostgreSQL has the same head hash', async () => {
    const { tempDb } = await import('../helpers/run-cli.js');
    const heads: string[] = [];
    for (const db of [tempDb(), await pgTestDatabase()]) {
      const f = join(tempDir(), 'i.csv');
      (await import('node:fs')).writeFileSync(f, 'email,optout_sms,optout_all\nb@x.io,1,0\nc@x.io,0,1\n');
      const ok = async (...argv: string[]) => {
        const r = await runCli(['--db', db, ...argv], { now: new Date('2026-03-04T05:06:07.000Z') });
        expect(r.code, r.stderr).toBe(0);
      };
      await ok('profile', 'add', '--email', 'a@x.io');
      await ok('profile', 'optout', '1', '--channel', 'sms,fax', '--reason', 'asked "twice"');
      await ok('profile', 'import', f);
      await ok('service', 'create', 'news', '--label', 'News');
      await ok('profile', 'subscribe', '2', 'news');
      const v = await runJson(db, ['ledger', 'verify', '--json']);
      expect(v).toMatchObject({ ok: true, blocks: 3, events: 5 });
      heads.push(v.head);
    }
    expect(heads[0]).toBe(heads[1]);
  });

  it('a first load into an empty store: the same head as SQLite, and the schema left as the migrations made it', async () => {
    const { tempDb } = await import('../helpers/run-cli.js');
    const { writeFileSync } = await import('node:fs');
    const dir = tempDir();
    const plain = join(dir, 'first.csv');
    // No email twice and no subscribe_ column: SQLite numbers the profiles of such first loads in email order.
    writeFileSync(plain, 'email,first_name,optout_sms,optout_all\nb@x.io,Bee,1,0\nc@x.io,C,0,1\na@x.io,,1,1\n');
    const withServices = join(dir, 'subscribed.csv');
    writeFileSync(withServices, 'email,first_name,optout_sms,optout_all,subscribe_news\nb@x.io,B,1,0,1\nc@x.io,C,0,1,\nb@x.io,Bee,0,0,\na@x.io,,1,1,0\n');
    const ok = async (db: string, ...argv: string[]) => {
      const r = await runCli(['--db', db, ...argv], { now: new Date('2026-03-04T05:06:07.000Z') });
      expect(r.code, r.stderr).toBe(0);
      return r;
    };
    const heads: string[] = [];
    for (const db of [tempDb(), await pgTestDatabase()]) {
      expect(JSON.parse((await ok(db, 'profile', 'import', plain, '--json')).stdout)).toMatchObject({ new: 3, optOutsSet: 4, events: 4 });
      expect(await runJson(db, ['profile', 'show', 'b@x.io', '--json'])).toMatchObject({ id: 1, firstName: 'Bee' });
      const v = await runJson(db, ['ledger', 'verify', '--json']);
      expect(v).toMatchObject({ ok: true, blocks: 1, events: 4 });
      heads.push(v.head);
    }
    expect(heads[0]).toBe(heads[1]);
    // With a service and a repeated email: the email index and both foreign keys to profiles are dropped and rebuilt.
    const pgDb = await pgTestDatabase();
    await ok(pgDb, 'service', 'create', 'news', '--label', 'News');
    const s = JSON.parse((await ok(pgDb, 'profile', 'import', withServices, '--json')).stdout);
    expect(s).toMatchObject({ new: 3, duplicatesMerged: 1, optOutsSet: 4, subscriptionsSet: 1, unsubscribed: 1, events: 6 });
    expect(await runJson(pgDb, ['profile', 'show', 'b@x.io', '--json'])).toMatchObject({ id: 1, firstName: 'Bee' });
    expect(await runJson(pgDb, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true, blocks: 1, events: 6 });
    const fresh = await pgTestDatabase();
    await ok(fresh, 'service', 'create', 'news', '--label', 'News');
    const schema = (db: string) =>
      rawSql(
        db,
        `SELECT c.relname AS t, x.conname AS name, pg_get_constraintdef(x.oid) AS def FROM pg_constraint x JOIN pg_class c ON c.oid = x.conrelid
           WHERE c.relname IN ('profiles', 'ledger_events', 'subscriptions')
         UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename IN ('profiles', 'ledger_events', 'subscriptions')
         ORDER BY 1, 2, 3`,
      );
    const after = await schema(pgDb);
    expect(after.map((r) => r.name)).toEqual(expect.arrayContaining(['profiles_email', 'ledger_events_profile_id_fkey', 'subscriptions_profile_id_fkey']));
    expect(after).toEqual(await schema(fresh));
    // The identity goes on after the ids the load reserved.
    expect((await runJson(pgDb, ['profile', 'add', '--email', 'd@x.io', '--json'])).id).toBe(4);
    await expect(rawSql(pgDb, `INSERT INTO profiles (email, created_at, updated_at) VALUES ('a@x.io', 'x', 'x')`)).rejects.toThrow(/duplicate key/);
    await expect(
      rawSql(pgDb, `INSERT INTO ledger_events (id, profile_id, channel, action, source, actor, occurred_at) VALUES (99, 42, 'sms', 'optout', 'x', 'x', 'x')`),
    ).rejects.toThrow(/foreign key/);
  });
});

describe("the planner's statistics after bulk writes", () => {
  it('a large import (10,000 profiles or more) refreshes them after its commit; a small one leaves them to autovacuum', async () => {
    const dir = tempDir();
    const csv = (n: number, from = 0) => {
      const path = join(dir, `p${n}-${from}.csv`);
      const rows = ['email,first_name,optout_sms'];
      for (let i = from; i < from + n; i++) rows.push(`p${i}@example.com,"Name, ${i}",${i % 4 === 0 ? 1 : 0}`);
      writeFileSync(path, rows.join('\n') + '\n');
      return path;
    };
    const analyzed = async (db: string) =>
      rawSql(db, "SELECT relname FROM pg_stat_user_tables WHERE relname IN ('profiles', 'ledger_events') AND last_analyze IS NOT NULL ORDER BY relname");
    const small = await pgTestDatabase();
    expect((await runCli(['--db', small, 'profile', 'import', csv(500)])).code).toBe(0);
    expect(await analyzed(small)).toEqual([]);
    const large = await pgTestDatabase();
    expect((await runCli(['--db', large, 'profile', 'import', csv(10_000)])).code).toBe(0);
    expect(await analyzed(large)).toEqual([{ relname: 'ledger_events' }, { relname: 'profiles' }]);
  });
});
