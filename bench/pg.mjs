#!/usr/bin/env node
// `npm run bench:pg [-- --rows 1000000 --big-rows 4000000 --repeat 2 --serve-profiles 200000 --duration 10]`:
// consent on PostgreSQL 15, in one run (issue 11, "Speed"):
//   (a) `profile import` of --rows realistic profiles (bench/realistic.mjs)
//       into an empty store vs `psql` doing `\copy` into a plain table, then
//       building the unique email index (target ≤ 2.5x: consent also writes
//       and hashes the ledger);
//   (b) a re-import of the same file over the loaded store vs `psql` doing
//       `\copy` into a staging table and one INSERT … ON CONFLICT (email) DO
//       UPDATE over the loaded plain table (target ≤ 2.0x);
//   (c) one-click POSTs (wrk, bench/serve.lua) spread over two `landing
//       serve` instances on the same PostgreSQL database (two wrk processes,
//       one per instance, half the connections each), against one instance
//       on SQLite (one wrk, all the connections): requests, commits per
//       second and ledger events per commit of each;
//   (d) consent's peak RSS (GNU time, the client process) at --rows and at
//       --big-rows (BENCH_PG_SKIP_BIG=1 skips the big file); target ≤ 200 MiB, flat.
// The server is BENCH_PG_URL (an administrator's URL: the bench creates and
// drops databases named consent_bench_*) when given; else a throwaway
// PostgreSQL 15 cluster started here from /usr/lib/postgresql/15/bin (as the
// `postgres` user when root), private socket folder, free port on 127.0.0.1,
// with PostgreSQL's DEFAULT durability (fsync, synchronous_commit,
// full_page_writes on: a bench must not flatter), stopped and removed at the end.
// Each timing is the best of --repeat turns (default 2), consent and its
// reference taking turns, each after a CHECKPOINT and a `sync`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pgCluster, run } from './pg-cluster.mjs';
import { CHANNELS, writeRealisticCsv } from './realistic.mjs';
import { startServerProcess } from './server-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/consent.js');
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'big-rows': { type: 'string', default: '4000000' },
    repeat: { type: 'string', default: '2' },
    'serve-profiles': { type: 'string', default: '200000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '2' },
  },
});
const ROWS = Number(values.rows);
const BIG = Number(values['big-rows']);
const REPEAT = Math.max(1, Number(values.repeat));
const SERVE_PROFILES = Number(values['serve-profiles']);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const WARMUP = Number(values.warmup);
const TIME = '/usr/bin/time';
const PGBIN = process.env.BENCH_PG_BIN ?? '/usr/lib/postgresql/15/bin';

function fail(message) {
  process.stderr.write(message + '\n');
  process.exit(2);
}
if (spawnSync('psql', ['--version']).error) fail('bench:pg needs psql: apt-get install postgresql-client');
if (spawnSync(TIME, ['true']).error) fail('bench:pg needs GNU time (/usr/bin/time): apt-get install time');
if (spawnSync('wrk', ['-v']).error) fail('bench:pg drives the servers with wrk: apt-get install wrk');
if (spawnSync('sqlite3', ['-version']).error) fail('bench:pg counts the SQLite ledger with the sqlite3 shell: apt-get install sqlite3');
if (!process.env.BENCH_PG_URL && !existsSync(join(PGBIN, 'pg_ctl')))
  fail(`bench:pg needs a PostgreSQL 15 server: set BENCH_PG_URL to an administrator's URL, or apt-get install postgresql (${PGBIN}/pg_ctl)`);
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });

const out = join(root, 'bench/out/pg');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const n = (v) => Math.round(v).toLocaleString('en');
const fmt = (s) => `${s.toFixed(2)} s`;
const mib = (m) => `${m.toFixed(0)} MiB`;
const x = (a, b) => `${(a / b).toFixed(2)}x`;
const target = (ratio, t) => `(target ≤ ${t}x: ${ratio <= t ? 'met' : 'MISSED'})`;
const say = (m) => process.stderr.write(m + '\n');


