/**
 * The suppression list through the command line, on both stores: reachability
 * by address on email, sms and phone (a second profile with the same number
 * too) in every list handed to a sending system, expiry, lifting (a complaint
 * only with --force), every import format from its fixture, bad lines named,
 * dry runs, and the ledger: verifying, with no address in clear in it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, FIXED_NOW, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

const FIXTURES = join(process.cwd(), 'fixtures/suppression');
const fixture = (name: string) => join(FIXTURES, name);
const ids = (list: { id: number }[]) => list.map((p) => p.id);
const csvColumn = (csv: string, i: number) => csv.trim().split('\n').slice(1).map((l) => l.split(',')[i]);
const later = (days: number) => new Date(FIXED_NOW.getTime() + days * 86_400_000);

async function ok(db: string, argv: string[], options = {}) {
  const r = await runCli(['--db', db, ...argv], options);
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

const entries = async (db: string, extra: string[] = []) =>
  (await runJson<{ channel: string; address: string; reason: string; origin: string }[]>(db, ['suppression', 'list', '--json', ...extra])).map(
    (e) => `${e.channel} ${e.address} ${e.reason}`,
  );

/** Every ledger row as stored, and no email or phone in clear among them. */
async function ledgerHasNoAddress(db: string, addresses: string[]): Promise<number> {
  const rows = await rawSql(db, 'SELECT * FROM ledger_events ORDER BY id');
  const text = JSON.stringify(rows);
  for (const a of addresses) expect(text, a).not.toContain(a);
  expect(text).not.toMatch(/@/);
  return rows.length;
}

