// Real-world input that used to be silently changed (issue #10, points 6–11):
// phone numbers, encodings, delimiters, blank lines, phones on export, dry runs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawSql } from './helpers/raw-store.js';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

function file(name: string, content: string | Buffer): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

/** Every profile's stored text, straight from the database. */
async function storedProfiles(db: string): Promise<{ email: string; phone: string | null; first_name: string | null; last_name: string | null }[]> {
  return rawSql(db, 'SELECT email, phone, first_name, last_name FROM profiles ORDER BY id');
}

describe('phone numbers (libphonenumber-js, E.164)', () => {
  it('stores "+33 (0)6 12 34 56 78" as +33612345678, not as the wrong +330612345678', async () => {
    const db = (await tempStore(backend));
    const p = await runJson(db, ['profile', 'add', '--email', 'rene@example.com', '--phone', '+33 (0)6 12 34 56 78', '--json']);
    expect(p.phone).toBe('+33612345678');
    const r = await runCli(['--db', db, 'profile', 'import', file('p.csv', 'email,phone\nzoe@example.com,+33 (0)6 98 76 54 32\n'), '--json']);
    expect(r.code).toBe(0);
    expect((await storedProfiles(db)).map((x) => x.phone)).toEqual(['+33612345678', '+33698765432']);
  });

  it('stores "+49043567066" (a trunk 0 after the calling code, a possible length with it) as +4943567066, and finds it either way', async () => {
    const db = (await tempStore(backend));
    const p = await runJson(db, ['profile', 'add', '--email', 'kai@example.com', '--phone', '+49043567066', '--json']);
    expect(p.phone).toBe('+4943567066');
    const r = await runCli(['--db', db, 'profile', 'import', file('p.csv', 'email,phone\nuta@example.com,+49043567067\nrosa@example.com,+390612345678\n'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    // Italy keeps the 0 its numbers begin with.
    expect((await storedProfiles(db)).map((x) => x.phone)).toEqual(['+4943567066', '+4943567067', '+390612345678']);
    expect((await runJson(db, ['profile', 'show', '+49043567066', '--json'])).email).toBe('kai@example.com');
  });

  it('refuses what is not a possible number, naming the field and why', async () => {
    const db = (await tempStore(backend));
    const short = await runCli(['--db', db, 'profile', 'add', '--email', 'a@example.com', '--phone', '+33 6 12']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('Invalid phone: "+33 6 12" is not a possible number');
    expect(short.stderr).toContain('too short');
    const fr = await runCli(['--db', db, 'profile', 'add', '--email', 'a@example.com', '--phone', '06 12', '--default-country', 'FR']);
    expect(fr.code).toBe(2);
    expect(fr.stderr).toContain('is not a possible number for FR');
    const r = await runCli(['--db', db, 'profile', 'import', file('p.csv', 'email,phone\nok@example.com,+33612345678\nbad@example.com,+33 6 12\nnat@example.com,0612345678\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 3, column phone: "+33 6 12" is not a possible number');
    expect(r.stderr).toContain('line 4, column phone: "0612345678" is a national number without a country: pass --default-country');
    expect(await storedProfiles(db)).toEqual([]);
  });

  it('a number whose calling code no country has (+999…) is refused as such, on add and import, not a crash', async () => {
    const db = (await tempStore(backend));
    const add = await runCli(['--db', db, 'profile', 'add', '--email', 'a@example.com', '--phone', '+9991234567']);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain('Invalid phone: "+9991234567" is not a possible number (no such country code)');
    const r = await runCli(['--db', db, 'profile', 'import', file('p.csv', 'email,phone\nok@example.com,+33612345678\nbad@example.com,+9991234567\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 3, column phone: "+9991234567" is not a possible number (no such country code)');
    expect(await storedProfiles(db)).toEqual([]);
  });

  it('reads national numbers with --default-country or CONSENT_DEFAULT_COUNTRY, on add and import', async () => {
    const db = (await tempStore(backend));
    const a = await runJson(db, ['profile', 'add', '--email', 'a@example.com', '--phone', '06 12 34 56 78', '--default-country', 'fr', '--json']);
    expect(a.phone).toBe('+33612345678');
    const b = await runJson(db, ['profile', 'add', '--email', 'b@example.com', '--phone', '030 123456', '--json'], { env: { CONSENT_DEFAULT_COUNTRY: 'DE' } });
    expect(b.phone).toBe('+4930123456');
    const csv = file('nat.csv', 'email,phone\nc@example.com,06 98 76 54 32\nd@example.com,+44 20 7946 0958\n');
    expect((await runCli(['--db', db, 'profile', 'import', csv, '--default-country', 'FR'])).code).toBe(0);
    expect((await storedProfiles(db)).map((x) => x.phone)).toEqual(['+33612345678', '+4930123456', '+33698765432', '+442079460958']);
    const bad = await runCli(['--db', db, 'profile', 'add', '--email', 'e@example.com', '--phone', '0612345678', '--default-country', 'XX']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--default-country "XX" is not a country code');
  });

  it('profile show finds a profile by phone; several profiles with that phone: exit 4 listing them', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'add', '--email', 'solo@example.com', '--phone', '+33612345678', '--json']);
    expect((await runJson(db, ['profile', 'show', '+33 6 12 34 56 78', '--json'])).email).toBe('solo@example.com');
    expect((await runJson(db, ['profile', 'show', '0033612345678', '--json'])).email).toBe('solo@example.com');
    expect((await runJson(db, ['profile', 'show', '06 12 34 56 78', '--json'], { env: { CONSENT_DEFAULT_COUNTRY: 'FR' } })).email).toBe('solo@example.com');
    const none = await runCli(['--db', db, 'profile', 'show', '+33699999999']);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('No profile has the phone +33699999999');
    await runJson(db, ['profile', 'add', '--email', 'shared1@example.com', '--phone', '+33698765432', '--json']);
    await runJson(db, ['profile', 'add', '--email', 'shared2@example.com', '--phone', '+33 6 98 76 54 32', '--json']);
    const two = await runCli(['--db', db, 'profile', 'show', '+33698765432', '--json']);
    expect(two.code).toBe(4);
    expect(two.stdout).toBe('');
    expect(two.stderr).toContain('2 profiles have the phone +33698765432: 2 (shared1@example.com), 3 (shared2@example.com)');
    expect(two.stderr).toContain('Name one by its id or email');
  });
});

describe('encodings', () => {
  const names = 'email,first_name,last_name\nrene@example.com,René,Müller\nzoe@example.com,Zoë,Brontë\n';

  it('a Windows-1252 file without --encoding is an error naming the line; nothing stored, never U+FFFD', async () => {
    const db = (await tempStore(backend));
    const csv = file('excel.csv', Buffer.from(names.replace(/\n/g, '\r\n'), 'latin1')); // Windows-1252 = latin1 for these letters
    const r = await runCli(['--db', db, 'profile', 'import', csv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 2: bytes that are not valid UTF-8');
    expect(r.stderr).toContain('--encoding windows-1252');
    expect(await storedProfiles(db)).toEqual([]);
  });

  it('--encoding windows-1252 (and latin1) converts', async () => {
    for (const enc of ['windows-1252', 'latin1']) {
      const db = (await tempStore(backend));
      const csv = file('excel.csv', Buffer.from(names.replace(/\n/g, '\r\n'), 'latin1'));
      expect((await runCli(['--db', db, 'profile', 'import', csv, '--encoding', enc])).code).toBe(0);
      expect((await storedProfiles(db)).map((p) => [p.first_name, p.last_name])).toEqual([['René', 'Müller'], ['Zoë', 'Brontë']]);
    }
  });

  it('a UTF-16LE file with BOM, tab-separated (Excel\'s "Unicode text"), imports with no flag', async () => {
    const db = (await tempStore(backend));
    const text = '\uFEFF' + names.replace(/,/g, '\t').replace(/\n/g, '\r\n');
    const csv = file('unicode.txt', Buffer.from(text, 'utf16le'));
    const r = await runCli(['--db', db, 'profile', 'import', csv, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 2, new: 2, delimiter: '\t' });
    expect((await storedProfiles(db)).map((p) => [p.email, p.first_name, p.last_name])).toEqual([
      ['rene@example.com', 'René', 'Müller'],
      ['zoe@example.com', 'Zoë', 'Brontë'],
    ]);
    const explicit = (await tempStore(backend));
    expect((await runCli(['--db', explicit, 'profile', 'import', csv, '--encoding', 'utf-16le'])).code).toBe(0);
    expect(await storedProfiles(explicit)).toEqual(await storedProfiles(db));
  });

  it('a BOM before a quoted header (Excel\'s "CSV UTF-8" with quoted cells) finds the columns, in UTF-8 and UTF-16', async () => {
    const quoted = '"email","first_name","optout_sms"\r\n"rene@example.com","René, Jr.","1"\r\n';
    for (const bytes of [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(quoted, 'utf8')]), Buffer.from('\uFEFF' + quoted, 'utf16le')]) {
      const db = await tempStore(backend);
      const r = await runCli(['--db', db, 'profile', 'import', file('quoted.csv', bytes), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ rows: 1, new: 1 });
      expect(await rawSql(db, 'SELECT email, first_name, optout_sms FROM profiles')).toEqual([{ email: 'rene@example.com', first_name: 'René, Jr.', optout_sms: 1 }]);
    }
  });

  it('an invalid byte deep in a large file names its line (streamed, across chunks)', async () => {
    const db = (await tempStore(backend));
    const rows = ['email,first_name'];
    for (let k = 0; k < 30_000; k++) rows.push(`p${k}@example.com,Name${k}`);
    const head = Buffer.from(rows.join('\n') + '\n', 'utf8');
    const bad = Buffer.concat([head, Buffer.from('late@example.com,Ren'), Buffer.from([0xe9]), Buffer.from('\nlast@example.com,X\n')]);
    const r = await runCli(['--db', db, 'profile', 'import', file('big.csv', bad)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 30002: bytes that are not valid UTF-8');
    expect(await storedProfiles(db)).toEqual([]);
  });

  it('writes --rejects in the input encoding, so the fixed file re-imports with the same flags', async () => {
    const db = (await tempStore(backend));
    const rejects = join(tempDir(), 'rejects.csv');
    // 0x80 is the euro sign in Windows-1252 (a C1 control in latin1): the real Excel encoding, not its subset.
    const cp1252 = (text: string) => Buffer.from(text.replace('€', '\u0080'), 'latin1');
    const csv = file('excel.csv', cp1252('email;first_name;last_name;optout_email\r\nrene@example.com;René;Müller €;maybe\r\nzoe@example.com;Zoë;Brontë;1\r\n'));
    const r = await runCli(['--db', db, 'profile', 'import', csv, '--encoding', 'windows-1252', '--skip-invalid', '--rejects', rejects]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('with delimiter ";" (detected), encoding windows-1252.');
    const bytes = readFileSync(rejects);
    expect(bytes.includes(Buffer.from([0x52, 0x65, 0x6e, 0xe9]))).toBe(true); // "René" in Windows-1252
    expect(bytes.includes(Buffer.from([0x80]))).toBe(true); // "€"
    const fixed = file('fixed.csv', Buffer.from(bytes.toString('latin1').replace(';maybe;', ';1;'), 'latin1'));
    expect((await runCli(['--db', db, 'profile', 'import', fixed, '--encoding', 'windows-1252', '--skip-invalid'])).code).toBe(0);
    expect((await storedProfiles(db)).map((p) => [p.email, p.first_name, p.last_name])).toEqual([
      ['zoe@example.com', 'Zoë', 'Brontë'],
      ['rene@example.com', 'René', 'Müller €'],
    ]);
    // A UTF-16 file (recognised by its BOM) gets UTF-16 rejects, BOM included.
    const u16 = file('unicode.txt', Buffer.from('\uFEFFemail\tfirst_name\r\nbad-email\tRené\r\n', 'utf16le'));
    const rejects16 = join(tempDir(), 'rejects.txt');
    expect((await runCli(['--db', (await tempStore(backend)), 'profile', 'import', u16, '--skip-invalid', '--rejects', rejects16])).code).toBe(0);
    const back = readFileSync(rejects16);
    expect([back[0], back[1]]).toEqual([0xff, 0xfe]);
    expect(back.toString('utf16le')).toContain('bad-email\tRené\t');
  });

  it('refuses an unknown --encoding, listing the valid ones', async () => {
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', file('a.csv', names), '--encoding', 'ebcdic']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('utf-8, windows-1252, latin1, utf-16le');
  });
});

describe('delimiters', () => {
  it('detects ";" from the header, says so on stderr and in --json', async () => {
    const db = (await tempStore(backend));
    const csv = file('people.csv', 'email;first_name;optout_email\nann@example.com;Ann;1\nbob@example.com;Bob;0\n');
    const r = await runCli(['--db', db, 'profile', 'import', csv, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('with delimiter ";" (detected).');
    expect(JSON.parse(r.stdout)).toMatchObject({ delimiter: ';', new: 2, optOutsSet: 1 });
    expect((await storedProfiles(db)).map((p) => p.first_name)).toEqual(['Ann', 'Bob']);
  });

  it('writes --rejects with the input delimiter, so the fixed file re-imports with the same flags', async () => {
    const db = (await tempStore(backend));
    const dir = tempDir();
    const rejects = join(dir, 'rejects.csv');
    const csv = file('people.csv', 'email;first_name;optout_email\nann@example.com;Ann;1\nbob@example.com;Bob;maybe\n');
    const r = await runCli(['--db', db, 'profile', 'import', csv, '--skip-invalid', '--rejects', rejects]);
    expect(r.code).toBe(0);
    const text = readFileSync(rejects, 'utf8');
    expect(text).toBe('email;first_name;optout_email;reason\nbob@example.com;Bob;maybe;"optout_email: ""maybe"" is not an opt-out value (use 1/0, true/false, yes/no or y/n)"\n');
    // Fixed: the value corrected, the reason column left in (an unknown column, reported and ignored).
    const fixed = file('fixed.csv', text.replace(';maybe;', ';1;'));
    const again = await runCli(['--db', db, 'profile', 'import', fixed, '--skip-invalid', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ delimiter: ';', new: 1, invalid: 0, optOutsSet: 1 });
  });

  it('a header that still cannot be used names the delimiter it was read with', async () => {
    const r = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', file('x.csv', 'mail|name\na@b.co|A\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('read with delimiter ",", detected');
    expect(r.stderr).toContain('--delimiter');
  });
});

describe('blank lines', () => {
  it('skips whitespace-only lines (typically the last) like empty ones', async () => {
    const db = (await tempStore(backend));
    const csv = file('trail.csv', 'email,first_name\r\nann@example.com,Ann\r\n   \r\nbob@example.com,Bob\r\n \t \r\n');
    const r = await runCli(['--db', db, 'profile', 'import', csv, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 2, invalid: 0, new: 2 });
    const tsv = file('trail.tsv', 'email\tfirst_name\nann2@example.com\tAnn\n\t\n  \t \n');
    const t = await runCli(['--db', db, 'profile', 'import', tsv, '--json']);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.stdout)).toMatchObject({ rows: 1, invalid: 0, new: 1, delimiter: '\t' });
  });
});

describe('phones on export', () => {
  it('exports +digits as stored (SMS gateways read it), guards every other formula start, and round-trips', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['profile', 'add', '--email', 'sms@example.com', '--phone', '+33612345678', '--first-name', '+1+1', '--last-name', '=SUM(A1)', '--json']);
    const r = await runCli(['--db', db, 'profile', 'export']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("sms@example.com,+33612345678,'+1+1,'=SUM(A1),");
    const copy = (await tempStore(backend));
    expect((await runCli(['--db', copy, 'profile', 'import', file('e.csv', r.stdout)])).code).toBe(0);
    expect(await storedProfiles(copy)).toEqual(await storedProfiles(db));
  });
});

describe('--dry-run', () => {
  it('prints the same summary as the real run, events included', async () => {
    for (const populated of [false, true]) {
      const db = (await tempStore(backend));
      if (populated) await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
      else await runCli(['--db', db, 'ledger', 'verify']);
      const csv = file('d.csv', 'email,optout_email,optout_sms\nann@example.com,1,1\nbob@example.com,1,\ncid@example.com,,\n');
      const dry = await runJson(db, ['profile', 'import', csv, '--dry-run', '--json']);
      const real = await runJson(db, ['profile', 'import', csv, '--json']);
      expect(real.events).toBe(3);
      expect({ ...dry, dryRun: false }).toEqual(real);
      const human = await runCli(['--db', (await tempStore(backend)), 'profile', 'import', csv, '--dry-run']);
      expect(human.stdout).toMatch(/ledger events: +3/);
    }
  });
});
});
