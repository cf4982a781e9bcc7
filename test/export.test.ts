import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

const FIX = join(process.cwd(), 'fixtures/import');

async function seed(db: string) {
  for (const [f, extra] of [
    ['bom-crlf.csv', []],
    ['quoted-newlines.csv', []],
    ['adobe-export.csv', ['--delimiter', ';']],
    ['formula-cells.csv', []],
    ['duplicate-key.csv', []],
  ] as const) {
    await runJson(db, ['profile', 'import', join(FIX, f), ...extra, '--json']);
  }
}

/** Profiles without ids and times: what must survive a round trip. */
async function content(db: string) {
  const list = await runJson(db, ['profile', 'list', '--json']);
  return list
    .map((p: any) => ({ email: p.email, phone: p.phone, firstName: p.firstName, lastName: p.lastName, optOut: p.optOut }))
    .sort((a: any, b: any) => a.email.localeCompare(b.email));
}

describe('profile export', () => {
  it('writes the import columns, guarding formula cells', async () => {
    const db = (await tempStore(backend));
    await seed(db);
    const r = await runCli(['--db', db, 'profile', 'export']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('email,phone,first_name,last_name,optout_all,optout_email,optout_sms,optout_phone,optout_postal,optout_fax,optout_push');
    expect(r.stdout).toContain(`formula@example.com,+33622222222,"'=HYPERLINK(""http://x"")",'@SUM(A1),0,0,0,0,0,0,0`);
    expect(r.stdout).toContain(`plain@example.com,+33633333333,'quoted,'-minus,`);
    expect(r.stdout).toContain('"Smith\nof the Hill"');
    expect(r.stderr).toContain('Exported 13 profile(s).');
    // Every cell a spreadsheet would run starts with a quote; `+` and digits alone is a number, not a formula.
    const rows = Papa.parse<string[]>(r.stdout.trim()).data.slice(1);
    for (const cell of rows.flat()) if (!/^\+\d+$/.test(cell)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('round-trips: export then import into an empty store gives the same profiles and opt-outs', async () => {
    const db = (await tempStore(backend));
    await seed(db);
    const dir = tempDir();
    const out = join(dir, 'all.csv');
    expect((await runCli(['--db', db, 'profile', 'export', '--out', out])).code).toBe(0);
    const db2 = (await tempStore(backend));
    const s = await runJson(db2, ['profile', 'import', out, '--json']);
    expect(s).toMatchObject({ new: 13, invalid: 0 });
    expect(await content(db2)).toEqual(await content(db));
    // And the second export is byte for byte the first, up to row order.
    const again = join(dir, 'again.csv');
    await runCli(['--db', db2, 'profile', 'export', '--out', again]);
    const sorted = (f: string) => readFileSync(f, 'utf8').split('\n').sort();
    expect(sorted(again)).toEqual(sorted(out));
  });

  it('--reachable email leaves out those opted out of email or of all channels', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'import', '-', '--json'], {
      stdin: 'email,optout_all,optout_email,optout_sms\nyes@example.com,0,0,1\nnoall@example.com,1,0,0\nnoemail@example.com,0,1,0\n',
    });
    const r = await runCli(['--db', db, 'profile', 'export', '--reachable', 'email']);
    const emails = r.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(emails).toEqual(['yes@example.com']);
    const o = await runCli(['--db', db, 'profile', 'export', '--opted-out', 'all']);
    expect(o.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0])).toEqual(['noall@example.com']);
  });

  it('--format jsonl writes one profile per line', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'import', join(FIX, 'bom-crlf.csv'), '--json']);
    const r = await runCli(['--db', db, 'profile', 'export', '--format', 'jsonl']);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ id: 1, email: 'anna.lind@example.com', phone: '+46701234567', optOut: { email: true } });
    expect(lines[0].createdAt).toBe('2026-01-02T03:04:05.000Z');
  });

  it('rejects an unknown channel', async () => {
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'export', '--reachable', 'pigeon']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('a reader that stops early (built binary)', () => {
  it('`… | head`: export, list and links stop quietly with 141, as SIGPIPE would, nothing on stderr', async () => {
    const { spawn } = await import('node:child_process');
    const db = (await tempStore(backend));
    const file = join(tempDir(), 'many.csv');
    writeFileSync(file, 'email,optout_sms\n' + Array.from({ length: 20000 }, (_, i) => `reader${i}@example.com,${i % 2}`).join('\n') + '\n');
    await runJson(db, ['profile', 'import', file, '--json']);
    await runCli(['--db', db, 'landing', 'create', 'p', '--type', 'blocklist', '--title', 'P']);
    await runCli(['--db', db, 'landing', 'publish', 'p', '--out-dir', join(tempDir(), 'public')]);
    for (const args of [['profile', 'export'], ['profile', 'list', '--json'], ['landing', 'links', 'p', '--format', 'jsonl', '--base-url', 'https://x.example']]) {
      const child = spawn(process.execPath, [join(process.cwd(), 'bin/consent.js'), '--db', db, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      // Read one chunk, then close our end, as `head -1` does.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect({ args: args.join(' '), code, stderr }).toEqual({ args: args.join(' '), code: 141, stderr: '' });
    }
  }, 60_000);
});
});