describe.each(BACKENDS)('suppression list on %s', (backend) => {
  it('blocks by address on email, sms and phone, for every profile holding it, in every list handed to a sending system', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['profile', 'add', '--email', 'ann@x.io', '--phone', '+33612345678']);
    await ok(db, ['profile', 'add', '--email', 'bob@x.io', '--phone', '+33612345678']); // the same phone
    await ok(db, ['profile', 'add', '--email', 'cy@x.io', '--phone', '+33699999999']);
    await ok(db, ['profile', 'add', '--email', 'dee@x.io']);
    await ok(db, ['service', 'create', 'news', '--label', 'News', '--double-opt-in']);
    for (const p of ['ann@x.io', 'bob@x.io', 'cy@x.io', 'dee@x.io']) await ok(db, ['profile', 'subscribe', p, 'news']);
    await ok(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop']);
    mkdirSync(join(dir, 'public'));
    await ok(db, ['landing', 'publish', 'stop', '--out-dir', join(dir, 'public')]);

    const added = await runJson(db, ['suppression', 'add', 'Ann@X.io', '--reason', 'hard-bounce', '--json']);
    expect(added).toMatchObject({ added: 1, entries: [{ outcome: 'added', channel: 'email', address: 'ann@x.io', reason: 'hard-bounce', origin: 'operator' }] });
    await ok(db, ['suppression', 'add', '+33 6 12 34 56 78', '--reason', 'sms-stop', '--channel', 'sms']);
    await ok(db, ['suppression', 'add', '0699999999', '--reason', 'manual', '--channel', 'phone', '--default-country', 'FR', '--note', 'asked by letter']);

    const list = async (...f: string[]) => ids(await runJson(db, ['profile', 'list', ...f, '--json']));
    expect(await list('--reachable', 'email')).toEqual([2, 3, 4]);
    expect(await list('--unreachable', 'email')).toEqual([1]);
    expect(await list('--reachable', 'sms')).toEqual([3, 4]);
    expect(await list('--unreachable', 'sms')).toEqual([1, 2]);
    expect(await list('--reachable', 'phone')).toEqual([1, 2, 4]);
    expect(await list('--unreachable', 'phone')).toEqual([3]);
    expect(await list('--reachable', 'postal')).toEqual([1, 2, 3, 4]);
    const exported = await ok(db, ['profile', 'export', '--reachable', 'email']);
    expect(csvColumn(exported.stdout, 0)).toEqual(['bob@x.io', 'cy@x.io', 'dee@x.io']);
    const links = await ok(db, ['landing', 'links', 'stop', '--reachable', 'sms', '--base-url', 'https://p.example.com']);
    expect(csvColumn(links.stdout, 0).map(Number)).toEqual([3, 4]);
    const confirmations = await ok(db, ['service', 'confirmations', 'news']);
    expect(csvColumn(confirmations.stdout, 0).map(Number)).toEqual([2, 3, 4]);
    expect(confirmations.stderr).toMatch(/Left out 1 pending subscriber .*suppression list/);

    const ann = await runJson(db, ['profile', 'show', 'ann@x.io', '--json']);
    expect(ann.reachable).toMatchObject({ email: false, sms: false, phone: true, postal: true });
    expect(ann.suppressions).toEqual([
      { channel: 'email', address: 'ann@x.io', reason: 'hard-bounce', origin: 'operator', since: FIXED_NOW.toISOString(), expiresAt: null, note: null },
      { channel: 'sms', address: '+33612345678', reason: 'sms-stop', origin: 'operator', since: FIXED_NOW.toISOString(), expiresAt: null, note: null },
    ]);
    const shown = await ok(db, ['profile', 'show', 'cy@x.io']);
    expect(shown.stdout).toContain('Suppressed on phone: +33699999999 (manual, operator, since 2026-01-02T03:04:05.000Z; asked by letter)');
    // Confirmed subscribers: the receiving count leaves out a suppressed address.
    for (const p of ['ann@x.io', 'bob@x.io']) await ok(db, ['profile', 'subscribe', p, 'news', '--confirmed', '--reason', 'paper form']);
    expect(await runJson(db, ['service', 'show', 'news', '--json'])).toMatchObject({ subscribers: 2, receiving: 1 });
    const sub = await ok(db, ['profile', 'optin', 'ann@x.io', '--channel', 'email']);
    expect(sub.stderr).toContain('ann@x.io is on the suppression list for email (hard-bounce');
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });
  });

  it('a profile added or imported after the suppression is unreachable from the start; the import says how many rows are suppressed', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['suppression', 'add', 'later@x.io', '+33611111111', '--reason', 'complaint']);
    expect(await entries(db)).toEqual(['email later@x.io complaint', 'phone +33611111111 complaint', 'sms +33611111111 complaint']);
    const file = join(dir, 'people.csv');
    writeFileSync(file, 'email,phone\nLATER@x.io,\nfine@x.io,+33611111111\nclear@x.io,+33622222222\n');
    const summary = await runJson(db, ['profile', 'import', file, '--json']);
    expect(summary).toMatchObject({ new: 3, suppressedAddresses: 2 });
    expect((await ok(db, ['profile', 'import', file])).stdout).toContain('suppressed addresses: 2');
    await ok(db, ['profile', 'add', '--email', 'another@x.io', '--phone', '+33611111111']);
    expect(ids(await runJson(db, ['profile', 'list', '--reachable', 'email', '--json']))).toEqual([2, 3, 4]);
    expect(ids(await runJson(db, ['profile', 'list', '--reachable', 'sms', '--json']))).toEqual([1, 3]);
  });

  it('an entry past its expiry no longer blocks; list shows it with --include-expired', async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'a@x.io']);
    await ok(db, ['suppression', 'add', 'a@x.io', '--reason', 'manual', '--expires', '30d']);
    const at = (days: number) => ({ now: later(days) });
    expect(ids(await runJson(db, ['profile', 'list', '--reachable', 'email', '--json'], at(29)))).toEqual([]);
    expect(ids(await runJson(db, ['profile', 'list', '--reachable', 'email', '--json'], at(31)))).toEqual([1]);
    expect((await runJson(db, ['profile', 'show', 'a@x.io', '--json'], at(31))).suppressions).toEqual([]);
    expect(await runJson(db, ['suppression', 'list', '--json'], at(31))).toEqual([]);
    expect(await runJson(db, ['suppression', 'list', '--include-expired', '--json'], at(31))).toMatchObject([
      { address: 'a@x.io', expiresAt: later(30).toISOString(), active: false },
    ]);
    const bad = await runCli(['--db', db, 'suppression', 'add', 'b@x.io', '--reason', 'manual', '--expires', 'soon']);
    expect([bad.code, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toContain('--expires "soon"');
  });

  it('lifting a complaint needs --force: refused with exit 2 and nothing changed, then lifted and recorded; the ledger verifies and holds no address', async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'c@x.io', '--phone', '+33633333333']);
    await ok(db, ['suppression', 'add', 'c@x.io', '--reason', 'complaint']);
    await ok(db, ['suppression', 'add', 'm@x.io', '+33633333333', '--reason', 'manual']);
    const before = await ledgerHasNoAddress(db, ['c@x.io', 'm@x.io', '33633333333']);
    const refused = await runCli(['--db', db, 'suppression', 'remove', 'm@x.io', 'c@x.io', '--reason', 'asked to come back']);
    expect([refused.code, refused.stdout]).toEqual([2, '']);
    expect(refused.stderr).toContain('c@x.io (email) is suppressed for complaint');
    expect(refused.stderr).toContain('--force');
    expect(await entries(db)).toEqual(['email c@x.io complaint', 'email m@x.io manual', 'phone +33633333333 manual', 'sms +33633333333 manual']);
    expect(await ledgerHasNoAddress(db, [])).toBe(before);
    const missing = await runCli(['--db', db, 'suppression', 'remove', 'nobody@x.io', '--reason', 'x']);
    expect(missing.code).toBe(3);
    const lifted = await runJson(db, ['suppression', 'remove', 'c@x.io', '+33633333333', '--reason', 'asked to come back', '--force', '--json']);
    expect(lifted).toMatchObject({ lifted: 3, absent: 0 });
    expect(await entries(db)).toEqual(['email m@x.io manual']);
    expect(ids(await runJson(db, ['profile', 'list', '--reachable', 'email', '--json']))).toEqual([1]);
    const events = await rawSql(db, "SELECT action, reason, evidence, actor, source FROM ledger_events WHERE action = 'unsuppress' ORDER BY id");
    expect(events[0]).toEqual({ action: 'unsuppress', reason: 'asked to come back', evidence: '{"forced":true,"liftedReason":"complaint"}', actor: 'tester', source: 'operator' });
    expect(events).toHaveLength(3);
    expect(await ledgerHasNoAddress(db, ['c@x.io', 'm@x.io', '33633333333'])).toBe(before + 3);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true, events: before + 3 });
  });

  it.each([
    ['ses-suppression-list.csv', 'ses', ['email bounce1@example.com hard-bounce', 'email bounce3@example.org hard-bounce', 'email complaint.two@example.com complaint']],
    ['ses-suppression-list.jsonl', 'ses', ['email bounce1@example.com hard-bounce', 'email complaint2@example.com complaint']],
    ['ses-list-suppressed-destinations.json', 'ses', ['email bounce1@example.com hard-bounce', 'email complaint2@example.com complaint']],
    ['postmark-suppressions-dump.json', 'postmark', [
      'email blocked.by.us@example.com manual', 'email hard.bounce@example.com hard-bounce',
      'email spam.complaint@example.com complaint', 'email unsubscribed@example.com unsubscribe',
    ]],
    ['sendgrid-bounces.csv', 'sendgrid', ['email bounced@example.com hard-bounce', 'email gone@example.net hard-bounce']],
    ['sendgrid-spam-reports.csv', 'sendgrid', ['email spam1@example.com complaint']],
    ['sendgrid-global-unsubscribes.csv', 'sendgrid', ['email alsoleft@example.com unsubscribe', 'email left@example.com unsubscribe']],
    ['consent-export.csv', 'consent', ['email a@example.com hard-bounce', 'phone +33612345678 manual', 'sms +33612345678 sms-stop']],
  ])('imports %s (%s) with origin import:<file>', async (file, format, expected) => {
    const db = await tempStore(backend);
    const summary = await runJson(db, ['suppression', 'import', fixture(file), '--json']);
    expect(summary).toMatchObject({ format, dryRun: false, invalid: 0, added: expected.length, already: 0, origin: `import:${file}` });
    expect(await entries(db)).toEqual(expected);
    const origins = await runJson<{ origin: string }[]>(db, ['suppression', 'list', '--json']);
    expect(new Set(origins.map((o) => o.origin))).toEqual(new Set([`import:${file}`]));
    // The same file again changes nothing; --format names the file's provider.
    expect(await runJson(db, ['suppression', 'import', fixture(file), '--format', format, '--json'])).toMatchObject({ added: 0, already: expected.length });
  });

  it('names every bad line and writes nothing; --skip-invalid imports the rest; --dry-run writes nothing; a wrong --format is refused', async () => {
    const db = await tempStore(backend);
    const bad = await runCli(['--db', db, 'suppression', 'import', fixture('ses-bad.csv')]);
    expect([bad.code, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toContain('line 3, email: "not-an-address" is not an email address');
    expect(bad.stderr).toContain('line 4, reason: "DEFERRED" is not BOUNCE or COMPLAINT');
    expect(bad.stderr).toContain('2 of 4 entries in');
    const asJson = await runCli(['--db', db, 'suppression', 'import', fixture('ses-bad.csv'), '--json']);
    expect(JSON.parse(asJson.stderr.trim().split('\n').pop()!).error.details).toMatchObject({
      records: 4, invalid: 2, errors: [{ line: 3, field: 'email' }, { line: 4, field: 'reason' }],
    });
    // Bad input changes nothing: not even a store is created.
    expect((await runCli(['--db', db, 'suppression', 'list'])).code).toBe(3);
    await ok(db, ['store', 'init']);
    expect((await runCli(['--db', db, 'suppression', 'import', fixture('ses-bad.csv')])).code).toBe(2);
    expect(await entries(db)).toEqual([]);
    expect(await rawSql(db, 'SELECT count(*) AS n FROM ledger_events')).toEqual([{ n: backend === 'postgres' ? '0' : 0 }]);

    const dry = await runJson(db, ['suppression', 'import', fixture('postmark-suppressions-dump.json'), '--dry-run', '--json']);
    expect(dry).toMatchObject({ dryRun: true, added: 4, byReason: { 'hard-bounce': 1, complaint: 1, unsubscribe: 1, manual: 1 } });
    expect(await entries(db)).toEqual([]);

    const skipped = await runCli(['--db', db, 'suppression', 'import', fixture('ses-bad.csv'), '--skip-invalid', '--json']);
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ added: 2, invalid: 2 });
    expect(skipped.stderr).toContain('skipped line 3, email');
    expect(await entries(db)).toEqual(['email ok1@example.com hard-bounce', 'email ok2@example.com complaint']);

    const wrong = await runCli(['--db', db, 'suppression', 'import', fixture('postmark-suppressions-dump.json'), '--format', 'ses']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('does not look like a ses file');
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true, events: 2 });
  });

  it('exports what is in force (CSV and JSON lines, atomically to --out) in the format import reads back', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['suppression', 'add', 'a@x.io', '--reason', 'hard-bounce', '--note', '=cmd|x']);
    await ok(db, ['suppression', 'add', '+33612345678', '--channel', 'sms', '--reason', 'sms-stop', '--expires', '2030-01-01T00:00:00Z']);
    const out = join(dir, 'list.csv');
    const r = await ok(db, ['suppression', 'export', '--out', out]);
    expect(r.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(
      'channel,address,reason,origin,created_at,expires_at,note\n' +
        `email,a@x.io,hard-bounce,operator,${FIXED_NOW.toISOString()},,'=cmd|x\n` +
        `sms,+33612345678,sms-stop,operator,${FIXED_NOW.toISOString()},2030-01-01T00:00:00.000Z,\n`,
    );
    const jsonl = (await ok(db, ['suppression', 'export', '--format', 'jsonl'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(jsonl.map((e) => e.address)).toEqual(['a@x.io', '+33612345678']);
    const other = await tempStore(backend);
    expect(await runJson(other, ['suppression', 'import', out, '--json'])).toMatchObject({ format: 'consent', added: 2 });
    expect((await runJson(other, ['suppression', 'list', '--json'])).map((e: { note: string; expiresAt: string }) => [e.note, e.expiresAt])).toEqual([
      ['=cmd|x', null],
      [null, '2030-01-01T00:00:00.000Z'],
    ]);
  });
});
