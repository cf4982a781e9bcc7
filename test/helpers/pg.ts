/**
 * Databases on the test server (see pg-global-setup.ts): each call makes a new,
 * empty database, copied from the (empty) template database, which is cheap.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export { TEMPLATE } from './pg-global-setup.js';

let counter = 0;

/** The administrator's URL of the test server (a superuser). */
export function pgAdminUrl(): string {
  return inject('pgAdminUrl');
}

/** The same URL, on another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A new empty database on the test server; returns its URL (the superuser's, no password). */
export async function pgTestDatabase(options: { owner?: string } = {}): Promise<string> {
  const name = `consent_t${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  const c = new pg.Client({ connectionString: pgAdminUrl() });
  await c.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE ${name} TEMPLATE consent_template${options.owner ? ` OWNER ${options.owner}` : ''}`);
        break;
      } catch (e) {
        // Another CREATE DATABASE copying the template at the same moment.
        if (attempt < 20 && /being accessed by other users/.test(String(e))) {
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
          continue;
        }
        throw e;
      }
    }
  } finally {
    await c.end();
  }
  return withDatabase(pgAdminUrl(), name);
}

/** Runs SQL as the superuser on the database of `url` (tampering, checks). */
export async function pgAdminQuery<T extends pg.QueryResultRow = any>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const u = new URL(url);
  const admin = new URL(pgAdminUrl());
  // A server of a test's own (a cluster it restarts) is reached by its own URL, its superuser's.
  const c = new pg.Client({ connectionString: u.host === admin.host ? withDatabase(admin.toString(), u.pathname.slice(1)) : url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}