// ---------------------------------------------------------------- the server
// BENCH_PG_URL or a throwaway cluster (bench/pg-cluster.mjs), with connections enough for two servers and wrk.
const { adminUrl, dbUrl, psql, scalar, createDb, dropDb, note: serverNote } = await pgCluster(say, { maxConnections: 200 });
const admin = (script) => psql(adminUrl, script);
const settings = scalar(adminUrl, "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','shared_buffers','wal_level','max_wal_size')");
const pgVersion = scalar(adminUrl, 'SHOW server_version');

const settle = () => {
  admin('CHECKPOINT;');
  spawnSync('sync');
};

/** Runs a command under GNU time; wall seconds, peak RSS in MiB, stdout. */
function timed(cmd, args, { env = {}, input } = {}) {
  const t0 = performance.now();
  const r = spawnSync(TIME, ['-v', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, input, maxBuffer: 1 << 26 });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`${cmd} ${args.join(' ')} failed`);
  }
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  return { secs, rss, stdout: r.stdout };
}
const consentImport = (db, file) => timed(process.execPath, [bin, '--db', dbUrl(db), 'profile', 'import', file, '--json'], { env: { CONSENT_ACTOR: 'bench' } });
const psqlTimed = (db, script) => timed('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dbUrl(db)], { input: script });

const cols = `email text, phone text, first_name text, last_name text, ${CHANNELS.map((c) => `optout_${c} text`).join(', ')}`;
/** (a) the reference: the profiles alone, \copy into a plain table, then the unique index. */
const refLoad = (file) => `CREATE TABLE t (${cols});
\\copy t FROM '${file}' WITH (FORMAT csv, HEADER true)
CREATE UNIQUE INDEX t_email ON t (email);
`;
/** (b) the reference: a staging table and one upsert. */
const refUpsert = (file) => `CREATE TEMP TABLE stg (${cols});
\\copy stg FROM '${file}' WITH (FORMAT csv, HEADER true)
INSERT INTO t SELECT * FROM stg ON CONFLICT (email) DO UPDATE SET
  phone = excluded.phone, first_name = excluded.first_name, last_name = excluded.last_name,
  ${CHANNELS.map((c) => `optout_${c} = excluded.optout_${c}`).join(', ')};
`;

/** Best wall time of REPEAT turns of each contestant (the highest peak RSS kept too). */
function interleaved(contestants) {
  const best = contestants.map(() => null);
  for (let i = 0; i < REPEAT; i++) {
    contestants.forEach(({ name, prepare, run: go }, j) => {
      prepare();
      settle();
      const r = go();
      say(`  turn ${i + 1} ${name.padEnd(10)} ${fmt(r.secs)}`);
      const b = best[j];
      best[j] = b === null ? r : { ...(r.secs < b.secs ? r : b), rss: Math.max(b.rss, r.rss) };
    });
  }
  return best;
}

const results = [];
// The cluster (when the bench started one) stops and is removed when this process exits.
// ------------------------------------------------------------ (a), (b) import
const fileA = join(out, 'profiles.csv');
say(`Writing ${n(ROWS)} realistic profiles into bench/out/pg/ …`);
const figA = await writeRealisticCsv(fileA, ROWS);

say(`(a) first load, ${REPEAT} turns …`);
const [cA, rA] = interleaved([
  { name: 'consent', prepare: () => createDb('consent_bench_c'), run: () => consentImport('consent_bench_c', fileA) },
  { name: 'psql', prepare: () => createDb('consent_bench_r'), run: () => psqlTimed('consent_bench_r', refLoad(fileA)) },
]);
const sumA = JSON.parse(cA.stdout);
// The loaded databases, copied before each turn of (b).
createDb('consent_bench_c_loaded', 'consent_bench_c');
createDb('consent_bench_r_loaded', 'consent_bench_r');
const loadedSize = scalar(adminUrl, "SELECT pg_size_pretty(pg_database_size('consent_bench_c_loaded'))");

say(`(b) re-import of the same file, ${REPEAT} turns …`);
const [cB, rB] = interleaved([
  { name: 'consent', prepare: () => createDb('consent_bench_c', 'consent_bench_c_loaded'), run: () => consentImport('consent_bench_c', fileA) },
  { name: 'psql', prepare: () => createDb('consent_bench_r', 'consent_bench_r_loaded'), run: () => psqlTimed('consent_bench_r', refUpsert(fileA)) },
]);
const sumB = JSON.parse(cB.stdout);
for (const d of ['consent_bench_c', 'consent_bench_r', 'consent_bench_r_loaded']) dropDb(d);

const summary = (s) =>
  `${n(s.rows)} rows: ${n(s.new)} new, ${n(s.updated)} updated, ${n(s.unchanged)} unchanged, ${n(s.optOutsSet)} opt-outs set, ${n(s.events)} ledger events`;
results.push(
  `file: ${n(figA.rows)} rows, ${mib(figA.bytes / 2 ** 20)}, ${n(figA.optOutsSet)} opt-out cells set = ${figA.eventsPerRow.toFixed(3)} ledger events per row; loaded store ${loadedSize}`,
  `(a) first load      consent ${fmt(cA.secs)} vs psql \\copy + unique index ${fmt(rA.secs)}: ${x(cA.secs, rA.secs)} ${target(cA.secs / rA.secs, 2.5)}`,
  `    consent: ${summary(sumA)}; peak RSS ${mib(cA.rss)}`,
  `(b) re-import       consent ${fmt(cB.secs)} vs psql \\copy to staging + INSERT … ON CONFLICT DO UPDATE ${fmt(rB.secs)}: ${x(cB.secs, rB.secs)} ${target(cB.secs / rB.secs, 2.0)}`,
  `    consent: ${summary(sumB)}; peak RSS ${mib(cB.rss)}`,
);
for (const l of results) say('  ' + l);
rmSync(fileA);

// ------------------------------------------------------------ (c) one-click
say(`(c) one-click: setting up ${n(SERVE_PROFILES)} profiles on PostgreSQL and on SQLite …`);
const sqliteDb = join(out, 'serve.db');
createDb('consent_bench_serve');
const pgServe = dbUrl('consent_bench_serve');
const serveCsv = join(out, 'serve.csv');
await writeRealisticCsv(serveCsv, SERVE_PROFILES);
const consent = (db, ...args) => run(process.execPath, [bin, '--db', db, ...args], { env: { CONSENT_ACTOR: 'bench' } });
const jsonl = (text) => text.trimEnd().split('\n').map((l) => JSON.parse(l));
for (const db of [sqliteDb, pgServe]) {
  consent(db, 'profile', 'import', serveCsv);
  consent(db, 'landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Unsubscribe');
  consent(db, 'landing', 'publish', 'stop', '--out-dir', join(out, 'public'));
}
rmSync(serveCsv);
// The same people and links on both stores? Ids may differ (PostgreSQL ids may have gaps): links are made per store.
// Pools: every person is POSTed once in the whole bench, on one store; GET warm-ups use the first pages of each.
const linksOf = (db) => jsonl(consent(db, 'landing', 'links', 'stop', '--reachable', 'email', '--format', 'jsonl'));
const pools = { sqlite: linksOf(sqliteDb), pg: linksOf(pgServe) };
/** Writes dir/get.0.txt and dir/post.0.txt for one wrk process (one thread) from a slice of links. */
const writePool = (dir, links) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'get.0.txt'), links.slice(0, 2000).map((l) => l.url).join('\n') + '\n');
  writeFileSync(join(dir, 'post.0.txt'), links.map((l) => `/x\t\t${l.oneClickUrl}`).join('\n') + '\n');
};
// SQLite: one wrk, 2 threads, all connections (thread t reads post.t.txt).
{
  const dir = join(out, 'wrk-sqlite');
  mkdirSync(dir, { recursive: true });
  for (let t = 0; t < 2; t++) {
    const mine = pools.sqlite.filter((_, j) => j % 2 === t);
    writeFileSync(join(dir, `get.${t}.txt`), mine.slice(0, 2000).map((l) => l.url).join('\n') + '\n');
    writeFileSync(join(dir, `post.${t}.txt`), mine.map((l) => `/x\t\t${l.oneClickUrl}`).join('\n') + '\n');
  }
}
writePool(join(out, 'wrk-pg-0'), pools.pg.filter((_, j) => j % 2 === 0));
writePool(join(out, 'wrk-pg-1'), pools.pg.filter((_, j) => j % 2 === 1));
const offsets = { sqlite: [0, 0], pg0: [0], pg1: [0] };
const lua = join(root, 'bench/serve.lua');

