import { rawSql } from './helpers/raw-store.js';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, scriptedPrompter, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';
import { join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';

describe.each(BACKENDS)('on %s', (backend) => {

async function withProfile(db: string, email = 'alice@example.com', extra: string[] = []) {
  return runJson(db, ['profile', 'add', '--email', email, ...extra, '--json']);
}

describe('profile add', () => {
  it('normalises email and phone and prints the new profile as JSON', async () => {
    const db = (await tempStore(backend));
    const p = await withProfile(db, '  Alice@Example.COM ', ['--phone', '+33 6 12-34-56-78', '--first-name', 'Alice', '--last-name', 'Martin']);
    expect(p).toMatchObject({
      id: 1,
      email: 'alice@example.com',
      phone: '+33612345678',
      firstName: 'Alice',
      lastName: 'Martin',
      optOut: { all: false, email: false, sms: false, phone: false, postal: false, fax: false, push: false },
      reachable: { email: true, sms: true, phone: true, postal: true, fax: true, push: true },
      createdAt: '2026-01-02T03:04:05.000Z',
      updatedAt: '2026-01-02T03:04:05.000Z',
    });
  });

  it('refuses an invalid email with exit 2, naming the field, and writes nothing', async () => {
    const db = (await tempStore(backend));
    const r = await runCli(['--db', db, 'profile', 'add', '--email', 'not-an-email', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr).error.message).toMatch(/Invalid email: "not-an-email" is not a valid email address/);
    // Not even an empty store is left behind.
    expect(existsSync(db)).toBe(false);
  });

  it('refuses a national phone number without a default country, naming the flag', async () => {
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'add', '--email', 'a@b.co', '--phone', '0612345678']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid phone: "0612345678" is a national number without a country: pass --default-country/);
  });

  it('refuses a duplicate email (any case) with exit 4', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    const r = await runCli(['--db', db, 'profile', 'add', '--email', 'ALICE@example.com', '--json']);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/already exists/);
  });

  it('requires --email (a commander usage error is exit 2)', async () => {
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'add']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--email/);
  });
});

describe('profile show', () => {
  it('finds a profile by id or by email in any case', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).email).toBe('alice@example.com');
    expect((await runJson(db, ['profile', 'show', 'ALICE@example.com', '--json'])).id).toBe(1);
  });

  it('exits 3 for an unknown ref, with nothing on stdout', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'add', '--email', 'someone@example.com', '--json']);
    for (const ref of ['42', 'nobody@example.com']) {
      const r = await runCli(['--db', db, 'profile', 'show', ref, '--json']);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`No profile`);
    }
  });

  it('exits 2 for a ref that is neither an id nor an email', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'add', '--email', 'someone@example.com', '--json']);
    const r = await runCli(['--db', db, 'profile', 'show', 'bob']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/neither a profile id nor an email/);
  });

  it('shows the seven flags, when and how each last changed, and reachability', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    await runCli(['--db', db, '--actor', 'jane', 'profile', 'optout', '1', '--channel', 'email', '--reason', 'asked']);
    const r = await runCli(['--db', db, 'profile', 'show', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No longer contact by email\t[x] yes\t2026-01-02T03:04:05.000Z\toptout by jane (operator)');
    expect(r.stdout).toContain('No longer contact (by any channel)\t[ ] no\t-\t-');
    expect(r.stdout).toMatch(/Reachable: email: no {2}sms/);
    const j = await runJson(db, ['profile', 'show', '1', '--json']);
    expect(j.lastChanged.email).toEqual({ action: 'optout', source: 'operator', actor: 'jane', occurredAt: '2026-01-02T03:04:05.000Z' });
  });

  it('draws a boxed table and colour on a terminal only, and never with NO_COLOR', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    await runCli(['--db', db, 'profile', 'optout', '1', '--all']);
    const tty = await runCli(['--db', db, 'profile', 'show', '1'], { tty: true });
    expect(tty.stdout).toContain('┌');
    expect(tty.stdout).toContain('\u001b[');
    const noColor = await runCli(['--db', db, 'profile', 'show', '1'], { tty: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).toContain('┌');
    expect(noColor.stdout).not.toContain('\u001b[');
    const flag = await runCli(['--db', db, 'profile', 'show', '1', '--no-color'], { tty: true });
    expect(flag.stdout).not.toContain('\u001b[');
    const piped = await runCli(['--db', db, 'profile', 'show', '1']);
    expect(piped.stdout).not.toContain('┌');
    expect(piped.stdout).not.toContain('\u001b[');
  });
});

