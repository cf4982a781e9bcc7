#!/usr/bin/env node
// `npm run bench:stats [-- --rows 1000000] [-- --pg | --pg-only]`: `consent stats` on a
// store built the way users build one: `consent profile import` of a realistic
// export (bench/realistic.mjs: ≈25 % unreachable per channel, ≈1.26 ledger
// events per row, all inside the default 30-day period, the worst case for
// the period part), and a suppression list of 1 % of the emails and their
// phones (a third expired); PostgreSQL gets the same store by `store copy`.
// The whole command is shown beside a reference measured in the same run: the
// database's own shell (sqlite3, psql) counting the profiles in a new process.
// It measures, in process (median of 5, wall and CPU time
// of this process; CPU is what a quiet machine's wall time would be for the
// SQLite store, whose queries run on this thread):
//   - the one scan of profiles (reachable / opted out / suppressed / erased);
//   - the period's opt-outs and opt-ins by source (the covering index);
// then the whole command (`consent stats --json`, a new process) and checks
// that each channel's reachable count equals the rows of
// `profile export --reachable <channel>`. With --pg, the same on PostgreSQL
// (BENCH_PG_URL, else a throwaway cluster: bench/pg-cluster.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeRealisticCsv } from './realistic.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/consent.js');
const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, pg: { type: 'boolean', default: false }, 'pg-only': { type: 'boolean', default: false } } });
const ROWS = Number(values.rows);
const say = (m) => process.stderr.write(m + '\n');
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const out = join(root, 'bench/out/stats');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const { openStore } = await import(pathToFileURL(join(root, 'dist/store/index.js')).href);

const consent = (db, args) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, '--db', db, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`consent ${args.join(' ')}: ${r.stderr}`);
  return { stdout: r.stdout, secs: (performance.now() - t0) / 1000 };
};

async function measure(label, fn, runs = 5) {
  const walls = [];
  const cpus = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    result = await fn();
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`${label}: median ${median(walls).toFixed(0)} ms wall, ${median(cpus).toFixed(0)} ms CPU of this process (${runs} runs)`);
  return result;
}

// The suppression list of the bench: every 100th row's email, and its phone on sms, a third of them expired.
function writeSuppressions(csv, file) {
  const lines = readFileSync(csv, 'utf8').split('\n').slice(1);
  let body = 'channel,address,reason,origin,created_at,expires_at,note\n';
  let n = 0;
  for (let i = 0; i < lines.length; i += 100) {
    const [email, phone] = lines[i].split(',');
    if (!email) continue;
    const expires = n % 3 === 0 ? '2020-01-01T00:00:00.000Z' : '';
    body += `email,${email},hard-bounce,import,2019-01-01T00:00:00.000Z,${expires},\n`;
    if (/^\+\d{8,15}$/.test(phone)) body += `sms,${phone},manual,import,2019-01-01T00:00:00.000Z,${expires},\n`;
    n++;
  }
  writeFileSync(file, body);
}

/** Median wall time of `runs` new processes of `cmd args` (a reference: the database's own shell counting profiles). */
function medianRun(cmd, args, runs = 5) {
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    t.push((performance.now() - t0) / 1000);
  }
  return t.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

async function bench(name, db, reference) {
  say(`${name}: consent stats on ${ROWS.toLocaleString('en-US')} profiles …`);
  consent(db, ['stats', '--json']); // opens the store once (migrations already applied)
  const store = await openStore(db, { create: false });
  const now = new Date().toISOString();
  const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
  try {
    const counts = await measure(`${name}: profile counts (stats.profileCounts)`, () => store.stats.profileCounts());
    const changes = await measure(`${name}: period by source (stats.changes, 30 days)`, () => store.stats.changes(since, now));
    console.log(`${name}: ${counts.profiles} profiles, ${counts.channels.email.suppressed} email and ${counts.channels.sms.suppressed} sms suppressed, ${changes.reduce((s, r) => s + r.count, 0)} opt-out/opt-in events in the period`);
    const cli = [1, 2, 3, 4, 5].map(() => consent(db, ['stats', '--json']).secs).sort((a, b) => a - b)[2];
    const ref = medianRun(reference[0], reference[1]);
    console.log(`${name}: \`consent stats --json\` (whole command, new process): median ${cli.toFixed(2)} s wall; reference \`${reference[2]}\` (new process): median ${ref.toFixed(2)} s; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    const view = JSON.parse(consent(db, ['stats', '--json']).stdout);
    for (const c of ['email', 'sms', 'postal']) {
      const rows = consent(db, ['profile', 'export', '--reachable', c]).stdout.trim().split('\n').length - 1;
      if (rows !== view.channels[c].reachable) throw new Error(`${c}: stats says ${view.channels[c].reachable} reachable, profile export --reachable gives ${rows}`);
      console.log(`${name}: ${c} reachable ${rows} = profile export --reachable ${c}`);
    }
  } finally {
    await store.close();
  }
}

const sqliteDb = join(out, 'consent.db');
say(`sqlite: importing ${ROWS.toLocaleString('en-US')} realistic profiles with \`consent profile import\` …`);
const csv = join(out, 'profiles.csv');
if (!existsSync(csv)) await writeRealisticCsv(csv, ROWS);
console.log(`sqlite: imported in ${consent(sqliteDb, ['profile', 'import', csv, '--json']).secs.toFixed(1)} s`);
writeSuppressions(csv, join(out, 'suppressions.csv'));
consent(sqliteDb, ['suppression', 'import', join(out, 'suppressions.csv'), '--format', 'consent']);
if (!values['pg-only']) await bench('sqlite', sqliteDb, ['sqlite3', [sqliteDb, 'SELECT count(*) FROM profiles'], 'sqlite3 consent.db "SELECT count(*) FROM profiles"']);
if (values.pg || values['pg-only']) {
  const { pgCluster } = await import('./pg-cluster.mjs');
  const pg = await pgCluster(say);
  const url = pg.createDb('consent_bench_stats');
  say('postgres: store copy of the SQLite store …');
  console.log(`postgres: store copy in ${consent(sqliteDb, ['store', 'copy', sqliteDb, url]).secs.toFixed(1)} s`);
  await bench('postgres', url, ['psql', [url, '-Atc', 'SELECT count(*) FROM profiles'], 'psql -c "SELECT count(*) FROM profiles"']);
}
rmSync(join(out, 'profiles.csv'), { force: true });
