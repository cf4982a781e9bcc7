import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LandingStore } from '../src/landing/repository.js';
import { openStore } from '../src/store/index.js';
import { runCli, tempDir } from './helpers/run-cli.js';

/**
 * Issue 10, point 19: `profile list` on a terminal must stream (rows appear
 * at once, memory stays flat), not build the whole table in memory.
 */

const BIN = join(import.meta.dirname, '..', 'bin', 'consent.js');

/** A store with `n` profiles, imported through the CLI from a generated CSV (emails of varying length, some names, some opt-outs). */
async function storeWith(n: number, dir = tempDir()): Promise<{ db: string; dir: string; email: (i: number) => string }> {
  const db = join(dir, 'consent.db');
  const email = (i: number) => `person.${'x'.repeat(i % 7)}${i}@example.com`;
  const lines = ['email,first_name,last_name,optout_sms,optout_all'];
  for (let i = 1; i <= n; i++) lines.push(`${email(i)},${i % 3 ? 'Ann' : ''},${i % 5 ? '' : 'Été'},${i % 4 === 0 ? 1 : 0},${i % 11 === 0 ? 1 : 0}`);
  const csv = join(dir, 'people.csv');
  writeFileSync(csv, lines.join('\n') + '\n');
  const r = await runCli(['--db', db, 'profile', 'import', csv]);
  expect(r.code, r.stderr).toBe(0);
  return { db, dir, email };
}