describe('profile optout / optin', () => {
  it('opts out channel by channel, in the ledger with who, how and why', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    const r = await runCli(['--db', db, '--actor', 'jane', 'profile', 'optout', 'alice@example.com', '--channel', 'email, SMS', '--reason', 'by phone']);
    expect(r.code).toBe(0);
    const p = await runJson(db, ['profile', 'show', '1', '--json']);
    expect(p.optOut).toMatchObject({ all: false, email: true, sms: true, phone: false });
    expect(p.reachable).toMatchObject({ email: false, sms: false, phone: true });
    const h = await runJson(db, ['profile', 'history', '1', '--json']);
    expect(h).toHaveLength(2);
    expect(h[0]).toMatchObject({ action: 'optout', source: 'operator', actor: 'jane', reason: 'by phone', occurredAt: '2026-01-02T03:04:05.000Z' });
    expect(h.map((e: { channel: string }) => e.channel).sort()).toEqual(['email', 'sms']);
  });

  it('--all sets the any-channel flag alone; optin --all clears it and keeps the others', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'fax']);
    await runCli(['--db', db, 'profile', 'optout', '1', '--all']);
    let p = await runJson(db, ['profile', 'show', '1', '--json']);
    expect(p.optOut).toEqual({ all: true, email: false, sms: false, phone: false, postal: false, fax: true, push: false });
    expect(Object.values(p.reachable).every((v) => v === false)).toBe(true);
    await runCli(['--db', db, 'profile', 'optin', '1', '--all']);
    p = await runJson(db, ['profile', 'show', '1', '--json']);
    expect(p.optOut).toEqual({ all: false, email: false, sms: false, phone: false, postal: false, fax: true, push: false });
    expect(p.reachable).toEqual({ email: true, sms: true, phone: true, postal: true, fax: false, push: true });
  });

  it('a change that changes nothing records nothing and says so', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'email']);
    const again = await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'email']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/Nothing changed/);
    const optinNever = await runCli(['--db', db, 'profile', 'optin', '1', '--channel', 'sms']);
    expect(optinNever.stderr).toMatch(/Nothing changed/);
    expect(await runJson(db, ['profile', 'history', '1', '--json'])).toHaveLength(1);
  });

  it('refuses an unknown channel with exit 2, listing the valid ones, and changes nothing', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    const r = await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'email,pigeon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown channel "pigeon"');
    expect(r.stderr).toContain('all, email, sms, phone, postal, fax, push');
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).optOut.email).toBe(false);
  });

  it('exits 3 for an unknown profile', async () => {
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'optout', 'ghost@example.com', '--channel', 'email']);
    expect(r.code).toBe(3);
  });

  it('with no channel option and stdin not a terminal, exits 2 at once naming --channel', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    const r = await runCli(['--db', db, 'profile', 'optout', '1'], { prompter: scriptedPrompter([]) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--channel');
  });

  it('on a terminal shows the seven boxes pre-ticked from the profile and applies the difference', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'email,fax']);
    // The operator unticks fax and ticks sms.
    const prompter = scriptedPrompter([['email', 'sms']]);
    const r = await runCli(['--db', db, 'profile', 'optout', '1'], { tty: true, prompter });
    expect(r.code).toBe(0);
    const choices = prompter.asked[0]!.choices as { value: string; checked: boolean; name: string }[];
    expect(choices.map((c) => c.value)).toEqual(['all', 'email', 'sms', 'phone', 'postal', 'fax', 'push']);
    expect(choices.filter((c) => c.checked).map((c) => c.value)).toEqual(['email', 'fax']);
    expect(choices[0]!.name).toBe('No longer contact (by any channel)');
    const p = await runJson(db, ['profile', 'show', '1', '--json']);
    expect(p.optOut).toMatchObject({ email: true, sms: true, fax: false });
  });

  it('a cancelled prompt exits 130 and changes nothing', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    const { cancelled } = await import('../src/consent/errors.js');
    const r = await runCli(['--db', db, 'profile', 'optin', '1'], { tty: true, prompter: scriptedPrompter([cancelled()]) });
    expect(r.code).toBe(130);
    expect(await runJson(db, ['profile', 'history', '1', '--json'])).toEqual([]);
  });

  it('--json prints the profile after the change and the changes made', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    const j = await runJson(db, ['profile', 'optout', '1', '--channel', 'push', '--json']);
    expect(j.optOut.push).toBe(true);
    expect(j.changes).toEqual([{ channel: 'push', action: 'optout' }]);
  });

  it('takes the actor from CONSENT_ACTOR, then the OS user', async () => {
    const db = (await tempStore(backend));
    await withProfile(db);
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'sms'], { env: { CONSENT_ACTOR: 'ci-bot' } });
    await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'fax']);
    const h = await runJson(db, ['profile', 'history', '1', '--json']);
    expect(h.map((e: { actor: string }) => e.actor)).toEqual(['tester', 'ci-bot']);
  });
});

