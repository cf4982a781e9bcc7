/**
 * `consent feedback ingest` (issue 13, bounces and complaints), on both
 * stores, through the command line: the fixtures in fixtures/feedback/ and
 * reports made from them (another Message-ID, Date or recipient; the ARF
 * complaint with a one-click link the test signs with the store's key).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FeedbackSummary } from '../src/feedback/ingest.js';
import type { Suppression } from '../src/consent/suppressions.js';
import { openStore } from '../src/store/index.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, runCli, runJson, tempDir, tempStore, type Backend } from './helpers/run-cli.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'feedback');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

/** The Exim 4.2.2 DSN, for another recipient, Message-ID and Date. */
function softBounce(to: string, id: string, date: string): string {
  return fixture('exim-soft-bounce-4.2.2.eml')
    .replaceAll('full.box@example.net', to)
    .replace('<E1tHq2r-0003kL-2B@relay.shop.example>', `<${id}@relay.shop.example>`)
    .replace('Date: Tue, 01 Dec 2026 10:30:02 +0000', `Date: ${new Date(date).toUTCString()}`);
}

/** The Yahoo-style ARF complaint (recipient redacted) whose original carries this List-Unsubscribe link. */
function complaint(oneClickUrl: string, reportId = 'fbl-7f3a9c'): string {
  return fixture('arf-complaint.eml.template').replace('{{ONE_CLICK_URL}}', oneClickUrl).replace('{{REPORT_ID}}', reportId);
}

type Summary = FeedbackSummary;

const NONE = { messages: 0, hardBounces: 0, softBounces: 0, complaints: 0, suppressedNow: 0, alreadySuppressed: 0, optedOut: 0, unknownAddresses: 0, alreadyIngested: 0, skipped: [], malformed: [] };

