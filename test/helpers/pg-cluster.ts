/**
 * A throwaway PostgreSQL cluster made from Debian's PostgreSQL 15 binaries:
 * a temporary folder, a private socket folder, a free port on 127.0.0.1,
 * run as the `postgres` user when we are root (PostgreSQL refuses root).
 * The suite's server (pg-global-setup.ts) is one; a test that must restart
 * its server starts one of its own, so that other test files are not disturbed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PG_BIN = process.env.CONSENT_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface Cluster {
  port: number;
  /** The superuser's URL (trust authentication). */
  adminUrl: string;
  /** pg_ctl restart, waiting until the server accepts connections again. */
  restart(mode: 'fast' | 'immediate'): void;
  stop(): void;
}

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

/** Runs a PostgreSQL binary, as the `postgres` user when we are root. */
function runAs(user: string | null, cmd: string, args: string[]): void {
  const [file, argv] = user ? ['runuser', ['-u', user, '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

export function hasPgBinaries(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
}

/**
 * Starts a cluster (not durable: fsync off, as tests need no durability).
 * `hba`: the lines of pg_hba.conf (default: trust on the socket and localhost).
 */
export async function startCluster(options: { hba?: string[]; maxConnections?: number } = {}): Promise<Cluster> {
  if (!hasPgBinaries()) {
    throw new Error(
      `The PostgreSQL half of the tests needs a server: set CONSENT_TEST_PG_URL to an administrator's URL, ` +
        `or install PostgreSQL 15 (apt-get install postgresql) so that ${PG_BIN}/initdb and pg_ctl exist.`,
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
  const pgCtl = (...args: string[]) => runAs(user, join(PG_BIN, 'pg_ctl'), ['-D', data, ...args]);
  const stop = () => {
    if (started) {
      try {
        pgCtl('-m', 'immediate', '-w', 'stop');
      } catch {
        // already gone
      }
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    runAs(user, join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    const hba = join(data, 'pg_hba.conf');
    writeFileSync(hba, [...(options.hba ?? ['local all all trust', 'host all all 127.0.0.1/32 trust']), ''].join('\n'));
    if (root) execFileSync('chown', ['postgres:postgres', hba]);
    const serverOptions = [
      `-p ${port}`,
      `-k ${sockets}`,
      '-c listen_addresses=127.0.0.1',
      `-c max_connections=${options.maxConnections ?? 50}`,
      // A throwaway cluster: durability is not what these tests measure.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c shared_buffers=64MB',
    ].join(' ');
    pgCtl('-o', serverOptions, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start');
    started = true;
  } catch (e) {
    stop();
    throw e;
  }
  return {
    port,
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // -l: the restarted server must not inherit our pipes (spawnSync would wait for them to close).
    restart: (mode) => pgCtl('-m', mode, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'restart'),
    stop,
  };
}
