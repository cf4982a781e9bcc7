import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import type { ConsentStore } from '../../src/consent/store.js';
import { startServer, type RunningServer } from '../../src/landing/server.js';
import { openStore } from '../../src/store/index.js';
import { runCli, runJson, tempDir, tempStore, type Backend } from './run-cli.js';

const open: { server: RunningServer; store: ConsentStore }[] = [];
afterEach(async () => {
  while (open.length) {
    const o = open.pop()!;
    await o.server.close();
    await o.store.close();
  }
});

export interface Fixture {
  db: string;
  dir: string;
  url: string;
  server: RunningServer;
  logs: string[];
  /** The server's clock; tests move it. */
  clock: { now: Date };
  cli(...argv: string[]): Promise<string>;
  link(slug: string, ref: string, ...extra: string[]): Promise<{ url: string; oneClickUrl: string | null; token: string }>;
  profile(ref: string): Promise<{ id: number; email: string; optOut: Record<string, boolean> }>;
  history(ref: string): Promise<{ channel: string; action: string; source: string; actor: string; evidence: Record<string, unknown> | null }[]>;
  eventCount(): Promise<number>;
  staticPage(slug: string): string;
}

/**
 * A store with two people (ann: opted out of sms; bob), a published
 * acquisition page `prefs` (email, sms, postal; consent wording), a
 * published blocklist page `stop`, and the server on 127.0.0.1:0.
 */
export async function serverFixture(
  options: { baseUrl?: string; busyTimeoutMs?: number; trustProxy?: number | string; backend?: Backend } = {},
): Promise<Fixture> {
  const dir = tempDir();
  const db = options.backend === 'postgres' ? await tempStore('postgres') : join(dir, 'consent.db');
  const cli = async (...argv: string[]) => {
    const r = await runCli(['--db', db, ...argv], { env: { CONSENT_ACTOR: 'op' } });
    if (r.code !== 0) throw new Error(`consent ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  await cli('profile', 'add', '--email', 'ann@example.com', '--first-name', 'Ann');
  await cli('profile', 'add', '--email', 'bob@example.com', '--first-name', 'Bob');
  await cli('profile', 'optout', 'ann@example.com', '--channel', 'sms', '--reason', 'setup');
  await cli('landing', 'create', 'prefs', '--type', 'acquisition', '--title', 'Prefs', '--channels', 'email,sms,postal');
  await cli('landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop');
  await cli('landing', 'publish', 'prefs', '--out-dir', join(dir, 'public'));
  await cli('landing', 'publish', 'stop', '--out-dir', join(dir, 'public'));

  const store = await openStore(db, { busyTimeoutMs: options.busyTimeoutMs ?? 5000 });
  const logs: string[] = [];
  const clock = { now: new Date('2026-06-01T10:00:00.000Z') };
  const server = await startServer({
    store,
    host: '127.0.0.1',
    port: 0,
    baseUrl: options.baseUrl ?? '',
    env: {},
    now: () => clock.now,
    log: (l) => logs.push(l),
    trustProxy: options.trustProxy,
  });
  open.push({ server, store });
  return {
    db,
    dir,
    url: server.url,
    server,
    logs,
    clock,
    cli,
    async link(slug, ref, ...extra) {
      const l = await runJson(db, ['landing', 'link', slug, '--profile', ref, '--json', ...extra]);
      return { ...l, token: new URL(l.url, 'http://x').searchParams.get('t')! };
    },
    profile: (ref) => runJson(db, ['profile', 'show', ref, '--json']),
    history: (ref) => runJson(db, ['profile', 'history', ref, '--json']),
    async eventCount() {
      const v = await runJson(db, ['ledger', 'verify', '--json']);
      expect(v.ok).toBe(true);
      return v.events as number;
    },
    staticPage: (slug) => readFileSync(join(dir, 'public', slug, 'index.html'), 'utf8'),
  };
}

export function form(fields: Record<string, string | string[]>): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) p.append(k, x);
  return p;
}

/** What every answer must carry, whatever its status. */
export function expectSecurityHeaders(r: Response): void {
  const csp = r.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("default-src 'none'");
  expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
  expect(csp).not.toContain('unsafe-inline');
  expect(r.headers.get('referrer-policy')).toBe('no-referrer');
  expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  expect(r.headers.get('set-cookie')).toBeNull();
}
