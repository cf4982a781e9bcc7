/**
 * vitest globalSetup: the PostgreSQL server the PostgreSQL half of the suite
 * runs against. `CONSENT_TEST_PG_URL` (an administrator's URL: it creates
 * databases and a role) when set; else a throwaway cluster started here from
 * Debian's PostgreSQL 15 binaries, in a temporary folder, on a private socket
 * folder and a free port on 127.0.0.1, stopped and removed at the end. When
 * neither is available the run fails, naming the package to install: the
 * PostgreSQL half is never skipped silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser's URL on the test server (trust authentication, no password). */
    pgAdminUrl: string;
    /** A URL with a password, for the role `consent_pw` (password authentication). */
    pgPasswordUrl: string;
    /** The password of `consent_pw`: tests check it never appears in any output. */
    pgPassword: string;
  }
}

const BIN = process.env.CONSENT_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const TEMPLATE = 'consent_template';
export const PASSWORD_ROLE = 'consent_pw';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary as the `postgres` user when we are root (PostgreSQL refuses to run as root). */
function runAs(user: string | null, cmd: string, args: string[]): void {
  const [file, argv] = user ? ['runuser', ['-u', user, '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

async function prepareServer(adminUrl: string, password: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const t = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE]);
    if (t.rowCount === 0) await c.query(`CREATE DATABASE ${TEMPLATE}`);
    const r = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [PASSWORD_ROLE]);
    const verb = r.rowCount === 0 ? 'CREATE' : 'ALTER';
    await c.query(`${verb} ROLE ${PASSWORD_ROLE} LOGIN CREATEDB PASSWORD '${password}'`);
  } finally {
    await c.end();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  const given = process.env.CONSENT_TEST_PG_URL;
  if (given) {
    await prepareServer(given, password);
    const u = new URL(given);
    u.username = PASSWORD_ROLE;
    u.password = password;
    project.provide('pgAdminUrl', given);
    project.provide('pgPasswordUrl', u.toString());
    project.provide('pgPassword', password);
    return async () => {};
  }
  if (!existsSync(join(BIN, 'initdb')) || !existsSync(join(BIN, 'pg_ctl'))) {
    throw new Error(
      `The PostgreSQL half of the tests needs a server: set CONSENT_TEST_PG_URL to an administrator's URL, ` +
        `or install PostgreSQL 15 (apt-get install postgresql) so that ${BIN}/initdb and pg_ctl exist.`,
    );
  }
  const root = process.getuid?.() === 0;
  const user = root ? 'postgres' : null;
  const dir = mkdtempSync(join(tmpdir(), 'consent-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  execFileSync('mkdir', ['-p', sockets]);
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    chownSync(sockets, uid, gid);
  }
  chmodSync(dir, 0o755);
  const port = await freePort();
  let started = false;
  const stop = async () => {
    if (started) {
      try {
        runAs(user, join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    runAs(user, join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    // Trust for the superuser on the private socket and on localhost; a password for consent_pw.
    const hba = join(data, 'pg_hba.conf');
    writeFileSync(
      hba,
      [
        'local all all trust',
        `host all ${PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256`,
        'host all all 127.0.0.1/32 trust',
        '',
      ].join('\n'),
    );
    if (root) execFileSync('chown', ['postgres:postgres', hba]);
    const options = [
      `-p ${port}`,
      `-k ${sockets}`,
      '-c listen_addresses=127.0.0.1',
      '-c max_connections=300',
      // A throwaway cluster: durability is not what these tests measure.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c shared_buffers=64MB',
    ].join(' ');
    runAs(user, join(BIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    started = true;
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await prepareServer(adminUrl, password);
    project.provide('pgAdminUrl', adminUrl);
    project.provide('pgPasswordUrl', `postgres://${PASSWORD_ROLE}:${password}@127.0.0.1:${port}/postgres`);
    project.provide('pgPassword', password);
  } catch (e) {
    await stop();
    throw e;
  }
  return stop;
}
