import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, tempDir } from './helpers/run-cli.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'consent.js');

/** Read commands, each given what it needs to get as far as opening the store. */
const READ_COMMANDS: string[][] = [
  ['profile', 'show', 'ann@example.com'],
  ['profile', 'list', '--opted-out', 'all'],
  ['profile', 'list', '--reachable', 'email', '--json'],
  ['profile', 'export'],
  ['profile', 'history', 'ann@example.com'],
  ['ledger', 'verify'],
  ['ledger', 'verify', '--json'],
  ['landing', 'links', 'prefs'],
  ['landing', 'list'],
  ['landing', 'show', 'prefs'],
  ['service', 'confirmations', 'news'],
  ['service', 'list'],
  ['keys', 'list'],
  ['backup', 'copy.db'],
];

/** Commands that change a store but cannot start one: there is nothing for them to change. */
const WRITE_COMMANDS_NEEDING_A_STORE: string[][] = [
  ['profile', 'optout', 'ann@example.com', '--all'],
  ['profile', 'optin', 'ann@example.com', '--channel', 'email'],
  ['blocklist-all', 'ann@example.com'],
  ['landing', 'publish', 'prefs'],
  ['keys', 'retire', '1', '--yes'],
];

describe('a read command never creates a store (a mistyped --db is not an empty store)', () => {
  it.each(READ_COMMANDS.map((c) => [c.join(' '), c]))('%s on a missing store: exit 3 naming the path, no file created', async (_name, argv) => {
    const dir = tempDir();
    const db = join(dir, 'typo.db');
    const r = await runCli(['--db', db, ...(argv as string[])], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`No consent store at ${db}`);
    expect(r.stderr).toContain('commands that write'.replace('c', 'C'));
    expect(existsSync(db)).toBe(false);
  });

  it.each(WRITE_COMMANDS_NEEDING_A_STORE.map((c) => [c.join(' '), c]))('%s on a missing store: exit 3, no file created', async (_name, argv) => {
    const db = join(tempDir(), 'typo.db');
    const r = await runCli(['--db', db, ...(argv as string[])]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`No consent store at ${db}`);
    expect(existsSync(db)).toBe(false);
  });

  it('CONSENT_DB naming a missing store is refused the same way', async () => {
    const db = join(tempDir(), 'typo.db');
    const r = await runCli(['profile', 'list', '--opted-out', 'all'], { env: { CONSENT_DB: db } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`No consent store at ${db}`);
    expect(existsSync(db)).toBe(false);
  });

  it('an empty file (what `touch` leaves) is not a store for a read command either', async () => {
    const db = join(tempDir(), 'touched.db');
    closeSync(openSync(db, 'w'));
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`No consent store at ${db}`);
  });

  it('commands that write create the store on first use and say so once, on stderr', async () => {
    const db = tempDb();
    const first = await runCli(['--db', db, 'profile', 'add', '--email', 'ann@example.com']);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe(`Created a new consent store at ${db}.\n`);
    expect(first.stdout).not.toContain('Created a new consent store');
    const second = await runCli(['--db', db, 'profile', 'add', '--email', 'bob@example.com']);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('Created');

    for (const argv of [
      ['service', 'create', 'news', '--label', 'News'],
      ['landing', 'create', 'prefs', '--type', 'blocklist', '--title', 'Stop'],
      ['keys', 'rotate'],
    ]) {
      const other = tempDb();
      const r = await runCli(['--db', other, ...argv]);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stderr).toContain(`Created a new consent store at ${other}.`);
    }
  });

  it('`store init` creates an empty store, and on an existing one changes nothing', async () => {
    const db = tempDb();
    expect(await runJson(db, ['store', 'init', '--json'])).toEqual({ location: db, created: true });
    expect(await runJson(db, ['profile', 'list', '--json'])).toEqual([]);
    expect(await runJson(db, ['store', 'init', '--json'])).toEqual({ location: db, created: false });
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(0);
  });

  it("another program's SQLite database is not a consent store: exit 2, and its tables are left alone", async () => {
    const db = join(tempDir(), 'crm.db');
    const d = new Database(db);
    d.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    d.close();
    for (const argv of [['profile', 'list'], ['profile', 'add', '--email', 'ann@example.com']]) {
      const r = await runCli(['--db', db, ...argv]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${db} is a SQLite database but not a consent store`);
    }
    const check = new Database(db, { readonly: true });
    const tables = check.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
    check.close();
    expect(tables).toEqual(['customers']);
  });
});

describe('a blank actor is refused, never recorded', () => {
  it('--actor "   " and CONSENT_ACTOR="" exit 2 and write nothing; a real name is recorded', async () => {
    const db = tempDb();
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
    const blankFlag = await runCli(['--db', db, '--actor', '   ', 'profile', 'optout', 'ann@example.com', '--all']);
    expect(blankFlag.code).toBe(2);
    expect(blankFlag.stderr).toContain('--actor is blank');
    const blankEnv = await runCli(['--db', db, 'profile', 'optout', 'ann@example.com', '--all'], { env: { CONSENT_ACTOR: '' } });
    expect(blankEnv.code).toBe(2);
    expect(blankEnv.stderr).toContain('CONSENT_ACTOR is blank');
    const blankImport = await runCli(['--db', db, '--actor', '\t', 'profile', 'import', '-'], { stdin: 'email,blackList\nbob@example.com,1\n' });
    expect(blankImport.code).toBe(2);
    expect(await runJson(db, ['profile', 'history', 'ann@example.com', '--json'])).toEqual([]);
    expect((await runCli(['--db', db, 'profile', 'show', 'bob@example.com'])).code).toBe(3);

    expect((await runCli(['--db', db, '--actor', 'jane', 'profile', 'optout', 'ann@example.com', '--all'])).code).toBe(0);
    const h = await runJson(db, ['profile', 'history', 'ann@example.com', '--json']);
    expect(h.map((e: { actor: string }) => e.actor)).toEqual(['jane']);
    expect((await runCli(['--db', db, 'profile', 'optout', 'ann@example.com', '--channel', 'sms'], { env: { CONSENT_ACTOR: 'ci-job' } })).code).toBe(0);
    expect((await runJson(db, ['profile', 'history', 'ann@example.com', '--json']))[0].actor).toBe('ci-job');
  });
});

describe('a missing subcommand is a usage error', () => {
  it.each([[[]], [['profile']], [['landing']], [['service']], [['keys']], [['ledger']], [['store']]])(
    'consent %j prints its help on stderr and exits 2',
    async (argv) => {
      const r = await runCli(argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^Usage: consent/);
      expect(r.stderr).toContain('Commands:');
    },
  );

  it('asked for, help is a success on stdout', async () => {
    for (const argv of [['--help'], ['profile', '--help'], ['help', 'landing']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: consent/);
    }
  });
});

describe('with --json, an error is one JSON object on stderr', () => {
  it('not found, usage and invalid input: { error: { exitCode, message, hint, details } }, stdout empty', async () => {
    const db = tempDb();
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);

    const notFound = await runCli(['--db', db, 'profile', 'show', 'nobody@example.com', '--json']);
    expect(notFound.code).toBe(3);
    expect(notFound.stdout).toBe('');
    const e1 = JSON.parse(notFound.stderr);
    expect(e1).toEqual({ error: { exitCode: 3, message: expect.stringContaining('nobody@example.com'), hint: expect.any(String), details: null } });

    const usage = await runCli(['--db', db, 'profile', 'list', '--json', '--reachable', 'pigeon']);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    const e2 = JSON.parse(usage.stderr);
    expect(e2.error.exitCode).toBe(2);
    expect(e2.error.message).toContain('pigeon');

    const unknown = await runCli(['--db', db, 'blocklist-all', 'ann@example.com', 'ghost@example.com', '7', '--json']);
    expect(unknown.code).toBe(3);
    expect(unknown.stdout).toBe('');
    const lines = unknown.stderr.trim().split('\n');
    const e3 = JSON.parse(lines[lines.length - 1]!);
    expect(e3.error.exitCode).toBe(3);
    expect(e3.error.details).toEqual({ unknown: ['ghost@example.com', '7'] });

    const badRows = await runCli(['--db', db, 'profile', 'import', '-', '--json'], {
      stdin: 'email,blackList\nok@example.com,1\nnot-an-email,0\nfine@example.com,maybe\n',
    });
    expect(badRows.code).toBe(2);
    expect(badRows.stdout).toBe('');
    const e4 = JSON.parse(badRows.stderr.trim().split('\n').pop()!);
    expect(e4.error.exitCode).toBe(2);
    expect(e4.error.details.invalid).toBe(2);
    expect(e4.error.details.errors.map((x: { line: number; column: string }) => [x.line, x.column])).toEqual([
      [3, 'email'],
      [4, 'blackList'],
    ]);
  });

  it('a missing store with --json', async () => {
    const db = join(tempDir(), 'typo.db');
    const r = await runCli(['--db', db, 'ledger', 'verify', '--json']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr).error).toMatchObject({ exitCode: 3, message: `No consent store at ${db}.` });
  });
});

/** Runs the built binary; as a non-root user when we are root, so that permissions bind. */
function consentAs(args: string[], options: { cwd?: string; stdoutFd?: number } = {}) {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'nobody', '--', process.execPath, BIN, ...args]] : [process.execPath, [BIN, ...args]];
  return spawnSync(cmd, argv, {
    cwd: options.cwd,
    encoding: 'utf8',
    stdio: ['ignore', options.stdoutFd ?? 'pipe', 'pipe'],
    env: { ...process.env, CONSENT_ACTOR: 'tester' },
  });
}

describe('errors of the environment are not bugs: an exit code from the table and a sentence naming the path', () => {
  it('a missing folder: for the store, a backup, an export', async () => {
    const add = await runCli(['--db', '/no/dir/x.db', 'profile', 'add', '--email', 'ann@example.com']);
    expect(add.code).toBe(3);
    expect(add.stderr).toContain('there is no folder /no/dir');
    expect(add.stderr).not.toContain('unexpected');

    const db = tempDb();
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
    const backup = await runCli(['--db', db, 'backup', '/no/dir/b.db']);
    expect(backup.code).toBe(3);
    expect(backup.stderr).toContain('/no/dir');
    expect(backup.stderr).not.toContain('unexpected');

    const exp = await runCli(['--db', db, 'profile', 'export', '--out', '/no/dir/x.csv']);
    expect(exp.code).toBe(3);
    expect(exp.stderr).toContain('/no/dir');
    expect(exp.stderr).not.toContain('unexpected');
  });

  it('a folder given as a file: import, --db', async () => {
    const dir = tempDir();
    const db = join(dir, 'consent.db');
    const imp = await runCli(['--db', db, 'profile', 'import', dir]);
    expect(imp.code).toBe(2);
    expect(imp.stderr).toContain(`${dir} is a folder`);
    expect(existsSync(db)).toBe(false); // the import stopped before it created a store

    const asDb = await runCli(['--db', dir, 'profile', 'list']);
    expect(asDb.code).toBe(2);
    expect(asDb.stderr).toContain(`${dir} is a folder`);
  });

  it('a read-only store: exit 7, naming it; nothing changes', async () => {
    const dir = tempDir();
    const db = join(dir, 'consent.db');
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
    chmodSync(dir, 0o555);
    chmodSync(db, 0o444);
    try {
      const r = consentAs(['--db', db, 'profile', 'optout', 'ann@example.com', '--all']);
      expect(r.stderr).not.toContain('unexpected');
      expect(r.status).toBe(7);
      expect(r.stderr).toContain(db);
    } finally {
      chmodSync(dir, 0o755);
      chmodSync(db, 0o644);
    }
    expect((await runJson(db, ['profile', 'show', 'ann@example.com', '--json'])).optOut.all).toBe(false);
  });

  it('a folder that is not writable: exit 7 naming the path', async () => {
    const dir = tempDir();
    const db = join(dir, 'consent.db');
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
    chmodSync(db, 0o666);
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(dir, 0o777); // the store's folder stays writable: SQLite needs its -wal and -shm files there
    try {
      const r = consentAs(['--db', db, 'profile', 'export', '--out', join(locked, 'x.csv')]);
      expect(r.stderr).not.toContain('unexpected');
      expect(r.status).toBe(7);
      expect(r.stderr).toContain(locked);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('a full disk (stdout on /dev/full): exit 8, not a bug', async () => {
    const db = tempDb();
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
    const fd = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, '--db', db, 'profile', 'export'], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      expect(r.stderr).not.toContain('unexpected');
      expect(r.stderr).toContain('No space left');
      expect(r.status).toBe(8);
    } finally {
      closeSync(fd);
    }
  });

  it('a file that is not a SQLite database: "not a consent store", exit 2, no stack trace', async () => {
    const db = join(tempDir(), 'notes.db');
    writeFileSync(db, 'these are my notes, not a database\n'.repeat(50));
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${db} is not a consent store`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
