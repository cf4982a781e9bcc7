/**
 * `profile erase` (#13, GDPR art. 17) through the command line on both
 * stores: what is removed, what stays, that nothing of the person remains in
 * the store's bytes, and that the erased address stays unreachable when it
 * comes back (operator add, import).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, runCli, runJson, tempDir, tempStore, type Backend } from './helpers/run-cli.js';

// Longer than the placeholder that replaces it, so that the old bytes are not simply overwritten in place.
const EMAIL = 'ann.secret.with-a-long-address-for-the-bytes@example.com';
const PHONE = '+33612345678';
const TRACES = [EMAIL, PHONE, PHONE.slice(1), 'Annabelle', 'Zorglub'];

/** Every row of every table of a PostgreSQL store, as text (what `pg_dump --data-only` would hold). */
async function pgRowsText(db: string): Promise<string> {
  const tables = await rawSql(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  let all = '';
  for (const { tablename } of tables) {
    for (const r of await rawSql(db, `SELECT t::text AS row FROM "${tablename}" t`)) all += `${tablename}: ${r.row}\n`;
  }
  return all;
}

/** The store's bytes: the SQLite file and its WAL, or every row of every PostgreSQL table. */
async function storeText(backend: Backend, db: string): Promise<string> {
  if (backend === 'postgres') return pgRowsText(db);
  return [db, `${db}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('\n');
}

describe.each(BACKENDS)('profile erase on %s', (backend) => {
  async function storeWithAnn(): Promise<string> {
    const db = await tempStore(backend);
    await runJson(db, ['profile', 'add', '--email', EMAIL, '--phone', PHONE, '--first-name', 'Annabelle', '--last-name', 'Zorglub', '--json']);
    await runJson(db, ['profile', 'add', '--email', 'bob@example.com', '--json']);
    expect((await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'sms', '--reason', 'asked by phone'])).code).toBe(0);
    return db;
  }

  it('a reason holding an email address or an international phone number is refused on every command that writes one (exit 2, nothing written): the ledger never holds an address', async () => {
    const db = await storeWithAnn();
    const before = await runJson(db, ['ledger', 'verify', '--json']);
    for (const argv of [
      ['profile', 'optout', 'bob@example.com', '--channel', 'email', '--reason', `asked by ${EMAIL}`],
      ['profile', 'optout', 'bob@example.com', '--channel', 'sms', '--reason', 'called from +33 6 12 34 56 78'],
      ['suppression', 'remove', 'bob@example.com', '--reason', 'bob@example.com asked'],
      ['profile', 'erase', '1', '--reason', `for ${EMAIL}`, '--yes'],
    ]) {
      const r = await runCli(['--db', db, ...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/reason/);
    }
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toEqual(before);
    expect((await runCli(['--db', db, 'profile', 'optout', 'bob@example.com', '--channel', 'sms', '--reason', 'ticket 20260118'])).code).toBe(0);
  });

  it('without a terminal and without --yes: exit 2 naming --yes, nothing changes', async () => {
    const db = await storeWithAnn();
    const before = [await runJson(db, ['profile', 'show', '1', '--json']), await runJson(db, ['ledger', 'verify', '--json'])];
    const r = await runCli(['--db', db, 'profile', 'erase', '1', '--reason', 'ticket-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--yes');
    expect(r.stdout).toBe('');
    expect([await runJson(db, ['profile', 'show', '1', '--json']), await runJson(db, ['ledger', 'verify', '--json'])]).toEqual(before);
    expect(await storeText(backend, db)).toContain(EMAIL);
  });

  it('--yes: email, phone and names gone; id, flags and ledger kept; an erase event; shown as erased; unreachable everywhere; the ledger verifies', async () => {
    const db = await storeWithAnn();
    const r = await runCli(['--db', db, 'profile', 'erase', EMAIL, '--reason', 'ticket-1', '--yes', '--actor', 'dpo']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Profile 1 is erased');
    const shown = await runJson(db, ['profile', 'show', '1', '--json']);
    expect(shown).toMatchObject({ id: 1, email: 'erased-1@invalid', phone: null, firstName: null, lastName: null, erased: true, erasedAt: expect.any(String) });
    expect(shown.optOut).toMatchObject({ sms: true, email: false, all: false });
    expect(Object.values(shown.reachable)).toEqual([false, false, false, false, false, false]);
    expect((await runCli(['--db', db, 'profile', 'show', '1'])).stdout).toContain('ERASED');
    const history = await runJson(db, ['profile', 'history', '1', '--json']);
    expect(history[0]).toMatchObject({ action: 'erase', channel: 'all', reason: 'ticket-1', actor: 'dpo', source: 'operator' });
    expect(history.map((e: { action: string }) => e.action)).toEqual(['erase', 'optout']);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });
    for (const c of ['email', 'sms', 'phone', 'postal']) {
      expect((await runJson(db, ['profile', 'list', '--reachable', c, '--json'])).map((p: { id: number }) => p.id)).toEqual([2]);
    }
    expect((await runCli(['--db', db, 'profile', 'export', '--reachable', 'email'])).stdout).not.toContain('erased-1@invalid');
    const entries = await rawSql(db, 'SELECT channel, address, reason FROM suppressions ORDER BY channel');
    expect(entries).toEqual(['email', 'phone', 'sms'].map((channel) => ({ channel, address: null, reason: 'erasure' })));
    // A second erasure: a conflict, nothing written.
    expect((await runCli(['--db', db, 'profile', 'erase', '1', '--reason', 'again', '--yes'])).code).toBe(4);
    // A reason naming the address is refused: the ledger keeps reasons forever.
    const leaky = await runCli(['--db', db, 'profile', 'erase', '2', '--reason', 'asked by bob@example.com', '--yes']);
    expect(leaky.code).toBe(2);
    expect((await runJson(db, ['profile', 'show', '2', '--json'])).erased).toBe(false);
  });

  it('leaves no trace of the email, phone or names in the store (SQLite: the file and its WAL, bytes; PostgreSQL: every row of every table)', async () => {
    const db = await storeWithAnn();
    // A text from the number that waits for review keeps its body, which names the person.
    const sms = await runCli(['--db', db, 'sms', 'inbound', '--from', PHONE, '--body', 'please stop texting Annabelle Zorglub', '--json']);
    expect(sms.code, sms.stderr).toBe(0);
    const before = await storeText(backend, db);
    for (const t of TRACES) expect(before).toContain(t);
    expect((await runCli(['--db', db, 'profile', 'erase', '1', '--reason', 'ticket-1', '--yes'])).code).toBe(0);
    const after = await storeText(backend, db);
    for (const t of TRACES) expect(after, t).not.toContain(t);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });
  });

  it('the erased address comes back through profile add: unreachable on email and sms, said on stderr and in --json; the entry is not lifted', async () => {
    const db = await storeWithAnn();
    expect((await runCli(['--db', db, 'profile', 'erase', '1', '--reason', 'ticket-1', '--yes'])).code).toBe(0);
    const r = await runCli(['--db', db, 'profile', 'add', '--email', EMAIL.toUpperCase(), '--phone', PHONE, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/erased profile: it is unreachable on email, phone, sms/);
    const added = JSON.parse(r.stdout);
    expect(added).toMatchObject({ id: 3, erasedAddresses: ['email', 'phone', 'sms'], reachable: { email: false, sms: false, phone: false, postal: true } });
    expect((await runJson(db, ['profile', 'list', '--reachable', 'email', '--json'])).map((p: { id: number }) => p.id)).toEqual([2]);
    expect((await runJson(db, ['profile', 'list', '--unreachable', 'sms', '--json'])).map((p: { id: number }) => p.id)).toEqual([1, 3]);
    // Someone else's address: nothing said.
    const other = await runCli(['--db', db, 'profile', 'add', '--email', 'cid@example.com', '--json']);
    expect(other.stderr).toBe('');
    expect(JSON.parse(other.stdout).erasedAddresses).toEqual([]);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });
  });

  it('the erased address comes back through an import: counted as erasedAddresses (dry run too), unreachable on that channel', async () => {
    const db = await storeWithAnn();
    expect((await runCli(['--db', db, 'profile', 'erase', '1', '--reason', 'ticket-1', '--yes'])).code).toBe(0);
    const file = join(tempDir(), 'back.csv');
    writeFileSync(file, `email,phone\n${EMAIL},\nnew@example.com,${PHONE}\nzed@example.com,\nbob@example.com,\n`);
    expect(await runJson(db, ['profile', 'import', file, '--dry-run', '--json'])).toMatchObject({ erasedAddresses: 2, new: 3 });
    const r = await runCli(['--db', db, 'profile', 'import', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/erased addresses: +2 /);
    expect(r.stderr).toMatch(/2 profile\(s\) have an erased address/);
    // Imported again: still counted (the entries now match by address), nothing lifted.
    expect(await runJson(db, ['profile', 'import', file, '--json'])).toMatchObject({ erasedAddresses: 2, new: 0 });
    const reachableEmail = (await runJson(db, ['profile', 'list', '--reachable', 'email', '--json'])).map((p: { email: string }) => p.email);
    expect(reachableEmail.sort()).toEqual(['bob@example.com', 'new@example.com', 'zed@example.com']);
    const reachableSms = (await runJson(db, ['profile', 'list', '--reachable', 'sms', '--json'])).map((p: { email: string }) => p.email);
    expect(reachableSms.sort()).toEqual([EMAIL, 'bob@example.com', 'zed@example.com']);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });
  });
});
