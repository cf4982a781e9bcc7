/**
 * An audience as of a past moment is one snapshot, on both stores: the lists
 * the replay is given (the suppressed keys, the profiles whose phone changed
 * since) and every page of profiles are read from the same state, so an
 * import that changes a phone while the export is being written cannot set a
 * profile apart in the lists and match it by its new number on a later page.
 * The export is the built binary writing to a pipe this test does not read
 * until the import has committed: it is held in its first page of 5,000.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'consent.js');
const D1 = new Date('2025-12-29T10:00:00.000Z'); // the profiles, and a suppression of the number X will have
const T = '2025-12-30T10:00:00.000Z'; // the moment of the audience
const D3 = new Date('2026-01-07T10:00:00.000Z'); // the import that changes X's number, during the export
const D4 = new Date('2026-01-09T12:00:00.000Z');
const A = '+33612340001'; // X's number at T: free
const B = '+33612340002'; // X's number from D3: suppressed on sms since D1

describe.each(BACKENDS)('an as-of audience is one snapshot, on %s', (backend) => {
  it('an import that changes a phone during the export leaves the audience and its manifest as they stood', { timeout: 120_000 }, async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    const people = join(dir, 'people.csv');
    const N = 6000;
    let csv = 'email,phone\n';
    // Long addresses: the first page (5,000 rows, about 400 KB of CSV) is more than the pipe and the reader's buffer hold.
    for (let i = 1; i < N; i++) csv += `someone.with.a.rather.long.address.number.${i}@mail.example-company.com,\n`;
    csv += `x@x.io,${A}\n`; // X: the last profile, on the second page
    writeFileSync(people, csv);
    expect((await runCli(['--db', db, 'profile', 'import', people, '--json'], { now: D1 })).code).toBe(0);
    expect((await runCli(['--db', db, 'suppression', 'add', B, '--channel', 'sms', '--reason', 'complaint'], { now: D1 })).code).toBe(0);

    const manifest = join(dir, 'sms.json');
    const child = spawn(process.execPath, [BIN, '--db', db, 'profile', 'export', '--reachable', 'sms', '--as-of', T, '--manifest', manifest], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Its first chunk, then no more read: the pipe fills during the first page and holds the export there.
    let out = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      let first = true;
      child.stdout.on('data', (c: string) => {
        out += c;
        if (first) child.stdout.pause();
        first = false;
        resolve();
      });
      child.once('exit', (code) => reject(new Error(`the export ended early (${code}): ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 300));

    const change = join(dir, 'change.csv');
    writeFileSync(change, `email,phone\nx@x.io,${B}\n`);
    expect(await runJson(db, ['profile', 'import', change, '--json'], { now: D3 })).toMatchObject({ updated: 1, phoneChanges: 1 });

    child.stdout.resume();
    expect(await closed, stderr).toBe(0);
    const emails = out.trimEnd().split('\n').slice(1).map((l) => l.split(',')[0]);
    // At T, X had A (free): in the audience, as every profile.
    expect(emails).toHaveLength(N);
    expect(emails).toContain('x@x.io');
    const verify = await runCli(['--db', db, 'audience', 'verify', manifest], { now: D4 });
    expect(verify.code, verify.stderr).toBe(0);
    expect(await runJson(db, ['audience', 'prove', manifest, 'x@x.io', '--json'], { now: D4 })).toMatchObject({ member: true, verified: true });
    // And now X is out, by its new number.
    const now = await runCli(['--db', db, 'profile', 'export', '--reachable', 'sms'], { now: D4 });
    expect(now.stdout).not.toContain('x@x.io');
  });
});