/** The real store, with a count of the profiles its listing has handed out so far. */
function observedStore(): { open: (location: string, o: object) => Promise<LandingStore>; yielded: () => number } {
  let yielded = 0;
  return {
    yielded: () => yielded,
    async open(location, o) {
      const store = await openStore(location, o);
      return new Proxy(store, {
        get(target, key) {
          if (key === 'listProfiles') {
            return async function* (filter: Parameters<LandingStore['listProfiles']>[0]) {
              for await (const p of target.listProfiles(filter)) {
                yielded++;
                yield p;
              }
            };
          }
          const v = Reflect.get(target, key, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
  };
}

const dataRows = (chunk: string, tty: boolean) => (tty ? chunk.match(/^│ +\d+ │/gm) : chunk.match(/^\d+\t/gm))?.length ?? 0;

describe('profile list streams', () => {
  for (const tty of [true, false]) {
    it(`${tty ? 'on a terminal' : 'piped'}: the first rows are written while the store still has rows to give, and what is held back stays bounded`, async () => {
      const n = 20_000;
      const { db, email } = await storeWith(n);
      const store = observedStore();
      let firstWriteAt: number | null = null;
      let written = 0;
      let maxHeld = 0;
      const r = await runCli(['--db', db, 'profile', 'list'], {
        tty,
        openStore: store.open,
        onStdout: (chunk) => {
          firstWriteAt ??= store.yielded();
          written += dataRows(chunk, tty);
          maxHeld = Math.max(maxHeld, store.yielded() - written);
        },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(store.yielded()).toBe(n);
      expect(written).toBe(n);
      expect(firstWriteAt).not.toBeNull();
      expect(firstWriteAt!).toBeLessThanOrEqual(200); // the first page, not the whole listing
      expect(maxHeld).toBeLessThanOrEqual(200);
      expect(r.stdout).toContain(email(n));
      expect(r.stderr).toBe('');
    });
  }

  it('on a terminal: one boxed table whose widths only grow, the header again only when a column widens; long cells cut with an ellipsis', async () => {
    const { db } = await storeWith(1500);
    for (const add of [
      ['--email', `${'long'.repeat(12)}@example.com`, '--first-name', 'Zoë 古古', '--last-name', 'x'.repeat(60)],
      ['--email', 'esc@example.com', '--first-name', 'a\u001b[31mred'],
    ]) {
      const a = await runCli(['--db', db, 'profile', 'add', ...add]);
      expect(a.code, a.stderr).toBe(0);
    }
    const r = await runCli(['--db', db, 'profile', 'list'], { tty: true });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').slice(0, -1);
    // Widths come from the first page (ids 1-100) and grow three times: page 2 brings a longer email
    // (person.xxxxxx104@…), page 10 the id 1000, page 16 the long email and name (cut at 40 and 30).
    const tops = lines.filter((l) => l.startsWith('┌'));
    expect(tops).toHaveLength(4);
    expect(lines.filter((l) => /^│ id +│ email +│ phone +│ name +│ opted out │$/.test(l))).toHaveLength(4);
    expect(lines.filter((l) => l.startsWith('└'))).toHaveLength(4);
    expect(lines.at(-1)).toMatch(/^└─+┴/);
    const stringWidth = (await import('string-width')).default;
    for (let i = 1; i < tops.length; i++) expect(stringWidth(tops[i]!)).toBeGreaterThan(stringWidth(tops[i - 1]!));
    // Within one table every line has the same width, and rows run without a separator line between them.
    let width = 0;
    for (const l of lines) {
      if (l.startsWith('┌')) width = stringWidth(l);
      expect(stringWidth(l), l).toBe(width);
    }
    expect(lines.filter((l) => l.startsWith('├'))).toHaveLength(4);
    expect(lines.filter((l) => /^│ +\d+ │/.test(l))).toHaveLength(1502);
    const long = lines.find((l) => l.includes('longlong'))!;
    expect(long).toContain('…');
    expect(long).not.toContain('@example.com');
    expect(long).toContain('Zoë 古古 xxx');
    expect(r.stdout).not.toContain('\u001b'); // a control character in a name cannot drive the terminal
    expect(r.stdout).toContain('a\ufffd[31mred');
  });

  it('piped: the same tab-separated text as before (a header line, then one line per profile); nothing matching: a notice on stderr only', async () => {
    const { db } = await storeWith(3);
    const r = await runCli(['--db', db, 'profile', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'id\temail\tphone\tname\topted out',
        '1\tperson.x1@example.com\t\tAnn\t-',
        '2\tperson.xx2@example.com\t\tAnn\t-',
        '3\tperson.xxx3@example.com\t\t\t-',
        '',
      ].join('\n'),
    );
    const none = await runCli(['--db', db, 'profile', 'list', '--opted-out', 'fax'], { tty: true });
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'No profiles match.\n' });
  });

});

describe('profile list through the binary, 200,000 profiles', () => {
  const n = 200_000;
  let big: Awaited<ReturnType<typeof storeWith>>;
  // A folder of its own: the helper's folders are removed after each test, this one is shared by the file's tests.
  const dir = mkdtempSync(join(tmpdir(), 'consent-list-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    big = await storeWith(n, dir);
  }, 120_000);

  /** `consent profile list …` under /usr/bin/time with the JS heap capped at 32 MiB: a listing held in memory cannot finish. */
  const command = (argv: string[]) => ['/usr/bin/time', '-f', 'peak-rss-kib=%M', process.execPath, '--max-old-space-size=32', BIN, '--db', big.db, 'profile', 'list', ...argv];
  const peakRss = (text: string) => Number(/peak-rss-kib=(\d+)/.exec(text)?.[1] ?? NaN);

  it('on a real terminal (a PTY): listed to the last one, exit 0, in a 32 MiB heap and under 160 MiB of memory', async () => {
    /** Runs the command with a PTY as its terminal (script(1)); returns its exit code and everything it showed. */
    const onTerminal = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const cmd = command([])
          .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
          .join(' ');
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
        const chunks: Buffer[] = [];
        child.stdout.on('data', (c: Buffer) => chunks.push(c));
        child.stderr.on('data', (c: Buffer) => chunks.push(c));
        child.on('close', (code) => resolve({ code, out: Buffer.concat(chunks).toString('utf8') }));
      });
    const full = await onTerminal();
    expect(full.code, full.out.slice(-500)).toBe(0);
    expect(full.out).toContain('┌'); // it did see a terminal: a boxed table, not tab-separated text
    expect(full.out).not.toContain('Maximum call stack');
    expect(full.out).toContain(`│ ${big.email(n)}`);
    expect(full.out.match(/^│ +\d+ │/gm)).toHaveLength(n);
    expect(peakRss(full.out)).toBeLessThan(160 * 1024);
  }, 120_000);

  // (--json: 80 MB of text, which the 32 MiB heap could not queue; the tab-separated text of 200k rows would fit.)
  for (const argv of [['--json']]) {
    it(`piped into a slow reader (${argv.join(' ')}): it waits for the pipe instead of queueing the listing in memory`, async () => {
      const [bin, ...args] = command(argv);
      const child = spawn(bin!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      // Not read for two seconds: the pipe fills at once and the command must wait for it.
      child.stdout.pause();
      await new Promise((r) => setTimeout(r, 2000));
      let bytes = 0;
      let tail = '';
      child.stdout.on('data', (c: Buffer) => {
        bytes += c.length;
        tail = (tail + c.toString('utf8')).slice(-2000);
      });
      child.stdout.resume();
      expect(await closed, stderr).toBe(0);
      expect(bytes).toBeGreaterThan(n * 40);
      expect(tail).toContain(big.email(n));
      if (argv[0] === '--json') expect(tail.endsWith('\n]\n')).toBe(true);
      expect(peakRss(stderr)).toBeLessThan(160 * 1024);
    }, 120_000);
  }
});
