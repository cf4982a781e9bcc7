import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { rawSql, tamper } from './helpers/raw-store.js';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

const FIX = join(process.cwd(), 'fixtures/import');
const fx = (name: string) => join(FIX, name);

/** A new store, `empty` (created, no profile) or `populated` (one profile, ok1@example.com). */
async function storeOf(kind: string): Promise<string> {
  const db = (await tempStore(backend));
  if (kind === 'a populated store') await runJson(db, ['profile', 'add', '--email', 'ok1@example.com', '--json']);
  else expect((await runCli(['--db', db, 'store', 'init'])).code).toBe(0);
  return db;
}

/** The definition of the unique email index, or undefined when the store has none (PostgreSQL's spelling brought to SQLite's). */
async function emailIndexSql(db: string): Promise<string | undefined> {
  if (backend === 'postgres') {
    const [r] = await rawSql(db, "SELECT indexdef FROM pg_indexes WHERE indexname = 'profiles_email'");
    return r?.indexdef.replace(' ON public.profiles USING btree ', ' ON profiles ');
  }
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare("SELECT sql FROM sqlite_master WHERE name = 'profiles_email'").pluck().get() as string | undefined;
  } finally {
    d.close();
  }
}
const EMAIL_INDEX = 'CREATE UNIQUE INDEX profiles_email ON profiles (email)';

/** Writes each text as `<name>.csv` in a new temporary folder; returns the paths by name. */
function csvFiles<K extends string>(texts: Record<K, string>): Record<K, string> {
  const dir = tempDir();
  const paths = {} as Record<K, string>;
  for (const name of Object.keys(texts) as K[]) writeFileSync((paths[name] = join(dir, `${name}.csv`)), texts[name]);
  return paths;
}

/** Every index of profiles (name and definition), as the store now has them. */
async function profileIndexes(db: string): Promise<string[]> {
  if (backend === 'postgres') {
    return (await rawSql(db, "SELECT indexname || ': ' || indexdef AS d FROM pg_indexes WHERE tablename = 'profiles' ORDER BY indexname")).map((r) => r.d);
  }
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare("SELECT name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'profiles' ORDER BY name").pluck().all() as string[];
  } finally {
    d.close();
  }
}

/**
 * The indexes of the ledger's events, the constraints of profiles, the
 * ledger's events and user agents, and the columns' defaults of profiles and
 * the ledger's events, as the store now has them.
 */
async function ledgerIndexesAndDefaults(db: string): Promise<string[]> {
  if (backend === 'postgres') {
    return (
      await rawSql(
        db,
        `SELECT indexname || ': ' || indexdef AS d FROM pg_indexes WHERE tablename = 'ledger_events'
         UNION ALL SELECT conrelid::regclass || '.' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
          WHERE conrelid IN ('profiles'::regclass, 'ledger_events'::regclass, 'ledger_user_agents'::regclass)
         UNION ALL SELECT table_name || '.' || column_name || ' default ' || coalesce(column_default, 'none') FROM information_schema.columns
          WHERE table_name IN ('profiles', 'ledger_events') ORDER BY 1`,
      )
    ).map((r) => r.d);
  }
  const d = new Database(db, { readonly: true });
  try {
    const indexes = d.prepare("SELECT name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_events' ORDER BY name").pluck().all() as string[];
    const defaults = ['profiles', 'ledger_events'].flatMap((t) =>
      (d.pragma(`table_info(${t})`) as { name: string; dflt_value: string | null }[]).map((c) => `${t}.${c.name} default ${c.dflt_value ?? 'none'}`),
    );
    return [...indexes, ...defaults];
  } finally {
    d.close();
  }
}

async function show(db: string, ref: string) {
  return runJson(db, ['profile', 'show', ref, '--json']);
}

