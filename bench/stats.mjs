#!/usr/bin/env node
// `npm run bench:stats [-- --rows 1000000] [-- --pg | --pg-only]`: `consent stats` on a
// store built the way users build one: `consent profile import` of a realistic
// export (bench/realistic.mjs: ≈25 % unreachable per channel, ≈1.26 ledger
// events per row, all inside the default 30-day period, the worst case for
// the period part). It measures, in process (median of 5, wall and CPU time
// of this process; CPU is what a quiet machine's wall time would be for the
// SQLite store, whose queries run on this thread):
//   - the one scan of profiles (reachable / opted out / suppressed / erased);
//   - the period's opt-outs and opt-ins by source (the covering index);
// then the whole command (`consent stats --json`, a new process) and checks
// that each channel's reachable count equals the rows of
// `profile export --reachable <channel>`. With --pg, the same on PostgreSQL
// (BENCH_PG_URL, else a throwaway cluster: bench/pg-cluster.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
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

async function bench(name, db) {
  say(`${name}: importing ${ROWS.toLocaleString('en-US')} realistic profiles with \`consent profile import\` …`);
  const csv = join(out, 'profiles.csv');
  if (!existsSync(csv)) await writeRealisticCsv(csv, ROWS);
  const imported = consent(db, ['profile', 'import', csv, '--json']);
  console.log(`${name}: imported in ${imported.secs.toFixed(1)} s`);
  consent(db, ['stats', '--json']); // opens the store once (migrations already applied by the import)
  const store = await openStore(db, { create: false });
  const now = new Date().toISOString();
  const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
  try {
    const counts = await measure(`${name}: profile scan (stats.profileCounts)`, () => store.stats.profileCounts());
    const changes = await measure(`${name}: period by source (stats.changes, 30 days)`, () => store.stats.changes(since, now));
    console.log(`${name}: ${counts.profiles} profiles, ${changes.reduce((s, r) => s + r.count, 0)} opt-out/opt-in events in the period`);
    const cli = [1, 2, 3].map(() => consent(db, ['stats', '--json']).secs).sort((a, b) => a - b)[1];
    console.log(`${name}: \`consent stats --json\` (whole command, new process): median ${cli.toFixed(2)} s wall`);
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

if (!values['pg-only']) await bench('sqlite', join(out, 'consent.db'));
if (values.pg || values['pg-only']) {
  const { pgCluster } = await import('./pg-cluster.mjs');
  const pg = await pgCluster(say);
  await bench('postgres', pg.createDb('consent_bench_stats'));
}
rmSync(join(out, 'profiles.csv'), { force: true });
