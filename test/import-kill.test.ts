import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/run-cli.js';

const BIN = join(process.cwd(), 'bin/consent.js');
const ROWS = 150_000;

function bigCsv(path: string): void {
  const out: string[] = ['email,phone,first_name,last_name,optout_all,optout_email,optout_sms'];
  for (let i = 0; i < ROWS; i++) {
    // A scrambled order, as real exports come.
    const k = (i * 7919) % ROWS;
    out.push(`person${k}@example.com,+3361${String(k).padStart(7, '0')},First${k},Last${k},${k % 13 === 0 ? 1 : 0},${k % 7 === 0 ? 1 : ''},${k % 5 === 0 ? 'yes' : 'no'}`);
  }
  writeFileSync(path, out.join('\n') + '\n');
}

/** A digest of everything in the store, and its integrity check. */
function state(db: string): { digest: string; profiles: number; events: number; integrity: string } {
  const d = new Database(db, { readonly: true });
  try {
    const h = createHash('sha256');
    for (const t of ['profiles', 'ledger_events', 'ledger_blocks']) {
      for (const row of d.prepare(`SELECT * FROM ${t} ORDER BY id`).raw().iterate()) h.update(JSON.stringify(row));
    }
    return {
      digest: h.digest('hex'),
      profiles: (d.prepare('SELECT count(*) AS n FROM profiles').get() as { n: number }).n,
      events: (d.prepare('SELECT count(*) AS n FROM ledger_events').get() as { n: number }).n,
      integrity: d.pragma('integrity_check', { simple: true }) as string,
    };
  } finally {
    d.close();
  }
}

function consent(db: string, ...args: string[]) {
  return spawnSync(process.execPath, [BIN, '--db', db, ...args], { encoding: 'utf8' });
}

/** Starts an import and SIGKILLs it after `ms`; resolves with how it ended. */
function importKilledAfter(db: string, file: string, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '--db', db, 'profile', 'import', file], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
}

describe('profile import under kill -9 (built binary)', () => {
  it('leaves the store exactly as before at any moment, and a re-run completes it', async () => {
    const dir = tempDir();
    const file = join(dir, 'big.csv');
    bigCsv(file);
    const db = join(dir, 'consent.db');
    expect(consent(db, 'profile', 'add', '--email', 'person0@example.com', '--first-name', 'Zero').status).toBe(0);
    expect(consent(db, 'profile', 'optout', 'person0@example.com', '--channel', 'fax').status).toBe(0);
    const before = state(db);
    expect(before.integrity).toBe('ok');

    // How long a whole import takes here, on a copy of the store.
    const probe = join(dir, 'probe.db');
    consent(db, 'backup', probe);
    const t0 = performance.now();
    expect(consent(probe, 'profile', 'import', file).status).toBe(0);
    const full = performance.now() - t0;
    const complete = state(probe);
    expect(complete.profiles).toBe(ROWS);

    // Kill it at several points, from the parse to the write transaction.
    let killedMidway = 0;
    for (const fraction of [0.15, 0.4, 0.6, 0.75, 0.9]) {
      const signal = await importKilledAfter(db, file, Math.round(full * fraction));
      const after = state(db);
      expect(after.integrity).toBe('ok');
      if (signal === 'SIGKILL') {
        expect(after.digest).toBe(before.digest);
        killedMidway++;
      } else {
        // It finished before the kill: then it must be complete.
        expect(after.profiles).toBe(complete.profiles);
        break;
      }
    }
    expect(killedMidway).toBeGreaterThanOrEqual(3);

    const rerun = consent(db, 'profile', 'import', file, '--json');
    expect(rerun.status).toBe(0);
    const done = state(db);
    expect(done.profiles).toBe(ROWS);
    expect(done.integrity).toBe('ok');
    expect(consent(db, 'ledger', 'verify').status).toBe(0);
    const zero = JSON.parse(consent(db, 'profile', 'show', 'person0@example.com', '--json').stdout);
    expect(zero.optOut).toMatchObject({ fax: true, all: true, email: true, sms: true });
    expect(zero.firstName).toBe('First0');
  }, 180_000);
});
