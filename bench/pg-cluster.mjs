// A throwaway PostgreSQL 15 cluster for the benches that need one (bench:copy,
// bench:pg-stream): BENCH_PG_URL (an administrator's URL) when given, else a
// cluster made here from /usr/lib/postgresql/15/bin (as the `postgres` user
// when root), private socket folder, free port on 127.0.0.1, PostgreSQL's
// default durability, stopped and removed when the process exits.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PGBIN = process.env.BENCH_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

export function run(cmd, args, { env = {}, input } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, input, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 8).join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

const runPg = (cmd, args) => (asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));

/** { adminUrl, dbUrl(name), psql(url, script), scalar(url, sql), createDb(name, template?), dropDb(name), note }. Exits 2 naming the package when no server can be had. */
export async function pgCluster(say = (m) => process.stderr.write(m + '\n'), { maxConnections = 100 } = {}) {
  let adminUrl = process.env.BENCH_PG_URL;
  let note = 'BENCH_PG_URL';
  if (spawnSync('psql', ['--version']).error) {
    say('This bench needs psql: apt-get install postgresql-client');
    process.exit(2);
  }
  if (!adminUrl) {
    if (!existsSync(join(PGBIN, 'pg_ctl'))) {
      say(`This bench needs a PostgreSQL 15 server: set BENCH_PG_URL to an administrator's URL, or apt-get install postgresql (${PGBIN}/pg_ctl)`);
      process.exit(2);
    }
    const dir = mkdtempSync(join(tmpdir(), 'consent-bench-pg-'));
    const data = join(dir, 'data');
    const sockets = join(dir, 'sockets');
    mkdirSync(sockets);
    if (asRoot) {
      const uid = Number(run('id', ['-u', 'postgres']).trim());
      const gid = Number(run('id', ['-g', 'postgres']).trim());
      chownSync(dir, uid, gid);
      chownSync(sockets, uid, gid);
    }
    chmodSync(dir, 0o755);
    const port = await freePort();
    say(`Starting a throwaway PostgreSQL 15 cluster (default durability: fsync on) on 127.0.0.1:${port} …`);
    runPg(join(PGBIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
    const options = [`-p ${port}`, `-k ${sockets}`, '-c listen_addresses=127.0.0.1', `-c max_connections=${maxConnections}`].join(' ');
    runPg(join(PGBIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    let running = true;
    const stop = () => {
      if (running) {
        try {
          runPg(join(PGBIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
        } catch {
          // already gone
        }
        running = false;
      }
      rmSync(dir, { recursive: true, force: true });
    };
    process.on('exit', stop);
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
    adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    note = 'a throwaway cluster started by the bench';
  }
  const dbUrl = (name) => {
    const u = new URL(adminUrl);
    u.pathname = '/' + name;
    return u.toString();
  };
  const psql = (url, script) => run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], { input: script });
  const scalar = (url, q) => run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', q]).trim();
  const dropDb = (name) => psql(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE);`);
  /** A new database `name` (dropped first if there), empty or a file copy of `template`; its URL. */
  const createDb = (name, template) => {
    dropDb(name);
    psql(adminUrl, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template} STRATEGY FILE_COPY` : ''};`);
    return dbUrl(name);
  };
  return { adminUrl, dbUrl, psql, scalar, createDb, dropDb, note };
}
