/**
 * vitest globalSetup: the PostgreSQL server the PostgreSQL half of the suite
 * runs against. `CONSENT_TEST_PG_URL` (an administrator's URL: it creates
 * databases and a role) when set; else a throwaway cluster started here from
 * Debian's PostgreSQL 15 binaries, in a temporary folder, on a private socket
 * folder and a free port on 127.0.0.1, stopped and removed at the end. When
 * neither is available the run fails, naming the package to install: the
 * PostgreSQL half is never skipped silently.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startCluster } from './pg-cluster.js';

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

export const TEMPLATE = 'consent_template';
export const PASSWORD_ROLE = 'consent_pw';

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
  const cluster = await startCluster({
    // Trust for the superuser on the private socket and on localhost; a password for consent_pw.
    hba: ['local all all trust', `host all ${PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256`, 'host all all 127.0.0.1/32 trust'],
    maxConnections: 300,
  });
  const stop = async () => cluster.stop();
  try {
    const port = cluster.port;
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
