/**
 * `consent changes` (issue 17, the change feed) on both stores: resumed from
 * a cursor by a second process with nothing lost or repeated, `--follow`
 * seeing another process's change within a second and exiting 0 on SIGTERM,
 * cursors of another store (or malformed, or tampered) refused with exit 2,
 * erased profiles without their address, reachableAfter, and CSV.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, runCli, tempStore } from './helpers/run-cli.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'consent.js');

interface Line {
  cursor: string;
  id: number;
  profileId: number | null;
  email: string | null;
  channel: string;
  action: string;
  reachableAfter: boolean | null;
}

async function ok(db: string, ...argv: string[]) {
  const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' } });
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

/** The feed's lines: the events, then the final `{ cursor }`. */
function parse(stdout: string): { events: Line[]; cursor: string } {
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
  const last = lines.pop();
  expect(Object.keys(last)).toEqual(['cursor']);
  return { events: lines, cursor: last.cursor };
}

/** The built binary, a process of its own. */
function binary(db: string, ...argv: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, '--db', db, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONSENT_ACTOR: 'op' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(BACKENDS)('consent changes on %s', (backend) => {
  it('resumes from a cursor in a second process with nothing lost or repeated; erased profiles carry no address; reachableAfter; csv', async () => {
    const db = await tempStore(backend);
    await ok(db, 'profile', 'add', '--email', 'ann@x.io');
    await ok(db, 'profile', 'add', '--email', 'bob@x.io', '--phone', '+33612345678');
    await ok(db, 'profile', 'optout', 'ann@x.io', '--channel', 'email', '--reason', 'r1');
    const first = await ok(db, 'changes');
    const a = parse(first.stdout);
    expect(a.events.map((e) => [e.id, e.action, e.email, e.reachableAfter])).toEqual([[1, 'optout', 'ann@x.io', false]]);
    expect(first.stderr).toContain(`Next cursor: ${a.cursor}`);

    // More changes, then the feed read on from the cursor by another process.
    await ok(db, 'profile', 'optin', 'ann@x.io', '--channel', 'email', '--reason', 'r2');
    await ok(db, 'suppression', 'add', 'bob@x.io', '--reason', 'hard-bounce');
    await ok(db, 'profile', 'optout', 'bob@x.io', '--channel', 'all', '--reason', 'r3');
    await ok(db, 'profile', 'erase', 'bob@x.io', '--reason', 'asked', '--yes');
    const second = binary(db, 'changes', '--since', a.cursor);
    expect(await second.exit, second.stderr()).toBe(0);
    const b = parse(second.stdout());
    const all = parse((await ok(db, 'changes')).stdout);
    expect([...a.events, ...b.events].map((e) => e.id)).toEqual(all.events.map((e) => e.id));
    expect(new Set(all.events.map((e) => e.id)).size).toBe(all.events.length);
    expect(b.cursor).toBe(all.cursor);
    expect(b.events.map((e) => [e.profileId, e.channel, e.action, e.reachableAfter])).toEqual([
      [1, 'email', 'optin', true],
      [null, 'email', 'suppress', null], // an address event: no person, no address
      [2, 'all', 'optout', false],
      [null, 'email', 'suppress', null], // the erasure's keyed-only entries
      [null, 'sms', 'suppress', null],
      [null, 'phone', 'suppress', null],
      [2, 'all', 'erase', false],
    ]);
    // The erased profile: no address on any of its events, never the placeholder.
    const text = JSON.stringify(all.events);
    expect(all.events.filter((e) => e.profileId === 2).every((e) => e.email === null)).toBe(true);
    expect(text).not.toContain('bob@x.io');
    expect(text).not.toContain('@invalid');
    // Nothing after the last cursor.
    expect(parse((await ok(db, 'changes', '--since', all.cursor)).stdout).events).toEqual([]);

    // --channel sms: the sms events and those of `all`, reachableAfter for sms; csv.
    const csv = (await ok(db, 'changes', '--channel', 'sms', '--format', 'csv')).stdout.trim().split('\n');
    expect(csv[0]).toBe('cursor,id,profileId,email,channel,service,action,source,actor,occurredAt,reachableAfter');
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => [r[1], r[2], r[3], r[4], r[6], r[10]])).toEqual([
      ['4', '2', '', 'all', 'optout', 'false'],
      ['6', '', '', 'sms', 'suppress', ''],
      ['8', '2', '', 'all', 'erase', 'false'],
    ]);
  });

  // A timing bound on a shared, loaded machine: a run that the scheduler starved of CPU for a second is run again (the bound stays 1 s).
  it('--follow sees a change made by another process within a second, and SIGTERM ends it with exit 0 and the cursor', { retry: 2 }, async () => {
    const db = await tempStore(backend);
    await ok(db, 'profile', 'add', '--email', 'ann@x.io');
    const start = parse((await ok(db, 'changes')).stdout).cursor;
    const follow = binary(db, 'changes', '--follow', '--since', start);
    const seen = (n: number) => follow.stdout().split('\n').filter((l) => l.startsWith('{"cursor":"c1.') && l.includes('"id"')).length >= n;
    // The first change shows that the follower is up (its start may be slow on a loaded machine).
    await ok(db, 'profile', 'optout', 'ann@x.io', '--channel', 'sms', '--reason', 'r1');
    await until(() => seen(1), 30_000);
    await ok(db, 'profile', 'optout', 'ann@x.io', '--channel', 'email', '--reason', 'r2');
    const committed = Date.now();
    await until(() => seen(2), 5_000);
    expect(Date.now() - committed).toBeLessThan(1_000);
    follow.child.kill('SIGTERM');
    expect(await follow.exit, follow.stderr()).toBe(0);
    const { events, cursor } = parse(follow.stdout());
    expect(events.map((e) => [e.id, e.channel, e.action])).toEqual([
      [1, 'sms', 'optout'],
      [2, 'email', 'optout'],
    ]);
    expect(cursor).toBe(events[1]!.cursor);
  });

  it('refuses a cursor from another store, a malformed one, and a tampered one (exit 2); takes one on a store copy', async () => {
    const db = await tempStore(backend);
    const other = await tempStore('sqlite');
    await ok(db, 'profile', 'add', '--email', 'ann@x.io');
    await ok(db, 'profile', 'optout', 'ann@x.io', '--channel', 'sms', '--reason', 'r1');
    await ok(other, 'profile', 'add', '--email', 'ann@x.io');
    await ok(other, 'profile', 'optout', 'ann@x.io', '--channel', 'sms', '--reason', 'r1');
    const theirs = parse((await ok(other, 'changes')).stdout).cursor;
    const foreign = await runCli(['--db', db, 'changes', '--since', theirs]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toContain('another consent store');
    expect(foreign.stdout).toBe('');
    expect((await runCli(['--db', db, 'changes', '--since', 'not-a-cursor'])).code).toBe(2);
    // This store's id with a block hash that is not this ledger's.
    const [storeId, id, block] = JSON.parse(Buffer.from(parse((await ok(db, 'changes')).stdout).cursor.slice(3), 'base64url').toString());
    const forged = `c1.${Buffer.from(JSON.stringify([storeId, id, block, '0123456789abcdef'])).toString('base64url')}`;
    const tampered = await runCli(['--db', db, 'changes', '--since', forged]);
    expect(tampered.code).toBe(2);
    expect(tampered.stderr).toContain('not in this store');

    // A copy (store copy: the same settings, the same ledger) is the same store for cursors.
    const mine = parse((await ok(db, 'changes')).stdout);
    const copy = await tempStore('sqlite');
    await ok(db, 'store', 'copy', db, copy);
    await ok(copy, 'profile', 'optin', 'ann@x.io', '--channel', 'sms', '--reason', 'r2');
    expect(parse((await ok(copy, 'changes', '--since', mine.events[0]!.cursor)).stdout).events.map((e) => [e.id, e.action])).toEqual([[2, 'optin']]);
  });
});
