import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bigCsv, consent, describeImportKill, ROWS } from './helpers/import-kill.js';
import { tempDir } from './helpers/run-cli.js';

describeImportKill('sqlite');

describe('profile import of a large file (parsed in a worker thread by the built binary)', () => {
  it('gives the same errors, line numbers and results as the in-process parse', async () => {
    const dir = tempDir();
    const file = join(dir, 'big.csv');
    bigCsv(file);
    // One bad row deep in the file, after a quoted multi-line cell.
    const text = readFileSync(file, 'utf8').split('\n');
    text[100_000] = text[100_000]!.replace(/,First(\d+),/, ',"First\n$1",');
    text[120_000] = 'bad-email,+33612345678,A,B,0,0,0';
    writeFileSync(file, text.join('\n'));
    const db = join(dir, 'consent.db');
    const failed = consent(db, 'profile', 'import', file);
    expect(failed.status).toBe(2);
    expect(failed.stderr).toContain('line 120002, column email: "bad-email" is not a valid email address');
    expect(failed.stdout).toBe('');
    const rejects = join(dir, 'rejects.csv');
    const ok = consent(db, 'profile', 'import', file, '--skip-invalid', '--rejects', rejects, '--json');
    expect(ok.status).toBe(0);
    const s = JSON.parse(ok.stdout);
    expect(s).toMatchObject({ rows: ROWS, invalid: 1, new: ROWS - 1 });
    expect(readFileSync(rejects, 'utf8').split('\n')[1]).toMatch(/^bad-email,/);
    const k = Number(/person(\d+)@/.exec(text[100_000]!)![1]);
    const p = JSON.parse(consent(db, 'profile', 'show', `person${k}@example.com`, '--json').stdout);
    expect(p.firstName).toBe(`First\n${k}`);
  }, 120_000);
});