function startServer(name, db) {
  const logFile = join(out, `${name}.log`);
  const { url, stop } = startServerProcess(name, logFile, [bin, '--db', db, 'landing', 'serve', '--port', '0']);
  const commits = () => {
    const m = /(\d+) changes? committed in (\d+) transactions?/.exec(readFileSync(logFile, 'utf8').slice(-4096));
    return m ? { changes: Number(m[1]), commits: Number(m[2]) } : null;
  };
  return { url, stop, commits, logFile };
}
/** One wrk process, asynchronously; resolves to its BENCH summary. */
function wrk(url, mode, secs, dir, threads, conns, offs) {
  return new Promise((resolve, reject) => {
    const args = ['-t', String(threads), '-c', String(conns), '-d', `${secs}s`, '--timeout', '10s', '-s', lua, url, '--', mode, dir, offs.join(',')];
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH '));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}): ${stdout}${stderr}`));
      const r = JSON.parse(line.slice(6));
      if (mode !== 'get') r.threads.forEach((t) => (offs[t.id] = t.postPos));
      r.errors = r.connect + r.read + r.write + r.timeout + r.status;
      r.wraps = r.threads.reduce((s, t) => s + t.postWraps, 0);
      resolve(r);
    });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const countSqlite = () => Number(run('sqlite3', [sqliteDb, 'SELECT count(*) FROM ledger_events']).trim());
const countPg = () => Number(scalar(pgServe, 'SELECT count(*) FROM ledger_events'));

async function phaseSqlite() {
  const s = startServer('serve-sqlite', sqliteDb);
  const url = await s.url;
  if (WARMUP > 0) await wrk(url, 'get', WARMUP, join(out, 'wrk-sqlite'), 2, CONNECTIONS, [0, 0]);
  await sleep(300);
  const before = countSqlite();
  const r = await wrk(url, 'oneclick', DURATION, join(out, 'wrk-sqlite'), 2, CONNECTIONS, offsets.sqlite);
  await s.stop();
  const c = s.commits();
  return { rps: r.completed / (r.durationUs / 1e6), completed: r.completed, errors: r.errors, wraps: r.wraps, p99Us: r.p99Us, secs: r.durationUs / 1e6, events: countSqlite() - before, commits: c?.commits ?? NaN, changes: c?.changes ?? NaN, completedPer: [r.completed] };
}
async function phasePg() {
  const servers = [startServer('serve-pg-0', pgServe), startServer('serve-pg-1', pgServe)];
  const urls = await Promise.all(servers.map((s) => s.url));
  if (WARMUP > 0) await Promise.all(urls.map((u, i) => wrk(u, 'get', WARMUP, join(out, `wrk-pg-${i}`), 1, CONNECTIONS / 2, [0])));
  await sleep(300);
  const before = countPg();
  const rs = await Promise.all(urls.map((u, i) => wrk(u, 'oneclick', DURATION, join(out, `wrk-pg-${i}`), 1, Math.ceil(CONNECTIONS / 2), i === 0 ? offsets.pg0 : offsets.pg1)));
  await Promise.all(servers.map((s) => s.stop()));
  const cs = servers.map((s) => s.commits());
  const secs = Math.max(...rs.map((r) => r.durationUs / 1e6));
  const completed = rs.reduce((a, r) => a + r.completed, 0);
  return {
    rps: completed / secs,
    completed,
    errors: rs.reduce((a, r) => a + r.errors, 0),
    wraps: rs.reduce((a, r) => a + r.wraps, 0),
    p99Us: Math.max(...rs.map((r) => r.p99Us)),
    secs,
    events: countPg() - before,
    commits: cs.reduce((a, c) => a + (c?.commits ?? NaN), 0),
    changes: cs.reduce((a, c) => a + (c?.changes ?? NaN), 0),
    completedPer: rs.map((r) => r.completed),
  };
}
say(`(c) one-click: wrk ${CONNECTIONS} connections, ${DURATION} s per phase, ${REPEAT} round(s) of SQLite (1 server) / PostgreSQL (2 servers) …`);
const best = {};
for (let i = 0; i < REPEAT; i++) {
  for (const [name, phase] of [
    ['sqlite', phaseSqlite],
    ['pg', phasePg],
  ]) {
    const r = await phase();
    say(`  round ${i + 1} ${name.padEnd(6)} ${n(r.rps)} req/s, ${n(r.commits / r.secs)} commits/s, ${(r.events / r.commits).toFixed(1)} events/commit`);
    if (!best[name] || r.rps > best[name].rps) best[name] = r;
  }
}
const line = (label, r) =>
  `    ${label} ${n(r.rps).padStart(6)} req/s, p99 ${(r.p99Us / 1000).toFixed(1)} ms, ${r.errors} errors/non-2xx; ${n(r.events)} ledger events in ${n(r.commits)} commits: ` +
  `${n(r.commits / r.secs)} commits/s, ${(r.events / r.commits).toFixed(1)} events per commit` +
  (r.completedPer.length > 1 ? ` (answered per instance: ${r.completedPer.map(n).join(' + ')})` : '') +
  (r.wraps ? `; WARNING: the POST pool ran out ${r.wraps} time(s), people reused (use more --serve-profiles)` : '');
results.push(
  `(c) one-click POSTs, ${n(SERVE_PROFILES)} profiles, wrk ${CONNECTIONS} connections for ${DURATION} s; PostgreSQL ${x(best.pg.rps, best.sqlite.rps)} SQLite's requests/s`,
  line('SQLite, 1 instance:     ', best.sqlite),
  line('PostgreSQL, 2 instances:', best.pg),
);
dropDb('consent_bench_serve');

// ------------------------------------------------------------ (d) peak RSS
let big = null;
if (process.env.BENCH_PG_SKIP_BIG !== '1' && BIG > ROWS) {
  const fileBig = join(out, 'profiles-big.csv');
  say(`(d) peak RSS: writing and loading ${n(BIG)} rows …`);
  const figBig = await writeRealisticCsv(fileBig, BIG);
  createDb('consent_bench_big');
  settle();
  big = { ...consentImport('consent_bench_big', fileBig), rows: figBig.rows };
  dropDb('consent_bench_big');
  rmSync(fileBig);
}
dropDb('consent_bench_c_loaded');
results.push(
  `(d) peak RSS        ${mib(Math.max(cA.rss, cB.rss))} at ${n(ROWS)} rows` +
    (big ? `, ${mib(big.rss)} at ${n(big.rows)} rows (first load ${fmt(big.secs)})` : ' (big file skipped: BENCH_PG_SKIP_BIG=1)') +
    ` (target ≤ 200 MiB, flat: ${Math.max(cA.rss, cB.rss, big?.rss ?? 0) <= 200 ? 'met' : 'MISSED'})`,
);
console.log(`bench:pg — Node ${process.version}, PostgreSQL ${pgVersion} (${serverNote}; ${settings}), best of ${REPEAT} interleaved turns, CHECKPOINT + sync before each`);
for (const l of results) console.log(l);