/** Every row of the store's tables, to prove that "nothing changed" exactly. */
async function snapshot(db: string): Promise<string> {
  const tables = ['profiles', 'ledger_events', 'ledger_blocks'];
  const all = [];
  for (const t of tables) all.push(await rawSql(db, `SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(all);
}

describe('profile import', () => {
  it('reads a UTF-8 file with BOM and CRLF, quoted commas and quotes, normalising emails and phones', async () => {
    const db = (await tempStore(backend));
    const s = await runJson(db, ['profile', 'import', fx('bom-crlf.csv'), '--json']);
    expect(s).toMatchObject({ rows: 3, profiles: 3, new: 3, updated: 0, invalid: 0, optOutsSet: 3, events: 3, dryRun: false });
    const anna = await show(db, 'anna.lind@example.com');
    expect(anna.phone).toBe('+46701234567');
    expect(anna.optOut).toMatchObject({ email: true, sms: false });
    const bo = await show(db, 'bo.berg@example.se');
    expect(bo.firstName).toBe('Bo, Jr.');
    expect(bo.phone).toBeNull();
    expect(bo.optOut.sms).toBe(true);
    const carl = await show(db, 'carl@example.org');
    expect(carl.firstName).toBe('Carl "CJ"');
    expect(carl.phone).toBe('+33612345678');
    expect(carl.optOut).toMatchObject({ email: false, sms: true });
  });

  it('keeps newlines inside quoted cells and counts physical lines in error messages', async () => {
    const db = (await tempStore(backend));
    const s = await runJson(db, ['profile', 'import', fx('quoted-newlines.csv'), '--json']);
    expect(s).toMatchObject({ rows: 3, new: 3 });
    expect((await show(db, 'dora@example.com')).lastName).toBe('Smith\nof the Hill');
    expect((await show(db, 'eve@example.com')).firstName).toBe('Eve\nMarie\nAnne');
    expect((await show(db, 'dora@example.com')).optOut.postal).toBe(true);

    // The same file with a bad row after the multi-line cells: line 8, not line 5.
    const dir = tempDir();
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, readFileSync(fx('quoted-newlines.csv'), 'utf8') + 'not-an-email,X,Y,1\n');
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 8, column email: "not-an-email" is not a valid email address');
  });

  it('imports an Adobe Campaign export (; delimiter) as is and reports unknown columns', async () => {
    const db = (await tempStore(backend));
    const r = await runCli(['--db', db, 'profile', 'import', fx('adobe-export.csv'), '--delimiter', ';', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.unknownColumns).toEqual(['mobilePhone', 'created']);
    expect(r.stderr).toContain('Ignored unknown column(s): mobilePhone, created.');
    expect((await show(db, 'gina@example.com')).optOut).toEqual({ all: false, email: true, sms: false, phone: false, postal: false, fax: false, push: false });
    expect((await show(db, 'hugo@example.com')).optOut.all).toBe(true);
    expect((await show(db, 'ines@example.com')).optOut).toMatchObject({ sms: true, phone: true, push: true, email: false });
    expect((await show(db, 'gina@example.com')).firstName).toBe('Gina');
  });

  it.each(['a populated store', 'an empty store'])('fails on one bad row with exit 2, names line, column and reason, and writes nothing (%s)', async (kind) => {
    const db = await storeOf(kind);
    const before = await snapshot(db);
    const dir = tempDir();
    const rejects = join(dir, 'rejects.csv');
    const r = await runCli(['--db', db, 'profile', 'import', fx('one-bad-row.csv'), '--rejects', rejects, '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // --json: the error is one JSON object, the bad rows in its details.
    const { error } = JSON.parse(r.stderr.trim().split('\n').pop()!);
    expect(error.details.errors[0]).toMatchObject({ line: 4, column: 'phone' });
    expect(error.details.errors[0].reason).toContain('"12345" is a national number without a country: pass --default-country');
    expect(error.message).toContain('1 of 4 row(s)');
    expect(error.message).toContain('nothing was written');
    expect(await snapshot(db)).toBe(before);
    // The empty store's direct load dropped the email index in its transaction: the rollback put it back.
    expect(await emailIndexSql(db)).toBe(EMAIL_INDEX);
    expect(readFileSync(rejects, 'utf8')).toBe(
      'email,phone,first_name,optout_email,reason\nok3@example.com,12345,Bad,0,"phone: ""12345"" is a national number without a country: pass --default-country (e.g. FR) or write it as +<country code>..."\n',
    );
  });

  it.each(['a populated store', 'an empty store'])('an unclosed quote stops the import, even with --skip-invalid: exit 2, the line named, nothing written (%s)', async (kind) => {
    const db = await storeOf(kind);
    const before = await snapshot(db);
    const file = join(tempDir(), 'unclosed.csv');
    writeFileSync(file, 'email,first_name,optout_sms\na@example.com,Ann,1\nb@example.com,"Bob,0\nc@example.com,Cy,1\n');
    for (const extra of [[], ['--skip-invalid']]) {
      const r = await runCli(['--db', db, 'profile', 'import', file, ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('line 3, column -: malformed CSV');
      expect(r.stderr).toContain('nothing was written');
      expect(await snapshot(db)).toBe(before);
    }
    expect(await emailIndexSql(db)).toBe(EMAIL_INDEX);
  });

  it('with --skip-invalid imports the valid rows and writes the rest to --rejects', async () => {
    const db = (await tempStore(backend));
    const rejects = join(tempDir(), 'rejects.csv');
    const s = await runJson(db, ['profile', 'import', fx('one-bad-row.csv'), '--skip-invalid', '--rejects', rejects, '--json']);
    expect(s).toMatchObject({ rows: 4, invalid: 1, new: 3, profiles: 3 });
    expect(s.errors).toEqual([{ line: 4, column: 'phone', reason: expect.stringContaining('"12345"') }]);
    expect(readFileSync(rejects, 'utf8').split('\n')[1]).toMatch(/^ok3@example\.com,12345,Bad,0,/);
    expect((await runCli(['--db', db, 'profile', 'show', 'ok3@example.com'])).code).toBe(3);
    expect((await show(db, 'ok4@example.com')).optOut.email).toBe(true);
  });

  it('rejects bad opt-out values and missing emails; lists only the first 20 errors on stderr', async () => {
    const dir = tempDir();
    const file = join(dir, 'many.csv');
    const lines = ['email,optout_sms', ',1', 'x@example.com,perhaps'];
    for (let i = 0; i < 30; i++) lines.push(`bad${i}`);
    writeFileSync(file, lines.join('\n') + '\n');
    const rejects = join(dir, 'rej.csv');
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', file, '--rejects', rejects]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 2, column email: missing email');
    expect(r.stderr).toContain('line 3, column optout_sms: "perhaps" is not an opt-out value');
    expect(r.stderr.match(/^line \d+/gm)).toHaveLength(20);
    expect(r.stderr).toContain('32 invalid rows in all');
    expect(readFileSync(rejects, 'utf8').trim().split('\n')).toHaveLength(33);
  });

  it('refuses a file without an email column', async () => {
    const file = join(tempDir(), 'noemail.csv');
    writeFileSync(file, 'mail,phone\na@b.co,\n');
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('there is no "email" column');
  });

  it('merges a duplicate key: an opt-out in either row wins, the last non-empty text wins', async () => {
    const db = (await tempStore(backend));
    const s = await runJson(db, ['profile', 'import', fx('duplicate-key.csv'), '--json']);
    expect(s).toMatchObject({ rows: 3, profiles: 2, new: 2, duplicatesMerged: 1 });
    const sam = await show(db, 'sam@example.com');
    expect(sam.optOut).toMatchObject({ email: true, sms: false });
    expect(sam.phone).toBe('+33611111111');
    expect(sam.firstName).toBe('Samuel');
    expect(sam.lastName).toBe('Lee');
  });

  it('merges duplicates the same way into an empty store and into a populated one', async () => {
    const file = join(tempDir(), 'dups.csv');
    writeFileSync(
      file,
      'email,first_name,optout_all,optout_email,optout_sms,optout_push\n' +
        'd@example.com,One,0,1,1,\n' +
        'x@example.com,X,,,,\n' +
        'D@example.com,,0,1,0,1\n' +
        'd@example.com,Three,,1,,0\n',
    );
    const empty = (await tempStore(backend));
    const populated = (await tempStore(backend));
    await runJson(populated, ['profile', 'add', '--email', 'someone@example.com', '--json']);
    for (const db of [empty, populated]) {
      const s = await runJson(db, ['profile', 'import', file, '--json']);
      expect(s).toMatchObject({ rows: 4, profiles: 2, new: 2, duplicatesMerged: 2, optOutsSet: 3, events: 3 });
      const d = await show(db, 'd@example.com');
      expect(d.optOut).toEqual({ all: false, email: true, sms: true, phone: false, postal: false, fax: false, push: true });
      expect(d.firstName).toBe('Three');
      const h = await runJson(db, ['profile', 'history', 'd@example.com', '--json']);
      expect(h.map((e: any) => `${e.channel}:${e.action}`).sort()).toEqual(['email:optout', 'push:optout', 'sms:optout']);
      expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
    }
  });

  it('numbers new profiles in the order their emails first appear in the file, on both stores, repeated or not, into an empty store or not', async () => {
    const { repeated, once } = csvFiles({
      repeated: 'email,first_name,optout_sms\nzed@example.com,Z,1\namy@example.com,A,0\nZED@example.com,Z2,\nbob@example.com,B,1\n',
      once: 'email,first_name,optout_sms\nzed@example.com,Z2,1\namy@example.com,A,0\nbob@example.com,B,1\n',
    });
    for (const kind of ['an empty store', 'a populated store']) {
      for (const file of [repeated, once]) {
        const db = await storeOf(kind);
        expect(await runJson(db, ['profile', 'import', file, '--json'])).toMatchObject({ new: 3, optOutsSet: 2, events: 2 });
        const rows = await rawSql(db, "SELECT email, first_name FROM profiles WHERE email <> 'ok1@example.com' ORDER BY id");
        expect(rows.map((r: any) => `${r.email} ${r.first_name}`), `${kind}, ${file}`).toEqual(['zed@example.com Z2', 'amy@example.com A', 'bob@example.com B']);
        expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
      }
    }
  });

  it('a first load leaves the unique email index in place, whether or not the file repeats an email', async () => {
    const { once, twice } = csvFiles({
      once: 'email,optout_sms\na@example.com,1\nb@example.com,0\n',
      twice: 'email,optout_sms\na@example.com,1\nb@example.com,0\nA@example.com,0\n',
    });
    const fresh = await tempStore(backend);
    expect((await runCli(['--db', fresh, 'store', 'init'])).code).toBe(0);
    const migrated = await profileIndexes(fresh);
    expect(migrated.length).toBeGreaterThan(2); // the email index and migration 14's (consent state, phone)
    const ledgerMigrated = await ledgerIndexesAndDefaults(fresh);
    expect(ledgerMigrated.filter((d) => d.startsWith('ledger_events_changes')).length).toBe(1);
    expect(ledgerMigrated).toContain('ledger_events.source default none');
    if (backend === 'postgres') expect(ledgerMigrated).toContain('ledger_user_agents.ledger_user_agents_event_id_fkey: FOREIGN KEY (event_id) REFERENCES ledger_events(id)');
    for (const file of [once, twice]) {
      const db = (await tempStore(backend));
      expect(await runJson(db, ['profile', 'import', file, '--json'])).toMatchObject({ new: 2, optOutsSet: 1 });
      expect(await emailIndexSql(db)).toBe(EMAIL_INDEX);
      // Every index of profiles is there again, as the migrations made it (a first load drops and builds them after the rows).
      expect(await profileIndexes(db)).toEqual(migrated);
      // The ledger's indexes and the columns' defaults too (a first load on PostgreSQL sets the load's constants as defaults).
      expect(await ledgerIndexesAndDefaults(db)).toEqual(ledgerMigrated);
      if (backend === 'sqlite') {
        const d = new Database(db, { readonly: true });
        try {
          expect(d.pragma('integrity_check', { simple: true })).toBe('ok');
        } finally {
          d.close();
        }
      }
      const again = await runCli(['--db', db, 'profile', 'add', '--email', 'a@example.com']);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toContain('already exists');
    }
  });

  it('merges several repeated emails in one re-import, existing profiles and new ones alike', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'add', '--email', 'old1@example.com', '--first-name', 'Old', '--json']);
    await runJson(db, ['profile', 'add', '--email', 'old2@example.com', '--json']);
    await runCli(['--db', db, 'profile', 'optout', 'old2@example.com', '--channel', 'fax']);
    const file = join(tempDir(), 'many-dups.csv');
    writeFileSync(
      file,
      'email,first_name,optout_email,optout_sms,optout_fax\n' +
        'old1@example.com,,1,,\n' +
        'new1@example.com,N1,,1,\n' +
        'old2@example.com,Two,0,,0\n' +
        'OLD1@example.com,Renamed,0,1,\n' +
        'new1@example.com,,0,0,1\n' +
        'old2@example.com,,,1,\n' +
        'new2@example.com,N2,,,\n',
    );
    const s = await runJson(db, ['profile', 'import', file, '--json']);
    expect(s).toMatchObject({ rows: 7, profiles: 4, new: 2, updated: 2, duplicatesMerged: 3, optInsNotApplied: 1 });
    const flags = async (ref: string) => {
      const p = await show(db, ref);
      return { name: p.firstName, email: p.optOut.email, sms: p.optOut.sms, fax: p.optOut.fax };
    };
    expect(await flags('old1@example.com')).toEqual({ name: 'Renamed', email: true, sms: true, fax: false });
    expect(await flags('old2@example.com')).toEqual({ name: 'Two', email: false, sms: true, fax: true }); // fax kept: no --allow-optin
    expect(await flags('new1@example.com')).toEqual({ name: 'N1', email: false, sms: true, fax: true });
    expect(await flags('new2@example.com')).toEqual({ name: 'N2', email: false, sms: false, fax: false });
    expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
  });

  it('never clears an opt-out without --allow-optin; records events with source import:<file>', async () => {
    const db = (await tempStore(backend));
    const dir = tempDir();
    await runJson(db, ['profile', 'add', '--email', 'a@example.com', '--first-name', 'Ann', '--json']);
    await runCli(['--db', db, 'profile', 'optout', 'a@example.com', '--channel', 'email,sms']);
    const file = join(dir, 'optin.csv');
    writeFileSync(file, 'email,optout_email,optout_sms,optout_fax,last_name\na@example.com,0,,1,Smith\nnew@example.com,0,1,,\n');

    const r = await runCli(['--db', db, 'profile', 'import', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('opt-ins not applied: 1 (use --allow-optin)');
    expect(r.stderr).toContain('1 opt-in(s) not applied; use --allow-optin.');
    let a = await show(db, 'a@example.com');
    expect(a.optOut).toMatchObject({ email: true, sms: true, fax: true });
    expect(a.firstName).toBe('Ann'); // column absent: unchanged
    expect(a.lastName).toBe('Smith');
    const hist = await runJson(db, ['profile', 'history', 'a@example.com', '--json']);
    expect(hist[0]).toMatchObject({ channel: 'fax', action: 'optout', source: 'import:optin.csv' });
    const nw = await runJson(db, ['profile', 'history', 'new@example.com', '--json']);
    expect(nw).toEqual([expect.objectContaining({ channel: 'sms', action: 'optout', source: 'import:optin.csv' })]);

    const s = await runJson(db, ['profile', 'import', file, '--allow-optin', '--json']);
    expect(s).toMatchObject({ optInsApplied: 1, optInsNotApplied: 0, updated: 1, unchanged: 1, events: 1 });
    a = await show(db, 'a@example.com');
    expect(a.optOut).toMatchObject({ email: false, sms: true, fax: true });
    const hist2 = await runJson(db, ['profile', 'history', 'a@example.com', '--json']);
    expect(hist2[0]).toMatchObject({ channel: 'email', action: 'optin', source: 'import:optin.csv' });

    const v = await runCli(['--db', db, 'ledger', 'verify']);
    expect(v.code).toBe(0);
  });

  it('empty cells change nothing and a re-import of the same file changes nothing', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'import', fx('bom-crlf.csv'), '--json']);
    const before = await snapshot(db);
    const s = await runJson(db, ['profile', 'import', fx('bom-crlf.csv'), '--json']);
    expect(s).toMatchObject({ new: 0, updated: 0, unchanged: 3, events: 0 });
    expect(await snapshot(db)).toBe(before);
  });

  it('--dry-run prints the plan and writes nothing', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'add', '--email', 'sam@example.com', '--json']);
    const before = await snapshot(db);
    const r = await runCli(['--db', db, 'profile', 'import', fx('duplicate-key.csv'), '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Would import');
    expect(r.stdout).toMatch(/new: +1/);
    expect(r.stdout).toMatch(/updated: +1/);
    expect(await snapshot(db)).toBe(before);
    const s = await runJson(db, ['profile', 'import', fx('duplicate-key.csv'), '--dry-run', '--json']);
    expect(s).toEqual({
      file: fx('duplicate-key.csv'),
      source: 'import:duplicate-key.csv',
      dryRun: true,
      delimiter: ',',
      rows: 3,
      invalid: 0,
      unknownColumns: [],
      allowOptin: false,
      errors: [],
      profiles: 2,
      new: 1,
      updated: 1,
      unchanged: 0,
      duplicatesMerged: 1,
      optOutsSet: 1,
      optInsApplied: 0,
      optInsNotApplied: 0,
      subscriptionsSet: 0,
      subscriptionsPending: 0,
      unsubscribed: 0,
      subscriptionsNotApplied: 0,
      erasedAddresses: 0,
      events: 1,
      phoneChanges: 1, // sam had no phone: the file gives one (an `address` event in a real run)
      suppressedAddresses: 0,
    });
    expect(await snapshot(db)).toBe(before);
  });

  it('reads stdin with source import:-', async () => {
    const db = (await tempStore(backend));
    const s = await runJson(db, ['profile', 'import', '-', '--json'], { stdin: 'email,optout_all\nz@example.com,true\n' });
    expect(s).toMatchObject({ new: 1, source: 'import:-' });
    const h = await runJson(db, ['profile', 'history', 'z@example.com', '--json']);
    expect(h[0]).toMatchObject({ channel: 'all', source: 'import:-' });
  });

  it('a first load from stdin does not hold the write lock while stdin is still being read', async () => {
    const { spawn } = await import('node:child_process');
    const db = (await tempStore(backend));
    expect((await runCli(['--db', db, 'store', 'init'])).code).toBe(0); // an empty store
    const child = spawn(process.execPath, [join(process.cwd(), 'bin/consent.js'), '--db', db, 'profile', 'import', '-', '--json'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, CONSENT_BUSY_TIMEOUT_MS: '5000' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.write('email,optout_all\nslow1@example.com,1\n');
    await new Promise((r) => setTimeout(r, 500)); // the importer has read the header and a row by now
    // Another writer meanwhile: it must not have to wait for the import's end.
    const t0 = performance.now();
    const add = await runCli(['--db', db, 'profile', 'add', '--email', 'meanwhile@example.com', '--json'], { env: { CONSENT_BUSY_TIMEOUT_MS: '1000' } });
    expect(add.code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(900);
    child.stdin.end('slow2@example.com,0\n');
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ new: 2, optOutsSet: 1 });
    expect((await runJson(db, ['profile', 'list', '--json'])).map((p: { email: string }) => p.email).sort()).toEqual([
      'meanwhile@example.com',
      'slow1@example.com',
      'slow2@example.com',
    ]);
  }, 30_000);

  it('strips the formula guard on import', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'import', fx('formula-cells.csv'), '--json']);
    const f = await show(db, 'formula@example.com');
    expect(f.phone).toBe('+33622222222');
    expect(f.firstName).toBe('=HYPERLINK("http://x")');
    expect(f.lastName).toBe('@SUM(A1)');
    const p = await show(db, 'plain@example.com');
    expect(p.firstName).toBe("'quoted"); // no formula character after the quote: kept
    expect(p.lastName).toBe('-minus');
  });

  it('the ledger still verifies after an import, and catches an edited import event', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'import', fx('adobe-export.csv'), '--delimiter', ';', '--json']);
    expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
    await tamper(db, "UPDATE ledger_events SET action = 'optin' WHERE id = 2");
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('was edited');
  });

  it('draws a progress bar on stderr only when stderr is a terminal', async () => {
    const plain = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', fx('bom-crlf.csv')]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toContain('rows/s');
    expect(plain.stderr).not.toContain('\r');
    const tty = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', fx('bom-crlf.csv')], { tty: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/\r\[#+\] 100% 3 rows, [\d,]+ rows\/s/);
    expect(tty.stdout).not.toContain('rows/s');
  });

  it('copies of a fixture under another name are recorded under that name', async () => {
    const dir = tempDir();
    const copy = join(dir, 'suppression list.csv');
    copyFileSync(fx('bom-crlf.csv'), copy);
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'import', copy, '--json']);
    const h = await runJson(db, ['profile', 'history', 'anna.lind@example.com', '--json']);
    expect(h[0].source).toBe('import:suppression list.csv');
  });
});
});