describe.each(BACKENDS)('feedback ingest on %s', (backend: Backend) => {
  /** A store with three profiles and a published blocklist page `stop`. */
  async function store(): Promise<string> {
    const db = await tempStore(backend);
    for (const email of ['gone.away@example.org', 'full.box@example.net', 'carol@example.com']) {
      await runJson(db, ['profile', 'add', '--email', email, '--json']);
    }
    await runJson(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop', '--json']);
    await runJson(db, ['landing', 'publish', 'stop', '--out-dir', join(tempDir(), 'public'), '--json']);
    return db;
  }
  const ingest = (db: string, path: string, flags: string[] = []) => runJson<Summary>(db, ['feedback', 'ingest', path, '--json', ...flags]);
  const folderOf = (files: Record<string, string>) => {
    const dir = tempDir();
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
  /** The suppression list, every entry (read through the store: the list's own commands are another part of the issue). */
  const suppressions = async (db: string) => {
    const store = await openStore(db);
    try {
      const all: Suppression[] = [];
      for await (const s of store.suppressions.list({ includeExpired: true })) all.push(s);
      return all;
    } finally {
      await store.close();
    }
  };
  /** Whether `profile list --reachable email` (the one reachability predicate) has this email. */
  const reachableEmail = async (db: string, email: string) =>
    (await runJson<{ email: string }[]>(db, ['profile', 'list', '--reachable', 'email', '--json'])).some((p) => p.email === email);

  it('a hard bounce (5.1.1) suppresses the address; the profile is unreachable by email', async () => {
    const db = await store();
    const s = await ingest(db, join(FIXTURES, 'postfix-hard-bounce-5.1.1.eml'));
    expect(s).toEqual({ ...NONE, messages: 1, hardBounces: 1, suppressedNow: 1 });
    expect(await suppressions(db)).toMatchObject([{ address: 'gone.away@example.org', reason: 'hard-bounce', origin: 'feedback:postfix-hard-bounce-5.1.1.eml' }]);
    expect(await reachableEmail(db, 'gone.away@example.org')).toBe(false);
    expect(await reachableEmail(db, 'carol@example.com')).toBe(true);
  });

  it('three soft bounces within the window suppress; two do not, nor three spread beyond it', async () => {
    const db = await store();
    const near = folderOf({
      'a.eml': softBounce('full.box@example.net', 'n1', '2026-11-01T10:00:00Z'),
      'b.eml': softBounce('full.box@example.net', 'n2', '2026-11-08T10:00:00Z'),
    });
    expect(await ingest(db, near)).toEqual({ ...NONE, messages: 2, softBounces: 2 });
    expect(await suppressions(db)).toEqual([]);
    const third = folderOf({ 'c.eml': softBounce('full.box@example.net', 'n3', '2026-11-14T09:00:00Z') });
    expect(await ingest(db, third)).toEqual({ ...NONE, messages: 1, softBounces: 1, suppressedNow: 1 });
    expect(await suppressions(db)).toMatchObject([{ address: 'full.box@example.net', reason: 'soft-bounce', origin: 'feedback:c.eml' }]);
    expect(await reachableEmail(db, 'full.box@example.net')).toBe(false);

    // 20 days apart each: never three within 14 days (and --soft-bounces/--soft-window are honoured).
    const spread = folderOf({
      '1.eml': softBounce('carol@example.com', 's1', '2026-10-01T10:00:00Z'),
      '2.eml': softBounce('carol@example.com', 's2', '2026-10-21T10:00:00Z'),
      '3.eml': softBounce('carol@example.com', 's3', '2026-11-10T10:00:00Z'),
    });
    expect(await ingest(db, spread)).toEqual({ ...NONE, messages: 3, softBounces: 3 });
    expect(await reachableEmail(db, 'carol@example.com')).toBe(true);
    const wider = folderOf({ '4.eml': softBounce('carol@example.com', 's4', '2026-11-12T10:00:00Z') });
    expect(await ingest(db, wider, ['--soft-bounces', '2', '--soft-window', '3d'])).toMatchObject({ softBounces: 1, suppressedNow: 1 });
  });

  it('soft bounces keep no trace of the address, only its keyed hash', async () => {
    const db = await store();
    const address = 'never.seen@example.net';
    const s = await ingest(db, folderOf({ 'x.eml': softBounce(address, 'u1', '2026-11-01T10:00:00Z') }));
    expect(s).toEqual({ ...NONE, messages: 1, softBounces: 1, unknownAddresses: 1 });
    expect(await storeText(db)).not.toContain(address);
    expect(await storeText(db)).not.toContain('never.seen');
  });

  it('a complaint with a redacted recipient is found through the original List-Unsubscribe: opted out of email and suppressed', async () => {
    const db = await store();
    const link = await runJson(db, ['landing', 'link', 'stop', '--profile', 'carol@example.com', '--base-url', 'https://pages.shop.example', '--json']);
    expect(link.headers).toEqual({ 'List-Unsubscribe': `<${link.oneClickUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
    const dir = folderOf({ 'yahoo-fbl.eml': complaint(link.oneClickUrl) });
    const s = await ingest(db, dir);
    expect(s).toEqual({ ...NONE, messages: 1, complaints: 1, optedOut: 1, suppressedNow: 1 });
    const carol = await runJson(db, ['profile', 'show', 'carol@example.com', '--json']);
    expect(carol.optOut).toMatchObject({ email: true, all: false });
    const [event] = await runJson(db, ['profile', 'history', 'carol@example.com', '--json']);
    expect(event).toMatchObject({
      channel: 'email', action: 'optout', source: 'feedback:yahoo-fbl.eml', actor: 'mailbox-provider',
      evidence: { report: 'message-id:<fbl-7f3a9c@arf.mail.yahoo.com>', feedbackType: 'abuse', ingestedBy: 'tester' },
    });
    expect(await suppressions(db)).toMatchObject([{ address: 'carol@example.com', reason: 'complaint', origin: 'feedback:yahoo-fbl.eml' }]);
    expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
  });

  it('a forged or foreign link finds nobody: counted unknown, nothing changed', async () => {
    const db = await store();
    const link = await runJson(db, ['landing', 'link', 'stop', '--profile', 'carol@example.com', '--base-url', 'https://pages.shop.example', '--json']);
    const token = new URL(link.oneClickUrl).searchParams.get('t')!;
    // The same token for another profile id, with the signature left as it was.
    const bytes = Buffer.from(token, 'base64url');
    bytes.writeUInt32BE(1, 9);
    const forged = link.oneClickUrl.replace(token, bytes.toString('base64url'));
    const other = await tempStore(backend); // a token signed by another store's key
    await runJson(other, ['profile', 'add', '--email', 'carol@example.com', '--json']);
    await runJson(other, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop', '--json']);
    await runJson(other, ['landing', 'publish', 'stop', '--out-dir', join(tempDir(), 'public'), '--json']);
    const foreign = (await runJson(other, ['landing', 'link', 'stop', '--profile', 'carol@example.com', '--json'])).oneClickUrl;
    const s = await ingest(db, folderOf({ 'f1.eml': complaint(forged, 'f1'), 'f2.eml': complaint(`https://pages.shop.example${foreign}`, 'f2') }));
    expect(s).toEqual({ ...NONE, messages: 2, complaints: 2, unknownAddresses: 2 });
    expect(await suppressions(db)).toEqual([]);
    for (const email of ['gone.away@example.org', 'carol@example.com']) expect(await reachableEmail(db, email)).toBe(true);
    expect(await runJson(db, ['profile', 'history', 'gone.away@example.org', '--json'])).toEqual([]);
  });

  it('a complaint that is not redacted, without a link of ours, is found by its Original-Rcpt-To', async () => {
    const db = await store();
    const report = complaint('mailto:unsubscribe@shop.example', 'jmrp-1').replace('Original-Rcpt-To: <redacted@yahoo.com>', 'Original-Rcpt-To: Gone.Away@example.org');
    const s = await ingest(db, folderOf({ 'jmrp.eml': report }));
    expect(s).toEqual({ ...NONE, messages: 1, complaints: 1, optedOut: 1, suppressedNow: 1 });
    expect((await runJson(db, ['profile', 'show', 'gone.away@example.org', '--json'])).optOut.email).toBe(true);
  });

  it('the same folder ingested twice changes nothing the second time; skipped and malformed are named; ledger verify passes', async () => {
    const db = await store();
    const link = await runJson(db, ['landing', 'link', 'stop', '--profile', 'carol@example.com', '--base-url', 'https://pages.shop.example', '--json']);
    const dir = folderOf({
      'postfix-hard-bounce-5.1.1.eml': fixture('postfix-hard-bounce-5.1.1.eml'),
      'exim-soft-bounce-4.2.2.eml': fixture('exim-soft-bounce-4.2.2.eml'),
      'yahoo-fbl.eml': complaint(link.oneClickUrl),
      'not-a-report.eml': fixture('not-a-report.eml'),
      'malformed-report.eml': fixture('malformed-report.eml'),
    });
    mkdirSync(join(dir, 'sub')); // sub-folders are left out
    const first = await runCli(['--db', db, 'feedback', 'ingest', dir, '--json']);
    expect(first.code).toBe(0);
    const skipped = [{ file: 'not-a-report.eml', reason: expect.stringContaining('neither') }];
    const malformed = [{ file: 'malformed-report.eml', reason: expect.stringContaining('message/delivery-status') }];
    expect(JSON.parse(first.stdout)).toEqual({ ...NONE, messages: 5, hardBounces: 1, softBounces: 1, complaints: 1, optedOut: 1, suppressedNow: 2, skipped, malformed });
    expect(first.stderr).toContain('Skipped not-a-report.eml: ');
    expect(first.stderr).toContain('Malformed malformed-report.eml: ');
    const before = { list: await suppressions(db), events: await rawSql(db, 'SELECT count(*) AS n FROM ledger_events') };

    const again = await runCli(['--db', db, 'feedback', 'ingest', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already ingested\t3');
    expect(again.stdout).toContain('suppressed now\t0');
    expect(again.stdout).toMatch(/^skipped\t1$/m);
    expect(again.stdout).toMatch(/^malformed\t1$/m);
    expect(await ingest(db, dir)).toEqual({ ...NONE, messages: 5, alreadyIngested: 3, skipped, malformed });
    expect({ list: await suppressions(db), events: await rawSql(db, 'SELECT count(*) AS n FROM ledger_events') }).toEqual(before);
    expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
  });

  it('reads one message on stdin (-), origin feedback:-', async () => {
    const db = await store();
    const r = await runCli(['--db', db, 'feedback', 'ingest', '-', '--json'], { stdin: fixture('postfix-hard-bounce-5.1.1.eml') });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ...NONE, messages: 1, hardBounces: 1, suppressedNow: 1 });
    expect(await suppressions(db)).toMatchObject([{ address: 'gone.away@example.org', origin: 'feedback:-' }]);
  });

  it('a folder of 100 messages or more shows progress on stderr, on a terminal only', async () => {
    const db = await store();
    const files = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`m${String(i).padStart(3, '0')}.eml`, fixture('not-a-report.eml')]));
    const dir = folderOf(files);
    const tty = await runCli(['--db', db, 'feedback', 'ingest', dir], { tty: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain('\r50 / 100 messages');
    expect(tty.stderr).toContain('\r100 / 100 messages');
    const piped = await runCli(['--db', db, 'feedback', 'ingest', dir]);
    expect(piped.stderr).not.toContain('/ 100 messages');
    expect(piped.stdout).toMatch(/^skipped\t100$/m);
  });

  it('a missing path exits 3 and a bad flag 2, naming them; nothing is written', async () => {
    const db = await store();
    const missing = await runCli(['--db', db, 'feedback', 'ingest', join(tempDir(), 'nope')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('nope');
    const bad = await runCli(['--db', db, 'feedback', 'ingest', join(FIXTURES, 'postfix-hard-bounce-5.1.1.eml'), '--soft-window', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--soft-window');
    expect(await suppressions(db)).toEqual([]);
  });
});

/** Every value of every table of the store, as text: what a grep of the store would find. */
async function storeText(db: string): Promise<string> {
  const tables: { name: string }[] = db.startsWith('postgres')
    ? await rawSql(db, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'")
    : await rawSql(db, "SELECT name FROM sqlite_master WHERE type = 'table'");
  const rows = await Promise.all(tables.map((t) => rawSql(db, `SELECT * FROM ${t.name}`)));
  return JSON.stringify(rows, (_k, v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v));
}