describe('profile list', () => {
  it('filters by reachable and opted-out channel, with a limit', async () => {
    const db = (await tempStore(backend));
    for (const e of ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io']) await withProfile(db, e);
    await runCli(['--db', db, 'profile', 'optout', 'b@x.io', '--channel', 'email']);
    await runCli(['--db', db, 'profile', 'optout', 'c@x.io', '--all']);
    const emails = (list: { email: string }[]) => list.map((p) => p.email);
    expect(emails(await runJson(db, ['profile', 'list', '--reachable', 'email', '--json']))).toEqual(['a@x.io', 'd@x.io']);
    expect(emails(await runJson(db, ['profile', 'list', '--reachable', 'sms', '--json']))).toEqual(['a@x.io', 'b@x.io', 'd@x.io']);
    expect(emails(await runJson(db, ['profile', 'list', '--opted-out', 'all', '--json']))).toEqual(['c@x.io']);
    expect(emails(await runJson(db, ['profile', 'list', '--limit', '2', '--json']))).toEqual(['a@x.io', 'b@x.io']);
    const full = await runJson(db, ['profile', 'list', '--opted-out', 'email', '--json']);
    expect(full[0]).toEqual(await runJson(db, ['profile', 'show', 'b@x.io', '--json']));
  });

  it('refuses an unknown channel filter and a bad limit with exit 2', async () => {
    const db = (await tempStore(backend));
    const r = await runCli(['--db', db, 'profile', 'list', '--reachable', 'all']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/email, sms, phone, postal, fax, push/);
    expect((await runCli(['--db', db, 'profile', 'list', '--limit', 'x'])).code).toBe(2);
  });

  it('pages through more profiles than one page', async () => {
    const db = (await tempStore(backend));
    await withProfile(db, 'first@x.io');
    const rows = Array.from({ length: 2500 }, (_, i) => `('p${i}@x.io', 'x', 'x')`).join(', ');
    await rawSql(db, `INSERT INTO profiles (email, created_at, updated_at) VALUES ${rows}`);
    const list = await runJson(db, ['profile', 'list', '--json']);
    expect(list).toHaveLength(2501);
    expect(new Set(list.map((p: { id: number }) => p.id)).size).toBe(2501);
  });
});

describe('blocklist-all', () => {
  async function setup() {
    const db = (await tempStore(backend));
    for (const e of ['a@x.io', 'b@x.io', 'c@x.io']) await withProfile(db, e);
    await runCli(['--db', db, 'profile', 'optout', 'c@x.io', '--all']);
    return db;
  }

  it('sets the any-channel flag on each ref, from arguments', async () => {
    const db = await setup();
    const r = await runCli(['--db', db, 'blocklist-all', 'a@x.io', '2', 'c@x.io', '--reason', 'complaint', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      dryRun: false,
      blocklisted: [
        { id: 1, email: 'a@x.io' },
        { id: 2, email: 'b@x.io' },
      ],
      alreadyBlocklisted: [{ id: 3, email: 'c@x.io' }],
      unknown: [],
    });
    const h = await runJson(db, ['profile', 'history', '2', '--json']);
    expect(h).toEqual([expect.objectContaining({ channel: 'all', action: 'optout', reason: 'complaint' })]);
  });

  it('reads refs from a file or stdin, skipping blanks and comments', async () => {
    const db = await setup();
    const file = join(tempDir(), 'refs.txt');
    writeFileSync(file, '# complaints\r\na@x.io\r\n\r\n');
    expect((await runCli(['--db', db, 'blocklist-all', '--file', file])).code).toBe(0);
    expect((await runCli(['--db', db, 'blocklist-all', '--file', '-'], { stdin: 'B@X.IO\n' })).code).toBe(0);
    const blocked = await runJson(db, ['profile', 'list', '--opted-out', 'all', '--json']);
    expect(blocked.map((p: { email: string }) => p.email)).toEqual(['a@x.io', 'b@x.io', 'c@x.io']);
  });

  it('--dry-run shows what would change and writes nothing', async () => {
    const db = await setup();
    const r = await runCli(['--db', db, 'blocklist-all', 'a@x.io', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would blocklist\t1\ta@x.io');
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).optOut.all).toBe(false);
  });

  it('lists unknown refs and writes nothing unless --skip-unknown', async () => {
    const db = await setup();
    const r = await runCli(['--db', db, 'blocklist-all', 'a@x.io', 'ghost@x.io', '99']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('ghost@x.io');
    expect(r.stderr).toContain('99');
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).optOut.all).toBe(false);
    const skip = await runCli(['--db', db, 'blocklist-all', 'a@x.io', 'ghost@x.io', '--skip-unknown']);
    expect(skip.code).toBe(0);
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).optOut.all).toBe(true);
  });

  it('refuses a malformed entry and a missing file', async () => {
    const db = await setup();
    const r = await runCli(['--db', db, 'blocklist-all', '--file', '-'], { stdin: 'a@x.io\nnot an email\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Entry 2');
    expect((await runCli(['--db', db, 'blocklist-all', '--file', '/nonexistent/refs.txt'])).code).toBe(3);
    expect((await runCli(['--db', db, 'blocklist-all'])).code).toBe(2);
  });
});
});
