import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isPostgresLocation } from '../../src/store/location.js';
import { rawSql } from './raw-store.js';
import { tempDir, tempStore, type Backend } from './run-cli.js';

export const BIN = join(process.cwd(), 'bin/consent.js');
export const ROWS = 150_000;

export function bigCsv(path: string): void {
  const out: string[] = ['email,phone,first_name,last_name,optout_all,optout_email,optout_sms'];
  for (let i = 0; i < ROWS; i++) {
    // A scrambled order, as real exports come.
    const k = (i * 7919) % ROWS;
    out.push(`person${k}@example.com,+3361${String(k).padStart(7, '0')},First${k},Last${k},${k % 13 === 0 ? 1 : 0},${k % 7 === 0 ? 1 : ''},${k % 5 === 0 ? 'yes' : 'no'}`);
  }
  writeFileSync(path, out.join('\n') + '\n');
}

/** A digest of everything in the store, and its integrity check (PostgreSQL: the ledger verifies). */
export async function state(db: string): Promise<{ digest: string; profiles: number; events: number; integrity: string }> {
  const h = createHash('sha256');
  if (isPostgresLocation(db)) {
    await settled(db);
    const count = async (t: string) => Number((await rawSql(db, `SELECT count(*) AS n FROM ${t}`))[0].n);
    // Digested by the server: reading every row into the test would cost more than the import.
    for (const t of ['profiles', 'ledger_events', 'ledger_blocks']) h.update((await rawSql(db, `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY id), '')) AS d FROM ${t} t`))[0].d);
    return { digest: h.digest('hex'), profiles: await count('profiles'), events: await count('ledger_events'), integrity: consent(db, 'ledger', 'verify').status === 0 ? 'ok' : 'broken' };
  }
  const d = new Database(db, { readonly: true });
  try {
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

/** Waits until the server has ended the sessions of killed clients (it notices within client_connection_check_interval). */
async function settled(db: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await rawSql(db, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'consent'");
    if (rows.length === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a killed import is still running on the server');
}

export function consent(db: string, ...args: string[]) {
  return spawnSync(process.execPath, [BIN, '--db', db, ...args], { encoding: 'utf8' });
}

/** Starts an import and SIGKILLs it after `ms` (if still running). */
function importKilledAfter(db: string, file: string, ms: number, flags: string[] = []): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '--db', db, 'profile', 'import', file, ...flags], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
}

/**
 * Kills an import of `file` (that takes `full` ms whole) at each fraction of
 * that time until one is not killed before its commit; every kill must leave
 * the store exactly as `before`, and one that came too late the whole import
 * (`complete`'s profiles and events, a verifying ledger). Returns the kills
 * that left it as before.
 */
async function killedAt(db: string, file: string, full: number, fractions: number[], before: { digest: string }, complete: { profiles: number; events: number }, flags: string[] = []): Promise<number> {
  let asBefore = 0;
  for (const fraction of fractions) {
    await importKilledAfter(db, file, Math.round(full * fraction), flags);
    const after = await state(db);
    expect(after.integrity).toBe('ok');
    if (after.digest === before.digest) {
      asBefore++;
      continue;
    }
    // Not as before: then the import had committed (killed on its way out, or it finished first), and it must be whole.
    expect(after.profiles).toBe(complete.profiles);
    expect(after.events, 'a killed import left part of its events').toBe(complete.events);
    expect(consent(db, 'ledger', 'verify').status).toBe(0);
    break;
  }
  return asBefore;
}

/** The kill -9 tests of one backend (one test file per backend, so that they run in parallel). */
export function describeImportKill(backend: Backend): void {
describe(`on ${backend}`, () => {
describe('profile import under kill -9 (built binary)', () => {
  // An empty store takes the direct first load (rows straight into the store,
  // in the open write transaction); a populated one stages, then writes.
  it.each(['an empty store', 'a populated store'])('%s: left exactly as before at any moment, and a re-run completes it', async (kind) => {
    const populated = kind === 'a populated store';
    const dir = tempDir();
    const file = join(dir, 'big.csv');
    bigCsv(file);
    const db = backend === 'postgres' ? await tempStore(backend) : join(dir, 'consent.db');
    if (populated) {
      expect(consent(db, 'profile', 'add', '--email', 'person0@example.com', '--first-name', 'Zero').status).toBe(0);
      expect(consent(db, 'profile', 'optout', 'person0@example.com', '--channel', 'fax').status).toBe(0);
    } else {
      expect(consent(db, 'store', 'init').status).toBe(0); // creates the empty store
    }
    const before = await state(db);
    expect(before.integrity).toBe('ok');

    // How long a whole import takes here, on a copy of the store.
    const probe = backend === 'postgres' ? await tempStore(backend) : join(dir, 'probe.db');
    if (backend === 'postgres') {
      if (populated) {
        consent(probe, 'profile', 'add', '--email', 'person0@example.com', '--first-name', 'Zero');
        consent(probe, 'profile', 'optout', 'person0@example.com', '--channel', 'fax');
      } else consent(probe, 'store', 'init');
    } else consent(db, 'backup', probe);
    const t0 = performance.now();
    expect(consent(probe, 'profile', 'import', file).status).toBe(0);
    const full = performance.now() - t0;
    const complete = await state(probe);
    expect(complete.profiles).toBe(ROWS);

    // Kill it at several points, from the parse to the write transaction.
    // Early points too: under load an import may run faster than the timed one, and only kills before its commit count.
    const asBefore = await killedAt(db, file, full, [0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9], before, complete);
    expect(asBefore).toBeGreaterThanOrEqual(3);

    const rerun = consent(db, 'profile', 'import', file, '--json');
    expect(rerun.status).toBe(0);
    const done = await state(db);
    expect(done.profiles).toBe(ROWS);
    expect(done.integrity).toBe('ok');
    expect(consent(db, 'ledger', 'verify').status).toBe(0);
    const zero = JSON.parse(consent(db, 'profile', 'show', 'person0@example.com', '--json').stdout);
    expect(zero.optOut).toMatchObject({ fax: populated, all: true, email: true, sms: true });
    expect(zero.firstName).toBe('First0');
  }, 180_000);

  // The grants of consent_<channel>=1 cells are part of the import's one transaction: a kill
  // leaves the store as before (neither the flags nor the grants) or the whole import.
  it('an import that grants (consent_email=1 under opt-in): as before, or whole with its grants', async () => {
    const dir = tempDir();
    const file = join(dir, 'grants.csv');
    const rows = 20_000;
    const lines = ['email,consent_email,optout_sms'];
    for (let i = 0; i < rows; i++) lines.push(`g${(i * 7919) % rows}@example.com,${i % 10 === 0 ? 0 : 1},${i % 3 === 0 ? 1 : ''}`);
    writeFileSync(file, lines.join('\n') + '\n');
    const flags = ['--allow-optin', '--proof', 'CRM form v2, collected 2026-09'];
    const setUp = async (db: string) => {
      expect(consent(db, 'profile', 'add', '--email', 'g0@example.com').status).toBe(0);
      expect(consent(db, 'policy', 'set', 'email', 'opt-in', '--reason', 'CNIL').status).toBe(0);
    };
    const db = backend === 'postgres' ? await tempStore(backend) : join(dir, 'consent.db');
    await setUp(db);
    const before = await state(db);
    const probe = backend === 'postgres' ? await tempStore(backend) : join(dir, 'probe.db');
    await setUp(probe);
    const t0 = performance.now();
    const done = consent(probe, 'profile', 'import', file, ...flags, '--json');
    const full = performance.now() - t0;
    expect(done.status, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).grantEvents).toBe(rows - rows / 10); // every 1 cell (g0's row, i = 0, is a 0)
    const complete = await state(probe);

    // Killed while its grants were still to come, the old import left the flags without them (fewer events).
    expect(await killedAt(db, file, full, [0.15, 0.35, 0.55, 0.75, 0.95], before, complete, flags)).toBeGreaterThanOrEqual(1);
    expect(consent(db, 'ledger', 'verify').status).toBe(0);
  }, 120_000);
});
});
}
