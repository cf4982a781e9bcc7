import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { BIN, bigCsv, consent, ROWS, state } from './helpers/import-kill.js';
import { startCluster, type Cluster } from './helpers/pg-cluster.js';
import { tempDir } from './helpers/run-cli.js';

/**
 * Issue 11: an import on PostgreSQL is one atomic change even when the
 * SERVER goes away mid-import (pg_ctl restart): the client says so (the
 * store-unavailable code, the host named, no stack trace), nothing is
 * written, and running it again completes it. The server restarted is a
 * cluster of this file's own, so that no other test file loses its server.
 */

let cluster: Cluster;
let admin: pg.Client;
async function connectAdmin(): Promise<void> {
  admin = new pg.Client({ connectionString: cluster.adminUrl });
  admin.on('error', () => {}); // the restart ends this connection too: it is made again when next used
  await admin.connect();
}
beforeAll(async () => {
  cluster = await startCluster();
  await connectAdmin();
}, 60_000);
afterAll(async () => {
  await admin?.end().catch(() => {});
  cluster?.stop();
});

let databases = 0;
async function newDatabase(): Promise<string> {
  const name = `restart_${++databases}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const u = new URL(cluster.adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The admin connection, made again after a restart ended it. */
async function adminQuery(sql: string): Promise<pg.QueryResult> {
  try {
    return await admin.query(sql);
  } catch {
    await admin.end().catch(() => {});
    await connectAdmin();
    return admin.query(sql);
  }
}

/** Polls until `sql` returns a row (or the import ended first), every 10 ms. */
async function until(sql: string, running: () => boolean): Promise<boolean> {
  while (running()) {
    if ((await adminQuery(sql)).rowCount! > 0) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

const PHASES = {
  // The rows streaming into the session's staging table.
  'the staging COPY': "SELECT 1 FROM pg_stat_activity WHERE application_name = 'consent' AND state = 'active' AND query LIKE 'COPY pg_temp.import_raw%'",
  // Late in the write transaction: the profiles' rows are written, the ledger's are being written and
  // hashed under the chain lock (a transaction-level advisory lock, held to the commit). A tool that
  // committed the profiles first, in a transaction of their own, would have written them by now.
  'the ledger write, after the profiles':
    "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = 'consent' AND l.locktype = 'advisory' AND l.granted",
  // A first load (empty store): the rows streaming straight into profiles, in the import's open transaction.
  "the first load's COPY into profiles": "SELECT 1 FROM pg_stat_activity WHERE application_name = 'consent' AND state = 'active' AND query LIKE 'COPY profiles%'",
  // Later in a first load: the profiles loaded and indexed, their opt-out events streaming into the ledger.
  "the first load's COPY into the ledger": "SELECT 1 FROM pg_stat_activity WHERE application_name = 'consent' AND state = 'active' AND query LIKE 'COPY ledger_events%'",
} as const;

describe('profile import while the PostgreSQL server restarts (built binary, a cluster of its own)', () => {
  it.each([
    ['the staging COPY', 'fast'],
    ['the ledger write, after the profiles', 'immediate'],
    ["the first load's COPY into profiles", 'immediate'],
    ["the first load's COPY into the ledger", 'immediate'],
  ] as const)('during %s, pg_ctl restart -m %s: exit "store unavailable" naming the host, nothing written, a re-run completes it', async (phase, mode) => {
    const dir = tempDir();
    const file = join(dir, 'big.csv');
    bigCsv(file);
    const db = await newDatabase();
    const firstLoad = phase.startsWith("the first load's");
    if (firstLoad) {
      // An empty store, whose ledger already holds a store-level event: the load's block must follow it.
      expect(consent(db, 'policy', 'set', 'fax', 'opt-in', '--reason', 'test').status).toBe(0);
    } else {
      expect(consent(db, 'profile', 'add', '--email', 'person0@example.com', '--first-name', 'Zero').status).toBe(0);
      expect(consent(db, 'profile', 'optout', 'person0@example.com', '--channel', 'fax').status).toBe(0);
    }
    const before = await state(db);
    expect(before.integrity).toBe('ok');

    const child = spawn(process.execPath, [BIN, '--db', db, 'profile', 'import', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let running = true;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => ((running = false), r(code))));
    expect(await until(PHASES[phase], () => running), 'the import ended before reaching the phase').toBe(true);
    cluster.restart(mode);
    const code = await exited;

    expect(code).toBe(EXIT.busy);
    expect(stdout).toBe('');
    expect(stderr).toContain(`127.0.0.1:${cluster.port}`);
    expect(stderr).toMatch(/PostgreSQL server/);
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
    const after = await state(db);
    expect(after).toEqual(before); // profiles, events, blocks: not one row more; the ledger verifies

    const rerun = consent(db, 'profile', 'import', file, '--json');
    expect(rerun.status, rerun.stderr).toBe(0);
    const done = await state(db);
    expect(done.profiles).toBe(ROWS);
    expect(done.integrity).toBe('ok');
    expect(consent(db, 'ledger', 'verify').status).toBe(0);
    const zero = JSON.parse(consent(db, 'profile', 'show', 'person0@example.com', '--json').stdout);
    expect(zero.optOut).toMatchObject({ fax: !firstLoad, all: true, email: true, sms: true });
  }, 120_000);
});
