import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/sqlite/open.js';
import { LATEST_VERSION } from '../src/store/sqlite/migrations.js';
import { runCli, runJson, tempDb, tempDir } from './helpers/run-cli.js';

describe('choosing the store', () => {
  it('--db before or after the subcommand, else CONSENT_DB, else ./consent.db', async () => {
    const dir = tempDir();
    await runCli(['profile', 'add', '--email', 'cwd@x.io'], { cwd: dir });
    await runCli(['profile', 'add', '--email', 'env@x.io'], { cwd: dir, env: { CONSENT_DB: join(dir, 'env.db') } });
    await runCli(['profile', 'add', '--email', 'after@x.io', '--db', 'after.db'], { cwd: dir, env: { CONSENT_DB: join(dir, 'env.db') } });
    const emails = async (db: string) =>
      (await runJson(join(dir, db), ['profile', 'list', '--json'])).map((p: { email: string }) => p.email);
    expect(await emails('consent.db')).toEqual(['cwd@x.io']);
    expect(await emails('env.db')).toEqual(['env@x.io']);
    expect(await emails('after.db')).toEqual(['after@x.io']);
  });

  it('a file that is not a store gives a clear error', async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.db');
    (await import('node:fs')).writeFileSync(bad, 'this is not sqlite, just text that is long enough to have a header'.repeat(20));
    const r = await runCli(['--db', bad, 'profile', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.db is not a consent store/);
  });
});

describe('durability settings', () => {
  it('uses WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const db = openDatabase(tempDb(), { busyTimeoutMs: 1234 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    db.close();
  });

  it('a lock held too long by another process gives exit 5 and a clear message, not SQLITE_BUSY', async () => {
    const db = tempDb();
    await runJson(db, ['profile', 'add', '--email', 'a@x.io', '--json']);
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const d = new D(process.argv[1]); d.exec('BEGIN IMMEDIATE');
         process.stdout.write('locked\\n'); setTimeout(() => { d.exec('ROLLBACK'); d.close(); }, 5000);`,
        db,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      const r = await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'email'], { env: { CONSENT_BUSY_TIMEOUT_MS: '200' } });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/locked by another process/);
      expect(r.stderr).not.toMatch(/SQLITE_BUSY/);
      // Readers are not blocked by a writer (WAL).
      expect((await runCli(['--db', db, 'profile', 'show', '1'], { env: { CONSENT_BUSY_TIMEOUT_MS: '200' } })).code).toBe(0);
    } finally {
      holder.kill('SIGKILL');
    }
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).optOut.email).toBe(false);
  });

  it('refuses a store made by a newer version of consent', async () => {
    const db = tempDb();
    const raw = new Database(db);
    raw.pragma(`user_version = ${LATEST_VERSION + 1}`);
    raw.close();
    const r = await runCli(['--db', db, 'profile', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/newer than this consent knows/);
  });
});

describe('the store file', () => {
  it("stays readable by Debian 12's sqlite3 shell", async () => {
    const db = tempDb();
    await runJson(db, ['profile', 'add', '--email', 'a@x.io', '--json']);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'sms']);
    const out = execFileSync('sqlite3', [db, 'PRAGMA integrity_check; SELECT email, optout_sms FROM profiles; SELECT channel, action FROM ledger_events;'], {
      encoding: 'utf8',
    });
    expect(out).toBe('ok\na@x.io|1\nsms|optout\n');
  });
});

// Reading profiles, consent changes, the ledger…: the store contract (test/store-contract/contract.test.ts), on both stores.
