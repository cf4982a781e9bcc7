import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDir } from './helpers/run-cli.js';

/** Files in `dir` (recursively), temp files included: nothing may be left behind. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/** Three profiles, a published blocklist page, a double opt-in service with two pending subscriptions, an import file with one bad row. */
async function setup() {
  const dir = tempDir();
  const db = join(dir, 'consent.db');
  for (const e of ['ann@example.com', 'bob@example.com', 'cy@example.com']) await runJson(db, ['profile', 'add', '--email', e, '--json']);
  await runJson(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop', '--json']);
  await runJson(db, ['landing', 'publish', 'stop', '--out-dir', join(dir, 'public'), '--json']);
  expect((await runCli(['--db', db, 'service', 'create', 'news', '--label', 'News', '--double-opt-in'])).code).toBe(0);
  for (const e of ['ann@example.com', 'cy@example.com']) expect((await runCli(['--db', db, 'profile', 'subscribe', e, 'news'])).code).toBe(0);
  const csv = join(dir, 'in.csv');
  writeFileSync(csv, 'email,first_name\nnew1@example.com,New\nnot-an-email,Bad\n');
  const work = join(dir, 'work');
  mkdirSync(work);
  return { db, dir, work, csv };
}

interface Writer {
  name: string;
  /** The command line writing `out` (relative to the cwd). */
  argv(s: Awaited<ReturnType<typeof setup>>, out: string): string[];
  /** What the whole file must hold (from the same command on stdout), or null when checked otherwise. */
  expected(s: Awaited<ReturnType<typeof setup>>): Promise<string>;
}

const stdoutOf = async (db: string, argv: string[]) => {
  const r = await runCli(['--db', db, ...argv]);
  expect(r.code).toBe(0);
  return r.stdout;
};

const WRITERS: Writer[] = [
  { name: 'profile export --out', argv: (s, out) => ['profile', 'export', '--out', out], expected: (s) => stdoutOf(s.db, ['profile', 'export']) },
  { name: 'landing links --out', argv: (s, out) => ['landing', 'links', 'stop', '--out', out], expected: (s) => stdoutOf(s.db, ['landing', 'links', 'stop']) },
  {
    name: 'service confirmations --out',
    argv: (s, out) => ['service', 'confirmations', 'news', '--out', out],
    expected: (s) => stdoutOf(s.db, ['service', 'confirmations', 'news']),
  },
  { name: 'landing render --out', argv: (s, out) => ['landing', 'render', 'stop', '--out', out], expected: (s) => stdoutOf(s.db, ['landing', 'render', 'stop']) },
  {
    name: 'profile import --rejects',
    argv: (s, out) => ['profile', 'import', s.csv, '--skip-invalid', '--rejects', out],
    expected: async () => 'email,first_name,reason\nnot-an-email,Bad,"email: ""not-an-email"" is not a valid email address"\n',
  },
];

describe('every file the tool writes appears whole or not at all', () => {
  it.each(WRITERS)('$name: interrupted, exit 130 and the old file untouched, no temp file; then written whole over it', async (w) => {
    const s = await setup();
    const out = join(s.work, 'out.txt');
    writeFileSync(out, 'old content\n');
    chmodSync(out, 0o600);
    const stop = new AbortController();
    stop.abort('SIGINT');
    const r = await runCli(['--db', s.db, ...w.argv(s, 'out.txt')], { cwd: s.work, interrupt: stop.signal });
    expect(r.stderr).toContain('Interrupted (SIGINT): nothing was written to out.txt.');
    expect(r.code).toBe(130);
    expect(r.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe('old content\n');
    expect(tree(s.work)).toEqual(['out.txt']);

    const ok = await runCli(['--db', s.db, ...w.argv(s, 'out.txt')], { cwd: s.work, interrupt: new AbortController().signal });
    expect(ok.code, ok.stderr).toBe(0);
    const expected = await w.expected(s);
    expect(expected.length).toBeGreaterThan(0);
    expect(readFileSync(out, 'utf8')).toBe(expected);
    expect(statSync(out).mode & 0o777).toBe(0o600); // the replaced file's permissions are kept
    expect(tree(s.work)).toEqual(['out.txt']);
  });

  it.each(WRITERS)('$name: into a folder that does not exist, exit 3 naming the file, nothing created', async (w) => {
    const s = await setup();
    const r = await runCli(['--db', s.db, ...w.argv(s, 'missing/out.txt')], { cwd: s.work });
    expect(r.stderr).toContain('Cannot write missing/out.txt: the folder');
    expect(r.stderr).not.toContain('unexpected');
    expect(r.code).toBe(3);
    expect(tree(s.work)).toEqual([]);
  });

  it('a file name that is a folder: the whole export is written, the rename fails, exit 4, the folder and its folder untouched', async () => {
    const s = await setup();
    mkdirSync(join(s.work, 'taken'));
    const r = await runCli(['--db', s.db, 'profile', 'export', '--out', 'taken'], { cwd: s.work });
    expect(r.stderr).toContain('Cannot write taken:');
    expect(r.code).toBe(4);
    expect(tree(s.work)).toEqual(['taken']);
  });

  it('--rejects of an import stopped by invalid rows is written whole (the rows to fix); of an import failing otherwise, not at all', async () => {
    const s = await setup();
    const stopped = await runCli(['--db', s.db, 'profile', 'import', s.csv, '--rejects', 'rejects.csv'], { cwd: s.work });
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toContain('The invalid rows are in rejects.csv');
    expect(readFileSync(join(s.work, 'rejects.csv'), 'utf8')).toBe(
      'email,first_name,reason\nnot-an-email,Bad,"email: ""not-an-email"" is not a valid email address"\n',
    );
    expect(tree(s.work)).toEqual(['rejects.csv']);

    // An unknown service column fails the whole import before any row: no rejects file at all.
    const bad = join(s.dir, 'bad.csv');
    writeFileSync(bad, 'email,subscribe_nope\nx@example.com,1\nnot-an-email,1\n');
    const failed = await runCli(['--db', s.db, 'profile', 'import', bad, '--rejects', 'other.csv'], { cwd: s.work });
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('subscribe_nope');
    expect(tree(s.work)).toEqual(['rejects.csv']);
  });

  it('an interrupted import with --rejects imports nothing', async () => {
    const s = await setup();
    const before = await runJson(s.db, ['ledger', 'verify', '--json']);
    const stop = new AbortController();
    stop.abort('SIGTERM');
    const r = await runCli(['--db', s.db, 'profile', 'import', s.csv, '--skip-invalid', '--rejects', 'rejects.csv'], { cwd: s.work, interrupt: stop.signal });
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('Interrupted (SIGTERM): nothing was written to rejects.csv.');
    expect(await runJson(s.db, ['ledger', 'verify', '--json'])).toEqual(before);
    expect((await runCli(['--db', s.db, 'profile', 'show', 'new1@example.com'])).code).toBe(3);
    expect(tree(s.work)).toEqual([]);
  });
});

describe('landing publish is all or nothing', () => {
  it('--out-dir under a regular file: exit 3 naming the path, version 2 not frozen, the old version still served', async () => {
    const { serverFixture } = await import('./helpers/landing-server.js');
    const f = await serverFixture();
    await f.cli('landing', 'edit', 'prefs', '--title', 'Prefs, second edition');
    const blocker = join(f.dir, 'a-file');
    writeFileSync(blocker, 'not a folder\n');
    const r = await runCli(['--db', f.db, 'landing', 'publish', 'prefs', '--out-dir', join(blocker, 'public')]);
    expect(r.stderr).toContain(`Cannot write ${join(blocker, 'public')}/prefs/index.html`);
    expect(r.stderr).toContain('Nothing was published');
    expect(r.stderr).not.toContain('unexpected');
    expect(r.code).toBe(3);
    expect(readFileSync(blocker, 'utf8')).toBe('not a folder\n');
    const show = await runJson(f.db, ['landing', 'show', 'prefs', '--json']);
    expect(show.version).toBe(1);
    expect(show.draftChanged).toBe(true);
    expect(show.published.title).toBe('Prefs');
    const page = await (await fetch(`${f.url}/prefs`)).text();
    expect(page).toContain('Prefs');
    expect(page).not.toContain('second edition');

    // A publish that can write freezes version 2 and writes its page whole, nothing else in the folder.
    const out = join(f.dir, 'public2');
    const ok = await runJson(f.db, ['landing', 'publish', 'prefs', '--out-dir', out, '--json']);
    expect(ok).toMatchObject({ version: 2, created: true, file: join(out, 'prefs', 'index.html') });
    expect(readFileSync(ok.file, 'utf8')).toContain('Prefs, second edition');
    expect(tree(out)).toEqual(['prefs', join('prefs', 'index.html')]);
    // Unchanged since, a re-run (what fixes a crash between freezing and renaming) rewrites the same page.
    const html = readFileSync(ok.file, 'utf8');
    writeFileSync(ok.file, 'stale');
    expect(await runJson(f.db, ['landing', 'publish', 'prefs', '--out-dir', out, '--json'])).toMatchObject({ version: 2, created: false });
    expect(readFileSync(ok.file, 'utf8')).toBe(html);
    expect(tree(out)).toEqual(['prefs', join('prefs', 'index.html')]);
  });
});
